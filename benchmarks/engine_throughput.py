"""Engine throughput: neuron-steps per second of one feed-forward LIF layer.

Workload (the engine-throughput issue): 1,000 Poisson inputs at 20 Hz -> dense weights -> 1,000
current-based LIF neurons (the engine's default LIF: tau_mem 10 ms, tau_syn 2 ms, C 250 pF,
threshold 20 mV above rest, 2 ms refractory), T = 1,000 steps of dt = 1 ms, float32, batch 1
and 32. The input spike array is drawn once per batch size (seeded) and fed to every method,
so all of them do the same work on the same data; only the simulation is timed.

Methods, all timed in the same process, interleaved (round-robin) after a warm-up call, median
of ``repeats`` calls:

* ``reference``: a plain per-step ``jax.lax.scan`` written here in plain JAX (matmul inside the
  step, the same exact-ZOH LIF in closed form) -- the baseline every ratio is taken against;
* ``hoisted``: ``snnviz.core.sim.run_feedforward`` with ``path="hoisted"`` (one matmul per
  chunk, then an elementwise scan);
* ``event``: the same with ``path="event"`` (gather the weight rows of active inputs only).

Other simulators (spyx, snntorch, norse, brian2) are timed on the same workload when they are
importable: in this interpreter, or in ``--external-python`` / ``$SNNVIZ_BENCH_PYTHON`` (a
separate venv, so that torch never enters the project's environment), which runs this file's
``external`` part on the same spikes and weights. Their neuron models follow their own
conventions (forward-Euler or decay-factor LIFs, voltage in threshold units), with parameters
mapped to the same time constants and weights scaled to the same voltage jumps.

Run: ``python -m benchmarks.engine_throughput [--repeats 7] [--external-python PATH]``.
Writes ``benchmarks/results/engine_throughput.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._output import write_result

N_IN, N_OUT, N_STEPS = 1000, 1000, 1000
DT_MS, RATE_HZ = 1.0, 20.0
BATCHES = (1, 32)
# The engine's default LIF (snnviz.core.neurons.LIF); the reference re-derives its propagator.
TAU_MEM, TAU_SYN, C_MEM = 10.0, 2.0, 250.0  # ms, ms, pF
V_REST, V_RESET, V_TH, T_REF = -70.0, -70.0, -50.0, 2.0  # mV, mV, mV, ms
# 20 inputs spike per step on average: mean drive 20 * 13 pA * tau_syn / 1 ms = 520 pA, just
# above the 500 pA rheobase, with large fluctuations -> irregular firing at some 20-40 Hz.
W_MEAN_PA, W_SD_PA = 13.0, 20.0
SEED = 0
TARGETS = {"1": 3.0, "32": 1.0}  # best engine path vs reference, per batch size
RESULTS = Path(__file__).resolve().parent / "results"
EXTERNAL = ("spyx", "snntorch", "norse", "brian2")
EXTERNAL_BUDGET_S = 30.0
CROSSOVER_DENSITIES = (0.01, 0.02, 0.03, 0.04, 0.06, 0.1)


def workload(batch: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """``(spikes (N_STEPS, batch, N_IN) uint8, weights (N_IN, N_OUT) float32 pA)``, seeded."""
    rng = np.random.default_rng([seed, batch])
    weights = rng.normal(W_MEAN_PA, W_SD_PA, size=(N_IN, N_OUT)).astype(np.float32)
    p = RATE_HZ * DT_MS / 1000.0
    spikes = (rng.random((N_STEPS, batch, N_IN), dtype=np.float32) < p).astype(np.uint8)
    return spikes, weights


def lif_constants() -> dict[str, float]:
    r"""Exact one-step propagator of ``tau_m V' = -V + R I``, ``tau_s I' = -I`` (``V`` from rest).

    ``V <- e_m V + a_vi I``, ``I <- e_s I`` with ``a_vi = (e_s - e_m) / (C (1/tau_m - 1/tau_s))``.
    """
    e_m, e_s = np.exp(-DT_MS / TAU_MEM), np.exp(-DT_MS / TAU_SYN)
    a_vi = (e_s - e_m) / (C_MEM * (1.0 / TAU_MEM - 1.0 / TAU_SYN))
    return {
        "e_m": float(e_m),
        "e_s": float(e_s),
        "a_vi": float(a_vi),
        "n_ref": round(T_REF / DT_MS),
    }


# --------------------------------------------------------------------------- timing harness
def _timed(fn, block) -> float:
    start = time.perf_counter()
    block(fn())
    return time.perf_counter() - start


def time_interleaved(runners: dict, block, repeats: int) -> dict[str, dict]:
    """Warm each runner up once, then time them round-robin ``repeats`` times (seconds)."""
    out = {name: {"first_call_s": _timed(fn, block), "times_s": []} for name, fn in runners.items()}
    for _ in range(repeats):
        for name, fn in runners.items():
            out[name]["times_s"].append(_timed(fn, block))
    for rec in out.values():
        rec["median_s"] = statistics.median(rec["times_s"])
        rec["min_s"] = min(rec["times_s"])
    return out


def neuron_steps_per_s(batch: int, seconds: float) -> float:
    return batch * N_OUT * N_STEPS / seconds


# --------------------------------------------------------------------------- JAX methods
def _jax_runners(spikes: np.ndarray, weights: np.ndarray) -> tuple[dict, dict]:
    import jax
    import jax.numpy as jnp

    from snnviz.core.neurons import LIF
    from snnviz.core.sim import FeedForwardLIF, run_feedforward

    batch = spikes.shape[1]
    s = jnp.asarray(spikes, jnp.float32)
    w = jnp.asarray(weights)
    c = lif_constants()
    params = jnp.asarray([c["e_m"], c["e_s"], c["a_vi"]], jnp.float32)

    @jax.jit
    def reference(s, w, params):
        e_m, e_s, a_vi = params[0], params[1], params[2]

        def step(carry, s_t):
            v, i, ref = carry
            i = i + s_t @ w  # synaptic jumps arrive at the start of the step
            v, i = V_REST + e_m * (v - V_REST) + a_vi * i, e_s * i
            in_ref = ref > 0
            v = jnp.where(in_ref, V_RESET, v)
            ref = jnp.where(in_ref, ref - 1, ref)
            fired = v >= V_TH
            v = jnp.where(fired, V_RESET, v)
            ref = jnp.where(fired, c["n_ref"], ref)
            return (v, i, ref), fired.astype(jnp.float32)

        shape = (s.shape[1], w.shape[1])
        init = (
            jnp.full(shape, V_REST, jnp.float32),
            jnp.zeros(shape, jnp.float32),
            jnp.zeros(shape, jnp.int32),
        )
        return jax.lax.scan(step, init, s)[1]

    def engine(path):
        layer = FeedForwardLIF(
            LIF(), w, dt=DT_MS, batch_shape=(batch,), path=path, record_voltage=False
        )
        state = layer.init_state(key=jax.random.key(SEED))
        return lambda: run_feedforward(layer, state, N_STEPS, s)[1]["spikes"]

    runners = {
        "reference": lambda: reference(s, w, params),
        "hoisted": engine("hoisted"),
        "event": engine("event"),
    }
    auto = FeedForwardLIF(LIF(), w, dt=DT_MS, batch_shape=(batch,), record_voltage=False)
    stats = run_feedforward(auto, auto.init_state(key=jax.random.key(SEED)), N_STEPS, s)[1]["stats"]
    info = {
        "auto_picks": "event" if bool(stats["event_path"]) else "hoisted",
        "input_density": float(stats["input_density"]),
        "event_overflow_blocks": int(
            run_feedforward(
                FeedForwardLIF(LIF(), w, dt=DT_MS, batch_shape=(batch,), path="event"),
                auto.init_state(key=jax.random.key(SEED)),
                N_STEPS,
                s,
            )[1]["stats"]["overflow_blocks"]
        ),
    }
    return runners, info


def crossover(densities=CROSSOVER_DENSITIES, repeats: int = 3, batch: int = 1) -> dict:
    """Hoisted vs event time (ms) against input density, to place ``path="auto"``'s threshold.

    The event path gets ``capacity = n_in / 4`` here so that no block falls back to the dense
    matmul: this compares the two methods themselves.
    """
    import jax
    import jax.numpy as jnp

    from snnviz.core.neurons import LIF
    from snnviz.core.sim import FeedForwardLIF, run_feedforward

    _, weights = workload(batch)
    rng = np.random.default_rng([SEED, 99])
    rows = []
    for density in densities:
        s = jnp.asarray(rng.random((N_STEPS, batch, N_IN)) < density, jnp.float32)
        runners = {}
        for path in ("hoisted", "event"):
            layer = FeedForwardLIF(
                LIF(),
                weights,
                dt=DT_MS,
                batch_shape=(batch,),
                path=path,
                capacity=N_IN // 4,
                record_voltage=False,
            )
            state = layer.init_state(key=jax.random.key(SEED))
            runners[path] = lambda layer=layer, state=state, s=s: run_feedforward(
                layer, state, N_STEPS, s
            )[1]["spikes"]
        timing = time_interleaved(runners, _jax_block, repeats)
        rows.append(
            {
                "density": density,
                **{f"{k}_ms": round(v["median_s"] * 1e3, 2) for k, v in timing.items()},
            }
        )
    faster = [r["density"] for r in rows if r["event_ms"] < r["hoisted_ms"]]
    return {
        "batch": batch,
        "rows": rows,
        "event_faster_up_to_density": max(faster) if faster else None,
    }


def _jax_block(x):
    import jax

    return jax.block_until_ready(x)


# --------------------------------------------------------------------------- other simulators
def _scaled(weights: np.ndarray, per: float) -> np.ndarray:
    """Weights in threshold units: ``W (pA) * dt / C / (V_th - V_rest)`` per step, times ``per``."""
    return (weights * (DT_MS / C_MEM) / (V_TH - V_REST) * per).astype(np.float32)


def _run_spyx(spikes, weights):
    import jax
    import jax.numpy as jnp
    import spyx
    from flax import nnx

    e_m, e_s = np.exp(-DT_MS / TAU_MEM), np.exp(-DT_MS / TAU_SYN)
    model = spyx.nn.Sequential(
        nnx.Linear(N_IN, N_OUT, use_bias=False, rngs=nnx.Rngs(0)),
        spyx.nn.CuBaLIF(
            (N_OUT,), alpha=float(e_s), beta=float(e_m), threshold=1.0, rngs=nnx.Rngs(0)
        ),
    )
    model.layers[0].kernel[...] = jnp.asarray(_scaled(weights, 1.0))
    run = nnx.jit(lambda m, x: spyx.nn.run(m, x)[0])
    x = jnp.asarray(spikes, jnp.float32)
    return (lambda: run(model, x)), jax.block_until_ready, spyx.__version__


def _run_snntorch(spikes, weights):
    import snntorch
    import torch

    e_m, e_s = np.exp(-DT_MS / TAU_MEM), np.exp(-DT_MS / TAU_SYN)
    fc = torch.nn.Linear(N_IN, N_OUT, bias=False)
    with torch.no_grad():
        fc.weight.copy_(torch.from_numpy(_scaled(weights, 1.0).T.copy()))
    lif = snntorch.Synaptic(
        alpha=float(e_s), beta=float(e_m), threshold=1.0, reset_mechanism="zero"
    )
    x = torch.from_numpy(spikes.astype(np.float32))

    def run():
        with torch.no_grad():
            syn, mem = lif.init_synaptic()
            out = []
            for t in range(x.shape[0]):  # snntorch's documented per-step loop
                spk, syn, mem = lif(fc(x[t]), syn, mem)
                out.append(spk)
            return torch.stack(out)

    return run, lambda y: y, snntorch.__version__


def _run_norse(spikes, weights):
    import norse
    import torch
    from norse.torch import LIF, LIFParameters

    p = LIFParameters(
        tau_syn_inv=torch.tensor(1000.0 / TAU_SYN),
        tau_mem_inv=torch.tensor(1000.0 / TAU_MEM),
        v_leak=torch.tensor(0.0),
        v_th=torch.tensor(1.0),
        v_reset=torch.tensor(0.0),
    )
    lif = LIF(p, dt=DT_MS / 1000.0)
    # norse's forward-Euler step adds dt/tau_mem * i to v: scale the jumps to match
    w = torch.from_numpy(_scaled(weights, TAU_MEM / DT_MS))
    x = torch.from_numpy(spikes.astype(np.float32))

    def run():
        with torch.no_grad():
            return lif(x @ w)[0]  # Linear on the whole sequence, then LIF over time

    return run, lambda y: y, norse.__version__


def _brian2_network(spikes, weights):
    import brian2 as b2

    b2.prefs.codegen.target = os.environ.get("SNNVIZ_BRIAN2_TARGET", "cython")
    b2.defaultclock.dt = DT_MS * b2.ms
    steps, _, n_in = spikes.shape
    t_idx, i_idx = np.nonzero(spikes[:, 0, :])
    inputs = b2.SpikeGeneratorGroup(n_in, i_idx, t_idx * DT_MS * b2.ms)
    eqs = """
    dv/dt = -(v - v_rest) / tau_m + I / c_m : volt (unless refractory)
    dI/dt = -I / tau_s : amp
    """
    neurons = b2.NeuronGroup(
        N_OUT,
        eqs,
        threshold="v >= v_th",
        reset="v = v_reset",
        refractory=T_REF * b2.ms,
        method="exact",
        namespace={
            "v_rest": V_REST * b2.mV,
            "v_reset": V_RESET * b2.mV,
            "v_th": V_TH * b2.mV,
            "tau_m": TAU_MEM * b2.ms,
            "tau_s": TAU_SYN * b2.ms,
            "c_m": C_MEM * b2.pF,
        },
    )
    neurons.v = V_REST * b2.mV
    syn = b2.Synapses(inputs, neurons, "w : amp", on_pre="I_post += w")
    syn.connect()
    syn.w = weights.reshape(-1) * b2.pA  # row-major (i, j) matches connect()'s order
    monitor = b2.SpikeMonitor(neurons)
    net = b2.Network(inputs, neurons, syn, monitor)
    net.store()

    def run():
        net.restore()
        net.run(steps * DT_MS * b2.ms)
        return monitor.num_spikes

    return run, lambda y: y, b2.__version__


def external(spikes_by_batch: dict[int, np.ndarray], weights_by_batch, repeats: int) -> dict:
    """Time every importable simulator of :data:`EXTERNAL` (run in whichever interpreter)."""
    makers = {
        "spyx": _run_spyx,
        "snntorch": _run_snntorch,
        "norse": _run_norse,
        "brian2": _brian2_network,
    }
    results = {}
    for name in EXTERNAL:
        try:
            importlib.import_module(name)
        except ImportError as err:
            results[name] = {"status": "not installed", "detail": str(err)}
            continue
        except Exception as err:  # installed but broken (e.g. built against another numpy)
            results[name] = {"status": f"import failed: {type(err).__name__}: {err}"}
            continue
        entry: dict = {"status": "ok", "python": sys.executable, "batches": {}}
        for batch, spikes in spikes_by_batch.items():
            if name == "brian2" and batch > 1:
                entry["batches"][str(batch)] = {
                    "status": "not run: brian2 has no batch axis (32 copies = 32M synapses)"
                }
                continue
            try:
                run, block, version = makers[name](spikes, weights_by_batch[batch])
                entry["version"] = version
                # slow simulators get fewer repeats: about EXTERNAL_BUDGET_S per batch size
                first = _timed(run, block)
                n = max(1, min(repeats, int(EXTERNAL_BUDGET_S / max(first, 1e-9))))
                timing = time_interleaved({name: run}, block, n)[name]
                timing["compile_or_setup_first_call_s"] = first
                out = block(run())
                n_spikes = float(out if np.ndim(out) == 0 else np.asarray(out).sum())
                timing["rate_hz"] = n_spikes / (batch * N_OUT * N_STEPS * DT_MS / 1000.0)
                timing["neuron_steps_per_s"] = neuron_steps_per_s(batch, timing["median_s"])
                entry["batches"][str(batch)] = timing
            except Exception as err:  # a foreign simulator failing must not sink the benchmark
                entry["batches"][str(batch)] = {"status": f"failed: {type(err).__name__}: {err}"}
        results[name] = entry
    return results


def _external_in(python: str, spikes_by_batch, weights_by_batch, repeats: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "workload.npz"
        arrays = {f"spikes_{b}": s for b, s in spikes_by_batch.items()}
        arrays |= {f"weights_{b}": w for b, w in weights_by_batch.items()}
        np.savez(data, **arrays)
        out = Path(tmp) / "external.json"
        cmd = [
            python,
            __file__,
            "--external-only",
            str(data),
            "--out",
            str(out),
            "--repeats",
            str(repeats),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
        if proc.returncode != 0:
            return {"error": f"{python} exited {proc.returncode}: {proc.stderr[-2000:]}"}
        return json.loads(out.read_text())


# --------------------------------------------------------------------------- main
def machine_info() -> dict:
    """CPU, core count, load average and library versions, for reading the numbers later."""
    import jax
    import jaxlib

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "jax": jax.__version__,
    }
    versions["jaxlib"] = jaxlib.__version__
    for name in ("equinox", "snnviz"):
        try:
            versions[name] = importlib.import_module(name).__version__
        except (ImportError, AttributeError):
            from importlib.metadata import version

            versions[name] = version(name)
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "jax_devices": [str(d) for d in jax.devices()],
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "process_niceness": os.nice(0),
        "versions": versions,
    }


def _merge_external(parts: list[dict]) -> dict:
    """Per simulator, the first interpreter's result that ran it, else the last status seen."""
    merged: dict = {}
    for part in parts:
        if "error" in part and len(part) == 1:
            merged.setdefault("errors", []).append(part["error"])
            continue
        for name, entry in part.items():
            if merged.get(name, {}).get("status") != "ok":
                merged[name] = entry
    return merged


def main(
    repeats: int = 7,
    batches: tuple[int, ...] = BATCHES,
    external_python: list[str] | None = None,
    with_crossover: bool = True,
) -> dict:
    """Time the reference, hoisted and event paths (and other simulators); return the results.

    ``external_python``: interpreters (separate venvs) to time spyx/snntorch/norse/brian2 in;
    default ``$SNNVIZ_BENCH_PYTHON`` (``os.pathsep``-separated), else this interpreter.
    """
    if external_python is None:
        env = os.environ.get("SNNVIZ_BENCH_PYTHON", "")
        external_python = [p for p in env.split(os.pathsep) if p]
    result: dict = {
        "benchmark": "engine_throughput",
        "workload": {
            "n_in": N_IN,
            "n_out": N_OUT,
            "n_steps": N_STEPS,
            "dt_ms": DT_MS,
            "input_rate_hz": RATE_HZ,
            "weights_pA": f"normal({W_MEAN_PA}, {W_SD_PA})",
            "dtype": "float32",
            "neuron": "engine default LIF (exact ZOH), 2 ms refractory",
            "timed": "simulation only; the same seeded input spike array for every method",
        },
        "machine": machine_info(),
        "load_average_before": os.getloadavg(),
        "repeats": repeats,
        "batches": {},
    }
    spikes_by_batch, weights_by_batch = {}, {}
    for batch in batches:
        spikes, weights = workload(batch)
        spikes_by_batch[batch], weights_by_batch[batch] = spikes, weights
        runners, info = _jax_runners(spikes, weights)
        timing = time_interleaved(runners, _jax_block, repeats)
        ref_spikes = np.asarray(runners["reference"]())
        for name, rec in timing.items():
            rec["neuron_steps_per_s"] = neuron_steps_per_s(batch, rec["median_s"])
            rec["speedup_vs_reference"] = timing["reference"]["median_s"] / rec["median_s"]
            # fastest calls: the estimate least disturbed by other processes on the machine
            rec["speedup_vs_reference_of_min"] = timing["reference"]["min_s"] / rec["min_s"]
            out = np.asarray(runners[name]())
            rec["rate_hz"] = float(out.mean() * 1000.0 / DT_MS)
            rec["spike_mismatch_fraction_vs_reference"] = float(np.mean(out != ref_spikes))
        best = max(("hoisted", "event"), key=lambda n: timing[n]["speedup_vs_reference"])
        target = TARGETS.get(str(batch))
        result["batches"][str(batch)] = {
            "methods": timing,
            **info,
            "fastest_engine_path": best,
            "target_speedup": target,
            "target_met": None
            if target is None
            else timing[best]["speedup_vs_reference"] >= target,
        }
    if with_crossover:
        result["crossover"] = crossover()
    result["load_average_after_engine_runs"] = os.getloadavg()
    parts = [external(spikes_by_batch, weights_by_batch, repeats)]
    parts += [
        _external_in(py, spikes_by_batch, weights_by_batch, repeats) for py in external_python
    ]
    result["external"] = _merge_external(parts)
    for entry in result["external"].values():
        for batch, rec in entry.get("batches", {}).items() if isinstance(entry, dict) else ():
            ref = result["batches"].get(batch, {}).get("methods", {}).get("reference")
            if ref and "median_s" in rec:
                rec["speedup_vs_reference"] = ref["median_s"] / rec["median_s"]
                rec["speedup_vs_reference_of_min"] = ref["min_s"] / rec["min_s"]
    result["summary"] = {
        f"batch{b}": {
            "reference_ms": round(r["methods"]["reference"]["median_s"] * 1e3, 2),
            "hoisted_ms": round(r["methods"]["hoisted"]["median_s"] * 1e3, 2),
            "event_ms": round(r["methods"]["event"]["median_s"] * 1e3, 2),
            "hoisted_x": round(r["methods"]["hoisted"]["speedup_vs_reference"], 2),
            "event_x": round(r["methods"]["event"]["speedup_vs_reference"], 2),
            "hoisted_x_of_min": round(r["methods"]["hoisted"]["speedup_vs_reference_of_min"], 2),
            "event_x_of_min": round(r["methods"]["event"]["speedup_vs_reference_of_min"], 2),
            "target_x": r["target_speedup"],
            "target_met": r["target_met"],
        }
        for b, r in result["batches"].items()
    }
    return result


def format_table(result: dict) -> str:
    """A plain-text table of the result (ms, neuron-steps/s, speed-up vs the reference)."""

    def row(batch, name, rec):
        nan = float("nan")
        return (
            f"{batch:>5} {name:<10} {rec['median_s'] * 1e3:>10.2f} {rec['min_s'] * 1e3:>9.2f} "
            f"{rec['neuron_steps_per_s'] / 1e6:>16.1f} {rec.get('speedup_vs_reference', nan):>7.2f} "
            f"{rec.get('speedup_vs_reference_of_min', nan):>12.2f}"
        )

    lines = [
        f"{'batch':>5} {'method':<10} {'median ms':>10} {'min ms':>9} {'Mneuron-steps/s':>16} "
        f"{'x ref':>7} {'x ref (min)':>12}"
    ]
    for batch, r in result["batches"].items():
        lines += [row(batch, name, rec) for name, rec in r["methods"].items()]
        for name, entry in result.get("external", {}).items():
            rec = entry.get("batches", {}).get(batch) if isinstance(entry, dict) else None
            if rec and "median_s" in rec:
                lines.append(row(batch, name, rec))
        met = r["target_met"]
        lines.append(
            f"      target >= {r['target_speedup']}x: {'met' if met else 'NOT met'} "
            f"({r['fastest_engine_path']}; auto picks {r['auto_picks']})"
        )
    if "crossover" in result:
        cross = result["crossover"]
        lines.append(
            f"density sweep (batch {cross['batch']}; ms): "
            + ", ".join(
                f"{r['density']:.2f}: hoisted {r['hoisted_ms']:.1f} / event {r['event_ms']:.1f}"
                for r in cross["rows"]
            )
        )
    for name, entry in result.get("external", {}).items():
        if name == "errors":
            lines += [f"      external interpreter failed: {e[-300:]}" for e in entry]
        elif isinstance(entry, dict) and entry.get("status") != "ok":
            lines.append(f"      {name}: {entry.get('status', entry.get('error'))}")
    return "\n".join(lines)


def _cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batches", type=int, nargs="+", default=list(BATCHES))
    parser.add_argument(
        "--external-python",
        nargs="+",
        default=None,
        help="interpreter(s) with spyx/snntorch/norse/brian2",
    )
    parser.add_argument("--external-only", metavar="NPZ", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(RESULTS / "engine_throughput.json"))
    parser.add_argument("--no-crossover", action="store_true", help="skip the density sweep")
    args = parser.parse_args(argv)
    if args.external_only:  # child process: time the other simulators on the given workload
        data = np.load(args.external_only)
        batches = sorted(int(k.split("_")[1]) for k in data.files if k.startswith("spikes_"))
        res = external(
            {b: data[f"spikes_{b}"] for b in batches},
            {b: data[f"weights_{b}"] for b in batches},
            args.repeats,
        )
        Path(args.out).write_text(json.dumps(res, indent=1))
        return
    result = main(args.repeats, tuple(args.batches), args.external_python, not args.no_crossover)
    write_result(result, args.out, format_table(result))


if __name__ == "__main__":
    _cli()
