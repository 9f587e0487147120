r"""Rate model of the central-complex path integrator (Stone et al. 2017, ``cx_rate``).

Every cell is a noisy sigmoid of its input, clipped to a rate in ``[0, 1]``:

.. math::

    r = \mathrm{clip}\bigl(\sigma(s\,u - b) + \eta,\ 0,\ 1\bigr), \qquad \eta \sim N(0, \sigma_\eta^2)

with tuned (slope ``s``, bias ``b``): TL2 (6.8, 3.0), CL1 (3.0, -0.5), TB1 (5.0, 0.0), CPU4
(5.0, 2.5), CPU1 (5.0, 2.5). One step with heading :math:`\theta` and velocity ``v``:

.. math::

    \mathrm{TL2} &= f(\cos(\theta - \phi)), \quad \mathrm{CL1} = f(-\mathrm{TL2}), \quad
    \mathrm{TB1} = f(p\,W_{CL1}\,\mathrm{CL1} - (1 - p)\,W_{TB1}\,\mathrm{TB1}_{t-1}) \\
    \mathrm{flow} &= \bigl(\langle (\sin(\theta \pm 45°), \cos(\theta \pm 45°)), v \rangle\bigr),
    \quad \mathrm{TN1} = \mathrm{clip}((1 - \mathrm{flow})/2 + \eta), \quad
    \mathrm{TN2} = \mathrm{clip}(\mathrm{flow} + \eta) \\
    m &\leftarrow \mathrm{clip}\bigl(m + g\,\mathrm{clip}(W_{TN}(0.5 - \mathrm{TN1}), 0, 1)
          \odot W(1 - \mathrm{TB1}) - 0.25\,g\,W_{TN}\,\mathrm{TN2} - \lambda (m - 0.5),\ 0, 1\bigr) \\
    \mathrm{CPU4} &= f(m), \quad \mathrm{CPU1} = f\bigl(W_{CPU4}\mathrm{CPU4} \odot W(1 - \mathrm{TB1})\bigr),
    \quad \mathrm{motor} = 0.25\,(\textstyle\sum_{L} \mathrm{CPU1} - \sum_{R} \mathrm{CPU1})

with ``p = 0.667``, memory gain ``g = 0.005`` and initial memory 0.5. The leak
:math:`\lambda` (0 in Stone et al.) relaxes the memory toward 0.5; ``memory_gain = 0``
freezes it. Every field is a traced array: changing a value never recompiles.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .._prng import standard_normal
from . import wiring
from .circuit import CXOutput, CXState, TunedCircuit, optic_flow


class RateCX(TunedCircuit):
    """Stone et al.'s rate circuit with its tuned parameters (all dimensionless, traced; see
    :class:`~.circuit.TunedCircuit`)."""

    def init_state(self, *, key: PRNGKeyArray) -> CXState:
        """TB1 silent, memory at its midpoint 0.5 (as in Stone et al.)."""
        del key
        return CXState(
            tb1=jnp.zeros(wiring.N_TB1, jnp.float32),
            memory=jnp.full(wiring.N_CPU4, 0.5, jnp.float32),
        )

    def step(
        self, state: CXState, heading: Array, velocity: Array, *, key: PRNGKeyArray
    ) -> tuple[CXState, CXOutput]:
        """One update of every population from the current heading and velocity."""
        return self.step_with_noise(state, heading, velocity, self.draw_noise(key))

    def draw_noise(self, key: PRNGKeyArray) -> Float[Array, 76]:
        """One step's standard normal draws, one per cell (76), scaled by ``noise`` in the step."""
        return standard_normal(key, (76,))

    def step_with_noise(
        self, state: CXState, heading: Array, velocity: Array, noise: Array
    ) -> tuple[CXState, CXOutput]:
        """:meth:`step` given the step's 76 standard normals (:meth:`draw_noise`)."""
        eta = self.noise * noise
        n_tl2, n_cl1, n_tb1, n_tn1, n_tn2, n_cpu4, n_cpu1 = jnp.split(eta, _SPLITS)

        def f(u, slope, bias, noise):
            return jnp.clip(jax.nn.sigmoid(slope * u - bias) + noise, 0.0, 1.0)

        tl2 = f(jnp.cos(heading - wiring.PREFERRED_HEADINGS), self.tl2_slope, self.tl2_bias, n_tl2)
        cl1 = f(-tl2, self.cl1_slope, self.cl1_bias, n_cl1)
        p = self.cl1_proportion
        tb1_in = p * (_W_CL1_TB1 @ cl1) - (1.0 - p) * (_W_TB1_TB1 @ state.tb1)
        tb1 = f(tb1_in, self.tb1_slope, self.tb1_bias, n_tb1)
        flow = optic_flow(heading, velocity)
        tn1 = jnp.clip((1.0 - flow) / 2.0 + n_tn1, 0.0, 1.0)
        tn2 = jnp.clip(flow + n_tn2, 0.0, 1.0)
        g = self.memory_gain
        memory = state.memory + g * jnp.clip(_W_TN_CPU4 @ (0.5 - tn1), 0.0, 1.0) * (
            _W_TB1_CPU4 @ (1.0 - tb1)
        )
        memory = memory - 0.25 * g * (_W_TN_CPU4 @ tn2) - self.memory_leak * (memory - 0.5)
        memory = jnp.clip(memory, 0.0, 1.0)
        cpu4 = f(memory, self.cpu4_slope, self.cpu4_bias, n_cpu4)
        cpu1 = f(
            (_W_CPU4_CPU1 @ cpu4) * (_W_TB1_CPU1 @ (1.0 - tb1)),
            self.cpu1_slope,
            self.cpu1_bias,
            n_cpu1,
        )
        motor = _W_MOTOR @ cpu1
        activity = jnp.concatenate([tl2, cl1, tb1, tn1, tn2, cpu4, cpu1])
        out = CXOutput(tb1=tb1, memory=memory, cpu4=cpu4, cpu1=cpu1, motor=motor, activity=activity)
        return CXState(tb1=tb1, memory=memory), out


_SPLITS = [16, 32, 40, 42, 44, 60]
_W_CL1_TB1 = wiring.cl1_to_tb1().astype(np.float32)
_W_TB1_TB1 = wiring.tb1_ring_inhibition().astype(np.float32)
_W_TB1_CPU4 = wiring.tb1_to_cpu4().astype(np.float32)
_W_TN_CPU4 = wiring.tn_to_cpu4().astype(np.float32)
_W_TB1_CPU1 = wiring.tb1_to_cpu1().astype(np.float32)
_W_CPU4_CPU1 = wiring.cpu4_to_cpu1().astype(np.float32)
_W_MOTOR = wiring.cpu1_to_motor().astype(np.float32)
