"""EventProp: forward + backward wall time per sample, against references timed in the same run.

Workload: the Yin-Yang network of ``snnviz.core.eventprop.QUICK`` (5 inputs incl. bias ->
60 LIF hidden, up to 2 spikes each -> 3 LIF outputs, first spike; tau_syn = 5 ms,
tau_mem = 10 ms, t_max = 30 ms), float32, TTFS cross-entropy, at batch 1 and 32 (latency-coded
Yin-Yang samples, initial weights). Timed: one jitted ``value_and_grad`` of the mean loss.

Methods, round-robin, median and min of ``repeats`` calls after a warm-up:

- ``eventprop``: the network with the EventProp custom VJP (exact spike times, adjoint);
- ``autodiff``: the same exact forward differentiated by plain reverse-mode autodiff (the
  implicit-function gradient EventProp must equal);
- ``bptt_reference``: a plain-JAX time-stepped surrogate-gradient network of the same sizes
  (exact-decay LIF at ``dt`` = 0.5 ms, i.e. 60 steps, SuperSpike surrogate with slope 10,
  cross-entropy on the output membrane maximum), written in this file; the ratios are
  against it; ``bptt_reference_fine``: the same at ``dt`` = 0.1 ms (300 steps);
- ``bptt_core_snn``: the project's surrogate network (``snnviz.core.snn``) on the same
  sizes, when that package exists (:func:`_core_snn_loss_and_grad` is the one place to wire
  it); otherwise reported as not available.

Also reports the bits a gradient needs to read out per sample (PAPERS.md 3.5): spike times
(16 bit each) vs dense membrane samples (8 bit, every neuron, every ``dt``).

Run: ``python -m benchmarks.eventprop_timing [--repeats 30]``; prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

BATCHES = (1, 32)
DT_MS = 0.5  # BPTT reference grid (60 steps over t_max = 30 ms) ...
DT_FINE_MS = 0.1  # ... and a finer one (300 steps): BPTT cost grows with T, EventProp's not


def _inputs(batch: int):
    from snnviz.core.data import yinyang
    from snnviz.core.eventprop import QUICK

    data = yinyang(batch, seed=11)
    return QUICK.encode(data.features), data.labels


def _eventprop_loss_and_grad(method: str):
    import jax

    from snnviz.core.eventprop import QUICK, EventNetwork, LossParams, batch_loss

    net = EventNetwork(QUICK.network().neuron, QUICK.max_spikes_hidden, method)
    loss = LossParams(QUICK.tau_0, QUICK.alpha, QUICK.tau_1)

    @jax.jit  # plain jit: eqx.filter_jit's dispatch adds ~0.3 ms per call at batch 1
    def run(weights, x, y):
        return jax.value_and_grad(lambda w: batch_loss(w, net, x, y, loss)[0])(weights)

    return run


def _bptt_reference_loss_and_grad(dt: float):
    """Plain-JAX surrogate-gradient BPTT of the same network on a ``dt`` (ms) grid."""
    import jax
    import jax.numpy as jnp

    from snnviz.core.eventprop import QUICK

    n_steps = round(QUICK.t_max / dt)
    alpha = jnp.exp(-dt / (2 * QUICK.tau_syn))  # membrane decay per step
    beta = jnp.exp(-dt / QUICK.tau_syn)  # synaptic decay per step

    @jax.custom_jvp
    def spike(v):
        return (v > 0).astype(v.dtype)

    @spike.defjvp
    def _spike_jvp(primals, tangents):
        (v,), (dv,) = primals, tangents
        return spike(v), dv / (1.0 + 10.0 * jnp.abs(v)) ** 2

    def layer_step(carry, drive, w):
        v, i = carry
        i = beta * i + drive @ w.T
        v = alpha * v + (1 - alpha) * i
        s = spike(v - QUICK.threshold)
        return (v * (1 - jax.lax.stop_gradient(s)), i), (s, v)

    def loss(weights, x, y):
        steps = jnp.round(x / dt).astype(jnp.int32)  # (B, n_in) input spike steps
        raster = jax.nn.one_hot(steps, n_steps, axis=0)  # (T, B, n_in)
        b = x.shape[0]
        z_h = (jnp.zeros((b, weights.hidden.shape[0])),) * 2
        z_o = (jnp.zeros((b, weights.output.shape[0])),) * 2

        def step(carry, drive):
            carry_h, carry_o = carry
            carry_h, (s_h, _) = layer_step(carry_h, drive, weights.hidden)
            carry_o, (_, v_o) = layer_step(carry_o, s_h, weights.output)
            return (carry_h, carry_o), v_o

        _, v_out = jax.lax.scan(step, (z_h, z_o), raster)
        logits = jnp.max(v_out, axis=0) * 5.0
        log_p = jax.nn.log_softmax(logits)
        return -jnp.mean(jnp.take_along_axis(log_p, y[:, None], axis=1))

    return jax.jit(jax.value_and_grad(loss)), n_steps


def _core_snn_loss_and_grad():
    """The project's surrogate BPTT network (``snnviz.core.snn``) on the same sizes.

    Returns ``None`` (reported as not available) until that package exists; wire its
    ``value_and_grad`` for a 5-60-3 LIF network at ``DT_MS`` here (signature
    ``(weights-or-model, x (B, 5) spike times in ms, y (B,)) -> (loss, grads)``).
    """
    try:
        import snnviz.core.snn  # noqa: F401
    except ImportError:
        return None
    return None  # present but not wired yet: see the docstring


def _time_round_robin(calls: dict, repeats: int) -> dict[str, list[float]]:
    import jax

    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            jax.block_until_ready(call())
            times[name].append(time.perf_counter() - start)
    return times


def main(repeats: int = 30) -> dict:
    """Time every method at each batch size; return the JSON-able results."""
    import jax

    from snnviz.core.eventprop import QUICK, init_weights, readout_bits_for

    load_before = os.getloadavg()
    weights = init_weights(
        jax.random.key(0),
        5,
        QUICK.n_hidden,
        3,
        hidden_mean=QUICK.hidden_mean,
        hidden_std=QUICK.hidden_std,
        output_mean=QUICK.output_mean,
        output_std=QUICK.output_std,
    )
    eventprop = _eventprop_loss_and_grad("eventprop")
    autodiff = _eventprop_loss_and_grad("autodiff")
    bptt, n_steps = _bptt_reference_loss_and_grad(DT_MS)
    bptt_fine, n_steps_fine = _bptt_reference_loss_and_grad(DT_FINE_MS)
    core_snn = _core_snn_loss_and_grad()
    results: dict[str, dict] = {}
    for batch in BATCHES:
        x, y = _inputs(batch)
        calls = {
            "eventprop": lambda x=x, y=y: eventprop(weights, x, y),
            "autodiff": lambda x=x, y=y: autodiff(weights, x, y),
            "bptt_reference": lambda x=x, y=y: bptt(weights, x, y),
            "bptt_reference_fine": lambda x=x, y=y: bptt_fine(weights, x, y),
        }
        if core_snn is not None:
            calls["bptt_core_snn"] = lambda x=x, y=y: core_snn(weights, x, y)
        for call in calls.values():  # compile + warm up
            for _ in range(3):
                jax.block_until_ready(call())
        times = _time_round_robin(calls, repeats)
        ref = statistics.median(times["bptt_reference"])
        results[str(batch)] = {
            name: {
                "median_ms": round(1e3 * statistics.median(t), 4),
                "min_ms": round(1e3 * min(t), 4),
                "per_sample_us": round(1e6 * statistics.median(t) / batch, 2),
                "bptt_reference_over_this": round(ref / statistics.median(t), 3),
            }
            for name, t in times.items()
        }
        if core_snn is None:
            results[str(batch)]["bptt_core_snn"] = "not available (snnviz.core.snn not wired)"
    x_bits, _ = _inputs(256)
    bits = {
        f"dt_{dt}_ms": readout_bits_for(weights, QUICK.network(), x_bits, dt)
        for dt in (DT_MS, DT_FINE_MS)
    }
    load_after = os.getloadavg()
    b1, b32 = results["1"], results["32"]

    def speedup(res, other):
        return round(res[other]["median_ms"] / res["eventprop"]["median_ms"], 2)

    return {
        "workload": (
            "Yin-Yang 5-60-3 LIF net (QUICK config), value_and_grad of the mean TTFS loss, "
            f"float32; BPTT reference at dt = {DT_MS} ms ({n_steps} steps) and "
            f"{DT_FINE_MS} ms ({n_steps_fine} steps)"
        ),
        "repeats": repeats,
        "results": results,
        "readout_bits_per_sample": bits,
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in load_after],
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "jax": jax.__version__,
        "summary": (
            f"fwd+bwd per sample: EventProp {b1['eventprop']['per_sample_us']} us (batch 1), "
            f"{b32['eventprop']['per_sample_us']} us (batch 32); time BPTT / EventProp at "
            f"dt {DT_MS} ms: {speedup(b1, 'bptt_reference')}x (batch 1), "
            f"{speedup(b32, 'bptt_reference')}x (batch 32); at dt {DT_FINE_MS} ms: "
            f"{speedup(b1, 'bptt_reference_fine')}x / {speedup(b32, 'bptt_reference_fine')}x; "
            f"autodiff / EventProp {speedup(b1, 'autodiff')}x / {speedup(b32, 'autodiff')}x; "
            f"readout bits dense/event {bits[f'dt_{DT_MS}_ms']['dense_over_event']:.1f}x "
            f"(dt {DT_MS} ms), {bits[f'dt_{DT_FINE_MS}_ms']['dense_over_event']:.1f}x "
            f"(dt {DT_FINE_MS} ms)"
        ),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    print(json.dumps(main(parser.parse_args().repeats), indent=1))
