r"""Where a delay sits: axonal, dendritic or synaptic (DelGrad, Göltz et al. 2025).

A delay only moves the time at which a presynaptic spike reaches the soma. For a layer with
presynaptic spike times :math:`t_j` (``n_pre``) and ``n_post`` neurons, the arrival time of
the spike of ``j`` at neuron ``k`` is

.. math::

    a_{kj} = t_j + d_{kj}, \qquad d_{kj} =
    \begin{cases}
      d^{\mathrm{ax}}_j & \text{axonal: one per presynaptic neuron, shape (n_pre,)}\\
      d^{\mathrm{den}}_k & \text{dendritic: one per postsynaptic neuron, shape (n_post,)}\\
      d^{\mathrm{syn}}_{kj} & \text{synaptic: one per synapse, shape (n_post, n_pre)}
    \end{cases}

so that :math:`\partial t_k/\partial d = \sum_{\text{synapses } kj \text{ carrying } d}
\partial t_k / \partial a_{kj}`. A dendritic delay shifts all inputs of ``k`` alike, hence
(time-shift invariance) shifts ``t_k`` by exactly ``d_k``: :math:`\partial t_k/\partial d^{den}_k
= 1`. In a layered network the dendritic delays of a hidden layer therefore act like axonal
delays of that layer's neurons, and on the output layer they shift the class spike times.

Delays are kept non-negative by projection: after every optimiser update they are clipped to
``[0, d_max]`` (projected gradient descent), so the trained quantity is the delay itself and
its gradient is the one the finite-difference tests check.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

DELAY_TYPES = (None, "axonal", "dendritic", "synaptic")


def check_delay_type(delay_type: str | None) -> None:
    """Raise ``ValueError`` unless ``delay_type`` is one of :data:`DELAY_TYPES`."""
    if delay_type not in DELAY_TYPES:
        raise ValueError(f"delay_type must be one of {DELAY_TYPES}, got {delay_type!r}")


def delay_shape(delay_type: str | None, n_pre: int, n_post: int) -> tuple[int, ...] | None:
    """Shape of one layer's delays, ``None`` when the network has no delays."""
    check_delay_type(delay_type)
    return {
        None: None,
        "axonal": (n_pre,),
        "dendritic": (n_post,),
        "synaptic": (n_post, n_pre),
    }[delay_type]


def init_delays(
    delay_type: str | None, n_pre: int, n_post: int, d_init_max: float, *, key: jax.Array
) -> jax.Array | None:
    """Delays drawn uniformly from ``[0, d_init_max]`` ms (``None`` without delays)."""
    shape = delay_shape(delay_type, n_pre, n_post)
    if shape is None:
        return None
    if not d_init_max >= 0:
        raise ValueError(f"d_init_max must be >= 0 ms, got {d_init_max!r}")
    return jax.random.uniform(key, shape, minval=0.0, maxval=d_init_max)


def arrival_times(
    pre_times: Float[Array, " n_pre"],
    delays: jax.Array | None,
    delay_type: str | None,
    n_post: int,
) -> Float[Array, "n_post n_pre"]:
    """Arrival time of each presynaptic spike at each postsynaptic neuron, :math:`t_j + d_{kj}`."""
    check_delay_type(delay_type)
    base = jnp.broadcast_to(pre_times[None, :], (n_post, pre_times.shape[0]))
    if delay_type is None or delays is None:
        return base
    if delay_type == "axonal":
        return base + delays[None, :]
    if delay_type == "dendritic":
        return base + delays[:, None]
    return base + delays


def project_delays(delays: jax.Array | None, d_max: float | jax.Array) -> jax.Array | None:
    """Clip delays to the feasible set ``[0, d_max]`` (the projection step after an update)."""
    if delays is None:
        return None
    return jnp.clip(delays, 0.0, d_max)
