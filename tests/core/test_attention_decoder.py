"""The pluggable decoder: reference kernel vs numpy, causality, windows, kernels per layer."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnviz.core.attention.decoder import (
    Decoder,
    SoftmaxAttention,
    causal_mask,
    causal_softmax_attention,
)


def numpy_attention(q, k, v, window=None):
    """Loop-per-token reference: softmax over the allowed past keys of each head."""
    n_tokens, n_heads, d_head = q.shape
    out = np.zeros_like(q)
    for t in range(n_tokens):
        first = 0 if window is None else max(0, t - window + 1)
        for h in range(n_heads):
            scores = k[first : t + 1, h] @ q[t, h] / np.sqrt(d_head)
            weights = np.exp(scores - scores.max())
            out[t, h] = (weights / weights.sum()) @ v[first : t + 1, h]
    return out


@pytest.mark.parametrize("window", [None, 1, 3])
def test_softmax_kernel_matches_a_per_token_reference(window):
    q, k, v = np.random.default_rng(0).normal(size=(3, 9, 2, 5)).astype(np.float32)
    got = causal_softmax_attention(jnp.asarray(q), jnp.asarray(k), jnp.asarray(v), window=window)
    np.testing.assert_allclose(np.asarray(got), numpy_attention(q, k, v, window), atol=1e-5)


def test_mask_counts_and_bad_window():
    assert int(causal_mask(6).sum()) == 21
    assert int(causal_mask(6, window=2).sum()) == 11
    with pytest.raises(ValueError, match="window"):
        causal_mask(4, window=0)


@pytest.fixture(scope="module")
def decoder():
    return Decoder(7, 3, d_model=16, n_heads=2, n_layers=2, max_len=12, key=jax.random.key(1))


def test_outputs_are_causal(decoder):
    x = jax.random.normal(jax.random.key(2), (10, 7))
    changed = x.at[6:].add(1.0)
    out, out_changed = decoder(x), decoder(changed)
    assert out.shape == (10, 3)
    np.testing.assert_allclose(np.asarray(out[:6]), np.asarray(out_changed[:6]), atol=1e-6)
    assert not np.allclose(np.asarray(out[6:]), np.asarray(out_changed[6:]))


def test_per_layer_kernels_and_recorded_projections(decoder):
    x = jax.random.normal(jax.random.key(3), (8, 7))
    out, records = decoder(x, (SoftmaxAttention(), SoftmaxAttention()), return_qkv=True)
    np.testing.assert_allclose(np.asarray(out), np.asarray(decoder(x)), atol=1e-6)
    assert [r[0].shape for r in records] == [(8, 2, 8), (8, 2, 8)]
    windowed = decoder(x, SoftmaxAttention(window=2))
    assert not np.allclose(np.asarray(windowed[4:]), np.asarray(out[4:]))
    np.testing.assert_allclose(np.asarray(windowed[:2]), np.asarray(out[:2]), atol=1e-6)


def test_bad_configurations_are_rejected(decoder):
    with pytest.raises(ValueError, match="max_len"):
        decoder(jnp.zeros((13, 7)))
    with pytest.raises(ValueError, match="kernels"):
        decoder(jnp.zeros((4, 7)), (SoftmaxAttention(),))
    with pytest.raises(ValueError, match="multiple"):
        Decoder(3, 3, d_model=10, n_heads=4, key=jax.random.key(0))


def test_gradients_flow_to_every_layer(decoder):
    x = jax.random.normal(jax.random.key(4), (6, 7))
    grads = jax.grad(lambda m: jnp.sum(m(x) ** 2))(decoder)
    for block in grads.blocks:
        assert float(jnp.abs(block.qkv.weight).sum()) > 0
