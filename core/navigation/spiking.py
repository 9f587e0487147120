r"""Spiking central-complex path integrator: the rate circuit's populations as LIF or AdEx neurons.

All 76 neurons (TL2 16, CL1 16, TB1 8, TN1 2, TN2 2, CPU4 16, CPU1 16, in
:data:`~snnviz.core.navigation.circuit.POPULATIONS` order) form one population stepped with
the engine's exact neuron step (``neuron.discretise(dt)``). One *agent step* is ``n_substeps``
neuron steps of ``dt`` ms (default 20 x 1 ms); heading and optic flow are held over it.

**Rates become currents.** Each rate cell of Stone et al. computes :math:`r = \sigma(s u - b)`
(TN cells: :math:`r = \mathrm{clip}(u, 0, 1)`). Here a neuron receives the current
:math:`I = I_0 + I_1 (s\,u_\mathrm{ext} - b) + I_\mathrm{syn} + \xi` with :math:`(I_0, I_1)`
fitted once (:func:`calibrate_current_map`) so that the neuron's steady firing rate is
:math:`r_\max\,\sigma(\cdot)` (or :math:`r_\max\,\mathrm{clip}`), ``r_max = 200`` Hz.
A synapse of rate weight :math:`W_{ij}` becomes a current jump
:math:`w_{ij} = I_{1,i} s_i W_{ij} / (r_\max \tau_\mathrm{syn})` per presynaptic spike, so the
mean synaptic current reproduces :math:`I_{1,i} s_i \sum_j W_{ij} r_j`. ``xi`` is white
current noise (see ``noise``).

**Multiplicative gating as presynaptic (axo-axonic) inhibition.** Stone et al.'s CPU1 input
:math:`\mathrm{CPU4} \odot (1 - \mathrm{TB1})` and memory update
:math:`\mathrm{TN2} \odot (0.25 - 0.5\,\mathrm{TB1})` are products; here TB1 spikes feed a
trace :math:`x` (time constant ``tau_trace``, normalised so that :math:`x \to r/r_\max`) that
scales the CPU4 -> CPU1 synapses by :math:`1 - x` and sets the efficacy of each TN2 spike onto
the memory. (An additive excitation-minus-inhibition CPU1 homes clearly worse in the rate
model: 64 % vs 90 % of 100 routes.)

**Memory.** Each CPU4 column holds a persistent state :math:`m \in [0, 1]` (the spike-based
short-term memory cell of Schreiber et al.; on BrainScaleS-2 a synapse's stored state): every
TN2 spike adds :math:`g / (K\,dt\,r_\max) \cdot (0.25 - 0.5\,x_\mathrm{TB1})`, and it leaks
toward 0.5 at ``memory_leak`` per agent step. The CPU4 neuron is driven by :math:`5 m - 2.5`.
The memory reads TN2 only: in the noise-free rate model :math:`0.5 - \mathrm{TN1} =
\mathrm{TN2}/2`, so the two speed terms combine into one (TN1 neurons are still simulated).

**Readout.** TB1, CPU4 and CPU1 rates are spike counts over the agent step divided by
:math:`K\,dt\,r_\max`; motor :math:`= 0.25(\sum_L \mathrm{CPU1} - \sum_R \mathrm{CPU1})`.
"""

from __future__ import annotations

import dataclasses
import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from .._prng import standard_normal
from ..neurons import LIF, AdEx
from . import wiring
from .circuit import CXOutput, TunedCircuit, f32, optic_flow

R_MAX_HZ = 200.0
N = 76
TL2, CL1, TB1, TN1, TN2, CPU4, CPU1 = (
    slice(0, 16),
    slice(16, 32),
    slice(32, 40),
    slice(40, 42),
    slice(42, 44),
    slice(44, 60),
    slice(60, 76),
)
_SIGMOID_ROWS = np.r_[0:40, 44:76]
_LINEAR_ROWS = np.r_[40:44]


class SpikingState(eqx.Module):
    """Neuron state (76), last step's spikes (76), TB1 gating trace (8), memory (16)."""

    neurons: PyTree
    spikes: Float[Array, 76]
    tb1_trace: Float[Array, 8]
    memory: Float[Array, 16]


def _leak_conductance(neuron) -> float:
    if isinstance(neuron, AdEx):
        return float(np.mean(neuron.g_leak))
    return float(np.mean(neuron.c_mem / neuron.tau_mem))


@functools.lru_cache(maxsize=16)
def _fi_table(kind: str, params: tuple, dt: float) -> tuple[np.ndarray, np.ndarray]:
    neuron = (AdEx if kind == "AdEx" else LIF)(**dict(params))
    g = _leak_conductance(neuron)
    v_gap = float(np.mean(neuron.v_th - neuron.v_rest))
    currents = np.linspace(0.0, 12.0 * g * v_gap, 241).astype(np.float32)
    step = neuron.discretise(dt)
    n_steps = round(1000.0 / dt)

    def body(state, _):
        state, spikes = step(state, jnp.zeros(currents.shape), jnp.asarray(currents))
        return state, spikes

    _, spikes = jax.lax.scan(body, neuron.init_state(currents.shape), None, length=n_steps)
    settled = np.asarray(spikes[n_steps // 5 :])
    rate_hz = settled.sum(0) / (settled.shape[0] * dt) * 1000.0
    return currents, rate_hz


def calibrate_current_map(
    neuron: LIF | AdEx, dt: float, *, target: str = "sigmoid", r_max_hz: float = R_MAX_HZ
) -> tuple[float, float, float]:
    r"""Fit ``(I0, I1)`` (pA) so that the neuron's steady rate at :math:`I_0 + I_1 u` matches
    :math:`r_\max\,\sigma(u)` on ``u`` in [-5, 5] (``target="sigmoid"``) or
    :math:`r_\max\,\mathrm{clip}(u, 0, 1)` on [-0.5, 1.5] (``target="linear"``).

    The f-I curve is simulated once (1 s at 241 currents, noise-free) per neuron parameter set
    and ``dt``; the fit is a least-squares grid search refined by Nelder-Mead. Returns
    ``(I0, I1, rms)``, ``rms`` the fit's RMS error in units of ``r_max``.
    """
    from scipy.optimize import minimize

    if target not in ("sigmoid", "linear"):
        raise ValueError(
            f"calibrate_current_map: target must be 'sigmoid' or 'linear', got {target!r}"
        )
    params = tuple((f, float(np.mean(getattr(neuron, f)))) for f in neuron.__dataclass_fields__)
    currents, rate = _fi_table(type(neuron).__name__, params, float(dt))
    if target == "sigmoid":
        u = np.linspace(-5.0, 5.0, 81)
        want = 1.0 / (1.0 + np.exp(-u))
    else:
        u = np.linspace(-0.5, 1.5, 81)
        want = np.clip(u, 0.0, 1.0)

    def loss(p):
        got = np.interp(p[0] + p[1] * u, currents, rate, left=0.0, right=rate[-1]) / r_max_hz
        return float(np.mean((got - want) ** 2))

    top = currents[-1]
    grid = [
        (i0, i1)
        for i0 in np.linspace(0, top / 2, 41)
        for i1 in np.geomspace(top / 400, top / 4, 41)
    ]
    best = min(grid, key=loss)
    res = minimize(
        loss, np.array(best), method="Nelder-Mead", options={"xatol": 1e-3, "fatol": 1e-9}
    )
    return float(res.x[0]), float(res.x[1]), float(np.sqrt(res.fun))


def _u_connectivity(cl1_proportion: Array) -> Array:
    """Rate-domain weights ``W_u`` (76, 76): TL2 -| CL1, CL1 -> TB1, TB1 -| TB1, CPU4 -> CPU1."""
    w = jnp.zeros((N, N), jnp.float32)
    w = w.at[CL1, TL2].set(-jnp.eye(16))
    w = w.at[TB1, CL1].set(cl1_proportion * wiring.cl1_to_tb1())
    w = w.at[TB1, TB1].set(-(1.0 - cl1_proportion) * wiring.tb1_ring_inhibition())
    w = w.at[CPU1, CPU4].set(wiring.cpu4_to_cpu1())
    return w


def quantise_weights(weights: Array, bits: Array) -> Array:
    r"""Signed weights with ``bits``-bit magnitudes (``2^bits - 1`` levels per sign), one
    scale per postsynaptic neuron (row), as on BrainScaleS-2 (6-bit synapses, sign from the
    synapse row's type). ``bits <= 0`` leaves the weights untouched; ``bits`` is traced."""
    levels = jnp.maximum(2.0**bits - 1.0, 1.0)
    lsb = jnp.max(jnp.abs(weights), axis=1, keepdims=True) / levels
    lsb = jnp.where(lsb > 0, lsb, 1.0)
    quantised = jnp.round(weights / lsb) * lsb
    return jnp.where(bits > 0, quantised, weights)


class SpikingCX(TunedCircuit):
    """The spiking path-integration circuit (see the module docstring).

    ``neuron``: an LIF or AdEx population of 76 (per-neuron parameter arrays allowed, e.g.
    with fixed-pattern mismatch); ``current_offset``/``current_gain`` (76,) pA from
    :func:`calibrate_current_map`; slopes, biases and gains of :class:`~.circuit.TunedCircuit`; ``noise``:
    white input-current noise whose average over 10 ms has a standard deviation of
    ``4 * noise`` input units (the rate model's output noise over the sigmoid's peak slope);
    ``weight_bits`` (0 = analog) and ``weight_mismatch`` (76, 76, multiplicative) model the
    synapse array; ``dt`` (ms) and ``n_substeps`` are static.
    """

    neuron: LIF | AdEx
    current_offset: Float[Array, 76]
    current_gain: Float[Array, 76]
    weight_mismatch: Float[Array, "76 76"]
    dt: float = eqx.field(static=True, default=1.0)
    n_substeps: int = eqx.field(static=True, default=20)
    weight_bits: Float[Array, ""] = eqx.field(default=0.0, converter=f32)
    tau_trace: Float[Array, ""] = eqx.field(default=10.0, converter=f32)
    r_max_hz: Float[Array, ""] = eqx.field(default=R_MAX_HZ, converter=f32)
    prepared: tuple | None = None  # (neuron step, synaptic weights) cached by prepare()

    def prepare(self) -> SpikingCX:
        """Discretise the neurons and build the synaptic weights once (inside jit, per chunk)."""
        cached = (self.neuron.discretise(self.dt), self.synaptic_weights())
        return dataclasses.replace(self, prepared=cached)

    @property
    def step_ms(self) -> float:
        """Biological time of one agent step (ms)."""
        return self.dt * self.n_substeps

    def init_state(self, *, key: PRNGKeyArray) -> SpikingState:
        """Neurons at rest, no trace, memory at 0.5."""
        del key
        return SpikingState(
            neurons=self.neuron.init_state((N,)),
            spikes=jnp.zeros(N, jnp.float32),
            tb1_trace=jnp.zeros(8, jnp.float32),
            memory=jnp.full(16, 0.5, jnp.float32),
        )

    def _slopes_biases(self) -> tuple[Array, Array]:
        ones = jnp.ones
        slope = jnp.concatenate(
            [
                self.tl2_slope * ones(16),
                self.cl1_slope * ones(16),
                self.tb1_slope * ones(8),
                ones(4),
                self.cpu4_slope * ones(16),
                self.cpu1_slope * ones(16),
            ]
        )
        bias = jnp.concatenate(
            [
                self.tl2_bias * ones(16),
                self.cl1_bias * ones(16),
                self.tb1_bias * ones(8),
                jnp.zeros(4),
                self.cpu4_bias * ones(16),
                self.cpu1_bias * ones(16),
            ]
        )
        return slope, bias

    def synaptic_weights(self) -> Array:
        """Current jump per presynaptic spike (76, 76) pA: scaled, quantised, mismatched."""
        slope, _ = self._slopes_biases()
        r_max = self.r_max_hz / 1000.0
        tau_syn = jnp.broadcast_to(self.neuron.tau_syn, (N,))
        scale = self.current_gain * slope / (r_max * tau_syn)
        weights = scale[:, None] * _u_connectivity(self.cl1_proportion)
        return quantise_weights(weights, self.weight_bits) * self.weight_mismatch

    def step(
        self, state: SpikingState, heading: Array, velocity: Array, *, key: PRNGKeyArray
    ) -> tuple[SpikingState, CXOutput]:
        """One agent step = ``n_substeps`` neuron steps with heading and flow held."""
        return self.step_with_noise(state, heading, velocity, self.draw_noise(key))

    def draw_noise(self, key: PRNGKeyArray) -> Float[Array, "substeps 76"]:
        """One agent step's standard normal current noise, per neuron step and neuron."""
        return standard_normal(key, (self.n_substeps, N))

    def step_with_noise(
        self, state: SpikingState, heading: Array, velocity: Array, noise: Array
    ) -> tuple[SpikingState, CXOutput]:
        """:meth:`step` given its ``(n_substeps, 76)`` standard normals (:meth:`draw_noise`)."""
        slope, bias = self._slopes_biases()
        flow = optic_flow(heading, velocity)
        ext = jnp.zeros(N, jnp.float32)
        ext = ext.at[TL2].set(jnp.cos(heading - wiring.PREFERRED_HEADINGS))
        ext = ext.at[TN1].set((1.0 - flow) / 2.0)
        ext = ext.at[TN2].set(flow)
        if self.prepared is None:
            neuron_step, weights = self.neuron.discretise(self.dt), self.synaptic_weights()
        else:
            neuron_step, weights = self.prepared
        k = self.n_substeps
        r_max = self.r_max_hz / 1000.0
        decay = jnp.exp(-self.dt / self.tau_trace)
        trace_jump = (1.0 - decay) / (r_max * self.dt)
        per_spike = self.memory_gain / (k * self.dt * r_max)
        leak = self.memory_leak / k
        noise_sd = self.current_gain * 4.0 * self.noise * jnp.sqrt(10.0 / self.dt)
        w_tn = jnp.asarray(wiring.tn_to_cpu4(), jnp.float32)
        w_tb_cpu = jnp.asarray(wiring.tb1_to_cpu4(), jnp.float32)
        gate_cols = jnp.asarray(wiring.tb1_to_cpu1(), jnp.float32)

        def substep(carry, xi):
            neurons, spikes, trace, memory, counts = carry
            u_ext = ext.at[CPU4].set(memory)
            i_ext = self.current_offset + self.current_gain * (slope * u_ext - bias) + noise_sd * xi
            jumps = weights @ spikes
            gate = jnp.ones(N).at[CPU1].set(jnp.clip(1.0 - gate_cols @ trace, 0.0, 1.0))
            neurons, spikes = neuron_step(neurons, jumps * gate, i_ext)
            trace = trace * decay + trace_jump * spikes[TB1]
            efficacy = 0.25 - 0.5 * (w_tb_cpu @ trace)
            memory = memory + per_spike * (w_tn @ spikes[TN2]) * efficacy - leak * (memory - 0.5)
            memory = jnp.clip(memory, 0.0, 1.0)
            return (neurons, spikes, trace, memory, counts + spikes), None

        carry = (
            state.neurons,
            state.spikes,
            state.tb1_trace,
            state.memory,
            jnp.zeros(N, jnp.float32),
        )
        (neurons, spikes, trace, memory, counts), _ = jax.lax.scan(substep, carry, noise)
        rates = counts / (k * self.dt * r_max)
        cpu1 = rates[CPU1]
        motor = jnp.asarray(wiring.cpu1_to_motor(), jnp.float32) @ cpu1
        out = CXOutput(
            tb1=rates[TB1], memory=memory, cpu4=rates[CPU4], cpu1=cpu1, motor=motor, activity=counts
        )
        return SpikingState(neurons=neurons, spikes=spikes, tb1_trace=trace, memory=memory), out


def calibrated_currents(
    neuron: LIF | AdEx, dt: float, r_max_hz: float = R_MAX_HZ
) -> tuple[np.ndarray, np.ndarray]:
    """Per-neuron ``(I0, I1)`` (76,) pA: the sigmoid map for every cell, the linear one for TN."""
    i0_s, i1_s, _ = calibrate_current_map(neuron, dt, target="sigmoid", r_max_hz=r_max_hz)
    i0_l, i1_l, _ = calibrate_current_map(neuron, dt, target="linear", r_max_hz=r_max_hz)
    i0 = np.full(N, i0_s, np.float32)
    i1 = np.full(N, i1_s, np.float32)
    i0[_LINEAR_ROWS] = i0_l
    i1[_LINEAR_ROWS] = i1_l
    return i0, i1


DEFAULT_LIF = dict(
    tau_mem=10.0, tau_syn=5.0, c_mem=250.0, v_rest=-65.0, v_reset=-65.0, v_th=-50.0, t_ref=3.0
)


def spiking_cx(*, dt: float = 1.0, n_substeps: int = 20, **fields) -> SpikingCX:
    """The spiking (LIF) circuit with calibrated currents and ideal synapses; ``fields``
    override any :class:`SpikingCX` parameter (``noise``, ``memory_leak``, ...)."""
    neuron = LIF(**DEFAULT_LIF)
    i0, i1 = calibrated_currents(neuron, dt)
    return SpikingCX(
        neuron=neuron,
        current_offset=i0,
        current_gain=i1,
        weight_mismatch=np.ones((N, N), np.float32),
        dt=dt,
        n_substeps=n_substeps,
        **fields,
    )
