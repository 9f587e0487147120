r"""A feed-forward stack of spiking layers run over a whole input sequence.

:class:`SpikingSequential` takes **one sample** ``x`` of shape ``(T, n_in)`` (time first) and
returns a :class:`NetworkOutput`: the last layer's output over time and every spiking layer's
spikes (for rasters and NeuroBench activation sparsity). Batch it with :func:`jax.vmap`
(``jax.vmap(model)(x)`` with ``x`` of shape ``(batch, T, n_in)``, the data convention of
:mod:`snnviz.core.data`). The model is a pytree, so ``jax.vmap``, ``eqx.filter_grad`` and
``eqx.filter_jit`` apply directly.

One :func:`jax.lax.scan` over time steps all layers together (:meth:`SpikingSequential.step`),
with each layer's matmul inside the step. (Running each layer over the whole sequence in turn,
with its feed-forward matmul hoisted out of the loop, measured up to 2-3x slower on this CPU
at batch 256 for Yin-Yang sizes: the scan then slices a wide ``(T, batch, n_hidden)`` input
instead of the narrow one.)
A batch can also run time-major, ``model.run(x)`` with ``x`` ``(T, batch, n_in)`` (states
with a batch axis); the training losses do that, which is the same computation as ``vmap``
(tested) and measured faster.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .layers import AdLIFLayer, LeakyReadout, LIFLayer
from .surrogate import Surrogate

__all__ = [
    "NEURON_MODELS",
    "NetworkOutput",
    "SpikingSequential",
    "make_network",
    "set_surrogate",
    "set_time_constants",
    "trainable_filter",
]

NEURON_MODELS = ("lif", "adlif")


class NetworkOutput(NamedTuple):
    """What a :class:`SpikingSequential` returns for one sample.

    ``output``: the last layer's output at every step, ``(T, n_out)`` (membrane of a
    :class:`~.layers.LeakyReadout`, spikes of a spiking layer); ``spikes``: one ``(T, n_i)``
    0/1 array per spiking layer, in order (the output layer's too if it spikes).
    """

    output: Float[Array, "T n_out"]
    spikes: tuple[Float[Array, "T n"], ...]


class SpikingSequential(eqx.Module):
    """Layers applied in sequence; ``model(x)`` runs a sample ``x`` ``(T, n_in)``.

    >>> model = SpikingSequential([LIFLayer(5, 100, key=k1), LeakyReadout(100, 3, key=k2)])
    >>> out = jax.vmap(model)(x)            # x (batch, T, 5)
    >>> out.output.shape, out.spikes[0].shape  # (batch, T, 3), (batch, T, 100)
    """

    layers: tuple[eqx.Module, ...]

    def __init__(self, layers: Sequence[eqx.Module]):
        self.layers = tuple(layers)

    def __check_init__(self) -> None:
        if not self.layers:
            raise ValueError("SpikingSequential: `layers` must hold at least one layer, got none")
        for i, (a, b) in enumerate(zip(self.layers[:-1], self.layers[1:], strict=True)):
            if a.n_out != b.n_in:
                raise ValueError(
                    f"SpikingSequential: layer {i} has {a.n_out} outputs but layer {i + 1} "
                    f"expects {b.n_in} inputs"
                )

    @property
    def n_in(self) -> int:
        return self.layers[0].n_in

    @property
    def n_out(self) -> int:
        return self.layers[-1].n_out

    def init_state(self, batch_shape: tuple[int, ...] = ()) -> tuple[Any, ...]:
        """Every layer's rest state (a tuple), arrays of shape ``(*batch_shape, n)``."""
        return tuple(layer.init_state(batch_shape) for layer in self.layers)

    def step(
        self, state: tuple[Any, ...], x_t: Float[Array, "*batch n_in"]
    ) -> tuple[tuple[Any, ...], NetworkOutput]:
        """All layers one time step (for streaming a run chunk by chunk): returns the new
        state and a :class:`NetworkOutput` of this step (``output`` ``(*batch, n_out)``)."""
        return self._step(state, x_t, record_spikes=True)

    def _step(self, state, x_t, *, record_spikes: bool):
        new_state, spikes = [], []
        for layer, layer_state in zip(self.layers, state, strict=True):
            layer_state, x_t = layer(layer_state, x_t)
            new_state.append(layer_state)
            if layer.emits_spikes and record_spikes:
                spikes.append(x_t)
        return tuple(new_state), NetworkOutput(x_t, tuple(spikes))

    def run(
        self,
        x: Float[Array, "T *batch n_in"],
        state: tuple[Any, ...] | None = None,
        *,
        record_spikes: bool = True,
    ) -> tuple[tuple[Any, ...], NetworkOutput]:
        """A time-major sequence ``(T, *batch, n_in)`` from ``state`` (default rest) ->
        ``(final state, NetworkOutput)``; continue a run by passing the returned state.

        ``record_spikes=False`` leaves the hidden spikes out (``spikes == ()``): a loss that
        needs only the output then carries no ``(T, batch, n_hidden)`` stack through the
        backward pass (measured ~20 % faster training steps at batch 256)."""
        if state is None:
            state = self.init_state(x.shape[1:-1])

        def step(carry, x_t):
            return self._step(carry, x_t, record_spikes=record_spikes)

        return jax.lax.scan(step, state, x)

    def __call__(self, x: Float[Array, "T n_in"]) -> NetworkOutput:
        """Run one sample ``(T, n_in)`` from rest."""
        if x.ndim != 2 or x.shape[1] != self.n_in:
            raise ValueError(
                f"SpikingSequential expects one sample of shape (T, {self.n_in}), got "
                f"{x.shape}; use jax.vmap(model)(x) for a batch (batch, T, {self.n_in})"
            )
        return self.run(x)[1]


def make_network(
    n_in: int,
    n_hidden: int | Sequence[int],
    n_out: int,
    *,
    key: PRNGKeyArray,
    neuron: str = "lif",
    recurrent: bool = False,
    surrogate: str = "fast_sigmoid",
    slope: float = 10.0,
    tau_mem: float = 10.0,
    tau_syn: float = 5.0,
    readout_tau_mem: float | None = None,
    readout_tau_syn: float | None = None,
    threshold: float = 1.0,
    dt: float = 1.0,
    hidden_weight_scale: float = 1.0,
    readout_weight_scale: float = 1.0,
    **layer_kwargs: Any,
) -> SpikingSequential:
    """``n_in`` -> spiking hidden layer(s) of ``neuron`` (``"lif"`` or ``"adlif"``) ->
    :class:`~.layers.LeakyReadout` of ``n_out`` (time constants default to the hidden ones).

    ``layer_kwargs`` go to every hidden layer (e.g. ``reset="zero"``, ``tau_adapt=200.0``,
    ``train_time_constants=True``).
    """
    if neuron not in NEURON_MODELS:
        raise ValueError(f"make_network: `neuron` must be one of {NEURON_MODELS}, got {neuron!r}")
    sizes = [n_hidden] if isinstance(n_hidden, int) else list(n_hidden)
    cls = LIFLayer if neuron == "lif" else AdLIFLayer
    keys = jax.random.split(key, len(sizes) + 1)
    layers: list[eqx.Module] = []
    for size_in, size_out, k in zip([n_in, *sizes[:-1]], sizes, keys[:-1], strict=True):
        layers.append(
            cls(
                size_in,
                size_out,
                key=k,
                recurrent=recurrent,
                tau_mem=tau_mem,
                tau_syn=tau_syn,
                threshold=threshold,
                dt=dt,
                surrogate=Surrogate(surrogate, slope),
                weight_scale=hidden_weight_scale,
                **layer_kwargs,
            )
        )
    layers.append(
        LeakyReadout(
            sizes[-1],
            n_out,
            key=keys[-1],
            tau_mem=tau_mem if readout_tau_mem is None else readout_tau_mem,
            tau_syn=tau_syn if readout_tau_syn is None else readout_tau_syn,
            dt=dt,
            weight_scale=readout_weight_scale,
        )
    )
    return SpikingSequential(layers)


def trainable_filter(model: eqx.Module) -> Any:
    """A pytree of bools shaped like ``model``: True for the arrays an optimiser trains.

    Weights (feed-forward and recurrent) always; the time constants (and AdLIF's ``a``,
    ``b``) of layers with ``train_time_constants=True``; never thresholds, ``dt`` or surrogate
    slopes. Use with ``eqx.partition(model, trainable_filter(model))``.
    """
    spec = jax.tree_util.tree_map(lambda _: False, model)

    def trained(m: eqx.Module) -> list[Array]:
        leaves = []
        for layer in _layers(m):
            names = ["weight", "recurrent_weight"]
            if layer.train_time_constants:
                names += list(layer.time_constant_fields)
            leaves += [getattr(layer, n) for n in names if getattr(layer, n) is not None]
        return leaves

    return eqx.tree_at(trained, spec, replace_fn=lambda _: True)


def _layers(model: eqx.Module) -> tuple[eqx.Module, ...]:
    return model.layers if isinstance(model, SpikingSequential) else (model,)


def _refill(old: Array, value: ArrayLike) -> Array:
    """``value`` with the dtype and shape of ``old``, so a jitted function does not recompile."""
    return jnp.broadcast_to(jnp.asarray(value, old.dtype), old.shape)


def _replace_in_layers(
    model: eqx.Module, indices: list[int], field: str, new_values: list
) -> eqx.Module:
    """``model`` with ``field`` of the layers at ``indices`` replaced by ``new_values``."""
    if not indices:
        return model
    return eqx.tree_at(
        lambda m: [getattr(_layers(m)[i], field) for i in indices], model, new_values
    )


def set_surrogate(
    model: eqx.Module, slope: ArrayLike | None = None, kind: str | None = None
) -> eqx.Module:
    """``model`` (a network or one layer) with every spiking layer's surrogate slope and/or
    kind replaced. A new ``slope`` keeps shapes and dtypes (no recompilation); a new ``kind``
    changes the structure (compiles once per kind)."""
    layers = _layers(model)
    spiking = [i for i, layer in enumerate(layers) if layer.emits_spikes]
    new = []
    for i in spiking:
        old = layers[i].surrogate
        new_slope = old.slope if slope is None else _refill(old.slope, slope)
        new.append(eqx.tree_at(lambda s: s.slope, old, new_slope))
        if kind is not None:
            new[-1] = Surrogate(kind, new_slope)
    return _replace_in_layers(model, spiking, "surrogate", new)


def set_time_constants(
    model: eqx.Module,
    *,
    tau_mem: ArrayLike | None = None,
    tau_syn: ArrayLike | None = None,
    include_readout: bool = True,
) -> eqx.Module:
    """``model`` (a network or one layer) with new membrane and/or synaptic time constants
    (ms) in every layer (the readout too unless ``include_readout=False``). Shapes and dtypes
    are kept, so a jitted training step does not recompile."""
    layers = _layers(model)
    chosen = [i for i, layer in enumerate(layers) if include_readout or layer.emits_spikes]
    for field, value in (("tau_mem", tau_mem), ("tau_syn", tau_syn)):
        if value is not None:
            new = [_refill(getattr(layers[i], field), value) for i in chosen]
            model = _replace_in_layers(model, chosen, field, new)
    return model
