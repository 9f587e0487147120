"""Warm every page's compiled code once per server process, off the request path.

``panel serve app`` calls :func:`start_warm_up` from ``on_server_loaded``: a daemon thread runs an
optional ``setup`` (e.g. enabling the JAX compilation cache, which imports JAX) and then calls
each page class's optional ``warm_up()`` classmethod in gallery order, so the server accepts
connections at once. A session that opens a page whose warm-up is running waits for it
(:func:`wait_until_warm`) instead of compiling the same functions a second time in parallel; one
whose warm-up has not started yet does not wait for the pages before it.

Only the first page is warmed at once. Before each later page the thread waits until no session
has been waiting for or building a page for ``quiet_s`` seconds (:func:`hold_warm_up`,
:func:`session_activity`, :func:`wait_for_quiet`): warming twelve pages holds the GIL for
seconds, and the first visitor's page must not share the CPU with pages nobody asked for yet.
A page's ``warm_up()`` may return *later stages* (callables, e.g. compiling the page's other
models): they run after every page's own warm-up, each one only when sessions are quiet, so no
page starts threads of its own. A page whose warm-up has returned counts as warm.
A page (or stage) that fails to import or warm up is logged and skipped.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator

log = logging.getLogger("snnviz.app")

#: Logged once every page has been warmed (tests and benchmarks wait for it).
WARM_UP_DONE = "snnviz: warm-up done"
#: Seconds without page building before the background warm-up goes on to the next page.
QUIET_S = 1.5

_lock = threading.Lock()
_done: dict[str, threading.Event] = {}
_started: set[str] = set()
_activity = {"active": 0, "last": float("-inf")}
_holds: dict[int, float] = {}  # hold id -> time.monotonic() deadline
_hold_ids = itertools.count()


@contextlib.contextmanager
def session_activity() -> Iterator[None]:
    """Mark a session's page build (and its first render) as running: the background warm-up
    of further pages waits until there has been none for a while."""
    with _lock:
        _activity["active"] += 1
    try:
        yield
    finally:
        with _lock:
            _activity["active"] -= 1
            _activity["last"] = time.monotonic()


def hold_warm_up(max_s: float = 15.0) -> Callable[[], None]:
    """Count a session whose page is on its way (HTML sent, page not built yet) as activity
    until the returned function is called, or for ``max_s`` seconds at most (a browser that
    never connects does not stop the warm-up)."""
    hold = next(_hold_ids)
    with _lock:
        _holds[hold] = time.monotonic() + max_s

    def release() -> None:
        with _lock:
            if _holds.pop(hold, None) is not None:
                _activity["last"] = time.monotonic()

    return release


def _busy(now: float) -> bool:
    for hold, deadline in list(_holds.items()):
        if deadline <= now:
            del _holds[hold]
    return _activity["active"] > 0 or bool(_holds)


def wait_for_quiet(quiet_s: float = QUIET_S, timeout_s: float = 60.0) -> bool:
    """Block until no session has been building a page for ``quiet_s`` seconds: True, or False
    after ``timeout_s`` (the caller goes on anyway, so a busy server still warms up)."""
    deadline = time.monotonic() + timeout_s
    while True:
        now = time.monotonic()
        with _lock:
            quiet = not _busy(now) and now - _activity["last"] >= quiet_s
        if quiet:
            return True
        if now >= deadline:
            return False
        time.sleep(0.05)


def start_warm_up(
    slugs: Iterable[str],
    *,
    setup: Callable[[], None] | None = None,
    quiet_s: float = QUIET_S,
) -> threading.Thread:
    """Warm ``slugs`` in order on a daemon thread (after ``setup()``); returns the thread.

    The first slug is warmed at once, each later one after :func:`wait_for_quiet`; then the
    later stages the pages' ``warm_up()`` returned, in order, each after :func:`wait_for_quiet`.
    """
    from .gallery import load_page

    slugs = list(slugs)
    with _lock:
        for slug in slugs:
            _done.setdefault(slug, threading.Event())
        if slugs:  # runs first: a session for it waits instead of compiling it a second time
            _started.add(slugs[0])

    def run() -> None:
        total = time.perf_counter()
        if setup is not None:
            try:
                setup()
            except Exception:
                log.exception("snnviz: warm-up setup failed")
        later: list[tuple[str, Callable[[], object]]] = []
        for i, slug in enumerate(slugs):
            if i:
                wait_for_quiet(quiet_s)
            start = time.perf_counter()
            with _lock:
                _started.add(slug)
            try:
                warm_up = getattr(load_page(slug), "warm_up", None)
                if callable(warm_up):
                    later.extend((slug, stage) for stage in warm_up() or ())
                    log.info("snnviz: warmed %s in %.2f s", slug, time.perf_counter() - start)
            except ModuleNotFoundError as err:
                log.warning("snnviz: page %r not available: %s", slug, err)
            except Exception:
                log.exception(
                    "snnviz: warm-up of page %r failed (the page may show an error)", slug
                )
            finally:
                _done[slug].set()
        for slug, stage in later:
            wait_for_quiet(quiet_s)
            try:
                stage()
            except Exception:
                log.exception("snnviz: a later warm-up stage of page %r failed", slug)
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
