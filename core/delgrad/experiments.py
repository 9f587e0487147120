"""The DelGrad experiments behind the page: weights-only vs weights+delays.

* :func:`compare_delays` — train several delay placements (and none) on the same data with
  the same seeds and collect test accuracies, learned delays and parameter counts. On the
  timing task (:func:`.tasks.interval_task`, default) the network has no hidden layer: the
  ``2K`` inputs feed ``K`` output neurons, so every variant has the same ``K`` neurons.
  ``quick=True`` (3 seeds, weights vs synaptic delays) takes about 20-30 s on 2 CPU cores.
* :func:`accuracy_vs_parameters` — the timing task for a few hidden-layer widths, with and
  without delays: test accuracy against the number of trainable parameters.

Variants share data, initial weights (same seed), optimiser and epochs; the only difference
is whether delays exist and are trained.

**Measured** (test accuracy, mean ± s.d. over seeds; chance 33 %):

* timing task, 3 output neurons, quick (3 seeds, 100 epochs): weights 31.6 ± 0.4 %,
  weights+synaptic delays 92.6 ± 3.1 %; weights-only with fan-in-scaled initial weights
  43.7 ± 1.7 %. Full (5 seeds, 200 epochs): weights 37.4 ± 11.4 % (one seed 58 %),
  synaptic 91.2 ± 7.5 %, axonal 70.9 ± 3.6 %, dendritic 37.8 ± 11.0 % (as predicted: a
  dendritic delay only shifts a neuron's output).
* accuracy vs parameters (3 seeds, quick sizes), hidden width: weights / weights+synaptic
  (parameters): 0: 31.6 % (18) / 92.6 % (36); 3: 36.6 % (27) / 66.2 % (54);
  6: 61.8 % (54) / 93.7 % (108); 12: 52.6 % (108) / 93.4 % (216).
* Yin-Yang, 30 hidden, 5000 samples, 30 epochs, 3 seeds: weights 89.0 ± 2.9 %, synaptic
  93.4 ± 1.4 %, axonal 92.0 ± 0.8 %, dendritic 92.3 ± 1.0 % (quick, 1 seed, 10 epochs:
  81.5 % / 93.0 % weights / synaptic).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from .tasks import interval_task, yinyang_task
from .train import Progress, train

#: Training settings for the timing task. Small initial weights keep single inputs
#: sub-threshold, so early learning follows the peak potential towards coincidences.
TIMING_TRAIN: dict[str, Any] = {
    "batch_size": 50,
    "eval_every": 5,
    "learning_rate": 1e-2,
    "weight_mean": (0.8,),
    "weight_std": (0.5,),
    "d_init_max": 20.0,
    "d_max": 40.0,
    "delay_lr_scale": 30.0,
}
#: Training settings for Yin-Yang (5 latency-coded inputs incl. bias, 30 hidden neurons).
YINYANG_TRAIN: dict[str, Any] = {
    "batch_size": 50,
    "learning_rate": 3e-3,
    "lr_decay": 0.95,
    "weight_mean": (2.2, 0.75),
    "weight_std": (1.2, 1.2),
    "d_init_max": 2.0,
    "d_max": 20.0,
    "delay_lr_scale": 10.0,
}
#: Run sizes: ``(n_train, n_test, epochs, seeds)`` per data set and mode.
SIZES = {
    ("timing", True): (3000, 1000, 100, (0, 1, 2)),
    ("timing", False): (3000, 2000, 200, (0, 1, 2, 3, 4)),
    ("yinyang", True): (2000, 1000, 10, (0,)),
    ("yinyang", False): (5000, 1000, 30, (0, 1, 2)),
}
DEFAULT_HIDDEN = {"timing": (), "yinyang": (30,)}


def variant_name(delay_type: str | None) -> str:
    """``"weights"`` or ``"weights+<type> delays"``: a readable key for a variant."""
    return "weights" if delay_type is None else f"weights+{delay_type} delays"


class DelayComparison(NamedTuple):
    """Per variant (:func:`variant_name`): ``accuracy`` per seed, learned ``delays`` (all
    delay values of all seeds, ms; empty for weights-only), ``parameters`` (weights, delays,
    total), ``histories`` (one per seed); ``n_neurons`` per network, total ``wall_s``."""

    accuracy: dict[str, list[float]]
    delays: dict[str, np.ndarray]
    parameters: dict[str, dict[str, int]]
    histories: dict[str, list[dict[str, list[float]]]]
    n_neurons: int
    wall_s: float

    def summary(self) -> dict[str, tuple[float, float]]:
        """``{variant: (mean, sd)}`` of the test accuracy over seeds (sd 0 for one seed)."""
        return {
            k: (float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0)
            for k, v in self.accuracy.items()
        }


def _no_progress(fraction: float, message: str) -> None:
    return None


def _data(dataset: str, seed: int, task: dict[str, Any]):
    if dataset == "timing":
        return interval_task(seed=seed, **task)
    if dataset == "yinyang":
        return yinyang_task(seed=seed, **task)
    raise ValueError(f"dataset must be 'timing' or 'yinyang', got {dataset!r}")


def compare_delays(
    *,
    quick: bool = True,
    dataset: str = "timing",
    delay_types: Sequence[str | None] = (None, "synaptic"),
    seeds: Sequence[int] | None = None,
    hidden: Sequence[int] | None = None,
    task: dict[str, Any] | None = None,
    progress: Progress | None = None,
    **train_overrides: Any,
) -> DelayComparison:
    """Train every ``delay_type`` on ``dataset`` (``"timing"`` or ``"yinyang"``) for every
    seed (data and initial weights follow the seed); collect accuracies, delays, counts.

    Sizes and seeds default to :data:`SIZES`, the hidden layers to :data:`DEFAULT_HIDDEN`;
    ``task`` overrides data-set arguments (including ``n_train``/``n_test``) and ``train_overrides`` the training settings
    (:data:`TIMING_TRAIN` / :data:`YINYANG_TRAIN`). With ``hidden`` given for the timing
    task, the initial weights fall back to the fan-in-scaled defaults of
    :meth:`.network.TTFSNetwork.init`. ``progress(fraction, message)`` follows each epoch.
    """
    n_train, n_test, epochs, default_seeds = SIZES[(dataset, bool(quick))]
    seeds = default_seeds if seeds is None else tuple(seeds)
    hidden = DEFAULT_HIDDEN[dataset] if hidden is None else tuple(int(h) for h in hidden)
    settings = dict(TIMING_TRAIN if dataset == "timing" else YINYANG_TRAIN)
    if dataset == "timing" and hidden:
        settings.update(weight_mean=None, weight_std=None)
    settings = {"epochs": epochs, **settings, **train_overrides}
    report = progress or _no_progress
    runs = [(s, d) for s in seeds for d in delay_types]
    keys = [variant_name(d) for d in delay_types]
    accuracy: dict[str, list[float]] = {k: [] for k in keys}
    delays: dict[str, list[np.ndarray]] = {k: [np.zeros(0)] for k in keys}
    histories: dict[str, list] = {k: [] for k in keys}
    parameters: dict[str, dict[str, int]] = {}
    n_neurons = 0
    start = time.perf_counter()
    for i, (seed, delay_type) in enumerate(runs):
        task_args = {"n_train": n_train, "n_test": n_test, **(task or {})}
        train_set, test_set = _data(dataset, seed, task_args)
        key = variant_name(delay_type)

        def run_progress(fraction: float, message: str, i: int = i, key: str = key) -> None:
            report((i + fraction) / len(runs), f"{key}, run {i + 1}/{len(runs)}: {message}")

        result = train(
            train_set,
            test_set,
            hidden=hidden,
            delay_type=delay_type,
            seed=seed,
            progress=run_progress,
            **settings,
        )
        net = result.network
        accuracy[key].append(result.history["test_accuracy"][-1])
        histories[key].append(result.history)
        delays[key].extend(np.ravel(np.asarray(d)) for d in net.delays if d is not None)
        parameters[key] = net.parameter_counts()
        n_neurons = int(sum(net.sizes[1:]))
    return DelayComparison(
        accuracy,
        {k: np.concatenate(v) for k, v in delays.items()},
        parameters,
        histories,
        n_neurons,
        time.perf_counter() - start,
    )


def accuracy_vs_parameters(
    *,
    widths: Sequence[int] = (0, 3, 6),
    delay_types: Sequence[str | None] = (None, "synaptic"),
    seeds: Sequence[int] = (0,),
    quick: bool = True,
    progress: Progress | None = None,
    **train_overrides: Any,
) -> list[dict[str, Any]]:
    """Timing-task test accuracy vs trainable-parameter count for hidden widths ``widths``
    (0 = no hidden layer), with and without delays. One row per (width, variant): ``width``,
    ``variant``, ``parameters`` (total), ``neurons``, ``accuracy`` (mean over seeds),
    ``accuracy_sd``."""
    report = progress or _no_progress
    rows = []
    for i, width in enumerate(widths):

        def width_progress(fraction: float, message: str, i: int = i, w: int = width) -> None:
            report((i + fraction) / len(widths), f"width {w}: {message}")

        comparison = compare_delays(
            quick=quick,
            delay_types=delay_types,
            seeds=seeds,
            hidden=(int(width),) if width else (),
            progress=width_progress,
            **train_overrides,
        )
        for key, (mean, sd) in comparison.summary().items():
            rows.append(
                {
                    "width": int(width),
                    "variant": key,
                    "parameters": comparison.parameters[key]["total"],
                    "neurons": comparison.n_neurons,
                    "accuracy": mean,
                    "accuracy_sd": sd,
                }
            )
    return rows
