r"""Fast per-step Poisson counts for the external drive of a large network.

``jax.random.poisson`` costs ~1 ms per step for 10,000 neurons on a 2-core CPU and threefry
uniforms ~0.09 ms, more than a whole network step may take. Here each step draws one uniform per
neuron from a *counter-based hash* and inverts the Poisson CDF:

* uniforms: :math:`u_i = h(h(h(i \phi \oplus s_1) + t c_1 + k c_2) \oplus s_2) / 2^{32}` with
  ``h`` the "lowbias32" integer finaliser (a bijection of 32-bit words with full avalanche), a
  per-run 64-bit seed ``(s_1, s_2)`` drawn from the JAX key, the step counter ``t`` and a part
  index ``k``; 24 bits are kept, so ``u`` lies on the float32 grid ``j / 2^24``;
* counts: :math:`n_i = \#\{j : u_i \ge F(j)\}` with ``F`` the Poisson CDF, tabulated once per
  chunk for ``j < 64``. Only the first 16 entries are compared unless some ``u_i`` lies beyond
  ``F(15)`` (a ``lax.cond`` then compares all 64).
* a mean above :data:`MAX_PART_MEAN` is split into ``m`` equal parts (a sum of independent
  Poisson counts is Poisson), each drawn with its own uniform, so the table never truncates
  more than ``P(X >= 64 | 25) ~ 1e-11`` of the mass.

The result is exact up to the ``2^{-24}`` resolution of ``u`` (each count probability is off by
less than ``6e-8``).
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import lax
from jax.scipy.special import gammaln
from jaxtyping import Array, Float, Int, UInt32

TABLE_SIZE = 64
SHORT_TABLE = 16
MAX_PART_MEAN = 25.0


def _lowbias32(x: UInt32[Array, ...]) -> UInt32[Array, ...]:
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def hash_uniform(
    seed: UInt32[Array, " 2"], step: Int[Array, ""], n: int, part: Int[Array, ""] | int = 0
) -> Float[Array, " n"]:
    """``n`` uniforms in ``[0, 1)`` for ``(step, part)`` of the stream ``seed`` (24-bit grid)."""
    i = jnp.arange(n, dtype=jnp.uint32)
    t = jnp.asarray(step).astype(jnp.uint32)
    k = jnp.asarray(part).astype(jnp.uint32)
    x = _lowbias32((i * jnp.uint32(0x9E3779B9)) ^ seed[0])
    x = x + t * jnp.uint32(0x85EBCA6B) + k * jnp.uint32(0xC2B2AE35)
    x = _lowbias32(_lowbias32(x) ^ seed[1])
    return (x >> 8).astype(jnp.float32) * jnp.float32(2.0**-24)


def split_mean(lam: Float[Array, ""]) -> tuple[Int[Array, ""], Float[Array, ""]]:
    """``(m, lam / m)``: the number of parts and the mean per part (``<= MAX_PART_MEAN``)."""
    lam = jnp.maximum(jnp.asarray(lam, jnp.float32), 0.0)
    parts = jnp.maximum(jnp.ceil(lam / MAX_PART_MEAN), 1.0)
    return parts.astype(jnp.int32), lam / parts


def poisson_cdf_table(lam: Float[Array, ""]) -> Float[Array, " 64"]:
    """``F(j) = P(X <= j)`` for ``X ~ Poisson(lam)``, ``j = 0 .. 63`` (``lam <= 25``).

    Normalised over the table so the last entry is exactly 1 (every ``u < 1`` is inverted).
    """
    lam = jnp.asarray(lam, jnp.float32)
    j = jnp.arange(TABLE_SIZE, dtype=jnp.float32)
    log_pmf = j * jnp.log(jnp.maximum(lam, 1e-30)) - lam - gammaln(j + 1.0)
    pmf = jnp.where(lam > 0, jnp.exp(log_pmf - jnp.max(log_pmf)), (j == 0).astype(jnp.float32))
    cdf = jnp.cumsum(pmf)
    return cdf / cdf[-1]


def poisson_counts_fast(
    seed: UInt32[Array, " 2"],
    step: Int[Array, ""],
    cdf: Float[Array, " 64"],
    parts: Int[Array, ""],
    n: int,
) -> Float[Array, " n"]:
    """Poisson counts for ``n`` neurons at step ``step``: the sum of ``parts`` draws from the
    table ``cdf`` (see :func:`split_mean` and :func:`poisson_cdf_table`)."""

    def count(u, size):
        return jnp.sum(u[:, None] >= cdf[None, :size], axis=1, dtype=jnp.int32)

    def draw(part):
        u = hash_uniform(seed, step, n, part)
        return lax.cond(
            jnp.any(u >= cdf[SHORT_TABLE - 1]),
            lambda: count(u, TABLE_SIZE),
            lambda: count(u, SHORT_TABLE),
        )

    total = draw(0)
    total = lax.cond(  # extra parts only for a large mean; skip the loop set-up otherwise
        parts > 1,
        lambda c: lax.fori_loop(1, parts, lambda k, acc: acc + draw(k), c),
        lambda c: c,
        total,
    )
    return total.astype(jnp.float32)
