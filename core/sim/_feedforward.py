r"""A feed-forward layer, ``n_in`` spike inputs -> dense weights -> ``n_out`` LIF neurons, run a
chunk at a time.

The synaptic input of a chunk of ``T`` steps does not depend on the neurons, so it is computed
*before* the time loop, for all ``T * B`` rows (steps x batch) at once:

.. math::

    J_{t,b,j} = \sum_i s_{t,b,i}\, W_{ij} \quad \text{(pA)}, \qquad
    (V, I_\mathrm{syn})_{t+1} = \mathrm{LIF}\big((V, I_\mathrm{syn})_t + (0, J_t),\ I_\mathrm{bias}\big)

and the time loop that remains is the neuron's elementwise exact step (:meth:`LIF.discretise`).
Two ways to form ``J``:

* **hoisted** -- one dense ``(T*B, n_in) @ (n_in, n_out)`` matmul per chunk. Its cost does not
  depend on how many inputs are active; it wins when many are.
* **event** -- event-driven: for each row, the indices of its active inputs are put in a
  fixed-size list of ``capacity`` slots (``lax.top_k`` of the activity mask) and only those
  weight rows are gathered and summed. Rows are processed in blocks of ``rows_per_block``; a
  block runs as many gather passes (8 slots each) as its busiest row needs. If any row of a block
  has more than ``capacity`` active inputs, that whole block falls back to the dense matmul, so
  no spike is ever dropped (``stats["overflow_blocks"]`` counts such blocks).

``path="auto"`` picks per chunk, from the measured input activity: the event path when the
fraction of non-zero input entries is at most ``event_max_density`` (default 0.03: the
crossover that ``benchmarks/engine_throughput.py`` measures at 3-4 % on a 2-core CPU, where a
gathered weight row, list building included, costs ~25-30 rows of the dense matmul), else the
hoisted path. Both branches are compiled once; only the chosen one runs. Batch with
``batch_shape`` rather than ``jax.vmap``: under ``vmap`` the per-chunk and per-block
``lax.cond`` turn into ``select`` and both branches run (still correct, only slower).

Every numeric field (weights, neuron parameters, ``dt``, rates, bias) is a traced array, so a
new value reuses the compiled code; only shapes and the structural fields (``batch_shape``,
``path``, ``capacity``, ``rows_per_block``, ``event_max_density``, ``record_voltage``) are static.
Units: ms, mV, pA, Hz.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ..inputs import poisson_spikes
from ..neurons._checks import check_finite, check_positive
from ..neurons.lif import LIF, LIFState
from ._scan import AbstractSystem

PATHS = ("auto", "hoisted", "event")
# Weight rows gathered per pass over the accumulator (one fused loop): fewer passes over a
# block's accumulator; 8 measured fastest against 1, 4 and 16 on the benchmark workload.
_SLOTS_PER_PASS = 8


def _f32(x):
    return jnp.asarray(x, jnp.float32)


def _shape_tuple(shape) -> tuple[int, ...]:
    return tuple(int(n) for n in shape)


def default_capacity(n_in: int) -> int:
    """Slots of the event path's active-input lists: ``min(n_in, max(32, ceil(n_in / 16)))``.

    At the ``auto`` threshold (3 % active) a row of ``n_in = 1000`` inputs has 30 +- 5.4 active
    ones, so 63 slots overflow in practically no block.
    """
    return min(int(n_in), max(32, -(-int(n_in) // 16)))


def feedforward_currents(
    rows: Float[Array, "rows n_in"],
    weights: Float[Array, "n_in n_out"],
    *,
    path: str = "hoisted",
    capacity: int | None = None,
    rows_per_block: int = 512,
) -> tuple[Float[Array, "rows n_out"], Int[Array, ""]]:
    r"""Synaptic jumps ``J = rows @ weights`` (pA) by the ``"hoisted"`` or ``"event"`` method.

    ``rows`` holds input spikes (0/1, or counts / graded values) for independent rows, e.g. the
    flattened steps x batch of a chunk. Returns ``(J, overflow_blocks)``: the number of blocks the
    event path computed densely because a row had more than ``capacity`` active inputs (always
    0 for ``"hoisted"``). Both methods give the same sums up to float32 rounding.
    """
    if path == "hoisted":
        return rows @ weights, jnp.int32(0)
    if path != "event":
        raise ValueError(f"feedforward_currents: `path` must be 'hoisted' or 'event', got {path!r}")
    n_rows, n_in = rows.shape
    capacity = default_capacity(n_in) if capacity is None else int(capacity)
    if not 1 <= capacity <= n_in or int(rows_per_block) < 1:
        raise ValueError(
            f"feedforward_currents: need 1 <= capacity <= n_in={n_in} and rows_per_block >= 1, "
            f"got capacity={capacity}, rows_per_block={rows_per_block}"
        )
    block = max(1, min(int(rows_per_block), n_rows))
    n_blocks = -(-n_rows // block)
    blocks = jnp.pad(rows, ((0, n_blocks * block - n_rows), (0, 0))).reshape(n_blocks, block, n_in)

    def gather_sum(x):
        active = x != 0
        # top_k of the 0/1 mask puts the active indices first; the remaining slots point at
        # inactive inputs whose value is 0, so they add 0 * W[i] = 0.
        _, idx = jax.lax.top_k(active.astype(jnp.float32), capacity)
        vals = jnp.take_along_axis(x, idx, axis=-1)
        # slot-major (pass, slot, row) layout, padded with empty slots to whole passes
        n_groups = -(-capacity // _SLOTS_PER_PASS)
        pad = ((0, 0), (0, n_groups * _SLOTS_PER_PASS - capacity))
        idx_g = jnp.pad(idx, pad).T.reshape(n_groups, _SLOTS_PER_PASS, -1)
        vals_g = jnp.pad(vals, pad).T.reshape(n_groups, _SLOTS_PER_PASS, -1)
        n_passes = -(-jnp.max(jnp.sum(active, axis=-1)) // _SLOTS_PER_PASS)

        def one_pass(k, acc):
            rows_k, vals_k = idx_g[k], vals_g[k]
            gathered = (vals_k[j][:, None] * weights[rows_k[j]] for j in range(_SLOTS_PER_PASS))
            return acc + sum(gathered)

        zero = jnp.zeros((x.shape[0], weights.shape[1]), weights.dtype)
        return jax.lax.fori_loop(0, n_passes, one_pass, zero)

    def one_block(_, x):
        overflow = jnp.max(jnp.sum(x != 0, axis=-1)) > capacity
        cur = jax.lax.cond(overflow, lambda x: x @ weights, gather_sum, x)
        return None, (cur, overflow)

    _, (cur, overflow) = jax.lax.scan(one_block, None, blocks)
    return cur.reshape(n_blocks * block, -1)[:n_rows], jnp.sum(overflow, dtype=jnp.int32)


def _lift_to_batch(neuron: LIF, batch_ndim: int) -> LIF:
    """Give per-neuron ``(n_out,)`` parameters leading unit axes for a ``(*batch, n_out)`` state.

    Explicit, so the step never relies on implicit rank promotion (scalars need nothing).
    """

    def lift(x):
        return x.reshape((1,) * batch_ndim + x.shape) if x.ndim else x

    return jax.tree.map(lift, neuron)


class FeedForwardState(eqx.Module):
    """State of a :class:`FeedForwardLIF`: neurons of shape ``(*batch_shape, n_out)``."""

    neuron: LIFState
    step_index: Int[Array, ""]  # steps run so far (time = step_index * dt)
    key: PRNGKeyArray  # for the internal Poisson inputs


class FeedForwardLIF(AbstractSystem):
    r"""``n_in`` spike inputs -> dense ``weights`` (pA per spike) -> ``n_out`` LIF neurons.

    **Arguments:**

    - ``neuron``: :class:`LIF` parameters (scalars or ``(n_out,)`` arrays).
    - ``weights``: ``(n_in, n_out)`` jump of the synaptic current (pA) per input spike.
    - ``dt``: step (ms). ``input_rate_hz``: rate of the internal Poisson inputs (scalar or
      ``(n_in,)``), used when no input spikes are given. ``bias_current``: constant external
      current (pA).
    - ``batch_shape``: leading batch axes of the state (``()`` for a single network).
    - ``path``: ``"auto"``, ``"hoisted"`` or ``"event"`` (see the module docstring);
      ``capacity``: slots of the event path's active lists (default :func:`default_capacity`);
      ``rows_per_block``: rows per event-path block; ``event_max_density``: the ``auto``
      threshold; ``record_voltage``: also record ``v`` every step.

    A chunk runs with :func:`run_feedforward` (hoisted / event-driven input). The per-step
    ``__call__`` (dense projection inside the step) makes it an :class:`AbstractSystem` too, so
    ``advance(layer, state, n, drive=input_spikes)`` also works, more slowly.

    !!! example
        ```python
        layer = FeedForwardLIF(LIF(), weights, dt=1.0, input_rate_hz=20.0, batch_shape=(32,))
        state = layer.init_state(key=jax.random.key(0))
        state, rec = run_feedforward(layer, state, 1000)  # rec["spikes"]: (1000, 32, n_out)
        ```
    """

    neuron: LIF
    weights: Float[Array, "n_in n_out"] = eqx.field(converter=_f32)
    dt: Float[Array, ""] = eqx.field(default=1.0, converter=_f32)
    input_rate_hz: Float[Array, "*n_in"] = eqx.field(default=0.0, converter=_f32)
    bias_current: Float[Array, "*n_out"] = eqx.field(default=0.0, converter=_f32)
    batch_shape: tuple[int, ...] = eqx.field(static=True, default=(), converter=_shape_tuple)
    path: str = eqx.field(static=True, default="auto")
    capacity: int | None = eqx.field(static=True, default=None)
    rows_per_block: int = eqx.field(static=True, default=512)
    event_max_density: float = eqx.field(static=True, default=0.03)
    record_voltage: bool = eqx.field(static=True, default=True)

    def __check_init__(self):
        name = type(self).__name__
        if not isinstance(self.neuron, LIF):
            raise ValueError(f"{name}: `neuron` must be a LIF, got {type(self.neuron).__name__}")
        if self.weights.ndim != 2 or 0 in self.weights.shape:
            raise ValueError(
                f"{name}: `weights` must be a non-empty (n_in, n_out) matrix, "
                f"got shape {tuple(self.weights.shape)}"
            )
        if self.path not in PATHS:
            raise ValueError(f"{name}: `path` must be one of {PATHS}, got {self.path!r}")
        if self.capacity is not None and not 1 <= self.capacity <= self.n_in:
            raise ValueError(
                f"{name}: `capacity` must be between 1 and n_in={self.n_in} (or None), "
                f"got {self.capacity}"
            )
        if self.rows_per_block < 1:
            raise ValueError(f"{name}: `rows_per_block` must be >= 1, got {self.rows_per_block}")
        if not 0.0 <= self.event_max_density <= 1.0:
            raise ValueError(
                f"{name}: `event_max_density` must lie in [0, 1], got {self.event_max_density}"
            )
        if any(n < 1 for n in self.batch_shape):
            raise ValueError(f"{name}: `batch_shape` sizes must be >= 1, got {self.batch_shape}")
        if not isinstance(self.weights, jax.core.Tracer):
            bad = int(np.sum(~np.isfinite(np.asarray(self.weights))))
            if bad:
                raise ValueError(
                    f"{name}: `weights` must be finite (pA), got {bad} NaN/inf entries"
                )
        check_positive(name, "dt", self.dt, "ms")
        check_finite(name, "bias_current", self.bias_current, "pA")
        rate = self.input_rate_hz
        if not isinstance(rate, jax.core.Tracer):
            r = np.asarray(rate)
            if not (np.all(np.isfinite(r)) and np.all(r >= 0)):
                raise ValueError(
                    f"{name}: `input_rate_hz` must be finite and >= 0 Hz, got {r.tolist()}"
                )

    @property
    def n_in(self) -> int:
        """Number of inputs."""
        return int(self.weights.shape[0])

    @property
    def n_out(self) -> int:
        """Number of LIF neurons."""
        return int(self.weights.shape[1])

    def init_state(self, *, key: PRNGKeyArray) -> FeedForwardState:
        """Neurons at rest, step 0; ``key`` seeds the internal Poisson inputs."""
        neurons = self.neuron.init_state((*self.batch_shape, self.n_out))
        return FeedForwardState(neurons, jnp.int32(0), key)

    def prepare(self) -> _PreparedFeedForward:
        neuron = _lift_to_batch(self.neuron, len(self.batch_shape))
        return _PreparedFeedForward(self, neuron.discretise(self.dt))

    def __call__(self, state: FeedForwardState, drive_t: Any = None):
        """One step with the projection inside it; ``drive_t`` = input spikes ``(*batch, n_in)``."""
        return self.prepare()(state, drive_t)


class _PreparedFeedForward(eqx.Module):
    system: FeedForwardLIF
    step: Any  # the discretised LIF step

    def __call__(self, state: FeedForwardState, drive_t=None):
        sys = self.system
        key = state.key
        if drive_t is None:
            key, sub = jax.random.split(key)
            shape = (*sys.batch_shape, sys.n_in)
            drive_t = poisson_spikes(sub, sys.input_rate_hz, sys.dt, shape)
        i_ext = jnp.broadcast_to(sys.bias_current, (*sys.batch_shape, sys.n_out))
        neurons, spikes = self.step(state.neuron, _f32(drive_t) @ sys.weights, i_ext)
        record = {"spikes": spikes}
        if sys.record_voltage:
            record["v"] = neurons.v
        return FeedForwardState(neurons, state.step_index + 1, key), record


@eqx.filter_jit
def run_feedforward(
    layer: FeedForwardLIF,
    state: FeedForwardState,
    n_steps: int,
    input_spikes: Float[Array, "n_steps *batch n_in"] | None = None,
) -> tuple[FeedForwardState, dict[str, Any]]:
    """Run one chunk of ``n_steps`` steps with the input projection hoisted out of the scan.

    ``input_spikes`` (``(n_steps, *batch_shape, n_in)``; 0/1, counts or graded) drive the layer;
    without them, Poisson spikes at ``layer.input_rate_hz`` are drawn from ``state.key``.
    Returns ``(state, record)`` with ``record["spikes"]`` (and ``record["v"]``, mV) of shape
    ``(n_steps, *batch_shape, n_out)`` and ``record["stats"]``: ``event_path`` (bool, which
    path ran), ``overflow_blocks`` (event blocks computed densely) and ``input_density``
    (fraction of non-zero input entries).
    """
    n_steps = int(n_steps)
    if n_steps < 1:
        raise ValueError(f"run_feedforward: `n_steps` must be a positive integer, got {n_steps}")
    shape = (n_steps, *layer.batch_shape, layer.n_in)
    key = state.key
    if input_spikes is None:
        key, sub = jax.random.split(key)
        input_spikes = poisson_spikes(sub, layer.input_rate_hz, layer.dt, shape)
    elif tuple(input_spikes.shape) != shape:
        raise ValueError(
            f"run_feedforward: `input_spikes` must have shape (n_steps, *batch_shape, n_in) = "
            f"{shape}, got {tuple(input_spikes.shape)}"
        )
    rows = _f32(input_spikes).reshape(-1, layer.n_in)
    density = jnp.mean(rows != 0)
    options = dict(capacity=layer.capacity, rows_per_block=layer.rows_per_block)

    def event(r):
        return feedforward_currents(r, layer.weights, path="event", **options)

    def hoisted(r):
        return feedforward_currents(r, layer.weights, path="hoisted")

    if layer.path == "auto":
        use_event = density <= layer.event_max_density
        currents, overflow = jax.lax.cond(use_event, event, hoisted, rows)
    else:
        use_event = jnp.asarray(layer.path == "event")
        currents, overflow = (event if layer.path == "event" else hoisted)(rows)
    currents = currents.reshape(n_steps, *layer.batch_shape, layer.n_out)

    lif_step = _lift_to_batch(layer.neuron, len(layer.batch_shape)).discretise(layer.dt)
    i_ext = jnp.broadcast_to(layer.bias_current, (*layer.batch_shape, layer.n_out))

    def body(neurons, syn_in):
        neurons, spikes = lif_step(neurons, syn_in, i_ext)
        record = {"spikes": spikes}
        if layer.record_voltage:
            record["v"] = neurons.v
        return neurons, record

    neurons, record = jax.lax.scan(body, state.neuron, currents)
    record["stats"] = {
        "event_path": use_event,
        "overflow_blocks": overflow,
        "input_density": density,
    }
    return FeedForwardState(neurons, state.step_index + n_steps, key), record
