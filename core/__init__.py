"""snnviz.core: the pure-JAX spiking engine (no param, panel, holoviews or bokeh here).

Installed as ``snnviz.core`` (setuptools package-dir mapping of the top-level ``core/``).
Import it as ``snnviz.core``; a bare ``import core`` from the repository root would create a
second, distinct copy of every module and is refused.
"""

if __name__ != "snnviz.core":  # pragma: no cover - exercised by a subprocess test
    raise ImportError(
        f"the engine was imported as {__name__!r}; import it as `snnviz.core` "
        "(install the project with `pip install -e .` and write `from snnviz.core import ...`)"
    )

from ._cache import enable_compilation_cache as enable_compilation_cache
