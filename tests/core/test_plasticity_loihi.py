"""The emulated Loihi learning engine: unbiased stochastic rounding (of values and of weight
updates), integer weights that stay in range, power-of-two learning rates, integer traces."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnviz.core.plasticity import (
    LoihiConfig,
    Post,
    Pre,
    ThreeFactor,
    chip_rule,
    chip_trace_step,
    chip_update,
    quantise_weights,
    weight_mantissa,
)
from snnviz.core.plasticity.fixedpoint import stochastic_round

N_KEYS = 4000


def test_stochastic_rounding_is_unbiased_over_many_keys():
    x = jnp.array([0.1, 2.5, -1.3, 7.99, -0.02])
    keys = jax.random.split(jax.random.key(0), N_KEYS)
    samples = np.asarray(jax.vmap(lambda k: stochastic_round(x, k))(keys))
    assert np.all(samples == np.round(samples))  # integers
    assert np.all((samples == np.floor(x)) | (samples == np.floor(x) + 1))
    frac = np.asarray(x) - np.floor(np.asarray(x))
    se = np.sqrt(frac * (1 - frac) / N_KEYS) + 1e-9
    assert np.all(np.abs(samples.mean(0) - np.asarray(x)) < 5 * se)


def _signals(error):
    pre = Pre(jnp.ones(4), jnp.array([0.25, 0.5, 1.0, 2.0]))
    post = Post(jnp.zeros(2), jnp.zeros(2), jnp.zeros(2))
    return pre, post, jnp.asarray(error)


def test_chip_weight_updates_below_one_grid_step_are_unbiased():
    config = LoihiConfig(weight_bits=8, weight_max=0.5)
    rule = ThreeFactor(eta=2.0**-10, error_threshold=0.0, surrogate_slope=1.0)
    pre, post, error = _signals([0.5, -0.25])
    w = quantise_weights(jnp.full((2, 4), 0.1), config)
    delta = np.asarray(chip_rule(rule, config)(pre, post, error, w))
    assert np.all(np.abs(delta) < config.weight_step)  # each update is a fraction of a step
    keys = jax.random.split(jax.random.key(1), N_KEYS)
    new = np.asarray(jax.vmap(lambda k: chip_update(rule, pre, post, error, w, config=config,
                                                    key=k))(keys))  # fmt: skip
    np.testing.assert_allclose(new.mean(0) - np.asarray(w), delta,
                               atol=5 * config.weight_step / np.sqrt(N_KEYS))  # fmt: skip
    steps = (new - np.asarray(w)) / config.weight_step
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-4)  # always on the grid


def test_integer_weights_stay_in_range_under_large_updates():
    config = LoihiConfig(weight_bits=6, weight_max=0.25)
    rule = ThreeFactor(eta=4.0, error_threshold=0.0)
    w = quantise_weights(jnp.zeros((2, 4)), config)
    key = jax.random.key(2)
    for i in range(20):
        error = jnp.array([1.0, -1.0]) * (1 if i % 7 else -1)
        w = chip_update(rule, *_signals(error)[:2], error, w, config=config,
                        key=jax.random.fold_in(key, i))  # fmt: skip
        mantissa = np.asarray(weight_mantissa(w, config))
        assert config.weight_levels == 31
        assert np.all(np.abs(mantissa) <= config.weight_levels)
        np.testing.assert_allclose(np.asarray(w), mantissa * config.weight_step, atol=1e-6)
    assert np.abs(np.asarray(w)).max() == pytest.approx(0.25)  # pushed to the bound, not past


def test_learning_rates_become_powers_of_two_and_offsets_land_on_the_trace_grid():
    config = LoihiConfig(trace_scale=1.0 / 8.0)
    rule = chip_rule(ThreeFactor(eta=0.03, pre_offset=jnp.array([0.3, 0.07])), config)
    assert float(rule.eta) == 2.0**-5  # 0.03 is nearest 2^-5 in log2
    for eta in (0.001, 0.7, 5.0):
        log2 = np.log2(float(chip_rule(ThreeFactor(eta=eta)).eta))
        assert log2 == round(log2) and abs(log2 - np.log2(eta)) <= 0.5
    np.testing.assert_allclose(np.asarray(rule.pre_offset), [0.25, 0.125])
    # straight-through: the rounded learning rate still has a gradient
    grad = jax.grad(lambda e: chip_rule(ThreeFactor(eta=e)).eta)(0.03)
    assert float(grad) == 1.0


def test_integer_traces_decay_geometrically_on_average_and_saturate():
    config = LoihiConfig(trace_bits=7)
    keys = jax.random.split(jax.random.key(3), N_KEYS)
    decay = 0.8

    def run(key):
        trace = jnp.asarray(100.0)
        out = []
        for t in range(6):
            trace = chip_trace_step(trace, 0.0, decay=decay, impulse=0.0, config=config,
                                    key=jax.random.fold_in(key, t))  # fmt: skip
            out.append(trace)
        return jnp.stack(out)

    traces = np.asarray(jax.vmap(run)(keys))
    assert np.all(traces == np.round(traces))
    expected = 100.0 * decay ** np.arange(1, 7)
    np.testing.assert_allclose(traces.mean(0), expected, rtol=0.02)
    full = chip_trace_step(120.0, 1.0, decay=1.0, impulse=50.0, config=config, key=keys[0])
    assert float(full) == config.trace_max == 127


def test_config_rejects_bad_formats():
    with pytest.raises(ValueError, match="weight_bits` must be an integer in"):
        LoihiConfig(weight_bits=1)
    with pytest.raises(ValueError, match="weight_max` must be a finite number > 0"):
        LoihiConfig(weight_max=0.0)
