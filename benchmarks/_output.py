"""Shared output of the benchmark scripts' command lines."""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def write_result(result: dict, out: str | Path, table: str) -> Path:
    """Write ``result`` as JSON to ``out`` (folders created), print ``table`` and the path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(table)
    print(f"wrote {out}")
    return out
