r"""The one-shot learning experiment end to end, computed once per process and configuration.

:func:`prepare` runs, in order (each step seeded; ``progress`` is told about each):

1. the event data (:func:`~.features.make_event_data`: symbols and digits as event streams);
2. the frozen feature extractor, pre-trained on the base symbol classes, and the feature spike
   trains of every sample (with a bias neuron);
3. the hand-tuned rule (:func:`~.meta.hand_tune`, a coarse grid on base-class episodes);
4. meta-training (:func:`~.meta.meta_train`) from the grid's best point among those with
   the smallest learning rate: there the plastic neurons learn below threshold and the
   surrogate meta-gradient is reliable (from the overall grid winner, η = 2^-6, whose neurons
   spike while learning, we measured the meta-loss *rising* even at small outer step sizes);
5. the transfer-learning baselines' learning rates (online and full batch, on base classes).

The result (:class:`OneShotSetup`) is cached per :class:`OneShotConfig` behind a lock, so a
page, its ``reproduce()`` and the tests of one process pay for it once, and a second caller
waits for the first instead of computing it again. :func:`compare` evaluates every method on
the same seeded episodes; :func:`trace_episode` records one episode step by step for display.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .features import (
    DataConfig,
    EventData,
    ExtractorConfig,
    FeatureSet,
    extract_features,
    make_event_data,
    train_extractor,
)
from .loihi import LoihiConfig
from .meta import (
    EVAL_EPISODES,
    EVAL_QUERIES,
    HAND_GRID,
    MetaConfig,
    MetaParams,
    MetaResult,
    evaluate_rule,
    evaluate_transfer,
    evaluation_episodes,
    hand_tune,
    meta_train,
    sample_episodes,
    tune_transfer_learning_rate,
)
from .readout import PlasticReadout, predict_scores

__all__ = [
    "METHODS",
    "SPLITS",
    "ChipSpec",
    "EpisodeTrace",
    "OneShotConfig",
    "OneShotSetup",
    "compare",
    "meta_start",
    "prepare",
    "trace_episode",
]

Progress = Callable[[float, str], None]

#: Held-out evaluation sets: name -> key of :class:`OneShotSetup.features`.
SPLITS = {"held-out symbols": "test", "digits (other domain)": "digits", "base symbols": "train"}
#: The compared methods, in the order pages show them.
METHODS = (
    "meta-learned rule",
    "meta-learned rule, 8-bit chip",
    "hand-tuned rule",
    "transfer learning (online)",
    "transfer learning (batch)",
)


@dataclasses.dataclass(frozen=True)
class ChipSpec:
    """The emulated learning engine's formats (hashable; :meth:`build` makes the
    :class:`~.loihi.LoihiConfig`): weight bits and range, trace bits and unit, error bits."""

    weight_bits: int = 8
    weight_max: float = 0.5
    trace_bits: int = 7
    trace_scale: float = 1.0 / 16.0
    error_bits: int = 8

    def build(self) -> LoihiConfig:
        return LoihiConfig(weight_bits=self.weight_bits, weight_max=self.weight_max,
                           trace_bits=self.trace_bits, trace_scale=self.trace_scale,
                           error_bits=self.error_bits)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class OneShotConfig:
    """Everything :func:`prepare` computes from (hashable: the cache key). The plastic
    weights are bounded by ``chip.weight_max`` in float too (``meta.weight_max`` must agree)."""

    def __post_init__(self) -> None:
        if self.meta.weight_max != self.chip.weight_max:
            raise ValueError(
                f"OneShotConfig: meta.weight_max ({self.meta.weight_max}) must equal "
                f"chip.weight_max ({self.chip.weight_max}): float and chip share the range"
            )

    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    extractor: ExtractorConfig = dataclasses.field(default_factory=ExtractorConfig)
    meta: MetaConfig = dataclasses.field(default_factory=MetaConfig)
    hand_episodes: int = EVAL_EPISODES
    transfer_episodes: int = EVAL_EPISODES
    chip: ChipSpec = dataclasses.field(default_factory=ChipSpec)


@dataclasses.dataclass
class OneShotSetup:
    """What :func:`prepare` computed: ``data`` (event rasters), ``features`` per split
    (``train``, ``test``, ``digits``), the ``extractor`` and its ``extractor_history``,
    ``hand`` (hand-tuned parameters) with its ``hand_grid`` scores, ``meta_start`` (where
    meta-training started), ``meta`` (meta-training result), ``transfer_lr`` and ``transfer_grid`` per variant (``online``, ``batch``), and
    ``seconds`` per stage."""

    config: OneShotConfig
    data: EventData
    features: dict[str, FeatureSet]
    extractor: Any
    extractor_history: dict[str, list[float]]
    hand: MetaParams
    hand_grid: dict[tuple[float, ...], float]
    meta_start: MetaParams
    meta: MetaResult
    transfer_lr: dict[str, float]
    transfer_grid: dict[str, dict[float, float]]
    seconds: dict[str, float]

    def readout(self, rule: str = "meta-learned", *, chip: bool = False,
                params: MetaParams | None = None) -> PlasticReadout:  # fmt: skip
        """The plastic layer of the ``"meta-learned"`` or ``"hand-tuned"`` rule (or of
        ``params``), on the emulated chip when ``chip``."""
        if params is None:
            if rule not in ("meta-learned", "hand-tuned"):
                raise ValueError(f"rule must be 'meta-learned' or 'hand-tuned', got {rule!r}")
            params = self.meta.params if rule == "meta-learned" else self.hand
        spec = self.config.chip
        return params.readout(spec.build() if chip else None, weight_max=spec.weight_max)

    def split(self, name: str) -> FeatureSet:
        """The feature set of an evaluation split named in :data:`SPLITS` (or its key)."""
        key = SPLITS.get(name, name)
        if key not in self.features:
            raise ValueError(f"unknown split {name!r}; choose one of {list(SPLITS)}")
        return self.features[key]

    def events(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """The flattened event rasters and labels of a split (as :attr:`features`)."""
        return getattr(self.data, SPLITS.get(name, name))


_cache: dict[OneShotConfig, OneShotSetup] = {}
_locks: dict[OneShotConfig, threading.Lock] = {}
_locks_guard = threading.Lock()


def _silent(fraction: float, message: str) -> None:
    del fraction, message


def prepare(
    config: OneShotConfig = OneShotConfig(), progress: Progress | None = None
) -> OneShotSetup:
    """The experiment for ``config`` (module docstring), computed on first use and cached per
    process; concurrent callers of one config wait for a single computation."""
    report = progress or _silent
    with _locks_guard:
        lock = _locks.setdefault(config, threading.Lock())
    with lock:
        if config in _cache:
            report(1.0, "ready (cached)")
            return _cache[config]
        setup = _compute(config, report)
        _cache[config] = setup
        return setup


def is_prepared(config: OneShotConfig = OneShotConfig()) -> bool:
    """True once :func:`prepare` has finished for ``config`` in this process."""
    return config in _cache


def _compute(config: OneShotConfig, report: Progress) -> OneShotSetup:
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = now - clock
        clock = now

    report(0.0, "rendering symbols and digits as event streams…")
    data = make_event_data(config.data)
    lap("data")
    layer, history = train_extractor(
        *data.train, config.extractor,
        progress=lambda f, m: report(0.05 + 0.2 * f, f"pre-training the feature extractor: {m}"),
    )  # fmt: skip
    lap("extractor")
    features = {name: extract_features(layer, *getattr(data, name))
                for name in ("train", "test", "digits")}  # fmt: skip
    lap("features")
    report(0.27, "hand-tuning the rule on a coarse grid (base classes)…")
    hand, hand_grid = hand_tune(features["train"], n_episodes=config.hand_episodes,
                                weight_max=config.chip.weight_max, seed=config.meta.seed)  # fmt: skip
    start = meta_start(hand_grid, features["train"].features.shape[-1])
    lap("hand_tune")
    meta = meta_train(
        features["train"], config.meta, init=start,
        progress=lambda f, m: report(0.3 + 0.6 * f, m),
    )  # fmt: skip
    lap("meta_train")
    report(0.92, "tuning the transfer-learning baselines' learning rates (base classes)…")
    transfer_lr, transfer_grid = {}, {}
    for variant in ("online", "batch"):
        best, grid = tune_transfer_learning_rate(
            features["train"], online=variant == "online", n_episodes=config.transfer_episodes,
            seed=config.meta.seed,
        )  # fmt: skip
        transfer_lr[variant], transfer_grid[variant] = best, grid
    lap("transfer_tune")
    report(1.0, "ready")
    return OneShotSetup(config, data, features, layer, history, hand, hand_grid, start, meta,
                        transfer_lr, transfer_grid, seconds)  # fmt: skip


def meta_start(hand_grid: dict[tuple[float, ...], float], n_in: int) -> MetaParams:
    """Where meta-training starts: the best hand-tuning grid point among those with the
    smallest learning rate (module docstring)."""
    names = list(HAND_GRID)
    eta = names.index("eta")
    smallest = min(point[eta] for point in hand_grid)
    best = max((p for p in hand_grid if p[eta] == smallest), key=hand_grid.__getitem__)
    return MetaParams.from_values(n_in, **dict(zip(names, best, strict=True)))


# ----------------------------------------------------------------------------- comparison
def compare(
    setup: OneShotSetup,
    split: str = "held-out symbols",
    *,
    methods: Sequence[str] = METHODS,
    n_way: int = 5,
    shots: Sequence[int] = (1, 2, 3, 4, 5),
    n_query: int = EVAL_QUERIES,
    n_episodes: int = EVAL_EPISODES,
    seed: int = 1,
    meta_params: MetaParams | None = None,
    progress: Progress | None = None,
) -> dict[str, dict[int, tuple[float, float]]]:
    """``{method: {shots: (accuracy, standard error)}}`` of each of ``methods`` (names from
    :data:`METHODS`) on the same seeded N-way episodes of ``split``; ``meta_params``
    replaces the setup's meta-learned rule (e.g. one re-trained on a page)."""
    report = progress or _silent
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {list(METHODS)}")
    data = setup.split(split)
    episodes = evaluation_episodes(data, n_way=n_way, shots=shots, n_query=n_query,
                                   n_episodes=n_episodes, seed=seed)  # fmt: skip
    meta = setup.meta.params if meta_params is None else meta_params
    out: dict[str, dict[int, tuple[float, float]]] = {}
    for i, method in enumerate(methods):
        report(i / len(methods), f"{split}: {method}…")
        if method == "meta-learned rule":
            out[method] = evaluate_rule(setup.readout(params=meta), data, episodes)
        elif method == "meta-learned rule, 8-bit chip":
            out[method] = evaluate_rule(setup.readout(params=meta, chip=True), data, episodes)
        elif method == "hand-tuned rule":
            out[method] = evaluate_rule(setup.readout("hand-tuned"), data, episodes)
        else:
            variant = "online" if "online" in method else "batch"
            out[method] = evaluate_transfer(data, episodes, setup.transfer_lr[variant],
                                            online=variant == "online")  # fmt: skip
    report(1.0, f"{split}: done")
    return out


# ----------------------------------------------------------------------------- one episode
class EpisodeTrace(NamedTuple):
    """One episode recorded for display (NumPy).

    ``classes`` (N,) class ids of the split; ``support_events`` (S, T, 2, H, W) and
    ``support_labels`` (S,) in presentation order; ``weights`` (S T + 1, N, F) the plastic
    weights before the first step and after every step; ``spikes`` and ``error`` (S T, N);
    ``query_labels`` (Q,), ``query_scores`` (Q, N) (spike counts + tie-break),
    ``predictions`` (Q,), ``accuracy``."""

    classes: np.ndarray
    support_events: np.ndarray
    support_labels: np.ndarray
    weights: np.ndarray
    spikes: np.ndarray
    error: np.ndarray
    query_labels: np.ndarray
    query_scores: np.ndarray
    predictions: np.ndarray
    accuracy: float


def trace_episode(
    setup: OneShotSetup,
    readout: PlasticReadout,
    split: str = "held-out symbols",
    *,
    n_way: int = 5,
    n_shot: int = 1,
    n_query: int = 5,
    seed: int = 0,
) -> EpisodeTrace:
    """Run one seeded episode with ``readout`` and record every step (for the live heatmap)."""
    data = setup.split(split)
    events, _ = setup.events(split)
    max_shot = max(MAX_TRACE_SHOTS, n_shot)
    ep = sample_episodes(data.labels, n_way=n_way, n_shot=n_shot, n_query=n_query,
                         n_episodes=1, seed=seed, max_shot=max_shot)  # fmt: skip
    shown = n_shot * n_way
    support, labels = np.asarray(ep.support[0]), np.asarray(ep.support_labels[0])
    query, query_labels = np.asarray(ep.query[0]), np.asarray(ep.query_labels[0])
    weights, spikes, error, counts, drive = _record(
        readout, data.features[support], jnp.asarray(labels), jnp.asarray(shown, jnp.int32),
        data.features[query], jax.random.key(seed), n_way,
    )  # fmt: skip
    t_steps = data.features.shape[1]
    support, labels = support[:shown], labels[:shown]
    weights, spikes, error = (np.asarray(weights)[: shown * t_steps + 1],
                              np.asarray(spikes)[: shown * t_steps],
                              np.asarray(error)[: shown * t_steps])  # fmt: skip
    scores = np.asarray(predict_scores(counts, drive))
    predictions = scores.argmax(-1)
    canvas = setup.config.data.canvas
    classes = np.array([int(data.labels[support[np.flatnonzero(labels == c)[0]]])
                        for c in range(n_way)])  # fmt: skip
    return EpisodeTrace(
        classes=classes,
        support_events=np.asarray(events[support]).reshape(len(support), -1, 2, canvas, canvas),
        support_labels=labels,
        weights=np.asarray(weights),
        spikes=np.asarray(spikes),
        error=np.asarray(error),
        query_labels=query_labels,
        query_scores=scores,
        predictions=predictions,
        accuracy=float(np.mean(predictions == query_labels)),
    )


#: Episodes are recorded padded to this many shots (one compiled shape for k = 1..5).
MAX_TRACE_SHOTS = 5


@functools.partial(jax.jit, static_argnames=("n_way",))
def _record(readout: PlasticReadout, support: jax.Array, labels: jax.Array, shown: jax.Array,
            query: jax.Array, key: jax.Array, n_way: int):  # fmt: skip
    """Weights after every step, spikes, errors (of the first ``shown`` presentations; the
    rest is padding), and the queries' counts and drives."""
    k_init, k_learn = jax.random.split(key)
    weight = readout.init_weight(n_way, k_init)
    keys = jax.random.split(k_learn, support.shape[0])

    def body(w, inputs):
        i, features, label, k = inputs
        new, rec = readout.present(w, features, label, k, record_weights=True)
        return jnp.where(i < shown, new, w), rec

    steps = (jnp.arange(support.shape[0]), support, labels, keys)
    weight_end, recs = jax.lax.scan(body, weight, steps)
    steps = recs.weights.reshape(-1, *weight.shape)
    weights = jnp.concatenate([weight[None], steps])
    counts, drive = jax.vmap(readout.respond, in_axes=(None, 0))(weight_end, query)
    return (weights, recs.spikes.reshape(-1, n_way), recs.error.reshape(-1, n_way), counts, drive)
