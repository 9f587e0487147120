r"""Spatio-temporal scene memory: objects at positions at times, one superposed trace.

An *event* is an object seen at a position at a time step. Its code binds three FHRR codes,

.. math:: e = o_k \odot p(\mathbf x) \odot \tau(t),

a random phasor per object :math:`o_k`, a position code :math:`p(\mathbf x)` (the GC-VSA
grid-cell code of :mod:`.gridcells`, or a random 2-D fractional power encoding) and a
1-D fractional power encoding of time :math:`\tau(t)_j = e^{i\theta_j t}` with phases uniform
in :math:`[-\pi, \pi)`, whose kernel :math:`\mathrm{sinc}(t - t')` vanishes at every other
integer step. The scene is the sum of its events, :math:`M = \sum_e e` (plus optional memory
noise). Queries unbind what is known and clean up what is asked for:

* **where was X at t** — :math:`q = M \odot \bar o_X \odot \bar\tau(t) \approx p(\mathbf x)`;
  decode by the best match over a grid of candidate positions (error in grid bins);
* **what was at p at t** — :math:`q = M \odot \bar p(\mathbf p) \odot \bar\tau(t)`; clean up
  over the object codebook (an object seen at ``t`` elsewhere scores the position kernel of
  the distance);
* **when was X / which came first** — :math:`q = M \odot \bar o_X \approx \sum p(\mathbf x)
  \tau(t)`; for every time step the best match over candidate positions gives a time
  profile; the appearances are the steps above a threshold (:data:`WHEN_THRESHOLD`), the
  first of them is compared between two objects.

Each of the ``L`` stored events adds :math:`\mathcal N(0, 1/(2D))` crosstalk to a wrong
candidate's similarity (variance ``L / (2D)``); a stored match contributes its kernel value
(1 for an exact match).

**Sweeps over D.** Object, time and random-FPE components are i.i.d., and the grid code's
components cycle through the module axes, so the first ``d`` components of a ``D``-dim code
are a ``d``-dim code: :func:`evaluate_scene` answers every query at every ``d`` of a sweep in
one pass from block partial sums (:mod:`.sweep`), one
compilation for the whole accuracy-vs-D curve.

Example::

    codes = make_scene_codes(jax.random.key(0), 1024, n_objects=8)
    scene = random_scene(0, n_events=24, n_objects=8, n_times=10)
    memory = store_scene(codes, scene)
    grid = bin_centres(20, scene.arena_m)
    sims = where_similarity(memory, codes, scene.objects[:1], scene.times[:1], grid)
    xy = grid[jnp.argmax(sims, axis=-1)]  # ~ scene.xy[0], within one 5 cm bin
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Complex, Float, Int

from .algebra import bind, fpe_encode, random_fpe_phases, similarity_matrix, unbind
from .gridcells import GridCode, make_grid_code
from .sweep import block_similarity, prefix_similarity, sweep_block

__all__ = [
    "POSITION_CODES",
    "WHEN_THRESHOLD",
    "FPEPositionCode",
    "Scene",
    "SceneCodes",
    "bin_centres",
    "evaluate_scene",
    "first_appearance",
    "make_position_code",
    "make_scene_codes",
    "position_block_similarity",
    "random_scene",
    "scene_accuracy",
    "scene_accuracy_by_dim",
    "score_scene",
    "store_scene",
    "what_similarity",
    "when_profile",
    "where_similarity",
]

POSITION_CODES = ("grid cells", "random FPE")
PositionKind = Literal["grid cells", "random FPE"]


# --------------------------------------------------------------------------- position codes
class FPEPositionCode(eqx.Module):
    """A generic 2-D fractional power encoding ``p(x)_j = exp(i k_j . x)`` with random wave
    vectors ``k_j`` (rad/m), uniform in ``2 pi * bandwidth * [-1/2, 1/2)^2``: its kernel is
    ``sinc(bandwidth dx) sinc(bandwidth dy)`` (first zero at ``1 / bandwidth`` metres). Same
    read-out interface as :class:`~.gridcells.GridCode` (``encode``, ``similarity_to``)."""

    wave_vectors: Float[Array, "D 2"]

    @property
    def dim(self) -> int:
        return int(self.wave_vectors.shape[0])

    def encode(self, xy: Float[Array, "... 2"]) -> Complex[Array, "... D"]:
        """The code of positions ``xy`` (m), ``(..., 2) -> (..., D)``."""
        return fpe_encode(self.wave_vectors, jnp.asarray(xy, jnp.float32))

    def similarity_to(
        self, z: Complex[Array, "... D"], candidates_xy: Float[Array, "N 2"]
    ) -> Float[Array, "... N"]:
        """``sim(z, encode(y))`` for every candidate ``y`` (m)."""
        return similarity_matrix(z, self.encode(candidates_xy))


PositionCode = GridCode | FPEPositionCode


def make_position_code(
    key: jax.Array, dim: int, kind: PositionKind = "grid cells", *, bandwidth_per_m: float = 8.0
) -> PositionCode:
    """A position code of dimension ``dim``: the GC-VSA grid code (default modules of
    :func:`.gridcells.make_grid_code`) or a random FPE of the given bandwidth (1/m)."""
    if kind == "grid cells":
        return make_grid_code(key, dim=int(dim))
    if kind == "random FPE":
        if not bandwidth_per_m > 0:
            raise ValueError(f"bandwidth_per_m must be > 0 (1/m), got {bandwidth_per_m!r}")
        return FPEPositionCode(random_fpe_phases(key, int(dim), 2, bandwidth_per_m))
    raise ValueError(f"position code must be one of {POSITION_CODES}, got {kind!r}")


# --------------------------------------------------------------------------- codes
class SceneCodes(eqx.Module):
    """The codebooks of a scene memory: objects ``(N, D)``, the time FPE phases ``(D, 1)``
    (uniform in ``[-pi, pi)``: one step is the kernel's first zero) and the position code."""

    objects: Complex[Array, "N D"]
    time_phases: Float[Array, "D 1"]
    position: PositionCode

    @property
    def dim(self) -> int:
        return int(self.objects.shape[-1])

    @property
    def n_objects(self) -> int:
        return int(self.objects.shape[0])

    def time(self, t: Float[Array, "*T"]) -> Complex[Array, "... D"]:
        """The time code ``tau(t)`` of time steps ``t`` (may be fractional)."""
        return fpe_encode(self.time_phases, jnp.asarray(t, jnp.float32)[..., None])

    def event(self, obj: Int[Array, "*E"], xy: Float[Array, "... 2"], t: Array) -> Array:
        """The event code ``o ⊙ p(x) ⊙ tau(t)``."""
        return bind(bind(self.objects[obj], self.position.encode(xy)), self.time(t))


def make_scene_codes(
    key: jax.Array, dim: int, n_objects: int, position: PositionKind = "grid cells"
) -> SceneCodes:
    """Draw object, time and position codes at dimension ``dim``."""
    if int(dim) < 36:
        raise ValueError(f"dim must be >= 36 (the grid code needs one component per module axis), "
                         f"got {dim}")  # fmt: skip
    if int(n_objects) < 1:
        raise ValueError(f"n_objects must be >= 1, got {n_objects}")
    return _make_scene_codes(key, int(dim), int(n_objects), position)


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _make_scene_codes(key: jax.Array, dim: int, n_objects: int, position: str) -> SceneCodes:
    k_codes, k_pos = jax.random.split(key)
    # one draw for the object phases and the time phases (one random kernel to compile)
    phases = jax.random.uniform(
        k_codes, (int(n_objects) + 1, int(dim)), minval=-jnp.pi, maxval=jnp.pi
    )
    return SceneCodes(
        objects=jnp.exp(1j * phases[:-1]).astype(jnp.complex64),
        time_phases=phases[-1][:, None],
        position=make_position_code(k_pos, int(dim), position),
    )


# --------------------------------------------------------------------------- scenes
@dataclasses.dataclass(frozen=True)
class Scene:
    """Events ``(object, x, y, time step)``; every (object, time) pair occurs at most once."""

    objects: np.ndarray  # (E,) int
    xy: np.ndarray  # (E, 2) float, metres
    times: np.ndarray  # (E,) int, time steps
    n_objects: int
    n_times: int
    arena_m: float = 1.0

    @property
    def n_events(self) -> int:
        return int(self.objects.shape[0])

    def first_time(self, obj: int) -> int:
        """The first time step ``obj`` was seen (-1 if never)."""
        ts = self.times[self.objects == obj]
        return int(ts.min()) if ts.size else -1

    def padded(self, n_max: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(objects, xy, times, weights)`` padded to ``n_max`` events (weight 0), so a
        jitted store sees one shape for every load up to ``n_max``."""
        if self.n_events > n_max:
            raise ValueError(f"the scene has {self.n_events} events, more than n_max={n_max}")
        pad = n_max - self.n_events
        weights = np.r_[np.ones(self.n_events), np.zeros(pad)].astype(np.float32)
        return (
            np.r_[self.objects, np.zeros(pad, int)].astype(np.int32),
            np.r_[self.xy, np.zeros((pad, 2))].astype(np.float32),
            np.r_[self.times, np.zeros(pad, int)].astype(np.float32),
            weights,
        )


def random_scene(
    seed: int, n_events: int, n_objects: int, n_times: int, arena_m: float = 1.0
) -> Scene:
    """``n_events`` distinct (object, time step) pairs drawn at random, each at a uniform
    random position in the ``arena_m`` x ``arena_m`` arena; events sorted by time."""
    if not (n_objects >= 1 and n_times >= 1):
        raise ValueError(f"need n_objects >= 1 and n_times >= 1, got {n_objects}, {n_times}")
    if not 1 <= n_events <= n_objects * n_times:
        raise ValueError(
            f"n_events must be in [1, n_objects x n_times = {n_objects * n_times}] (each object "
            f"is seen at most once per time step), got {n_events}"
        )
    if not (math.isfinite(arena_m) and arena_m > 0):
        raise ValueError(f"arena_m must be a finite number > 0 (m), got {arena_m!r}")
    rng = np.random.default_rng(int(seed))
    pairs = rng.choice(n_objects * n_times, size=int(n_events), replace=False)
    objects, times = pairs % n_objects, pairs // n_objects
    order = np.lexsort((objects, times))
    xy = rng.uniform(0.0, arena_m, size=(int(n_events), 2))
    return Scene(objects[order], xy, times[order], int(n_objects), int(n_times), float(arena_m))


def bin_centres(n_bins: int, arena_m: float = 1.0) -> np.ndarray:
    """Centres of an ``n_bins`` x ``n_bins`` grid over the arena, ``(n_bins**2, 2)``, row-major
    (x fastest); bin width ``arena_m / n_bins``."""
    c = (np.arange(int(n_bins)) + 0.5) * arena_m / n_bins
    gx, gy = np.meshgrid(c, c)
    return np.stack([gx.ravel(), gy.ravel()], axis=-1).astype(np.float32)


# --------------------------------------------------------------------------- memory & queries
def store_scene(
    codes: SceneCodes,
    scene: Scene | tuple[Array, Array, Array, Array],
    *,
    noise: float | Array = 0.0,
    key: jax.Array | None = None,
) -> Complex[Array, " D"]:
    """The trace ``M = sum_e w_e o_e ⊙ p(x_e) ⊙ tau(t_e) + noise * n`` (``n`` circular
    standard complex Gaussian; ``noise`` in units of one stored item). ``scene`` is a
    :class:`Scene` or the padded ``(objects, xy, times, weights)`` arrays."""
    objects, xy, times, weights = (
        scene.padded(scene.n_events) if isinstance(scene, Scene) else scene
    )
    if isinstance(scene, Scene) and (objects.size and objects.max() >= codes.n_objects):
        raise ValueError(
            f"the scene uses object {int(objects.max())} but the codebook has only "
            f"{codes.n_objects} objects"
        )
    events = codes.event(jnp.asarray(objects), jnp.asarray(xy), jnp.asarray(times))
    memory = jnp.sum(events * jnp.asarray(weights)[:, None], axis=0)
    if not isinstance(noise, jax.core.Tracer) and float(noise) == 0.0:
        return memory.astype(jnp.complex64)
    if key is None:
        raise ValueError("noise > 0 needs a PRNG key")
    return (memory + noise * jax.random.normal(key, memory.shape, jnp.complex64)).astype(
        jnp.complex64
    )


def where_similarity(
    memory: Complex[Array, " D"],
    codes: SceneCodes,
    obj: Int[Array, " Q"],
    t: Float[Array, " Q"],
    candidates: Float[Array, "G 2"],
) -> Float[Array, "Q G"]:
    """ "Where was ``obj`` at ``t``": similarity of ``M ⊙ conj(o) ⊙ conj(tau(t))`` to the
    position code of every candidate position (m)."""
    key = bind(codes.objects[jnp.asarray(obj)], codes.time(t))
    return codes.position.similarity_to(unbind(memory, key), jnp.asarray(candidates))


def what_similarity(
    memory: Complex[Array, " D"],
    codes: SceneCodes,
    xy: Float[Array, "Q 2"],
    t: Float[Array, " Q"],
) -> Float[Array, "Q N"]:
    """ "What was at ``xy`` at ``t``": similarity of ``M ⊙ conj(p(xy)) ⊙ conj(tau(t))`` to
    every object code."""
    key = bind(codes.position.encode(jnp.asarray(xy, jnp.float32)), codes.time(t))
    return similarity_matrix(unbind(memory, key), codes.objects)


def when_profile(
    memory: Complex[Array, " D"],
    codes: SceneCodes,
    obj: Int[Array, " Q"],
    candidates: Float[Array, "G 2"],
    n_times: int,
) -> Float[Array, "Q T"]:
    """ "When was ``obj`` seen": for every time step ``0 .. n_times-1`` the best similarity of
    ``M ⊙ conj(o) ⊙ conj(tau(t))`` over the candidate positions (``(Q, n_times)``)."""
    q = unbind(memory, codes.objects[jnp.asarray(obj)])  # (Q, D)
    steps = codes.time(jnp.arange(n_times, dtype=jnp.float32))  # (T, D)
    sims = codes.position.similarity_to(unbind(q[:, None, :], steps[None]), candidates)
    return jnp.max(sims, axis=-1)


#: Presence threshold of a time profile: between 0 (absent) and the weakest exact match on
#: the decoding grid (the position kernel half a bin diagonal away, about 0.88 for 20 bins/m).
WHEN_THRESHOLD = 0.65


def first_appearance(
    profile: Float[Array, "... T"], threshold: float = WHEN_THRESHOLD
) -> Int[Array, "*Q"]:
    """The first time step whose profile value exceeds ``threshold`` (the arg-max step when
    none does: an answer is always given)."""
    profile = jnp.asarray(profile)
    above = profile > threshold
    return jnp.where(jnp.any(above, axis=-1), jnp.argmax(above, axis=-1),
                     jnp.argmax(profile, axis=-1))  # fmt: skip


# --------------------------------------------------------------------------- dimension sweeps
def position_block_similarity(
    code: PositionCode, z: Complex[Array, "... D"], candidates: Float[Array, "G 2"], block: int
) -> Float[Array, "... G K"]:
    """:func:`block_similarity` of ``z`` to the position codes of ``candidates``; for a
    :class:`~.gridcells.GridCode` through the per-block module-axis sums (``O(3M)`` per
    candidate and block instead of ``O(block)``)."""
    candidates = jnp.asarray(candidates, jnp.float32)
    if not isinstance(code, GridCode):
        return block_similarity(z, code.encode(candidates), block)
    dim = z.shape[-1]
    n_blocks = dim // block
    shift = jnp.exp(-1j * code.offsets).reshape((1,) * (z.ndim - 1) + (dim,))
    w = (z * shift).reshape((*z.shape[:-1], n_blocks, block))
    onehot = jax.nn.one_hot(code.component_axis, code.n_axes, dtype=jnp.complex64)
    sums = jnp.einsum("...kb,kba->...ka", w, onehot.reshape(n_blocks, block, code.n_axes))
    basis = jnp.exp(-1j * (candidates @ code.axis_wave_vectors.T))  # (G, A)
    return jnp.real(jnp.einsum("...ka,ga->...gk", sums, basis))


# --------------------------------------------------------------------------- evaluation
@functools.partial(jax.jit, static_argnames=("dims", "n_times"))
def evaluate_scene(
    codes: SceneCodes,
    key: jax.Array,
    objects: Int[Array, " E"],
    xy: Float[Array, "E 2"],
    times: Float[Array, " E"],
    weights: Float[Array, " E"],
    candidates: Float[Array, "G 2"],
    noise: Float[Array, ""],
    dims: tuple[int, ...],
    n_times: int,
) -> tuple[Int[Array, "n_dims E"], Int[Array, "n_dims E"], Float[Array, "n_dims N T"]]:
    """Store the (padded) events and ask every query once, at each dimension in ``dims``
    (the first ``d`` components of the codes, memory and noise): the decoded position index
    of every event (where), the decoded object of every event (what, asked at the true
    position and time), and the time profile of every object (when). One compilation per
    shape and ``dims``; load and noise are traced."""
    block = sweep_block(dims)
    memory = store_scene(codes, (objects, xy, times, weights), noise=noise, key=key)
    q_where = unbind(memory, bind(codes.objects[objects], codes.time(times)))
    where = position_block_similarity(codes.position, q_where, candidates, block)
    q_what = unbind(memory, bind(codes.position.encode(xy), codes.time(times)))
    what = block_similarity(q_what, codes.objects, block)
    q_obj = unbind(memory, codes.objects)  # (N, D)
    q_when = unbind(q_obj[:, None, :], codes.time(jnp.arange(n_times, dtype=jnp.float32))[None])
    when = position_block_similarity(codes.position, q_when, candidates, block)
    return (
        jnp.argmax(prefix_similarity(where, dims, block), axis=-1),
        jnp.argmax(prefix_similarity(what, dims, block), axis=-1),
        jnp.max(prefix_similarity(when, dims, block), axis=-1),
    )


def score_scene(
    scene: Scene,
    where_index: np.ndarray,
    what_index: np.ndarray,
    profile: np.ndarray,
    candidates: np.ndarray,
    bin_m: float,
    threshold: float = WHEN_THRESHOLD,
) -> dict[str, float]:
    """Accuracies of decoded answers for every event and object pair.

    ``where``: fraction of events whose decoded position lies within one bin (``bin_m``) of
    the true one; ``where_error_bins``: mean error in bins; ``what``: fraction of events whose
    object is recovered from (true position, time); ``first``: fraction of object pairs with
    different true first appearances ordered correctly by the decoded first appearances.
    """
    e = scene.n_events
    err = np.linalg.norm(candidates[np.asarray(where_index)[:e]] - scene.xy, axis=-1) / bin_m
    what = np.asarray(what_index)[:e] == scene.objects
    first_true = np.array([scene.first_time(k) for k in range(scene.n_objects)])
    first_dec = np.asarray(first_appearance(np.asarray(profile), threshold))
    seen = np.flatnonzero(first_true >= 0)
    hits = [
        (first_dec[a] < first_dec[b]) == (first_true[a] < first_true[b])
        and first_dec[a] != first_dec[b]
        for i, a in enumerate(seen)
        for b in seen[i + 1 :]
        if first_true[a] != first_true[b]
    ]
    return {
        "where": float(np.mean(err <= 1.0)),
        "where_error_bins": float(np.mean(err)),
        "what": float(np.mean(what)),
        "first": float(np.mean(hits)) if hits else float("nan"),
        "n_events": e,
        "n_pairs": len(hits),
        "first_hits": int(np.sum(hits)),
    }


def scene_accuracy_by_dim(
    dims: Sequence[int],
    *,
    n_events: int,
    n_objects: int = 8,
    n_times: int = 10,
    n_bins: int = 20,
    arena_m: float = 1.0,
    noise: float = 0.0,
    position: PositionKind = "grid cells",
    seeds: Sequence[int] = (0,),
    n_max: int | None = None,
    threshold: float = WHEN_THRESHOLD,
) -> dict[int, dict[str, float]]:
    """Mean query accuracies (:func:`score_scene`) over ``seeds`` at each dimension in
    ``dims``: per seed a fresh scene and fresh codes drawn at ``max(dims)`` and truncated.

    One compilation per ``(dims, n_objects, n_times, n_bins, n_max, position)``; the load
    ``n_events`` (padded to ``n_max``) and ``noise`` are traced."""
    dims = tuple(int(d) for d in dims)
    sweep_block(dims)
    n_max = int(n_events if n_max is None else n_max)
    if not (math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    grid = bin_centres(n_bins, arena_m)
    totals: dict[int, dict[str, float]] = {d: {} for d in dims}
    for seed in seeds:
        scene = random_scene(int(seed), n_events, n_objects, n_times, arena_m)
        k_codes, k_noise = jax.random.split(jax.random.key(int(seed)))
        codes = make_scene_codes(k_codes, max(dims), n_objects, position)
        where, what, profile = evaluate_scene(
            codes, k_noise, *map(jnp.asarray, scene.padded(n_max)), jnp.asarray(grid),
            jnp.float32(noise), dims, int(n_times),
        )  # fmt: skip
        for i, d in enumerate(dims):
            scores = score_scene(
                scene, where[i], what[i], profile[i], grid, arena_m / n_bins, threshold
            )
            for k, v in scores.items():
                if k not in ("first", "n_pairs", "first_hits"):
                    totals[d][k] = totals[d].get(k, 0.0) + v / len(seeds)
            for k in ("n_pairs", "first_hits"):
                totals[d][k] = totals[d].get(k, 0) + scores[k]
    for d in dims:  # pairs pooled over seeds (a scene may have none)
        pairs = totals[d]["n_pairs"]
        totals[d]["first"] = totals[d].pop("first_hits") / pairs if pairs else float("nan")
    return totals


def scene_accuracy(dim: int, **kwargs: object) -> dict[str, float]:
    """:func:`scene_accuracy_by_dim` at one dimension."""
    return scene_accuracy_by_dim((dim,), **kwargs)[int(dim)]  # type: ignore[arg-type]
