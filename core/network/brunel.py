r"""Brunel's sparsely connected network of excitatory and inhibitory LIF neurons (model A).

Reference: N. Brunel, "Dynamics of sparsely connected networks of excitatory and inhibitory
spiking neurons", J. Comput. Neurosci. 8:183-208 (2000), doi:10.1023/A:1008925309027.

``N_E = 0.8 N`` excitatory and ``N_I = 0.2 N`` inhibitory neurons, identical LIF dynamics
(potentials measured from rest):

.. math::

    \tau \frac{dV_i}{dt} = -V_i + \tau \sum_j J_{ij} \sum_k \delta(t - t_j^k - D)
        + J \sum_k \delta(t - t_{\mathrm{ext},i}^k)

A spike is emitted when :math:`V \ge \theta`; ``V`` is then reset to :math:`V_r` and held for
:math:`\tau_{rp}` (input arriving meanwhile is lost). Synapses are *delta* synapses: a spike
makes the postsynaptic ``V`` jump by :math:`J_{ij}` after the delay ``D``. Each neuron has
exactly :math:`C_E = \epsilon N_E` excitatory partners (:math:`J_{ij} = J`) and
:math:`C_I = \epsilon N_I` inhibitory ones (:math:`J_{ij} = -gJ`), drawn without autapses, plus
:math:`C_E` external excitatory synapses each carrying a Poisson train of rate
:math:`\nu_\mathrm{ext} = \eta\, \nu_\mathrm{thr}`, where
:math:`\nu_\mathrm{thr} = \theta / (J C_E \tau)` is the rate that alone drives the mean input
to threshold. Per step of ``dt`` the external count is Poisson with mean
:math:`C_E \nu_\mathrm{ext} dt = \eta\, \theta\, dt / (J \tau)` (independent of the size).

Fig. 8 of the paper (N_E = 10,000, epsilon = 0.1, J = 0.1 mV, D = 1.5 ms, tau = 20 ms,
theta = 20 mV, V_r = 10 mV, tau_rp = 2 ms) shows four regimes, kept in :data:`REGIMES`:
synchronous regular ``SR`` (g = 3, eta = 2), asynchronous irregular ``AI`` (g = 5, eta = 2),
synchronous irregular with a fast global oscillation ``SI_fast`` (g = 6, eta = 4) and with a
slow one ``SI_slow`` (g = 4.5, eta = 0.9).

**Delta synapses on the engine's LIF.** The current-based :class:`~snnviz.core.neurons.LIF`
with synaptic time constant :math:`\tau_s` turns a jump ``w`` of its synaptic current into a
PSP whose total charge is :math:`w \tau_s`; in the limit :math:`\tau_s \to 0` with
:math:`w = J C_m / \tau_s` the PSP becomes an instantaneous voltage jump of ``J``. Rather than
approximating that limit with a tiny :math:`\tau_s` (a stiff propagator and a PSP smeared over
a step), the network takes it exactly: arriving input is added to ``V`` at the start of the
step, and the LIF's exact propagator (leak only - its synaptic current stays zero) and its
threshold/reset/refractory rule do the rest. A single input spike therefore gives a PSP of
exactly ``J`` that decays as :math:`J e^{-t/\tau}`.

**Propagation** is event-driven (:mod:`snnviz.core.synapses`): only spiking neurons are touched
and no spike is ever dropped. ``layout="rows"`` keeps one bit-packed fan-out row per neuron
(``N^2 / 8`` bytes: 12.5 MB at N = 10,000) and adds the rows of the neurons that spiked;
``layout="lists"`` keeps padded target lists (``~4 epsilon N^2`` bytes) and scatters them
(~2.5x slower per chunk at N = 10,000, see ``benchmarks/network_chunk.py``). ``"auto"`` picks
rows up to N = 46,340. The external Poisson drive uses the counter-based sampler of
``_external.py`` (``jax.random.poisson`` alone costs ~1 ms per step at N = 10,000).

Units: ms, mV, Hz.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray, UInt32

from ..neurons._checks import check_finite, check_order, check_positive
from ..neurons.lif import LIF, LIFState
from ..sim._scan import AbstractSystem
from ..synapses.connectivity import ei_fan_in, fan_out_lists, packed_rows
from ..synapses.delays import DelayRing, delay_steps
from ..synapses.events import lists_input, rows_input
from ._external import poisson_cdf_table, poisson_counts_fast, split_mean

REGIMES: dict[str, dict[str, float]] = {
    "SR": {"g": 3.0, "eta": 2.0},
    "AI": {"g": 5.0, "eta": 2.0},
    "SI_fast": {"g": 6.0, "eta": 4.0},
    "SI_slow": {"g": 4.5, "eta": 0.9},
}
"""The four parameter points of Brunel (2000), Fig. 8 (A: SR, B: SI fast, C: AI, D: SI slow)."""

LAYOUTS = ("auto", "rows", "lists")
_ROWS_MAX_BYTES = 2**28  # "auto" uses packed rows while N^2 / 8 <= 256 MB (N <= 46,340)


def _f32(x):
    return jnp.asarray(x, jnp.float32)


class BrunelState(eqx.Module):
    """State of a :class:`BrunelNetwork`."""

    neuron: LIFState  # v (mV), i_syn (unused, 0), refractory steps; shape (N,)
    ring: DelayRing  # recurrent input in transit (mV), (max_delay_steps + 2, N)
    step_index: Int[Array, ""]  # int32 step counter
    seed: UInt32[Array, " 2"]  # stream of the external Poisson drive


class BrunelNetwork(AbstractSystem):
    """Brunel (2000) model A; build it with :meth:`build`.

    Traced fields (changing them never recompiles): ``g`` (relative inhibition), ``eta``
    (:math:`\\nu_\\mathrm{ext}/\\nu_\\mathrm{thr}`), ``j_mv`` (EPSP amplitude ``J``, mV),
    ``delay_ms`` (``D``), ``tau_mem`` (ms), ``v_th`` / ``v_reset`` (mV from rest), ``t_ref``
    (ms), ``dt`` (ms). Static: the sizes ``n_exc``, ``n_inh``, ``c_exc``, ``c_inh``,
    ``max_delay_steps`` (largest delay in steps; the delay is ``round(delay_ms / dt)`` steps),
    ``n_probe``, ``layout`` and ``batch_size`` (spikes per event batch).

    Each step records ``{"spikes": (N,) bool, "v_probe": (n_probe,) mV}`` (``v_probe`` after
    reset, of the neurons ``probe_idx``). An optional per-step ``drive_t`` of shape ``(N,)`` is
    added to ``V`` as extra voltage jumps (mV).

    !!! example
        ```python
        net = BrunelNetwork.build(2000, key=jax.random.key(0), **REGIMES["AI"])
        state = net.init_state(key=jax.random.key(1))
        state, rec = advance(net, state, 50)      # one streamed chunk
        net = net.with_params(g=6.0, eta=4.0)     # a slider move: same compiled code
        state, rec = advance(net, state, 50)
        ```
    """

    connectivity: Array  # uint8 (N, H) packed fan-out rows, or int32 (N, max_out) target lists
    probe_idx: Int[Array, " n_probe"]
    g: Float[Array, ""] = eqx.field(default=5.0, converter=_f32)
    eta: Float[Array, ""] = eqx.field(default=2.0, converter=_f32)
    j_mv: Float[Array, ""] = eqx.field(default=0.1, converter=_f32)
    delay_ms: Float[Array, ""] = eqx.field(default=1.5, converter=_f32)
    tau_mem: Float[Array, ""] = eqx.field(default=20.0, converter=_f32)
    v_th: Float[Array, ""] = eqx.field(default=20.0, converter=_f32)
    v_reset: Float[Array, ""] = eqx.field(default=10.0, converter=_f32)
    t_ref: Float[Array, ""] = eqx.field(default=2.0, converter=_f32)
    dt: Float[Array, ""] = eqx.field(default=0.1, converter=_f32)
    n_exc: int = eqx.field(static=True, default=800)
    n_inh: int = eqx.field(static=True, default=200)
    c_exc: int = eqx.field(static=True, default=80)
    c_inh: int = eqx.field(static=True, default=20)
    max_delay_steps: int = eqx.field(static=True, default=100)
    n_probe: int = eqx.field(static=True, default=8)
    layout: str = eqx.field(static=True, default="rows")
    batch_size: int = eqx.field(static=True, default=64)

    def __check_init__(self):
        name = "BrunelNetwork"
        for field, unit in (("tau_mem", "ms"), ("dt", "ms"), ("j_mv", "mV")):
            check_positive(name, field, getattr(self, field), unit)
        for field in ("g", "eta", "v_th", "v_reset", "t_ref", "delay_ms"):
            check_finite(name, field, getattr(self, field), "")
        check_order(name, "v_reset", self.v_reset, "v_th", self.v_th)
        for field in ("g", "eta", "t_ref", "delay_ms"):
            value = getattr(self, field)
            if not isinstance(value, jax.core.Tracer) and float(value) < 0:
                raise ValueError(f"{name}: `{field}` must be >= 0, got {float(value)}")
        if self.layout not in ("rows", "lists"):
            raise ValueError(f"{name}: `layout` must be 'rows' or 'lists', got {self.layout!r}")
        if not 1 <= self.batch_size <= 255:
            raise ValueError(f"{name}: `batch_size` must be in [1, 255], got {self.batch_size}")
        delay, dt = self.delay_ms, self.dt
        if not isinstance(delay, jax.core.Tracer) and not isinstance(dt, jax.core.Tracer):
            steps = round(float(delay) / float(dt))
            if steps > self.max_delay_steps:
                raise ValueError(
                    f"{name}: `delay_ms`={float(delay):g} ms is {steps} steps of dt={float(dt):g}"
                    f" ms, more than max_delay_steps={self.max_delay_steps}; shorten the delay "
                    "or build the network with a larger `max_delay_ms`"
                )

    @classmethod
    def build(
        cls,
        n_neurons: int,
        *,
        key: PRNGKeyArray,
        epsilon: float = 0.1,
        n_probe: int = 8,
        max_delay_ms: float = 10.0,
        layout: str = "auto",
        batch_size: int = 64,
        **params: float,
    ) -> BrunelNetwork:
        """Draw a network of ``n_neurons`` (``N_E = round(0.8 N)``, ``N_I = N - N_E``).

        ``epsilon`` is the connection probability (``C_E = round(epsilon N_E)``,
        ``C_I = round(epsilon N_I)``, exact fan-in, no autapses); ``key`` seeds the
        connectivity. ``max_delay_ms`` fixes the static ring-buffer length
        ``ceil(max_delay_ms / dt)`` steps. ``params`` sets the traced fields (``g``, ``eta``,
        ``j_mv``, ``delay_ms``, ``tau_mem``, ``v_th``, ``v_reset``, ``t_ref``, ``dt``).
        """
        traced = {f.name for f in dataclasses.fields(cls) if not f.metadata.get("static")}
        traced -= {"connectivity", "probe_idx"}
        unknown = sorted(set(params) - traced)
        if unknown:
            raise ValueError(
                f"BrunelNetwork.build: unknown parameter(s) {unknown}; allowed: {sorted(traced)}"
            )
        n = int(n_neurons)
        if n < 5:
            raise ValueError(f"BrunelNetwork.build: `n_neurons` must be >= 5, got {n_neurons}")
        if not 0 < epsilon <= 1:
            raise ValueError(f"BrunelNetwork.build: `epsilon` must be in (0, 1], got {epsilon}")
        if layout not in LAYOUTS:
            raise ValueError(
                f"BrunelNetwork.build: `layout` must be one of {LAYOUTS}, got {layout!r}"
            )
        n_exc = round(0.8 * n)
        n_inh = n - n_exc
        c_exc, c_inh = round(epsilon * n_exc), round(epsilon * n_inh)
        if c_exc < 1 or c_inh < 1:
            raise ValueError(
                f"BrunelNetwork.build: epsilon={epsilon} with N={n} gives C_E={c_exc}, C_I={c_inh};"
                " each neuron needs at least one excitatory and one inhibitory input"
            )
        dt = float(params.get("dt", 0.1))
        max_delay_steps = max(1, math.ceil(float(max_delay_ms) / dt - 1e-9))
        if layout == "auto":
            layout = "rows" if n * n // 8 <= _ROWS_MAX_BYTES else "lists"
        pre_idx = ei_fan_in(key, n_exc, n_inh, c_exc, c_inh, autapses=False)
        table = packed_rows(pre_idx, n) if layout == "rows" else fan_out_lists(pre_idx, n).targets
        n_probe = min(int(n_probe), n)
        probe = np.unique(np.linspace(0, n - 1, n_probe).round().astype(np.int32))
        return cls(
            connectivity=jnp.asarray(table),
            probe_idx=jnp.asarray(probe),
            n_exc=n_exc,
            n_inh=n_inh,
            c_exc=c_exc,
            c_inh=c_inh,
            max_delay_steps=max_delay_steps,
            n_probe=int(probe.size),
            layout=layout,
            batch_size=int(batch_size),
            **params,
        )

    def with_params(self, **params: float) -> BrunelNetwork:
        """The same network (same connectivity) with new traced parameter values."""
        return dataclasses.replace(self, **params)

    @property
    def n_neurons(self) -> int:
        """``N = N_E + N_I``."""
        return self.n_exc + self.n_inh

    def nu_thr_hz(self) -> Float[Array, ""]:
        """:math:`\\nu_\\mathrm{thr} = \\theta / (J C_E \\tau)` in Hz."""
        return 1000.0 * self.v_th / (self.j_mv * self.c_exc * self.tau_mem)

    def external_rate_hz(self) -> Float[Array, ""]:
        """:math:`\\nu_\\mathrm{ext} = \\eta \\nu_\\mathrm{thr}` per external synapse, Hz."""
        return self.eta * self.nu_thr_hz()

    def external_count_mean(self) -> Float[Array, ""]:
        r"""Mean external input count per neuron and step,
        :math:`C_E \nu_\mathrm{ext} dt = \eta\, \theta\, dt / (J \tau)`."""
        return self.eta * self.v_th * self.dt / (self.j_mv * self.tau_mem)

    def neuron(self) -> LIF:
        """The engine LIF of every neuron (rest 0 mV; its synaptic current is not used)."""
        return LIF(
            tau_mem=self.tau_mem,
            tau_syn=1.0,
            c_mem=1.0,
            v_rest=0.0,
            v_reset=self.v_reset,
            v_th=self.v_th,
            t_ref=self.t_ref,
        )

    def init_state(self, *, key: PRNGKeyArray) -> BrunelState:
        """Membrane potentials uniform in ``[0, v_th)``, nothing in transit, fresh drive seed."""
        k_v, k_seed = jax.random.split(key)
        n = self.n_neurons
        v = jax.random.uniform(k_v, (n,), jnp.float32) * self.v_th
        neuron = eqx.tree_at(lambda s: s.v, self.neuron().init_state((n,)), v)
        return BrunelState(
            neuron=neuron,
            ring=DelayRing.zeros(n, self.max_delay_steps + 1),
            step_index=jnp.int32(0),
            seed=jax.random.bits(k_seed, (2,), jnp.uint32),
        )

    def prepare(self) -> _PreparedBrunel:
        """Per-chunk precomputation: the LIF propagator, the Poisson table, the delay in steps."""
        parts, part_mean = split_mean(self.external_count_mean())
        return _PreparedBrunel(
            system=self,
            step=self.neuron().discretise(self.dt),
            cdf=poisson_cdf_table(part_mean),
            parts=parts,
            delay=delay_steps(self.delay_ms, self.dt, self.max_delay_steps),
        )

    def __call__(self, state: BrunelState, drive_t: Any = None) -> tuple[BrunelState, dict]:
        return self.prepare()(state, drive_t)


class _PreparedBrunel(eqx.Module):
    system: BrunelNetwork
    step: Any  # LIFStep
    cdf: Float[Array, " 64"]  # Poisson CDF of one part of the external count
    parts: Int[Array, ""]
    delay: Int[Array, ""]

    def recurrent_input(self, spikes: Bool[Array, " n"]) -> Float[Array, " n"]:
        """Voltage jumps (mV) that this step's spikes deliver after the delay."""
        net = self.system
        if net.layout == "rows":
            scales = jnp.stack([net.j_mv, -net.g * net.j_mv])
            return rows_input(
                net.connectivity,
                spikes,
                net.n_neurons,
                (0, net.n_exc),
                scales,
                batch_size=net.batch_size,
            )
        is_exc = jnp.arange(net.n_neurons) < net.n_exc
        presyn = jnp.where(is_exc, net.j_mv, -net.g * net.j_mv)
        return lists_input(
            net.connectivity,
            spikes,
            net.n_neurons,
            presyn_scale=presyn,
            batch_size=net.batch_size,
        )

    def __call__(self, state: BrunelState, drive_t: Any = None) -> tuple[BrunelState, dict]:
        net = self.system
        n = net.n_neurons
        t = state.step_index
        arriving = state.ring.arriving
        external = poisson_counts_fast(state.seed, t, self.cdf, self.parts, n)
        jump = arriving + net.j_mv * external
        if drive_t is not None:
            jump = jump + drive_t
        neuron = eqx.tree_at(lambda s: s.v, state.neuron, state.neuron.v + jump)
        zeros = jnp.zeros(n, jnp.float32)
        neuron, spikes = self.step(neuron, zeros, zeros)
        fired = spikes > 0
        # emitted at the end of step t, arriving `delay` later: at the start of step t + 1 + delay
        ring = state.ring.advance(t, 1 + self.delay, self.recurrent_input(fired))
        record = {"spikes": fired, "v_probe": neuron.v[net.probe_idx]}
        return BrunelState(neuron, ring, t + 1, state.seed), record
