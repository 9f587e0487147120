"""Run every benchmark and collect the results.

A benchmark is a module ``benchmarks/<name>.py`` (not a ``_private`` helper) that defines
``main() -> dict``: callable with no arguments, returning JSON-serialisable results, ideally
with a short ``"summary"`` entry.
Each one runs in a fresh interpreter (so one benchmark's compiled code, threads or memory never
skew the next, and a crash stays contained); its dict is written to
``benchmarks/results/<name>.json`` and ``benchmarks/results/summary.json`` lists every
benchmark with its status, wall time and summary.

Run: ``python -m benchmarks.run_all [--only NAME ...] [--skip NAME ...] [--timeout S]``
(``make bench``). Exits non-zero if any benchmark failed.
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
ROOT = HERE.parent
NOT_BENCHMARKS = {"__init__", "run_all"}

_CHILD = """
import importlib, json, sys
result = importlib.import_module("benchmarks." + sys.argv[1]).main()
with open(sys.argv[2], "w") as f:
    json.dump(result, f, indent=1, default=str)
"""


def defines_main(path: Path) -> bool:
    """True if the module at ``path`` defines a top-level ``main`` function (read, not imported)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return any(isinstance(n, ast.FunctionDef) and n.name == "main" for n in tree.body)


def discover(only: list[str] | None = None, skip: list[str] | None = None) -> list[str]:
    """Names of the benchmark modules in ``benchmarks/``, sorted; filtered by ``only``/``skip``."""
    names = [
        p.stem
        for p in sorted(HERE.glob("*.py"))
        if p.stem not in NOT_BENCHMARKS and not p.stem.startswith("_") and defines_main(p)
    ]
    if only:
        unknown = sorted(set(only) - set(names))
        if unknown:
            raise SystemExit(f"run_all: unknown benchmark(s) {unknown}; available: {names}")
        names = [n for n in names if n in only]
    return [n for n in names if n not in set(skip or ())]


def run_one(name: str, timeout_s: float) -> dict:
    """Run ``benchmarks.<name>.main()`` in a child interpreter; write and return its status."""
    out = RESULTS / f"{name}.json"
    tmp = RESULTS / f".{name}.json.partial"
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, name, str(tmp)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        tmp.unlink(missing_ok=True)
        return {
            "name": name,
            "ok": False,
            "seconds": timeout_s,
            "error": f"timed out after {timeout_s} s",
        }
    seconds = time.perf_counter() - start
    if proc.returncode != 0 or not tmp.exists():
        tmp.unlink(missing_ok=True)
        return {"name": name, "ok": False, "seconds": seconds, "error": proc.stderr[-3000:]}
    tmp.replace(out)
    result = json.loads(out.read_text())
    summary = result.get("summary") if isinstance(result, dict) else None
    return {
        "name": name,
        "ok": True,
        "seconds": seconds,
        "output": str(out.relative_to(ROOT)),
        "summary": summary,
    }


def write_summary(statuses: list[dict]) -> Path:
    """Merge ``statuses`` into ``results/summary.json`` (entries of benchmarks not run are kept)."""
    path = RESULTS / "summary.json"
    previous = json.loads(path.read_text()).get("benchmarks", []) if path.exists() else []
    ran = {s["name"] for s in statuses}
    merged = [s for s in previous if s.get("name") not in ran] + statuses
    summary = {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "benchmarks": sorted(merged, key=lambda s: s["name"]),
    }
    path.write_text(json.dumps(summary, indent=1))
    return path


def main_cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run every benchmarks/*.py that defines main() -> dict."
    )
    parser.add_argument("--only", nargs="+", help="run just these benchmarks (module names)")
    parser.add_argument("--skip", nargs="+", help="leave these out")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per benchmark")
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    statuses = []
    for name in discover(args.only, args.skip):
        print(f"[run_all] {name} ...", flush=True)
        status = run_one(name, args.timeout)
        statuses.append(status)
        verdict = "ok" if status["ok"] else "FAILED"
        print(f"[run_all] {name}: {verdict} in {status['seconds']:.1f} s", flush=True)
        if status["ok"] and status.get("summary") is not None:
            print(json.dumps(status["summary"], indent=1), flush=True)
        elif not status["ok"]:
            print(status["error"], file=sys.stderr, flush=True)
    write_summary(statuses)
    print(f"[run_all] wrote {RESULTS / 'summary.json'}")
    return 0 if all(s["ok"] for s in statuses) else 1


if __name__ == "__main__":
    sys.exit(main_cli())
