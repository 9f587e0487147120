"""Accuracy-vs-dimension sweeps in one pass.

With i.i.d. code components, the first ``d`` components of a ``D``-dimensional code are a
``d``-dimensional code. So the similarities at every ``d`` of a sweep follow from partial sums
over consecutive blocks of components (:func:`block_similarity`) by cumulative sums
(:func:`prefix_similarity`): one compilation and one pass for a whole accuracy-vs-D curve.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import jax.numpy as jnp
from jaxtyping import Array, Complex, Float

__all__ = ["block_similarity", "prefix_similarity", "sweep_block"]


def sweep_block(dims: Sequence[int]) -> int:
    """The block size of a dimension sweep: the greatest common divisor of ``dims``."""
    dims = tuple(int(d) for d in dims)
    if not dims or min(dims) < 1:
        raise ValueError(f"dims must be a non-empty sequence of integers >= 1, got {dims}")
    return functools.reduce(math.gcd, dims)


def block_similarity(
    queries: Complex[Array, "... D"], codebook: Complex[Array, "N D"], block: int
) -> Float[Array, "... N K"]:
    """Partial similarity sums ``Re sum_{j in block k} q_j conj(c_j)`` over consecutive blocks
    of ``block`` components (``K = D / block``). With i.i.d. components, the first ``d``
    components of a code are a code of dimension ``d``, so :func:`prefix_similarity` of these
    partials gives the similarity at every dimension ``d`` (a multiple of ``block``) at once."""
    dim = queries.shape[-1]
    if dim % block or codebook.shape[-1] != dim:
        raise ValueError(f"dimension {dim} (codebook {codebook.shape[-1]}) is not a multiple "
                         f"of the block {block}")  # fmt: skip
    q = queries.reshape((*queries.shape[:-1], dim // block, block))
    c = jnp.conj(codebook).reshape(codebook.shape[0], dim // block, block)
    return jnp.real(jnp.einsum("...kb,nkb->...nk", q, c))


def prefix_similarity(
    partials: Float[Array, "... K"], dims: Sequence[int], block: int
) -> Float[Array, "n_dims ..."]:
    """Similarities at each dimension ``d`` in ``dims`` from block partial sums:
    ``sum of the first d / block partials, divided by d``; stacked on a new leading axis."""
    cumulative = jnp.cumsum(partials, axis=-1)
    return jnp.stack([cumulative[..., d // block - 1] / d for d in dims])
