"""Shared page furniture: header, Reproduce section, the sidebar/main layout."""

from __future__ import annotations

from typing import TYPE_CHECKING

import panel as pn

from snnviz.components import ErrorBanner, ProgressReporter

if TYPE_CHECKING:
    from ._base import DemoPage
    from ._result import Result


def header(page: DemoPage, explanation: str) -> pn.viewable.Viewable:
    """Title, one-line summary, the reference and a short explanation of what to try."""
    return pn.pane.Markdown(
        f"## {page.title}\n{page.summary}\n\n*{page.reference}*\n\n{explanation}",
        sizing_mode="stretch_width",
        margin=(0, 10),
    )


def result_table(result: Result) -> str:
    """A Markdown table of a reproduce() result: claim, paper, measured value, verdict."""
    rows = ["| claim checked | paper | measured | |", "|---|---|---|---|"]
    for c in result.claims:
        mark = {"PASS": "✅ pass", "FAIL": "❌ FAIL", "SKIP": "⏭ skipped"}[c.verdict]
        measured = f"{c.measured:.4g}" if isinstance(c.measured, float) else str(c.measured)
        detail = f" ({c.detail})" if c.detail else ""
        rows.append(f"| {c.claim.check} | {c.claim.paper} | {measured}{detail} | {mark} |")
    mode = "quick" if result.quick else "full"
    return "\n".join(rows) + f"\n\n{mode} mode, {result.seconds:.1f} s"


class ReproduceSection(pn.viewable.Viewer):
    """A "Reproduce" button that runs ``page.reproduce(quick=True)`` off the event loop with a
    progress bar, then shows the claims table and the result's figures."""

    def __init__(self, page: DemoPage, banner: ErrorBanner) -> None:
        super().__init__()
        self._page = page
        self._banner = banner
        self.progress = ProgressReporter()
        self.button = pn.widgets.Button(label="Reproduce (quick)", color="primary")
        self.button.on_click(self._start)
        self.progress.param.watch(lambda e: setattr(self.button, "disabled", e.new), "busy")
        self.table = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.figures = pn.Column(sizing_mode="stretch_width")

    def _start(self, _event: object = None) -> None:
        self.table.object = ""
        self.progress.run(
            lambda report: self._page.reproduce(quick=True, progress=report),
            on_done=self._show,
            on_error=self._banner.show,
        )

    def _show(self, result: Result) -> None:
        self.table.object = result_table(result)
        self.figures[:] = [
            pn.pane.HoloViews(fig, sizing_mode="stretch_width") for fig in result.figures.values()
        ]

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            "### Reproduce the paper's claims",
            self.button,
            self.progress,
            self.table,
            self.figures,
            sizing_mode="stretch_width",
        )


def page_layout(
    page: DemoPage, explanation: str, sidebar: list, main: list
) -> pn.viewable.Viewable:
    """Controls in a fixed-width column on the left, live plots in the main area."""
    return pn.Column(
        header(page, explanation),
        pn.Row(
            pn.Column(*sidebar, width=320),
            pn.Column(*main, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        ),
        sizing_mode="stretch_width",
    )
