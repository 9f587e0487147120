"""Shared plumbing for the browser benchmarks, the screenshot script and the browser tests.

* :func:`serve_app` starts ``panel serve app`` on a free 127.0.0.1 port (one process, liveness
  endpoint, explicit websocket origin, short unused-session lifetime), waits until it is live and
  always stops its whole process group afterwards.
* :func:`launch_chromium` starts Debian's headless Chromium through playwright (canvas backend;
  the flags measured in STACK.md section 3).
* :data:`HOOKS_JS` installs ``window.snnviz`` in a page: helpers to find Bokeh models and to
  count ``ColumnDataSource`` stream events (``ColumnsStreamed``) with timestamps.

Predicates passed to ``page.wait_for_function`` are always guarded
(``window.Bokeh && Bokeh.documents.length > 0 && ...``): a predicate that throws fails at once
instead of being retried.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("SNNVIZ_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}


# -- the server: snnviz.serving ----------------------------------------------------------------
from snnviz.serving import Server, ServerError, free_port, serve_app, stop_process_group  # noqa: E402,F401


def _tree_cpu_s(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of ``pid`` and its descendants, per process."""
    import psutil

    out: dict[int, float] = {}
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return out
    for proc in procs:
        try:
            times = proc.cpu_times()
            out[proc.pid] = times.user + times.system
        except psutil.Error:
            continue
    return out


class CpuMeter:
    """Where the machine's CPU went over an interval, in cores (CPU seconds per wall second).

    ``server``: the server's process tree; ``ours_other``: every other descendant of this
    process (playwright's driver, Chromium, load clients run as children); ``machine``: all
    busy CPU; ``others``: what the rest of the machine (anything we did not start) used.
    Call :meth:`start`, then :meth:`stop` for the numbers.
    """

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self._t0 = 0.0

    def _snapshot(self) -> tuple[float, dict[int, float], dict[int, float], float]:
        import psutil

        times = psutil.cpu_times()
        busy = sum(times) - times.idle - getattr(times, "iowait", 0.0)
        return time.perf_counter(), _tree_cpu_s(self.server_pid), _tree_cpu_s(os.getpid()), busy

    def start(self) -> None:
        self._first = self._snapshot()

    def stop(self) -> dict[str, float]:
        t1, server1, ours1, busy1 = self._snapshot()
        t0, server0, ours0, busy0 = self._first
        wall = max(t1 - t0, 1e-9)

        def delta(a: dict[int, float], b: dict[int, float], skip: set[int]) -> float:
            return sum(v - a.get(pid, 0.0) for pid, v in b.items() if pid not in skip)

        server = delta(server0, server1, set())
        ours_other = delta(ours0, ours1, set(server1) | {os.getpid()})
        this = delta(ours0, ours1, set(ours1) - {os.getpid()})
        machine = busy1 - busy0
        return {
            "wall_s": round(wall, 2),
            "server_cores": round(server / wall, 3),
            "browser_and_clients_cores": round((ours_other + this) / wall, 3),
            "machine_busy_cores": round(machine / wall, 3),
            "others_cores": round(max(0.0, machine - server - ours_other - this) / wall, 3),
            "cpu_count": os.cpu_count() or 0,
        }


def process_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its children (MB), or NaN if it is gone."""
    try:
        import psutil

        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs) / 2**20
    except Exception:
        return float("nan")


# -- the browser ----------------------------------------------------------------------------
def chromium_available(path: str = CHROMIUM) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def launch_chromium(playwright: Any, executable_path: str = CHROMIUM) -> Any:
    """Headless Debian Chromium via playwright's sync API (the caller closes it)."""
    if not chromium_available(executable_path):
        raise FileNotFoundError(
            f"no chromium at {executable_path}; install Debian's chromium "
            "(sudo apt-get install chromium) or set SNNVIZ_CHROMIUM"
        )
    return playwright.chromium.launch(executable_path=executable_path, args=CHROMIUM_ARGS)


#: Installs ``window.snnviz`` (idempotent). Call ``snnviz.hookStreams()`` once the document
#: exists to count stream events on every ColumnDataSource.
HOOKS_JS = r"""
(() => {
  if (window.snnviz) return;
  const S = {
    streams: [],          // [performance.now(), cds id, rows] per ColumnsStreamed
    hooked: new Set(),
    ready() {
      return !!(window.Bokeh && Bokeh.documents && Bokeh.documents.length > 0);
    },
    models() {
      const out = [];
      if (!S.ready()) return out;
      for (const doc of Bokeh.documents) out.push(...doc._all_models.values());
      return out;
    },
    byType(name) { return S.models().filter(m => m.type === name); },
    sources() { return S.byType("ColumnDataSource"); },
    views(pred) {
      // live views (what is rendered now; the document may still hold replaced models)
      if (!S.ready() || !Bokeh.index || !Bokeh.index.query) return [];
      return [...Bokeh.index.query(pred || (() => true))];
    },
    renderedSources() {
      const out = [];
      for (const v of S.views(v => v.model.type === "GlyphRenderer")) {
        const src = v.model.data_source;
        if (src && !out.includes(src)) out.push(src);
      }
      return out;
    },
    canvases() {
      // canvases live in the shadow DOM of Bokeh's custom elements
      const found = [];
      const walk = (node) => {
        if (!node) return;
        if (node.tagName === "CANVAS") found.push(node);
        if (node.shadowRoot) walk(node.shadowRoot);
        for (const c of node.children || []) walk(c);
      };
      walk(document.body);
      return found;
    },
    visibleCanvases(minW = 50, minH = 50) {
      return S.canvases().filter(c => {
        const r = c.getBoundingClientRect();
        return r.width >= minW && r.height >= minH;
      });
    },
    plots() {
      return S.views(v => v.model.type === "Figure" || v.model.type === "Plot").map(v => v.model);
    },
    sliders(title) {
      return S.models().filter(m => /Slider$/.test(m.type) && (title === undefined ||
                                    String(m.title).trim() === title));
    },
    hookStreams() {
      let n = 0;
      for (const src of S.sources()) {
        if (S.hooked.has(src.id)) continue;
        S.hooked.add(src.id);
        src.streaming.connect(() => {
          const cols = Object.values(src.data);
          const rows = cols.length ? cols[0].length : 0;
          S.streams.push([performance.now(), src.id, rows]);
        });
        n += 1;
      }
      return n;
    },
    updates: [],          // [performance.now(), cds id] per data stream, patch or replacement
    hookUpdates() {
      // every source (call again to catch sources created since): stream, patch, new data
      let n = 0;
      for (const src of S.sources()) {
        if (S.hooked.has("u" + src.id)) continue;
        S.hooked.add("u" + src.id);
        const note = () => S.updates.push([performance.now(), src.id]);
        src.streaming.connect(note);
        src.patching.connect(note);
        src.connect(src.properties.data.change, note);
        n += 1;
      }
      return n;
    },
    updatesSince(t0) {
      S.hookUpdates();
      return S.updates.filter(u => u[0] >= t0).length;
    },
    streamCount(since = 0) { return S.streams.filter(s => s[0] >= since).length; },
    snapshot(src) {
      // a JSON-able copy of a source's data (typed arrays -> arrays)
      const out = {};
      for (const [k, v] of Object.entries(src.data)) {
        out[k] = Array.from(v, x => (x && x.length !== undefined) ? Array.from(x) : x);
      }
      return out;
    },
  };
  window.snnviz = S;
})();
"""

#: JS predicate: a Bokeh document with at least ``n`` visible canvases (>= 50 x 50 px).
CANVAS_READY_JS = """
(n) => window.Bokeh && Bokeh.documents.length > 0 && window.snnviz &&
       snnviz.visibleCanvases().length >= n
"""


def install_hooks(page: Any) -> None:
    """Install :data:`HOOKS_JS` now and on every future navigation of ``page``."""
    page.add_init_script(HOOKS_JS)
    page.evaluate(HOOKS_JS)


def wait_for_plots(page: Any, n_canvases: int = 1, timeout_ms: float = 60_000) -> None:
    """Wait until the page has a Bokeh document and ``n_canvases`` visible canvases."""
    page.wait_for_function(CANVAS_READY_JS, arg=n_canvases, timeout=timeout_ms, polling=50)
