"""Bokeh server lifecycle hooks for `panel serve app` (run once per server process)."""

from __future__ import annotations

import logging

log = logging.getLogger("snnviz.app")
log.setLevel(logging.INFO)  # warm-up timings belong in the server log


def _enable_cache() -> None:
    from snnviz.core import enable_compilation_cache  # imports JAX: on the warm-up thread

    log.info("snnviz: JAX compilation cache at %s", enable_compilation_cache())


def on_server_loaded(server_context) -> None:
    """Start warming the pages' JIT on a background thread (JAX's compilation cache is enabled
    there first), so the server is live as soon as Panel is.

    A page class may define a ``warm_up()`` classmethod that runs its jitted code on the shapes
    a session uses first, so the first visitor does not wait for XLA (see ``snnviz.warmup``).
    """
    del server_context
    from snnviz.gallery import PAGES
    from snnviz.warmup import start_warm_up

    start_warm_up(PAGES, setup=_enable_cache)
