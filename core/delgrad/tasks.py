r"""Spike-time data sets for the DelGrad experiments, generated in code (seeded, no downloads).

* :func:`yinyang_task` — Yin-Yang (Kriener et al. 2021) latency-coded: features
  ``(x, y, 1-x, 1-y)`` spike at ``t_early + v (t_late - t_early)``, plus a bias spike.
* :func:`interval_task` — *lag discrimination*, a task where only intervals carry the class.

**Interval task.** ``n_classes`` pairs of inputs; pair ``c`` is inputs ``(2c, 2c+1)``, and
in every sample each input fires exactly once. Each pair is centred on a random time
(``anchor = 1/2``; ``anchor = 0`` puts the pair's *first* spike there instead):

.. math::

    t_{2c} = o_c - \tfrac12 \ell_c + \epsilon, \qquad t_{2c+1} = o_c + \tfrac12 \ell_c + \epsilon',
    \qquad o_c \sim U[0, T_\mathrm{onset}], \quad \epsilon, \epsilon' \sim N(0, \sigma^2)

(then all times are shifted so that the sample's first spike is at 0). The label ``y`` is the
pair whose lag is the target, :math:`\ell_y = L`; every other pair has a distractor lag drawn
uniformly from :math:`[0, \ell_\max]` *outside* :math:`(L - m, L + m)`, so both shorter and
longer than ``L``. Which inputs fire, the order of the pairs and (up to jitter) the order
inside each pair carry no information; only the interval of each pair does.

Why weights alone struggle: with two inputs and no delays, a TTFS neuron's peak response to
a pair is largest at lag 0 (excitatory second input: a "lag < x" window) or it needs the
pair's first input to be inhibitory or to fire alone (a "lag > x" gate); one neuron cannot
prefer a band :math:`L \pm m` that excludes shorter *and* longer lags. A synaptic (or axonal)
delay ``d ≈ L`` on the first input of pair ``y`` turns the target lag into a coincidence,
which one neuron detects. A dendritic delay shifts all inputs of a neuron alike and cannot do
this. With the first spike as anchor, absolute time leaks class information (the second
spike of a long distractor pair comes late) and a weights-only "gate" plus first-spike
competition recovers part of the task (measured: up to ~75 %); centring the pairs reduces that
leak (weights-only then stays near 32-58 %; numbers in :mod:`.experiments`). (A
hidden layer of weights-only neurons can in principle build the band from a gate and a
window; :func:`.experiments.accuracy_vs_parameters` reports how far training gets.)
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..data import latency_encode, yinyang


class SpikeTimeDataset(NamedTuple):
    """Input spike times ``times`` (n, n_in) in ms and class ``labels`` (n,) int32."""

    times: jax.Array
    labels: jax.Array

    @property
    def n_inputs(self) -> int:
        return int(self.times.shape[1])

    @property
    def n_classes(self) -> int:
        return int(np.max(np.asarray(self.labels))) + 1


def yinyang_task(
    n_train: int = 5000,
    n_test: int = 1000,
    *,
    seed: int = 0,
    t_early: float = 0.0,
    t_late: float = 10.0,
    bias_time: float = 0.0,
) -> tuple[SpikeTimeDataset, SpikeTimeDataset]:
    """Yin-Yang train/test sets (different seeds) as 5 input spike times in ms (4 features and
    a bias spike at ``bias_time``)."""
    train = yinyang(n_train, seed=seed)
    test = yinyang(n_test, seed=seed + 10_000)

    def encode(data):
        times = latency_encode(data.features, t_early, t_late, bias_time=bias_time)
        return SpikeTimeDataset(times, data.labels)

    return encode(train), encode(test)


def _interval_samples(
    n: int,
    rng: np.random.Generator,
    n_classes: int,
    lag_ms: float,
    margin_ms: float,
    max_lag_ms: float,
    onset_spread_ms: float,
    jitter_ms: float,
    anchor: float,
) -> SpikeTimeDataset:
    labels = rng.permutation(np.arange(n) % n_classes)
    # distractor lags: uniform on [0, max_lag] minus the band (lag - margin, lag + margin)
    low = max(lag_ms - margin_ms, 0.0)
    high = lag_ms + margin_ms
    span = low + (max_lag_ms - high)
    u = rng.uniform(0.0, span, size=(n, n_classes))
    lags = np.where(u < low, u, u - low + high)
    lags[np.arange(n), labels] = lag_ms
    onsets = rng.uniform(0.0, onset_spread_ms, size=(n, n_classes))
    first = onsets - anchor * lags  # anchor 0: pair starts at the onset; 1/2: centred
    times = np.stack([first, first + lags], axis=-1).reshape(n, 2 * n_classes)
    times = times + rng.normal(0.0, jitter_ms, size=times.shape)
    times = times - times.min(axis=1, keepdims=True)  # first spike of a sample at t = 0
    return SpikeTimeDataset(jnp.asarray(times, jnp.float32), jnp.asarray(labels, jnp.int32))


def interval_task(
    n_train: int = 3000,
    n_test: int = 1000,
    *,
    n_classes: int = 3,
    lag_ms: float = 15.0,
    margin_ms: float = 5.0,
    max_lag_ms: float = 30.0,
    onset_spread_ms: float = 20.0,
    jitter_ms: float = 0.5,
    anchor: float = 0.5,
    seed: int = 0,
) -> tuple[SpikeTimeDataset, SpikeTimeDataset]:
    """Lag-discrimination train/test sets (module docstring): ``2 n_classes`` inputs, the class
    is the pair whose lag is ``lag_ms`` (others: outside ``lag_ms ± margin_ms``, up to
    ``max_lag_ms``); pair centres (``anchor=0.5``) spread over ``onset_spread_ms``, spike
    jitter s.d. ``jitter_ms``. Classes are balanced; train and test come from one generator
    seeded with ``seed`` (disjoint draws)."""
    if not 0 < margin_ms <= lag_ms < lag_ms + margin_ms < max_lag_ms:
        raise ValueError(
            "interval_task needs 0 < margin_ms <= lag_ms and lag_ms + margin_ms < max_lag_ms, "
            f"got lag_ms={lag_ms}, margin_ms={margin_ms}, max_lag_ms={max_lag_ms}"
        )
    if not 0.0 <= anchor <= 1.0:
        raise ValueError(f"anchor must be in [0, 1] (0: first spike, 1: second), got {anchor}")
    if int(n_classes) < 2:
        raise ValueError(f"n_classes must be >= 2, got {n_classes}")
    rng = np.random.default_rng(seed)
    args = (int(n_classes), lag_ms, margin_ms, max_lag_ms, onset_spread_ms, jitter_ms, anchor)
    train = _interval_samples(int(n_train), rng, *args)
    test = _interval_samples(int(n_test), rng, *args)
    return train, test
