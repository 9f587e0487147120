r"""Firing-pattern classification from spike times, and the neuron presets in assets/presets.

The labels follow the taxonomy of Naud, Marcille, Clopath & Gerstner (2008), "Firing patterns
in the adaptive exponential integrate-and-fire model", Biol. Cybern. 99:335: an *initiation*
pattern (none, initial burst, delay) and a *steady-state* pattern (tonic, adapting,
accelerating, bursting, irregular), read here from the spikes inside the stimulus window.

:func:`classify_pattern` applies these rules in order (thresholds are module constants, chosen
to separate the Naud et al. presets with a margin of at least ~1.5x at dt = 0.1 - 0.01 ms):

1. no spike: ``"quiescent"``; the last spike in the first half of the stimulus:
   ``"transient"``; fewer than ``MIN_SPIKES`` spikes otherwise: ``"sparse"``.
2. *Bimodal ISIs* (bursts): sort the ISIs; if some consecutive pair differs by a factor
   ``>= BURST_GAP`` (3) with at least two ISIs on either side, and the ISIs above the gap
   are regular (CV <= ``IRREGULAR_CV``), those below are intra-burst, those above
   inter-burst. If
   every short ISI precedes every long one: ``"initial_burst"``. Otherwise, with at least two
   long ISIs: bursting, ``"delayed_bursting"`` if the first-spike latency exceeds
   ``BURST_DELAY`` (0.5) x the median inter-burst ISI, else ``"regular_bursting"``.
3. *Irregular*: coefficient of variation of the ISIs in the second half of the train
   ``> IRREGULAR_CV`` (0.3): ``"irregular"``.
4. *Adaptation ratio* ``R = median(last 3 ISIs) / first ISI``: ``R > ADAPTING_RATIO`` (1.4):
   ``"adapting"``; ``R < 1/ADAPTING_RATIO``: accelerating, ``"delayed_accelerating"`` if the
   latency exceeds ``DELAY_FACTOR`` (2) x the steady ISI, else ``"accelerating"``.
5. Otherwise regular: ``"fast_spiking"`` if the steady rate ``1000 / median(last 3 ISIs)`` is
   ``>= FAST_SPIKING_HZ`` (150 Hz), else ``"tonic"``.

:func:`isi_features` returns the quantities used (plus the Allen-Institute-style adaptation
index :math:`A = \langle (ISI_{i+1} - ISI_i)/(ISI_{i+1} + ISI_i) \rangle`, for display).

"""

from __future__ import annotations

from typing import Any

import numpy as np

MIN_SPIKES = 4
BURST_GAP = 3.0
BURST_DELAY = 0.5
IRREGULAR_CV = 0.3
ADAPTING_RATIO = 1.4
DELAY_FACTOR = 2.0
FAST_SPIKING_HZ = 150.0

PATTERNS = (
    "quiescent",
    "transient",
    "sparse",
    "initial_burst",
    "regular_bursting",
    "delayed_bursting",
    "irregular",
    "adapting",
    "accelerating",
    "delayed_accelerating",
    "fast_spiking",
    "tonic",
)


def spike_times_ms(spikes: Any, dt_ms: float) -> np.ndarray | list[np.ndarray]:
    """Spike times (ms) from a recorded 0/1 spike array of shape ``(n_steps,)`` or
    ``(n_steps, n)`` (a list of arrays, one per neuron). A spike recorded in step ``k``
    happened by the end of that step: ``t = (k + 1) dt``."""
    s = np.asarray(spikes)
    if s.ndim == 1:
        return (np.flatnonzero(s) + 1) * float(dt_ms)
    flat = s.reshape(s.shape[0], -1)
    return [(np.flatnonzero(flat[:, i]) + 1) * float(dt_ms) for i in range(flat.shape[1])]


def isi_features(spike_times: Any, stimulus_on_ms: float, stimulus_off_ms: float) -> dict:
    """ISI statistics of the spikes in ``[stimulus_on_ms, stimulus_off_ms]`` (ms, Hz)."""
    t = np.sort(np.asarray(spike_times, np.float64))
    t = t[(t >= stimulus_on_ms) & (t <= stimulus_off_ms)]
    isi = np.diff(t)
    out: dict[str, Any] = {
        "n_spikes": int(t.size),
        "isi_ms": isi,
        "latency_ms": float(t[0] - stimulus_on_ms) if t.size else np.inf,
        "last_spike_ms": float(t[-1]) if t.size else -np.inf,
    }
    if isi.size:
        steady = float(np.median(isi[-3:]))
        late = isi[isi.size // 2 :]
        out |= {
            "first_isi_ms": float(isi[0]),
            "steady_isi_ms": steady,
            "steady_rate_hz": 1000.0 / steady,
            "adaptation_ratio": steady / float(isi[0]),
            "adaptation_index": float(np.mean(np.diff(isi) / (isi[1:] + isi[:-1])))
            if isi.size > 1
            else 0.0,
            "cv_late": float(np.std(late) / np.mean(late)) if late.size >= 3 else 0.0,
        }
    return out


def _burst_split(isi: np.ndarray) -> np.ndarray | None:
    """Boolean mask of intra-burst ISIs if the ISIs are bimodal: sorted, two neighbours differ
    by a factor >= BURST_GAP with at least two ISIs on each side, and the long ISIs are
    regular (CV <= IRREGULAR_CV): a random train also has chance gaps, but irregular ones."""
    if isi.size < 4:
        return None
    s = np.sort(isi)
    ratios = s[2:-1] / np.maximum(s[1:-2], 1e-9)  # gaps leaving >= 2 ISIs on each side
    k = int(np.argmax(ratios))
    short = isi <= s[k + 1]
    long = isi[~short]
    if ratios[k] < BURST_GAP or np.std(long) > IRREGULAR_CV * np.mean(long):
        return None  # no gap, or irregular long ISIs: random trains have chance gaps
    return short


def classify_pattern(spike_times_ms: Any, stimulus_on_ms: float, stimulus_off_ms: float) -> str:
    """Firing-pattern label of a spike train under a step stimulus (rules in the module doc).

    Returns one of :data:`PATTERNS`.
    """
    if not stimulus_off_ms > stimulus_on_ms:
        raise ValueError(
            f"classify_pattern: stimulus_off_ms ({stimulus_off_ms}) must be after "
            f"stimulus_on_ms ({stimulus_on_ms})"
        )
    f = isi_features(spike_times_ms, stimulus_on_ms, stimulus_off_ms)
    n, isi = f["n_spikes"], f["isi_ms"]
    if n == 0:
        return "quiescent"
    if f["last_spike_ms"] < stimulus_on_ms + 0.5 * (stimulus_off_ms - stimulus_on_ms):
        return "transient"
    if n < MIN_SPIKES:
        return "sparse"
    short = _burst_split(isi)
    if short is not None:
        first_long = int(np.argmax(~short))
        if short[:first_long].all() and not short[first_long:].any():
            return "initial_burst"
        if (~short).sum() >= 2:
            delayed = f["latency_ms"] > BURST_DELAY * float(np.median(isi[~short]))
            return "delayed_bursting" if delayed else "regular_bursting"
    if f["cv_late"] > IRREGULAR_CV:
        return "irregular"
    if f["adaptation_ratio"] > ADAPTING_RATIO:
        return "adapting"
    if f["adaptation_ratio"] < 1.0 / ADAPTING_RATIO:
        delayed = f["latency_ms"] > DELAY_FACTOR * f["steady_isi_ms"]
        return "delayed_accelerating" if delayed else "accelerating"
    return "fast_spiking" if f["steady_rate_hz"] >= FAST_SPIKING_HZ else "tonic"
