"""Warm every page's compiled code once per server process, off the request path.

``panel serve app`` calls :func:`start_warm_up` from ``on_server_loaded``: a daemon thread calls
each page class's optional ``warm_up()`` classmethod in gallery order, so the server accepts
connections at once. A session that opens a page whose warm-up is running waits for it (:func:`wait_until_warm`)
instead of compiling the same functions a second time in parallel; one whose warm-up has not
started yet does not wait for the pages before it.
A page that fails to import or warm up is logged and skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

log = logging.getLogger("snnviz.app")

#: Logged once every page has been warmed (tests and benchmarks wait for it).
WARM_UP_DONE = "snnviz: warm-up done"

_lock = threading.Lock()
_done: dict[str, threading.Event] = {}
_started: set[str] = set()


def start_warm_up(slugs: Iterable[str]) -> threading.Thread:
    """Warm ``slugs`` in order on a daemon thread; returns the thread."""
    from .gallery import load_page

    slugs = list(slugs)
    with _lock:
        for slug in slugs:
            _done.setdefault(slug, threading.Event())

    def run() -> None:
        total = time.perf_counter()
        for slug in slugs:
            start = time.perf_counter()
            with _lock:
                _started.add(slug)
            try:
                warm_up = getattr(load_page(slug), "warm_up", None)
                if callable(warm_up):
                    warm_up()
                    log.info("snnviz: warmed %s in %.2f s", slug, time.perf_counter() - start)
            except ModuleNotFoundError as err:
                log.warning("snnviz: page %r not available: %s", slug, err)
            except Exception:
                log.exception(
                    "snnviz: warm-up of page %r failed (the page may show an error)", slug
                )
            finally:
                _done[slug].set()
        log.info("%s in %.2f s", WARM_UP_DONE, time.perf_counter() - total)

    thread = threading.Thread(target=run, name="snnviz-warm-up", daemon=True)
    thread.start()
    return thread


def wait_until_warm(slug: str, timeout_s: float = 60.0) -> bool:
    """Block while ``slug``'s warm-up runs: True once it has finished, False after ``timeout_s``.

    Returns at once when its warm-up has not started yet (the session compiles what it needs
    itself rather than waiting for the pages warmed before it) or was never scheduled (e.g. in
    a notebook).
    """
    with _lock:
        event = _done.get(slug) if slug in _started else None
    if event is None or event.wait(timeout_s):
        return True
    log.warning(
        "snnviz: page %r still warming up after %.0f s; building it anyway", slug, timeout_s
    )
    return False
