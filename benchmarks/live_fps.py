"""Frames per second a real browser receives from the live pages (issues 2 and 4: >= 20 fps;
the network lab at N = 1,000 >= 30 fps).

One ``panel serve app`` and one headless Chromium page (1280x800) per page: open
``/app?page=<slug>``, press Play, wait for the first update, then count the data updates
(stream, patch or replaced data, see ``snnviz.hookUpdates`` in ``benchmarks/_browser.py``) of
every ``ColumnDataSource`` over ``window_s`` seconds. A page's **fps** is the update rate of its
most frequently updated source (the plot that follows every pushed frame); the paint rate
(``requestAnimationFrame`` callbacks per second) and the server's CPU use are reported too.

Run: ``python -m benchmarks.live_fps [--window 8] [--pages SLUG ...]``; writes
``benchmarks/results/live_fps.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path
from typing import Any

from benchmarks._browser import (
    HOOKS_JS,
    VIEWPORT,
    CpuMeter,
    launch_chromium,
    serve_app,
    wait_for_plots,
)
from benchmarks.engine_throughput import machine_info

PAGES = ("krausse2025_grid_cells", "cotteret2025_fsm", "network_lab")
TARGET_FPS = 20.0
TARGETS = {"network_lab": 30.0}  # pages with a stricter target than TARGET_FPS
RESULTS = Path(__file__).resolve().parent / "results"

_RAF_JS = """
() => {
  window.__rafCount = 0;
  const tick = () => { window.__rafCount += 1; requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
}
"""
_PER_SOURCE_JS = """
(t0) => {
  snnviz.hookUpdates();
  const per = {};
  for (const [t, id] of snnviz.updates) if (t >= t0) per[id] = (per[id] || 0) + 1;
  return per;
}
"""


def measure_page(
    browser: Any, url: str, window_s: float, server_pid: int, target_fps: float = TARGET_FPS
) -> dict[str, Any]:
    """Play one page and count its plots' updates over ``window_s`` seconds."""
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(HOOKS_JS)
    page = context.new_page()
    try:
        page.goto(url)
        wait_for_plots(page, 1, timeout_ms=120_000)
        page.evaluate("() => snnviz.hookUpdates()")
        page.get_by_role("button", name=re.compile("Play")).first.click()
        page.wait_for_function("() => snnviz.updatesSince(0) > 0", timeout=120_000, polling=50)
        page.wait_for_timeout(1000)  # past the first (compiling) frames
        page.evaluate(_RAF_JS)
        meter = CpuMeter(server_pid)
        meter.start()
        t0 = page.evaluate("() => performance.now()")
        page.wait_for_timeout(window_s * 1000)
        per_source = page.evaluate(_PER_SOURCE_JS, t0)
        elapsed_s = (page.evaluate("() => performance.now()") - t0) / 1000
        paints = page.evaluate("() => window.__rafCount")
        cpu = meter.stop()
        # a busy page may never look "stable" to playwright: click without waiting for that
        page.get_by_role("button", name=re.compile("Pause")).first.click(force=True)
        rates = sorted((n / elapsed_s for n in per_source.values()), reverse=True)
        return {
            "fps": rates[0] if rates else 0.0,
            "source_rates": [round(r, 1) for r in rates],
            "paints_per_s": paints / elapsed_s,
            "window_s": elapsed_s,
            "server_cpu": cpu,
            "target_fps": target_fps,
            "target_met": bool(rates) and rates[0] >= target_fps,
        }
    finally:
        context.close()


def main(window_s: float = 8.0, pages: tuple[str, ...] = PAGES) -> dict:
    """Frame rates of each page, each in its own server."""
    from playwright.sync_api import sync_playwright

    result: dict = {
        "benchmark": "live_fps",
        "machine": machine_info(),
        "load_average_before": [round(v, 2) for v in os.getloadavg()],
        "pages": {},
    }
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            for slug in pages:
                with serve_app() as server:
                    server.wait_for_warm_up()  # steady state: no page compiling beside the stream
                    result["pages"][slug] = measure_page(
                        browser,
                        f"{server.base}/app?page={slug}",
                        window_s,
                        server.proc.pid,
                        TARGETS.get(slug, TARGET_FPS),
                    )
        finally:
            browser.close()
    result["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    result["summary"] = {
        slug: {"fps": round(r["fps"], 1), "target_met": r["target_met"]}
        for slug, r in result["pages"].items()
    }
    return result


def _cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--window", type=float, default=8.0)
    parser.add_argument("--pages", nargs="+", default=list(PAGES))
    parser.add_argument("--out", default=str(RESULTS / "live_fps.json"))
    args = parser.parse_args(argv)
    result = main(args.window, tuple(args.pages))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    for slug, r in result["pages"].items():
        print(
            f"{slug:<26} fps {r['fps']:5.1f} (sources {r['source_rates'][:4]}), paints "
            f"{r['paints_per_s']:5.1f}/s, server {r['server_cpu']['server_cores']:.2f} cores, "
            f"target >= {r['target_fps']:g}: "
            f"{'met' if r['target_met'] else 'NOT met'}"
        )
    print(f"load {result['load_average_before']} -> {result['load_average_after']}; wrote {out}")


if __name__ == "__main__":
    _cli()
