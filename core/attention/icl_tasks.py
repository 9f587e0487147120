r"""Few-shot classification tasks for in-context learning, generated in code (no downloads).

A stand-in for the few-shot Omniglot episodes of Finkbeiner & Neftci (2024): classes are random
*prototypes* :math:`p_c \sim \mathcal N(0, I_d)` (``d = 16`` by default); an item of class
:math:`c` is :math:`x = p_c + \sigma\,\epsilon`, :math:`\epsilon \sim \mathcal N(0, I_d)`, so
``noise`` :math:`\sigma` is in units of a prototype component's standard deviation
(dimensionless). An *episode* draws ``n_ways`` classes from a pool, assigns them labels by a
fresh random permutation (so no item-label mapping can be memorised across episodes), shows
``shots`` noisy items per class as (item, label) pairs in random order, then one query item of
one of the classes; the answer is the query's label.

Prototype pools: a *training* pool and a disjoint *held-out* pool (drawn from different keys;
"unseen" classes at test time come from the held-out pool).

**Token format** (the input of :class:`~snnviz.core.attention.decoder.Decoder`): a pair is one
token ``[x, onehot(label)]`` of width ``item_dim + n_labels``; the query is ``[x, 0]``. Every
episode has the fixed length ``n_labels * max_shots + 1``: the ``n_ways * shots`` pairs, the
query at index ``query_index = n_ways * shots``, then zero padding. Padding *after* the query
cannot change a causal model's output at the query, so one compiled shape serves every number
of ways and shots (both are traced).

**Prompts** (the page's text form): letters name items, each letter a fixed prototype of the
held-out pool, each occurrence a fresh noisy sample; ``"A:1 B:2 C:1 | B?"`` is three pairs and
the query ``B``. :func:`parse_prompt` explains what is wrong with a malformed prompt.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import string
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

LETTERS = string.ascii_uppercase


def task_key(seed: int) -> Array:
    """The PRNG key of seed ``seed`` used for tasks, training and rounding here: JAX's ``rbg``
    implementation (XLA's RngBitGenerator), whose batched episode sampler compiles ~3x faster
    on CPU than the default threefry (measured: 2.6 s vs 8 s for 1000 episodes under load).
    Deterministic for a given program; not bit-identical to threefry streams."""
    return jax.random.key(seed, impl="rbg")


def sequence_length(n_labels: int, max_shots: int) -> int:
    """Tokens per episode: ``n_labels * max_shots`` pairs at most, plus the query."""
    return n_labels * max_shots + 1


def make_prototypes(key: Array, n: int, item_dim: int) -> Array:
    """``n`` class prototypes with i.i.d. standard normal components, ``(n, item_dim)``."""
    if n < 1 or item_dim < 1:
        raise ValueError(f"need n >= 1 prototypes of item_dim >= 1, got n={n}, item_dim={item_dim}")
    return jax.random.normal(key, (n, item_dim))


class PrototypePools(NamedTuple):
    """Class prototypes for training (``train``) and held-out ones for testing (``test``)."""

    train: Array
    test: Array


def prototype_pools(seed: int, *, item_dim: int = 16, n_train: int = 1024,
                    n_test: int = 256) -> PrototypePools:  # fmt: skip
    """The training and held-out pools of ``seed`` (independent keys: disjoint almost surely;
    the same seed gives the same pools)."""
    key = task_key(seed)
    return PrototypePools(
        make_prototypes(jax.random.fold_in(key, 0), n_train, item_dim),
        make_prototypes(jax.random.fold_in(key, 1), n_test, item_dim),
    )


class Episode(NamedTuple):
    """One few-shot episode (batched with a leading axis when vmapped).

    ``tokens (T, item_dim + n_labels)``; ``query_index`` and ``target`` (0-based label) are
    int32 scalars; ``classes (n_labels,)`` pool rows of the classes (only the first ``n_ways``
    are used); ``class_labels (n_labels,)`` the label of each class (a permutation);
    ``token_class (T,)`` the class of each pair token (-1 for the query and padding).
    """

    tokens: Array
    query_index: Array
    target: Array
    classes: Array
    class_labels: Array
    token_class: Array


def _check_sizes(n_labels: int, max_shots: int, n_prototypes: int) -> None:
    if n_labels < 2 or max_shots < 1:
        raise ValueError(f"need n_labels >= 2 and max_shots >= 1, got {n_labels}, {max_shots}")
    if n_prototypes < n_labels:
        raise ValueError(f"the pool has {n_prototypes} prototypes, fewer than the "
                         f"{n_labels} classes of an episode")  # fmt: skip


def _check_concrete(name: str, value: ArrayLike, lo: int, hi: int) -> None:
    if isinstance(value, jax.core.Tracer):
        return
    v = int(value)
    if not lo <= v <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {value!r}")


def sample_episode(
    key: Array,
    prototypes: Array,
    *,
    n_ways: ArrayLike,
    shots: ArrayLike,
    n_labels: int,
    max_shots: int,
    noise: ArrayLike,
) -> Episode:
    """One episode with ``n_ways <= n_labels`` classes of ``prototypes (P, d)``, ``shots <=
    max_shots`` items per class, item noise ``noise`` (std per component, dimensionless).

    ``n_ways``, ``shots`` and ``noise`` may be traced (one compilation for all of them);
    ``n_labels`` and ``max_shots`` fix the shape. Vmap over keys for a batch."""
    _check_sizes(n_labels, max_shots, prototypes.shape[0])
    _check_concrete("n_ways", n_ways, 1, n_labels)
    _check_concrete("shots", shots, 1, max_shots)
    n_prototypes, item_dim = prototypes.shape
    n_slots = n_labels * max_shots
    # two PRNG draws per episode (each threefry call site costs compile time): uniforms for
    # every discrete choice, normals for the item noise of every pair and of the query
    k_uniform, k_normal = jax.random.split(key)
    u = jax.random.uniform(k_uniform, (n_prototypes + n_labels + n_slots + 1,))
    u_class, u_label = u[:n_prototypes], u[n_prototypes : n_prototypes + n_labels]
    u_order, u_query = u[n_prototypes + n_labels : -1], u[-1]
    eps = jax.random.normal(k_normal, (n_slots + 1, item_dim), prototypes.dtype)
    # n_labels distinct classes (top-k of uniforms) and a random label permutation
    classes = jax.lax.top_k(u_class, n_labels)[1]
    class_labels = jnp.argsort(u_label)
    slot_class = jnp.repeat(jnp.arange(n_labels), max_shots)
    slot_shot = jnp.tile(jnp.arange(max_shots), n_labels)
    valid = (slot_class < n_ways) & (slot_shot < shots)
    # valid slots first, in random order; the rest after them
    order = jnp.argsort(jnp.where(valid, u_order, 2.0))
    pair_class = slot_class[order]
    noise = jnp.asarray(noise, prototypes.dtype)
    items = prototypes[classes[pair_class]] + noise * eps[:n_slots]
    labels = jax.nn.one_hot(class_labels[pair_class], n_labels, dtype=prototypes.dtype)
    pairs = jnp.concatenate([items, labels], axis=-1)
    n_context = (jnp.asarray(n_ways) * jnp.asarray(shots)).astype(jnp.int32)
    query_class = jnp.minimum(jnp.floor(u_query * n_ways), n_ways - 1).astype(jnp.int32)
    query_item = prototypes[classes[query_class]] + noise * eps[n_slots]
    query = jnp.concatenate([query_item, jnp.zeros(n_labels, prototypes.dtype)])
    position = jnp.arange(n_slots + 1)
    padded = jnp.concatenate([pairs, jnp.zeros((1, pairs.shape[1]), pairs.dtype)])
    tokens = jnp.where(
        (position < n_context)[:, None], padded,
        jnp.where((position == n_context)[:, None], query[None, :], 0.0),
    )  # fmt: skip
    token_class = jnp.where(position < n_context, jnp.append(pair_class, -1), -1)
    return Episode(tokens, n_context, class_labels[query_class].astype(jnp.int32),
                   classes.astype(jnp.int32), class_labels.astype(jnp.int32),
                   token_class.astype(jnp.int32))  # fmt: skip


def sample_episodes(
    key: Array,
    prototypes: Array,
    n_episodes: int,
    *,
    n_ways: ArrayLike,
    shots: ArrayLike,
    n_labels: int,
    max_shots: int,
    noise: ArrayLike,
) -> Episode:
    """A batch of ``n_episodes`` independent episodes (fields with a leading batch axis).
    ``n_ways`` and ``shots`` may be scalars or ``(n_episodes,)`` arrays (a mix per batch).
    Compiled once per shape (``n_episodes``, ``n_labels``, ``max_shots``, pool size)."""
    _check_sizes(n_labels, max_shots, prototypes.shape[0])
    for name, value, hi in (("n_ways", n_ways, n_labels), ("shots", shots, max_shots)):
        if not isinstance(value, jax.core.Tracer):
            v = np.asarray(value)
            if v.size and (v.min() < 1 or v.max() > hi):
                raise ValueError(f"{name} must be in [1, {hi}], got {value!r}")
    return _sample_batch(key, prototypes, jnp.asarray(n_ways), jnp.asarray(shots),
                         jnp.asarray(noise, prototypes.dtype), n_episodes=n_episodes,
                         n_labels=n_labels, max_shots=max_shots)  # fmt: skip


@functools.partial(jax.jit, static_argnames=("n_episodes", "n_labels", "max_shots"))
def _sample_batch(key: Array, prototypes: Array, n_ways: Array, shots: Array, noise: Array, *,
                  n_episodes: int, n_labels: int, max_shots: int) -> Episode:  # fmt: skip
    keys = jax.random.split(key, n_episodes)
    n_ways = jnp.broadcast_to(n_ways, (n_episodes,))
    shots = jnp.broadcast_to(shots, (n_episodes,))
    return jax.vmap(
        lambda k, w, s: sample_episode(k, prototypes, n_ways=w, shots=s, n_labels=n_labels,
                                       max_shots=max_shots, noise=noise)
    )(keys, n_ways, shots)  # fmt: skip


def nearest_class_mean(episode: Episode, n_labels: int, item_dim: int) -> Array:
    """A reference classifier on one episode's tokens: the label whose shots' mean item is
    closest (Euclidean) to the query (the Bayes-optimal rule for equal isotropic noise and a
    flat prior on prototypes, up to the shots' estimation noise). Returns the 0-based label."""
    tokens = episode.tokens
    position = jnp.arange(tokens.shape[0])
    context = (position < episode.query_index)[:, None]
    items, labels = tokens[:, :item_dim], tokens[:, item_dim : item_dim + n_labels] * context
    counts = labels.sum(0)
    means = labels.T @ items / jnp.maximum(counts, 1.0)[:, None]
    query = tokens[episode.query_index, :item_dim]
    distance = jnp.sum((means - query[None, :]) ** 2, axis=-1)
    return jnp.argmin(jnp.where(counts > 0, distance, jnp.inf)).astype(jnp.int32)


# --------------------------------------------------------------------------- text prompts
class PromptError(ValueError):
    """A malformed few-shot prompt; the message says which token and what is allowed."""


@dataclasses.dataclass(frozen=True)
class Prompt:
    """A parsed prompt: context pairs (``items[i]`` has label ``labels[i]``, 1-based) and the
    query letter."""

    items: tuple[str, ...]
    labels: tuple[int, ...]
    query: str

    @property
    def n_pairs(self) -> int:
        return len(self.items)

    def __str__(self) -> str:
        pairs = " ".join(f"{i}:{lab}" for i, lab in zip(self.items, self.labels, strict=True))
        return f"{pairs} | {self.query}?"


_PAIR = re.compile(r"^([A-Za-z]):(\d+)$")
_QUERY = re.compile(r"^([A-Za-z])\?$")
PROMPT_HELP = (
    "write pairs LETTER:LABEL separated by spaces, then the query LETTER? at the end, "
    "e.g. 'A:1 B:2 C:1 | B?'"
)


def parse_prompt(text: str, *, n_labels: int, max_pairs: int) -> Prompt:
    """Parse ``"A:1 B:2 C:1 | B?"`` (separators: spaces, ``|``, ``,`` or ``;``; letters are
    case-insensitive). Labels must be in ``1..n_labels``; at most ``max_pairs`` pairs; exactly
    one query, last. Raises :class:`PromptError` saying what is wrong otherwise."""
    words = [w for w in re.split(r"[\s|,;]+", text.strip()) if w]
    if not words:
        raise PromptError(f"the prompt is empty; {PROMPT_HELP}")
    *pair_words, last = words
    query = _QUERY.match(last)
    if query is None:
        hint = " (a pair cannot be the last token)" if _PAIR.match(last) else ""
        raise PromptError(f"the prompt must end with a query LETTER? such as 'B?', but its last "
                          f"token is {last!r}{hint}; {PROMPT_HELP}")  # fmt: skip
    if not pair_words:
        raise PromptError(f"the prompt has a query but no (item, label) pairs; {PROMPT_HELP}")
    if len(pair_words) > max_pairs:
        raise PromptError(f"the prompt has {len(pair_words)} pairs; at most {max_pairs} fit "
                          "the model's context")  # fmt: skip
    items, labels = [], []
    for i, word in enumerate(pair_words, start=1):
        if _QUERY.match(word):
            raise PromptError(f"token {i} ({word!r}) is a query, but only the last token may "
                              f"be one; {PROMPT_HELP}")  # fmt: skip
        pair = _PAIR.match(word)
        if pair is None:
            raise PromptError(f"token {i} ({word!r}) is not a pair LETTER:LABEL; {PROMPT_HELP}")
        label = int(pair.group(2))
        if not 1 <= label <= n_labels:
            raise PromptError(f"token {i} ({word!r}) has label {label}; labels are "
                              f"1..{n_labels}")  # fmt: skip
        items.append(pair.group(1).upper())
        labels.append(label)
    return Prompt(tuple(items), tuple(labels), query.group(1).upper())


def sample_prompt(seed: int, *, n_ways: int, shots: int, n_labels: int) -> Prompt:
    """A random prompt: ``n_ways`` distinct letters, each with ``shots`` pairs under a random
    label assignment, in random order, then a query letter of one of them."""
    if not 1 <= n_ways <= min(n_labels, len(LETTERS)) or shots < 1:
        raise ValueError(f"need 1 <= n_ways <= {n_labels} and shots >= 1, got n_ways={n_ways}, "
                         f"shots={shots}")  # fmt: skip
    rng = np.random.default_rng(seed)
    letters = [LETTERS[i] for i in rng.choice(len(LETTERS), n_ways, replace=False)]
    label_of = dict(zip(letters, (int(v) + 1 for v in rng.permutation(n_labels)), strict=False))
    pairs = [letter for letter in letters for _ in range(shots)]
    rng.shuffle(pairs)
    query = letters[int(rng.integers(n_ways))]
    return Prompt(tuple(pairs), tuple(label_of[p] for p in pairs), query)


def letter_prototypes(pool: Array, seed: int) -> Array:
    """The prototypes of the letters A..Z: 26 distinct rows of ``pool`` chosen by ``seed``,
    ``(26, item_dim)``."""
    if pool.shape[0] < len(LETTERS):
        raise ValueError(f"need a pool of >= {len(LETTERS)} prototypes, got {pool.shape[0]}")
    rows = jax.random.choice(task_key(seed), pool.shape[0], (len(LETTERS),), replace=False)
    return pool[rows]


class PromptArrays(NamedTuple):
    """A prompt as fixed-length index arrays (length ``seq_len``): the letter index of each
    token (query included; 0 for padding), its 0-based label (-1 for the query and padding)
    and the query index."""

    letters: np.ndarray
    labels: np.ndarray
    query_index: int


def prompt_arrays(prompt: Prompt, seq_len: int) -> PromptArrays:
    """Index arrays of ``prompt`` padded to ``seq_len`` tokens."""
    n = prompt.n_pairs
    if n + 1 > seq_len:
        raise PromptError(f"the prompt has {n} pairs; at most {seq_len - 1} fit the context")
    letters = np.zeros(seq_len, np.int32)
    labels = np.full(seq_len, -1, np.int32)
    letters[:n] = [LETTERS.index(c) for c in prompt.items]
    letters[n] = LETTERS.index(prompt.query)
    labels[:n] = np.asarray(prompt.labels) - 1
    return PromptArrays(letters, labels, n)


def encode_prompt(
    letters: Array,
    labels: Array,
    query_index: ArrayLike,
    prototypes: Array,
    *,
    n_labels: int,
    noise: ArrayLike,
    key: Array,
) -> Array:
    """Tokens ``(seq_len, item_dim + n_labels)`` of a prompt given as :class:`PromptArrays`:
    each token's item is its letter's prototype plus fresh noise; pairs carry their one-hot
    label, the query zeros, tokens after the query are zero. Traced noise and indices."""
    items = prototypes[letters] + jnp.asarray(noise, prototypes.dtype) * jax.random.normal(
        key, (letters.shape[0], prototypes.shape[1]), prototypes.dtype
    )
    onehot = jax.nn.one_hot(labels, n_labels, dtype=prototypes.dtype)  # -1 -> zeros
    tokens = jnp.concatenate([items, onehot], axis=-1)
    return jnp.where((jnp.arange(letters.shape[0]) <= query_index)[:, None], tokens, 0.0)
