"""Regenerate the gallery thumbnails and the README screenshot from the live app.

Starts ``panel serve app`` (the same way the browser tests do, see ``benchmarks/_browser.py``),
opens every registered page in headless Chromium at 1280x800, waits for its plots (a page with a
Play button is played for ``--play-seconds`` and paused, so live plots are filled), saves
``assets/thumbnails/<slug>.png`` (the plot area clipped to 16:10, or the whole viewport with
``--whole-page``; downscaled to ``--thumb-width``), then shoots the gallery (which now shows
those thumbnails) to ``assets/gallery.png``.

Run: ``python scripts/make_screenshots.py [--only SLUG ...] [--play-seconds 2.5]``
(``make thumbnails``).
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `benchmarks` and `snnviz` importable
    sys.path.insert(0, str(ROOT))

from benchmarks._browser import (  # noqa: E402
    HOOKS_JS,
    VIEWPORT,
    launch_chromium,
    serve_app,
    wait_for_plots,
)

ASSETS = ROOT / "assets"
THUMBNAILS = ASSETS / "thumbnails"

# Rendered: every live plot has a canvas; settled: Bokeh also has nothing left to lay out.
_RENDERED_JS = """
() => window.Bokeh && Bokeh.documents.length > 0 && window.snnviz &&
      snnviz.plots().length > 0 && snnviz.visibleCanvases().length >= snnviz.plots().length
"""
_SETTLED_JS = f"() => ({_RENDERED_JS})() && Bokeh.documents.every(d => d.is_idle !== false)"
# The union of the visible plot canvases inside the viewport: [x0, y0, x1, y1] (CSS px).
_PLOTS_BOX_JS = """
() => {
  const w = window.innerWidth, h = window.innerHeight;
  let box = null;
  for (const c of snnviz.visibleCanvases()) {
    const r = c.getBoundingClientRect();
    const x0 = Math.max(0, r.left), y0 = Math.max(0, r.top);
    const x1 = Math.min(w, r.right), y1 = Math.min(h, r.bottom);
    if (x1 - x0 < 50 || y1 - y0 < 50) continue;
    box = box ? [Math.min(box[0], x0), Math.min(box[1], y0), Math.max(box[2], x1),
                 Math.max(box[3], y1)] : [x0, y0, x1, y1];
  }
  return box;
}
"""
_QUIET_JS = "(ms) => !snnviz.streams.length || performance.now() - snnviz.streams.at(-1)[0] > ms"


def _png(data: bytes, width: int | None) -> bytes:
    """``data`` (a PNG) downscaled to ``width`` px (aspect kept); unchanged without Pillow."""
    try:
        from PIL import Image
    except ImportError:
        return data
    with Image.open(io.BytesIO(data)) as image:
        if width and image.width > width:
            height = round(image.height * width / image.width)
            image = image.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _trim_bottom(data: bytes, margin: int = 24, min_height: int = 400) -> bytes:
    """Crop the empty (white) rows below the content of a screenshot."""
    try:
        from PIL import Image, ImageOps
    except ImportError:
        return data
    with Image.open(io.BytesIO(data)) as image:
        box = ImageOps.invert(image.convert("RGB")).getbbox()
        if box is None:
            return data
        bottom = min(image.height, max(min_height, box[3] + margin))
        out = io.BytesIO()
        image.crop((0, 0, image.width, bottom)).save(out, format="PNG", optimize=True)
    return out.getvalue()


def plots_clip(page, aspect: float, pad: float = 12.0) -> dict[str, float] | None:
    """A clip around the page's plots with width/height = ``aspect`` (within the viewport)."""
    box = page.evaluate(_PLOTS_BOX_JS)
    if box is None:
        return None
    view_w, view_h = page.viewport_size["width"], page.viewport_size["height"]
    x0, y0, x1, y1 = box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad
    width, height = x1 - x0, y1 - y0
    if width / height < aspect:  # too tall: widen (left first: the controls are there)
        width = min(view_w, height * aspect)
    else:  # too wide: take more height below the top of the plots
        height = min(view_h, width / aspect)
    x0 = min(max(0.0, x1 - width), view_w - width)
    y0 = min(max(0.0, y0), view_h - height)
    return {"x": x0, "y": y0, "width": width, "height": height}


def wait_until_settled(page, timeout_ms: float = 20_000) -> None:
    """Wait for the plots to render and Bokeh to go idle; a page whose document never reports
    idle (some widgets keep it busy) is shot once its plots have rendered."""
    try:
        page.wait_for_function(_SETTLED_JS, timeout=timeout_ms, polling=100)
    except Exception:  # playwright's TimeoutError
        page.wait_for_function(_RENDERED_JS, timeout=60_000, polling=100)


def shoot_page(
    page, url: str, *, play_seconds: float, crop_aspect: float | None = 1.6
) -> tuple[bytes, dict]:
    """Open ``url``, wait for the plots (play a live page for ``play_seconds``), screenshot.

    With ``crop_aspect`` the picture is clipped to the plots (card thumbnails are small: the
    text around the plots would be unreadable); otherwise it is the whole viewport.
    """
    start = time.perf_counter()
    page.goto(url, wait_until="domcontentloaded")
    wait_for_plots(page, 1, timeout_ms=120_000)
    wait_until_settled(page)
    info = {"load_s": round(time.perf_counter() - start, 2), "played_s": 0.0, "frames": 0}
    play = page.get_by_role("button", name=re.compile("Play"))
    if play.count():
        page.evaluate("() => snnviz.hookStreams()")
        play.first.click()
        page.wait_for_function("() => snnviz.streams.length > 0", timeout=60_000, polling=50)
        page.wait_for_timeout(play_seconds * 1000)  # let the live plots fill their window
        page.get_by_role("button", name=re.compile("Pause")).first.click()
        page.wait_for_function(_QUIET_JS, arg=500, timeout=15_000, polling=100)
        info["played_s"] = play_seconds
        info["frames"] = page.evaluate("() => snnviz.streams.length")
    page.mouse.move(0, 0)  # no hover tooltips in the picture
    wait_until_settled(page)
    clip = plots_clip(page, crop_aspect) if crop_aspect else None
    info["clip"] = clip and {k: round(v) for k, v in clip.items()}
    return page.screenshot(full_page=False, clip=clip), info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="page slugs to shoot (default: all)")
    parser.add_argument("--play-seconds", type=float, default=2.5)
    parser.add_argument("--thumb-width", type=int, default=640)
    parser.add_argument("--no-gallery", action="store_true", help="skip assets/gallery.png")
    parser.add_argument(
        "--whole-page", action="store_true", help="thumbnails of the whole viewport, not the plots"
    )
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from snnviz.gallery import PAGES

    slugs = args.only or list(PAGES)
    unknown = sorted(set(slugs) - set(PAGES))
    if unknown:
        parser.error(f"unknown page(s) {unknown}; known: {list(PAGES)}")
    THUMBNAILS.mkdir(parents=True, exist_ok=True)
    failed = []
    with serve_app() as server, sync_playwright() as playwright:
        print(f"server live after {server.live_s:.1f} s at {server.base}")
        browser = launch_chromium(playwright)
        try:
            for slug in slugs:
                context = browser.new_context(viewport=VIEWPORT)
                context.add_init_script(HOOKS_JS)
                page = context.new_page()
                try:
                    shot, info = shoot_page(
                        page,
                        server.page_url(slug),
                        play_seconds=args.play_seconds,
                        crop_aspect=None if args.whole_page else 1.6,
                    )
                    path = THUMBNAILS / f"{slug}.png"
                    path.write_bytes(_png(shot, args.thumb_width))
                    print(f"{path.relative_to(ROOT)}: {info}")
                except Exception as err:
                    failed.append(slug)
                    print(f"{slug}: FAILED {type(err).__name__}: {err}", file=sys.stderr)
                finally:
                    context.close()
            if not args.no_gallery:
                context = browser.new_context(viewport=VIEWPORT)
                page = context.new_page()
                try:
                    page.goto(server.app_url, wait_until="domcontentloaded")
                    page.locator(".snnviz-card").nth(len(PAGES) - 1).wait_for(timeout=60_000)
                    images = page.locator(".snnviz-card img")
                    for i in range(images.count()):  # the embedded thumbnails decoded
                        page.wait_for_function(
                            "(img) => img.complete && img.naturalWidth > 0",
                            arg=images.nth(i).element_handle(),
                            timeout=30_000,
                        )
                    data = _trim_bottom(page.screenshot(full_page=True))
                    (ASSETS / "gallery.png").write_bytes(_png(data, None))
                    print("assets/gallery.png written")
                finally:
                    context.close()
        finally:
            browser.close()
    if failed:
        print(f"failed pages: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
