"""Server-side cost of the Network lab's live stream: simulation chunks and frame pushes.

Workload: the Network lab page (:class:`snnviz.pages.network_lab.NetworkLab`) at its default
parameters (Brunel's AI point, g = 5, eta = 2, dt = 0.1 ms) at N = 1,000 and N = 10,000.

* **chunk**: the page's own ``_advance_chunk()`` (one compiled 50-step chunk = 5 ms of simulated
  time, including the copies to numpy that the page makes), timed after a warm-up call; median and
  spread of ``repeats`` calls. ``realtime_x`` = simulated ms per wall ms at the median (>= 1 means
  one core keeps up with real time). Target: <= 5 ms per chunk at N = 10,000.
* **push**: one frame as the live loop delivers it: the page's ``_push(chunks)`` (server-side
  binning of the raster and rate, decimated traces, the readout and, every 10th frame, the
  window statistics) into a Bokeh ``Document`` holding the three live figures, plus the
  serialisation of every resulting document event into a ``PATCH-DOC`` message exactly as the
  Bokeh server builds them (one message per event). Frames of 1 chunk and of 7 chunks (33 ms of
  wall time at real time is 6.7 chunks) are timed on pre-computed chunks, so the simulation is
  not in the number.

Run: ``python -m benchmarks.streaming [--repeats 40]``; prints JSON. ``run_all`` writes
``benchmarks/results/streaming.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from typing import Any

import numpy as np

SIZES = (1000, 10_000)
CHUNK_TARGET_MS = {"10000": 5.0}
FRAME_CHUNKS = (1, 7)


def _stats_ms(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1e3
    return {
        "median_ms": round(float(np.median(ms)), 3),
        "p10_ms": round(float(np.percentile(ms, 10)), 3),
        "p90_ms": round(float(np.percentile(ms, 90)), 3),
        "min_ms": round(float(ms.min()), 3),
    }


def make_page(n_neurons: int) -> Any:
    """A Network lab page at the default (AI) point with ``n_neurons`` neurons."""
    from snnviz.core.network.brunel import REGIMES
    from snnviz.models import BrunelModel
    from snnviz.pages.network_lab import NetworkLab

    return NetworkLab(network=BrunelModel(n_neurons=n_neurons, **REGIMES["AI"]))


def chunk_cost(page: Any, repeats: int) -> dict[str, Any]:
    """Time ``page._advance_chunk()`` (first call separately: it may compile)."""
    start = time.perf_counter()
    page._advance_chunk()
    first_s = time.perf_counter() - start
    times, spikes = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        out = page._advance_chunk()
        times.append(time.perf_counter() - start)
        spikes.append(int(np.asarray(out["times"]).size))
    sim_ms = float(page._chunk_ms)
    stats = _stats_ms(times)
    return {
        "first_call_s": round(first_s, 3),
        **stats,
        "sim_ms_per_chunk": sim_ms,
        "realtime_x": round(sim_ms / stats["median_ms"], 3),
        "spikes_per_chunk": float(np.mean(spikes)),
        "rate_hz": round(float(np.mean(spikes)) / (page._net.n_neurons * sim_ms * 1e-3), 2),
    }


class _Recorder:
    """Collects a document's change events and serialises them like the Bokeh server."""

    def __init__(self, figures: list[Any]) -> None:
        from bokeh.document import Document
        from bokeh.protocol import Protocol

        self.doc = Document()
        for fig in figures:
            self.doc.add_root(fig)
        self.protocol = Protocol()
        self.events: list[Any] = []
        self.doc.on_change(self.events.append)

    def serialise(self) -> tuple[int, int]:
        """Build one PATCH-DOC per pending event; return (messages, bytes)."""
        n_bytes = 0
        events, self.events[:] = list(self.events), []
        for event in events:
            msg = self.protocol.create("PATCH-DOC", [event])
            n_bytes += len(msg.header_json) + len(msg.metadata_json) + len(msg.content_json)
            n_bytes += sum(len(buf.to_bytes()) for buf in msg.buffers)
        return len(events), n_bytes


def push_cost(page: Any, recorder: _Recorder, chunks_per_frame: int, frames: int) -> dict:
    """Time ``page._push`` + PATCH-DOC serialisation per frame of ``chunks_per_frame`` chunks."""
    warm = 3
    batches = [
        [page._advance_chunk() for _ in range(chunks_per_frame)] for _ in range(frames + warm)
    ]
    push_s, serialise_s, messages, sizes = [], [], [], []
    for i, chunks in enumerate(batches):
        start = time.perf_counter()
        page._push(chunks)
        mid = time.perf_counter()
        n_msg, n_bytes = recorder.serialise()
        end = time.perf_counter()
        if i >= warm:
            push_s.append(mid - start)
            serialise_s.append(end - mid)
            messages.append(n_msg)
            sizes.append(n_bytes)
    total = [a + b for a, b in zip(push_s, serialise_s, strict=True)]
    return {
        "chunks_per_frame": chunks_per_frame,
        "push": _stats_ms(push_s),
        "serialise": _stats_ms(serialise_s),
        "total": _stats_ms(total),
        "messages_per_frame": statistics.mean(messages),
        "kbytes_per_frame": round(statistics.mean(sizes) / 1024, 2),
    }


def main(repeats: int = 40, sizes: tuple[int, ...] = SIZES) -> dict:
    """Chunk and push costs per network size (see the module docstring)."""
    from snnviz.core import enable_compilation_cache

    enable_compilation_cache()
    import jax

    results: dict[str, Any] = {}
    for n in sizes:
        start = time.perf_counter()
        page = make_page(n)
        build_s = time.perf_counter() - start
        chunk = chunk_cost(page, repeats)
        recorder = _Recorder([page._raster.figure, page._rate.figure, page._traces.figure])
        frames = max(10, repeats // 2)
        pushes = {str(k): push_cost(page, recorder, k, frames) for k in FRAME_CHUNKS}
        # frame budget at real time and 30 frames/s: 6.7 chunks of compute + one push
        per_frame_ms = 33.3 / chunk["sim_ms_per_chunk"] * chunk["median_ms"]
        per_frame_ms += pushes["7"]["total"]["median_ms"]
        results[str(n)] = {
            "page_build_s": round(build_s, 3),
            "chunk": chunk,
            "push": pushes,
            "core_fraction_at_realtime_30fps": round(per_frame_ms / 33.3, 3),
        }
    summary = (
        {f"chunk_ms_N{n}": results[n]["chunk"]["median_ms"] for n in results}
        | {f"push_ms_7chunks_N{n}": results[n]["push"]["7"]["total"]["median_ms"] for n in results}
        | {f"realtime_x_N{n}": results[n]["chunk"]["realtime_x"] for n in results}
    )
    targets = {
        f"chunk_ms_N{n}": {"target_max": t, "met": results[n]["chunk"]["median_ms"] <= t}
        for n, t in CHUNK_TARGET_MS.items()
        if n in results
    }
    return {
        "benchmark": "streaming",
        "summary": summary,
        "targets": targets,
        "sizes": results,
        "conditions": {
            "repeats": repeats,
            "cpu_count": os.cpu_count(),
            "load_avg_1min_at_end": round(os.getloadavg()[0], 2),
            "jax": jax.__version__,
            "python": platform.python_version(),
        },
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    cli = parser.parse_args()
    print(json.dumps(main(cli.repeats, tuple(cli.sizes)), indent=1))
