"""The plasticity and attention pages (issue 6) in a real browser: a device slider re-renders
the gain-cell attention maps."""

from __future__ import annotations

import pytest

from snnviz.gallery import PAGES

pytestmark = pytest.mark.browser

#: A signature of every rendered attention heat map (sum of its weights column ``w``): it
#: changes when a map is recomputed.
_MAPS_JS = """
() => snnviz.renderedSources()
  .filter(s => "w" in s.data)
  .map(s => Array.from(s.data.w).reduce((a, b) => a + b, 0))
"""


def test_gain_cell_window_slider_changes_the_chip_map(browser_page, app_url: str) -> None:
    slug = "leroux2025_gaincell"
    assert slug in PAGES, f"{slug} is not registered in the gallery"
    bp = browser_page
    bp.open(f"{app_url}?page={slug}", canvases=2)
    bp.page.wait_for_function(f"() => ({_MAPS_JS})().length >= 2", timeout=60_000)
    before = bp.js(_MAPS_JS)
    found = bp.js(
        "() => { const s = snnviz.sliders('sliding window (tokens)'); "
        "if (s.length) s[0].value = 4; return s.length; }"
    )
    assert found >= 1, "no 'sliding window (tokens)' slider on the gain-cell page"
    # the server recomputes the chip's attention for the new window and the maps change
    bp.page.wait_for_function(
        f"(old) => JSON.stringify(({_MAPS_JS})()) !== JSON.stringify(old)",
        arg=before,
        timeout=30_000,
        polling=100,
    )
    bp.screenshot(f"{slug}_window_4")
    bp.assert_no_errors()
