"""A small pre-LayerNorm decoder-only transformer whose attention kernel is pluggable.

The pages on plastic (fast-weight) attention and on gain-cell attention swap only the kernel
that turns per-token queries, keys and values into outputs; everything else (embedding,
learned positions, residual blocks with an MLP, the output head) is this module.

A kernel is any callable ``attention(q, k, v) -> out`` on arrays of shape
``(T, n_heads, d_head)`` that is causal (output ``t`` depends on tokens ``<= t`` only); an
``eqx.Module`` kernel may carry traced parameters (device constants, decay rates). The reference
kernel is scaled dot-product softmax attention over the last ``window`` tokens:

    out_t = sum_{s in W(t)} softmax_s(q_t . k_s / sqrt(d_head)) v_s,
    W(t) = {s : t - window < s <= t}
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import Array

Kernel = Callable[[Array, Array, Array], Array]
QKV = tuple[Array, Array, Array]


def causal_mask(n_tokens: int, window: int | None = None) -> Array:
    """``mask[t, s]`` is True where token ``t`` may attend to token ``s``: ``s <= t`` and, with
    a window, ``t - s < window`` (the current token and the ``window - 1`` before it)."""
    t = jnp.arange(n_tokens)[:, None]
    s = jnp.arange(n_tokens)[None, :]
    mask = s <= t
    if window is not None:
        if window < 1:
            raise ValueError(f"window must be >= 1 token, got {window}")
        mask = mask & (t - s < window)
    return mask


def causal_softmax_attention(q: Array, k: Array, v: Array, *, window: int | None = None) -> Array:
    """Causal (optionally sliding-window) scaled dot-product attention; shapes ``(T, H, d)``."""
    scores = jnp.einsum("thd,shd->hts", q, k) / math.sqrt(q.shape[-1])
    scores = jnp.where(causal_mask(q.shape[0], window), scores, -jnp.inf)
    return jnp.einsum("hts,shd->thd", jax.nn.softmax(scores, axis=-1), v)


class SoftmaxAttention(eqx.Module):
    """The ideal kernel: causal softmax attention, over a sliding window if ``window`` is set."""

    window: int | None = eqx.field(static=True, default=None)

    def __call__(self, q: Array, k: Array, v: Array) -> Array:
        return causal_softmax_attention(q, k, v, window=self.window)


#: The default kernel of :class:`Decoder`: full causal softmax attention.
SOFTMAX = SoftmaxAttention()


class DecoderBlock(eqx.Module):
    """``x + attn(LN(x))`` then ``x + MLP(LN(x))`` (GELU MLP), heads split from one projection."""

    norm_attention: eqx.nn.LayerNorm
    qkv: eqx.nn.Linear
    project: eqx.nn.Linear
    norm_mlp: eqx.nn.LayerNorm
    mlp_in: eqx.nn.Linear
    mlp_out: eqx.nn.Linear
    n_heads: int = eqx.field(static=True)

    def __init__(self, d_model: int, n_heads: int, d_mlp: int, *, key: Array) -> None:
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be a multiple of n_heads ({n_heads})")
        k_qkv, k_proj, k_in, k_out = jax.random.split(key, 4)
        self.norm_attention = eqx.nn.LayerNorm(d_model)
        self.qkv = eqx.nn.Linear(d_model, 3 * d_model, key=k_qkv)
        self.project = eqx.nn.Linear(d_model, d_model, key=k_proj)
        self.norm_mlp = eqx.nn.LayerNorm(d_model)
        self.mlp_in = eqx.nn.Linear(d_model, d_mlp, key=k_in)
        self.mlp_out = eqx.nn.Linear(d_mlp, d_model, key=k_out)
        self.n_heads = n_heads

    def split_qkv(self, x: Array) -> QKV:
        """Queries, keys and values of the normalised tokens ``x (T, d_model)``, each
        ``(T, n_heads, d_head)``."""
        n_tokens, d_model = x.shape
        qkv = jax.vmap(self.qkv)(jax.vmap(self.norm_attention)(x))
        q, k, v = jnp.split(qkv, 3, axis=-1)
        shape = (n_tokens, self.n_heads, d_model // self.n_heads)
        return q.reshape(shape), k.reshape(shape), v.reshape(shape)

    def __call__(self, x: Array, attention: Kernel) -> tuple[Array, QKV]:
        q, k, v = self.split_qkv(x)
        mixed = attention(q, k, v).reshape(x.shape)
        x = x + jax.vmap(self.project)(mixed)
        hidden = jax.nn.gelu(jax.vmap(self.mlp_in)(jax.vmap(self.norm_mlp)(x)))
        return x + jax.vmap(self.mlp_out)(hidden), (q, k, v)


class Decoder(eqx.Module):
    """Decoder-only transformer on a feature sequence ``x (T, in_dim)`` -> ``(T, out_dim)``.

    A character model passes one-hot tokens (equivalent to an embedding table); a few-shot
    classifier passes item features with a label slot. ``T <= max_len`` (learned positions).
    Batch with ``jax.vmap(lambda x: decoder(x, kernel))``.
    """

    embed: eqx.nn.Linear
    positions: Array
    blocks: tuple[DecoderBlock, ...]
    norm: eqx.nn.LayerNorm
    head: eqx.nn.Linear

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        *,
        d_model: int = 64,
        n_heads: int = 4,
        n_layers: int = 2,
        d_mlp: int | None = None,
        max_len: int = 256,
        key: Array,
    ) -> None:
        for name, value in (
            ("in_dim", in_dim), ("out_dim", out_dim), ("d_model", d_model),
            ("n_heads", n_heads), ("n_layers", n_layers), ("max_len", max_len),
        ):  # fmt: skip
            if value < 1:
                raise ValueError(f"Decoder: {name} must be >= 1, got {value}")
        k_embed, k_pos, k_head, *k_blocks = jax.random.split(key, 3 + n_layers)
        self.embed = eqx.nn.Linear(in_dim, d_model, key=k_embed)
        self.positions = 0.02 * jax.random.normal(k_pos, (max_len, d_model))
        self.blocks = tuple(
            DecoderBlock(d_model, n_heads, d_mlp or 4 * d_model, key=k) for k in k_blocks
        )
        self.norm = eqx.nn.LayerNorm(d_model)
        self.head = eqx.nn.Linear(d_model, out_dim, key=k_head)

    @property
    def max_len(self) -> int:
        return self.positions.shape[0]

    def __call__(
        self,
        x: Array,
        attention: Kernel | Sequence[Kernel] = SOFTMAX,
        *,
        return_qkv: bool = False,
    ) -> Array | tuple[Array, list[QKV]]:
        """Outputs for every position; ``attention`` is one kernel for all layers or one per
        layer. With ``return_qkv`` also each layer's ``(q, k, v)``, ``(T, n_heads, d_head)``."""
        n_tokens = x.shape[0]
        if n_tokens > self.max_len:
            raise ValueError(f"sequence of {n_tokens} tokens exceeds max_len={self.max_len}")
        kernels = list(attention) if isinstance(attention, Sequence) else None
        if kernels is not None and len(kernels) != len(self.blocks):
            raise ValueError(f"{len(kernels)} attention kernels for {len(self.blocks)} layers")
        h = jax.vmap(self.embed)(x) + self.positions[:n_tokens]
        records = []
        for index, block in enumerate(self.blocks):
            h, qkv = block(h, kernels[index] if kernels is not None else attention)
            records.append(qkv)
        out = jax.vmap(self.head)(jax.vmap(self.norm)(h))
        return (out, records) if return_qkv else out
