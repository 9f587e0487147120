"""The bee's kinematics and random routes (snnviz.core.navigation.agent): closed-form terminal
speed, exact position integration, von-Mises turn statistics against Bessel-function theory,
and the AR(1) smoothing of turns."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import i0e, i1e

from snnviz.core.navigation import (
    heading_vector,
    init_agent,
    move,
    random_route,
    replay_route,
    wrap_angle,
)
from snnviz.core.navigation.agent import _von_mises_turns


def test_constant_thrust_reaches_the_closed_form_terminal_speed():
    # v* = (v* + a)(1 - d)  =>  v* = a (1 - d) / d
    state = init_agent()
    for _ in range(200):
        state = move(state, jnp.float32(0.0), jnp.float32(0.15), jnp.float32(0.15))
    assert float(jnp.linalg.norm(state.velocity)) == pytest.approx(0.15 * 0.85 / 0.15, rel=1e-4)
    # heading 0 means +y
    np.testing.assert_allclose(np.asarray(state.velocity)[0], 0.0, atol=1e-6)


def test_heading_convention_is_clockwise_from_plus_y():
    np.testing.assert_allclose(
        np.asarray(heading_vector(jnp.float32(np.pi / 2))), [1.0, 0.0], atol=1e-6
    )
    assert float(wrap_angle(jnp.float32(3 * np.pi))) == pytest.approx(-np.pi, abs=1e-5)


def test_positions_are_the_cumulative_sum_of_velocities():
    route = random_route(jax.random.key(0), 300)
    states = replay_route(route)
    np.testing.assert_allclose(
        np.asarray(states.position),
        np.cumsum(np.asarray(states.velocity), axis=0),
        rtol=1e-4,
        atol=1e-3,
    )
    assert np.all(np.abs(np.asarray(states.heading)) <= np.pi + 1e-6)


@pytest.mark.parametrize("kappa", [2.0, 100.0])
def test_von_mises_turns_match_the_mean_resultant_length(kappa):
    # E[cos(theta)] = I1(kappa) / I0(kappa) for VonMises(0, kappa); E[sin] = 0
    samples = np.asarray(_von_mises_turns(jax.random.key(1), 200_000, kappa))
    expected = i1e(kappa) / i0e(kappa)
    assert np.mean(np.cos(samples)) == pytest.approx(expected, abs=3e-3)
    assert abs(np.mean(np.sin(samples))) < 5e-3


def test_route_turns_are_ar1_smoothed_and_accelerations_bounded():
    route = random_route(jax.random.key(2), 1000, max_acceleration=0.15)
    r = np.asarray(route.rotation)
    assert r[0] == 0.0
    innovations = r[2:] - 0.4 * r[1:-1]
    # innovations are von-Mises(100) turns: spread ~ 1/sqrt(100); the smoothed turns are wider
    assert np.std(innovations) == pytest.approx(0.1, rel=0.1)
    assert np.std(r) == pytest.approx(0.1 / np.sqrt(1 - 0.4**2), rel=0.1)
    acc = np.asarray(route.acceleration)
    assert acc.min() >= 0.0 and acc.max() <= 0.15 + 1e-7 and acc.std() > 0.01
    fixed = random_route(jax.random.key(2), 100, vary_speed=False)
    np.testing.assert_allclose(np.asarray(fixed.acceleration), 0.15)


def test_bad_route_length_is_rejected():
    with pytest.raises(ValueError, match="n_steps must be >= 1"):
        random_route(jax.random.key(0), 0)
