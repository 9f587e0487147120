"""Wall time of every page's quick ``reproduce()`` (the demo contract's budget: < 60 s on 2 cores).

Each page runs ``snnviz reproduce <slug>`` in a fresh interpreter, one page after another,
``repeats`` times: the first run of a page may fill the JAX compilation cache, later runs read
it, as a user's second run would. Recorded per page: wall seconds of each run (interpreter
start and imports included, so slightly above the page's own figure), the page's own seconds
as the CLI prints them, whether all claims passed, and the load average around the run (the
test suite no longer asserts these times: a loaded CI machine is not a measurement).

Run: ``python -m benchmarks.reproduce_times [--only SLUG ...] [--repeats 2]``; writes
``benchmarks/results/reproduce_times.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._output import write_result

BUDGET_S = 60.0
RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parent.parent
_SECONDS = re.compile(r"\(quick, ([0-9.]+) s\)")


def time_page(slug: str) -> dict:
    """One quick reproduce of ``slug`` in a child interpreter."""
    load = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "snnviz.cli", "reproduce", slug, "--workers", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    own = _SECONDS.search(proc.stdout)
    return {
        "wall_s": round(wall, 2),
        "page_s": float(own.group(1)) if own else None,
        "passed": proc.returncode == 0,
        "load_avg_1min_before": round(load, 2),
        "tail": proc.stdout.strip().splitlines()[-3:] if proc.returncode else [],
    }


def main(only: list[str] | None = None, repeats: int = 2) -> dict:
    """Time every page (or ``only`` these slugs); return the JSON-able results."""
    from snnviz import gallery

    slugs = [s for s in gallery.PAGES if not only or s in only]
    pages = {slug: [time_page(slug) for _ in range(repeats)] for slug in slugs}
    best = {slug: min(r["page_s"] or r["wall_s"] for r in runs) for slug, runs in pages.items()}
    return {
        "benchmark": "reproduce_times",
        "budget_s": BUDGET_S,
        "cpu_count": os.cpu_count(),
        "pages": pages,
        "summary": {
            "best_page_s": best,
            "over_budget": sorted(s for s, v in best.items() if v >= BUDGET_S),
            "all_passed": all(r["passed"] for runs in pages.values() for r in runs),
        },
    }


def format_table(result: dict) -> str:
    """A plain-text table of ``main()``'s result."""
    lines = [f"{'page':<28} {'runs: page s (wall s)':<36} passed"]
    for slug, runs in result["pages"].items():
        times = ", ".join(f"{r['page_s']} ({r['wall_s']})" for r in runs)
        lines.append(f"{slug:<28} {times:<36} {all(r['passed'] for r in runs)}")
    over = result["summary"]["over_budget"]
    lines.append(f"over the {result['budget_s']:g} s budget: {over or 'none'}")
    return "\n".join(lines)


def _cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", default=str(RESULTS / "reproduce_times.json"))
    args = parser.parse_args(argv)
    result = main(args.only, args.repeats)
    write_result(result, args.out, format_table(result))


if __name__ == "__main__":
    _cli()
