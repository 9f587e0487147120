"""VSA throughput: the jitted :mod:`snnviz.core.vsa` algebra vs the same operations in plain numpy.

Workloads (FHRR, complex64, D = 1024 unless stated), each a realistic batch, timed as one call
blocked on (JAX: ``jax.jit`` of the composed :mod:`snnviz.core.vsa` functions, after a warm-up
call; numpy: the same algebra written with numpy arrays, which is what a user would otherwise
write):

* ``bind``: 1024 pairs bound (element-wise product);
* ``bundle``: 256 memories, each the bundle of 32 role-filler bindings (bind + sum);
* ``cleanup``: 1024 noisy queries against a 1000-item codebook (similarity matrix + argmax);
* ``encode_bundle_query``: a scene-memory round trip: FPE-encode 256 memories x 16 positions
  (2-D), bind with object codes, bundle, unbind 16 objects from each memory and clean up
  against a 1000-position grid of FPE codes;
* ``path_integration``: 1000 steps of binding 64 FPE position codes with velocity phasors
  (``jax.lax.scan`` vs a numpy loop); ``path_integration_one_agent``: the same for one agent,
  as a live page integrates;
* ``single_query``: one "where is object 3?" query (unbind + cleanup against 1000 positions),
  as a page answers a click.

Methods run in a new random order in each of ``repeats`` rounds; median and min wall time.
Target (issue 4): jitted JAX >= 5x numpy throughput. The ratio is reported per workload;
element-wise work that both sides do at memory bandwidth (``bind``) cannot gain much from a
compiler, while fused compositions can.

Run: ``python -m benchmarks.vsa_throughput [--repeats 15]``; writes
``benchmarks/results/vsa_throughput.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks._output import write_result
from benchmarks.engine_throughput import machine_info

DIM = 1024
TARGET_RATIO = 5.0
RESULTS = Path(__file__).resolve().parent / "results"


# --------------------------------------------------------------------------- numpy reference
def np_phasors(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return np.exp(1j * rng.uniform(-np.pi, np.pi, shape)).astype(np.complex64)


def np_similarity_matrix(q: np.ndarray, book: np.ndarray) -> np.ndarray:
    return np.real(q @ np.conj(book).T) / book.shape[-1]


def np_fpe(phases: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.exp(1j * (x @ phases.T).astype(np.float32)).astype(np.complex64)


# --------------------------------------------------------------------------- workloads
def workloads(seed: int = 0) -> dict[str, tuple[Callable[[], object], Callable[[], object], int]]:
    """``name -> (jax_call, numpy_call, items per call)``; both calls compute the same result."""
    import jax
    import jax.numpy as jnp

    from snnviz.core.vsa import (
        bind,
        bundle,
        cleanup,
        fpe_encode,
        unbind,
    )

    rng = np.random.default_rng(seed)
    out = {}

    a, b = np_phasors(rng, (1024, DIM)), np_phasors(rng, (1024, DIM))
    out["bind"] = (_jitted(bind, a, b), lambda: a * b, 1024)

    roles, fillers = np_phasors(rng, (256, 32, DIM)), np_phasors(rng, (256, 32, DIM))
    out["bundle"] = (
        _jitted(lambda r, f: bundle(bind(r, f), axis=1), roles, fillers),
        lambda: (roles * fillers).sum(axis=1),
        256,
    )

    book = np_phasors(rng, (1000, DIM))
    queries = book[rng.integers(0, 1000, 1024)] + 0.8 * np_phasors(rng, (1024, DIM))
    out["cleanup"] = (
        _jitted(lambda q, c: cleanup(q, c)[0], queries, book),
        lambda: np_similarity_matrix(queries, book).argmax(-1),
        1024,
    )

    phases = rng.uniform(-np.pi, np.pi, (DIM, 2)).astype(np.float32) * 8.0
    positions = rng.uniform(0, 1, (256, 16, 2)).astype(np.float32)
    objects = np_phasors(rng, (16, DIM))
    grid = np.stack(np.meshgrid(*(np.linspace(0, 1, 32, dtype=np.float32),) * 2), -1)
    grid = grid.reshape(-1, 2)[:1000]

    def jax_round_trip(phases, positions, objects, grid):
        memories = bundle(bind(objects, fpe_encode(phases, positions)), axis=1)  # (256, D)
        answers = unbind(memories[:, None, :], objects)  # (256, 16, D)
        return cleanup(answers, fpe_encode(phases, grid))[0]

    def np_round_trip():
        memories = (objects * np_fpe(phases, positions)).sum(axis=1)
        answers = memories[:, None, :] * np.conj(objects)
        return np_similarity_matrix(answers, np_fpe(phases, grid)).argmax(-1)

    out["encode_bundle_query"] = (
        _jitted(jax_round_trip, phases, positions, objects, grid),
        np_round_trip,
        256 * 16,
    )

    start = np_fpe(phases, rng.uniform(0, 1, (64, 2)).astype(np.float32))
    steps = np_fpe(phases, rng.normal(0, 0.01, (1000, 64, 2)).astype(np.float32))
    jstart, jsteps = jnp.asarray(start), jnp.asarray(steps)

    @jax.jit
    def jax_integrate(z, velocity_codes):
        return jax.lax.scan(lambda z, v: (bind(z, v), None), z, velocity_codes)[0]

    def np_integrate():
        z = start
        for v in steps:
            z = z * v
        return z

    out["path_integration"] = (lambda: jax_integrate(jstart, jsteps), np_integrate, 1000 * 64)

    start1, steps1 = start[:1], steps[:, :1]  # one agent, as a live page integrates
    jstart1, jsteps1 = jnp.asarray(start1), jnp.asarray(steps1)

    def np_integrate_one():
        z = start1
        for v in steps1:
            z = z * v
        return z

    out["path_integration_one_agent"] = (
        lambda: jax_integrate(jstart1, jsteps1),
        np_integrate_one,
        1000,
    )

    grid_codes, one_obj = np_fpe(phases, grid), objects[3]
    one_memory = (objects * np_fpe(phases, positions[0])).sum(axis=0)
    out["single_query"] = (  # "where is object 3?" against a 1000-position grid, one query
        _jitted(lambda m, o, g: cleanup(unbind(m, o), g)[0], one_memory, one_obj, grid_codes),
        lambda: np_similarity_matrix(one_memory * np.conj(one_obj), grid_codes).argmax(-1),
        1,
    )

    for name, (fj, fn, _) in out.items():  # both sides compute the same thing
        res_j, res_n = np.asarray(fj()), np.asarray(fn())
        if res_j.dtype.kind in "iu":
            agree = float(np.mean(res_j == res_n))
            if agree < 0.99:
                raise AssertionError(f"{name}: JAX and numpy answers agree on only {agree:.1%}")
        else:
            np.testing.assert_allclose(res_j, res_n, rtol=2e-3, atol=2e-3, err_msg=name)
    return out


def _jitted(fn: Callable, *args: np.ndarray) -> Callable[[], object]:
    """A zero-argument call of ``jax.jit(fn)`` on ``args`` moved to the device once."""
    import jax
    import jax.numpy as jnp

    compiled, device_args = jax.jit(fn), [jnp.asarray(a) for a in args]
    return lambda: compiled(*device_args)


def time_shuffled(calls: dict[str, Callable[[], object]], repeats: int, seed: int = 0) -> dict:
    """Seconds per call: a warm-up each, then ``repeats`` rounds in a new random order."""
    import jax

    rng = np.random.default_rng(seed)
    times: dict[str, list[float]] = {name: [] for name in calls}
    for fn in calls.values():
        jax.block_until_ready(fn())
    names = list(calls)
    for _ in range(repeats):
        for i in rng.permutation(len(names)):
            start = time.perf_counter()
            jax.block_until_ready(calls[names[i]]())
            times[names[i]].append(time.perf_counter() - start)
    return {
        n: {"median_s": float(np.median(t)), "min_s": float(np.min(t)), "times_s": t}
        for n, t in times.items()
    }


def main(repeats: int = 15) -> dict:
    """Time every workload with both implementations; return the JSON-able results."""
    result: dict = {
        "benchmark": "vsa_throughput",
        "dimension": DIM,
        "dtype": "complex64 (FHRR)",
        "machine": machine_info(),
        "load_average_before": [round(v, 2) for v in os.getloadavg()],
        "repeats": repeats,
        "target_ratio": TARGET_RATIO,
        "results": {},
    }
    for name, (fj, fn, items) in workloads().items():
        timing = time_shuffled({"jax": fj, "numpy": fn}, repeats)
        ratio = timing["numpy"]["median_s"] / timing["jax"]["median_s"]
        result["results"][name] = {
            "items_per_call": items,
            "jax": timing["jax"],
            "numpy": timing["numpy"],
            "jax_items_per_s": items / timing["jax"]["median_s"],
            "numpy_items_per_s": items / timing["numpy"]["median_s"],
            "ratio": ratio,
            "ratio_of_min": timing["numpy"]["min_s"] / timing["jax"]["min_s"],
            "target_met": ratio >= TARGET_RATIO,
        }
    result["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    result["summary"] = {
        name: {"jax_x_numpy": round(r["ratio"], 2), "target_met": r["target_met"]}
        for name, r in result["results"].items()
    }
    return result


def format_table(result: dict) -> str:
    lines = [f"{'workload':<22} {'jax ms':>9} {'numpy ms':>9} {'jax x numpy':>12} {'of min':>7}"]
    for name, r in result["results"].items():
        lines.append(
            f"{name:<22} {r['jax']['median_s'] * 1e3:>9.3f} {r['numpy']['median_s'] * 1e3:>9.3f} "
            f"{r['ratio']:>12.2f} {r['ratio_of_min']:>7.2f}"
        )
    lines.append(
        f"target >= {result['target_ratio']}x; load average before "
        f"{result['load_average_before']}, after {result['load_average_after']}"
    )
    return "\n".join(lines)


def _cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--out", default=str(RESULTS / "vsa_throughput.json"))
    args = parser.parse_args(argv)
    result = main(args.repeats)
    write_result(result, args.out, format_table(result))


if __name__ == "__main__":
    _cli()
