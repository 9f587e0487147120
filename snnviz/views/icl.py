"""Views of the in-context learning page: the plastic attention memory M_t (all heads of a layer
side by side), the tokens of a prompt with the current one highlighted and the query's read of
each, the answer's label probabilities, accuracy vs number of shots, and the pre-training curve.

NumPy in, HoloViews (bokeh backend) out; no Panel here.

Example::

    from snnviz.views.icl import memory_image, token_bars, label_bars
    memory_image(trace.memory[t], clim=max_abs, title="M after token 3")
    token_bars(["A:1", "B:2", "A?"], current=1, weights=read[:, :].sum(1))
    label_bars(probabilities, answer=1, truth=1)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import holoviews as hv
import numpy as np
from numpy.typing import ArrayLike

from ._style import HEIGHT, overlay_opts, styled

ACCURACY = hv.Dimension("accuracy", label="accuracy", unit="%")
SHOTS = hv.Dimension("shots", label="shots per class")
PROBABILITY = hv.Dimension("probability", label="probability")
READ = hv.Dimension("read", label="query read weight φ(k)·φ(q)")
STEP = hv.Dimension("step", label="training step")
LOSS = hv.Dimension("loss", label="cross-entropy loss")
#: Token / bar colours by status.
STATUS_COLORS = {
    "written": "#1f77b4", "current": "#ff7f0e", "later": "#d9d9d9", "query": "#9467bd",
    "answer": "#2ca02c", "wrong": "#d62728", "other": "#9ecae1", "truth": "#ff7f0e",
}  # fmt: skip
SERIES = {"float": "#1f77b4", "fixed point": "#d62728", "nearest class mean": "#7f7f7f"}


def heads_side_by_side(memory: ArrayLike) -> np.ndarray:
    """``(heads, d_v, d_k)`` -> ``(d_v, heads * (d_k + 1) - 1)``: the heads' matrices in a row,
    separated by a NaN column (drawn transparent)."""
    m = np.asarray(memory, dtype=float)
    if m.ndim == 2:
        m = m[None]
    if m.ndim != 3:
        raise ValueError(f"memory must be (heads, d_v, d_k) or (d_v, d_k), got shape {m.shape}")
    heads, d_v, d_k = m.shape
    out = np.full((d_v, heads * (d_k + 1) - 1), np.nan)
    for h in range(heads):
        out[:, h * (d_k + 1) : h * (d_k + 1) + d_k] = m[h]
    return out


def memory_image(memory: ArrayLike, *, clim: float | None = None, title: str = "") -> hv.Image:
    """A fast-weight memory ``(heads, d_v, d_k)`` as a diverging heat map (rows: value
    components, columns: key components, heads left to right); ``clim`` fixes the symmetric
    colour range (e.g. the largest |M| over all tokens, so growth is visible)."""
    image = heads_side_by_side(memory)
    finite = image[np.isfinite(image)]
    limit = float(clim) if clim else float(np.abs(finite).max(initial=0.0)) or 1.0
    rows, cols = image.shape
    element = hv.Image(
        image[::-1], bounds=(0, 0, cols, rows),
        kdims=[hv.Dimension("key", label="key component (heads side by side)"),
               hv.Dimension("value", label="value component")],
        vdims=[hv.Dimension("M", label="synaptic weight M")],
    )  # fmt: skip
    return styled(element, cmap="RdBu_r", clim=(-limit, limit), colorbar=True, title=title,
                  xaxis=None, yaxis=None, height=220)  # fmt: skip


def token_bars(
    tokens: Sequence[str],
    *,
    current: int,
    weights: ArrayLike,
    title: str = "",
) -> hv.Bars:
    """One bar per prompt token, its height the query's read weight of that token (how much it
    contributes to M φ(q)); coloured: written so far, the current token, later tokens, the
    query (last)."""
    w = np.asarray(weights, dtype=float).ravel()
    if w.size != len(tokens):
        raise ValueError(f"token_bars: {len(tokens)} tokens but {w.size} weights")
    n = len(tokens)
    status = [
        "query" if i == n - 1 and i != current else
        "current" if i == current else "written" if i < current else "later"
        for i in range(n)
    ]  # fmt: skip
    names = [f"{i + 1}·{t}" for i, t in enumerate(tokens)]
    bars = hv.Bars({"token": names, "read": np.nan_to_num(w), "status": status},
                   kdims=[hv.Dimension("token", label="token")], vdims=[READ, "status"])  # fmt: skip
    return styled(bars, color="status", cmap=STATUS_COLORS, show_legend=False, line_color=None,
                  xrotation=60 if n > 12 else 0, title=title, height=230)  # fmt: skip


def label_bars(
    probabilities: ArrayLike,
    *,
    answer: int,
    truth: int | None = None,
    title: str = "",
) -> hv.Bars:
    """The answer's probability for each label ``1..n`` (0-based ``answer`` / ``truth``): green
    when the answer is the truth, red when it is not (the truth then orange)."""
    p = np.asarray(probabilities, dtype=float).ravel()
    status = []
    for i in range(p.size):
        if i == answer:
            status.append("answer" if truth is None or truth == answer else "wrong")
        else:
            status.append("truth" if truth == i else "other")
    bars = hv.Bars({"label": [str(i + 1) for i in range(p.size)], "probability": p,
                    "status": status},
                   kdims=[hv.Dimension("label", label="label")],
                   vdims=[PROBABILITY, "status"])  # fmt: skip
    return styled(bars, color="status", cmap=STATUS_COLORS, show_legend=False, line_color=None,
                  ylim=(0, 1.05), title=title, height=230)  # fmt: skip


def accuracy_vs_shots(
    shots: ArrayLike,
    curves: Mapping[str, ArrayLike],
    *,
    chance: float | None = None,
    title: str = "",
) -> hv.Overlay:
    """Accuracy (fractions, shown in %) vs shots per class, one line with markers per entry of
    ``curves`` (e.g. float, fixed point, nearest class mean); a dashed line at ``chance``."""
    x = np.asarray(shots, dtype=float)
    layers: list[hv.Element] = []
    for name, values in curves.items():
        y = 100 * np.asarray(values, dtype=float)
        color = SERIES.get(name, "#2ca02c")
        dash = "dashed" if name == "nearest class mean" else "solid"
        width, alpha = (5, 0.5) if name == "float" else (2, 1.0)  # float under fixed point
        layers.append(hv.Curve((x, y), SHOTS, ACCURACY, label=name).opts(
            backend="bokeh", color=color, line_dash=dash, line_width=width, alpha=alpha))  # fmt: skip
        layers.append(hv.Scatter((x, y), SHOTS, ACCURACY, label=name).opts(
            backend="bokeh", color=color, size=7))  # fmt: skip
    if chance is not None:
        layers.append(hv.HLine(100 * chance).opts(backend="bokeh", color="grey",
                                                  line_dash="dotted"))  # fmt: skip
    return overlay_opts(hv.Overlay(layers), title=title, ylim=(0, 102),
                        xticks=[int(v) for v in x], height=HEIGHT)  # fmt: skip


def training_curve(steps: ArrayLike, loss: ArrayLike, *, chance_loss: float | None = None,
                   title: str = "") -> hv.Overlay:  # fmt: skip
    """The pre-training loss per logged step; a dotted line at the loss of guessing."""
    layers: list[hv.Element] = [
        hv.Curve((np.asarray(steps), np.asarray(loss)), STEP, LOSS, label="training loss").opts(
            backend="bokeh", color="#1f77b4", line_width=2)
    ]  # fmt: skip
    if chance_loss is not None:
        layers.append(hv.HLine(chance_loss).opts(backend="bokeh", color="grey",
                                                 line_dash="dotted"))  # fmt: skip
    return overlay_opts(hv.Overlay(layers), title=title, show_legend=False)
