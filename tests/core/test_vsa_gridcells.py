"""GC-VSA grid-cell code: geometry, binding = translation, decoding, cleanup, path integration
by binding and by phase-coded spikes."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnviz.core.sim import advance
from snnviz.core.vsa import bind, similarity
from snnviz.core.vsa.gridcells import (
    GridNavigator,
    Walk,
    decode_records,
    geometric_scales,
    make_grid_cells,
    make_grid_code,
    project_module_phases,
    random_walk,
    spiking_readout,
    wrap_phase,
)
from tests.helpers import count_compilations

SCALES = geometric_scales(0.25, 1.4, 4)
# Only two chunk lengths are compiled (the page's 5-step chunk and the reproduction's 1000).
SHORT, LONG = 5, 1000


def run(nav, state, n_steps):
    """``advance`` in chunks of SHORT or LONG steps; records concatenated."""
    chunk = LONG if n_steps % LONG == 0 else SHORT
    assert n_steps % chunk == 0
    recs = []
    for _ in range(n_steps // chunk):
        state, rec = advance(nav, state, chunk)
        recs.append(rec)
    return state, jax.tree.map(lambda *a: jnp.concatenate(a), *recs)


@pytest.fixture(scope="module")
def code():
    return make_grid_code(jax.random.key(0), dim=1024, scales=SCALES, n_orientations=3)


def _walk(speed=0.3, sd=0.1, dt_ms=20.0):
    return Walk(
        box=jnp.ones(2),
        mean_speed=speed,
        speed_sd=sd,
        tau_speed_ms=1000.0,
        turn_sd=2.0,
        dt_ms=dt_ms,
    )


def _nav(code, *, phase_noise=0.0, velocity_noise=0.0, cleanup=0.0, speed=0.3, sd=0.1, n_sub=40):
    cells = make_grid_cells(jax.random.key(1), code, 2)
    return GridNavigator(
        code,
        cells,
        _walk(speed, sd),
        phase_noise=phase_noise,
        velocity_noise=velocity_noise,
        cleanup=cleanup,
        coinc_window_ms=6.0,
        n_sub=n_sub,
    )


# -- geometry ---------------------------------------------------------------------------------
def test_wave_vectors_form_hexagonal_modules(code):
    k = np.asarray(code.module_wave_vectors)  # (S, O, 3, 2)
    lam = np.asarray(SCALES)
    np.testing.assert_allclose(
        np.linalg.norm(k, axis=-1),
        np.broadcast_to(4 * np.pi / (np.sqrt(3) * lam)[:, None, None], k.shape[:-1]),
        rtol=1e-6,
    )
    np.testing.assert_allclose(k[..., 2, :], k[..., 1, :] - k[..., 0, :], atol=1e-4)
    # the three gratings' sum is 3 exactly on the lattice of spacing lambda: six neighbours at
    # distance lambda along phi - 30 deg + n 60 deg leave every module phase unchanged
    phi = np.asarray(code.orientations)
    for s in range(len(lam)):
        for o in range(len(phi)):
            for n in range(6):
                ang = phi[o] - np.pi / 6 + n * np.pi / 3
                a = lam[s] * np.array([np.cos(ang), np.sin(ang)])
                phases = k[s, o] @ a
                np.testing.assert_allclose(np.cos(phases), 1.0, atol=1e-4)
            # ... and half-way between two lattice points the sum is far below the peak
            ang = phi[o] - np.pi / 6
            half = 0.5 * lam[s] * np.array([np.cos(ang), np.sin(ang)])
            assert np.sum(np.cos(k[s, o] @ half)) < 0.0


def test_encode_is_a_unit_phasor_fpe(code):
    xy = jax.random.uniform(jax.random.key(3), (5, 7, 2))
    z = code.encode(xy)
    assert z.shape == (5, 7, 1024) and z.dtype == jnp.complex64
    np.testing.assert_allclose(np.abs(z), 1.0, atol=1e-6)
    expected = np.exp(
        1j * (np.asarray(xy) @ np.asarray(code.wave_vectors).T + np.asarray(code.offsets))
    )
    np.testing.assert_allclose(np.asarray(z), expected, atol=2e-5)


def test_every_module_axis_gets_components_in_cyclic_order():
    code = make_grid_code(jax.random.key(0), dim=100, scales=(0.3, 0.5), n_orientations=2)
    counts = np.bincount(np.asarray(code.component_axis), minlength=code.n_axes)
    assert code.n_axes == 12 and counts.sum() == 100 and counts.max() - counts.min() <= 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dim": 30}, "dim must be an integer >= 3 x 4 scales x 3 orientations = 36"),
        ({"scales": (0.3, -1.0)}, "scales must be"),
        ({"n_orientations": 0}, "n_orientations must be"),
    ],
)
def test_bad_code_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_grid_code(jax.random.key(0), **{"scales": SCALES, **kwargs})


def test_bad_positions_raise(code):
    with pytest.raises(ValueError, match="trailing axis of length 2"):
        code.encode(jnp.zeros((4, 3)))
    with pytest.raises(ValueError, match="dimension 1024"):
        code.axis_sums(jnp.zeros((4, 10), jnp.complex64))


# -- algebra ----------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(5))
def test_binding_with_the_velocity_phasor_translates(code, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (8, 2)).astype(np.float32)
    v = rng.normal(0, 0.4, (8, 2)).astype(np.float32)
    dt = 0.02
    moved = bind(code.encode(x), code.velocity_phasor(v, dt))
    np.testing.assert_allclose(np.asarray(moved), np.asarray(code.encode(x + v * dt)), atol=5e-5)
    # and unbinding goes back: a displacement and its negative cancel
    back = bind(moved, code.displacement_phasor(-v * dt))
    np.testing.assert_allclose(np.asarray(back), np.asarray(code.encode(x)), atol=5e-5)


def test_similarity_kernel_matches_the_full_dot_product(code):
    z = code.encode(jnp.array([[0.3, 0.6], [0.9, 0.1]]))
    cand = jax.random.uniform(jax.random.key(4), (50, 2))
    fast = code.similarity_to(z, cand)
    full = similarity(z[:, None, :], code.encode(cand)[None, :, :])
    np.testing.assert_allclose(np.asarray(fast), np.asarray(full), atol=2e-5)
    # the kernel depends on the displacement only: the mean of cos(k . dx) over components
    dx = np.asarray(cand) - np.array([0.3, 0.6])
    kernel = np.mean(np.cos(dx @ np.asarray(code.wave_vectors).T), axis=-1)
    np.testing.assert_allclose(np.asarray(fast[0]), kernel, atol=2e-5)


def test_axis_sums_match_a_naive_loop_for_a_ragged_dimension():
    code = make_grid_code(jax.random.key(2), dim=100, scales=(0.3, 0.5), n_orientations=2)
    z = np.asarray(code.encode(jax.random.uniform(jax.random.key(5), (3, 2)))) * np.exp(
        1j * np.random.default_rng(0).normal(0, 0.3, (3, 100))
    )
    ref = np.zeros((3, code.n_axes), complex)
    for j in range(100):
        ref[:, int(code.component_axis[j])] += z[:, j] * np.exp(-1j * float(code.offsets[j]))
    np.testing.assert_allclose(
        np.asarray(code.axis_sums(jnp.asarray(z, jnp.complex64))), ref, atol=1e-4
    )


def test_the_code_is_unambiguous_in_a_1m_box(code):
    # for every displacement in a 1 m box the kernel exceeds 0.45 only in the central lobe
    g = np.linspace(-1, 1, 161)
    dx = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    k = np.asarray(code.similarity_to(code.encode(jnp.zeros(2)), jnp.asarray(dx)))
    assert k.max() == pytest.approx(1.0, abs=1e-5)
    assert np.all(k[np.linalg.norm(dx, axis=1) > 0.1] < 0.45)


def test_decode_recovers_positions(code):
    x = jax.random.uniform(jax.random.key(6), (200, 2), minval=0.0, maxval=1.0)
    est = code.decode_box(code.encode(x), (0.0, 0.0), (1.0, 1.0), n_coarse=41, levels=4)
    assert float(jnp.max(jnp.linalg.norm(est - x, axis=-1))) < 1e-3  # 1 mm
    cand = jnp.stack(jnp.meshgrid(jnp.linspace(0, 1, 11), jnp.linspace(0, 1, 11)), -1)
    cand = cand.reshape(-1, 2)
    np.testing.assert_array_equal(
        np.asarray(code.decode(code.encode(cand[17]), cand)), np.asarray(cand[17])
    )


def test_decode_survives_heavy_component_noise(code):
    x = jax.random.uniform(jax.random.key(7), (50, 2))
    noise = jnp.exp(1j * 1.0 * jax.random.normal(jax.random.key(8), (50, 1024)))
    est = code.decode_box(code.encode(x) * noise)
    assert float(jnp.max(jnp.linalg.norm(est - x, axis=-1))) < 0.02


# -- cleanup ----------------------------------------------------------------------------------
def test_projection_is_orthogonal_and_idempotent():
    theta = jax.random.uniform(jax.random.key(9), (100, 3), minval=-1.0, maxval=1.0)
    p = project_module_phases(theta)
    np.testing.assert_allclose(np.asarray(p[:, 0] - p[:, 1] + p[:, 2]), 0.0, atol=1e-6)
    d = np.asarray(theta - p)
    np.testing.assert_allclose(d[:, 0], -d[:, 1], atol=1e-6)  # moved along (1, -1, 1)
    np.testing.assert_allclose(d[:, 0], d[:, 2], atol=1e-6)
    np.testing.assert_allclose(np.asarray(project_module_phases(p)), np.asarray(p), atol=1e-6)


def test_cleanup_fixes_clean_codes_and_removes_phase_noise(code):
    x = jax.random.uniform(jax.random.key(10), (20, 2))
    z = code.encode(x)
    np.testing.assert_allclose(np.asarray(code.cleanup(z)), np.asarray(z), atol=5e-5)
    noisy = z * jnp.exp(1j * 0.5 * jax.random.normal(jax.random.key(11), z.shape))
    cleaned = code.cleanup(noisy)
    np.testing.assert_allclose(np.abs(np.asarray(cleaned)), 1.0, atol=1e-5)
    before = similarity(noisy, z)
    after = similarity(cleaned, z)
    # phase noise of s.d. 0.5 rad: similarity exp(-0.5^2 / 2) ~ 0.88 before, > 0.99 after
    assert float(jnp.max(before)) < 0.9 and float(jnp.min(after)) > 0.99
    phases = code.module_phases(cleaned)
    np.testing.assert_allclose(
        np.asarray(wrap_phase(phases[..., 0] - phases[..., 1] + phases[..., 2])), 0.0, atol=1e-4
    )


# -- walk and cells ---------------------------------------------------------------------------
def test_walk_stays_in_the_box_and_reports_its_displacement():
    walk = _walk(speed=0.8, sd=0.3)
    xy, v = random_walk(jax.random.key(12), walk, 5000)
    xy, v = np.asarray(xy), np.asarray(v)
    assert xy.min() >= 0.0 and xy.max() <= 1.0
    np.testing.assert_allclose(np.diff(xy, axis=0), v * 0.02, atol=1e-6)
    assert 0.5 < np.linalg.norm(v, axis=1).mean() < 1.1
    assert np.ptp(xy, axis=0).min() > 0.9  # it reaches the walls


def test_cells_sit_on_their_module_and_peak_on_a_hexagonal_lattice(code):
    cells = make_grid_cells(jax.random.key(13), code, 3)
    comps = np.asarray(cells.components)
    axis = np.asarray(code.component_axis)[comps]
    np.testing.assert_array_equal(axis, np.asarray(cells.module)[:, None] * 3 + np.arange(3))
    alpha = np.asarray(cells.preferred_phases(code))
    np.testing.assert_allclose(np.cos(alpha[:, 0] - alpha[:, 1] + alpha[:, 2]), 1.0, atol=1e-5)
    # the rate is 1 exactly where k_a . x = alpha_a: solve for one field centre per cell
    k = np.asarray(code.module_wave_vectors).reshape(-1, 3, 2)[np.asarray(cells.module)]
    centre = np.linalg.solve(k[:, :2, :], alpha[:, :2, None])[..., 0]
    rates = np.asarray(cells.rates(code.encode(jnp.asarray(centre, jnp.float32))))
    np.testing.assert_allclose(np.diagonal(rates), 1.0, atol=1e-4)


# -- path integration -------------------------------------------------------------------------
def test_noise_free_path_integration_by_binding_is_exact(code):
    nav = _nav(code)
    state, rec = advance(nav, nav.init_state(key=jax.random.key(14)), 1000)
    # after 1000 bindings the state is the code of the true position
    np.testing.assert_allclose(
        np.asarray(state.z), np.asarray(code.encode(state.walk.xy)), atol=2e-3
    )
    dec = decode_records(nav, rec)
    assert float(jnp.max(dec["error_phasor"])) < 1e-3  # 1 mm
    assert float(jnp.max(dec["error_spiking"])) < 0.01  # 1 cm


def test_spiking_readout_matches_the_phasor_within_the_quantisation_bound(code):
    n_sub = 40
    # at rest the only read-out error is the spike-time quantisation, |error| <= pi / n_sub
    nav = _nav(code, speed=0.0, sd=0.0, n_sub=n_sub)
    state, _ = run(nav, nav.init_state(key=jax.random.key(15), xy=jnp.array([0.4, 0.7])), 10)
    read = np.angle(np.asarray(spiking_readout(state.spiking, nav.walk.dt_ms)))
    err = np.abs(np.asarray(wrap_phase(read - np.angle(np.asarray(state.z)))))
    assert err.max() <= math.pi / n_sub + 1e-4
    assert err.max() > 0.2 * math.pi / n_sub  # the quantisation is really there
    # moving: plus the phase gained since the last spike, at most |k . v| over <= 2 cycles
    nav = _nav(code, n_sub=n_sub)
    state, rec = run(nav, nav.init_state(key=jax.random.key(16)), 50)
    read = np.angle(np.asarray(spiking_readout(state.spiking, nav.walk.dt_ms)))
    err = np.abs(np.asarray(wrap_phase(read - np.angle(np.asarray(state.z)))))
    speed = np.linalg.norm(np.asarray(rec["velocity"])[-2:], axis=1).max()
    k = np.linalg.norm(np.asarray(code.wave_vectors), axis=1)
    bound = math.pi / n_sub + 2 * k * speed * 0.02 + 1e-4
    assert np.all(err <= bound)


def test_spiking_cells_fire_inside_the_phasor_cells_fields(code):
    nav = _nav(code)
    _, rec = run(nav, nav.init_state(key=jax.random.key(17)), 3000)
    spikes = np.asarray(rec["cell_spikes"])
    rates = np.asarray(rec["rates"])
    assert spikes.sum() > 100
    at_spikes = (rates * spikes).sum() / spikes.sum()
    assert at_spikes > 0.6 and at_spikes > 3 * rates.mean()
    assert np.all(np.asarray(rec["n_spikes"]) >= 0.9 * code.dim)  # ~one spike per cycle each


def test_cleanup_bounds_the_error_under_phase_noise(code):
    errors = {}
    for cleanup in (0.0, 1.0):
        nav = _nav(code, phase_noise=0.1, cleanup=cleanup)
        _, rec = advance(nav, nav.init_state(key=jax.random.key(18)), 1000)
        dec = decode_records(nav, rec)
        errors[cleanup] = {k: np.asarray(dec[f"error_{k}"]) for k in ("phasor", "spiking")}
    for k in ("phasor", "spiking"):
        assert errors[1.0][k].max() < 0.05
        assert errors[0.0][k][-200:].mean() > 5 * errors[1.0][k][-200:].mean()


def test_velocity_noise_makes_the_error_grow_like_a_random_walk(code):
    sigma, n = 0.05, 1000
    nav = _nav(code, velocity_noise=sigma, cleanup=1.0)
    finals = []
    for seed in range(4):
        _, rec = advance(nav, nav.init_state(key=jax.random.key(100 + seed)), n)
        finals.append(float(decode_records(nav, rec)["error_phasor"][-1]))
    # 2-D random walk of the displacement error: E|e|^2 = 2 n (sigma dt)^2
    expected = math.sqrt(2 * n) * sigma * 0.02
    assert 0.3 * expected < np.sqrt(np.mean(np.square(finals))) < 2.0 * expected


def test_new_values_of_the_same_shapes_do_not_recompile(code):
    nav = _nav(code)
    state = nav.init_state(key=jax.random.key(19))
    state, rec = advance(nav, state, SHORT)
    decode_records(nav, rec)
    other_code = make_grid_code(jax.random.key(5), dim=1024, scales=geometric_scales(0.3, 1.5, 4))
    other = GridNavigator(
        other_code,
        nav.cells,
        _walk(0.5, 0.05),
        phase_noise=0.3,
        velocity_noise=0.02,
        cleanup=1.0,
        coinc_window_ms=2.0,
    )
    with count_compilations() as log:
        state, rec = advance(other, state, SHORT)
        decode_records(other, rec)
    assert log.matching("advance") == 0 and log.matching("decode_records") == 0, log.names


def test_walk_and_decode_equals_advance_then_decode(code):
    from snnviz.core.vsa.gridcells import walk_and_decode

    nav = _nav(code, phase_noise=0.05, cleanup=1.0)
    state = nav.init_state(key=jax.random.key(20))
    s1, rec = advance(nav, state, SHORT)
    dec = decode_records(nav, rec)
    s2, out = walk_and_decode(nav, state, SHORT)
    np.testing.assert_allclose(np.asarray(s1.z), np.asarray(s2.z), atol=1e-6)
    for key in ("xy", "rates", "cell_spikes"):
        np.testing.assert_allclose(np.asarray(out[key]), np.asarray(rec[key]), atol=1e-6)
    for key in ("decoded_phasor", "error_spiking"):
        np.testing.assert_allclose(np.asarray(out[key]), np.asarray(dec[key]), atol=1e-5)
    assert not any(k.startswith("sums_") for k in out)
