"""EventProp forward pass: exact spike times against an independent fine-step integration,
the closed-form crossing, the spike cap, and jit/vmap behaviour."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnviz.core.eventprop import (
    EventNetwork,
    LIFEvent,
    Weights,
    crossing_delay,
    layer_forward,
    membrane_potential,
)
from tests.helpers import count_compilations

TAU_SYN, THETA, T_MAX = 5.0, 1.0, 30.0
DT = 1e-4 * TAU_SYN  # reference step: 1e-4 tau


# --- independent reference: Heun steps on a fixed grid, numpy, float64 ----------------------
def reference_layer(weights: np.ndarray, pre_times: list[np.ndarray]) -> list[list[float]]:
    """Spike times of each postsynaptic neuron by Heun steps of ``DT`` (inputs arrive at the
    step nearest their time; a crossing is located by linear interpolation inside the step,
    and the reset subtracts the threshold)."""
    n_post = weights.shape[0]
    n_steps = round(T_MAX / DT)
    drive = np.zeros((n_steps + 1, n_post))
    for i, times in enumerate(pre_times):
        for t in np.asarray(times, float):
            if np.isfinite(t) and t < T_MAX:
                drive[round(t / DT)] += weights[:, i]
    tau_m = 2 * TAU_SYN
    v, cur = np.zeros(n_post), np.zeros(n_post)
    spikes: list[list[float]] = [[] for _ in range(n_post)]
    for n in range(n_steps):
        cur = cur + drive[n]
        dv1, dc1 = (cur - v) / tau_m, -cur / TAU_SYN
        v_pred, c_pred = v + DT * dv1, cur + DT * dc1
        v_new = v + 0.5 * DT * (dv1 + (c_pred - v_pred) / tau_m)
        cur = cur + 0.5 * DT * (dc1 - c_pred / TAU_SYN)
        for j in np.flatnonzero(v_new >= THETA):
            spikes[j].append(n * DT + DT * (THETA - v[j]) / (v_new[j] - v[j]))
            v_new[j] -= THETA
        v = v_new
    return spikes


def _random_network(seed: int, n_in=5, n_hidden=10, n_out=3):
    rng = np.random.default_rng(seed)
    inputs = np.round(rng.uniform(0.0, 10.0, n_in) / DT) * DT  # on the reference grid
    w_hidden = rng.normal(1.5, 1.5, (n_hidden, n_in))
    w_out = rng.normal(1.0, 1.0, (n_out, n_hidden))
    return inputs, w_hidden, w_out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spike_times_match_fine_step_reference(seed):
    """Hidden (up to 6 spikes each) and output (up to 4) spike times agree with a dt = 1e-4 tau
    integration within 1e-3 tau, with the same spike counts."""
    inputs, w_hidden, w_out = _random_network(seed)
    with jax.enable_x64(True):
        neuron = LIFEvent(tau_syn=TAU_SYN, threshold=THETA, t_max=T_MAX)
        hidden = np.asarray(
            layer_forward(jnp.asarray(w_hidden), jnp.asarray(inputs)[:, None], neuron, 7)
        )
        out = np.asarray(layer_forward(jnp.asarray(w_out), jnp.asarray(hidden[:, :6]), neuron, 4))
    ref_hidden = reference_layer(w_hidden, [[t] for t in inputs])
    ref_out = reference_layer(w_out, [h[:6] for h in ref_hidden])
    n_spikes = 0
    for ours, ref, cap in ((hidden, ref_hidden, 7), (out, ref_out, 4)):
        for row, ref_row in zip(ours, ref, strict=True):
            got = row[np.isfinite(row)]
            want = np.asarray(ref_row[:cap])
            assert got.size == want.size, (got, want)
            np.testing.assert_allclose(got, want, atol=1e-3 * TAU_SYN, rtol=0)
            n_spikes += got.size
    assert n_spikes > 20  # the networks are active enough for the comparison to mean something


def test_crossing_delay_is_the_first_threshold_crossing():
    """On random states the closed form lands exactly on the threshold, the membrane stays below
    it before, and 'no crossing' agrees with a dense scan of the closed-form trajectory."""
    rng = np.random.default_rng(3)
    v0 = rng.uniform(-1.0, 0.99, 400)
    i0 = rng.uniform(-2.0, 6.0, 400)
    tau_m = 2 * TAU_SYN
    with jax.enable_x64(True):
        delay = np.asarray(crossing_delay(jnp.asarray(v0), jnp.asarray(i0), THETA, tau_m))
    grid = np.linspace(0.0, 20 * tau_m, 20001)[None, :]
    v = (v0 + i0)[:, None] * np.exp(-grid / tau_m) - i0[:, None] * np.exp(-grid / TAU_SYN)
    crosses = (v >= THETA).any(axis=1)
    assert crosses.sum() > 50 and (~crosses).sum() > 50
    np.testing.assert_array_equal(np.isfinite(delay), crosses)
    d = delay[crosses]
    v_at = (v0 + i0)[crosses] * np.exp(-d / tau_m) - i0[crosses] * np.exp(-d / TAU_SYN)
    np.testing.assert_allclose(v_at, THETA, atol=1e-9)
    first_grid = grid[0, np.argmax(v >= THETA, axis=1)][crosses]
    assert np.all(d <= first_grid + 1e-12) and np.all(d >= first_grid - grid[0, 1])
    # Already at threshold: spike now.
    assert float(crossing_delay(jnp.asarray(1.2), jnp.asarray(0.0), THETA, tau_m)) == 0.0


def test_cap_is_recorded_and_reset_is_exact():
    """A strongly driven neuron fires more than the cap allows: the network flags it; the
    membrane is at threshold just before each spike and 0 right after."""
    with jax.enable_x64(True):
        neuron = LIFEvent(tau_syn=TAU_SYN, threshold=THETA, t_max=T_MAX)
        net = EventNetwork(neuron, max_spikes_hidden=2)
        w = Weights(jnp.array([[12.0, 0.0], [2.0, 0.5]]), jnp.ones((1, 2)))
        x = jnp.array([1.0, 4.0])
        spikes = net(w, x)
        all_spikes = layer_forward(w.hidden, x[:, None], neuron, 10)
        counts = np.isfinite(np.asarray(all_spikes)).sum(axis=1)
        assert counts[0] > 2 and counts[1] <= 2
        np.testing.assert_array_equal(np.asarray(spikes.hidden_cap_hit), counts > 2)
        np.testing.assert_array_equal(np.asarray(spikes.hidden), np.asarray(all_spikes[:, :2]))
        t_k = all_spikes[0][jnp.isfinite(all_spikes[0])]
        v_before, _ = membrane_potential(w.hidden, x[:, None], all_spikes, neuron, t_k - 1e-9)
        v_after, _ = membrane_potential(w.hidden, x[:, None], all_spikes, neuron, t_k)
    np.testing.assert_allclose(np.asarray(v_before)[:, 0], THETA, atol=1e-6)
    np.testing.assert_allclose(np.asarray(v_after)[:, 0], 0.0, atol=1e-9)


def test_missing_spikes_and_late_inputs():
    """``inf`` inputs and inputs at or after ``t_max`` change nothing; a silent output reads out
    as ``t_max``."""
    neuron = LIFEvent(t_max=T_MAX)
    net = EventNetwork(neuron, max_spikes_hidden=2)
    w = Weights(jnp.full((4, 3), 3.0), jnp.array([[0.01] * 4, [3.0] * 4]))
    base = net(w, jnp.array([1.0, 2.0, jnp.inf]))
    late = net(w, jnp.array([1.0, 2.0, T_MAX + 1.0]))
    np.testing.assert_array_equal(np.asarray(base.hidden), np.asarray(late.hidden))
    assert not np.isfinite(float(base.output_first[0])) and float(base.readout[0]) == T_MAX
    assert np.isfinite(float(base.output_first[1]))


def test_batch_vmap_matches_loop_and_new_weights_do_not_recompile():
    rng = np.random.default_rng(0)
    net = EventNetwork(LIFEvent(), max_spikes_hidden=3)
    w = Weights(jnp.asarray(rng.normal(2, 1, (8, 5)), jnp.float32), jnp.ones((3, 8)))
    x = jnp.asarray(rng.uniform(0, 10, (6, 5)), jnp.float32)
    forward = jax.jit(jax.vmap(net, in_axes=(None, 0)))
    batch = forward(w, x)
    for b in range(x.shape[0]):
        np.testing.assert_allclose(batch.hidden[b], net(w, x[b]).hidden, rtol=1e-5)
    new_weights = Weights(w.hidden * 1.1, w.output)
    with count_compilations() as log:
        forward(new_weights, x)
    assert log.count == 0, log.names


def test_parameter_errors_are_clear():
    with pytest.raises(ValueError, match="tau_syn"):
        LIFEvent(tau_syn=-1.0)
    with pytest.raises(ValueError, match="t_max / tau_syn"):
        LIFEvent(tau_syn=0.1, t_max=100.0)
    with pytest.raises(ValueError, match="max_spikes_hidden"):
        EventNetwork(max_spikes_hidden=0)
    with pytest.raises(ValueError, match="method"):
        EventNetwork(method="bptt")
    with pytest.raises(ValueError, match="n_pre"):
        layer_forward(jnp.ones((3, 4)), jnp.ones((5, 1)), LIFEvent(), 1)
