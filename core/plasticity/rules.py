r"""Local plasticity rules as pure functions of (pre-synaptic signals, post-synaptic signals,
third factor, weight) -> weight change.

Every rule is an :class:`equinox.Module` whose fields are its hyperparameters (traced arrays:
a new value never recompiles) and whose ``__call__(pre, post, third_factor, weight)`` returns
:math:`\Delta W` with the weight's shape ``(n_post, n_pre)``. The same call runs in float and
in fixed point: :func:`snnviz.core.plasticity.loihi.chip_update` quantises the signals, rounds
the learning rates to powers of two (fields named in ``learning_rate_fields``) and rounds the
result stochastically onto the integer weight grid — around this very function.

Signals (one time step; ``pre`` has shape ``(n_pre,)``, ``post`` ``(n_post,)``):

* :class:`Pre`: ``spikes`` :math:`s_j` (0/1) and ``trace`` :math:`x_j`;
* :class:`Post`: ``spikes`` :math:`s_i`, ``trace`` :math:`y_i` and ``membrane`` :math:`U_i - \vartheta`
  (the membrane relative to the threshold, for surrogate-gradient rules).

Traces (:func:`update_trace`) decay exponentially and jump at spikes,
:math:`x \leftarrow x\,e^{-\Delta t/\tau} + a\,s`, so a single spike at time 0 leaves
:math:`x(t) = a\,e^{-t/\tau}`.

Rules
-----
**Pair-based STDP** (:class:`STDP`, "all-to-all" with traces, Morrison et al. 2008):

.. math:: \Delta W_{ij} = A_+\, x_j\, s_i - A_-\, y_i\, s_j

A pre spike :math:`\Delta t = t_\mathrm{post} - t_\mathrm{pre} > 0` before a post spike gives
:math:`+A_+ e^{-\Delta t/\tau_+}` (LTP); the reverse order gives :math:`-A_- e^{-|\Delta t|/\tau_-}`
(LTD) — :func:`stdp_window` is that closed form.

**Hebbian with weight decay** (:class:`Hebbian`):
:math:`\Delta W_{ij} = \eta\, y_i x_j - \lambda W_{ij}`; with constant traces the weight
relaxes geometrically to the fixed point :math:`W^* = (\eta/\lambda)\, y x^\top`.

**Three-factor, error-triggered** (:class:`ThreeFactor`, the SOEL rule of Stewart et al. 2020,
2024): with the third factor :math:`E_i` (an error or modulatory signal per post neuron) and
a surrogate derivative :math:`\sigma'` of the spike non-linearity,

.. math:: \Delta W_{ij} = \eta\, E_i\, \sigma'(U_i - \vartheta)\, (x_j - b_j)
          \quad \text{only where } |E_i| > \theta_E

(a per-input gain belongs in the pre-trace impulse, see :class:`~.readout.PlasticReadout`;
the offset :math:`b_j`, default 0, makes it a covariance rule). The eligibility
:math:`\sigma'(U_i)x_j`
is what gradient descent on :math:`\tfrac12 \sum_i E_i^2` would use for a spiking neuron;
the threshold :math:`\theta_E` makes updates sparse (only on errors), as on chip.
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from ..snn.surrogate import fast_sigmoid_spike, surrogate_derivative

__all__ = [
    "STDP",
    "Hebbian",
    "Post",
    "Pre",
    "Rule",
    "ThreeFactor",
    "stdp_window",
    "trace_decay",
    "update_trace",
]


class Pre(NamedTuple):
    """Pre-synaptic signals of one step: ``spikes`` :math:`s_j` and ``trace`` :math:`x_j` (n_pre,)."""

    spikes: Float[Array, " n_pre"]
    trace: Float[Array, " n_pre"]


class Post(NamedTuple):
    """Post-synaptic signals of one step (n_post,): ``spikes`` :math:`s_i`, ``trace``
    :math:`y_i`, ``membrane`` :math:`U_i - \\vartheta` (relative to the threshold)."""

    spikes: Float[Array, " n_post"]
    trace: Float[Array, " n_post"]
    membrane: Float[Array, " n_post"]


def _array(value: ArrayLike) -> Array:
    return jnp.asarray(value, dtype=float)


def _check(owner: str, name: str, value: Array, *, positive: bool = False) -> None:
    """ValueError for a concrete non-finite (or non-positive) hyperparameter; silent when traced."""
    if isinstance(value, jax.core.Tracer):
        return
    v = np.asarray(value)
    if not np.all(np.isfinite(v)) or (positive and not np.all(v > 0)):
        kind = "finite and > 0" if positive else "finite"
        raise ValueError(f"{owner}: `{name}` must be {kind}, got {v.tolist()}")


def trace_decay(tau_ms: ArrayLike, dt_ms: ArrayLike) -> Array:
    r"""Per-step decay factor :math:`e^{-\Delta t/\tau}` of a trace with time constant ``tau_ms``."""
    return jnp.exp(-_array(dt_ms) / _array(tau_ms))


def update_trace(
    trace: ArrayLike, spikes: ArrayLike, *, decay: ArrayLike, impulse: ArrayLike = 1.0
) -> Array:
    r"""One step of a spike trace: :math:`x \leftarrow \text{decay}\cdot x + \text{impulse}\cdot s`
    (decay and impulse scalars or per-neuron arrays of the trace's shape)."""
    trace = jnp.asarray(trace)
    return decay * trace + impulse * jnp.asarray(spikes, trace.dtype)


class Rule(eqx.Module):
    """Base of the plasticity rules: ``rule(pre, post, third_factor, weight) -> dW``.

    ``learning_rate_fields`` names the fields a chip restricts to powers of two,
    ``trace_fields`` those it rounds onto its trace grid."""

    learning_rate_fields: ClassVar[tuple[str, ...]] = ()
    #: Fields in trace units (a chip rounds them onto its trace grid).
    trace_fields: ClassVar[tuple[str, ...]] = ()

    def __call__(
        self,
        pre: Pre,
        post: Post,
        third_factor: Float[Array, " n_post"],
        weight: Float[Array, "n_post n_pre"],
    ) -> Float[Array, "n_post n_pre"]:
        raise NotImplementedError


class STDP(Rule):
    r"""Pair-based STDP with exponential traces: :math:`\Delta W = A_+ s_\mathrm{post} x^\top
    - A_- y\, s_\mathrm{pre}^\top` (module docstring). Ignores the third factor.

    The rule reads the traces *before* this step's spikes are added (the previous step's
    traces decayed by one step, ``decay * x``; :func:`update_trace` with ``spikes = 0``), so a
    spike pair :math:`\Delta t` steps apart changes the weight by exactly
    :func:`stdp_window`, and a pre and a post spike in the same step leave it unchanged. The
    traces decay with ``tau_plus_ms`` (pre) and ``tau_minus_ms`` (post), impulse 1."""

    learning_rate_fields: ClassVar[tuple[str, ...]] = ("a_plus", "a_minus")

    a_plus: Float[Array, ""]
    a_minus: Float[Array, ""]
    tau_plus_ms: Float[Array, ""]
    tau_minus_ms: Float[Array, ""]

    def __init__(
        self,
        a_plus: ArrayLike = 0.01,
        a_minus: ArrayLike = 0.012,
        tau_plus_ms: ArrayLike = 20.0,
        tau_minus_ms: ArrayLike = 20.0,
    ):
        self.a_plus, self.a_minus = _array(a_plus), _array(a_minus)
        self.tau_plus_ms, self.tau_minus_ms = _array(tau_plus_ms), _array(tau_minus_ms)

    def __check_init__(self) -> None:
        for name in ("a_plus", "a_minus"):
            _check("STDP", name, getattr(self, name))
        for name in ("tau_plus_ms", "tau_minus_ms"):
            _check("STDP", name, getattr(self, name), positive=True)

    def trace_decays(self, dt_ms: ArrayLike) -> tuple[Array, Array]:
        """``(pre decay, post decay)`` per step for :func:`update_trace`."""
        return trace_decay(self.tau_plus_ms, dt_ms), trace_decay(self.tau_minus_ms, dt_ms)

    def __call__(self, pre: Pre, post: Post, third_factor: Array, weight: Array) -> Array:
        del third_factor
        ltp = self.a_plus * jnp.outer(post.spikes, pre.trace)
        ltd = self.a_minus * jnp.outer(post.trace, pre.spikes)
        return (ltp - ltd).astype(weight.dtype)


def stdp_window(
    delta_t_ms: ArrayLike,
    *,
    a_plus: ArrayLike = 0.01,
    a_minus: ArrayLike = 0.012,
    tau_plus_ms: ArrayLike = 20.0,
    tau_minus_ms: ArrayLike = 20.0,
) -> Array:
    r"""The closed-form STDP window for one spike pair, :math:`\Delta t = t_\mathrm{post} -
    t_\mathrm{pre}`: :math:`A_+ e^{-\Delta t/\tau_+}` for :math:`\Delta t > 0`,
    :math:`-A_- e^{\Delta t/\tau_-}` for :math:`\Delta t < 0`, 0 at :math:`\Delta t = 0`
    (spikes in the same step do not pair, see :class:`STDP`)."""
    dt = _array(delta_t_ms)
    ltp = a_plus * jnp.exp(-jnp.abs(dt) / tau_plus_ms)
    ltd = -a_minus * jnp.exp(-jnp.abs(dt) / tau_minus_ms)
    return jnp.where(dt > 0, ltp, jnp.where(dt < 0, ltd, 0.0))


class Hebbian(Rule):
    r"""Hebbian learning with weight decay, :math:`\Delta W = \eta\, y x^\top - \lambda W`
    (``eta``: learning rate, ``decay``: :math:`\lambda` per step, in [0, 1)). Fixed point
    under constant traces: :math:`(\eta/\lambda)\, y x^\top`."""

    learning_rate_fields: ClassVar[tuple[str, ...]] = ("eta", "decay")

    eta: Float[Array, ""]
    decay: Float[Array, ""]

    def __init__(self, eta: ArrayLike = 0.01, decay: ArrayLike = 0.001):
        self.eta, self.decay = _array(eta), _array(decay)

    def __check_init__(self) -> None:
        _check("Hebbian", "eta", self.eta)
        _check("Hebbian", "decay", self.decay)
        if not isinstance(self.decay, jax.core.Tracer) and not 0.0 <= float(self.decay) < 1.0:
            raise ValueError(f"Hebbian: `decay` must be in [0, 1), got {float(self.decay)}")

    def fixed_point(self, pre_trace: ArrayLike, post_trace: ArrayLike) -> Array:
        """The weight the rule converges to under constant traces, :math:`(\\eta/\\lambda) y x^\\top`."""
        return self.eta / self.decay * jnp.outer(_array(post_trace), _array(pre_trace))

    def __call__(self, pre: Pre, post: Post, third_factor: Array, weight: Array) -> Array:
        del third_factor
        return (self.eta * jnp.outer(post.trace, pre.trace) - self.decay * weight).astype(
            weight.dtype
        )


class ThreeFactor(Rule):
    r"""The error-triggered three-factor rule (SOEL) with an optional activity-gated weight
    decay:

    .. math:: \Delta W_{ij} = \eta\,\big[\tilde E_i\, \sigma'(U_i - \vartheta)\, (x_j - b_j)
              - \lambda\, |\tilde E_i|\, W_{ij}\big],
              \qquad \tilde E_i = E_i\,[\,|E_i| > \theta_E\,].

    Fields: ``eta`` learning rate :math:`\eta`; ``error_threshold`` :math:`\theta_E`;
    ``surrogate_slope`` :math:`k` of the fast-sigmoid derivative
    :math:`\sigma'(v) = 1/(1 + k|v|)^2`; ``pre_offset`` :math:`b` (scalar or one per input):
    a constant subtracted from the pre-synaptic trace (a covariance rule; Loihi's
    sum-of-products rules allow such constants, :math:`x_1 + C`); ``weight_decay``
    :math:`\lambda`: a decay gated by the error, which bounds the weights of a neuron that
    keeps receiving an error: repeated presentations of an example then converge to
    :math:`W_i = \sigma'(x - b)/\lambda` instead of growing without limit. With
    :math:`b = \lambda = 0` (the defaults) this is the plain SOEL rule. The gate is a hard step
    forward; its gradient (for meta-learning the threshold) uses a fast-sigmoid surrogate of
    slope 10.
    """

    learning_rate_fields: ClassVar[tuple[str, ...]] = ("eta",)
    trace_fields: ClassVar[tuple[str, ...]] = ("pre_offset",)

    eta: Float[Array, ""]
    error_threshold: Float[Array, ""]
    surrogate_slope: Float[Array, ""]
    pre_offset: Float[Array, "*n_pre"]
    weight_decay: Float[Array, ""]

    def __init__(
        self,
        eta: ArrayLike = 0.05,
        error_threshold: ArrayLike = 0.05,
        surrogate_slope: ArrayLike = 2.0,
        pre_offset: ArrayLike = 0.0,
        weight_decay: ArrayLike = 0.0,
    ):
        self.eta, self.error_threshold = _array(eta), _array(error_threshold)
        self.surrogate_slope, self.pre_offset = _array(surrogate_slope), _array(pre_offset)
        self.weight_decay = _array(weight_decay)

    def __check_init__(self) -> None:
        _check("ThreeFactor", "eta", self.eta)
        _check("ThreeFactor", "error_threshold", self.error_threshold)
        _check("ThreeFactor", "surrogate_slope", self.surrogate_slope, positive=True)
        _check("ThreeFactor", "pre_offset", self.pre_offset)
        _check("ThreeFactor", "weight_decay", self.weight_decay)

    def gate(self, error: Array) -> Array:
        r""":math:`H(|E| - \theta_E)` forward, a fast-sigmoid surrogate backward (so the
        threshold can be meta-learned)."""
        return fast_sigmoid_spike(jnp.abs(error) - self.error_threshold, 10.0)

    def __call__(self, pre: Pre, post: Post, third_factor: Array, weight: Array) -> Array:
        gated = self.gate(third_factor) * third_factor
        sigma = surrogate_derivative("fast_sigmoid", post.membrane, self.surrogate_slope)
        hebbian = jnp.outer(gated * sigma, pre.trace - self.pre_offset)
        decay = (self.weight_decay * jnp.abs(gated))[:, None] * weight
        return (self.eta * (hebbian - decay)).astype(weight.dtype)
