"""Few-shot episode generator, text prompts, and pre-training of the in-context learner."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snnviz.core.attention import icl_model, icl_tasks
from snnviz.core.attention.icl_tasks import (
    LETTERS,
    Prompt,
    PromptError,
    encode_prompt,
    nearest_class_mean,
    parse_prompt,
    prompt_arrays,
    prototype_pools,
    sample_episode,
    sample_episodes,
    sample_prompt,
)

N_LABELS, MAX_SHOTS, DIM = 5, 4, 16
#: Two batch shapes only (4 and 2000 episodes of a 50-class pool): each shape compiles once.
POOL = prototype_pools(0, item_dim=DIM, n_train=50, n_test=30).train


def _episodes(prototypes, n, *, ways=N_LABELS, shots=MAX_SHOTS, noise=0.3, seed=0):
    return sample_episodes(jax.random.key(seed), prototypes, n, n_ways=ways, shots=shots,
                           n_labels=N_LABELS, max_shots=MAX_SHOTS, noise=noise)  # fmt: skip


def test_held_out_prototypes_are_disjoint_and_pools_deterministic():
    pools = prototype_pools(3, item_dim=DIM, n_train=200, n_test=60)
    assert pools.train.shape == (200, DIM) and pools.test.shape == (60, DIM)
    distance = np.linalg.norm(
        np.asarray(pools.train)[:, None] - np.asarray(pools.test)[None], axis=-1
    )
    assert distance.min() > 0.3  # no held-out class is (close to) a training class
    again = prototype_pools(3, item_dim=DIM, n_train=200, n_test=60)
    np.testing.assert_array_equal(pools.train, again.train)
    np.testing.assert_array_equal(pools.test, again.test)
    other = prototype_pools(4, item_dim=DIM, n_train=200, n_test=60)
    assert not np.allclose(pools.train, other.train)


@pytest.mark.parametrize(("ways", "shots"), [(5, 4), (3, 2), (2, 1)])
def test_episode_structure(ways, shots):
    prototypes = POOL
    ep = jax.tree.map(lambda a: np.asarray(a[0]),
                      _episodes(prototypes, 4, ways=ways, shots=shots, noise=0.0))  # fmt: skip
    n = ways * shots
    assert ep.tokens.shape == (N_LABELS * MAX_SHOTS + 1, DIM + N_LABELS)
    assert int(ep.query_index) == n
    labels = ep.tokens[:, DIM:]
    np.testing.assert_array_equal(labels[:n].sum(1), 1.0)  # one-hot label on every pair
    np.testing.assert_array_equal(ep.tokens[n + 1 :], 0.0)  # padding after the query
    np.testing.assert_array_equal(labels[n], 0.0)  # the query has no label
    assert sorted(ep.class_labels) == list(range(N_LABELS))  # a permutation
    for pos in range(n):  # each pair: its class's prototype (noise 0) and its class's label
        c = ep.token_class[pos]
        assert 0 <= c < ways
        np.testing.assert_allclose(ep.tokens[pos, :DIM], prototypes[ep.classes[c]], atol=1e-6)
        assert np.argmax(labels[pos]) == ep.class_labels[c]
    np.testing.assert_array_equal(np.bincount(ep.token_class[:n], minlength=ways), shots)
    assert len(set(ep.classes.tolist())) == N_LABELS  # distinct classes
    query_class = [c for c in range(ways)
                   if np.allclose(ep.tokens[n, :DIM], prototypes[ep.classes[c]])]  # fmt: skip
    assert len(query_class) == 1 and ep.class_labels[query_class[0]] == ep.target


def test_labels_are_permuted_per_episode():
    """Whenever a given class is drawn, its label is a fresh uniform draw: over 2000 episodes
    class 0 of the pool must get every label about equally often."""
    eps = _episodes(POOL, 2000)
    classes, labels = np.asarray(eps.classes), np.asarray(eps.class_labels)
    label_of_class0 = labels[classes == 0]
    counts = np.bincount(label_of_class0, minlength=N_LABELS)
    expected = label_of_class0.size / N_LABELS  # ~40
    assert label_of_class0.size > 150 and counts.min() > 0.5 * expected, counts
    assert len({tuple(r) for r in labels[:50]}) > 30  # many different permutations


def test_episodes_deterministic_by_seed():
    a, b, c = (_episodes(POOL, 4, seed=s) for s in (7, 7, 8))
    np.testing.assert_array_equal(a.tokens, b.tokens)
    assert not np.allclose(a.tokens, c.tokens)
    assert len({np.asarray(t).tobytes() for t in a.tokens}) == 4  # episodes of a batch differ
    # the same with the rbg task keys the model code uses
    keyed = [sample_episodes(icl_tasks.task_key(s), POOL, 4, n_ways=5, shots=4,
                             n_labels=N_LABELS, max_shots=MAX_SHOTS, noise=0.3).tokens
             for s in (0, 0, 1)]  # fmt: skip
    np.testing.assert_array_equal(keyed[0], keyed[1])
    assert not np.allclose(keyed[0], keyed[2])
    assert len({np.asarray(t).tobytes() for t in keyed[0]}) == 4


def test_sampling_is_traced_in_ways_shots_and_noise():
    prototypes = POOL
    f = jax.jit(lambda key, w, s, noise: sample_episode(
        key, prototypes, n_ways=w, shots=s, n_labels=N_LABELS, max_shots=MAX_SHOTS,
        noise=noise))  # fmt: skip
    ep = f(jax.random.key(0), 2, 3, 0.5)
    assert int(ep.query_index) == 6
    with pytest.raises(ValueError, match=r"shots must be in \[1, 4\]"):
        sample_episode(jax.random.key(0), prototypes, n_ways=2, shots=5, n_labels=N_LABELS,
                       max_shots=MAX_SHOTS, noise=0.1)  # fmt: skip


def test_nearest_class_mean_reference():
    classify = jax.jit(jax.vmap(lambda e: nearest_class_mean(e, N_LABELS, DIM)))
    eps = _episodes(POOL, 2000, shots=2, noise=0.0)
    np.testing.assert_array_equal(classify(eps), eps.target)  # noiseless: always right
    noisy = _episodes(POOL, 2000, shots=1, noise=1.5)
    acc = float(jnp.mean(classify(noisy) == noisy.target))
    assert 0.3 < acc < 0.9  # noisy 1-shot: above chance (0.2), far from perfect


# --------------------------------------------------------------------------- prompts
def test_parse_prompt():
    p = parse_prompt("A:1 b:2 C:1 | B?", n_labels=5, max_pairs=10)
    assert p == Prompt(("A", "B", "C"), (1, 2, 1), "B")
    assert parse_prompt(str(p), n_labels=5, max_pairs=10) == p
    assert parse_prompt("A:1,B:2;A:1|A?", n_labels=2, max_pairs=3).items == ("A", "B", "A")


@pytest.mark.parametrize(("text", "message"), [
    ("", "the prompt is empty"),
    ("A:1 B:2", "must end with a query LETTER"),
    ("A:1 B:2 C", "must end with a query LETTER"),
    ("B?", "no \\(item, label\\) pairs"),
    ("A:1 B? C:2 A?", "token 2 \\('B\\?'\\) is a query"),
    ("A:1 B=2 A?", "token 2 \\('B=2'\\) is not a pair"),
    ("A:1 B:7 A?", "token 2 \\('B:7'\\) has label 7; labels are 1..5"),
    ("A:0 A?", "has label 0"),
    ("AB:1 A?", "is not a pair"),
    ("A:1 B:2 C:3 D:4 A?", "4 pairs; at most 3"),
])  # fmt: skip
def test_parse_errors_say_what_is_wrong(text, message):
    with pytest.raises(PromptError, match=message):
        parse_prompt(text, n_labels=5, max_pairs=3)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(LETTERS), st.integers(1, 5)), min_size=1, max_size=12),
    st.sampled_from(LETTERS),
)
def test_prompt_text_round_trip(pairs, query):
    prompt = Prompt(tuple(p[0] for p in pairs), tuple(p[1] for p in pairs), query)
    assert parse_prompt(str(prompt), n_labels=5, max_pairs=12) == prompt


@pytest.mark.parametrize(("ways", "shots"), [(5, 3), (2, 1)])
def test_sample_prompt(ways, shots):
    p = sample_prompt(11, n_ways=ways, shots=shots, n_labels=5)
    assert p.n_pairs == ways * shots and len(set(p.items)) == ways and p.query in p.items
    label_of = {}
    for item, label in zip(p.items, p.labels, strict=True):
        assert label_of.setdefault(item, label) == label  # one label per letter
    assert len(set(label_of.values())) == ways  # distinct labels
    assert all(p.items.count(i) == shots for i in set(p.items))
    assert sample_prompt(11, n_ways=ways, shots=shots, n_labels=5) == p


def test_encode_prompt_tokens():
    prototypes = icl_tasks.letter_prototypes(prototype_pools(0, item_dim=DIM, n_test=40).test, 0)
    prompt = parse_prompt("C:2 A:1 C:2 | A?", n_labels=N_LABELS, max_pairs=8)
    arrays = prompt_arrays(prompt, 9)
    tokens = np.asarray(encode_prompt(jnp.asarray(arrays.letters), jnp.asarray(arrays.labels),
                                      arrays.query_index, prototypes, n_labels=N_LABELS,
                                      noise=0.0, key=jax.random.key(0)))  # fmt: skip
    assert tokens.shape == (9, DIM + N_LABELS) and arrays.query_index == 3
    np.testing.assert_allclose(tokens[0, :DIM], prototypes[2])
    np.testing.assert_allclose(tokens[3, :DIM], prototypes[0])
    np.testing.assert_array_equal(tokens[[0, 1, 2], DIM:].argmax(1), [1, 0, 1])
    np.testing.assert_array_equal(tokens[3, DIM:], 0.0)
    np.testing.assert_array_equal(tokens[4:], 0.0)
    with pytest.raises(PromptError, match="at most 8 fit"):
        prompt_arrays(sample_prompt(0, n_ways=3, shots=3, n_labels=5), 9)


# --------------------------------------------------------------------------- training
@pytest.mark.slow  # ~10-20 s on 2 shared cores, almost all of it compiling the training step
def test_training_lowers_the_loss():
    config = icl_model.ICLConfig(item_dim=DIM, n_labels=3, max_shots=2, min_ways=2,
                                 n_train_prototypes=64, n_test_prototypes=32, noise=0.3,
                                 d_model=16, n_heads=2, n_layers=1, steps=300, batch=32,
                                 learning_rate=1e-2)  # fmt: skip
    trained = icl_model.train(config)
    assert trained.loss.shape == (6,)
    assert trained.loss[-1] < trained.loss[0] - 0.2, trained.loss
    assert trained.loss[-1] < np.log(3) - 0.2  # clearly better than guessing among 3 labels


def test_bad_config_raises():
    with pytest.raises(ValueError, match="min_ways"):
        icl_model.ICLConfig(min_ways=1)
    with pytest.raises(ValueError, match="n_test_prototypes must be >= 26"):
        icl_model.ICLConfig(n_test_prototypes=10)
