"""Shared test helpers: counting XLA compilations, and stand-in demo pages for registry tests.

Import as ``from tests.helpers import count_compilations`` (tests/conftest.py puts the
repository root on ``sys.path``).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

import jax

#: jax.monitoring event recorded once per executable produced by ``jit`` on jax 0.10.2, both
#: for a real XLA compile and for one loaded from the persistent compilation cache (verified
#: by experiment: the event fires around ``compile_or_get_cached``).
BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


@dataclasses.dataclass
class CompileLog:
    """What :func:`count_compilations` saw: one entry of ``names`` per compiled executable
    (``"jit(<function name>)"``)."""

    names: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    @property
    def count(self) -> int:
        return len(self.names)

    def matching(self, fragment: str) -> int:
        """Compilations whose function name contains ``fragment`` (ignores the small eager
        ops jax compiles on first use, e.g. ``jit(broadcast_in_dim)``)."""
        return sum(fragment in name for name in self.names)


@contextlib.contextmanager
def count_compilations() -> Iterator[CompileLog]:
    """Count XLA compilations inside the ``with`` block.

    >>> with count_compilations() as log:
    ...     f(x)
    >>> assert log.count == 0, log.names  # nothing recompiled
    """
    log = CompileLog()

    def listener(event: str, duration: float, **kwargs: Any) -> None:
        if event == BACKEND_COMPILE_EVENT:
            log.names.append(str(kwargs.get("fun_name", "?")))
            log.seconds += duration

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield log
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


# -- stand-in pages for gallery/CLI tests (register them with monkeypatch on gallery.PAGES) --
class Collect:
    """A dispatch that queues callbacks until ``run_all`` (stands in for the next server tick)."""

    def __init__(self) -> None:
        self.queue: list = []

    def __call__(self, callback) -> None:
        self.queue.append(callback)

    def run_all(self) -> int:
        n = 0
        while self.queue:
            self.queue.pop(0)()
            n += 1
        return n


def _fake_pages():
    import holoviews as hv
    import panel as pn
    import param

    from snnviz.pages import Claim, ClaimResult, DemoPage

    class Level(param.Parameterized):
        """A held sub-object, for dotted ``url_params`` (``"model.level"``)."""

        level = param.Number(0.5, bounds=(0.0, 1.0))

    class FakePage(DemoPage):
        """A page whose measured value is ``value``; its claim passes when ``value > 0``."""

        slug = "fake_pass"
        title = "Fake page"
        summary = "A stand-in page for registry tests."
        reference = "Nobody, 2026, doi:10.0000/fake"
        claims = (Claim(key="value", paper="value is 1.0", check="value > 0"),)
        url_params = ("gain", "model.level")

        value = param.Number(1.0)
        gain = param.Number(2.0, bounds=(0.0, 10.0))
        model = param.Parameter(None)

        def __init__(self, **params):
            super().__init__(**params)
            if self.model is None:
                self.model = Level()

        def __panel__(self):
            return pn.Column(pn.pane.Markdown(f"# {self.title}"), pn.Param(self.param.gain))

        def _measure(self, quick, progress):
            progress(0.5, "measuring")
            curve = hv.Curve([(0, 0), (1, self.value)], label="fake")
            return {"value": self.value}, {"curve": curve}

        def _judge(self, claim, metrics):
            measured = metrics[claim.key]
            return ClaimResult(claim, measured, measured > 0)

    class FailingPage(FakePage):
        slug = "fake_fail"
        title = "Failing fake page"
        value = param.Number(-1.0)

    class CrashingPage(FakePage):
        slug = "fake_crash"
        title = "Crashing fake page"

        def _measure(self, quick, progress):
            raise RuntimeError("simulated crash in _measure")

    return FakePage, FailingPage, CrashingPage, Level


_FAKES: dict[str, type] = {}


def __getattr__(name: str) -> Any:
    """Build the fake pages on first use, so importing this module stays light (no panel)."""
    if name in ("FakePage", "FailingPage", "CrashingPage", "Level"):
        if not _FAKES:
            _FAKES.update(
                zip(
                    ("FakePage", "FailingPage", "CrashingPage", "Level"), _fake_pages(), strict=True
                )
            )
        return _FAKES[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: ``gallery.PAGES`` entries for the stand-in pages.
FAKE_PAGES = {
    "fake_pass": "tests.helpers:FakePage",
    "fake_fail": "tests.helpers:FailingPage",
    "fake_crash": "tests.helpers:CrashingPage",
}
