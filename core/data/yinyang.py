"""The Yin-Yang data set (Kriener, Göltz & Petrovici 2021), generated in code.

Points ``(x, y)`` in the unit square inside the big circle (radius ``R = 0.5`` centred at
``(0.5, 0.5)``) are labelled *yin* (0), *yang* (1) or *dot* (2); the two dots have radius
``r = 0.1`` and sit at ``(0.25, 0.5)`` and ``(0.75, 0.5)``. Classes are balanced to one third
each by rejection sampling. The network input is ``(x, y, 1 - x, 1 - y)`` (so that every
input carries the same total information), usually plus a bias input.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

R_BIG = 0.5
R_SMALL = 0.1
CLASS_NAMES = ("yin", "yang", "dot")


def _dist(x: np.ndarray, y: np.ndarray, cx: float, cy: float) -> np.ndarray:
    return np.hypot(x - cx, y - cy)


def yinyang_class(x, y) -> np.ndarray:
    """Class of each point: 0 yin, 1 yang, 2 dot, -1 outside the big circle.

    A point is a *dot* when it lies in one of the small circles; otherwise it is *yin* when it
    lies within R/2 of the left dot's centre, or in the upper half and farther than R/2 from
    the right dot's centre (the symbol's S-curve), and *yang* otherwise (Kriener et al. 2021).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    d_right = _dist(x, y, 0.5 + R_BIG / 2, 0.5)
    d_left = _dist(x, y, 0.5 - R_BIG / 2, 0.5)
    outside = _dist(x, y, 0.5, 0.5) > R_BIG
    dot = (d_right < R_SMALL) | (d_left < R_SMALL)
    yin = ((d_left <= R_BIG / 2) | ((y > 0.5) & (d_right > R_BIG / 2))) & ~dot
    cls = np.where(dot, 2, np.where(yin, 0, 1))
    return np.where(outside, -1, cls).astype(np.int32)


class YinYang(NamedTuple):
    """A Yin-Yang sample set: ``points`` (n, 2) in [0, 1]², ``features`` (n, 4) = (x, y, 1-x, 1-y),
    ``labels`` (n,) int32 in {0, 1, 2}."""

    points: jax.Array
    features: jax.Array
    labels: jax.Array


def yinyang(n: int, seed: int = 0) -> YinYang:
    """Draw ``n`` balanced Yin-Yang samples (classes cycle 0, 1, 2, 0, ... before a shuffle).

    Rejection sampling in numpy (seeded, deterministic): uniform points in the square are kept
    when they fall in the big circle and their class is the one wanted next.
    """
    if int(n) < 1:
        raise ValueError(f"n must be a positive number of samples, got {n!r}")
    n = int(n)
    rng = np.random.default_rng(seed)
    wanted = np.arange(n) % 3
    points = np.empty((n, 2))
    filled = np.zeros(n, dtype=bool)
    while not filled.all():
        cand = rng.uniform(0.0, 1.0, size=(4 * n, 2))
        cls = yinyang_class(cand[:, 0], cand[:, 1])
        for c in range(3):
            slots = np.flatnonzero(~filled & (wanted == c))
            pool = cand[cls == c][: slots.size]
            points[slots[: pool.shape[0]]] = pool
            filled[slots[: pool.shape[0]]] = True
    order = rng.permutation(n)
    points, labels = points[order], wanted[order]
    features = np.concatenate([points, 1.0 - points], axis=1)
    return YinYang(
        jnp.asarray(points, jnp.float32),
        jnp.asarray(features, jnp.float32),
        jnp.asarray(labels, jnp.int32),
    )
