"""Views of the vector-symbolic query page: similarity bars of a cleanup, the similarity map of
a "where" query over the arena, time profiles of "when" queries, the stored scene, the family
trees, and accuracy curves (vs dimension or load).

NumPy in, HoloViews (bokeh backend) out; no Panel here.

Example::

    from snnviz.views.vsa_queries import similarity_bars, arena_heatmap
    similarity_bars(names, sims, answer={"Arthur"}, truth={"Arthur"}, threshold=0.5)
    arena_heatmap(heat, 1.0, true_xy=(0.3, 0.7), decoded_xy=(0.325, 0.675))
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import holoviews as hv
import numpy as np
from numpy.typing import ArrayLike

from snnviz.models.vsa_queries import FAMILY_KEYS, SCENE_KEYS

from ._style import HEIGHT, overlay_opts, styled

SIMILARITY = hv.Dimension("similarity", label="similarity")
ACCURACY = hv.Dimension("accuracy", label="accuracy", unit="%")
#: Bar / node colours by status: decoded and true, decoded but wrong, true but missed, other.
STATUS_COLORS = {"correct": "#2ca02c", "wrong": "#d62728", "missed": "#ff7f0e", "other": "#9ecae1"}
SERIES_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")


def _status(name: str, answer: Collection[str], truth: Collection[str]) -> str:
    if name in answer:
        return "correct" if name in truth else "wrong"
    return "missed" if name in truth else "other"


def similarity_bars(
    labels: Sequence[str],
    sims: ArrayLike,
    *,
    answer: Collection[str] = (),
    truth: Collection[str] = (),
    threshold: float | None = None,
    title: str = "",
) -> hv.Overlay:
    """One bar per candidate (its similarity to the query), coloured by status: green decoded
    and true, red decoded but wrong, orange true but missed, blue other; a dashed line at the
    decision ``threshold``."""
    s = np.asarray(sims, dtype=float).ravel()
    if s.size != len(labels):
        raise ValueError(f"similarity_bars: {len(labels)} labels but {s.size} similarities")
    status = [_status(n, answer, truth) for n in labels]
    bars = hv.Bars(
        {"candidate": list(labels), "similarity": np.nan_to_num(s), "status": status},
        kdims=["candidate"], vdims=[SIMILARITY, "status"],
    )  # fmt: skip
    bars = styled(
        bars, color="status", cmap=STATUS_COLORS, xrotation=60, show_legend=False,
        line_color=None, ylim=(min(-0.2, float(np.nanmin(s, initial=0.0)) - 0.05),
                               max(1.1, float(np.nanmax(s, initial=0.0)) + 0.1)),
    )  # fmt: skip
    layers: list[hv.Element] = [bars]
    if threshold is not None:
        layers.append(hv.HLine(threshold).opts(backend="bokeh", color="grey", line_dash="dashed"))
    return overlay_opts(hv.Overlay(layers), title=title, show_legend=False)


def arena_heatmap(
    heat: ArrayLike,
    arena_m: float,
    *,
    true_xy: ArrayLike | None = None,
    decoded_xy: ArrayLike | None = None,
    title: str = "",
) -> hv.Overlay:
    """The similarity map ``(n, n)`` (indexed ``[y, x]``) of a "where" query over the arena, the
    true position (white circle) and the decoded one (red cross)."""
    h = np.asarray(heat, dtype=float)
    if h.ndim != 2 or h.shape[0] != h.shape[1]:
        raise ValueError(f"arena_heatmap: heat must be a square (n, n) array, got {h.shape}")
    image = hv.Image(h[::-1], bounds=(0, 0, arena_m, arena_m), kdims=["x", "y"],
                     vdims=[SIMILARITY])  # fmt: skip
    image = image.opts(
        backend="bokeh", cmap="viridis", colorbar=True, aspect="equal", frame_width=260,
        frame_height=260, xlabel="x (m)", ylabel="y (m)", tools=["hover"],
    )  # fmt: skip
    layers: list[hv.Element] = [image]
    if true_xy is not None:
        layers.append(hv.Points([tuple(np.asarray(true_xy, float))], label="true").opts(
            backend="bokeh", color="white", size=14, marker="circle", fill_alpha=0,
            line_width=3))  # fmt: skip
    if decoded_xy is not None:
        layers.append(hv.Points([tuple(np.asarray(decoded_xy, float))], label="decoded").opts(
            backend="bokeh", color="red", size=14, marker="x", line_width=3))  # fmt: skip
    return hv.Overlay(layers).opts(backend="bokeh", title=title, legend_position="top_right")


def time_profiles(
    profiles: ArrayLike,
    labels: Sequence[str],
    *,
    threshold: float | None = None,
    first: Sequence[int] | None = None,
    title: str = "",
) -> hv.Overlay:
    """ "When was X seen": the best similarity over the arena at each time step, one curve per
    object, the presence threshold and the decoded first appearances (dotted)."""
    p = np.atleast_2d(np.asarray(profiles, dtype=float))
    if p.shape[0] != len(labels):
        raise ValueError(f"time_profiles: {len(labels)} labels but {p.shape[0]} profiles")
    steps = np.arange(p.shape[1])
    layers: list[hv.Element] = []
    for i, (row, label) in enumerate(zip(p, labels, strict=True)):
        color = SERIES_COLORS[i % len(SERIES_COLORS)]
        layers.append(styled(hv.Curve((steps, row), "time step", SIMILARITY, label=label),
                             color=color, line_width=2))  # fmt: skip
        layers.append(styled(hv.Scatter((steps, row), "time step", SIMILARITY, label=label),
                             color=color, size=6))  # fmt: skip
        if first is not None:
            layers.append(hv.VLine(float(first[i])).opts(backend="bokeh", color=color,
                                                         line_dash="dotted", line_width=2))  # fmt: skip
    if threshold is not None:
        layers.append(hv.HLine(threshold).opts(backend="bokeh", color="grey", line_dash="dashed"))
    return overlay_opts(hv.Overlay(layers), title=title)


def scene_view(
    objects: ArrayLike,
    xy: ArrayLike,
    times: ArrayLike,
    names: Sequence[str],
    arena_m: float,
    *,
    highlight: Collection[str] = (),
    title: str = "",
) -> hv.Overlay:
    """The stored scene: every event as a point coloured by its time step, each object's path
    through its appearances (grey; highlighted objects in red) and its name at every point."""
    obj = np.asarray(objects, int)
    pos = np.asarray(xy, float).reshape(-1, 2)
    t = np.asarray(times, float)
    labels = [names[k] for k in obj]
    paths = []
    for k in np.unique(obj):
        sel = np.flatnonzero(obj == k)
        sel = sel[np.argsort(t[sel])]
        paths.append({"x": pos[sel, 0], "y": pos[sel, 1], "hot": names[k] in highlight})
    layers: list[hv.Element] = [
        hv.Path([p for p in paths if not p["hot"]], kdims=["x", "y"]).opts(
            backend="bokeh", color="lightgrey", line_width=1),
        hv.Path([p for p in paths if p["hot"]], kdims=["x", "y"]).opts(
            backend="bokeh", color="#d62728", line_width=2),
    ]  # fmt: skip
    points = hv.Points(
        {"x": pos[:, 0], "y": pos[:, 1], "time step": t, "object": labels},
        kdims=["x", "y"], vdims=["time step", "object"],
    )  # fmt: skip
    layers.append(points.opts(
        backend="bokeh", color="time step", cmap="viridis", size=9, colorbar=True,
        tools=["hover"], line_color="black",
    ))  # fmt: skip
    layers.append(hv.Labels(
        {"x": pos[:, 0], "y": pos[:, 1] + 0.025 * arena_m, "object": labels},
        kdims=["x", "y"], vdims=["object"],
    ).opts(backend="bokeh", text_font_size="8pt", text_color="#444444"))  # fmt: skip
    pad = 0.03 * arena_m
    return hv.Overlay(layers).opts(
        backend="bokeh", title=title, xlim=(-pad, arena_m + pad), ylim=(-pad, arena_m + pad),
        aspect="equal", frame_width=300, frame_height=300, xlabel="x (m)", ylabel="y (m)",
    )  # fmt: skip


#: x position of each genealogical slot in the tree drawing (y = -generation).
_SLOT_X = (1.25, 2.25, 3.75, 4.75, 0.0, 1.0, 2.5, 3.5, 5.0, 6.0, 2.5, 3.5)


def family_tree_graph(
    names: Sequence[str],
    family: Sequence[int],
    slot: Sequence[int],
    generation: Sequence[int],
    father: Sequence[int],
    mother: Sequence[int],
    spouse: Sequence[int],
    *,
    subject: str | None = None,
    answer: Collection[str] = (),
    truth: Collection[str] = (),
    title: str = "",
) -> hv.Overlay:
    """Both family trees side by side: parent -> child edges (grey) and marriages (dashed
    pink); the query's subject in black, answers coloured as in :func:`similarity_bars`."""
    n = len(names)
    x = np.array([_SLOT_X[slot[i]] + 7.5 * family[i] for i in range(n)])
    y = -np.asarray(generation, float)
    label_y = y - np.where(np.asarray(slot) % 2 == 0, 0.2, 0.36)  # neighbours alternate
    status = ["subject" if names[i] == subject else _status(names[i], answer, truth)
              for i in range(n)]  # fmt: skip
    colors = {**STATUS_COLORS, "subject": "black"}
    parent_edges = [(p, c) for c in range(n) for p in (father[c], mother[c]) if p >= 0]
    marriages = [(i, s) for i, s in enumerate(spouse) if 0 <= i < s]
    nodes = hv.Nodes((x, y, np.arange(n), list(names), status),
                     vdims=["name", "status"])  # fmt: skip
    graph = hv.Graph(((np.array([e[0] for e in parent_edges]),
                       np.array([e[1] for e in parent_edges])), nodes))  # fmt: skip
    graph = graph.opts(
        backend="bokeh", node_color="status", cmap=colors, node_size=14, edge_color="grey",
        edge_line_width=1, directed=False, tools=["hover"], xaxis=None, yaxis=None,
    )  # fmt: skip
    wed = hv.Segments([(x[i], y[i], x[s], y[s]) for i, s in marriages]).opts(
        backend="bokeh", color="#e377c2", line_dash="dashed", line_width=2)  # fmt: skip
    text = hv.Labels({"x": x, "y": label_y, "name": list(names)}, ["x", "y"], "name").opts(
        backend="bokeh", text_font_size="8pt")  # fmt: skip
    return hv.Overlay([wed, graph, text]).opts(
        backend="bokeh", title=title, responsive=True, height=HEIGHT + 60, ylim=(-2.6, 0.4),
        xlim=(-0.6, 14.1), show_legend=False,
    )  # fmt: skip


def accuracy_curves(
    x: ArrayLike,
    curves: Mapping[str, ArrayLike],
    *,
    xlabel: str,
    logx: bool = False,
    target: float | None = 0.95,
    title: str = "",
) -> hv.Overlay:
    """Accuracy (in %) against ``x`` (dimension or load), one line per query type, with a
    dashed line at the ``target`` accuracy."""
    xs = np.asarray(x, dtype=float).ravel()
    layers: list[hv.Element] = []
    kdim = hv.Dimension("x", label=xlabel)
    for i, (label, ys) in enumerate(curves.items()):
        y = 100.0 * np.asarray(ys, dtype=float).ravel()
        if y.shape != xs.shape:
            raise ValueError(f"accuracy_curves: {label!r} has {y.size} values for {xs.size} x")
        color = SERIES_COLORS[i % len(SERIES_COLORS)]
        ticks = {"xticks": [(float(v), f"{v:g}") for v in xs]} if logx else {}
        layers.append(styled(hv.Curve((xs, y), kdim, ACCURACY, label=label), color=color,
                             line_width=2, logx=logx, **ticks))  # fmt: skip
        layers.append(styled(hv.Scatter((xs, y), kdim, ACCURACY, label=label), color=color,
                             size=6, logx=logx, **ticks))  # fmt: skip
    if target is not None:
        layers.append(hv.HLine(100.0 * target).opts(backend="bokeh", color="grey",
                                                     line_dash="dashed"))  # fmt: skip
    return overlay_opts(hv.Overlay(layers), title=title, ylim=(-2, 102), logx=logx)


def accuracy_figures(data: Mapping[str, Any]) -> dict[str, hv.Overlay]:
    """The four accuracy plots of :func:`snnviz.models.vsa_queries.accuracy_sweeps`: scene and
    family trees, each vs dimension (log axis) and vs load."""
    dims = data["dims"]
    family_curves = {
        f"{label} ({enc})": data["family_by_dim"][enc][k]
        for enc in data["family_by_dim"] for k, label in FAMILY_KEYS.items()
    }  # fmt: skip
    return {
        "scene_vs_dim": accuracy_curves(
            dims, {SCENE_KEYS[k]: data["scene_by_dim"][k] for k in SCENE_KEYS},
            xlabel="dimension D", logx=True,
            title=f"Scene memory: accuracy vs D ({data['scene_events']} events)"),
        "scene_vs_load": accuracy_curves(
            data["scene_loads"], {SCENE_KEYS[k]: v for k, v in data["scene_by_load"].items()},
            xlabel="load (stored events)",
            title=f"Scene memory: accuracy vs load (D = {data['scene_dim']})"),
        "family_vs_dim": accuracy_curves(
            dims, family_curves, xlabel="dimension D", logx=True,
            title="Family trees: accuracy vs D"),
        "family_vs_load": accuracy_curves(
            data["family_loads"],
            {FAMILY_KEYS[k]: v for k, v in data["family_by_load"].items()},
            xlabel="load (facts in one triples trace)",
            title=f"Family trees: accuracy vs load (D = {data['family_dim']})"),
    }  # fmt: skip
