"""The feed-forward layer's hoisted and event-driven paths against a naive per-step loop."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnviz.core.neurons import LIF
from snnviz.core.sim import (
    FeedForwardLIF,
    advance,
    default_capacity,
    feedforward_currents,
    run_feedforward,
)

N_IN, N_OUT, T = 200, 64, 120
BIAS = 480.0  # pA, just below the 500 pA rheobase of the default LIF


def dyadic_weights(seed: int, n_in: int = N_IN, n_out: int = N_OUT) -> np.ndarray:
    """Weights that are multiples of 1/8 pA: every partial sum is exact in float32, so the
    paths must agree bit for bit whatever order they add in. Range [-20, 40) pA."""
    rng = np.random.default_rng(seed)
    return (rng.integers(-160, 320, size=(n_in, n_out)) / 8.0).astype(np.float32)


def bernoulli(seed: int, shape: tuple[int, ...], p: float) -> np.ndarray:
    return (np.random.default_rng(seed).random(shape) < p).astype(np.float32)


def naive(layer: FeedForwardLIF, spikes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-step Python loop: projection in float64 numpy, then the engine's LIF step."""
    lif_step = layer.neuron.discretise(layer.dt)
    step = jax.jit(lambda state, syn, i_ext: lif_step(state, syn, i_ext))
    state = layer.neuron.init_state((*layer.batch_shape, layer.n_out))
    w = np.asarray(layer.weights, np.float64)
    i_ext = jnp.broadcast_to(layer.bias_current, state.v.shape)
    vs, ss = [], []
    for s_t in spikes:
        syn = jnp.asarray((s_t.astype(np.float64) @ w).astype(np.float32))
        state, out = step(state, syn, i_ext)
        vs.append(np.asarray(state.v))
        ss.append(np.asarray(out))
    return np.stack(vs), np.stack(ss)


def run(layer: FeedForwardLIF, spikes: np.ndarray, seed: int = 0):
    state = layer.init_state(key=jax.random.key(seed))
    return run_feedforward(layer, state, spikes.shape[0], jnp.asarray(spikes))


@pytest.mark.parametrize("path", ["hoisted", "event", "auto"])
@pytest.mark.parametrize("p", [0.02, 0.15])
def test_paths_equal_naive_loop_exactly(path, p):
    spikes = bernoulli(1, (T, N_IN), p)
    layer = FeedForwardLIF(LIF(), dyadic_weights(2), dt=1.0, bias_current=BIAS, path=path)
    v_ref, s_ref = naive(layer, spikes)
    assert 0.01 < s_ref.mean() < 0.5, "workload must make the neurons fire"
    _, rec = run(layer, spikes)
    np.testing.assert_array_equal(np.asarray(rec["spikes"]), s_ref)
    np.testing.assert_allclose(np.asarray(rec["v"]), v_ref, rtol=0, atol=1e-4)
    expect_event = path == "event" or (path == "auto" and p <= layer.event_max_density)
    assert bool(rec["stats"]["event_path"]) == expect_event
    assert abs(float(rec["stats"]["input_density"]) - spikes.mean()) < 1e-6


def test_event_overflow_falls_back_without_dropping_spikes():
    # capacity 4 with ~6 active inputs per row: most blocks overflow; a quiet stretch does not
    spikes = bernoulli(3, (T, N_IN), 0.03)
    spikes[60:] *= bernoulli(4, (T - 60, N_IN), 0.05)  # ~0.3 active per row
    layer = FeedForwardLIF(
        LIF(), dyadic_weights(5), bias_current=BIAS, path="event", capacity=4, rows_per_block=20
    )
    v_ref, s_ref = naive(layer, spikes)
    assert s_ref.sum() > 0
    _, rec = run(layer, spikes)
    n_over = int(rec["stats"]["overflow_blocks"])
    assert 0 < n_over < T // 20, f"expected some but not all of 6 blocks to overflow, got {n_over}"
    np.testing.assert_array_equal(np.asarray(rec["spikes"]), s_ref)
    np.testing.assert_allclose(np.asarray(rec["v"]), v_ref, rtol=0, atol=1e-4)


@pytest.mark.parametrize("capacity", [1, 3, 50])
def test_currents_event_equal_dense_for_graded_and_random_weights(capacity):
    # float weights (rounding differs between paths) and graded/negative inputs incl. counts > 1
    rng = np.random.default_rng(6)
    rows = rng.poisson(0.03, size=(333, N_IN)).astype(np.float32)
    rows[::7] *= -0.5
    w = rng.normal(0.0, 30.0, size=(N_IN, N_OUT)).astype(np.float32)
    expected = rows.astype(np.float64) @ w.astype(np.float64)
    dense, n0 = feedforward_currents(jnp.asarray(rows), jnp.asarray(w), path="hoisted")
    event, n_over = feedforward_currents(
        jnp.asarray(rows), jnp.asarray(w), path="event", capacity=capacity, rows_per_block=64
    )
    for got in (dense, event):
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5, atol=1e-3)
    assert int(n0) == 0
    max_active = (rows != 0).sum(-1).max()
    assert (int(n_over) > 0) == (max_active > capacity)


def test_batch_equals_loop_and_vmap():
    n_batch = 3
    spikes = bernoulli(7, (T, n_batch, N_IN), 0.02)
    spikes[:, 1] = bernoulli(8, (T, N_IN), 0.2)  # one busy sample: its blocks use the dense path
    w = dyadic_weights(9)
    neuron = LIF(tau_mem=jnp.linspace(8.0, 20.0, N_OUT))  # per-neuron parameters broadcast
    options = dict(bias_current=BIAS, path="event")
    batched = FeedForwardLIF(neuron, w, batch_shape=(n_batch,), rows_per_block=30, **options)
    single = FeedForwardLIF(neuron, w, rows_per_block=10, **options)
    _, rec_b = run(batched, spikes)
    loop = [run(single, spikes[:, b])[1] for b in range(n_batch)]

    def one(s):
        rec = run_feedforward(single, single.init_state(key=jax.random.key(0)), T, s)[1]
        return {"spikes": rec["spikes"], "v": rec["v"]}

    rec_v = jax.vmap(one, in_axes=1, out_axes=1)(jnp.asarray(spikes))
    for key in ("spikes", "v"):
        stacked = np.stack([np.asarray(r[key]) for r in loop], axis=1)
        np.testing.assert_array_equal(np.asarray(rec_b[key]), stacked)
        np.testing.assert_array_equal(np.asarray(rec_v[key]), stacked)
    assert np.asarray(rec_b["spikes"]).sum() > 0


def test_chunks_carry_state_and_match_per_step_advance():
    spikes = jnp.asarray(bernoulli(10, (T, 2, N_IN), 0.02))
    layer = FeedForwardLIF(LIF(), dyadic_weights(11), batch_shape=(2,), bias_current=BIAS)
    state0 = layer.init_state(key=jax.random.key(0))
    whole, rec = run_feedforward(layer, state0, T, spikes)
    half, rec_a = run_feedforward(layer, state0, T // 2, spikes[: T // 2])
    half, rec_b = run_feedforward(layer, half, T // 2, spikes[T // 2 :])
    stepped, rec_s = advance(layer, state0, T, spikes)
    assert int(whole.step_index) == int(half.step_index) == int(stepped.step_index) == T
    for key in ("spikes", "v"):
        joined = np.concatenate([np.asarray(rec_a[key]), np.asarray(rec_b[key])])
        np.testing.assert_array_equal(joined, np.asarray(rec[key]))
        np.testing.assert_array_equal(np.asarray(rec_s[key]), np.asarray(rec[key]))
    np.testing.assert_array_equal(np.asarray(whole.neuron.v), np.asarray(stepped.neuron.v))


def test_internal_poisson_input_has_the_set_rate():
    rate_hz, dt, n_steps = 20.0, 0.5, 400
    layer = FeedForwardLIF(
        LIF(), dyadic_weights(12), dt=dt, input_rate_hz=rate_hz, batch_shape=(2,)
    )
    state = layer.init_state(key=jax.random.key(3))
    state2, rec = run_feedforward(layer, state, n_steps)
    p = rate_hz * dt / 1000.0
    n = n_steps * 2 * N_IN
    sd = np.sqrt(p * (1 - p) / n)
    assert abs(float(rec["stats"]["input_density"]) - p) < 5 * sd
    assert bool(rec["stats"]["event_path"])  # 1 % active: auto picks the event path
    # the key advances, so the next chunk draws new spikes
    _, rec2 = run_feedforward(layer, state2, n_steps)
    assert float(rec2["stats"]["input_density"]) != float(rec["stats"]["input_density"])


def test_parameter_values_do_not_recompile():
    events = []

    def listener(event, duration, **kwargs):
        if event in (
            "/jax/core/compile/jaxpr_trace_duration",
            "/jax/core/compile/backend_compile_duration",
        ):
            events.append(event)

    spikes = jnp.asarray(bernoulli(13, (50, 2, N_IN), 0.02))
    layer = FeedForwardLIF(
        LIF(), dyadic_weights(14), dt=1.0, input_rate_hz=20.0, batch_shape=(2,), path="auto"
    )
    state = layer.init_state(key=jax.random.key(0))
    jax.block_until_ready(run_feedforward(layer, state, 50, spikes))
    jax.block_until_ready(run_feedforward(layer, state, 50))
    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        changed = FeedForwardLIF(
            LIF(tau_mem=15.0, v_th=-55.0, t_ref=3.0),
            dyadic_weights(15),
            dt=0.5,
            input_rate_hz=80.0,
            bias_current=30.0,
            batch_shape=(2,),
            path="auto",
        )
        _, rec_old = run_feedforward(layer, state, 50, spikes)
        _, rec_new = run_feedforward(changed, state, 50, spikes)
        _, rec_poisson = run_feedforward(changed, state, 50)
        jax.block_until_ready((rec_new, rec_poisson))
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    assert events == [], f"a new parameter value recompiled: {events}"
    assert not np.array_equal(np.asarray(rec_new["v"]), np.asarray(rec_old["v"]))
    assert float(rec_poisson["stats"]["input_density"]) > 0.03  # 80 Hz x 0.5 ms = 4 %


def test_default_capacity():
    assert default_capacity(1000) == 63
    assert default_capacity(100) == 32
    assert default_capacity(10) == 10


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"path": "sparse"}, "`path` must be one of"),
        ({"capacity": 0}, "`capacity` must be between 1 and n_in=200"),
        ({"capacity": 201}, "`capacity` must be between 1 and n_in=200"),
        ({"rows_per_block": 0}, "`rows_per_block` must be >= 1"),
        ({"event_max_density": 1.5}, r"`event_max_density` must lie in \[0, 1\]"),
        ({"input_rate_hz": -1.0}, "`input_rate_hz` must be finite and >= 0 Hz"),
        ({"dt": 0.0}, "`dt` must be a finite number > 0 ms"),
        ({"batch_shape": (0,)}, "`batch_shape` sizes must be >= 1"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FeedForwardLIF(LIF(), dyadic_weights(0), **kwargs)


def test_bad_weights_and_input_shape_are_rejected():
    with pytest.raises(ValueError, match=r"`weights` must be a non-empty \(n_in, n_out\) matrix"):
        FeedForwardLIF(LIF(), np.zeros(5, np.float32))
    w = dyadic_weights(0)
    w[3, 4] = np.nan
    with pytest.raises(ValueError, match="1 NaN/inf entries"):
        FeedForwardLIF(LIF(), w)
    layer = FeedForwardLIF(LIF(), dyadic_weights(0), batch_shape=(2,))
    with pytest.raises(ValueError, match=r"\(10, 2, 200\), got \(10, 200\)"):
        run_feedforward(layer, layer.init_state(key=jax.random.key(0)), 10, jnp.zeros((10, N_IN)))
    with pytest.raises(ValueError, match="`path` must be 'hoisted' or 'event'"):
        feedforward_currents(jnp.zeros((2, N_IN)), jnp.asarray(w), path="auto")
    with pytest.raises(ValueError, match=r"capacity <= n_in=200 .* got capacity=300"):
        feedforward_currents(jnp.zeros((2, N_IN)), jnp.asarray(w), path="event", capacity=300)
