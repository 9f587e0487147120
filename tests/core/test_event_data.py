"""Generated event data: DVS pixels emit ON/OFF events that follow log-intensity changes
(closed form), saccades, shifts and resizing, procedural symbols; everything seeded."""

from __future__ import annotations

import numpy as np
import pytest

from snnviz.core.data.event_digits import (
    LOG_EPS,
    bilinear_shift,
    dvs_events,
    event_digits,
    flatten_events,
    images_to_events,
    saccade_path,
    upsample,
)
from snnviz.core.data.symbols import glyph_strokes, render_symbol, symbol_set


def test_on_and_off_counts_follow_log_intensity_changes():
    rising = np.linspace(0.0, 1.0, 30)
    falling = rising[::-1]
    frames = np.stack([rising, falling, np.full(30, 0.5)], -1).reshape(1, 30, 1, 3)
    ev = dvs_events(frames, threshold=0.2)
    on, off = ev[0, :, 0, 0], ev[0, :, 1, 0]
    total = lambda a, b: np.floor((np.log(b + LOG_EPS) - np.log(a + LOG_EPS)) / 0.2)  # noqa: E731
    assert on[:, 0].sum() == total(0.0, 1.0) and off[:, 0].sum() == 0
    assert off[:, 1].sum() == total(0.0, 1.0) and on[:, 1].sum() == 0
    assert ev[0, :, :, 0, 2].sum() == 0  # constant pixel: silent
    # the reference never lags more than one threshold behind the log intensity
    cumulative = np.cumsum(on[:, 0]) * 0.2 + np.log(LOG_EPS)
    lag = np.log(rising + LOG_EPS) - cumulative
    assert np.all((lag >= -1e-6) & (lag < 0.2 + 1e-6))


def test_events_are_deterministic_by_seed_and_noise_is_seeded():
    a = event_digits(classes=(3, 7), per_class=4, seed=1, noise_rate=0.01)
    b = event_digits(classes=(3, 7), per_class=4, seed=1, noise_rate=0.01)
    c = event_digits(classes=(3, 7), per_class=4, seed=2, noise_rate=0.01)
    assert np.array_equal(a.events, b.events) and np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.events, c.events)
    assert a.events.shape == (8, 20, 2, 16, 16) and set(a.labels) == {3, 7}
    assert np.all(a.events >= 0) and np.all(a.events == np.round(a.events))
    assert flatten_events(a.events).shape == (8, 20, 512)


def test_a_moving_image_makes_both_polarities_and_a_still_one_none():
    img = np.zeros((1, 16, 16), np.float32)
    img[0, 6:10, 6:10] = 1.0
    ev = images_to_events(img, mismatch=0.0, noise_rate=0.0, seed=0)
    assert ev[..., 0, :, :].sum() > 0 and ev[..., 1, :, :].sum() > 0
    still = dvs_events(np.repeat(img[:, None], 5, axis=1), threshold=0.2)
    assert still.sum() == 0


def test_saccade_path_is_a_closed_triangle_and_shifts_are_exact_for_integers():
    path = saccade_path(30, 3.0)
    np.testing.assert_allclose(path[-1], [0.0, 0.0], atol=1e-12)  # back at the start
    np.testing.assert_allclose(path[9], [0.0, 3.0], atol=1e-12)  # first corner after 1/3
    assert path[:, 0].max() <= 3.0 + 1e-12 and path.min() >= -1e-12
    rng = np.random.default_rng(0)
    imgs = rng.random((2, 8, 8)).astype(np.float32)
    shifted = bilinear_shift(imgs, np.array([[[2.0, -1.0]], [[0.0, 0.0]]]))
    expected = np.zeros((8, 8), np.float32)
    expected[2:, :-1] = imgs[0, :-2, 1:]  # out[y, x] = image(y - 2, x + 1), zero outside
    np.testing.assert_allclose(shifted[0, 0], expected, atol=1e-6)
    np.testing.assert_allclose(shifted[1, 0], imgs[1], atol=1e-6)
    half = bilinear_shift(imgs, np.array([[[0.0, 0.5]], [[0.0, 0.0]]]))[0, 0]
    np.testing.assert_allclose(half[:, 1:], 0.5 * (imgs[0, :, 1:] + imgs[0, :, :-1]), atol=1e-6)


def test_upsampling_keeps_constants_and_ranges():
    const = np.full((3, 8, 8), 0.7, np.float32)
    np.testing.assert_allclose(upsample(const, 12), 0.7, atol=1e-6)
    ramp = np.tile(np.linspace(0, 1, 8, dtype=np.float32), (1, 8, 1))
    up = upsample(ramp, 12)
    assert up.min() >= 0 and up.max() <= 1 and np.all(np.diff(up[0, 0]) >= -1e-6)


def test_symbols_are_deterministic_and_instances_resemble_their_class():
    s = symbol_set(range(10), 6, seed=3)
    again = symbol_set(range(10), 6, seed=3)
    assert np.array_equal(s.images, again.images)
    assert s.images.shape == (60, 16, 16) and s.images.min() >= 0 and s.images.max() <= 1
    np.testing.assert_allclose(s.images[7], render_symbol(1, 1, seed=3), atol=1e-6)
    flat = s.images.reshape(60, -1)
    flat = (flat - flat.mean(1, keepdims=True)) / flat.std(1, keepdims=True)
    corr = flat @ flat.T / flat.shape[1]
    same = s.labels[:, None] == s.labels[None, :]
    off_diag = ~np.eye(60, dtype=bool)
    assert corr[same & off_diag].mean() > corr[~same].mean() + 0.2
    assert not np.array_equal(s.images[0], s.images[1])  # instances differ
    assert 2 <= len(glyph_strokes(5, seed=3)) <= 4
    with pytest.raises(ValueError, match="class_id must be >= 0"):
        glyph_strokes(-1)
    with pytest.raises(ValueError, match="unknown render option"):
        symbol_set([0], 1, colour=1)
