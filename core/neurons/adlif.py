r"""Adaptive LIF (AdLIF): the :mod:`LIF <.lif>` neuron plus a linear adaptation current.

.. math::

    \tau_m \frac{dV}{dt} &= -(V - E_L) + R\,(I_\mathrm{syn} + I_\mathrm{ext} - w) \\
    \tau_s \frac{dI_\mathrm{syn}}{dt} &= -I_\mathrm{syn} \\
    \tau_w \frac{dw}{dt} &= a\,(V - E_L) - w

On a spike: :math:`V \leftarrow V_\mathrm{reset}`, :math:`w \leftarrow w + b`, refractory for
:math:`t_\mathrm{ref}`. ``a`` (nS) is sub-threshold adaptation, ``b`` (pA) spike-triggered
adaptation. The sub-threshold system is linear (3 states), so it is integrated exactly with a
zero-order-hold propagator, like LIF. Units: ms, mV, pA, pF, nS.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from ._checks import check_finite, check_positive
from ._zoh import apply_increment, propagator, zoh_increment
from .lif import LIF, _f32, threshold_and_reset


class AdLIFState(eqx.Module):
    """State of an AdLIF population."""

    v: Float[Array, "*n"]  # membrane potential, mV
    i_syn: Float[Array, "*n"]  # synaptic current, pA
    w: Float[Array, "*n"]  # adaptation current, pA
    refractory: Int[Array, "*n"]  # remaining refractory steps


class AdLIF(LIF):
    """AdLIF parameters: those of :class:`LIF` plus ``tau_w`` (ms), ``a`` (nS), ``b`` (pA)."""

    tau_w: Float[Array, "*n"] = eqx.field(default=100.0, converter=_f32)
    a: Float[Array, "*n"] = eqx.field(default=2.0, converter=_f32)
    b: Float[Array, "*n"] = eqx.field(default=40.0, converter=_f32)

    def __check_init__(self):
        super().__check_init__()
        check_positive("AdLIF", "tau_w", self.tau_w, "ms")
        check_finite("AdLIF", "a", self.a, "nS")
        check_finite("AdLIF", "b", self.b, "pA")

    def init_state(self, shape: tuple[int, ...] = ()) -> AdLIFState:
        base = super().init_state(shape)
        return AdLIFState(
            v=base.v, i_syn=base.i_syn, w=jnp.zeros(shape, jnp.float32), refractory=base.refractory
        )

    def dvdt(self, v: Array, w: Array, i_ext: Array = 0.0, i_syn: Array = 0.0) -> Array:
        """Membrane velocity (mV/ms) at ``(V, w)``, for phase-plane vector fields."""
        return (-(v - self.v_rest) + self.tau_mem / self.c_mem * (i_syn + i_ext - w)) / self.tau_mem

    def dwdt(self, v: Array, w: Array) -> Array:
        """Adaptation velocity (pA/ms) at ``(V, w)``."""
        return (self.a * (v - self.v_rest) - w) / self.tau_w

    def v_nullcline(self, v: Array, i_ext: Array = 0.0, i_syn: Array = 0.0) -> Array:
        """``w`` where ``dV/dt = 0``: :math:`w = I - (C/\tau_m)(V - E_L)`."""
        return i_syn + i_ext - self.c_mem / self.tau_mem * (v - self.v_rest)

    def w_nullcline(self, v: Array) -> Array:
        """``w`` where ``dw/dt = 0``: :math:`w = a (V - E_L)`."""
        return self.a * (v - self.v_rest)

    def linear_system(self) -> tuple[Array, Array]:
        """``(A, B)`` in ``x = (V - E_L, I_syn, w)`` with input ``I_ext``."""
        tm, ts, c, tw, a = jnp.broadcast_arrays(
            self.tau_mem, self.tau_syn, self.c_mem, self.tau_w, self.a
        )
        zero = jnp.zeros_like(tm)
        rows = [
            jnp.stack([-1 / tm, 1 / c, -1 / c], -1),
            jnp.stack([zero, -1 / ts, zero], -1),
            jnp.stack([a / tw, zero, -1 / tw], -1),
        ]
        return jnp.stack(rows, -2), jnp.stack([1 / c, zero, zero], -1)

    def discretise(self, dt: float | Array) -> AdLIFStep:
        dt = _f32(dt)
        check_positive("AdLIF", "dt", dt, "ms")
        da_d, b_d = zoh_increment(*self.linear_system(), dt)
        n_ref = jnp.round(self.t_ref / dt).astype(jnp.int32)
        return AdLIFStep(da_d=da_d, b_d=b_d, neuron=self, n_ref=n_ref)


class AdLIFStep(eqx.Module):
    """One exact time step of an :class:`AdLIF` population (``da_d = A_d - I``, as in
    :class:`~.lif.LIFStep`)."""

    da_d: Array
    b_d: Array
    neuron: AdLIF
    n_ref: Array

    @property
    def a_d(self) -> Array:
        """The propagator ``A_d = e^{A dt}`` (for inspection; stepping uses ``da_d``)."""
        return propagator(self.da_d)

    def __call__(
        self, state: AdLIFState, syn_in: Float[Array, "*n"], i_ext: Float[Array, "*n"]
    ) -> tuple[AdLIFState, Float[Array, "*n"]]:
        """Advance one step; same arguments and returns as :meth:`LIFStep.__call__`."""
        p = self.neuron
        x = (state.v - p.v_rest, state.i_syn + syn_in, state.w)
        v_rel, i_syn, w = apply_increment(self.da_d, self.b_d, x, i_ext)
        v, refractory, spikes = threshold_and_reset(
            v_rel + p.v_rest, state.refractory, p.v_th, p.v_reset, self.n_ref
        )
        w = w + p.b * spikes
        return AdLIFState(v=v, i_syn=i_syn, w=w, refractory=refractory), spikes
