"""Views of the gain-cell attention page: attention maps, written voltages, the leak, model
metrics, fine-tuning curves and the energy/latency calculator (NumPy in, HoloViews out)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import holoviews as hv
import numpy as np

from ._style import HEIGHT, styled

#: Display names of the variants :func:`snnviz.core.attention.adaptation.compare_adaptation`
#: measures, in display order.
VARIANT_LABELS = {
    "ideal": "ideal (softmax)",
    "ideal_same_steps": "ideal, same extra steps",
    "no_adaptation": "gain cells, no adaptation",
    "calibration_only": "gain cells, calibration only",
    "finetune_only": "gain cells, fine-tuning only",
    "adapted": "gain cells, adapted",
}


def attention_map(weights: np.ndarray, text: str, title: str, *, clim: tuple | None = None):
    """One head's attention ``weights (T, T)`` (query token down, key token across) as an image;
    hover shows the characters."""
    w = np.asarray(weights, float)
    n = w.shape[0]
    chars = [c if c != " " else "␣" for c in text[:n]]
    heat = hv.HeatMap(
        [(s, t, float(w[t, s]), chars[t], chars[s]) for t in range(n) for s in range(n)],
        kdims=[hv.Dimension("s", label="key token s"), hv.Dimension("t", label="query token t")],
        vdims=[hv.Dimension("w", label="weight"), hv.Dimension("query"), hv.Dimension("key")],
    )
    opts: dict[str, Any] = {"cmap": "viridis", "colorbar": True, "invert_yaxis": True,
                            "title": title, "xaxis": None, "yaxis": None, "height": 330}  # fmt: skip
    if clim is not None:
        opts["clim"] = clim
    return styled(heat, **opts)


def voltage_map(voltages: np.ndarray, title: str) -> hv.Image:
    """Written cell voltages ``(T, d)`` of one head: one row per token (V)."""
    v = np.asarray(voltages, float)
    n, d = v.shape
    image = hv.Image(
        v[::-1], bounds=(-0.5, -0.5, d - 0.5, n - 0.5),
        kdims=[hv.Dimension("column", label="cell column"),
               hv.Dimension("row", label="token (row)")],
        vdims=[hv.Dimension("V", label="stored voltage", unit="V")],
    )  # fmt: skip
    return styled(image, cmap="RdBu_r", clim=(0.0, 0.9), colorbar=True, title=title,
                  height=330, invert_yaxis=True)  # fmt: skip


def leak_curve(tau_tokens: float, window: float, max_age: int = 64) -> hv.Overlay:
    """Fraction of a stored deviation left after ``age`` tokens, ``exp(-age / tau_tokens)``, with
    the window edge marked (older tokens are overwritten anyway)."""
    age = np.arange(max_age + 1, dtype=float)
    left = np.ones_like(age) if math.isinf(tau_tokens) else np.exp(-age / max(tau_tokens, 1e-12))
    curve = styled(
        hv.Curve((age, left), hv.Dimension("age", label="age (tokens)"),
                 hv.Dimension("left", label="stored signal left", range=(0, 1.05))),
        color="#1f77b4", line_width=2, height=200,
    )  # fmt: skip
    edge = hv.VLine(min(float(window), max_age) - 0.5).opts(color="red", line_dash="dashed")
    return (curve * edge).opts(title=f"leak: τ = {tau_tokens:.4g} tokens, window {window:g}")


def metric_bars(metrics: Mapping[str, Mapping[str, float]], title: str = "") -> hv.Layout:
    """Perplexity and next-character accuracy (%) per model variant (``{variant: evaluate()}``)."""
    names = [k for k in (*VARIANT_LABELS, *metrics) if k in metrics]
    names = list(dict.fromkeys(names))
    labels = [VARIANT_LABELS.get(k, k) for k in names]
    ppl = hv.Bars(
        [(label, metrics[k]["perplexity"]) for label, k in zip(labels, names, strict=True)],
        hv.Dimension("model"), hv.Dimension("perplexity"),
    )  # fmt: skip
    acc = hv.Bars(
        [(label, 100 * metrics[k]["accuracy"]) for label, k in zip(labels, names, strict=True)],
        hv.Dimension("model"), hv.Dimension("accuracy", unit="%", range=(0, 100)),
    )  # fmt: skip
    return (
        styled(
            ppl,
            xrotation=30,
            title=f"{title} test perplexity (lower is better)".strip(),
            color="#4c72b0",
            height=HEIGHT + 60,
            responsive=False,
            width=460,
        )
        + styled(
            acc,
            xrotation=30,
            title="next-character accuracy",
            color="#55a868",
            height=HEIGHT + 60,
            responsive=False,
            width=460,
        )
    ).cols(2)  # fixed widths: responsive plots in one layout pane collapse when served


def loss_curves(losses: Mapping[str, np.ndarray], title: str = "fine-tuning loss") -> hv.Overlay:
    """Training loss (nats per character) against the step, one curve per variant."""
    curves = [
        styled(
            hv.Curve(
                (np.arange(1, len(v) + 1), np.asarray(v)),
                hv.Dimension("step"),
                hv.Dimension("loss", label="loss (nats/char)"),
                label=VARIANT_LABELS.get(k, k),
            ),
            line_width=2,
        )
        for k, v in losses.items()
        if len(v)
    ]
    return hv.Overlay(curves).opts(title=title, legend_position="top_right")


def cost_bars(result: Mapping[str, Any]) -> hv.Layout:
    """Left: orders of magnitude GPU / gain cells per GPU (energy from data movement, energy from
    board power x time, latency), dashed lines at the paper's 10^2 (latency) and 10^4 / 10^5
    (energy). Right: the absolute energy (J) and latency (s) per token on log axes."""
    rows = []
    for name, r in result["ratios"].items():
        rows += [
            (name, "energy (data movement)", math.log10(r["energy"])),
            (name, "energy (board power)", math.log10(r["energy_board"])),
            (name, "latency", math.log10(r["latency"])),
        ]
    ratios = hv.Bars(
        [(quantity, name, value) for name, quantity, value in rows],
        [hv.Dimension("quantity"), hv.Dimension("gpu", label="GPU")],
        hv.Dimension("orders", label="log10 (GPU / gain cells)"),
    )
    lines = [hv.HLine(y).opts(color="grey", line_dash="dashed", line_width=1) for y in (2, 4, 5)]
    ours = result["gaincell"]
    points = [("gain cells", "energy", ours.energy_j), ("gain cells", "latency", ours.latency_s)]
    for name, cost in result["gpus"].items():
        points += [(name, "energy", cost.energy_j), (name, "latency", cost.latency_s)]
    energy = hv.Scatter(
        [(n, v) for n, q, v in points if q == "energy"],
        hv.Dimension("system"), hv.Dimension("energy", label="energy per token (data)", unit="J"),
    )  # fmt: skip
    latency = hv.Scatter(
        [(n, v) for n, q, v in points if q == "latency"],
        hv.Dimension("system"), hv.Dimension("latency", label="latency per token", unit="s"),
    )  # fmt: skip
    # fixed sizes: three responsive plots in one pane collapse in the served page
    fixed = {"responsive": False, "height": HEIGHT + 60}
    return (
        (styled(ratios, title="GPU / gain cells (orders of magnitude)", xrotation=15,
                width=470, color="gpu", cmap="Category10", show_legend=False, **fixed)
         * hv.Overlay(lines))
        + styled(energy, logy=True, size=12, color="#dd8452", width=260,
                 title="energy per token (attention)", **fixed)
        + styled(latency, logy=True, size=12, color="#4c72b0", width=260,
                 title="latency per token (attention)", **fixed)
    ).opts(shared_axes=False).cols(3)  # fmt: skip


def cost_table(rows: Sequence[Mapping[str, Any]], title: str = "") -> hv.Table:
    """A parameter table (``parameter, value, unit, source, note``)."""
    columns = ("parameter", "value", "unit", "source", "note")
    data = {c: [str(r.get(c, "")) if c != "value" else r.get(c) for r in rows] for c in columns}
    data["value"] = [f"{v:g}" if isinstance(v, int | float) else str(v) for v in data["value"]]
    return hv.Table(data, kdims=["parameter"], vdims=list(columns[1:])).opts(
        title=title, width=900, height=min(40 + 25 * len(rows), 420)
    )


def ratio_text(result: Mapping[str, Any]) -> str:
    """Markdown: the ratios GPU / gain cells and the arithmetic lines of every cost."""
    lines = ["| GPU | latency ratio | energy ratio (data movement) | energy ratio (board power) |",
             "|---|---|---|---|"]  # fmt: skip
    for name, r in result["ratios"].items():
        lines.append(
            f"| {name} | {r['latency']:.3g}× (10^{math.log10(r['latency']):.1f}) | "
            f"{r['energy']:.3g}× (10^{math.log10(r['energy']):.1f}) | "
            f"{r['energy_board']:.3g}× (10^{math.log10(r['energy_board']):.1f}) |"
        )
    lines.append("\n**Gain cells**")
    lines += [f"- {line}" for line in result["gaincell"].arithmetic]
    for name, cost in result["gpus"].items():
        lines.append(f"\n**{name}**")
        lines += [f"- {line}" for line in cost.arithmetic]
    return "\n".join(lines)
