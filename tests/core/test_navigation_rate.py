"""The rate central-complex circuit (snnviz.core.navigation.rate): an independent numpy
reference of the equations, the TB1 heading bump, CPU4 integration of a straight path,
Stone et al.'s homing statistics, and the failures without (or with a leaky) memory."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnviz.core.navigation import (
    RateCX,
    Route,
    advance_journey,
    decode_memory,
    init_journey,
    random_routes,
    run_journeys,
    wiring,
)
from tests.helpers import count_compilations


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _numpy_reference_step(tb1, memory, heading, velocity):
    """Stone et al.'s noise-free update written out index by index (no shared matrices)."""
    prefs = np.arange(8) * 2 * np.pi / 8
    tl2 = np.array([_sigmoid(6.8 * np.cos(heading - prefs[i % 8]) - 3.0) for i in range(16)])
    cl1 = _sigmoid(-3.0 * tl2 + 0.5)
    tb1_new = np.empty(8)
    for k in range(8):
        exc = cl1[k] + cl1[k + 8]
        inh = sum((1 - np.cos(prefs[k] - prefs[j])) / 2 * tb1[j] for j in range(8))
        tb1_new[k] = _sigmoid(5.0 * (0.667 * exc - 0.333 * inh))
    flow_l = np.sin(heading + np.pi / 4) * velocity[0] + np.cos(heading + np.pi / 4) * velocity[1]
    flow_r = np.sin(heading - np.pi / 4) * velocity[0] + np.cos(heading - np.pi / 4) * velocity[1]
    mem = memory.copy()
    for i in range(16):
        flow = flow_l if i < 8 else flow_r
        tn1 = np.clip((1 - flow) / 2, 0, 1)
        tn2 = np.clip(flow, 0, 1)
        mem[i] += 0.005 * np.clip(0.5 - tn1, 0, 1) * (1 - tb1_new[i % 8]) - 0.005 * 0.25 * tn2
    mem = np.clip(mem, 0, 1)
    cpu4 = _sigmoid(5.0 * mem - 2.5)
    cpu1 = np.empty(16)
    for j in range(16):
        src = 8 + (j - 1) % 8 if j < 8 else (j - 7) % 8
        cpu1[j] = _sigmoid(5.0 * cpu4[src] * (1 - tb1_new[j % 8]) - 2.5)
    motor = 0.25 * (cpu1[:8].sum() - cpu1[8:].sum())
    return tb1_new, mem, motor


def test_rate_step_matches_an_independent_numpy_reference():
    circuit = RateCX(noise=0.0)
    rng = np.random.default_rng(0)
    tb1 = np.zeros(8)
    memory = np.full(16, 0.5)
    state = circuit.init_state(key=jax.random.key(0))
    for t in range(40):
        heading = rng.uniform(-np.pi, np.pi)
        velocity = rng.normal(size=2) * 0.5
        tb1, memory, motor = _numpy_reference_step(tb1, memory, heading, velocity)
        state, out = circuit.step(
            state, jnp.float32(heading), jnp.asarray(velocity, jnp.float32), key=jax.random.key(t)
        )
        np.testing.assert_allclose(np.asarray(out.tb1), tb1, atol=2e-5)
        np.testing.assert_allclose(np.asarray(out.memory), memory, atol=2e-5)
        assert float(out.motor) == pytest.approx(motor, abs=5e-5)


def _bump_angle(tb1):
    """Population vector of the TB1 bump: TB1 is *lowest* in the column of the heading."""
    prefs = np.arange(8) * 2 * np.pi / 8
    weight = np.max(tb1) - tb1
    return np.arctan2(np.sum(weight * np.sin(prefs)), np.sum(weight * np.cos(prefs)))


def _angle_diff(a, b):
    return abs((a - b + np.pi) % (2 * np.pi) - np.pi)


def test_tb1_bump_tracks_a_turning_heading():
    circuit = RateCX(noise=0.0)
    state = circuit.init_state(key=jax.random.key(0))
    headings = np.cumsum(np.full(200, 0.05)) + 0.3  # a steady clockwise turn, > 1.5 revolutions
    errors = []
    for t, h in enumerate(headings):
        state, out = circuit.step(state, jnp.float32(h), jnp.zeros(2), key=jax.random.key(t))
        if t >= 5:
            errors.append(_angle_diff(_bump_angle(np.asarray(out.tb1)), h))
    assert np.degrees(np.max(errors)) < 12.0


def _straight_route(angle, n):
    rotation = np.zeros(n, np.float32)
    rotation[0] = angle
    return Route(rotation=jnp.asarray(rotation), acceleration=jnp.full(n, 0.1, jnp.float32))


@pytest.mark.parametrize("angle", [0.0, 1.0, -2.5])
def test_cpu4_integrates_a_straight_path(angle):
    circuit = RateCX(noise=0.0)
    decoded = {}
    for n in (150, 300):
        state = init_journey(circuit, _straight_route(angle, n), 10, key=jax.random.key(1))
        state, _ = advance_journey(circuit, state, n + 1)  # + 1: the memory senses the last move
        theta, amplitude = decode_memory(np.asarray(state.cx.memory))
        position = np.asarray(state.agent.position)  # includes the first inbound move
        true_angle = np.arctan2(position[0], position[1])
        assert np.degrees(_angle_diff(theta, true_angle)) < 3.0
        decoded[n] = (amplitude / 0.005, np.linalg.norm(position))
    # amplitude / memory gain reads distance (to 10 %), linearly: twice the path, twice the memory
    for amp, dist in decoded.values():
        assert amp == pytest.approx(dist, rel=0.1)
    assert decoded[300][0] / decoded[150][0] == pytest.approx(
        decoded[300][1] / decoded[150][1], rel=0.05
    )


@pytest.fixture(scope="module")
def stone_routes():
    routes = random_routes(jax.random.key(0), 100, 1500)
    keys = jax.random.split(jax.random.key(1), 100)
    return routes, keys


@pytest.mark.slow
def test_hand_wired_circuit_homes_like_stone_et_al(stone_routes):
    # Stone et al.'s code: 89 % of routes within 10 % of the turnaround distance, median 2.3 %
    summary = run_journeys(RateCX(), *stone_routes, 1500)
    assert float(summary.homed.mean()) >= 0.85
    assert float(jnp.median(summary.closest_ratio)) < 0.05
    assert np.degrees(float(jnp.median(summary.decoded_angle_error))) < 20.0
    # after homing it searches near the nest rather than flying off
    assert float(jnp.median(summary.search_ratio)) < 0.5


@pytest.mark.slow
def test_frozen_or_fast_leaking_memory_fails_to_home(stone_routes):
    frozen = run_journeys(RateCX(memory_gain=0.0), *stone_routes, 1500)
    assert float(jnp.median(frozen.closest_ratio)) >= 0.5
    leaky = run_journeys(
        RateCX(memory_leak=1.0 / 50.0), *stone_routes, 1500
    )  # tau = 50 steps << 1500
    assert float(jnp.median(leaky.closest_ratio)) >= 0.3
    assert float(leaky.homed.mean()) < 0.3


def test_new_parameter_values_do_not_recompile(stone_routes):
    routes, keys = stone_routes
    small = jax.tree.map(lambda x: x[:4], routes)
    run_journeys(RateCX(), small, keys[:4], 20)
    with count_compilations() as log:
        run_journeys(RateCX(noise=0.3, memory_leak=0.01, turn_gain=2.0), small, keys[:4], 20)
    assert log.matching("run_journeys") == 0, log.names


def test_negative_noise_is_rejected():
    with pytest.raises(ValueError, match="`noise` must be >= 0"):
        RateCX(noise=-0.1)


def test_wiring_shapes_and_the_one_column_offset():
    w = wiring.cpu4_to_cpu1()
    assert w.shape == (16, 16) and np.all(w.sum(1) == 1) and np.all(w.sum(0) == 1)
    # every left-turn column reads right-hemisphere memory one column back, and vice versa
    assert all(np.argmax(w[j]) >= 8 for j in range(8)) and all(
        np.argmax(w[j]) < 8 for j in range(8, 16)
    )
    ring = wiring.tb1_ring_inhibition()
    np.testing.assert_allclose(np.diag(ring), 0.0, atol=1e-12)
    np.testing.assert_allclose(ring[0, 4], 1.0)


def test_population_vmap_equals_one_circuit_at_a_time():
    from snnviz.core.navigation import run_population, stack_circuits

    routes = random_routes(jax.random.key(3), 3, 60)
    circuits = [RateCX(turn_gain=0.5), RateCX(noise=0.2)]
    pop_keys = jax.random.split(jax.random.key(4), 2)
    together = run_population(stack_circuits(circuits), routes, pop_keys, 40)
    for i, circuit in enumerate(circuits):
        alone = run_journeys(circuit, routes, jax.random.split(pop_keys[i], 3), 40)
        np.testing.assert_allclose(
            np.asarray(together.closest_ratio[i]), np.asarray(alone.closest_ratio), rtol=1e-5
        )


def test_decoded_distance_scale_of_the_rate_circuit_is_one():
    from snnviz.core.navigation import distance_scale

    assert distance_scale(RateCX()) == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize("n_steps", [7, 50, 123])
def test_blocked_noise_equals_step_by_step_journey(n_steps):
    # advance_journey draws each block's noise up front; journey_step draws it every step
    from snnviz.core.navigation import journey_step

    circuit = RateCX()
    route = jax.tree.map(lambda x: x[0], random_routes(jax.random.key(5), 1, 80))
    state = init_journey(circuit, route, 60, key=jax.random.key(6))
    blocked, rec = advance_journey(circuit, state, n_steps)
    step = jax.jit(lambda s: journey_step(circuit, s, jnp.float32(0.1), jnp.float32(0.15)))
    positions = []
    for _ in range(n_steps):
        state, r = step(state)
        positions.append(np.asarray(r.position))
    np.testing.assert_allclose(np.asarray(rec.position), np.stack(positions), atol=1e-5)
    np.testing.assert_allclose(
        np.asarray(blocked.cx.memory), np.asarray(state.cx.memory), atol=1e-6
    )
    np.testing.assert_array_equal(
        np.asarray(jax.random.key_data(blocked.key)), np.asarray(jax.random.key_data(state.key))
    )
