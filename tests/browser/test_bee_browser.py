"""The bee page in a real browser: "Run one journey" flies the agent out and home."""

from __future__ import annotations

import re

import pytest

from snnviz.gallery import PAGES

pytestmark = pytest.mark.browser


@pytest.mark.slow  # a whole 3000-step journey plays at 4x: ~15-30 s
def test_one_journey_flies_out_and_home(browser_page, app_url: str) -> None:
    assert "schreiber2023_bee" in PAGES
    bp = browser_page
    bp.open(f"{app_url}?page=schreiber2023_bee", canvases=2)
    bp.js("() => snnviz.hookUpdates()")
    bp.page.get_by_role("button", name="Run one journey").click()
    # the readout (a Markdown pane in shadow DOM: Playwright's locators pierce it)
    bp.page.get_by_text(re.compile(r"step \d+ / 3000 \(outbound\)")).first.wait_for(timeout=60_000)
    bp.page.get_by_text(re.compile(r"\(homing\)")).first.wait_for(timeout=120_000)
    bp.page.get_by_text(re.compile(r"step 3000 / 3000")).first.wait_for(timeout=120_000)
    assert bp.js("() => snnviz.updatesSince(0)") > 10, "the journey plots never updated"
    bp.screenshot("schreiber2023_bee_journey")
    bp.assert_no_errors()
