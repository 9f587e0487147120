r"""LIF against closed forms.

Constant current ``I`` from ``V(0) = V_0``: :math:`V(t) = E_L + RI + (V_0 - E_L - RI)e^{-t/\tau}`,
so the threshold is reached after :math:`t^* = \tau \ln\frac{RI - (V_0 - E_L)}{RI - (\theta - E_L)}`
(:math:`t^* = -\tau\ln(1 - (\theta - E_L)/RI)` from rest), and the ISI is :math:`t_\mathrm{ref} +
t^*` from ``V_0 = V_reset``. The discrete model resets on the step grid, so its first spike lies
in :math:`[t^*, t^* + dt)` and each ISI in :math:`[t_\mathrm{ref} + t^*_\mathrm{reset},
t_\mathrm{ref} + t^*_\mathrm{reset} + dt)`.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnviz.core.inputs import CurrentInjection
from snnviz.core.neurons import LIF
from snnviz.core.sim import DrivenPopulation, simulate

CURRENTS = np.array([520.0, 600.0, 800.0, 1200.0, 2000.0, 4000.0])  # pA; rheobase 500 pA
N_STEPS = 4000  # one compile for every dt (dt is traced)


def threshold_time(neuron: LIF, i_ext: float, v0: float) -> float:
    """Closed-form time (ms) from ``V = v0`` to the threshold under a constant current."""
    tau, r = float(neuron.tau_mem), float(neuron.tau_mem / neuron.c_mem)
    e_l, theta = float(neuron.v_rest), float(neuron.v_th)
    return tau * math.log((r * i_ext - (v0 - e_l)) / (r * i_ext - (theta - e_l)))


def spike_trains(neuron: LIF, currents, dt: float) -> list[np.ndarray]:
    system = DrivenPopulation(
        neuron, CurrentInjection(offset=jnp.asarray(currents)), dt=dt, shape=(len(currents),)
    )
    _, rec = simulate(system, N_STEPS, key=jax.random.key(0))
    spikes = np.asarray(rec["spikes"])
    return [(np.flatnonzero(spikes[:, i]) + 1) * dt for i in range(len(currents))]


@pytest.mark.parametrize("dt", [0.1, 0.05, 0.025])
def test_first_spike_and_isi_match_closed_form(dt):
    # v_reset != v_rest so the ISI and the first passage differ; t_ref a multiple of dt
    neuron = LIF(v_reset=-65.0, t_ref=2.0)
    eps = 1e-4  # float32 round-off when a crossing falls on a grid point
    for i_ext, train in zip(CURRENTS, spike_trains(neuron, CURRENTS, dt), strict=True):
        t_first = threshold_time(neuron, i_ext, float(neuron.v_rest))
        isi = float(neuron.t_ref) + threshold_time(neuron, i_ext, float(neuron.v_reset))
        assert len(train) >= 3, (i_ext, dt)
        assert t_first - eps <= train[0] < t_first + dt + eps, (i_ext, dt, train[0], t_first)
        isis = np.diff(train)
        assert np.all(isis >= isi - eps) and np.all(isis < isi + dt + eps), (i_ext, dt, isis, isi)
        # t_first = -tau ln(1 - (theta - E_L)/(R I)) from rest
        r = float(neuron.tau_mem / neuron.c_mem)
        assert t_first == pytest.approx(-10.0 * math.log(1 - 20.0 / (r * i_ext)))


def test_subthreshold_input_never_spikes():
    """R I < theta - E_L: V tends to E_L + R I below threshold; 400 ms without a spike."""
    neuron = LIF()
    currents = np.array([-200.0, 0.0, 100.0, 400.0, 490.0, 499.0])  # same shape: no recompile
    trains = spike_trains(neuron, currents, 0.1)
    assert all(len(t) == 0 for t in trains)


def closed_form_propagator(tau_m, tau_s, c, dt):
    """``(A_d, B_d)`` of the LIF in ``x = (V - E_L, I_syn)``, float64, incl. tau_s = tau_m."""
    em, es = math.exp(-dt / tau_m), math.exp(-dt / tau_s)
    if abs(tau_s - tau_m) < 1e-9 * tau_m:
        coupling = dt / c * em  # the limit tau_s -> tau_m
    else:
        coupling = tau_m * tau_s / (c * (tau_s - tau_m)) * (es - em)
    a_d = np.array([[em, coupling], [0.0, es]])
    b_d = np.array([tau_m / c * (1 - em), 0.0])
    return a_d, b_d


@pytest.mark.parametrize("dt", [0.01, 0.1, 1.0])
def test_propagator_matches_closed_form(dt):
    """The exact propagator equals the closed-form solution of the 2-D linear system,
    including tau_syn equal or nearly equal to tau_mem (where the generic formula is 0/0)."""
    tau_m = np.array([10.0, 10.0, 10.0, 10.0, 20.0, 5.0, 3.0])
    tau_s = np.array([2.0, 10.0, 10.001, 9.9999, 5.0, 5.0, 30.0])
    c = np.array([250.0, 250.0, 250.0, 250.0, 100.0, 300.0, 200.0])
    step = LIF(tau_mem=tau_m, tau_syn=tau_s, c_mem=c).discretise(dt)
    for k in range(len(tau_m)):
        a_ref, b_ref = closed_form_propagator(tau_m[k], tau_s[k], c[k], dt)
        # increment form: A_d - I must be right to relative precision, not just A_d
        da = np.asarray(step.da_d[k], np.float64)
        np.testing.assert_allclose(da, a_ref - np.eye(2), rtol=1e-5, atol=1e-12)
        np.testing.assert_allclose(np.asarray(step.a_d[k]), a_ref, rtol=1e-5, atol=1e-9)
        np.testing.assert_allclose(np.asarray(step.b_d[k]), b_ref, rtol=1e-5, atol=1e-12)


def test_one_step_with_synaptic_current_matches_closed_form():
    """One step from (V0, I_syn0) with a synaptic jump and I_ext: V(dt) from the closed form."""
    neuron = LIF(tau_syn=5.0)
    dt, v0, i0, jump, i_ext = 0.5, -60.0, 100.0, 50.0, 300.0
    state = neuron.init_state(())
    state = type(state)(v=jnp.float32(v0), i_syn=jnp.float32(i0), refractory=state.refractory)
    new, spikes = neuron.discretise(dt)(state, jnp.float32(jump), jnp.float32(i_ext))
    a_ref, b_ref = closed_form_propagator(10.0, 5.0, 250.0, dt)
    x = a_ref @ np.array([v0 + 70.0, i0 + jump]) + b_ref * i_ext
    assert float(spikes) == 0.0
    assert float(new.v) == pytest.approx(x[0] - 70.0, abs=1e-5)
    assert float(new.i_syn) == pytest.approx(x[1], rel=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"tau_mem": 0.0}, r"LIF: `tau_mem` must be a finite number > 0 ms, got 0\.0"),
        ({"tau_syn": -2.0}, r"LIF: `tau_syn` must be a finite number > 0 ms, got -2\.0"),
        ({"c_mem": float("nan")}, r"LIF: `c_mem` must be a finite number > 0 pF, got nan"),
        ({"v_th": float("inf")}, r"LIF: `v_th` must be finite mV, got inf"),
        ({"v_reset": -40.0}, r"LIF: `v_reset` \(-40\.0\) must be below `v_th` \(-50\.0\)"),
        ({"tau_mem": [10.0, -1.0]}, r"LIF: `tau_mem` must be .* got \[10\.0, -1\.0\]"),
    ],
)
def test_bad_parameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LIF(**kwargs)


def test_bad_dt_raises():
    with pytest.raises(ValueError, match=r"LIF: `dt` must be a finite number > 0 ms, got 0\.0"):
        LIF().discretise(0.0)
