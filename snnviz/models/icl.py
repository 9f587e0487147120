"""Parameter model of the in-context learning page: how a pre-trained plastic-attention
transformer is deployed (float or Loihi 2-like fixed point, rounding, forgetting) and what the
prompts' items look like (noise, which held-out prototypes the letters stand for).

:class:`ICLSession` owns the pre-trained model (:func:`snnviz.core.attention.icl_model.pretrained`,
cached per process) and answers prompts (:meth:`ICLSession.run`) and accuracy-vs-shots sweeps
(:meth:`ICLSession.accuracy_curves`) with plain NumPy results. Numeric parameters (decay,
noise, seeds) are traced: moving them never recompiles; the number of bits and the arithmetic
are structural (one compilation each, then cached by JAX). This module never imports panel.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import param

from snnviz.core.attention import icl_model, icl_tasks
from snnviz.core.attention.icl_model import ICLConfig, TrainedICL
from snnviz.core.attention.icl_tasks import Prompt

from ._base import ParamModel, integer, number

#: The page's pre-trained model: 1-layer decoder, plain (identity feature map, unnormalised)
#: linear attention, 5 labels, up to 5 shots, 16-d items with noise 1.
DEFAULT_CONFIG = ICLConfig()
#: The full reproduction: three times the training steps on twice the batch.
FULL_CONFIG = dataclasses.replace(DEFAULT_CONFIG, steps=3000, batch=64)
FLOAT, FIXED = "float", "fixed point"
ARITHMETIC = (FLOAT, FIXED)
BITS = (3, 4, 5, 6, 8, 10, 12)
ROUNDING = ("stochastic", "nearest")


class InContextModel(ParamModel):
    """Deployment of the pre-trained in-context learner and the look of prompt items."""

    model_name: ClassVar[str] = "icl_plastic_attention"

    arithmetic = param.Selector(
        objects=list(ARITHMETIC), default=FLOAT, label="arithmetic",
        doc="float: 32-bit plastic synapses; fixed point: Loihi 2-like integer synapses with "
        "'bits' bits (structural: compiles once per choice)",
    )  # fmt: skip
    bits = param.Selector(
        objects=list(BITS), default=8, label="synapse bits",
        doc="Bits of the fixed-point synaptic state M (and normaliser) and of the quantised "
        "queries, keys and values (sign included); ranges calibrated on training episodes",
    )  # fmt: skip
    rounding = param.Selector(
        objects=list(ROUNDING), default="stochastic", label="rounding of writes",
        doc="stochastic: unbiased rounding of each plastic write (small updates count on "
        "average); nearest: deterministic, loses updates below half a weight step",
    )  # fmt: skip
    decay = number(
        1.0, bounds=(0.5, 1.0), soft=(0.5, 1.0), step=0.01, unit="", label="decay λ per token",
        doc="Forgetting of the plastic memory per token, M ← λ M + v kᵀ (dimensionless; the "
        "model was pre-trained with λ = 1: lower it to watch early shots fade)",
    )  # fmt: skip
    noise = number(
        1.0, bounds=(0.0, 4.0), soft=(0.0, 3.0), step=0.05, unit="", label="item noise σ",
        doc="Std of the noise added to a prototype for every item shown, per component, in "
        "units of the prototypes' spread (dimensionless; pre-trained at 1)",
    )  # fmt: skip
    noise_seed = integer(
        0, bounds=(0, 2**31 - 1), soft=(0, 100), label="noise seed",
        doc="Seed of the items' noise (and of the stochastic rounding)",
    )  # fmt: skip
    letter_seed = integer(
        0, bounds=(0, 2**31 - 1), soft=(0, 100), label="letter seed",
        doc="Which held-out (never trained on) prototypes the letters A..Z stand for",
    )  # fmt: skip

    def bits_or_none(self) -> int | None:
        """The number of bits in fixed point, None in float."""
        return None if self.arithmetic == FLOAT else int(self.bits)

    def kernels(
        self, trained: TrainedICL, *, bits: int | str | None = "model"
    ) -> icl_model.Kernels:
        """The deployed per-layer kernels for this model's settings (``bits`` overrides the
        arithmetic: None for float, an integer for fixed point)."""
        chosen = self.bits_or_none() if bits == "model" else bits
        kernels = icl_model.plastic_kernels(
            trained, bits=chosen, stochastic=self.rounding == "stochastic",  # type: ignore[arg-type]
            key=jax.random.fold_in(icl_tasks.task_key(self.noise_seed), 7),
        )  # fmt: skip
        return tuple(k.with_decay(jnp.float32(self.decay)) for k in kernels)

    def build(self) -> ICLSession:
        """A session on the (cached) pre-trained model of :data:`DEFAULT_CONFIG`; trains it
        first if this process has not (see :meth:`ICLSession.pretrain`)."""
        return ICLSession.pretrain(DEFAULT_CONFIG)


@dataclasses.dataclass
class PromptResult:
    """A prompt's answer and what the plastic synapses did, per token (NumPy).

    ``tokens``: the text of each token (``"A:1"``, ..., ``"B?"``); ``probabilities (n_labels,)``;
    ``answer`` (0-based); ``truth``: the label the prompt's own pairs give the query letter
    (the most frequent one; None if absent or tied); per layer ``memory (n, heads, d_v, d_k)``
    after each token, ``writes`` (the outer product v φ(k)ᵀ each token adds), ``read (n,
    heads)`` (φ(k_s)·φ(q) λ^(query−s), token s's share of the query's read) and the largest
    |M| (``clim``, for a fixed colour range)."""

    prompt: Prompt
    tokens: list[str]
    probabilities: np.ndarray
    answer: int
    truth: int | None
    memory: list[np.ndarray]
    writes: list[np.ndarray]
    read: list[np.ndarray]
    clim: list[float]
    arithmetic: str


def prompt_truth(prompt: Prompt) -> int | None:
    """The 0-based label the prompt's pairs give the query letter: the most frequent one, None
    when the letter has no pair or its labels tie."""
    counts = Counter(lab for item, lab in zip(prompt.items, prompt.labels, strict=True)
                     if item == prompt.query).most_common()  # fmt: skip
    if not counts or (len(counts) > 1 and counts[0][1] == counts[1][1]):
        return None
    return counts[0][0] - 1


@eqx.filter_jit
def _encode(letters: jax.Array, labels: jax.Array, query_index: jax.Array, prototypes: jax.Array,
            noise: jax.Array, key: jax.Array, n_labels: int) -> jax.Array:  # fmt: skip
    return icl_tasks.encode_prompt(letters, labels, query_index, prototypes, n_labels=n_labels,
                                   noise=noise, key=key)  # fmt: skip


class ICLSession:
    """The pre-trained model plus prompt answering and accuracy sweeps (results as NumPy)."""

    def __init__(self, trained: TrainedICL) -> None:
        self.trained = trained
        self.config = trained.config
        self._letters: dict[int, jax.Array] = {}
        self._curves: dict[tuple, dict[str, Any]] = {}
        self._lock = threading.Lock()

    @classmethod
    def pretrain(cls, config: ICLConfig = DEFAULT_CONFIG,
                 progress: Callable[[float, str], None] | None = None) -> ICLSession:  # fmt: skip
        """Pre-train (or fetch from the process cache) and wrap."""
        return cls(icl_model.pretrained(config, progress))

    @property
    def max_pairs(self) -> int:
        return self.config.seq_len - 1

    def parse(self, text: str) -> Prompt:
        """:func:`~snnviz.core.attention.icl_tasks.parse_prompt` with this model's limits."""
        return icl_tasks.parse_prompt(text, n_labels=self.config.n_labels,
                                      max_pairs=self.max_pairs)  # fmt: skip

    def letter_prototypes(self, seed: int) -> jax.Array:
        """The held-out prototypes the letters A..Z stand for under ``seed``, ``(26, d)``."""
        if seed not in self._letters:
            self._letters[seed] = icl_tasks.letter_prototypes(self.trained.pools.test, seed)
        return self._letters[seed]

    def run(self, prompt: Prompt, model: InContextModel) -> PromptResult:
        """Encode ``prompt`` (fresh noisy items from the letters' prototypes), run the deployed
        plastic model and collect what the page shows."""
        c = self.config
        arrays = icl_tasks.prompt_arrays(prompt, c.seq_len)
        key = icl_tasks.task_key(model.noise_seed)
        tokens = _encode(jnp.asarray(arrays.letters), jnp.asarray(arrays.labels),
                         jnp.int32(arrays.query_index), self.letter_prototypes(model.letter_seed),
                         jnp.float32(model.noise), key, c.n_labels)  # fmt: skip
        kernels = model.kernels(self.trained)
        out = icl_model.run_prompt(self.trained, kernels, tokens, arrays.query_index)
        n = arrays.query_index + 1
        memory = [tr.memory[:n] for tr in out.traces]
        writes = [np.einsum("thv,thk->thvk", tr.values[:n], tr.key_features[:n])
                  for tr in out.traces]  # fmt: skip
        text = [f"{i}:{lab}" for i, lab in zip(prompt.items, prompt.labels, strict=True)]
        return PromptResult(
            prompt, [*text, f"{prompt.query}?"], out.probabilities,
            int(np.argmax(out.probabilities)), prompt_truth(prompt), memory, writes,
            [w[:n] for w in out.read_weights],
            [float(np.abs(m).max(initial=0.0)) or 1.0 for m in memory], model.arithmetic,
        )  # fmt: skip

    @staticmethod
    def _curve_key(model: InContextModel, n_episodes: int, seed: int) -> tuple:
        # (the rounding keys of a sweep are drawn per episode from ``seed``, not noise_seed)
        return (model.bits, model.rounding, model.decay, model.noise, n_episodes, seed)

    def cached_curves(self, model: InContextModel, *, n_episodes: int = 1000,
                      seed: int = 1) -> dict[str, Any] | None:  # fmt: skip
        """The curves of :meth:`accuracy_curves` if already computed for these settings."""
        with self._lock:
            return self._curves.get(self._curve_key(model, n_episodes, seed))

    def accuracy_curves(
        self,
        model: InContextModel,
        *,
        n_episodes: int = 1000,
        seed: int = 1,
        progress: Callable[[float, str], None] | None = None,
    ) -> dict[str, Any]:
        """Accuracy vs shots on held-out prototypes (n_labels-way) for float and for fixed
        point with the model's bits and rounding, on the same episodes, plus the
        nearest-class-mean reference; cached per setting."""
        report = progress or (lambda f, m: None)
        key = self._curve_key(model, n_episodes, seed)
        with self._lock:
            if key in self._curves:
                return self._curves[key]
        report(0.1, "float: accuracy vs shots")
        common = dict(n_episodes=n_episodes, noise=model.noise, seed=seed)
        flt = icl_model.accuracy_by_shots(self.trained, model.kernels(self.trained, bits=None),
                                          **common)  # fmt: skip
        report(0.55, f"fixed point ({model.bits} bits): accuracy vs shots")
        fixed = icl_model.accuracy_by_shots(
            self.trained, model.kernels(self.trained, bits=int(model.bits)), **common
        )
        result = {
            "shots": flt["shots"], "float": flt["accuracy"], "fixed point": fixed["accuracy"],
            "nearest class mean": flt["reference"], "bits": int(model.bits),
            "rounding": model.rounding, "n_episodes": n_episodes,
            "chance": 1.0 / self.config.n_labels,
        }  # fmt: skip
        with self._lock:
            self._curves[key] = result
        return result
