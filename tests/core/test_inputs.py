r"""Input generators against theory.

Free-membrane LIF under Poisson input (Campbell's theorem). Each input spike makes
:math:`I_\mathrm{syn}` jump by ``J`` (pA) and decay with :math:`\tau_s`, which moves ``V`` by the
PSP kernel :math:`h(t) = \frac{J \tau_m \tau_s}{C(\tau_s - \tau_m)}(e^{-t/\tau_s} - e^{-t/\tau_m})`
(solve :math:`\tau_m \dot V = -V + R I_\mathrm{syn}`, :math:`R = \tau_m/C`). For shot noise of
rate :math:`\nu`, Campbell gives :math:`E[V - E_L] = \nu\int h = \nu J \tau_s R` and
:math:`\mathrm{Var}[V] = \nu\int h^2 = \nu (J \tau_s R)^2 / (2(\tau_m + \tau_s))`. On the step
grid the integrals become sums :math:`dt\sum_{k\ge1} h(k\,dt)`, trapezoid rules with
:math:`h(0) = 0`, so the discretisation error is O(dt^2) (~1e-4 relative here).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnviz.core.inputs import CurrentInjection, poisson_counts, poisson_spikes
from snnviz.core.neurons import LIF
from snnviz.core.sim import DrivenPopulation, simulate


def test_poisson_counts_mean_and_variance():
    """Counts per step are Poisson(rate dt): mean = variance = rate dt (per neuron rates)."""
    rates = jnp.array([0.0, 500.0, 2000.0, 20000.0])  # Hz; the last is many summed sources
    counts = np.asarray(poisson_counts(jax.random.key(0), rates, 0.1, (50_000, 4)))
    lam = np.asarray(rates) * 0.1 / 1000.0
    n = counts.shape[0]
    assert np.all(counts[:, 0] == 0)
    for i in range(1, 4):
        se = math.sqrt(lam[i] / n)
        assert abs(counts[:, i].mean() - lam[i]) < 5 * se, (i, counts[:, i].mean(), lam[i])
        # Poisson: Var(s^2) ~ (2 lam^2 + lam) / n
        se_var = lam[i] * math.sqrt(2.0 / n + 1.0 / (lam[i] * n))
        assert abs(counts[:, i].var(ddof=1) - lam[i]) < 5 * se_var
    assert np.all(counts == np.round(counts)) and counts.min() >= 0


def test_poisson_spikes_rate():
    """Bernoulli spikes: 0/1 with P = rate dt per step."""
    rates = jnp.array([10.0, 100.0, 400.0])
    spikes = np.asarray(poisson_spikes(jax.random.key(1), rates, 0.5, (40_000, 3)))
    assert set(np.unique(spikes)) <= {0.0, 1.0}
    p = np.asarray(rates) * 0.5 / 1000.0
    se = np.sqrt(p * (1 - p) / spikes.shape[0])
    assert np.all(np.abs(spikes.mean(axis=0) - p) < 5 * se), (spikes.mean(axis=0), p)


def test_poisson_spikes_rejects_probability_above_one():
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\], got 2\.0 .*rate_hz=2000\.0"):
        poisson_spikes(jax.random.key(0), 2000.0, 1.0, (3,))


def test_current_injection_protocol():
    current = CurrentInjection(
        offset=10.0, step=100.0, t_on=5.0, t_off=15.0, sine_amplitude=20.0, sine_freq_hz=50.0
    )
    t = jnp.array([0.0, 5.0, 10.0, 14.9, 15.0, 25.0])
    expected = (
        10.0
        + np.where((np.asarray(t) >= 5.0) & (np.asarray(t) < 15.0), 100.0, 0.0)
        + 20.0 * np.sin(2 * np.pi * 50.0 * np.asarray(t) / 1000.0)
    )
    np.testing.assert_allclose(np.asarray(jax.vmap(current)(t)), expected, rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match=r"CurrentInjection: `step` must be finite , got nan"):
        CurrentInjection(step=float("nan"))


def test_poisson_driven_free_membrane_matches_campbell():
    tau_m, tau_s, c, e_l = 10.0, 2.0, 250.0, -70.0
    rate_hz, weight, dt = 5000.0, 20.0, 0.1  # e.g. 500 sources at 10 Hz, 20 pA jumps
    # threshold out of reach: a free membrane
    neuron = LIF(tau_mem=tau_m, tau_syn=tau_s, c_mem=c, v_rest=e_l, v_reset=e_l, v_th=1e4)
    system = DrivenPopulation(
        neuron,
        CurrentInjection(),
        dt=dt,
        shape=(1000,),
        poisson_rate_hz=rate_hz,
        poisson_weight=weight,
    )
    _, rec = simulate(system, 3000, key=jax.random.key(42))
    v = np.asarray(rec["v"], np.float64)[1000:] - e_l  # drop 100 ms = 10 tau_m of transient

    nu, r = rate_hz / 1000.0, tau_m / c
    mean_theory = nu * weight * tau_s * r
    var_theory = nu * (weight * tau_s * r) ** 2 / (2 * (tau_m + tau_s))

    per_neuron = v.mean(axis=0)  # neurons are independent: their means give the error bar
    se_mean = per_neuron.std(ddof=1) / math.sqrt(per_neuron.size)
    assert abs(per_neuron.mean() - mean_theory) < 5 * se_mean + 1e-3 * mean_theory, (
        per_neuron.mean(),
        mean_theory,
        se_mean,
    )

    per_neuron_var = ((v - v.mean()) ** 2).mean(axis=0)  # about the grand mean: ~unbiased
    se_var = per_neuron_var.std(ddof=1) / math.sqrt(per_neuron_var.size)  # ~1.1 % here
    assert abs(per_neuron_var.mean() - var_theory) < 5 * se_var, (
        per_neuron_var.mean(),
        var_theory,
        se_var,
    )
