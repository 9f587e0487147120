"""Generated text: deterministic by seed, the stated vocabulary and template statistics, correct
agreement and recall, n-gram baselines that improve with context, and the windows."""

from __future__ import annotations

import re

import numpy as np
import pytest

from snnviz.core.data import text as tx


def test_deterministic_by_seed() -> None:
    assert tx.generate_text(2000, 3) == tx.generate_text(2000, 3)
    assert tx.generate_text(2000, 3) != tx.generate_text(2000, 4)
    assert tx.generate_sentences(50, 1) == tx.generate_sentences(50, 1)


def test_vocabulary_and_sentence_ends() -> None:
    text = tx.generate_text(20_000, 0)
    assert set(text) <= set(tx.VOCAB)
    assert len(set(text)) >= 24  # nearly every letter is used
    for _, sentence in tx.generate_sentences(300, 2):
        assert sentence.endswith(" .") and "  " not in sentence
    np.testing.assert_array_equal(
        tx.encode(tx.decode(tx.encode(text[:500]))), tx.encode(text[:500])
    )
    with pytest.raises(ValueError, match="not in the vocabulary"):
        tx.encode("Hello!")


def test_template_frequencies() -> None:
    n = 6000
    counts = {name: 0 for name in tx.TEMPLATE_WEIGHTS}
    for name, _ in tx.generate_sentences(n, 5):
        counts[name] += 1
    for name, p in tx.TEMPLATE_WEIGHTS.items():
        sd = np.sqrt(p * (1 - p) / n)
        assert abs(counts[name] / n - p) < 4 * sd, (name, counts[name] / n)


def _plural_noun(word: str) -> bool:
    singular = {s for s, _ in tx._NOUNS}
    plural = {p for _, p in tx._NOUNS}
    assert word in singular | plural, word
    return word in plural


def test_agreement_is_always_right() -> None:
    base = {b for b, _ in (*tx._VERBS, *tx._INTRANSITIVE)}
    third = {s for _, s in (*tx._VERBS, *tx._INTRANSITIVE)}
    checked = distractors = 0
    for name, sentence in tx.generate_sentences(2000, 7):
        if name != "agreement":
            continue
        words = sentence.split()
        i = 1 + (words[1] in tx._ADJECTIVES)
        plural = _plural_noun(words[i])
        i += 1
        if words[i] in tx._PREPOSITIONS:  # skip "prep det (adj) noun": the distractor
            j = i + 2 + (words[i + 2] in tx._ADJECTIVES)
            assert _plural_noun(words[j]) != plural  # the distractor has the other number
            distractors += 1
            i = j + 1
        verb = words[i]
        assert verb in (base if plural else third), sentence
        checked += 1
    assert checked > 800 and distractors > 0.6 * checked


def test_recall_and_counting_are_consistent() -> None:
    pattern = re.compile(r"^(\w+) has a (\w+) (\w+) \. the (\w+) is (\w+) \.$")
    numbers = {"one": False, "two": True, "three": True}
    for name, sentence in tx.generate_sentences(1000, 8):
        if name == "recall":
            m = pattern.match(sentence)
            assert m and m.group(3) == m.group(4) and m.group(2) == m.group(5), sentence
            assert m.group(2) in tx._COLOURS
        elif name == "counting":
            words = sentence.split()
            assert _plural_noun(words[1]) == numbers[words[0]]
            assert _plural_noun(words[4]) == numbers[words[3]]
            assert words[5] in {b for b, _ in tx._INTRANSITIVE}  # "and" takes the plural verb


def test_corpus_split_windows_and_ngram_baselines() -> None:
    corpus = tx.text_corpus(20_000, 4_000, seed=1)
    assert corpus.train.size == 20_000 and corpus.test.size == 4_000
    assert tx.decode(corpus.train[:300]) != tx.decode(corpus.test[:300])
    w = corpus.windows("train", 8, 32, seed=0)
    assert w.shape == (8, 33) and w.dtype == np.int32
    np.testing.assert_array_equal(w, corpus.windows("train", 8, 32, seed=0))
    with pytest.raises(ValueError, match="split"):
        corpus.windows("valid", 1, 4, seed=0)
    ppl = [corpus.ngram_perplexity(n) for n in (1, 2, 3)]
    assert ppl[0] < len(tx.VOCAB)  # beats the uniform guess
    assert ppl[0] > ppl[1] > ppl[2] > 1.0


def test_unigram_perplexity_is_exp_entropy() -> None:
    """Order 1 with add-one smoothing on a long train text ~ exp(entropy of the test chars)."""
    corpus = tx.text_corpus(60_000, 8_000, seed=0)
    counts = np.bincount(corpus.train, minlength=len(tx.VOCAB)) + 1.0
    p = counts / counts.sum()
    want = float(np.exp(-np.mean(np.log(p[corpus.test]))))
    assert corpus.ngram_perplexity(1) == pytest.approx(want, rel=1e-9)
