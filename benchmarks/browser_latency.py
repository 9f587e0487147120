"""What a real browser sees of the Network lab: delivered frame rate and slider latency.

One ``panel serve app`` and one headless Chromium page (1280x800, canvas backend) at a time:

* **frames**: for N = 1,000 and N = 10,000 (``/app?page=network_lab&n_neurons=N``, raster, rate
  and traces all on) press Play, wait for the first frame, then count ``ColumnDataSource`` stream
  events in the page over ``window_s`` seconds. ``fps`` is the traces source's streams per second
  (it streams on every pushed frame); the raster's and rate's rates, the paint rate
  (requestAnimationFrame callbacks per second) and the simulated time gained per wall second
  (from the page's readout ``t = ... s``) are reported alongside. Targets: >= 30 fps at 1,000,
  >= 10 fps at 10,000.
* **slider**: at N = 1,000, while playing, set the ``g`` slider's Bokeh model from JS to a new
  value and time (``performance.now()`` in the page) until the readout, which the server writes
  from the chunk it just pushed, shows that value: browser -> server -> next frame's chunk with
  the new parameters -> browser. Median over ``moves`` moves; target < 100 ms.
* **neuron_lab_slider**: on the Neuron lab (``/app?page=neuron_lab``, one AdEx neuron, 600 ms at
  dt = 0.05 ms), set the ``I (pA)`` slider's Bokeh model from JS and time until the membrane
  trace's source holds new data (browser -> server -> re-simulation -> browser), and until the
  phase plane's trajectory has followed. Reported beside the target, not instead of it.

The server's page warm-up finishes before anything is timed.

Run: ``python -m benchmarks.browser_latency [--window 10] [--moves 20] [--sizes 1000 10000]``;
prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import time
from typing import Any

import numpy as np

from benchmarks._browser import (
    HOOKS_JS,
    VIEWPORT,
    CpuMeter,
    launch_chromium,
    process_rss_mb,
    serve_app,
    wait_for_plots,
)

SIZES = (1000, 10_000)
FPS_TARGETS = {"1000": 30.0, "10000": 10.0}
SLIDER_TARGET_MS = 100.0
G_TITLE = "g = J_I / J_E"

# A paint counter (requestAnimationFrame) started on demand.
_RAF_JS = """
() => {
  if (window.__rafCount !== undefined) return;
  window.__rafCount = 0;
  const tick = () => { window.__rafCount += 1; requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
}
"""
# Which rendered source is which plot: traces have y0.., the raster an image, the rate a rate.
_SOURCES_JS = """
() => {
  const out = {};
  for (const s of snnviz.renderedSources()) {
    if ("image" in s.data) out.raster = s.id;
    else if ("rate" in s.data) out.rate = s.id;
    else if ("y0" in s.data) out.traces = s.id;
  }
  return out;
}
"""
_READOUT_T_JS = r"""
() => {
  for (const m of snnviz.models()) {
    const hit = (typeof m.text === "string" ? m.text : "").match(/t = ([0-9.]+) s \u00b7 g = /);
    if (hit) return parseFloat(hit[1]);
  }
  return null;
}
"""
_STREAM_TIMES_JS = """
([id, t0]) => snnviz.streams.filter(s => s[1] === id && s[0] >= t0).map(s => s[0])
"""
# Set the slider and resolve with the ms until the readout shows `expected` (null on timeout).
_SLIDER_JS = r"""
async ([title, value, expected, timeoutMs]) => {
  const slider = snnviz.sliders(title)[0];
  const readout = snnviz.models().find(
    m => typeof m.text === "string" && /t = [0-9.]+ s \u00b7 g = /.test(m.text));
  if (!slider || !readout) return {error: `slider ${!!slider}, readout ${!!readout}`};
  const needle = `g = ${expected} \u00b7`;
  return await new Promise(resolve => {
    const t0 = performance.now();
    let timer = null;
    const check = () => {
      if (readout.text.includes(needle)) {
        readout.change.disconnect(check);
        clearTimeout(timer);
        resolve({ms: performance.now() - t0});
      }
    };
    readout.change.connect(check);
    timer = setTimeout(() => { readout.change.disconnect(check); resolve({ms: null}); },
                       timeoutMs);
    slider.value = value;
  });
}
"""


def _play(page: Any) -> None:
    page.evaluate("() => snnviz.hookStreams()")
    page.get_by_role("button", name=re.compile("Play")).click()
    page.wait_for_function(
        "() => window.snnviz && snnviz.streams.length > 0", timeout=120_000, polling=50
    )


def _pause(page: Any) -> None:
    button = page.get_by_role("button", name=re.compile("Pause"))
    if button.count():
        button.click()
        page.get_by_role("button", name=re.compile("Play")).wait_for(timeout=30_000)


def _rate_stats(times_ms: list[float], window_s: float) -> dict[str, float]:
    gaps = np.diff(times_ms) if len(times_ms) > 1 else np.array([np.nan])
    return {
        "per_s": round(len(times_ms) / window_s, 2),
        "median_gap_ms": round(float(np.median(gaps)), 1),
        "p95_gap_ms": round(float(np.percentile(gaps, 95)), 1),
        "max_gap_ms": round(float(np.max(gaps)), 1),
    }


def measure_frames(browser: Any, url: str, window_s: float, server_pid: int) -> dict[str, Any]:
    """Play the page at ``url`` and count what arrives in the browser over ``window_s``."""
    cpu = CpuMeter(server_pid)
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(HOOKS_JS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        start = time.perf_counter()
        page.goto(url, wait_until="domcontentloaded")
        wait_for_plots(page, 3, timeout_ms=180_000)
        load_s = time.perf_counter() - start
        ids = page.evaluate(_SOURCES_JS)
        _play(page)
        first_frame_s = time.perf_counter() - start - load_s
        page.evaluate(_RAF_JS)
        page.wait_for_timeout(1000)  # let the first frames' backlog settle
        t0 = page.evaluate("() => performance.now()")
        raf0 = page.evaluate("() => window.__rafCount")
        sim0 = page.evaluate(_READOUT_T_JS)
        cpu.start()
        page.wait_for_timeout(window_s * 1000)  # the counting window
        cpu_use = cpu.stop()
        t1 = page.evaluate("() => performance.now()")
        raf1 = page.evaluate("() => window.__rafCount")
        sim1 = page.evaluate(_READOUT_T_JS)
        wall_s = (t1 - t0) / 1000
        per_source = {
            name: _rate_stats(page.evaluate(_STREAM_TIMES_JS, [sid, t0]), wall_s)
            for name, sid in ids.items()
        }
        _pause(page)
        return {
            "load_to_plots_s": round(load_s, 2),
            "play_to_first_frame_s": round(first_frame_s, 2),
            "window_s": round(wall_s, 2),
            "fps": per_source.get("traces", {}).get("per_s", 0.0),
            "sources": per_source,
            "paints_per_s": round((raf1 - raf0) / wall_s, 1),
            "sim_s_per_wall_s": (
                round((sim1 - sim0) / wall_s, 3) if sim0 is not None and sim1 is not None else None
            ),
            "cpu": cpu_use,
            "page_errors": errors,
        }
    finally:
        context.close()


def _latency_stats(latencies: list[float | None]) -> dict[str, Any]:
    """Timeouts (``None``), median, p90, min, max and every latency (ms, rounded)."""
    ok = [x for x in latencies if x is not None]
    return {
        "timeouts": latencies.count(None),
        "median_ms": round(statistics.median(ok), 1) if ok else None,
        "p90_ms": round(float(np.percentile(ok, 90)), 1) if ok else None,
        "min_ms": round(min(ok), 1) if ok else None,
        "max_ms": round(max(ok), 1) if ok else None,
        "all_ms": [None if x is None else round(x, 1) for x in latencies],
    }


def measure_slider(browser: Any, url: str, moves: int, server_pid: int) -> dict[str, Any]:
    """Median ms from setting the g slider in the page until the readout shows the value."""
    cpu = CpuMeter(server_pid)
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(HOOKS_JS)
    page = context.new_page()
    try:
        page.goto(url, wait_until="domcontentloaded")
        wait_for_plots(page, 3, timeout_ms=180_000)
        _play(page)
        page.wait_for_timeout(1000)
        latencies: list[float | None] = []
        values = [round(4.0 + 0.1 * (i % 21), 1) for i in range(1, moves + 1)]  # 4.1 .. 6.0
        cpu.start()
        for value in values:
            expected = f"{float(np.float32(value)):g}"
            result = page.evaluate(_SLIDER_JS, [G_TITLE, value, expected, 5000])
            if "error" in result:
                raise RuntimeError(f"slider benchmark: {result['error']}")
            latencies.append(result["ms"])
            page.wait_for_timeout(150)  # moves spaced like a user's, not back-to-back
        cpu_use = cpu.stop()
        _pause(page)
        return {"moves": moves, **_latency_stats(latencies), "cpu": cpu_use}
    finally:
        context.close()


# Set the Neuron lab's current slider; resolve with the ms until the membrane trace's source (the
# largest rendered source with t and v) and the phase plane's trajectory (v and w, no t) change.
_NEURON_SLIDER_JS = r"""
async ([value, timeoutMs]) => {
  const slider = snnviz.sliders("I (pA)")[0];
  const srcs = snnviz.renderedSources();
  const withCols = (need, not) => srcs.filter(
    s => need.every(c => c in s.data) && !not.some(c => c in s.data));
  const trace = withCols(["t", "v"], []).reduce(
    (a, b) => (a && a.data.v.length >= b.data.v.length ? a : b), null);
  const traj = withCols(["v", "w"], ["t"]).reduce(
    (a, b) => (a && a.data.v.length >= b.data.v.length ? a : b), null);
  if (!slider || !trace || !traj) return {error: `slider ${!!slider} trace ${!!trace} traj ${!!traj}`};
  return await new Promise(resolve => {
    const out = {trace_ms: null, phase_ms: null};
    const t0 = performance.now();
    const done = () => {
      if (out.trace_ms !== null && out.phase_ms !== null) { clearTimeout(timer); resolve(out); }
    };
    trace.connect(trace.properties.data.change,
                  () => { if (out.trace_ms === null) out.trace_ms = performance.now() - t0; done(); });
    traj.connect(traj.properties.data.change,
                 () => { if (out.phase_ms === null) out.phase_ms = performance.now() - t0; done(); });
    const timer = setTimeout(() => resolve(out), timeoutMs);
    slider.value = value;
  });
}
"""


def measure_neuron_lab_slider(browser: Any, url: str, moves: int, server_pid: int) -> dict:
    """Median ms from setting the Neuron lab's current slider until its trace (and its phase
    plane) show the new simulation."""
    cpu = CpuMeter(server_pid)
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(HOOKS_JS)
    page = context.new_page()
    try:
        page.goto(url, wait_until="domcontentloaded")
        wait_for_plots(page, 3, timeout_ms=180_000)
        page.wait_for_function(
            "() => snnviz.renderedSources().some(s => 'w' in s.data && s.data.w.length > 0)",
            timeout=60_000,
            polling=50,
        )
        page.wait_for_timeout(500)
        trace_ms: list[float | None] = []
        phase_ms: list[float | None] = []
        cpu.start()
        for i in range(moves):
            value = 400.0 + 25.0 * (i % 2) + 10.0 * i  # always a new value, 400 .. ~900 pA
            result = page.evaluate(_NEURON_SLIDER_JS, [value, 5000])
            if "error" in result:
                raise RuntimeError(f"neuron-lab slider benchmark: {result['error']}")
            trace_ms.append(result["trace_ms"])
            phase_ms.append(result["phase_ms"])
            page.wait_for_timeout(300)  # moves spaced like a user's
        cpu_use = cpu.stop()
        return {
            "moves": moves,
            "trace": _latency_stats(trace_ms),
            "phase_plane": _latency_stats(phase_ms),
            "cpu": cpu_use,
        }
    finally:
        context.close()


def main(window_s: float = 10.0, moves: int = 20, sizes: tuple[int, ...] = SIZES) -> dict:
    """Frames delivered per size, then slider latency at N = 1,000 (see the module docstring)."""
    from playwright.sync_api import sync_playwright

    frames: dict[str, Any] = {}
    with serve_app() as server, sync_playwright() as playwright:
        server.wait_for_warm_up()  # time a warmed server, not one compiling every page beside us
        browser = launch_chromium(playwright)
        try:
            for n in sizes:
                url = server.page_url("network_lab", n_neurons=n)
                frames[str(n)] = measure_frames(browser, url, window_s, server.proc.pid)
            url = server.page_url("network_lab", n_neurons=1000)
            slider = measure_slider(browser, url, moves, server.proc.pid)
            neuron_slider = measure_neuron_lab_slider(
                browser, server.page_url("neuron_lab"), moves, server.proc.pid
            )
        finally:
            browser.close()
        rss = process_rss_mb(server.proc.pid)
    targets = {
        f"fps_N{n}": {"target_min": t, "met": frames[n]["fps"] >= t}
        for n, t in FPS_TARGETS.items()
        if n in frames
    }
    targets["slider_median_ms"] = {
        "target_max": SLIDER_TARGET_MS,
        "met": slider["median_ms"] is not None and slider["median_ms"] < SLIDER_TARGET_MS,
    }
    summary = {f"fps_N{n}": frames[n]["fps"] for n in frames}
    summary |= {f"sim_x_N{n}": frames[n]["sim_s_per_wall_s"] for n in frames}
    summary["slider_median_ms"] = slider["median_ms"]
    summary["neuron_lab_trace_median_ms"] = neuron_slider["trace"]["median_ms"]
    return {
        "benchmark": "browser_latency",
        "summary": summary,
        "targets": targets,
        "frames": frames,
        "slider": slider,
        "neuron_lab_slider": neuron_slider,
        "conditions": {
            "viewport": VIEWPORT,
            "server_rss_mb_at_end": round(rss, 1),
            "cpu_count": os.cpu_count(),
            "load_avg_1min_at_end": round(os.getloadavg()[0], 2),
            "note": "one server and one Chromium on the same machine; browser paint cost shares "
            "the cores with the server",
        },
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=10.0, help="counting window (s)")
    parser.add_argument("--moves", type=int, default=20, help="slider moves")
    parser.add_argument(
        "--sizes", type=int, nargs="*", default=list(SIZES), help="N for frames (none: skip)"
    )
    cli = parser.parse_args()
    print(json.dumps(main(cli.window, cli.moves, tuple(cli.sizes)), indent=1))
