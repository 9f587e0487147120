"""Brunel network: wall time of one streamed 50-step chunk.

Workload: :class:`snnviz.core.network.BrunelNetwork` in the AI regime (g = 5, eta = 2, J = 0.1 mV,
D = 1.5 ms, epsilon = 0.1, dt = 0.1 ms) at N = 1,000 and N = 10,000 neurons, advanced in chunks
of 50 steps with ``snnviz.core.sim.advance`` - what a live page calls once per frame. After a
warm-up of 1,000 steps (compile + transient), ``repeats`` chunks are timed one by one (each
waits for its result); reported: median and min in ms, spikes per step, and the load average
before and after (the machine has 2 cores; see benchmarks/README.md on reading timings under
load). Target: <= 5 ms per chunk at N = 10,000.

Both connectivity layouts are timed: ``rows`` (bit-packed fan-out rows, the default) and
``lists`` (padded target lists + scatter-add) as the reference. They run one after the other,
not interleaved: a page streams one network, and alternating two 10,000-neuron networks evicts
each other's tables (12.5 MB and 44 MB) from the cache, which inflated both by ~2x.

Run: ``python -m benchmarks.network_chunk [--repeats 20]``; prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

SIZES = (1_000, 10_000)
CHUNK = 50
WARMUP_STEPS = 1_000
TARGET_MS_10K = 5.0
LAYOUTS = ("rows", "lists")


def _time_chunks(net, state, repeats: int) -> tuple[list[float], float]:
    """Wall time of ``repeats`` chunks (each awaited) and the mean spikes per step."""
    import jax

    from snnviz.core.sim import advance

    times, spikes = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        state, record = advance(net, state, CHUNK)
        jax.block_until_ready(record)
        times.append(time.perf_counter() - start)
        spikes += int(record["spikes"].sum())
    return times, spikes / (repeats * CHUNK)


def main(repeats: int = 20) -> dict:
    """Time ``repeats`` chunks per size and layout; return the JSON-able results."""
    import jax

    from snnviz.core.network import REGIMES, BrunelNetwork
    from snnviz.core.sim import advance

    load_before = os.getloadavg()
    results = {}
    for n in SIZES:
        results[str(n)] = {}
        for layout in LAYOUTS:
            net = BrunelNetwork.build(n, key=jax.random.key(0), layout=layout, **REGIMES["AI"])
            state = net.init_state(key=jax.random.key(1))
            state, record = advance(net, state, WARMUP_STEPS)  # compile the warm-up length
            for _ in range(3):  # compile the chunk length, settle
                state, record = advance(net, state, CHUNK)
            jax.block_until_ready(record)
            times, per_step = _time_chunks(net, state, repeats)
            results[str(n)][layout] = {
                "median_ms": round(1e3 * statistics.median(times), 3),
                "min_ms": round(1e3 * min(times), 3),
                "spikes_per_step": round(per_step, 2),
            }
            del net, state, record
    load_after = os.getloadavg()
    median_10k = results["10000"]["rows"]["median_ms"]
    return {
        "workload": "BrunelNetwork AI (g=5, eta=2), dt=0.1 ms, 50-step chunks after warm-up",
        "repeats": repeats,
        "results_ms_per_chunk": results,
        "target_ms_10k": TARGET_MS_10K,
        "meets_target": median_10k <= TARGET_MS_10K,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "jax": jax.__version__,
        "summary": (
            f"rows layout: {results['1000']['rows']['median_ms']} ms (N=1k), {median_10k} ms "
            f"(N=10k, min {results['10000']['rows']['min_ms']}) per 50-step chunk; "
            f"target <= {TARGET_MS_10K} ms at 10k"
        ),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    print(json.dumps(main(parser.parse_args().repeats), indent=1))
