"""Spike raster: one mark per spike for small populations, a binned image for large ones.

Up to ``max_scatter_neurons`` neurons (and ``max_scatter_spikes`` spikes) the raster is an
``hv.Scatter`` of (time, neuron). Above, it is a server-side binned ``hv.Image`` of spike counts
(time bins x neuron rows): its size does not grow with the spike count, so a 10,000-neuron raster
stays smooth in the browser and in exported HTML. ``method="datashader"`` instead returns a
datashader ``rasterize`` + ``spread`` DynamicMap that re-aggregates on zoom (needs a live kernel or
server).

Example::

    from snnviz.views import spike_raster, spike_events
    times, ids = spike_events(record["spikes"], t_ms)
    spike_raster(times, ids, n_neurons=10_000, t_range=(0, 1000))   # -> binned hv.Image
"""

from __future__ import annotations

import math
from typing import Literal

import holoviews as hv
import numpy as np
from numpy.typing import ArrayLike

from snnviz.core.analysis.events import bin_spike_counts, infer_n_neurons, infer_t_range

from ._style import NEURON, RASTER_CMAP, TIME, styled

RasterMethod = Literal["auto", "scatter", "binned", "datashader"]
SPIKE_COUNT = hv.Dimension("count", label="spikes per bin")


def spike_raster(
    times_ms: ArrayLike,
    neuron_ids: ArrayLike,
    *,
    n_neurons: int | None = None,
    t_range: tuple[float, float] | None = None,
    method: RasterMethod = "auto",
    max_scatter_neurons: int = 2000,
    max_scatter_spikes: int = 100_000,
    n_time_bins: int = 800,
    max_rows: int = 400,
    title: str = "",
) -> hv.Scatter | hv.Image | hv.DynamicMap:
    """A raster of spike events ``(times_ms[k], neuron_ids[k])``.

    Args:
        times_ms, neuron_ids: the events (see :func:`snnviz.core.analysis.events.spike_events`).
        n_neurons: population size (default ``max(id) + 1``); the y axis spans ``[0, n_neurons)``.
        t_range: ``(start, stop)`` in ms (default: the span of the spikes).
        method: ``"auto"`` picks ``"scatter"`` when ``n_neurons <= max_scatter_neurons`` and the
            spike count is ``<= max_scatter_spikes``, else ``"binned"``.
        n_time_bins, max_rows: resolution of the binned image (rows group neighbouring neurons
            when ``n_neurons > max_rows``).
        title: plot title.

    Returns ``hv.Scatter`` (scatter), ``hv.Image`` whose values are spike counts (binned) or a
    ``hv.DynamicMap`` (datashader).
    """
    times = np.asarray(times_ms, dtype=np.float64).ravel()
    ids = np.asarray(neuron_ids).ravel()
    n = max(1, infer_n_neurons(ids, n_neurons))
    t0, t1 = infer_t_range(times, t_range)
    if method == "auto":
        small = n <= max_scatter_neurons and times.size <= max_scatter_spikes
        method = "scatter" if small else "binned"
    if method == "scatter":
        keep = (times >= t0) & (times <= t1)
        scatter = hv.Scatter((times[keep], ids[keep]), kdims=[TIME], vdims=[NEURON])
        return styled(
            scatter,
            title=title,
            color="black",
            marker="square",
            size=2,
            xlim=(t0, t1),
            ylim=(-0.5, n - 0.5),
        )
    if method == "binned":
        if n_time_bins < 1 or max_rows < 1:
            raise ValueError(
                f"n_time_bins and max_rows must be >= 1, got {n_time_bins} and {max_rows}"
            )
        bin_ms = (t1 - t0) / n_time_bins
        counts, t_edges, row_edges = bin_spike_counts(
            times, ids, n_neurons=n, t_range=(t0, t1), bin_ms=bin_ms, n_rows=min(n, max_rows)
        )
        image = hv.Image(
            (0.5 * (t_edges[:-1] + t_edges[1:]), 0.5 * (row_edges[:-1] + row_edges[1:]), counts),
            kdims=[TIME, NEURON],
            vdims=[SPIKE_COUNT],
        )
        return styled(image, title=title, cmap=RASTER_CMAP, colorbar=True, clim=(0, None))
    if method == "datashader":
        from holoviews.operation.datashader import rasterize, spread

        points = hv.Points((times, ids), kdims=[TIME, NEURON])
        shaded = spread(rasterize(points, aggregator="count", x_range=(t0, t1)), px=1)
        return styled(shaded, title=title, cmap=RASTER_CMAP, colorbar=True)
    raise ValueError(
        f"spike_raster: method must be 'auto', 'scatter', 'binned' or 'datashader', got {method!r}"
    )


class ImageTiles:
    """A rolling image (rows x time bins) held as a fixed ring of tiles in a Bokeh
    ``ColumnDataSource`` of an ``image`` glyph, updated by ``patch``.

    A ``stream`` of one new tile per frame makes BokehJS colour-map *every* tile of the window
    again on each update; a patch re-maps only the tiles it touches. So the window is cut into
    ``slots`` tiles of ``tile_bins`` bins: new bins are written into the current tile (which
    grows, its ``dw`` covering only the filled bins, so the x axis scrolls smoothly) and, once it
    is full, into the next slot, overwriting the oldest tile. Each update sends only the touched
    tiles (usually one); the browser draws ``slots`` images whatever the frame rate.

    Args:
        source: the glyph's source (columns ``image, x, y, dw, dh``; replaced on first use).
        rows: image rows.
        bin_width: width of one bin in data units (ms, update steps).
        window_bins: visible window in bins; the tiles always cover it.
        y, dh: the images' bottom edge and height in data units.
        tiles_per_window: tiles one window is cut into (fewer: fewer images to draw; more:
            smaller patches).
    """

    def __init__(
        self,
        source: object,
        *,
        rows: int,
        bin_width: float,
        window_bins: int,
        y: float,
        dh: float,
        tiles_per_window: int = 8,
    ) -> None:
        if rows < 1 or window_bins < 1 or not bin_width > 0 or tiles_per_window < 1:
            raise ValueError(
                "ImageTiles: need rows >= 1, window_bins >= 1, bin_width > 0 and "
                f"tiles_per_window >= 1, got {rows}, {window_bins}, {bin_width} and "
                f"{tiles_per_window}"
            )
        self.source = source
        self.rows = int(rows)
        self.bin_width = float(bin_width)
        self.tile_bins = max(1, math.ceil(window_bins / tiles_per_window))
        self.slots = math.ceil(window_bins / self.tile_bins) + 1  # the window + the growing tile
        self.y, self.dh = float(y), float(dh)
        self.updates = 0  # updates sent (patches, plus the first fill)
        self.reset()

    @staticmethod
    def empty() -> dict[str, list]:
        """Columns of an empty tile source."""
        return {"image": [], "x": [], "y": [], "dw": [], "dh": []}

    def reset(self) -> None:
        """Forget every tile (the source is emptied)."""
        self._slot = -1
        self._fill = self.tile_bins  # full: the next bin opens a new tile
        self._tile = np.zeros((self.rows, self.tile_bins), np.float32)
        self._tile_x = 0.0
        self._end: float | None = None
        self.source.data = self.empty()  # type: ignore[attr-defined]

    def append(self, x0: float, values: ArrayLike) -> None:
        """Add ``values (rows, k)``: ``k`` consecutive bins whose first starts at ``x0``."""
        v = np.asarray(values, dtype=np.float32)
        if v.ndim != 2 or v.shape[0] != self.rows:
            raise ValueError(f"ImageTiles: values must be ({self.rows}, k), got {v.shape}")
        if v.shape[1] == 0:
            return
        keep = (self.slots - 1) * self.tile_bins  # older bins would be overwritten at once
        if v.shape[1] > keep:
            x0 += (v.shape[1] - keep) * self.bin_width
            v = v[:, -keep:]
        if self._end is None or abs(x0 - self._end) > 1e-6 * self.bin_width:
            self._fill = self.tile_bins  # not contiguous with the current tile: start afresh
        touched: dict[int, tuple[np.ndarray, float, float]] = {}
        done, x = 0, float(x0)
        while done < v.shape[1]:
            if self._fill == self.tile_bins:
                self._slot = (self._slot + 1) % self.slots
                self._tile = np.zeros((self.rows, self.tile_bins), np.float32)
                self._fill, self._tile_x = 0, x
            take = min(self.tile_bins - self._fill, v.shape[1] - done)
            self._tile[:, self._fill : self._fill + take] = v[:, done : done + take]
            self._fill += take
            done += take
            x += take * self.bin_width
            filled = self._tile[:, : self._fill].copy()
            touched[self._slot] = (filled, self._tile_x, self._fill * self.bin_width)
        self._end = x
        self.updates += 1
        data = self.source.data  # type: ignore[attr-defined]
        if len(data["image"]) != self.slots:  # first update: every slot, unused ones empty
            blank = np.zeros((self.rows, 1), np.float32)
            cols: dict[str, list] = {"image": [], "x": [], "y": [], "dw": [], "dh": []}
            for i in range(self.slots):
                image, tx, dw = touched.get(i, (blank, float(x0), 0.0))
                for key, value in zip(cols, (image, tx, self.y, dw, self.dh), strict=True):
                    cols[key].append(value)
            self.source.data = cols  # type: ignore[attr-defined]
            return
        patches = {
            "image": [(i, t[0]) for i, t in touched.items()],
            "x": [(i, t[1]) for i, t in touched.items()],
            "dw": [(i, t[2]) for i, t in touched.items()],
        }
        self.source.patch(patches)  # type: ignore[attr-defined]

    def drawn(self) -> list[tuple[float, float, np.ndarray]]:
        """``(x, dw, image)`` of the tiles with data, oldest first."""
        data = self.source.data  # type: ignore[attr-defined]
        tiles = [
            (float(x), float(dw), np.asarray(img))
            for img, x, dw in zip(data["image"], data["x"], data["dw"], strict=True)
            if dw > 0
        ]
        return sorted(tiles, key=lambda tile: tile[0])
