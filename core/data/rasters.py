"""Dense spike rasters on a time grid, for time-stepped networks (surrogate-gradient BPTT).

Convention: batch first, time second, inputs last: a raster has shape ``(batch, T, n_in)``
(any leading shape in place of ``batch``), 0/1 values in float32; ``jax.vmap(model)(raster)``
runs a :class:`snnviz.core.snn.SpikingSequential` on it. Step ``k`` covers the time interval
``[k dt, (k + 1) dt)``: a spike at time ``t`` lands in step ``floor(t / dt)``; spikes at
``t < 0``, ``t >= T dt``, ``inf`` or NaN are dropped (``inf`` means "no spike").
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .encoding import latency_encode

__all__ = ["poisson_raster", "spike_times_to_raster", "yinyang_raster"]


def _check_grid(n_steps: int, dt: float) -> None:
    if int(n_steps) < 1 or int(n_steps) != n_steps:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
    if not float(dt) > 0:
        raise ValueError(f"dt must be > 0 ms, got {dt!r}")


def spike_times_to_raster(
    times: Float[ArrayLike, "*batch n"], n_steps: int, dt: float = 1.0
) -> Float[Array, "*batch T n"]:
    """At most one spike per input at ``times`` (ms) -> raster ``(*batch, n_steps, n)``.

    Input ``i`` of a sample is 1 at step ``floor(times[i] / dt)`` and 0 elsewhere (nothing if
    that step is outside ``[0, n_steps)`` or the time is not finite).
    """
    _check_grid(n_steps, dt)
    return _raster(jnp.asarray(times), int(n_steps), jnp.asarray(dt, dtype=float))


@functools.partial(jax.jit, static_argnames="n_steps")
def _raster(times: Array, n_steps: int, dt: Array) -> Array:
    finite = jnp.isfinite(times)
    step = jnp.floor(jnp.where(finite, times, -1.0) / dt).astype(jnp.int32)
    step = jnp.where(finite, step, -1)
    grid = jnp.arange(n_steps, dtype=jnp.int32).reshape((1,) * (times.ndim - 1) + (n_steps, 1))
    return (step[..., None, :] == grid).astype(jnp.float32)


def yinyang_raster(
    features: Float[ArrayLike, "*batch 4"],
    n_steps: int,
    *,
    t_early: float,
    t_late: float,
    bias_time: float | None = 0.0,
    dt: float = 1.0,
) -> Float[Array, "*batch T n_in"]:
    """Yin-Yang features ``(x, y, 1-x, 1-y)`` -> latency raster ``(*batch, n_steps, 4 (+1))``.

    Feature ``v`` spikes at ``t_early + v (t_late - t_early)`` ms (:func:`latency_encode`),
    the bias input (last column; ``bias_time=None`` leaves it out) at ``bias_time``; then
    :func:`spike_times_to_raster`. Choose ``n_steps * dt > t_late`` so that no spike is lost.
    """
    if n_steps * dt <= t_late:
        raise ValueError(
            f"the grid ends at n_steps * dt = {n_steps * dt} ms, not after t_late = {t_late} ms: "
            "late spikes would be dropped; raise n_steps or lower t_late"
        )
    _check_grid(n_steps, dt)
    if not t_late > t_early:
        raise ValueError(f"t_late must exceed t_early, got t_early={t_early}, t_late={t_late}")
    return _yinyang_raster(
        jnp.asarray(features), int(n_steps), t_early, t_late, bias_time, jnp.asarray(dt, float)
    )


@functools.partial(jax.jit, static_argnames=("n_steps", "t_early", "t_late", "bias_time"))
def _yinyang_raster(features, n_steps, t_early, t_late, bias_time, dt):
    times = latency_encode(features, t_early, t_late, bias_time=bias_time)
    return _raster(times, n_steps, dt)


def poisson_raster(
    probabilities: Float[ArrayLike, "*batch n"], n_steps: int, *, key: PRNGKeyArray
) -> Float[Array, "*batch T n"]:
    """Rate code: input ``i`` spikes independently in each of ``n_steps`` steps with
    probability ``probabilities[..., i]`` (in [0, 1]; rate = probability / dt)."""
    _check_grid(n_steps, 1.0)
    return _poisson(jnp.asarray(probabilities, jnp.float32), int(n_steps), key)


@functools.partial(jax.jit, static_argnames="n_steps")
def _poisson(p: Array, n_steps: int, key: PRNGKeyArray) -> Array:
    shape = (*p.shape[:-1], n_steps, p.shape[-1])
    u = jax.random.uniform(key, shape)
    return (u < jnp.broadcast_to(p[..., None, :], shape)).astype(jnp.float32)
