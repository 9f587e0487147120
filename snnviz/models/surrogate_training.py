r"""Parameter model and live trainer of the surrogate-gradient (SNNAX) page (Lohoff et al. 2024).

:class:`SurrogateTraining` holds what a user sets: the task (Yin-Yang or scikit-learn's digits),
the network (LIF or AdLIF hidden layer, recurrent or not, width), the surrogate spike function
(kind and slope), the optimiser (learning rate, batch size) and the seed.
:class:`SurrogateTrainer` implements the :class:`~snnviz.components.Trainer` protocol on top of
:mod:`snnviz.core.snn`: it owns the data (on the device), the equinox network and the Adam
state, runs ``n`` BPTT steps per call (one compiled ``lax.scan``,
:func:`~snnviz.core.snn.train_steps`), and hands plain numpy snapshots to the page (weights,
the decision map over the Yin-Yang square or the digits confusion matrix, one test sample's
spikes and readout membrane).

What recompiles: the learning rate lives in the optimiser state
(``optax.inject_hyperparams``) and the surrogate slope is an array in the model, so
:meth:`SurrogateTrainer.set_hyperparameters` never recompiles for them; a new surrogate *kind*
compiles once per kind (it selects a different ``custom_vjp``), and the structural parameters
(``STRUCTURAL``: task, neuron, recurrence, width, batch size, seed) take effect at
:meth:`SurrogateTrainer.reset` and compile once per new shape.

Checks used by the page's ``reproduce()``: :func:`readout_gradient_check` (autodiff through the
scan vs float64 central finite differences where the loss is differentiable: the readout
weights), :func:`straight_through_check` (the ``custom_vjp`` surrogates vs autodiff through the
straight-through form :math:`H(x) + \sigma(x) - \mathrm{sg}(\sigma(x))`), :func:`jit_speedup`
and :func:`neurobench_report`.

This module never imports panel.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import param
from jaxtyping import Array, ArrayLike

from snnviz.core.data import yinyang, yinyang_raster
from snnviz.core.data.yinyang import CLASS_NAMES
from snnviz.core.metrics import LayerActivity, neurobench_metrics
from snnviz.core.snn import (
    DIGITS_QUICK,
    NEURON_MODELS,
    SURROGATE_KINDS,
    YINYANG_QUICK,
    AdLIFLayer,
    DigitsConfig,
    LeakyReadout,
    LIFLayer,
    SpikingSequential,
    Surrogate,
    YinYangConfig,
    batch_loss,
    batch_outputs,
    digits_sets,
    evaluate,
    get_learning_rate,
    heaviside,
    init_optimizer,
    make_optimizer,
    predict,
    readout_logits,
    set_learning_rate,
    set_surrogate,
    train_steps,
    trainable_filter,
    yinyang_sets,
)

from ._base import ParamModel, integer, number

TASKS = ("yinyang", "digits")
TASK_LABELS = {"yinyang": "Yin-Yang", "digits": "digits (scikit-learn 8×8)"}
#: Hyperparameters applied between calls (traced: no recompilation, except a new kind).
LIVE_HYPERPARAMETERS = ("learning_rate", "slope", "surrogate")
#: Parameters that change shapes or the initial state: they take effect at the next reset.
STRUCTURAL = ("task", "neuron", "recurrent", "n_hidden", "batch_size", "seed")
#: The data never changes with the training seed (the split of the core's seed-0 configs).
DATA_SEED = 0
#: Pixels per side of the Yin-Yang decision map.
GRID_RESOLUTION = 40
#: Test points drawn on the decision map.
MAP_POINTS = 300

#: One optimiser object for every trainer: ``eqx.filter_jit`` keys its compiled steps on it,
#: so resets and new trainers reuse them (the learning rate lives in the state).
OPTIMIZER = make_optimizer(YINYANG_QUICK.learning_rate)


class SurrogateTraining(ParamModel):
    """Surrogate-gradient BPTT on Yin-Yang or digits: task, network, surrogate, optimiser.

    Inputs: Yin-Yang points as latency-coded features ``(x, y, 1-x, 1-y)`` (spikes between 2
    and 22 ms) plus a bias spike at 2 ms on a 40-step grid of 1 ms; digits as one spike per
    pixel, brighter pixels earlier (0-15 ms, 25 steps). One hidden spiking layer, then a leaky
    (non-spiking) readout; the logit of a class is the maximum of its readout membrane over
    time. Other settings follow :data:`~snnviz.core.snn.YINYANG_QUICK` /
    :data:`~snnviz.core.snn.DIGITS_QUICK` (τ_mem 10 ms, τ_syn 5 ms, threshold 1).
    """

    model_name: ClassVar[str] = "surrogate_training"

    task = param.Selector(
        objects=list(TASKS),
        default="yinyang",
        label="task",
        doc=(
            "Yin-Yang (Kriener et al. 2021, 5000 train / 1000 test points) or scikit-learn's "
            "8×8 digits (a small stand-in for MNIST: 1438 train / 359 test images); applies at "
            "the next Reset"
        ),
    )
    neuron = param.Selector(
        objects=list(NEURON_MODELS),
        default="lif",
        label="neuron model",
        doc="Hidden neurons: LIF, or adaptive LIF (AdLIF, adaptation current); applies at Reset",
    )
    recurrent = param.Boolean(
        default=False,
        label="recurrent hidden layer",
        doc="Add hidden-to-hidden weights (trained too); applies at the next Reset",
    )
    n_hidden = integer(
        YINYANG_QUICK.n_hidden,
        bounds=(2, 512),
        soft=(8, 256),
        label="hidden neurons",
        doc="Width of the hidden layer (count; applies at the next Reset, compiles once)",
    )
    surrogate = param.Selector(
        objects=list(SURROGATE_KINDS),
        default=YINYANG_QUICK.surrogate,
        label="surrogate",
        doc=(
            "Pseudo-derivative used for the Heaviside spike in the backward pass: fast sigmoid "
            "(SuperSpike) 1/(1+k|x|)², arctan 1/(1+(πkx)²) or triangle max(0, 1-k|x|); live "
            "(compiles once per kind)"
        ),
    )
    slope = number(
        YINYANG_QUICK.slope,
        bounds=(0.1, 200.0),
        soft=(0.5, 50.0),
        step=0.5,
        unit="1/θ",
        label="surrogate slope k",
        doc=(
            "Sharpness of the surrogate in units of 1/threshold: larger k narrows the window of "
            "membrane potentials that receive gradient; live, traced (never recompiles)"
        ),
    )
    learning_rate = number(
        YINYANG_QUICK.learning_rate,
        bounds=(1e-6, 1.0),
        soft=(1e-4, 5e-2),
        step=1e-4,
        unit="",
        label="learning rate",
        doc="Adam step size (dimensionless); live, traced (never recompiles)",
    )
    batch_size = integer(
        YINYANG_QUICK.batch_size,
        bounds=(1, 2048),
        soft=(8, 256),
        label="batch size",
        doc="Samples per Adam step (count; applies at the next Reset, compiles once)",
    )
    seed = integer(
        0,
        bounds=(0, 2**31 - 1),
        soft=(0, 100),
        label="seed",
        doc="Seed of the initial weights and the minibatch order (dimensionless; at Reset)",
    )
    sample_index = integer(
        0,
        bounds=(0, 999),
        soft=(0, 999),
        label="test sample",
        doc="Index of the test sample whose spikes are drawn (dimensionless; view only)",
    )

    def base_config(self) -> YinYangConfig | DigitsConfig:
        """The core configuration of the chosen task (data and network defaults)."""
        return YINYANG_QUICK if self.task == "yinyang" else DIGITS_QUICK

    def config(self) -> YinYangConfig | DigitsConfig:
        """The core configuration with this model's network and optimiser values."""
        return dataclasses.replace(
            self.base_config(),
            n_hidden=int(self.n_hidden),
            neuron=self.neuron,
            recurrent=bool(self.recurrent),
            surrogate=self.surrogate,
            slope=float(self.slope),
            learning_rate=float(self.learning_rate),
            batch_size=int(self.batch_size),
            seed=int(self.seed),
        )

    def validate(self) -> None:
        """The batch must fit the training set; the sample index the test set."""
        data = task_data(self.task)
        n_train, n_test = data.x_train.shape[0], data.x_test.shape[0]
        if self.batch_size > n_train:
            raise ValueError(
                f"batch size {self.batch_size} exceeds the {n_train} {TASK_LABELS[self.task]} "
                f"training samples; choose at most {n_train}"
            )
        if self.sample_index >= n_test:
            raise ValueError(
                f"test sample {self.sample_index} does not exist: {TASK_LABELS[self.task]} has "
                f"{n_test} test samples (0 to {n_test - 1})"
            )

    def build(self) -> SpikingSequential:
        """A fresh network (weights from ``seed``) for the current values."""
        self.validate()
        data = task_data(self.task)
        return self.config().network(data.n_in, data.n_out)

    def structure_key(self) -> tuple:
        """What a reset must rebuild (everything but the live hyperparameters and the view)."""
        return (self.model_name, *(getattr(self, p) for p in STRUCTURAL))


# -- data ------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class TaskData:
    """A task's data on the device and what the views need.

    ``x_*`` rasters ``(n, T, n_in)`` (0/1, float32), ``y_*`` labels; ``dt`` (ms) of the grid;
    ``class_names``; for Yin-Yang also ``test_points`` (n_test, 2), the decision-map
    ``grid_axis`` (pixel centres) and ``grid_x`` (the grid's rasters, row-major, y by x).
    """

    task: str
    config: YinYangConfig | DigitsConfig
    x_train: Array
    y_train: Array
    x_test: Array
    y_test: Array
    dt: float
    class_names: tuple[str, ...]
    test_points: np.ndarray | None = None
    grid_axis: np.ndarray | None = None
    grid_x: Array | None = None

    @property
    def n_in(self) -> int:
        return int(self.x_train.shape[-1])

    @property
    def n_out(self) -> int:
        return len(self.class_names)

    @property
    def n_steps(self) -> int:
        return int(self.x_train.shape[1])


def yinyang_grid(config: YinYangConfig, resolution: int) -> tuple[np.ndarray, Array]:
    """Pixel centres ``(resolution,)`` of a grid over the unit square and the latency rasters
    ``(resolution², T, 5)`` of its points (row-major: row ``j`` is ``y = axis[j]``)."""
    axis = (np.arange(int(resolution)) + 0.5) / int(resolution)
    xx, yy = np.meshgrid(axis, axis)
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
    return axis, raster


@functools.cache
def task_data(task: str) -> TaskData:
    """The data of ``task`` (``"yinyang"`` or ``"digits"``), built once per process from the
    core's quick configurations with seed ``DATA_SEED``."""
    if task == "yinyang":
        config = dataclasses.replace(YINYANG_QUICK, seed=DATA_SEED)
        (x_train, y_train), (x_test, y_test) = yinyang_sets(config)
        test = yinyang(config.n_test, seed=2 * config.seed + 2)  # yinyang_sets' test seed
        if not np.array_equal(np.asarray(test.labels), np.asarray(y_test)):
            raise RuntimeError("Yin-Yang test points do not match yinyang_sets' test set")
        axis, grid = yinyang_grid(config, GRID_RESOLUTION)
        return TaskData(
            task, config, x_train, y_train, x_test, y_test, float(config.dt), CLASS_NAMES,
            test_points=np.asarray(test.points), grid_axis=axis, grid_x=grid,
        )  # fmt: skip
    if task == "digits":
        config = dataclasses.replace(DIGITS_QUICK, seed=DATA_SEED)
        (x_train, y_train), (x_test, y_test) = digits_sets(config)
        names = tuple(str(d) for d in range(10))
        return TaskData(task, config, x_train, y_train, x_test, y_test, float(config.dt), names)
    raise ValueError(f"unknown task {task!r}; choose one of {TASKS}")


# -- compiled helpers ------------------------------------------------------------------------
@eqx.filter_jit
def forward_one(network: SpikingSequential, x: Array) -> Any:
    """The network on one sample ``(T, n_in)``: a :class:`~snnviz.core.snn.NetworkOutput`."""
    return network(x)


@eqx.filter_jit
def forward_batch(network: SpikingSequential, x: Array) -> Any:
    """The network on a batch ``(n, T, n_in)`` (:func:`~snnviz.core.snn.batch_outputs`):
    outputs ``(n, T, n_out)`` and spikes, batch first."""
    return batch_outputs(network, x)


def confusion_matrix(labels: ArrayLike, predictions: ArrayLike, n_classes: int) -> np.ndarray:
    """``(n_classes, n_classes)`` counts: row = true class, column = predicted class."""
    counts = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(counts, (np.asarray(labels).ravel(), np.asarray(predictions).ravel()), 1)
    return counts


# -- the trainer -----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class SurrogateSnapshot:
    """What the page draws, in numpy (taken on the trainer's worker thread).

    ``steps``, ``epoch``, ``task``, ``structure`` (the model's structure key at the reset);
    ``weights`` ``{connection: array}`` (input→hidden, hidden→hidden if recurrent,
    hidden→readout); ``test_predictions`` (n_test,); ``confusion`` (classes × classes);
    Yin-Yang only: ``grid_axis`` (res,), ``grid_class`` (res, res), ``map_points`` (k, 2),
    ``map_labels``, ``map_predictions`` (k,); ``sample``: :meth:`SurrogateTrainer.sample`.
    """

    steps: int
    epoch: float
    task: str
    structure: tuple
    weights: dict[str, np.ndarray]
    test_predictions: np.ndarray
    confusion: np.ndarray
    sample: dict[str, Any]
    grid_axis: np.ndarray | None = None
    grid_class: np.ndarray | None = None
    map_points: np.ndarray | None = None
    map_labels: np.ndarray | None = None
    map_predictions: np.ndarray | None = None


def connection_weights(network: SpikingSequential) -> dict[str, np.ndarray]:
    """``{connection name: weight matrix (n_out, n_in)}`` of a one-hidden-layer network."""
    hidden, readout = network.layers
    weights = {"input → hidden": np.asarray(hidden.weight)}
    if hidden.recurrent_weight is not None:
        weights["hidden → hidden"] = np.asarray(hidden.recurrent_weight)
    weights["hidden → readout"] = np.asarray(readout.weight)
    return weights


def sample_record(
    network: SpikingSequential, data: TaskData, index: int, readout: str = "max"
) -> dict[str, Any]:
    """Test sample ``index`` of ``data`` through ``network``: ``events`` ``{"input": (times,
    ids), "hidden": (times, ids)}`` (a spike in step ``k`` drawn at ``k dt`` ms),
    ``n_neurons`` per layer, ``t_ms`` (T,) and the ``readout`` membrane (T, n_out), ``logits``
    (their maximum over time), ``label``, ``prediction``, ``index``, ``class_names``,
    ``hidden_spikes`` (count)."""
    n_test = data.x_test.shape[0]
    if not 0 <= int(index) < n_test:
        raise ValueError(f"test sample index must be in [0, {n_test}), got {index}")
    i = int(index)
    x = data.x_test[i]
    out = forward_one(network, x)
    t_ms = data.dt * np.arange(data.n_steps)
    inputs, hidden = np.asarray(x), np.asarray(out.spikes[0])
    logits = np.asarray(readout_logits(out.output, readout))
    events = {}
    for name, raster in (("input", inputs), ("hidden", hidden)):
        steps, ids = np.nonzero(raster)
        events[name] = (t_ms[steps], ids)
    return {
        "index": i,
        "label": int(data.y_test[i]),
        "prediction": int(np.argmax(logits)),
        "events": events,
        "n_neurons": {"input": inputs.shape[1], "hidden": hidden.shape[1]},
        "t_ms": t_ms,
        "readout": np.asarray(out.output),
        "logits": logits,
        "class_names": data.class_names,
        "hidden_spikes": int(hidden.sum()),
    }


def take_snapshot(
    network: SpikingSequential,
    data: TaskData,
    readout: str = "max",
    *,
    sample_index: int = 0,
    map_points: int = MAP_POINTS,
    steps: int = 0,
    epoch: float = 0.0,
    structure: tuple = (),
) -> SurrogateSnapshot:
    """A :class:`SurrogateSnapshot` of ``network`` on ``data``'s test set (and, for
    Yin-Yang, on the decision-map grid)."""
    test_pred = np.asarray(predict(network, data.x_test, readout))
    extra: dict[str, Any] = {}
    if data.grid_x is not None and data.grid_axis is not None and data.test_points is not None:
        res = data.grid_axis.size
        k = min(int(map_points), data.x_test.shape[0])
        extra = {
            "grid_axis": data.grid_axis,
            "grid_class": np.asarray(predict(network, data.grid_x, readout)).reshape(res, res),
            "map_points": data.test_points[:k],
            "map_labels": np.asarray(data.y_test[:k]),
            "map_predictions": test_pred[:k],
        }
    return SurrogateSnapshot(
        steps=int(steps),
        epoch=float(epoch),
        task=data.task,
        structure=structure,
        weights=connection_weights(network),
        test_predictions=test_pred,
        confusion=confusion_matrix(data.y_test, test_pred, data.n_out),
        sample=sample_record(network, data, sample_index, readout),
        **extra,
    )


class SurrogateTrainer:
    """Live surrogate-gradient training (the :class:`~snnviz.components.Trainer` protocol).

    Args:
        model: the parameters (read at every :meth:`reset`; live values also arrive through
            :meth:`set_hyperparameters`).
        map_points: how many test points the Yin-Yang decision map shows.

    The network, the optimiser state and the counters are replaced whole by each call under a
    lock, so :meth:`current` (and the page) may read them from another thread.
    """

    def __init__(self, model: SurrogateTraining | None = None, *, map_points: int = MAP_POINTS):
        self.model = model if model is not None else SurrogateTraining()
        self.map_points = int(map_points)
        self.sample_index = int(self.model.sample_index)
        self._lock = threading.Lock()
        self.reset(int(self.model.seed))

    # -- Trainer protocol ------------------------------------------------------------------
    def reset(self, seed: int) -> None:
        """Fresh network and Adam state from ``seed`` with the model's current values (a new
        shape compiles at the next call). Raises ValueError for invalid values (nothing
        changes then)."""
        self.model.validate()
        config = dataclasses.replace(self.model.config(), seed=int(seed))
        data = task_data(self.model.task)
        network = config.network(data.n_in, data.n_out)
        opt_state = set_learning_rate(init_optimizer(OPTIMIZER, network), config.learning_rate)
        with self._lock:
            self.config = config
            self.data = data
            self.seed = int(seed)
            self.structure = self.model.structure_key()
            self.network = network
            self.opt_state = opt_state
            self._rng = np.random.default_rng(int(seed))
            self._order = np.zeros(0, np.int64)
            self.steps = 0
            self.samples_seen = 0
            self.sample_index = min(self.sample_index, data.x_test.shape[0] - 1)

    def check_hyperparameters(self, **values: Any) -> dict[str, Any]:
        """The live hyperparameters ``values`` checked and converted; raises ValueError for an
        unknown name, a value outside the model's bounds or an unknown surrogate kind."""
        kind = values.pop("surrogate", None)
        checked: dict[str, Any] = SurrogateTraining.check_live_values(
            values,
            LIVE_HYPERPARAMETERS,
            owner="SurrogateTrainer",
            reset_note=f"the others, {list(STRUCTURAL)}, apply at Reset",
        )
        if kind is not None:
            if kind not in SURROGATE_KINDS:
                raise ValueError(
                    f"unknown surrogate kind {kind!r}; choose one of {SURROGATE_KINDS}"
                )
            checked["surrogate"] = str(kind)
        return checked

    def set_hyperparameters(self, **values: Any) -> None:
        """Apply live hyperparameters (``LIVE_HYPERPARAMETERS``) for the next call: the
        learning rate in the optimiser state, the slope and kind in every spiking layer."""
        checked = self.check_hyperparameters(**values)
        with self._lock:
            network, opt_state = self.network, self.opt_state
            if "learning_rate" in checked:
                opt_state = set_learning_rate(opt_state, checked["learning_rate"])
            if "slope" in checked or "surrogate" in checked:
                # the optimiser state is kept over a flat list of the trainable arrays, so
                # a new surrogate kind (static metadata of the model) keeps Adam's moments valid
                network = set_surrogate(
                    network, slope=checked.get("slope"), kind=checked.get("surrogate")
                )
            self.network, self.opt_state = network, opt_state

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """The live hyperparameters the next call uses."""
        network, opt_state = self.current()
        surrogate = network.layers[0].surrogate
        return {
            "learning_rate": get_learning_rate(opt_state),
            "slope": float(surrogate.slope),
            "surrogate": surrogate.kind,
        }

    @property
    def epoch(self) -> float:
        """Training samples seen / training set size."""
        return self.samples_seen / self.data.x_train.shape[0]

    def _draw(self, n: int) -> np.ndarray:
        """``(n, batch)`` training indices: consecutive seeded shuffles of the training set."""
        batch = self.config.batch_size
        n_train = self.data.x_train.shape[0]
        while self._order.size < n * batch:
            self._order = np.concatenate([self._order, self._rng.permutation(n_train)])
        idx, self._order = self._order[: n * batch], self._order[n * batch :]
        return idx.reshape(n, batch)

    def train_steps(self, n: int) -> dict[str, float]:
        """``n`` Adam steps with surrogate-gradient BPTT (one compiled scan; compiles once per
        ``n`` and shape). Returns the mean ``loss`` and ``train_acc`` of these steps (each
        measured before its update), ``epoch`` and the learning rate ``lr``."""
        idx = jnp.asarray(self._draw(int(n)), jnp.int32)
        network, opt_state = self.current()
        data = self.data
        network, opt_state, metrics = train_steps(
            network, opt_state, data.x_train, data.y_train, idx, OPTIMIZER, self.config.readout
        )
        with self._lock:
            self.network, self.opt_state = network, opt_state
            self.steps += int(n)
            self.samples_seen += int(idx.size)
        return {
            "loss": float(jnp.mean(metrics.loss)),
            "train_acc": float(jnp.mean(metrics.accuracy)),
            "epoch": self.epoch,
            "lr": get_learning_rate(opt_state),
        }

    def evaluate(self) -> dict[str, float]:
        """Test-set loss and accuracy."""
        network, _ = self.current()
        result = evaluate(network, self.data.x_test, self.data.y_test, self.config.readout)
        return {"test_loss": float(result.loss), "test_acc": float(result.accuracy)}

    def snapshot(self) -> SurrogateSnapshot:
        """Weights, test predictions (confusion matrix; Yin-Yang: decision map) and the
        chosen sample (numpy)."""
        network, _ = self.current()
        return take_snapshot(
            network,
            self.data,
            self.config.readout,
            sample_index=self.sample_index,
            map_points=self.map_points,
            steps=self.steps,
            epoch=self.epoch,
            structure=self.structure,
        )

    # -- what the page asks for ------------------------------------------------------------
    def current(self) -> tuple[SpikingSequential, Any]:
        """A consistent ``(network, optimiser state)`` (safe from any thread)."""
        with self._lock:
            return self.network, self.opt_state

    def sample(self, index: int) -> dict[str, Any]:
        """Test sample ``index`` through the current network (:func:`sample_record`)."""
        network, _ = self.current()
        return sample_record(network, self.data, index, self.config.readout)

    def neurobench(self) -> dict[str, Any]:
        """:func:`neurobench_report` of the current network on the test set."""
        network, _ = self.current()
        return neurobench_report(network, self.data.x_test, self.data.y_test, self.config.readout)

    def describe(self) -> str:
        """A short name of the current model for tables (``"LIF 120, Yin-Yang"``)."""
        return describe_config(self.config, self.data.task)


def describe_config(config: YinYangConfig | DigitsConfig, task: str) -> str:
    """``"Yin-Yang: rec. AdLIF 64"`` (task, neuron model, width) for tables and titles."""
    neuron = {"lif": "LIF", "adlif": "AdLIF"}.get(config.neuron, config.neuron)
    kind = ("rec. " if config.recurrent else "") + neuron
    return f"{TASK_LABELS[task].split(' ')[0]}: {kind} {config.n_hidden}"


# -- NeuroBench --------------------------------------------------------------------------------
_NEURON_CONSTANTS = ("tau_mem", "tau_syn", "threshold", "dt", "tau_adapt", "a", "b")


def neuron_buffers(network: SpikingSequential) -> dict[str, np.ndarray]:
    """The fixed neuron constants each layer needs to run (NeuroBench counts them in the
    footprint as buffers): time constants, thresholds, ``dt``, AdLIF's ``a`` and ``b``. The
    surrogate slope is a training-only constant and is left out."""
    buffers = {}
    for i, layer in enumerate(network.layers):
        for name in _NEURON_CONSTANTS:
            value = getattr(layer, name, None)
            if value is not None:
                buffers[f"layer{i}.{name}"] = np.asarray(value)
    return buffers


def neurobench_report(
    network: SpikingSequential, x: ArrayLike, y: ArrayLike, readout: str = "max"
) -> dict[str, Any]:
    """NeuroBench metrics (:func:`~snnviz.core.metrics.neurobench_metrics`) of a
    one-hidden-layer network on ``(x (n, T, n_in), y (n,))``.

    Connection layers: input→hidden (inputs: the input spike rasters, outputs: the hidden
    spikes, for activation sparsity), hidden→hidden if recurrent (inputs: the hidden spikes
    of the previous step, zeros at the first), hidden→readout (inputs: the hidden spikes; the
    leaky readout is not a spiking activation, so it does not count for activation sparsity).
    Adds ``hidden_spikes_per_sample`` and ``hidden_rate_hz``.
    """
    x = jnp.asarray(x)
    out = forward_batch(network, x)
    hidden_layer, readout_layer = network.layers
    hidden = np.asarray(out.spikes[0])
    predictions = np.asarray(jnp.argmax(readout_logits(out.output, readout), axis=-1))
    inputs = np.asarray(x)
    layers = [
        LayerActivity(np.asarray(hidden_layer.weight).T, inputs, hidden, name="input → hidden")
    ]
    if hidden_layer.recurrent_weight is not None:
        previous = np.concatenate([np.zeros_like(hidden[:, :1]), hidden[:, :-1]], axis=1)
        layers.append(
            LayerActivity(
                np.asarray(hidden_layer.recurrent_weight).T, previous, name="hidden → hidden"
            )
        )
    layers.append(
        LayerActivity(np.asarray(readout_layer.weight).T, hidden, name="hidden → readout")
    )
    params = eqx.filter(network, trainable_filter(network))
    result = neurobench_metrics(
        params, layers, predictions, np.asarray(y), buffers=neuron_buffers(network)
    )
    n_steps, dt = hidden.shape[1], float(hidden_layer.dt)
    per_sample = float(hidden.sum(axis=(1, 2)).mean())
    result["hidden_spikes_per_sample"] = per_sample
    result["hidden_rate_hz"] = 1000.0 * per_sample / (hidden.shape[2] * n_steps * dt)
    return result


# -- checks for reproduce() ------------------------------------------------------------------
def _to_float64(tree: Any) -> Any:
    """Every floating array leaf of ``tree`` as float64 (call inside ``jax.enable_x64``)."""
    return jax.tree.map(
        lambda a: jnp.asarray(a, jnp.float64) if eqx.is_inexact_array(a) else a, tree
    )


def _relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """``max|a - b| / max|b|`` (inf if ``b`` is all zero)."""
    scale = float(np.max(np.abs(b)))
    return float(np.max(np.abs(a - b)) / scale) if scale > 0 else math.inf


def _readout_weight(m: SpikingSequential) -> Array:
    return m.layers[-1].weight


def _hidden_weight(m: SpikingSequential) -> Array:
    return m.layers[0].weight


@eqx.filter_jit
def _gradient_and_differences(
    network: SpikingSequential,
    x: Array,
    y: Array,
    directions: dict[str, Array],
    eps: float,
    readout: str,
) -> tuple[Any, dict[str, Array]]:
    """``jax.grad`` of the batch loss and the central differences along each stack of unit
    ``directions`` (``{"readout": (k, *W2.shape), "hidden": (k, *W1.shape)}``)."""

    def loss_of(m: SpikingSequential) -> Array:
        return batch_loss(m, x, y, readout)[0]

    grads = eqx.filter_grad(loss_of)(network)
    wheres = {"readout": _readout_weight, "hidden": _hidden_weight}

    def difference(where: Callable, v: Array) -> Array:
        plus = eqx.tree_at(where, network, where(network) + eps * v)
        minus = eqx.tree_at(where, network, where(network) - eps * v)
        return (loss_of(plus) - loss_of(minus)) / (2 * eps)

    fd = {
        name: jax.lax.map(functools.partial(difference, wheres[name]), v)
        for name, v in directions.items()
    }
    return grads, fd


def readout_gradient_check(
    network: SpikingSequential,
    x: ArrayLike,
    y: ArrayLike,
    *,
    readout: str = "max",
    n_directions: int = 8,
    eps: float = 1e-5,
    seed: int = 0,
) -> dict[str, float]:
    r"""BPTT through the scans vs float64 central finite differences.

    The loss is differentiable in the readout weights :math:`W_2` (the hidden spikes do not
    depend on them), so there ``jax.grad`` must equal the finite differences
    :math:`(L(W_2 + \epsilon v) - L(W_2 - \epsilon v)) / 2\epsilon` along random unit
    directions :math:`v`. Along the hidden weights the true derivative is zero almost
    everywhere (the spikes are piecewise constant in :math:`W_1`): the same finite difference
    is ~0 there, while the surrogate gradient is not; that is why surrogates exist.

    Returns ``readout_rel_error`` (max over directions of |FD - AD| over max |AD|),
    ``hidden_fd_over_surrogate`` (max |FD| / max |surrogate directional derivative| along the
    hidden weights) and ``hidden_grad_norm``.
    """
    rng = np.random.default_rng(seed)
    with jax.enable_x64(True):
        net = _to_float64(network)
        directions = {}
        for name, where in (("readout", _readout_weight), ("hidden", _hidden_weight)):
            v = rng.standard_normal((int(n_directions), *where(net).shape))
            v /= np.linalg.norm(v.reshape(len(v), -1), axis=1).reshape(-1, *[1] * (v.ndim - 1))
            directions[name] = jnp.asarray(v)
        grads, fd = _gradient_and_differences(
            net, jnp.asarray(x, jnp.float64), jnp.asarray(y), directions, eps, readout
        )
        ad = {
            name: np.asarray(v).reshape(len(v), -1) @ np.asarray(where(grads)).ravel()
            for (name, v), where in zip(
                directions.items(), (_readout_weight, _hidden_weight), strict=True
            )
        }
        fd = {name: np.asarray(value) for name, value in fd.items()}
        hidden_norm = float(np.linalg.norm(np.asarray(grads.layers[0].weight)))
    return {
        "readout_rel_error": _relative_error(fd["readout"], ad["readout"]),
        "hidden_fd_over_surrogate": float(np.abs(fd["hidden"]).max() / np.abs(ad["hidden"]).max()),
        "hidden_grad_norm": hidden_norm,
    }


def _antiderivative(kind: str, x: Array, slope: Array) -> Array:
    r"""A primitive :math:`\sigma_k(x)` of each surrogate derivative :math:`\sigma'_k(x)`
    (the table of :mod:`snnviz.core.snn.surrogate`), written independently of it."""
    if kind == "fast_sigmoid":
        return x / (1.0 + slope * jnp.abs(x))
    if kind == "arctan":
        return jnp.arctan(jnp.pi * slope * x) / (jnp.pi * slope)
    if kind == "triangle":
        inside = jnp.abs(x) < 1.0 / slope
        clipped = jnp.where(inside, x, 0.0)
        return jnp.where(
            inside, clipped - 0.5 * slope * clipped * jnp.abs(clipped), jnp.sign(x) / (2 * slope)
        )
    raise ValueError(f"unknown surrogate kind {kind!r}; choose one of {SURROGATE_KINDS}")


class StraightThroughSpike(eqx.Module):
    r"""Spikes :math:`H(x) + \sigma_k(x) - \mathrm{sg}(\sigma_k(x))`: the same forward as the
    ``custom_vjp`` surrogates (the last two terms cancel exactly), and plain autodiff gives
    the backward :math:`\sigma'_k(x)`. A drop-in for a layer's ``surrogate``."""

    kind: str = eqx.field(static=True)
    slope: Array

    def __call__(self, x: Array) -> Array:
        primitive = _antiderivative(self.kind, x, jnp.asarray(self.slope, x.dtype))
        return heaviside(x) + (primitive - jax.lax.stop_gradient(primitive))


@eqx.filter_jit
def _gradients_and_output(
    network: SpikingSequential, x: Array, y: Array, readout: str
) -> tuple[Any, Array]:
    grads = eqx.filter_grad(lambda m: batch_loss(m, x, y, readout)[0])(network)
    return grads, batch_outputs(network, x).output


def mixed_surrogate_network(key: jax.Array, n_in: int = 5, n_out: int = 3) -> SpikingSequential:
    """A small deep network exercising every surrogate kind and layer feature at once:
    recurrent LIF (fast sigmoid) → recurrent AdLIF (arctan, detached=False reset) → LIF
    (triangle, zero reset) → leaky readout; weights scaled so that every layer spikes on
    latency-coded input."""
    k1, k2, k3, k4 = jax.random.split(key, 4)
    return SpikingSequential(
        [
            LIFLayer(
                n_in, 24, key=k1, recurrent=True, weight_scale=4.0,
                surrogate=Surrogate("fast_sigmoid", 5.0),
            ),
            AdLIFLayer(
                24, 20, key=k2, recurrent=True, weight_scale=8.0, detach_reset=False,
                surrogate=Surrogate("arctan", 3.0), a=0.2, b=0.2,
            ),
            LIFLayer(
                20, 16, key=k3, weight_scale=10.0, reset="zero", surrogate=Surrogate("triangle", 1.0)
            ),
            LeakyReadout(16, n_out, key=k4),
        ]
    )  # fmt: skip


def straight_through_check(
    network: SpikingSequential, x: ArrayLike, y: ArrayLike, *, readout: str = "max"
) -> dict[str, Any]:
    """The network's gradient with its ``custom_vjp`` surrogates vs the gradient of the same
    network whose spike functions are :class:`StraightThroughSpike` (float64).

    Returns ``rel_error`` (largest relative error over every weight matrix), ``forward_diff``
    (largest output difference: must be 0), ``min_grad_norm`` (smallest gradient norm of a
    spiking layer's input weights: > 0 means the surrogates carried gradient through every
    layer) and ``spikes_per_layer`` (total spikes of each spiking layer on ``x``).
    """
    with jax.enable_x64(True):
        net = _to_float64(network)
        xs, ys = jnp.asarray(x, jnp.float64), jnp.asarray(y)
        spiking = [i for i, layer in enumerate(net.layers) if layer.emits_spikes]
        replaced = eqx.tree_at(
            lambda m: [m.layers[i].surrogate for i in spiking],
            net,
            [
                StraightThroughSpike(net.layers[i].surrogate.kind, net.layers[i].surrogate.slope)
                for i in spiking
            ],
        )
        g_vjp, out_vjp = _gradients_and_output(net, xs, ys, readout)
        g_st, out_st = _gradients_and_output(replaced, xs, ys, readout)
        errors = [
            _relative_error(
                np.asarray(getattr(g_vjp.layers[i], name)),
                np.asarray(getattr(g_st.layers[i], name)),
            )
            for i, layer in enumerate(net.layers)
            for name in ("weight", "recurrent_weight")
            if getattr(layer, name) is not None
        ]
        forward = float(np.max(np.abs(np.asarray(out_vjp) - np.asarray(out_st))))
        norms = [float(np.linalg.norm(np.asarray(g_vjp.layers[i].weight))) for i in spiking]
        spikes = [float(s.sum()) for s in forward_batch(net, xs).spikes]
    return {
        "rel_error": max(errors),
        "forward_diff": forward,
        "min_grad_norm": min(norms),
        "spikes_per_layer": spikes,
    }


def jit_speedup(network: SpikingSequential, x: ArrayLike, repeats: int = 5) -> dict[str, float]:
    """Forward of one sample ``x`` ``(T, n_in)`` compiled (:func:`forward_one`) vs op by op
    (the same call under ``jax.disable_jit()``: the scans run as Python loops, one dispatch
    per operation and step). Returns the median seconds of each and ``speedup``."""
    xs = jnp.asarray(x)
    jax.block_until_ready(forward_one(network, xs))  # compile (or reuse)
    compiled = []
    for _ in range(int(repeats)):
        start = time.perf_counter()
        jax.block_until_ready(forward_one(network, xs))
        compiled.append(time.perf_counter() - start)
    with jax.disable_jit():
        # a 2-step run first: the per-step ops get their shapes' executables, as in a loop
        jax.block_until_ready(network(xs[:2]))
        start = time.perf_counter()
        jax.block_until_ready(network(xs))
        eager = time.perf_counter() - start
    jit_s = float(np.median(compiled))
    return {"jit_s": jit_s, "eager_s": eager, "speedup": eager / jit_s}
