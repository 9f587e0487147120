r"""Foraging journeys: an outbound route replayed through a circuit, then free homing.

A journey is a ``jax.lax.scan`` of identical steps. At step ``t`` the circuit senses the
agent's current heading and velocity (:meth:`AbstractCircuit.step`), then the agent moves:
outbound (``t < T_out``) with the route's rotation and acceleration, inbound with the
circuit's steering (``rotation(motor)``) and a constant acceleration 0.1. The carry holds
the route, so the same compiled step serves both phases, a live page can advance a journey in
chunks, and ``jax.vmap`` runs many journeys (routes, noise seeds or circuit parameters) at once.

Homing is scored as in Stone et al.'s analysis: the *closest approach* to the nest during the
inbound phase relative to the turnaround distance; a journey *homes* if that ratio is
<= 0.1. The mean distance over the last third of the inbound phase (relative) measures the
search around the nest.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray, PyTree

from .._prng import split_key
from .agent import DRAG, INBOUND_ACCELERATION, AgentState, Route, init_agent, move, random_route
from .circuit import AbstractCircuit, CXOutput
from .wiring import decode_memory

HOMING_THRESHOLD = 0.1


class JourneyState(eqx.Module):
    """Carry of a journey: step counter, agent, circuit state, route and running scores."""

    t: Int[Array, ""]
    agent: AgentState
    cx: PyTree
    route: Route
    search_from: Int[Array, ""]  # first step of the "search" window (last third of inbound)
    turn_position: Float[Array, 2]
    memory_at_turn: Float[Array, 16]
    closest: Float[Array, ""]  # min distance to the nest since the turnaround
    search_sum: Float[Array, ""]
    search_count: Float[Array, ""]
    key: PRNGKeyArray

    @property
    def n_outbound(self) -> int:
        return self.route.rotation.shape[-1]

    @property
    def outbound(self) -> Bool[Array, ""]:
        return self.t < self.n_outbound


class JourneyRecord(eqx.Module):
    """Per-step record of a journey chunk (leading axis = steps)."""

    position: Float[Array, "t 2"]
    heading: Float[Array, " t"]
    outbound: Bool[Array, " t"]
    output: CXOutput


class JourneySummary(eqx.Module):
    """Scores of finished journeys (scalars, or arrays over a batch).

    ``turn_distance``: nest-to-turnaround distance; ``closest_ratio``: closest inbound approach
    / turnaround distance; ``search_ratio``: mean distance over the last third of inbound /
    turnaround distance; ``decoded_angle_error``: |decoded - true| nest-to-turnaround angle
    (rad) from the CPU4 memory at the turnaround; ``decoded_amplitude``: that memory's
    first-harmonic amplitude (proportional to distance); ``homed``: closest_ratio <= 0.1.
    """

    turn_distance: Float[Array, "*b"]
    closest_ratio: Float[Array, "*b"]
    search_ratio: Float[Array, "*b"]
    decoded_angle_error: Float[Array, "*b"]
    decoded_amplitude: Float[Array, "*b"]
    homed: Bool[Array, "*b"]


def init_journey(
    circuit: AbstractCircuit, route: Route, n_inbound: int | Array, *, key: PRNGKeyArray
) -> JourneyState:
    """A journey at the nest, about to fly ``route`` and then ``n_inbound`` homing steps."""
    k_cx, k_run = jax.random.split(key)
    n_out = route.rotation.shape[-1]
    n_inbound = jnp.asarray(n_inbound, jnp.int32)
    return JourneyState(
        t=jnp.int32(0),
        agent=init_agent(),
        cx=circuit.init_state(key=k_cx),
        route=route,
        search_from=jnp.int32(n_out) + n_inbound - n_inbound // 3,
        turn_position=jnp.zeros(2, jnp.float32),
        memory_at_turn=jnp.zeros(16, jnp.float32),
        closest=jnp.float32(jnp.inf),
        search_sum=jnp.float32(0.0),
        search_count=jnp.float32(0.0),
        key=k_run,
    )


def journey_step(
    circuit: AbstractCircuit,
    state: JourneyState,
    inbound_acceleration: Array = INBOUND_ACCELERATION,
    drag: Array = DRAG,
) -> tuple[JourneyState, JourneyRecord]:
    """One sense-integrate-steer-move step of a journey (see the module docstring)."""
    key, k_cx = split_key(state.key)
    return _step_drawn(circuit, state, key, circuit.draw_noise(k_cx), inbound_acceleration, drag)


def _step_drawn(
    circuit: AbstractCircuit,
    state: JourneyState,
    key: PRNGKeyArray,
    noise: PyTree,
    inbound_acceleration: Array,
    drag: Array,
) -> tuple[JourneyState, JourneyRecord]:
    """:func:`journey_step` with the circuit's noise already drawn and the next ``key``."""
    cx, out = circuit.step_with_noise(state.cx, state.agent.heading, state.agent.velocity, noise)
    outbound = state.outbound
    idx = jnp.minimum(state.t, state.n_outbound - 1)
    rotation = jnp.where(outbound, state.route.rotation[idx], circuit.rotation(out.motor))
    acceleration = jnp.where(outbound, state.route.acceleration[idx], inbound_acceleration)
    agent = move(state.agent, rotation, acceleration, drag)
    distance = jnp.linalg.norm(agent.position)
    at_turn = state.t == state.n_outbound - 1
    after_turn = state.t >= state.n_outbound - 1
    in_search = state.t >= state.search_from
    new = JourneyState(
        t=state.t + 1,
        agent=agent,
        cx=cx,
        route=state.route,
        search_from=state.search_from,
        turn_position=jnp.where(at_turn, agent.position, state.turn_position),
        # the memory sensed at the first inbound step includes the last outbound move
        memory_at_turn=jnp.where(state.t == state.n_outbound, out.memory, state.memory_at_turn),
        closest=jnp.where(after_turn, jnp.minimum(state.closest, distance), state.closest),
        search_sum=state.search_sum + jnp.where(in_search, distance, 0.0),
        search_count=state.search_count + in_search.astype(jnp.float32),
        key=key,
    )
    record = JourneyRecord(
        position=agent.position, heading=agent.heading, outbound=outbound, output=out
    )
    return new, record


NOISE_BLOCK = 50  # agent steps whose circuit noise is drawn in one call


def _run_steps(
    circuit: AbstractCircuit,
    state: JourneyState,
    n_steps: int,
    inbound_acceleration: Array,
    drag: Array,
    record: bool,
) -> tuple[JourneyState, JourneyRecord | None]:
    """``n_steps`` (static) journey steps, identical to repeated :func:`journey_step`, with the
    circuit noise of each block of :data:`NOISE_BLOCK` steps drawn in one call before the
    block's loop: the key chain first (one split per step, as ``journey_step`` does), then
    every step's :meth:`~.circuit.AbstractCircuit.draw_noise` at once. Inside a step the
    draws would be recomputed by each population they feed (XLA fuses the cheap-looking
    hash into every consumer) and vectorise poorly."""

    def block(state: JourneyState, length: int):
        def chain(key, _):
            key, k_cx = split_key(key)
            return key, (key, k_cx)

        _, (keys, step_keys) = jax.lax.scan(chain, state.key, None, length=length)
        noise = jax.vmap(circuit.draw_noise)(step_keys)

        def body(s, x):
            s, rec = _step_drawn(circuit, s, x[0], x[1], inbound_acceleration, drag)
            return s, (rec if record else None)

        return jax.lax.scan(body, state, (keys, noise))

    n_blocks, rest = divmod(n_steps, NOISE_BLOCK)
    records = []
    if n_blocks:
        state, recs = jax.lax.scan(lambda s, _: block(s, NOISE_BLOCK), state, None, length=n_blocks)
        records.append(jax.tree.map(lambda r: r.reshape(-1, *r.shape[2:]), recs))
    if rest:
        state, recs = block(state, rest)
        records.append(recs)
    if not record:
        return state, None
    return state, jax.tree.map(lambda *rs: jnp.concatenate(rs), *records)


@eqx.filter_jit
def advance_journey(
    circuit: AbstractCircuit,
    state: JourneyState,
    n_steps: int,
    inbound_acceleration: float | Array = INBOUND_ACCELERATION,
    drag: float | Array = DRAG,
) -> tuple[JourneyState, JourneyRecord]:
    """Advance a journey by ``n_steps`` (static) steps; returns the state and the per-step record.

    This is the live page's chunk; parameters and accelerations are traced (no recompiles).
    """
    acc = jnp.asarray(inbound_acceleration, jnp.float32)
    drag = jnp.asarray(drag, jnp.float32)
    return _run_steps(circuit, state, n_steps, acc, drag, record=True)


def summarise(state: JourneyState) -> JourneySummary:
    """Scores of a finished journey (works on batched states too)."""
    turn_distance = jnp.linalg.norm(state.turn_position, axis=-1)
    safe = jnp.maximum(turn_distance, 1e-6)
    true_angle = jnp.arctan2(state.turn_position[..., 0], state.turn_position[..., 1])
    decoded_angle, amplitude = decode_memory(state.memory_at_turn, xp=jnp)
    error = jnp.abs((decoded_angle - true_angle + jnp.pi) % (2 * jnp.pi) - jnp.pi)
    closest_ratio = state.closest / safe
    return JourneySummary(
        turn_distance=turn_distance,
        closest_ratio=closest_ratio,
        search_ratio=state.search_sum / jnp.maximum(state.search_count, 1.0) / safe,
        decoded_angle_error=error,
        decoded_amplitude=amplitude,
        homed=closest_ratio <= HOMING_THRESHOLD,
    )


def _run_one(circuit, route, key, n_inbound, inbound_acceleration, drag):
    state = init_journey(circuit, route, n_inbound, key=key)
    circuit = circuit.prepare()
    n = route.rotation.shape[-1] + n_inbound
    state, _ = _run_steps(circuit, state, n, inbound_acceleration, drag, record=False)
    return summarise(state)


@eqx.filter_jit
def run_journeys(
    circuit: AbstractCircuit,
    routes: Route,
    keys: PRNGKeyArray,
    n_inbound: int,
    inbound_acceleration: float | Array = INBOUND_ACCELERATION,
    drag: float | Array = DRAG,
) -> JourneySummary:
    """Run a batch of whole journeys with ``jax.vmap`` (routes and keys have a leading batch
    axis; ``n_inbound`` is static) and return their summaries (arrays over the batch)."""
    acc = jnp.asarray(inbound_acceleration, jnp.float32)
    drag = jnp.asarray(drag, jnp.float32)
    return jax.vmap(lambda r, k: _run_one(circuit, r, k, n_inbound, acc, drag))(routes, keys)


@eqx.filter_jit
def run_population(
    circuits: AbstractCircuit,
    routes: Route,
    keys: PRNGKeyArray,
    n_inbound: int,
    inbound_acceleration: float | Array = INBOUND_ACCELERATION,
    drag: float | Array = DRAG,
) -> JourneySummary:
    """Every circuit of a population (its array fields have a leading population axis) flies
    every route: summaries of shape ``(population, routes)``, all in one ``vmap``."""
    acc = jnp.asarray(inbound_acceleration, jnp.float32)
    drag = jnp.asarray(drag, jnp.float32)

    def one_circuit(circuit, k):
        ks = jax.random.split(k, routes.rotation.shape[0])
        return jax.vmap(lambda r, kk: _run_one(circuit, r, kk, n_inbound, acc, drag))(routes, ks)

    pop_keys = keys
    return eqx.filter_vmap(one_circuit)(circuits, pop_keys)


@eqx.filter_jit
def random_routes(key: PRNGKeyArray, n_routes: int, n_steps: int, **kwargs) -> Route:
    """``n_routes`` random outbound routes (a batched :class:`Route`; jitted, sizes static);
    see :func:`~snnviz.core.navigation.agent.random_route`."""
    keys = jax.random.split(key, n_routes)
    return jax.vmap(lambda k: random_route(k, n_steps, **kwargs))(keys)


def distance_scale(circuit: AbstractCircuit, n_steps: int = 200, chunk: int = 25) -> float:
    """Calibrate the decoded distance: first-harmonic amplitude of the CPU4 memory per unit
    distance, divided by the memory gain, after a noise-free straight flight of ``n_steps``
    (run in chunks of ``chunk`` steps, the live page's compiled size). 1.0 means
    ``amplitude / memory_gain`` reads distance directly (the rate model: 1.0 +- 5 %)."""
    quiet = eqx.tree_at(lambda c: c.noise, circuit, jnp.float32(0.0))
    n_steps = chunk * max(1, n_steps // chunk)
    route = Route(
        rotation=jnp.full(n_steps, 0.0, jnp.float32).at[0].set(0.7),
        acceleration=jnp.full(n_steps, 0.1, jnp.float32),
    )
    state = init_journey(quiet, route, chunk, key=jax.random.key(0))
    for _ in range(n_steps // chunk + 1):
        state, _ = advance_journey(quiet, state, chunk)
    _, amplitude = decode_memory(state.cx.memory, xp=jnp)
    distance = jnp.linalg.norm(state.agent.position)
    return float(amplitude / (circuit.memory_gain * distance))


def stack_circuits(circuits: list[AbstractCircuit]) -> AbstractCircuit:
    """Stack circuits of one structure (same type, shapes and static fields) along a new
    leading axis, the population input of :func:`run_population`."""
    arrays = [eqx.filter(c, eqx.is_array) for c in circuits]
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *arrays)
    return eqx.combine(stacked, eqx.filter(circuits[0], eqx.is_array, inverse=True))
