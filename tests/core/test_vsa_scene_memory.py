"""Spatio-temporal scene memory (snnviz.core.vsa.scene_memory): exact single-event retrieval,
crosstalk scaling, the dimension-sweep shortcut against truncated codes, a NumPy reference of
the queries, and accuracy vs D and load."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnviz.core.vsa import random_phasors, similarity, similarity_matrix, sweep
from snnviz.core.vsa import scene_memory as sm
from snnviz.core.vsa.gridcells import GridCode
from tests.helpers import count_compilations

GRID = sm.bin_centres(20)


def one_event_scene(obj: int, xy: tuple[float, float], t: int) -> sm.Scene:
    return sm.Scene(np.array([obj]), np.array([xy], float), np.array([t]), 4, 5)


# -- scenes ----------------------------------------------------------------------------------------
def test_random_scene_has_distinct_object_times_inside_the_arena():
    scene = sm.random_scene(3, n_events=40, n_objects=5, n_times=10, arena_m=2.0)
    pairs = set(zip(scene.objects.tolist(), scene.times.tolist(), strict=True))
    assert len(pairs) == 40 and scene.n_events == 40
    assert np.all((scene.xy >= 0) & (scene.xy <= 2.0))
    assert np.all(np.diff(scene.times) >= 0)
    assert scene.first_time(int(scene.objects[0])) == scene.times[0]
    objects, xy, times, weights = scene.padded(64)
    assert objects.shape == times.shape == (64,) and xy.shape == (64, 2)
    assert weights.sum() == 40
    with pytest.raises(ValueError, match=r"n_events must be in \[1, n_objects x n_times = 50\]"):
        sm.random_scene(0, n_events=51, n_objects=5, n_times=10)
    with pytest.raises(ValueError, match="more than n_max=8"):
        scene.padded(8)


def test_bin_centres_tile_the_arena():
    grid = sm.bin_centres(4, 1.0)
    assert grid.shape == (16, 2)
    np.testing.assert_allclose(grid[:4, 0], [0.125, 0.375, 0.625, 0.875])
    np.testing.assert_allclose(grid[::4, 1], [0.125, 0.375, 0.625, 0.875])


def test_time_code_is_orthogonal_one_step_away():
    codes = sm.make_scene_codes(jax.random.key(0), 2048, 4)
    steps = codes.time(jnp.arange(10.0))
    sims = np.asarray(similarity(steps[:, None], steps[None]))
    np.testing.assert_allclose(np.diag(sims), 1.0, atol=1e-5)
    off = sims[~np.eye(10, dtype=bool)]
    assert np.abs(off).max() < 4.5 / np.sqrt(2 * 2048)  # sinc(k) = 0 at integer k


# -- queries -------------------------------------------------------------------------------------
@pytest.mark.parametrize("position", sm.POSITION_CODES)
def test_a_single_event_is_recovered_exactly(position):
    codes = sm.make_scene_codes(jax.random.key(1), 1024, 4, position)
    memory = sm.store_scene(codes, one_event_scene(2, (0.31, 0.72), 3))
    where = np.asarray(sm.where_similarity(memory, codes, [2], [3.0], GRID))[0]
    assert np.linalg.norm(GRID[np.argmax(where)] - (0.31, 0.72)) <= 0.05  # within one bin
    what = np.asarray(sm.what_similarity(memory, codes, jnp.array([[0.31, 0.72]]), [3.0]))[0]
    assert what[2] == pytest.approx(1.0, abs=1e-4) and np.argmax(what) == 2
    profile = np.asarray(sm.when_profile(memory, codes, [2, 1], GRID, 5))
    assert int(np.argmax(profile[0])) == 3 and profile[0, 3] > 0.85
    assert profile[1].max() < sm.WHEN_THRESHOLD  # object 1 was never seen


def test_wrong_objects_see_crosstalk_of_variance_load_over_2d():
    """One event per time step (so no two events share a time and a nearby place): every
    stored event adds N(0, 1/(2D)) to a wrong object's similarity."""
    dim, load = 1024, 32
    wrong = []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        scene = sm.Scene(rng.integers(0, 16, load), rng.uniform(0, 1, (load, 2)),
                         np.arange(load), 16, load)  # fmt: skip
        codes = sm.make_scene_codes(jax.random.key(seed), dim, 16)
        memory = sm.store_scene(codes, scene)
        sims = np.asarray(sm.what_similarity(memory, codes, scene.xy, scene.times))
        mask = np.ones_like(sims, bool)
        mask[np.arange(load), scene.objects] = False
        wrong.append(sims[mask])
    assert np.var(np.concatenate(wrong)) == pytest.approx(load / (2 * dim), rel=0.15)


def test_queries_match_a_numpy_reference():
    codes = sm.make_scene_codes(jax.random.key(2), 512, 6)
    scene = sm.random_scene(2, 12, 6, 5)
    memory = np.asarray(sm.store_scene(codes, scene), np.complex128)
    obj = np.asarray(codes.objects, np.complex128)
    place = np.asarray(codes.position.encode(scene.xy), np.complex128)
    grid_codes = np.asarray(codes.position.encode(GRID), np.complex128)
    phases = np.asarray(codes.time_phases, np.float64)[:, 0]

    def time(t):
        return np.exp(1j * phases * t)

    reference_memory = sum(obj[o] * place[e] * time(t)
                           for e, (o, t) in enumerate(zip(scene.objects, scene.times, strict=True)))  # fmt: skip
    np.testing.assert_allclose(memory, reference_memory, atol=1e-4)
    for e in range(scene.n_events):
        o, t = scene.objects[e], scene.times[e]
        q = reference_memory * np.conj(obj[o] * time(t))
        ref_where = (q[None] * np.conj(grid_codes)).sum(-1).real / 512
        ours = np.asarray(sm.where_similarity(jnp.asarray(memory), codes, [o], [float(t)], GRID))
        np.testing.assert_allclose(ours[0], ref_where, atol=2e-4)
        q = reference_memory * np.conj(place[e] * time(t))
        ref_what = (q[None] * np.conj(obj)).sum(-1).real / 512
        ours = sm.what_similarity(jnp.asarray(memory), codes, scene.xy[e : e + 1], [float(t)])
        np.testing.assert_allclose(np.asarray(ours)[0], ref_what, atol=2e-4)


def test_first_appearance_takes_the_first_step_above_threshold():
    profile = np.array([[0.1, 0.7, 0.9, 0.2], [0.2, 0.3, 0.4, 0.5], [0.9, 0.1, 0.1, 0.8]])
    np.testing.assert_array_equal(sm.first_appearance(profile, 0.65), [1, 3, 0])


# -- dimension sweeps ----------------------------------------------------------------------------
def test_block_prefix_similarity_equals_the_truncated_similarity():
    q = random_phasors(jax.random.key(3), (5, 256))
    book = random_phasors(jax.random.key(4), (7, 256))
    dims = (32, 96, 256)
    partials = sweep.block_similarity(q, book, sweep.sweep_block(dims))
    got = sweep.prefix_similarity(partials, dims, sweep.sweep_block(dims))
    for i, d in enumerate(dims):
        np.testing.assert_allclose(got[i], similarity_matrix(q[:, :d], book[:, :d]), atol=1e-5)
    assert sweep.sweep_block(dims) == 32
    with pytest.raises(ValueError, match="not a multiple of the block"):
        sweep.block_similarity(q[:, :250], book[:, :250], 32)


def test_a_grid_code_prefix_is_the_grid_code_of_lower_dimension():
    codes = sm.make_scene_codes(jax.random.key(5), 512, 3)
    code: GridCode = codes.position
    z = codes.position.encode(jnp.array([[0.2, 0.4], [0.8, 0.1]])) * codes.objects[:2]
    dims = (64, 192, 512)
    got = sweep.prefix_similarity(sm.position_block_similarity(code, z, GRID, 64), dims, 64)
    for i, d in enumerate(dims):
        small = GridCode(code.scales, code.orientations, code.module_wave_vectors,
                         code.offsets[:d], code.component_axis[:d])  # fmt: skip
        np.testing.assert_allclose(got[i], small.similarity_to(z[:, :d], GRID), atol=1e-4)


def test_accuracy_rises_with_dimension_and_falls_with_load():
    acc = sm.scene_accuracy_by_dim((64, 256, 1024), n_events=24, seeds=range(3), n_max=64)
    for key in ("where", "what", "first"):
        assert acc[64][key] < acc[1024][key], key
        assert acc[1024][key] >= 0.95, (key, acc[1024])
    assert acc[64]["where_error_bins"] > 2 * acc[1024]["where_error_bins"]
    heavy = sm.scene_accuracy_by_dim((64, 256, 1024), n_events=64, seeds=range(3), n_max=64)
    assert heavy[256]["where"] < acc[256]["where"]


def test_load_and_noise_do_not_recompile():
    common = dict(n_objects=8, n_times=10, seeds=(0,), n_max=64)
    sm.scene_accuracy_by_dim((64, 128), n_events=10, **common)
    with count_compilations() as log:
        noisy = sm.scene_accuracy_by_dim((64, 128), n_events=40, noise=3.0, **common)
    assert log.matching("evaluate_scene") == 0, log.names
    assert noisy[128]["where"] < 1.0


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="position code must be one of"):
        sm.make_position_code(jax.random.key(0), 128, "hexagons")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dim must be >= 36"):
        sm.make_scene_codes(jax.random.key(0), 16, 4)
    codes = sm.make_scene_codes(jax.random.key(0), 64, 2)
    with pytest.raises(ValueError, match="uses object 3 but the codebook has only 2"):
        sm.store_scene(codes, one_event_scene(3, (0.5, 0.5), 0))
    with pytest.raises(ValueError, match="noise must be"):
        sm.scene_accuracy(64, n_events=4, noise=-1.0)
