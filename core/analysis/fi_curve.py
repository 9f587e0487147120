r"""Frequency-current (f-I) curves: simulated for any neuron, closed form for the LIF.

LIF under a constant current ``I`` with :math:`R = \tau_m / C`: from ``V_reset`` the
membrane reaches the threshold after
:math:`T(I) = \tau_m \ln\frac{RI - (V_\mathrm{reset} - E_L)}{RI - (\theta - E_L)}`, so

.. math::

    f(I) = \frac{1000}{t_\mathrm{ref} + T(I)}\ \mathrm{Hz} \quad (RI > \theta - E_L),
    \qquad f(I) = 0 \text{ otherwise}.

The simulated rate is the *steady-state* rate: the inverse mean ISI of the spikes in the
second half of the run (``count / (T/2)`` when fewer than two spikes fall there), so an
adapting neuron reports its adapted rate and the LIF's exact discrete ISI is measured
without the first-passage transient.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import PRNGKeyArray

from ..inputs import CurrentInjection
from ..neurons import LIF
from ..sim import DrivenPopulation, simulate


def fi_curve(
    neuron, currents_pA, *, dt: float, duration_ms: float, key: PRNGKeyArray
) -> np.ndarray:
    """Steady-state firing rate (Hz) for each constant current in ``currents_pA``.

    One :func:`~snnviz.core.sim.simulate` call: a population with one neuron per current
    (``CurrentInjection(offset=currents)``), so new amplitudes or parameter values reuse the
    compiled code; only the number of currents and of steps are static.
    """
    currents = jnp.asarray(currents_pA, jnp.float32).reshape(-1)
    if duration_ms <= 0 or dt <= 0:
        raise ValueError(
            f"fi_curve: `dt` and `duration_ms` must be > 0, got dt={dt}, duration_ms={duration_ms}"
        )
    system = DrivenPopulation(
        neuron, CurrentInjection(offset=currents), dt=dt, shape=currents.shape
    )
    n_steps = round(duration_ms / dt)
    _, rec = simulate(system, n_steps, key=key)
    spikes = np.asarray(rec["spikes"])
    half = n_steps // 2
    rates = np.zeros(currents.shape[0])
    for i in range(currents.shape[0]):
        t = (np.flatnonzero(spikes[half:, i]) + half + 1) * dt
        if t.size >= 2:
            rates[i] = 1000.0 * (t.size - 1) / (t[-1] - t[0])
        else:
            rates[i] = 1000.0 * t.size / ((n_steps - half) * dt)
    return rates


def lif_rate_closed_form(neuron: LIF, currents_pA) -> np.ndarray:
    """Closed-form LIF rate (Hz) under constant currents (module docstring), float64."""
    i = np.asarray(currents_pA, np.float64)
    tau, c = float(neuron.tau_mem), float(neuron.c_mem)
    drive = tau / c * i
    above = drive - (float(neuron.v_th) - float(neuron.v_rest))
    start = drive - (float(neuron.v_reset) - float(neuron.v_rest))
    fires = above > 0
    passage = tau * np.log(np.where(fires, start, 1.0) / np.where(fires, above, 1.0))
    return np.where(fires, 1000.0 / (float(neuron.t_ref) + passage), 0.0)
