r"""A Loihi-style learning engine: the float rules of :mod:`.rules` run in fixed point.

What the chip changes (Davies et al. 2018; the learning engine of Loihi 1, simplified):

* **Weights** are signed integers with ``weight_bits`` bits, a mantissa
  :math:`n \in \{-L..L\}`, :math:`L = 2^{b-1}-1`, times a per-layer scale
  (here :math:`w = n \cdot w_\mathrm{max}/L`, ``weight_max`` a power of two in practice: the
  weight exponent). A weight change is added and the sum is **stochastically rounded** back
  onto the grid (unbiased: :math:`E[w'] = w + \Delta w`, so updates far below one grid step
  still act on average) and clipped to :math:`\pm w_\mathrm{max}`.
* **Traces** are unsigned integers with ``trace_bits`` bits (7 on Loihi): they jump by an
  integer impulse at a spike and decay by a stochastically rounded factor each step
  (:func:`~.fixedpoint.decay_integer`), saturating at :math:`2^{b}-1`; the rule sees
  ``trace_int * trace_scale``.
* **Learning rates** are powers of two (the chip applies them as shifts): every field named
  in a rule's ``learning_rate_fields`` is rounded to the nearest power of two in log2.
* The **third factor** (an error or reward) is a signed ``error_bits``-bit value in
  :math:`\pm` ``error_max``.

Everything has a straight-through gradient (:mod:`.fixedpoint`), so meta-learning can run
through the emulated chip, as in Stewart et al. (2024). The rule itself is unchanged:
:func:`chip_update` calls the *same* rule object as the float path.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .fixedpoint import decay_integer, power_of_two, quantise, stochastic_round
from .rules import Post, Pre, Rule

__all__ = [
    "LoihiConfig",
    "chip_rule",
    "chip_trace_step",
    "chip_update",
    "quantise_weights",
    "weight_mantissa",
]


class LoihiConfig(eqx.Module):
    """Fixed-point formats of the emulated learning engine (bits are static, ranges traced).

    ``weight_bits`` (default 8) and ``weight_max`` (largest weight magnitude, same unit as the
    float weights); ``trace_bits`` (7) and ``trace_scale`` (float value of one trace unit);
    ``error_bits`` (8) and ``error_max`` (largest third-factor magnitude).
    """

    weight_bits: int = eqx.field(static=True)
    trace_bits: int = eqx.field(static=True)
    error_bits: int = eqx.field(static=True)
    weight_max: float = eqx.field(static=True)
    trace_scale: Float[Array, ""]
    error_max: float = eqx.field(static=True)

    def __init__(
        self,
        weight_bits: int = 8,
        weight_max: float = 0.5,
        trace_bits: int = 7,
        trace_scale: ArrayLike = 1.0 / 16.0,
        error_bits: int = 8,
        error_max: float = 1.0,
    ):
        for name, bits in (("weight_bits", weight_bits), ("trace_bits", trace_bits),
                           ("error_bits", error_bits)):  # fmt: skip
            if not isinstance(bits, int) or isinstance(bits, bool) or not 2 <= bits <= 24:
                raise ValueError(
                    f"LoihiConfig: `{name}` must be an integer in [2, 24], got {bits!r}"
                )
        for name, value in (("weight_max", weight_max), ("error_max", error_max)):
            if not (np.isfinite(value) and value > 0):
                raise ValueError(
                    f"LoihiConfig: `{name}` must be a finite number > 0, got {value!r}"
                )
        self.weight_bits, self.trace_bits, self.error_bits = weight_bits, trace_bits, error_bits
        self.weight_max, self.error_max = float(weight_max), float(error_max)
        self.trace_scale = jnp.asarray(trace_scale, dtype=float)

    @property
    def weight_levels(self) -> int:
        """:math:`L = 2^{b-1} - 1`: the largest weight mantissa."""
        return 2 ** (self.weight_bits - 1) - 1

    @property
    def weight_step(self) -> float:
        """One weight grid step, ``weight_max / L``."""
        return self.weight_max / self.weight_levels

    @property
    def trace_max(self) -> int:
        """The largest trace integer, :math:`2^{b}-1`."""
        return 2**self.trace_bits - 1


def quantise_weights(
    weight: ArrayLike, config: LoihiConfig, key: PRNGKeyArray | None = None
) -> Array:
    """Weights on the chip's grid (nearest rounding without ``key``, stochastic with one),
    clipped to ``+-weight_max``; straight-through gradient inside the range."""
    return quantise(weight, bits=config.weight_bits, x_max=config.weight_max, key=key)


def weight_mantissa(weight: ArrayLike, config: LoihiConfig) -> Array:
    """The integer mantissas of on-grid weights (int32), ``round(w / weight_step)``."""
    return jnp.round(jnp.asarray(weight) / config.weight_step).astype(jnp.int32)


def chip_rule(rule: Rule, config: LoihiConfig | None = None) -> Rule:
    """``rule`` with every learning-rate field (``rule.learning_rate_fields``) rounded to the
    nearest power of two and, given a ``config``, every trace-unit field
    (``rule.trace_fields``) rounded to a multiple of ``config.trace_scale`` (straight-through
    gradients). Learning rates must be > 0."""
    for name in rule.learning_rate_fields:
        value = getattr(rule, name)
        rule = eqx.tree_at(lambda r, n=name: getattr(r, n), rule, power_of_two(value))
    if config is not None:
        for name in rule.trace_fields:
            value = getattr(rule, name)
            units = _round_straight_through(value / config.trace_scale)
            rule = eqx.tree_at(lambda r, n=name: getattr(r, n), rule, units * config.trace_scale)
    return rule


def _round_straight_through(x: ArrayLike) -> Array:
    """Nearest-integer rounding, identity gradient."""
    x = jnp.asarray(x)
    return x + jax.lax.stop_gradient(jnp.round(x) - x)


def chip_trace_step(
    trace_int: ArrayLike,
    spikes: ArrayLike,
    *,
    decay: ArrayLike,
    impulse: ArrayLike,
    config: LoihiConfig,
    key: PRNGKeyArray,
) -> Array:
    r"""One step of an integer trace: stochastically rounded decay
    :math:`x \leftarrow \mathrm{sr}(x \cdot \text{decay})`, plus the impulse (rounded to an
    integer, stochastically) at a spike, saturating at :math:`2^{b}-1`. ``decay`` is the
    float factor :math:`e^{-\Delta t/\tau}`; ``impulse`` in trace units (integers on chip)."""
    k_decay, k_impulse = jax.random.split(key)
    trace_int = jnp.asarray(trace_int)
    decayed = decay_integer(trace_int, 1.0 - jnp.asarray(decay, trace_int.dtype), k_decay)
    jump = stochastic_round(jnp.asarray(impulse, trace_int.dtype) * jnp.asarray(spikes), k_impulse)
    total = decayed + jump
    # saturate with a straight-through gradient, like the other roundings
    return total + jax.lax.stop_gradient(jnp.clip(total, 0.0, config.trace_max) - total)


def chip_update(
    rule: Rule,
    pre: Pre,
    post: Post,
    third_factor: Float[Array, " n_post"],
    weight: Float[Array, "n_post n_pre"],
    *,
    config: LoihiConfig,
    key: PRNGKeyArray,
) -> Float[Array, "n_post n_pre"]:
    r"""The new weight after one learning step on the emulated chip: the third factor is
    quantised to ``error_bits`` bits, the rule runs with power-of-two learning rates and its
    trace-unit constants on the trace grid (the same rule object as the float path), and
    :math:`w + \Delta w` is stochastically rounded onto the ``weight_bits`` grid. ``pre`` and
    ``post`` traces are expected on their integer grid already (times ``trace_scale``, see
    :func:`chip_trace_step`), ``weight`` on its grid."""
    error = quantise(third_factor, bits=config.error_bits, x_max=config.error_max)
    delta = chip_rule(rule, config)(pre, post, error, weight)
    return quantise_weights(weight + delta, config, key)
