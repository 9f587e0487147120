r"""A two-layer event-based LIF network with a time-to-first-spike readout.

``input spike times -> hidden LIF layer (up to max_spikes_hidden spikes each) -> output LIF
layer (first spike only)``. The prediction is the output neuron that fires first; an output
neuron that does not fire within ``t_max`` reads out as ``t_max``. Each layer is a
:func:`.adjoint.layer_spike_times`, so ``jax.grad`` of a loss of the output times runs
EventProp through both layers.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .adjoint import layer_spike_times
from .lif_events import LIFEvent


class Weights(NamedTuple):
    """Trainable weights: ``hidden`` (n_hidden, n_in) and ``output`` (n_out, n_hidden), in
    threshold units per spike (jump of the synaptic current)."""

    hidden: jax.Array
    output: jax.Array


class NetworkSpikes(NamedTuple):
    """One sample's spikes. ``hidden`` (n_hidden, max_spikes_hidden) ms, ``inf`` = none;
    ``output_first`` (n_out,) first output spike, ``inf`` = none; ``readout`` (n_out,) the same
    with ``t_max`` for a missing spike; ``hidden_cap_hit`` (n_hidden,) bool: the neuron would
    have fired again after its last recorded spike (the cap truncated it)."""

    hidden: jax.Array
    output_first: jax.Array
    readout: jax.Array
    hidden_cap_hit: jax.Array


def init_weights(
    key: jax.Array,
    n_in: int,
    n_hidden: int,
    n_out: int,
    *,
    hidden_mean: float = 1.5,
    hidden_std: float = 1.0,
    output_mean: float = 0.25,
    output_std: float = 0.25,
    dtype=jnp.float32,
) -> Weights:
    """Gaussian initial weights ``N(mean, std²)`` per layer (threshold units)."""
    k1, k2 = jax.random.split(key)
    hidden = hidden_mean + hidden_std * jax.random.normal(k1, (n_hidden, n_in), dtype)
    output = output_mean + output_std * jax.random.normal(k2, (n_out, n_hidden), dtype)
    return Weights(hidden, output)


class EventNetwork(eqx.Module):
    """Structure and neuron parameters of the network (the weights are passed separately).

    **Arguments:** ``neuron`` (:class:`LIFEvent`, traced), ``max_spikes_hidden`` (static int,
    the spike cap per hidden neuron), ``method`` (static, ``"eventprop"`` or ``"autodiff"``,
    see :func:`layer_spike_times`).

    !!! example
        ```python
        net = EventNetwork(LIFEvent(tau_syn=5.0, t_max=30.0), max_spikes_hidden=3)
        spikes = jax.vmap(net, in_axes=(None, 0))(weights, input_times)  # batch
        ```
    """

    neuron: LIFEvent = LIFEvent()
    max_spikes_hidden: int = eqx.field(default=3, static=True)
    method: str = eqx.field(default="eventprop", static=True)

    def __check_init__(self) -> None:
        if int(self.max_spikes_hidden) < 1:
            raise ValueError(
                f"max_spikes_hidden must be a positive spike cap, got {self.max_spikes_hidden!r}"
            )
        if self.method not in ("eventprop", "autodiff"):
            raise ValueError(f"method must be 'eventprop' or 'autodiff', got {self.method!r}")

    def __call__(self, weights: Weights, input_times: Float[Array, " n_in"]) -> NetworkSpikes:
        """Simulate one sample; ``input_times`` (n_in,) one spike per input (``inf`` = none)."""
        t_max = jnp.asarray(self.neuron.t_max, weights.hidden.dtype)
        k = self.max_spikes_hidden
        hidden_all = layer_spike_times(
            weights.hidden, input_times[:, None], self.neuron, k + 1, method=self.method
        )
        hidden = hidden_all[:, :k]
        first = layer_spike_times(weights.output, hidden, self.neuron, 1, method=self.method)
        first = first[:, 0]
        readout = jnp.where(jnp.isfinite(first), first, t_max)
        return NetworkSpikes(hidden, first, readout, jnp.isfinite(hidden_all[:, k]))
