"""scikit-learn's bundled 8x8 handwritten digits (1797 images, 10 classes; no download).

Pixel intensities 0..16 are scaled to ``features`` in [0, 1] (64 per image, row-major). The
train/test split is stratified by class and fixed by ``seed``. Spike codes on a time grid
(shape ``(batch, T, 64)``, the convention of :mod:`.rasters`):

* latency (time to first spike): a brighter pixel spikes earlier,
  ``t = t_early + (1 - v) (t_late - t_early)``; pixels with ``v <= min_intensity`` stay silent;
* rate (Poisson): a pixel spikes in each step with probability ``v * max_probability``.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .rasters import poisson_raster, spike_times_to_raster

__all__ = ["Digits", "digits", "digits_latency_raster", "digits_rate_raster", "digits_split"]

N_CLASSES = 10
N_PIXELS = 64


class Digits(NamedTuple):
    """Digit images: ``features`` (n, 64) float32 in [0, 1], ``labels`` (n,) int32 in 0..9."""

    features: jax.Array
    labels: jax.Array


@functools.cache
def _load() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return (bunch.data / 16.0).astype(np.float32), bunch.target.astype(np.int32)


def digits() -> Digits:
    """All 1797 images in scikit-learn's order."""
    features, labels = _load()
    return Digits(jnp.asarray(features), jnp.asarray(labels))


def digits_split(seed: int = 0, test_fraction: float = 0.2) -> tuple[Digits, Digits]:
    """Stratified train/test split: in every class, a seeded permutation puts
    ``round(test_fraction * class size)`` images in the test set; each set is then shuffled.
    Returns ``(train, test)``."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    features, labels = _load()
    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    for c in range(N_CLASSES):
        members = rng.permutation(np.flatnonzero(labels == c))
        n_test = round(test_fraction * members.size)
        test_idx.append(members[:n_test])
        train_idx.append(members[n_test:])
    train_idx = rng.permutation(np.concatenate(train_idx))
    test_idx = rng.permutation(np.concatenate(test_idx))
    return (
        Digits(jnp.asarray(features[train_idx]), jnp.asarray(labels[train_idx])),
        Digits(jnp.asarray(features[test_idx]), jnp.asarray(labels[test_idx])),
    )


def digits_latency_raster(
    features: Float[ArrayLike, "*batch 64"],
    n_steps: int,
    *,
    t_early: float = 0.0,
    t_late: float | None = None,
    min_intensity: float = 0.0,
    dt: float = 1.0,
) -> Float[Array, "*batch T 64"]:
    """Latency code: pixel ``v`` spikes once at ``t_early + (1 - v)(t_late - t_early)`` ms
    (``t_late`` defaults to the last step's start, ``(n_steps - 1) dt``); pixels with
    ``v <= min_intensity`` do not spike. Returns ``(*batch, n_steps, 64)``."""
    t_late = (n_steps - 1) * dt if t_late is None else t_late
    if not t_late > t_early:
        raise ValueError(f"t_late must exceed t_early, got t_early={t_early}, t_late={t_late}")
    times = _latency_times(jnp.asarray(features, jnp.float32), t_early, t_late, min_intensity)
    return spike_times_to_raster(times, n_steps, dt)


@jax.jit
def _latency_times(v: Array, t_early: float, t_late: float, min_intensity: float) -> Array:
    times = t_early + (1.0 - v) * (t_late - t_early)
    return jnp.where(v > min_intensity, times, jnp.inf)


def digits_rate_raster(
    features: Float[ArrayLike, "*batch 64"],
    n_steps: int,
    *,
    key: PRNGKeyArray,
    max_probability: float = 0.5,
) -> Float[Array, "*batch T 64"]:
    """Rate code: pixel ``v`` spikes in each step with probability ``v * max_probability``
    (Bernoulli, seeded by ``key``). Returns ``(*batch, n_steps, 64)``."""
    if not 0.0 < max_probability <= 1.0:
        raise ValueError(f"max_probability must be in (0, 1], got {max_probability!r}")
    return poisson_raster(jnp.asarray(features, jnp.float32) * max_probability, n_steps, key=key)
