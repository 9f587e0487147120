r"""Hinton's (1986) family trees as role-filler bindings in FHRR, queried by unbinding + cleanup.

**The data.** Two isomorphic families of 12 people each (English and Italian), three
generations, and 12 relations (father, mother, husband, wife, son, daughter, uncle, aunt,
brother, sister, nephew, niece) as in Hinton, "Learning distributed representations of
concepts", Proc. 8th Cognitive Science Society (1986). The facts are derived here from the
published structure (couples, children, sexes), not typed in: a fact ``(X, R, Y)`` reads "Y is
the R of X" (``("Colin", "father", "James")``); uncles/aunts include the husbands/wives of a
parent's siblings. The two trees hold 56 facts each (112 in all, the size of the UCI
"kinship" set).

**The codes.** Person codes are compositional, ``person = family ⊙ slot``: a random phasor per
family times a random phasor per genealogical slot (the position in the tree that
corresponds across the two families). All 24 people stay near-orthogonal, and the mapping
between families is one vector: ``T = italian ⊙ conj(english)`` maps every English person
onto their Italian counterpart, so the analogy "Christopher : Roberto :: Arthur : ?" is
``Arthur ⊙ Roberto ⊙ conj(Christopher) = Emilio`` (Kanerva's "dollar of Mexico").

**Two memories.**

* ``"records"`` — one trace per person, the bundle of its role-filler pairs
  :math:`m_X = \sum_{(X, R, Y)} r_R \odot p_Y`; "who is the R of X" is
  :math:`\mathrm{cleanup}(m_X \odot \bar r_R)`. Load = facts per record (3 to 7).
* ``"triples"`` — one global trace of all facts, the object marked by a permutation
  :math:`\rho`: :math:`M = \sum_{(X,R,Y)} p_X \odot r_R \odot \rho(p_Y)`; the query is
  :math:`\mathrm{cleanup}(\rho^{-1}(M \odot \bar p_X \odot \bar r_R))`. Load = facts bundled.

Each stored answer contributes similarity 1 to the unbound query (memories are plain sums);
every one of the ``L`` stored items adds :math:`\mathcal N(0, 1/(2D))` crosstalk to a wrong
candidate (variance ``L / (2D)``, plus ``noise**2 / (2D)`` from additive memory noise). An
answer *set* is read out as every candidate whose similarity exceeds both ``threshold``
(absolute, default 0.5: half a stored item) and ``relative * max`` (default 0.5), so empty,
single and multiple answers are all decided without knowing how many there are. Multi-hop queries chain unbind + cleanup: the
cleaned-up answer set of one hop is the subject set of the next (grandparent = parent of
parent; sibling = child of a parent, minus oneself).

Accuracy-vs-D sweeps (:func:`family_accuracy_by_dim`) draw the codes once at the largest D and
read every smaller D from the first components (block partial sums, see
:mod:`.scene_memory`): one compilation per sweep; load and noise are traced.

Example::

    tree = hinton_family_trees()
    codes = make_family_codes(jax.random.key(0), 1024, tree)
    memory = store(codes, tree, encoding="records")
    answers = decode_answers(readout(memory, codes, encoding="records"))  # (P, R, P) bool
    scores = score_queries(tree, np.asarray(answers))  # 1-hop / 2-hop accuracy
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Sequence
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Complex, Float

from .algebra import bind, permute, random_phasors, similarity_matrix, unbind
from .sweep import block_similarity, prefix_similarity, sweep_block

__all__ = [
    "ENCODINGS",
    "ENGLISH",
    "ITALIAN",
    "RELATIONS",
    "TWO_HOP_CHAINS",
    "FamilyTree",
    "FamilyTreeCodes",
    "add_noise",
    "analogy_readout",
    "chain_answers",
    "decode_answers",
    "fact_tensor",
    "family_accuracy",
    "family_accuracy_by_dim",
    "hinton_family_trees",
    "make_family_codes",
    "readout",
    "readouts_by_dim",
    "score_queries",
    "store",
]

RELATIONS: tuple[str, ...] = (
    "father", "mother", "husband", "wife", "son", "daughter",
    "uncle", "aunt", "brother", "sister", "nephew", "niece",
)  # fmt: skip
#: The 12 genealogical slots, in the same order for both families (slot i <-> slot i).
ENGLISH: tuple[str, ...] = (
    "Christopher", "Penelope", "Andrew", "Christine", "Margaret", "Arthur",
    "Victoria", "James", "Jennifer", "Charles", "Colin", "Charlotte",
)  # fmt: skip
ITALIAN: tuple[str, ...] = (
    "Roberto", "Maria", "Pierro", "Francesca", "Gina", "Emilio",
    "Lucia", "Marco", "Angela", "Tomaso", "Alfonso", "Sophia",
)  # fmt: skip
_MALE_SLOTS = frozenset({0, 2, 5, 7, 9, 10})
_COUPLES = ((0, 1), (2, 3), (5, 4), (7, 6), (9, 8))  # (husband slot, wife slot)
_CHILDREN = {0: (5, 6), 2: (7, 8), 7: (10, 11)}  # father slot -> children slots
_GENERATION = (0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2)

#: Named two-hop queries: each hop is a union of relations; ``True`` drops the subject.
TWO_HOP_CHAINS: dict[str, tuple[tuple[tuple[str, ...], ...], bool]] = {
    "grandparent": ((("father", "mother"), ("father", "mother")), False),
    "grandchild": ((("son", "daughter"), ("son", "daughter")), False),
    "sibling (via parents)": ((("father", "mother"), ("son", "daughter")), True),
    "parent-in-law": ((("husband", "wife"), ("father", "mother")), False),
    "child-in-law": ((("son", "daughter"), ("husband", "wife")), False),
    "spouse's sibling": ((("husband", "wife"), ("brother", "sister")), False),
}
ENCODINGS = ("records", "triples")
Encoding = Literal["records", "triples"]


# --------------------------------------------------------------------------- symbolic tree
@dataclasses.dataclass(frozen=True)
class FamilyTree:
    """The symbolic family trees: people, their family/slot/sex/generation, and the facts.

    ``facts`` are ``(subject, relation, object)`` index triples meaning "object is the
    relation of subject"; ``family[i]`` is 0 (English) or 1 (Italian) and ``slot[i]`` the
    genealogical position shared by counterparts.
    """

    names: tuple[str, ...]
    family: tuple[int, ...]
    slot: tuple[int, ...]
    male: tuple[bool, ...]
    generation: tuple[int, ...]
    father: tuple[int, ...]  # -1: not in the tree
    mother: tuple[int, ...]
    spouse: tuple[int, ...]
    facts: tuple[tuple[int, int, int], ...]

    @property
    def n_people(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        """The index of a person by name (case-insensitive)."""
        lookup = {n.lower(): i for i, n in enumerate(self.names)}
        try:
            return lookup[str(name).lower()]
        except KeyError:
            raise ValueError(f"unknown person {name!r}; known people: {list(self.names)}") from None

    def counterpart(self, person: int) -> int:
        """The person in the other family at the same genealogical slot."""
        return self.family.index(1 - self.family[person]) + self.slot[person]

    def related(self, subject: int, relation: str | int) -> frozenset[int]:
        """Who is the ``relation`` of ``subject`` (the ground truth, from the facts)."""
        r = _relation_index(relation)
        return frozenset(o for s, rr, o in self.facts if s == subject and rr == r)

    def chain(
        self, subject: int, hops: Sequence[Sequence[str]], exclude_self: bool = False
    ) -> frozenset[int]:
        """Ground truth of a chained query: apply each hop (a union of relations) in turn."""
        frontier = frozenset({subject})
        for hop in hops:
            frontier = frozenset(y for x in frontier for r in hop for y in self.related(x, r))
        return frontier - {subject} if exclude_self else frontier

    def one_hop_queries(self) -> list[tuple[int, int]]:
        """Every ``(subject, relation)`` pair that has at least one answer."""
        return sorted({(s, r) for s, r, _ in self.facts})

    def two_hop_queries(self) -> list[tuple[int, str]]:
        """Every ``(subject, chain name)`` of :data:`TWO_HOP_CHAINS` with a non-empty answer."""
        return [
            (s, name)
            for name, (hops, excl) in TWO_HOP_CHAINS.items()
            for s in range(self.n_people)
            if self.chain(s, hops, excl)
        ]


def _relation_index(relation: str | int) -> int:
    if isinstance(relation, int | np.integer):
        if not 0 <= int(relation) < len(RELATIONS):
            raise ValueError(f"relation index {relation} is outside [0, {len(RELATIONS) - 1}]")
        return int(relation)
    try:
        return RELATIONS.index(str(relation).lower())
    except ValueError:
        raise ValueError(f"unknown relation {relation!r}; known: {list(RELATIONS)}") from None


@functools.cache
def hinton_family_trees() -> FamilyTree:
    """Hinton's two isomorphic family trees (English slots 0-11, Italian 12-23), 112 facts."""
    n_slots = len(ENGLISH)
    names = ENGLISH + ITALIAN
    family = tuple(i // n_slots for i in range(2 * n_slots))
    slot = tuple(i % n_slots for i in range(2 * n_slots))
    male = tuple(s in _MALE_SLOTS for s in slot)
    father, mother, spouse = [-1] * len(names), [-1] * len(names), [-1] * len(names)
    for f in range(2):
        base = f * n_slots
        for h, w in _COUPLES:
            spouse[base + h], spouse[base + w] = base + w, base + h
        for dad, kids in _CHILDREN.items():
            for kid in kids:
                father[base + kid], mother[base + kid] = base + dad, spouse[base + dad]
    facts = _derive_facts(male, father, mother, spouse)
    return FamilyTree(
        names=names, family=family, slot=slot, male=male,
        generation=tuple(_GENERATION[s] for s in slot),
        father=tuple(father), mother=tuple(mother), spouse=tuple(spouse), facts=facts,
    )  # fmt: skip


def _derive_facts(
    male: Sequence[bool], father: Sequence[int], mother: Sequence[int], spouse: Sequence[int]
) -> tuple[tuple[int, int, int], ...]:
    n = len(male)

    def parents(x: int) -> set[int]:
        return {p for p in (father[x], mother[x]) if p >= 0}

    def children(x: int) -> set[int]:
        return {y for y in range(n) if x in parents(y)}

    def siblings(x: int) -> set[int]:
        return {y for y in range(n) if y != x and parents(x) and parents(y) == parents(x)}

    def spouses(xs: Iterable[int]) -> set[int]:
        return {spouse[x] for x in xs if spouse[x] >= 0}

    def by_sex(xs: Iterable[int], is_male: bool) -> set[int]:
        return {x for x in xs if male[x] == is_male}

    facts = []
    for x in range(n):
        parents_siblings = {s for p in parents(x) for s in siblings(p)}
        piblings = parents_siblings | spouses(parents_siblings)
        own_and_spouse_siblings = siblings(x) | {s for sp in spouses([x]) for s in siblings(sp)}
        niblings = {c for s in own_and_spouse_siblings for c in children(s)}
        related = {
            "father": by_sex(parents(x), True), "mother": by_sex(parents(x), False),
            "husband": by_sex(spouses([x]), True), "wife": by_sex(spouses([x]), False),
            "son": by_sex(children(x), True), "daughter": by_sex(children(x), False),
            "uncle": by_sex(piblings, True), "aunt": by_sex(piblings, False),
            "brother": by_sex(siblings(x), True), "sister": by_sex(siblings(x), False),
            "nephew": by_sex(niblings, True), "niece": by_sex(niblings, False),
        }  # fmt: skip
        facts += [(x, RELATIONS.index(r), y) for r, ys in related.items() for y in sorted(ys)]
    return tuple(facts)


# --------------------------------------------------------------------------- codes & memory
class FamilyTreeCodes(eqx.Module):
    """Random FHRR codes: relations ``(R, D)``, families ``(2, D)``, slots ``(12, D)`` and the
    compositional people ``people[i] = families[family_i] ⊙ slots[slot_i]`` ``(P, D)``."""

    people: Complex[Array, "P D"]
    relations: Complex[Array, "R D"]
    families: Complex[Array, "2 D"]
    slots: Complex[Array, "S D"]

    @property
    def dim(self) -> int:
        return int(self.people.shape[-1])

    def family_map(self, source: int, target: int) -> Complex[Array, " D"]:
        """The analogy vector ``T`` with ``person ⊙ T = counterpart`` (``source -> target``)."""
        return unbind(self.families[target], self.families[source])


def make_family_codes(key: jax.Array, dim: int, tree: FamilyTree) -> FamilyTreeCodes:
    """Draw the codes for ``tree`` at dimension ``dim`` (FHRR unit phasors; one random draw)."""
    if int(dim) != dim or int(dim) < 2:
        raise ValueError(f"dim must be an integer >= 2, got {dim!r}")
    return _make_family_codes(key, int(dim), tree)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _make_family_codes(key: jax.Array, dim: int, tree: FamilyTree) -> FamilyTreeCodes:
    n_rel, n_slots = len(RELATIONS), max(tree.slot) + 1
    codes = random_phasors(key, (n_rel + 2 + n_slots, dim))
    relations, families, slots = codes[:n_rel], codes[n_rel : n_rel + 2], codes[n_rel + 2 :]
    people = bind(families[np.asarray(tree.family)], slots[np.asarray(tree.slot)])
    return FamilyTreeCodes(people, relations, families, slots)


def _fact_arrays(facts: Sequence[tuple[int, int, int]]) -> tuple[np.ndarray, ...]:
    arr = np.asarray(facts, dtype=np.int32).reshape(-1, 3)
    return arr[:, 0], arr[:, 1], arr[:, 2]


def store(
    codes: FamilyTreeCodes,
    tree: FamilyTree,
    *,
    encoding: Encoding = "records",
    facts: Sequence[tuple[int, int, int]] | None = None,
    weights: Float[Array, " F"] | None = None,
    noise: float = 0.0,
    key: jax.Array | None = None,
) -> Complex[Array, "*M D"]:
    """The memory of ``facts`` (default: all of ``tree.facts``), each item scaled by
    ``weights`` (optional, one per fact: 0 leaves a fact out without changing shapes).

    ``"records"``: ``(P, D)``, row X = sum of ``relation ⊙ object`` over X's facts.
    ``"triples"``: ``(D,)``, the sum of ``subject ⊙ relation ⊙ permute(object)``.
    ``noise``: std of additive circular complex Gaussian noise per component (in units of one
    stored item's unit amplitude; needs ``key``).
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
    s, r, o = _fact_arrays(tree.facts if facts is None else facts)
    w = jnp.ones(len(s)) if weights is None else jnp.asarray(weights)
    if w.shape != (len(s),):
        raise ValueError(f"weights must have shape ({len(s)},) (one per fact), got {w.shape}")
    if encoding == "records":
        items = bind(codes.relations[r], codes.people[o]) * w[:, None]
        memory = jax.ops.segment_sum(items, jnp.asarray(s), num_segments=tree.n_people)
    else:
        items = bind(bind(codes.people[s], codes.relations[r]), permute(codes.people[o]))
        memory = jnp.sum(items * w[:, None], axis=0)
    return add_noise(memory.astype(jnp.complex64), noise, key)


def add_noise(memory: Array, noise: float | Array, key: jax.Array | None) -> Array:
    """``memory + noise * n`` with ``n`` circular standard complex Gaussian (``E|n|^2 = 1``:
    at ``noise = 1`` like one more random item stored). A concrete ``noise`` is checked
    (finite, >= 0); a traced one is used as is."""
    if not isinstance(noise, jax.core.Tracer):
        noise = float(noise)
        if not np.isfinite(noise) or noise < 0:
            raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
        if noise == 0:
            return memory
    if key is None:
        raise ValueError("noise > 0 needs a PRNG key")
    z = jax.random.normal(key, memory.shape, dtype=jnp.complex64)
    return (memory + noise * z).astype(jnp.complex64)


@functools.partial(jax.jit, static_argnames="encoding")
def readout(
    memory: Complex[Array, "*M D"], codes: FamilyTreeCodes, encoding: Encoding = "records"
) -> Float[Array, "P R P"]:
    """Similarities of the unbound query for every (subject, relation) to every person:
    ``sims[x, r, y] = sim(query(x, r), person_y)``. One compiled call per shape."""
    return similarity_matrix(_queries(memory, codes, encoding), codes.people)


def decode_answers(
    sims: Float[Array, "... P"], threshold: float = 0.5, relative: float = 0.5
) -> Bool[Array, "... P"]:
    """Cleanup to an answer set: candidates above ``threshold`` and above ``relative`` times
    the best similarity of their query (empty when nothing reaches ``threshold``)."""
    sims = jnp.asarray(sims)
    best = jnp.max(sims, axis=-1, keepdims=True)
    return (sims > threshold) & (sims >= relative * best)


def analogy_readout(
    memory: Complex[Array, "*M D"],
    codes: FamilyTreeCodes,
    subject: int,
    relation: int,
    mapping: Complex[Array, " D"],
    encoding: Encoding = "records",
) -> Float[Array, " P"]:
    """ "Who is, in the other family, the counterpart of the ``relation`` of ``subject``":
    the unbound query bound with the family ``mapping`` (e.g. from one anchor pair
    ``bind(roberto, inverse(christopher))``), compared with every person."""
    if encoding == "records":
        query = unbind(memory[subject], codes.relations[relation])
    else:
        key = bind(codes.people[subject], codes.relations[relation])
        query = permute(unbind(memory, key), -1)
    return similarity_matrix(bind(query, mapping), codes.people)


# --------------------------------------------------------------------------- scoring
def fact_tensor(n_people: int, facts: Sequence[tuple[int, int, int]]) -> np.ndarray:
    """The facts as a boolean ``(P, R, P)`` tensor: ``t[x, r, y]`` iff y is the r of x."""
    truth = np.zeros((n_people, len(RELATIONS), n_people), dtype=bool)
    s, r, o = _fact_arrays(facts)
    truth[s, r, o] = True
    return truth


def chain_answers(
    answers: np.ndarray, hops: Sequence[Sequence[str]], exclude_self: bool = False
) -> np.ndarray:
    """Chained decoding for every subject at once: ``answers (P, R, P)`` are decoded answer
    sets; each hop maps the current frontier (the cleaned-up answers of the previous hop) to
    the union of its members' answers. Returns ``(P, P)`` bool: row x = answer set for x."""
    answers = np.asarray(answers, dtype=bool)
    frontier = np.eye(answers.shape[0], dtype=bool)
    for hop in hops:
        adjacency = answers[:, [_relation_index(r) for r in hop], :].any(axis=1)
        frontier = (frontier.astype(np.int32) @ adjacency.astype(np.int32)) > 0
    if exclude_self:
        np.fill_diagonal(frontier, False)
    return frontier


def score_queries(
    tree: FamilyTree,
    answers: np.ndarray,
    analogy_answers: np.ndarray | None = None,
    facts: Sequence[tuple[int, int, int]] | None = None,
) -> dict[str, float]:
    """Fraction of queries whose decoded answer set equals the true set exactly.

    ``answers``: decoded sets ``(P, R, P)`` (e.g. :func:`decode_answers` of :func:`readout`);
    ``facts``: the stored subset (default all): 1-hop queries are the (subject, relation)
    pairs with an answer among them; 2-hop queries (:data:`TWO_HOP_CHAINS`, every subject
    with a non-empty true answer) are scored only for the full tree. ``analogy_answers``
    (optional, ``(P, R, P)``): decoded sets of the other family's counterparts.
    """
    answers = np.asarray(answers, dtype=bool)
    truth = fact_tensor(tree.n_people, tree.facts if facts is None else facts)
    asked = truth.any(axis=-1)  # (P, R)
    out: dict[str, float] = {
        "one_hop": float(np.all(answers == truth, axis=-1)[asked].mean()),
        "n_one_hop": int(asked.sum()),
    }
    if facts is None:
        hits = []
        for hops, excl in TWO_HOP_CHAINS.values():
            want = chain_answers(truth, hops, excl)
            got = chain_answers(answers, hops, excl)
            hits.append(np.all(got == want, axis=-1)[want.any(axis=-1)])
        hits_all = np.concatenate(hits)
        out |= {"two_hop": float(hits_all.mean()), "n_two_hop": int(hits_all.size)}
    if analogy_answers is not None:
        mapped = np.zeros_like(truth)
        for y in range(tree.n_people):
            mapped[:, :, tree.counterpart(y)] = truth[:, :, y]
        hits = np.all(np.asarray(analogy_answers, dtype=bool) == mapped, axis=-1)[asked]
        out |= {"analogy": float(hits.mean()), "n_analogy": int(asked.sum())}
    return out


def _queries(memory: Array, codes: FamilyTreeCodes, encoding: str) -> Complex[Array, "P R D"]:
    """The unbound query of every (subject, relation): ideally the sum of its answers."""
    people, relations = codes.people, codes.relations
    if encoding == "records":
        return unbind(memory[:, None, :], relations[None, :, :])
    keys = bind(people[:, None, :], relations[None, :, :])
    return permute(unbind(memory, keys), -1)


@functools.partial(jax.jit, static_argnames=("dims", "encoding"))
def readouts_by_dim(
    codes: FamilyTreeCodes,
    key: jax.Array,
    weights: Float[Array, " F"],
    noise: Float[Array, ""],
    dims: tuple[int, ...],
    encoding: Encoding,
) -> tuple[Float[Array, "n_dims P R P"], Float[Array, "n_dims P R P"]]:
    """Every query's readout and its analogy to the other family, at each ``d`` in ``dims``
    from the first ``d`` components (block partial sums: one pass at the full dimension).

    For ``"triples"`` the permutation rolls the full vector, so the first ``d`` components of
    a query come from memory components ``1 .. d``: the same statistics as a ``d``-dim trace."""
    block = sweep_block(dims)
    tree = hinton_family_trees()
    memory = add_noise(store(codes, tree, encoding=encoding, weights=weights), noise, key)
    queries = _queries(memory, codes, encoding)
    fam = jnp.asarray(tree.family)
    maps = unbind(codes.families[1 - fam], codes.families[fam])  # each subject's family map
    direct = block_similarity(queries, codes.people, block)
    mapped = block_similarity(bind(queries, maps[:, None, :]), codes.people, block)
    return prefix_similarity(direct, dims, block), prefix_similarity(mapped, dims, block)


def family_accuracy_by_dim(
    dims: Sequence[int],
    *,
    encoding: Encoding = "records",
    noise: float = 0.0,
    seeds: Sequence[int] = (0,),
    n_facts: int | None = None,
    threshold: float = 0.5,
) -> dict[int, dict[str, float]]:
    """Mean accuracy over ``seeds`` (fresh codes per seed) at every dimension in ``dims``:
    ``one_hop``, ``analogy`` and, for the full tree, ``two_hop``.

    ``n_facts`` (the load): store a random subset of that many facts per seed and ask the
    1-hop/analogy queries about it. The codes are drawn once at ``max(dims)`` and truncated;
    one compilation per ``(dims, encoding)``, load and noise are traced."""
    tree = hinton_family_trees()
    n_all = len(tree.facts)
    n = n_all if n_facts is None else int(n_facts)
    if not 1 <= n <= n_all:
        raise ValueError(f"n_facts must be in [1, {n_all}], got {n_facts!r}")
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
    dims = tuple(int(d) for d in dims)
    sweep_block(dims)
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    totals: dict[int, dict[str, float]] = {d: {} for d in dims}
    for seed in seeds:
        chosen = np.sort(np.random.default_rng(int(seed)).permutation(n_all)[:n])
        weights = np.zeros(n_all, np.float32)
        weights[chosen] = 1.0
        k_codes, k_noise = jax.random.split(jax.random.key(int(seed)))
        codes = make_family_codes(k_codes, max(dims), tree)
        results = readouts_by_dim(
            codes, k_noise, jnp.asarray(weights), jnp.float32(noise), dims, encoding
        )
        direct = np.asarray(decode_answers(results[0], threshold))
        mapped = np.asarray(decode_answers(results[1], threshold))
        for i, d in enumerate(dims):
            scores = score_queries(
                tree,
                direct[i],
                mapped[i],
                facts=None if n == n_all else [tree.facts[i] for i in chosen],
            )
            for k, v in scores.items():
                totals[d][k] = totals[d].get(k, 0.0) + v / len(seeds)
    return totals


def family_accuracy(dim: int, **kwargs: object) -> dict[str, float]:
    """:func:`family_accuracy_by_dim` at one dimension."""
    return family_accuracy_by_dim((dim,), **kwargs)[int(dim)]  # type: ignore[arg-type]
