r"""A layered time-to-first-spike network with optional learnable delays.

Input spike times (``n_in``) feed layer 1, whose first-spike times feed layer 2, and so on;
every neuron fires at most once (TTFS), at the closed-form time of :mod:`.ttfs`:

.. math::

    t^{(l)}_k = T\big(\{t^{(l-1)}_j + d^{(l)}_{kj}\}_j,\ \{W^{(l)}_{kj}\}_j\big),

with the delays :math:`d^{(l)}_{kj}` laid out as :mod:`.delays` describes. With
``bias_time`` set, every layer after the first also receives a bias spike at that time
(an extra presynaptic "neuron" with its own weights and delays, as in Göltz et al. 2021);
the input layer's bias, if any, is part of the data. The prediction is the output neuron
that fires first. A silent neuron has time ``+inf`` and its spike never arrives downstream.

.. code-block:: python

    net = TTFSNetwork.init([5, 30, 3], delay_type="synaptic", key=jax.random.key(0))
    t_out = jax.vmap(net)(input_times)  # (batch, 3)
"""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .delays import arrival_times, check_delay_type, init_delays, project_delays
from .ttfs import SpikeAndPeak, TTFSNeuron, first_spike_and_peak

Parameters = tuple[tuple[jax.Array, ...], tuple[jax.Array | None, ...]]


def layer_spikes_and_peaks(
    pre_times: Float[Array, " n_pre"],
    weights: Float[Array, "n_post n_pre"],
    delays: jax.Array | None,
    delay_type: str | None,
    neuron: TTFSNeuron,
) -> SpikeAndPeak:
    """First-spike times and free-potential peaks (each ``(n_post,)``) of one layer for one
    sample (``vmap`` over samples)."""
    n_post = weights.shape[0]
    arrivals = arrival_times(pre_times, delays, delay_type, n_post)
    return jax.vmap(first_spike_and_peak, in_axes=(0, 0, None))(arrivals, weights, neuron)


def layer_spike_times(
    pre_times: Float[Array, " n_pre"],
    weights: Float[Array, "n_post n_pre"],
    delays: jax.Array | None,
    delay_type: str | None,
    neuron: TTFSNeuron,
) -> Float[Array, " n_post"]:
    """First-spike times of one layer for one sample (``+inf`` = silent)."""
    return layer_spikes_and_peaks(pre_times, weights, delays, delay_type, neuron).t_spike


class TTFSNetwork(eqx.Module):
    """Feed-forward TTFS network.

    ``weights[l]`` is ``(n_{l+1}, n_l (+1 bias))``, ``delays[l]`` the layer's delays (``None``
    when ``delay_type is None``), ``neuron`` the shared neuron parameters and ``bias_time``
    (ms, or ``None``) the hidden layers' bias spike; neither of those two is trained.
    ``__call__`` maps one sample's input times to its output times.
    """

    weights: tuple[jax.Array, ...]
    delays: tuple[jax.Array | None, ...]
    neuron: TTFSNeuron
    bias_time: jax.Array | None
    delay_type: str | None = eqx.field(static=True)

    def __check_init__(self) -> None:
        check_delay_type(self.delay_type)

    @classmethod
    def init(
        cls,
        sizes: Sequence[int],
        *,
        key: jax.Array,
        delay_type: str | None = None,
        neuron: TTFSNeuron | None = None,
        bias_time: float | None = None,
        weight_mean: Sequence[float] | None = None,
        weight_std: Sequence[float] | None = None,
        d_init_max: float = 0.0,
    ) -> TTFSNetwork:
        r"""Random network with layer sizes ``sizes = [n_in, n_hidden..., n_out]``.

        Weights of layer ``l`` are Gaussian with mean ``weight_mean[l]`` and s.d.
        ``weight_std[l]`` (default :math:`\mu = 10/n_{pre}`, :math:`\sigma = 3/\sqrt{n_{pre}}`:
        strong enough that most neurons fire at first; a lone input needs ``w > 4θ``).
        Delays start uniform in ``[0, d_init_max]`` ms.
        """
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"sizes must list >= 2 positive layer widths, got {sizes}")
        n_layers = len(sizes) - 1
        fan_in = [n + (layer > 0 and bias_time is not None) for layer, n in enumerate(sizes[:-1])]
        mean = [10.0 / n for n in fan_in] if weight_mean is None else list(weight_mean)
        std = [3.0 / n**0.5 for n in fan_in] if weight_std is None else list(weight_std)
        if len(mean) != n_layers or len(std) != n_layers:
            raise ValueError(
                f"weight_mean/weight_std need one value per layer ({n_layers}), "
                f"got {len(mean)} and {len(std)}"
            )
        keys = jax.random.split(key, 2 * n_layers)
        weights, delays = [], []
        for layer, (n_pre, n_post) in enumerate(zip(fan_in, sizes[1:], strict=True)):
            w = mean[layer] + std[layer] * jax.random.normal(keys[2 * layer], (n_post, n_pre))
            weights.append(w)
            delays.append(
                init_delays(delay_type, n_pre, n_post, d_init_max, key=keys[2 * layer + 1])
            )
        bias = None if bias_time is None else jnp.asarray(bias_time, jnp.float32)
        return cls(tuple(weights), tuple(delays), neuron or TTFSNeuron(), bias, delay_type)

    @property
    def sizes(self) -> tuple[int, ...]:
        """Layer widths ``(n_in, n_hidden..., n_out)`` (bias inputs not counted)."""
        return (self.weights[0].shape[1], *(w.shape[0] for w in self.weights))

    def _layer_input(self, layer: int, times: jax.Array) -> jax.Array:
        if layer == 0 or self.bias_time is None:
            return times
        return jnp.concatenate([times, jnp.broadcast_to(self.bias_time, (1,)).astype(times.dtype)])

    def layer_times(self, input_times: Float[Array, " n_in"]) -> list[jax.Array]:
        """Spike times of every layer after the input, for one sample."""
        times, out = input_times, []
        for layer, (w, d) in enumerate(zip(self.weights, self.delays, strict=True)):
            pre = self._layer_input(layer, times)
            times = layer_spike_times(pre, w, d, self.delay_type, self.neuron)
            out.append(times)
        return out

    def __call__(self, input_times: Float[Array, " n_in"]) -> Float[Array, " n_out"]:
        """Output first-spike times for one sample (``+inf`` = silent)."""
        return self.layer_times(input_times)[-1]

    def outputs_and_peaks(self, input_times: Float[Array, " n_in"]) -> SpikeAndPeak:
        """Output spike times and free-potential peaks (each ``(n_out,)``) for one sample."""
        last = len(self.weights) - 1
        hidden = input_times if last == 0 else self.layer_times(input_times)[-2]
        pre = self._layer_input(last, hidden)
        return layer_spikes_and_peaks(
            pre, self.weights[-1], self.delays[-1], self.delay_type, self.neuron
        )

    @property
    def parameters(self) -> Parameters:
        """The trainable pytree ``(weights, delays)`` (neuron and bias time stay fixed)."""
        return self.weights, self.delays

    def with_parameters(self, parameters: Parameters) -> TTFSNetwork:
        """The same network with ``(weights, delays)`` replaced (the inverse of
        :attr:`parameters`; works on traced values inside ``jax.grad``)."""
        weights, delays = parameters
        return TTFSNetwork(
            tuple(weights), tuple(delays), self.neuron, self.bias_time, self.delay_type
        )

    def project(self, d_max: float | jax.Array) -> TTFSNetwork:
        """The same network with every delay clipped to ``[0, d_max]`` ms."""
        return self.with_parameters(
            (self.weights, tuple(project_delays(d, d_max) for d in self.delays))
        )

    def parameter_counts(self) -> dict[str, int]:
        """Trainable parameters: ``{"weights": ..., "delays": ..., "total": ...}``."""
        n_w = sum(int(w.size) for w in self.weights)
        n_d = sum(int(d.size) for d in self.delays if d is not None)
        return {"weights": n_w, "delays": n_d, "total": n_w + n_d}
