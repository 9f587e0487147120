r"""A plastic spiking readout that learns new classes online with the three-factor rule.

The layer sits on top of a frozen spiking feature extractor. ``n_out`` LIF neurons (one per
new class) receive the feature spikes :math:`f_t` through plastic weights :math:`W`. While an
example of class :math:`c` is shown (one *presentation* of ``T`` steps) every step runs

.. math::
    x_t &= d_\mathrm{pre}\, x_{t-1} + g \odot f_t
        &&\text{pre-synaptic traces (per-input impulse } g)\\
    U_t &= \alpha\,(U_{t-1} - \vartheta s_{t-1}) + W f_t,\quad s_t = H(U_t - \vartheta)
        &&\text{LIF, subtractive reset}\\
    y_t &= d_\mathrm{post}\, y_{t-1} + (1 - d_\mathrm{post})\, s_t
        &&\text{post trace: a running firing rate in [0, 1]}\\
    E_{i,t} &= m_i\,(r^*\,[i = c] - y_{i,t}),\quad m_i = 1 \text{ if } i = c \text{ else } m_-
        &&\text{error: the third factor}\\
    W &\leftarrow W + \Delta W(\text{pre}, \text{post}, E, W)
        &&\text{the rule (default: :class:`~.rules.ThreeFactor`, SOEL)}

with :math:`d = e^{-\Delta t/\tau}`. The target neuron is driven towards the firing rate
:math:`r^*` and the others towards silence; the rule's error threshold stops learning once the
output is right. Neuron state and traces restart from rest for every presentation. A *query*
runs the same dynamics without learning; the prediction is the neuron with most spikes (ties:
the larger summed input :math:`\sum_t W f_t`).

On the emulated chip (``chip`` a :class:`~.loihi.LoihiConfig`), traces are decaying integers,
learning rates powers of two, the error is quantised and weights live on the ``weight_bits``
grid with stochastic rounding (:func:`~.loihi.chip_update`); neuron dynamics stay in float.
Spikes use a fast-sigmoid surrogate gradient (slope = the rule's ``surrogate_slope``), so the
whole unroll is differentiable for meta-learning.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from ..snn.surrogate import fast_sigmoid_spike
from .loihi import LoihiConfig, chip_trace_step, chip_update, quantise_weights
from .rules import Post, Pre, ThreeFactor, trace_decay

__all__ = ["PlasticReadout", "Presentation", "predict_scores"]


class Presentation(NamedTuple):
    """What one presentation recorded per step: ``spikes`` (T, n_out), ``error`` (T, n_out)
    (the third factor) and, when asked for, ``weights`` (T, n_out, n_in) after each step."""

    spikes: Float[Array, "T n_out"]
    error: Float[Array, "T n_out"]
    weights: Float[Array, "T n_out n_in"] | None


def _array(value: ArrayLike) -> Array:
    return jnp.asarray(value, dtype=float)


class PlasticReadout(eqx.Module):
    """The plastic layer's neuron, trace and rule hyperparameters (all traced arrays).

    Fields: ``rule`` (:class:`~.rules.ThreeFactor`); ``tau_pre_ms``, ``tau_post_ms``,
    ``tau_mem_ms`` (ms); ``threshold`` :math:`\\vartheta`; ``target_rate`` :math:`r^*` (spikes
    per step, in (0, 1)); ``depress_gain`` :math:`m_-`; ``input_gain`` :math:`g` (n_in,) the
    pre-trace impulse per input; ``init_mean`` (n_in,) and ``init_scale``: initial weights
    ``init_mean + init_scale * N(0, 1)`` (the same mean row for every output neuron);
    ``dt_ms``; ``chip``: a :class:`~.loihi.LoihiConfig` for the fixed-point engine, or None.
    """

    rule: ThreeFactor
    tau_pre_ms: Float[Array, ""]
    tau_post_ms: Float[Array, ""]
    tau_mem_ms: Float[Array, ""]
    threshold: Float[Array, ""]
    target_rate: Float[Array, ""]
    depress_gain: Float[Array, ""]
    input_gain: Float[Array, " n_in"]
    init_mean: Float[Array, " n_in"]
    init_scale: Float[Array, ""]
    weight_max: Float[Array, ""]
    dt_ms: Float[Array, ""]
    chip: LoihiConfig | None

    def __init__(
        self,
        n_in: int,
        *,
        rule: ThreeFactor | None = None,
        tau_pre_ms: ArrayLike = 10.0,
        tau_post_ms: ArrayLike = 5.0,
        tau_mem_ms: ArrayLike = 10.0,
        threshold: ArrayLike = 1.0,
        target_rate: ArrayLike = 0.5,
        depress_gain: ArrayLike = 1.0,
        input_gain: ArrayLike = 1.0,
        init_mean: ArrayLike = 0.0,
        init_scale: ArrayLike = 0.0,
        weight_max: ArrayLike = 0.5,
        dt_ms: ArrayLike = 1.0,
        chip: LoihiConfig | None = None,
    ):
        self.rule = ThreeFactor() if rule is None else rule
        self.tau_pre_ms, self.tau_post_ms = _array(tau_pre_ms), _array(tau_post_ms)
        self.tau_mem_ms, self.threshold = _array(tau_mem_ms), _array(threshold)
        self.target_rate, self.depress_gain = _array(target_rate), _array(depress_gain)
        self.input_gain = jnp.broadcast_to(_array(input_gain), (n_in,))
        self.init_mean = jnp.broadcast_to(_array(init_mean), (n_in,))
        self.init_scale, self.dt_ms = _array(init_scale), _array(dt_ms)
        self.weight_max = _array(chip.weight_max if chip is not None else weight_max)
        self.chip = chip

    def __check_init__(self) -> None:
        for name in ("tau_pre_ms", "tau_post_ms", "tau_mem_ms", "threshold", "dt_ms", "weight_max"):
            value = getattr(self, name)
            if not isinstance(value, jax.core.Tracer) and not float(value) > 0:
                raise ValueError(f"PlasticReadout: `{name}` must be > 0, got {float(value)}")
        r = self.target_rate
        if not isinstance(r, jax.core.Tracer) and not 0.0 < float(r) < 1.0:
            raise ValueError(f"PlasticReadout: `target_rate` must be in (0, 1), got {float(r)}")
        for name in ("input_gain", "init_scale", "depress_gain"):
            value = getattr(self, name)
            if not isinstance(value, jax.core.Tracer) and np.any(np.asarray(value) < 0):
                raise ValueError(f"PlasticReadout: `{name}` must be >= 0, got {np.asarray(value)}")

    @property
    def n_in(self) -> int:
        return self.input_gain.shape[0]

    # -- weights -------------------------------------------------------------------------
    def init_weight(self, n_out: int, key: PRNGKeyArray) -> Float[Array, "n_out n_in"]:
        """Initial plastic weights (n_out, n_in); on the chip's grid (nearest) with ``chip``."""
        noise = jax.random.normal(key, (n_out, self.n_in), self.init_mean.dtype)
        weight = self.init_mean[None, :] + self.init_scale * noise
        if self.chip is None:
            return jnp.clip(weight, -self.weight_max, self.weight_max)
        return quantise_weights(weight, self.chip)

    # -- dynamics ------------------------------------------------------------------------
    def _decays(self) -> tuple[Array, Array, Array]:
        return (trace_decay(self.tau_pre_ms, self.dt_ms), trace_decay(self.tau_post_ms, self.dt_ms),
                trace_decay(self.tau_mem_ms, self.dt_ms))  # fmt: skip

    def _spike(self, u: Array) -> Array:
        return fast_sigmoid_spike(u - self.threshold, self.rule.surrogate_slope)

    def present(
        self,
        weight: Float[Array, "n_out n_in"],
        features: Float[Array, "T n_in"],
        label: Int[Array, ""],
        key: PRNGKeyArray,
        *,
        record_weights: bool = False,
    ) -> tuple[Float[Array, "n_out n_in"], Presentation]:
        """Show one example of class ``label`` for ``T`` steps with learning on; returns the new
        weights and the per-step record (``key``: stochastic rounding on the chip)."""
        n_out = weight.shape[0]
        d_pre, d_post, alpha = self._decays()
        target = jax.nn.one_hot(label, n_out, dtype=weight.dtype)
        modulation = target + (1.0 - target) * self.depress_gain
        chip = self.chip
        zeros_out = jnp.zeros((n_out,), weight.dtype)
        zeros_in = jnp.zeros((self.n_in,), weight.dtype)

        def step(carry, inputs):
            w, x, u, s, y = carry
            f_t, k = inputs
            k_pre, k_post, k_w = jax.random.split(k, 3)
            if chip is None:
                x = d_pre * x + self.input_gain * f_t
                pre_trace = x
            else:  # integer trace in units of trace_scale
                x = chip_trace_step(x, f_t, decay=d_pre, impulse=self.input_gain / chip.trace_scale,
                                    config=chip, key=k_pre)  # fmt: skip
                pre_trace = x * chip.trace_scale
            u = alpha * (u - self.threshold * jax.lax.stop_gradient(s)) + w @ f_t
            s = self._spike(u)
            if chip is None:
                y = d_post * y + (1.0 - d_post) * s
                post_trace = y
            else:
                y = chip_trace_step(y, s, decay=d_post, impulse=(1.0 - d_post) / chip.trace_scale,
                                    config=chip, key=k_post)  # fmt: skip
                post_trace = y * chip.trace_scale
            error = modulation * (self.target_rate * target - post_trace)
            pre = Pre(spikes=f_t, trace=pre_trace)
            post = Post(spikes=s, trace=post_trace, membrane=u - self.threshold)
            if chip is None:
                w = jnp.clip(w + self.rule(pre, post, error, w), -self.weight_max, self.weight_max)
            else:
                w = chip_update(self.rule, pre, post, error, w, config=chip, key=k_w)
            out = (s, error, w) if record_weights else (s, error)
            return (w, x, u, s, y), out

        keys = jax.random.split(key, features.shape[0])
        init = (weight, zeros_in, zeros_out, zeros_out, zeros_out)
        (weight, *_), outs = jax.lax.scan(step, init, (features, keys))
        return weight, Presentation(outs[0], outs[1], outs[2] if record_weights else None)

    def learn(
        self,
        weight: Float[Array, "n_out n_in"],
        support: Float[Array, "S T n_in"],
        labels: Int[Array, " S"],
        key: PRNGKeyArray,
        n_active: Int[Array, ""] | None = None,
        *,
        differentiable: bool = True,
    ) -> Float[Array, "n_out n_in"]:
        """Present the first ``n_active`` support examples (default: all S) once each, in the
        given order (one presentation per example); ``n_active`` is traced, so one compiled
        shape serves any number of shots. ``differentiable=True`` scans over all S and keeps
        the weights after the ``n_active``-th (reverse-differentiable, costs S presentations);
        ``False`` runs a ``while`` loop that costs only the ``n_active`` it shows (evaluation)."""
        keys = jax.random.split(key, support.shape[0])
        count = support.shape[0] if n_active is None else n_active
        if differentiable:

            def body(w, inputs):
                i, features, label, k = inputs
                new = self.present(w, features, label, k)[0]
                return jnp.where(i < count, new, w), None

            steps = (jnp.arange(support.shape[0]), support, labels, keys)
            weight, _ = jax.lax.scan(body, weight, steps)
            return weight

        def show(i, w):
            return self.present(w, support[i], labels[i], keys[i])[0]

        return jax.lax.fori_loop(0, jnp.asarray(count, jnp.int32), show, weight)

    def respond(
        self, weight: Float[Array, "n_out n_in"], features: Float[Array, "T n_in"]
    ) -> tuple[Float[Array, " n_out"], Float[Array, " n_out"]]:
        """A query without learning: ``(spike counts, summed input sum_t W f_t)`` per neuron."""
        _, _, alpha = self._decays()
        drive = features @ weight.T  # (T, n_out)

        def step(carry, d_t):
            u, s = carry
            u = alpha * (u - self.threshold * jax.lax.stop_gradient(s)) + d_t
            s = self._spike(u)
            return (u, s), s

        zeros = jnp.zeros((weight.shape[0],), weight.dtype)
        _, spikes = jax.lax.scan(step, (zeros, zeros), drive)
        return spikes.sum(0), drive.sum(0)


def predict_scores(
    counts: Float[Array, "*batch n_out"], drive: Float[Array, "*batch n_out"]
) -> Array:
    """Scores whose arg-max is the prediction: spike counts, ties broken by the summed input
    (the drive is squashed into [0, 0.5) so it never overrides a count difference)."""
    span = drive.max(-1, keepdims=True) - drive.min(-1, keepdims=True)
    tie_break = 0.5 * (drive - drive.min(-1, keepdims=True)) / (span + 1e-12)
    return counts + 0.999 * tie_break
