"""Bokeh server lifecycle hooks for `panel serve app` (run once per server process)."""

from __future__ import annotations

import logging

log = logging.getLogger("snnviz.app")
log.setLevel(logging.INFO)  # warm-up timings belong in the server log


def on_server_loaded(server_context) -> None:
    """Enable the JAX compilation cache and warm every page's JIT on a background thread.

    A page class may define a ``warm_up()`` classmethod that runs its jitted code on the shapes
    a session uses first, so the first visitor does not wait for XLA (see ``snnviz.warmup``).
    """
    del server_context
    from snnviz.core import enable_compilation_cache

    cache = enable_compilation_cache()
    from snnviz.gallery import PAGES
    from snnviz.warmup import start_warm_up

    log.info("snnviz: JAX compilation cache at %s", cache)
    start_warm_up(PAGES)
