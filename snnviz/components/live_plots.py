"""Live plots that stream with raw Bokeh (``ColumnDataSource.stream(rollover=...)``).

HoloViews ``Buffer`` costs about 10x more per update on the server (see STACK.md), so the plots a
:class:`~snnviz.components.LiveLoop` updates every frame are plain Bokeh figures with a bounded
buffer. Each ``push`` is one ``stream`` call. All take chunks as they come from the engine: arrays
with time along axis 0, or lists of such arrays (one per chunk), which are concatenated.

* :class:`LiveTraces` - N named lines (membrane potentials, currents) over a rolling time window,
  decimated to at most ``max_points`` rows.
* :class:`LiveRaster` - spikes binned server-side into a (neuron-row x time-bin) image held as a
  fixed ring of tiles (:class:`snnviz.views.raster.ImageTiles`); each push patches the tile that
  receives the bins completed since the last push, so the browser colour-maps one small tile per
  update, holds one window of bins whatever the spike count, and draws the same few images at any
  frame rate: 10,000 neurons cost what 200 do.
* :class:`LiveRate` - the population rate (Hz per neuron) in bins of ``bin_ms``.

Each is a Panel viewable (``pn.Column(traces, raster)`` works) and exposes ``.figure`` and
``.source``. The canvas backend is the default; ``backend="webgl"`` helps on desktops with a GPU
(headless Chromium renders WebGL in software, much slower).

Example::

    traces = LiveTraces(["neuron 0", "neuron 1"], window_ms=500)
    raster = LiveRaster(n_neurons=10_000, window_ms=500, x_range=traces.figure.x_range)
    def push(chunks):          # chunks: list of {"t": (T,), "v": (T, N), "spikes": (T, N)}
        t = [c["t"] for c in chunks]
        traces.push(t, [c["v"][:, :2] for c in chunks])
        raster.push(t, [c["spikes"] for c in chunks])
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import panel as pn
from bokeh.models import (
    ColumnDataSource,
    CustomJS,
    DataRange1d,
    Legend,
    LegendItem,
    LinearColorMapper,
    Range1d,
)
from bokeh.palettes import Category10_10, Greys256
from bokeh.plotting import figure
from numpy.typing import ArrayLike

from snnviz.core.analysis.events import spike_events
from snnviz.views.raster import ImageTiles

Backend = Literal["canvas", "webgl"]
ChunkArrays = ArrayLike | Sequence[ArrayLike]


def _concat(chunks: ChunkArrays, what: str) -> np.ndarray:
    """One array from an array or a list of per-chunk arrays (joined along axis 0)."""
    if isinstance(chunks, list | tuple):
        if not chunks:
            return np.zeros(0)
        return np.concatenate([np.asarray(c) for c in chunks], axis=0)
    arr = np.asarray(chunks)
    if arr.ndim == 0:
        raise ValueError(f"{what} must have a time axis, got a scalar")
    return arr


def _check_backend(backend: str) -> Backend:
    if backend not in ("canvas", "webgl"):
        raise ValueError(f"backend must be 'canvas' or 'webgl', got {backend!r}")
    return backend  # type: ignore[return-value]


_FOLLOW_VISIBLE = """
const target = cb_obj.document == null ? null : cb_obj.document.get_model_by_id("%s");
if (target != null) target.visible = cb_obj.visible;
"""


def _following_range(window_ms: float) -> DataRange1d:
    return DataRange1d(follow="end", follow_interval=float(window_ms), range_padding=0)


def _base_figure(
    *, title: str, ylabel: str, height: int, backend: Backend, x_range: Any, y_range: Any
) -> Any:
    fig = figure(
        title=title,
        height=height,
        sizing_mode="stretch_width",
        x_range=x_range,
        y_range=y_range,
        output_backend=backend,
        tools="pan,xwheel_zoom,box_zoom,reset,save",
        x_axis_label="time (ms)",
        y_axis_label=ylabel,
    )
    fig.toolbar.logo = None
    return fig


class _Viewable:
    figure: Any
    _pane: pn.pane.Bokeh | None = None

    def __panel__(self) -> pn.pane.Bokeh:
        """The figure in a Panel pane (one pane per plot: a Bokeh figure lives in one document)."""
        if self._pane is None:
            self._pane = pn.pane.Bokeh(self.figure, sizing_mode="stretch_width")
        return self._pane

    def _sent(self) -> None:
        # In a notebook, direct model changes reach the browser only when pushed explicitly.
        if self._pane is not None and self._pane._models:
            pn.io.push_notebook(self._pane)


class LiveTraces(_Viewable):
    """N named lines against time in a rolling window (a bounded live buffer).

    Args:
        names: legend name of each line; ``push`` takes values with this many columns.
        window_ms: the visible time span (the x axis follows the newest sample).
        max_points: rows kept; samples are decimated (every k-th kept) so that one window fits.
        ylabel, title, height: figure labels and height (px).
        y_range: fixed ``(low, high)``, or None to follow the data.
        colors: one colour per line (default Category10).
        backend: ``"canvas"`` (default) or ``"webgl"``.
        x_range: a Bokeh range to share (e.g. another live plot's ``figure.x_range``).
    """

    def __init__(
        self,
        names: Sequence[str],
        *,
        window_ms: float = 1000.0,
        max_points: int = 2000,
        ylabel: str = "membrane potential (mV)",
        title: str = "",
        height: int = 280,
        y_range: tuple[float, float] | None = None,
        colors: Sequence[str] | None = None,
        backend: Backend = "canvas",
        x_range: Any = None,
    ) -> None:
        self.names = [str(n) for n in names]
        if not self.names:
            raise ValueError("LiveTraces: give at least one line name")
        if not window_ms > 0 or int(max_points) < 2:
            raise ValueError(
                f"LiveTraces: need window_ms > 0 and max_points >= 2, got {window_ms} and "
                f"{max_points}"
            )
        self.window_ms = float(window_ms)
        self.max_points = int(max_points)
        self._keys = [f"y{i}" for i in range(len(self.names))]
        self.source = ColumnDataSource(self._empty())
        self.figure = _base_figure(
            title=title,
            ylabel=ylabel,
            height=height,
            backend=_check_backend(backend),
            x_range=x_range if x_range is not None else _following_range(window_ms),
            y_range=Range1d(*y_range) if y_range is not None else DataRange1d(),
        )
        palette = list(colors) if colors is not None else list(Category10_10)
        items = []
        for i, (key, name) in enumerate(zip(self._keys, self.names, strict=True)):
            color = palette[i % len(palette)]
            line = self.figure.line("t", key, source=self.source, color=color)
            # The legend shows a stand-in that never changes: BokehJS rebuilds a legend's DOM
            # (a canvas per entry) whenever anything its renderers reference changes, i.e. on
            # every stream. Hiding the stand-in (click) hides the line; the callback finds the
            # line by id, as a reference (js_link) would tie the legend to the line again.
            proxy = self.figure.line([math.nan], [math.nan], color=color)  # a legend swatch only
            proxy.js_on_change("visible", CustomJS(code=_FOLLOW_VISIBLE % line.id))
            items.append(LegendItem(label=name, renderers=[proxy]))
        self.figure.add_layout(
            Legend(
                items=items,
                location="top_left",
                click_policy="hide",
                visible=len(self.names) <= 10,
            )
        )
        self._stride: int | None = None
        self._seen = 0
        self._last_t = -math.inf

    def _empty(self) -> dict[str, list[float]]:
        return {"t": [], **{k: [] for k in self._keys}}

    @property
    def stride(self) -> int | None:
        """Keep every ``stride``-th sample (set from the sample spacing at the first push)."""
        return self._stride

    def push(self, t_ms: ChunkArrays, values: ChunkArrays) -> None:
        """Append samples ``values[T, N]`` at times ``t_ms[T]`` (arrays or lists of chunks)."""
        t = _concat(t_ms, "t_ms").astype(np.float64).ravel()
        v = _concat(values, "values")
        if v.ndim == 1:
            v = v[:, None]
        if v.shape != (t.size, len(self._keys)):
            raise ValueError(
                f"LiveTraces.push: values must have shape (T, {len(self._keys)}) matching "
                f"t_ms of length T={t.size}, got {v.shape}"
            )
        if t.size == 0:
            return
        if t[0] < self._last_t:
            self.reset()  # simulated time restarted without a reset() call
        self._last_t = float(t[-1])
        if self._stride is None:
            dt = float(np.median(np.diff(t))) if t.size > 1 else 0.0
            self._stride = max(1, math.ceil(self.window_ms / dt / self.max_points)) if dt > 0 else 1
        keep = (self._seen + np.arange(t.size)) % self._stride == 0
        self._seen += t.size
        if not keep.any():
            return
        data = {"t": t[keep], **{k: v[keep, i] for i, k in enumerate(self._keys)}}
        self.source.stream(data, rollover=self.max_points)
        self._sent()

    def reset(self) -> None:
        """Clear the lines (keeps the decimation stride)."""
        self._seen = 0
        self._last_t = -math.inf
        self.source.data = self._empty()
        self._sent()


class _BinStream:
    """Counts events into fixed time bins and releases each bin once time has moved past it."""

    def __init__(self, bin_ms: float, rows: int) -> None:
        self.bin_ms = float(bin_ms)
        self.rows = int(rows)
        self.reset()

    def reset(self) -> None:
        self.next_bin: int | None = None  # absolute index of the first bin not yet released
        self.pending = np.zeros((self.rows, 0))

    def _bin(self, t_ms: np.ndarray | float) -> np.ndarray:
        return np.floor(np.asarray(t_ms, dtype=np.float64) / self.bin_ms + 1e-9).astype(np.int64)

    def went_back(self, t_first: float) -> bool:
        """True if ``t_first`` lies before the bins already released (the model restarted)."""
        return self.next_bin is not None and int(self._bin(t_first)) < self.next_bin - 1

    def add(
        self, times_ms: np.ndarray, rows: np.ndarray, t_first: float, t_last: float
    ) -> tuple[int, np.ndarray] | None:
        """Add events seen in ``[t_first, t_last]``; return ``(first_bin, counts[rows, k])``
        for the bins that ended before the bin of ``t_last`` (None if none did)."""
        if self.next_bin is None:
            self.next_bin = int(self._bin(t_first))
        end_bin = int(self._bin(t_last))
        width = max(self.pending.shape[1], end_bin + 1 - self.next_bin)
        if width > self.pending.shape[1]:
            grown = np.zeros((self.rows, width))
            grown[:, : self.pending.shape[1]] = self.pending
            self.pending = grown
        b = self._bin(times_ms) - self.next_bin
        ok = (b >= 0) & (b < width)  # events older than released bins are dropped
        if ok.any():
            flat = np.bincount(rows[ok] * width + b[ok], minlength=self.rows * width)
            self.pending += flat.reshape(self.rows, width)
        done = end_bin - self.next_bin
        if done <= 0:
            return None
        first = self.next_bin
        out, self.pending = self.pending[:, :done], self.pending[:, done:]
        self.next_bin = end_bin
        return first, out


def _spike_events(t: np.ndarray, spikes: np.ndarray, n_neurons: int) -> tuple[Any, Any]:
    """:func:`~snnviz.core.analysis.events.spike_events`, checking the population size."""
    width = 1 if spikes.ndim == 1 else spikes.shape[1]
    if width != n_neurons:
        raise ValueError(f"spikes must have shape (T, {n_neurons}), got {spikes.shape}")
    return spike_events(spikes, t)


class LiveRaster(_Viewable):
    """A rolling spike raster binned on the server: constant browser cost for any spike count.

    Args:
        n_neurons: population size; ``push`` takes spikes with this many columns.
        window_ms: visible time span.
        bin_ms: time-bin width (default ``window_ms / 200``).
        max_rows: image rows; with more neurons, neighbouring neurons share a row
            (row r holds neurons ``r*N/rows <= id < (r+1)*N/rows``) and the colour is their count.
        max_fps: if set, completed bins are held back and sent at most this often (a raster at
            10 frames/s next to 30 frames/s traces halves the cost).
        title, height, backend, x_range, palette: as for :class:`LiveTraces` (``palette`` runs
            from no spikes to many; default white to black).
        clock: wall clock in seconds, for ``max_fps``.
    """

    def __init__(
        self,
        n_neurons: int,
        *,
        window_ms: float = 1000.0,
        bin_ms: float | None = None,
        max_rows: int = 200,
        max_fps: float | None = None,
        title: str = "",
        height: int = 300,
        backend: Backend = "canvas",
        x_range: Any = None,
        palette: Sequence[str] | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.n_neurons = int(n_neurons)
        if self.n_neurons < 1 or not window_ms > 0:
            raise ValueError(
                f"LiveRaster: need n_neurons >= 1 and window_ms > 0, got {n_neurons} and "
                f"{window_ms}"
            )
        self.window_ms = float(window_ms)
        self.bin_ms = float(bin_ms) if bin_ms is not None else self.window_ms / 200.0
        if not self.bin_ms > 0:
            raise ValueError(f"LiveRaster: bin_ms must be > 0, got {bin_ms}")
        self.rows = min(self.n_neurons, int(max_rows))
        if self.rows < 1:
            raise ValueError(f"LiveRaster: max_rows must be >= 1, got {max_rows}")
        self.max_fps = max_fps
        self._clock = clock
        self._bins = _BinStream(self.bin_ms, self.rows)
        self._held: list[tuple[int, np.ndarray]] = []
        self._last_send = -math.inf
        self.source = ColumnDataSource(ImageTiles.empty())
        self.tiles = ImageTiles(
            self.source,
            rows=self.rows,
            bin_width=self.bin_ms,
            window_bins=math.ceil(self.window_ms / self.bin_ms - 1e-9),
            y=0.0,
            dh=float(self.n_neurons),
        )
        self.color_mapper = LinearColorMapper(
            palette=list(palette) if palette is not None else list(Greys256[::-1]), low=0, high=1
        )
        self.figure = _base_figure(
            title=title,
            ylabel="neuron",
            height=height,
            backend=_check_backend(backend),
            x_range=x_range if x_range is not None else _following_range(window_ms),
            y_range=Range1d(0, self.n_neurons),
        )
        self.figure.image(
            image="image",
            x="x",
            y="y",
            dw="dw",
            dh="dh",
            source=self.source,
            color_mapper=self.color_mapper,
        )

    @property
    def sends(self) -> int:
        """Updates sent to the plot so far (each patches the one or few tiles it fills)."""
        return self.tiles.updates

    def push(self, t_ms: ChunkArrays, spikes: ChunkArrays) -> None:
        """Add dense spikes ``spikes[T, n_neurons]`` (non-zero = spike) at times ``t_ms[T]``."""
        t = _concat(t_ms, "t_ms").astype(np.float64).ravel()
        times, ids = _spike_events(t, _concat(spikes, "spikes"), self.n_neurons)
        if t.size:
            self.push_events(times, ids, t_first=float(t[0]), t_last=float(t[-1]))

    def push_events(
        self, times_ms: ArrayLike, neuron_ids: ArrayLike, *, t_first: float, t_last: float
    ) -> None:
        """Add spike events observed over ``[t_first, t_last]`` ms (for event-based models)."""
        times = np.asarray(times_ms, dtype=np.float64).ravel()
        ids = np.asarray(neuron_ids, dtype=np.int64).ravel()
        if ids.size and (ids.min() < 0 or ids.max() >= self.n_neurons):
            raise ValueError(
                f"LiveRaster: neuron ids must be in [0, {self.n_neurons}), got "
                f"[{ids.min()}, {ids.max()}]"
            )
        if self._bins.went_back(t_first):
            self.reset()  # simulated time restarted without a reset() call
        done = self._bins.add(times, (ids * self.rows) // self.n_neurons, t_first, t_last)
        if done is not None:
            self._held.append(done)
        now = self._clock()
        if not self._held or (
            self.max_fps is not None and now - self._last_send < 1.0 / self.max_fps
        ):
            return
        self._last_send = now
        first = self._held[0][0]
        tile = np.concatenate([counts for _, counts in self._held], axis=1).astype(np.float32)
        self._held = []
        peak = float(tile.max()) if tile.size else 0.0
        if peak > self.color_mapper.high:
            self.color_mapper.high = peak
        self.tiles.append(first * self.bin_ms, tile)
        self._sent()

    def reset(self) -> None:
        """Clear the raster."""
        self._bins.reset()
        self._held = []
        self._last_send = -math.inf
        self.color_mapper.high = 1
        self.tiles.reset()
        self._sent()


class LiveRate(_Viewable):
    """Population firing rate (Hz per neuron) in bins of ``bin_ms`` over a rolling window.

    Args:
        n_neurons: population size; ``push`` takes spikes with this many columns.
        bin_ms: bin width; each completed bin becomes one point.
        window_ms, title, height, backend, x_range, color: as for :class:`LiveTraces`.
    """

    def __init__(
        self,
        n_neurons: int,
        *,
        bin_ms: float = 5.0,
        window_ms: float = 1000.0,
        title: str = "",
        height: int = 200,
        backend: Backend = "canvas",
        x_range: Any = None,
        color: str = "#1f77b4",
    ) -> None:
        self.n_neurons = int(n_neurons)
        if self.n_neurons < 1 or not bin_ms > 0 or not window_ms > 0:
            raise ValueError(
                "LiveRate: need n_neurons >= 1, bin_ms > 0 and window_ms > 0, got "
                f"{n_neurons}, {bin_ms} and {window_ms}"
            )
        self.bin_ms = float(bin_ms)
        self.window_ms = float(window_ms)
        self._bins = _BinStream(self.bin_ms, 1)
        self.source = ColumnDataSource({"t": [], "rate": []})
        self.figure = _base_figure(
            title=title,
            ylabel="rate (Hz)",
            height=height,
            backend=_check_backend(backend),
            x_range=x_range if x_range is not None else _following_range(window_ms),
            y_range=DataRange1d(start=0),
        )
        self.figure.line("t", "rate", source=self.source, color=color, line_width=2)

    @property
    def rollover(self) -> int:
        """Points kept: one window of bins."""
        return math.ceil(self.window_ms / self.bin_ms) + 1

    def push(self, t_ms: ChunkArrays, spikes: ChunkArrays) -> None:
        """Add dense spikes ``spikes[T, n_neurons]`` at times ``t_ms[T]``."""
        t = _concat(t_ms, "t_ms").astype(np.float64).ravel()
        times, _ = _spike_events(t, _concat(spikes, "spikes"), self.n_neurons)
        if t.size:
            self.push_events(times, t_first=float(t[0]), t_last=float(t[-1]))

    def push_events(self, times_ms: ArrayLike, *, t_first: float, t_last: float) -> None:
        """Add spike times observed over ``[t_first, t_last]`` ms."""
        times = np.asarray(times_ms, dtype=np.float64).ravel()
        if self._bins.went_back(t_first):
            self.reset()  # simulated time restarted without a reset() call
        done = self._bins.add(times, np.zeros(times.size, np.int64), t_first, t_last)
        if done is None:
            return
        first, counts = done
        centres = (first + np.arange(counts.shape[1]) + 0.5) * self.bin_ms
        rate = counts[0] / (self.n_neurons * self.bin_ms * 1e-3)
        self.source.stream({"t": centres, "rate": rate}, rollover=self.rollover)
        self._sent()

    def reset(self) -> None:
        """Clear the curve."""
        self._bins.reset()
        self.source.data = {"t": [], "rate": []}
        self._sent()
