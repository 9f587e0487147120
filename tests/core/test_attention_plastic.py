"""Plastic (fast-weight) attention: equals causal linear attention in float, is causal, and its
fixed-point writes are unbiased."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnviz.core.attention.decoder import Decoder
from snnviz.core.attention.plastic import (
    FixedPointFormat,
    LinearAttention,
    PlasticAttention,
    causal_linear_attention,
    feature,
    quantise_to,
)
from tests.helpers import count_compilations

T, H, DK, DV = 11, 3, 5, 4
VARIANTS = [("identity", False), ("elu1", True), ("relu", True), ("elu1", False)]


def _qkv(seed: int = 0, t: int = T) -> tuple[jax.Array, jax.Array, jax.Array]:
    kq, kk, kv = jax.random.split(jax.random.key(seed), 3)
    return (jax.random.normal(kq, (t, H, DK)), jax.random.normal(kk, (t, H, DK)),
            jax.random.normal(kv, (t, H, DV)))  # fmt: skip


def _numpy_phi(x: np.ndarray, feature_map: str) -> np.ndarray:
    if feature_map == "identity":
        return x
    if feature_map == "relu":
        return np.maximum(x, 0.0)
    return np.where(x > 0, x + 1.0, np.exp(x))  # elu(x) + 1


def _numpy_reference(q, k, v, decay, feature_map, normalise, eps=1e-6):
    """Independent float64 loops: y_t = sum_{s<=t} decay^(t-s) (phi(k_s).phi(q_t)) v_s [/ sum]."""
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    fq, fk = _numpy_phi(q, feature_map), _numpy_phi(k, feature_map)
    out = np.zeros(v.shape)
    for t in range(q.shape[0]):
        for h in range(q.shape[1]):
            weights = np.array([decay ** (t - s) * fk[s, h] @ fq[t, h] for s in range(t + 1)])
            out[t, h] = weights @ v[: t + 1, h]
            if normalise:
                out[t, h] /= weights.sum() + eps
    return out


@pytest.mark.parametrize(("feature_map", "normalise"), VARIANTS)
@pytest.mark.parametrize("decay", [1.0, 0.8])
def test_fast_weight_form_equals_linear_attention(feature_map, normalise, decay):
    q, k, v = _qkv()
    plastic = PlasticAttention(decay, feature_map, normalise)(q, k, v)
    parallel = causal_linear_attention(q, k, v, decay=decay, feature_map=feature_map,
                                       normalise=normalise)  # fmt: skip
    reference = _numpy_reference(q, k, v, decay, feature_map, normalise)
    scale = np.abs(reference).max()
    np.testing.assert_allclose(plastic, parallel, rtol=1e-5, atol=1e-5 * scale)
    np.testing.assert_allclose(plastic, reference, rtol=1e-5, atol=1e-5 * scale)


def test_memory_is_the_decayed_sum_of_outer_products():
    q, k, v = _qkv(1)
    decay = 0.9
    _, trace = PlasticAttention(decay, "elu1", True).trace(q, k, v)
    fk = _numpy_phi(np.asarray(k, np.float64), "elu1")
    for t in (0, 4, T - 1):
        expected = sum(decay ** (t - s) * np.einsum("hv,hk->hvk", np.asarray(v[s]), fk[s])
                       for s in range(t + 1))  # fmt: skip
        np.testing.assert_allclose(trace.memory[t], expected, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(trace.normaliser[t],
                                   sum(decay ** (t - s) * fk[s] for s in range(t + 1)),
                                   rtol=1e-5)  # fmt: skip
    assert trace.memory.shape == (T, H, DV, DK)


def test_gradients_of_both_forms_agree():
    q, k, v = _qkv(2)

    def loss(kernel, q, k, v):
        return jnp.sum(jnp.sin(kernel(q, k, v)))

    g_plastic = jax.grad(loss, argnums=(1, 2, 3))(PlasticAttention(0.7, "elu1", True), q, k, v)
    g_linear = jax.grad(loss, argnums=(1, 2, 3))(LinearAttention(0.7, "elu1", True), q, k, v)
    for a, b in zip(g_plastic, g_linear, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def _fixed(kernel: PlasticAttention, q, k, v, bits=8, key=None) -> PlasticAttention:
    _, tr = kernel.trace(q, k, v)
    fmt = FixedPointFormat.from_ranges(
        qk=float(jnp.max(jnp.abs(tr.key_features)).clip(min=jnp.max(jnp.abs(tr.query_features)))),
        v=float(jnp.max(jnp.abs(v))), memory=float(jnp.max(jnp.abs(tr.memory))),
        normaliser=float(jnp.max(tr.normaliser)), bits=bits,
    )  # fmt: skip
    return kernel.with_fixed_point(fmt, key=key)


@pytest.mark.parametrize("variant", ["float", "fixed-stochastic", "fixed-nearest"])
def test_causal_later_tokens_do_not_change_earlier_outputs(variant):
    q, k, v = _qkv(3)
    kernel = PlasticAttention(0.9, "elu1", True)
    if variant != "float":
        key = jax.random.key(5) if variant == "fixed-stochastic" else None
        kernel = _fixed(kernel, q, k, v, key=key)
    t0 = 6
    q2, k2, v2 = q.at[t0].add(1.5), k.at[t0].add(-2.0), v.at[t0:].multiply(3.0)
    before, after = kernel(q, k, v), kernel(q2, k2, v2)
    np.testing.assert_array_equal(before[:t0], after[:t0])
    assert np.abs(np.asarray(before[t0:] - after[t0:])).max() > 1e-2


def test_fixed_point_values_lie_on_the_grid_and_track_float():
    q, k, v = _qkv(4, t=20)
    kernel = PlasticAttention(1.0, "elu1", True)
    float_out = np.asarray(kernel(q, k, v))
    errors = {}
    for bits in (4, 6, 8):
        fixed = _fixed(kernel, q, k, v, bits=bits, key=jax.random.key(0))
        out, tr = fixed.trace(q, k, v)
        fmt = fixed.fixed_point
        largest = 2 ** (bits - 1) - 1
        for values, which in ((tr.memory, "memory"), (tr.normaliser, "normaliser")):
            n = np.asarray(values) / float(fmt.step(which))
            np.testing.assert_allclose(n, np.round(n), atol=2e-3)
            assert np.abs(np.round(n)).max() <= largest
        n = np.asarray(tr.key_features) / float(fmt.step("qk"))  # 8-bit activations
        np.testing.assert_allclose(n, np.round(n), atol=2e-3)
        errors[bits] = np.abs(np.asarray(out) - float_out).mean() / np.abs(float_out).mean()
    # each 2 more bits of synaptic state quarter the grid step: the error must shrink clearly
    assert errors[8] < 0.05 and errors[6] > 2 * errors[8] and errors[4] > 2 * errors[6], errors


@pytest.mark.parametrize("decay", [1.0, 0.85])
def test_stochastic_rounding_of_memory_is_unbiased(decay):
    """Mean of the fixed-point memory over rounding keys equals the float memory written with the
    same (quantised) features, within 4 standard errors; nearest rounding is biased."""
    q, k, v = _qkv(6, t=8)
    k = 0.1 * k  # small writes: most are below one weight step
    base = PlasticAttention(decay, "elu1", False)
    fmt = FixedPointFormat.from_ranges(qk=4.0, v=4.0, memory=30.0, normaliser=60.0, bits=6,
                                       activation_bits=8)  # fmt: skip
    stochastic = base.with_fixed_point(fmt)

    def memory(key):
        return stochastic.with_fixed_point(fmt, key=key).trace(q, k, v)[1].memory

    keys = jax.random.split(jax.random.key(1), 2000)
    samples = np.asarray(jax.jit(jax.vmap(memory))(keys))
    _, tr = stochastic.trace(q, k, v)  # quantised features and values (nearest rounding)
    exact = np.asarray(PlasticAttention(decay, "identity", False).trace(
        tr.query_features, tr.key_features, tr.values)[1].memory)  # fmt: skip
    step = float(fmt.step("memory"))
    assert np.abs(exact).max() < 30.0  # no clipping
    mean = samples.mean(0)
    stderr = samples.std(0) / np.sqrt(len(keys)) + 1e-3 * step
    z = np.abs(mean - exact) / stderr
    assert np.mean(z < 4) > 0.999, np.sort(z.ravel())[-5:]
    assert abs(np.mean(mean - exact)) < 0.01 * step  # no systematic drift over all synapses
    nearest_bias = np.abs(np.asarray(tr.memory) - exact).max()
    assert nearest_bias > 0.5 * step  # nearest rounding drops/distorts small writes


def test_plastic_kernel_in_the_decoder_matches_the_parallel_kernel():
    model = Decoder(7, 3, d_model=16, n_heads=2, n_layers=2, max_len=12, key=jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (12, 7))
    linear = LinearAttention(0.95, "elu1", True)
    a = model(x, linear)
    b, qkv = model(x, linear.plastic(), return_qkv=True)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert a.shape == (12, 3) and len(qkv) == 2 and qkv[0][0].shape == (12, 2, 8)


def test_decay_and_ranges_are_traced_no_recompilation():
    q, k, v = _qkv(7)
    fmt = FixedPointFormat.from_ranges(qk=4.0, v=4.0, memory=20.0, normaliser=30.0)
    run = eqx.filter_jit(lambda kernel: kernel(q, k, v))
    kernel = PlasticAttention(1.0, "elu1", True, fixed_point=fmt, rounding_key=jax.random.key(0))
    run(kernel)
    with count_compilations() as log:
        run(kernel.with_decay(0.5))
        run(kernel.with_fixed_point(FixedPointFormat.from_ranges(
            qk=3.0, v=5.0, memory=10.0, normaliser=10.0), key=jax.random.key(3)))  # fmt: skip
    assert log.matching("lambda") == 0, log.names


def test_quantise_to_snaps_to_a_traced_range():
    x = jnp.linspace(-3.0, 3.0, 61)
    y = np.asarray(quantise_to(x, jnp.float32(2.0), 3))  # L = 3: step 2/3, clipped at +-2
    np.testing.assert_allclose(np.unique(y), np.array([-3, -2, -1, 0, 1, 2, 3]) * 2 / 3,
                               atol=1e-6)  # fmt: skip


def test_feature_maps():
    x = jnp.array([-2.0, 0.0, 1.5])
    np.testing.assert_allclose(feature(x, "elu1"), [np.exp(-2.0), 1.0, 2.5], rtol=1e-6)
    np.testing.assert_allclose(feature(x, "relu"), [0.0, 0.0, 1.5])


def test_bad_values_raise_clear_errors():
    with pytest.raises(ValueError, match="normalise=True needs a non-negative feature map"):
        PlasticAttention(1.0, "identity", True)
    with pytest.raises(ValueError, match=r"decay must be a scalar in \(0, 1\]"):
        PlasticAttention(1.5)
    with pytest.raises(ValueError, match="feature_map must be one of"):
        LinearAttention(1.0, "tanh")
    with pytest.raises(ValueError, match="bits must be an integer in"):
        FixedPointFormat.from_ranges(qk=1.0, v=1.0, memory=1.0, bits=1)
    with pytest.raises(ValueError, match="memory_range must be a finite scalar > 0"):
        FixedPointFormat.from_ranges(qk=1.0, v=1.0, memory=0.0)
    q, k, v = _qkv()
    with pytest.raises(ValueError, match="q, k, v must have shapes"):
        PlasticAttention()(q, k[:, :2], v)
