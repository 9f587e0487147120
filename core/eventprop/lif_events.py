r"""Exact event-based simulation of a feed-forward layer of current-based LIF neurons.

.. math::

    \tau_m \frac{dV}{dt} = -V + I, \qquad \tau_s \frac{dI}{dt} = -I,

a presynaptic spike of neuron ``i`` at time :math:`s` makes :math:`I_j \mathrel{+}= W_{ji}`;
when :math:`V_j` reaches the threshold :math:`\theta` the neuron spikes and :math:`V_j
\leftarrow 0` (no refractory period, :math:`I_j` is unchanged). ``V``, ``I``, ``W`` and
``θ`` are in one unit (threshold units, dimensionless); times are in ms.

**Closed form between events.** From a state :math:`(V_0, I_0)` the membrane after a delay
:math:`\Delta` is :math:`V = (V_0 + k I_0)\,e^{-\Delta/\tau_m} - k I_0\,e^{-\Delta/\tau_s}`
with :math:`k = \tau_s/(\tau_m - \tau_s)`, and :math:`I = I_0 e^{-\Delta/\tau_s}`.

**Exact threshold crossing (τ_m = 2 τ_s only).** With :math:`\tau_m = 2\tau_s` we have
:math:`k = 1` and, writing :math:`x = e^{-\Delta/\tau_m}`, the crossing :math:`V = \theta`
solves the quadratic :math:`I_0 x^2 - (V_0 + I_0) x + \theta = 0`. The earliest crossing
is the larger root

.. math::

    x_+ = \frac{a + \sqrt{a^2 - 4 I_0 \theta}}{2 I_0},\quad a = V_0 + I_0, \qquad
    \Delta = -\tau_m \ln x_+ ,

which exists iff :math:`I_0 > 0`, :math:`a > 0`, :math:`a^2 \ge 4 I_0 \theta` and
:math:`x_+ \le 1` (Göltz et al. 2021 use the same form). This module therefore fixes
:math:`\tau_m = 2\tau_s` (``LIFEvent.tau_mem`` is derived, not a field); other ratios would
need a bracketed root finder.

**Spike response form.** Because the layer is feed-forward, every postsynaptic neuron is an
independent 1-D system driven by the presynaptic spike list, and the reset is a
subtraction of :math:`\theta e^{-(t - t_k)/\tau_m}`:

.. math::

    V_j(t) = k \sum_{q: s_q \le t} w_{jq}\,\big(e^{-(t - s_q)/\tau_m} - e^{-(t - s_q)/\tau_s}\big)
             - \theta \sum_{k': t_{k'} \le t} e^{-(t - t_{k'})/\tau_m}.

The input spikes are sorted once; the state at the start of each inter-input interval comes
from two prefix sums, every interval is tested for a crossing in parallel, and the earliest
one is the next spike; this is repeated ``max_spikes`` (+1, to detect that the cap was hit)
times. All shapes are static, so the layer
jits and vmaps over a batch; ``jax.grad`` through it gives the exact (implicit-function)
spike-time derivatives, and :mod:`.adjoint` wraps it with the EventProp VJP.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ..neurons._checks import check_positive

#: Largest ``t_max / tau_syn`` accepted: the prefix sums hold ``exp(±t / tau_syn)`` with
#: times measured from ``t_max / 2``, which stays far from float32 overflow up to here.
MAX_WINDOW_IN_TAU_SYN = 100.0


class LIFEvent(eqx.Module):
    """Parameters of the event-based LIF layer (all traced scalars).

    **Arguments:** ``tau_syn`` (ms; ``tau_mem = 2 tau_syn``), ``threshold`` (threshold units;
    the weights are jumps of ``I`` in the same unit), ``t_max`` (ms): the simulated window
    ``[0, t_max)``; spikes at or after ``t_max`` are not produced and inputs from then on are
    ignored.
    """

    tau_syn: Float[Array, ""] = eqx.field(default=5.0, converter=jnp.asarray)
    threshold: Float[Array, ""] = eqx.field(default=1.0, converter=jnp.asarray)
    t_max: Float[Array, ""] = eqx.field(default=30.0, converter=jnp.asarray)

    def __check_init__(self) -> None:
        check_positive("LIFEvent", "tau_syn", self.tau_syn, "ms")
        check_positive("LIFEvent", "threshold", self.threshold, "(threshold units)")
        check_positive("LIFEvent", "t_max", self.t_max, "ms")
        ratio = self.t_max / self.tau_syn
        if not isinstance(ratio, jax.core.Tracer) and not float(ratio) <= MAX_WINDOW_IN_TAU_SYN:
            raise ValueError(
                f"LIFEvent: t_max / tau_syn must be at most {MAX_WINDOW_IN_TAU_SYN:g} (the "
                f"prefix sums hold exp(±t / tau_syn)), got t_max={float(self.t_max):g} ms, "
                f"tau_syn={float(self.tau_syn):g} ms; shorten t_max or lengthen tau_syn"
            )

    @property
    def tau_mem(self) -> Float[Array, ""]:
        """Membrane time constant, fixed to ``2 tau_syn`` (closed-form crossing)."""
        return 2.0 * self.tau_syn


class SortedInputs(NamedTuple):
    """Presynaptic spikes of one layer, flattened and sorted by time.

    ``times`` (N,) with spikes at or after ``t_max`` (and ``inf`` padding) replaced by
    ``t_max``; ``valid`` (N,) bool; ``order`` (N,) the sorting permutation of the flattened
    ``(n_pre, k_pre)`` input (spike ``order[p]`` comes from presynaptic neuron
    ``order[p] // k_pre``); ``weights`` (n_post, N) the weight of each spike onto each
    postsynaptic neuron (0 if not valid).
    """

    times: jax.Array
    valid: jax.Array
    order: jax.Array
    weights: jax.Array


def sort_inputs(weights: jax.Array, pre_times: jax.Array, t_max: jax.Array) -> SortedInputs:
    """Flatten ``pre_times`` (n_pre, k_pre) (``inf`` = no spike), sort, gather the weights.

    ``weights`` is (n_post, n_pre). The permutation comes from an unstable key-value sort
    (the order of tied times does not matter, and it is the cheapest sort on CPU); the
    gathered times stay differentiable.
    """
    n_pre, k_pre = pre_times.shape
    if weights.shape[1] != n_pre:
        raise ValueError(
            f"weights have {weights.shape[1]} presynaptic columns but pre_times has "
            f"{n_pre} presynaptic rows; weights must be (n_post, n_pre)"
        )
    flat = pre_times.reshape(-1)
    _, order = jax.lax.sort_key_val(
        jax.lax.stop_gradient(flat), jnp.arange(flat.size), is_stable=False
    )
    times = flat[order]
    valid = times < t_max
    times = jnp.where(valid, times, t_max)
    w = jnp.where(valid[None, :], weights[:, order // k_pre], 0.0)
    return SortedInputs(times, valid, order, w)


def crossing_delay(
    v0: jax.Array, i0: jax.Array, threshold: jax.Array, tau_mem: jax.Array
) -> jax.Array:
    r"""Delay :math:`\Delta \ge 0` until ``V`` first reaches ``threshold`` from ``(v0, i0)``.

    Closed form for ``tau_mem = 2 tau_syn`` (module docstring): :math:`\Delta = -\tau_m \ln
    x_+`; ``inf`` when the membrane never reaches the threshold, 0 when ``v0 >= threshold``
    already. Safe for ``jax.grad`` (no NaN from the branches not taken).
    """
    a = v0 + i0
    disc = a * a - 4.0 * i0 * threshold
    ok = (i0 > 0) & (a > 0) & (disc >= 0)
    a_s = jnp.where(ok, a, 1.0)
    i_s = jnp.where(ok, i0, 1.0)
    d_s = jnp.where(ok, disc, 1.0)
    x = (a_s + jnp.sqrt(d_s)) / (2.0 * i_s)
    ok = ok & (x <= 1.0)
    delay = -tau_mem * jnp.log(jnp.where(ok, x, 1.0))
    return jnp.where(v0 >= threshold, 0.0, jnp.where(ok, delay, jnp.inf))


def _prefix_sums(inp: SortedInputs, tau_mem, tau_syn, t_ref):
    """``C_m[j, p] = Σ_{q<=p} w_jq e^{(s_q - t_ref)/τ_m}`` and the same with ``τ_s``."""
    c_m = jnp.cumsum(inp.weights * jnp.exp((inp.times - t_ref) / tau_mem)[None, :], axis=1)
    c_s = jnp.cumsum(inp.weights * jnp.exp((inp.times - t_ref) / tau_syn)[None, :], axis=1)
    return c_m, c_s


def layer_forward(
    weights: Float[Array, "n_post n_pre"],
    pre_times: Float[Array, "n_pre k_pre"],
    neuron: LIFEvent,
    n_spikes: int,
) -> Float[Array, "n_post n_spikes"]:
    """The first ``n_spikes`` spike times (ms) of every postsynaptic neuron, ``inf`` if fewer.

    Each sorted input spike ``s_p`` opens an interval ``[max(s_p, t_prev), s_{p+1})``; for
    each one the state follows from the prefix sums and the reset sum
    ``Σ_k e^{(t_k - t_ref)/τ_m}``, the closed-form crossing is tested, and the earliest valid
    crossing is the next spike (tied input times leave an empty interval: harmless).

    Plain JAX (no custom VJP): ``jax.grad`` through it differentiates the closed-form
    crossing times, i.e. the exact implicit-function gradient. One sample; ``jax.vmap`` for a
    batch. ``pre_times`` (n_pre, k_pre) lists each presynaptic neuron's spikes (``inf`` =
    none, any order).
    """
    t_max = jnp.asarray(neuron.t_max, weights.dtype)
    inp = sort_inputs(weights, pre_times.astype(weights.dtype), t_max)
    return spikes_from_sorted(inp, neuron, n_spikes)


def spikes_from_sorted(
    inp: SortedInputs, neuron: LIFEvent, n_spikes: int
) -> Float[Array, "n_post n_spikes"]:
    """:func:`layer_forward` on already sorted inputs (the EventProp VJP keeps them)."""
    dtype = inp.weights.dtype
    tau_syn = jnp.asarray(neuron.tau_syn, dtype)
    tau_mem = 2.0 * tau_syn
    theta = jnp.asarray(neuron.threshold, dtype)
    t_max = jnp.asarray(neuron.t_max, dtype)
    t_ref = 0.5 * t_max
    c_m, c_s = _prefix_sums(inp, tau_mem, tau_syn, t_ref)
    interval_end = jnp.concatenate([inp.times[1:], t_max[None]])
    n_post = inp.weights.shape[0]

    def next_spike(carry, _):
        t_prev, reset_sum = carry  # reset_sum = Σ_k e^{(t_k - t_ref)/τ_m}
        start = jnp.maximum(inp.times[None, :], t_prev[:, None])
        live = inp.valid[None, :] & (start < interval_end[None, :])
        decay_m = jnp.exp(-(start - t_ref) / tau_mem)
        decay_s = jnp.exp(-(start - t_ref) / tau_syn)
        i0 = decay_s * c_s
        v0 = decay_m * c_m - i0 - theta * decay_m * reset_sum[:, None]
        cand = start + crossing_delay(v0, i0, theta, tau_mem)
        ok = live & (cand < interval_end[None, :])
        t_new = jnp.min(jnp.where(ok, cand, jnp.inf), axis=1)
        found = jnp.isfinite(t_new)
        t_safe = jnp.where(found, t_new, t_max)
        reset_sum = reset_sum + jnp.where(found, jnp.exp((t_safe - t_ref) / tau_mem), 0.0)
        return (t_safe, reset_sum), t_new

    init = (jnp.full((n_post,), -jnp.inf, dtype), jnp.zeros((n_post,), dtype))
    # unrolled: the spike cap is small, and a loop costs more per iteration on CPU than the body
    _, spikes = jax.lax.scan(next_spike, init, None, length=n_spikes, unroll=True)
    return spikes.T


def membrane_potential(
    weights: Float[Array, "n_post n_pre"],
    pre_times: Float[Array, "n_pre k_pre"],
    spike_times: Float[Array, "n_post k"],
    neuron: LIFEvent,
    t: Float[Array, " n_t"],
) -> tuple[Float[Array, "n_t n_post"], Float[Array, "n_t n_post"]]:
    """``(V, I)`` of every postsynaptic neuron at the times ``t`` (spike response form).

    For plots: ``V`` just after a spike is 0 (the reset at ``t_k`` is included at ``t_k``).
    """
    dtype = weights.dtype
    tau_syn = jnp.asarray(neuron.tau_syn, dtype)
    tau_mem = 2.0 * tau_syn
    inp = sort_inputs(weights, pre_times.astype(dtype), jnp.asarray(neuron.t_max, dtype))
    lag = t[:, None] - inp.times[None, :]
    after = inp.valid[None, :] & (lag >= 0)
    lag = jnp.where(after, lag, 0.0)
    e_m = jnp.where(after, jnp.exp(-lag / tau_mem), 0.0)
    e_s = jnp.where(after, jnp.exp(-lag / tau_syn), 0.0)
    current = e_s @ inp.weights.T
    v_free = (e_m - e_s) @ inp.weights.T
    lag_k = t[:, None, None] - spike_times[None, :, :]
    fired = jnp.isfinite(spike_times)[None, :, :] & (lag_k >= 0)
    resets = jnp.where(fired, jnp.exp(-jnp.where(fired, lag_k, 0.0) / tau_mem), 0.0)
    return v_free - neuron.threshold * resets.sum(axis=2), current
