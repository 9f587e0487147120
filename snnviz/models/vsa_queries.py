"""Parameter models of the vector-symbolic query page: a spatio-temporal scene memory and
Hinton's family trees in FHRR (:mod:`snnviz.core.vsa.scene_memory`,
:mod:`snnviz.core.vsa.family_tree`).

``build()`` returns a *session*: the drawn codes, the stored memory and query methods that
return plain NumPy answers (the decoded answer and the similarity to every candidate).
Shapes are fixed by the dimension ``dim`` and the position code only (codebooks hold
``MAX_OBJECTS`` objects, scenes are padded to ``MAX_EVENTS`` events, time profiles cover
``MAX_TIMES`` steps), so moving any other slider never recompiles; ``dim`` is structural.
This module never imports panel.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import param
from jax import Array

from snnviz.core.vsa import family_tree as ft
from snnviz.core.vsa import scene_memory as sm

from ._base import ParamModel, integer, number

DIMS = (64, 128, 256, 512, 1024, 2048, 4096)
MAX_OBJECTS = 32
MAX_EVENTS = 64
MAX_TIMES = 20
N_BINS = 20  # decoding grid: 20 x 20 bins of 5 cm over the 1 m arena
HEATMAP_BINS = 40  # finer grid for the similarity map shown on the page
ARENA_M = 1.0
TARGET = 0.95  # the accuracy the page's claims ask for
SCENE_LOADS = (4, 8, 16, 24, 32, 48, 64)
FAMILY_LOADS = (8, 16, 32, 48, 64, 80, 96, 112)
SCENE_KEYS = {"where": "where (within 1 bin)", "what": "what", "first": "which came first"}
FAMILY_KEYS = {"one_hop": "1-hop", "two_hop": "2-hop", "analogy": "analogy"}
OBJECT_NAMES = (
    "apple", "ball", "cup", "key", "lamp", "book", "shoe", "phone",
    "clock", "vase", "hat", "pen", "bottle", "chair", "kite", "drum",
    "bell", "coin", "fork", "glove", "mask", "nut", "pear", "ring",
    "sock", "tape", "umbrella", "violin", "wallet", "yarn", "zip", "box",
)  # fmt: skip
assert len(OBJECT_NAMES) == MAX_OBJECTS


# --------------------------------------------------------------------------- scene memory
class SceneMemoryModel(ParamModel):
    """A scene of ``n_events`` events (an object at a position in a 1 m x 1 m arena at a
    time step), stored as one FHRR trace ``sum object ⊙ position ⊙ time``."""

    model_name: ClassVar[str] = "scene_memory"

    dim = param.Selector(
        objects=list(DIMS), default=1024, label="dimension D",
        doc="Hypervector dimension D (structural: a new D compiles the queries once)",
    )  # fmt: skip
    position_code = param.Selector(
        objects=list(sm.POSITION_CODES), default="grid cells", label="position code",
        doc="GC-VSA grid-cell modules or a random 2-D fractional power encoding",
    )  # fmt: skip
    n_objects = integer(
        8, bounds=(2, MAX_OBJECTS), soft=(2, MAX_OBJECTS), label="objects",
        doc="Number of distinct objects in the scene (the cleanup codebook)",
    )  # fmt: skip
    n_times = integer(
        10, bounds=(2, MAX_TIMES), soft=(2, MAX_TIMES), label="time steps",
        doc="Number of time steps of the scene",
    )  # fmt: skip
    n_events = integer(
        24, bounds=(1, MAX_EVENTS), soft=(1, MAX_EVENTS), label="load (events)",
        doc="Number of stored events (object, position, time); at most objects x time steps",
    )  # fmt: skip
    noise = number(
        0.0, bounds=(0.0, 20.0), soft=(0.0, 8.0), step=0.25, unit="", label="memory noise",
        doc="Std of additive complex Gaussian noise per memory component, in units of one "
        "stored item (dimensionless; noise 1 adds the crosstalk of one more event)",
    )  # fmt: skip
    seed = integer(
        0, bounds=(0, 2**31 - 1), soft=(0, 100), label="seed",
        doc="Seed of the scene and of the codes",
    )  # fmt: skip

    def validate(self) -> None:
        if self.n_events > self.n_objects * self.n_times:
            raise ValueError(
                f"load (events) = {self.n_events} is more than objects x time steps = "
                f"{self.n_objects} x {self.n_times} = {self.n_objects * self.n_times} (each "
                "object is seen at most once per time step); lower the load or add objects/"
                "time steps"
            )

    def structure_key(self) -> tuple:
        return (self.model_name, self.dim, self.position_code)

    def build(self) -> SceneSession:
        """Draw the scene and the codes and store the scene (see :class:`SceneSession`)."""
        self.validate()
        scene = sm.random_scene(self.seed, self.n_events, self.n_objects, self.n_times, ARENA_M)
        codes = _scene_codes(self.seed, self.dim, self.position_code)
        memory = _store_scene(codes, *map(jnp.asarray, scene.padded(MAX_EVENTS)),
                              jnp.float32(self.noise), _noise_key(self.seed))  # fmt: skip
        return SceneSession(scene, codes, memory, OBJECT_NAMES[: self.n_objects])


@functools.lru_cache(maxsize=8)
def _scene_codes(seed: int, dim: int, position: str) -> sm.SceneCodes:
    return sm.make_scene_codes(jax.random.key(seed), dim, MAX_OBJECTS, position)  # type: ignore[arg-type]


def _noise_key(seed: int) -> jax.Array:
    return jax.random.fold_in(jax.random.key(seed), 1)


@jax.jit
def _store_scene(
    codes: sm.SceneCodes, objects: Array, xy: Array, times: Array, weights: Array,
    noise: Array, key: Array,
) -> Array:  # fmt: skip
    return sm.store_scene(codes, (objects, xy, times, weights), noise=noise, key=key)


@jax.jit
def _where(
    memory: Array, codes: sm.SceneCodes, obj: Array, t: Array, grid: Array, heatmap: Array
) -> tuple[Array, Array]:
    q_obj, q_t = jnp.atleast_1d(obj), jnp.atleast_1d(t)
    return (sm.where_similarity(memory, codes, q_obj, q_t, grid)[0],
            sm.where_similarity(memory, codes, q_obj, q_t, heatmap)[0])  # fmt: skip


@jax.jit
def _what(memory: Array, codes: sm.SceneCodes, xy: Array, t: Array) -> Array:
    return sm.what_similarity(memory, codes, xy[None], jnp.atleast_1d(t))[0]


@jax.jit
def _when(memory: Array, codes: sm.SceneCodes, objs: Array, grid: Array) -> Array:
    return sm.when_profile(memory, codes, objs, grid, MAX_TIMES)


@dataclasses.dataclass
class SceneSession:
    """A stored scene and its queries (answers as NumPy/Python values)."""

    scene: sm.Scene
    codes: sm.SceneCodes
    memory: jax.Array
    names: tuple[str, ...]
    grid: np.ndarray = dataclasses.field(default_factory=lambda: sm.bin_centres(N_BINS, ARENA_M))
    heatmap_grid: np.ndarray = dataclasses.field(
        default_factory=lambda: sm.bin_centres(HEATMAP_BINS, ARENA_M)
    )

    @property
    def bin_m(self) -> float:
        return ARENA_M / N_BINS

    def object_index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise ValueError(f"unknown object {name!r}; objects in this scene: "
                             f"{list(self.names)}") from None  # fmt: skip

    def _check_time(self, t: int) -> int:
        if not 0 <= int(t) < self.scene.n_times:
            raise ValueError(f"time step {t} is outside [0, {self.scene.n_times - 1}]")
        return int(t)

    def where(self, name: str, t: int) -> dict[str, Any]:
        """ "Where was ``name`` at ``t``": decoded position (m), its bin similarity, the
        similarity map over the arena, and the truth (position or None if not seen then)."""
        k, t = self.object_index(name), self._check_time(t)
        sims, heat = _where(self.memory, self.codes, k, jnp.float32(t), self.grid,
                            self.heatmap_grid)  # fmt: skip
        sims, heat = np.asarray(sims), np.asarray(heat)
        best = int(np.argmax(sims))
        hit = (self.scene.objects == k) & (self.scene.times == t)
        truth = self.scene.xy[hit][0] if hit.any() else None
        error = None if truth is None else float(np.linalg.norm(self.grid[best] - truth))
        return {
            "decoded_xy": self.grid[best], "similarity": float(sims[best]),
            "heatmap": heat.reshape(HEATMAP_BINS, HEATMAP_BINS), "true_xy": truth,
            "error_bins": None if error is None else error / self.bin_m,
        }  # fmt: skip

    def what(self, x: float, y: float, t: int) -> dict[str, Any]:
        """ "What was at (x, y) at ``t``": similarity to every object, the best one, and the
        events stored at ``t`` (names and distances to the query point, m)."""
        t = self._check_time(t)
        if not (0 <= x <= ARENA_M and 0 <= y <= ARENA_M):
            raise ValueError(f"position ({x}, {y}) m is outside the {ARENA_M} m arena")
        sims = np.asarray(_what(self.memory, self.codes, jnp.asarray([x, y], jnp.float32),
                                jnp.float32(t)))[: len(self.names)]  # fmt: skip
        at_t = self.scene.times == t
        near = [(self.names[o], float(np.hypot(*(xy - (x, y)))))
                for o, xy in zip(self.scene.objects[at_t], self.scene.xy[at_t], strict=True)]  # fmt: skip
        return {"sims": sims, "best": self.names[int(np.argmax(sims))],
                "events_at_t": sorted(near, key=lambda p: p[1])}  # fmt: skip

    def first(self, name_a: str, name_b: str) -> dict[str, Any]:
        """ "Which came first": both time profiles, the decoded first appearances and the
        answer, with the true first appearances (-1: never seen)."""
        ks = [self.object_index(name_a), self.object_index(name_b)]
        prof = np.array(_when(self.memory, self.codes, jnp.asarray(ks), self.grid))
        prof[:, self.scene.n_times :] = -np.inf  # fixed shape: no new compilation per n_times
        dec = [int(v) for v in np.asarray(sm.first_appearance(prof))]
        prof = prof[:, : self.scene.n_times]
        true = [self.scene.first_time(k) for k in ks]
        answer = name_a if dec[0] < dec[1] else name_b if dec[1] < dec[0] else "same time"
        truth = (
            None if min(true) < 0 else
            name_a if true[0] < true[1] else name_b if true[1] < true[0] else "same time"
        )  # fmt: skip
        return {"profiles": prof, "decoded_first": dec, "true_first": true,
                "answer": answer, "truth": truth}  # fmt: skip


# --------------------------------------------------------------------------- family trees
class FamilyTreeModel(ParamModel):
    """Hinton's two family trees (112 facts) stored as role-filler bindings."""

    model_name: ClassVar[str] = "family_tree_memory"

    dim = param.Selector(
        objects=list(DIMS), default=1024, label="dimension D",
        doc="Hypervector dimension D (structural: a new D compiles the read-out once)",
    )  # fmt: skip
    encoding = param.Selector(
        objects=list(ft.ENCODINGS), default="records", label="memory",
        doc="records: one trace per person (bundle of relation ⊙ person); triples: one "
        "trace of all 112 facts (subject ⊙ relation ⊙ permuted object)",
    )  # fmt: skip
    noise = number(
        0.0, bounds=(0.0, 20.0), soft=(0.0, 8.0), step=0.25, unit="", label="memory noise",
        doc="Std of additive complex Gaussian noise per memory component, in units of one "
        "stored item (dimensionless)",
    )  # fmt: skip
    seed = integer(
        0, bounds=(0, 2**31 - 1), soft=(0, 100), label="seed", doc="Seed of the codes"
    )  # fmt: skip

    def structure_key(self) -> tuple:
        return (self.model_name, self.dim, self.encoding)

    def build(self) -> FamilySession:
        """Draw the codes, store the facts and read out every query (see :class:`FamilySession`)."""
        tree = ft.hinton_family_trees()
        codes = _family_codes(self.seed, self.dim)
        weights = jnp.ones(len(tree.facts), jnp.float32)
        direct, mapped = ft.readouts_by_dim(
            codes, _noise_key(self.seed), weights, jnp.float32(self.noise), (self.dim,),
            self.encoding,
        )  # fmt: skip
        return FamilySession(tree, np.asarray(direct[0]), np.asarray(mapped[0]))


@functools.lru_cache(maxsize=8)
def _family_codes(seed: int, dim: int) -> ft.FamilyTreeCodes:
    return ft.make_family_codes(jax.random.key(seed), dim, ft.hinton_family_trees())


@dataclasses.dataclass
class FamilySession:
    """Every (subject, relation) read-out ``sims (P, R, P)``, its analogy to the other family
    ``mapped (P, R, P)`` and the decoded answer sets."""

    tree: ft.FamilyTree
    sims: np.ndarray
    mapped: np.ndarray

    def __post_init__(self) -> None:
        self.answers = np.asarray(ft.decode_answers(self.sims))
        self.mapped_answers = np.asarray(ft.decode_answers(self.mapped))

    def _names(self, mask: np.ndarray) -> list[str]:
        return [self.tree.names[i] for i in np.flatnonzero(mask)]

    def relation(self, person: str, relation: str) -> dict[str, Any]:
        """ "Who is the ``relation`` of ``person``": similarity to everybody, decoded and
        true answer sets."""
        x, r = self.tree.index(person), ft.RELATIONS.index(relation)
        return {"sims": self.sims[x, r], "answer": self._names(self.answers[x, r]),
                "truth": sorted(self.tree.names[i] for i in self.tree.related(x, r))}  # fmt: skip

    def chain(self, person: str, chain: str) -> dict[str, Any]:
        """A two-hop query (:data:`~snnviz.core.vsa.family_tree.TWO_HOP_CHAINS`): the cleaned-up
        first hop, the best second-hop similarity of every candidate over that frontier,
        and decoded and true answers."""
        if chain not in ft.TWO_HOP_CHAINS:
            raise ValueError(f"unknown query {chain!r}; known: {list(ft.TWO_HOP_CHAINS)}")
        hops, excl = ft.TWO_HOP_CHAINS[chain]
        x = self.tree.index(person)
        first = ft.chain_answers(self.answers, hops[:1])[x]
        second_rel = [ft.RELATIONS.index(r) for r in hops[1]]
        sims = np.full(self.tree.n_people, np.nan)
        if first.any():
            sims = self.sims[first][:, second_rel, :].reshape(-1, self.tree.n_people).max(0)
        answer = ft.chain_answers(self.answers, hops, excl)[x]
        return {"sims": sims, "first_hop": self._names(first), "answer": self._names(answer),
                "truth": sorted(self.tree.names[i] for i in self.tree.chain(x, hops, excl))}  # fmt: skip

    def analogy(self, person: str, relation: str) -> dict[str, Any]:
        """ "Who in the other family corresponds to the ``relation`` of ``person``": the
        unbound query bound with the family map, cleaned up over everybody."""
        x, r = self.tree.index(person), ft.RELATIONS.index(relation)
        truth = sorted(self.tree.names[self.tree.counterpart(i)]
                       for i in self.tree.related(x, r))  # fmt: skip
        return {"sims": self.mapped[x, r], "answer": self._names(self.mapped_answers[x, r]),
                "truth": truth}  # fmt: skip


# --------------------------------------------------------------------------- accuracy sweeps
def crossing_dim(
    dims: tuple[int, ...], accuracy: list[float], target: float = TARGET
) -> int | None:
    """The smallest dimension from which the accuracy stays >= ``target`` (None if never)."""
    for i, d in enumerate(dims):
        if all(a >= target for a in accuracy[i:]):
            return int(d)
    return None


def accuracy_sweeps(
    scene: SceneMemoryModel,
    family: FamilyTreeModel,
    *,
    seeds: Any = range(5),
    progress: Callable[[float, str], None] | None = None,
) -> dict[str, Any]:
    """Accuracy of every query type vs D (all of :data:`DIMS`) at the models' load and noise,
    and vs load at the models' D, averaged over ``seeds`` (fresh scenes and codes).

    Returns plain lists keyed by query type (``scene_by_dim``, ``scene_by_load``,
    ``family_by_dim[encoding]``, ``family_by_load``) with their x values. ``progress(fraction,
    message)`` is called between sweeps."""
    report = progress or (lambda f, m: None)
    scene.validate()
    seeds = tuple(seeds)
    common = dict(n_objects=scene.n_objects, n_times=scene.n_times, noise=scene.noise,
                  position=scene.position_code, seeds=seeds, n_max=MAX_EVENTS)  # fmt: skip
    report(0.0, "scene memory: accuracy vs dimension")
    by_dim = sm.scene_accuracy_by_dim(DIMS, n_events=scene.n_events, **common)
    scene_by_dim = {k: [by_dim[d][k] for d in DIMS] for k in (*SCENE_KEYS, "where_error_bins")}
    loads = [n for n in SCENE_LOADS if n <= scene.n_objects * scene.n_times]
    scene_by_load: dict[str, list[float]] = {k: [] for k in SCENE_KEYS}
    for j, n in enumerate(loads):
        report(0.3 + 0.3 * j / len(loads), f"scene memory: {n} events")
        acc = sm.scene_accuracy_by_dim(DIMS, n_events=n, **common)[scene.dim]
        for k in SCENE_KEYS:
            scene_by_load[k].append(acc[k])
    family_by_dim = {}
    for j, encoding in enumerate(ft.ENCODINGS):
        report(0.6 + 0.1 * j, f"family trees ({encoding}): accuracy vs dimension")
        acc = ft.family_accuracy_by_dim(DIMS, encoding=encoding, noise=family.noise, seeds=seeds)
        family_by_dim[encoding] = {k: [acc[d][k] for d in DIMS] for k in FAMILY_KEYS}
    family_by_load: dict[str, list[float]] = {"one_hop": [], "analogy": []}
    for j, n in enumerate(FAMILY_LOADS):
        report(0.8 + 0.2 * j / len(FAMILY_LOADS), f"family trees: {n} facts in one trace")
        acc = ft.family_accuracy_by_dim(DIMS, encoding="triples", noise=family.noise,
                                        seeds=seeds, n_facts=n)[family.dim]  # fmt: skip
        for k in family_by_load:
            family_by_load[k].append(acc[k])
    return {
        "dims": DIMS, "scene_dim": scene.dim, "family_dim": family.dim,
        "scene_events": scene.n_events, "scene_by_dim": scene_by_dim,
        "scene_loads": loads, "scene_by_load": scene_by_load,
        "family_by_dim": family_by_dim, "family_loads": FAMILY_LOADS,
        "family_by_load": family_by_load, "n_seeds": len(seeds),
    }  # fmt: skip
