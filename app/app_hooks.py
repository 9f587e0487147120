"""Bokeh server lifecycle hooks for `panel serve app` (run once per server process)."""

from __future__ import annotations

import logging
import time

log = logging.getLogger("snnviz.app")
log.setLevel(logging.INFO)  # warm-up timings belong in the server log


def on_server_loaded(server_context) -> None:
    """Enable the JAX compilation cache and warm every page's JIT once per process.

    A page class may define a ``warm_up()`` classmethod that runs its jitted code on the
    shapes a session uses first, so the first visitor does not wait for XLA. A page that
    fails to import or warm up is logged and skipped: the server still starts.
    """
    del server_context
    from snnviz.core import enable_compilation_cache

    cache = enable_compilation_cache()
    from snnviz.gallery import PAGES, load_page

    log.info("snnviz: JAX compilation cache at %s", cache)
    total = time.perf_counter()
    for slug in PAGES:
        start = time.perf_counter()
        try:
            warm_up = getattr(load_page(slug), "warm_up", None)
            if callable(warm_up):
                warm_up()
                log.info("snnviz: warmed %s in %.2f s", slug, time.perf_counter() - start)
        except ModuleNotFoundError as err:
            log.warning("snnviz: page %r not available: %s", slug, err)
        except Exception:
            log.exception("snnviz: warm-up of page %r failed (the page may show an error)", slug)
    log.info("snnviz: warm-up done in %.2f s", time.perf_counter() - total)
