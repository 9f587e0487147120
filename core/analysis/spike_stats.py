r"""Spike-train statistics of a raster, vectorised over neurons (numpy).

Every function takes a raster ``(T, N)`` of 0/1 (bool or integer: a count > 1 in a bin counts
as that many spikes at the bin's time) sampled every ``dt`` ms; spike ``k`` of neuron ``i`` in
row ``t`` (0-based) happened during that step and is stamped at its end, ``(t + 1) * dt``, as
in the simulator's records and the firing-pattern analysis. Rates are in Hz, times in ms.

* :func:`spike_times`, :func:`isis` - per-neuron lists;
* :func:`cv_isi` - coefficient of variation of the inter-spike intervals,
  :math:`CV_i = \mathrm{std}(ISI_i) / \mathrm{mean}(ISI_i)` (population std, ``ddof = 0``);
  :func:`mean_cv` averages it over neurons with at least ``min_spikes`` spikes;
* :func:`firing_rates`, :func:`mean_rate`, :func:`population_rate` - rates;
* :func:`synchrony_chi` - Golomb's synchrony measure
  :math:`\chi^2 = \sigma_A^2 / \langle \sigma_i^2 \rangle_i` on spike counts in bins, where
  :math:`A(t) = \frac1N \sum_i n_i(t)` is the population average; :math:`\chi = 1` for identical
  trains and :math:`\chi \approx 1/\sqrt{N}` for independent ones (Golomb 2007, Scholarpedia
  2(1):1347);
* :func:`fano_factor` - variance over mean of the spike count in bins, per neuron.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from . import events


def _raster(raster: ArrayLike, name: str = "raster") -> np.ndarray:
    r = np.asarray(raster)
    if r.ndim != 2:
        raise ValueError(f"{name} must be a (T, N) array of spikes, got shape {r.shape}")
    if r.dtype == bool:
        return r.astype(np.int64)
    if np.issubdtype(r.dtype, np.floating) and np.any(r != np.round(r)):
        raise ValueError(f"{name} must hold whole spike counts (0/1), got non-integer values")
    if np.any(r < 0):
        raise ValueError(f"{name} must be non-negative spike counts, got a minimum of {r.min()}")
    return r.astype(np.int64)


def _check_dt(dt: float) -> float:
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"`dt` must be a positive time step in ms, got {dt}")
    return float(dt)


def _bin_layout(raster: np.ndarray, dt: float, bin_ms: float) -> tuple[int, int]:
    """``(steps per bin, number of whole bins)`` for bins of ``round(bin_ms / dt)`` steps."""
    if not (np.isfinite(bin_ms) and bin_ms > 0):
        raise ValueError(f"`bin_ms` must be a positive bin width in ms, got {bin_ms}")
    width = max(1, round(bin_ms / dt))
    n_bins = raster.shape[0] // width
    if n_bins < 2:
        raise ValueError(
            f"need at least two bins of {width * dt:g} ms, the raster covers only "
            f"{raster.shape[0] * dt:g} ms; use a longer raster or smaller `bin_ms`"
        )
    return width, n_bins


def _bins(raster: np.ndarray, dt: float, bin_ms: float) -> np.ndarray:
    """Spike counts in consecutive bins of ``round(bin_ms / dt)`` steps (the tail is dropped)."""
    width, n_bins = _bin_layout(raster, dt, bin_ms)
    return raster[: n_bins * width].reshape(n_bins, width, -1).sum(axis=1)


def _flat_events(raster: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(neuron, step) of every spike, sorted by neuron then time, repeated for counts > 1."""
    steps, neurons = np.nonzero(raster)
    counts = raster[steps, neurons]
    order = np.lexsort((steps, neurons))
    neurons, steps, counts = neurons[order], steps[order], counts[order]
    return np.repeat(neurons, counts), np.repeat(steps, counts)


def spike_times(raster: ArrayLike, dt: float) -> list[np.ndarray]:
    """Spike times (ms) of each neuron, ascending."""
    r, dt = _raster(raster), _check_dt(dt)
    neurons, steps = _flat_events(r)
    splits = np.cumsum(np.bincount(neurons, minlength=r.shape[1]))[:-1]
    return np.split((steps + 1) * dt, splits)


def isis(raster: ArrayLike, dt: float) -> list[np.ndarray]:
    """Inter-spike intervals (ms) of each neuron (empty for fewer than two spikes)."""
    return [np.diff(t) for t in spike_times(raster, dt)]


def cv_isi(raster: ArrayLike, dt: float) -> np.ndarray:
    """CV of the ISIs per neuron, ``(N,)``; NaN for neurons with fewer than 3 spikes."""
    r, dt = _raster(raster), _check_dt(dt)
    n = r.shape[1]
    neurons, steps = _flat_events(r)
    same = neurons[1:] == neurons[:-1]
    intervals = (steps[1:] - steps[:-1])[same] * dt
    owner = neurons[1:][same]
    k = np.bincount(owner, minlength=n).astype(float)
    s1 = np.bincount(owner, weights=intervals, minlength=n)
    s2 = np.bincount(owner, weights=intervals**2, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / k
        var = np.maximum(s2 / k - mean**2, 0.0)
        cv = np.sqrt(var) / mean
    cv[k < 2] = np.nan
    return cv


def mean_cv(raster: ArrayLike, dt: float, *, min_spikes: int = 5) -> float:
    """Mean of :func:`cv_isi` over neurons with at least ``min_spikes`` spikes (NaN if none)."""
    r = _raster(raster)
    cv = cv_isi(r, dt)
    keep = (r.sum(axis=0) >= max(int(min_spikes), 3)) & np.isfinite(cv)
    return float(np.mean(cv[keep])) if keep.any() else float("nan")


def firing_rates(raster: ArrayLike, dt: float) -> np.ndarray:
    """Rate of each neuron over the whole raster (Hz), ``(N,)``."""
    r, dt = _raster(raster), _check_dt(dt)
    return r.sum(axis=0) / (r.shape[0] * dt) * 1000.0


def mean_rate(raster: ArrayLike, dt: float) -> float:
    """Mean firing rate over neurons and time (Hz)."""
    return float(np.mean(firing_rates(raster, dt)))


def population_rate(raster: ArrayLike, dt: float, bin_ms: float) -> tuple[np.ndarray, np.ndarray]:
    """``(bin centres in ms, rate per neuron in Hz)`` of the population in bins of ``bin_ms``."""
    r, dt = _raster(raster), _check_dt(dt)
    counts = _bins(r, dt, bin_ms).sum(axis=1)
    width = max(1, round(bin_ms / dt)) * dt
    centres = (np.arange(counts.size) + 0.5) * width
    return centres, counts / (r.shape[1] * width) * 1000.0


def synchrony_chi(raster: ArrayLike, dt: float, bin_ms: float) -> float:
    r"""Golomb's :math:`\chi` of spike counts in bins of ``bin_ms`` (0 = asynchronous, 1 = fully
    synchronous); NaN when no neuron's count varies. The event-based
    :func:`~snnviz.core.analysis.events.synchrony_chi` computes it, on bins of whole steps."""
    r, dt = _raster(raster), _check_dt(dt)
    steps_per_bin, n_bins = _bin_layout(r, dt, bin_ms)
    neurons, steps = _flat_events(r)
    width = steps_per_bin * dt
    return events.synchrony_chi(
        steps * dt, neurons, n_neurons=r.shape[1], t_range=(0.0, n_bins * width), bin_ms=width
    )


def fano_factor(raster: ArrayLike, dt: float, bin_ms: float) -> np.ndarray:
    """Fano factor ``var / mean`` of each neuron's spike count in bins of ``bin_ms``, ``(N,)``;
    NaN for silent neurons."""
    r, dt = _raster(raster), _check_dt(dt)
    counts = _bins(r, dt, bin_ms).astype(float)
    mean = counts.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mean > 0, counts.var(axis=0) / mean, np.nan)
