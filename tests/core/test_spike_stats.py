"""Spike-train statistics against hand-computed cases, a Poisson process (CV ~ 1, chi ~ 1/sqrt(N),
Fano ~ 1) and regular processes (CV = 0; chi = 1 when synchronous)."""

from __future__ import annotations

import numpy as np
import pytest

from snnviz.core.analysis import (
    cv_isi,
    fano_factor,
    firing_rates,
    isis,
    mean_cv,
    mean_rate,
    population_rate,
    spike_times,
    synchrony_chi,
)


@pytest.fixture
def small_raster():
    raster = np.zeros((10, 3), bool)
    raster[[1, 4, 9], 0] = True  # steps end at 1.0, 2.5, 5.0 ms: ISIs 1.5, 2.5
    raster[[2, 3], 1] = True  # one ISI of 0.5 ms; neuron 2 silent
    return raster


def test_hand_computed_times_intervals_and_cv(small_raster):
    times = spike_times(small_raster, dt=0.5)
    np.testing.assert_allclose(times[0], [1.0, 2.5, 5.0])
    np.testing.assert_allclose(times[1], [1.5, 2.0])
    assert times[2].size == 0
    intervals = isis(small_raster, dt=0.5)
    np.testing.assert_allclose(intervals[0], [1.5, 2.5])
    np.testing.assert_allclose(intervals[1], [0.5])
    cv = cv_isi(small_raster, dt=0.5)
    assert cv[0] == pytest.approx(0.5 / 2.0)  # std 0.5 (ddof 0), mean 2.0
    assert np.isnan(cv[1]) and np.isnan(cv[2])  # fewer than three spikes
    assert mean_cv(small_raster, 0.5, min_spikes=3) == pytest.approx(0.25)
    assert np.isnan(mean_cv(small_raster, 0.5, min_spikes=4))


def test_hand_computed_rates(small_raster):
    np.testing.assert_allclose(firing_rates(small_raster, 0.5), [600.0, 400.0, 0.0])  # /5 ms
    assert mean_rate(small_raster, 0.5) == pytest.approx(5 / (3 * 5.0) * 1000)
    centres, rate = population_rate(small_raster, 0.5, bin_ms=2.5)
    np.testing.assert_allclose(centres, [1.25, 3.75])
    np.testing.assert_allclose(rate, [4 / (3 * 2.5) * 1000, 1 / (3 * 2.5) * 1000])


def test_counts_above_one_are_repeated_spikes():
    raster = np.array([[2], [0], [1], [0]])
    np.testing.assert_allclose(spike_times(raster, 1.0)[0], [1.0, 1.0, 3.0])
    np.testing.assert_allclose(isis(raster, 1.0)[0], [0.0, 2.0])
    assert cv_isi(raster, 1.0)[0] == pytest.approx(1.0)  # intervals 0 and 2: std 1, mean 1


def test_hand_computed_synchrony_and_fano():
    # bins of one step: counts per (bin, neuron)
    anti = np.array([[1, 0], [0, 1], [1, 0], [0, 1]])
    assert synchrony_chi(anti, 1.0, 1.0) == pytest.approx(0.0)  # population signal is flat
    together = np.array([[1, 1], [0, 0], [1, 1], [0, 0]])
    assert synchrony_chi(together, 1.0, 1.0) == pytest.approx(1.0)
    half = np.array([[1, 1], [0, 1], [1, 0], [0, 0]])
    # A = (1, .5, .5, 0): var 1/8; each neuron var 1/4  ->  chi = sqrt(1/2)
    assert synchrony_chi(half, 1.0, 1.0) == pytest.approx(np.sqrt(0.5))
    counts = np.array([[2, 1], [0, 1], [2, 1], [0, 1]])
    np.testing.assert_allclose(fano_factor(counts, 1.0, 1.0), [1.0, 0.0])  # var/mean = 1/1, 0/1
    assert np.isnan(fano_factor(np.zeros((4, 1)), 1.0, 1.0)[0])
    assert np.isnan(synchrony_chi(np.zeros((4, 2)), 1.0, 1.0))


def test_poisson_process_statistics():
    rng = np.random.default_rng(0)
    n, dt, rate_hz, t_steps = 400, 0.1, 20.0, 50_000  # 5 s
    raster = rng.random((t_steps, n)) < rate_hz * dt / 1000
    assert mean_rate(raster, dt) == pytest.approx(rate_hz, rel=0.03)
    # Bernoulli steps give geometric ISIs: CV = sqrt(1 - p) = 0.999
    assert mean_cv(raster, dt) == pytest.approx(1.0, abs=0.03)
    assert synchrony_chi(raster, dt, bin_ms=5.0) == pytest.approx(1 / np.sqrt(n), rel=0.25)
    assert np.mean(fano_factor(raster, dt, bin_ms=50.0)) == pytest.approx(1.0, abs=0.05)
    _, pop = population_rate(raster, dt, bin_ms=10.0)
    assert pop.mean() == pytest.approx(rate_hz, rel=0.03)


def test_regular_processes():
    n, dt, period = 50, 0.1, 100  # 10 ms period
    t = np.arange(20 * period)
    phases = np.random.default_rng(1).integers(0, period, n)
    asynchronous = (t[:, None] - phases[None, :]) % period == 0
    np.testing.assert_allclose(cv_isi(asynchronous, dt), 0.0, atol=1e-12)
    assert mean_rate(asynchronous, dt) == pytest.approx(100.0)
    np.testing.assert_allclose(fano_factor(asynchronous, dt, bin_ms=10.0), 0.0, atol=1e-12)
    synchronous = np.repeat((t % period == 0)[:, None], n, axis=1)
    assert synchrony_chi(synchronous, dt, bin_ms=2.0) == pytest.approx(1.0)
    assert synchrony_chi(asynchronous, dt, bin_ms=2.0) < 0.4


def test_bad_input_is_rejected_with_a_reason():
    with pytest.raises(ValueError, match=r"\(T, N\)"):
        mean_rate(np.zeros(5), 0.1)
    with pytest.raises(ValueError, match="positive time step"):
        mean_rate(np.zeros((5, 2)), 0.0)
    with pytest.raises(ValueError, match="whole spike counts"):
        mean_rate(np.full((5, 2), 0.5), 0.1)
    with pytest.raises(ValueError, match="non-negative"):
        mean_rate(-np.ones((5, 2)), 0.1)
    with pytest.raises(ValueError, match="at least two bins"):
        synchrony_chi(np.zeros((5, 2)), 0.1, bin_ms=1.0)
    with pytest.raises(ValueError, match="positive bin width"):
        fano_factor(np.zeros((5, 2)), 0.1, bin_ms=-1.0)
