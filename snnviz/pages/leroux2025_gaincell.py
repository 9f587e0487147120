"""Gain-cell attention (Leroux et al. 2025): sliding-window attention in analog gain-cell
memories, the adaptation of a pre-trained model to the cells, and the energy/latency arithmetic.

A character-level decoder (2 layers, d = 64, window 32) learns generated English-like text with
ideal softmax attention; the same weights then run on simulated gain cells (leaking capacitors,
finite window, non-linear cells with per-cell variation, HardSigmoid charge-to-pulse readout,
16/8/32-level quantisation). The attention maps compare ideal and gain-cell attention for any
text as the device sliders move (traced: no recompilation); *Train & adapt* pre-trains,
calibrates and fine-tunes on the chip the sliders describe (background, with progress); the
calculator shows the arithmetic behind the paper's latency and energy ratios vs GPUs.

``reproduce(quick=True)``: 400 pre-training steps, calibration, 150 fine-tuning steps (about
1 min on 2 busy cores, half with a warm compilation cache). ``quick=False``: 1600 pre-training
and 450 fine-tuning steps plus the fine-tuning-only ablation, roughly four times longer (not
timed here).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import panel as pn
import param

from snnviz.components import ErrorBanner, ProgressReporter
from snnviz.core.attention import charlm as lm
from snnviz.core.attention import hardware_cost as hc
from snnviz.core.attention.adaptation import DeviceSettings, compare_adaptation
from snnviz.core.data.text import decode
from snnviz.models.gaincell import (
    CONFIG,
    FULL_CONFIG,
    GainCellDeviceModel,
    GainCellSession,
    HardwareCostModel,
    MapData,
    default_text,
)
from snnviz.views.gaincell import (
    VARIANT_LABELS,
    attention_map,
    cost_bars,
    cost_table,
    leak_curve,
    loss_curves,
    metric_bars,
    ratio_text,
    voltage_map,
)

from ._base import DemoPage, Progress
from ._layout import ReproduceSection, page_layout
from ._result import Claim, ClaimResult

#: Fine-tuning steps of the quick and full reproduce runs (multiples of the chunk, 50).
QUICK_FINETUNE, FULL_FINETUNE = 150, 450
#: Claim thresholds.
MAX_ADAPTED_GAP = 0.15  # adapted perplexity at most 15 % above the ideal model's
MIN_UNADAPTED_RATIO = 1.5  # "clearly worse": perplexity at least 1.5x the ideal model's
LATENCY_ORDERS = (1.5, 2.5)  # paper: up to ~10^2
ENERGY_ORDERS = (3.5, 5.5)  # paper: up to 10^4 (journal) / 10^5 (arXiv abstract)
CLAIM_GPUS = ("H100", "RTX 4090")

EXPLANATION = """
**The hardware.** During generation every new token's key and value are *written* as voltages
into two arrays of gain cells (a capacitor and a read transistor per cell), one row per token;
after `window` tokens a row is overwritten (sliding-window attention), and meanwhile its
capacitor leaks. The query arrives as pulse widths; each cell's current times the pulse is a
charge, the bit line sums them: a whole dot product per read. A charge-to-pulse circuit turns
each score into the pulse for the value array with a **HardSigmoid**,
φ(S) = T_max·clip(S/S_sat + c, 0, 1), T_max = 15 ns, instead of softmax (no ADC in between);
queries have 16 levels, stored K/V 8 levels in [0, 0.9] V, outputs 32 levels.

**Our model of the cells** (the paper fits polynomials to its circuit simulations; we use a
documented stand-in): a square-law read transistor read against V_DD/2 gives the signed
product p·g(x), g(x) = x + η x²/(2 V_ov); the leak relaxes each stored voltage towards the
*leak target* with time constant τ; every cell has its own log-normal gain (σ, mean 1).

**Try it.** Move the sliders: the right map is what the chip computes for your text. Press
**Train & adapt** (≈1 min): the softmax model is pre-trained, then mapped onto this chip —
layer by layer, the mapping (scales, offsets, S_sat, output range) is fitted to reproduce the
softmax layer outputs — and fine-tuned for a few steps with every non-ideality on. The bars
compare it with the naive mapping. The calculator below shows where the claimed ~100× latency
and ~10⁴–10⁵× energy advantage over GPUs comes from; every number in it is a parameter with its
source (*paper*, *datasheet* or our *assumption*).
"""


class GainCellAttentionPage(DemoPage):
    slug: ClassVar[str] = "leroux2025_gaincell"
    title: ClassVar[str] = "Gain-cell attention"
    summary: ClassVar[str] = (
        "Sliding-window attention computed in analog gain-cell memories: leaking capacitors, "
        "non-linear cells, HardSigmoid charge-to-pulse readout and quantisation; a character "
        "model adapted to the cells, and the energy/latency arithmetic against GPUs."
    )
    reference: ClassVar[str] = (
        "Leroux, Manea, Sudarshan, Finkbeiner, Siegel, Strachan & Neftci (2025) Analog "
        "in-memory computing attention mechanism for fast and energy-efficient large language "
        "models, Nature Computational Science 5, 813-824, doi:10.1038/s43588-025-00854-1 "
        "(arXiv:2409.19315)"
    )
    claims: ClassVar[tuple[Claim, ...]] = (
        Claim(
            "adapted_gap",
            "with the initialisation/adaptation algorithm, the gain-cell hardware model reaches "
            "text-processing performance comparable to GPT-2 with few training iterations",
            f"character model (2 layers, d = 64, window 32) on gain cells with every "
            f"non-ideality (quantisation, leak τ = 250 tokens, η = 0.5, σ = 5 %) after "
            f"calibration + {QUICK_FINETUNE} fine-tuning steps: test perplexity at most "
            f"{100 * MAX_ADAPTED_GAP:.0f} % above the ideal softmax model trained for the same "
            "extra steps; measured: the relative gap",
        ),
        Claim(
            "unadapted_ratio",
            "analog non-idealities and constraints prevent the direct mapping of pre-trained "
            "models",
            f"the same pre-trained weights on the same chip with the naive mapping: test "
            f"perplexity at least {MIN_UNADAPTED_RATIO}× the ideal model's; measured: the ratio",
        ),
        Claim(
            "latency_orders",
            "attention latency up to two orders of magnitude lower than GPUs",
            "calculator (GPT-2 small, window = context = 1024, our stated device assumptions, "
            "memory-bound GPU decoding): log10 of the largest latency ratio over H100 and "
            f"RTX 4090 in [{LATENCY_ORDERS[0]}, {LATENCY_ORDERS[1]}]",
        ),
        Claim(
            "energy_orders",
            "attention energy up to four (journal) / five (arXiv abstract) orders of magnitude "
            "lower than GPUs",
            "calculator as above, GPU energy = KV-cache data movement + arithmetic (a lower "
            "bound; board power x time is shown too): log10 of the largest energy ratio over "
            f"H100 and RTX 4090 in [{ENERGY_ORDERS[0]}, {ENERGY_ORDERS[1]}]",
        ),
    )
    url_params: ClassVar[tuple[str, ...]] = (
        "layer", "head", "gaincell_model", "finetune_steps", "ablation", "device.window",
        "device.retention_ms", "device.token_period_us", "device.v_rest", "device.nonlinearity",
        "device.variation", "device.quantise", "device.chip_seed", "cost.n_layers",
        "cost.n_heads", "cost.d_head", "cost.window", "cost.context", "cost.i_cell_ua",
        "cost.e_c2p_fj", "cost.e_adc_pj", "cost.t_adc_ns", "cost.t_launch_us",
        "cost.bytes_per_value",
    )  # fmt: skip

    text = param.String(default="", label="text", doc="Text whose attention maps are shown "
                        "(lower-case letters, spaces and '.'; the first 64 characters)")  # fmt: skip
    layer = param.Integer(0, bounds=(0, CONFIG.n_layers - 1), label="layer",
                          doc="Layer of the maps")  # fmt: skip
    head = param.Integer(0, bounds=(0, CONFIG.n_heads - 1), label="head",
                         doc="Head of the maps")  # fmt: skip
    gaincell_model = param.Selector(
        objects=["adapted", "no adaptation"], default="adapted", label="gain-cell weights",
        doc="After training: the adapted model, or the pre-trained weights with the naive "
        "mapping",
    )  # fmt: skip
    finetune_steps = param.Integer(
        QUICK_FINETUNE, bounds=(50, 2000), softbounds=(50, 600), step=50,
        label="fine-tuning steps", doc="Fine-tuning steps of the adaptation (multiple of 50)",
    )  # fmt: skip
    ablation = param.Boolean(
        False, label="also fine-tune without calibration",
        doc="Ablation: fine-tune the naive mapping for the same steps (about 30 % longer)",
    )  # fmt: skip
    device = param.ClassSelector(class_=GainCellDeviceModel, doc="The chip's non-idealities.")
    cost = param.ClassSelector(class_=HardwareCostModel, doc="The calculator's numbers.")

    def __init__(self, **params: Any) -> None:
        params.setdefault("device", GainCellDeviceModel())
        params.setdefault("cost", HardwareCostModel())
        params.setdefault("text", default_text())
        super().__init__(**params)
        self.banner = ErrorBanner()
        self.session = GainCellSession(CONFIG)
        self.status = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.ideal_pane = pn.pane.HoloViews(sizing_mode="stretch_width")
        self.gaincell_pane = pn.pane.HoloViews(sizing_mode="stretch_width")
        self.voltage_pane = pn.pane.HoloViews(sizing_mode="stretch_width")
        self.leak_pane = pn.pane.HoloViews(sizing_mode="stretch_width")
        self.metrics_pane = pn.pane.HoloViews(sizing_mode="stretch_width")
        self.loss_pane = pn.pane.HoloViews(sizing_mode="stretch_width")
        self.chip_table = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.cost_pane = pn.pane.HoloViews(sizing_mode="stretch_width")
        self.cost_text = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.table_panes = [pn.pane.HoloViews(sizing_mode="stretch_width") for _ in range(3)]
        self.sample_output = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.train_progress = ProgressReporter()
        self.train_button = pn.widgets.Button(label="Train & adapt", color="primary",
                                              description="Pre-train the softmax model, then "
                                              "calibrate and fine-tune it on this chip")  # fmt: skip
        self.train_button.on_click(lambda _e: self.train_and_adapt())
        self.train_progress.param.watch(
            lambda e: setattr(self.train_button, "disabled", e.new), "busy"
        )
        self.evaluate_button = pn.widgets.Button(label="Evaluate on this chip")
        self.evaluate_button.on_click(lambda _e: self.evaluate_chip())
        self.prompt = pn.widgets.TextInput(label="prompt", value="tom has a red kite . the")
        self.sample_button = pn.widgets.Button(label="Sample continuation")
        self.sample_button.on_click(lambda _e: self.sample())
        self.last_maps: MapData | None = None
        self.last_cost: dict[str, Any] | None = None
        self.device.param.watch(self._on_device, list(self.device.param_names()))
        self.param.watch(self._on_device_replaced, "device")
        self.cost.param.watch(self._on_cost, list(self.cost.param_names()))
        self.param.watch(self._on_cost_replaced, "cost")
        self.param.watch(self._on_view, ["text", "layer", "head", "gaincell_model"])
        self._draw_maps()
        self._draw_cost()
        self._draw_results()

    @classmethod
    def warm_up(cls) -> None:
        """Compile the maps and the gain-cell evaluation for the default shapes."""
        page = cls()
        lm.evaluate(page.session.untrained, page.device.apply(
            page.device.build().kernels(CONFIG.n_layers, (CONFIG.n_heads, CONFIG.d_head))), CONFIG)  # fmt: skip
        lm.evaluate(page.session.untrained, lm.ideal_kernels(CONFIG), CONFIG)

    # -- reactions ---------------------------------------------------------------------------
    def _on_device(self, *_: Any) -> None:
        self._guard(self._draw_maps)

    def _on_device_replaced(self, event: Any) -> None:
        event.new.param.watch(self._on_device, list(event.new.param_names()))
        self._on_device()

    def _on_view(self, *_: Any) -> None:
        self._guard(self._draw_maps)

    def _on_cost(self, *_: Any) -> None:
        self._guard(self._draw_cost)

    def _on_cost_replaced(self, event: Any) -> None:
        event.new.param.watch(self._on_cost, list(event.new.param_names()))
        self._on_cost()

    # -- drawing -----------------------------------------------------------------------------
    def _draw_maps(self) -> None:
        maps = self.session.maps(self.text, self.device, adapted=self.gaincell_model == "adapted")
        self.last_maps = maps
        layer, head = self.layer, self.head
        where = f"layer {layer}, head {head}"
        self.ideal_pane.object = attention_map(
            maps.ideal[layer, head], maps.text,
            f"ideal softmax (window {self.device.window}), {where}",
        )  # fmt: skip
        self.gaincell_pane.object = attention_map(
            maps.gaincell[layer, head], maps.text,
            f"gain cells φ/T_max ({maps.gaincell_label}), {where}", clim=(0.0, 1.0),
        )  # fmt: skip
        self.voltage_pane.object = voltage_map(
            maps.k_voltage[layer, :, head], f"written key voltages, {where}"
        )
        self.leak_pane.object = leak_curve(self.device.retention_tokens, self.device.window)
        state = (
            "trained and adapted" if self.session.trained
            else "**untrained** — press *Train & adapt* (about a minute)"
        )  # fmt: skip
        self.status.object = (
            f"Model: {state}. Chip: window {self.device.window}, τ = "
            f"{self.device.retention_tokens:.4g} tokens, η = {self.device.nonlinearity:g}, "
            f"σ = {self.device.variation:g}, quantisation {'on' if self.device.quantise else 'off'}."
        )

    def _draw_cost(self) -> None:
        result = self.cost.build()
        self.last_cost = result
        self.cost_pane.object = cost_bars(result)
        self.cost_text.object = ratio_text(result)
        tables = (
            (hc.parameter_rows(result["workload"]), "workload"),
            (hc.parameter_rows(result["hw"]), "gain-cell hardware"),
            (hc.parameter_rows(hc.GPUS["H100"]), "GPU reference (H100; RTX 4090 and Jetson "
             "Nano differ in bandwidth, peak, power and energy per byte)"),
        )  # fmt: skip
        for pane, (rows, title) in zip(self.table_panes, tables, strict=True):
            pane.object = cost_table(rows, title)

    def _draw_results(self) -> None:
        c = self.session.comparison
        if c is None:
            self.metrics_pane.object = None
            self.loss_pane.object = None
            return
        self.metrics_pane.object = metric_bars(c.metrics)
        self.loss_pane.object = loss_curves(c.losses)

    # -- actions -----------------------------------------------------------------------------
    def train_and_adapt(self, *, background: bool = True) -> None:
        """Pre-train (cached per process), calibrate and fine-tune on the current chip; on a
        worker thread with the progress bar unless ``background`` is False."""
        try:
            self.device.build()
        except ValueError as err:
            self.banner.show(str(err))
            return

        def work(report: Progress) -> Any:
            return self.session.train_and_adapt(
                self.device, self.finetune_steps, report, ablation=self.ablation
            )

        def done(_result: Any) -> None:
            self._draw_results()
            self._guard(self._draw_maps)
            self.evaluate_chip()

        if self.finetune_steps % CONFIG.chunk:
            self.banner.show(
                f"fine-tuning steps must be a multiple of {CONFIG.chunk}, got {self.finetune_steps}"
            )
            return
        self.train_progress.run(
            work, on_done=done, on_error=self.banner.show, background=background
        )

    def evaluate_chip(self) -> None:
        """Test perplexity of the adapted and unadapted models on the chip the sliders show."""

        def action() -> None:
            results = self.session.evaluate_on(self.device)
            if not results:
                raise ValueError("train and adapt the model first (button 'Train & adapt')")
            rows = ["| model | perplexity | accuracy |", "|---|---|---|"]
            for name, m in results.items():
                rows.append(f"| {name} | {m['perplexity']:.3f} | {100 * m['accuracy']:.1f} % |")
            ideal = self.session.comparison.metrics["ideal"]
            rows.append(f"| ideal (softmax) | {ideal['perplexity']:.3f} | "
                        f"{100 * ideal['accuracy']:.1f} % |")  # fmt: skip
            self.chip_table.object = "\n".join(rows)

        self._guard(action)

    def sample(self) -> None:
        """Continue the prompt with the adapted model on the current chip."""

        def action() -> None:
            text = self.session.sample(self.prompt.value, self.device)
            self.sample_output.object = f"`{text}`"

        self._guard(action)

    # -- layout ------------------------------------------------------------------------------
    def __panel__(self) -> pn.viewable.Viewable:
        sidebar = [
            "#### Attention maps",
            pn.Param(
                self,
                parameters=["text", "layer", "head", "gaincell_model"],
                show_name=False,
                sizing_mode="stretch_width",
                widgets={"text": pn.widgets.TextAreaInput},
            ),
            "#### Chip (non-idealities)",
            pn.Param(self.device, show_name=False, sizing_mode="stretch_width"),
            "#### Adaptation",
            pn.Param(
                self,
                parameters=["finetune_steps", "ablation"],
                show_name=False,
                sizing_mode="stretch_width",
            ),
            self.train_button,
            "#### Calculator",
            pn.Param(self.cost, show_name=False, sizing_mode="stretch_width"),
        ]
        main = [
            self.banner, self.status,
            pn.Row(self.ideal_pane, self.gaincell_pane, sizing_mode="stretch_width"),
            pn.Row(self.voltage_pane, self.leak_pane, sizing_mode="stretch_width"),
            "### Character model: ideal vs gain cells",
            self.train_progress, self.metrics_pane, self.loss_pane,
            pn.Row(self.evaluate_button), self.chip_table,
            pn.Row(self.prompt, self.sample_button), self.sample_output,
            "### Energy and latency per generated token (attention only)",
            self.cost_pane, self.cost_text, *self.table_panes,
            ReproduceSection(self, self.banner),
        ]  # fmt: skip
        return page_layout(self, EXPLANATION, sidebar, main)

    # -- reproduce ---------------------------------------------------------------------------
    def _measure(self, quick: bool, progress: Progress) -> tuple[dict, dict]:
        config = CONFIG if quick else FULL_CONFIG
        steps = QUICK_FINETUNE if quick else FULL_FINETUNE
        comparison = compare_adaptation(
            config, DeviceSettings(), finetune_steps=steps, ablation=not quick,
            progress=lambda f, m: progress(0.95 * f, m),
        )  # fmt: skip
        m = comparison.metrics
        cost = hc.compare()
        ratios = cost["ratios"]
        metrics: dict[str, Any] = {
            "adapted_gap": m["adapted"]["perplexity"] / m["ideal_same_steps"]["perplexity"] - 1,
            "unadapted_ratio": m["no_adaptation"]["perplexity"] / m["ideal"]["perplexity"],
            "latency_orders": max(math.log10(ratios[g]["latency"]) for g in CLAIM_GPUS),
            "energy_orders": max(math.log10(ratios[g]["energy"]) for g in CLAIM_GPUS),
            "models": m,
            "calibration_relative_error": [i["relative_error"] for i in comparison.calibration],
            "ratios": ratios,
            "gaincell_energy_j": cost["gaincell"].energy_j,
            "gaincell_latency_s": cost["gaincell"].latency_s,
            "arithmetic": {
                "gain cells": cost["gaincell"].arithmetic,
                **{g: cost["gpus"][g].arithmetic for g in cost["gpus"]},
            },
            "config": {
                "pretrain_steps": config.pretrain_steps,
                "finetune_steps": steps,
                "batch": config.batch,
                "seq_len": config.seq_len,
            },
        }
        ids = lm.test_windows(config)[0, :-1]
        session = GainCellSession(config)
        session.comparison = comparison
        maps = session.maps(decode(ids), GainCellDeviceModel(), adapted=True)
        figures: dict[str, Any] = {
            "models": metric_bars(m, title="quick" if quick else "full"),
            "fine-tuning": loss_curves(comparison.losses),
            "cost": cost_bars(cost),
        }
        figures["maps"] = (
            attention_map(maps.ideal[0, 0], maps.text, "ideal softmax, layer 0, head 0")
            + attention_map(maps.gaincell[0, 0], maps.text,
                            "gain cells (adapted), layer 0, head 0", clim=(0.0, 1.0))
        ).cols(2)  # fmt: skip
        progress(1.0, "done")
        return metrics, figures

    def _judge(self, claim: Claim, metrics: dict) -> ClaimResult:
        value = metrics[claim.key]
        m = metrics["models"]

        def ppl(name: str) -> str:
            return f"{VARIANT_LABELS[name]} {m[name]['perplexity']:.3f} ({100 * m[name]['accuracy']:.1f} %)"

        if claim.key == "adapted_gap":
            cfg = metrics["config"]
            detail = f"{cfg['pretrain_steps']} pre-training + {cfg['finetune_steps']} fine-tuning steps; "
            detail += "; ".join(ppl(k) for k in m) + (
                f"; calibration error (1 - explained variance of the softmax layer outputs) "
                f"per layer {', '.join(f'{e:.2f}' for e in metrics['calibration_relative_error'])}"
            )
            return ClaimResult(claim, value, value <= MAX_ADAPTED_GAP, detail)
        if claim.key == "unadapted_ratio":
            detail = f"{ppl('no_adaptation')} vs {ppl('ideal')}"
            return ClaimResult(claim, value, value >= MIN_UNADAPTED_RATIO, detail)
        key = "latency" if claim.key == "latency_orders" else "energy"
        lo, hi = LATENCY_ORDERS if key == "latency" else ENERGY_ORDERS
        parts = [f"{g}: {metrics['ratios'][g][key]:.3g}×" for g in metrics["ratios"]]
        arithmetic = " | ".join(
            line for name in ("gain cells", "H100") for line in metrics["arithmetic"][name]
            if ("per token" in line or "latency" in line or "energy" in line)
        )  # fmt: skip
        detail = f"ratios {', '.join(parts)} (claim uses {' and '.join(CLAIM_GPUS)}); {arithmetic}"
        if key == "energy":
            board = ", ".join(f"{g}: {metrics['ratios'][g]['energy_board']:.3g}×"
                              for g in metrics["ratios"])  # fmt: skip
            detail += f"; board power x time would give {board}"
        return ClaimResult(claim, value, lo <= value <= hi, detail)
