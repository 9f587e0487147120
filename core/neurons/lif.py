r"""Current-based leaky integrate-and-fire neuron with an exponential synaptic current.

.. math::

    \tau_m \frac{dV}{dt} = -(V - E_L) + R\,(I_\mathrm{syn} + I_\mathrm{ext}), \qquad
    \tau_s \frac{dI_\mathrm{syn}}{dt} = -I_\mathrm{syn}, \qquad R = \tau_m / C_m

When :math:`V \ge V_\theta` the neuron spikes, :math:`V \leftarrow V_\mathrm{reset}` and ``V`` is
held there for :math:`t_\mathrm{ref}`. A presynaptic spike of weight ``w`` (pA) makes
:math:`I_\mathrm{syn} \mathrel{+}= w` at the start of the step it arrives in.

The sub-threshold system is linear, so each step integrates it *exactly* with a zero-order-hold
propagator (``I_ext`` constant within a step): there is no Euler error, only the spike-time
quantisation to the step grid. Units: ms, mV, pA, pF.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from ._checks import check_finite, check_order, check_positive
from ._zoh import apply_increment, propagator, zoh_increment


def _f32(x):
    return jnp.asarray(x, jnp.float32)


class LIFState(eqx.Module):
    """State of a LIF population (all arrays of the population's shape)."""

    v: Float[Array, "*n"]  # membrane potential, mV
    i_syn: Float[Array, "*n"]  # synaptic current, pA
    refractory: Int[Array, "*n"]  # remaining refractory steps


class LIF(eqx.Module):
    """Parameters of a current-based LIF neuron (scalars or per-neuron arrays).

    **Arguments:** ``tau_mem`` (ms), ``tau_syn`` (ms), ``c_mem`` (pF), ``v_rest`` /
    ``v_reset`` / ``v_th`` (mV), ``t_ref`` (ms). Every field is a traced array, so changing a
    value never recompiles a jitted simulation.

    !!! example
        ```python
        neuron = LIF()
        step = neuron.discretise(dt=0.1)
        state = neuron.init_state((100,))
        state, spikes = step(state, syn_in=jnp.zeros(100), i_ext=jnp.full(100, 400.0))
        ```
    """

    tau_mem: Float[Array, "*n"] = eqx.field(default=10.0, converter=_f32)
    tau_syn: Float[Array, "*n"] = eqx.field(default=2.0, converter=_f32)
    c_mem: Float[Array, "*n"] = eqx.field(default=250.0, converter=_f32)
    v_rest: Float[Array, "*n"] = eqx.field(default=-70.0, converter=_f32)
    v_reset: Float[Array, "*n"] = eqx.field(default=-70.0, converter=_f32)
    v_th: Float[Array, "*n"] = eqx.field(default=-50.0, converter=_f32)
    t_ref: Float[Array, "*n"] = eqx.field(default=2.0, converter=_f32)

    def __check_init__(self):
        name = type(self).__name__
        for field, unit in (("tau_mem", "ms"), ("tau_syn", "ms"), ("c_mem", "pF")):
            check_positive(name, field, getattr(self, field), unit)
        for field in ("v_rest", "v_reset", "v_th"):
            check_finite(name, field, getattr(self, field), "mV")
        check_finite(name, "t_ref", self.t_ref, "ms")
        check_order(name, "v_reset", self.v_reset, "v_th", self.v_th)

    def init_state(self, shape: tuple[int, ...] = ()) -> LIFState:
        """Resting state: ``V = v_rest``, no synaptic current, not refractory."""
        v = jnp.broadcast_to(self.v_rest, shape).astype(jnp.float32)
        return LIFState(
            v=v, i_syn=jnp.zeros(shape, jnp.float32), refractory=jnp.zeros(shape, jnp.int32)
        )

    def linear_system(self) -> tuple[Array, Array]:
        """``(A, B)`` of the sub-threshold dynamics in ``x = (V - E_L, I_syn)``, input ``I_ext``."""
        tm, ts, c = jnp.broadcast_arrays(self.tau_mem, self.tau_syn, self.c_mem)
        zero = jnp.zeros_like(tm)
        a = jnp.stack([jnp.stack([-1 / tm, 1 / c], -1), jnp.stack([zero, -1 / ts], -1)], -2)
        b = jnp.stack([1 / c, zero], -1)
        return a, b

    def discretise(self, dt: float | Array) -> LIFStep:
        """Precompute the exact propagator for steps of ``dt`` ms (do this once per run)."""
        dt = _f32(dt)
        check_positive(type(self).__name__, "dt", dt, "ms")
        da_d, b_d = zoh_increment(*self.linear_system(), dt)
        n_ref = jnp.round(self.t_ref / dt).astype(jnp.int32)
        return LIFStep(da_d=da_d, b_d=b_d, neuron=self, n_ref=n_ref)


class LIFStep(eqx.Module):
    """One exact time step of a :class:`LIF` population (built by :meth:`LIF.discretise`).

    Holds ``da_d = A_d - I`` rather than ``A_d``: float32 keeps the small decay per step
    (``dt / tau``) to full precision only in that form (see :func:`._zoh.zoh_increment`).
    """

    da_d: Array
    b_d: Array
    neuron: LIF
    n_ref: Array

    @property
    def a_d(self) -> Array:
        """The propagator ``A_d = e^{A dt}`` (for inspection; stepping uses ``da_d``)."""
        return propagator(self.da_d)

    def __call__(
        self, state: LIFState, syn_in: Float[Array, "*n"], i_ext: Float[Array, "*n"]
    ) -> tuple[LIFState, Float[Array, "*n"]]:
        """Advance one step.

        **Arguments:** ``syn_in`` synaptic jumps arriving this step (pA), ``i_ext`` external
        current held over the step (pA). **Returns:** ``(new_state, spikes)`` with spikes as
        float 0/1 of the population's shape.
        """
        p = self.neuron
        x = (state.v - p.v_rest, state.i_syn + syn_in)
        v_rel, i_syn = apply_increment(self.da_d, self.b_d, x, i_ext)
        v, refractory, spikes = threshold_and_reset(
            v_rel + p.v_rest, state.refractory, p.v_th, p.v_reset, self.n_ref
        )
        return LIFState(v=v, i_syn=i_syn, refractory=refractory), spikes


def threshold_and_reset(v, refractory, v_th, v_reset, n_ref):
    """Clamp refractory neurons at ``v_reset``, detect ``V >= v_th`` and reset spiking ones.

    Shared by every integrate-and-fire model. Returns ``(v, refractory, spikes)``.
    """
    in_ref = refractory > 0
    v = jnp.where(in_ref, v_reset, v)
    refractory = jnp.where(in_ref, refractory - 1, refractory)
    fired = v >= v_th
    v = jnp.where(fired, v_reset, v)
    refractory = jnp.where(fired, n_ref, refractory)
    return v, refractory, fired.astype(jnp.float32)
