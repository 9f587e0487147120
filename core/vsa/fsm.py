r"""Finite-state machines embedded in a recurrent attractor network with VSA codes.

Construction of Cotteret, Greatorex, Ziegler & Chicca, *Vector Symbolic Finite State Machines in
Attractor Neural Networks*, Neural Computation 36(4):549 (2024), arXiv:2212.01196, Sec. III-A,
Eqs. (14), (16), (17); used on memristive hardware and Loihi 2 in Cotteret et al., *Distributed
representations enable robust multi-timescale symbolic computation in neuromorphic hardware*,
Neuromorph. Comput. Eng. 5:014008 (2025), arXiv:2405.01305.

Codes (dense bipolar, MAP binding = element-wise product): every FSM state :math:`\chi` gets a
random node vector :math:`\mathbf{x}\in\{\pm1\}^N`; every stored edge (transition
:math:`\chi \xrightarrow{\varsigma} \chi'` with :math:`\chi' \ne \chi`) an *edge state*
:math:`\mathbf{e}`; every input symbol :math:`\varsigma` a *pair* of stimulus vectors
:math:`\mathbf{s}_a, \mathbf{s}_b`. A transition runs in two phases,
:math:`\mathbf{x} \xrightarrow{\mathbf{s}_a} \mathbf{e} \xrightarrow{\mathbf{s}_b} \mathbf{y}`, so
that an input held for many steps cannot skip over states or oscillate.

Weights (Eqs. 16-17; the diagonal is set to zero):

.. math::

    W = \frac1N \sum_\nu \mathbf{x}^\nu \mathbf{x}^{\nu\top}
      + \frac1N \sum_\eta \Big[\mathbf{e}\mathbf{e}^\top
      + H(\mathbf{s}_a)\circ(\mathbf{e}-\mathbf{x})\,(\mathbf{x}\circ\mathbf{s}_a)^\top
      + H(\mathbf{s}_b)\circ(\mathbf{y}-\mathbf{e})\,(\mathbf{e}\circ\mathbf{s}_b)^\top\Big]

The first two sums are symmetric (auto-associative: every node and edge state is a fixed point).
The transition terms are hetero-associative outer products whose key :math:`\mathbf{x}\circ
\mathbf{s}_a` is the source state *bound* to the input: it is pseudo-orthogonal to every network
state, so the term is invisible until the input masks the network state with
:math:`H(\mathbf{s})` (silencing the neurons where :math:`s_i=-1`), which unbinds it:
:math:`(\mathbf{x}\circ\mathbf{s})^\top(\mathbf{x}\circ H(\mathbf{s})) \approx N/2`.

Dynamics (Eq. 14): binary neurons :math:`z_i \in \{\pm1\}`, all updated every step,

.. math:: \mathbf{z}_{t+1} = \operatorname{sgn}\big(W(\mathbf{z}_t \circ \mathbf{m}_t)\big),
   \qquad \operatorname{sgn}(0) = +1,

with :math:`\mathbf{m}_t = H(\mathbf{s})` while a stimulus is shown and :math:`\mathbf{1}` without
input. ``update_prob < 1`` gives the paper's asynchronous variant (Sec. IV-C): each neuron adopts
its new value with that probability per step and keeps its old one otherwise.

Spikes: we read the binary network as a spiking one in which neuron *i* emits a spike at step
*t* iff :math:`z_i(t) = +1`. With spikes :math:`\mathbf{o} = (\mathbf{z}+1)/2` the update is a
threshold unit :math:`o_i' = [\sum_j 2W_{ij} m_j o_j \ge \sum_j W_{ij} m_j]` (synaptic weights
:math:`2W`, an input-dependent threshold); :func:`reference_run_numpy` implements that form
independently for the tests. Self-loops (:math:`\chi \xrightarrow{\varsigma} \chi`) are not
stored: a stimulus with no stored edge from the current state leaves the network in its attractor
(the paper's "nonsense input", Fig. 2).

Everything below is jittable; run many walks at once by giving the state a leading batch axis.
"""

from __future__ import annotations

import dataclasses
import string
from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from .algebra import random_bipolar
from .nonideal import WeightNonideality, _as_float32


def _optional_float32(value: ArrayLike | None) -> Array | None:
    return None if value is None else _as_float32(value)


__all__ = [
    "FSM",
    "NO_INPUT",
    "FSMCodes",
    "FSMNetwork",
    "build_network",
    "builtin_fsm",
    "capacity_sweep",
    "evaluate_fsm",
    "fsm_weights",
    "make_codes",
    "parity_fsm",
    "presentation_schedule",
    "random_fsm",
    "reference_run_numpy",
    "simulate",
    "stimulus_id",
    "stimulus_masks",
    "table_codes",
    "traffic_light_fsm",
    "transition_accuracy",
]

#: Stimulus id of the "no input" steps (mask of all ones). Symbol ``a`` shows ``s_a`` with id
#: ``1 + 2a`` and ``s_b`` with id ``2 + 2a`` (see :func:`stimulus_id`).
NO_INPUT = 0


# --------------------------------------------------------------------------- the FSM itself
@dataclasses.dataclass(frozen=True)
class FSM:
    """A deterministic finite-state machine: ``table[state][symbol]`` is the next state.

    Args:
        name: a label for displays.
        states: state names (unique).
        inputs: input-symbol names (unique).
        table: ``len(states) x len(inputs)`` next-state indices.
    """

    name: str
    states: tuple[str, ...]
    inputs: tuple[str, ...]
    table: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "states", tuple(str(s) for s in self.states))
        object.__setattr__(self, "inputs", tuple(str(s) for s in self.inputs))
        object.__setattr__(self, "table", tuple(tuple(int(v) for v in row) for row in self.table))
        for what, names in (("states", self.states), ("inputs", self.inputs)):
            if not names:
                raise ValueError(f"FSM {self.name!r}: needs at least one entry in {what}")
            if len(set(names)) != len(names):
                raise ValueError(f"FSM {self.name!r}: {what} must be unique, got {names}")
        shape = (len(self.table), *{len(row) for row in self.table})
        if shape != (len(self.states), len(self.inputs)):
            raise ValueError(
                f"FSM {self.name!r}: table must be {len(self.states)} x {len(self.inputs)} "
                f"(states x inputs), got rows of lengths {[len(r) for r in self.table]}"
            )
        bad = [v for row in self.table for v in row if not 0 <= v < len(self.states)]
        if bad:
            raise ValueError(
                f"FSM {self.name!r}: next states must be in [0, {len(self.states)}), got {bad[:5]}"
            )

    @property
    def n_states(self) -> int:
        return len(self.states)

    @property
    def n_inputs(self) -> int:
        return len(self.inputs)

    @property
    def table_array(self) -> np.ndarray:
        """The transition table as an ``int32`` array ``(n_states, n_inputs)``."""
        return np.asarray(self.table, dtype=np.int32).reshape(self.n_states, self.n_inputs)

    def input_index(self, symbol: int | str) -> int:
        """The index of an input symbol given by name or index (ValueError if unknown)."""
        if isinstance(symbol, str):
            if symbol not in self.inputs:
                raise ValueError(
                    f"FSM {self.name!r}: unknown input {symbol!r}; inputs: {self.inputs}"
                )
            return self.inputs.index(symbol)
        if not 0 <= int(symbol) < self.n_inputs:
            raise ValueError(f"FSM {self.name!r}: input index {symbol} not in [0, {self.n_inputs})")
        return int(symbol)

    def next_state(self, state: int, symbol: int | str) -> int:
        """``F(state, symbol)``."""
        return self.table[int(state)][self.input_index(symbol)]

    def run(self, start: int, symbols: Sequence[int | str]) -> np.ndarray:
        """The states after each symbol of ``symbols``, starting from ``start``."""
        out, state = [], int(start)
        for symbol in symbols:
            state = self.next_state(state, symbol)
            out.append(state)
        return np.asarray(out, dtype=np.int32)

    def transitions(self) -> np.ndarray:
        """The stored edges ``(n_edges, 3)`` as ``[source, input, target]`` rows, self-loops
        excluded (they need no weights: the state simply persists)."""
        rows = [(s, a, t) for s, row in enumerate(self.table) for a, t in enumerate(row) if t != s]
        return np.asarray(rows, dtype=np.int32).reshape(-1, 3)


def parity_fsm() -> FSM:
    """Parity checker of a bit stream: input ``1`` flips between *even* and *odd*, ``0`` keeps."""
    return FSM("parity checker", ("even", "odd"), ("0", "1"), ((0, 1), (1, 0)))


def traffic_light_fsm() -> FSM:
    """A pedestrian crossing: inputs ``timer`` (phase time is up) and ``button`` (a pedestrian
    asks to cross). A request made during green or amber is remembered (``… (req)`` states) and
    served by the *walk* phase after red; without a request the cycle skips *walk*."""
    states = ("green", "green (req)", "amber", "amber (req)", "red", "walk", "red+amber")
    g, gr, a, ar, r, w, ra = range(7)
    table = (
        (a, gr),  # green: timer -> amber, button -> remember the request
        (ar, gr),  # green (req)
        (r, ar),  # amber
        (w, ar),  # amber (req): the request is served after amber
        (ra, w),  # red: a request during red is served at once
        (ra, w),  # walk: timer ends the walk phase
        (g, gr),  # red+amber
    )
    return FSM("traffic light", states, ("timer", "button"), table)


def random_fsm(n_states: int = 50, n_inputs: int = 2, *, seed: int = 0) -> FSM:
    """A random FSM: input 0 walks a random ring through all states (so every state is
    reachable from every other); every other entry of the table is a uniform random state."""
    if n_states < 2 or n_inputs < 1:
        raise ValueError(
            f"random_fsm needs n_states >= 2 and n_inputs >= 1, got {n_states}, {n_inputs}"
        )
    rng = np.random.default_rng(seed)
    table = rng.integers(0, n_states, size=(n_states, n_inputs))
    order = rng.permutation(n_states)
    table[order, 0] = np.roll(order, -1)
    letters = string.ascii_lowercase
    inputs = tuple(letters[i] if i < 26 else f"in{i}" for i in range(n_inputs))
    states = tuple(f"q{i}" for i in range(n_states))
    return FSM(f"random ({n_states} states)", states, inputs, tuple(map(tuple, table)))


def builtin_fsm(kind: str, *, n_states: int = 50, n_inputs: int = 2, seed: int = 0) -> FSM:
    """``"parity"``, ``"traffic light"`` or ``"random"`` (``n_states``, ``n_inputs``, ``seed``)."""
    if kind == "parity":
        return parity_fsm()
    if kind in ("traffic light", "traffic_light"):
        return traffic_light_fsm()
    if kind == "random":
        return random_fsm(n_states, n_inputs, seed=seed)
    raise ValueError(f"unknown FSM {kind!r}; built-ins: 'parity', 'traffic light', 'random'")


# --------------------------------------------------------------------------- codes and weights
class FSMCodes(eqx.Module):
    """The hypervectors of one FSM embedding (all ``float32`` ``+-1``, dimension ``N`` last).

    Attributes:
        states: node attractors ``x`` ``(n_states, N)``.
        edge_states: intermediate edge attractors ``e`` ``(n_edges, N)``.
        stim_a, stim_b: the two stimulus vectors of every input symbol ``(n_inputs, N)``.
        transitions: the edges ``(n_edges, 3)``: ``[source, input, target]``.
        state_valid, edge_valid: 1 for stored states / edges, 0 for padding rows (which add
            nothing to the weights), so FSMs of different sizes can share array shapes.
    """

    states: Float[Array, "S N"]
    edge_states: Float[Array, "E N"]
    stim_a: Float[Array, "I N"]
    stim_b: Float[Array, "I N"]
    transitions: Int[Array, "E 3"]
    state_valid: Float[Array, " S"]
    edge_valid: Float[Array, " E"]

    @property
    def n_neurons(self) -> int:
        return self.states.shape[-1]


def make_codes(fsm: FSM, n_neurons: int, *, key: jax.Array) -> FSMCodes:
    """Random dense bipolar codes for ``fsm``'s states, stored edges and input symbols."""
    if int(n_neurons) < 8:
        raise ValueError(f"n_neurons must be >= 8, got {n_neurons}")
    edges = fsm.transitions()
    k_x, k_e, k_a, k_b = jax.random.split(key, 4)
    n = int(n_neurons)
    return FSMCodes(
        states=random_bipolar(k_x, (fsm.n_states, n)),
        edge_states=random_bipolar(k_e, (edges.shape[0], n)),
        stim_a=random_bipolar(k_a, (fsm.n_inputs, n)),
        stim_b=random_bipolar(k_b, (fsm.n_inputs, n)),
        transitions=jnp.asarray(edges),
        state_valid=jnp.ones(fsm.n_states, jnp.float32),
        edge_valid=jnp.ones(edges.shape[0], jnp.float32),
    )


def table_codes(
    table: Int[Array, "S I"], n_valid: Int[Array, ""], n_neurons: int, *, key: jax.Array
) -> FSMCodes:
    """Jittable codes for a (padded) transition table: one edge row per (state, input) pair;
    pairs that are self-loops or start at a padding state (``>= n_valid``) get weight 0."""
    n_states, n_inputs = table.shape
    src = jnp.repeat(jnp.arange(n_states), n_inputs)
    inp = jnp.tile(jnp.arange(n_inputs), n_states)
    dst = table.reshape(-1)
    k_x, k_e, k_a, k_b = jax.random.split(key, 4)
    return FSMCodes(
        states=random_bipolar(k_x, (n_states, n_neurons)),
        edge_states=random_bipolar(k_e, (n_states * n_inputs, n_neurons)),
        stim_a=random_bipolar(k_a, (n_inputs, n_neurons)),
        stim_b=random_bipolar(k_b, (n_inputs, n_neurons)),
        transitions=jnp.stack([src, inp, dst], axis=1).astype(jnp.int32),
        state_valid=(jnp.arange(n_states) < n_valid).astype(jnp.float32),
        edge_valid=((dst != src) & (src < n_valid)).astype(jnp.float32),
    )


def _heaviside(s: Array) -> Array:
    return (s > 0).astype(s.dtype)


@eqx.filter_jit
def fsm_weights(codes: FSMCodes, *, zero_diagonal: bool = True) -> Float[Array, "N N"]:
    """The weight matrix of Eqs. (16)-(17) (module docstring); ``W[i, j]`` is the weight from
    neuron ``j`` to neuron ``i``. Padding rows (``*_valid == 0``) contribute nothing."""
    x, e = codes.states, codes.edge_states
    n = x.shape[-1]
    src, inp, dst = codes.transitions[:, 0], codes.transitions[:, 1], codes.transitions[:, 2]
    sa, sb = codes.stim_a[inp], codes.stim_b[inp]
    ws, we = codes.state_valid[:, None], codes.edge_valid[:, None]
    post = jnp.concatenate(
        [ws * x, we * e, we * _heaviside(sa) * (e - x[src]), we * _heaviside(sb) * (x[dst] - e)]
    )
    pre = jnp.concatenate([x, e, x[src] * sa, e * sb])
    w = (post.T @ pre) / n
    if zero_diagonal:  # (a scatter: 1 - eye(N) would be constant-folded, N^2 at compile time)
        w = w.at[jnp.arange(n), jnp.arange(n)].set(0.0)
    return w


def stimulus_masks(codes: FSMCodes) -> Float[Array, "M N"]:
    """Row ``NO_INPUT`` = all ones; rows ``1 + 2a`` / ``2 + 2a`` = ``H(s_a)`` / ``H(s_b)`` of
    symbol ``a``."""
    phases = jnp.stack([_heaviside(codes.stim_a), _heaviside(codes.stim_b)], axis=1)
    ones = jnp.ones((1, codes.n_neurons), dtype=codes.states.dtype)
    return jnp.concatenate([ones, phases.reshape(-1, codes.n_neurons)])


def stimulus_id(symbol: int | Array, phase: str) -> int | Array:
    """The stimulus id of symbol index ``symbol`` in ``phase`` ``"a"`` or ``"b"``."""
    if phase not in ("a", "b"):
        raise ValueError(f"phase must be 'a' or 'b', got {phase!r}")
    return 1 + 2 * symbol + (phase == "b")


def presentation_schedule(
    symbols: Sequence[int] | np.ndarray, *, steps_a: int, steps_b: int, steps_rest: int
) -> np.ndarray:
    """Stimulus ids for presenting ``symbols`` in turn: each shows ``s_a`` for ``steps_a``
    steps, ``s_b`` for ``steps_b`` steps, then no input for ``steps_rest`` steps."""
    if min(steps_a, steps_b) < 1 or steps_rest < 0:
        raise ValueError(
            f"need steps_a >= 1, steps_b >= 1, steps_rest >= 0; got {steps_a}, {steps_b}, "
            f"{steps_rest}"
        )
    out = []
    for a in np.asarray(symbols, dtype=np.int64).ravel():
        out += [1 + 2 * a] * steps_a + [2 + 2 * a] * steps_b + [NO_INPUT] * steps_rest
    return np.asarray(out, dtype=np.int32)


# --------------------------------------------------------------------------- the network
class FSMNetwork(eqx.Module):
    """The recurrent binary (spiking) network: one call is one update, Eq. (14).

    ``weights (N, N)``, ``masks (M, N)`` from :func:`stimulus_masks`. ``update_prob``: ``None``
    = synchronous, every neuron updates every step (the paper's main results, no random numbers
    drawn); a value in ``(0, 1]`` (traced, so it can change without recompiling) = each neuron
    updates with that probability per step (Sec. IV-C). Call with a state ``z (..., N)`` of
    ``+-1``, stimulus ids ``(...)`` and a PRNG key (ignored when synchronous); returns the new
    state. Driving it over time::

        def body(z, inputs):
            stim, key = inputs
            z = net(z, stim, key)
            return z, z > 0            # spikes: neurons at +1
        z, spikes = jax.lax.scan(body, z0, (stim_ids, jax.random.split(key, len(stim_ids))))
    """

    weights: Float[Array, "N N"]
    masks: Float[Array, "M N"]
    update_prob: Float[Array, ""] | None = eqx.field(converter=_optional_float32, default=None)

    def __check_init__(self) -> None:
        n = self.weights.shape[-1]
        if self.weights.shape != (n, n) or self.masks.shape[-1] != n:
            raise ValueError(
                f"FSMNetwork: weights must be (N, N) and masks (M, N); got {self.weights.shape} "
                f"and {self.masks.shape}"
            )
        if self.update_prob is not None and not isinstance(self.update_prob, jax.core.Tracer):
            p = float(self.update_prob)
            if not 0.0 < p <= 1.0:
                raise ValueError(f"FSMNetwork: update_prob must be in (0, 1], got {p}")

    @property
    def n_neurons(self) -> int:
        return self.weights.shape[-1]

    def __call__(
        self, z: Float[Array, "... N"], stim: Int[Array, "*shape"], key: jax.Array | None = None
    ) -> Float[Array, "... N"]:
        mask = self.masks[stim]
        drive = (z * mask) @ self.weights.T
        new = jnp.where(drive >= 0, 1.0, -1.0).astype(z.dtype)
        if self.update_prob is None:
            return new
        if key is None:
            raise ValueError("FSMNetwork: an asynchronous network (update_prob set) needs a key")
        return jnp.where(jax.random.uniform(key, z.shape) < self.update_prob, new, z)


@eqx.filter_jit
def simulate(
    net: FSMNetwork,
    z0: Float[Array, "... N"],
    stim_ids: Int[Array, "T ..."],
    *,
    key: jax.Array,
    readout: Float[Array, "R N"],
    n_record: int = 0,
) -> tuple[Float[Array, "... N"], dict[str, Array]]:
    """Run ``len(stim_ids)`` updates from ``z0``.

    Returns the final state and records over time: ``similarity (T, ..., R)`` of the state to
    every ``readout`` vector (``z . r / N``) and ``spikes (T, ..., n_record)`` (bool) of the
    first ``n_record`` neurons.
    """
    n = z0.shape[-1]

    def body(z: Array, inputs: tuple[Array, Array | None]) -> tuple[Array, dict[str, Array]]:
        stim, k = inputs
        z = net(z, stim, k)
        return z, {"similarity": (z @ readout.T) / n, "spikes": z[..., :n_record] > 0}

    keys = None if net.update_prob is None else jax.random.split(key, stim_ids.shape[0])
    return jax.lax.scan(body, z0, (jnp.asarray(stim_ids), keys))


@eqx.filter_jit
def transition_accuracy(
    net: FSMNetwork,
    states: Float[Array, "S N"],
    table: Int[Array, "S I"],
    *,
    key: jax.Array,
    n_walks: int,
    n_presentations: int,
    steps_a: int = 3,
    steps_b: int = 3,
    steps_rest: int = 3,
    n_valid: Int[Array, ""] | None = None,
    readout: Float[Array, "R N"] | None = None,
) -> dict[str, Array]:
    """Drive ``n_walks`` random walks (random start state, ``n_presentations`` random symbols)
    through the network and compare with the FSM.

    Each symbol is shown as :func:`presentation_schedule` describes; after its no-input period
    the network state is decoded as the most similar node state. Returns ``accuracy`` (fraction
    of presentations decoded as the FSM's state), ``correct (n_walks, n_presentations)``,
    ``decoded`` and ``expected`` (same shape), ``overlap`` (similarity to the expected state
    at decoding time), and the walks themselves: ``start (n_walks,)`` and ``symbols``.

    ``n_valid`` (traced): only the first ``n_valid`` states exist (the rest of ``states`` and
    ``table`` is padding, never started from nor decoded), so FSMs of several sizes share one
    compiled function. With ``readout (R, N)``, ``trace (n_presentations, steps, R)`` is the
    similarity of the first walk's state to every readout vector after every update.
    """
    n_states, n_inputs = table.shape
    n_valid = jnp.asarray(n_states if n_valid is None else n_valid)
    k_start, k_sym, k_run = jax.random.split(key, 3)
    start = jax.random.randint(k_start, (n_walks,), 0, n_valid)
    symbols = jax.random.randint(k_sym, (n_presentations, n_walks), 0, n_inputs)

    def fsm_step(state: Array, symbol: Array) -> tuple[Array, Array]:
        nxt = table[state, symbol]
        return nxt, nxt

    _, expected = jax.lax.scan(fsm_step, start, symbols)  # (P, W)
    phase = jnp.concatenate(
        [jnp.full(steps_a, 1), jnp.full(steps_b, 2), jnp.zeros(steps_rest, jnp.int32)]
    )
    n = states.shape[-1]

    def present(z: Array, inputs: tuple[Array, Array]) -> tuple[Array, tuple[Array, Array]]:
        symbol, k = inputs  # (W,), key

        def update(z: Array, step: tuple[Array, Array | None]) -> tuple[Array, Array | None]:
            ph, kk = step
            stim = jnp.where(ph == 0, NO_INPUT, 2 * symbol + ph)
            z = net(z, stim, kk)
            return z, None if readout is None else (z[0] @ readout.T) / n

        keys = None if net.update_prob is None else jax.random.split(k, phase.shape[0])
        z, trace = jax.lax.scan(update, z, (phase, keys))
        sims = (z @ states.T) / n
        valid = jnp.arange(n_states) < n_valid
        decoded = jnp.argmax(jnp.where(valid[None, :], sims, -jnp.inf), axis=-1)
        return z, (decoded, sims, trace)

    keys = None if net.update_prob is None else jax.random.split(k_run, n_presentations)
    _, (decoded, sims, trace) = jax.lax.scan(present, states[start], (symbols, keys))
    overlap = jnp.take_along_axis(sims, expected[..., None], axis=-1)[..., 0]
    correct = decoded == expected
    extra = {} if readout is None else {"trace": trace}
    return extra | {
        "accuracy": jnp.mean(correct),
        "correct": correct.T,
        "decoded": decoded.T,
        "expected": expected.T,
        "overlap": overlap.T,
        "start": start,
        "symbols": symbols.T,
    }


# --------------------------------------------------------------------------- experiments
def build_network(
    table: Int[Array, "S I"],
    n_valid: Int[Array, ""],
    n_neurons: int,
    *,
    key: jax.Array,
    nonideality: WeightNonideality | None = None,
    update_prob: ArrayLike | None = None,
) -> tuple[FSMCodes, FSMNetwork]:
    """Codes (:func:`table_codes`) and the network for a (padded) transition table, its
    weights passed through ``nonideality`` (one chip per ``key``). Jittable; this is what
    :func:`evaluate_fsm` measures, so a page can show the very network a claim was checked on."""
    k_codes, k_chip = jax.random.split(key)
    codes = table_codes(table, n_valid, n_neurons, key=k_codes)
    weights = fsm_weights(codes)
    if nonideality is not None:
        weights = nonideality(weights, key=k_chip)
    return codes, FSMNetwork(weights, stimulus_masks(codes), update_prob)


def evaluate_fsm(
    fsm: FSM,
    n_neurons: int,
    *,
    key: jax.Array,
    nonideality: WeightNonideality | None = None,
    update_prob: float | None = None,
    n_walks: int = 16,
    n_presentations: int = 25,
    steps_a: int = 2,
    steps_b: int = 2,
    steps_rest: int = 2,
) -> dict[str, Array]:
    """Embed ``fsm`` in ``n_neurons`` neurons (fresh codes from ``key``), apply
    ``nonideality`` to the ideal weights (a fresh chip from ``key``) and measure
    :func:`transition_accuracy` on random walks. One compiled run serves every FSM with the
    same numbers of states and inputs and every strength of the non-idealities.

    The result also holds ``trace``: the first walk's similarity after every update to the
    node states and then to the edge states of every (state, input) pair, of which only those
    with ``edge_valid`` are stored transitions (the others are unused random vectors)."""
    table = jnp.asarray(fsm.table_array)
    return _experiment(
        key,
        table,
        jnp.asarray(fsm.n_states),
        nonideality,
        None if update_prob is None or update_prob == 1.0 else jnp.asarray(update_prob),
        n_neurons=int(n_neurons),
        n_walks=n_walks,
        n_presentations=n_presentations,
        steps=(steps_a, steps_b, steps_rest),
    )


@eqx.filter_jit
def _experiment(
    key: jax.Array,
    table: Array,
    n_valid: Array,
    nonideality: WeightNonideality | None,
    update_prob: Array | None,
    *,
    n_neurons: int,
    n_walks: int,
    n_presentations: int,
    steps: tuple[int, int, int],
) -> dict[str, Array]:
    k_net, k_walks = jax.random.split(key)
    codes, net = build_network(
        table, n_valid, n_neurons, key=k_net, nonideality=nonideality, update_prob=update_prob
    )
    steps_a, steps_b, steps_rest = steps
    result = transition_accuracy(
        net,
        codes.states,
        table,
        key=k_walks,
        n_walks=n_walks,
        n_presentations=n_presentations,
        steps_a=steps_a,
        steps_b=steps_b,
        steps_rest=steps_rest,
        n_valid=n_valid,
        readout=jnp.concatenate([codes.states, codes.edge_states]),
    )
    return result | {"edge_valid": codes.edge_valid > 0}


def capacity_sweep(
    n_neurons: int,
    candidates: Sequence[int],
    *,
    key: jax.Array,
    n_inputs: int = 2,
    threshold: float = 0.99,
    n_walks: int = 8,
    n_presentations: int = 25,
    steps_a: int = 2,
    steps_b: int = 2,
    steps_rest: int = 2,
) -> dict[str, Any]:
    """The largest random FSM (``n_inputs`` symbols) that ``n_neurons`` neurons run with
    transition accuracy >= ``threshold``, by bisection over the sorted ``candidates`` (state
    counts; accuracy is assumed to fall with size). Every size shares one compiled run (tables
    padded to the largest candidate; each size gets its own random FSM and codes). Returns
    ``n_states`` and ``accuracy`` (the sizes tried, in order) and ``capacity`` (0 if the
    smallest candidate fails)."""
    sizes = sorted({int(c) for c in candidates})
    if not sizes or sizes[0] < 2:
        raise ValueError(f"candidates must be state counts >= 2, got {list(candidates)}")
    s_max = sizes[-1]
    tried: list[int] = []
    accuracies: list[float] = []
    passing, failing = -1, len(sizes)  # indices known to pass / fail
    while failing - passing > 1:
        i = (passing + failing) // 2
        n_states = sizes[i]
        seed = int(jax.random.randint(jax.random.fold_in(key, n_states), (), 0, 2**30))
        fsm = random_fsm(n_states, n_inputs, seed=seed)
        table = np.tile(np.arange(s_max, dtype=np.int32)[:, None], (1, n_inputs))
        table[:n_states] = fsm.table_array
        acc = float(
            _experiment(
                jax.random.fold_in(key, 10_000 + n_states),
                jnp.asarray(table),
                jnp.asarray(n_states),
                None,
                None,
                n_neurons=int(n_neurons),
                n_walks=n_walks,
                n_presentations=n_presentations,
                steps=(steps_a, steps_b, steps_rest),
            )["accuracy"]
        )
        tried.append(n_states)
        accuracies.append(acc)
        if acc >= threshold:
            passing = i
        else:
            failing = i
    capacity = sizes[passing] if passing >= 0 else 0
    return {"n_states": tried, "accuracy": accuracies, "capacity": capacity}


# --------------------------------------------------------------------------- numpy reference
def reference_run_numpy(
    weights: np.ndarray, masks: np.ndarray, z0: np.ndarray, stim_ids: Sequence[int]
) -> np.ndarray:
    """An independent float64 numpy run of the synchronous network in its *spiking* form:
    spikes ``o = (z + 1)/2``, ``o_i' = [sum_j 2 W_ij m_j o_j >= sum_j W_ij m_j]``.
    Returns the spikes ``(T, N)`` as bools."""
    w = np.asarray(weights, dtype=np.float64)
    spikes = (np.asarray(z0) > 0).astype(np.float64)
    out = []
    for stim in stim_ids:
        m = np.asarray(masks[int(stim)], dtype=np.float64)
        current = (2.0 * w) @ (m * spikes)
        threshold = w @ m
        spikes = (current >= threshold).astype(np.float64)
        out.append(spikes > 0)
    return np.asarray(out, dtype=bool).reshape(len(out), -1)
