"""The gallery in a real browser: one card per registered page, working links both ways."""

from __future__ import annotations

import pytest

from snnviz.gallery import PAGES, load_page, thumbnail_path

pytestmark = pytest.mark.browser


def test_gallery_has_a_card_per_page(browser_page, app_url: str) -> None:
    bp = browser_page
    bp.open(app_url, canvases=0)
    cards = bp.page.locator(".snnviz-card")
    cards.nth(len(PAGES) - 1).wait_for(timeout=30_000)
    bp.screenshot("gallery")
    assert cards.count() == len(PAGES)
    broken = bp.page.locator(".snnviz-error")
    assert broken.count() == 0, "error cards: " + " | ".join(
        broken.nth(i).locator("p.error").inner_text() for i in range(broken.count())
    )
    for i, slug in enumerate(PAGES):  # cards follow the registry's order
        card = cards.nth(i)
        link = f"?page={slug}"
        assert card.locator("h3").inner_text().strip() == load_page(slug).title
        assert card.locator("a.open").get_attribute("href") == link
        thumb = card.locator(f"a[href='{link}']").first
        if thumbnail_path(slug).is_file():
            image = thumb.locator("img")
            assert image.count() == 1, f"{slug}: thumbnail image missing from its card"
            bp.page.wait_for_function(  # embedded PNG: decoded, with a size
                "(img) => img.complete && img.naturalWidth > 0",
                arg=image.element_handle(),
                timeout=10_000,
            )
        else:
            assert thumb.count() == 1, f"{slug}: placeholder thumbnail has no link"
    assert bp.page.title() == "snnviz: gallery"
    bp.assert_no_errors()


def test_open_link_leads_to_the_page_and_back(browser_page, app_url: str) -> None:
    bp = browser_page
    slug = next(iter(PAGES))
    bp.open(app_url, canvases=0)
    bp.page.locator(".snnviz-card").first.locator("a.open").click()
    bp.page.wait_for_url(f"**/app?page={slug}*", timeout=30_000)
    bp.page.wait_for_function(
        "() => window.Bokeh && Bokeh.documents.length > 0 && window.snnviz &&"
        " snnviz.visibleCanvases().length >= 1",
        timeout=90_000,
        polling=50,
    )
    assert load_page(slug).title in bp.page.title()
    bp.page.get_by_role("link", name="← Gallery").click()
    bp.page.locator(".snnviz-card").nth(len(PAGES) - 1).wait_for(timeout=30_000)
    assert "page=" not in bp.page.url
    bp.assert_no_errors()
