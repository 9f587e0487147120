"""Training the event-based LIF network on Yin-Yang with EventProp gradients (optax Adam).

One jitted function runs a whole epoch (``lax.scan`` over minibatches, each minibatch
``vmap``-ed over samples); the learning rate lives in the optimiser state
(``optax.inject_hyperparams``) so a new value never recompiles. Progress and history are
handled in Python between epochs.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..data import latency_encode, yinyang
from .lif_events import LIFEvent
from .loss import predict, ttfs_cross_entropy
from .network import EventNetwork, Weights, init_weights

Progress = Callable[[float, str], None]


@dataclasses.dataclass(frozen=True)
class YinYangConfig:
    """Everything that defines one Yin-Yang training run (times in ms).

    Encoding: feature ``v`` -> spike at ``t_early + v (t_late - t_early)``, plus a bias spike
    at ``bias_time``. Loss: :func:`ttfs_cross_entropy` with ``tau_0``, ``alpha``, ``tau_1``.
    The learning rate decays by ``lr_decay`` per epoch.
    """

    n_hidden: int = 60
    max_spikes_hidden: int = 2
    epochs: int = 15
    batch_size: int = 32
    learning_rate: float = 3e-3
    lr_decay: float = 0.95
    n_train: int = 5000
    n_test: int = 1000
    tau_syn: float = 5.0
    threshold: float = 1.0
    t_max: float = 30.0
    t_early: float = 0.0
    t_late: float = 10.0
    bias_time: float = 0.0
    tau_0: float = 0.5
    alpha: float = 3e-3
    tau_1: float = 10.0
    weight_bump: float = 5e-3
    hidden_mean: float = 2.0
    hidden_std: float = 1.0
    output_mean: float = 1.0
    output_std: float = 0.5
    seed: int = 0

    def network(self) -> EventNetwork:
        """The :class:`EventNetwork` this configuration trains."""
        neuron = LIFEvent(tau_syn=self.tau_syn, threshold=self.threshold, t_max=self.t_max)
        return EventNetwork(neuron, max_spikes_hidden=self.max_spikes_hidden)

    def encode(self, features: jax.Array) -> jax.Array:
        """Latency code of Yin-Yang features (n, 4) -> input spike times (n, 5) in ms."""
        return latency_encode(features, self.t_early, self.t_late, bias_time=self.bias_time)


#: 60 hidden, 15 epochs: 89-94 % test accuracy (seeds 0-4), ~11 s with a warm compilation
#: cache, ~25 s cold, on the 2-core CPU under load.
QUICK = YinYangConfig()
#: 120 hidden (up to 3 spikes each), 50 epochs: 95-96 % test accuracy in 80-105 s.
FULL = YinYangConfig(n_hidden=120, max_spikes_hidden=3, epochs=50)


class TrainResult(NamedTuple):
    """``weights`` after training; ``history`` per epoch: ``epoch``, ``loss`` (train, mean
    over minibatches), ``train_accuracy``, ``test_accuracy``, ``test_loss``, ``lr``,
    ``hidden_cap_fraction`` (hidden neurons truncated by the spike cap, test set),
    ``silent_output_fraction`` (test samples with no output spike), ``wall_s`` (cumulative);
    ``config``."""

    weights: Weights
    history: dict[str, list[float]]
    config: YinYangConfig


class LossParams(eqx.Module):
    """Traced loss hyperparameters (see :func:`ttfs_cross_entropy`)."""

    tau_0: jax.Array = eqx.field(converter=jnp.asarray)
    alpha: jax.Array = eqx.field(converter=jnp.asarray)
    tau_1: jax.Array = eqx.field(converter=jnp.asarray)


def batch_loss(
    weights: Weights,
    net: EventNetwork,
    input_times: jax.Array,
    labels: jax.Array,
    loss: LossParams,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Mean loss of a minibatch (``input_times`` (B, n_in), ``labels`` (B,)) and metrics."""
    spikes = jax.vmap(net, in_axes=(None, 0))(weights, input_times)
    per_sample = jax.vmap(
        lambda t, y: ttfs_cross_entropy(t, y, tau_0=loss.tau_0, alpha=loss.alpha, tau_1=loss.tau_1)
    )(spikes.readout, labels)
    correct = predict(spikes.output_first) == labels
    silent_out = ~jnp.isfinite(spikes.output_first)  # (B, n_out)
    label_onehot = jax.nn.one_hot(labels, silent_out.shape[1], dtype=bool)
    metrics = {
        "label_neuron_silent": jnp.any(silent_out & label_onehot, axis=0),
        "hidden_silent": jnp.all(~jnp.isfinite(spikes.hidden[:, :, 0]), axis=0),
        "accuracy": jnp.mean(correct),
        "cap_fraction": jnp.mean(spikes.hidden_cap_hit),
        "silent_fraction": jnp.mean(~jnp.any(jnp.isfinite(spikes.output_first), axis=-1)),
    }
    return jnp.mean(per_sample), metrics


def make_optimizer(learning_rate: float) -> optax.GradientTransformation:
    """Adam with a traced learning rate (``opt_state.hyperparams['learning_rate']``)."""
    return optax.inject_hyperparams(optax.adam)(learning_rate=learning_rate)


@eqx.filter_jit
def train_epoch(
    weights: Weights,
    opt_state: optax.OptState,
    net: EventNetwork,
    batches_x: jax.Array,
    batches_y: jax.Array,
    loss: LossParams,
    weight_bump: jax.Array,
) -> tuple[Weights, optax.OptState, jax.Array, jax.Array]:
    """One pass over ``batches_x`` (n_batches, B, n_in) / ``batches_y`` (n_batches, B).

    After each Adam step, *weight bumping* (Göltz et al. 2021) adds ``weight_bump`` to the
    incoming weights of every output neuron that stayed silent for a sample of its own class
    and of every hidden neuron silent for the whole minibatch: a silent neuron's spike time
    has no gradient, so without this a neuron pushed past ``t_max`` never returns.
    Returns the new weights and optimiser state, and the per-batch loss and accuracy.
    """
    optimizer = make_optimizer(0.0)  # the rate actually used is in opt_state

    def step(carry, batch):
        w, state = carry
        (value, metrics), grads = jax.value_and_grad(batch_loss, has_aux=True)(
            w, net, batch[0], batch[1], loss
        )
        updates, state = optimizer.update(grads, state, w)
        w = optax.apply_updates(w, updates)
        w = Weights(
            w.hidden + weight_bump * metrics["hidden_silent"][:, None],
            w.output + weight_bump * metrics["label_neuron_silent"][:, None],
        )
        return (w, state), (value, metrics["accuracy"])

    (weights, opt_state), (losses, accs) = jax.lax.scan(
        step, (weights, opt_state), (batches_x, batches_y)
    )
    return weights, opt_state, losses, accs


@eqx.filter_jit
def evaluate(
    weights: Weights,
    net: EventNetwork,
    input_times: jax.Array,
    labels: jax.Array,
    loss: LossParams,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Loss and metrics (accuracy, cap and silent fractions) on a whole set."""
    return batch_loss(weights, net, input_times, labels, loss)


def yinyang_sets(config: YinYangConfig):
    """Encoded train and test sets ``((x_train, y_train), (x_test, y_test))``."""
    train = yinyang(config.n_train, seed=2 * config.seed + 1)
    test = yinyang(config.n_test, seed=2 * config.seed + 2)
    return (config.encode(train.features), train.labels), (
        config.encode(test.features),
        test.labels,
    )


def train_yinyang(
    config: YinYangConfig = QUICK,
    *,
    progress: Progress | None = None,
    weights: Weights | None = None,
) -> TrainResult:
    """Train the EventProp network on Yin-Yang; returns weights and per-epoch history.

    ``progress(fraction, message)`` is called after data preparation and after every epoch.
    ``weights`` continues from given weights instead of a fresh initialisation.
    """
    start = time.perf_counter()
    report = progress or (lambda fraction, message: None)
    net = config.network()
    (x_train, y_train), (x_test, y_test) = yinyang_sets(config)
    key = jax.random.key(config.seed)
    init_key, shuffle_key = jax.random.split(key)
    if weights is None:
        weights = init_weights(
            init_key,
            x_train.shape[1],
            config.n_hidden,
            3,
            hidden_mean=config.hidden_mean,
            hidden_std=config.hidden_std,
            output_mean=config.output_mean,
            output_std=config.output_std,
        )
    optimizer = make_optimizer(config.learning_rate)
    opt_state = optimizer.init(weights)
    loss = LossParams(config.tau_0, config.alpha, config.tau_1)
    bump = jnp.asarray(config.weight_bump, jnp.float32)
    n_batches = config.n_train // config.batch_size
    n_used = n_batches * config.batch_size
    history: dict[str, list[float]] = {
        k: []
        for k in (
            "epoch",
            "loss",
            "train_accuracy",
            "test_accuracy",
            "test_loss",
            "lr",
            "hidden_cap_fraction",
            "silent_output_fraction",
            "wall_s",
        )
    }
    report(0.0, f"EventProp on Yin-Yang: {config.n_hidden} hidden, {config.epochs} epochs")
    for epoch in range(config.epochs):
        lr = config.learning_rate * config.lr_decay**epoch
        opt_state.hyperparams["learning_rate"] = jnp.asarray(lr, jnp.float32)
        order = jax.random.permutation(jax.random.fold_in(shuffle_key, epoch), config.n_train)
        idx = order[:n_used].reshape(n_batches, config.batch_size)
        weights, opt_state, losses, accs = train_epoch(
            weights, opt_state, net, x_train[idx], y_train[idx], loss, bump
        )
        test_loss, metrics = evaluate(weights, net, x_test, y_test, loss)
        values = {
            "epoch": epoch + 1,
            "loss": float(jnp.mean(losses)),
            "train_accuracy": float(jnp.mean(accs)),
            "test_accuracy": float(metrics["accuracy"]),
            "test_loss": float(test_loss),
            "lr": lr,
            "hidden_cap_fraction": float(metrics["cap_fraction"]),
            "silent_output_fraction": float(metrics["silent_fraction"]),
            "wall_s": time.perf_counter() - start,
        }
        for k, v in values.items():
            history[k].append(v)
        report(
            (epoch + 1) / config.epochs,
            f"epoch {epoch + 1}/{config.epochs}: loss {values['loss']:.3f}, "
            f"test accuracy {100 * values['test_accuracy']:.1f} %",
        )
    return TrainResult(weights, history, config)


def decision_map(weights: Weights, config: YinYangConfig, resolution: int = 50) -> np.ndarray:
    """Predicted class (-1 = no output spike) on a ``resolution``² grid over the unit square
    (rows: y, columns: x), for the page's decision map."""
    grid = np.linspace(0.0, 1.0, resolution)
    xx, yy = np.meshgrid(grid, grid)
    points = np.stack([xx.ravel(), yy.ravel()], axis=1)
    features = jnp.asarray(np.concatenate([points, 1.0 - points], axis=1), jnp.float32)
    spikes = _forward_batch(weights, config.network(), config.encode(features))
    pred = np.asarray(predict(spikes.output_first))
    silent = ~np.isfinite(np.asarray(spikes.output_first)).any(axis=1)
    return np.where(silent, -1, pred).reshape(resolution, resolution)


@eqx.filter_jit
def _forward_batch(weights: Weights, net: EventNetwork, input_times: jax.Array):
    return jax.vmap(net, in_axes=(None, 0))(weights, input_times)
