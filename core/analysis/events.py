"""Spike-train arithmetic on events and dense rasters (NumPy only), used by pages, views and live plots.

Spikes come in two forms: a dense 0/1 array ``spikes[time_step, neuron]`` as the engine records it,
or *events*: two equal-length arrays ``times_ms`` and ``neuron_ids``. :func:`spike_events` turns the
first into the second.

Example::

    times, ids = spike_events(record["spikes"], t_ms)          # dense (T, N) -> events
    counts, t_edges, row_edges = bin_spike_counts(times, ids, n_neurons=N,
                                                  t_range=(0, 1000), bin_ms=5, n_rows=200)
    t_mid, rate_hz = population_rate_hz(times, n_neurons=N, t_range=(0, 1000), bin_ms=5)
    cv = isi_cv(times, ids)                                      # one value per neuron
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike


def spike_events(spikes: ArrayLike, t_ms: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Dense ``spikes[T, N]`` (non-zero = spike) at times ``t_ms[T]`` -> ``(times_ms, neuron_ids)``.

    A 1-D ``spikes[T]`` is one neuron. Events are ordered by time, then neuron.
    """
    s = np.asarray(spikes)
    t = np.asarray(t_ms, dtype=np.float64)
    if s.ndim == 1:
        s = s[:, None]
    if s.ndim != 2 or t.ndim != 1 or s.shape[0] != t.shape[0]:
        raise ValueError(
            f"spike_events: need spikes of shape (T, N) and t_ms of shape (T,), "
            f"got spikes {np.shape(spikes)} and t_ms {np.shape(t_ms)}"
        )
    rows, cols = np.nonzero(s)
    return t[rows], cols.astype(np.int64)


def _events(times_ms: ArrayLike, neuron_ids: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    times = np.asarray(times_ms, dtype=np.float64).ravel()
    ids = np.asarray(neuron_ids).ravel()
    if times.shape != ids.shape:
        raise ValueError(
            f"spike events need equally long times_ms and neuron_ids, got {times.size} times "
            f"and {ids.size} ids"
        )
    if ids.size and (ids.min() < 0 or not np.all(ids == np.floor(ids))):
        raise ValueError("neuron_ids must be non-negative integers")
    return times, ids.astype(np.int64)


def infer_n_neurons(neuron_ids: ArrayLike, n_neurons: int | None) -> int:
    """``n_neurons`` if given (checked against the ids), else ``max(id) + 1`` (0 if no spikes)."""
    ids = np.asarray(neuron_ids)
    top = int(ids.max()) + 1 if ids.size else 0
    if n_neurons is None:
        return top
    if int(n_neurons) < top:
        raise ValueError(f"n_neurons={n_neurons} but a spike has neuron id {top - 1}")
    return int(n_neurons)


def infer_t_range(times_ms: ArrayLike, t_range: tuple[float, float] | None) -> tuple[float, float]:
    """``t_range`` if given, else the span of the spike times (``(0, 1)`` when there are none)."""
    if t_range is not None:
        t0, t1 = float(t_range[0]), float(t_range[1])
        if not t1 > t0:
            raise ValueError(f"t_range must be (start, stop) with stop > start, got {t_range}")
        return t0, t1
    times = np.asarray(times_ms, dtype=np.float64)
    if times.size == 0:
        return 0.0, 1.0
    t0, t1 = float(times.min()), float(times.max())
    return (t0, t1) if t1 > t0 else (t0, t0 + 1.0)


def bin_spike_counts(
    times_ms: ArrayLike,
    neuron_ids: ArrayLike,
    *,
    n_neurons: int,
    t_range: tuple[float, float],
    bin_ms: float,
    n_rows: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count spikes in a (neuron-row x time-bin) grid: the server-side raster image.

    Time bins are ``[t0 + k*bin_ms, t0 + (k+1)*bin_ms)``; the last one ends at or after ``t1`` and,
    as in ``np.histogram``, also includes its right edge.
    ``n_rows`` (default ``n_neurons``) groups neurons: row ``r`` holds the neurons with
    ``r*N/n_rows <= id < (r+1)*N/n_rows`` (evenly spaced, possibly fractional, row edges).
    Spikes outside ``t_range`` are dropped. Returns ``counts[n_rows, n_bins]`` (float64), the
    time edges (ms) and the row edges (in neuron-id units).
    """
    times, ids = _events(times_ms, neuron_ids)
    t0, t1 = float(t_range[0]), float(t_range[1])
    if not (bin_ms > 0 and math.isfinite(bin_ms)):
        raise ValueError(f"bin_ms must be a positive number of ms, got {bin_ms}")
    if not t1 > t0:
        raise ValueError(f"t_range must be (start, stop) with stop > start, got {t_range}")
    n_neurons = int(n_neurons)
    if n_neurons < 1:
        raise ValueError(f"n_neurons must be >= 1, got {n_neurons}")
    rows = n_neurons if n_rows is None else int(n_rows)
    if not 1 <= rows <= n_neurons:
        raise ValueError(f"n_rows must be in [1, n_neurons={n_neurons}], got {n_rows}")
    n_bins = max(1, math.ceil((t1 - t0) / bin_ms - 1e-9))
    t_edges = t0 + bin_ms * np.arange(n_bins + 1)
    keep = (times >= t0) & (times <= t_edges[-1]) & (ids < n_neurons)
    # the 1e-9 (in bins) puts a time meant to sit on an edge, k * dt, into the later bin
    t_idx = np.floor((times[keep] - t0) / bin_ms + 1e-9).astype(np.int64)
    np.clip(t_idx, 0, n_bins - 1, out=t_idx)
    r_idx = (ids[keep] * rows) // n_neurons
    flat = np.bincount(r_idx * n_bins + t_idx, minlength=rows * n_bins)
    row_edges = np.arange(rows + 1) * (n_neurons / rows)
    return flat.reshape(rows, n_bins).astype(np.float64), t_edges, row_edges


def population_rate_hz(
    times_ms: ArrayLike,
    *,
    n_neurons: int,
    t_range: tuple[float, float],
    bin_ms: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean firing rate per neuron in each time bin: ``count / (n_neurons * bin_ms / 1000)`` Hz.

    Returns ``(bin_centres_ms, rate_hz)``.
    """
    times = np.asarray(times_ms, dtype=np.float64).ravel()
    counts, edges, _ = bin_spike_counts(
        times, np.zeros(times.size, np.int64), n_neurons=1, t_range=t_range, bin_ms=bin_ms
    )
    if int(n_neurons) < 1:
        raise ValueError(f"n_neurons must be >= 1, got {n_neurons}")
    rate = counts[0] / (int(n_neurons) * bin_ms * 1e-3)
    return 0.5 * (edges[:-1] + edges[1:]), rate


def _sorted_isis(times: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All ISIs and their neuron ids, vectorised: sort by (neuron, time), diff, keep pairs
    of consecutive spikes of the same neuron."""
    order = np.lexsort((times, ids))
    times, ids = times[order], ids[order]
    same = ids[1:] == ids[:-1]
    return np.diff(times)[same], ids[1:][same]


def interspike_intervals(times_ms: ArrayLike, neuron_ids: ArrayLike) -> np.ndarray:
    """All inter-spike intervals (ms), pooled over neurons (a neuron with k spikes gives k-1)."""
    times, ids = _events(times_ms, neuron_ids)
    return _sorted_isis(times, ids)[0]


def isi_cv(times_ms: ArrayLike, neuron_ids: ArrayLike, *, min_spikes: int = 3) -> np.ndarray:
    """Coefficient of variation ``std(ISI) / mean(ISI)`` of each neuron with ``>= min_spikes`` spikes.

    0 for a perfectly regular train, 1 for a Poisson process. Neurons with fewer spikes are left
    out (so the result can be shorter than the population). Ordered by neuron id; vectorised
    (sums and sums of squares per neuron with ``np.bincount``), so 10,000 neurons cost ~ms.
    """
    if min_spikes < 3:
        raise ValueError(f"min_spikes must be >= 3 (two intervals), got {min_spikes}")
    times, ids = _events(times_ms, neuron_ids)
    isi, owner = _sorted_isis(times, ids)
    if isi.size == 0:
        return np.zeros(0)
    n = int(owner.max()) + 1
    count = np.bincount(owner, minlength=n)
    total = np.bincount(owner, weights=isi, minlength=n)
    total_sq = np.bincount(owner, weights=isi * isi, minlength=n)
    keep = (count >= min_spikes - 1) & (total > 0)
    mean = total[keep] / count[keep]
    var = np.maximum(total_sq[keep] / count[keep] - mean**2, 0.0)
    return np.sqrt(var) / mean


def synchrony_chi(
    times_ms: ArrayLike,
    neuron_ids: ArrayLike,
    *,
    n_neurons: int,
    t_range: tuple[float, float],
    bin_ms: float = 2.0,
) -> float:
    r"""Golomb's synchrony measure from binned spike counts :math:`c_i(t)`:

    .. math::

        \chi^2 = \frac{\mathrm{Var}_t\big[\tfrac{1}{N}\sum_i c_i(t)\big]}
                      {\tfrac{1}{N}\sum_i \mathrm{Var}_t[c_i(t)]}

    ``chi`` is 1 for identical trains and about :math:`1/\sqrt{N}` for independent ones
    (Golomb & Hansel 2000). Computed from the events without forming the (N x bins) matrix,
    so it stays cheap for 10,000 neurons. NaN when no neuron fired.
    """
    times, ids = _events(times_ms, neuron_ids)
    t0, t1 = infer_t_range(times, t_range)
    n = int(n_neurons)
    n_bins = max(1, math.ceil((t1 - t0) / bin_ms - 1e-9))
    keep = (times >= t0) & (times < t0 + n_bins * bin_ms) & (ids < n)
    t_idx = np.floor((times[keep] - t0) / bin_ms + 1e-9).astype(np.int64)
    cells, counts = np.unique(ids[keep] * n_bins + t_idx, return_counts=True)
    owner = cells // n_bins
    mean_i = np.bincount(owner, weights=counts, minlength=n) / n_bins
    mean_sq_i = np.bincount(owner, weights=counts.astype(np.float64) ** 2, minlength=n) / n_bins
    single = float(np.mean(mean_sq_i - mean_i**2))
    pop = np.bincount(t_idx, minlength=n_bins)[:n_bins] / n
    if not single > 0:
        return float("nan")
    return float(np.sqrt(max(0.0, float(pop.var())) / single))


def network_statistics(
    times_ms: ArrayLike,
    neuron_ids: ArrayLike,
    *,
    n_neurons: int,
    t_range: tuple[float, float],
    bin_ms: float = 2.0,
    min_spikes: int = 3,
) -> dict[str, float]:
    """Summary of a population's activity in ``t_range``: ``rate_hz`` (mean per neuron),
    ``cv`` (mean CV of ISIs over neurons with ``>= min_spikes`` spikes, NaN if none),
    ``chi`` (:func:`synchrony_chi`) and ``active_fraction`` (neurons that fired at all)."""
    times, ids = _events(times_ms, neuron_ids)
    t0, t1 = infer_t_range(times, t_range)
    keep = (times >= t0) & (times <= t1)
    times, ids = times[keep], ids[keep]
    cvs = isi_cv(times, ids, min_spikes=min_spikes)
    n = int(n_neurons)
    return {
        "rate_hz": float(times.size / (n * (t1 - t0) / 1000.0)),
        "cv": float(cvs.mean()) if cvs.size else float("nan"),
        "chi": synchrony_chi(times, ids, n_neurons=n, t_range=(t0, t1), bin_ms=bin_ms),
        "active_fraction": float(np.unique(ids).size / n),
    }
