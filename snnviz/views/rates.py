"""Rate and regularity statistics: population rate, ISI histogram, CV histogram.

Example::

    from snnviz.views import population_rate, isi_histogram, cv_histogram
    population_rate(times, n_neurons=N, t_range=(0, 1000), bin_ms=5)   # hv.Histogram, Hz
    isi_histogram(times, ids, bins=50) + cv_histogram(times, ids)
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
from numpy.typing import ArrayLike

from snnviz.core.analysis.events import (
    infer_t_range,
    interspike_intervals,
    isi_cv,
    population_rate_hz,
)

from ._style import COUNT, RATE, TIME, styled

ISI = hv.Dimension("isi", label="inter-spike interval", unit="ms")
CV = hv.Dimension("cv", label="CV of ISI")
NEURON_COUNT = hv.Dimension("neurons", label="neurons")


def population_rate(
    times_ms: ArrayLike,
    *,
    n_neurons: int,
    t_range: tuple[float, float] | None = None,
    bin_ms: float = 5.0,
    as_curve: bool = False,
    title: str = "",
) -> hv.Histogram | hv.Curve:
    """Mean firing rate per neuron (Hz) in bins of ``bin_ms``: ``count / (N * bin_ms / 1000)``.

    Returns an ``hv.Histogram`` over the bin edges, or an ``hv.Curve`` at the bin centres when
    ``as_curve`` is true.
    """
    t0, t1 = infer_t_range(times_ms, t_range)
    centres, rate = population_rate_hz(
        times_ms, n_neurons=n_neurons, t_range=(t0, t1), bin_ms=bin_ms
    )
    if as_curve:
        return styled(hv.Curve((centres, rate), kdims=[TIME], vdims=[RATE]), title=title)
    edges = np.append(centres - 0.5 * bin_ms, centres[-1] + 0.5 * bin_ms)
    return styled(
        hv.Histogram((edges, rate), kdims=[TIME], vdims=[RATE]),
        title=title,
        line_width=0,
        fill_color="#1f77b4",
    )


def isi_histogram(
    times_ms: ArrayLike,
    neuron_ids: ArrayLike,
    *,
    bins: int = 50,
    range_ms: tuple[float, float] | None = None,
    title: str = "",
) -> hv.Histogram:
    """Histogram of all inter-spike intervals (ms), pooled over neurons.

    The counts sum to the number of intervals inside ``range_ms`` (default: all of them).
    """
    isi = interspike_intervals(times_ms, neuron_ids)
    if range_ms is None:
        range_ms = (0.0, float(isi.max()) if isi.size else 1.0)
        if range_ms[1] <= 0:
            range_ms = (0.0, 1.0)
    counts, edges = np.histogram(isi, bins=int(bins), range=range_ms)
    return styled(
        hv.Histogram((edges, counts), kdims=[ISI], vdims=[COUNT]), title=title, line_width=0
    )


def cv_histogram(
    times_ms: ArrayLike,
    neuron_ids: ArrayLike,
    *,
    bins: int = 20,
    min_spikes: int = 3,
    max_cv: float = 2.0,
    title: str = "",
) -> hv.Histogram:
    """Histogram over neurons of the ISI coefficient of variation (0 regular, 1 Poisson).

    Only neurons with at least ``min_spikes`` spikes count; the range is ``[0, max(max_cv,
    largest CV)]``.
    """
    cv = isi_cv(times_ms, neuron_ids, min_spikes=min_spikes)
    top = max(float(max_cv), float(cv.max()) if cv.size else 0.0)
    counts, edges = np.histogram(cv, bins=int(bins), range=(0.0, top))
    return styled(
        hv.Histogram((edges, counts), kdims=[CV], vdims=[NEURON_COUNT]),
        title=title,
        line_width=0,
        fill_color="#ff7f0e",
    )
