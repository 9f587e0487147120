"""Generated English-like text for a small character-level language model (no downloads).

A seeded probabilistic grammar writes sentences with structure that only *attention* over the
last few dozen characters can exploit:

* **agreement** — ``the small dog near the old trees sees a cat .``: the verb's ``-s`` follows
  the number of the subject's head noun, which can be 10-30 characters back, behind a
  prepositional phrase whose noun has the opposite number;
* **recall** — ``tom has a red ball . the ball is red .``: the second sentence repeats the
  object and its colour from the first (a copy over ~20 characters, an induction-head task);
* **counting** — ``one cat and two dogs run .`` number words agree with the noun forms and the
  conjunction takes the plural verb.

Statistics (checked by the tests): the vocabulary is :data:`VOCAB` (lower-case letters, space,
full stop); every sentence ends with ``" . "``; template frequencies follow
:data:`TEMPLATE_WEIGHTS`; every agreement and recall is correct. The generator is
deterministic in its seed; train and test text come from different seeds of it.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

VOCAB = " .abcdefghijklmnopqrstuvwxyz"
CHAR_TO_ID = {c: i for i, c in enumerate(VOCAB)}

_NOUNS = (
    ("dog", "dogs"), ("cat", "cats"), ("bird", "birds"), ("tree", "trees"), ("house", "houses"),
    ("girl", "girls"), ("boy", "boys"), ("fox", "foxes"), ("box", "boxes"), ("car", "cars"),
)  # fmt: skip
_VERBS = (("see", "sees"), ("like", "likes"), ("find", "finds"), ("hear", "hears"))
_INTRANSITIVE = (("run", "runs"), ("sleep", "sleeps"), ("sing", "sings"), ("wait", "waits"))
_ADJECTIVES = ("small", "old", "big", "quiet", "happy")
_COLOURS = ("red", "blue", "green", "black", "white")
_OBJECTS = ("ball", "hat", "cup", "kite", "book", "coat")
_NAMES = ("tom", "ann", "max", "eva", "sam", "ida")
_PREPOSITIONS = ("near", "behind", "with", "under")
_NUMBERS = ("one", "two", "three")

#: Relative frequency of each sentence template.
TEMPLATE_WEIGHTS = {"agreement": 0.5, "recall": 0.3, "counting": 0.2}


def _pick(rng: np.random.Generator, options: tuple) -> str:
    return options[int(rng.integers(len(options)))]


def _noun_phrase(rng: np.random.Generator, plural: bool, adjective_p: float = 0.5) -> str:
    det = _pick(rng, ("the", "some")) if plural else _pick(rng, ("the", "a"))
    adj = f"{_pick(rng, _ADJECTIVES)} " if rng.random() < adjective_p else ""
    return f"{det} {adj}{_pick(rng, _NOUNS)[int(plural)]}"


def _agreement(rng: np.random.Generator) -> str:
    plural = bool(rng.random() < 0.5)
    subject = _noun_phrase(rng, plural)
    if rng.random() < 0.7:  # a distractor noun of the other number between subject and verb
        subject += f" {_pick(rng, _PREPOSITIONS)} {_noun_phrase(rng, not plural)}"
    if rng.random() < 0.5:
        verb = _pick(rng, _VERBS)[0 if plural else 1]
        return f"{subject} {verb} {_noun_phrase(rng, bool(rng.random() < 0.5), 0.3)} ."
    return f"{subject} {_pick(rng, _INTRANSITIVE)[0 if plural else 1]} ."


def _recall(rng: np.random.Generator) -> str:
    name, colour, obj = _pick(rng, _NAMES), _pick(rng, _COLOURS), _pick(rng, _OBJECTS)
    return f"{name} has a {colour} {obj} . the {obj} is {colour} ."


def _counting(rng: np.random.Generator) -> str:
    parts = []
    for _ in range(2):
        index = int(rng.integers(len(_NUMBERS)))
        parts.append(f"{_NUMBERS[index]} {_pick(rng, _NOUNS)[int(index > 0)]}")
    return f"{parts[0]} and {parts[1]} {_pick(rng, _INTRANSITIVE)[0]} ."


_TEMPLATES = {"agreement": _agreement, "recall": _recall, "counting": _counting}


def generate_sentences(n_sentences: int, seed: int) -> list[tuple[str, str]]:
    """``n_sentences`` ``(template, sentence)`` pairs from the grammar, deterministic in
    ``seed``. Each sentence ends with ``" ."`` (recall sentences are two sentences)."""
    if n_sentences < 1:
        raise ValueError(f"n_sentences must be >= 1, got {n_sentences}")
    rng = np.random.default_rng(seed)
    names = list(TEMPLATE_WEIGHTS)
    weights = np.array([TEMPLATE_WEIGHTS[n] for n in names])
    choices = rng.choice(len(names), size=n_sentences, p=weights / weights.sum())
    return [(names[c], _TEMPLATES[names[c]](rng)) for c in choices]


def generate_text(n_chars: int, seed: int) -> str:
    """At least ``n_chars`` characters of sentences joined by spaces (cut to ``n_chars``)."""
    if n_chars < 1:
        raise ValueError(f"n_chars must be >= 1, got {n_chars}")
    pieces, total, batch, offset = [], 0, max(16, n_chars // 30), 0
    while total < n_chars:
        chunk = generate_sentences(batch, seed * 1_000_003 + offset)
        offset += 1
        for _, sentence in chunk:
            pieces.append(sentence)
            total += len(sentence) + 1
    return " ".join(pieces)[:n_chars]


def encode(text: str) -> np.ndarray:
    """Character ids (``int32``) of ``text``; raises for characters outside :data:`VOCAB`."""
    bad = sorted(set(text) - set(VOCAB))
    if bad:
        raise ValueError(f"characters {bad} are not in the vocabulary {VOCAB!r}")
    return np.fromiter((CHAR_TO_ID[c] for c in text), dtype=np.int32, count=len(text))


def decode(ids: np.ndarray) -> str:
    """The text of character ids."""
    return "".join(VOCAB[int(i)] for i in np.asarray(ids).ravel())


@dataclasses.dataclass(frozen=True)
class TextCorpus:
    """Train and test character ids (different generator seeds) over :data:`VOCAB`."""

    train: np.ndarray
    test: np.ndarray
    seed: int

    @property
    def vocab_size(self) -> int:
        return len(VOCAB)

    def windows(self, split: str, n: int, length: int, seed: int) -> np.ndarray:
        """``n`` random windows of ``length + 1`` ids from ``split`` (inputs ``[:-1]``, next-char
        targets ``[1:]``), deterministic in ``seed``."""
        ids = {"train": self.train, "test": self.test}.get(split)
        if ids is None:
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        if length + 1 > ids.size:
            raise ValueError(f"window length {length} exceeds the {split} text ({ids.size} chars)")
        starts = np.random.default_rng(seed).integers(0, ids.size - length, size=n)
        return np.stack([ids[s : s + length + 1] for s in starts])

    def ngram_perplexity(self, order: int) -> float:
        """Test perplexity of an add-one-smoothed character ``order``-gram fitted on train (a
        baseline the transformer should beat: order 1 ignores context)."""
        if order < 1:
            raise ValueError(f"order must be >= 1, got {order}")
        v = self.vocab_size

        def contexts(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            ctx = np.zeros(ids.size - order + 1, dtype=np.int64)
            for j in range(order - 1):
                ctx = ctx * v + ids[j : ids.size - order + 1 + j]
            return ctx, ids[order - 1 :]

        ctx, nxt = contexts(self.train)
        keys, row_of = np.unique(ctx, return_inverse=True)
        table = np.zeros((keys.size, v))
        np.add.at(table, (row_of, nxt), 1.0)
        test_ctx, test_next = contexts(self.test)
        pos = np.minimum(np.searchsorted(keys, test_ctx), keys.size - 1)
        seen = keys[pos] == test_ctx
        rows = table[pos]
        smoothed = (rows[np.arange(test_next.size), test_next] + 1.0) / (rows.sum(axis=1) + v)
        p = np.where(seen, smoothed, 1.0 / v)
        return float(np.exp(-np.mean(np.log(p))))


@functools.cache
def text_corpus(n_train: int = 60_000, n_test: int = 8_000, seed: int = 0) -> TextCorpus:
    """The page's corpus: ``n_train`` and ``n_test`` characters from generator seeds
    ``2 seed`` and ``2 seed + 1`` (cached per process)."""
    train = encode(generate_text(n_train, 2 * seed))
    test = encode(generate_text(n_test, 2 * seed + 1))
    return TextCorpus(train, test, seed)
