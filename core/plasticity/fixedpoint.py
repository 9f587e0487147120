"""Fixed-point arithmetic of neuromorphic learning engines, differentiable for training.

Digital chips such as Loihi store weights and traces as small integers and update them with
*stochastic rounding*, which is unbiased: a learning rate far below one weight step still moves
the weight on average. Every rounding here returns floats on the integer grid (so the same
rule code runs in float and in fixed point) and has a straight-through gradient (identity
where the value is inside the representable range, zero where it is clipped), so rule
hyperparameters can be meta-learned through the quantised dynamics.

    stochastic_round(x) = floor(x) + [u < x - floor(x)],  u ~ U[0, 1)  =>  E[.] = x
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from ..neurons._checks import check_order, check_positive


def _straight_through(x: Array, rounded: Array) -> Array:
    """``rounded`` in the forward pass, the gradient of ``x`` in the backward pass."""
    return x + jax.lax.stop_gradient(rounded - x)


def _as_float(x: ArrayLike) -> Array:
    x = jnp.asarray(x)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float32)


def _check_positive_int(name: str, value: int, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _round(x: Array, key: Array | None) -> Array:
    if key is None:
        return jnp.round(x)
    floor = jnp.floor(x)
    u = jax.random.uniform(key, x.shape, dtype=x.dtype)
    return floor + (u < x - floor).astype(floor.dtype)


def stochastic_round(x: ArrayLike, key: Array) -> Array:
    """Round to an integer, up with probability equal to the fractional part (unbiased).

    Straight-through gradient. ``key`` is a ``jax.random`` key; the result is a float array of
    integer values with ``x``'s shape.
    """
    x = _as_float(x)
    return _straight_through(x, _round(x, key))


def quantise_levels(
    x: ArrayLike, *, levels: int, lo: ArrayLike, hi: ArrayLike, key: Array | None = None
) -> Array:
    """Snap ``x`` to ``levels`` evenly spaced values in ``[lo, hi]`` (clipped first).

    Nearest rounding without ``key``, stochastic rounding with one. Gradient: identity inside
    ``[lo, hi]``, zero outside (straight-through estimator). ``lo`` and ``hi`` may be traced
    (a range that a slider moves does not recompile); ``levels`` is static. E.g. a gain cell's stored key with
    8 levels in [0, 0.9]: ``quantise_levels(k, levels=8, lo=0.0, hi=0.9)``.
    """
    _check_positive_int("levels", levels, 2)
    check_order("quantise_levels", "lo", lo, "hi", hi)
    x = _as_float(x)
    lo, hi = jnp.asarray(lo, x.dtype), jnp.asarray(hi, x.dtype)
    step = (hi - lo) / (levels - 1)
    clipped = jnp.clip(x, lo, hi)
    grid = lo + step * jnp.clip(_round((clipped - lo) / step, key), 0, levels - 1)
    return _straight_through(clipped, grid)


def quantise(x: ArrayLike, *, bits: int, x_max: ArrayLike, key: Array | None = None) -> Array:
    """Signed fixed point with ``bits`` bits: values ``n * x_max / L`` for integers
    ``|n| <= L = 2**(bits - 1) - 1`` (symmetric, zero representable), clipped to ``+-x_max``.

    Nearest rounding without ``key``, stochastic with one; straight-through gradient inside the
    range. ``bits=8`` gives 255 levels (the sign-magnitude range of an 8-bit Loihi weight).
    ``x_max`` may be traced; ``bits`` is static.
    """
    _check_positive_int("bits", bits, 2)
    check_positive("quantise", "x_max", x_max, "")
    largest = 2 ** (bits - 1) - 1
    x_max = jnp.asarray(x_max, _as_float(x).dtype)
    return quantise_levels(x, levels=2 * largest + 1, lo=-x_max, hi=x_max, key=key)


def power_of_two(x: ArrayLike) -> Array:
    """The nearest power of two to a positive value, rounding in log2 (a chip's learning rate
    is a shift). Straight-through gradient. Raises for concrete non-positive input."""
    x = _as_float(x)
    check_positive("power_of_two", "x", x, "")
    return _straight_through(x, jnp.exp2(jnp.round(jnp.log2(x))))


def decay_integer(trace: ArrayLike, decay: ArrayLike, key: Array) -> Array:
    """One step of an integer trace's exponential decay, ``trace * (1 - decay)`` stochastically
    rounded: the expected trace decays exactly geometrically although it stays integer."""
    trace = _as_float(trace)
    return stochastic_round(trace * (1.0 - jnp.asarray(decay, trace.dtype)), key)
