"""Hinton's family trees in FHRR (snnviz.core.vsa.family_tree): the data's internal
consistency, the read-out against a NumPy reference, capacity scaling, and accuracy vs D."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnviz.core.vsa import bind, bundle, random_phasors, similarity, unbind
from snnviz.core.vsa import family_tree as ft
from tests.helpers import count_compilations

TREE = ft.hinton_family_trees()
R = {name: i for i, name in enumerate(ft.RELATIONS)}


def facts_set() -> set[tuple[int, int, int]]:
    return set(TREE.facts)


def names(ids) -> set[str]:
    return {TREE.names[i] for i in ids}


# -- the data ----------------------------------------------------------------------------------
def test_tree_has_two_families_of_twelve_and_112_distinct_facts():
    assert TREE.n_people == 24 and len(set(TREE.names)) == 24
    assert len(TREE.facts) == len(facts_set()) == 112
    per_family = [sum(TREE.family[s] == f for s, _, _ in TREE.facts) for f in (0, 1)]
    assert per_family == [56, 56]
    assert all(TREE.family[s] == TREE.family[o] for s, _, o in TREE.facts)  # no cross-family
    assert all(s != o for s, _, o in TREE.facts)


def test_colin_has_the_published_relatives():
    colin = TREE.index("Colin")
    expect = {
        "father": {"James"}, "mother": {"Victoria"}, "sister": {"Charlotte"},
        "uncle": {"Arthur", "Charles"}, "aunt": {"Jennifer", "Margaret"},
    }  # fmt: skip
    for relation in ft.RELATIONS:
        assert names(TREE.related(colin, relation)) == expect.get(relation, set()), relation


@pytest.mark.parametrize(
    ("relation", "inverses"),
    [
        ("husband", ("wife",)), ("wife", ("husband",)),
        ("father", ("son", "daughter")), ("mother", ("son", "daughter")),
        ("son", ("father", "mother")), ("daughter", ("father", "mother")),
        ("brother", ("brother", "sister")), ("sister", ("brother", "sister")),
        ("uncle", ("nephew", "niece")), ("aunt", ("nephew", "niece")),
        ("nephew", ("uncle", "aunt")), ("niece", ("uncle", "aunt")),
    ],
)  # fmt: skip
def test_every_relation_has_its_inverse_fact(relation, inverses):
    facts = facts_set()
    for s, r, o in TREE.facts:
        if r == R[relation]:
            back = [(o, R[inv], s) in facts for inv in inverses]
            assert sum(back) == 1, (TREE.names[s], relation, TREE.names[o])


def test_relations_respect_sex_and_marriage_is_one_to_one():
    male_relations = {"father", "husband", "son", "brother", "uncle", "nephew"}
    for _, r, o in TREE.facts:
        assert TREE.male[o] == (ft.RELATIONS[r] in male_relations)
    for x in range(TREE.n_people):
        spouses = TREE.related(x, "husband") | TREE.related(x, "wife")
        assert len(spouses) <= 1
        assert spouses == ({TREE.spouse[x]} if TREE.spouse[x] >= 0 else set())


def test_parents_children_and_siblings_agree():
    for child in range(TREE.n_people):
        parents = TREE.related(child, "father") | TREE.related(child, "mother")
        for p in parents:  # each parent lists the child
            assert child in TREE.related(p, "son") | TREE.related(p, "daughter")
        siblings = TREE.related(child, "brother") | TREE.related(child, "sister")
        assert siblings == TREE.chain(child, (("father", "mother"), ("son", "daughter")), True)
        if len(parents) == 2:  # parents are married to each other
            a, b = sorted(parents)
            assert TREE.spouse[a] == b


def test_the_two_families_are_isomorphic_under_the_slot_map():
    mapped = {(TREE.counterpart(s), r, TREE.counterpart(o)) for s, r, o in TREE.facts}
    assert mapped == facts_set()
    for i in range(TREE.n_people):
        j = TREE.counterpart(i)
        assert TREE.counterpart(j) == i and TREE.family[j] != TREE.family[i]
        assert TREE.male[i] == TREE.male[j] and TREE.generation[i] == TREE.generation[j]
    assert TREE.names[TREE.counterpart(TREE.index("Christopher"))] == "Roberto"


def test_vectorised_chains_match_the_set_based_definition():
    truth = ft.fact_tensor(TREE.n_people, TREE.facts)
    for hops, exclude in ft.TWO_HOP_CHAINS.values():
        table = ft.chain_answers(truth, hops, exclude)
        for x in range(TREE.n_people):
            assert set(np.flatnonzero(table[x])) == TREE.chain(x, hops, exclude)
    assert len(TREE.one_hop_queries()) == 104 and len(TREE.two_hop_queries()) == 48


def test_unknown_names_are_rejected_with_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown person 'Bob'.*Christopher"):
        TREE.index("Bob")
    with pytest.raises(ValueError, match=r"unknown relation 'cousin'.*father"):
        TREE.related(0, "cousin")
    with pytest.raises(ValueError, match=r"n_facts must be in \[1, 112\]"):
        ft.family_accuracy(256, n_facts=500)
    with pytest.raises(ValueError, match="noise must be"):
        ft.family_accuracy(256, noise=-1.0)
    with pytest.raises(ValueError, match="encoding must be one of"):
        ft.store(ft.make_family_codes(jax.random.key(0), 64, TREE), TREE, encoding="graph")


# -- the codes and the read-out -------------------------------------------------------------------
def test_family_map_sends_every_person_to_the_counterpart():
    codes = ft.make_family_codes(jax.random.key(1), 512, TREE)
    english_to_italian = codes.family_map(0, 1)
    for i in range(12):
        mapped = bind(codes.people[i], english_to_italian)
        np.testing.assert_allclose(mapped, codes.people[TREE.counterpart(i)], atol=1e-5)
    # and the people are near-orthogonal: |sim| ~ N(0, 1/(2D))
    sims = np.asarray(similarity(codes.people[:, None], codes.people[None]))
    off = sims[~np.eye(24, dtype=bool)]
    assert np.abs(off).max() < 5 / np.sqrt(2 * 512)


def _numpy_readout(memory: np.ndarray, people: np.ndarray, relations: np.ndarray, encoding: str):
    """Independent reference: plain NumPy complex128 loops over subjects and relations."""
    n, d = people.shape
    out = np.zeros((n, len(relations), n))
    for x in range(n):
        for r in range(len(relations)):
            if encoding == "records":
                q = memory[x] * np.conj(relations[r])
            else:
                q = np.roll(memory * np.conj(people[x] * relations[r]), -1)
            out[x, r] = (q[None, :] * np.conj(people)).sum(axis=1).real / d
    return out


@pytest.mark.parametrize("encoding", ft.ENCODINGS)
def test_readout_matches_a_numpy_reference(encoding):
    codes = ft.make_family_codes(jax.random.key(2), 256, TREE)
    people = np.asarray(codes.people, np.complex128)
    relations = np.asarray(codes.relations, np.complex128)
    s, r, o = (np.array(c) for c in zip(*TREE.facts, strict=True))
    if encoding == "records":
        memory = np.zeros((24, 256), np.complex128)
        np.add.at(memory, s, relations[r] * people[o])
    else:
        memory = (people[s] * relations[r] * np.roll(people[o], 1, axis=-1)).sum(axis=0)
    ours = np.asarray(ft.readout(ft.store(codes, TREE, encoding=encoding), codes, encoding))
    reference = _numpy_readout(memory, people, relations, encoding)
    np.testing.assert_allclose(ours, reference, atol=2e-5)
    decoded = np.asarray(ft.decode_answers(ours))
    ref_best = reference.max(-1, keepdims=True)
    np.testing.assert_array_equal(decoded, (reference > 0.5) & (reference >= 0.5 * ref_best))


def test_records_give_unit_signal_and_crosstalk_of_sqrt_load_over_2d():
    """A stored answer scores 1 (plain sum); a wrong candidate sees every one of the L items
    of the record (the answers too) as N(0, 1/(2D)) crosstalk: variance L/(2D)."""
    dim = 1024
    truth = ft.fact_tensor(24, TREE.facts)
    loads = truth.sum(axis=(1, 2))  # facts per record
    wrong = truth.any(-1)[..., None] & ~truth  # (x, r, z): asked, z not an answer
    signal, residual = [], []
    for seed in range(4):
        codes = ft.make_family_codes(jax.random.key(seed), dim, TREE)
        sims = np.asarray(ft.readout(ft.store(codes, TREE), codes))
        signal.append(sims[truth])
        residual.append(sims[wrong])
    np.testing.assert_allclose(np.concatenate(signal).mean(), 1.0, atol=0.01)
    predicted = np.broadcast_to(loads[:, None, None] / (2 * dim), wrong.shape)[wrong]
    assert np.var(np.concatenate(residual)) == pytest.approx(predicted.mean(), rel=0.1)


def test_unbinding_a_normalised_bundle_scales_as_one_over_sqrt_load():
    """With a unit-phasor (normalised) bundle of L pairs, each filler comes back with
    similarity sqrt(pi / (4 L)) (the mean modulus of a 2-D random walk over L steps)."""
    dim = 4096
    measured = {}
    for load in (4, 16, 64):
        k1, k2 = jax.random.split(jax.random.key(load))
        roles, fillers = random_phasors(k1, (load, dim)), random_phasors(k2, (load, dim))
        memory = bundle(bind(roles, fillers), normalise=True)
        measured[load] = float(similarity(unbind(memory[None], roles), fillers).mean())
    for load, sim in measured.items():
        assert sim * np.sqrt(load) == pytest.approx(np.sqrt(np.pi) / 2, rel=0.05)
    assert measured[4] / measured[64] == pytest.approx(4.0, rel=0.08)


def test_score_queries_counts_exact_answer_sets():
    truth = ft.fact_tensor(24, TREE.facts)
    perfect = ft.score_queries(TREE, truth, truth[:, :, [TREE.counterpart(i) for i in range(24)]])
    assert perfect["one_hop"] == perfect["two_hop"] == perfect["analogy"] == 1.0
    broken = truth.copy()
    colin = TREE.index("Colin")
    broken[colin, R["uncle"], TREE.index("Arthur")] = False  # one missed uncle
    scores = ft.score_queries(TREE, broken)
    assert scores["one_hop"] == pytest.approx(1 - 1 / 104)
    assert scores["two_hop"] == 1.0  # no chain uses uncle
    broken[colin, R["father"], :] = False  # Colin's parents are half lost: chains through them
    assert ft.score_queries(TREE, broken)["two_hop"] < 1.0


# -- accuracy --------------------------------------------------------------------------------------
def test_accuracy_increases_with_dimension_and_reaches_one():
    acc = ft.family_accuracy_by_dim((32, 64, 128, 256, 1024), seeds=range(3))
    one = [acc[d]["one_hop"] for d in (32, 64, 128, 256, 1024)]
    two = [acc[d]["two_hop"] for d in (32, 64, 128, 256, 1024)]
    assert one[0] < 0.8 and two[0] < 0.5  # far too small
    assert all(b >= a - 0.01 for a, b in itertools.pairwise(one))
    assert one[-1] == two[-1] == acc[1024]["analogy"] == 1.0
    assert acc[64]["analogy"] == pytest.approx(acc[64]["one_hop"], abs=0.05)  # exact map


def test_one_trace_of_all_facts_needs_a_larger_dimension_and_load_hurts():
    acc = ft.family_accuracy_by_dim((512, 4096), encoding="triples", seeds=range(2))
    assert acc[512]["one_hop"] < 0.6 and acc[4096]["one_hop"] >= 0.95
    light = ft.family_accuracy(512, encoding="triples", seeds=range(2), n_facts=16)
    assert light["one_hop"] > acc[512]["one_hop"] + 0.3


def test_noise_and_load_are_traced_values():
    ft.family_accuracy_by_dim((64, 128), encoding="triples", seeds=(0,))
    with count_compilations() as log:
        ft.family_accuracy_by_dim((64, 128), encoding="triples", seeds=(1,), noise=2.0,
                                  n_facts=40)  # fmt: skip
    assert log.matching("readouts_by_dim") == 0, log.names
    noisy = ft.family_accuracy(256, noise=6.0, seeds=(0, 1))
    assert noisy["one_hop"] < ft.family_accuracy(256, seeds=(0, 1))["one_hop"]


def test_memory_noise_adds_unit_variance_per_component():
    memory = jnp.zeros((20_000,), jnp.complex64)
    noisy = ft.add_noise(memory, 2.0, jax.random.key(0))
    assert float(jnp.mean(jnp.abs(noisy) ** 2)) == pytest.approx(4.0, rel=0.05)
    assert ft.add_noise(memory, 0.0, None) is memory
    with pytest.raises(ValueError, match="needs a PRNG key"):
        ft.add_noise(memory, 1.0, None)
