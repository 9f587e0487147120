"""Many live sessions on one server process: the Network lab at N = 1,000, played by 20 sessions.

Setup (STACK.md section 6): one ``panel serve app`` process (``--num-procs 1``, 127.0.0.1 only);
``sessions - browsers`` lightweight protocol clients plus ``browsers`` real headless Chromium
pages. A protocol client does what a browser does on the wire: GET ``/app?page=network_lab``
(this creates a real server session, running the page), open the Bokeh websocket with the
session token, ``PULL-DOC-REQ``, send ``document_ready``, then press Play by sending the Play
toggle's ``active = true`` as a ``PATCH-DOC``. From then on it only reads: it counts the
``ColumnsStreamed`` events per plot and parses the page's readout (``t = ... s``) for the
simulated time. One Chromium page cannot stand in for 20 clients here (its painting alone
takes about a core), so the protocol clients run in a separate Python process and only the
browser pages render.

Measured over ``seconds`` after all sessions are playing (and ``warmup_s`` more):

* updates/s per session: stream events per second on each session's traces source (one per
  pushed frame), for every protocol client and for the browser page(s); target >= 20;
* simulation speed: simulated s per wall s from each session's readout; target >= 0.9;
* server event-loop lag: a probe GETs ``/liveness`` every 200 ms (answered on the event loop);
  lag = response time - the idle baseline (the fastest of 20 probes before any session);
  target: mean < 50 ms;
* memory: the server's RSS every 5 s; "flat" = the fitted slope over the window is under
  ``RSS_SLOPE_MB_PER_MIN`` (a leak of a few MB per minute shows);
* CPU: cores used by the server, by our clients + Chromium, and by the rest of the machine.

Run: ``python -m benchmarks.concurrency [--seconds 300] [--sessions 20] [--browsers 1]``;
prints JSON. Everything started here is stopped at the end (server process group, client
process, browser).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from typing import Any

import numpy as np

from benchmarks._browser import (
    HOOKS_JS,
    ROOT,
    VIEWPORT,
    CpuMeter,
    launch_chromium,
    process_rss_mb,
    serve_app,
    wait_for_plots,
)

TARGET_UPDATES_PER_S = 20.0
TARGET_SIM_X = 0.9
TARGET_LAG_MS = 50.0
RSS_SLOPE_MB_PER_MIN = 2.0
_TOKEN_RE = re.compile(r'"token"\s*:\s*"([^"]+)"')
_READOUT_RE = re.compile(r"t = ([0-9.]+) s \u00b7 g = ")


# -- the protocol client (runs in its own process) -----------------------------------------
def _msg(msgtype: str, content: dict) -> list[str]:
    header = {"msgid": uuid.uuid4().hex.upper(), "msgtype": msgtype}
    return [json.dumps(header), "{}", json.dumps(content)]


async def _read_message(ws: Any) -> tuple[dict, dict]:
    """One Bokeh protocol message: (header, content); buffers are read and dropped."""
    header = json.loads(await ws.recv())
    await ws.recv()  # metadata
    content = json.loads(await ws.recv())
    for _ in range(int(header.get("num_buffers", 0))):
        await ws.recv()  # buffer header
        await ws.recv()  # payload
    return header, content


def _find_play_toggle(node: Any) -> str | None:
    """The id of the Toggle whose label says Play, anywhere in a serialised document."""
    if isinstance(node, dict):
        attrs = node.get("attributes") or {}
        if node.get("name") == "Toggle" and "Play" in str(attrs.get("label", "")):
            return node.get("id")
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = _find_play_toggle(child)
        if found:
            return found
    return None


def _stream_keys(event: dict) -> list[str]:
    data = event.get("data") or {}
    if isinstance(data, dict) and data.get("type") == "map":
        return [k for k, _ in data.get("entries", [])]
    return list(data) if isinstance(data, dict) else []


async def _client(
    idx: int, port: int, query: str, start_at: float, stop_at: float, out: dict
) -> None:
    """One session: GET the page, open the websocket, press Play, count until ``stop_at``."""
    from websockets.asyncio.client import connect

    rec: dict[str, Any] = {"frames": [], "raster": 0, "rate": 0, "sim": [], "error": None}
    out[idx] = rec
    await asyncio.sleep(max(0.0, start_at - time.time()))
    base = f"http://127.0.0.1:{port}"
    try:
        html = await asyncio.to_thread(
            lambda: urllib.request.urlopen(f"{base}/app?{query}", timeout=60).read().decode()
        )
        token = _TOKEN_RE.search(html).group(1)
        async with connect(
            f"ws://127.0.0.1:{port}/app/ws?{query}",
            subprotocols=["bokeh", token],
            origin=base,
            max_size=None,
            proxy=None,
            open_timeout=60,
        ) as ws:
            header, _ = await _read_message(ws)
            assert header["msgtype"] == "ACK", header
            for frame in _msg("PULL-DOC-REQ", {}):
                await ws.send(frame)
            while True:
                header, content = await _read_message(ws)
                if header["msgtype"] == "PULL-DOC-REPLY":
                    break
            toggle = _find_play_toggle(content)
            if toggle is None:
                raise RuntimeError("no Play toggle in the document")
            ready = {
                "kind": "MessageSent",
                "msg_type": "bokeh_event",
                "msg_data": {"type": "event", "name": "document_ready", "values": {"type": "map"}},
            }
            play = {"kind": "ModelChanged", "model": {"id": toggle}, "attr": "active", "new": True}
            for event in (ready, play):
                for frame in _msg("PATCH-DOC", {"events": [event]}):
                    await ws.send(frame)
            rec["played_at"] = time.time()
            while time.time() < stop_at:
                try:
                    header, content = await asyncio.wait_for(
                        _read_message(ws), timeout=max(0.05, stop_at - time.time())
                    )
                except TimeoutError:
                    break
                if header["msgtype"] != "PATCH-DOC":
                    continue
                now = time.time()
                for event in content.get("events", []):
                    kind = event.get("kind")
                    if kind == "ColumnsStreamed":
                        keys = _stream_keys(event)
                        if "y0" in keys:
                            rec["frames"].append(now)
                        elif "image" in keys:
                            rec["raster"] += 1
                        elif "rate" in keys:
                            rec["rate"] += 1
                    elif kind == "ModelChanged" and event.get("attr") == "text":
                        hit = _READOUT_RE.search(str(event.get("new", "")))
                        if hit:
                            rec["sim"].append((now, float(hit.group(1))))
    except Exception as exc:  # reported per client, never fatal for the others
        rec["error"] = f"{type(exc).__name__}: {exc}"


async def _run_clients(n: int, port: int, query: str, stagger_s: float, stop_at: float) -> dict:
    out: dict[int, Any] = {}
    t0 = time.time()
    await asyncio.gather(
        *(_client(i, port, query, t0 + i * stagger_s, stop_at, out) for i in range(n))
    )
    return out


def client_worker(port: int, n: int, query: str, stagger_s: float, stop_at: float) -> None:
    """Entry of the client process: run ``n`` clients, print their raw records as JSON."""
    records = asyncio.run(_run_clients(n, port, query, stagger_s, stop_at))
    print(json.dumps({str(k): v for k, v in records.items()}))


# -- the measuring side --------------------------------------------------------------------
class LagProbe(threading.Thread):
    """GET ``/liveness`` every ``period_s``; records (wall time, response ms)."""

    def __init__(self, base: str, period_s: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.url = f"{base}/liveness"
        self.period_s = period_s
        self.samples: list[tuple[float, float]] = []
        self._stop_event = threading.Event()

    def once(self) -> float:
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(self.url, timeout=10) as response:
                response.read()
        except Exception:
            return float("nan")
        return (time.perf_counter() - start) * 1e3

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.samples.append((time.time(), self.once()))
            self._stop_event.wait(self.period_s)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=15)


def _window(times: list[float], t0: float, t1: float) -> list[float]:
    return [t for t in times if t0 <= t <= t1]


def _sim_speed(samples: list[tuple[float, float]], t0: float, t1: float) -> float | None:
    inside = [(w, s) for w, s in samples if t0 <= w <= t1]
    if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
        return None
    return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


def _summary(values: list[float]) -> dict[str, float | None]:
    vals = [v for v in values if v is not None and np.isfinite(v)]
    if not vals:
        return {"mean": None, "min": None, "max": None}
    return {
        "mean": round(statistics.mean(vals), 3),
        "min": round(min(vals), 3),
        "max": round(max(vals), 3),
    }


def _browser_session(browser: Any, url: str) -> Any:
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(HOOKS_JS)
    page = context.new_page()
    page.goto(url, wait_until="domcontentloaded")
    wait_for_plots(page, 3, timeout_ms=300_000)
    page.evaluate("() => snnviz.hookStreams()")
    page.get_by_role("button", name=re.compile("Play")).click()
    page.wait_for_function("() => snnviz.streams.length > 0", timeout=300_000, polling=100)
    return context, page


_BROWSER_WINDOW_JS = r"""
([t0, t1]) => {
  let traces = null;
  for (const s of snnviz.renderedSources()) if ("y0" in s.data) traces = s.id;
  const frames = snnviz.streams.filter(s => s[1] === traces && s[0] >= t0 && s[0] <= t1);
  return frames.length;
}
"""
_BROWSER_SIM_JS = r"""
() => {
  for (const m of snnviz.models()) {
    const hit = (typeof m.text === "string" ? m.text : "").match(/t = ([0-9.]+) s \u00b7 g = /);
    if (hit) return [performance.now(), parseFloat(hit[1])];
  }
  return [performance.now(), null];
}
"""


def main(
    seconds: float = 300.0,
    sessions: int = 20,
    browsers: int = 1,
    n_neurons: int = 1000,
    warmup_s: float = 10.0,
    stagger_s: float = 0.5,
    server_env: dict[str, str] | None = None,
) -> dict:
    """Run the load and measure (see the module docstring); ``server_env`` is added to the
    server's environment (e.g. ``{"MALLOC_ARENA_MAX": "2"}`` to test allocator effects)."""
    from playwright.sync_api import sync_playwright

    n_clients = max(0, sessions - browsers)
    query = f"page=network_lab&n_neurons={n_neurons}"
    with (
        serve_app(timeout_s=600, env=server_env) as server,
        sync_playwright() as playwright,
    ):
        probe = LagProbe(server.base)
        baseline = min(probe.once() for _ in range(20))
        idle_rss = process_rss_mb(server.proc.pid)
        probe.start()
        browser = launch_chromium(playwright)
        worker = None
        try:
            ramp_s = n_clients * stagger_s
            t_measure0 = time.time() + ramp_s + warmup_s + 5.0
            t_measure1 = t_measure0 + seconds
            worker = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.concurrency",
                    "--client-worker",
                    str(server.port),
                    str(n_clients),
                    query,
                    str(stagger_s),
                    str(t_measure1),
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            pages = [
                _browser_session(browser, f"{server.app_url}?{query}") for _ in range(browsers)
            ]
            if time.time() > t_measure0:
                raise RuntimeError("the browser page(s) took longer to start than the ramp-up")
            time.sleep(max(0.0, t_measure0 - time.time()))
            cpu = CpuMeter(server.proc.pid)
            cpu.start()
            marks = [
                (page, page.evaluate("() => performance.now()"), page.evaluate(_BROWSER_SIM_JS))
                for _, page in pages
            ]
            rss: list[tuple[float, float]] = []
            while time.time() < t_measure1:  # bounded: ends at t_measure1
                rss.append((time.time(), process_rss_mb(server.proc.pid)))
                time.sleep(min(5.0, max(0.0, t_measure1 - time.time())))
            rss.append((time.time(), process_rss_mb(server.proc.pid)))
            cpu_use = cpu.stop()
            browser_rows = []
            for page, p0, sim0 in marks:
                p1, sim1 = page.evaluate(_BROWSER_SIM_JS)
                frames = page.evaluate(_BROWSER_WINDOW_JS, [p0, p1])
                wall = (p1 - p0) / 1000
                browser_rows.append(
                    {
                        "updates_per_s": round(frames / wall, 2),
                        "sim_x": round((sim1 - sim0[1]) / wall, 3)
                        if sim0[1] is not None and sim1 is not None
                        else None,
                    }
                )
            stdout, stderr = worker.communicate(timeout=seconds + 120)
            if worker.returncode != 0 or not stdout.strip():
                raise RuntimeError(
                    f"client process failed (exit {worker.returncode}):\n{stderr[-3000:]}"
                )
            records = json.loads(stdout)
            for context, _ in pages:
                context.close()
        finally:
            probe.stop()
            if worker is not None and worker.poll() is None:
                worker.kill()
                worker.wait(timeout=10)
            browser.close()
        log = server.log_tail(2_000_000)
    clients = []
    for key in sorted(records, key=int):
        rec = records[key]
        frames = _window(rec["frames"], t_measure0, t_measure1)
        clients.append(
            {
                "updates_per_s": round(len(frames) / seconds, 2),
                "max_gap_ms": round(1e3 * float(np.max(np.diff(frames))), 1)
                if len(frames) > 1
                else None,
                "sim_x": _sim_speed([tuple(s) for s in rec["sim"]], t_measure0, t_measure1),
                "error": rec["error"],
            }
        )
    lags = [ms - baseline for t, ms in probe.samples if t_measure0 <= t <= t_measure1]
    lags = [x for x in lags if np.isfinite(x)]
    rss_t = np.array([t for t, _ in rss]) - rss[0][0]
    rss_mb = np.array([m for _, m in rss])
    slope = float(np.polyfit(rss_t / 60, rss_mb, 1)[0]) if len(rss) >= 3 else float("nan")
    ups = [c["updates_per_s"] for c in clients] + [b["updates_per_s"] for b in browser_rows]
    sims = [c["sim_x"] for c in clients] + [b["sim_x"] for b in browser_rows]
    result = {
        "updates_per_s": _summary(ups),
        "sim_x": _summary(sims),
        "loop_lag_ms": {
            "baseline_response_ms": round(baseline, 2),
            "mean": round(statistics.mean(lags), 2) if lags else None,
            "p95": round(float(np.percentile(lags, 95)), 2) if lags else None,
            "max": round(max(lags), 2) if lags else None,
            "samples": len(lags),
        },
        "rss_mb": {
            "idle": round(idle_rss, 1),
            "start": round(float(rss_mb[0]), 1),
            "end": round(float(rss_mb[-1]), 1),
            "max": round(float(rss_mb.max()), 1),
            "slope_mb_per_min": round(slope, 2),
        },
    }
    mean_ups, mean_sim = result["updates_per_s"]["mean"], result["sim_x"]["mean"]
    lag_mean = result["loop_lag_ms"]["mean"]
    targets = {
        "updates_per_s_per_session": {
            "target_min": TARGET_UPDATES_PER_S,
            "met": bool(mean_ups and mean_ups >= TARGET_UPDATES_PER_S),
        },
        "sim_x": {"target_min": TARGET_SIM_X, "met": bool(mean_sim and mean_sim >= TARGET_SIM_X)},
        "loop_lag_mean_ms": {
            "target_max": TARGET_LAG_MS,
            "met": lag_mean is not None and lag_mean < TARGET_LAG_MS,
        },
        "rss_flat": {
            "target_max_slope_mb_per_min": RSS_SLOPE_MB_PER_MIN,
            "met": bool(np.isfinite(slope) and slope < RSS_SLOPE_MB_PER_MIN),
        },
    }
    return {
        "benchmark": "concurrency",
        "summary": {
            "sessions": sessions,
            "updates_per_s_mean": mean_ups,
            "sim_x_mean": mean_sim,
            "loop_lag_ms_mean": lag_mean,
            "rss_slope_mb_per_min": result["rss_mb"]["slope_mb_per_min"],
        },
        "targets": targets,
        **result,
        "cpu": cpu_use,
        "clients": clients,
        "browser_pages": browser_rows,
        "errors": sorted({c["error"] for c in clients if c["error"]}),
        "server_log": {
            "sessions_created": log.count("ServerConnection created"),
            "tracebacks": log.count("Traceback"),
        },
        "conditions": {
            "seconds": seconds,
            "sessions": sessions,
            "browsers": browsers,
            "protocol_clients": n_clients,
            "server_env": server_env or {},
            "n_neurons": n_neurons,
            "warmup_s": warmup_s,
            "cpu_count": os.cpu_count(),
            "load_avg_1min_at_end": round(os.getloadavg()[0], 2),
        },
    }


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--client-worker":
        port, n, query, stagger, stop_at = sys.argv[2:7]
        client_worker(int(port), int(n), query, float(stagger), float(stop_at))
        raise SystemExit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="measurement window")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--browsers", type=int, default=1, help="real Chromium pages among them")
    parser.add_argument("--n-neurons", type=int, default=1000)
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds before measuring")
    parser.add_argument(
        "--server-env", nargs="*", default=[], metavar="KEY=VALUE", help="server environment"
    )
    cli = parser.parse_args()
    env = dict(item.split("=", 1) for item in cli.server_env)
    result = main(
        cli.seconds, cli.sessions, cli.browsers, cli.n_neurons, cli.warmup, server_env=env
    )
    print(json.dumps(result, indent=1))
