"""Views for the training lab: learning curves, the Yin-Yang decision map, weight histograms,
one sample's spikes layer by layer, EventProp's forward spikes and adjoint jumps, and the
NeuroBench metrics table.

Conventions: a training *history* is a list of rows (one dict per logged step, as kept by
:class:`snnviz.components.TrainingSession`) or a dict of columns, with the keys ``step``,
``loss``, ``train_acc``, ``test_loss``, ``test_acc``; accuracies are fractions in [0, 1] and are
shown in %. Layered spike events are ``{layer name: (times_ms, neuron_ids)}`` in the order the
layers should be drawn (bottom to top: input first); :func:`events_by_layer` builds that from
flat arrays with layer codes (EventProp's ``sample_events`` output).

Example::

    from snnviz.views import decision_map, learning_curves, weight_histograms
    learning_curves(session.history, chance=1 / 3)
    decision_map(xs, ys, predicted, points=test.points, labels=test.labels)
    weight_histograms({"input->hidden": w1, "hidden->output": w2})
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import holoviews as hv
import numpy as np
from numpy.typing import ArrayLike

from snnviz.core.data.yinyang import CLASS_NAMES

from ._style import COUNT, HEIGHT, TIME, overlay_opts, styled

STEP = hv.Dimension("step", label="training step")
LOSS = hv.Dimension("loss", label="loss")
ACCURACY = hv.Dimension("accuracy", label="accuracy", unit="%")
ROW = hv.Dimension("row", label="neuron (by layer)")
CLASS = hv.Dimension("class", label="predicted class")
X = hv.Dimension("x", label="x")
Y = hv.Dimension("y", label="y")

#: Colours of the classes (decision map and points) and of train/test curves.
CLASS_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
TRAIN_COLOR, TEST_COLOR = "#1f77b4", "#d62728"

LOSS_KEYS: dict[str, str] = {"loss": "train", "test_loss": "test"}
ACCURACY_KEYS: dict[str, str] = {"train_acc": "train", "test_acc": "test"}

History = Sequence[Mapping[str, Any]] | Mapping[str, ArrayLike]
LayerEvents = Mapping[str, tuple[ArrayLike, ArrayLike]]


# -- learning curves ---------------------------------------------------------------------------
def history_columns(history: History) -> dict[str, np.ndarray]:
    """A history as float columns: ``{key: (rows,) array}``, NaN where a row lacks the key.

    Accepts a list of row dicts (keys may differ between rows: evaluations are not logged at
    every step) or a dict of equal-length columns. Non-numeric values become NaN.
    """
    if isinstance(history, Mapping):
        cols = {str(k): np.asarray(v, dtype=np.float64).ravel() for k, v in history.items()}
        sizes = {k: v.size for k, v in cols.items()}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"history columns must have equal lengths, got {sizes}")
        return cols
    keys: list[str] = []
    for row in history:
        keys.extend(k for k in row if k not in keys)
    return {key: np.array([_as_float(row.get(key)) for row in history]) for key in keys}


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _series(cols: dict[str, np.ndarray], key: str, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """(step, value * scale) at the rows where ``key`` is finite."""
    n = len(next(iter(cols.values()))) if cols else 0
    steps = cols.get("step", np.arange(n, dtype=np.float64))
    values = cols.get(key, np.full(n, math.nan))
    keep = np.isfinite(values) & np.isfinite(steps)
    return steps[keep], values[keep] * scale


def _curves(
    cols: dict[str, np.ndarray],
    keys: Mapping[str, str],
    vdim: hv.Dimension,
    scale: float,
) -> list[hv.Element]:
    colors = [TRAIN_COLOR, TEST_COLOR, *CLASS_COLORS[2:]]
    layers: list[hv.Element] = []
    for i, (key, label) in enumerate(keys.items()):
        x, y = _series(cols, key, scale)
        if x.size == 0:
            continue
        curve = hv.Curve((x, y), kdims=[STEP], vdims=[vdim], label=label)
        layers.append(styled(curve, color=colors[i % len(colors)], line_width=2))
    if not layers:  # keep the axes (and the layout) stable before the first logged step
        layers.append(styled(hv.Curve(([], []), kdims=[STEP], vdims=[vdim])))
    return layers


def learning_curves(
    history: History,
    *,
    chance: float | None = None,
    loss_keys: Mapping[str, str] = LOSS_KEYS,
    accuracy_keys: Mapping[str, str] = ACCURACY_KEYS,
    title: str = "",
    cols: int = 2,
) -> hv.Layout:
    """Loss and accuracy (%) against the training step, train and test.

    Args:
        history: rows or columns (see the module docstring); ``step`` is the x axis (row index
            if absent).
        chance: chance accuracy as a fraction (1/3 for Yin-Yang): a dashed line.
        loss_keys, accuracy_keys: ``{history key: legend label}`` of the curves drawn in each
            panel (default train/test loss and accuracy).
        cols: panels per row of the layout.

    Returns ``hv.Layout`` of two ``hv.Overlay``: loss, then accuracy in % (y from 0 to 100).
    """
    data = history_columns(history)
    loss = hv.Overlay(_curves(data, loss_keys, LOSS, 1.0))
    acc_layers = _curves(data, accuracy_keys, ACCURACY, 100.0)
    if chance is not None:
        if not 0.0 <= chance <= 1.0:
            raise ValueError(f"learning_curves: chance must be a fraction in [0, 1], got {chance}")
        acc_layers.append(hv.HLine(100.0 * chance).opts(color="grey", line_dash="dashed"))
    accuracy = hv.Overlay(acc_layers)
    return hv.Layout(
        [
            overlay_opts(loss, title=f"{title} loss".strip(), legend_position="top_right"),
            overlay_opts(
                accuracy,
                title=f"{title} accuracy".strip(),
                legend_position="bottom_right",
                ylim=(0, 100),
            ),
        ]
    ).cols(cols)


# -- decision map ------------------------------------------------------------------------------
def _grid_axis(values: ArrayLike, axis: int, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 2:  # a meshgrid: x varies along columns, y along rows
        arr = arr[0, :] if axis == 1 else arr[:, 0]
    if arr.ndim != 1 or arr.size < 2:
        raise ValueError(
            f"decision_map: {name} must be grid coordinates (1-D, >= 2 values or a "
            f"meshgrid), got shape {np.shape(values)}"
        )
    step = np.diff(arr)
    if not (np.all(step > 0) and np.allclose(step, step[0], rtol=1e-6, atol=1e-12)):
        raise ValueError(f"decision_map: {name} must be evenly spaced and increasing")
    return arr


def decision_map(
    xx: ArrayLike,
    yy: ArrayLike,
    predicted_class: ArrayLike,
    points: ArrayLike | None = None,
    labels: ArrayLike | None = None,
    *,
    class_names: Sequence[str] = CLASS_NAMES,
    predictions: ArrayLike | None = None,
    alpha: float = 0.35,
    size: int = 320,
    title: str = "",
) -> hv.Overlay:
    """The predicted class over the input square, with labelled points on top.

    Args:
        xx, yy: grid coordinates: 1-D ``(nx,)`` and ``(ny,)`` (evenly spaced pixel centres) or
            2-D meshgrids of shape ``(ny, nx)``.
        predicted_class: ``(ny, nx)`` integer class of each grid point (row ``j`` is ``yy[j]``).
        points, labels: optional ``(n, 2)`` points and their true classes, one legend entry per
            class in the class colours.
        class_names: names of classes ``0, 1, ...`` (default Yin-Yang's yin, yang, dot).
        predictions: optional predicted class of each point; wrong ones get a black cross.
        alpha: opacity of the map (the points are opaque).
        size: plot width and height in px (a square, so the unit square is not distorted).

    Returns an ``hv.Overlay`` of an ``hv.Image`` (values: class index, categorical colours)
    and ``hv.Points`` per class (plus one for the misclassified points).
    """
    xs, ys = _grid_axis(xx, 1, "xx"), _grid_axis(yy, 0, "yy")
    pred = np.asarray(predicted_class)
    if pred.shape != (ys.size, xs.size):
        raise ValueError(
            f"decision_map: predicted_class must have shape (len(yy), len(xx)) = "
            f"{(ys.size, xs.size)}, got {pred.shape}"
        )
    n_classes = len(class_names)
    if n_classes > len(CLASS_COLORS):
        raise ValueError(f"decision_map: at most {len(CLASS_COLORS)} classes, got {n_classes}")
    colors = list(CLASS_COLORS[:n_classes])
    image = hv.Image((xs, ys, pred.astype(np.float64)), kdims=[X, Y], vdims=[CLASS])
    square = {"responsive": False, "frame_width": size, "frame_height": size}
    layers: list[hv.Element] = [
        styled(
            image,
            cmap=colors,
            clim=(-0.5, n_classes - 0.5),
            alpha=alpha,
            title=title,
            **square,
        )
    ]
    if points is not None:
        pts = np.asarray(points, dtype=np.float64)
        if labels is None:
            raise ValueError("decision_map: give the labels of the points")
        lab = np.asarray(labels).ravel()
        if pts.ndim != 2 or pts.shape[1] != 2 or lab.size != pts.shape[0]:
            raise ValueError(
                f"decision_map: points must have shape (n, 2) and labels (n,), got "
                f"{pts.shape} and {lab.shape}"
            )
        for c, name in enumerate(class_names):
            sel = pts[lab == c]
            layers.append(
                styled(
                    hv.Points(sel, kdims=[X, Y], label=str(name)),
                    color=colors[c],
                    size=4,
                    line_color="white",
                    **square,
                )
            )
        if predictions is not None:
            wrong = np.asarray(predictions).ravel() != lab
            layers.append(
                styled(
                    hv.Points(pts[wrong], kdims=[X, Y], label="misclassified"),
                    color="black",
                    marker="x",
                    size=7,
                    **square,
                )
            )
    return overlay_opts(hv.Overlay(layers), title=title, **square)


# -- weights -----------------------------------------------------------------------------------
def weight_histograms(
    weights: Mapping[str, ArrayLike],
    *,
    bins: int = 40,
    layout: Literal["overlay", "grid"] = "overlay",
    density: bool = False,
    unit: str | None = None,
    title: str = "",
    cols: int = 3,
) -> hv.Overlay | hv.Layout:
    """One histogram of the weight values per layer.

    Args:
        weights: ``{layer name: array}`` (any shape; non-finite values are left out).
        bins: number of bins (shared edges over all layers when overlaid).
        layout: ``"overlay"`` (semi-transparent, one legend entry per layer) or ``"grid"``
            (one panel per layer, each with its own range).
        density: normalise each histogram to unit area (compares layers of different sizes).
        unit: unit of the weights for the axis label (e.g. ``"pA"``), if any.

    Returns ``hv.Overlay`` or ``hv.Layout`` of ``hv.Histogram`` (vdim ``count`` or ``density``).
    """
    if not weights:
        raise ValueError("weight_histograms: give at least one layer")
    if int(bins) < 1:
        raise ValueError(f"weight_histograms: bins must be >= 1, got {bins}")
    if layout not in ("overlay", "grid"):
        raise ValueError(f"weight_histograms: layout must be 'overlay' or 'grid', got {layout!r}")
    values = {str(k): np.asarray(v, dtype=np.float64).ravel() for k, v in weights.items()}
    values = {k: v[np.isfinite(v)] for k, v in values.items()}
    kdim = hv.Dimension("weight", label="weight", unit=unit)
    vdim = hv.Dimension("density", label="density") if density else COUNT

    def span(arrays: list[np.ndarray]) -> tuple[float, float]:
        joined = np.concatenate(arrays) if arrays else np.zeros(0)
        lo, hi = (float(joined.min()), float(joined.max())) if joined.size else (-1.0, 1.0)
        return (lo - 0.5, hi + 0.5) if hi <= lo else (lo, hi)

    shared = span(list(values.values()))
    hists = []
    for i, (name, w) in enumerate(values.items()):
        edges = np.histogram_bin_edges(
            w, bins=int(bins), range=shared if layout == "overlay" else span([w])
        )
        counts, _ = np.histogram(w, bins=edges, density=density and w.size > 0)
        hist = hv.Histogram((edges, counts), kdims=[kdim], vdims=[vdim], label=name)
        color = CLASS_COLORS[i % len(CLASS_COLORS)]
        if layout == "overlay":
            hists.append(styled(hist, fill_color=color, fill_alpha=0.45, line_color=color))
        else:
            hists.append(styled(hist, fill_color=color, line_width=0, title=name))
    if layout == "overlay":
        return overlay_opts(hv.Overlay(hists), title=title, legend_position="top_right")
    return hv.Layout(hists).cols(cols).opts(title=title)


# -- spikes of one sample ----------------------------------------------------------------------
def events_by_layer(
    times_ms: ArrayLike,
    neuron_ids: ArrayLike,
    layers: ArrayLike,
    names: Sequence[str],
    values: ArrayLike | None = None,
) -> dict[str, tuple[np.ndarray, ...]]:
    """Split flat events with layer codes ``0, 1, ...`` into ``{names[code]: (times, ids)}``
    (``(times, ids, values)`` when ``values`` is given), keeping every named layer."""
    t = np.asarray(times_ms, dtype=np.float64).ravel()
    ids = np.asarray(neuron_ids).astype(np.int64).ravel()
    code = np.asarray(layers).astype(np.int64).ravel()
    extra = None if values is None else np.asarray(values, dtype=np.float64).ravel()
    if ids.size != t.size or code.size != t.size or (extra is not None and extra.size != t.size):
        raise ValueError("events_by_layer: times, ids, layers (and values) need equal lengths")
    bad = sorted(set(code.tolist()) - set(range(len(names))))
    if bad:
        raise ValueError(f"events_by_layer: layer codes {bad} have no name in {list(names)}")
    out: dict[str, tuple[np.ndarray, ...]] = {}
    for i, name in enumerate(names):
        sel = code == i
        out[str(name)] = (t[sel], ids[sel]) if extra is None else (t[sel], ids[sel], extra[sel])
    return out


def _stacking(
    layers: Mapping[str, tuple[ArrayLike, ...]], n_neurons: Mapping[str, int] | None
) -> dict[str, tuple[int, int]]:
    """``{layer: (row offset, size)}``: layers stacked bottom-up in the given order."""
    rows: dict[str, tuple[int, int]] = {}
    offset = 0
    for name, events in layers.items():
        ids = np.asarray(events[1]).astype(np.int64).ravel()
        size = (n_neurons or {}).get(name)
        size = int(size) if size is not None else (int(ids.max()) + 1 if ids.size else 1)
        if ids.size and (ids.min() < 0 or ids.max() >= size):
            raise ValueError(
                f"layer {name!r}: neuron ids must be in [0, {size}), got [{ids.min()}, {ids.max()}]"
            )
        rows[name] = (offset, size)
        offset += size
    return rows


def _row_axis_opts(rows: dict[str, tuple[int, int]]) -> dict[str, Any]:
    total = sum(size for _, size in rows.values())
    ticks = [(offset + 0.5 * (size - 1), name) for name, (offset, size) in rows.items()]
    return {"yticks": ticks, "ylim": (-0.5, max(total, 1) - 0.5)}


def _layer_bounds(rows: dict[str, tuple[int, int]]) -> list[hv.HLine]:
    return [
        hv.HLine(offset - 0.5).opts(color="lightgrey", line_width=1)
        for offset, _ in list(rows.values())[1:]
    ]


def spike_raster_sample(
    layers: LayerEvents,
    *,
    n_neurons: Mapping[str, int] | None = None,
    t_range: tuple[float, float] | None = None,
    title: str = "",
) -> hv.Overlay:
    """One sample's spikes in several layers, stacked on one time axis (a small raster).

    :func:`snnviz.views.spike_raster` draws one population; this stacks a few (input, hidden,
    output), each in its colour with its name on the y axis: layer ``k``'s neuron ``i`` sits in
    row ``offset_k + i``.

    Args:
        layers: ``{name: (times_ms, neuron_ids)}``, bottom layer first.
        n_neurons: rows per layer (default ``max(id) + 1``; give it so silent neurons show).
        t_range: x range in ms (default: the spikes' span).

    Returns an ``hv.Overlay`` of one ``hv.Scatter`` per layer (kdim time, vdim row) and grey
    lines between layers.
    """
    rows = _stacking(layers, n_neurons)
    scatters = []
    for i, (name, events) in enumerate(layers.items()):
        t = np.asarray(events[0], dtype=np.float64).ravel()
        row = rows[name][0] + np.asarray(events[1]).astype(np.int64).ravel()
        scatter = hv.Scatter((t, row), kdims=[TIME], vdims=[ROW], label=name)
        scatters.append(
            styled(scatter, color=CLASS_COLORS[i % len(CLASS_COLORS)], marker="square", size=4)
        )
    opts = _row_axis_opts(rows)
    if t_range is not None:
        opts["xlim"] = tuple(t_range)
    overlay = hv.Overlay([*scatters, *_layer_bounds(rows)])
    return overlay_opts(overlay, title=title, show_legend=False, **opts)


def adjoint_events(
    forward: LayerEvents,
    adjoint: Mapping[str, tuple[ArrayLike, ArrayLike, ArrayLike]],
    *,
    n_neurons: Mapping[str, int] | None = None,
    t_range: tuple[float, float] | None = None,
    value_label: str = "adjoint jump",
    title: str = "",
) -> hv.Layout:
    """EventProp on one sample: forward spikes (top) and the backward pass's adjoint jumps
    (bottom) on a shared time axis, with the same layer rows.

    In EventProp (Wunderlich & Pehle 2021) the adjoint variables are integrated backwards in
    time and jump at the forward spike times; the bottom row marks each jump at its spike's
    time and neuron, coloured by its signed size (diverging colours, symmetric range).

    Args:
        forward: ``{layer: (times_ms, neuron_ids)}``, bottom layer first.
        adjoint: ``{layer: (times_ms, neuron_ids, jump)}``; layers missing here (the input)
            just have no marks.
        n_neurons: rows per layer (default from the forward ids).
        t_range: x range in ms.
        value_label: name of the jump values (colour bar).

    Returns ``hv.Layout`` (one column) of :func:`spike_raster_sample` and an overlay with one
    ``hv.Scatter`` (kdim time, vdims row, jump).
    """
    unknown = sorted(set(adjoint) - set(forward))
    if unknown:
        raise ValueError(
            f"adjoint_events: adjoint layers {unknown} are not forward layers {list(forward)}"
        )
    sizes = dict(n_neurons or {})
    for name, events in adjoint.items():  # rows must also fit the adjoint ids
        ids = np.asarray(events[1]).astype(np.int64).ravel()
        fwd = np.asarray(forward[name][1]).astype(np.int64).ravel()
        if name not in sizes:
            sizes[name] = max(1, int(ids.max(initial=-1)) + 1, int(fwd.max(initial=-1)) + 1)
    rows = _stacking(forward, sizes)
    top = spike_raster_sample(
        forward, n_neurons=sizes, t_range=t_range, title=f"{title} forward spikes".strip()
    )
    t_all, r_all, v_all = [np.zeros(0)], [np.zeros(0)], [np.zeros(0)]
    for name, (times, ids, jumps) in adjoint.items():
        t = np.asarray(times, dtype=np.float64).ravel()
        i = np.asarray(ids).astype(np.int64).ravel()
        v = np.asarray(jumps, dtype=np.float64).ravel()
        if not t.size == i.size == v.size:
            raise ValueError(
                f"adjoint_events: layer {name!r} needs equal-length times, ids and "
                f"jumps, got {t.size}, {i.size}, {v.size}"
            )
        if i.size and (i.min() < 0 or i.max() >= rows[name][1]):
            raise ValueError(f"adjoint_events: layer {name!r} ids out of [0, {rows[name][1]})")
        t_all.append(t)
        r_all.append(rows[name][0] + i)
        v_all.append(v)
    t, r, v = (np.concatenate(a) for a in (t_all, r_all, v_all))
    finite = v[np.isfinite(v)]
    peak = float(np.abs(finite).max()) if finite.size else 1.0
    jump_dim = hv.Dimension("jump", label=value_label)
    scatter = styled(
        hv.Scatter((t, r, v), kdims=[TIME], vdims=[ROW, jump_dim]),
        color="jump",
        cmap="RdBu_r",
        clim=(-peak or -1.0, peak or 1.0),
        colorbar=True,
        marker="diamond",
        size=7,
        line_color="black",
        line_width=0.3,
    )
    opts = _row_axis_opts(rows)
    if t_range is not None:
        opts["xlim"] = tuple(t_range)
    bottom = overlay_opts(
        hv.Overlay([scatter, *_layer_bounds(rows)]),
        title=f"{title} adjoint jumps (backward pass)".strip(),
        show_legend=False,
        **opts,
    )
    return hv.Layout([top, bottom]).cols(1)


# -- NeuroBench table --------------------------------------------------------------------------
def metrics_columns(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Rows of metrics as ordered columns ``{key: [value per row]}`` (None where a row lacks
    the key): ready for ``pn.widgets.Tabulator(pd.DataFrame(...))`` or a CSV export.

    The column order is the order keys first appear; a ``model`` column comes first.
    """
    keys: list[str] = []
    for row in rows:
        keys.extend(str(k) for k in row if str(k) not in keys)
    if "model" in keys:
        keys.remove("model")
        keys.insert(0, "model")
    return {key: [row.get(key) for row in rows] for key in keys}


def metrics_table(
    rows: Sequence[Mapping[str, Any]],
    *,
    title: str = "",
    width: int = 900,
    height: int | None = None,
) -> hv.Table:
    """The NeuroBench table: one row per trained model, one column per metric.

    Args:
        rows: e.g. ``{"model": "surrogate BPTT", **neurobench_metrics(...)["table"]}`` per model;
            keys may differ between rows (missing values show as NaN). Numeric columns stay
            numeric (sortable); other values are shown as text.

    Returns ``hv.Table`` with kdim ``model`` (when present) and the other keys as vdims.
    """
    if not rows:
        raise ValueError("metrics_table: give at least one row")
    columns = metrics_columns(rows)
    data: dict[str, np.ndarray] = {}
    for key, values in columns.items():
        numeric = all(
            v is None or (isinstance(v, int | float | np.number) and not isinstance(v, bool))
            for v in values
        )
        if numeric:
            data[key] = np.array([math.nan if v is None else float(v) for v in values])
        else:
            data[key] = np.array(["" if v is None else str(v) for v in values], dtype=object)
    kdims = ["model"] if "model" in data else []
    vdims = [k for k in data if k not in kdims]
    table = hv.Table(data, kdims=kdims, vdims=vdims)
    return table.opts(
        backend="bokeh",
        title=title,
        width=int(width),
        height=height or min(HEIGHT, 40 + 28 * len(rows)),
    )
