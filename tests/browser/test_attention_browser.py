"""The plasticity and attention pages (issue 6) in a real browser: a device slider re-renders
the gain-cell attention maps; a typed few-shot prompt is answered by the plastic-attention
transformer, and a malformed one shows the error banner; a one-shot episode plays its plastic
weights."""

from __future__ import annotations

import re

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


def _type_prompt(bp, text: str) -> None:
    """Type ``text`` into the prompt box (as a user does: no Enter) and press Run prompt."""
    box = bp.page.get_by_role("textbox").first
    box.fill(text)
    bp.page.get_by_role("button", name="Run prompt").click()


def test_typed_prompt_is_answered_in_context(browser_page, app_url: str) -> None:
    slug = "finkbeiner2024_icl"
    assert slug in PAGES, f"{slug} is not registered in the gallery"
    bp = browser_page
    bp.open(f"{app_url}?page={slug}", canvases=2)
    _type_prompt(bp, "A:2 B:5 C:1 A:2 B:5 C:1 | B?")
    answer = bp.page.get_by_text(re.compile(r"B\? → label [1-5]"))
    answer.wait_for(timeout=60_000)
    bp.screenshot(f"{slug}_answered")
    # labels outside 1..5 are a clear error on the page, not a crash
    _type_prompt(bp, "A:9 | A?")
    bp.page.get_by_text(re.compile("labels are 1")).first.wait_for(timeout=30_000)
    bp.assert_no_errors()


def test_one_shot_episode_plays_the_plastic_weights(browser_page, app_url: str) -> None:
    slug = "stewart2024_oneshot"
    assert slug in PAGES, f"{slug} is not registered in the gallery"
    bp = browser_page
    bp.open(f"{app_url}?page={slug}", canvases=2)
    run = bp.page.get_by_role("button", name="Run episode")
    run.wait_for(timeout=60_000)
    weights_title = """() => snnviz.plots().map(p => p.title && p.title.text)
                              .find(t => t && t.startsWith("plastic weights"))"""
    before = bp.js(weights_title)
    assert before, "no plastic-weights plot on the one-shot page"
    run.click()
    # the episode is recomputed and plays: the weights plot moves through the learning steps
    bp.page.wait_for_function(
        f"""(old) => {{
              const t = ({weights_title})();
              const m = t && t.match(/step (\\d+)\\//);
              return t !== old && m && Number(m[1]) >= 5;
            }}""",
        arg=before,
        timeout=90_000,
        polling=100,
    )
    bp.screenshot(f"{slug}_episode")
    bp.assert_no_errors()
