r"""Transmission delays in whole time steps: a ring buffer of future postsynaptic input.

Slot ``k`` of the buffer holds the input that arrives at a step ``t`` with ``t % L == k``
(``L = max_delay_steps + 1`` slots, static). A step uses :attr:`DelayRing.arriving` (the input
of the current step) and ends with :meth:`DelayRing.advance`, which adds what this step's
spikes deliver ``d`` steps later into slot ``(t + d) % L``, clears the slot of ``t`` and takes
out the input of ``t + 1``. Valid delays are ``1 <= d <= max_delay_steps``.

The delay ``d`` is a traced integer, so a delay slider never recompiles; only the maximum
(the buffer length) is static. Per-projection delays use one dynamic slice update per step;
per-synapse delays (:meth:`DelayRing.advance_events`) scatter each spike's fan-out into the slots
of its synapses' own delays.

.. code-block:: python

    ring = DelayRing.zeros(n_post, max_delay_steps=20)

    def step(carry, t):  # t = 0, 1, 2, ... in order
        ring, v = carry
        v, spikes = neuron_update(v, ring.arriving)
        ring = ring.advance(t, delay_steps(delay_ms, dt, 20), synaptic_input(spikes))
        return (ring, v), spikes

    jax.lax.scan(step, (ring, v0), jnp.arange(n_steps))
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Float, Int

from .events import for_each_active


def delay_steps(
    delay_ms: Float[Array, ""] | float, dt: Float[Array, ""] | float, max_delay_steps: int
) -> Int[Array, ""]:
    """``round(delay_ms / dt)`` as int32, clipped to ``[0, max_delay_steps]`` (traced-safe)."""
    steps = jnp.round(jnp.asarray(delay_ms, jnp.float32) / jnp.asarray(dt, jnp.float32))
    return jnp.clip(steps, 0, max_delay_steps).astype(jnp.int32)


class DelayRing(eqx.Module):
    """Ring buffer of postsynaptic input still in transit.

    ``buffer`` has ``max_delay_steps + 1`` slots of ``n_post`` values; ``arriving`` is the
    input that arrives at the current step (a copy of its slot taken at the end of the previous
    step, see :meth:`advance`). A pytree of two arrays, so it lives in a scan carry or a
    simulation state.
    """

    buffer: Float[Array, "slots n_post"]
    arriving: Float[Array, " n_post"]

    @classmethod
    def zeros(cls, n_post: int, max_delay_steps: int, dtype=jnp.float32) -> DelayRing:
        """An empty ring that supports delays of ``1 .. max_delay_steps`` steps."""
        if int(max_delay_steps) < 1:
            raise ValueError(f"DelayRing: `max_delay_steps` must be >= 1, got {max_delay_steps}")
        n_post = int(n_post)
        return cls(jnp.zeros((int(max_delay_steps) + 1, n_post), dtype), jnp.zeros(n_post, dtype))

    @property
    def max_delay_steps(self) -> int:
        """The largest supported delay, in steps (static)."""
        return self.buffer.shape[0] - 1

    def advance(
        self, t: Int[Array, ""], delay: Int[Array, ""], values: Float[Array, " n_post"]
    ) -> DelayRing:
        """End of step ``t``: add ``values`` to the input of step ``t + delay`` (``delay``
        clipped to ``[1, max_delay_steps]``) and move on to step ``t + 1``."""
        slots = self.buffer.shape[0]
        t = jnp.asarray(t, jnp.int32)
        d = jnp.clip(jnp.asarray(delay, jnp.int32), 1, slots - 1)
        target = (t + d) % slots
        current = lax.dynamic_index_in_dim(self.buffer, target, 0, keepdims=False)
        buffer = lax.dynamic_update_index_in_dim(self.buffer, current + values, target, 0)
        return self._next(buffer, t)

    def advance_events(
        self,
        t: Int[Array, ""],
        spikes: Array,
        targets: Int[Array, "n_pre max_out"],
        delays: Int[Array, "n_pre max_out"],
        *,
        weights: Float[Array, "n_pre max_out"] | None = None,
        presyn_scale: Float[Array, "*n_pre"] | float = 1.0,
        batch_size: int = 64,
        block: int = 16,
    ) -> DelayRing:
        r"""End of step ``t`` with per-synapse delays: each spiking ``j`` adds
        ``presyn_scale[j] * weights[j, c]`` to target ``targets[j, c]`` at step
        ``t + delays[j, c]`` (delays clipped to ``[1, max_delay_steps]``); then move on to
        step ``t + 1``. Event-driven (:func:`~snnviz.core.synapses.for_each_active`); padding
        targets ``>= n_post`` are ignored. ``targets`` comes from
        :func:`~snnviz.core.synapses.fan_out_lists`.
        """
        slots, n_post = self.buffer.shape
        n_pre = targets.shape[0]
        scale = jnp.broadcast_to(jnp.asarray(presyn_scale, jnp.float32), (n_pre,))
        t = jnp.asarray(t, jnp.int32)

        def add(ids, valid, flat):
            tgt = jnp.take(targets, ids, axis=0, mode="fill", fill_value=n_post)
            d = jnp.clip(jnp.take(delays, ids, axis=0, mode="fill", fill_value=1), 1, slots - 1)
            w = jnp.where(valid, jnp.take(scale, ids, mode="fill", fill_value=0.0), 0.0)[:, None]
            if weights is not None:
                w = w * jnp.take(weights, ids, axis=0, mode="fill", fill_value=0.0)
            where = jnp.where(tgt < n_post, ((t + d) % slots) * n_post + tgt, slots * n_post)
            update = jnp.broadcast_to(w, tgt.shape).astype(flat.dtype)
            return flat.at[where].add(update, mode="drop")

        flat = for_each_active(
            jnp.asarray(spikes).astype(bool),
            add,
            self.buffer.reshape(-1),
            block=block,
            batch_size=batch_size,
        )
        return self._next(flat.reshape(slots, n_post), t)

    @staticmethod
    def _next(buffer: Array, t: Int[Array, ""]) -> DelayRing:
        # Clear the slot of step t and take out the input of step t + 1 *now*, so that the
        # next step reads a loop-carried row, never the buffer. (Reading the buffer during the
        # step let XLA fuse that read into consumers scheduled after the in-place update, and
        # it then copied the whole buffer twice per step: ~50x slower at 4 MB.)
        slots = buffer.shape[0]
        zeros = jnp.zeros(buffer.shape[1:], buffer.dtype)
        buffer = lax.dynamic_update_index_in_dim(buffer, zeros, t % slots, 0)
        arriving = lax.dynamic_index_in_dim(buffer, (t + 1) % slots, 0, keepdims=False)
        return DelayRing(buffer, arriving)
