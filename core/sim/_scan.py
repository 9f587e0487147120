"""Drive any :class:`AbstractSystem` with ``jax.lax.scan``.

A *system* is an equinox module whose numeric fields are arrays (traced under
``eqx.filter_jit``) and whose ``__call__(state, drive_t)`` advances one step and returns
``(state, record)``. ``advance`` runs a chunk of ``n_steps`` steps carrying the state, which is
what a live page calls once per frame; ``simulate`` is ``init_state`` plus one ``advance``.
Only ``n_steps`` and the array shapes are static: a new parameter *value* reuses the compiled
code, a new ``n_steps`` or population size compiles once more.
"""

from __future__ import annotations

import abc
from typing import Any, TypeVar

import equinox as eqx
import jax
import numpy as np
from jaxtyping import PRNGKeyArray, PyTree

State = TypeVar("State")


class AbstractSystem(eqx.Module):
    """Something that can be stepped: neurons with their inputs, a network, a circuit."""

    @abc.abstractmethod
    def init_state(self, *, key: PRNGKeyArray) -> PyTree:
        """The state at ``t = 0``."""

    @abc.abstractmethod
    def __call__(self, state: PyTree, drive_t: Any = None) -> tuple[PyTree, PyTree]:
        """One step: ``(state, drive at this step) -> (state, record)``."""

    def prepare(self) -> AbstractSystem:
        """Hook run once per chunk, inside jit, before the scan (e.g. discretise neurons)."""
        return self


@eqx.filter_jit
def advance(
    system: AbstractSystem, state: State, n_steps: int, drive: PyTree = None
) -> tuple[State, PyTree]:
    """Run ``n_steps`` steps from ``state``; return the final state and the stacked records.

    ``drive`` is an optional pytree of per-step inputs with a leading axis of ``n_steps``.
    """
    if drive is not None:
        leading = {x.shape[0] for x in jax.tree.leaves(drive)}
        if leading != {n_steps}:
            raise ValueError(
                f"advance: every leaf of `drive` needs a leading time axis of n_steps={n_steps}, "
                f"got leading sizes {sorted(leading)}"
            )
    stepper = system.prepare()
    # scan hashes its function: wrap the (array-holding, unhashable) module in a closure
    return jax.lax.scan(lambda s, d: stepper(s, d), state, drive, length=n_steps)


def simulate(
    system: AbstractSystem, n_steps: int, *, key: PRNGKeyArray, drive: PyTree = None
) -> tuple[PyTree, PyTree]:
    """Simulate ``n_steps`` from the initial state; returns ``(final_state, records)``."""
    if int(n_steps) < 1:
        raise ValueError(f"simulate: `n_steps` must be a positive integer, got {n_steps}")
    return advance(system, system.init_state(key=key), int(n_steps), drive)


def simulate_chunked(
    system: AbstractSystem, n_steps: int, *, key: PRNGKeyArray, chunk_steps: int = 1000
) -> tuple[PyTree, PyTree]:
    """Like :func:`simulate`, but run as fixed ``chunk_steps`` chunks and trimmed to ``n_steps``.

    Every duration reuses the one compiled chunk, so a page can let users change the run
    length (or ``dt``) without recompiling. Records are concatenated on the host as NumPy.
    """
    if int(n_steps) < 1 or int(chunk_steps) < 1:
        raise ValueError(
            f"simulate_chunked: `n_steps` and `chunk_steps` must be positive, got {n_steps}, "
            f"{chunk_steps}"
        )
    state = system.init_state(key=key)
    parts = []
    for _ in range(-(-int(n_steps) // int(chunk_steps))):
        state, records = advance(system, state, int(chunk_steps))
        parts.append(jax.tree.map(np.asarray, records))
    joined = jax.tree.map(lambda *xs: np.concatenate(xs)[: int(n_steps)], *parts)
    return state, joined
