"""A neuron population driven by injected current and Poisson synaptic input."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from ..inputs import CurrentInjection, poisson_counts
from ._scan import AbstractSystem


def _f32(x):
    return jnp.asarray(x, jnp.float32)


class PopulationState(eqx.Module):
    neuron: Any  # the neuron model's state
    step_index: Array  # int32 step counter (time = step_index * dt)
    key: PRNGKeyArray


class DrivenPopulation(AbstractSystem):
    """``shape`` independent neurons, each receiving ``current(t)`` plus Poisson synaptic input.

    The Poisson input has rate ``poisson_rate_hz`` (summed over sources) and weight
    ``poisson_weight`` (pA jump of the synaptic current per spike); it is compiled in only when
    the static ``poisson_input`` is True (sampling costs compile time even at rate 0), which
    is the default whenever a rate is given. Records per step:
    ``v`` (mV), ``spikes``, ``i_ext`` (pA) and, for adaptive models, ``w`` (pA).
    """

    neuron: Any  # LIF / AdLIF / AdEx parameters
    current: CurrentInjection
    dt: Array = eqx.field(converter=_f32)
    shape: tuple[int, ...] = eqx.field(static=True, default=(1,))
    poisson_rate_hz: Array = eqx.field(default=0.0, converter=_f32)
    poisson_weight: Array = eqx.field(default=0.0, converter=_f32)
    poisson_input: bool = eqx.field(static=True, default=None)

    def __post_init__(self):
        if self.poisson_input is None:
            rate = self.poisson_rate_hz
            given = isinstance(rate, jax.core.Tracer) or bool(jnp.any(rate != 0))
            object.__setattr__(self, "poisson_input", given)

    def init_state(self, *, key: PRNGKeyArray) -> PopulationState:
        return PopulationState(self.neuron.init_state(self.shape), jnp.int32(0), key)

    def prepare(self) -> _PreparedPopulation:
        return _PreparedPopulation(self, self.neuron.discretise(self.dt))

    def __call__(self, state, drive_t=None):
        return self.prepare()(state, drive_t)


class _PreparedPopulation(eqx.Module):
    system: DrivenPopulation
    step: Any  # the discretised neuron step

    def __call__(self, state: PopulationState, drive_t=None):
        sys = self.system
        key = state.key
        t_ms = state.step_index.astype(jnp.float32) * sys.dt
        i_ext = jnp.broadcast_to(sys.current(t_ms), sys.shape)
        if drive_t is not None:
            i_ext = i_ext + drive_t
        if sys.poisson_input:
            key, sub = jax.random.split(key)
            syn_in = sys.poisson_weight * poisson_counts(
                sub, sys.poisson_rate_hz, sys.dt, sys.shape
            )
        else:
            syn_in = jnp.zeros(sys.shape, jnp.float32)
        neuron_state, spikes = self.step(state.neuron, syn_in, i_ext)
        record = {"v": neuron_state.v, "spikes": spikes, "i_ext": i_ext}
        if hasattr(neuron_state, "w"):
            record["w"] = neuron_state.w
        return PopulationState(neuron_state, state.step_index + 1, key), record
