r"""EventProp (Wunderlich & Pehle 2021): the adjoint backward pass of one LIF layer.

For a loss that depends on spike times only, define the adjoint as the sensitivity of the
loss to the state, :math:`\lambda_V(t) = \partial L/\partial V(t)`,
:math:`\lambda_I(t) = \partial L/\partial I(t)` (for the paper's sign and scale see below).
Keeping :math:`\lambda_V \delta V + \lambda_I \delta I` constant along the linear dynamics
gives, in reverse time :math:`u = t_1 - t`, the closed form between events

.. math::

    \lambda_V(t) = \lambda_V(t_1)\, e^{-u/\tau_m}, \qquad
    \lambda_I(t) = \lambda_I(t_1)\, e^{-u/\tau_s}
        + k\,\lambda_V(t_1)\,\big(e^{-u/\tau_m} - e^{-u/\tau_s}\big),\quad
        k = \frac{\tau_s}{\tau_m - \tau_s}.

**Jumps.** At the neuron's own spike :math:`t_k` (pre-spike :math:`\dot V^- = (I - \theta)/
\tau_m`, post-spike :math:`\dot V^+ = I/\tau_m`), with :math:`g_k = \partial L/\partial t_k`
(the loss's own term plus everything downstream):

.. math::

    \lambda_V^- = \frac{\dot V^+ \lambda_V^+ - g_k}{\dot V^-}
               = \lambda_V^+ + \frac{\theta\,\lambda_V^+ - \tau_m g_k}{I(t_k) - \theta},
    \qquad \lambda_I^- = \lambda_I^+ .

At an input spike :math:`s_q` (weight :math:`w_q`) the adjoint is continuous and

.. math::

    \frac{\partial L}{\partial w_q} = \lambda_I(s_q), \qquad
    \frac{\partial L}{\partial s_q} = w_q\Big(\frac{\lambda_I(s_q)}{\tau_s}
        - \frac{\lambda_V(s_q)}{\tau_m}\Big),

so :math:`dL/dW_{ji} = \sum_{\text{spikes } q \text{ of } i} \lambda_{I,j}(s_q)`. The second
formula is the paper's inter-layer term :math:`(W^\top(\lambda_V^+ - \lambda_I))_n`: it is the
cotangent of the presynaptic spike times handed to the previous layer's backward pass, so
wrapping each layer in this ``jax.custom_vjp`` and composing layers *is* EventProp for the
whole network.

Because :math:`\lambda_V` only jumps at the neuron's own spikes (no voltage terms in the
loss, no recurrence), :math:`\lambda` at any time is a sum over the later own spikes of
the jump :math:`c_k = \lambda_V^- - \lambda_V^+` times the two kernels above; the only
sequential part is the recursion over the (few) own spikes.

**Paper convention.** The paper's adjoint (reverse-time ODEs :math:`\tau_m \lambda_V' =
-\lambda_V`, :math:`\tau_s \lambda_I' = -\lambda_I + \lambda_V`, gradient
:math:`dL/dW_{ji} = -\tau_s \sum_k \lambda_{I,j}(t_k)`) is
:math:`\lambda^{\rm paper}_V = -\lambda_V/\tau_m`,
:math:`\lambda^{\rm paper}_I = -\lambda_I/\tau_s`; :func:`adjoint_at_spikes` reports both.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .lif_events import LIFEvent, SortedInputs, layer_forward, sort_inputs, spikes_from_sorted


class LayerAdjoint(NamedTuple):
    """The EventProp backward pass of one layer for one sample.

    ``jump`` (n_post, K): :math:`c_k = \\lambda_V^- - \\lambda_V^+` at each own spike (0 where
    no spike); ``lambda_v_after`` (n_post, K): :math:`\\lambda_V^+`; ``lambda_i_at_spikes``
    (n_post, K): :math:`\\lambda_I(t_k)` (continuous there); ``current`` (n_post, K):
    :math:`I(t_k)`; ``lambda_v_in`` / ``lambda_i_in`` (n_post, N): the adjoint at each input
    spike, in time order (``SortedInputs.order``); ``grad_weights`` (n_post, n_pre); ``grad_pre_times`` (n_pre, k_pre).
    """

    jump: jax.Array
    lambda_v_after: jax.Array
    lambda_i_at_spikes: jax.Array
    current: jax.Array
    lambda_v_in: jax.Array
    lambda_i_in: jax.Array
    grad_weights: jax.Array
    grad_pre_times: jax.Array


def layer_adjoint(
    weights: Float[Array, "n_post n_pre"],
    pre_times: Float[Array, "n_pre k_pre"],
    neuron: LIFEvent,
    spike_times: Float[Array, "n_post k"],
    grad_spike_times: Float[Array, "n_post k"],
    *,
    inputs: SortedInputs | None = None,
) -> LayerAdjoint:
    """EventProp backward pass: the layer's adjoint and gradients from ``dL/dt_k``.

    ``spike_times`` is the forward result (``inf`` = no spike, each row sorted);
    ``grad_spike_times`` the loss's derivative with respect to them (ignored where no spike);
    ``inputs`` the forward pass's :func:`sort_inputs` result (recomputed when not given).
    """
    dtype = weights.dtype
    tau_syn = jnp.asarray(neuron.tau_syn, dtype)
    tau_mem = 2.0 * tau_syn
    kappa = tau_syn / (tau_mem - tau_syn)
    theta = jnp.asarray(neuron.threshold, dtype)
    t_max = jnp.asarray(neuron.t_max, dtype)
    inp = sort_inputs(weights, pre_times.astype(dtype), t_max) if inputs is None else inputs

    fired = jnp.isfinite(spike_times)
    t_k = jnp.where(fired, spike_times, t_max)
    g = jnp.where(fired, grad_spike_times, 0.0)

    # I(t_k): inputs strictly before the spike, I = Σ_q w_q e^{-(t_k - s_q)/τ_s}.
    lag = t_k[:, :, None] - inp.times[None, None, :]
    before = inp.valid[None, None, :] & (lag > 0)
    decay = jnp.where(before, jnp.exp(-jnp.where(before, lag, 0.0) / tau_syn), 0.0)
    current = jnp.sum(inp.weights[:, None, :] * decay, axis=2)

    # Reverse recursion over own spikes: λ_V^+(t_k) = λ_V^-(t_{k+1}) e^{-(t_{k+1}-t_k)/τ_m}.
    def back(carry, xs):
        lam_minus_next, t_next = carry
        tk, ik, gk, ok = xs
        lam_plus = lam_minus_next * jnp.exp(-(t_next - tk) / tau_mem)
        slope = ik - theta  # τ_m V̇⁻ > 0 at an upward crossing
        slope = jnp.where(ok & (slope > 0), slope, 1.0)
        jump = jnp.where(ok, (theta * lam_plus - tau_mem * gk) / slope, 0.0)
        lam_plus = jnp.where(ok, lam_plus, 0.0)
        return (lam_plus + jump, jnp.where(ok, tk, t_next)), (jump, lam_plus)

    n_post = weights.shape[0]
    init = (jnp.zeros((n_post,), dtype), t_max * jnp.ones((n_post,), dtype))
    _, (jump, lam_after) = jax.lax.scan(
        back, init, (t_k.T, current.T, g.T, fired.T), reverse=True, unroll=True
    )
    jump, lam_after = jump.T, lam_after.T

    def adjoint_at(times, mask):
        """λ_V, λ_I at ``times`` (n_post, M): later own spikes' jumps times the kernels."""
        u = t_k[:, None, :] - times[:, :, None]  # (n_post, M, K)
        later = fired[:, None, :] & (u > 0) & mask[:, :, None]
        u = jnp.where(later, u, 0.0)
        e_m = jnp.where(later, jnp.exp(-u / tau_mem), 0.0)
        e_s = jnp.where(later, jnp.exp(-u / tau_syn), 0.0)
        c = jump[:, None, :]
        return jnp.sum(c * e_m, axis=2), kappa * jnp.sum(c * (e_m - e_s), axis=2)

    in_times = jnp.broadcast_to(inp.times[None, :], inp.weights.shape)
    lam_v, lam_i = adjoint_at(in_times, jnp.broadcast_to(inp.valid[None, :], in_times.shape))
    _, lam_i_spikes = adjoint_at(t_k, fired)

    k_pre = pre_times.shape[1]
    grad_w = jnp.zeros_like(weights).at[:, inp.order // k_pre].add(lam_i)
    grad_s = jnp.sum(inp.weights * (lam_i / tau_syn - lam_v / tau_mem), axis=0)
    grad_pre = jnp.zeros_like(grad_s).at[inp.order].set(grad_s).reshape(pre_times.shape)
    return LayerAdjoint(jump, lam_after, lam_i_spikes, current, lam_v, lam_i, grad_w, grad_pre)


@partial(jax.custom_vjp, nondiff_argnums=(3,))
def _layer_eventprop(weights, pre_times, neuron, n_spikes):
    return layer_forward(weights, pre_times, neuron, n_spikes)


def _fwd(weights, pre_times, neuron, n_spikes):
    t_max = jnp.asarray(neuron.t_max, weights.dtype)
    inputs = sort_inputs(weights, pre_times.astype(weights.dtype), t_max)
    spikes = spikes_from_sorted(inputs, neuron, n_spikes)
    return spikes, (weights, pre_times, neuron, spikes, inputs)


def _bwd(n_spikes, residuals, grad_spikes):
    weights, pre_times, neuron, spikes, inputs = residuals
    adj = layer_adjoint(weights, pre_times, neuron, spikes, grad_spikes, inputs=inputs)
    zero_neuron = jax.tree_util.tree_map(jnp.zeros_like, neuron)
    return adj.grad_weights, adj.grad_pre_times.astype(pre_times.dtype), zero_neuron


_layer_eventprop.defvjp(_fwd, _bwd)


def layer_spike_times(
    weights: Float[Array, "n_post n_pre"],
    pre_times: Float[Array, "n_pre k_pre"],
    neuron: LIFEvent,
    n_spikes: int,
    *,
    method: str = "eventprop",
) -> Float[Array, "n_post n_spikes"]:
    """First ``n_spikes`` spike times of each neuron (``inf`` = none), differentiable.

    ``method="eventprop"``: ``jax.grad`` uses the EventProp adjoint (:func:`layer_adjoint`)
    for ``weights`` and ``pre_times``; ``method="autodiff"``: plain reverse-mode through the
    closed-form crossings (the reference EventProp must match). Neuron parameters get no
    gradient (they are passed through ``stop_gradient``).
    """
    neuron = jax.tree_util.tree_map(jax.lax.stop_gradient, neuron)
    if method == "eventprop":
        return _layer_eventprop(weights, pre_times, neuron, int(n_spikes))
    if method == "autodiff":
        return layer_forward(weights, pre_times, neuron, int(n_spikes))
    raise ValueError(f"method must be 'eventprop' or 'autodiff', got {method!r}")


def adjoint_trace(
    spike_times: Float[Array, "n_post k"],
    jump: Float[Array, "n_post k"],
    neuron: LIFEvent,
    t: Float[Array, " n_t"],
) -> tuple[Float[Array, "n_t n_post"], Float[Array, "n_t n_post"]]:
    r"""``(λ_V(t), λ_I(t))`` (``∂L/∂V``, ``∂L/∂I``) on the times ``t`` from the jumps ``c_k``.

    :math:`\lambda_V(t) = \sum_{t_k > t} c_k e^{-(t_k - t)/\tau_m}` and
    :math:`\lambda_I(t) = k \sum_{t_k > t} c_k (e^{-(t_k - t)/\tau_m} - e^{-(t_k - t)/\tau_s})`.
    Multiply by ``-1/tau_mem`` and ``-1/tau_syn`` for the paper's convention.
    """
    tau_syn = jnp.asarray(neuron.tau_syn, jump.dtype)
    tau_mem = 2.0 * tau_syn
    u = spike_times[None, :, :] - t[:, None, None]
    later = jnp.isfinite(spike_times)[None, :, :] & (u > 0)
    u = jnp.where(later, u, 0.0)
    e_m = jnp.where(later, jnp.exp(-u / tau_mem), 0.0)
    e_s = jnp.where(later, jnp.exp(-u / tau_syn), 0.0)
    kappa = tau_syn / (tau_mem - tau_syn)
    c = jump[None, :, :]
    return jnp.sum(c * e_m, axis=2), kappa * jnp.sum(c * (e_m - e_s), axis=2)
