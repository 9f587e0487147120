r"""Data and the frozen spiking feature extractor of the one-shot learning experiments.

**Data** (:func:`make_event_data`, no downloads): procedurally generated symbols
(:mod:`snnviz.core.data.symbols`) and scikit-learn's digits, all rendered as event-camera
streams (:mod:`snnviz.core.data.event_digits`: ``T`` steps of ON/OFF counts on a
``canvas x canvas`` sensor, flattened to ``2 canvas^2`` inputs). Symbol classes
``0 .. n_train_classes - 1`` are the *base* classes (pre-training of the extractor and
meta-training of the rule); the next ``n_test_classes`` symbols are held out, and the ten
digits are a second held-out set from another domain.

**Extractor** (:func:`train_extractor`): one layer of ``n_features`` LIF neurons
(:class:`snnviz.core.snn.LIFLayer`) on the event inputs, pre-trained with surrogate gradients
(Adam, softmax cross-entropy of a leaky readout's maximum membrane) to classify the base
classes, then frozen; only its spikes are used afterwards. Pre-training — rather than random
weights — is what the paper does (a network trained on the known classes; only the last layer
learns on chip), and it makes the features discriminative for *strokes*, which transfers to
held-out symbols. ``pretrain_epochs=0`` keeps the random initial weights instead, for
comparison (in our tests the random layer fires far less, 1 % vs 34 % of steps, and its
features are much worse for one-shot prototypes). Features are computed once
(:func:`extract_features`, with an always-spiking *bias neuron* appended) and the plastic layer
works on the stored spike trains, so meta-learning never re-runs the extractor.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ..data.event_digits import event_digits, flatten_events, images_to_events
from ..data.symbols import symbol_set
from ..snn.layers import LeakyReadout, LIFLayer
from ..snn.network import SpikingSequential
from ..snn.train import fit, make_optimizer

__all__ = [
    "DataConfig",
    "EventData",
    "ExtractorConfig",
    "FeatureSet",
    "extract_features",
    "make_event_data",
    "train_extractor",
]

Progress = Callable[[float, str], None]


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Sizes of the generated data sets (hashable: caches key on it).

    ``n_train_classes`` base symbol classes and ``n_test_classes`` held-out ones, with
    ``n_instances`` instances each; ``digits_per_class`` digit images per class (0..9);
    ``canvas`` sensor pixels per side; ``n_steps`` time steps of 1 ms per stream; ``seed``."""

    n_train_classes: int = 48
    n_test_classes: int = 24
    n_instances: int = 12
    digits_per_class: int = 24
    canvas: int = 16
    n_steps: int = 20
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_train_classes", "n_test_classes", "n_instances", "digits_per_class"):
            if getattr(self, name) < 2:
                raise ValueError(f"DataConfig: `{name}` must be >= 2, got {getattr(self, name)!r}")
        if self.n_steps < 3:
            raise ValueError(f"DataConfig: `n_steps` must be >= 3, got {self.n_steps!r}")


class EventData(NamedTuple):
    """Flattened event rasters ``(n, T, 2 canvas^2)`` float32 and labels ``(n,)`` per split:
    ``train`` (base symbols), ``test`` (held-out symbols), ``digits``."""

    train: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    digits: tuple[np.ndarray, np.ndarray]


def make_event_data(config: DataConfig = DataConfig()) -> EventData:
    """Render the three splits (see module docstring); labels are renumbered 0..C-1 per split."""
    n_classes = config.n_train_classes + config.n_test_classes
    symbols = symbol_set(range(n_classes), config.n_instances, seed=config.seed, size=config.canvas)
    events = images_to_events(symbols.images, n_steps=config.n_steps, seed=config.seed)
    x = flatten_events(events)
    train = symbols.labels < config.n_train_classes
    digits = event_digits(per_class=config.digits_per_class, canvas=config.canvas,
                          seed=config.seed, n_steps=config.n_steps)  # fmt: skip
    return EventData(
        train=(x[train], symbols.labels[train]),
        test=(x[~train], symbols.labels[~train] - config.n_train_classes),
        digits=(flatten_events(digits.events), digits.labels),
    )


@dataclasses.dataclass(frozen=True)
class ExtractorConfig:
    """The frozen feature extractor: ``n_features`` LIF neurons (``tau_mem_ms``,
    ``tau_syn_ms``), pre-trained ``pretrain_epochs`` epochs (0: random weights) with Adam
    (``learning_rate``, ``batch_size``) on the base classes; ``seed``."""

    n_features: int = 128
    pretrain_epochs: int = 12
    batch_size: int = 64
    learning_rate: float = 3e-3
    tau_mem_ms: float = 10.0
    tau_syn_ms: float = 5.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_features < 2:
            raise ValueError(f"ExtractorConfig: `n_features` must be >= 2, got {self.n_features!r}")
        if self.pretrain_epochs < 0:
            raise ValueError(
                f"ExtractorConfig: `pretrain_epochs` must be >= 0, got {self.pretrain_epochs!r}"
            )


class FeatureSet(NamedTuple):
    """Feature spike trains ``features`` (n, T, n_features) and ``labels`` (n,) 0..C-1."""

    features: Float[Array, "n T F"]
    labels: np.ndarray

    @property
    def n_classes(self) -> int:
        return int(self.labels.max()) + 1


def train_extractor(
    x: np.ndarray,
    labels: np.ndarray,
    config: ExtractorConfig = ExtractorConfig(),
    *,
    progress: Progress | None = None,
) -> tuple[LIFLayer, dict[str, list[float]]]:
    """Pre-train the extractor on ``(x (n, T, n_in), labels)`` and return the frozen LIF layer
    with the training history of :func:`snnviz.core.snn.fit` (empty for 0 epochs)."""
    k_hidden, k_out = jax.random.split(jax.random.key(config.seed))
    n_classes = int(np.max(labels)) + 1
    hidden = LIFLayer(x.shape[-1], config.n_features, key=k_hidden,
                      tau_mem=config.tau_mem_ms, tau_syn=config.tau_syn_ms)  # fmt: skip
    readout = LeakyReadout(config.n_features, n_classes, key=k_out)
    model = SpikingSequential([hidden, readout])
    if config.pretrain_epochs == 0:
        return hidden, {}
    model, history = fit(
        model, (jnp.asarray(x), jnp.asarray(labels)), epochs=config.pretrain_epochs,
        batch_size=config.batch_size, learning_rate=config.learning_rate, readout="max",
        seed=config.seed, progress=progress, optimizer=_OPTIMIZER,
    )  # fmt: skip
    return model.layers[0], history


_OPTIMIZER = make_optimizer()


@jax.jit
def _spikes(layer: LIFLayer, x: Array) -> Array:
    _, spikes = layer.run(jnp.swapaxes(x, 0, 1))
    return jnp.swapaxes(spikes, 0, 1)


def extract_features(
    layer: LIFLayer,
    x: np.ndarray,
    labels: np.ndarray,
    *,
    bias_neuron: bool = True,
    batch_size: int = 256,
) -> FeatureSet:
    """The frozen layer's spike trains for every sample of ``x`` (n, T, n_in), in batches of
    one shape (the last one zero-padded, so one compilation serves every data set). With
    ``bias_neuron`` a last input that spikes at every step is appended (n_features + 1
    inputs): its plastic weight gives each output neuron a learned bias."""
    n = x.shape[0]
    size = min(batch_size, n)
    parts = []
    for i in range(0, n, size):
        chunk = np.asarray(x[i : i + size], np.float32)
        pad = size - chunk.shape[0]
        if pad:
            chunk = np.concatenate([chunk, np.zeros((pad, *chunk.shape[1:]), np.float32)])
        parts.append(_spikes(layer, jnp.asarray(chunk))[: size - pad])
    features = jnp.concatenate(parts)
    if bias_neuron:
        features = jnp.concatenate(
            [features, jnp.ones((*features.shape[:2], 1), features.dtype)], -1
        )
    return FeatureSet(features, np.asarray(labels))
