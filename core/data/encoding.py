"""Encoding real-valued features as spike times."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def latency_encode(
    features: jax.Array, t_early: float, t_late: float, *, bias_time: float | None = None
) -> jax.Array:
    """Time-to-first-spike code: feature ``v`` in [0, 1] spikes at ``t_early + v (t_late - t_early)``.

    With ``bias_time`` a constant bias spike is appended as the last input. Returns spike times
    with the features' leading shape and ``n_features (+ 1)`` inputs.
    """
    if not t_late > t_early:
        raise ValueError(f"t_late must exceed t_early, got t_early={t_early}, t_late={t_late}")
    features = jnp.asarray(features)
    times = t_early + features * (t_late - t_early)
    if bias_time is not None:
        bias = jnp.full((*times.shape[:-1], 1), bias_time, times.dtype)
        times = jnp.concatenate([times, bias], axis=-1)
    return times
