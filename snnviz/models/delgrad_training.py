r"""Parameter model and live trainer of the DelGrad page (Göltz et al., *Nat. Commun.* 2025).

:class:`DelGradModel` holds what a user sets: the task (the interval-discrimination timing task
or Yin-Yang), where learnable delays sit (none / axonal / dendritic / synaptic), the hidden
width and batch size (shapes: applied at the next reset), and the traced hyperparameters
(learning rate and its decay, the delay learning-rate scale, :math:`\tau_s`, the largest delay).
:class:`DelGradTrainer` implements the :class:`~snnviz.components.Trainer` protocol on top of
:mod:`snnviz.core.delgrad`: it owns the data, the :class:`~snnviz.core.delgrad.TTFSNetwork`
and the Adam state, runs ``n`` minibatch steps per call (one compiled ``lax.scan``,
:func:`~snnviz.core.delgrad.train.train_epoch`) and hands numpy snapshots to the page (learned
delays, one sample's spike times, arrivals and output membrane potentials).

Measurements on a network: :func:`gradient_check` (exact DelGrad gradients of output spike
times vs float64 central finite differences), :func:`gradient_check_suite` (random networks of
every delay type) and :func:`neurobench_report` (NeuroBench metrics from spike counts).

This module never imports panel.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import math
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import param
from jax.flatten_util import ravel_pytree

from snnviz.core.delgrad import (
    TTFSNetwork,
    TTFSNeuron,
    arrival_times,
    causal_set,
    first_spike_time,
    membrane_potential,
)
from snnviz.core.delgrad.experiments import (
    DEFAULT_HIDDEN,
    TIMING_TRAIN,
    YINYANG_TRAIN,
    DelayComparison,
    accuracy_vs_parameters,
    compare_delays,
)
from snnviz.core.delgrad.tasks import SpikeTimeDataset, interval_task, yinyang_task
from snnviz.core.delgrad.train import (
    OPTIMISER,
    LossConfig,
    Progress,
    predictions,
    train_epoch,
    ttfs_loss,
)
from snnviz.core.metrics import LayerActivity, neurobench_metrics, spike_counts

from ._base import ParamModel, integer, number

TASKS = ("timing", "yinyang")
TASK_LABELS = {"timing": "timing (interval discrimination)", "yinyang": "Yin-Yang"}
DELAY_CHOICES = ("none", "axonal", "dendritic", "synaptic")
#: Hyperparameters applied between calls without recompiling (traced values).
LIVE_HYPERPARAMETERS = ("learning_rate", "lr_decay", "delay_lr_scale", "tau_syn", "d_max")
#: Values that change shapes or the initial network: they take effect at the next reset.
STRUCTURAL = ("task", "delay_type", "hidden", "batch_size", "d_init_max")
#: Training / test samples of the live data (fixed data seed; the training seed only draws
#: the initial network and the minibatch order).
DATA_SIZES = {"timing": (3000, 1000), "yinyang": (5000, 1000)}
DATA_SEED = 0
#: The timing task's target lag (ms; :func:`~snnviz.core.delgrad.tasks.interval_task`).
TARGET_LAG_MS = 15.0
#: Time samples of the output membrane potentials in a snapshot.
N_TRACE = 240


def delay_type_of(choice: str) -> str | None:
    """The engine's delay type for a selector value (``"none"`` -> ``None``)."""
    if choice not in DELAY_CHOICES:
        raise ValueError(f"delay type must be one of {DELAY_CHOICES}, got {choice!r}")
    return None if choice == "none" else choice


def task_settings(task: str, hidden: int) -> dict[str, Any]:
    """The engine's training settings for ``task`` (:data:`~snnviz.core.delgrad.experiments.
    TIMING_TRAIN` / ``YINYANG_TRAIN``); with hidden neurons on the timing task the initial
    weights fall back to the network's fan-in-scaled defaults, as
    :func:`~snnviz.core.delgrad.experiments.compare_delays` does."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    settings = dict(TIMING_TRAIN if task == "timing" else YINYANG_TRAIN)
    if task == "timing" and hidden:
        settings.update(weight_mean=None, weight_std=None)
    return settings


class DelGradModel(ParamModel):
    """DelGrad training: task, delay placement, network shape and optimiser.

    Every neuron is a current-based LIF with :math:`\\tau_m = 2\\tau_s` that fires at most once
    (time-to-first-spike, closed-form spike time); the predicted class is the output neuron
    that fires first. Delays shift when a presynaptic spike reaches the soma and are learned
    with exact gradients (``∂t/∂d``), like the weights.
    """

    model_name: ClassVar[str] = "delgrad_training"

    task = param.Selector(
        objects=list(TASKS),
        default="timing",
        label="task",
        doc=(
            "timing: 3 pairs of input spikes, the class is the pair whose interval is 15 ms "
            "(generated; a task where timing matters). yinyang: Kriener et al.'s Yin-Yang "
            "(generated). Applies at the next Reset."
        ),
    )
    delay_type = param.Selector(
        objects=list(DELAY_CHOICES),
        default="synaptic",
        label="learnable delays",
        doc=(
            "none = weights only; axonal = one delay per presynaptic neuron; dendritic = one "
            "per postsynaptic neuron; synaptic = one per synapse. Applies at the next Reset."
        ),
    )
    hidden = integer(
        0,
        bounds=(0, 200),
        soft=(0, 60),
        label="hidden neurons",
        doc="Width of the hidden TTFS layer; 0 = inputs feed the output neurons directly",
    )
    batch_size = integer(
        int(TIMING_TRAIN["batch_size"]),
        bounds=(1, 1000),
        soft=(10, 200),
        label="batch size",
        doc="Samples per Adam step (applies at the next Reset)",
    )
    learning_rate = number(
        float(TIMING_TRAIN["learning_rate"]),
        bounds=(1e-5, 0.5),
        soft=(1e-4, 5e-2),
        step=1e-4,
        unit="",
        label="learning rate",
        doc="Adam step size at epoch 0 (dimensionless; traced, a change never recompiles)",
    )
    lr_decay = number(
        float(TIMING_TRAIN.get("lr_decay", 1.0)),
        bounds=(0.5, 1.0),
        soft=(0.8, 1.0),
        step=0.01,
        unit="",
        label="learning-rate decay per epoch",
        doc="The step size is learning_rate * lr_decay ** epoch (dimensionless)",
    )
    delay_lr_scale = number(
        float(TIMING_TRAIN["delay_lr_scale"]),
        bounds=(0.0, 1000.0),
        soft=(0.0, 100.0),
        step=1.0,
        unit="ms",
        label="delay learning-rate scale",
        doc=(
            "Delay updates are Adam's step times this scale, so a delay moves by about "
            "learning_rate × scale ms per step (weights are dimensionless, delays in ms); traced"
        ),
    )
    tau_syn = number(
        5.0,
        bounds=(0.5, 50.0),
        soft=(1.0, 20.0),
        step=0.1,
        unit="ms",
        label="τ_s",
        doc="Synaptic time constant; the membrane time constant is τ_m = 2 τ_s; traced",
    )
    d_init_max = number(
        float(TIMING_TRAIN["d_init_max"]),
        bounds=(0.0, 200.0),
        soft=(0.0, 50.0),
        step=0.5,
        unit="ms",
        label="initial delays up to",
        doc="Delays start uniform in [0, this] (applies at the next Reset)",
    )
    d_max = number(
        float(TIMING_TRAIN["d_max"]),
        bounds=(0.0, 200.0),
        soft=(0.0, 100.0),
        step=0.5,
        unit="ms",
        label="largest delay",
        doc="After every update the delays are clipped to [0, this] (projection); traced",
    )
    seed = integer(
        0,
        bounds=(0, 2**31 - 1),
        soft=(0, 100),
        label="seed",
        doc="Seed of the initial network and the minibatch order (applies at the next Reset)",
    )

    def validate(self) -> None:
        """Delays start inside the feasible set: ``d_init_max <= d_max``."""
        if self.d_init_max > self.d_max:
            raise ValueError(
                f"initial delays up to {self.d_init_max:g} ms exceed the largest delay "
                f"d_max = {self.d_max:g} ms; lower d_init_max or raise d_max"
            )

    def apply_task_defaults(self) -> None:
        """Set hidden width, learning rate, decay, delay scale and delay ranges to the
        engine's settings for the current task (the values its experiments use)."""
        hidden = DEFAULT_HIDDEN[self.task]
        settings = task_settings(self.task, hidden[0] if hidden else 0)
        self.param.update(
            hidden=hidden[0] if hidden else 0,
            batch_size=int(settings["batch_size"]),
            learning_rate=float(settings["learning_rate"]),
            lr_decay=float(settings.get("lr_decay", 1.0)),
            delay_lr_scale=float(settings["delay_lr_scale"]),
            d_init_max=float(settings["d_init_max"]),
            d_max=float(settings["d_max"]),
        )

    def structure_key(self) -> tuple:
        """Shape-determining values: a change needs a reset (and compiles once)."""
        return (self.model_name, *(getattr(self, p) for p in STRUCTURAL))

    def live_values(self) -> dict[str, float]:
        """The traced hyperparameters, ``{name: value}`` (for ``set_hyperparameters``)."""
        return {p: float(getattr(self, p)) for p in LIVE_HYPERPARAMETERS}

    def neuron(self) -> TTFSNeuron:
        """The engine's neuron (float32 arrays, so a new τ_s never changes a trace's types)."""
        return TTFSNeuron(jnp.asarray(self.tau_syn, jnp.float32), jnp.asarray(1.0, jnp.float32))

    def build(self, *, n_inputs: int, n_classes: int, seed: int | None = None) -> TTFSNetwork:
        """A fresh :class:`~snnviz.core.delgrad.TTFSNetwork` ``[n_inputs, hidden?, n_classes]``
        with the task's initial weights and delays uniform in ``[0, d_init_max]``."""
        self.validate()
        hidden = int(self.hidden)
        settings = task_settings(self.task, hidden)
        sizes = [int(n_inputs), *([hidden] if hidden else []), int(n_classes)]
        mean, std = settings["weight_mean"], settings["weight_std"]
        if mean is not None and len(mean) != len(sizes) - 1:
            mean = std = None  # the task's settings are for another depth: fan-in defaults
        return TTFSNetwork.init(
            sizes,
            key=jax.random.key(int(self.seed if seed is None else seed)),
            delay_type=delay_type_of(self.delay_type),
            neuron=self.neuron(),
            weight_mean=mean,
            weight_std=std,
            d_init_max=float(self.d_init_max),
        )


# -- data -------------------------------------------------------------------------------------
def task_data(task: str) -> tuple[SpikeTimeDataset, SpikeTimeDataset]:
    """The live page's train/test sets for ``task`` (sizes :data:`DATA_SIZES`, seed
    :data:`DATA_SEED`)."""
    n_train, n_test = DATA_SIZES.get(task, (0, 0))
    if task == "timing":
        return interval_task(n_train, n_test, seed=DATA_SEED)
    if task == "yinyang":
        return yinyang_task(n_train, n_test, seed=DATA_SEED)
    raise ValueError(f"task must be one of {TASKS}, got {task!r}")


def _layer_input(net: TTFSNetwork, layer: int, times: jax.Array) -> jax.Array:
    """Presynaptic times of ``layer`` (the previous layer's, plus the bias spike after the
    first layer when the network has one)."""
    if layer == 0 or net.bias_time is None:
        return times
    bias = jnp.broadcast_to(net.bias_time, (*times.shape[:-1], 1)).astype(times.dtype)
    return jnp.concatenate([times, bias], axis=-1)


# -- jitted helpers (one compile per shape and delay type) ---------------------------------
@eqx.filter_jit
def _evaluate(
    net: TTFSNetwork, times: jax.Array, labels: jax.Array, cfg: LossConfig
) -> dict[str, jax.Array]:
    out = jax.vmap(net.outputs_and_peaks)(times)
    losses = jax.vmap(ttfs_loss, in_axes=(0, 0, None, None))(out, labels, net.neuron, cfg)
    pred = predictions(out.t_spike)
    return {
        "test_loss": jnp.mean(losses),
        "test_acc": jnp.mean(pred == labels),
        "silent_output_fraction": jnp.mean(pred < 0),
    }


@eqx.filter_jit
def _layer_times_batch(net: TTFSNetwork, times: jax.Array) -> list[jax.Array]:
    return jax.vmap(net.layer_times)(times)


def _finite_max(a: jax.Array) -> jax.Array:
    return jnp.max(jnp.where(jnp.isfinite(a), a, 0.0))


@eqx.filter_jit
def _sample_view(net: TTFSNetwork, x: jax.Array, grid: jax.Array) -> dict[str, Any]:
    """One sample: every layer's spike times, the last layer's arrival times, and the output
    neurons' free membrane potentials at ``t = grid * t_end`` (``grid`` in [0, 1]; ``t_end``
    is 4 τ_s after the last arrival or spike)."""
    layer_times = net.layer_times(x)
    last = len(net.weights) - 1
    pre = _layer_input(net, last, x if last == 0 else layer_times[-2])
    w = net.weights[-1]
    arrivals = arrival_times(pre, net.delays[-1], net.delay_type, w.shape[0])
    latest = jnp.max(jnp.stack([_finite_max(arrivals), *map(_finite_max, layer_times)]))
    t_grid = grid * (latest + 4.0 * net.neuron.tau_syn)
    v = jax.vmap(membrane_potential, in_axes=(None, 0, 0, None))(t_grid, arrivals, w, net.neuron)
    return {"layer_times": layer_times, "pre": pre, "arrivals": arrivals, "t": t_grid, "v": v}


# -- the trainer ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class DelGradSnapshot:
    """What the page draws, in numpy (taken on the trainer's worker thread).

    ``steps``, ``epoch``, ``task``, ``delay_type`` (``"none"`` or the engine's type),
    ``sizes`` (layer widths), ``weights`` (per layer), ``delays`` and ``initial_delays``
    (per layer, ``None`` without delays), ``parameters`` (weights / delays / total counts),
    ``sample``: :meth:`DelGradTrainer.sample` of the chosen test sample.
    """

    steps: int
    epoch: float
    task: str
    delay_type: str
    sizes: tuple[int, ...]
    weights: tuple[np.ndarray, ...]
    delays: tuple[np.ndarray | None, ...]
    initial_delays: tuple[np.ndarray | None, ...]
    parameters: dict[str, int]
    sample: dict[str, Any]


class DelGradTrainer:
    """Live DelGrad training (the :class:`~snnviz.components.Trainer` protocol).

    Args:
        model: the parameters (read at every :meth:`reset`; live values also arrive through
            :meth:`set_hyperparameters`).
        n_trace: time samples of the output membrane potentials in :meth:`sample`.

    The data of each task is made once (:func:`task_data`); the ``seed`` of :meth:`reset`
    draws the initial network and the minibatch order. Attributes a call replaces whole may
    be read from another thread: :meth:`current` returns a consistent ``(net, loss config)``.
    """

    def __init__(self, model: DelGradModel | None = None, *, n_trace: int = N_TRACE) -> None:
        self.model = model if model is not None else DelGradModel()
        self.n_trace = int(n_trace)
        self._grid = jnp.linspace(0.0, 1.0, self.n_trace, dtype=jnp.float32)
        self.sample_index = 0
        self.loss_config = LossConfig()
        self._data: dict[str, tuple[SpikeTimeDataset, SpikeTimeDataset]] = {}
        self._lock = threading.Lock()
        self.reset(int(self.model.seed))

    # -- Trainer protocol ------------------------------------------------------------------
    def data(self, task: str | None = None) -> tuple[SpikeTimeDataset, SpikeTimeDataset]:
        """Train and test sets of ``task`` (default: the trainer's current task), cached."""
        task = self.task if task is None else task
        if task not in self._data:
            self._data[task] = task_data(task)
        return self._data[task]

    def reset(self, seed: int) -> None:
        """Fresh network and Adam state from ``seed`` with the model's current values (a new
        shape or delay type compiles at the next call)."""
        model = self.model
        model.validate()
        train_set, test_set = self.data(model.task)
        net = model.build(n_inputs=train_set.n_inputs, n_classes=train_set.n_classes, seed=seed)
        opt_state = OPTIMISER.init(net.parameters)
        opt_state.hyperparams["clip_norm"] = jnp.asarray(1.0, jnp.float32)
        with self._lock:
            self.task = model.task
            self.seed = int(seed)
            self.batch_size = min(int(model.batch_size), int(train_set.times.shape[0]))
            self.structure = model.structure_key()
            self.net = net
            self.initial_delays = tuple(None if d is None else np.asarray(d) for d in net.delays)
            self.opt_state = opt_state
            self._hyper = model.live_values()
            self._rng = np.random.default_rng(int(seed))
            self._order = np.zeros(0, np.int64)
            self._train = (np.asarray(train_set.times), np.asarray(train_set.labels))
            self._test = (jnp.asarray(test_set.times), jnp.asarray(test_set.labels))
            self.steps = 0
            self.samples_seen = 0
        self.sample_index = min(self.sample_index, int(test_set.times.shape[0]) - 1)

    def set_hyperparameters(self, **values: float) -> None:
        """Apply traced hyperparameters (names in :data:`LIVE_HYPERPARAMETERS`) for the next
        call; a new ``tau_syn`` replaces the network's neuron (same shapes: no recompile).

        Raises ValueError for an unknown name or a value outside the model's bounds (nothing
        is applied then).
        """
        checked = DelGradModel.check_live_values(
            values,
            LIVE_HYPERPARAMETERS,
            owner="DelGradTrainer",
            reset_note=f"{list(STRUCTURAL)} apply at Reset",
        )
        with self._lock:
            self._hyper = {**self._hyper, **checked}
            if "tau_syn" in checked:
                neuron = TTFSNeuron(
                    jnp.asarray(checked["tau_syn"], jnp.float32), jnp.asarray(1.0, jnp.float32)
                )
                self.net = eqx.tree_at(lambda n: n.neuron, self.net, neuron)

    @property
    def hyperparameters(self) -> dict[str, float]:
        """The traced hyperparameters the next call uses."""
        return dict(self._hyper)

    @property
    def epoch(self) -> float:
        """Training samples seen / training-set size."""
        return self.samples_seen / self._train[0].shape[0]

    def learning_rate_now(self) -> float:
        """``learning_rate * lr_decay ** floor(epoch)``: the rate of the next step."""
        return self._hyper["learning_rate"] * self._hyper["lr_decay"] ** math.floor(self.epoch)

    def _draw(self, n: int) -> np.ndarray:
        """``(n, batch)`` training indices: consecutive shuffles of the training set."""
        need = n * self.batch_size
        n_train = self._train[0].shape[0]
        while self._order.size < need:
            self._order = np.concatenate([self._order, self._rng.permutation(n_train)])
        idx, self._order = self._order[:need], self._order[need:]
        return idx.reshape(n, self.batch_size)

    def train_steps(self, n: int) -> dict[str, float]:
        """``n`` Adam steps on weights (and delays) with exact gradients, each followed by
        the projection of the delays onto ``[0, d_max]`` (one compiled scan; compiles once per
        ``n``, shape and delay type). Returns the mean ``loss`` and ``train_acc`` of these
        steps, ``epoch`` and the learning rate ``lr`` used."""
        if int(n) < 1:
            raise ValueError(f"train_steps: n must be >= 1, got {n}")
        idx = self._draw(int(n))
        lr = self.learning_rate_now()
        with self._lock:
            net, opt_state, hyper = self.net, self.opt_state, dict(self._hyper)
        opt_state.hyperparams["learning_rate"] = jnp.asarray(lr, jnp.float32)
        times, labels = self._train
        net, opt_state, loss, acc = train_epoch(
            net,
            opt_state,
            jnp.asarray(times[idx]),
            jnp.asarray(labels[idx]),
            jnp.asarray(hyper["d_max"], jnp.float32),
            jnp.asarray(hyper["delay_lr_scale"], jnp.float32),
            self.loss_config,
        )
        with self._lock:
            if self._hyper["tau_syn"] != hyper["tau_syn"]:  # τ_s moved during the call
                net = eqx.tree_at(lambda m: m.neuron, net, self.net.neuron)
            self.net, self.opt_state = net, opt_state
            self.steps += int(n)
            self.samples_seen += idx.size
        return {"loss": float(loss), "train_acc": float(acc), "epoch": self.epoch, "lr": lr}

    def evaluate(self) -> dict[str, float]:
        """Test-set loss and accuracy, and the fraction of samples with no output spike."""
        net, cfg = self.current()
        metrics = _evaluate(net, *self._test, cfg)
        return {k: float(v) for k, v in metrics.items()}

    def snapshot(self) -> DelGradSnapshot:
        """Learned delays, weights and the chosen sample (numpy)."""
        net, _ = self.current()
        return DelGradSnapshot(
            steps=self.steps,
            epoch=self.epoch,
            task=self.task,
            delay_type=net.delay_type or "none",
            sizes=tuple(int(s) for s in net.sizes),
            weights=tuple(np.asarray(w) for w in net.weights),
            delays=tuple(None if d is None else np.asarray(d) for d in net.delays),
            initial_delays=self.initial_delays,
            parameters=net.parameter_counts(),
            sample=self.sample(self.sample_index, net),
        )

    # -- what the page asks for ------------------------------------------------------------
    def current(self) -> tuple[TTFSNetwork, LossConfig]:
        """A consistent ``(network, loss config)`` (safe from any thread)."""
        with self._lock:
            return self.net, self.loss_config

    @property
    def n_test(self) -> int:
        """Number of test samples."""
        return int(self._test[0].shape[0])

    def _check_index(self, index: int) -> int:
        if not 0 <= int(index) < self.n_test:
            raise ValueError(f"test sample index must be in [0, {self.n_test}), got {index}")
        return int(index)

    def sample(self, index: int, net: TTFSNetwork | None = None) -> dict[str, Any]:
        """Test sample ``index`` through the network: ``input_times`` (n_in,), ``layer_times``
        (one array per layer, ``inf`` = silent), ``output_times``, ``label``, ``prediction``
        (-1: no output spike), ``pre`` the last layer's presynaptic times, ``arrivals``
        (n_out, n_pre) = pre + delay, ``last_weights`` (n_out, n_pre), ``t`` (n_trace,) and
        ``v`` (n_out, n_trace) the output neurons' membrane potentials (no reset, so read
        them up to the first spike), ``threshold`` and ``n_neurons`` per layer."""
        i = self._check_index(index)
        net = self.current()[0] if net is None else net
        x = self._test[0][i]
        view = _sample_view(net, x, self._grid)
        layer_times = [np.asarray(t) for t in view["layer_times"]]
        out = layer_times[-1]
        pred = int(np.argmin(out)) if np.isfinite(out).any() else -1
        sizes = net.sizes
        names = ["input", *(f"hidden {k + 1}" for k in range(len(sizes) - 2)), "output"]
        return {
            "index": i,
            "label": int(self._test[1][i]),
            "prediction": pred,
            "input_times": np.asarray(x),
            "layer_times": layer_times,
            "output_times": out,
            "pre": np.asarray(view["pre"]),
            "arrivals": np.asarray(view["arrivals"]),
            "last_weights": np.asarray(net.weights[-1]),
            "t": np.asarray(view["t"]),
            "v": np.asarray(view["v"]),
            "threshold": float(net.neuron.threshold),
            "n_neurons": dict(zip(names, (int(s) for s in sizes), strict=True)),
        }

    def gradient_check(self, index: int | None = None, *, eps: float = 1e-4) -> dict[str, Any]:
        """:func:`gradient_check` of the current network on test sample ``index`` (default:
        the chosen sample), objective ``sum_k t_k`` over the output neurons that fire."""
        i = self._check_index(self.sample_index if index is None else index)
        net, _ = self.current()
        result = gradient_check(net, np.asarray(self._test[0][i]), eps=eps)
        result["index"] = i
        result["steps"] = self.steps
        return result

    def neurobench(self) -> dict[str, Any]:
        """:func:`neurobench_report` of the current network on the test set."""
        net, _ = self.current()
        return neurobench_report(net, SpikeTimeDataset(*self._test))


# -- exact gradients vs finite differences --------------------------------------------------
def _forward_structure(net: TTFSNetwork, x: jax.Array) -> tuple[jax.Array, list[jax.Array]]:
    """Output times and, per layer, which neurons fire and which inputs are causal."""
    structure, pre = [], x
    times = pre
    for layer, (w, d) in enumerate(zip(net.weights, net.delays, strict=True)):
        arrivals = arrival_times(_layer_input(net, layer, pre), d, net.delay_type, w.shape[0])
        times = jax.vmap(first_spike_time, in_axes=(0, 0, None))(arrivals, w, net.neuron)
        structure += [jnp.isfinite(times), jax.vmap(causal_set)(times, arrivals)]
        pre = times
    return times, structure


def _objective(times: jax.Array, coeff: jax.Array) -> jax.Array:
    """``sum_k coeff_k t_k`` over the neurons that fire (double ``where``: finite gradients)."""
    fired = jnp.isfinite(times)
    return jnp.sum(jnp.where(fired, coeff * jnp.where(fired, times, 0.0), 0.0))


@eqx.filter_jit
def _fd_evaluations(net: TTFSNetwork, x: jax.Array, coeff: jax.Array, eps: jax.Array):
    """Exact gradient of ``sum_k coeff_k t_k``, and the objective and causal structure at
    ``params``, ``params + eps e_i`` and ``params - eps e_i`` for every parameter ``i``
    (rows ``0``, ``1..P``, ``P+1..2P`` of one vmapped pass)."""
    flat, unravel = ravel_pytree(net.parameters)

    def value_and_structure(p):
        times, structure = _forward_structure(net.with_parameters(unravel(p)), x)
        return _objective(times, coeff), structure

    grad = jax.grad(lambda p: value_and_structure(p)[0])(flat)
    steps = eps * jnp.eye(flat.size, dtype=flat.dtype)
    points = jnp.concatenate([flat[None], flat[None] + steps, flat[None] - steps])
    return grad, jax.vmap(value_and_structure)(points)


def gradient_check(
    net: TTFSNetwork,
    input_times: Any,
    coeff: Any = None,
    *,
    eps: float = 1e-4,
    zero_tol: float = 1e-9,
) -> dict[str, Any]:
    r"""DelGrad's exact gradients against float64 central finite differences.

    The objective is :math:`\sum_k c_k t_k` over the output neurons that fire (``coeff``
    ``c`` defaults to ones), its gradient is ``jax.grad`` through the closed-form spike times
    (which equals the implicit-function result :math:`\partial t/\partial p =
    -(\partial V/\partial p)/(\partial V/\partial t)`); every weight and delay is moved by
    ``± eps`` and :math:`(f(p+\epsilon) - f(p-\epsilon)) / 2\epsilon` compared. Perturbations
    that change which neurons fire or which inputs are causal are skipped (the spike time is
    not differentiable there), as are derivatives that are zero on both sides
    (``< zero_tol``: a silent neuron or a non-causal input).

    Returns ``max_rel_error`` (over all checked entries, ``|g - fd| / max(|g|, |fd|)``),
    ``max_rel_error_weights`` / ``max_rel_error_delays``, ``n_weights`` / ``n_delays``
    (entries checked), ``n_skipped`` (structure changed), ``n_zero``, ``delay_type``.
    """
    with jax.enable_x64(True):
        net64 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), net)
        x = jnp.asarray(input_times, jnp.float64)
        n_out = net.sizes[-1]
        c = jnp.ones(n_out, jnp.float64) if coeff is None else jnp.asarray(coeff, jnp.float64)
        grad, (values, structure) = _fd_evaluations(net64, x, c, jnp.asarray(eps, jnp.float64))
        grad, values = np.asarray(grad), np.asarray(values)
        structure = [np.asarray(s) for s in structure]
    n_p = grad.size
    fd = (values[1 : n_p + 1] - values[n_p + 1 :]) / (2.0 * eps)
    same = np.ones(n_p, bool)
    for s in structure:  # (1 + 2P, ...) per layer: which neurons fire, which inputs are causal
        unchanged = np.all(s == s[:1], axis=tuple(range(1, s.ndim)))
        same &= unchanged[1 : n_p + 1] & unchanged[n_p + 1 :]
    n_w = sum(int(w.size) for w in net.weights)
    scale = np.maximum(np.abs(grad), np.abs(fd))
    checked = same & (scale >= zero_tol)
    rel = np.where(checked, np.abs(grad - fd) / np.where(checked, scale, 1.0), 0.0)
    is_w = np.arange(grad.size) < n_w

    def worst(mask: np.ndarray) -> float:
        return float(rel[mask & checked].max()) if np.any(mask & checked) else 0.0

    return {
        "delay_type": net.delay_type or "none",
        "max_rel_error": worst(np.ones_like(checked)),
        "max_rel_error_weights": worst(is_w),
        "max_rel_error_delays": worst(~is_w),
        "n_weights": int(np.sum(checked & is_w)),
        "n_delays": int(np.sum(checked & ~is_w)),
        "n_skipped": int(np.sum(~same)),
        "n_zero": int(np.sum(same & (scale < zero_tol))),
        "eps": float(eps),
    }


def gradient_check_suite(
    delay_types: Sequence[str] = DELAY_CHOICES[1:],
    seeds: Sequence[int] = (0, 1, 2),
    *,
    sizes: Sequence[int] = (4, 6, 3),
    eps: float = 1e-4,
) -> dict[str, Any]:
    """:func:`gradient_check` on random networks ``sizes`` (bias spike at 1 ms for the hidden
    layer, delays uniform in [0, 4] ms, τ_s = 5 ms) for every delay type and seed, each with
    input times uniform in [0, 10] ms and random objective coefficients.

    Returns the worst ``max_rel_error`` overall and per delay type, the numbers of weight and
    delay derivatives checked and of perturbations skipped, and ``cases`` (one dict each).
    """
    cases = []
    for delay_type in delay_types:
        for seed in seeds:
            net = TTFSNetwork.init(
                list(sizes),
                key=jax.random.key(int(seed)),
                delay_type=delay_type_of(delay_type),
                bias_time=1.0,
                d_init_max=4.0,
                neuron=TTFSNeuron(5.0, 1.0),
            )
            rng = np.random.default_rng(1000 + int(seed))
            x = rng.uniform(0.0, 10.0, size=int(sizes[0]))
            coeff = rng.normal(size=int(sizes[-1]))
            cases.append({"seed": int(seed), **gradient_check(net, x, coeff, eps=eps)})
    per_type = {
        d: max(c["max_rel_error"] for c in cases if c["delay_type"] == d) for d in delay_types
    }
    return {
        "max_rel_error": max(c["max_rel_error"] for c in cases),
        "max_rel_error_weights": max(c["max_rel_error_weights"] for c in cases),
        "max_rel_error_delays": max(c["max_rel_error_delays"] for c in cases),
        "per_delay_type": per_type,
        "n_weights": sum(c["n_weights"] for c in cases),
        "n_delays": sum(c["n_delays"] for c in cases),
        "n_skipped": sum(c["n_skipped"] for c in cases),
        "cases": cases,
    }


# -- NeuroBench ----------------------------------------------------------------------------
def neurobench_report(net: TTFSNetwork, data: SpikeTimeDataset) -> dict[str, Any]:
    """NeuroBench metrics (:func:`snnviz.core.metrics.neurobench_metrics`) of ``net`` on
    ``data``, from spike counts: every neuron fires at most once (TTFS), so each layer's
    inputs and outputs are 0/1 counts per sample (:func:`~snnviz.core.metrics.spike_counts`),
    and the equivalent clocked execution is one dense pass (``n_steps = 1``).

    The trainable parameters are the weights *and* the delays: both count in the footprint
    and the parameter count. Delays add no synaptic operations (they move when a spike
    arrives, not how many arrive). Buffers: ``tau_syn`` and ``threshold``. Returns
    neurobench's dict plus ``parameters`` (:meth:`~snnviz.core.delgrad.TTFSNetwork.
    parameter_counts`) and ``mean_spikes`` per sample.
    """
    times = jnp.asarray(data.times)
    layer_times = _layer_times_batch(net, times)
    pre = times
    sizes = net.sizes
    names = ["input", *(f"hidden {k + 1}" for k in range(len(sizes) - 2)), "output"]
    layers, spikes = [], 0.0
    for layer, (w, post) in enumerate(zip(net.weights, layer_times, strict=True)):
        pre_in = np.asarray(_layer_input(net, layer, pre))
        post_counts = spike_counts(np.asarray(post))
        spikes += float(post_counts.sum(axis=1).mean())
        layers.append(
            LayerActivity(
                np.asarray(w).T,
                spike_counts(pre_in),
                post_counts,
                name=f"{names[layer]} → {names[layer + 1]}",
            )
        )
        pre = post
    params = {
        "weights": [np.asarray(w) for w in net.weights],
        "delays": [np.asarray(d) for d in net.delays if d is not None],
    }
    buffers = {
        "tau_syn": np.asarray(net.neuron.tau_syn, np.float32),
        "threshold": np.asarray(net.neuron.threshold, np.float32),
    }
    pred = np.asarray(predictions(layer_times[-1]))
    result = neurobench_metrics(params, layers, pred, np.asarray(data.labels), buffers=buffers)
    result["parameters"] = net.parameter_counts()
    result["mean_spikes"] = spikes
    return result


def neurobench_row(name: str, report: Mapping[str, Any]) -> dict[str, Any]:
    """One row of the page's NeuroBench table: ``model``, neurobench's ``table`` entries and
    the number of delay parameters."""
    return {
        "model": name,
        **report["table"],
        "Delays (parameters)": int(report["parameters"]["delays"]),
    }


# -- the page's reproduce() experiments ----------------------------------------------------
class _CombinedProgress:
    """``progress(fraction, message)`` for work running in parallel parts: each part reports
    its own fraction, the total is their weighted sum (thread-safe)."""

    def __init__(self, progress: Progress, weights: Mapping[str, float]) -> None:
        total = float(sum(weights.values()))
        self._weights = {k: float(v) / total for k, v in weights.items()}
        self._done = dict.fromkeys(weights, 0.0)
        self._progress = progress
        self._lock = threading.Lock()

    def part(self, name: str) -> Progress:
        """The reporter of part ``name``."""

        def report(fraction: float, message: str) -> None:
            with self._lock:
                self._done[name] = min(1.0, max(0.0, float(fraction)))
                total = sum(self._weights[k] * f for k, f in self._done.items())
            self._progress(total, f"{name}: {message}")

        return report


@dataclasses.dataclass(frozen=True)
class DelGradExperiments:
    """What :func:`reproduce_experiments` measured: the gradient check (``gradients``:
    :func:`gradient_check_suite`), the timing-task comparison (``timing``) and the
    weights-only baseline with fan-in-scaled initial weights (``timing_fanin``); in full mode
    also Yin-Yang with and without delays (``yinyang``) and the accuracy-vs-parameter rows
    (``accuracy_vs_parameters``); total wall time ``wall_s``."""

    quick: bool
    gradients: dict[str, Any]
    timing: DelayComparison
    timing_fanin: DelayComparison
    yinyang: DelayComparison | None
    accuracy_vs_parameters: list[dict[str, Any]] | None
    wall_s: float


#: Full mode's accuracy-vs-parameter widths (split over the two worker threads) and seeds.
AVP_WIDTH_GROUPS_FULL = ((0, 12), (3, 6))
AVP_SEEDS_FULL = (0, 1, 2)


def reproduce_experiments(
    quick: bool = True, progress: Progress | None = None
) -> DelGradExperiments:
    """The DelGrad page's claims, measured on two threads (JAX releases the GIL, so two CPU
    cores work at once; every run is seeded, so the results do not depend on the order).

    Quick: gradient check of random 4-6-3 networks with synaptic delays (3 seeds); the timing
    task (:func:`~snnviz.core.delgrad.experiments.compare_delays`, 3 seeds, 100 epochs) with
    weights only and with synaptic delays, plus weights only from fan-in-scaled initial
    weights. Full: all three delay types in the gradient check and on the timing task (5
    seeds, 200 epochs), Yin-Yang with and without synaptic delays (3 seeds, 30 epochs, 30
    hidden neurons), and accuracy vs parameter count for hidden widths 0, 3, 6, 12 (3 seeds,
    100 epochs each).
    """
    start = time.perf_counter()
    report = progress or (lambda fraction, message: None)
    types = ("synaptic",) if quick else DELAY_CHOICES[1:]
    variants = (None, "synaptic") if quick else (None, "synaptic", "axonal", "dendritic")
    weights = (
        {"timing": 6.0, "gradients": 1.0, "fan-in baseline": 1.5}
        if quick
        else {
            "timing": 10.0,
            "gradients": 1.0,
            "fan-in baseline": 2.5,
            "Yin-Yang": 6.0,
            "widths A": 6.0,
            "widths B": 6.0,
        }
    )
    combined = _CombinedProgress(report, weights)

    def side() -> tuple[dict[str, Any], DelayComparison, DelayComparison | None]:
        grads = gradient_check_suite(types, seeds=(0, 1, 2))
        combined.part("gradients")(
            1.0, f"{types}: worst relative error {grads['max_rel_error']:.1e}"
        )
        fanin = compare_delays(
            quick=quick,
            delay_types=(None,),
            weight_mean=None,
            weight_std=None,
            progress=combined.part("fan-in baseline"),
        )
        yinyang = None
        if not quick:
            yinyang = compare_delays(
                quick=False,
                dataset="yinyang",
                delay_types=(None, "synaptic"),
                progress=combined.part("Yin-Yang"),
            )
        return grads, fanin, yinyang

    def widths(group: tuple[int, ...], name: str) -> list[dict[str, Any]]:
        return accuracy_vs_parameters(
            widths=group,
            delay_types=(None, "synaptic"),
            seeds=AVP_SEEDS_FULL,
            quick=True,
            progress=combined.part(name),
        )

    with concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="delgrad-reproduce") as pool:
        timing_job = pool.submit(
            compare_delays, quick=quick, delay_types=variants, progress=combined.part("timing")
        )
        side_job = pool.submit(side)
        timing = timing_job.result()
        grads, fanin, yinyang = side_job.result()
        rows = None
        if not quick:
            a = pool.submit(widths, AVP_WIDTH_GROUPS_FULL[0], "widths A")
            b = pool.submit(widths, AVP_WIDTH_GROUPS_FULL[1], "widths B")
            rows = sorted(a.result() + b.result(), key=lambda r: (r["width"], r["variant"]))
    return DelGradExperiments(
        bool(quick), grads, timing, fanin, yinyang, rows, time.perf_counter() - start
    )
