"""JAX persistent compilation cache, shared by the app, notebooks and the test suite."""

from __future__ import annotations

import os
from pathlib import Path

import jax

_DEFAULT = Path(__file__).resolve().parent.parent / ".cache" / "jax"


def enable_compilation_cache(path: str | os.PathLike | None = None) -> Path:
    """Point JAX's persistent compilation cache at ``path`` and cache every compile.

    The default is ``$SNNVIZ_JAX_CACHE`` or ``<project>/.cache/jax`` for a source checkout
    (``~/.cache/snnviz/jax`` for an installed wheel). Call before the first jitted call.
    """
    chosen = Path(path or os.environ.get("SNNVIZ_JAX_CACHE") or _default_dir())
    chosen.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(chosen))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return chosen


def _default_dir() -> Path:
    if (_DEFAULT.parent.parent / "pyproject.toml").exists():
        return _DEFAULT
    return Path.home() / ".cache" / "snnviz" / "jax"
