"""The demo contract every page implements (see DESIGN.md, "The demo contract")."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import panel as pn

from ._result import Claim, ClaimResult, Result

Progress = Callable[[float, str], None]


def _no_progress(fraction: float, message: str) -> None:
    del fraction, message


def _parameter_names(parameterized: Any) -> list[str]:
    return [name for name in parameterized.param if name != "name"]


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

    def follow_model(
        self,
        reactions: Mapping[Callable[..., None], Sequence[str] | None],
        on_replaced: Callable[[], None],
    ) -> None:
        """Watch the parameters of the page's ``model`` (a ``param.ClassSelector``): each
        callback in ``reactions`` gets the events of the parameters it names (``None``: all of
        them). When ``model`` is replaced (a preset, a notebook assignment), the watchers move
        to the new model and ``on_replaced()`` runs once."""

        def watch(model: Any) -> list[Any]:
            return [
                model.param.watch(
                    callback, list(names) if names is not None else _parameter_names(model)
                )
                for callback, names in reactions.items()
            ]

        watchers = watch(self.model)

        def replaced(event: Any) -> None:
            nonlocal watchers
            for watcher in watchers:
                event.old.param.unwatch(watcher)
            watchers = watch(event.new)
            on_replaced()

        self.param.watch(replaced, "model")

    def _guard(self, action: Callable[[], Any]) -> bool:
        """Run ``action``; a ``ValueError`` or ``FloatingPointError`` (bad input, a model that
        blew up) goes to the page's ``banner`` instead of the server log. True on success
        (the banner is cleared)."""
        try:
            action()
        except (ValueError, FloatingPointError) as err:
            self.banner.show(str(err))
            return False
        self.banner.clear()
        return True

    def live_change(self, model: Any, loop: Any, banner: Any, *, rebuild: bool = False) -> str:
        """The first reaction of a live page to a parameter change of ``model``.

        Returns ``"invalid"`` after pausing ``loop`` and showing ``model.validate()``'s message
        on ``banner``; ``"rebuild"`` after ``loop.reset()`` when ``model.structure_key()``
        differs from the page's ``_structure`` (or ``rebuild`` is set): the page rebuilds in
        its ``on_reset`` once no chunk is running; otherwise ``"update"`` (banner cleared): the
        page swaps the traced values of the same compiled shapes.
        """
        try:
            model.validate()
        except ValueError as err:
            loop.pause()
            banner.show(str(err))
            return "invalid"
        banner.clear()
        if rebuild or model.structure_key() != self._structure:
            loop.reset()
            return "rebuild"
        return "update"

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
