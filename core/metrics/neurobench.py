"""All NeuroBench algorithm-track metrics of a trained model in one call.

:func:`neurobench_metrics` combines the static metrics (:mod:`.static`: footprint, parameter
count, connection sparsity) and the workload metrics (:mod:`.workload`: activation sparsity,
synaptic operations, classification accuracy) with the definitions of the ``neurobench``
package v2.3.0 (Yik et al., arXiv 2304.04640; source files cited in those modules). Membrane
updates, neuron operations and model execution rate are not computed.

The model can come from any engine: pass its arrays as a pytree and its connections as
:class:`.LayerActivity` records (dense rasters for time-stepped nets, per-sample spike counts
for event-based ones).

!!! example
    ```python
    layers = [
        LayerActivity(w_in, inputs=x_raster, outputs=hidden_raster, name="input->hidden"),
        LayerActivity(w_out, inputs=hidden_raster, outputs=out_raster, name="hidden->out"),
    ]
    m = neurobench_metrics(model_params, layers, predictions, labels, buffers=neuron_consts)
    m["synaptic_operations"]["Effective_ACs"], m["table"]
    ```
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .static import connection_sparsity, footprint, parameter_count
from .workload import (
    LayerActivity,
    activation_sparsity,
    classification_accuracy,
    layer_activation_sparsity,
    layer_synaptic_operations,
    synaptic_operations,
)

__all__ = ["neurobench_metrics"]


def _per_layer(layer: LayerActivity, index: int, include_bias: bool) -> dict[str, Any]:
    ops = layer_synaptic_operations(layer, include_bias=include_bias)
    shape = np.shape(layer.weight)
    return {
        "name": layer.name or f"layer {index}",
        "n_in": int(shape[0]),
        "n_out": int(shape[1]),
        "connection_sparsity": connection_sparsity([layer.weight]),
        "activation_sparsity": layer_activation_sparsity(layer),
        "Dense": ops.dense,
        "Effective_MACs": ops.effective_macs,
        "Effective_ACs": ops.effective_acs,
    }


def neurobench_metrics(
    params: Any,
    layers: list[LayerActivity],
    predictions: ArrayLike | None = None,
    labels: ArrayLike | None = None,
    *,
    buffers: Any = None,
    include_bias: bool = False,
) -> dict[str, Any]:
    """NeuroBench metrics of a model evaluated on a data set.

    **Arguments:**

    - ``params``: pytree of the trainable arrays (equinox module, dict, NamedTuple).
    - ``layers``: one :class:`.LayerActivity` per connection matrix (feed-forward, recurrent,
      readout), all over the same samples.
    - ``predictions``, ``labels``: for accuracy (omit both to skip it).
    - ``buffers``: pytree of fixed non-trainable arrays (neuron constants, masks), counted in
      the footprint only.
    - ``include_bias``: count bias additions as synaptic operations (neurobench does not).

    **Returns** a dict with ``footprint`` (bytes), ``parameter_count``,
    ``connection_sparsity``, ``activation_sparsity`` (``None`` if no layer has outputs),
    ``synaptic_operations`` (``{"Dense", "Effective_MACs", "Effective_ACs"}`` per sample),
    ``classification_accuracy`` (``None`` without labels), ``samples``, ``per_layer`` (one dict
    per layer, same keys per layer) and ``table``: a flat ``{label: value}`` dict ready for a
    table widget.
    """
    if (predictions is None) != (labels is None):
        raise ValueError("pass both `predictions` and `labels` for accuracy, or neither")
    ops = synaptic_operations(layers, include_bias=include_bias)
    has_outputs = any(layer.outputs is not None for layer in layers)
    act = activation_sparsity(layers) if has_outputs else None
    acc = None if labels is None else classification_accuracy(predictions, labels)
    result: dict[str, Any] = {
        "footprint": footprint(params, buffers),
        "parameter_count": parameter_count(params),
        "connection_sparsity": connection_sparsity([layer.weight for layer in layers]),
        "activation_sparsity": act,
        "synaptic_operations": {
            "Dense": ops.dense,
            "Effective_MACs": ops.effective_macs,
            "Effective_ACs": ops.effective_acs,
        },
        "classification_accuracy": acc,
        "samples": int(np.shape(layers[0].inputs)[0]),
        "per_layer": [_per_layer(layer, i, include_bias) for i, layer in enumerate(layers)],
    }
    result["table"] = {
        "Footprint (bytes)": result["footprint"],
        "Parameters": result["parameter_count"],
        "Connection sparsity": result["connection_sparsity"],
        "Activation sparsity": act,
        "Dense SynOps / sample": ops.dense,
        "Effective MACs / sample": ops.effective_macs,
        "Effective ACs / sample": ops.effective_acs,
        "Accuracy": acc,
    }
    return result
