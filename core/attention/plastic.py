r"""Self-attention computed by synaptic plasticity: a fast-weight memory written token by token.

Finkbeiner & Neftci (2024, arXiv:2410.08711) run a decoder-only transformer on Loihi 2 whose
self-attention is a *dynamic weight matrix*: every token writes its key/value pair into plastic
synapses with a local two-factor (Hebbian, outer-product) update, and the query reads the
synapses. Per head, with a feature map :math:`\phi` and a decay :math:`\lambda \in (0, 1]`:

.. math::

    M_t &= \lambda M_{t-1} + v_t\,\phi(k_t)^\top   &&(d_v \times d_k,\ \text{keys} \times \text{values})\\
    z_t &= \lambda z_{t-1} + \phi(k_t)             &&(\text{normaliser, optional})\\
    y_t &= M_t\,\phi(q_t)\ \big/\ (z_t^\top\phi(q_t) + \varepsilon)

Unrolled, :math:`y_t = \sum_{s \le t} \lambda^{t-s} (\phi(k_s)\cdot\phi(q_t))\, v_s
/ \sum_{s \le t} \lambda^{t-s} \phi(k_s)\cdot\phi(q_t)`: *causal linear attention* (Katharopoulos
et al. 2020) with an exponential forgetting mask. :func:`causal_linear_attention` computes that
as a masked matrix product (fast for training); :class:`PlasticAttention` computes it with
``lax.scan`` over tokens (the plastic form, which can also return every :math:`M_t`). In float
they agree to rounding error; the fixed-point form exists only token by token.

Feature maps (:data:`FEATURE_MAPS`): ``"identity"`` (plain outer products, scores of any sign),
``"elu1"`` (:math:`\mathrm{elu}(x) + 1 > 0`, the usual choice with the normaliser) and ``"relu"``.
The normalised variant needs a non-negative map, so that the denominator is a sum of
non-negative similarities.

**Fixed point (Loihi 2-like).** With a :class:`FixedPointFormat`, :math:`\phi(q), \phi(k), v`
are rounded to the nearest point of a signed ``activation_bits`` grid, and the synaptic state
:math:`M` (and :math:`z`) is kept on a signed ``bits`` grid (8 bits by default, like Loihi's
weights): each write :math:`\lambda M_{t-1} + v_t \phi(k_t)^\top` is rounded **stochastically**
(:func:`snnviz.core.plasticity.fixedpoint.quantise` with a key), which is unbiased, so updates
smaller than one weight step still count on average; values beyond the range are clipped. The
grids' ranges are traced arrays (recalibrating does not recompile); the numbers of bits are
static. The division by the normaliser is done in float at readout (a neuron's job, not the
synapses'). Without a rounding key the writes round to nearest (deterministic but biased:
small updates vanish).

Example (one layer's q, k, v of shape ``(T, heads, d_head)``)::

    kernel = PlasticAttention(feature_map="elu1", normalise=True)
    out = kernel(q, k, v)                               # == causal_linear_attention(...)
    out, trace = kernel.trace(q, k, v)                  # trace.memory: (T, heads, d_v, d_k)
    fixed = kernel.with_fixed_point(FixedPointFormat.from_ranges(
        qk=4.0, v=3.0, memory=20.0, normaliser=30.0), key=jax.random.key(0))
    out_8bit = fixed(q, k, v)
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from ..plasticity.fixedpoint import quantise

FeatureMap = Literal["identity", "elu1", "relu"]
FEATURE_MAPS: tuple[str, ...] = ("identity", "elu1", "relu")
_POSITIVE_MAPS = ("elu1", "relu")
DEFAULT_EPS = 1e-6


def feature(x: Array, feature_map: str) -> Array:
    r"""Apply the feature map :math:`\phi` elementwise (see :data:`FEATURE_MAPS`)."""
    if feature_map == "identity":
        return x
    if feature_map == "elu1":
        return jax.nn.elu(x) + 1.0
    if feature_map == "relu":
        return jax.nn.relu(x)
    raise ValueError(f"feature_map must be one of {FEATURE_MAPS}, got {feature_map!r}")


def _check_structure(feature_map: str, normalise: bool) -> None:
    if feature_map not in FEATURE_MAPS:
        raise ValueError(f"feature_map must be one of {FEATURE_MAPS}, got {feature_map!r}")
    if normalise and feature_map not in _POSITIVE_MAPS:
        raise ValueError(
            f"normalise=True needs a non-negative feature map {_POSITIVE_MAPS} (the denominator "
            f"sums similarities), got feature_map={feature_map!r}"
        )


def _check_decay(decay: ArrayLike) -> None:
    if isinstance(decay, jax.core.Tracer):
        return
    value = np.asarray(decay)
    if value.ndim != 0 or not 0 < float(value) <= 1:
        raise ValueError(f"decay must be a scalar in (0, 1] (1: no forgetting), got {decay!r}")


def _check_qkv(q: Array, k: Array, v: Array) -> None:
    if q.ndim != 3 or k.shape != q.shape or v.shape[:2] != q.shape[:2] or v.ndim != 3:
        raise ValueError(
            "q, k, v must have shapes (T, heads, d_k), (T, heads, d_k), (T, heads, d_v); got "
            f"{q.shape}, {k.shape}, {v.shape}"
        )


def causal_linear_attention(
    q: Array,
    k: Array,
    v: Array,
    *,
    decay: ArrayLike = 1.0,
    feature_map: FeatureMap = "identity",
    normalise: bool = False,
    eps: float = DEFAULT_EPS,
) -> Array:
    r"""Causal linear attention as a masked matrix product (the parallel form).

    :math:`A_{ts} = \lambda^{t-s}\,\phi(q_t)\cdot\phi(k_s)` for :math:`s \le t` (else 0),
    ``out = A v`` (divided by :math:`\sum_s A_{ts} + \varepsilon` when ``normalise``).
    Shapes ``(T, heads, d)``; returns ``(T, heads, d_v)``. ``decay`` may be traced.
    """
    _check_structure(feature_map, normalise)
    _check_qkv(q, k, v)
    _check_decay(decay)
    fq, fk = feature(q, feature_map), feature(k, feature_map)
    n_tokens = q.shape[0]
    lag = jnp.arange(n_tokens)[:, None] - jnp.arange(n_tokens)[None, :]
    decay = jnp.asarray(decay, fq.dtype)
    mask = jnp.where(lag >= 0, decay ** jnp.maximum(lag, 0).astype(fq.dtype), 0.0)
    scores = jnp.einsum("thd,shd->hts", fq, fk) * mask[None]
    out = jnp.einsum("hts,shd->thd", scores, v)
    if normalise:
        out = out / (jnp.sum(scores, axis=-1).T[:, :, None] + eps)
    return out


class LinearAttention(eqx.Module):
    """Float causal linear attention in its parallel form (:func:`causal_linear_attention`), a
    kernel for :class:`~snnviz.core.attention.decoder.Decoder`; use it to *train*, then deploy
    the same parameters token by token with :meth:`plastic`."""

    decay: Array = eqx.field(converter=jnp.asarray, default=1.0)
    feature_map: str = eqx.field(static=True, default="identity")
    normalise: bool = eqx.field(static=True, default=False)
    eps: float = eqx.field(static=True, default=DEFAULT_EPS)

    def __check_init__(self) -> None:
        _check_structure(self.feature_map, self.normalise)
        _check_decay(self.decay)

    def __call__(self, q: Array, k: Array, v: Array) -> Array:
        return causal_linear_attention(
            q, k, v, decay=self.decay, feature_map=self.feature_map,  # type: ignore[arg-type]
            normalise=self.normalise, eps=self.eps,
        )  # fmt: skip

    def plastic(self) -> PlasticAttention:
        """The same attention as a token-by-token plastic kernel (float)."""
        return PlasticAttention(
            decay=self.decay, feature_map=self.feature_map, normalise=self.normalise, eps=self.eps
        )


class FixedPointFormat(eqx.Module):
    """Number formats of a fixed-point plastic kernel: signed grids ``n * range / L`` with
    ``L = 2**(bits - 1) - 1``, clipped to ``[-range, range]``.

    ``bits`` (static) is the width of the synaptic state M and z; ``activation_bits`` (static)
    the width of phi(q), phi(k) and v. The ranges are traced float32 scalars: ``qk_range`` for
    phi(q) and phi(k), ``v_range`` for v, ``memory_range`` for M, ``normaliser_range`` for z
    (all in the units of the activations; dimensionless).
    """

    qk_range: Array = eqx.field(converter=jnp.asarray)
    v_range: Array = eqx.field(converter=jnp.asarray)
    memory_range: Array = eqx.field(converter=jnp.asarray)
    normaliser_range: Array = eqx.field(converter=jnp.asarray)
    bits: int = eqx.field(static=True, default=8)
    activation_bits: int = eqx.field(static=True, default=8)

    def __check_init__(self) -> None:
        for name in ("bits", "activation_bits"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 2 <= value <= 24:
                raise ValueError(f"FixedPointFormat: {name} must be an integer in [2, 24], "
                                 f"got {value!r}")  # fmt: skip
        for name in ("qk_range", "v_range", "memory_range", "normaliser_range"):
            value = getattr(self, name)
            if isinstance(value, jax.core.Tracer):
                continue
            value = np.asarray(value)
            if value.ndim != 0 or not (np.isfinite(value) and float(value) > 0):
                raise ValueError(f"FixedPointFormat: {name} must be a finite scalar > 0, "
                                 f"got {value!r}")  # fmt: skip

    @classmethod
    def from_ranges(
        cls,
        *,
        qk: float,
        v: float,
        memory: float,
        normaliser: float = 1.0,
        bits: int = 8,
        activation_bits: int = 8,
    ) -> FixedPointFormat:
        """A format from plain numbers (float32 ranges)."""
        f32 = jnp.float32
        return cls(f32(qk), f32(v), f32(memory), f32(normaliser), bits, activation_bits)

    def step(self, which: Literal["qk", "v", "memory", "normaliser"]) -> Array:
        """The grid step (value of one least significant bit) of a quantity."""
        bits = self.bits if which in ("memory", "normaliser") else self.activation_bits
        return getattr(self, f"{which}_range") / (2 ** (bits - 1) - 1)


def quantise_to(x: Array, value_range: Array, bits: int, key: Array | None = None) -> Array:
    """``x`` on the signed ``bits`` grid spanning ``[-value_range, value_range]`` (a traced
    range): :func:`~snnviz.core.plasticity.fixedpoint.quantise`, nearest rounding without
    ``key``, unbiased stochastic rounding with one (straight-through gradient)."""
    return quantise(x, bits=bits, x_max=value_range, key=key)


class PlasticTrace(NamedTuple):
    """What the plastic kernel wrote: the memory after every token ``(T, heads, d_v, d_k)``
    and the normaliser ``(T, heads, d_k)`` (zeros when the kernel is not normalised), plus the
    (quantised, in fixed point) features and values that were written/read."""

    memory: Array
    normaliser: Array
    query_features: Array
    key_features: Array
    values: Array


class PlasticAttention(eqx.Module):
    r"""Attention as plasticity: the fast-weight memory ``M`` written per token by the
    outer-product rule and read by the queries (see the module docstring for the equations).

    A causal kernel ``kernel(q, k, v) -> out`` for the Decoder (shapes ``(T, heads, d)``), run as
    ``lax.scan`` over tokens with carry ``(M, z)``::

        def step((M, z), (q_t, k_t, v_t)):
            M = decay * M + outer(v_t, phi(k_t));  z = decay * z + phi(k_t)
            return (M, z), M @ phi(q_t) / (z . phi(q_t) + eps)

    ``fixed_point`` (a :class:`FixedPointFormat`) switches to integer-grid arithmetic;
    ``rounding_key`` makes the writes stochastically rounded (per token and per element
    independent uniforms); without it they round to nearest. ``decay`` is traced.
    """

    decay: Array = eqx.field(converter=jnp.asarray, default=1.0)
    feature_map: str = eqx.field(static=True, default="identity")
    normalise: bool = eqx.field(static=True, default=False)
    eps: float = eqx.field(static=True, default=DEFAULT_EPS)
    fixed_point: FixedPointFormat | None = None
    rounding_key: Array | None = None

    def __check_init__(self) -> None:
        _check_structure(self.feature_map, self.normalise)
        _check_decay(self.decay)

    def with_fixed_point(
        self, fixed_point: FixedPointFormat | None, *, key: Array | None = None
    ) -> PlasticAttention:
        """A copy with another number format (None: float) and rounding key."""
        return PlasticAttention(self.decay, self.feature_map, self.normalise, self.eps,
                                fixed_point, key)  # fmt: skip

    def with_decay(self, decay: ArrayLike) -> PlasticAttention:
        """A copy with another decay (traced: no recompilation)."""
        return PlasticAttention(decay, self.feature_map, self.normalise, self.eps,
                                self.fixed_point, self.rounding_key)  # fmt: skip

    def __call__(self, q: Array, k: Array, v: Array) -> Array:
        return self._run(q, k, v, record=False)[0]

    def trace(self, q: Array, k: Array, v: Array) -> tuple[Array, PlasticTrace]:
        """Outputs ``(T, heads, d_v)`` and the :class:`PlasticTrace` of every token."""
        out, trace = self._run(q, k, v, record=True)
        assert trace is not None
        return out, trace

    def _inputs(self, q: Array, k: Array, v: Array) -> tuple[Array, Array, Array]:
        fq, fk = feature(q, self.feature_map), feature(k, self.feature_map)
        fp = self.fixed_point
        if fp is None:
            return fq, fk, v
        bits = fp.activation_bits
        return (quantise_to(fq, fp.qk_range, bits), quantise_to(fk, fp.qk_range, bits),
                quantise_to(v, fp.v_range, bits))  # fmt: skip

    def _run(
        self, q: Array, k: Array, v: Array, *, record: bool
    ) -> tuple[Array, PlasticTrace | None]:
        _check_qkv(q, k, v)
        fq, fk, vv = self._inputs(q, k, v)
        n_tokens, n_heads, d_k = fk.shape
        d_v = vv.shape[-1]
        decay = self.decay.astype(fk.dtype)
        fp = self.fixed_point
        stochastic = fp is not None and self.rounding_key is not None
        keys = (jax.random.split(self.rounding_key, (n_tokens, 2)) if stochastic
                else jnp.zeros((n_tokens, 2), jnp.uint32))  # fmt: skip

        def step(carry: tuple[Array, Array], inputs: tuple[Array, ...]) -> tuple:
            memory, normaliser = carry
            fq_t, fk_t, v_t, keys_t = inputs
            memory = decay * memory + jnp.einsum("hv,hk->hvk", v_t, fk_t)
            normaliser = decay * normaliser + fk_t
            if fp is not None:
                key_m, key_z = (keys_t[0], keys_t[1]) if stochastic else (None, None)
                memory = quantise_to(memory, fp.memory_range, fp.bits, key_m)
                normaliser = quantise_to(normaliser, fp.normaliser_range, fp.bits, key_z)
            out = jnp.einsum("hvk,hk->hv", memory, fq_t)
            if self.normalise:
                out = out / (jnp.einsum("hk,hk->h", normaliser, fq_t)[:, None] + self.eps)
            return (memory, normaliser), ((out, memory, normaliser) if record else out)

        init = (jnp.zeros((n_heads, d_v, d_k), fk.dtype), jnp.zeros((n_heads, d_k), fk.dtype))
        _, outputs = jax.lax.scan(step, init, (fq, fk, vv, keys))
        if not record:
            return outputs, None
        out, memory, normaliser = outputs
        if not self.normalise:
            normaliser = jnp.zeros_like(normaliser)
        return out, PlasticTrace(memory, normaliser, fq, fk, vv)
