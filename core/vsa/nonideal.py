r"""Weight non-idealities of analog / low-precision synapses, as pure jittable functions.

Every parameter (bits, kept fraction, noise levels, conductance levels) may be a traced value,
so a page can move a slider without recompiling. Random draws take an explicit PRNG key; the
same key gives the same "chip" (frozen, fixed-pattern variation, sampled once per matrix).

* :func:`quantize` - symmetric uniform quantisation to ``b`` bits with one scale per matrix:
  levels :math:`k\Delta`, :math:`k \in \{-L..L\}`, :math:`L = 2^{b-1}-1`,
  :math:`\Delta = \max|W| / L` (``2^b - 1`` levels); ``b = 1`` is binary
  :math:`\operatorname{sgn}(W)\,\overline{|W|}` (the paper's 1-bit weights, Eq. 28).
* :func:`sparsify` - keep each synapse independently with probability ``keep`` (random
  connectivity); :func:`prune_smallest` keeps the largest ``|W|`` instead (the paper's Eq. 29).
* :func:`add_noise` - additive Gaussian noise, ``sigma`` relative to the std of the weights.
* :func:`lognormal_variation` - multiplicative device-to-device variation
  :math:`W \cdot e^{\sigma\xi - \sigma^2/2}` (mean-preserving).
* :func:`differential_pair` - a weight as the difference of two positive conductances
  :math:`W \propto G^+ - G^-`, each in :math:`[0, G_\max]` with ``levels`` programmable levels
  and Gaussian programming error.
* :class:`WeightNonideality` composes sparsify -> quantise -> noise -> lognormal variation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

__all__ = [
    "NonidealityDraws",
    "WeightNonideality",
    "add_noise",
    "differential_pair",
    "draw_nonideality",
    "lognormal_variation",
    "prune_smallest",
    "quantize",
    "sparsify",
]

#: ``bits`` at or above this value means "no quantisation" in :class:`WeightNonideality`.
FLOAT_BITS = 16.0


def _as_float32(value: ArrayLike) -> Array:
    """Traced fields are float32 whatever the caller passes (an int would recompile)."""
    return jnp.asarray(value, dtype=jnp.float32)


def _check_range(name: str, value: ArrayLike, lo: float, hi: float) -> None:
    """ValueError for a concrete value outside ``[lo, hi]``; silent under tracing."""
    if isinstance(value, jax.core.Tracer):
        return
    v = float(value)
    if not lo <= v <= hi:
        raise ValueError(f"{name} must be in [{lo:g}, {hi:g}], got {v:g}")


def quantize(
    w: Float[Array, "*shape"], bits: ArrayLike, *, scale: Literal["mse", "absmax"] = "mse"
) -> Float[Array, "*shape"]:
    """Symmetric uniform quantisation to ``bits`` (>= 1) bits with one scale per matrix.

    Levels are ``k * step`` with ``k`` in ``-L..L``, ``L = 2**(bits-1) - 1`` (``2**bits - 1``
    levels), entries beyond ``L * step`` are clipped. ``scale="absmax"``: ``L * step =
    max|w|``; ``scale="mse"`` (default): the clipping range that minimises the mean squared
    quantisation error, found on a grid of 48 ranges in ``[max|w|/64, max|w|]`` using a strided
    sample of at most ~65k entries (absmax wastes most levels on rare large weights: at 2 bits
    it zeroes nearly every weight). ``bits = 1`` is binary: ``sign(w) * mean|w|`` (ties +).
    """
    _check_range("bits", bits, 1.0, 32.0)
    if scale not in ("mse", "absmax"):
        raise ValueError(f"scale must be 'mse' or 'absmax', got {scale!r}")
    bits = jnp.round(jnp.asarray(bits, dtype=w.dtype))
    half = jnp.maximum(jnp.round(2.0 ** (bits - 1.0) - 1.0), 1.0)
    w_max = jnp.max(jnp.abs(w))
    if scale == "absmax":
        limit = w_max
    else:
        sample = w.ravel()[:: max(1, w.size // 65536)]
        limits = w_max * jnp.geomspace(1.0 / 64.0, 1.0, 48, dtype=w.dtype)
        steps = jnp.where(limits > 0, limits / half, 1.0)[:, None]
        err = jnp.clip(jnp.round(sample[None, :] / steps), -half, half) * steps - sample[None, :]
        limit = limits[jnp.argmin(jnp.mean(err**2, axis=1))]
    step = jnp.where(limit > 0, limit / half, 1.0)
    uniform = jnp.clip(jnp.round(w / step), -half, half) * step
    binary = jnp.where(w >= 0, 1.0, -1.0) * jnp.mean(jnp.abs(w))
    return jnp.where(bits <= 1.0, binary, uniform)


def sparsify(
    w: Float[Array, "*shape"], keep: ArrayLike, *, key: jax.Array
) -> Float[Array, "*shape"]:
    """Keep each entry independently with probability ``keep`` in [0, 1]; zero the rest (no
    rescaling: the sign dynamics do not depend on the overall scale)."""
    _check_range("keep", keep, 0.0, 1.0)
    return jnp.where(jax.random.uniform(key, w.shape) < keep, w, 0.0)


def prune_smallest(w: Float[Array, "*shape"], keep: ArrayLike) -> Float[Array, "*shape"]:
    """Keep the fraction ``keep`` of entries with the largest ``|w|`` (the paper's Eq. 29
    threshold; ties at the threshold are kept)."""
    _check_range("keep", keep, 0.0, 1.0)
    threshold = jnp.quantile(jnp.abs(w), 1.0 - jnp.asarray(keep, dtype=w.dtype))
    return jnp.where((jnp.abs(w) >= threshold) & (jnp.asarray(keep) > 0), w, 0.0)


def add_noise(
    w: Float[Array, "*shape"],
    sigma: ArrayLike,
    *,
    key: jax.Array,
    where: Array | None = None,
) -> Float[Array, "*shape"]:
    """``w + sigma * std(w) * xi`` with standard normal ``xi``, frozen by ``key``.

    ``where`` (bool, same shape) restricts the noise and the std to existing synapses (e.g. the
    kept entries of a sparsified matrix); absent synapses stay zero."""
    _check_range("sigma", sigma, 0.0, 1e6)
    return _add_noise(w, sigma, jax.random.normal(key, w.shape, w.dtype), where)


def _add_noise(w: Array, sigma: ArrayLike, xi: Array, where: Array | None) -> Array:
    if where is None:
        where = jnp.ones(w.shape, dtype=bool)
    count = jnp.maximum(jnp.sum(where), 1)
    mean = jnp.sum(jnp.where(where, w, 0.0)) / count
    std = jnp.sqrt(jnp.sum(jnp.where(where, (w - mean) ** 2, 0.0)) / count)
    return jnp.where(where, w + jnp.asarray(sigma, dtype=w.dtype) * std * xi, w)


def lognormal_variation(
    w: Float[Array, "*shape"], sigma: ArrayLike, *, key: jax.Array
) -> Float[Array, "*shape"]:
    """Multiplicative device variation ``w * exp(sigma * xi - sigma**2 / 2)`` (lognormal with
    mean 1; signs are kept, ``log`` of the ratio has std ``sigma``)."""
    _check_range("sigma", sigma, 0.0, 10.0)
    return _lognormal(w, sigma, jax.random.normal(key, w.shape, w.dtype))


def _lognormal(w: Array, sigma: ArrayLike, xi: Array) -> Array:
    sigma = jnp.asarray(sigma, dtype=w.dtype)
    return w * jnp.exp(sigma * xi - 0.5 * sigma**2)


def differential_pair(
    w: Float[Array, "*shape"],
    levels: ArrayLike,
    *,
    program_sigma: ArrayLike = 0.0,
    key: jax.Array | None = None,
) -> tuple[Float[Array, "*shape"], Float[Array, "*shape"], Float[Array, ""]]:
    r"""Map ``w`` onto a differential pair of positive conductances (units of ``G_max``).

    ``G+ = q(max(w, 0) / w_max)``, ``G- = q(max(-w, 0) / w_max)`` where ``q`` rounds to one of
    ``levels`` (>= 2) equally spaced values in ``[0, 1]``; then each device gets a Gaussian
    programming error of std ``program_sigma`` (in units of ``G_max``, needs ``key``) and is
    clipped to ``[0, 1]``. Returns ``(G+, G-, w_max)``; the weight the array realises is
    ``(G+ - G-) * w_max``.
    """
    _check_range("levels", levels, 2.0, 1e6)
    _check_range("program_sigma", program_sigma, 0.0, 10.0)
    steps = jnp.maximum(jnp.round(jnp.asarray(levels, dtype=w.dtype)) - 1.0, 1.0)
    w_max = jnp.max(jnp.abs(w))
    scale = jnp.where(w_max > 0, w_max, 1.0)
    g_plus = jnp.round(jnp.maximum(w, 0.0) / scale * steps) / steps
    g_minus = jnp.round(jnp.maximum(-w, 0.0) / scale * steps) / steps
    if key is not None:
        k_p, k_m = jax.random.split(key)
        sigma = jnp.asarray(program_sigma, dtype=w.dtype)
        g_plus = g_plus + sigma * jax.random.normal(k_p, w.shape, w.dtype)
        g_minus = g_minus + sigma * jax.random.normal(k_m, w.shape, w.dtype)
    return jnp.clip(g_plus, 0.0, 1.0), jnp.clip(g_minus, 0.0, 1.0), w_max


class NonidealityDraws(eqx.Module):
    """The frozen random numbers of one simulated chip (same shape as the weights): ``uniform``
    decides which synapses exist, ``noise`` and ``device`` are standard normal. Draw them once
    with :func:`draw_nonideality` and re-apply new strengths cheaply (no new random numbers)."""

    uniform: Float[Array, "N M"]
    noise: Float[Array, "N M"]
    device: Float[Array, "N M"]


def draw_nonideality(
    key: jax.Array, shape: tuple[int, ...], *, needed: WeightNonideality | None = None
) -> NonidealityDraws:
    """Draw the random numbers :class:`WeightNonideality` uses for a matrix of ``shape``.

    With ``needed``, the draws an inactive non-ideality would ignore (``keep == 1``, ``noise ==
    0``, ``lognormal == 0``) are skipped at run time (zeros; ``lax.cond`` on traced values):
    drawing ``3 N^2`` random numbers costs more than the rest of an evaluation."""
    k_sparse, k_noise, k_device = jax.random.split(key, 3)
    if needed is None:
        return NonidealityDraws(
            uniform=jax.random.uniform(k_sparse, shape),
            noise=jax.random.normal(k_noise, shape),
            device=jax.random.normal(k_device, shape),
        )

    def draw(active: Array, sample: Callable[[], Array]) -> Array:
        return jax.lax.cond(active, sample, lambda: jnp.zeros(shape, jnp.float32))

    return NonidealityDraws(
        uniform=draw(needed.keep < 1.0, lambda: jax.random.uniform(k_sparse, shape)),
        noise=draw(needed.noise > 0.0, lambda: jax.random.normal(k_noise, shape)),
        device=draw(needed.lognormal > 0.0, lambda: jax.random.normal(k_device, shape)),
    )


class WeightNonideality(eqx.Module):
    """A chain of non-idealities with traced strengths: random sparsification -> quantisation
    (:func:`quantize`, MSE scale) -> additive noise on the kept synapses -> lognormal device
    variation. ``nonideality(w, key=key)`` draws fresh random numbers; ``nonideality.apply(w,
    draws)`` re-uses frozen ones (a slider move then costs a few element-wise passes).

    Attributes:
        bits: weight precision (1 = binary; ``>= 16`` = no quantisation).
        keep: fraction of synapses kept by random sparsification (1 = all).
        noise: additive Gaussian noise relative to the std of the (kept, quantised) weights.
        lognormal: sigma of the multiplicative lognormal device variation (0 = none).
    """

    bits: Float[Array, ""] = eqx.field(converter=_as_float32, default=FLOAT_BITS)
    keep: Float[Array, ""] = eqx.field(converter=_as_float32, default=1.0)
    noise: Float[Array, ""] = eqx.field(converter=_as_float32, default=0.0)
    lognormal: Float[Array, ""] = eqx.field(converter=_as_float32, default=0.0)

    def __check_init__(self) -> None:
        _check_range("bits", self.bits, 1.0, 64.0)
        _check_range("keep", self.keep, 0.0, 1.0)
        _check_range("noise", self.noise, 0.0, 1e6)
        _check_range("lognormal", self.lognormal, 0.0, 10.0)

    def apply(self, w: Float[Array, "N M"], draws: NonidealityDraws) -> Float[Array, "N M"]:
        """The non-ideal version of ``w`` using the frozen random numbers ``draws``."""
        if draws.uniform.shape != w.shape:
            raise ValueError(
                f"draws have shape {draws.uniform.shape} but the weights {w.shape}; draw them "
                "with draw_nonideality(key, w.shape)"
            )
        present = draws.uniform < self.keep
        w = jnp.where(present, w, 0.0)
        quantised = quantize(w, jnp.clip(self.bits, 1.0, 32.0))
        w = jnp.where(present & (self.bits < FLOAT_BITS), quantised, w)
        w = _add_noise(w, self.noise, draws.noise, present)
        return _lognormal(w, self.lognormal, draws.device)

    def __call__(self, w: Float[Array, "N M"], *, key: jax.Array) -> Float[Array, "N M"]:
        return self.apply(w, draw_nonideality(key, w.shape, needed=self))
