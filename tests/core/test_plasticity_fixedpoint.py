"""Fixed-point arithmetic: grids, unbiased stochastic rounding, straight-through gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snnviz.core.plasticity.fixedpoint import (
    decay_integer,
    power_of_two,
    quantise,
    quantise_levels,
    stochastic_round,
)

KEYS = jax.random.split(jax.random.key(0), 4096)
finite = st.floats(-50.0, 50.0, allow_nan=False, width=32)


@settings(max_examples=25, deadline=None)
@given(x=finite)
def test_stochastic_round_is_unbiased_and_lands_on_neighbours(x):
    samples = np.asarray(jax.vmap(lambda k: stochastic_round(jnp.float32(x), k))(KEYS))
    x32 = float(np.float32(x))
    assert set(np.unique(samples)) <= {np.floor(x32), np.floor(x32) + 1}
    frac = x32 - np.floor(x32)
    sigma = np.sqrt(frac * (1 - frac) / len(KEYS)) + 1e-6
    assert abs(samples.mean() - x32) < 5 * sigma


@settings(max_examples=25, deadline=None)
@given(x=st.lists(finite, min_size=1, max_size=8), bits=st.integers(2, 10))
def test_quantise_grid_range_and_nearest(x, bits):
    x = np.asarray(x, np.float32)
    x_max = 3.0
    largest = 2 ** (bits - 1) - 1
    q = np.asarray(quantise(x, bits=bits, x_max=x_max))
    n = q * largest / x_max
    np.testing.assert_allclose(n, np.round(n), atol=1e-3)  # on the integer grid
    assert np.all(np.abs(q) <= x_max * (1 + 1e-6))
    inside = np.abs(x) <= x_max
    step = x_max / largest
    assert np.all(np.abs(q - x)[inside] <= step / 2 + 1e-5)  # nearest point
    np.testing.assert_allclose(q[~inside], np.sign(x[~inside]) * x_max, rtol=1e-6)


def test_stochastic_quantise_is_unbiased_inside_the_range():
    x = jnp.array([0.013, -0.4, 0.77], jnp.float32)
    mean = jax.vmap(lambda k: quantise(x, bits=4, x_max=1.0, key=k))(KEYS).mean(0)
    step = 1.0 / 7
    assert np.all(np.abs(np.asarray(mean - x)) < 5 * step / 2 / np.sqrt(len(KEYS)))


def test_levels_grid_matches_the_gain_cell_format():
    q = quantise_levels(jnp.linspace(-0.5, 1.5, 1001), levels=8, lo=0.0, hi=0.9)
    values = np.unique(np.round(np.asarray(q), 6))
    np.testing.assert_allclose(values, np.linspace(0.0, 0.9, 8), atol=1e-6)


def test_straight_through_gradients():
    x = jnp.array([0.31, -0.2, 4.0, -4.0])
    grad = jax.grad(lambda v: quantise(v, bits=8, x_max=1.0).sum())(x)
    np.testing.assert_array_equal(np.asarray(grad), [1.0, 1.0, 0.0, 0.0])
    assert float(jax.grad(lambda v: stochastic_round(v, KEYS[0]))(0.4)) == 1.0


def test_power_of_two_rounds_in_log_domain():
    np.testing.assert_array_equal(
        np.asarray(power_of_two(jnp.array([0.3, 0.011, 1.0, 5.0]))), [0.25, 2.0**-7, 1.0, 4.0]
    )
    with pytest.raises(ValueError, match="power_of_two"):
        power_of_two(jnp.array([0.5, -1.0]))


def test_integer_trace_decays_geometrically_on_average():
    def run(key):
        def step(trace, k):
            trace = decay_integer(trace, 0.1, k)
            return trace, trace

        return jax.lax.scan(step, jnp.float32(100.0), jax.random.split(key, 20))[1]

    traces = np.asarray(jax.vmap(run)(KEYS[:1024]))
    assert np.all(traces == np.round(traces))
    expected = 100.0 * 0.9 ** np.arange(1, 21)
    np.testing.assert_allclose(traces.mean(0), expected, rtol=0.03, atol=0.3)


def test_bad_formats_are_rejected():
    with pytest.raises(ValueError, match="bits"):
        quantise(1.0, bits=1, x_max=1.0)
    with pytest.raises(ValueError, match="x_max"):
        quantise(1.0, bits=8, x_max=0.0)
    with pytest.raises(ValueError, match="must be below"):
        quantise_levels(1.0, levels=4, lo=1.0, hi=1.0)


def test_traced_ranges_do_not_recompile():
    from tests.helpers import count_compilations

    fn = jax.jit(lambda x, r: quantise(x, bits=6, x_max=r))
    x = jnp.linspace(-2.0, 2.0, 9)
    fn(x, 1.0)
    with count_compilations() as log:
        q = fn(x, 2.0)
    assert log.matching("lambda") == 0, log.names
    np.testing.assert_allclose(np.asarray(q), np.asarray(quantise(x, bits=6, x_max=2.0)), atol=1e-6)
