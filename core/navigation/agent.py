r"""The bee's body: 2D kinematics with heading and velocity, and random outbound routes.

Conventions follow Stone et al. (2017): the heading :math:`\theta` is measured *clockwise
from the +y axis*, so the unit vector of heading :math:`\theta` is
:math:`(\sin\theta, \cos\theta)`. One step of the agent is

.. math::

    \theta_{t+1} &= \mathrm{wrap}(\theta_t + r_t) \\
    v_{t+1} &= (1 - d)\,\bigl(v_t + a_t\,(\sin\theta_{t+1}, \cos\theta_{t+1})\bigr) \\
    x_{t+1} &= x_t + v_{t+1}

with rotation :math:`r_t` (rad), acceleration :math:`a_t` and linear drag :math:`d`. Under
constant thrust the speed settles at :math:`a (1 - d) / d` (0.85 for the outbound defaults
``a = d = 0.15``). Outbound rotations are a correlated random walk: von-Mises turns
(:math:`\kappa = 100`) smoothed by an AR(1) filter :math:`r_t = u_t + 0.4\,r_{t-1}`;
accelerations vary smoothly between random key values drawn every 50 steps in
:math:`[0, a_\mathrm{max}]` (Stone et al.'s ``vary_speed`` routes use cubic splines; we
interpolate linearly, which cannot overshoot below zero).

Units: dimensionless "steps" and arena units (Stone et al.'s code has no physical units).
Reference: T. Stone et al., Current Biology 27:3069 (2017), doi:10.1016/j.cub.2017.08.052.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

OUTBOUND_ACCELERATION = 0.15
INBOUND_ACCELERATION = 0.1
DRAG = 0.15
KAPPA = 100.0
TURN_SMOOTHING = 0.4
KEY_SPEED_INTERVAL = 50


class AgentState(eqx.Module):
    """Heading (rad, clockwise from +y), velocity (2,) and position (2,) of one agent."""

    heading: Float[Array, ""]
    velocity: Float[Array, 2]
    position: Float[Array, 2]


class Route(eqx.Module):
    """An outbound route as its per-step controls: rotations (rad) and accelerations."""

    rotation: Float[Array, " t"]
    acceleration: Float[Array, " t"]


def wrap_angle(angle: Array) -> Array:
    """Map an angle (rad) to ``[-pi, pi)``."""
    return (angle + jnp.pi) % (2.0 * jnp.pi) - jnp.pi


def heading_vector(heading: Array) -> Array:
    """Unit vector ``(sin h, cos h)`` of a heading measured clockwise from +y."""
    return jnp.stack([jnp.sin(heading), jnp.cos(heading)], axis=-1)


def init_agent() -> AgentState:
    """An agent at the nest (origin), facing +y, at rest."""
    zero2 = jnp.zeros(2, jnp.float32)
    return AgentState(heading=jnp.float32(0.0), velocity=zero2, position=zero2)


def move(state: AgentState, rotation: Array, acceleration: Array, drag: Array) -> AgentState:
    """One kinematic step: turn by ``rotation``, thrust ``acceleration`` along the new
    heading, apply linear ``drag`` (fraction of velocity lost per step), then move."""
    heading = wrap_angle(state.heading + rotation)
    velocity = (1.0 - drag) * (state.velocity + acceleration * heading_vector(heading))
    return AgentState(heading=heading, velocity=velocity, position=state.position + velocity)


def _von_mises_turns(key: PRNGKeyArray, n: int, kappa: float) -> Array:
    """Von-Mises(0, kappa) samples by Best & Fisher's (1979) rejection sampler, vectorised:
    8 proposals per sample (acceptance >= 0.66 for every kappa, so a miss is < 1e-3);
    the rare unresolved sample falls back to the normal approximation N(0, 1/kappa)."""
    tau = 1.0 + jnp.sqrt(1.0 + 4.0 * kappa**2)
    rho = (tau - jnp.sqrt(2.0 * tau)) / (2.0 * kappa)
    r = (1.0 + rho**2) / (2.0 * rho)
    k_u1, k_u2, k_u3, k_fb = jax.random.split(key, 4)
    tries = 8
    u1 = jax.random.uniform(k_u1, (tries, n))
    u2 = jax.random.uniform(k_u2, (tries, n))
    u3 = jax.random.uniform(k_u3, (tries, n))
    z = jnp.cos(jnp.pi * u1)
    f = (1.0 + r * z) / (r + z)
    c = kappa * (r - f)
    accept = (c * (2.0 - c) - u2 > 0) | (jnp.log(c / u2) + 1.0 - c >= 0)
    theta = jnp.sign(u3 - 0.5) * jnp.arccos(jnp.clip(f, -1.0, 1.0))
    first = jnp.argmax(accept, axis=0)
    chosen = jnp.take_along_axis(theta, first[None], axis=0)[0]
    fallback = jax.random.normal(k_fb, (n,)) / jnp.sqrt(kappa)
    return jnp.where(jnp.any(accept, axis=0), chosen, fallback)


def random_route(
    key: PRNGKeyArray,
    n_steps: int,
    *,
    max_acceleration: float | Array = OUTBOUND_ACCELERATION,
    kappa: float = KAPPA,
    vary_speed: bool = True,
) -> Route:
    r"""A random foraging route of ``n_steps`` steps (a correlated random walk).

    Rotations: :math:`r_t = u_t + 0.4\,r_{t-1}`, :math:`u_t \sim \mathrm{VonMises}(0,\kappa)`,
    :math:`r_0 = 0`. Accelerations: constant ``max_acceleration`` if not ``vary_speed``, else
    linear interpolation between uniform key values in ``[0, max_acceleration]`` placed
    every 50 steps (at least 4 keys).
    """
    if n_steps < 1:
        raise ValueError(f"random_route: n_steps must be >= 1, got {n_steps}")
    k_turn, k_speed = jax.random.split(key)
    turns = _von_mises_turns(k_turn, n_steps, kappa)

    def smooth(prev, u):
        r = u + TURN_SMOOTHING * prev
        return r, r

    _, rotation = jax.lax.scan(smooth, jnp.float32(0.0), turns)
    rotation = rotation.at[0].set(0.0)
    max_acc = jnp.asarray(max_acceleration, jnp.float32)
    if vary_speed:
        n_keys = max(n_steps // KEY_SPEED_INTERVAL, 4)
        keys = jax.random.uniform(k_speed, (n_keys,)) * max_acc
        acceleration = jnp.interp(
            jnp.linspace(0.0, 1.0, n_steps), jnp.linspace(0.0, 1.0, n_keys), keys
        )
    else:
        acceleration = jnp.full((n_steps,), max_acc)
    return Route(
        rotation=rotation.astype(jnp.float32), acceleration=acceleration.astype(jnp.float32)
    )


def replay_route(route: Route, *, drag: float | Array = DRAG) -> AgentState:
    """Drive an agent from the nest along ``route``; the stacked states of every step."""

    def body(state, control):
        new = move(state, control[0], control[1], drag)
        return new, new

    _, states = jax.lax.scan(
        body, init_agent(), jnp.stack([route.rotation, route.acceleration], -1)
    )
    return states
