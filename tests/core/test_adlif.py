"""AdLIF: exact sub-threshold integration and spike times against an independent diffrax
reference (the generic reference helpers live in test_adex.py)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnviz.core.neurons import AdLIF
from tests.core.test_adex import reference_spike_times, reference_trace, simulate_cases


def adlif_field(t, y, args):
    """AdLIF right-hand side for ``y = (V, I_syn, w)``; ``args["clamp"] = 1`` freezes ``V``."""
    v, i_syn, w = y
    dv = -(v - args["v_rest"]) / args["tau_mem"] + (i_syn + args["i_ext"] - w) / args["c_mem"]
    return jnp.stack(
        [
            dv * (1 - args["clamp"]),
            -i_syn / args["tau_syn"],
            (args["a"] * (v - args["v_rest"]) - w) / args["tau_w"],
        ]
    )


FIELDS = ("tau_mem", "tau_syn", "c_mem", "v_rest", "v_reset", "v_th", "t_ref", "tau_w", "a", "b")
CASES = {  # name: (neuron, constant current pA, duration ms)
    "default": (AdLIF(), 700.0, 300.0),
    "subthreshold_adaptation": (AdLIF(a=8.0, b=0.0, tau_w=50.0, t_ref=0.0), 1100.0, 200.0),
    "strong_spike_adaptation": (AdLIF(b=150.0, tau_w=200.0, v_reset=-60.0), 1500.0, 400.0),
}
T_SIM = 400.0


def params_of(neuron, **extra) -> dict:
    p = {f: float(getattr(neuron, f)) for f in FIELDS} | extra
    return p | {"v_peak": p["v_th"]}  # the reference's threshold argument


@pytest.fixture(scope="module")
def simulated_cases():
    return simulate_cases(CASES, T_SIM)


def _reference(case, grid_dt):
    neuron, i_ext, t_end = CASES[case]
    p = params_of(neuron, i_ext=i_ext)
    return reference_spike_times(
        adlif_field, p, [p["v_rest"], 0.0, 0.0], t_end, grid_dt=grid_dt, hold_v_after_crossing=False
    )


@pytest.mark.parametrize("dt", [0.1, 0.01])
@pytest.mark.parametrize("case", sorted(CASES))
def test_spike_times_match_grid_synchronised_reference(simulated_cases, case, dt):
    """Resets on the step grid in the reference: the exact propagator leaves no integration
    error, so every spike falls in the same step (checked to within one step)."""
    ref = _reference(case, dt)
    sim = simulated_cases[case, dt]
    assert len(ref) >= 8
    assert len(sim) == len(ref)
    assert np.max(np.abs(sim - ref)) <= dt + 1e-6


@pytest.mark.parametrize("case", sorted(CASES))
def test_isis_match_continuous_reference(simulated_cases, case):
    """Against exact-time resets: first spike late by less than one step, each ISI within one
    step (+25 %: w also integrates over the delayed reset), at dt = 0.1 ms."""
    ref = _reference(case, None)
    sim = simulated_cases[case, 0.1]
    n = min(len(ref), len(sim), 12)
    assert n >= 8
    assert 0.0 <= sim[0] - ref[0] <= 0.1 + 1e-6
    np.testing.assert_allclose(np.diff(sim[:n]), np.diff(ref[:n]), atol=0.125, rtol=0)


def test_subthreshold_trace_is_exact():
    """Below threshold (400 pA) with an initial synaptic current, V and w equal the reference
    solution at every step to float32 round-off (the propagator is exact)."""
    neuron = AdLIF()
    p = params_of(neuron, i_ext=400.0)
    dt, n_steps = 0.1, 2000
    ref = reference_trace(adlif_field, p, [p["v_rest"], 300.0, 0.0], dt * np.arange(1, n_steps + 1))
    step = neuron.discretise(dt)
    state = eqx.tree_at(lambda s: s.i_syn, neuron.init_state(()), jnp.float32(300.0))

    def body(s, _):
        s, spikes = step(s, jnp.float32(0.0), jnp.float32(400.0))
        return s, (s.v, s.w, spikes)

    _, (v, w, spikes) = jax.lax.scan(body, state, length=n_steps)
    assert float(spikes.sum()) == 0.0
    assert np.max(np.abs(np.asarray(v) - ref[:, 0])) < 2e-4
    assert np.max(np.abs(np.asarray(w) - ref[:, 2])) < 2e-4


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"tau_w": 0.0}, r"AdLIF: `tau_w` must be a finite number > 0 ms, got 0\.0"),
        ({"a": float("nan")}, r"AdLIF: `a` must be finite nS, got nan"),
        ({"b": float("inf")}, r"AdLIF: `b` must be finite pA, got inf"),
        ({"tau_mem": -10.0}, r"AdLIF: `tau_mem` must be a finite number > 0 ms, got -10\.0"),
        ({"v_reset": -40.0}, r"AdLIF: `v_reset` \(-40\.0\) must be below `v_th` \(-50\.0\)"),
    ],
)
def test_bad_parameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AdLIF(**kwargs)
