"""Surrogate spike functions: exact Heaviside forward, backward equal to each formula, slope a
traced argument (zero cotangent, no recompilation)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnviz.core.snn import (
    SURROGATE_KINDS,
    Surrogate,
    arctan_spike,
    fast_sigmoid_spike,
    heaviside,
    surrogate_derivative,
    triangle_spike,
)
from tests.helpers import count_compilations

SPIKE_FUNCTIONS = {
    "fast_sigmoid": fast_sigmoid_spike,
    "arctan": arctan_spike,
    "triangle": triangle_spike,
}


def formula(kind: str, x: np.ndarray, k: float) -> np.ndarray:
    """The pseudo-derivatives written out independently in numpy (module docstring table)."""
    if kind == "fast_sigmoid":
        return 1.0 / (1.0 + k * np.abs(x)) ** 2
    if kind == "arctan":
        return 1.0 / (1.0 + (np.pi * k * x) ** 2)
    return np.clip(1.0 - k * np.abs(x), 0.0, None)


X_GRID = np.concatenate([np.linspace(-2.0, 2.0, 801), [0.0, 1e-12, -1e-12, 0.05, -0.05]])


def test_kinds_are_the_three_of_the_brief():
    assert set(SURROGATE_KINDS) == {"fast_sigmoid", "arctan", "triangle"}


@pytest.mark.parametrize("kind", SURROGATE_KINDS)
@pytest.mark.parametrize("slope", [0.5, 5.0, 25.0])
def test_forward_is_exactly_heaviside(kind, slope):
    x = jnp.asarray(X_GRID, jnp.float32)
    s = np.asarray(SPIKE_FUNCTIONS[kind](x, slope))
    np.testing.assert_array_equal(s, (X_GRID.astype(np.float32) >= 0).astype(np.float32))
    assert s.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(heaviside(x)), s)


@pytest.mark.parametrize("kind", SURROGATE_KINDS)
@pytest.mark.parametrize("slope", [0.5, 5.0, 25.0])
def test_gradient_equals_formula(kind, slope):
    with jax.enable_x64(True):
        x = jnp.asarray(X_GRID)
        weights = jnp.asarray(np.random.default_rng(0).normal(size=X_GRID.shape))
        grad = jax.grad(lambda v: jnp.sum(weights * SPIKE_FUNCTIONS[kind](v, slope)))(x)
        expected = np.asarray(weights) * formula(kind, X_GRID, slope)
        np.testing.assert_allclose(np.asarray(grad), expected, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(
            np.asarray(surrogate_derivative(kind, x, slope)),
            formula(kind, X_GRID, slope),
            rtol=1e-13,
            atol=1e-15,
        )


@pytest.mark.parametrize(
    ("kind", "area"), [("fast_sigmoid", 2.0), ("arctan", 1.0), ("triangle", 1.0)]
)
def test_normalisation_peak_one_and_area(kind, area):
    """Peak 1 at threshold; area 2/k (fast sigmoid) or 1/k, up to the truncated tails."""
    k, half_width = 4.0, 2000.0
    with jax.enable_x64(True):
        # sinh-spaced: fine steps at the kink at 0, coarse ones in the tails
        x = np.sinh(np.linspace(-1.0, 1.0, 2_000_001) * np.arcsinh(100 * half_width)) / 100
        d = np.asarray(surrogate_derivative(kind, x, k))
    assert float(surrogate_derivative(kind, 0.0, k)) == 1.0
    integral = np.sum((d[1:] + d[:-1]) / 2 * np.diff(x))
    tail = {  # closed-form mass outside [-L, L]
        "fast_sigmoid": 2.0 / (k * (1.0 + k * half_width)),
        "arctan": 2.0 / (np.pi * k) * (np.pi / 2 - np.arctan(np.pi * k * half_width)),
        "triangle": 0.0,
    }[kind]
    np.testing.assert_allclose(integral + tail, area / k, rtol=1e-6)


@pytest.mark.parametrize("kind", SURROGATE_KINDS)
def test_slope_gets_zero_cotangent(kind):
    x = jnp.linspace(-1.0, 1.0, 11)
    g = jax.grad(lambda k: jnp.sum(SPIKE_FUNCTIONS[kind](x, k)))(jnp.float32(3.0))
    assert g.dtype == jnp.float32
    assert float(g) == 0.0


def test_per_element_slope_broadcasts():
    x = jnp.asarray([-0.5, 0.0, 0.5])
    k = jnp.asarray([1.0, 2.0, 4.0])
    grad = jax.grad(lambda v: jnp.sum(fast_sigmoid_spike(v, k)))(x)
    np.testing.assert_allclose(np.asarray(grad), [1 / 1.5**2, 1.0, 1 / 3.0**2], rtol=1e-6)


def test_new_slope_does_not_recompile():
    @jax.jit
    def grad_sum(x, surrogate):
        return jax.grad(lambda v: jnp.sum(surrogate(v)))(x)

    x = jnp.linspace(-1.0, 1.0, 7)
    first = grad_sum(x, Surrogate("arctan", 2.0))
    with count_compilations() as log:
        second = grad_sum(x, Surrogate("arctan", 8.0))
    assert log.matching("grad_sum") == 0, log.names
    assert not np.allclose(np.asarray(first), np.asarray(second))


def test_surrogate_module_matches_functions_and_vmaps():
    x = jnp.asarray(np.random.default_rng(1).normal(size=(4, 6)), jnp.float32)
    for kind in SURROGATE_KINDS:
        sur = Surrogate(kind, 3.0)
        g_mod = jax.grad(lambda v, s=sur: jnp.sum(jax.vmap(s)(v)))(x)
        g_fun = jax.grad(lambda v, k=kind: jnp.sum(SPIKE_FUNCTIONS[k](v, 3.0)))(x)
        np.testing.assert_array_equal(np.asarray(g_mod), np.asarray(g_fun))
        np.testing.assert_allclose(np.asarray(sur.derivative(x)), np.asarray(g_fun), rtol=1e-6)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="unknown surrogate kind 'sigmoid'"):
        Surrogate("sigmoid", 1.0)
    with pytest.raises(ValueError, match=r"`slope` must be a finite number > 0, got -1.0"):
        Surrogate("triangle", -1.0)
    with pytest.raises(ValueError, match="unknown surrogate kind"):
        surrogate_derivative("relu", 0.0, 1.0)
