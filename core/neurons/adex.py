r"""Adaptive exponential integrate-and-fire neuron (AdEx; Brette & Gerstner 2005).

.. math::

    C \frac{dV}{dt} &= -g_L (V - E_L) + g_L \Delta_T e^{(V - V_T)/\Delta_T}
                       + I_\mathrm{syn} + I_\mathrm{ext} - w \\
    \tau_w \frac{dw}{dt} &= a\,(V - E_L) - w \\
    \tau_s \frac{dI_\mathrm{syn}}{dt} &= -I_\mathrm{syn}

When :math:`V \ge V_\mathrm{peak}`: :math:`V \leftarrow V_\mathrm{reset}`,
:math:`w \leftarrow w + b`, and ``V`` is held at ``V_reset`` for :math:`t_\mathrm{ref}`.
Units: ms, mV, pA, pF, nS. Reference: R. Brette, W. Gerstner, J. Neurophysiol. 94:3637 (2005).

**Scheme: Strang splitting into two exactly solvable parts.** Without its exponential current
the AdEx is linear in ``x = (V - E_L, I_syn, w)`` (an AdLIF with :math:`\tau_m = C/g_L`),
integrated exactly by a zero-order-hold propagator (``I_ext`` held over the step). The
exponential current alone, :math:`C\,\dot V = g_L \Delta_T e^{(V - V_T)/\Delta_T}`, also has a
closed-form flow: with :math:`\epsilon = (h/\tau_m)\,e^{(V_0 - V_T)/\Delta_T}`,
:math:`V(h) = V_0 - \Delta_T \ln(1 - \epsilon)`, which diverges within ``h`` iff
:math:`\epsilon \ge 1`. One step of ``dt`` is: linear flow ``dt/2``, exponential flow ``dt``,
linear flow ``dt/2``. A neuron whose exponential flow diverges is held at ``V_peak`` for the
second half-step and spikes; otherwise it spikes if ``V >= V_peak`` at the end of the step.
Resets happen on the step grid. Both parts are exact, so there is no step-size stability limit
and the divergence of ``V`` (the upstroke) is not smeared over extra steps, as it is with
explicit or exponential Euler (see below). Strang splitting is second order for the smooth
dynamics (at ``dt <= 0.1`` ms its error is already below float32 round-off); spike times carry
the grid quantisation (< ``dt`` per spike). The exponent is clamped at 40 so ``exp`` never
overflows. The linear propagators are kept in increment form (``A_d - I``) so float32 keeps
the slow decays (``dt/tau_w ~ 1e-4``) exact to ~7 digits.

**Measured error** (tests/core/test_adex.py; reference: diffrax Tsit5, rtol = atol = 1e-10, in
float64, crossings located by bisection). *Integration error alone* (reference resets moved to
the step grid like the scheme's): over 11-12 spikes in 150-600 ms (Brette-Gerstner at 1 nA,
Naud regular bursting, a 2 ms refractory case) every spike lands in the same step as the
reference at ``dt = 0.1`` ms, and all but one at ``dt = 0.01`` ms (that one a step off).
*Against the continuous model* (exact-time resets): first spike 0.008 / 0.042 / 0.010 ms late
at ``dt = 0.1`` ms (0.008 / 0.002 / 0.0003 ms at 0.01 ms), every ISI within 0.11 ms
(0.011 ms): the grid quantisation, below one step. Exponential Euler (exponential current
frozen over the step) fired the first spike 0.3 ms (3 steps) behind the grid-reset reference
at ``dt = 0.1`` ms. Sub-threshold (500 pA, V up to -54 mV, 200 ms): max ``|V - V_ref|`` =
4e-5 mV at ``dt = 0.1`` ms and 1.7e-3 mV at 0.01 ms (float32 round-off over 20 000 steps);
``|w - w_ref|`` 4e-5 / 1e-3 pA.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from ._checks import check_finite, check_order, check_positive
from ._zoh import apply_increment, zoh_increment
from .lif import _f32, threshold_and_reset

_EXP_ARG_MAX = 40.0  # e^40 ~ 2e17: far beyond any threshold crossing, far below float32 overflow


class AdExState(eqx.Module):
    """State of an AdEx population (arrays of the population's shape)."""

    v: Float[Array, "*n"]  # membrane potential, mV
    i_syn: Float[Array, "*n"]  # synaptic current, pA
    w: Float[Array, "*n"]  # adaptation current, pA
    refractory: Int[Array, "*n"]  # remaining refractory steps


class AdEx(eqx.Module):
    r"""Parameters of an AdEx neuron (scalars or per-neuron arrays, all traced).

    **Arguments:** ``c_mem`` (pF), ``g_leak`` (nS), ``v_rest`` (:math:`E_L`, mV), ``v_th``
    (:math:`V_T`, mV), ``delta_t`` (:math:`\Delta_T`, mV), ``v_peak`` (mV), ``v_reset`` (mV),
    ``tau_w`` (ms), ``a`` (nS), ``b`` (pA), ``tau_syn`` (ms), ``t_ref`` (ms). Defaults are
    Brette & Gerstner (2005), with a 0 mV spike cut-off.

    !!! example
        ```python
        neuron = AdEx()
        step = neuron.discretise(dt=0.1)
        state = neuron.init_state((10,))
        state, spikes = step(state, syn_in=jnp.zeros(10), i_ext=jnp.full(10, 800.0))
        ```
    """

    c_mem: Float[Array, "*n"] = eqx.field(default=281.0, converter=_f32)
    g_leak: Float[Array, "*n"] = eqx.field(default=30.0, converter=_f32)
    v_rest: Float[Array, "*n"] = eqx.field(default=-70.6, converter=_f32)
    v_th: Float[Array, "*n"] = eqx.field(default=-50.4, converter=_f32)
    delta_t: Float[Array, "*n"] = eqx.field(default=2.0, converter=_f32)
    v_peak: Float[Array, "*n"] = eqx.field(default=0.0, converter=_f32)
    v_reset: Float[Array, "*n"] = eqx.field(default=-70.6, converter=_f32)
    tau_w: Float[Array, "*n"] = eqx.field(default=144.0, converter=_f32)
    a: Float[Array, "*n"] = eqx.field(default=4.0, converter=_f32)
    b: Float[Array, "*n"] = eqx.field(default=80.5, converter=_f32)
    tau_syn: Float[Array, "*n"] = eqx.field(default=5.0, converter=_f32)
    t_ref: Float[Array, "*n"] = eqx.field(default=0.0, converter=_f32)

    def __check_init__(self):
        for name, unit in (
            ("c_mem", "pF"),
            ("g_leak", "nS"),
            ("delta_t", "mV"),
            ("tau_w", "ms"),
            ("tau_syn", "ms"),
        ):
            check_positive("AdEx", name, getattr(self, name), unit)
        for name, unit in (
            ("v_rest", "mV"),
            ("v_th", "mV"),
            ("v_peak", "mV"),
            ("v_reset", "mV"),
            ("a", "nS"),
            ("b", "pA"),
            ("t_ref", "ms"),
        ):
            check_finite("AdEx", name, getattr(self, name), unit)
        if not isinstance(self.t_ref, jax.core.Tracer) and np.any(np.asarray(self.t_ref) < 0):
            raise ValueError(
                f"AdEx: `t_ref` must be >= 0 ms, got {np.asarray(self.t_ref).tolist()}"
            )
        check_order("AdEx", "v_reset", self.v_reset, "v_peak", self.v_peak)
        check_order("AdEx", "v_th", self.v_th, "v_peak", self.v_peak)

    @property
    def tau_mem(self) -> Array:
        """Membrane time constant ``C / g_L`` (ms)."""
        return self.c_mem / self.g_leak

    def init_state(self, shape: tuple[int, ...] = ()) -> AdExState:
        """Resting state: ``V = E_L``, ``w = 0``, no synaptic current, not refractory."""
        zeros = jnp.zeros(shape, jnp.float32)
        v = jnp.broadcast_to(self.v_rest, shape).astype(jnp.float32)
        return AdExState(v=v, i_syn=zeros, w=zeros, refractory=jnp.zeros(shape, jnp.int32))

    def exp_current(self, v: Array) -> Array:
        r"""Spike-generating current :math:`g_L \Delta_T e^{(V - V_T)/\Delta_T}` (pA), clamped."""
        arg = jnp.minimum((v - self.v_th) / self.delta_t, _EXP_ARG_MAX)
        return self.g_leak * self.delta_t * jnp.exp(arg)

    def dvdt(self, v: Array, w: Array, i_ext: Array = 0.0, i_syn: Array = 0.0) -> Array:
        """:math:`dV/dt` (mV/ms) at ``(v, w)``: the V component of the phase-plane field."""
        leak = -self.g_leak * (v - self.v_rest)
        return (leak + self.exp_current(v) + i_syn + i_ext - w) / self.c_mem

    def dwdt(self, v: Array, w: Array) -> Array:
        r""":math:`dw/dt = (a (V - E_L) - w) / \tau_w` (pA/ms): the w component of the field."""
        return (self.a * (v - self.v_rest) - w) / self.tau_w

    def v_nullcline(self, v: Array, i_ext: Array = 0.0, i_syn: Array = 0.0) -> Array:
        r"""``w`` (pA) where :math:`dV/dt = 0`:
        :math:`w = -g_L (V - E_L) + g_L \Delta_T e^{(V - V_T)/\Delta_T} + I`."""
        return -self.g_leak * (v - self.v_rest) + self.exp_current(v) + i_syn + i_ext

    def w_nullcline(self, v: Array) -> Array:
        """``w`` (pA) where :math:`dw/dt = 0`: :math:`w = a (V - E_L)`."""
        return self.a * (v - self.v_rest)

    def linear_system(self) -> tuple[Array, Array]:
        r"""``(A, B)`` of the linear part in ``x = (V - E_L, I_syn, w)`` with input ``I_ext``.

        This is the AdEx without its exponential current, i.e. an AdLIF with
        :math:`\tau_m = C / g_L`.
        """
        c, g, ts, tw, a = jnp.broadcast_arrays(
            self.c_mem, self.g_leak, self.tau_syn, self.tau_w, self.a
        )
        zero = jnp.zeros_like(c)
        rows = [
            jnp.stack([-g / c, 1 / c, -1 / c], -1),
            jnp.stack([zero, -1 / ts, zero], -1),
            jnp.stack([a / tw, zero, -1 / tw], -1),
        ]
        return jnp.stack(rows, -2), jnp.stack([1 / c, zero, zero], -1)

    def discretise(self, dt: float | Array) -> AdExStep:
        """Precompute the half-step propagator for steps of ``dt`` ms (once per run or chunk)."""
        dt = _f32(dt)
        check_positive("AdEx", "dt", dt, "ms")
        da_half, b_half = zoh_increment(*self.linear_system(), dt / 2)
        n_ref = jnp.round(self.t_ref / dt).astype(jnp.int32)
        return AdExStep(da_half=da_half, b_half=b_half, dt=dt, neuron=self, n_ref=n_ref)


class AdExStep(eqx.Module):
    """One Strang-split step of an :class:`AdEx` population (from :meth:`AdEx.discretise`).

    ``da_half``, ``b_half``: increment-form propagator ``(A_d - I, B_d)`` of the linear part
    over ``dt / 2``.
    """

    da_half: Array
    b_half: Array
    dt: Array
    neuron: AdEx
    n_ref: Array

    def __call__(
        self, state: AdExState, syn_in: Float[Array, "*n"], i_ext: Float[Array, "*n"]
    ) -> tuple[AdExState, Float[Array, "*n"]]:
        """Advance one step.

        **Arguments:** ``syn_in`` synaptic jumps arriving this step (pA), ``i_ext`` external
        current held over the step (pA). **Returns:** ``(new_state, spikes)``, spikes float 0/1.
        """
        p = self.neuron
        x = (state.v - p.v_rest, state.i_syn + syn_in, state.w)
        v_rel, i_syn, w = apply_increment(self.da_half, self.b_half, x, i_ext)
        v, blew_up = _exp_flow(v_rel + p.v_rest, p, self.dt)
        # a blown-up neuron sits at v_peak for the rest of the step (w sees V = v_peak)
        v = jnp.where(blew_up, p.v_peak, v)
        v_rel, i_syn, w = apply_increment(
            self.da_half, self.b_half, (v - p.v_rest, i_syn, w), i_ext
        )
        v = jnp.where(blew_up, p.v_peak, v_rel + p.v_rest)
        v, refractory, spikes = threshold_and_reset(
            v, state.refractory, p.v_peak, p.v_reset, self.n_ref
        )
        w = w + p.b * spikes
        return AdExState(v=v, i_syn=i_syn, w=w, refractory=refractory), spikes


def _exp_flow(v: Array, p: AdEx, h: Array) -> tuple[Array, Array]:
    r"""Exact flow of :math:`C\,dV/dt = g_L \Delta_T e^{(V - V_T)/\Delta_T}` over ``h`` ms.

    With :math:`\epsilon = (h/\tau_m) e^{(V_0 - V_T)/\Delta_T}`:
    :math:`V(h) = V_0 - \Delta_T \ln(1 - \epsilon)`, and ``V`` blows up within ``h`` when
    :math:`\epsilon \ge 1`. Returns ``(V(h), blew_up)``.
    """
    arg = jnp.minimum((v - p.v_th) / p.delta_t, _EXP_ARG_MAX)
    eps = h * p.g_leak / p.c_mem * jnp.exp(arg)
    blew_up = eps >= 1.0
    v_new = v - p.delta_t * jnp.log1p(-jnp.where(blew_up, 0.0, eps))
    return v_new, blew_up
