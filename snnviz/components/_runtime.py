"""Where a component runs: a Bokeh server session, a notebook kernel, or plain Python (tests).

``dispatcher_for(doc)`` returns a function that runs a callback *on the thread that owns the
document*, safe to call from any thread:

* server session: ``doc.add_next_tick_callback`` (Bokeh takes the document lock);
* a running asyncio/tornado loop without a server session (Jupyter kernel): ``IOLoop.add_callback``
  on that loop;
* otherwise (scripts, tests): the callback runs immediately in the caller's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from bokeh.document import Document

Dispatch = Callable[[Callable[[], None]], Any]


def current_doc() -> Document | None:
    """The Bokeh document of the session being built, if any (``pn.state.curdoc``)."""
    import panel as pn

    return pn.state.curdoc


def is_server_doc(doc: Document | None) -> bool:
    """True when ``doc`` belongs to a live Bokeh/Panel server session."""
    return doc is not None and getattr(doc, "session_context", None) is not None


def _call_now(callback: Callable[[], None]) -> None:
    callback()


def dispatcher_for(doc: Document | None) -> Dispatch:
    """A thread-safe way to run callbacks where ``doc`` may be modified (see module docstring)."""
    if is_server_doc(doc):
        assert doc is not None
        return doc.add_next_tick_callback
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _call_now
    from tornado.ioloop import IOLoop

    return IOLoop.current().add_callback


@contextlib.contextmanager
def batched_events(doc: Document | None) -> Iterator[None]:
    """Combine all model changes made inside the block into one message per property.

    Only acts on a server session's document that is not already on hold.
    """
    if not is_server_doc(doc) or doc is None or doc.callbacks.hold_value is not None:
        yield
        return
    doc.hold("combine")
    try:
        yield
    finally:
        doc.unhold()


def on_session_destroyed(doc: Document | None, callback: Callable[[], None]) -> bool:
    """Call ``callback()`` when ``doc``'s server session ends; False outside a server."""
    if not is_server_doc(doc) or doc is None:
        return False
    doc.on_session_destroyed(lambda _session_context: callback())
    return True
