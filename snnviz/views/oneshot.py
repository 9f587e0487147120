"""Views of the one-shot learning page: the event frame being shown, the plastic weights as a
heatmap, the error (third factor) of each output neuron over the episode, the queries'
answers, accuracy vs shots per method, meta-training curves and the hyperparameter table.

NumPy in, HoloViews (bokeh backend) out; no Panel here.

Example::

    from snnviz.views.oneshot import weight_heatmap, accuracy_vs_shots
    weight_heatmap(trace.weights[-1], ["symbol #50", ...], weight_max=0.5)
    accuracy_vs_shots({"meta-learned rule": {1: (0.89, 0.01), 2: (0.92, 0.01)}}, chance=0.2)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import holoviews as hv
import numpy as np
from numpy.typing import ArrayLike

from ._style import HEIGHT, TIME, overlay_opts, styled

ACCURACY = hv.Dimension("accuracy", label="accuracy", unit="%")
SHOTS = hv.Dimension("shots", label="examples per class (k)")
INPUT = hv.Dimension("input", label="input (feature neuron; last = bias neuron)")
OUTPUT = hv.Dimension("output", label="output neuron (new class)")
WEIGHT = hv.Dimension("weight", label="plastic weight")
ERROR = hv.Dimension("error", label="error E (third factor)")
#: One colour per compared method (same order as snnviz.core.plasticity.METHODS).
METHOD_COLORS = {
    "meta-learned rule": "#2ca02c",
    "meta-learned rule, 8-bit chip": "#98df8a",
    "hand-tuned rule": "#ff7f0e",
    "transfer learning (online)": "#d62728",
    "transfer learning (batch)": "#9467bd",
}
NEURON_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")  # fmt: skip


def event_frame(events: ArrayLike, *, title: str = "", height: int = HEIGHT) -> hv.Image:
    """One time step of events ``(2, H, W)`` (ON, OFF counts) as an image: ON positive (red),
    OFF negative (blue), row 0 at the top."""
    ev = np.asarray(events, dtype=float)
    if ev.ndim != 3 or ev.shape[0] != 2:
        raise ValueError(f"event_frame: events must have shape (2, H, W), got {ev.shape}")
    h, w = ev.shape[1:]
    signed = (ev[0] - ev[1])[::-1]  # hv.Image rows run bottom-up
    peak = max(1.0, float(np.abs(signed).max()))
    image = hv.Image(signed, bounds=(0, 0, w, h), kdims=["x", "y"],
                     vdims=[hv.Dimension("events", label="ON - OFF events")])  # fmt: skip
    return styled(image, cmap="RdBu_r", clim=(-peak, peak), title=title, height=height,
                  responsive=False, width=height, xaxis=None, yaxis=None,
                  colorbar=False, toolbar=None)  # fmt: skip


def weight_heatmap(
    weights: ArrayLike,
    row_labels: Sequence[str],
    *,
    weight_max: float,
    highlight: int | None = None,
    title: str = "",
) -> hv.Image:
    """The plastic weights ``(N, F)`` as an image, one row per output neuron (labelled, top row
    first), colour range :math:`\\pm` ``weight_max``; ``highlight`` names the row learning now
    (shown in the title)."""
    w = np.asarray(weights, dtype=float)
    if w.ndim != 2 or w.shape[0] != len(row_labels):
        raise ValueError(
            f"weight_heatmap: weights must be (N, F) with N = {len(row_labels)} labels, "
            f"got {w.shape}"
        )
    n, f = w.shape
    image = hv.Image(w[::-1], bounds=(0, 0, f, n), kdims=[INPUT, OUTPUT], vdims=[WEIGHT])
    ticks = [(n - 1 - i + 0.5, label) for i, label in enumerate(row_labels)]
    if highlight is not None:
        title = f"{title} — learning: {row_labels[highlight]}" if title else row_labels[highlight]
    return styled(image, cmap="RdBu_r", clim=(-weight_max, weight_max), colorbar=True,
                  yticks=ticks, title=title, height=max(180, 40 * n + 80))  # fmt: skip


def error_traces(
    error: ArrayLike,
    row_labels: Sequence[str],
    *,
    upto: int | None = None,
    steps_per_example: int | None = None,
    title: str = "",
) -> hv.Overlay:
    """The third factor :math:`E_i` of every output neuron over the support phase ``(S T, N)``
    (one step = 1 ms), up to step ``upto``; dotted lines separate the presentations."""
    e = np.asarray(error, dtype=float)
    n_steps = e.shape[0]
    upto = n_steps if upto is None else int(np.clip(upto, 0, n_steps))
    t = np.arange(n_steps, dtype=float)
    curves = [
        hv.Curve((t[:upto], e[:upto, i]), kdims=[TIME], vdims=[ERROR], label=label).opts(
            backend="bokeh", color=NEURON_COLORS[i % len(NEURON_COLORS)]
        )
        for i, label in enumerate(row_labels)
    ]
    layers: list[hv.Element] = [styled(c) for c in curves]
    if steps_per_example:
        layers += [hv.VLine(float(x)).opts(backend="bokeh", color="lightgrey", line_dash="dotted")
                   for x in range(steps_per_example, n_steps, steps_per_example)]  # fmt: skip
    lo, hi = float(np.nanmin(e, initial=0.0)), float(np.nanmax(e, initial=0.0))
    pad = 0.05 * max(hi - lo, 0.1)
    return overlay_opts(hv.Overlay(layers), title=title, xlim=(0, max(n_steps, 1)),
                        ylim=(lo - pad, hi + pad))  # fmt: skip


def query_scores(
    scores: ArrayLike, labels: ArrayLike, row_labels: Sequence[str], *, title: str = ""
) -> hv.Image:
    """Each query's score per output neuron ``(Q, N)`` (spike counts + tie-break), queries
    grouped by true class; a correct answer is the largest entry of its row."""
    s = np.asarray(scores, dtype=float)
    q, n = s.shape
    order = np.argsort(np.asarray(labels), kind="stable")
    image = hv.Image(s[order][::-1], bounds=(0, 0, n, q),
                     kdims=[hv.Dimension("neuron", label="output neuron"),
                            hv.Dimension("query", label="query (by true class)")],
                     vdims=[hv.Dimension("score", label="spike count")])  # fmt: skip
    ticks = [(i + 0.5, label) for i, label in enumerate(row_labels)]
    return styled(image, cmap="Greens", colorbar=True, xticks=ticks, xrotation=30,
                  yaxis=None, title=title)  # fmt: skip


def accuracy_vs_shots(
    results: Mapping[str, Mapping[int, tuple[float, float]]],
    *,
    chance: float | None = None,
    title: str = "",
) -> hv.Overlay:
    """Accuracy (%) vs shots per method, with ±1 standard error bars and chance (dashed)."""
    layers: list[hv.Element] = []
    for method, per_k in results.items():
        ks = np.array(sorted(per_k), dtype=float)
        acc = np.array([100 * per_k[int(k)][0] for k in ks])
        err = np.array([100 * per_k[int(k)][1] for k in ks])
        color = METHOD_COLORS.get(method, "#333333")
        layers.append(styled(hv.Curve((ks, acc), kdims=[SHOTS], vdims=[ACCURACY], label=method),
                             color=color, line_width=2))  # fmt: skip
        layers.append(styled(hv.Scatter((ks, acc), kdims=[SHOTS], vdims=[ACCURACY],
                                        label=method), color=color, size=6))  # fmt: skip
        layers.append(hv.ErrorBars((ks, acc, err), kdims=[SHOTS], vdims=[ACCURACY, "err"])
                      .opts(backend="bokeh", color=color))  # fmt: skip
    if chance is not None:
        layers.append(
            hv.HLine(100 * chance).opts(backend="bokeh", color="grey", line_dash="dashed")
        )
    return overlay_opts(hv.Overlay(layers), title=title, ylim=(0, 102), height=HEIGHT + 40)


def method_bars(
    results: Mapping[str, Mapping[int, tuple[float, float]]],
    *,
    shots: int = 1,
    chance: float | None = None,
    title: str = "",
) -> hv.Overlay:
    """One bar per method: accuracy (%) at ``shots`` examples per class."""
    names = [m for m in results if shots in results[m]]
    acc = [100 * results[m][shots][0] for m in names]
    bars = hv.Bars({"method": names, "accuracy": acc}, kdims=["method"], vdims=[ACCURACY])
    bars = styled(bars, color="method", cmap=METHOD_COLORS, xrotation=20, show_legend=False,
                  ylim=(0, 102), line_color=None)  # fmt: skip
    layers: list[hv.Element] = [bars]
    if chance is not None:
        layers.append(
            hv.HLine(100 * chance).opts(backend="bokeh", color="grey", line_dash="dashed")
        )
    return overlay_opts(hv.Overlay(layers), title=title, show_legend=False)


def meta_training_curves(history: Mapping[str, Sequence[float]], *, title: str = "") -> hv.Layout:
    """Query loss and accuracy (%) of the training episodes per outer step."""
    loss = np.asarray(history.get("loss", []), dtype=float)
    acc = 100 * np.asarray(history.get("accuracy", []), dtype=float)
    step = np.arange(1, loss.size + 1)
    step_dim = hv.Dimension("step", label="meta-training step")
    left = styled(hv.Curve((step, loss), kdims=[step_dim], vdims=[hv.Dimension("loss")]),
                  title=f"{title} — query loss" if title else "query loss", color="#1f77b4")  # fmt: skip
    right = styled(hv.Curve((step, acc), kdims=[step_dim], vdims=[ACCURACY]),
                   title=f"{title} — query accuracy" if title else "query accuracy",
                   color="#2ca02c", ylim=(0, 102))  # fmt: skip
    # fixed widths: a layout of responsive plots in one pane collapses in the served page
    return (left.opts(responsive=False, width=460) + right.opts(responsive=False, width=460)).cols(
        2
    )


def hyperparameter_table(summaries: Mapping[str, Mapping[str, float]]) -> hv.Table:
    """The rules' hyperparameters side by side (``{rule: {name: value}}``)."""
    rules = list(summaries)
    names = list(next(iter(summaries.values()))) if summaries else []
    columns = {"hyperparameter": names}
    for rule in rules:
        columns[rule] = [f"{summaries[rule][n]:.4g}" for n in names]
    table = hv.Table(columns, kdims=["hyperparameter"], vdims=rules)
    return table.opts(backend="bokeh", height=30 * len(names) + 40, width=480)
