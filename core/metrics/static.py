r"""Static NeuroBench metrics: footprint, parameter count and connection sparsity.

They depend on the model only, not on data. Each function mirrors one file of the
``neurobench`` package (v2.3.0, github.com/NeuroBench/neurobench at commit ``e521c28``):

* :func:`footprint` - ``neurobench/metrics/static/footprint.py``:
  :math:`\sum_{p \in \text{parameters}} \text{numel}(p)\,\text{element\_size}(p) +
  \sum_{b \in \text{buffers}} \text{numel}(b)\,\text{element\_size}(b)` in bytes. Zero weights
  count (``docs/metrics/static_metrics/model_footprint.rst``: "Zero weights are included").
* :func:`parameter_count` - ``neurobench/metrics/static/parameter_count.py``: the number of
  elements of ``nn.Module.parameters()``; buffers are **not** counted.
* :func:`connection_sparsity` - ``neurobench/metrics/static/connection_sparsity.py``: zero
  weights over all weights of the connection layers,
  :math:`\sum_l m_l / \sum_l n_l`. For ``Linear``/``Conv`` layers neurobench counts the
  ``weight`` tensor only (biases excluded); neuron modules (snntorch ``SpikingNeuron``) and any
  other module contribute nothing. A recurrent matrix implemented as an ``nn.Linear`` (as in
  snntorch's ``RLeaky``) is found by neurobench's recursive search and counts like any other
  weight matrix. neurobench rounds the result to 4 decimals; we return it unrounded.

A "pytree" here is anything ``jax.tree_util`` flattens: an equinox module, a NamedTuple or a
dict of arrays. Its array leaves are ``jax.Array``, ``numpy.ndarray`` and numpy scalars;
Python ``int``/``float`` leaves and static fields are not stored arrays and are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from numpy.typing import ArrayLike

__all__ = ["array_leaves", "connection_sparsity", "footprint", "parameter_count"]


def array_leaves(tree: Any) -> list[Any]:
    """The array leaves of a pytree (``jax.Array``, ``numpy.ndarray``, numpy scalars)."""
    return [
        leaf
        for leaf in jax.tree_util.tree_leaves(tree)
        if isinstance(leaf, (jax.Array, np.ndarray, np.generic))
    ]


def footprint(params: Any, buffers: Any = None) -> int:
    """Memory footprint in bytes: ``nbytes`` summed over the array leaves of ``params`` and
    ``buffers``.

    **Arguments:**

    - ``params``: pytree of the trainable arrays (neurobench's ``parameters()``).
    - ``buffers``: pytree of the non-trainable arrays the model needs to run (neurobench's
      ``buffers()``): fixed neuron constants (decay factors, thresholds, time constants),
      connectivity masks, fixed delays. snntorch registers a non-learnable ``beta``,
      ``threshold``, ``graded_spikes_factor`` and ``reset_mechanism_val`` (int64) as buffers, so
      a model's neuron constants belong here. Simulation state does not: snntorch 1.0 also keeps
      ``mem``/``spk`` as buffers, so neurobench's footprint of an already-run model includes the
      last batch's state (a 10-8-3 net: 500 B fresh, 588 B on a second ``Benchmark.run``); we
      count only what is passed here.

    Zero weights count, and each array counts at its own dtype (float32 = 4 bytes per element,
    float64 = 8). An array that appears in both pytrees counts twice.
    """
    return int(sum(leaf.nbytes for leaf in array_leaves(params) + array_leaves(buffers)))


def parameter_count(params: Any) -> int:
    """Number of parameters: the total element count of the array leaves of ``params``
    (buffers are not parameters, as in neurobench)."""
    return int(sum(np.size(leaf) for leaf in array_leaves(params)))


def connection_sparsity(weights: Sequence[ArrayLike]) -> float:
    r"""Fraction of zero entries among all entries of the given connection weight matrices,
    :math:`\sum_l \#\{W_l = 0\} / \sum_l \text{size}(W_l)` (0 = fully connected, 1 = no
    connections).

    Pass the weight matrices only (feed-forward, recurrent and readout), not biases or neuron
    parameters, as neurobench does for ``Linear`` layers. An absent connection must be stored
    as an exact zero.

    Raises ``ValueError`` if no weights are given or they have no entries at all.
    """
    zeros = 0
    total = 0
    for weight in weights:
        w = np.asarray(weight)
        zeros += int(np.count_nonzero(w == 0))
        total += w.size
    if total == 0:
        raise ValueError(
            f"connection_sparsity needs at least one non-empty weight matrix, got {len(weights)} "
            "matrices with no entries"
        )
    return zeros / total
