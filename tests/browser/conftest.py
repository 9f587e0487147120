"""Fixtures for the real-browser tests: one headless Chromium per session, a fresh page per test.

The server comes from the suite's ``panel_server``/``app_url`` fixtures (tests/conftest.py); the
Chromium flags, the ``window.snnviz`` JS hooks and the predicates from ``benchmarks/_browser.py``
(shared with the benchmarks and ``scripts/make_screenshots.py``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks._browser import HOOKS_JS, VIEWPORT, launch_chromium, wait_for_plots

# Chromium's own complaints about software GL are warnings, not page errors; nothing else is
# excused.
_IGNORED_ERRORS = (re.compile(r"GPU stall due to ReadPixels"),)


@dataclasses.dataclass
class BrowserPage:
    """A playwright page with the ``window.snnviz`` hooks and its console/page errors."""

    page: Any
    errors: list[str]
    artifacts: Path

    def open(self, url: str, *, canvases: int = 1, timeout_ms: float = 90_000) -> None:
        """Go to ``url`` and wait for a Bokeh document with ``canvases`` visible canvases."""
        self.page.goto(url, wait_until="domcontentloaded")
        if canvases:
            wait_for_plots(self.page, canvases, timeout_ms)
        else:
            self.page.wait_for_function(
                "() => window.Bokeh && Bokeh.documents.length > 0", timeout=timeout_ms
            )

    def js(self, expression: str, arg: Any = None) -> Any:
        return self.page.evaluate(expression, arg)

    def screenshot(self, name: str, *, full_page: bool = True) -> Path:
        """Save ``test-artifacts/browser/<name>.png`` and return its path."""
        path = self.artifacts / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def assert_no_errors(self) -> None:
        errors = [e for e in self.errors if not any(p.search(e) for p in _IGNORED_ERRORS)]
        assert not errors, "browser console/page errors:\n" + "\n".join(errors)


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    """One headless Chromium per test module (closed after it, so no playwright event loop
    outlives the browser tests)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = launch_chromium(playwright, chromium_path)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture(scope="session")
def artifacts(repo_root: Path) -> Path:
    """``test-artifacts/browser/`` (git-ignored): screenshots of every browser test."""
    path = repo_root / "test-artifacts" / "browser"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def browser_page(browser: Any, artifacts: Path) -> Iterator[BrowserPage]:
    """A new 1280x800 page in its own context; closed after the test (ending its session)."""
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(HOOKS_JS)
    page = context.new_page()
    errors: list[str] = []
    page.on(
        "console",
        lambda msg: (
            errors.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None
        ),
    )
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    try:
        yield BrowserPage(page, errors, artifacts)
    finally:
        context.close()
