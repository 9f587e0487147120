"""The hypervector algebra: FHRR phasors, bipolar (MAP) and sparse binary codes.

A hypervector is the **last** axis of an array (dimension ``D``); every function broadcasts over
leading axes and is jittable.

* FHRR (Plate's Fourier holographic reduced representation): unit phasors ``a_j = exp(i phi_j)``.
  Binding is the element-wise product (phases add), unbinding multiplies by the conjugate, so
  ``unbind(bind(a, b), b) == a`` exactly.
* Bipolar / MAP: ``+-1`` vectors; binding is again the element-wise product, and every vector is
  its own inverse.
* Leading axes broadcast explicitly, so the functions also work under
  ``jax_numpy_rank_promotion="raise"``.
* Similarity ``sim(a, b) = Re <a, conj(b)> / D`` is the cosine for both codes; two random vectors
  have similarity ``~ N(0, 1/(2D))`` (FHRR) or ``N(0, 1/D)`` (bipolar): near-orthogonal.
* Fractional power encoding (FPE, Plate 1994; Frady et al. 2021): a continuous ``x in R^k`` maps
  to ``z(x)_j = exp(i theta_j . x)``, so ``bind(z(x), z(y)) = z(x + y)`` and
  ``sim(z(x), z(y))`` is a kernel of ``x - y`` (a sinc for uniform phases).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jaxtyping import Array, Complex, Float, Int

__all__ = [
    "bind",
    "bundle",
    "cleanup",
    "fpe_encode",
    "inverse",
    "permute",
    "random_bipolar",
    "random_fpe_phases",
    "random_phasors",
    "random_sparse_binary",
    "similarity",
    "similarity_matrix",
    "unbind",
]

#: From this many queries on, complex similarity matrices use one real matmul (measured on CPU).
_STACK_FROM = 64


# --------------------------------------------------------------------------- random codes
def random_phasors(key: jax.Array, shape: int | tuple[int, ...]) -> Complex[Array, "*shape"]:
    """Unit-modulus complex64 hypervectors with phases uniform in [-pi, pi)."""
    phases = jax.random.uniform(key, _shape(shape), minval=-jnp.pi, maxval=jnp.pi)
    return jnp.exp(1j * phases).astype(jnp.complex64)


def random_bipolar(key: jax.Array, shape: int | tuple[int, ...]) -> Float[Array, "*shape"]:
    """float32 hypervectors of independent fair +-1 entries."""
    return jnp.where(jax.random.bernoulli(key, 0.5, _shape(shape)), 1.0, -1.0).astype(jnp.float32)


def random_sparse_binary(
    key: jax.Array, shape: int | tuple[int, ...], coding_level: float
) -> Float[Array, "*shape"]:
    """float32 0/1 hypervectors whose entries are 1 with probability ``coding_level`` (0 < f <= 1)."""
    if not 0.0 < float(coding_level) <= 1.0:
        raise ValueError(f"coding_level must be in (0, 1], got {coding_level!r}")
    return jax.random.bernoulli(key, coding_level, _shape(shape)).astype(jnp.float32)


def random_fpe_phases(
    key: jax.Array, dim: int, n_axes: int = 1, bandwidth: float = 1.0
) -> Float[Array, "dim n_axes"]:
    """A generic FPE basis: phases ``theta (dim, n_axes)`` uniform in ``bandwidth * [-pi, pi)``.

    With uniform phases the kernel ``sim(z(x), z(y))`` is ``prod_k sinc(bandwidth (x_k - y_k))``
    (unnormalised sinc, ``sin(pi u)/(pi u)``), so ``1/bandwidth`` is the resolution in x."""
    if dim < 1 or n_axes < 1:
        raise ValueError(f"dim and n_axes must be >= 1, got dim={dim}, n_axes={n_axes}")
    if not bandwidth > 0:
        raise ValueError(f"bandwidth must be > 0, got {bandwidth!r}")
    return bandwidth * jax.random.uniform(key, (dim, n_axes), minval=-jnp.pi, maxval=jnp.pi)


def _shape(shape: int | tuple[int, ...]) -> tuple[int, ...]:
    return (shape,) if isinstance(shape, int) else tuple(shape)


# --------------------------------------------------------------------------- operations
def bind(a: Array, b: Array) -> Array:
    """Binding: the element-wise product (FHRR phases add; bipolar signs multiply)."""
    a, b = jnp.broadcast_arrays(a, b)
    return a * b


def inverse(a: Array) -> Array:
    """The binding inverse: the complex conjugate (identity for real +-1 vectors)."""
    return jnp.conj(a) if jnp.iscomplexobj(a) else a


def unbind(c: Array, b: Array) -> Array:
    """Unbinding ``c`` by ``b``: ``c * inverse(b)``; exact for unit phasors and +-1 vectors."""
    return bind(c, inverse(b))


def bundle(vectors: Array, axis: int = 0, normalise: bool = False) -> Array:
    """Superposition: the sum over ``axis``; ``normalise=True`` projects back onto the code
    (unit phasors ``s/|s|`` for complex input, ``sign(s)`` with ties -> +1 for real input)."""
    s = jnp.sum(vectors, axis=axis)
    if not normalise:
        return s
    if jnp.iscomplexobj(s):
        mag = jnp.abs(s)
        return jnp.where(mag > 0, s / jnp.where(mag > 0, mag, 1.0), 1.0 + 0j).astype(s.dtype)
    return jnp.where(s >= 0, 1.0, -1.0).astype(s.dtype)


def permute(a: Array, shift: int = 1) -> Array:
    """Cyclic permutation of the vector axis (protects sequence positions: ``permute(a, k)`` is
    near-orthogonal to ``a`` for random ``a`` and ``k != 0 mod D``)."""
    return jnp.roll(a, shift, axis=-1)


def similarity(a: Array, b: Array) -> Float[Array, "*shape"]:
    """``Re <a, conj b> / D``: the cosine for unit phasors and +-1 vectors; broadcasts over
    leading axes."""
    return jnp.real(jnp.sum(bind(a, inverse(b)), axis=-1)) / a.shape[-1]


def similarity_matrix(queries: Array, codebook: Array) -> Float[Array, "... n"]:
    """Similarities of every query ``(..., D)`` to every codebook row ``(n, D)``: ``(..., n)``."""
    if queries.shape[-1] != codebook.shape[-1]:
        raise ValueError(
            f"queries have dimension {queries.shape[-1]} but the codebook {codebook.shape[-1]}"
        )
    dim = codebook.shape[-1]
    n_queries = math.prod(queries.shape[:-1])
    if (jnp.iscomplexobj(queries) or jnp.iscomplexobj(codebook)) and n_queries >= _STACK_FROM:
        # Re(q . conj c) = q_re . c_re + q_im . c_im: for many queries one real matmul of the
        # stacked parts is ~2.5x faster on CPU than XLA's complex matmul (for a few queries the
        # copy of the stacked codebook costs more than it saves)
        queries = jnp.concatenate([jnp.real(queries), jnp.imag(queries)], axis=-1)
        codebook = jnp.concatenate([jnp.real(codebook), jnp.imag(codebook)], axis=-1)
        return (queries @ codebook.T) / dim
    return jnp.real(queries @ inverse(codebook).T) / dim


def cleanup(query: Array, codebook: Array) -> tuple[Int[Array, "*shape"], Float[Array, "... n"]]:
    """Cleanup memory: the index of the most similar codebook row and all similarities."""
    sims = similarity_matrix(query, codebook)
    return jnp.argmax(sims, axis=-1), sims


def fpe_encode(phases: Float[Array, "D k"], x: Float[Array, "... k"]) -> Complex[Array, "... D"]:
    """Fractional power encoding ``z(x)_j = exp(i sum_k theta_jk x_k)``; ``bind(z(x), z(y)) =
    z(x + y)``. ``x`` may be a scalar when ``phases`` has one axis."""
    x = jnp.asarray(x, dtype=phases.dtype)
    if x.ndim == 0:
        x = x[None]
    if x.shape[-1] != phases.shape[-1]:
        raise ValueError(
            f"x has {x.shape[-1]} components but the FPE basis has {phases.shape[-1]} axes"
        )
    return jnp.exp(1j * (x @ phases.T)).astype(jnp.complex64)
