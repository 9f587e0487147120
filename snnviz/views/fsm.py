"""Views of the VSA state-machine page (:mod:`snnviz.core.vsa.fsm`).

Analysis figures (HoloViews, for ``reproduce()``):

* :func:`accuracy_vs_noise` - transition accuracy and attractor overlap against weight noise.
* :func:`capacity_vs_neurons` - the largest FSM run at 99 % against N, with a line through 0.
* :func:`similarity_over_time` - the network state's similarity to every node attractor as a
  heatmap, over curves of the similarity to the FSM's state, the best other state and the best
  edge state.

Live pieces (raw Bokeh, updated in place every frame; the page wraps them in Panel panes):

* :class:`FSMGraph` - the FSM's states on a circle, one curved arrow per stored transition;
  :meth:`FSMGraph.show` marks the FSM's state and the network's decoded state.
* :class:`LiveSimilarity` - a rolling (attractor x update step) heatmap of similarities held as a
  ring of image tiles (:class:`~snnviz.views.raster.ImageTiles`): each push patches one tile.
"""

from __future__ import annotations

import collections
import math
import time
from collections.abc import Callable, Sequence

import holoviews as hv
import numpy as np
from bokeh.models import ColumnDataSource, DataRange1d, LabelSet, LinearColorMapper, Range1d
from bokeh.palettes import Viridis256
from bokeh.plotting import figure
from numpy.typing import ArrayLike

from snnviz.core.vsa.fsm import FSM

from ._style import overlay_opts, styled
from .raster import ImageTiles

NOISE = hv.Dimension("noise", label="weight noise σ", unit="× std W")
PERCENT = hv.Dimension("accuracy", label="accuracy", unit="%")
STEP = hv.Dimension("step", label="update step")
SIMILARITY = hv.Dimension("similarity", label="similarity to attractor")
NEURONS = hv.Dimension("neurons", label="neurons N")
CAPACITY = hv.Dimension("capacity", label="states at ≥ 99 %")

FSM_STATE_COLOR, OTHER_COLOR, EDGE_COLOR = "#2ca02c", "#d62728", "#7f7f7f"
NODE_FILL, MATCH_FILL, MISMATCH_FILL, MOVING_FILL = "#e8e8e8", "#2ca02c", "#d62728", "#9ecae1"


# -- analysis figures ---------------------------------------------------------------------------
def accuracy_vs_noise(
    noise: ArrayLike,
    accuracy: ArrayLike,
    overlap: ArrayLike | None = None,
    *,
    title: str = "Transition accuracy vs weight noise",
) -> hv.Overlay:
    """Accuracy (fraction in [0, 1], shown in %) and optionally the mean similarity of the
    decoded state to the correct attractor (also in %), against the relative weight noise, with
    the 99 % and 90 % levels marked."""
    sigma = np.asarray(noise, dtype=np.float64)
    acc = 100.0 * np.asarray(accuracy, dtype=np.float64)
    if sigma.shape != acc.shape:
        raise ValueError(f"noise and accuracy must match, got {sigma.shape} and {acc.shape}")
    layers = [
        styled(hv.Curve((sigma, acc), NOISE, PERCENT, label="transitions correct"), color="black"),
        styled(hv.Scatter((sigma, acc), NOISE, PERCENT), color="black", size=6),
    ]
    if overlap is not None:
        ov = 100.0 * np.asarray(overlap, dtype=np.float64)
        layers.append(
            styled(
                hv.Curve((sigma, ov), NOISE, PERCENT, label="similarity to correct attractor"),
                color=FSM_STATE_COLOR,
                line_dash="dashed",
            )
        )
    for level in (99.0, 90.0):
        layers.append(hv.HLine(level).opts(color="#999999", line_dash="dotted", line_width=1))
    return overlay_opts(hv.Overlay(layers), title=title, ylim=(-2, 102))


def capacity_vs_neurons(
    n_neurons: ArrayLike, capacity: ArrayLike, *, slope: float | None = None, title: str = ""
) -> hv.Overlay:
    """Measured capacity (largest FSM at >= 99 % correct transitions) against N, with the
    proportional fit ``C = slope * N`` if given."""
    n = np.asarray(n_neurons, dtype=np.float64)
    c = np.asarray(capacity, dtype=np.float64)
    layers = [
        styled(hv.Scatter((n, c), NEURONS, CAPACITY, label="measured"), color="black", size=8)
    ]
    if slope is not None:
        grid = np.linspace(0.0, n.max() * 1.05, 50)
        layers.append(
            styled(
                hv.Curve((grid, slope * grid), NEURONS, CAPACITY, label=f"C = {slope:.4f} N"),
                color=FSM_STATE_COLOR,
            )
        )
    return overlay_opts(hv.Overlay(layers), title=title or "Capacity vs network size")


def similarity_over_time(
    similarity: ArrayLike,
    fsm_states: ArrayLike,
    *,
    n_states: int,
    state_names: Sequence[str] | None = None,
    input_labels: Sequence[tuple[int, str]] = (),
    title: str = "Similarity of the network state to the attractors",
) -> hv.Layout:
    """``similarity (T, n_states + n_edges)`` over update steps; ``fsm_states (T,)`` is the
    FSM's state at each step. ``input_labels``: ``(step, text)`` marks where inputs start."""
    sims = np.asarray(similarity, dtype=np.float64)
    expected = np.asarray(fsm_states, dtype=np.int64).ravel()
    if sims.ndim != 2 or sims.shape[0] != expected.size or sims.shape[1] < n_states:
        raise ValueError(
            f"similarity must be (T, >= n_states) with T = len(fsm_states) = {expected.size}, "
            f"got {sims.shape}"
        )
    steps = np.arange(1, sims.shape[0] + 1, dtype=np.float64)
    nodes = sims[:, :n_states]
    heat = hv.Image(
        (steps, np.arange(n_states), nodes.T),
        kdims=[STEP, hv.Dimension("state", label="node attractor")],
        vdims=[SIMILARITY],
    )
    yticks = list(enumerate(state_names)) if state_names is not None and n_states <= 25 else None
    heat = styled(heat, cmap="viridis", clim=(-0.2, 1.0), colorbar=True, title=title)
    if yticks:
        heat = heat.opts(yticks=yticks, backend="bokeh")
    own = nodes[np.arange(nodes.shape[0]), expected]
    others = np.where(np.arange(n_states)[None, :] == expected[:, None], -np.inf, nodes).max(1)
    curves = [
        styled(
            hv.Curve((steps, own), STEP, SIMILARITY, label="FSM's state"), color=FSM_STATE_COLOR
        ),
        styled(
            hv.Curve((steps, others), STEP, SIMILARITY, label="best other state"), color=OTHER_COLOR
        ),
    ]
    if sims.shape[1] > n_states:
        edges = sims[:, n_states:].max(1)
        curves.append(
            styled(
                hv.Curve((steps, edges), STEP, SIMILARITY, label="best edge state"),
                color=EDGE_COLOR,
            )
        )
    for step, text in input_labels:
        curves.append(hv.VLine(float(step)).opts(color="#bbbbbb", line_width=1))
        curves.append(
            hv.Text(float(step), 1.08, str(text)).opts(text_font_size="8pt", text_align="left")
        )
    lines = overlay_opts(hv.Overlay(curves), title="", ylim=(-0.3, 1.15))
    return (heat + lines).cols(1)


# -- live pieces (raw Bokeh) --------------------------------------------------------------------
def circle_layout(n: int) -> np.ndarray:
    """``(n, 2)`` positions on the unit circle, the first at the top, clockwise."""
    angle = np.pi / 2 - 2 * np.pi * np.arange(n) / max(n, 1)
    return np.stack([np.cos(angle), np.sin(angle)], axis=1)


def _bezier(p0: np.ndarray, c: np.ndarray, p1: np.ndarray, t: float) -> np.ndarray:
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * c + t**2 * p1


class FSMGraph:
    """The FSM drawn on a circle: nodes (states) and curved arrows (stored transitions, labelled
    with their input symbols when there are few). :meth:`show` recolours the nodes in place:
    thick outline = the FSM's state, fill = the network's decoded state (green when it agrees,
    red when not)."""

    def __init__(self, fsm: FSM, *, height: int = 340, title: str = "") -> None:
        n = fsm.n_states
        pos = circle_layout(n)
        self.n_states = n
        self.radius = float(min(0.13, 0.3 * 2 * np.pi / max(n, 3)))
        self.figure = figure(
            title=title or f"{fsm.name}: {len(fsm.transitions())} stored transitions",
            height=height,
            width=int(height * 1.25),
            match_aspect=True,
            x_range=DataRange1d(start=-1.45, end=1.45),
            y_range=DataRange1d(start=-1.3, end=1.3),
            tools="pan,wheel_zoom,reset,save",
            output_backend="canvas",
        )
        self.figure.toolbar.logo = None
        self.figure.axis.visible = False
        self.figure.grid.visible = False
        self._draw_edges(fsm, pos)
        self.nodes = ColumnDataSource(
            {
                "x": pos[:, 0],
                "y": pos[:, 1],
                "name": list(fsm.states),
                "fill": [NODE_FILL] * n,
                "line": ["#555555"] * n,
                "width": [1.0] * n,
            }
        )
        self.figure.circle(
            "x",
            "y",
            radius=self.radius,
            source=self.nodes,
            fill_color="fill",
            line_color="line",
            line_width="width",
        )
        if n <= 60:  # names outside the circle, clear of the arrows
            out = 1.0 + self.radius + 0.1
            labels = ColumnDataSource(
                {"x": out * pos[:, 0], "y": out * pos[:, 1], "name": list(fsm.states)}
            )
            self.figure.add_layout(
                LabelSet(
                    x="x",
                    y="y",
                    text="name",
                    source=labels,
                    text_font_size="9pt" if n <= 12 else "7pt",
                    text_align="center",
                    text_baseline="middle",
                )
            )
        self._shown: tuple[int | None, int | None, bool] = (None, None, True)

    def _draw_edges(self, fsm: FSM, pos: np.ndarray) -> None:
        grouped: dict[tuple[int, int], list[str]] = collections.defaultdict(list)
        for src, a, dst in fsm.transitions():
            grouped[(int(src), int(dst))].append(fsm.inputs[a])
        cols: dict[str, list] = {k: [] for k in ("x0", "y0", "x1", "y1", "cx", "cy")}
        heads: dict[str, list] = {"x": [], "y": [], "angle": []}
        labels: dict[str, list] = {"x": [], "y": [], "text": []}
        for (src, dst), symbols in grouped.items():
            p0, p1 = pos[src], pos[dst]
            d = p1 - p0
            length = float(np.hypot(*d)) or 1.0
            normal = np.array([d[1], -d[0]]) / length
            c = (p0 + p1) / 2 + 0.18 * length * normal  # a->b and b->a bend to opposite sides
            for key, value in zip(cols, (*p0, *p1, *c), strict=True):
                cols[key].append(float(value))
            ts = np.linspace(0.5, 1.0, 60)
            pts = np.stack([_bezier(p0, c, p1, t) for t in ts])
            outside = np.hypot(*(pts - p1).T) >= 1.15 * self.radius
            t = float(ts[outside][-1]) if outside.any() else 0.8
            tip = _bezier(p0, c, p1, t)
            tangent = 2 * (1 - t) * (c - p0) + 2 * t * (p1 - c)
            heads["x"].append(float(tip[0]))
            heads["y"].append(float(tip[1]))
            heads["angle"].append(math.atan2(tangent[1], tangent[0]) - math.pi / 2)
            mid = _bezier(p0, c, p1, 0.5)
            labels["x"].append(float(mid[0]))
            labels["y"].append(float(mid[1]))
            labels["text"].append("/".join(symbols))
        alpha = 0.6 if len(grouped) <= 40 else 0.3
        self.figure.quadratic(
            "x0",
            "y0",
            "x1",
            "y1",
            "cx",
            "cy",
            source=ColumnDataSource(cols),
            line_color="#888888",
            line_alpha=alpha,
        )
        self.figure.scatter(
            "x",
            "y",
            angle="angle",
            marker="triangle",
            size=7 if len(grouped) <= 40 else 5,
            source=ColumnDataSource(heads),
            color="#666666",
            alpha=alpha,
        )
        if len(grouped) <= 24:
            self.figure.add_layout(
                LabelSet(
                    x="x",
                    y="y",
                    text="text",
                    source=ColumnDataSource(labels),
                    text_font_size="8pt",
                    text_color="#444444",
                    text_align="center",
                )
            )

    def show(self, decoded: int | None, expected: int | None, *, settled: bool = True) -> bool:
        """Mark the FSM's state (thick outline) and the network's decoded node state (fill:
        green when they agree; when not, red if ``settled`` (no input is shown, the network
        should be there) else blue: still on its way). ``decoded=None``: the network is in an
        edge state (no node filled). Returns whether the drawing changed (only changed nodes
        are patched)."""
        shown = (decoded, expected, settled)
        if shown == self._shown:
            return False
        touched = {i for i in (*self._shown[:2], decoded, expected) if i is not None}
        patches: dict[str, list] = {"fill": [], "line": [], "width": []}
        for i in sorted(touched):
            fill = NODE_FILL
            if i == decoded:
                fill = MATCH_FILL if i == expected else MISMATCH_FILL if settled else MOVING_FILL
            patches["fill"].append((i, fill))
            patches["line"].append((i, "black" if i == expected else "#555555"))
            patches["width"].append((i, 4.0 if i == expected else 1.0))
        self.nodes.patch(patches)
        self._shown = shown
        return True


class LiveSimilarity:
    """A rolling heatmap ``rows x update steps`` of similarities in [-1, 1]; each :meth:`push`
    patches the tile that receives the new steps (see :class:`ImageTiles`: the browser holds one
    window and colour-maps only the patched tile).

    Args:
        row_names: one name per row (shown as y ticks when there are at most 25 rows).
        window_steps: visible number of update steps.
        max_fps: if set, new steps are held back and sent as one tile at most this often (the
            browser paints one image per tile: fewer, wider tiles paint faster).
        height, title: figure size and title.
        x_range: a Bokeh range to share with other live plots.
        clock: wall clock in seconds, for ``max_fps``.
    """

    def __init__(
        self,
        row_names: Sequence[str],
        *,
        window_steps: int = 300,
        height: int = 300,
        title: str = "Similarity of the network state to every attractor",
        x_range: object = None,
        max_fps: float | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.rows = len(row_names)
        if self.rows < 1 or window_steps < 1:
            raise ValueError(
                f"LiveSimilarity needs >= 1 row and window_steps >= 1, got {self.rows} and "
                f"{window_steps}"
            )
        self.window = float(window_steps)
        self.max_fps = max_fps
        self._clock = clock
        self._held_t: list[np.ndarray] = []
        self._held_v: list[np.ndarray] = []
        self._last_send = -math.inf
        self._next_step: float | None = None
        self.source = ColumnDataSource(ImageTiles.empty())
        self.tiles = ImageTiles(
            self.source,
            rows=self.rows,
            bin_width=1.0,
            window_bins=int(window_steps),
            y=-0.5,
            dh=float(self.rows),
        )
        self.color_mapper = LinearColorMapper(palette=list(Viridis256), low=-0.2, high=1.0)
        self.figure = figure(
            title=title,
            height=height,
            sizing_mode="stretch_width",
            x_range=x_range
            if x_range is not None
            else DataRange1d(follow="end", follow_interval=self.window, range_padding=0),
            y_range=Range1d(-0.5, self.rows - 0.5),
            tools="pan,xwheel_zoom,reset,save",
            x_axis_label="update step",
            output_backend="canvas",
        )
        self.figure.toolbar.logo = None
        self.figure.image(
            image="image",
            x="x",
            y="y",
            dw="dw",
            dh="dh",
            source=self.source,
            color_mapper=self.color_mapper,
        )
        if self.rows <= 25:
            self.figure.yaxis.ticker = list(range(self.rows))
            self.figure.yaxis.major_label_overrides = {i: str(n) for i, n in enumerate(row_names)}
        else:
            self.figure.yaxis.axis_label = "attractor"

    def push(self, steps: ArrayLike, values: ArrayLike) -> None:
        """Append ``values (T, rows)`` at consecutive update steps ``steps (T,)``."""
        t = np.asarray(steps, dtype=np.float64).ravel()
        v = np.asarray(values, dtype=np.float32)
        if v.shape != (t.size, self.rows):
            raise ValueError(f"values must be (T, {self.rows}) with T = {t.size}, got {v.shape}")
        if t.size == 0:
            return
        if self._next_step is not None and t[0] < self._next_step - 0.5:
            self.reset()  # time restarted
        self._next_step = float(t[-1]) + 1.0
        self._held_t.append(t)
        self._held_v.append(v)
        now = self._clock()
        if self.max_fps is not None and now - self._last_send < 1.0 / self.max_fps:
            return
        self._last_send = now
        t, v = np.concatenate(self._held_t), np.concatenate(self._held_v)
        self._held_t, self._held_v = [], []
        self.tiles.append(float(t[0]) - 0.5, v.T)  # one bin per update step, centred on it

    def reset(self) -> None:
        """Clear the heatmap."""
        self._held_t, self._held_v = [], []
        self._last_send = -math.inf
        self._next_step = None
        self.tiles.reset()
