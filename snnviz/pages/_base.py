"""The demo contract every page implements (see DESIGN.md, "The demo contract")."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

import panel as pn

from ._result import Claim, ClaimResult, Result

Progress = Callable[[float, str], None]


def _no_progress(fraction: float, message: str) -> None:
    del fraction, message


class DemoPage(pn.viewable.Viewer):
    """Base class of every demo page: a Parameterized whose params are the page's controls.

    Subclasses set the class attributes, implement ``__panel__`` (the live page) and
    ``_measure(quick, progress) -> (metrics, figures)``; ``claims`` name the metrics that
    decide them and ``_judge`` compares. ``reproduce`` is headless and deterministic.
    """

    slug: ClassVar[str]
    title: ClassVar[str]
    summary: ClassVar[str]
    reference: ClassVar[str]  # authors, year, venue, DOI/arXiv
    claims: ClassVar[tuple[Claim, ...]]
    url_params: ClassVar[tuple[str, ...]] = ()  # params synced to the URL query string

    def panel(self) -> pn.viewable.Viewable:
        """The live page (same object in ``panel serve`` and in a notebook)."""
        return self.__panel__()

    def reproduce(self, quick: bool = True, progress: Progress | None = None) -> Result:
        """Recompute the page's results headless and compare them with the paper's claims."""
        progress = progress or _no_progress
        start = time.perf_counter()
        metrics, figures = self._measure(quick, progress)
        verdicts = [self._judge(claim, metrics) for claim in self.claims]
        progress(1.0, "done")
        return Result(self.slug, quick, verdicts, metrics, figures, time.perf_counter() - start)

    def _measure(self, quick: bool, progress: Progress) -> tuple[dict[str, Any], dict[str, Any]]:
        raise NotImplementedError

    def _judge(self, claim: Claim, metrics: dict[str, Any]) -> ClaimResult:
        raise NotImplementedError
