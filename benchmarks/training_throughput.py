"""Training throughput: samples per second of one surrogate-gradient BPTT training step.

Network (both workloads): input -> LIF hidden layer (exact decays, tau_mem 10 ms, tau_syn 5 ms,
dt 1 ms, threshold 1, subtractive reset detached from the gradient, SuperSpike surrogate of
slope 10) -> leaky-integrator readout; softmax cross-entropy on the readout membrane's maximum
over time; Adam. float32. Workloads:

* ``yinyang``: 5 inputs (latency-coded Yin-Yang + bias), T = 60 steps, 150 hidden, 3 outputs;
* ``digits``: 64 inputs (latency-coded 8x8 digits), T = 25 steps, 120 hidden, 10 outputs;

at batch sizes 32 and 256. Timed: one training step (forward, BPTT backward, Adam update) on a
fixed minibatch, the result blocked on. Methods, after a warm-up call, in a new random order in
each of ``repeats`` rounds; median and min:

* ``plain_jax_stepwise``: the network written directly in plain JAX in this file (``jax.jit``
  of ``value_and_grad`` through one ``lax.scan`` whose step updates both layers, matmuls inside
  the step, a ``custom_vjp`` Heaviside, ``optax.adam``): how one would write it by hand, and
  the same algorithm as the project's network -- **the reference of the target**;
* ``plain_jax_layerwise``: plain JAX with another algorithm, for information: each layer
  scanned over the whole sequence in turn, its feed-forward matmul hoisted out of the loop;
* ``core_snn``: ``snnviz.core.snn.train_step`` (jitted) on the equivalent ``make_network``
  model;
* ``core_snn_scan10``: ``snnviz.core.snn.train_steps`` running 10 such steps per call (a
  ``lax.scan`` over minibatches, as a page does per frame); time per step = call / 10.

Every method starts from the same weights; the first-step losses are compared (they must agree
to float32 rounding), so all do the same computation. Target: ``core_snn`` >= 0.9x the
samples/s of ``plain_jax_stepwise`` (medians); the ratio against the faster of the two plain
variants and the ratio of the fastest calls (least disturbed by other processes) are reported
too. spyx is timed when ``--external-python`` (or ``$SNNVIZ_BENCH_PYTHON``, as for
``engine_throughput``) names the interpreter of a separate environment that has it: ``benchmarks/external/
spyx_training.py`` runs there after this file's methods, on the same workload and batch, and its
samples/s are compared with ``plain_jax_stepwise`` and ``core_snn`` of this run. snntorch is
not timed (PyTorch's wheels with their CUDA dependencies are gigabytes; not installed here).

Under load (other processes on the 2 cores) wall times spread widely; each call's process CPU
time (all XLA threads) is recorded too, and its median ratio is the steadiest comparison of
the work done, while the wall-time medians are what a user sees.

Run: ``python -m benchmarks.training_throughput [--repeats 9]``; writes
``benchmarks/results/training_throughput.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path

import numpy as np

from benchmarks._output import write_result
from benchmarks.engine_throughput import machine_info

WORKLOADS = {
    "yinyang": {"n_in": 5, "n_steps": 60, "n_hidden": 150, "n_out": 3},
    "digits": {"n_in": 64, "n_steps": 25, "n_hidden": 120, "n_out": 10},
}
BATCHES = (32, 256)
TAU_MEM, TAU_SYN, DT, THRESHOLD, SLOPE = 10.0, 5.0, 1.0, 1.0, 10.0
LEARNING_RATE = 1e-3
STEPS_PER_CALL = 10
TARGET_RATIO = 0.9
RESULTS = Path(__file__).resolve().parent / "results"


# --------------------------------------------------------------------------- data
def minibatch(workload: str, batch: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Latency-coded samples ``x (batch, T, n_in)`` float32 and labels ``(batch,)`` int32."""
    import jax.numpy as jnp

    from snnviz.core.data import digits, digits_latency_raster, yinyang, yinyang_raster

    spec = WORKLOADS[workload]
    if workload == "yinyang":
        data = yinyang(batch, seed=seed)
        x = yinyang_raster(data.features, spec["n_steps"], t_early=2.0, t_late=22.0)
        return np.asarray(x), np.asarray(data.labels)
    data = digits()
    idx = np.random.default_rng(seed).choice(data.features.shape[0], batch, replace=True)
    x = digits_latency_raster(jnp.asarray(data.features)[idx], spec["n_steps"], t_late=15.0)
    return np.asarray(x), np.asarray(data.labels)[idx]


# --------------------------------------------------------------------------- plain JAX
def plain_jax_steps(weights: tuple[np.ndarray, np.ndarray]) -> dict:
    """The network in plain JAX: ``{"stepwise": (step, params, opt_state), "layerwise": ...}``
    where ``step(params, opt_state, x, y) -> (params, opt_state, loss)`` is jitted."""
    import jax
    import jax.numpy as jnp
    import optax

    alpha = float(np.exp(-DT / TAU_MEM))
    beta = float(np.exp(-DT / TAU_SYN))

    @jax.custom_vjp
    def spike(v):
        return (v >= 0).astype(v.dtype)

    def spike_fwd(v):
        return spike(v), v

    def spike_bwd(v, g):
        return (g / (1.0 + SLOPE * jnp.abs(v)) ** 2,)

    spike.defvjp(spike_fwd, spike_bwd)

    def lif_step(carry, drive):
        i, u, s = carry
        i = beta * i + drive
        u = alpha * u + (1 - alpha) * i - THRESHOLD * jax.lax.stop_gradient(s)
        s = spike(u - THRESHOLD)
        return (i, u, s), s

    def readout_step(carry, drive):
        i, u = carry
        i = beta * i + drive
        u = alpha * u + (1 - alpha) * i
        return (i, u), u

    def stepwise_forward(params, x):  # x (B, T, n_in) -> readout membrane (T, B, n_out)
        w1, w2 = params
        b = x.shape[0]
        zeros_h = jnp.zeros((b, w1.shape[0]), x.dtype)
        zeros_o = jnp.zeros((b, w2.shape[0]), x.dtype)

        def step(carry, x_t):
            hidden, out = carry
            hidden, s = lif_step(hidden, x_t @ w1.T)
            out, u = readout_step(out, s @ w2.T)
            return (hidden, out), u

        init = ((zeros_h, zeros_h, zeros_h), (zeros_o, zeros_o))
        return jax.lax.scan(step, init, jnp.swapaxes(x, 0, 1))[1]

    def layerwise_forward(params, x):
        w1, w2 = params
        b = x.shape[0]
        zeros_h = jnp.zeros((b, w1.shape[0]), x.dtype)
        zeros_o = jnp.zeros((b, w2.shape[0]), x.dtype)
        drive = jnp.swapaxes(x, 0, 1) @ w1.T  # (T, B, n_hidden) in one matmul
        _, spikes = jax.lax.scan(lif_step, (zeros_h, zeros_h, zeros_h), drive)
        _, u = jax.lax.scan(readout_step, (zeros_o, zeros_o), spikes @ w2.T)
        return u

    optimizer = optax.adam(LEARNING_RATE)

    def make_step(forward):
        def loss_fn(params, x, y):
            logits = jnp.max(forward(params, x), axis=0)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        @jax.jit
        def step(params, opt_state, x, y):
            loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state, loss

        return step

    params = tuple(jnp.asarray(w) for w in weights)
    return {
        name: (make_step(fwd), params, optimizer.init(params))
        for name, fwd in (("stepwise", stepwise_forward), ("layerwise", layerwise_forward))
    }


# --------------------------------------------------------------------------- core.snn
def core_model(workload: str, seed: int = 0):
    """The project's network for ``workload`` (weights seeded)."""
    import jax

    from snnviz.core.snn import make_network

    spec = WORKLOADS[workload]
    return make_network(
        spec["n_in"],
        spec["n_hidden"],
        spec["n_out"],
        key=jax.random.key(seed),
        tau_mem=TAU_MEM,
        tau_syn=TAU_SYN,
        dt=DT,
        threshold=THRESHOLD,
        slope=SLOPE,
        surrogate="fast_sigmoid",
        hidden_weight_scale=3.0,
    )


def runners(workload: str, batch: int) -> tuple[dict, dict]:
    """Zero-argument callables, one training step each (or ``STEPS_PER_CALL``), and the
    first-step loss of each method."""
    import jax
    import jax.numpy as jnp

    from snnviz.core.snn import init_optimizer, make_optimizer, train_step, train_steps

    x_np, y_np = minibatch(workload, batch)
    x, y = jnp.asarray(x_np), jnp.asarray(y_np)
    model = core_model(workload)
    weights = (np.asarray(model.layers[0].weight), np.asarray(model.layers[1].weight))
    optimizer = make_optimizer(LEARNING_RATE)
    opt_state = init_optimizer(optimizer, model)
    # STEPS_PER_CALL minibatches: the same one repeated (identical work per step)
    x_many = jnp.concatenate([x] * STEPS_PER_CALL)
    y_many = jnp.concatenate([y] * STEPS_PER_CALL)
    indices = jnp.arange(STEPS_PER_CALL * batch).reshape(STEPS_PER_CALL, batch)
    calls, first_loss = {}, {}
    for name, (step, params, state) in plain_jax_steps(weights).items():
        calls[f"plain_jax_{name}"] = lambda step=step, p=params, s=state: step(p, s, x, y)
        first_loss[f"plain_jax_{name}"] = float(step(params, state, x, y)[2])
    calls["core_snn"] = lambda: train_step(model, opt_state, x, y, optimizer, "max")
    first_loss["core_snn"] = float(train_step(model, opt_state, x, y, optimizer, "max")[2].loss)
    calls["core_snn_scan10"] = lambda: train_steps(
        model, opt_state, x_many, y_many, indices, optimizer, "max"
    )
    first_loss["core_snn_scan10"] = float(
        train_steps(model, opt_state, x_many, y_many, indices, optimizer, "max")[2].loss[0]
    )
    jax.block_until_ready(calls["core_snn"]())
    return calls, first_loss


def time_shuffled(calls: dict, repeats: int, seed: int = 0) -> dict[str, dict]:
    """Warm each call up once, then time all of them ``repeats`` rounds, in a new random order
    each round (a fixed order would always run the same method right after the memory-heavy
    layer-wise one, whose cache pollution it would then pay for). Seconds per call."""
    import time

    rng = np.random.default_rng(seed)
    out: dict[str, dict] = {}
    for name, fn in calls.items():
        start = time.perf_counter()
        _block(fn())
        out[name] = {"first_call_s": time.perf_counter() - start, "times_s": [], "cpu_s": []}
    names = list(calls)
    for _ in range(repeats):
        for i in rng.permutation(len(names)):
            start, cpu = time.perf_counter(), time.process_time()
            _block(calls[names[i]]())
            out[names[i]]["times_s"].append(time.perf_counter() - start)
            out[names[i]]["cpu_s"].append(time.process_time() - cpu)
    for rec in out.values():
        rec["median_s"] = float(np.median(rec["times_s"]))
        rec["min_s"] = float(np.min(rec["times_s"]))
        rec["median_cpu_s"] = float(np.median(rec["cpu_s"]))
    return out


def _block(out) -> None:
    import jax

    jax.block_until_ready(out)


def external_status(spyx_python: str | None) -> dict:
    """How spyx and snntorch were (or were not) timed."""
    return {
        "spyx": {
            "status": f"timed with {spyx_python} (benchmarks/external/spyx_training.py)"
            if spyx_python
            else "not timed (pass --external-python or set SNNVIZ_BENCH_PYTHON)"
        },
        "snntorch": {"status": "not installed (PyTorch's CUDA wheels: gigabytes)"},
    }


def time_spyx(spyx_python: str, workload: str, batch: int, repeats: int) -> dict:
    """Run the spyx runner in its own environment; its JSON result, or the error."""
    script = Path(__file__).resolve().parent / "external" / "spyx_training.py"
    proc = subprocess.run(
        [spyx_python, str(script), workload, str(batch), str(repeats)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(
    repeats: int = 9, batches: tuple[int, ...] = BATCHES, spyx_python: str | None = None
) -> dict:
    """Time every method on every workload and batch size; return the JSON-able results."""
    if spyx_python is None:  # the first interpreter of $SNNVIZ_BENCH_PYTHON
        spyx_python = next(iter(os.environ.get("SNNVIZ_BENCH_PYTHON", "").split(os.pathsep)))
    spyx_python = spyx_python or None
    result: dict = {
        "benchmark": "training_throughput",
        "network": {
            "neuron": "LIF, exact decays, subtractive reset (detached), SuperSpike slope 10",
            "tau_mem_ms": TAU_MEM,
            "tau_syn_ms": TAU_SYN,
            "dt_ms": DT,
            "loss": "cross-entropy on max-over-time readout membrane",
            "optimizer": f"adam, learning rate {LEARNING_RATE}",
            "dtype": "float32",
        },
        "workloads": WORKLOADS,
        "timed": "one training step (forward + BPTT + Adam) per call, blocked on; "
        f"core_snn_scan10 = {STEPS_PER_CALL} steps per call, reported per step",
        "machine": machine_info(),
        "load_average_before": [round(v, 2) for v in os.getloadavg()],
        "repeats": repeats,
        "results": {},
        "external": external_status(spyx_python),
    }
    for workload in WORKLOADS:
        for batch in batches:
            calls, first_loss = runners(workload, batch)
            timing = time_shuffled(calls, repeats)
            per_call = {name: STEPS_PER_CALL if "scan" in name else 1 for name in calls}
            for name, rec in timing.items():
                for key in ("median_s", "min_s", "first_call_s"):
                    rec[key] = rec[key] / per_call[name] if key != "first_call_s" else rec[key]
                rec["times_s"] = [t / per_call[name] for t in rec["times_s"]]
                rec["cpu_s"] = [t / per_call[name] for t in rec["cpu_s"]]
                rec["median_cpu_s"] /= per_call[name]
                rec["samples_per_s"] = batch / rec["median_s"]
                rec["first_step_loss"] = first_loss[name]
            fastest_ref = min(
                ("plain_jax_stepwise", "plain_jax_layerwise"), key=lambda n: timing[n]["median_s"]
            )
            for rec in timing.values():
                for ref in ("stepwise", "layerwise"):
                    base = timing[f"plain_jax_{ref}"]
                    rec[f"ratio_vs_{ref}"] = base["median_s"] / rec["median_s"]
                    rec[f"ratio_vs_{ref}_of_min"] = base["min_s"] / rec["min_s"]
                    rec[f"ratio_vs_{ref}_of_cpu"] = base["median_cpu_s"] / rec["median_cpu_s"]
            core = timing["core_snn"]
            losses = np.asarray(list(first_loss.values()))
            result["results"][f"{workload}/batch{batch}"] = {
                "methods": timing,
                "core_snn_ratio": core["ratio_vs_stepwise"],
                "core_snn_ratio_of_min": core["ratio_vs_stepwise_of_min"],
                "core_snn_ratio_of_cpu": core["ratio_vs_stepwise_of_cpu"],
                "core_snn_scan10_ratio": timing["core_snn_scan10"]["ratio_vs_stepwise"],
                "fastest_plain_jax": fastest_ref,
                "core_snn_ratio_vs_fastest_plain_jax": timing[fastest_ref]["median_s"]
                / core["median_s"],
                "target_ratio": TARGET_RATIO,
                "target_met": core["ratio_vs_stepwise"] >= TARGET_RATIO,
                "first_step_loss_spread": float(losses.max() - losses.min()),
            }
            if spyx_python:
                spyx = time_spyx(spyx_python, workload, batch, repeats)
                if "median_s" in spyx:
                    spyx["plain_jax_stepwise_x_spyx"] = (
                        spyx["median_s"] / timing["plain_jax_stepwise"]["median_s"]
                    )
                    spyx["core_snn_x_spyx"] = spyx["median_s"] / core["median_s"]
                result["external"]["spyx"][f"{workload}/batch{batch}"] = spyx
    result["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    result["summary"] = {
        key: {
            "samples_per_s": {n: round(m["samples_per_s"]) for n, m in r["methods"].items()},
            "core_snn_x_plain_jax": round(r["core_snn_ratio"], 2),
            "core_snn_x_plain_jax_of_min": round(r["core_snn_ratio_of_min"], 2),
            "core_snn_x_plain_jax_of_cpu": round(r["core_snn_ratio_of_cpu"], 2),
            "core_snn_scan10_x_plain_jax": round(r["core_snn_scan10_ratio"], 2),
            "core_snn_x_fastest_plain_jax": round(r["core_snn_ratio_vs_fastest_plain_jax"], 2),
            "target_met": r["target_met"],
        }
        for key, r in result["results"].items()
    }
    result["summary"]["external"] = {k: v["status"] for k, v in result["external"].items()}
    result["summary"]["core_snn_x_spyx"] = {
        key: round(r["core_snn_x_spyx"], 2)
        for key, r in result["external"]["spyx"].items()
        if isinstance(r, dict) and "core_snn_x_spyx" in r
    }
    return result


def format_table(result: dict) -> str:
    """Plain-text table: ms per step, samples/s, ratios."""
    lines = [
        f"{'workload/batch':<18} {'method':<20} {'median ms':>10} {'min ms':>8} "
        f"{'samples/s':>10} {'x stepwise':>10} {'x layerwise':>11}"
    ]
    for key, r in result["results"].items():
        for name, m in r["methods"].items():
            lines.append(
                f"{key:<18} {name:<20} {m['median_s'] * 1e3:>10.2f} {m['min_s'] * 1e3:>8.2f} "
                f"{m['samples_per_s']:>10.0f} {m['ratio_vs_stepwise']:>10.2f} "
                f"{m['ratio_vs_layerwise']:>11.2f}"
            )
        lines.append(
            f"{'':<18} core_snn vs plain JAX (stepwise): {r['core_snn_ratio']:.2f}x, fastest "
            f"calls {r['core_snn_ratio_of_min']:.2f}x, CPU time "
            f"{r['core_snn_ratio_of_cpu']:.2f}x (target >= {r['target_ratio']}: "
            f"{'met' if r['target_met'] else 'NOT met'}); vs the faster plain variant "
            f"({r['fastest_plain_jax']}) {r['core_snn_ratio_vs_fastest_plain_jax']:.2f}x; "
            f"first-step loss spread {r['first_step_loss_spread']:.1e}"
        )
    lines.append(
        "external: " + ", ".join(f"{k} {v['status']}" for k, v in result["external"].items())
    )
    for key, r in result["external"]["spyx"].items():
        if isinstance(r, dict) and "median_s" in r:
            lines.append(
                f"{key:<18} {'spyx':<20} {r['median_s'] * 1e3:>10.2f} {r['min_s'] * 1e3:>8.2f} "
                f"{r['samples_per_s']:>10.0f}   core_snn x spyx {r['core_snn_x_spyx']:.2f}, "
                f"plain JAX x spyx {r['plain_jax_stepwise_x_spyx']:.2f}"
            )
        elif isinstance(r, dict) and "error" in r:
            lines.append(f"{key:<18} spyx failed: {r['error']}")
    lines.append(
        f"load average before {result['load_average_before']}, after {result['load_average_after']}"
    )
    return "\n".join(lines)


def _cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--batches", type=int, nargs="+", default=list(BATCHES))
    parser.add_argument("--out", default=str(RESULTS / "training_throughput.json"))
    parser.add_argument("--external-python", default=None, help="python of a venv with spyx")
    args = parser.parse_args(argv)
    result = main(args.repeats, tuple(args.batches), args.external_python)
    write_result(result, args.out, format_table(result))


if __name__ == "__main__":
    _cli()
