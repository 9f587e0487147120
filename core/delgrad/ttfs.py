r"""Closed-form first-spike time of a current-based LIF neuron with :math:`\tau_m = 2\tau_s`.

The neuron (Göltz et al. 2021, *Nat. Mach. Intell.*; used by DelGrad, Göltz et al. 2025):

.. math::

    \tau_m \frac{dV}{dt} = -V + I, \qquad \tau_s \frac{dI}{dt} = -I, \qquad
    I \mathrel{+}= w_i \text{ when input } i \text{ arrives at } a_i, \qquad \tau_m = 2\tau_s .

``V`` is measured in units where the threshold is :math:`\theta` (default 1) and weights are
dimensionless (a physical weight ``w_pA`` maps to ``w = w_pA R`` with ``R = τ_m / C_m``,
divided by the threshold distance). Each input adds the post-synaptic potential

.. math::

    V(t) = \sum_{i: a_i \le t} w_i\, \kappa(t - a_i), \qquad
    \kappa(s) = e^{-s/\tau_m} - e^{-s/\tau_s} \quad (\max \kappa = 1/4 \text{ at } s = \tau_m \ln 2).

**Closed form.** For the *causal set* ``C`` (inputs that arrived before the spike), take the
last arrival :math:`r = \max_{i \in C} a_i` as time origin and :math:`x = e^{-(t - r)/\tau_m}`.
Because :math:`e^{-(t-r)/\tau_s} = x^2`,

.. math::

    V = A x - B x^2, \quad A = \sum_{i\in C} w_i e^{-(r-a_i)/\tau_m}, \quad
    B = \sum_{i\in C} w_i e^{-(r-a_i)/\tau_s},

and :math:`V = \theta` is a quadratic in ``x``. The earliest upward crossing is the larger root

.. math::

    x^* = \frac{A + \sqrt{A^2 - 4B\theta}}{2B}, \qquad t^* = r - \tau_m \ln x^*,

which exists when ``B > 0``, ``A > 0`` and ``A² ≥ 4Bθ`` (this form has no cancellation).
No Lambert-W function is needed (that is the :math:`\tau_m = \tau_s` variant).

**Causal-set selection.** Sort the arrivals :math:`a_{(1)} \le \dots \le a_{(n)}`; for each prefix
``k`` (inputs ``1..k``) solve the quadratic with origin :math:`r = a_{(k)}`; the prefix is valid
when :math:`a_{(k)} \le t^*_k < a_{(k+1)}` (:math:`a_{(n+1)} = \infty`). The first valid prefix
gives the spike: before it ``V`` stays below threshold, and on :math:`[a_{(k)}, a_{(k+1)})` the
quadratic *is* the membrane potential. The decayed sums use only non-positive exponents
(:math:`a_i \le r`), so nothing overflows whatever the spread of input times; the price is an
``(n, n)`` table per neuron, which is cheap for the layer widths used here.

**No spike** returns ``+inf``; inputs with arrival ``+inf`` (a silent presynaptic neuron)
never contribute. Every branch is masked with the double-``where`` pattern, so ``jax.grad``
through the closed form is finite and exact: since the closed form *is* the solution, its
derivative equals the implicit-function result
:math:`\partial t^*/\partial p = -(\partial V/\partial p)/(\partial V/\partial t)` computed
independently by :func:`spike_time_sensitivities`.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from ..neurons._checks import check_positive


def _as_float(x) -> jax.Array:
    x = jnp.asarray(x)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float32)


class TTFSNeuron(eqx.Module):
    r"""Parameters of the :math:`\tau_m = 2\tau_s` current-based LIF neuron.

    **Arguments:** ``tau_syn`` (ms; the membrane time constant is ``2 tau_syn``) and
    ``threshold`` (in the dimensionless voltage units of the module docstring). Both are
    traced arrays, so a changed value never recompiles.
    """

    tau_syn: Float[Array, ""] = eqx.field(default=5.0, converter=_as_float)
    threshold: Float[Array, ""] = eqx.field(default=1.0, converter=_as_float)

    def __check_init__(self) -> None:
        check_positive("TTFSNeuron", "tau_syn", self.tau_syn, "ms")
        check_positive("TTFSNeuron", "threshold", self.threshold, "(threshold units)")

    @property
    def tau_mem(self) -> jax.Array:
        """Membrane time constant, ``2 tau_syn`` (ms)."""
        return 2.0 * self.tau_syn


def psp_kernel(s: jax.Array, tau_syn: jax.Array | float) -> jax.Array:
    r""":math:`\kappa(s) = e^{-s/\tau_m} - e^{-s/\tau_s}` for ``s >= 0``, else 0 (``τ_m = 2τ_s``)."""
    s = jnp.asarray(s)
    causal = s >= 0
    s_safe = jnp.where(causal, s, 0.0)
    return jnp.where(causal, jnp.exp(-s_safe / (2 * tau_syn)) - jnp.exp(-s_safe / tau_syn), 0.0)


def psp_kernel_slope(s: jax.Array, tau_syn: jax.Array | float) -> jax.Array:
    r""":math:`\kappa'(s) = -e^{-s/\tau_m}/\tau_m + e^{-s/\tau_s}/\tau_s` for ``s >= 0``, else 0."""
    s = jnp.asarray(s)
    causal = s >= 0
    s_safe = jnp.where(causal, s, 0.0)
    tau_mem = 2 * tau_syn
    slope = -jnp.exp(-s_safe / tau_mem) / tau_mem + jnp.exp(-s_safe / tau_syn) / tau_syn
    return jnp.where(causal, slope, 0.0)


def membrane_potential(
    t: Float[Array, "*T"],
    arrivals: Float[Array, " n"],
    weights: Float[Array, " n"],
    neuron: TTFSNeuron,
) -> Float[Array, "*T"]:
    r"""Free membrane potential :math:`V(t) = \sum_i w_i \kappa(t - a_i)` (no threshold, no reset)."""
    t = jnp.asarray(t)
    lead = (1,) * t.ndim  # explicit broadcasting of the inputs against any shape of t
    a = jnp.reshape(arrivals, lead + arrivals.shape)
    w = jnp.reshape(jnp.asarray(weights), lead + arrivals.shape)
    finite = jnp.isfinite(a)
    s = t[..., None] - jnp.where(finite, a, 0.0)
    terms = jnp.where(finite, w * psp_kernel(s, neuron.tau_syn), 0.0)
    return terms.sum(-1)


def _prefix_candidates(
    a: Float[Array, " n"], w: Float[Array, " n"], neuron: TTFSNeuron
) -> tuple[Float[Array, " n"], Bool[Array, " n"], Float[Array, " n"], Float[Array, " n"]]:
    """For every prefix of the *sorted* arrivals ``a``: the spike-time candidate, whether it is
    valid, and the largest free potential on the prefix's interval ``[a_k, a_{k+1})`` and
    the time it is reached."""
    n = a.shape[0]
    tau_s, tau_m, theta = neuron.tau_syn, neuron.tau_mem, neuron.threshold
    finite = jnp.isfinite(a)
    a0 = jnp.where(finite, a, 0.0)
    # (k, i): contribution of input i to prefix k (origin a_k), i <= k only.
    in_prefix = jnp.tril(jnp.ones((n, n), bool)) & finite[None, :]
    lag = jnp.where(in_prefix, a0[:, None] - a0[None, :], 0.0)
    A = jnp.sum(jnp.where(in_prefix, w[None, :] * jnp.exp(-lag / tau_m), 0.0), axis=1)
    B = jnp.sum(jnp.where(in_prefix, w[None, :] * jnp.exp(-lag / tau_s), 0.0), axis=1)
    disc = A * A - 4.0 * B * theta
    solvable = finite & (B > 0) & (A > 0) & (disc >= 0)
    x = (A + jnp.sqrt(jnp.where(solvable, disc, 1.0))) / (2.0 * jnp.where(solvable, B, 1.0))
    solvable = solvable & (x <= 1.0)  # x <= 1  <=>  t* >= a_k
    t_cand = a0 - tau_m * jnp.log(jnp.where(solvable, x, 1.0))
    a_next = jnp.concatenate([a[1:], jnp.full((1,), jnp.inf, a.dtype)])
    valid = solvable & (jax.lax.stop_gradient(t_cand) < a_next)
    # Peak of V = A x - B x^2 for x in [x_next, 1] (x_next = e^{-(a_{k+1} - a_k)/tau_m}).
    gap = jnp.where(finite & jnp.isfinite(a_next), a_next - a0, jnp.inf)
    x_next = jnp.exp(-gap / tau_m)
    x_top = jnp.where(B > 0, A / (2.0 * jnp.where(B > 0, B, 1.0)), 1.0)
    x_peak = jnp.clip(x_top, x_next, 1.0)
    v_peak = jnp.where(finite, A * x_peak - B * x_peak * x_peak, -jnp.inf)
    reached = x_peak > 0  # x -> 0 is t -> inf, where V -> 0
    t_peak = a0 - tau_m * jnp.log(jnp.where(reached, x_peak, 1.0))
    return t_cand, valid, v_peak, jnp.where(reached, t_peak, jnp.inf)


class SpikeAndPeak(NamedTuple):
    """First-spike time ``t_spike`` (``+inf`` if silent), and the maximum ``v_peak`` of the
    free membrane potential (no threshold) with the time ``t_peak`` it is reached."""

    t_spike: jax.Array
    v_peak: jax.Array
    t_peak: jax.Array


def first_spike_and_peak(
    arrivals: Float[Array, " n"], weights: Float[Array, " n"], neuron: TTFSNeuron
) -> SpikeAndPeak:
    r"""The first-spike time (see :func:`first_spike_time`) and the peak of the free potential
    :math:`\sum_i w_i\kappa(t-a_i)`: the vertex :math:`x = A/2B` of each prefix's quadratic,
    clipped to its interval, maximised over prefixes (``v_peak = 0``, ``t_peak = +inf`` when
    the potential never rises above rest). ``v_peak >= θ`` exactly when the neuron spikes, and
    at a grazing crossing ``t_spike = t_peak``; the training loss uses this to give a silent
    neuron a pseudo spike time that continues the real one (:mod:`.train`).
    """
    arrivals = jnp.asarray(arrivals)
    weights = jnp.asarray(weights, arrivals.dtype)
    if arrivals.ndim != 1 or arrivals.shape != weights.shape:
        raise ValueError(
            "first_spike_time: `arrivals` and `weights` must be 1-D of equal length, got "
            f"shapes {arrivals.shape} and {weights.shape}; vmap for batches"
        )
    order = jnp.argsort(jax.lax.stop_gradient(arrivals))
    t_cand, valid, v_peak, t_peak = _prefix_candidates(arrivals[order], weights[order], neuron)
    first = jnp.argmax(valid)
    t_spike = jnp.where(valid[first], t_cand[first], jnp.inf)
    best = jnp.argmax(v_peak)
    rises = v_peak[best] > 0
    return SpikeAndPeak(
        t_spike, jnp.where(rises, v_peak[best], 0.0), jnp.where(rises, t_peak[best], jnp.inf)
    )


def first_spike_time(
    arrivals: Float[Array, " n"], weights: Float[Array, " n"], neuron: TTFSNeuron
) -> Float[Array, ""]:
    """Exact time of the first threshold crossing, ``+inf`` if the neuron stays silent.

    **Arguments:** ``arrivals`` (n,) input arrival times in ms (presynaptic spike time plus
    delay; ``+inf`` = never arrives), ``weights`` (n,) dimensionless, ``neuron`` a
    :class:`TTFSNeuron`. Jittable and vmappable (static shapes; ``vmap`` over a batch or over
    postsynaptic neurons); differentiable in ``arrivals`` and ``weights``.
    """
    return first_spike_and_peak(arrivals, weights, neuron).t_spike


def causal_set(t_spike: Float[Array, ""], arrivals: Float[Array, " n"]) -> Bool[Array, " n"]:
    """Inputs that arrived before the spike (all finite arrivals when the neuron is silent:
    then every input shapes the sub-threshold trace, though none moves a spike)."""
    return jnp.isfinite(arrivals) & (arrivals < t_spike)


def spike_time_sensitivities(
    t_spike: Float[Array, ""],
    arrivals: Float[Array, " n"],
    weights: Float[Array, " n"],
    neuron: TTFSNeuron,
) -> tuple[Float[Array, " n"], Float[Array, " n"]]:
    r"""``(∂t*/∂w, ∂t*/∂a)`` from the implicit-function theorem at the crossing.

    With :math:`V(t^*) = \theta` and :math:`\dot V = \sum_{i\in C} w_i \kappa'(t^* - a_i)`:

    .. math::

        \frac{\partial t^*}{\partial w_i} = -\frac{\kappa(t^* - a_i)}{\dot V}, \qquad
        \frac{\partial t^*}{\partial a_i} = -\frac{\partial V/\partial a_i}{\dot V}
        = \frac{w_i \kappa'(t^* - a_i)}{\dot V}.

    A delay ``d`` enters only through an arrival ``a = t_pre + d``, so ``∂t*/∂d = ∂t*/∂a``
    (summed over the synapses the delay sits on). Independent of :func:`first_spike_time`'s
    autodiff; used to check it. Zero for a silent neuron.
    """
    spiked = jnp.isfinite(t_spike)
    t = jnp.where(spiked, t_spike, 0.0)
    causal = causal_set(t_spike, arrivals) & spiked
    s = jnp.where(causal, t - jnp.where(causal, arrivals, 0.0), 0.0)
    kappa = jnp.where(causal, psp_kernel(s, neuron.tau_syn), 0.0)
    slope = jnp.where(causal, psp_kernel_slope(s, neuron.tau_syn), 0.0)
    v_dot = jnp.sum(weights * slope)
    v_dot = jnp.where(spiked, v_dot, 1.0)
    return -kappa / v_dot, weights * slope / v_dot
