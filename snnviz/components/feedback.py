"""User feedback: a thread-safe progress reporter and an error banner.

Both may be called from any thread: off the thread that created them, the update is handed to the
session's document thread (``doc.add_next_tick_callback`` on a server) and coalesced, so a tight
loop reporting progress sends at most one update per tick.

Example (a Reproduce button)::

    progress = ProgressReporter()
    banner = ErrorBanner()
    button = pn.widgets.Button(name="Reproduce", disabled=progress.param.busy)
    button.on_click(lambda _: progress.run(
        lambda report: page.reproduce(quick=True, progress=report),
        on_done=show_result, on_error=banner.show))
    pn.Column(button, progress, banner)
"""

from __future__ import annotations

import concurrent.futures
import logging
import math
import threading
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import panel as pn
import param

from . import _runtime
from .scheduler import worker_pool

log = logging.getLogger(__name__)
T = TypeVar("T")


class _OwnerThread:
    """Runs updates on the thread that created the component, coalescing cross-thread calls."""

    def __init__(self, doc: Any = None, dispatch: _runtime.Dispatch | None = None) -> None:
        self._owner = threading.get_ident()
        doc = doc if doc is not None else _runtime.current_doc()
        self._dispatch = dispatch if dispatch is not None else _runtime.dispatcher_for(doc)
        self._lock = threading.Lock()
        self._pending: set[Callable[[], None]] = set()

    def run(self, apply: Callable[[], None], *, coalesce: bool = True) -> None:
        """Call ``apply`` now if on the owner thread, else on the owner's next tick.

        With ``coalesce``, ``apply`` (a method that reads the newest state) is scheduled at
        most once until it has run.
        """
        if threading.get_ident() == self._owner:
            apply()
            return
        if not coalesce:
            self._dispatch(apply)
            return
        with self._lock:
            if apply in self._pending:
                return  # the scheduled call will read the newest state
            self._pending.add(apply)

        def run_scheduled() -> None:
            with self._lock:
                self._pending.discard(apply)
            apply()

        self._dispatch(run_scheduled)


class ErrorBanner(pn.viewable.Viewer):
    """A ``pn.pane.Alert`` that is hidden until :meth:`show` and hidden again by :meth:`clear`.

    ``banner.show`` has the signature of ``LiveLoop(on_error=...)``.
    """

    def __init__(
        self,
        *,
        alert_type: Literal["danger", "warning", "info"] = "danger",
        doc: Any = None,
        dispatch: _runtime.Dispatch | None = None,
    ) -> None:
        super().__init__()
        self.alert = pn.pane.Alert(
            "", alert_type=alert_type, visible=False, sizing_mode="stretch_width"
        )
        self._thread = _OwnerThread(doc, dispatch)
        self._message = ""

    @property
    def message(self) -> str:
        """The message shown ('' when hidden)."""
        return self._message

    @property
    def visible(self) -> bool:
        return self.alert.visible

    def show(self, message: str) -> None:
        """Show ``message`` (safe from any thread)."""
        self._message = str(message)
        self._thread.run(self._apply)

    def clear(self) -> None:
        """Hide the banner."""
        self._message = ""
        self._thread.run(self._apply)

    def _apply(self) -> None:
        self.alert.object = self._message
        self.alert.visible = bool(self._message)

    def __panel__(self) -> pn.viewable.Viewable:
        return self.alert


class ProgressReporter(pn.viewable.Viewer):
    """A progress bar and a message line; callable as ``progress(fraction, message)``.

    The instance itself is the ``progress`` argument of ``DemoPage.reproduce``. :meth:`run`
    executes slow work on the process-wide worker pool and reports back on the session's thread;
    ``busy`` is true meanwhile (bind a button's ``disabled`` to ``reporter.param.busy``).
    """

    busy = param.Boolean(default=False, doc="True while work started by run() is in progress.")

    def __init__(self, *, doc: Any = None, dispatch: _runtime.Dispatch | None = None) -> None:
        super().__init__()
        self.bar = pn.indicators.Progress(
            value=0, max=1000, visible=False, sizing_mode="stretch_width", height=20
        )
        self.text = pn.pane.Str("", visible=False)
        self._thread = _OwnerThread(doc, dispatch)
        self._state_lock = threading.Lock()
        self._fraction = 0.0
        self._message = ""
        self._layout = pn.Column(self.bar, self.text, sizing_mode="stretch_width")

    @property
    def fraction(self) -> float:
        """The last reported fraction in [0, 1]."""
        return self._fraction

    @property
    def message(self) -> str:
        """The last reported message."""
        return self._message

    def __call__(self, fraction: float, message: str = "") -> None:
        """Report progress (safe from any thread): ``fraction`` in [0, 1] (clipped)."""
        f = float(fraction)
        with self._state_lock:
            if math.isfinite(f):
                self._fraction = min(1.0, max(0.0, f))
            self._message = str(message)
        self._thread.run(self._apply)

    update = __call__

    def reset(self) -> None:
        """Hide the bar and the message."""
        with self._state_lock:
            self._fraction, self._message = 0.0, ""
        self._thread.run(self._apply_hidden)

    def run(
        self,
        work: Callable[[ProgressReporter], T],
        *,
        on_done: Callable[[T], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        executor: concurrent.futures.Executor | None = None,
        background: bool = True,
    ) -> concurrent.futures.Future[T] | None:
        """Run ``work(self)`` on a worker thread; afterwards call ``on_done(result)`` or
        ``on_error(message)`` on the session's thread. Returns None (and does nothing) when
        work is already running. ``background=False`` (headless use, tests) runs ``work`` and
        ``on_done`` here and now; an exception propagates to the caller."""
        if not background:
            result = work(self)
            if on_done is not None:
                on_done(result)
            return None
        if self.busy:
            return None
        self.busy = True
        self(0.0, "starting…")
        future = (executor or worker_pool()).submit(work, self)

        def finished(fut: concurrent.futures.Future[T]) -> None:
            self._thread.run(lambda: self._finish(fut, on_done, on_error), coalesce=False)

        future.add_done_callback(finished)
        return future

    def _finish(
        self,
        future: concurrent.futures.Future[T],
        on_done: Callable[[T], None] | None,
        on_error: Callable[[str], None] | None,
    ) -> None:
        self.busy = False
        try:
            result = future.result()
        except Exception as exc:
            log.warning("background work failed", exc_info=True)
            message = f"{type(exc).__name__}: {exc}"
            self(self._fraction, f"failed: {message}")
            if on_error is not None:
                on_error(message)
            return
        self(1.0, "done")
        if on_done is not None:
            on_done(result)

    def _apply(self) -> None:
        with self._state_lock:
            fraction, message = self._fraction, self._message
        self.bar.value = round(1000 * fraction)
        self.bar.visible = True
        self.text.object = message
        self.text.visible = bool(message)

    def _apply_hidden(self) -> None:
        self.bar.value = 0
        self.bar.visible = False
        self.text.object = ""
        self.text.visible = False

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
