r"""Time-to-first-spike losses (Göltz et al. 2021; Wunderlich & Pehle 2021, Yin-Yang task).

With first output spike times :math:`t_n` (a neuron that does not fire reads as
:math:`t_{\max}`, a constant with zero gradient) and the correct class :math:`n^*`:

.. math::

    L = -\log \frac{e^{-t_{n^*}/\tau_0}}{\sum_n e^{-t_n/\tau_0}}
        + \alpha \big(e^{t_{n^*}/\tau_1} - 1\big).

The first term is the cross-entropy of a softmax over :math:`-t/\tau_0` (earliest spike
wins); the optional second term (``alpha > 0``) pulls the correct neuron's spike earlier, so
the network cannot win by delaying the wrong neurons alone. A missing correct spike has no
gradient through its time; the other neurons' spikes still get pushed later.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int


def ttfs_cross_entropy(
    first_times: Float[Array, " n_out"],
    label: Int[Array, ""],
    *,
    tau_0: float,
    alpha: float = 0.0,
    tau_1: float = 1.0,
) -> Float[Array, ""]:
    """TTFS cross-entropy plus the early-spike regulariser (module docstring) for one sample.

    ``first_times`` must already hold ``t_max`` for missing spikes (``NetworkSpikes.readout``).
    """
    logits = -first_times / tau_0
    log_p = jax.nn.log_softmax(logits)
    t_correct = first_times[label]
    return -log_p[label] + alpha * (jnp.exp(t_correct / tau_1) - 1.0)


def predict(first_times: Float[Array, "*batch n_out"]) -> Int[Array, "*batch"]:
    """Predicted class: the output neuron that fires first (ties: the lowest index); ``-1``
    when no output neuron fires (``first_times`` all ``inf``), which counts as wrong."""
    fired = jnp.any(jnp.isfinite(first_times), axis=-1)
    return jnp.where(fired, jnp.argmin(first_times, axis=-1), -1)
