r"""An *emulated* BrainScaleS-2 backend for the spiking path integrator (software, not hardware).

What it models of the accelerated analog system (Schreiber et al. 2023; Pehle et al. 2022):

- **AdEx neurons** (the engine's :class:`~snnviz.core.neurons.AdEx`) with biological-scale
  parameters; the chip runs them **1000x faster than biology**: 1 ms of model time is 1 us of
  hardware time. :func:`hardware_seconds` converts agent steps to hardware wall time.
- **6-bit signed synapses**: weights are rounded to ``2^bits - 1`` magnitude levels per sign,
  one scale per postsynaptic neuron (:func:`~snnviz.core.navigation.spiking.quantise_weights`).
- **Fixed-pattern mismatch** (one seeded draw = one chip): per neuron, leak conductance,
  membrane capacitance and synaptic time constant scale by :math:`1 + \sigma\xi`, leak and
  threshold potentials shift by :math:`10\,\mathrm{mV}\cdot\sigma\xi`; every synapse's weight
  scales by :math:`1 + \sigma\xi` (:math:`\xi \sim N(0, 1)`, factors clipped at 0.2). The
  current map is calibrated on the *nominal* neuron, so the mismatch stays uncorrected unless
  an evolution strategy tunes it away.
- **Trial-to-trial noise**: the input-current noise of :class:`SpikingCX` (fresh every run).
"""

from __future__ import annotations

import numpy as np

from ..neurons import AdEx
from .spiking import N, SpikingCX, calibrated_currents

SPEEDUP = 1000.0  # BrainScaleS-2 emulates 1 ms of biology in 1 us
BSS2_ADEX = dict(
    c_mem=200.0,
    g_leak=20.0,
    v_rest=-65.0,
    v_th=-52.0,
    delta_t=2.0,
    v_peak=-35.0,
    v_reset=-65.0,
    tau_w=50.0,
    a=0.0,
    b=10.0,
    tau_syn=5.0,
    t_ref=3.0,
)


def mismatch_pattern(sigma: float, seed: int) -> tuple[AdEx, np.ndarray]:
    """One chip's fixed-pattern variation: a mismatched 76-neuron :class:`AdEx` and the
    synapse factors (76, 76). ``sigma`` is the relative spread (0 = ideal chip)."""
    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"mismatch_pattern: sigma must be a finite number >= 0, got {sigma}")
    rng = np.random.default_rng(seed)
    xi = rng.standard_normal((6, N)).astype(np.float32)

    def factor(z):
        return np.maximum(1.0 + sigma * z, 0.2).astype(np.float32)

    p = dict(BSS2_ADEX)
    params = {k: np.full(N, v, np.float32) for k, v in p.items()}
    params["g_leak"] = p["g_leak"] * factor(xi[0])
    params["c_mem"] = p["c_mem"] * factor(xi[1])
    params["tau_syn"] = p["tau_syn"] * factor(xi[2])
    shift = 10.0 * sigma * xi[3]
    params["v_rest"] = p["v_rest"] + shift
    params["v_reset"] = p["v_reset"] + shift
    params["v_th"] = p["v_th"] + 10.0 * sigma * xi[4]
    synapses = factor(rng.standard_normal((N, N)).astype(np.float32))
    return AdEx(**params), synapses


def emulated_bss2_cx(
    *,
    mismatch: float = 0.05,
    weight_bits: float = 6.0,
    seed: int = 0,
    dt: float = 1.0,
    n_substeps: int = 20,
    **fields,
) -> SpikingCX:
    """The spiking circuit on the emulated chip: mismatched AdEx neurons, quantised synapses.

    ``mismatch``: relative fixed-pattern spread; ``weight_bits``: synapse resolution (0 =
    analog); ``seed``: which chip; ``fields`` override :class:`SpikingCX` parameters.
    """
    neuron, synapses = mismatch_pattern(mismatch, seed)
    i0, i1 = calibrated_currents(AdEx(**BSS2_ADEX), dt)
    return SpikingCX(
        neuron=neuron,
        current_offset=i0,
        current_gain=i1,
        weight_mismatch=synapses,
        dt=dt,
        n_substeps=n_substeps,
        weight_bits=weight_bits,
        **fields,
    )


def hardware_seconds(n_agent_steps: float, circuit: SpikingCX) -> float:
    """Hardware time (s) the emulated chip needs for ``n_agent_steps`` agent steps:
    biological time / 1000."""
    return float(n_agent_steps) * circuit.step_ms / 1000.0 / SPEEDUP


def biological_seconds(n_agent_steps: float, circuit: SpikingCX) -> float:
    """Biological (model) time (s) of ``n_agent_steps`` agent steps."""
    return float(n_agent_steps) * circuit.step_ms / 1000.0
