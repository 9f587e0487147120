"""Packaging: top-level ``core/`` is importable only as ``snnviz.core``, and a wheel ships all of
it under ``snnviz/core`` (sub-packages included) and nothing as a top-level ``core``."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run(args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_engine_imports_as_snnviz_core_from_anywhere(tmp_path):
    code = (
        "import snnviz.core.neurons, snnviz.core.sim, snnviz.core.inputs; "
        "from snnviz.core.neurons import LIF, AdLIF, AdEx; print(snnviz.core.__name__)"
    )
    result = _run(["-c", code], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "snnviz.core"


def test_bare_core_import_is_refused_from_the_repo_root():
    """``import core`` would load a second copy of every engine module: refused with a hint."""
    result = _run(["-c", "import core"], cwd=REPO)
    assert result.returncode != 0
    assert "ImportError" in result.stderr
    assert "import it as `snnviz.core`" in result.stderr


def _build_wheel(src: Path, out: Path) -> tuple[subprocess.CompletedProcess, str]:
    """Build with the venv's own setuptools first; if that cannot make wheels (setuptools < 70
    without the ``wheel`` package has no ``bdist_wheel``), let pip fetch the backend named in
    pyproject.toml into an isolated environment. Returns the result and how it was built."""
    base = ["-m", "pip", "wheel", "--no-deps", "--no-cache-dir", "-w", str(out), "."]
    offline = _run([*base, "--no-build-isolation"], cwd=src, timeout=300)
    if offline.returncode == 0:
        return offline, "--no-build-isolation"
    reason = (offline.stderr.strip().splitlines() or ["?"])[-1]
    return _run(base, cwd=src, timeout=600), f"build isolation; offline build said {reason!r}"


@pytest.mark.slow
def test_wheel_contains_the_whole_engine_under_snnviz(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(REPO / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("core", "snnviz"):
        shutil.copytree(REPO / name, src / name, ignore=ignore)

    result, how = _build_wheel(src, tmp_path / "dist")
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-5:])
        if any(
            s in result.stderr
            for s in (
                "Could not find a version",
                "No matching distribution",
                "NewConnectionError",
                "Network is unreachable",
            )
        ):
            pytest.skip(f"cannot build a wheel offline here ({how}); pip said:\n{tail}")
        pytest.fail(f"pip wheel failed ({how}):\n{tail}")

    (wheel,) = (tmp_path / "dist").glob("snnviz-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "snnviz/core/" + p.relative_to(REPO / "core").as_posix()
        for p in (REPO / "core").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert {
        "snnviz/core/neurons/lif.py",
        "snnviz/core/neurons/adex.py",
        "snnviz/core/sim/_scan.py",
    } <= expected
    assert expected <= names, sorted(expected - names)
    assert "snnviz/py.typed" in names
    top_level = {n.split("/")[0] for n in names}
    assert "core" not in top_level, sorted(n for n in names if n.startswith("core/"))
    assert all(t == "snnviz" or t.endswith(".dist-info") for t in top_level), top_level
