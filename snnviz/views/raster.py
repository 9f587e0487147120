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
