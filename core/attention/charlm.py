"""A tiny character-level language model on generated text, with a pluggable attention kernel.

The model is the lead's :class:`~.decoder.Decoder` (pre-LayerNorm, learned positions; one-hot
characters in, next-character logits out), 2 layers of width 64 with 4 heads (MLP width 128) by default,
trained with optax Adam on :func:`snnviz.core.data.text.text_corpus`. The same weights run
with any kernel, one per layer: the ideal :class:`~.decoder.SoftmaxAttention` over a sliding
window, or :class:`~.gaincell.GainCellAttention` (whose *mapping* fields can be trained along
with the weights, its *device* fields never).

Training runs in chunks of ``chunk`` optimiser steps inside one compiled ``lax.scan`` (the
learning rate is a traced hyperparameter: changing it does not recompile), so a caller can
report progress between chunks. :func:`pretrained` caches the ideal model per configuration
and process (the page, ``reproduce()`` and the tests pay for it once).

Metrics: mean negative log-likelihood per character (nats), perplexity ``exp(nll)`` and
next-character accuracy on fixed test windows.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import Array

from ..data.text import TextCorpus, decode, encode, text_corpus
from .decoder import Decoder, SoftmaxAttention
from .gaincell import GainCellAttention, mapping_of, with_mapping

Progress = Callable[[float, str], None]
Kernels = Sequence[Any]


def _no_progress(fraction: float, message: str) -> None:
    del fraction, message


@dataclasses.dataclass(frozen=True)
class CharLMConfig:
    """Shape, data and optimiser of the character model (hashable: the pre-training cache key)."""

    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    d_mlp: int = 128
    window: int = 32  # tokens the ideal kernel attends to (the gain cells' rows)
    seq_len: int = 64  # characters per training/evaluation window
    batch: int = 16
    learning_rate: float = 3e-3
    pretrain_steps: int = 400
    chunk: int = 50  # optimiser steps per compiled call
    n_train_chars: int = 60_000
    n_test_chars: int = 8_000
    eval_windows: int = 96
    seed: int = 0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "seed":
                if value < 0:
                    raise ValueError(f"CharLMConfig: seed must be >= 0, got {value}")
                continue
            if not value > 0:
                raise ValueError(f"CharLMConfig: {f.name} must be > 0, got {value!r}")
        if self.d_model % self.n_heads:
            raise ValueError(
                f"CharLMConfig: d_model ({self.d_model}) must be a multiple of n_heads "
                f"({self.n_heads})"
            )
        if self.pretrain_steps % self.chunk:
            raise ValueError(
                f"CharLMConfig: pretrain_steps ({self.pretrain_steps}) must be a multiple of "
                f"chunk ({self.chunk})"
            )

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads


def corpus_for(config: CharLMConfig) -> TextCorpus:
    """The generated text of ``config`` (cached by :func:`text_corpus`)."""
    return text_corpus(config.n_train_chars, config.n_test_chars, config.seed)


def init_model(config: CharLMConfig) -> Decoder:
    """A freshly initialised decoder for the corpus' vocabulary."""
    vocab = corpus_for(config).vocab_size
    return Decoder(
        vocab, vocab, d_model=config.d_model, n_heads=config.n_heads, n_layers=config.n_layers,
        d_mlp=config.d_mlp, max_len=config.seq_len, key=jax.random.key(config.seed),
    )  # fmt: skip


def ideal_kernels(config: CharLMConfig) -> list[SoftmaxAttention]:
    """The ideal kernel for every layer: softmax attention over the last ``window`` tokens."""
    return [SoftmaxAttention(window=config.window)] * config.n_layers


def window_nll(model: Decoder, kernels: Kernels, ids: Array) -> Array:
    """Negative log-likelihood (nats) of each next character of one window ``ids (L + 1,)``."""
    inputs, targets = ids[:-1], ids[1:]
    logits = model(jax.nn.one_hot(inputs, model.head.out_features), list(kernels))
    return optax.softmax_cross_entropy_with_integer_labels(logits, targets)


def batch_loss(model: Decoder, kernels: Kernels, ids: Array) -> Array:
    """Mean next-character NLL of a batch of windows ``ids (B, L + 1)``."""
    return jnp.mean(jax.vmap(lambda w: window_nll(model, kernels, w))(ids))


@eqx.filter_jit
def _evaluate(model: Decoder, kernels: Kernels, ids: Array) -> tuple[Array, Array]:
    def one(w: Array) -> tuple[Array, Array]:
        logits = model(jax.nn.one_hot(w[:-1], model.head.out_features), list(kernels))
        nll = optax.softmax_cross_entropy_with_integer_labels(logits, w[1:])
        return nll, (jnp.argmax(logits, axis=-1) == w[1:]).astype(jnp.float32)

    nll, correct = jax.vmap(one)(ids)
    return jnp.mean(nll), jnp.mean(correct)


def test_windows(config: CharLMConfig) -> np.ndarray:
    """The fixed evaluation windows ``(eval_windows, seq_len + 1)`` of the test text."""
    return corpus_for(config).windows("test", config.eval_windows, config.seq_len, seed=12345)


def evaluate(model: Decoder, kernels: Kernels, config: CharLMConfig) -> dict[str, float]:
    """``{"nll", "perplexity", "accuracy"}`` on the fixed test windows (kernels traced: device
    sliders do not recompile)."""
    nll, acc = _evaluate(model, list(kernels), jnp.asarray(test_windows(config)))
    nll = float(nll)
    return {"nll": nll, "perplexity": float(np.exp(nll)), "accuracy": float(acc)}


def _make_optimizer(learning_rate: float) -> optax.GradientTransformation:
    return optax.chain(optax.clip_by_global_norm(1.0), optax.adam(learning_rate))


OPTIMIZER = optax.inject_hyperparams(_make_optimizer)(learning_rate=1e-3)


def _rebuild(params: Any, static: Any, kernels: Kernels) -> tuple[Decoder, list[Any]]:
    model_arrays, mappings = params
    model = eqx.combine(model_arrays, static)
    built = [
        k if m is None else with_mapping(k, **m) for k, m in zip(kernels, mappings, strict=True)
    ]
    return model, built


@eqx.filter_jit
def _train_chunk(
    params: Any, static: Any, kernels: Kernels, opt_state: Any, batches: Array
) -> tuple[Any, Any, Array]:
    def step(carry: tuple[Any, Any], ids: Array) -> tuple[tuple[Any, Any], Array]:
        params, opt_state = carry

        def loss_of(p: Any) -> Array:
            model, built = _rebuild(p, static, kernels)
            return batch_loss(model, built, ids)

        loss, grads = jax.value_and_grad(loss_of)(params)
        updates, opt_state = OPTIMIZER.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), batches)
    return params, opt_state, losses


@dataclasses.dataclass
class TrainResult:
    """A trained model, its kernels (mapping included) and the loss curve (one value per step)."""

    model: Decoder
    kernels: list[Any]
    losses: np.ndarray


def train(
    model: Decoder,
    kernels: Kernels,
    config: CharLMConfig,
    *,
    steps: int,
    learning_rate: float | None = None,
    train_mapping: bool = True,
    seed: int = 0,
    progress: Progress | None = None,
    label: str = "training",
) -> TrainResult:
    """Adam on the mean next-character NLL for ``steps`` steps (a multiple of ``config.chunk``)
    from ``model``; gain-cell kernels' mapping is trained too when ``train_mapping``. Batches
    are random train windows, deterministic in ``seed``."""
    if steps < 0 or steps % config.chunk:
        raise ValueError(
            f"train: steps must be a non-negative multiple of chunk={config.chunk}, got {steps}"
        )
    progress = progress or _no_progress
    kernels = list(kernels)
    mappings = [
        mapping_of(k) if train_mapping and isinstance(k, GainCellAttention) else None
        for k in kernels
    ]
    arrays, static = eqx.partition(model, eqx.is_inexact_array)
    params = (arrays, mappings)
    opt_state = OPTIMIZER.init(params)
    opt_state.hyperparams["learning_rate"] = jnp.asarray(
        config.learning_rate if learning_rate is None else learning_rate, jnp.float32
    )
    corpus = corpus_for(config)
    losses = []
    n_chunks = steps // config.chunk
    for index in range(n_chunks):
        windows = corpus.windows(
            "train", config.chunk * config.batch, config.seq_len, seed=seed * 100_003 + index
        )
        batches = jnp.asarray(windows.reshape(config.chunk, config.batch, -1))
        params, opt_state, chunk_losses = _train_chunk(params, static, kernels, opt_state, batches)
        losses.append(np.asarray(chunk_losses))
        progress((index + 1) / n_chunks, f"{label}: step {(index + 1) * config.chunk}/{steps}, "
                 f"loss {float(losses[-1][-1]):.3f}")  # fmt: skip
        if not np.all(np.isfinite(losses[-1])):
            raise FloatingPointError(f"{label}: the loss became {losses[-1][-1]} (diverged)")
    model, built = _rebuild(params, static, kernels)
    return TrainResult(model, built, np.concatenate(losses) if losses else np.zeros(0))


_PRETRAINED: dict[CharLMConfig, TrainResult] = {}
_PRETRAIN_LOCK = threading.Lock()


def pretrained(config: CharLMConfig, progress: Progress | None = None) -> TrainResult:
    """The ideal (softmax, sliding-window) model trained for ``config.pretrain_steps`` steps from
    ``init_model(config)``; computed once per configuration and process (thread-safe)."""
    progress = progress or _no_progress
    with _PRETRAIN_LOCK:
        if config not in _PRETRAINED:
            _PRETRAINED[config] = train(
                init_model(config), ideal_kernels(config), config,
                steps=config.pretrain_steps, seed=config.seed, progress=progress,
                label="pre-training (softmax)",
            )  # fmt: skip
        else:
            progress(1.0, "pre-trained model (cached)")
        return _PRETRAINED[config]


def attention_qkv(model: Decoder, ids: Array, kernels: Kernels) -> list[tuple[Array, ...]]:
    """Each layer's ``(q, k, v)``, ``(T, H, d)``, when ``model`` reads ``ids (T,)`` with
    ``kernels`` (later layers see the earlier kernels' outputs)."""
    _, records = model(
        jax.nn.one_hot(jnp.asarray(ids), model.head.out_features), list(kernels), return_qkv=True
    )
    return records


@eqx.filter_jit
def _logits(model: Decoder, kernels: Kernels, ids: Array) -> Array:
    return model(jax.nn.one_hot(ids, model.head.out_features), list(kernels))


def sample_text(
    model: Decoder, kernels: Kernels, config: CharLMConfig, prompt: str, n_chars: int, seed: int
) -> str:
    """Continue ``prompt`` by ``n_chars`` characters sampled from the model (context: the last
    ``seq_len`` characters, padded with spaces; causal, so the padding is never seen)."""
    ids = [int(i) for i in encode(prompt)] or [0]
    key = jax.random.key(seed)
    for _ in range(n_chars):
        context = np.asarray(ids[-config.seq_len :], np.int32)
        padded = np.zeros(config.seq_len, np.int32)
        padded[: context.size] = context
        logits = _logits(model, list(kernels), jnp.asarray(padded))[context.size - 1]
        key, sub = jax.random.split(key)
        ids.append(int(jax.random.categorical(sub, logits)))
    return decode(np.asarray(ids))
