"""The delay ring buffer: inputs arrive exactly ``d`` steps later, per projection or per
synapse, every spike is delivered exactly once (also when the delay changes mid-run), and a new
delay value reuses the compiled code."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnviz.core.synapses import DelayRing, delay_steps, fan_out_lists, fixed_fan_in
from tests.helpers import count_compilations

N_POST, MAX_DELAY = 5, 9


@jax.jit
def _run_projection(values, delays):
    """Push ``values[t]`` with delay ``delays[t]`` at each step; return what arrives."""

    def step(ring, inputs):
        t, value, delay = inputs
        arriving = ring.arriving
        return ring.advance(t, delay, value), arriving

    steps = jnp.arange(values.shape[0], dtype=jnp.int32)
    _, arrived = jax.lax.scan(step, DelayRing.zeros(N_POST, MAX_DELAY), (steps, values, delays))
    return arrived


@pytest.mark.parametrize("d", [1, 2, 5, MAX_DELAY])
def test_per_projection_delay_shifts_input_by_exactly_d_steps(d):
    values = jax.random.normal(jax.random.key(d), (40, N_POST))
    arrived = np.asarray(_run_projection(values, jnp.full(40, d, jnp.int32)))
    np.testing.assert_array_equal(arrived[:d], 0.0)
    np.testing.assert_array_equal(arrived[d:], np.asarray(values)[:-d])


def test_a_new_delay_value_does_not_recompile():
    values = jnp.ones((40, N_POST))
    _run_projection(values, jnp.full(40, 1, jnp.int32))  # compile once
    with count_compilations() as log:
        for d in (2, 3, MAX_DELAY):
            _run_projection(values, jnp.full(40, d, jnp.int32)).block_until_ready()
    assert log.matching("_run_projection") == 0, log.names


def test_changing_the_delay_mid_run_delivers_everything_exactly_once():
    n_steps = 60
    values = jax.random.uniform(jax.random.key(0), (n_steps, N_POST))
    values = values.at[n_steps - MAX_DELAY :].set(0.0)  # let everything arrive in the window
    delays = jnp.asarray(np.random.default_rng(1).integers(1, MAX_DELAY + 1, n_steps), jnp.int32)
    arrived = np.asarray(_run_projection(values, delays))
    np.testing.assert_allclose(arrived.sum(0), np.asarray(values).sum(0), rtol=1e-5)
    expected = np.zeros((n_steps + MAX_DELAY, N_POST))
    for t in range(n_steps):
        expected[t + int(delays[t])] += np.asarray(values[t])
    np.testing.assert_allclose(arrived, expected[:n_steps], rtol=1e-6, atol=1e-7)


def test_delays_are_clipped_to_the_supported_range():
    values = jnp.eye(12, N_POST)
    too_long = np.asarray(_run_projection(values, jnp.full(12, MAX_DELAY + 5, jnp.int32)))
    np.testing.assert_array_equal(too_long[MAX_DELAY:], np.asarray(values)[: 12 - MAX_DELAY])
    zero = np.asarray(_run_projection(values, jnp.zeros(12, jnp.int32)))  # at least one step
    np.testing.assert_array_equal(zero[1:], np.asarray(values)[:-1])


def test_delay_steps_rounds_and_clips():
    assert int(delay_steps(1.5, 0.1, 100)) == 15
    assert int(delay_steps(1.54, 0.1, 100)) == 15
    assert int(delay_steps(1.56, 0.1, 100)) == 16
    assert int(delay_steps(50.0, 0.1, 100)) == 100
    assert int(delay_steps(-1.0, 0.1, 100)) == 0


def test_ring_needs_at_least_one_slot():
    with pytest.raises(ValueError, match="max_delay_steps"):
        DelayRing.zeros(3, 0)


def test_per_synapse_delays_equal_a_dense_reference():
    """Event-driven per-synapse delays against x_i(t) = sum_j W_ij s_j(t - D_ij)."""
    n_pre, n_post, fan_in, n_steps, max_delay = 40, 30, 6, 80, 7
    rng = np.random.default_rng(0)
    pre = fixed_fan_in(jax.random.key(1), n_pre, n_post, fan_in)
    weight_in = rng.normal(size=pre.shape).astype(np.float32)  # per synapse, fan-in layout
    delay_in = rng.integers(1, max_delay + 1, pre.shape).astype(np.int32)
    fan_out = fan_out_lists(pre, n_pre)
    pad = fan_out.synapse < 0
    weights = np.where(pad, 0.0, weight_in.ravel()[fan_out.synapse]).astype(np.float32)
    delays = np.where(pad, 1, delay_in.ravel()[fan_out.synapse]).astype(np.int32)
    spikes = rng.random((n_steps, n_pre)) < 0.15
    spikes[10, :] = True  # one burst: several batches

    @jax.jit
    def run(spikes, presyn_scale):
        def step(ring, inputs):
            t, s = inputs
            arriving = ring.arriving
            ring = ring.advance_events(
                t,
                s,
                jnp.asarray(fan_out.targets),
                jnp.asarray(delays),
                weights=jnp.asarray(weights),
                presyn_scale=presyn_scale,
                batch_size=16,
                block=4,
            )
            return ring, arriving

        steps = jnp.arange(n_steps, dtype=jnp.int32)
        return jax.lax.scan(step, DelayRing.zeros(n_post, max_delay), (steps, spikes))[1]

    scale = rng.uniform(0.5, 2.0, n_pre).astype(np.float32)
    arrived = np.asarray(run(jnp.asarray(spikes), jnp.asarray(scale)))

    expected = np.zeros((n_steps, n_post))
    for i in range(n_post):
        for c in range(fan_in):
            j, d = pre[i, c], delay_in[i, c]
            expected[d:, i] += scale[j] * weight_in[i, c] * spikes[: n_steps - d, j]
    np.testing.assert_allclose(arrived, expected, rtol=1e-5, atol=1e-5)
