"""Surrogate-gradient training (SNNAX, Lohoff, Finkbeiner & Neftci 2024), live.

A one-hidden-layer spiking network (LIF or AdLIF, optionally recurrent, written as equinox
modules in :mod:`snnviz.core.snn`) learns Yin-Yang or scikit-learn's digits with BPTT through
the unrolled ``lax.scan`` and a surrogate derivative for the spike. The trainer
(:class:`~snnviz.models.surrogate_training.SurrogateTrainer`) runs in a
:class:`~snnviz.components.TrainingSession`: learning curves stream, the other views (decision
map or confusion matrix, weight histograms, one test sample's spikes and readout) refresh a
few times a second through ``hv.streams.Pipe``. ``reproduce()`` trains both tasks headless and
checks the accuracies, the gradients and the jit speed-up.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import holoviews as hv
import numpy as np
import panel as pn
import param
from bokeh.models import Span

from snnviz.components import ErrorBanner, TrainingSession, TrainingUpdate
from snnviz.core.snn import (
    DIGITS_FULL,
    DIGITS_QUICK,
    YINYANG_FULL,
    YINYANG_QUICK,
    train_digits,
    train_yinyang,
)
from snnviz.models.surrogate_training import (
    LIVE_HYPERPARAMETERS,
    STRUCTURAL,
    TASK_LABELS,
    SurrogateSnapshot,
    SurrogateTrainer,
    SurrogateTraining,
    connection_weights,
    describe_config,
    jit_speedup,
    neurobench_report,
    readout_gradient_check,
    sample_record,
    straight_through_check,
    take_snapshot,
    task_data,
)
from snnviz.views import (
    decision_map,
    learning_curves,
    metrics_table,
    spike_raster_sample,
    weight_histograms,
)
from snnviz.views._style import TIME, styled

from ._base import DemoPage, Progress
from ._layout import ReproduceSection, page_layout
from ._result import Claim, ClaimResult

#: Training budget of the live page (steps); Yin-Yang has 78 minibatches of 64 per epoch.
MAX_STEPS = 3000
#: Samples of the gradient checks and of the jit timing.
CHECK_BATCH = 32

EXPLANATION = """
**SNNAX** (Lohoff, Finkbeiner & Neftci 2024) builds spiking networks on **equinox**: a layer
is an `eqx.Module` whose step maps `(state, input) -> (state, spikes)`, and the whole model is a
JAX pytree, so `jax.vmap` (batches), `jax.grad` (BPTT through the unrolled `lax.scan`) and
`eqx.filter_jit` apply to it directly. The spike is a Heaviside step; its derivative is zero
almost everywhere, so the backward pass replaces it by a smooth **surrogate** (a `custom_vjp`).

**This page** trains such a network live (one hidden layer of LIF or adaptive LIF neurons, a
leaky non-spiking readout whose maximum membrane over time is the logit) on **Yin-Yang**
(Kriener et al. 2021; input x, y, 1−x, 1−y as spike latencies plus a bias spike) or on
scikit-learn's **8×8 digits** (a small stand-in for MNIST; one spike per pixel, brighter =
earlier). Press **▶ Play**. Surrogate, slope and learning rate act on the next call (traced:
no recompilation); the network settings apply at **Reset** (at once while paused).

**Our small-scale check** (`Reproduce`): Yin-Yang ≥ 80 % test accuracy in the quick run
(shallow SNNs reach ~95 %), digits ≥ 85 %; BPTT gradients equal float64 finite differences
where the loss is differentiable; the `custom_vjp` surrogates equal autodiff through a
straight-through form; compiled forward ≥ 10× faster than op by op. SNNAX's own benchmarks
(DVS Gesture, SHD, randman; speed against PyTorch libraries) are not rerun here.
"""


# -- views specific to this page ---------------------------------------------------------------
def confusion_heatmap(confusion: np.ndarray, class_names: tuple[str, ...], title: str = ""):
    """Test-set confusion matrix as an ``hv.HeatMap`` (x: predicted, y: true class), each
    cell labelled with its count; the title carries the per-class accuracy range."""
    counts = np.asarray(confusion)
    n = counts.shape[0]
    names = [str(c) for c in class_names]
    rows = [(names[p], names[t], int(counts[t, p])) for t in range(n) for p in range(n)]
    heat = hv.HeatMap(
        rows,
        kdims=[hv.Dimension("predicted"), hv.Dimension("true")],
        vdims=[hv.Dimension("count")],
    )
    totals = counts.sum(axis=1)
    per_class = np.diag(counts) / np.maximum(totals, 1)
    text = f"per-class accuracy {100 * per_class.min():.0f}–{100 * per_class.max():.0f} %"
    labels = hv.Labels(rows, kdims=["predicted", "true"], vdims=["count"])
    return (
        styled(heat, cmap="Blues", colorbar=True, invert_yaxis=True, framewise=True)
        * labels.opts(text_font_size="8pt", text_color="black")
    ).opts(title=f"{title} ({text})".strip() if title else text)


def readout_traces(sample: dict[str, Any], title: str = "") -> hv.Overlay:
    """One sample's readout membrane per class over time, the logit (its maximum) marked."""
    t = np.asarray(sample["t_ms"])
    membrane = np.asarray(sample["readout"])
    names = sample["class_names"]
    colors = hv.Cycle("Category10").values
    curves = []
    for c, name in enumerate(names):
        curve = hv.Curve((t, membrane[:, c]), kdims=[TIME], vdims=["U"], label=str(name))
        curves.append(styled(curve, color=colors[c % len(colors)], line_width=2, framewise=True))
    peak_t = t[np.argmax(membrane, axis=0)]
    peaks = hv.Scatter((peak_t, membrane.max(axis=0)), kdims=[TIME], vdims=["U"])
    curves.append(styled(peaks, color="black", marker="x", size=9, framewise=True))
    return hv.Overlay(curves).opts(
        title=title, legend_position="right", ylabel="readout membrane (θ units)"
    )


def sample_title(sample: dict[str, Any]) -> str:
    """``"sample 7: yang → yang ✓"``: index, true and predicted class of a sample record."""
    names = sample["class_names"]
    verdict = "✓" if sample["prediction"] == sample["label"] else "✗"
    return (
        f"sample {sample['index']}: {names[sample['label']]} → "
        f"{names[sample['prediction']]} {verdict}"
    )


def sample_raster(sample: dict[str, Any]) -> hv.Overlay:
    """Input and hidden spikes of one sample (:func:`spike_raster_sample`)."""
    t = np.asarray(sample["t_ms"])
    return spike_raster_sample(
        sample["events"],
        n_neurons=sample["n_neurons"],
        t_range=(float(t[0]) - 0.5, float(t[-1]) + 0.5),
        title=f"{sample_title(sample)} · {sample['hidden_spikes']} spikes",
    ).opts(framewise=True)


def task_view(snapshot: SurrogateSnapshot, class_names: tuple[str, ...]):
    """Yin-Yang: the decision map with test points; digits: the confusion matrix."""
    if snapshot.grid_class is not None:
        return decision_map(
            snapshot.grid_axis,
            snapshot.grid_axis,
            snapshot.grid_class,
            points=snapshot.map_points,
            labels=snapshot.map_labels,
            predictions=snapshot.map_predictions,
            class_names=class_names,
            title=f"Decision map after {snapshot.steps} steps (test points; x = wrong)",
        )
    return confusion_heatmap(
        snapshot.confusion, class_names, title=f"Test confusion after {snapshot.steps} steps"
    )


def weights_view(snapshot: SurrogateSnapshot) -> hv.Overlay:
    """Overlaid weight densities per connection; the axes follow each new snapshot."""
    histograms = weight_histograms(
        snapshot.weights, density=True, unit="θ", title="Weights (density per connection)"
    )
    return histograms.opts({"Histogram": {"framewise": True}}, backend="bokeh")


def _views_key(snapshot: SurrogateSnapshot) -> tuple:
    """What fixes the plots' structure: the task (classes) and the weight matrices' shapes."""
    return (snapshot.task, tuple((k, v.shape) for k, v in snapshot.weights.items()))


class SurrogateTrainingPage(DemoPage):
    slug: ClassVar[str] = "lohoff2024_snnax"
    title: ClassVar[str] = "Surrogate-gradient training (SNNAX)"
    summary: ClassVar[str] = (
        "Train an equinox spiking network (LIF/AdLIF, optionally recurrent) with surrogate-"
        "gradient BPTT on Yin-Yang or scikit-learn digits, live: learning curves, decision "
        "map, weights, one sample's spikes, NeuroBench metrics."
    )
    reference: ClassVar[str] = (
        "Lohoff, Finkbeiner & Neftci (2024) SNNAX – Spiking Neural Networks in JAX, "
        "arXiv:2409.02842; Yin-Yang: Kriener, Göltz & Petrovici (2022) ICONS, "
        "doi:10.1145/3546790.3546813"
    )
    claims: ClassVar[tuple[Claim, ...]] = ()  # filled in below the class
    url_params: ClassVar[tuple[str, ...]] = tuple(
        f"model.{p}" for p in (*STRUCTURAL, *LIVE_HYPERPARAMETERS)
    )

    model = param.ClassSelector(class_=SurrogateTraining, doc="The task, network and optimiser.")

    def __init__(self, session_options: dict[str, Any] | None = None, **params: Any) -> None:
        """``session_options`` go to the :class:`TrainingSession` (tests pass a clock, a
        scheduler and ``offload=False``)."""
        params.setdefault("model", SurrogateTraining())
        super().__init__(**params)
        self.banner = ErrorBanner()
        self.note = pn.pane.Markdown("", sizing_mode="stretch_width", margin=(0, 10))
        self.neurobench_pane = pn.pane.HoloViews(None, sizing_mode="stretch_width")
        self.neurobench_rows: list[dict[str, Any]] = []
        self._task_pane = pn.pane.HoloViews(None, sizing_mode="stretch_width", min_height=420)
        self._weights_pane = pn.pane.HoloViews(None, sizing_mode="stretch_width")
        self._raster_pane = pn.pane.HoloViews(None, sizing_mode="stretch_width")
        self._readout_pane = pn.pane.HoloViews(None, sizing_mode="stretch_width")
        self._views_structure: tuple | None = None
        self.trainer = SurrogateTrainer(self.model)
        options = {"max_steps": MAX_STEPS, "eval_hz": 2.0, **(session_options or {})}
        self.session = TrainingSession(
            self.trainer,
            banner=self.banner,
            chance=1.0 / task_data(self.model.task).n_out,
            seed=self.model.seed,
            **options,
        )
        self.session.add_view_listener(self._on_update)
        self.neurobench_button = pn.widgets.Button(
            label="NeuroBench metrics", description="Measure the current model on the test set"
        )
        self.neurobench_button.on_click(lambda _event: self.refresh_neurobench())
        self.model.param.watch(self._on_structure, list(STRUCTURAL))
        self.model.param.watch(self._on_live, list(LIVE_HYPERPARAMETERS))
        self.model.param.watch(self._on_sample_index, "sample_index")
        self._sync_sample_bounds()

    @classmethod
    def warm_up(cls) -> None:
        """Compile the default training call, evaluation, snapshot and NeuroBench forward."""
        trainer = SurrogateTrainer(SurrogateTraining())
        trainer.train_steps(int(TrainingSession.param.steps_per_call.default))
        trainer.evaluate()
        trainer.snapshot()
        trainer.neurobench()

    # -- reactions ---------------------------------------------------------------------------
    def _on_structure(self, *events: Any) -> None:
        names = [e.name for e in events]
        if "task" in names:
            self._sync_sample_bounds()
        try:
            self.model.validate()
        except ValueError as err:
            self.session.pause()
            self.banner.show(f"{err}. Training paused.")
            return
        self.banner.clear()
        self.session.seed = int(self.model.seed)
        if self.session.loop.running:
            self.note.object = (
                f"*Changed {', '.join(names)}: applies at the next **Reset** (training goes on "
                "with the current network).*"
            )
            return
        self.session.reset()

    def _on_live(self, *events: Any) -> None:
        values = {e.name: e.new for e in events}
        try:
            self.trainer.check_hyperparameters(**values)
        except ValueError as err:
            self.session.pause()
            self.banner.show(f"{err}. Training paused.")
            return
        self.session.set_hyperparameters(**values)

    def _on_sample_index(self, event: Any) -> None:
        index = int(event.new)
        try:
            sample = self.trainer.sample(index)
        except ValueError as err:
            self.banner.show(str(err))
            return
        self.trainer.sample_index = index
        if self._views_structure is not None:
            self._sample_pipe.send(sample)

    def _sync_sample_bounds(self) -> None:
        n_test = int(task_data(self.model.task).x_test.shape[0])
        if self.model.sample_index >= n_test:
            self.model.sample_index = n_test - 1
        self.model.param.sample_index.bounds = (0, n_test - 1)
        self.model.param.sample_index.softbounds = (0, n_test - 1)

    def _on_update(self, update: TrainingUpdate) -> None:
        snapshot: SurrogateSnapshot = update.snapshot
        if update.reason == "reset":
            self.note.object = ""
        if _views_key(snapshot) != self._views_structure:
            self._build_views(snapshot)
        else:
            self._snapshot_pipe.send(snapshot)
            self._sample_pipe.send(snapshot.sample)
        if update.reason == "stopped" or self.neurobench_pane.object is None:
            self.refresh_neurobench()

    def _build_views(self, snapshot: SurrogateSnapshot) -> None:
        """New pipes and DynamicMaps for a new structure (task, width, recurrence...): the
        number of classes, layers and neurons changes, so the plots are made anew (rare)."""
        names = task_data(snapshot.task).class_names
        self._snapshot_pipe = hv.streams.Pipe(data=snapshot)
        self._sample_pipe = hv.streams.Pipe(data=snapshot.sample)
        self._task_pane.object = hv.DynamicMap(
            lambda data: task_view(data, names), streams=[self._snapshot_pipe]
        )
        self._weights_pane.object = hv.DynamicMap(
            lambda data: weights_view(data), streams=[self._snapshot_pipe]
        )
        self._raster_pane.object = hv.DynamicMap(
            lambda data: sample_raster(data), streams=[self._sample_pipe]
        )
        self._readout_pane.object = hv.DynamicMap(
            lambda data: readout_traces(data, title="Readout membrane (logit = max, ×)"),
            streams=[self._sample_pipe],
        )
        self._set_chance(1.0 / len(names))
        self._views_structure = _views_key(snapshot)

    def _set_chance(self, chance: float) -> None:
        for renderer in self.session.curves.accuracy.figure.center:
            if isinstance(renderer, Span):
                renderer.location = 100.0 * chance

    def refresh_neurobench(self) -> None:
        """Measure the current model on the test set and show the NeuroBench table."""
        try:
            report = self.trainer.neurobench()
        except Exception as err:  # a page must keep serving
            self.banner.show(f"NeuroBench metrics failed: {type(err).__name__}: {err}")
            return
        row = {
            "model": self.trainer.describe(),
            "step": self.trainer.steps,
            **report["table"],
            "hidden spikes / sample": report["hidden_spikes_per_sample"],
        }
        self.neurobench_rows = [row]
        self.neurobench_pane.object = metrics_table(
            self.neurobench_rows, title="NeuroBench metrics (test set)", width=1000
        )

    # -- layout ------------------------------------------------------------------------------
    def __panel__(self) -> pn.viewable.Viewable:
        live = pn.Param(
            self.model,
            parameters=list(LIVE_HYPERPARAMETERS),
            widgets={
                "slope": pn.widgets.EditableFloatSlider,
                "learning_rate": {"type": pn.widgets.EditableFloatSlider, "format": "0.0000"},
            },
            show_name=False,
            sizing_mode="stretch_width",
        )
        network = pn.Param(
            self.model, parameters=list(STRUCTURAL), show_name=False, sizing_mode="stretch_width"
        )
        view = pn.Param(
            self.model, parameters=["sample_index"], show_name=False, sizing_mode="stretch_width"
        )
        settings = pn.Param(
            self.session,
            parameters=["steps_per_call", "max_steps"],
            show_name=False,
            sizing_mode="stretch_width",
        )
        sidebar = [
            self.session.controls,
            "### Live hyperparameters",
            live,
            "### Network (applies at Reset)",
            network,
            "### View",
            view,
            settings,
            self.neurobench_button,
        ]
        main = [
            self.banner,
            self.note,
            self.session.live_view(),
            pn.Row(self._task_pane, self._weights_pane, sizing_mode="stretch_width"),
            pn.Row(self._raster_pane, self._readout_pane, sizing_mode="stretch_width"),
            self.neurobench_pane,
            ReproduceSection(self, self.banner),
        ]
        return page_layout(self, EXPLANATION, sidebar, main)

    # -- reproduce ---------------------------------------------------------------------------
    def _measure(self, quick: bool, progress: Progress) -> tuple[dict, dict]:
        yy_config = YINYANG_QUICK if quick else YINYANG_FULL
        dg_config = DIGITS_QUICK if quick else DIGITS_FULL
        metrics: dict[str, Any] = {"quick": quick}
        figures: dict[str, Any] = {}

        def part(lo: float, hi: float) -> Progress:
            return lambda f, message: progress(lo + (hi - lo) * f, message)

        yy = train_yinyang(yy_config, progress=part(0.0, 0.45))
        dg = train_digits(dg_config, progress=part(0.45, 0.7))
        rows = []
        for name, result, task in (("yinyang", yy, "yinyang"), ("digits", dg, "digits")):
            history = result.history
            metrics[f"{name}_test_acc"] = history["test_acc"][-1]
            metrics[f"{name}_best_test_acc"] = max(history["test_acc"])
            metrics[f"{name}_epochs"] = len(history["epoch"])
            metrics[f"{name}_train_s"] = history["wall_s"][-1]
            figures[f"{name}_learning"] = learning_curves(
                history, chance=1.0 / task_data(task).n_out, title=TASK_LABELS[task]
            )
            data = task_data(task)
            shot = take_snapshot(
                result.model, data, result.config.readout, steps=int(history["step"][-1])
            )
            figures[f"{name}_task"] = task_view(shot, data.class_names)
            report = neurobench_report(result.model, data.x_test, data.y_test)
            metrics[f"{name}_effective_acs"] = report["table"]["Effective ACs / sample"]
            metrics[f"{name}_activation_sparsity"] = report["table"]["Activation sparsity"]
            rows.append(
                {
                    "model": describe_config(result.config, task),
                    **report["table"],
                    "hidden spikes / sample": report["hidden_spikes_per_sample"],
                }
            )
        data = task_data("yinyang")
        figures["yinyang_weights"] = weight_histograms(
            connection_weights(yy.model), density=True, unit="θ", title="Yin-Yang weights"
        )
        sample = sample_record(yy.model, data, 0, yy.config.readout)
        figures["yinyang_sample"] = sample_raster(sample)
        figures["neurobench"] = metrics_table(rows, title="NeuroBench metrics (test sets)")

        progress(0.75, "gradient checks (float64)")
        x, y = data.x_test[:CHECK_BATCH], data.y_test[:CHECK_BATCH]
        fd = readout_gradient_check(yy.model, x, y, readout=yy.config.readout)
        metrics["readout_grad_rel_error"] = fd["readout_rel_error"]
        metrics["hidden_fd_over_surrogate"] = fd["hidden_fd_over_surrogate"]
        progress(0.85, "custom_vjp vs straight-through surrogate (float64)")
        check = straight_through_check(yy.model, x, y, readout=yy.config.readout)
        metrics["surrogate_vjp_rel_error"] = check["rel_error"]
        metrics["surrogate_forward_diff"] = check["forward_diff"]
        metrics["surrogate_min_grad_norm"] = check["min_grad_norm"]
        metrics["surrogate_check_spikes"] = check["spikes_per_layer"]
        progress(0.95, "jit vs op-by-op forward")
        speed = jit_speedup(yy.model, x[0])
        metrics["jit_speedup"] = speed["speedup"]
        metrics["jit_forward_ms"] = 1000.0 * speed["jit_s"]
        metrics["eager_forward_ms"] = 1000.0 * speed["eager_s"]
        return metrics, figures

    def _judge(self, claim: Claim, metrics: dict) -> ClaimResult:
        return _JUDGES[claim.key](claim, metrics)


def _accuracy_check(key: str, quick_bound: float, full_bound: float, paper: str, check: str):
    claim = Claim(key, paper, check)

    def judge(c: Claim, metrics: dict) -> ClaimResult:
        value = float(metrics[key])
        bound = quick_bound if metrics["quick"] else full_bound
        mode = "quick" if metrics["quick"] else "full"
        return ClaimResult(c, value, bool(value >= bound), f"{mode} mode: needs ≥ {bound:.2f}")

    return claim, judge


def _below(key: str, bound: float, paper: str, check: str, above: bool = False):
    claim = Claim(key, paper, check)

    def judge(c: Claim, metrics: dict) -> ClaimResult:
        value = float(metrics[key])
        ok = value >= bound if above else value < bound
        return ClaimResult(c, value, bool(math.isfinite(value) and ok))

    return claim, judge


def _surrogate_judge(claim: Claim, metrics: dict, bound: float) -> ClaimResult:
    value = float(metrics[claim.key])
    spikes = metrics["surrogate_check_spikes"]
    grad = float(metrics["surrogate_min_grad_norm"])
    forward = float(metrics["surrogate_forward_diff"])
    ok = value < bound and forward == 0.0 and grad > 0.0 and min(spikes) > 0
    detail = f"spikes per layer {[int(n) for n in spikes]}, smallest layer gradient {grad:.2g}"
    if forward != 0.0:
        detail += f", forward differs by {forward:.2g}"
    return ClaimResult(claim, value, bool(ok), detail)


_CHECKS = [
    _accuracy_check(
        "yinyang_test_acc",
        0.80,
        0.90,
        "Shallow SNNs trained with surrogate-gradient BPTT reach ~95 % on Yin-Yang (chance 33 %)",
        "Yin-Yang test accuracy ≥ 0.80 after the quick run (120 LIF, 8 epochs, ~10 s) / ≥ 0.90 "
        "after the full run (40 epochs, ~20 s)",
    ),
    _accuracy_check(
        "digits_test_acc",
        0.85,
        0.90,
        "Surrogate-gradient SNNs classify small digit images well (stand-in for MNIST)",
        "scikit-learn digits test accuracy ≥ 0.85 quick (10 epochs) / ≥ 0.90 full (30 epochs, "
        "~10 s)",
    ),
    _below(
        "readout_grad_rel_error",
        1e-6,
        "BPTT through the unrolled scan: jax.grad of the whole sequence (SNNAX)",
        "jax.grad w.r.t. the readout weights (where the loss is differentiable) equals float64 "
        "central finite differences: relative error < 1e-6",
    ),
    (
        Claim(
            "surrogate_vjp_rel_error",
            "Spikes are Heaviside forward, a surrogate derivative backward (custom_vjp)",
            "for the trained Yin-Yang network (fast sigmoid), the custom_vjp gradient equals "
            "autodiff through H(x) + σ(x) − sg(σ(x)) in float64: relative error < 1e-10, same "
            "forward, non-zero hidden gradient (all kinds, recurrence, AdLIF: the tests)",
        ),
        lambda c, m: _surrogate_judge(c, m, 1e-10),
    ),
    _below(
        "jit_speedup",
        10.0,
        "The model is a pytree, so eqx.filter_jit / jax.vmap / jax.grad apply directly",
        "the eqx.filter_jit-compiled forward of one sample is ≥ 10× faster than the same call "
        "op by op (jax.disable_jit)",
        above=True,
    ),
]
SurrogateTrainingPage.claims = tuple(c for c, _ in _CHECKS)
_JUDGES = {c.key: j for c, j in _CHECKS}
