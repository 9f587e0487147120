r"""Input generators: injected currents and Poisson spike trains.

All amplitudes, times and rates are traced arrays, so switching protocol or moving a slider
never recompiles.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .neurons._checks import check_finite, check_positive


def _f32(x):
    return jnp.asarray(x, jnp.float32)


class CurrentInjection(eqx.Module):
    r"""A current protocol (pA) as a function of time ``t`` (ms):

    .. math::

        I(t) = I_0 + I_\mathrm{step}\,[t_\mathrm{on} \le t < t_\mathrm{off}]
                   + I_\mathrm{sin} \sin(2\pi f t / 1000)

    Constant (``offset`` only), step (``step`` with ``t_on``/``t_off``) and sinusoidal
    (``sine_amplitude``, ``sine_freq_hz``) inputs are special cases, and they add up. Every
    field may be a per-neuron array (e.g. one amplitude per neuron for an f-I curve).
    """

    offset: Float[Array, "*n"] = eqx.field(default=0.0, converter=_f32)
    step: Float[Array, "*n"] = eqx.field(default=0.0, converter=_f32)
    t_on: Float[Array, "*n"] = eqx.field(default=0.0, converter=_f32)
    t_off: Float[Array, "*n"] = eqx.field(default=jnp.inf, converter=_f32)
    sine_amplitude: Float[Array, "*n"] = eqx.field(default=0.0, converter=_f32)
    sine_freq_hz: Float[Array, "*n"] = eqx.field(default=0.0, converter=_f32)

    def __check_init__(self):
        for name in ("offset", "step", "sine_amplitude", "sine_freq_hz"):
            check_finite("CurrentInjection", name, getattr(self, name), "")

    def __call__(self, t_ms: Float[Array, ""]) -> Float[Array, "*n"]:
        """Current (pA) at time ``t_ms``."""
        on = (t_ms >= self.t_on) & (t_ms < self.t_off)
        sine = self.sine_amplitude * jnp.sin(2 * jnp.pi * self.sine_freq_hz * t_ms / 1000.0)
        return self.offset + jnp.where(on, self.step, 0.0) + sine


def poisson_counts(
    key: PRNGKeyArray, rate_hz: Float[Array, "*n"], dt_ms: Float[Array, ""], shape: tuple[int, ...]
) -> Float[Array, "*shape"]:
    """Spike counts in one step of ``dt_ms`` from Poisson processes of rate ``rate_hz``.

    ``rate_hz`` may be the *summed* rate of many independent sources converging on one
    neuron (superposition of Poisson processes is Poisson), e.g. ``C_ext * nu_ext``.
    """
    lam = jnp.broadcast_to(rate_hz * dt_ms / 1000.0, shape)
    return jax.random.poisson(key, lam, shape).astype(jnp.float32)


def poisson_spikes(
    key: PRNGKeyArray, rate_hz: Float[Array, "*n"], dt_ms: Float[Array, ""], shape: tuple[int, ...]
) -> Float[Array, "*shape"]:
    """Bernoulli approximation of a Poisson spike train: at most one spike per step.

    ``P(spike) = rate * dt``; requires ``rate * dt < 1`` (checked when concrete).
    """
    check_positive("poisson_spikes", "dt_ms", dt_ms, "ms")
    p = rate_hz * dt_ms / 1000.0
    concrete = None if isinstance(p, jax.core.Tracer) else np.asarray(p)
    if concrete is not None and not np.all((concrete >= 0) & (concrete <= 1)):
        raise ValueError(
            f"poisson_spikes: rate_hz * dt_ms / 1000 is a spike probability and must lie in "
            f"[0, 1], got {concrete.tolist()} (rate_hz={np.asarray(rate_hz).tolist()}, "
            f"dt_ms={np.asarray(dt_ms).tolist()}); use poisson_counts for high rates"
        )
    return jax.random.bernoulli(key, jnp.broadcast_to(p, shape)).astype(jnp.float32)
