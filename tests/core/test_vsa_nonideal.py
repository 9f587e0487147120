"""Weight non-idealities: level counts, kept fractions, noise statistics, no recompilation."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnviz.core.vsa.nonideal import (
    WeightNonideality,
    add_noise,
    differential_pair,
    draw_nonideality,
    lognormal_variation,
    prune_smallest,
    quantize,
    sparsify,
)
from tests.helpers import count_compilations

SHAPE = (300, 300)


@pytest.fixture(scope="module")
def weights() -> jax.Array:
    return jax.random.normal(jax.random.PRNGKey(0), SHAPE) * 0.01


@pytest.mark.parametrize("scale", ["mse", "absmax"])
@pytest.mark.parametrize("bits", [2, 3, 4, 5])
def test_quantize_has_2_to_the_b_minus_1_symmetric_uniform_levels(weights, bits, scale):
    q = np.asarray(quantize(weights, bits, scale=scale))
    levels = np.unique(q)
    half = 2 ** (bits - 1) - 1
    step = np.diff(levels).min()
    k = levels / step
    np.testing.assert_allclose(k, np.round(k), atol=1e-3)  # on a uniform grid through 0
    assert np.abs(np.round(k)).max() <= half
    # the MSE range clips both tails, so a 90k-sample Gaussian reaches every level; absmax
    # reaches the far end on one side only
    assert levels.size == 2**bits - 1 if scale == "mse" else 2**bits - 2 <= levels.size
    np.testing.assert_array_equal(np.asarray(quantize(-weights, bits, scale=scale)), -q)


def test_absmax_quantisation_rounds_to_the_nearest_level(weights):
    w = np.asarray(weights)
    q = np.asarray(quantize(weights, 4, scale="absmax"))
    step = np.abs(w).max() / 7  # L = 2^(4-1) - 1
    assert np.abs(q - w).max() <= step / 2 + 1e-7
    assert np.abs(q).max() == pytest.approx(np.abs(w).max(), rel=1e-6)


def test_mse_scale_beats_absmax_at_low_precision(weights):
    w = np.asarray(weights)
    for bits in (2, 3):
        mse = np.mean((np.asarray(quantize(weights, bits)) - w) ** 2)
        absmax = np.mean((np.asarray(quantize(weights, bits, scale="absmax")) - w) ** 2)
        assert mse < 0.8 * absmax, (bits, mse, absmax)


def test_one_bit_is_the_sign_times_the_mean_magnitude(weights):
    w = np.asarray(weights)
    q = np.asarray(quantize(weights, 1))
    np.testing.assert_allclose(np.unique(q), [-np.abs(w).mean(), np.abs(w).mean()], rtol=1e-5)
    assert np.all(np.sign(q) == np.where(w >= 0, 1, -1))


def test_quantize_rejects_bad_bits_and_scale(weights):
    with pytest.raises(ValueError, match="bits must be in"):
        quantize(weights, 0)
    with pytest.raises(ValueError, match="scale must be"):
        quantize(weights, 3, scale="max")


def test_sparsify_keeps_the_requested_fraction_unchanged(weights):
    keep = 0.3
    s = np.asarray(sparsify(weights, keep, key=jax.random.PRNGKey(1)))
    kept = s != 0
    n = kept.size
    assert abs(kept.mean() - keep) < 4 * np.sqrt(keep * (1 - keep) / n)
    np.testing.assert_array_equal(s[kept], np.asarray(weights)[kept])
    assert np.all(np.asarray(sparsify(weights, 0.0, key=jax.random.PRNGKey(1))) == 0)
    np.testing.assert_array_equal(
        np.asarray(sparsify(weights, 1.0, key=jax.random.PRNGKey(1))), np.asarray(weights)
    )


def test_prune_smallest_keeps_the_largest_magnitudes(weights):
    p = np.asarray(prune_smallest(weights, 0.2))
    kept = p != 0
    assert kept.mean() == pytest.approx(0.2, abs=1e-3)
    w = np.abs(np.asarray(weights))
    assert w[kept].min() >= w[~kept].max()


def test_additive_noise_has_the_requested_std_relative_to_the_weights(weights):
    sigma = 0.7
    noisy = np.asarray(add_noise(weights, sigma, key=jax.random.PRNGKey(2)))
    diff = noisy - np.asarray(weights)
    rel = diff.std() / np.asarray(weights).std()
    assert rel == pytest.approx(sigma, rel=0.02)  # 90k samples: std error ~0.25 %
    assert abs(diff.mean()) < 4 * diff.std() / np.sqrt(diff.size)


def test_additive_noise_only_touches_existing_synapses(weights):
    present = jax.random.uniform(jax.random.PRNGKey(3), SHAPE) < 0.5
    sparse = jnp.where(present, weights, 0.0)
    noisy = np.asarray(add_noise(sparse, 1.0, key=jax.random.PRNGKey(4), where=present))
    absent = ~np.asarray(present)
    assert np.all(noisy[absent] == 0)
    diff = (noisy - np.asarray(sparse))[~absent]
    # std is measured over the existing synapses, not diluted by the zeros
    assert diff.std() / np.asarray(sparse)[~absent].std() == pytest.approx(1.0, rel=0.03)


def test_lognormal_variation_is_mean_preserving_and_keeps_signs(weights):
    sigma = 0.5
    varied = np.asarray(lognormal_variation(weights, sigma, key=jax.random.PRNGKey(5)))
    ratio = varied / np.asarray(weights)
    assert ratio.min() > 0  # signs kept
    assert ratio.mean() == pytest.approx(1.0, abs=4 * np.sqrt(np.exp(sigma**2) - 1) / 300)
    assert np.log(ratio).std() == pytest.approx(sigma, rel=0.02)


@pytest.mark.parametrize("levels", [2, 5, 16])
def test_differential_pair_uses_positive_conductances_on_a_grid(weights, levels):
    g_plus, g_minus, w_max = (np.asarray(a) for a in differential_pair(weights, levels))
    for g in (g_plus, g_minus):
        assert g.min() >= 0 and g.max() <= 1
        grid = g * (levels - 1)
        np.testing.assert_allclose(grid, np.round(grid), atol=1e-4)
    assert not np.any((g_plus > 0) & (g_minus > 0))  # one device of the pair carries the sign
    realised = (g_plus - g_minus) * w_max
    assert np.abs(realised - np.asarray(weights)).max() <= w_max / (2 * (levels - 1)) + 1e-7


def test_differential_pair_programming_error_has_the_requested_std(weights):
    clean, _, _ = differential_pair(weights, 64)
    noisy, _, _ = differential_pair(weights, 64, program_sigma=0.01, key=jax.random.PRNGKey(6))
    inside = (np.asarray(clean) > 0.05) & (np.asarray(clean) < 0.95)  # away from the clipping
    err = (np.asarray(noisy) - np.asarray(clean))[inside]
    assert err.std() == pytest.approx(0.01, rel=0.05)


def test_default_nonideality_is_the_identity(weights):
    out = WeightNonideality()(weights, key=jax.random.PRNGKey(7))
    np.testing.assert_array_equal(np.asarray(out), np.asarray(weights))


def test_chain_with_frozen_draws_equals_fresh_draws_from_the_same_key(weights):
    ni = WeightNonideality(bits=3, keep=0.5, noise=0.3, lognormal=0.2)
    key = jax.random.PRNGKey(8)
    fresh = ni(weights, key=key)
    frozen = ni.apply(weights, draw_nonideality(key, SHAPE))
    np.testing.assert_allclose(np.asarray(fresh), np.asarray(frozen), rtol=1e-6, atol=1e-9)
    kept = np.asarray(fresh) != 0
    assert kept.mean() == pytest.approx(0.5, abs=0.01)


def test_inactive_draws_are_skipped(weights):
    draws = draw_nonideality(jax.random.PRNGKey(9), SHAPE, needed=WeightNonideality(noise=1.0))
    assert np.all(np.asarray(draws.uniform) == 0) and np.all(np.asarray(draws.device) == 0)
    assert np.asarray(draws.noise).std() == pytest.approx(1.0, rel=0.02)


def test_changing_strengths_does_not_recompile(weights):
    apply = eqx.filter_jit(lambda ni, w, d: ni.apply(w, d))
    draws = draw_nonideality(jax.random.PRNGKey(10), SHAPE)
    apply(WeightNonideality(bits=4, keep=0.5), weights, draws)
    with count_compilations() as log:
        for bits, keep, noise in ((1, 1.0, 0), (3, 0.2, 1.5), (16, 0.9, 0.0)):
            apply(WeightNonideality(bits=bits, keep=keep, noise=noise), weights, draws)
    assert log.count == 0, log.names


def test_bad_strengths_raise_clear_errors(weights):
    with pytest.raises(ValueError, match="keep must be in"):
        WeightNonideality(keep=1.5)
    with pytest.raises(ValueError, match="noise must be in"):
        WeightNonideality(noise=-1.0)
    with pytest.raises(ValueError, match="draws have shape"):
        WeightNonideality().apply(weights, draw_nonideality(jax.random.PRNGKey(0), (3, 3)))
