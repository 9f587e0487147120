r"""Workload NeuroBench metrics: synaptic operations, activation sparsity, accuracy.

They depend on what the model did on a data set. The model is described engine-agnostically as
a list of :class:`LayerActivity` records, one per connection (weight matrix): what arrived at
its inputs and, optionally, what its neurons emitted. A time-stepped network (surrogate
gradients, ``core/snn``) passes dense rasters ``(samples, T, n)``; an event-based network
(EventProp, ``core/eventprop``; time-to-first-spike, ``core/delgrad``) passes spike counts per
sample ``(samples, n)`` (:func:`spike_counts` turns ``inf``-padded spike-time arrays into them).

Definitions, with the neurobench v2.3.0 files they reproduce (github.com/NeuroBench/neurobench,
commit ``e521c28``):

**Synaptic operations** (``neurobench/metrics/workload/synaptic_operations.py``,
``neurobench/metrics/utils/layers/{macs,input,binary_copy}.py``). neurobench hooks the input of
every connection layer (``Linear``, ``Conv``, RNN cells) on every forward call - snntorch
models are called once per time step - and re-runs the layer with binarised copies:

* Dense: inputs and weights all set to 1, so one call costs ``n_in * n_out`` per sample,
  zero weights and zero inputs included. Per sample, a layer run for ``T`` steps costs
  :math:`T\, n_{in} n_{out}`.
* Effective: non-zero inputs and weights set to 1, zeros kept, i.e.
  :math:`\sum_{t} \sum_{i,j} [x_{t,i} \ne 0][W_{ij} \ne 0] = \sum_i c_i f_i` with
  :math:`c_i` the number of steps input ``i`` was non-zero and :math:`f_i` its fan-out, the
  number of non-zero weights in its row. One input spike therefore costs its fan-out.
* The effective count goes to ACs when the layer's input is binary - every value in
  ``{-1, 0, 1}`` (``input.py``; signed spikes count as binary) - and to MACs otherwise.
  neurobench decides this per forward call (per step and batch); :class:`LayerActivity`
  decides per layer, from ``binary_inputs`` or, if that is ``None``, from all of its inputs.
* Biases are not synaptic operations: ``macs.py`` zeroes the binarised bias (a hard-coded
  ``bias = False``). ``include_bias=True`` adds the switch neurobench leaves for later: each call
  then also costs ``n_out`` dense and ``nnz(bias)`` effective operations.
* Recurrent weights: snntorch's ``RLeaky`` holds its recurrent matrix as an ``nn.Linear``,
  which neurobench finds and hooks like any layer; its input at step ``t`` is the layer's own
  spikes of step ``t - 1`` (zeros at ``t = 0``, still ``n_in * n_out`` dense ops). Pass it as
  its own :class:`LayerActivity` with those inputs.
* The readout's weight matrix is a connection layer like any other.
* Totals are summed over layers and divided by the number of samples (``data[0].size(0)``
  summed over batches), giving operations per sample.

**Activation sparsity** (``neurobench/metrics/workload/activation_sparsity.py``,
``neurobench/hooks/neuron.py``, ``neurobench/blocks/activation.py``): zero outputs over all
outputs of every activation module (``nn.ReLU``, ``nn.Sigmoid``, snntorch ``SpikingNeuron``),
over all time steps and samples, :math:`\sum z / \sum N`. For snntorch neurons the hooked output
is the spike tensor, never the membrane potential; an output layer made of snntorch neurons
counts, a bare ``Linear`` readout (no activation module) does not. Here a layer contributes if
its ``outputs`` is given.

**Classification accuracy** (``neurobench/metrics/workload/classification_accuracy.py``): mean
of ``preds == labels`` after post-processing; neurobench requires equal shapes.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "LayerActivity",
    "SynapticOperations",
    "activation_sparsity",
    "classification_accuracy",
    "layer_activation_sparsity",
    "layer_synaptic_operations",
    "spike_counts",
    "synaptic_operations",
]


class LayerActivity(NamedTuple):
    """One connection layer and what it saw during evaluation.

    **Fields:**

    - ``weight``: ``(n_in, n_out)`` weight matrix; an absent connection is an exact 0.
      (torch's ``nn.Linear.weight`` is ``(n_out, n_in)``: transpose it.)
    - ``inputs``: either a dense array ``(samples, T, n_in)`` of the values entering the layer
      at each of ``T`` steps (spikes, rates, analog values; a one-step ANN layer uses
      ``T = 1``), or per-sample event counts ``(samples, n_in)``: how many spikes each input
      sent during the sample (event-based models).
    - ``outputs``: the layer's neuron outputs for activation sparsity, or ``None`` to leave the
      layer out of it (e.g. a readout that is not a neuron layer). Either dense
      ``(samples, T, n_out)`` activations or spike counts ``(samples, n_out)``; a count array
      stands for a raster of ``n_steps`` bins with at most one spike per bin.
    - ``binary_inputs``: ``True`` = inputs are spikes (effective ops are ACs), ``False`` =
      graded values (MACs), ``None`` = decide like neurobench: binary iff all dense inputs are
      in ``{-1, 0, 1}``; event counts default to binary.
    - ``bias``: optional ``(n_out,)`` bias; only used with ``include_bias=True``.
    - ``n_steps``: steps of the equivalent clocked execution for event-count inputs/outputs
      (the Dense count is ``n_steps * n_in * n_out`` per sample); default 1, one dense pass per
      sample. With dense arrays it must be ``None`` or equal ``T``.
    - ``name``: label for per-layer tables.
    """

    weight: ArrayLike
    inputs: ArrayLike
    outputs: ArrayLike | None = None
    binary_inputs: bool | None = None
    bias: ArrayLike | None = None
    n_steps: int | None = None
    name: str = ""


class SynapticOperations(NamedTuple):
    """Synaptic operations per sample (neurobench's ``Dense``, ``Effective_MACs``,
    ``Effective_ACs``)."""

    dense: float
    effective_macs: float
    effective_acs: float


def _label(layer: LayerActivity, index: int | None) -> str:
    return layer.name or (f"layer {index}" if index is not None else "layer")


def _weight(layer: LayerActivity, label: str) -> np.ndarray:
    w = np.asarray(layer.weight)
    if w.ndim != 2:
        raise ValueError(f"{label}: `weight` must be a (n_in, n_out) matrix, got shape {w.shape}")
    return w


def _steps(layer: LayerActivity, array: np.ndarray, label: str, what: str) -> int:
    """Time steps an ``inputs``/``outputs`` array stands for (validates ``n_steps``)."""
    if array.ndim == 3:
        if layer.n_steps is not None and layer.n_steps != array.shape[1]:
            raise ValueError(
                f"{label}: `n_steps`={layer.n_steps} contradicts the {array.shape[1]} steps of "
                f"the dense `{what}` of shape {array.shape}; leave `n_steps` as None"
            )
        return array.shape[1]
    if array.ndim == 2:
        n_steps = 1 if layer.n_steps is None else int(layer.n_steps)
        if n_steps < 1:
            raise ValueError(f"{label}: `n_steps` must be a positive integer, got {n_steps}")
        if np.any(array < 0):
            raise ValueError(f"{label}: event counts in `{what}` must be >= 0, got {array.min()}")
        return n_steps
    raise ValueError(
        f"{label}: `{what}` must be dense (samples, T, n) or event counts (samples, n), "
        f"got shape {array.shape}"
    )


def _is_binary(layer: LayerActivity, inputs: np.ndarray) -> bool:
    if layer.binary_inputs is not None:
        return bool(layer.binary_inputs)
    if inputs.ndim == 2:
        return True
    return bool(np.all((inputs == 0) | (inputs == 1) | (inputs == -1)))


def _layer_totals(
    layer: LayerActivity, include_bias: bool, index: int | None
) -> tuple[int, int, int, bool]:
    """``(samples, dense, effective, binary)`` summed over samples and steps (exact ints)."""
    label = _label(layer, index)
    w = _weight(layer, label)
    x = np.asarray(layer.inputs)
    n_steps = _steps(layer, x, label, "inputs")
    if x.shape[-1] != w.shape[0]:
        raise ValueError(
            f"{label}: `inputs` has {x.shape[-1]} features but `weight` has n_in={w.shape[0]} "
            f"rows (weight is (n_in, n_out))"
        )
    samples = x.shape[0]
    n_in, n_out = w.shape
    fan_out = np.count_nonzero(w, axis=1).astype(np.int64)
    # active_i: over samples and steps, how often input i was non-zero (dense) or spiked (events)
    if x.ndim == 3:
        active = np.count_nonzero(x, axis=(0, 1)).astype(np.int64)
    else:
        if np.issubdtype(x.dtype, np.floating) and np.any(x != np.round(x)):
            raise ValueError(f"{label}: event counts in `inputs` must be whole numbers")
        active = x.sum(axis=0).astype(np.int64)
    calls = samples * n_steps
    dense = calls * n_in * n_out
    effective = int(active @ fan_out)
    if include_bias and layer.bias is not None:
        b = np.asarray(layer.bias)
        if b.shape != (n_out,):
            raise ValueError(f"{label}: `bias` must have shape ({n_out},), got {b.shape}")
        dense += calls * n_out
        effective += calls * int(np.count_nonzero(b))
    return samples, int(dense), effective, _is_binary(layer, x)


def layer_synaptic_operations(
    layer: LayerActivity, *, include_bias: bool = False
) -> SynapticOperations:
    """Dense / effective MACs / effective ACs per sample of one layer (see the module
    docstring); exactly one of the two effective counts is non-zero."""
    samples, dense, effective, binary = _layer_totals(layer, include_bias, None)
    eff = effective / samples
    return SynapticOperations(dense / samples, 0.0 if binary else eff, eff if binary else 0.0)


def synaptic_operations(
    layers: list[LayerActivity], *, include_bias: bool = False
) -> SynapticOperations:
    """Synaptic operations per sample of a whole model: each count summed over ``layers`` and
    divided by the number of samples, which all layers must share.

    Example: one sample, 10 binary inputs of which 3 spike once, into a dense 10x5 matrix:
    Dense = 50, Effective_ACs = 3 * 5 = 15, Effective_MACs = 0.
    """
    if not layers:
        raise ValueError("synaptic_operations needs at least one LayerActivity, got none")
    totals = [_layer_totals(layer, include_bias, i) for i, layer in enumerate(layers)]
    samples = {t[0] for t in totals}
    if len(samples) != 1 or 0 in samples:
        raise ValueError(
            "every layer's `inputs` must hold the same, non-zero number of samples (axis 0), "
            f"got {[t[0] for t in totals]}"
        )
    (n,) = samples
    dense = sum(t[1] for t in totals)
    macs = sum(t[2] for t in totals if not t[3])
    acs = sum(t[2] for t in totals if t[3])
    return SynapticOperations(dense / n, macs / n, acs / n)


def _zero_and_total(layer: LayerActivity, index: int | None) -> tuple[int, int]:
    label = _label(layer, index)
    y = np.asarray(layer.outputs)
    n_steps = _steps(layer, y, label, "outputs")
    if y.ndim == 3:
        return int(y.size - np.count_nonzero(y)), int(y.size)
    if np.any(y > n_steps):
        raise ValueError(
            f"{label}: a neuron emitted {y.max()} spikes in one sample but `n_steps`={n_steps} "
            "bins hold at most one spike each; pass a larger `n_steps` or a dense raster"
        )
    total = y.size * n_steps
    return int(total - y.sum()), int(total)


def layer_activation_sparsity(layer: LayerActivity) -> float | None:
    """Activation sparsity of one layer's ``outputs`` (``None`` if it has none)."""
    if layer.outputs is None:
        return None
    zeros, total = _zero_and_total(layer, None)
    return zeros / total if total else None


def activation_sparsity(layers: list[LayerActivity]) -> float:
    r"""Fraction of zero neuron outputs, :math:`\sum z / \sum N` over the layers whose
    ``outputs`` is given, all their neurons, steps and samples (0 = every neuron active at
    every step, 1 = silent). Event counts ``(samples, n)`` over ``n_steps`` bins count
    ``n_steps * n - spikes`` zeros per sample.

    Raises ``ValueError`` if no layer has ``outputs`` (neurobench returns 0.0 there, which
    would read as "fully active").
    """
    counts = [
        _zero_and_total(layer, i) for i, layer in enumerate(layers) if layer.outputs is not None
    ]
    total = sum(c[1] for c in counts)
    if total == 0:
        raise ValueError("activation_sparsity needs at least one layer with non-empty `outputs`")
    return sum(c[0] for c in counts) / total


def classification_accuracy(predictions: ArrayLike, labels: ArrayLike) -> float:
    """Fraction of samples whose predicted class equals the label.

    ``predictions`` is either class indices ``(samples,)`` or scores ``(samples, classes)``
    (argmax taken; for time-to-first-spike outputs pass the predicted indices or ``-times``).
    """
    p = np.asarray(predictions)
    y = np.asarray(labels)
    if p.ndim == 2:
        p = np.argmax(p, axis=-1)
    if p.shape != y.shape or y.ndim != 1 or y.size == 0:
        raise ValueError(
            "predictions must be (samples,) classes or (samples, classes) scores matching "
            f"labels (samples,); got predictions {np.shape(predictions)} and labels {y.shape}"
        )
    return float(np.mean(p == y))


def spike_counts(times: ArrayLike, t_max: float = np.inf) -> np.ndarray:
    """Per-sample spike counts from spike-time arrays padded with ``inf`` (no spike).

    ``times`` is ``(samples, n)`` (at most one spike per neuron, e.g. time-to-first-spike) or
    ``(samples, n, k)`` (up to ``k`` spikes per neuron); a time counts if it is finite and
    ``< t_max``. Returns int64 ``(samples, n)``.
    """
    t = np.asarray(times)
    if t.ndim not in (2, 3):
        raise ValueError(f"times must be (samples, n) or (samples, n, k), got shape {t.shape}")
    fired = np.isfinite(t) & (t < t_max)
    return fired.astype(np.int64) if t.ndim == 2 else fired.sum(axis=-1, dtype=np.int64)
