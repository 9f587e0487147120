"""Data sets and spike codes: Yin-Yang (balance, geometry, features, seeds), scikit-learn's
digits (split, determinism), latency and Poisson rasters on a time grid."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnviz.core.data import (
    digits,
    digits_latency_raster,
    digits_rate_raster,
    digits_split,
    latency_encode,
    poisson_raster,
    spike_times_to_raster,
    yinyang,
    yinyang_class,
    yinyang_raster,
)


# ------------------------------------------------------------------ Yin-Yang
@pytest.mark.parametrize("n", [3, 300, 1000, 1001])
def test_yinyang_classes_are_balanced(n):
    counts = np.bincount(np.asarray(yinyang(n, seed=4).labels), minlength=3)
    assert counts.sum() == n and counts.max() - counts.min() <= 1


# hand-picked points: (x, y) -> class (0 yin, 1 yang, 2 dot, -1 outside)
GEOMETRY = {
    (0.25, 0.5): 2,  # centre of the left dot
    (0.75, 0.5): 2,  # centre of the right dot
    (0.25, 0.58): 2,  # inside the left dot (r = 0.1)
    (0.25, 0.65): 0,  # left lobe, outside its dot: yin
    (0.25, 0.30): 0,  # left lobe, below: yin
    (0.75, 0.65): 1,  # right lobe, outside its dot: yang
    (0.75, 0.30): 1,
    (0.50, 0.90): 0,  # top of the big circle: yin
    (0.50, 0.10): 1,  # bottom: yang
    (0.05, 0.05): -1,  # corner, outside the big circle
    (0.50, 1.00 - 1e-9): 0,
    (0.99, 0.50): 1,  # right edge, inside
    (0.01, 0.50): 0,  # left edge, inside
}


def test_yinyang_geometry_at_hand_picked_points():
    pts = np.asarray(list(GEOMETRY))
    np.testing.assert_array_equal(yinyang_class(pts[:, 0], pts[:, 1]), list(GEOMETRY.values()))


def test_yinyang_point_symmetry_swaps_yin_and_yang():
    """Rotating by 180 degrees about the centre maps yin onto yang and keeps the dots."""
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 1, (2, 20_000))
    cls = yinyang_class(x, y)
    rotated = yinyang_class(1 - x, 1 - y)
    swap = np.asarray([1, 0, 2])
    inside = cls >= 0
    agree = np.mean(rotated[inside] == swap[cls[inside]])
    assert agree > 0.999  # only points on a boundary may differ (measure zero)
    np.testing.assert_array_equal(rotated < 0, ~inside)


def test_yinyang_area_fractions():
    """Dots cover 2 (0.1)^2 / 0.5^2 = 8 % of the big disk; yin and yang split the rest."""
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0, 1, (2, 400_000))
    cls = yinyang_class(x, y)
    inside = cls[cls >= 0]
    assert np.mean(cls >= 0) == pytest.approx(np.pi * 0.25, abs=0.005)
    assert np.mean(inside == 2) == pytest.approx(0.08, abs=0.003)
    assert np.mean(inside == 0) == pytest.approx(0.46, abs=0.005)


def test_yinyang_features_labels_and_points():
    data = yinyang(600, seed=2)
    pts, feats = np.asarray(data.points), np.asarray(data.features)
    assert pts.shape == (600, 2) and feats.shape == (600, 4) and data.labels.dtype == jnp.int32
    np.testing.assert_allclose(feats, np.concatenate([pts, 1 - pts], axis=1), atol=1e-7)
    assert np.all(np.hypot(pts[:, 0] - 0.5, pts[:, 1] - 0.5) <= 0.5)
    np.testing.assert_array_equal(yinyang_class(pts[:, 0], pts[:, 1]), np.asarray(data.labels))


def test_yinyang_is_deterministic_by_seed():
    a, b, c = yinyang(200, seed=5), yinyang(200, seed=5), yinyang(200, seed=6)
    np.testing.assert_array_equal(np.asarray(a.points), np.asarray(b.points))
    np.testing.assert_array_equal(np.asarray(a.labels), np.asarray(b.labels))
    assert not np.allclose(np.asarray(a.points), np.asarray(c.points))
    with pytest.raises(ValueError, match="n must be a positive number of samples, got 0"):
        yinyang(0)


def test_latency_encode_with_bias():
    times = latency_encode(jnp.asarray([[0.0, 0.5, 1.0, 0.25]]), 2.0, 12.0, bias_time=1.0)
    np.testing.assert_allclose(np.asarray(times), [[2.0, 7.0, 12.0, 4.5, 1.0]])


# ------------------------------------------------------------------ rasters
def test_spike_times_to_raster_bins_and_drops():
    times = jnp.asarray([[0.0, 0.99, 1.0, 4.5, 5.0, jnp.inf, -0.5, jnp.nan]])
    raster = np.asarray(spike_times_to_raster(times, n_steps=5, dt=1.0))
    assert raster.shape == (1, 5, 8) and raster.dtype == np.float32
    expected_step = [0, 0, 1, 4, None, None, None, None]  # t >= T dt, inf, t < 0, NaN dropped
    for i, step in enumerate(expected_step):
        column = raster[0, :, i]
        if step is None:
            assert column.sum() == 0
        else:
            assert column.sum() == 1 and column[step] == 1
    half = np.asarray(spike_times_to_raster(jnp.asarray([1.2]), n_steps=4, dt=0.5))
    np.testing.assert_array_equal(half, [[0], [0], [1], [0]])  # floor(1.2 / 0.5) = 2


def test_yinyang_raster_has_one_spike_per_input_at_its_latency():
    data = yinyang(50, seed=3)
    raster = np.asarray(yinyang_raster(data.features, 30, t_early=2.0, t_late=22.0, bias_time=0.0))
    assert raster.shape == (50, 30, 5)
    np.testing.assert_array_equal(raster.sum(axis=1), np.ones((50, 5)))
    expected = np.floor(2.0 + np.asarray(data.features) * 20.0).astype(int)
    np.testing.assert_array_equal(raster[:, :, :4].argmax(axis=1), expected)
    assert np.all(raster[:, 0, 4] == 1)  # bias at t = 0
    no_bias = yinyang_raster(data.features, 30, t_early=2.0, t_late=22.0, bias_time=None)
    assert no_bias.shape == (50, 30, 4)
    with pytest.raises(ValueError, match=r"grid ends at n_steps \* dt = 20.0 ms"):
        yinyang_raster(data.features, 20, t_early=2.0, t_late=22.0)


def test_poisson_raster_rates_and_seed():
    p = jnp.asarray([[0.0, 0.1, 0.5, 1.0]])
    raster = np.asarray(poisson_raster(p, 20_000, key=jax.random.key(0)))
    assert raster.shape == (1, 20_000, 4)
    np.testing.assert_allclose(raster.mean(axis=1)[0], [0.0, 0.1, 0.5, 1.0], atol=0.012)
    again = np.asarray(poisson_raster(p, 20_000, key=jax.random.key(0)))
    np.testing.assert_array_equal(raster, again)
    with pytest.raises(ValueError, match="n_steps must be a positive integer, got 0"):
        poisson_raster(p, 0, key=jax.random.key(0))


# ------------------------------------------------------------------ digits
def test_digits_set():
    data = digits()
    feats, labels = np.asarray(data.features), np.asarray(data.labels)
    assert feats.shape == (1797, 64) and labels.shape == (1797,)
    assert feats.min() == 0.0 and feats.max() == 1.0
    assert set(np.unique(labels)) == set(range(10))


def test_digits_split_is_stratified_disjoint_and_seeded():
    train, test = digits_split(seed=0, test_fraction=0.2)
    assert train.features.shape[0] + test.features.shape[0] == 1797
    all_rows = {r.tobytes() for r in np.asarray(digits().features)}
    train_rows = {r.tobytes() for r in np.asarray(train.features)}
    test_rows = {r.tobytes() for r in np.asarray(test.features)}
    assert train_rows | test_rows <= all_rows
    # per-class test share is round(0.2 * class size)
    full_counts = np.bincount(np.asarray(digits().labels), minlength=10)
    np.testing.assert_array_equal(
        np.bincount(np.asarray(test.labels), minlength=10), np.round(0.2 * full_counts)
    )
    again, _ = digits_split(seed=0, test_fraction=0.2)
    other, _ = digits_split(seed=1, test_fraction=0.2)
    np.testing.assert_array_equal(np.asarray(train.labels), np.asarray(again.labels))
    np.testing.assert_array_equal(np.asarray(train.features), np.asarray(again.features))
    assert not np.array_equal(np.asarray(train.labels), np.asarray(other.labels))
    with pytest.raises(ValueError, match=r"test_fraction must be in \(0, 1\), got 1.5"):
        digits_split(test_fraction=1.5)


def test_digits_latency_raster_bright_pixels_spike_first():
    feats = jnp.asarray([[1.0, 0.5, 0.0, 0.25] + [0.0] * 60])
    raster = np.asarray(digits_latency_raster(feats, 21, t_early=0.0, t_late=20.0))
    assert raster.shape == (1, 21, 64)
    np.testing.assert_array_equal(raster.sum(axis=1)[0, :4], [1, 1, 0, 1])
    np.testing.assert_array_equal(raster[0, :, [0, 1, 3]].argmax(axis=1), [0, 10, 15])
    data = digits()
    full = np.asarray(digits_latency_raster(data.features[:100], 25))
    np.testing.assert_array_equal(
        full.sum(axis=(1, 2)), (np.asarray(data.features[:100]) > 0).sum(1)
    )


def test_digits_rate_raster():
    data = digits()
    key = jax.random.key(3)
    raster = np.asarray(digits_rate_raster(data.features[:200], 50, key=key, max_probability=0.4))
    assert raster.shape == (200, 50, 64)
    expected = 0.4 * np.asarray(data.features[:200]).mean()
    assert raster.mean() == pytest.approx(expected, rel=0.05)
    assert raster[:, :, np.asarray(data.features[:200]).max(axis=0) == 0].sum() == 0
    np.testing.assert_array_equal(
        raster,
        np.asarray(digits_rate_raster(data.features[:200], 50, key=key, max_probability=0.4)),
    )
    with pytest.raises(ValueError, match=r"max_probability must be in \(0, 1\], got 2"):
        digits_rate_raster(data.features[:2], 5, key=key, max_probability=2)
