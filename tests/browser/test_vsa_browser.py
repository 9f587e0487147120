"""The vector-symbolic pages in a real browser: the grid-cell walk and the FSM run stream while
playing and stop on Pause; a family-tree query is answered."""

from __future__ import annotations

import re

import pytest

from snnviz.gallery import PAGES

pytestmark = pytest.mark.browser

COUNT_WINDOW_MS = 3000


def _plays_streams_and_pauses(bp, slug: str, min_updates: int) -> float:
    """Press Play, count the plots' data updates over a window, press Pause and check the
    updates stop; returns the updates per second."""
    bp.js("() => snnviz.hookUpdates()")
    bp.page.get_by_role("button", name=re.compile("Play")).first.click()
    bp.page.wait_for_function("() => snnviz.updatesSince(0) > 0", timeout=60_000, polling=100)
    t0 = bp.js("() => performance.now()")
    bp.page.wait_for_timeout(COUNT_WINDOW_MS)
    updates = bp.js("(t0) => snnviz.updatesSince(t0)", t0)
    rate = updates / (COUNT_WINDOW_MS / 1000)
    bp.screenshot(f"{slug}_playing")
    assert updates >= min_updates, f"{slug}: {updates} plot updates in {COUNT_WINDOW_MS} ms"

    bp.page.get_by_role("button", name=re.compile("Pause")).first.click()
    bp.page.get_by_role("button", name=re.compile("Play")).first.wait_for(timeout=30_000)
    bp.page.wait_for_timeout(1000)  # a frame already under way may still land
    t1 = bp.js("() => performance.now()")
    bp.page.wait_for_timeout(1500)
    assert bp.js("(t1) => snnviz.updatesSince(t1)", t1) == 0, f"{slug} went on after Pause"
    bp.assert_no_errors()
    return rate


@pytest.mark.slow
@pytest.mark.parametrize("slug", ["krausse2025_grid_cells", "cotteret2025_fsm"])
def test_live_vsa_page_plays_and_pauses(browser_page, app_url: str, slug: str) -> None:
    assert slug in PAGES, f"{slug} is not registered in the gallery"
    browser_page.open(f"{app_url}?page={slug}", canvases=2)
    _plays_streams_and_pauses(browser_page, slug, min_updates=6)


def test_family_tree_query_is_answered(browser_page, app_url: str) -> None:
    bp = browser_page
    bp.open(f"{app_url}?page=krausse2025_queries", canvases=2)
    bp.page.get_by_role("combobox").first.wait_for()
    found = bp.js(
        """() => {
          const sel = snnviz.models().filter(m => /Select$/.test(m.type) && m.title === "Query");
          if (!sel.length) return 0;
          // options are values or [value, label] pairs
          const values = (sel[0].options || []).map(o => (Array.isArray(o) ? o[0] : o));
          const option = values.find(v => String(v).startsWith("Who is the R"));
          if (option === undefined) return -1;
          sel[0].value = option;
          return 1;
        }"""
    )
    assert found == 1, f"no 'Query' select with a family option ({found})"
    bp.page.get_by_role("button", name="Ask").click()
    bp.page.wait_for_function(
        """() => snnviz.models().some(m => typeof m.text === "string" &&
                                         m.text.includes("uncle of Colin"))""",
        timeout=30_000,
        polling=100,
    )
    text = bp.js(
        """() => snnviz.models().map(m => m.text).find(t => typeof t === "string" &&
                                                         t.includes("uncle of Colin"))"""
    )
    bp.screenshot("krausse2025_queries_answer")
    assert "Arthur" in text and "Charles" in text, text
    bp.assert_no_errors()
