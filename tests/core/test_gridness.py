"""Rate maps, spatial autocorrelograms and the gridness score on synthetic maps."""

from __future__ import annotations

import numpy as np
import pytest

from snnviz.core.analysis.gridness import (
    RateMapAccumulator,
    gaussian_smooth,
    gridness_score,
    maps_from_sums,
    rate_map,
    rotate_about_centre,
    spatial_autocorrelogram,
)

N = 40
CENTRES = (np.arange(N) + 0.5) / N
X, Y = np.meshgrid(CENTRES, CENTRES)  # maps are indexed [y, x]


def hex_map(spacing: float, orientation: float, phase=(0.1, 0.2)) -> np.ndarray:
    k = 4 * np.pi / (np.sqrt(3) * spacing)
    total = sum(
        np.cos(
            k
            * (
                np.cos(orientation + a * np.pi / 3) * (X - phase[0])
                + np.sin(orientation + a * np.pi / 3) * (Y - phase[1])
            )
        )
        for a in range(3)
    )
    return np.maximum(total, 0.0)


def square_map(spacing: float, orientation: float) -> np.ndarray:
    k = 2 * np.pi / spacing
    c, s = np.cos(orientation), np.sin(orientation)
    return np.maximum(np.cos(k * (c * X + s * Y)) + np.cos(k * (-s * X + c * Y)), 0.0)


def score(rate: np.ndarray) -> float:
    return gridness_score(spatial_autocorrelogram(rate)).score


def naive_autocorrelogram(f: np.ndarray, min_overlap: int) -> np.ndarray:
    h, w = f.shape
    out = np.full((2 * h - 1, 2 * w - 1), np.nan)
    for ty in range(-(h - 1), h):
        for tx in range(-(w - 1), w):
            a, b = [], []
            for y in range(h):
                for x in range(w):
                    y2, x2 = y + ty, x + tx
                    if (
                        0 <= y2 < h
                        and 0 <= x2 < w
                        and np.isfinite(f[y, x])
                        and np.isfinite(f[y2, x2])
                    ):
                        a.append(f[y, x])
                        b.append(f[y2, x2])
            if len(a) >= min_overlap and np.std(a) > 0 and np.std(b) > 0:
                out[ty + h - 1, tx + w - 1] = np.corrcoef(a, b)[0, 1]
    return out


def test_autocorrelogram_matches_a_naive_pearson_over_overlapping_bins():
    rng = np.random.default_rng(0)
    f = rng.random((9, 11))
    f[rng.random(f.shape) < 0.2] = np.nan  # unvisited bins
    fast = spatial_autocorrelogram(f, min_overlap=5)
    ref = naive_autocorrelogram(f, min_overlap=5)
    np.testing.assert_array_equal(np.isnan(fast), np.isnan(ref))
    np.testing.assert_allclose(fast[np.isfinite(ref)], ref[np.isfinite(ref)], atol=1e-9)


def test_autocorrelogram_is_one_at_zero_lag_and_point_symmetric():
    ac = spatial_autocorrelogram(hex_map(0.3, 0.2))
    assert ac.shape == (2 * N - 1, 2 * N - 1)
    assert ac[N - 1, N - 1] == pytest.approx(1.0)
    np.testing.assert_allclose(ac, ac[::-1, ::-1], atol=1e-9, equal_nan=True)


@pytest.mark.parametrize("spacing", [0.25, 0.35, 0.5])
@pytest.mark.parametrize("orientation_deg", [0.0, 17.0, 41.0])
def test_ideal_hexagonal_maps_score_high(spacing, orientation_deg):
    assert score(hex_map(spacing, np.deg2rad(orientation_deg))) > 1.0


@pytest.mark.parametrize("spacing", [0.25, 0.35, 0.5])
def test_square_lattices_score_low(spacing):
    assert score(square_map(spacing, 0.3)) < 0.3


@pytest.mark.parametrize("seed", range(4))
def test_random_maps_score_low(seed):
    rng = np.random.default_rng(seed)
    assert score(rng.random((N, N))) < 0.3
    smooth = gaussian_smooth(rng.standard_normal((N, N)), 2.0)
    assert score(smooth) < 0.5


def test_rotating_a_map_barely_changes_its_score():
    base = score(hex_map(0.3, 0.0))
    for deg in (10, 25, 45, 70):
        assert abs(score(hex_map(0.3, np.deg2rad(deg))) - base) < 0.1
    for deg in (0, 20, 35):
        assert score(square_map(0.35, np.deg2rad(deg))) < 0.3


def test_a_partially_visited_noisy_hexagonal_map_is_still_a_grid():
    rng = np.random.default_rng(1)
    rate = hex_map(0.3, 0.4) + rng.normal(0, 0.3, (N, N))
    rate[rng.random((N, N)) < 0.15] = np.nan
    assert score(rate) > 0.5


def test_rotation_about_the_centre():
    img = np.random.default_rng(2).random((15, 15))
    # counter-clockwise with y up (row 0 at the bottom, as in the maps): numpy's k = -1
    np.testing.assert_allclose(rotate_about_centre(img, 90.0), np.rot90(img, -1), atol=1e-9)
    np.testing.assert_allclose(rotate_about_centre(img, 180.0), img[::-1, ::-1], atol=1e-9)
    np.testing.assert_allclose(rotate_about_centre(img, 0.0), img, atol=1e-12)
    r = rotate_about_centre(img, 45.0)
    assert np.isnan(r[0, 0]) and r[7, 7] == pytest.approx(img[7, 7])


def test_gridness_of_degenerate_maps_is_nan():
    assert np.isnan(score(np.ones((N, N))))
    assert np.isnan(score(np.full((N, N), np.nan)))
    with pytest.raises(ValueError, match="odd sides"):
        gridness_score(np.zeros((10, 10)))


def test_rate_map_bins_and_normalises_by_occupancy():
    xy = np.array([[0.1, 0.1], [0.12, 0.13], [0.9, 0.1], [0.99, 0.99]])
    values = np.array([[1.0, 0.0], [3.0, 1.0], [5.0, 2.0], [7.0, 3.0]])
    maps, occ = rate_map(xy, values, n_bins=2)
    assert occ.tolist() == [[2, 1], [0, 1]]  # [y, x]
    np.testing.assert_allclose(maps[0], [[2.0, 5.0], [np.nan, 7.0]])
    np.testing.assert_allclose(maps[1], [[0.5, 2.0], [np.nan, 3.0]])
    with pytest.raises(ValueError, match=r"shape \(T,\)"):
        rate_map(xy, np.zeros(3))


def test_smoothing_keeps_a_constant_map_constant_and_unvisited_bins_nan():
    occ = np.random.default_rng(3).integers(0, 5, (20, 20)).astype(float)
    sums = 4.0 * occ
    maps = maps_from_sums(sums, occ, smooth_bins=1.5)
    np.testing.assert_allclose(maps[occ > 0], 4.0)
    assert np.all(np.isnan(maps[occ == 0]))
    a = np.zeros((21, 21))
    a[10, 10] = 1.0
    np.testing.assert_allclose(gaussian_smooth(a, 1.0).sum(), 1.0, atol=1e-9)


def test_rate_map_accumulator_matches_rate_map_on_the_whole_trajectory():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 1, (500, 2))
    rates = rng.random((500, 3))
    acc = RateMapAccumulator(3, 1.0, n_bins=8, signals=("a", "b"))
    acc.add(xy[:200], a=rates[:200], b=2 * rates[:200])
    acc.add(xy[200:], a=rates[200:], b=2 * rates[200:])
    assert acc.samples == 500
    expected, _ = rate_map(xy, rates, n_bins=8, smooth_bins=1.0)
    np.testing.assert_allclose(np.array(acc.maps("a", [0, 1, 2], 1.0)), expected, atol=1e-12)
    np.testing.assert_allclose(acc.maps("b", [1], 1.0)[0], 2 * expected[1], atol=1e-12)
