"""What every central-complex circuit (rate, spiking, emulated hardware) provides to the agent.

A circuit is an equinox module of traced parameters with ``init_state(key=...)`` and
``step(state, heading, velocity, key=...) -> (state, CXOutput)``: one agent step of sensing,
integration and steering. ``rotation(motor)`` turns its motor output into a turn (rad).
"""

from __future__ import annotations

import abc
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from .wiring import TN_PREFERENCE

# Order of the populations in ``CXOutput.activity`` (and in the spiking circuits' neurons).
POPULATIONS: tuple[tuple[str, int], ...] = (
    ("TL2", 16),
    ("CL1", 16),
    ("TB1", 8),
    ("TN1", 2),
    ("TN2", 2),
    ("CPU4", 16),
    ("CPU1", 16),
)
N_ACTIVITY = sum(n for _, n in POPULATIONS)


def f32(x) -> Array:
    """Convert to a float32 array (the converter of every circuit parameter)."""
    return jnp.asarray(x, jnp.float32)


def optic_flow(heading: Array, velocity: Array) -> Array:
    r"""Optic flow seen by the two speed neurons (left prefers heading + 45°, right - 45°):
    :math:`\bigl((\sin(\theta \pm \pi/4), \cos(\theta \pm \pi/4)) \cdot v\bigr)`."""
    angles = heading + jnp.array([TN_PREFERENCE, -TN_PREFERENCE])
    return jnp.sin(angles) * velocity[0] + jnp.cos(angles) * velocity[1]


class CXState(eqx.Module):
    """State the rate circuit carries between agent steps: TB1 rates (8) and CPU4 memory (16)."""

    tb1: Float[Array, 8]
    memory: Float[Array, 16]


class CXOutput(eqx.Module):
    """What one agent step of a circuit reports.

    ``tb1`` (8) heading bump, ``memory`` (16) CPU4 memory state (0..1), ``cpu4`` (16) and
    ``cpu1`` (16) rates (0..1), ``motor`` (scalar), ``activity`` (76): every neuron's rate
    (rate model) or spike count in the step (spiking models), in :data:`POPULATIONS` order.
    """

    tb1: Float[Array, 8]
    memory: Float[Array, 16]
    cpu4: Float[Array, 16]
    cpu1: Float[Array, 16]
    motor: Float[Array, ""]
    activity: Float[Array, 76]


class AbstractCircuit(eqx.Module):
    """A path-integration circuit the journey runner can drive."""

    @abc.abstractmethod
    def init_state(self, *, key: PRNGKeyArray) -> PyTree:
        """State at the nest before the outbound route."""

    @abc.abstractmethod
    def step(
        self, state: PyTree, heading: Array, velocity: Array, *, key: PRNGKeyArray
    ) -> tuple[PyTree, CXOutput]:
        """One agent step: sense heading and optic flow, update memory, steer."""

    def draw_noise(self, key: PRNGKeyArray) -> PyTree:
        """The random numbers one agent step consumes, drawn from ``key``. The journey runner
        draws a block of steps' noise in one call, outside its step loop, then feeds each
        step its share through :meth:`step_with_noise`; together the two equal
        ``step(..., key=key)``. Default: the key itself (the step draws its own noise)."""
        return key

    def step_with_noise(
        self, state: PyTree, heading: Array, velocity: Array, noise: PyTree
    ) -> tuple[PyTree, CXOutput]:
        """:meth:`step` with its random numbers already drawn by :meth:`draw_noise`."""
        return self.step(state, heading, velocity, key=noise)

    @abc.abstractmethod
    def rotation(self, motor: Array) -> Array:
        """Turn (rad) for a motor output."""

    def prepare(self) -> AbstractCircuit:
        """Hook run once per journey chunk inside jit, before the scan (e.g. discretise the
        neurons and scale the weights once instead of every step). Default: unchanged."""
        return self

    @property
    def step_ms(self) -> float:
        """Biological time one agent step represents (ms); 0 for the time-free rate model."""
        return 0.0


def _tuned(default: float) -> Any:
    return eqx.field(default=default, converter=f32, kw_only=True)


class TunedCircuit(AbstractCircuit):
    """The tuned parameters both realisations share (Stone et al. 2017's values; traced,
    dimensionless): sigmoid slope and bias of TL2, CL1, TB1, CPU4 and CPU1, the CL1 share
    ``cl1_proportion`` of TB1's input, the neuron ``noise``, CPU4 ``memory_gain`` and
    ``memory_leak`` per agent step, and the homing ``turn_gain`` (rad per motor unit)."""

    noise: Float[Array, ""] = _tuned(0.1)
    tl2_slope: Float[Array, ""] = _tuned(6.8)
    tl2_bias: Float[Array, ""] = _tuned(3.0)
    cl1_slope: Float[Array, ""] = _tuned(3.0)
    cl1_bias: Float[Array, ""] = _tuned(-0.5)
    tb1_slope: Float[Array, ""] = _tuned(5.0)
    tb1_bias: Float[Array, ""] = _tuned(0.0)
    cpu4_slope: Float[Array, ""] = _tuned(5.0)
    cpu4_bias: Float[Array, ""] = _tuned(2.5)
    cpu1_slope: Float[Array, ""] = _tuned(5.0)
    cpu1_bias: Float[Array, ""] = _tuned(2.5)
    cl1_proportion: Float[Array, ""] = _tuned(0.667)
    memory_gain: Float[Array, ""] = _tuned(0.005)
    memory_leak: Float[Array, ""] = _tuned(0.0)
    turn_gain: Float[Array, ""] = _tuned(1.0)

    def __check_init__(self):
        for name in ("noise", "memory_gain", "memory_leak"):
            value = getattr(self, name)
            if not isinstance(value, jax.core.Tracer) and np.any(np.asarray(value) < 0):
                raise ValueError(
                    f"{type(self).__name__}: `{name}` must be >= 0, got {np.asarray(value).tolist()}"
                )

    def rotation(self, motor: Array) -> Array:
        """Turn (rad) commanded by the motor output."""
        return self.turn_gain * motor
