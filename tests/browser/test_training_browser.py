"""The training pages in a real browser: Play starts training (the learning curves stream and
the step count in the readout grows), Pause stops it."""

from __future__ import annotations

import re

import pytest

from snnviz.gallery import PAGES

pytestmark = pytest.mark.browser

TRAINING_PAGES = ["lohoff2024_snnax", "wunderlich2021_eventprop", "goeltz2025_delgrad"]

# The training readout, "step 1200 / 3000 · epoch 3.2 · ..." (the budget part is optional),
# HTML-escaped inside a markup model's text (e.g. "&lt;p&gt;step 1200 ...").
_STEP_JS = r"""
() => {
  for (const m of snnviz.models()) {
    const text = typeof m.text === "string" ? m.text : "";
    const hit = text.match(/(?:^|[^a-z])step ([0-9,]+)(?: \/ [0-9,]+)? \u00b7 /);
    if (hit) return parseInt(hit[1].replace(/,/g, ""));
  }
  return null;
}
"""


@pytest.mark.slow  # the first training call compiles
@pytest.mark.parametrize("slug", TRAINING_PAGES)
def test_training_page_starts_and_pauses(browser_page, app_url: str, slug: str) -> None:
    assert slug in PAGES, f"{slug} is not registered in the gallery"
    bp = browser_page
    bp.open(f"{app_url}?page={slug}", canvases=2)
    assert bp.js("() => snnviz.hookStreams()") >= 1
    bp.page.get_by_role("button", name=re.compile("Play")).first.click()
    bp.page.wait_for_function(
        f"() => {{ const s = ({_STEP_JS})(); return s !== null && s > 0; }}",
        timeout=120_000,
        polling=100,
    )
    first = bp.js(_STEP_JS)
    bp.page.wait_for_function(
        f"(first) => ({_STEP_JS})() > first", arg=first, timeout=60_000, polling=100
    )
    assert bp.js("() => snnviz.streams.length") > 0, "the learning curves never streamed"
    bp.screenshot(f"{slug}_training")

    bp.page.get_by_role("button", name=re.compile("Pause")).first.click()
    bp.page.get_by_role("button", name=re.compile("Play")).first.wait_for(timeout=30_000)
    bp.page.wait_for_timeout(1500)  # a call already on the worker may still land
    paused_at = bp.js(_STEP_JS)
    bp.page.wait_for_timeout(1000)
    assert bp.js(_STEP_JS) == paused_at, "training went on after Pause"
    bp.assert_no_errors()
