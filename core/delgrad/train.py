r"""Training TTFS networks on weights and (optionally) delays with exact gradients.

**Loss** (after Göltz et al. 2021): cross-entropy of a softmax over negative output times,

.. math::

    \mathcal{L} = -\log \frac{e^{-\tilde t_y/\tau_0}}{\sum_k e^{-\tilde t_k/\tau_0}}
    + \alpha \left(e^{\tilde t_y/(\beta \tau_s)} - 1\right)
    + \gamma \left[(1 + m)\theta - V^{\mathrm{peak}}_y\right]_+ / \theta .

The second term pulls the label neuron earlier; the third (our addition) keeps the label
neuron's peak potential a margin ``m`` above threshold, so it spikes. :math:`\tilde t` are
the :func:`effective_times`: the exact spike time of a neuron that fired and, for a silent
one (``t = +inf`` in the forward pass), a stand-in that continues it beyond the grazing
point, capped at ``t_max``. Without these two terms outputs that fall silent get no gradient
and training collapses (measured: Yin-Yang accuracy falls back towards chance). Prediction:
the first output to fire; a sample with no output spike counts as wrong.

**Optimisation:** gradient clipping to global norm ``clip_norm`` (near a grazing crossing
:math:`\partial t/\partial w` is unbounded) then Adam, through
``optax.inject_hyperparams`` so learning rate and clipping norm are traced state and never
recompile. One jitted epoch is a ``lax.scan`` over minibatches, each a ``vmap`` over samples
of the closed-form forward pass and ``jax.grad`` through it. Delay updates are Adam's step
times ``delay_lr_scale`` (delays are in ms, weights in threshold units), and after every
update the delays are projected onto ``[0, d_max]`` (clipping keeps them non-negative; the
trained quantity is the delay itself).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, Int

from .delays import check_delay_type
from .network import TTFSNetwork
from .tasks import SpikeTimeDataset
from .ttfs import SpikeAndPeak, TTFSNeuron

Progress = Callable[[float, str], None]


class LossConfig(eqx.Module):
    """Loss hyperparameters (module docstring; times in ms): ``tau_0`` softmax temperature,
    ``t_max`` cap of the effective times, ``alpha``/``beta`` the early-label regulariser
    (``alpha = 0`` turns it off), ``silent_slope`` (ms per threshold) of a silent neuron's
    stand-in time, ``gamma``/``margin`` the label-peak term."""

    tau_0: Float[Array, ""] = eqx.field(default=2.5, converter=jnp.asarray)
    t_max: Float[Array, ""] = eqx.field(default=100.0, converter=jnp.asarray)
    alpha: Float[Array, ""] = eqx.field(default=0.005, converter=jnp.asarray)
    beta: Float[Array, ""] = eqx.field(default=2.6, converter=jnp.asarray)
    silent_slope: Float[Array, ""] = eqx.field(default=10.0, converter=jnp.asarray)
    gamma: Float[Array, ""] = eqx.field(default=5.0, converter=jnp.asarray)
    margin: Float[Array, ""] = eqx.field(default=0.05, converter=jnp.asarray)


def effective_times(
    out: SpikeAndPeak, neuron: TTFSNeuron, cfg: LossConfig
) -> Float[Array, " n_out"]:
    r"""Spike times with a continuous stand-in for silent neurons, capped at ``t_max``:

    .. math::

        \tilde t = \begin{cases} t^* & \text{spiked} \\
        t_\mathrm{peak} + \lambda\,(\theta - V_\mathrm{peak})/\theta & \text{silent}
        \end{cases}

    At a grazing crossing :math:`t^* = t_\mathrm{peak}` and :math:`V_\mathrm{peak} = \theta`,
    so :math:`\tilde t` is continuous in the parameters, and its gradient tells a silent
    neuron to raise and advance its peak (without it, an output that falls silent gets no
    gradient and never recovers). ``λ = cfg.silent_slope`` (ms per threshold).
    """
    spiked = jnp.isfinite(out.t_spike)
    t_peak = jnp.where(jnp.isfinite(out.t_peak), out.t_peak, cfg.t_max)
    pseudo = t_peak + cfg.silent_slope * (neuron.threshold - out.v_peak) / neuron.threshold
    t = jnp.where(spiked, jnp.where(spiked, out.t_spike, 0.0), pseudo)
    return jnp.minimum(t, cfg.t_max)


def ttfs_loss(
    out: SpikeAndPeak, label: Int[Array, ""], neuron: TTFSNeuron, cfg: LossConfig
) -> Float[Array, ""]:
    """The loss of one sample (module docstring) from its outputs' spikes and peaks."""
    t = effective_times(out, neuron, cfg)
    log_p = jax.nn.log_softmax(-t / cfg.tau_0)
    reg = cfg.alpha * (jnp.exp(t[label] / (cfg.beta * neuron.tau_syn)) - 1.0)
    label_silent = (
        cfg.gamma
        * jax.nn.relu((1.0 + cfg.margin) * neuron.threshold - out.v_peak[label])
        / neuron.threshold
    )
    return -log_p[label] + reg + label_silent


def predictions(t_out: Float[Array, "*b n_out"]) -> Int[Array, "*b"]:
    """Index of the first output to fire, ``-1`` when no output fires."""
    first = jnp.argmin(t_out, axis=-1)
    return jnp.where(jnp.isfinite(jnp.min(t_out, axis=-1)), first, -1)


@eqx.filter_jit
def evaluate(net: TTFSNetwork, data: SpikeTimeDataset) -> dict[str, jax.Array]:
    """Accuracy, fraction of samples with no output spike and the output times on ``data``."""
    t_out = jax.vmap(net)(data.times)
    pred = predictions(t_out)
    return {
        "accuracy": jnp.mean(pred == data.labels),
        "silent": jnp.mean(pred < 0),
        "t_out": t_out,
    }


class TrainResult(NamedTuple):
    """A trained network and its history: per epoch ``epoch``, ``loss``, ``train_accuracy``
    (running minibatch mean), ``learning_rate``; per evaluation ``test_epoch`` and
    ``test_accuracy`` (the last entry is the final epoch); plus wall time in s."""

    network: TTFSNetwork
    history: dict[str, list[float]]
    wall_s: float


def _clipped_adam(learning_rate: float, clip_norm: float) -> optax.GradientTransformation:
    return optax.chain(optax.clip_by_global_norm(clip_norm), optax.adam(learning_rate))


#: The optimiser: gradient clipping then Adam. Learning rate and clipping norm live in the
#: optimiser state (``hyperparams``), so this one transformation serves every run and the
#: jitted epoch compiles once per shape.
OPTIMISER = optax.inject_hyperparams(_clipped_adam)(learning_rate=0.01, clip_norm=1.0)


def _batch_loss(params, net: TTFSNetwork, times, labels, cfg: LossConfig):
    model = net.with_parameters(params)
    out = jax.vmap(model.outputs_and_peaks)(times)
    losses = jax.vmap(ttfs_loss, in_axes=(0, 0, None, None))(out, labels, model.neuron, cfg)
    return jnp.mean(losses), jnp.mean(predictions(out.t_spike) == labels)


@eqx.filter_jit
def train_epoch(
    net: TTFSNetwork,
    opt_state: optax.OptState,
    times: Float[Array, "n_batches batch n_in"],
    labels: Int[Array, "n_batches batch"],
    d_max: Float[Array, ""],
    delay_lr_scale: Float[Array, ""],
    cfg: LossConfig,
) -> tuple[TTFSNetwork, optax.OptState, jax.Array, jax.Array]:
    """One epoch: a ``lax.scan`` of Adam steps (:data:`OPTIMISER`) over the minibatches, each
    followed by the projection of the delays onto ``[0, d_max]``. Delay updates are scaled by
    ``delay_lr_scale`` (delays are in ms, weights in threshold units). Returns the network, the
    optimiser state, and the mean minibatch loss and accuracy."""

    def step(carry, batch):
        params, opt_state = carry
        (loss, acc), grads = jax.value_and_grad(_batch_loss, has_aux=True)(params, net, *batch, cfg)
        updates, opt_state = OPTIMISER.update(grads, opt_state, params)
        w_updates, d_updates = updates
        d_updates = jax.tree.map(lambda u: delay_lr_scale * u, d_updates)
        weights, delays = optax.apply_updates(params, (w_updates, d_updates))
        delays = tuple(None if d is None else jnp.clip(d, 0.0, d_max) for d in delays)
        return ((weights, delays), opt_state), (loss, acc)

    (params, opt_state), (loss, acc) = jax.lax.scan(
        step, (net.parameters, opt_state), (times, labels)
    )
    return net.with_parameters(params), opt_state, jnp.mean(loss), jnp.mean(acc)


def train(
    train_set: SpikeTimeDataset,
    test_set: SpikeTimeDataset | None = None,
    *,
    hidden: Sequence[int] = (),
    delay_type: str | None = None,
    epochs: int = 20,
    batch_size: int = 50,
    learning_rate: float = 0.01,
    lr_decay: float = 1.0,
    clip_norm: float = 1.0,
    seed: int = 0,
    neuron: TTFSNeuron | None = None,
    bias_time: float | None = None,
    d_init_max: float = 0.0,
    d_max: float = 50.0,
    delay_lr_scale: float = 10.0,
    weight_mean: Sequence[float] | None = None,
    weight_std: Sequence[float] | None = None,
    loss: LossConfig | None = None,
    eval_every: int = 1,
    progress: Progress | None = None,
) -> TrainResult:
    """Train a TTFS network ``[n_in, *hidden, n_classes]`` with Adam; deterministic in ``seed``.

    ``delay_type`` picks where learnable delays sit (``None`` = weights only, or
    ``"axonal"``, ``"dendritic"``, ``"synaptic"``); ``bias_time`` (ms) gives every layer after
    the first a bias spike (:class:`.network.TTFSNetwork`); delays start uniform in
    ``[0, d_init_max]`` ms and stay in ``[0, d_max]``. The learning rate is multiplied by
    ``lr_decay`` after each epoch (a traced hyperparameter: no recompilation). The test set
    (if any) is evaluated every ``eval_every`` epochs and after the last. ``progress`` is
    called as ``progress(fraction, message)`` after each epoch. Samples that do not fill a
    whole minibatch are dropped from that epoch (a fresh shuffle each epoch).
    """
    check_delay_type(delay_type)
    n_train = int(train_set.times.shape[0])
    if not 1 <= batch_size <= n_train:
        raise ValueError(
            f"batch_size must be in [1, {n_train}] (training samples), got {batch_size}"
        )
    if int(epochs) < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if int(eval_every) < 1:
        raise ValueError(f"eval_every must be >= 1 epoch, got {eval_every}")
    cfg = loss or LossConfig()
    sizes = [train_set.n_inputs, *hidden, train_set.n_classes]
    net = TTFSNetwork.init(
        sizes,
        key=jax.random.key(seed),
        delay_type=delay_type,
        neuron=neuron,
        bias_time=bias_time,
        weight_mean=weight_mean,
        weight_std=weight_std,
        d_init_max=d_init_max,
    )
    opt_state = OPTIMISER.init(net.parameters)
    opt_state.hyperparams["clip_norm"] = jnp.asarray(clip_norm, jnp.float32)
    rng = np.random.default_rng(seed)
    n_batches = n_train // batch_size
    times_np, labels_np = np.asarray(train_set.times), np.asarray(train_set.labels)
    history: dict[str, list[float]] = {
        k: []
        for k in ("epoch", "loss", "train_accuracy", "learning_rate", "test_epoch", "test_accuracy")
    }
    start = time.perf_counter()
    lr = float(learning_rate)
    for epoch in range(int(epochs)):
        order = rng.permutation(n_train)[: n_batches * batch_size]
        xb = times_np[order].reshape(n_batches, batch_size, -1)
        yb = labels_np[order].reshape(n_batches, batch_size)
        opt_state.hyperparams["learning_rate"] = jnp.asarray(lr, jnp.float32)
        net, opt_state, loss_value, acc = train_epoch(
            net,
            opt_state,
            jnp.asarray(xb),
            jnp.asarray(yb),
            jnp.asarray(d_max, xb.dtype),
            jnp.asarray(delay_lr_scale, xb.dtype),
            cfg,
        )
        history["epoch"].append(epoch + 1)
        history["loss"].append(float(loss_value))
        history["train_accuracy"].append(float(acc))
        history["learning_rate"].append(lr)
        message = (
            f"epoch {epoch + 1}/{epochs}: loss {float(loss_value):.3f}, train {float(acc):.1%}"
        )
        if test_set is not None and ((epoch + 1) % eval_every == 0 or epoch + 1 == epochs):
            test_acc = float(evaluate(net, test_set)["accuracy"])
            history["test_epoch"].append(epoch + 1)
            history["test_accuracy"].append(test_acc)
            message += f", test {test_acc:.1%}"
        lr *= float(lr_decay)
        if progress is not None:
            progress((epoch + 1) / int(epochs), message)
    return TrainResult(net, history, time.perf_counter() - start)
