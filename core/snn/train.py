r"""Surrogate-gradient BPTT training with optax: losses, jitted steps, evaluation, ``fit``.

Loss: softmax cross-entropy on per-class logits read from the network's output over time
(``readout``): ``"max"`` :math:`\max_t U_c[t]` (readout membrane, as in hxtorch's Yin-Yang training),
``"mean"`` :math:`\frac{1}{T}\sum_t U_c[t]`, ``"last"`` :math:`U_c[T-1]`, or ``"count"``
:math:`\sum_t s_c[t]` (spike counts of a spiking output layer). Gradients flow back through
the :func:`jax.lax.scan` of every layer (BPTT) with the layers' surrogate derivatives.

Everything a page slider moves is traced, so nothing recompiles when it changes: the learning
rate lives in the optimiser state (:func:`make_optimizer` uses ``optax.inject_hyperparams``;
:func:`set_learning_rate`), surrogate slope and time constants are arrays in the model
(:func:`~.network.set_surrogate`, :func:`~.network.set_time_constants`).

* :func:`train_step`: one minibatch, jitted (``jax.jit`` with the optimiser and readout static:
  every leaf of a model and optimiser state here is an array, and ``jax.jit``'s dispatch
  costs measurably less per call than ``eqx.filter_jit``'s, which matters at small batches);
* :func:`train_steps`: ``k`` minibatches in one call (a ``lax.scan``; a page runs a few per
  frame), taking index arrays into a data set that stays on the device;
* :func:`evaluate`, :func:`predict`; :func:`fit` (epochs, shuffling, learning-rate decay,
  history, progress callback); :func:`train_yinyang`, :func:`train_digits` with the
  :data:`YINYANG_QUICK`, :data:`YINYANG_FULL`, :data:`DIGITS_QUICK`, :data:`DIGITS_FULL`
  configurations.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, Int

from ..data import digits_latency_raster, digits_rate_raster, digits_split, yinyang, yinyang_raster
from .network import NetworkOutput, SpikingSequential, make_network, trainable_filter

__all__ = [
    "DIGITS_FULL",
    "DIGITS_QUICK",
    "READOUTS",
    "YINYANG_FULL",
    "YINYANG_QUICK",
    "DigitsConfig",
    "Evaluation",
    "StepMetrics",
    "TrainResult",
    "YinYangConfig",
    "batch_loss",
    "batch_outputs",
    "decision_map",
    "digits_sets",
    "evaluate",
    "fit",
    "get_learning_rate",
    "init_optimizer",
    "make_optimizer",
    "predict",
    "readout_logits",
    "set_learning_rate",
    "train_digits",
    "train_step",
    "train_steps",
    "train_yinyang",
    "trainable_arrays",
    "yinyang_sets",
]

Progress = Callable[[float, str], None]
READOUTS = ("max", "mean", "last", "count")


class StepMetrics(NamedTuple):
    """Minibatch ``loss`` and ``accuracy`` (before the update), scalars or ``(k,)`` arrays."""

    loss: Array
    accuracy: Array


class Evaluation(NamedTuple):
    """``accuracy`` (fraction) and mean cross-entropy ``loss`` on a data set."""

    accuracy: float
    loss: float


# ------------------------------------------------------------------------------- losses
def readout_logits(
    output: Float[Array, "*batch T n_out"], readout: str = "max", time_axis: int = -2
) -> Array:
    """Per-class logits from the output over time (see module docstring): ``time_axis`` is
    reduced (default: the second-to-last, ``(*batch, T, n_out) -> (*batch, n_out)``)."""
    if readout == "max":
        return jnp.max(output, axis=time_axis)
    if readout == "mean":
        return jnp.mean(output, axis=time_axis)
    if readout == "last":
        return jnp.take(output, output.shape[time_axis] - 1, axis=time_axis)
    if readout == "count":
        return jnp.sum(output, axis=time_axis)
    raise ValueError(f"unknown readout {readout!r}; choose one of {READOUTS}")


def _logits(model: SpikingSequential, x: Array, readout: str) -> Array:
    """Logits ``(batch, n_out)`` of a batch ``x`` ``(batch, T, n_in)``, run time-major
    without recording spikes and reduced over time without transposing back."""
    _, out = model.run(jnp.swapaxes(x, 0, 1), record_spikes=False)
    return readout_logits(out.output, readout, time_axis=0)


def batch_outputs(
    model: SpikingSequential, x: Float[Array, "batch T n_in"], *, record_spikes: bool = True
) -> NetworkOutput:
    """The network's outputs for a batch ``x`` ``(batch, T, n_in)``, batch first like ``x``.

    Equal to ``jax.vmap(model)(x)``; computed time-major (one scan with ``(batch, n)``
    states), which runs faster on CPU. ``record_spikes=False``: output only (``spikes=()``)."""
    _, out = model.run(jnp.swapaxes(x, 0, 1), record_spikes=record_spikes)
    return jax.tree.map(lambda a: jnp.swapaxes(a, 0, 1), out)


def batch_loss(
    model: SpikingSequential,
    x: Float[Array, "batch T n_in"],
    y: Int[Array, " batch"],
    readout: str = "max",
) -> tuple[Array, Array]:
    """Mean softmax cross-entropy of a minibatch and its accuracy: ``(loss, accuracy)``."""
    logits = _logits(model, x, readout)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == y)
    return loss, accuracy


# ------------------------------------------------------------------------------- optimiser
def make_optimizer(
    learning_rate: float = 1e-3, optimizer: Callable[..., optax.GradientTransformation] = optax.adam
) -> optax.GradientTransformation:
    """``optimizer`` (default Adam) with a traced learning rate: it lives in
    ``opt_state.hyperparams["learning_rate"]`` and :func:`set_learning_rate` changes it
    without recompiling the training step."""
    return optax.inject_hyperparams(optimizer)(learning_rate=learning_rate)


#: Adam used by :func:`fit` unless told otherwise: one object, so that repeated fits reuse the
#: compiled steps (the learning rate is set in the state, see :func:`set_learning_rate`).
_DEFAULT_OPTIMIZER = make_optimizer()


def trainable_arrays(model: eqx.Module) -> list[Array]:
    """The arrays an optimiser trains (:func:`~.network.trainable_filter`), as a flat list in
    ``jax.tree.leaves`` order."""
    return jax.tree.leaves(eqx.filter(model, trainable_filter(model)))


def init_optimizer(optimizer: optax.GradientTransformation, model: eqx.Module) -> Any:
    """The optimiser state for the trainable arrays of ``model``.

    The state is built over the flat list :func:`trainable_arrays` rather than the model's
    tree: it then does not depend on static metadata (a new surrogate kind keeps it valid),
    and a jitted step flattens it natively (less dispatch time per call)."""
    return optimizer.init(trainable_arrays(model))


def set_learning_rate(opt_state: Any, learning_rate: float) -> Any:
    """A copy of an ``inject_hyperparams`` state with a new learning rate (same dtype)."""
    if "learning_rate" not in getattr(opt_state, "hyperparams", {}):
        raise ValueError(
            "the optimiser state has no traced learning rate; build the optimiser with "
            f"make_optimizer() (optax.inject_hyperparams), got a {type(opt_state).__name__}"
        )
    old = opt_state.hyperparams["learning_rate"]
    hyperparams = {**opt_state.hyperparams, "learning_rate": jnp.asarray(learning_rate, old.dtype)}
    return opt_state._replace(hyperparams=hyperparams)


def get_learning_rate(opt_state: Any) -> float:
    """The learning rate in an ``inject_hyperparams`` state."""
    return float(opt_state.hyperparams["learning_rate"])


# ------------------------------------------------------------------------------- steps
def _update(
    model: eqx.Module,
    opt_state: Any,
    x: Array,
    y: Array,
    optimizer: optax.GradientTransformation,
    readout: str,
) -> tuple[eqx.Module, Any, StepMetrics]:
    params, static = eqx.partition(model, trainable_filter(model))
    leaves, treedef = jax.tree.flatten(params)

    def with_leaves(new_leaves: list[Array]) -> eqx.Module:
        return eqx.combine(jax.tree.unflatten(treedef, new_leaves), static)

    def loss_of(new_leaves: list[Array]) -> tuple[Array, Array]:
        return batch_loss(with_leaves(new_leaves), x, y, readout)

    (loss, accuracy), grads = jax.value_and_grad(loss_of, has_aux=True)(leaves)
    updates, opt_state = optimizer.update(grads, opt_state, leaves)
    new_model = with_leaves(optax.apply_updates(leaves, updates))
    return new_model, opt_state, StepMetrics(loss, accuracy)


@functools.partial(jax.jit, static_argnames=("optimizer", "readout"))
def train_step(
    model: SpikingSequential,
    opt_state: Any,
    x: Float[Array, "batch T n_in"],
    y: Int[Array, " batch"],
    optimizer: optax.GradientTransformation,
    readout: str = "max",
) -> tuple[SpikingSequential, Any, StepMetrics]:
    """One optimiser step on a minibatch; returns ``(model, opt_state, StepMetrics)``.

    Compiles once per shape, ``optimizer`` object and ``readout`` (static arguments); a new
    learning rate, slope or time constant reuses the compiled step. Every leaf of ``model``
    must be an array (true of all :mod:`snnviz.core.snn` modules): plain ``jax.jit``, which
    dispatches faster than ``eqx.filter_jit``."""
    return _update(model, opt_state, x, y, optimizer, readout)


@functools.partial(jax.jit, static_argnames=("optimizer", "readout"))
def train_steps(
    model: SpikingSequential,
    opt_state: Any,
    x: Float[Array, "n T n_in"],
    y: Int[Array, " n"],
    batch_indices: Int[Array, "k batch"],
    optimizer: optax.GradientTransformation,
    readout: str = "max",
) -> tuple[SpikingSequential, Any, StepMetrics]:
    """``k`` optimiser steps in one call (a ``lax.scan``): step ``i`` trains on the samples
    ``x[batch_indices[i]]`` of a data set ``(x, y)`` that stays on the device. Returns the
    model, the optimiser state and per-step metrics (``(k,)`` arrays)."""
    params, static = eqx.partition(model, eqx.is_array)

    def body(carry, indices):
        params, opt_state = carry
        model, opt_state, metrics = _update(
            eqx.combine(params, static), opt_state, x[indices], y[indices], optimizer, readout
        )
        return (eqx.filter(model, eqx.is_array), opt_state), metrics

    (params, opt_state), metrics = jax.lax.scan(body, (params, opt_state), batch_indices)
    return eqx.combine(params, static), opt_state, metrics


@functools.partial(jax.jit, static_argnames="readout")
def _loss_and_predictions(model, x, y, readout):
    logits = _logits(model, x, readout)
    losses = optax.softmax_cross_entropy_with_integer_labels(logits, y)
    return jnp.sum(losses), jnp.argmax(logits, axis=-1)


def evaluate(
    model: SpikingSequential,
    x: Float[Array, "n T n_in"],
    y: Int[Array, " n"],
    readout: str = "max",
    batch_size: int | None = None,
) -> Evaluation:
    """Accuracy and mean loss on ``(x, y)``, in chunks of ``batch_size`` (default: all)."""
    n = x.shape[0]
    size = n if batch_size is None else int(batch_size)
    total_loss, correct = 0.0, 0
    for start in range(0, n, size):
        loss, pred = _loss_and_predictions(
            model, x[start : start + size], y[start : start + size], readout
        )
        total_loss += float(loss)
        correct += int(jnp.sum(pred == y[start : start + size]))
    return Evaluation(accuracy=correct / n, loss=total_loss / n)


@functools.partial(jax.jit, static_argnames="readout")
def predict(
    model: SpikingSequential, x: Float[Array, "batch T n_in"], readout: str = "max"
) -> Int[Array, " batch"]:
    """Predicted class of each sample: the arg-max of its logits."""
    return jnp.argmax(_logits(model, x, readout), axis=-1)


# ------------------------------------------------------------------------------- fit
def fit(
    model: SpikingSequential,
    train_set: tuple[Array, Array],
    test_set: tuple[Array, Array] | None = None,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    lr_decay: float = 1.0,
    readout: str = "max",
    seed: int = 0,
    steps_per_call: int | None = None,
    progress: Progress | None = None,
    optimizer: optax.GradientTransformation | None = None,
) -> tuple[SpikingSequential, dict[str, list[float]]]:
    """Train for ``epochs`` passes over ``train_set = (x (n, T, n_in), y (n,))``.

    Each epoch draws a seeded permutation, drops the last ``n mod batch_size`` samples and runs
    the minibatches through :func:`train_steps`, ``steps_per_call`` at a time (default: the
    whole epoch in one call). The learning rate is ``learning_rate * lr_decay**epoch``.
    ``progress(fraction, message)`` is called after every epoch. ``optimizer`` must come from
    :func:`make_optimizer` (default: one shared Adam, so repeated fits reuse compiled steps).

    Returns the trained model and the per-epoch history ``{"epoch", "step", "loss",
    "train_acc", "test_loss", "test_acc", "lr", "wall_s"}`` (lists; accuracies as fractions;
    ``loss`` and ``train_acc`` are the means over the epoch's minibatches, before each update;
    the test keys are NaN without ``test_set``; ``wall_s`` counts from the call, compilation
    included).
    """
    start = time.perf_counter()
    report = progress or (lambda fraction, message: None)
    x_train, y_train = train_set
    n = x_train.shape[0]
    n_batches = n // batch_size
    if n_batches < 1:
        raise ValueError(f"batch_size {batch_size} exceeds the {n} training samples")
    per_call = n_batches if steps_per_call is None else min(int(steps_per_call), n_batches)
    optimizer = _DEFAULT_OPTIMIZER if optimizer is None else optimizer
    opt_state = init_optimizer(optimizer, model)
    rng = np.random.default_rng(seed)
    keys = ("epoch", "step", "loss", "train_acc", "test_loss", "test_acc", "lr", "wall_s")
    history: dict[str, list[float]] = {k: [] for k in keys}
    for epoch in range(epochs):
        lr = learning_rate * lr_decay**epoch
        opt_state = set_learning_rate(opt_state, lr)
        order = rng.permutation(n)[: n_batches * batch_size].reshape(n_batches, batch_size)
        order = jnp.asarray(order, jnp.int32)
        losses, accs = [], []
        for first in range(0, n_batches - per_call + 1, per_call):
            model, opt_state, metrics = train_steps(
                model,
                opt_state,
                x_train,
                y_train,
                order[first : first + per_call],
                optimizer,
                readout,
            )
            losses.append(metrics.loss)
            accs.append(metrics.accuracy)
        test = evaluate(model, *test_set, readout) if test_set is not None else None
        values = {
            "epoch": epoch + 1,
            "step": (epoch + 1) * (n_batches // per_call) * per_call,
            "loss": float(jnp.mean(jnp.concatenate(losses))),
            "train_acc": float(jnp.mean(jnp.concatenate(accs))),
            "test_loss": test.loss if test else float("nan"),
            "test_acc": test.accuracy if test else float("nan"),
            "lr": lr,
            "wall_s": time.perf_counter() - start,
        }
        for k, v in values.items():
            history[k].append(v)
        message = f"epoch {epoch + 1}/{epochs}: loss {values['loss']:.3f}"
        if test:
            message += f", test accuracy {100 * test.accuracy:.1f} %"
        report((epoch + 1) / epochs, message)
    return model, history


# ------------------------------------------------------------------------------- tasks
@dataclasses.dataclass(frozen=True)
class _TaskConfig:
    """Network and optimisation settings shared by the tasks (times in ms)."""

    n_hidden: int = 120
    neuron: str = "lif"
    recurrent: bool = False
    surrogate: str = "fast_sigmoid"
    slope: float = 10.0
    tau_mem: float = 10.0
    tau_syn: float = 5.0
    readout_tau_mem: float = 10.0
    readout_tau_syn: float = 5.0
    dt: float = 1.0
    n_steps: int = 40
    hidden_weight_scale: float = 1.0
    readout_weight_scale: float = 1.0
    readout: str = "max"
    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 1e-2
    lr_decay: float = 1.0
    steps_per_call: int | None = None
    seed: int = 0

    def network(self, n_in: int, n_out: int) -> SpikingSequential:
        """A fresh network with these settings, initialised from ``seed``."""
        return make_network(
            n_in,
            self.n_hidden,
            n_out,
            key=jax.random.key(self.seed),
            neuron=self.neuron,
            recurrent=self.recurrent,
            surrogate=self.surrogate,
            slope=self.slope,
            tau_mem=self.tau_mem,
            tau_syn=self.tau_syn,
            readout_tau_mem=self.readout_tau_mem,
            readout_tau_syn=self.readout_tau_syn,
            dt=self.dt,
            hidden_weight_scale=self.hidden_weight_scale,
            readout_weight_scale=self.readout_weight_scale,
        )


@dataclasses.dataclass(frozen=True)
class YinYangConfig(_TaskConfig):
    """A Yin-Yang run: ``n_train`` / ``n_test`` samples (seeds ``2 seed + 1`` / ``2 seed + 2``),
    latency code ``t_early + v (t_late - t_early)`` plus a bias spike at ``bias_time``, on a
    grid of ``n_steps`` steps of ``dt``."""

    n_train: int = 5000
    n_test: int = 1000
    t_early: float = 2.0
    t_late: float = 22.0
    bias_time: float = 2.0
    hidden_weight_scale: float = 4.0  # 5 inputs, one spike each: most hidden neurons fire


@dataclasses.dataclass(frozen=True)
class DigitsConfig(_TaskConfig):
    """A digits run: stratified split with ``test_fraction`` (seed ``seed``); ``encoding``
    ``"latency"`` (bright pixels early, over ``[0, t_late]``) or ``"rate"`` (spike probability
    ``v * max_probability`` per step)."""

    test_fraction: float = 0.2
    encoding: str = "latency"
    t_late: float = 15.0
    max_probability: float = 0.5
    n_steps: int = 25
    hidden_weight_scale: float = 2.0


class TrainResult(NamedTuple):
    """The trained ``model``, the per-epoch ``history`` (see :func:`fit`) and the ``config``."""

    model: SpikingSequential
    history: dict[str, list[float]]
    config: _TaskConfig


#: Quick Yin-Yang run (page ``reproduce(quick=True)``): 120 LIF, 8 epochs of 78 minibatches.
YINYANG_QUICK = YinYangConfig(epochs=8)
#: Fuller Yin-Yang run: 40 epochs, learning rate decaying by 0.93 per epoch.
YINYANG_FULL = YinYangConfig(epochs=40, lr_decay=0.93)
#: Quick digits run: 10 epochs.
DIGITS_QUICK = DigitsConfig(epochs=10)
#: Fuller digits run: 30 epochs, learning rate decaying by 0.93 per epoch.
DIGITS_FULL = DigitsConfig(epochs=30, lr_decay=0.93)


def yinyang_sets(config: YinYangConfig) -> tuple[tuple[Array, Array], tuple[Array, Array]]:
    """Rasters and labels ``((x_train, y_train), (x_test, y_test))``, ``x`` (n, T, 5)."""

    def encode(data):
        raster = yinyang_raster(
            data.features,
            config.n_steps,
            t_early=config.t_early,
            t_late=config.t_late,
            bias_time=config.bias_time,
            dt=config.dt,
        )
        return raster, data.labels

    train = yinyang(config.n_train, seed=2 * config.seed + 1)
    test = yinyang(config.n_test, seed=2 * config.seed + 2)
    return encode(train), encode(test)


def digits_sets(config: DigitsConfig) -> tuple[tuple[Array, Array], tuple[Array, Array]]:
    """Rasters and labels ``((x_train, y_train), (x_test, y_test))``, ``x`` (n, T, 64)."""
    train, test = digits_split(config.seed, config.test_fraction)
    key = jax.random.key(config.seed)

    def encode(data, key):
        if config.encoding == "latency":
            raster = digits_latency_raster(
                data.features, config.n_steps, t_late=config.t_late, dt=config.dt
            )
        elif config.encoding == "rate":
            raster = digits_rate_raster(
                data.features, config.n_steps, key=key, max_probability=config.max_probability
            )
        else:
            raise ValueError(
                f"DigitsConfig.encoding must be 'latency' or 'rate', got {config.encoding!r}"
            )
        return raster, data.labels

    k_train, k_test = jax.random.split(key)
    return encode(train, k_train), encode(test, k_test)


def _train(config, sets, n_in, n_out, name, progress, model) -> TrainResult:
    report = progress or (lambda fraction, message: None)
    report(0.0, f"{name}: {config.n_hidden} hidden {config.neuron}, {config.epochs} epochs")
    train_set, test_set = sets
    model = config.network(n_in, n_out) if model is None else model
    model, history = fit(
        model,
        train_set,
        test_set,
        epochs=config.epochs,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        lr_decay=config.lr_decay,
        readout=config.readout,
        seed=config.seed,
        steps_per_call=config.steps_per_call,
        progress=report,
    )
    return TrainResult(model, history, config)


def train_yinyang(
    config: YinYangConfig = YINYANG_QUICK,
    *,
    progress: Progress | None = None,
    model: SpikingSequential | None = None,
) -> TrainResult:
    """Train a surrogate-gradient network on Yin-Yang (5 inputs incl. bias, 3 classes).
    ``model`` continues training a given network instead of a fresh one."""
    return _train(config, yinyang_sets(config), 5, 3, "Yin-Yang", progress, model)


def train_digits(
    config: DigitsConfig = DIGITS_FULL,
    *,
    progress: Progress | None = None,
    model: SpikingSequential | None = None,
) -> TrainResult:
    """Train a surrogate-gradient network on scikit-learn's 8x8 digits (64 inputs, 10
    classes)."""
    return _train(config, digits_sets(config), 64, 10, "digits", progress, model)


def decision_map(
    model: SpikingSequential, config: YinYangConfig, resolution: int = 50
) -> np.ndarray:
    """Predicted class on a ``resolution``² grid over the unit square (rows: y, columns: x),
    for the page's decision map."""
    grid = np.linspace(0.0, 1.0, resolution)
    xx, yy = np.meshgrid(grid, grid)
    points = np.stack([xx.ravel(), yy.ravel()], axis=1)
    features = jnp.asarray(np.concatenate([points, 1.0 - points], axis=1), jnp.float32)
    raster = yinyang_raster(
        features,
        config.n_steps,
        t_early=config.t_early,
        t_late=config.t_late,
        bias_time=config.bias_time,
        dt=config.dt,
    )
    return np.asarray(predict(model, raster, config.readout)).reshape(resolution, resolution)
