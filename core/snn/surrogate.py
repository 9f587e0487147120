r"""Surrogate spike functions: an exact Heaviside step forward, a smooth pseudo-derivative backward.

A spiking layer emits :math:`s = H(x)` with :math:`x = U - \theta` and :math:`H(x) = 1` for
:math:`x \ge 0`, else 0 (the engine's ``V >= V_th`` convention). :math:`H` has zero derivative
almost everywhere, so backpropagation replaces :math:`H'(x)` by a surrogate
:math:`\sigma'_k(x)` of slope (sharpness) :math:`k` (Neftci, Mostafa & Zenke 2019):

=================  =====================================  ======  ===============  =========
kind               :math:`\sigma'_k(x)`                    peak    area             support
=================  =====================================  ======  ===============  =========
``fast_sigmoid``   :math:`1 / (1 + k|x|)^2` (SuperSpike)  1       :math:`2/k`      all x
``arctan``         :math:`1 / (1 + (\pi k x)^2)`           1       :math:`1/k`      all x
``triangle``       :math:`\max(0,\, 1 - k|x|)`             1       :math:`1/k`      |x| < 1/k
=================  =====================================  ======  ===============  =========

All three are normalised to a peak of 1 at threshold (so a larger ``k`` narrows the window
without changing the peak gradient). Each is a :func:`jax.custom_vjp` of ``(x, slope)``: the
slope is an ordinary traced array argument with a zero cotangent, so changing it never
recompiles a jitted function and never receives a gradient.

>>> s = fast_sigmoid_spike(u - theta, 10.0)  # forward: exactly (u >= theta)
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

__all__ = [
    "SURROGATE_KINDS",
    "Surrogate",
    "arctan_spike",
    "fast_sigmoid_spike",
    "heaviside",
    "surrogate_derivative",
    "triangle_spike",
]


def heaviside(x: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
    """:math:`H(x) = 1` for ``x >= 0`` else 0, in ``x``'s dtype (the forward of every surrogate)."""
    return (x >= 0).astype(x.dtype)


def _fast_sigmoid_derivative(x: Array, slope: Array) -> Array:
    return 1.0 / (1.0 + slope * jnp.abs(x)) ** 2


def _arctan_derivative(x: Array, slope: Array) -> Array:
    return 1.0 / (1.0 + (jnp.pi * slope * x) ** 2)


def _triangle_derivative(x: Array, slope: Array) -> Array:
    return jnp.maximum(0.0, 1.0 - slope * jnp.abs(x))


_DERIVATIVES: dict[str, Callable[[Array, Array], Array]] = {
    "fast_sigmoid": _fast_sigmoid_derivative,
    "arctan": _arctan_derivative,
    "triangle": _triangle_derivative,
}
#: The surrogate kinds, in the order a page lists them.
SURROGATE_KINDS: tuple[str, ...] = tuple(_DERIVATIVES)


def _check_kind(kind: str) -> None:
    if kind not in _DERIVATIVES:
        raise ValueError(f"unknown surrogate kind {kind!r}; choose one of {SURROGATE_KINDS}")


def surrogate_derivative(kind: str, x: ArrayLike, slope: ArrayLike) -> Array:
    r"""The pseudo-derivative :math:`\sigma'_k(x)` of surrogate ``kind`` (table in the module
    docstring); what the backward pass of the matching spike function multiplies by."""
    _check_kind(kind)
    x = jnp.asarray(x)
    return _DERIVATIVES[kind](x, jnp.asarray(slope, x.dtype))


def _spike_function(kind: str) -> Callable[[Array, Array], Array]:
    derivative = _DERIVATIVES[kind]

    @jax.custom_vjp
    def spike(x: Array, slope: Array) -> Array:
        return heaviside(x)

    def forward(x: Array, slope: Array) -> tuple[Array, tuple[Array, Array]]:
        return heaviside(x), (x, slope)

    def backward(residuals: tuple[Array, Array], cotangent: Array) -> tuple[Array, Array]:
        x, slope = residuals
        return cotangent * derivative(x, slope), jnp.zeros_like(slope)

    spike.defvjp(forward, backward)
    return spike


_SPIKE_FUNCTIONS = {kind: _spike_function(kind) for kind in SURROGATE_KINDS}


def _apply(kind: str, x: ArrayLike, slope: ArrayLike) -> Array:
    x = jnp.asarray(x)
    return _SPIKE_FUNCTIONS[kind](x, jnp.asarray(slope, x.dtype))


def fast_sigmoid_spike(x: ArrayLike, slope: ArrayLike) -> Array:
    r"""Spikes :math:`H(x)`; backward :math:`1/(1 + k|x|)^2` (SuperSpike, Zenke & Ganguli 2018).

    ``slope`` (``k``) is a scalar or broadcasts against ``x`` with equal rank; it is traced."""
    return _apply("fast_sigmoid", x, slope)


def arctan_spike(x: ArrayLike, slope: ArrayLike) -> Array:
    r"""Spikes :math:`H(x)`; backward :math:`1/(1 + (\pi k x)^2)` (peak 1, area :math:`1/k`)."""
    return _apply("arctan", x, slope)


def triangle_spike(x: ArrayLike, slope: ArrayLike) -> Array:
    r"""Spikes :math:`H(x)`; backward :math:`\max(0, 1 - k|x|)` (peak 1, area :math:`1/k`)."""
    return _apply("triangle", x, slope)


class Surrogate(eqx.Module):
    """A surrogate spike function as a module: ``kind`` is structural (static; a new kind
    recompiles), ``slope`` a traced array (a new value does not).

    ``Surrogate("arctan", 5.0)(u - theta)`` gives the spikes; :meth:`derivative` the
    pseudo-derivative used by the backward pass.
    """

    kind: str = eqx.field(static=True)
    slope: Float[Array, ""]

    def __init__(self, kind: str = "fast_sigmoid", slope: ArrayLike = 10.0):
        _check_kind(kind)
        self.kind = kind
        self.slope = jnp.asarray(slope, dtype=float)

    def __check_init__(self) -> None:
        if not isinstance(self.slope, jax.core.Tracer):
            value = np.asarray(self.slope)
            if not (np.all(np.isfinite(value)) and np.all(value > 0)):
                raise ValueError(
                    f"Surrogate: `slope` must be a finite number > 0, got {value.tolist()}"
                )

    def __call__(self, x: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        """Spikes :math:`H(x)` with this surrogate's backward pass."""
        return _apply(self.kind, x, self.slope)

    def derivative(self, x: ArrayLike) -> Array:
        r""":math:`\sigma'_k(x)` of this surrogate (see :func:`surrogate_derivative`)."""
        return surrogate_derivative(self.kind, x, self.slope)
