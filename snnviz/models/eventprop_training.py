r"""Parameter model and live trainer of the EventProp page (Wunderlich & Pehle 2021).

:class:`EventPropYinYang` holds what a user sets: the network's shape (hidden width, spike cap
per hidden neuron), the minibatch size, and the traced hyperparameters (learning rate and its
decay, :math:`\tau_\mathrm{syn}`, the loss's :math:`\tau_0`, :math:`\alpha`,
:math:`\tau_1`, the weight bump). :class:`EventPropTrainer` implements the
:class:`~snnviz.components.Trainer` protocol on top of :mod:`snnviz.core.eventprop`: it owns
the Yin-Yang data, the weights and the Adam state, runs ``n`` EventProp steps per call (one
compiled ``lax.scan``, :func:`~snnviz.core.eventprop.train_epoch`), and hands plain numpy
snapshots to the page (decision map, weights, one sample's forward spikes and adjoint events).

Shape changes (``n_hidden``, ``max_spikes_hidden``, ``batch_size``) take effect at
:meth:`EventPropTrainer.reset` and compile once per new shape; the other values are traced
arrays, so :meth:`EventPropTrainer.set_hyperparameters` never recompiles.

:func:`neurobench_report` and :func:`readout_bits_table` measure a trained network on a data
set (NeuroBench metrics; bits read out per gradient, Pehle et al. 2023).

This module never imports panel.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from snnviz.core.data import yinyang
from snnviz.core.eventprop import (
    QUICK,
    EventNetwork,
    LossParams,
    NetworkSpikes,
    Weights,
    YinYangConfig,
    evaluate,
    gradient_check,
    init_weights,
    make_optimizer,
    predict,
    readout_bits,
    sample_events,
    train_epoch,
)
from snnviz.core.eventprop.lif_events import MAX_WINDOW_IN_TAU_SYN
from snnviz.core.metrics import LayerActivity, neurobench_metrics, spike_counts

from ._base import ParamModel, integer, number

#: Hyperparameters applied between calls without recompiling (traced values).
LIVE_HYPERPARAMETERS = (
    "learning_rate",
    "lr_decay",
    "tau_syn",
    "tau_0",
    "alpha",
    "tau_1",
    "weight_bump",
)
#: Parameters that change array shapes: they take effect at the next reset.
STRUCTURAL = ("n_hidden", "max_spikes_hidden", "batch_size")
#: The data never changes with the training seed: the standard split of train_yinyang(seed=0).
DATA_SEED = 0
#: Membrane sampling step of the dense readout EventProp is compared with (ms).
READOUT_DT_MS = 0.5
N_OUT = 3
LAYER_NAMES = ("input", "hidden", "output")


class EventPropYinYang(ParamModel):
    """EventProp on Yin-Yang: network shape, optimiser and loss (see the module docstring).

    Inputs are the latency-coded features ``(x, y, 1-x, 1-y)`` (spikes between 0 and 10 ms)
    plus a bias spike at 0 ms; the simulated window is ``t_max = 30 ms``; the predicted class
    is the output neuron that fires first.
    """

    model_name: ClassVar[str] = "eventprop_yinyang"

    n_hidden = integer(
        QUICK.n_hidden,
        bounds=(2, 200),
        soft=(5, 200),
        label="hidden neurons",
        doc="Width of the hidden LIF layer (a new width compiles once, at the next Reset)",
    )
    max_spikes_hidden = integer(
        QUICK.max_spikes_hidden,
        bounds=(1, 8),
        soft=(1, 5),
        label="spike cap per hidden neuron",
        doc=(
            "Most spikes a hidden neuron may fire per sample (the event simulator finds them "
            "one after another; applies at the next Reset)"
        ),
    )
    batch_size = integer(
        QUICK.batch_size,
        bounds=(1, 512),
        soft=(4, 128),
        label="batch size",
        doc="Samples per Adam step (applies at the next Reset)",
    )
    learning_rate = number(
        QUICK.learning_rate,
        bounds=(1e-6, 0.1),
        soft=(1e-4, 2e-2),
        step=1e-4,
        unit="",
        label="learning rate",
        doc="Adam step size at epoch 0 (dimensionless; traced, a change never recompiles)",
    )
    lr_decay = number(
        QUICK.lr_decay,
        bounds=(0.5, 1.0),
        soft=(0.8, 1.0),
        step=0.01,
        unit="",
        label="learning-rate decay per epoch",
        doc="The step size is learning_rate * lr_decay ** epoch (dimensionless)",
    )
    tau_syn = number(
        QUICK.tau_syn,
        bounds=(0.1, 20.0),
        soft=(1.0, 10.0),
        step=0.1,
        unit="ms",
        label="τ_syn",
        doc=(
            "Synaptic time constant; the membrane time constant is τ_mem = 2 τ_syn (closed-form "
            "spike times); traced"
        ),
    )
    tau_0 = number(
        QUICK.tau_0,
        bounds=(0.01, 20.0),
        soft=(0.1, 5.0),
        step=0.05,
        unit="ms",
        label="τ_0 (loss)",
        doc="Temperature of the softmax over -t/τ_0 in the time-to-first-spike cross-entropy",
    )
    alpha = number(
        QUICK.alpha,
        bounds=(0.0, 1.0),
        soft=(0.0, 0.05),
        step=1e-3,
        unit="",
        label="α (loss)",
        doc="Weight of the early-spike term α (exp(t*/τ_1) - 1) of the loss (dimensionless)",
    )
    tau_1 = number(
        QUICK.tau_1,
        bounds=(0.5, 100.0),
        soft=(2.0, 30.0),
        step=0.5,
        unit="ms",
        label="τ_1 (loss)",
        doc="Time scale of the early-spike term of the loss",
    )
    weight_bump = number(
        QUICK.weight_bump,
        bounds=(0.0, 0.1),
        soft=(0.0, 0.02),
        step=1e-3,
        unit="θ",
        label="weight bump",
        doc=(
            "Added after each step to the input weights of neurons that stayed silent (Göltz "
            "et al. 2021), in threshold units θ"
        ),
    )

    def validate(self) -> None:
        """The simulated window must span at most ``MAX_WINDOW_IN_TAU_SYN`` synaptic time
        constants (the event simulator's prefix sums hold ``exp(±t / τ_syn)``)."""
        t_max = QUICK.t_max
        if t_max / self.tau_syn > MAX_WINDOW_IN_TAU_SYN:
            raise ValueError(
                f"τ_syn = {self.tau_syn:g} ms is too short for the {t_max:g} ms window: "
                f"t_max / τ_syn must be at most {MAX_WINDOW_IN_TAU_SYN:g}, so τ_syn >= "
                f"{t_max / MAX_WINDOW_IN_TAU_SYN:g} ms"
            )

    def config(self, seed: int = 0) -> YinYangConfig:
        """The engine's :class:`~snnviz.core.eventprop.YinYangConfig` for these values."""
        self.validate()
        return dataclasses.replace(
            QUICK,
            n_hidden=int(self.n_hidden),
            max_spikes_hidden=int(self.max_spikes_hidden),
            batch_size=int(self.batch_size),
            learning_rate=float(self.learning_rate),
            lr_decay=float(self.lr_decay),
            tau_syn=float(self.tau_syn),
            tau_0=float(self.tau_0),
            alpha=float(self.alpha),
            tau_1=float(self.tau_1),
            weight_bump=float(self.weight_bump),
            seed=int(seed),
        )

    def build(self) -> EventNetwork:
        """The :class:`~snnviz.core.eventprop.EventNetwork` (weights are the trainer's)."""
        return self.config().network()

    def structure_key(self) -> tuple:
        """Shape-determining values: a change needs a reset (and compiles once)."""
        return (self.model_name, *(int(getattr(self, p)) for p in STRUCTURAL))

    def live_values(self) -> dict[str, float]:
        """The traced hyperparameters, ``{name: value}`` (for ``set_hyperparameters``)."""
        return {p: float(getattr(self, p)) for p in LIVE_HYPERPARAMETERS}


# -- data ----------------------------------------------------------------------------------
class YinYangData(NamedTuple):
    """Encoded Yin-Yang sets (numpy): input spike times ``x_*`` (n, 5) in ms, labels ``y_*``,
    and the test points (n, 2) for plots."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    test_points: np.ndarray


def yinyang_data(config: YinYangConfig = QUICK) -> YinYangData:
    """The train/test split of :func:`~snnviz.core.eventprop.yinyang_sets` (same seeds,
    ``2 seed + 1`` and ``2 seed + 2``), with the test points kept for the decision map."""
    train = yinyang(config.n_train, seed=2 * config.seed + 1)
    test = yinyang(config.n_test, seed=2 * config.seed + 2)
    return YinYangData(
        np.asarray(config.encode(train.features)),
        np.asarray(train.labels),
        np.asarray(config.encode(test.features)),
        np.asarray(test.labels),
        np.asarray(test.points),
    )


def grid_features(resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres ``(resolution,)`` on [0, 1] and the features ``(resolution², 4)`` of the
    grid (rows: y, columns: x), for a decision map."""
    axis = (np.arange(resolution) + 0.5) / resolution
    xx, yy = np.meshgrid(axis, axis)
    points = np.stack([xx.ravel(), yy.ravel()], axis=1)
    return axis, np.concatenate([points, 1.0 - points], axis=1).astype(np.float32)


def initial_weights(config: YinYangConfig, n_in: int = 5) -> Weights:
    """The initial weights :func:`~snnviz.core.eventprop.train_yinyang` draws for
    ``config`` (same key split), so a reproduction can check its untrained network."""
    init_key, _ = jax.random.split(jax.random.key(config.seed))
    return init_weights(
        init_key,
        n_in,
        config.n_hidden,
        N_OUT,
        hidden_mean=config.hidden_mean,
        hidden_std=config.hidden_std,
        output_mean=config.output_mean,
        output_std=config.output_std,
    )


@eqx.filter_jit
def forward_batch(weights: Weights, net: EventNetwork, input_times: jax.Array) -> NetworkSpikes:
    """The network on a batch ``input_times`` (B, n_in) (one compile per batch shape)."""
    return jax.vmap(net, in_axes=(None, 0))(weights, input_times)


def predicted_class(spikes: NetworkSpikes) -> np.ndarray:
    """First output neuron to fire, ``-1`` when none fires (numpy, per sample)."""
    return np.asarray(predict(spikes.output_first))


# -- measurements on a trained network ----------------------------------------------------------
#: Why a weight is not scored by :func:`gradient_vs_finite_differences`.
SCORED, NO_GRADIENT, NEGLIGIBLE, FD_NOT_CONVERGED, SPIKE_CHANGE = range(5)
UNSCORED_REASONS = {
    NO_GRADIENT: "no effect on the loss (both gradients exactly 0)",
    NEGLIGIBLE: "gradient below 1e-4 of the sample's largest (FD round-off level)",
    FD_NOT_CONVERGED: "finite differences at the two steps disagree (near-grazing crossing)",
    SPIKE_CHANGE: "±ε creates or deletes a spike (loss not differentiable there)",
}


def gradient_vs_finite_differences(
    weights: Weights,
    net: EventNetwork,
    input_times: ArrayLike,
    label: int,
    *,
    tau_0: float,
    alpha: float,
    tau_1: float,
    eps_rel: float = 1e-5,
    eps_rel_check: float = 1e-4,
    convergence_tol: float = 1e-4,
    negligible: float = 1e-4,
) -> dict[str, Any]:
    r"""EventProp gradient of one sample's loss vs float64 central finite differences, on
    every weight, scoring only weights where finite differences are trustworthy.

    Runs :func:`~snnviz.core.eventprop.gradient_check` (float64) with steps
    ``ε = eps_rel · rms(W_layer)`` and ``eps_rel_check · rms(W_layer)``. A weight is *scored*
    unless (reason codes in ``UNSCORED_REASONS``): both gradients are exactly 0; the larger of
    :math:`|g|, |\mathrm{fd}|` is below ``negligible`` times the sample's largest :math:`|g|`
    (the loss sums log-softmax terms far larger than a confident sample's loss, and their
    float64 round-off, divided by 2ε, reaches there: on a trained 120-hidden network,
    components between 1e-6 and 1e-5 of the largest showed FD errors up to 5e-3 while the
    two steps agreed, those between 1e-5 and 1e-4 up to 3e-4); the two finite differences differ by more than ``convergence_tol`` (relative), i.e. FD itself has
    not converged (a threshold crossing close to grazing has a large third derivative); or
    ``±ε`` creates or deletes a spike. None of these looks at the EventProp value.

    Relative error of a scored weight: :math:`|g - \mathrm{fd}| / \max(|g|, |\mathrm{fd}|)`
    with the step ``ε``.

    Returns numpy arrays ``layer`` (0 input->hidden, 1 hidden->output), ``row``, ``col``,
    ``eventprop``, ``finite_difference``, ``finite_difference_check``, ``relative_error``
    (NaN where not scored), ``reason`` (``SCORED`` = 0 or an unscored code); scalars
    ``max_relative_error`` and ``median_relative_error`` (scored weights; NaN if none),
    ``n_weights``, ``n_scored``, ``n_relevant`` (weights with a non-negligible gradient),
    ``scored_fraction`` (``n_scored / n_relevant``), ``max_relative_error_vs_autodiff``
    (EventProp vs autodiff through the exact spike times, all weights), ``loss``,
    ``eps_rel``.
    """
    hyper = {"tau_0": tau_0, "alpha": alpha, "tau_1": tau_1}
    main = gradient_check(weights, net, input_times, label, None, eps_rel=eps_rel, **hyper)
    check = gradient_check(weights, net, input_times, label, None, eps_rel=eps_rel_check, **hyper)
    g = main["eventprop"]
    fd = main["finite_difference"]
    fd_check = check["finite_difference"]
    scale = float(np.max(np.abs(g))) if g.size else 0.0
    size = np.maximum(np.abs(g), np.abs(np.nan_to_num(fd)))
    with np.errstate(invalid="ignore"):
        converged = np.abs(fd - fd_check) <= convergence_tol * np.maximum(
            np.abs(fd), np.abs(fd_check)
        )
    reason = np.full(g.shape, SCORED)
    reason[~converged] = FD_NOT_CONVERGED
    reason[size < negligible * scale] = NEGLIGIBLE
    reason[(g == 0) & (np.nan_to_num(fd) == 0)] = NO_GRADIENT
    reason[main["skipped"] | check["skipped"]] = SPIKE_CHANGE
    scored = reason == SCORED
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(scored, np.abs(g - fd) / size, np.nan)
    relevant = (reason != NO_GRADIENT) & (reason != NEGLIGIBLE)
    return {
        "layer": main["layer"],
        "row": main["row"],
        "col": main["col"],
        "eventprop": g,
        "finite_difference": fd,
        "finite_difference_check": fd_check,
        "relative_error": rel,
        "reason": reason,
        "max_relative_error": float(np.max(rel[scored])) if scored.any() else float("nan"),
        "median_relative_error": float(np.median(rel[scored])) if scored.any() else float("nan"),
        "n_weights": int(g.size),
        "n_scored": int(scored.sum()),
        "n_relevant": int(relevant.sum()),
        "scored_fraction": float(scored.sum() / relevant.sum()) if relevant.any() else 0.0,
        "max_relative_error_vs_autodiff": main["max_relative_error_vs_autodiff"],
        "loss": main["loss"],
        "eps_rel": eps_rel,
    }


def neurobench_report(
    weights: Weights,
    net: EventNetwork,
    input_times: ArrayLike,
    labels: ArrayLike,
    *,
    dt_ms: float = READOUT_DT_MS,
    spikes: NetworkSpikes | None = None,
) -> dict[str, Any]:
    """NeuroBench metrics (:func:`snnviz.core.metrics.neurobench_metrics`) of the network on a
    data set, from spike counts (an event-based model).

    Two connection layers: input -> hidden (every input and the bias spike once) and hidden ->
    output; the hidden layer's spikes (up to the cap) and the output layer's first spikes count
    as activations. The equivalent clocked execution for the Dense count and the activation
    sparsity has ``t_max / dt_ms`` steps. Buffers: the neuron's ``tau_syn``, ``threshold`` and
    ``t_max``. ``spikes``: the network's spikes on ``input_times`` if already computed.
    Returns neurobench's dict (``table`` etc.) plus ``n_steps``, ``dt_ms`` and
    ``mean_spikes`` (hidden + first output spikes per sample).
    """
    x = jnp.asarray(input_times, weights.hidden.dtype)
    if spikes is None:
        spikes = forward_batch(weights, net, x)
    n_steps = round(float(net.neuron.t_max) / dt_ms)
    input_counts = spike_counts(np.asarray(x), float(net.neuron.t_max))
    hidden_counts = spike_counts(np.asarray(spikes.hidden))
    output_counts = spike_counts(np.asarray(spikes.output_first))
    layers = [
        LayerActivity(
            np.asarray(weights.hidden).T,
            input_counts,
            hidden_counts,
            n_steps=n_steps,
            name="input → hidden",
        ),
        LayerActivity(
            np.asarray(weights.output).T,
            hidden_counts,
            output_counts,
            n_steps=n_steps,
            name="hidden → output",
        ),
    ]
    buffers = {
        "tau_syn": np.asarray(net.neuron.tau_syn, np.float32),
        "threshold": np.asarray(net.neuron.threshold, np.float32),
        "t_max": np.asarray(net.neuron.t_max, np.float32),
    }
    params = {"hidden": np.asarray(weights.hidden), "output": np.asarray(weights.output)}
    result = neurobench_metrics(
        params, layers, predicted_class(spikes), np.asarray(labels), buffers=buffers
    )
    result["n_steps"] = n_steps
    result["dt_ms"] = dt_ms
    result["mean_spikes"] = float(hidden_counts.sum(axis=1).mean() + output_counts.sum(1).mean())
    return result


def readout_bits_table(
    mean_spikes: float, n_neurons: int, t_max_ms: float, dts_ms: Sequence[float]
) -> list[dict[str, float]]:
    """Bits read out per sample for one gradient (:func:`~snnviz.core.eventprop.readout_bits`:
    16-bit spike times vs 8-bit membrane samples of every neuron) for several sampling steps
    ``dts_ms``; one row per step with ``dt_ms``, ``event_bits``, ``dense_bits``,
    ``dense_over_event``."""
    rows = []
    for dt in dts_ms:
        n_steps = round(float(t_max_ms) / float(dt))
        bits = readout_bits(mean_spikes, n_steps, n_neurons)
        rows.append({"dt_ms": float(dt), "n_steps": n_steps, **bits})
    return rows


# -- the trainer -----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class EventPropSnapshot:
    """What the page draws, in numpy (taken on the trainer's worker thread).

    ``steps``, ``epoch``; ``hidden_weights`` (n_hidden, 5) and ``output_weights`` (3, n_hidden);
    ``grid_axis`` (res,) pixel centres and ``grid_class`` (res, res) predicted class (-1: no
    output spike); ``map_points`` (k, 2), ``map_labels`` and ``map_predictions`` (k,) for the
    test points drawn on the map; ``sample``: :meth:`EventPropTrainer.sample` of the chosen
    test sample.
    """

    steps: int
    epoch: float
    hidden_weights: np.ndarray
    output_weights: np.ndarray
    grid_axis: np.ndarray
    grid_class: np.ndarray
    map_points: np.ndarray
    map_labels: np.ndarray
    map_predictions: np.ndarray
    sample: dict[str, Any]


class EventPropTrainer:
    """Live EventProp training on Yin-Yang (the :class:`~snnviz.components.Trainer` protocol).

    Args:
        model: the parameters (read at every :meth:`reset`; live values also arrive through
            :meth:`set_hyperparameters`).
        grid_resolution: pixels per side of the decision map.
        map_points: how many test points the decision map shows.
        n_grid: time samples of the adjoint traces in :meth:`sample`.

    The data (5000 train / 1000 test points, the split of ``train_yinyang(seed=0)``) is made
    once; the training ``seed`` of :meth:`reset` draws the initial weights and the minibatch
    order. Attributes replaced whole by each call (``weights`` etc.) may be read from another
    thread: :meth:`current` returns a consistent ``(weights, net, loss)``.
    """

    def __init__(
        self,
        model: EventPropYinYang | None = None,
        *,
        grid_resolution: int = 32,
        map_points: int = 300,
        n_grid: int = 200,
    ) -> None:
        self.model = model if model is not None else EventPropYinYang()
        self.data = yinyang_data(dataclasses.replace(QUICK, seed=DATA_SEED))
        self.grid_axis, grid = grid_features(int(grid_resolution))
        self._grid_inputs = np.asarray(QUICK.encode(jnp.asarray(grid)))
        self._map_n = min(int(map_points), self.data.x_test.shape[0])
        self._snapshot_inputs = jnp.asarray(
            np.concatenate([self._grid_inputs, self.data.x_test[: self._map_n]])
        )
        self.n_grid = int(n_grid)
        self.sample_index = 0
        self._lock = threading.Lock()
        self.reset(0)

    # -- Trainer protocol ------------------------------------------------------------------
    def reset(self, seed: int) -> None:
        """Fresh weights and Adam state from ``seed`` with the model's current values (a new
        shape compiles at the next call)."""
        config = self.model.config(seed)
        weights = initial_weights(config, self.data.x_train.shape[1])
        optimizer = make_optimizer(config.learning_rate)
        with self._lock:
            self.config = config
            self.seed = int(seed)
            self.structure = self.model.structure_key()
            self.weights = weights
            self.opt_state = optimizer.init(weights)
            self.net = config.network()
            self.loss_params = LossParams(config.tau_0, config.alpha, config.tau_1)
            self._bump = jnp.asarray(config.weight_bump, jnp.float32)
            self._hyper = {p: float(getattr(config, p)) for p in LIVE_HYPERPARAMETERS}
            self._rng = np.random.default_rng(int(seed))
            self._order = np.zeros(0, np.int64)
            self.steps = 0
            self.samples_seen = 0

    def set_hyperparameters(self, **values: float) -> None:
        """Apply traced hyperparameters (names in ``LIVE_HYPERPARAMETERS``) for the next call.

        Raises ValueError for an unknown name, a value outside the model's bounds, or a
        ``tau_syn`` too short for the window (nothing is applied then).
        """
        checked = EventPropYinYang.check_live_values(
            values,
            LIVE_HYPERPARAMETERS,
            owner="EventPropTrainer",
            reset_note=f"shapes {list(STRUCTURAL)} apply at Reset",
        )
        hyper = {**self._hyper, **checked}
        t_max = float(self.config.t_max)
        if t_max / hyper["tau_syn"] > MAX_WINDOW_IN_TAU_SYN:
            raise ValueError(
                f"EventPropTrainer: tau_syn = {hyper['tau_syn']:g} ms is too short for the "
                f"{t_max:g} ms window (need tau_syn >= {t_max / MAX_WINDOW_IN_TAU_SYN:g} ms)"
            )
        config = dataclasses.replace(self.config, **hyper)
        net = config.network()
        with self._lock:
            self._hyper = hyper
            self.config = config
            self.net = net
            self.loss_params = LossParams(hyper["tau_0"], hyper["alpha"], hyper["tau_1"])
            self._bump = jnp.asarray(hyper["weight_bump"], jnp.float32)

    @property
    def hyperparameters(self) -> dict[str, float]:
        """The traced hyperparameters the next call uses."""
        return dict(self._hyper)

    @property
    def epoch(self) -> float:
        """Training samples seen / training set size."""
        return self.samples_seen / self.data.x_train.shape[0]

    def learning_rate_now(self) -> float:
        """``learning_rate * lr_decay ** floor(epoch)``: the rate of the next step."""
        return self._hyper["learning_rate"] * self._hyper["lr_decay"] ** math.floor(self.epoch)

    def _draw(self, n: int) -> np.ndarray:
        """``(n, batch)`` training indices: consecutive shuffles of the training set."""
        need = n * self.config.batch_size
        n_train = self.data.x_train.shape[0]
        while self._order.size < need:
            self._order = np.concatenate([self._order, self._rng.permutation(n_train)])
        idx, self._order = self._order[:need], self._order[need:]
        return idx.reshape(n, self.config.batch_size)

    def train_steps(self, n: int) -> dict[str, float]:
        """``n`` Adam steps with EventProp gradients (one compiled scan; compiles once per
        ``n`` and shape). Returns the mean ``loss`` and ``train_acc`` of these steps,
        ``epoch`` and the learning rate ``lr`` used."""
        idx = self._draw(int(n))
        lr = self.learning_rate_now()
        opt_state = self.opt_state
        opt_state.hyperparams["learning_rate"] = jnp.asarray(lr, jnp.float32)
        weights, net, loss = self.current()
        weights, opt_state, losses, accs = train_epoch(
            weights,
            opt_state,
            net,
            jnp.asarray(self.data.x_train[idx]),
            jnp.asarray(self.data.y_train[idx]),
            loss,
            self._bump,
        )
        with self._lock:
            self.weights, self.opt_state = weights, opt_state
            self.steps += int(n)
            self.samples_seen += idx.size
        return {
            "loss": float(jnp.mean(losses)),
            "train_acc": float(jnp.mean(accs)),
            "epoch": self.epoch,
            "lr": lr,
        }

    def evaluate(self) -> dict[str, float]:
        """Test-set loss and accuracy, the fraction of samples without an output spike and of
        hidden neurons truncated by the spike cap."""
        weights, net, loss = self.current()
        test_loss, metrics = evaluate(
            weights, net, jnp.asarray(self.data.x_test), jnp.asarray(self.data.y_test), loss
        )
        return {
            "test_loss": float(test_loss),
            "test_acc": float(metrics["accuracy"]),
            "silent_output_fraction": float(metrics["silent_fraction"]),
            "hidden_cap_fraction": float(metrics["cap_fraction"]),
        }

    def snapshot(self) -> EventPropSnapshot:
        """Decision map, weights and the chosen sample's events (numpy)."""
        weights, net, _ = self.current()
        spikes = forward_batch(weights, net, self._snapshot_inputs)
        pred = predicted_class(spikes)
        res = self.grid_axis.size
        return EventPropSnapshot(
            steps=self.steps,
            epoch=self.epoch,
            hidden_weights=np.asarray(weights.hidden),
            output_weights=np.asarray(weights.output),
            grid_axis=self.grid_axis,
            grid_class=pred[: res * res].reshape(res, res),
            map_points=self.data.test_points[: self._map_n],
            map_labels=self.data.y_test[: self._map_n],
            map_predictions=pred[res * res :],
            sample=self.sample(self.sample_index),
        )

    # -- what the page asks for ------------------------------------------------------------
    def current(self) -> tuple[Weights, EventNetwork, LossParams]:
        """A consistent ``(weights, net, loss params)`` (safe from any thread)."""
        with self._lock:
            return self.weights, self.net, self.loss_params

    def _check_index(self, index: int) -> int:
        n_test = self.data.x_test.shape[0]
        if not 0 <= int(index) < n_test:
            raise ValueError(f"test sample index must be in [0, {n_test}), got {index}")
        return int(index)

    def sample(self, index: int) -> dict[str, Any]:
        """Forward spikes and adjoint events of test sample ``index``
        (:func:`~snnviz.core.eventprop.sample_events`) plus ``index``, ``label``, ``point``
        (x, y), ``output_first`` (3,) first output spike times (inf: none), ``prediction``
        (-1: no output spike), ``n_neurons`` per layer, ``threshold`` and ``t_max``."""
        i = self._check_index(index)
        weights, net, loss = self.current()
        events = sample_events(
            weights,
            net,
            self.data.x_test[i],
            int(self.data.y_test[i]),
            tau_0=float(loss.tau_0),
            alpha=float(loss.alpha),
            tau_1=float(loss.tau_1),
            n_grid=self.n_grid,
        )
        out = events["forward"]
        first = np.full(N_OUT, np.inf)
        is_out = out["layer"] == LAYER_NAMES.index("output")
        first[out["neuron"][is_out]] = out["time"][is_out]
        fired = np.isfinite(first).any()
        events.update(
            index=i,
            label=int(self.data.y_test[i]),
            point=self.data.test_points[i],
            output_first=first,
            threshold=float(net.neuron.threshold),
            prediction=int(np.argmin(first)) if fired else -1,
            n_neurons={
                "input": self.data.x_test.shape[1],
                "hidden": int(weights.hidden.shape[0]),
                "output": N_OUT,
            },
            t_max=float(net.neuron.t_max),
        )
        return events

    def gradient_check(self, index: int) -> dict[str, Any]:
        """:func:`gradient_vs_finite_differences` of every weight on test sample ``index``
        with the current weights (plus ``index`` and ``steps``)."""
        i = self._check_index(index)
        weights, net, loss = self.current()
        result = gradient_vs_finite_differences(
            weights,
            net,
            self.data.x_test[i],
            int(self.data.y_test[i]),
            tau_0=float(loss.tau_0),
            alpha=float(loss.alpha),
            tau_1=float(loss.tau_1),
        )
        result["index"] = i
        result["steps"] = self.steps
        return result

    def neurobench(self, dt_ms: float = READOUT_DT_MS) -> dict[str, Any]:
        """:func:`neurobench_report` of the current weights on the test set, with a
        ``readout_bits`` table for sampling steps 0.1, ``dt_ms`` and 1 ms."""
        weights, net, _ = self.current()
        report = neurobench_report(weights, net, self.data.x_test, self.data.y_test, dt_ms=dt_ms)
        n_neurons = int(weights.hidden.shape[0]) + N_OUT
        dts = sorted({0.1, float(dt_ms), 1.0})
        report["readout_bits"] = readout_bits_table(
            report["mean_spikes"], n_neurons, float(net.neuron.t_max), dts
        )
        return report


def history_rows(history: Mapping[str, Sequence[float]], steps_per_epoch: int) -> list[dict]:
    """``train_yinyang``'s per-epoch history as rows for the training views (``step``,
    ``loss``, ``train_acc``, ``test_loss``, ``test_acc``, ``epoch``)."""
    rows = []
    for k, epoch in enumerate(history["epoch"]):
        rows.append(
            {
                "step": float(epoch * steps_per_epoch),
                "epoch": float(epoch),
                "loss": float(history["loss"][k]),
                "train_acc": float(history["train_accuracy"][k]),
                "test_loss": float(history["test_loss"][k]),
                "test_acc": float(history["test_accuracy"][k]),
            }
        )
    return rows
