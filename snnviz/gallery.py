"""The page registry and the served app: a gallery of cards, or one page by ``?page=<slug>``.

Routing is by query string, decided once when a session starts (links reload the page):

* no ``page`` argument -> the gallery (a responsive grid of cards: thumbnail, title, summary,
  reference, an "Open" link to ``?page=<slug>``);
* ``?page=<slug>`` -> that page under a header with a link back to the gallery. The page's
  ``url_params`` are kept in sync with the query string through ``pn.state.location.sync``,
  so a copied link restores the configuration (``?page=network_lab&g=5&eta=2``).

Pages are imported lazily: a page that is missing or fails to import shows an error card and
never takes the gallery down. Served, a page's HTML (header, tab title read from the page's
source) goes out at once and the page is built when the browser has loaded it, so the browser
starts its JavaScript while the server imports and warms the page (see :func:`page_view`).
"""

from __future__ import annotations

import ast
import contextlib
import functools
import html
import importlib
import importlib.util
import io
import itertools
import json
import logging
import time
import traceback
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import panel as pn

from .warmup import hold_warm_up, session_activity, wait_until_warm

if TYPE_CHECKING:
    from panel.io.location import Location

    from snnviz.pages import DemoPage

log = logging.getLogger(__name__)
_app_log = logging.getLogger("snnviz.app")  # the server log (INFO; see app/app_hooks.py)

#: slug -> "module:Class" of every demo page, in gallery order.
PAGES: dict[str, str] = {
    "neuron_lab": "snnviz.pages.neuron_lab:NeuronLab",
    "network_lab": "snnviz.pages.network_lab:NetworkLab",
    "lohoff2024_snnax": "snnviz.pages.lohoff2024_snnax:SurrogateTrainingPage",
    "wunderlich2021_eventprop": "snnviz.pages.wunderlich2021_eventprop:EventPropPage",
    "goeltz2025_delgrad": "snnviz.pages.goeltz2025_delgrad:DelGradPage",
    "yik2025_neurobench": "snnviz.pages.yik2025_neurobench:NeuroBenchPage",
    "krausse2025_grid_cells": "snnviz.pages.krausse2025_grid_cells:GridCellsPage",
    "krausse2025_queries": "snnviz.pages.krausse2025_queries:VSAQueriesPage",
    "cotteret2025_fsm": "snnviz.pages.cotteret2025_fsm:VSAStateMachinePage",
    "schreiber2023_bee": "snnviz.pages.schreiber2023_bee:BeePathIntegrationPage",
    "stewart2024_oneshot": "snnviz.pages.stewart2024_oneshot:OneShotPlasticityPage",
    "finkbeiner2024_icl": "snnviz.pages.finkbeiner2024_icl:InContextAttentionPage",
    "leroux2025_gaincell": "snnviz.pages.leroux2025_gaincell:GainCellAttentionPage",
}

APP_TITLE = "snnviz"
REPO_ROOT = Path(__file__).resolve().parent.parent
THUMBNAIL_WIDTH = 320
_CARD_WIDTH = THUMBNAIL_WIDTH + 24  # + padding and border

_CARD_STYLES = {
    "border": "1px solid #d8dde3",
    "border-radius": "10px",
    "background": "#ffffff",
    "box-shadow": "0 1px 3px rgba(0, 0, 0, 0.08)",
    "padding": "10px",
}
_TEXT_CSS = """
h3 { margin: 4px 0 6px 0; font-size: 1.1em; }
p { margin: 4px 0; line-height: 1.35; }
.ref { color: #57606a; font-size: 0.85em; }
a.open { display: inline-block; margin-top: 6px; padding: 4px 14px; border-radius: 6px;
         background: #0b5cad; color: #fff; text-decoration: none; font-weight: 600; }
a.open:hover { background: #084a8c; }
.error { color: #8a1c1c; white-space: pre-wrap; font-family: monospace; font-size: 0.8em; }
"""
_HEADER_CSS = """
a { color: #ffffff; text-decoration: none; font-weight: 600; }
a:hover { text-decoration: underline; }
.brand { font-size: 1.3em; margin-right: 1.2em; }
.title { font-size: 1.1em; opacity: 0.9; }
"""


class UnknownPageError(LookupError):
    """``slug`` is not in :data:`PAGES`; the message lists the known slugs."""

    def __init__(self, slug: str, known: list[str]):
        self.slug, self.known = slug, known
        super().__init__(f"unknown page {slug!r}; known pages: {', '.join(known) or '(none)'}")

    def __str__(self) -> str:  # LookupError would quote the message like a KeyError
        return self.args[0]


def load_page(slug: str, pages: Mapping[str, str] | None = None) -> type[DemoPage]:
    """Import and return the page class registered under ``slug`` (in ``pages``, default
    :data:`PAGES`; a worker process is handed the registry of the process that sent the job).

    Raises :class:`UnknownPageError` for an unregistered slug, ``ImportError`` /
    ``AttributeError`` when the module or class is missing, ``TypeError`` when the class does
    not follow the demo contract.
    """
    from snnviz.pages import DemoPage

    pages = PAGES if pages is None else pages
    if slug not in pages:
        raise UnknownPageError(slug, list(pages))
    module_name, _, class_name = pages[slug].partition(":")
    module = importlib.import_module(module_name)
    try:
        cls = getattr(module, class_name)
    except AttributeError:
        raise AttributeError(
            f"page {slug!r}: module {module_name} has no class {class_name!r}"
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, DemoPage)):
        raise TypeError(f"page {slug!r}: {pages[slug]} is not a DemoPage subclass")
    if getattr(cls, "slug", slug) != slug:
        raise TypeError(f"page {slug!r}: {pages[slug]} declares slug {cls.slug!r}")
    return cls


def thumbnail_path(slug: str) -> Path:
    """``assets/thumbnails/<slug>.png`` (it may not exist yet)."""
    return REPO_ROOT / "assets" / "thumbnails" / f"{slug}.png"


def current_query() -> dict[str, str]:
    """The query arguments of the request that started this server session (``{}`` outside
    ``panel serve``); repeated arguments keep their last value."""
    args = pn.state.session_args if pn.state.curdoc is not None else {}
    return {k: v[-1].decode("utf-8", "replace") for k, v in args.items() if v}


def page_title(query: Mapping[str, str] | None = None) -> str:
    """The browser-tab title for ``query``: the page's title, or the gallery's.

    Read from the page module's source when possible (:func:`declared_title`), so serving a
    page's HTML does not wait for its module (and JAX, HoloViews, ...) to import.
    """
    slug = (current_query() if query is None else query).get("page")
    if not slug:
        return f"{APP_TITLE}: gallery"
    try:
        title = declared_title(slug)
        if title is None:
            title = load_page(slug).title
        return f"{title} · {APP_TITLE}"
    except Exception:
        return APP_TITLE


def declared_title(slug: str, pages: Mapping[str, str] | None = None) -> str | None:
    """The ``title`` string literal in the body of ``slug``'s page class, read from its module's
    source without importing it; ``None`` when it cannot be found that way (then import)."""
    pages = PAGES if pages is None else pages
    if slug not in pages:
        raise UnknownPageError(slug, list(pages))
    module_name, _, class_name = pages[slug].partition(":")
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    path = Path(spec.origin)
    try:
        return _class_title(str(path), path.stat().st_mtime_ns, class_name)
    except (OSError, SyntaxError):
        return None


@functools.lru_cache(maxsize=128)
def _class_title(path: str, mtime_ns: int, class_name: str) -> str | None:
    del mtime_ns  # part of the cache key only
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for item in node.body:
                target = item.target if isinstance(item, ast.AnnAssign) else None
                if isinstance(item, ast.Assign) and len(item.targets) == 1:
                    target = item.targets[0]
                if isinstance(target, ast.Name) and target.id == "title" and item.value:
                    try:
                        value = ast.literal_eval(item.value)
                    except ValueError:
                        return None
                    return value if isinstance(value, str) else None
    return None


def build_app(
    query: Mapping[str, str] | None = None, location: Location | None = None
) -> pn.viewable.Viewable:
    """The object to serve for this session.

    ``query`` defaults to the session's request arguments and ``location`` to
    ``pn.state.location`` when served (no URL sync otherwise, e.g. in a notebook).
    """
    if query is None:
        query = current_query()
    if location is None and _served():
        location = pn.state.location
    slug = query.get("page")
    if not slug:
        return gallery_view()
    return page_view(slug, location)


# -- gallery ------------------------------------------------------------------------------
def gallery_view() -> pn.viewable.Viewable:
    """The gallery: one card per registered page, wrapping to the window width."""
    cards = [_card(slug) for slug in PAGES]
    intro = pn.pane.HTML(
        "<p>Spiking and neuromorphic models you can see and play with. Each page reproduces a "
        "research result live; its <b>Reproduce</b> button (or <code>snnviz reproduce "
        "&lt;page&gt;</code>) recomputes the paper's claims headless.</p>",
        stylesheets=[_TEXT_CSS],
        sizing_mode="stretch_width",
    )
    grid = pn.FlexBox(*cards, gap="16px", sizing_mode="stretch_width")
    return _shell(None, pn.Column(intro, grid, sizing_mode="stretch_width", margin=(0, 16)))


def _card(slug: str) -> pn.viewable.Viewable:
    try:
        cls = load_page(slug)
        title, summary, reference = cls.title, cls.summary, cls.reference
    except Exception as err:
        log.warning("gallery: page %r failed to load: %s", slug, err)
        return _error_card(slug, err)
    link = f"?page={urllib.parse.quote(slug)}"
    text = pn.pane.HTML(
        f"<h3>{html.escape(title)}</h3><p>{html.escape(summary)}</p>"
        f"<p class='ref'>{html.escape(reference)}</p>"
        f"<a class='open' href='{link}'>Open</a>",
        stylesheets=[_TEXT_CSS],
        sizing_mode="stretch_width",
    )
    return pn.Column(
        _thumbnail(slug, link, title),
        text,
        width=_CARD_WIDTH,
        styles=_CARD_STYLES,
        css_classes=["snnviz-card"],
        name=slug,
    )


def _error_card(slug: str, err: BaseException) -> pn.viewable.Viewable:
    text = pn.pane.HTML(
        f"<h3>{html.escape(slug)}</h3><p>This page could not be loaded:</p>"
        f"<p class='error'>{html.escape(f'{type(err).__name__}: {err}')}</p>",
        stylesheets=[_TEXT_CSS],
        sizing_mode="stretch_width",
    )
    return pn.Column(
        text,
        width=_CARD_WIDTH,
        styles=_CARD_STYLES,
        css_classes=["snnviz-card", "snnviz-error"],
        name=slug,
    )


def _thumbnail(slug: str, link: str, title: str) -> pn.viewable.Viewable:
    path = thumbnail_path(slug)
    if path.is_file():
        try:
            data = _scaled_png(str(path), path.stat().st_mtime_ns)
            return pn.pane.PNG(
                data,
                width=THUMBNAIL_WIDTH,
                link_url=link,
                alt_text=title,
                embed=True,
                margin=(0, 0, 6, 0),
            )
        except Exception as err:  # a broken image file must not break the gallery
            log.warning("gallery: thumbnail %s unreadable: %s", path, err)
    initials = "".join(word[0] for word in title.split()[:3]).upper()
    return pn.pane.HTML(
        f"<a href='{link}' style='text-decoration:none'><div style='width:{THUMBNAIL_WIDTH}px;"
        "height:180px;border-radius:8px;display:flex;align-items:center;justify-content:center;"
        "background:linear-gradient(135deg,#0b5cad,#5fa8e8);color:#fff;font-size:42px;"
        f"font-weight:700'>{html.escape(initials)}</div></a>",
        width=THUMBNAIL_WIDTH,
        height=180,
        margin=(0, 0, 6, 0),
    )


@functools.lru_cache(maxsize=64)
def _scaled_png(path: str, mtime_ns: int) -> bytes:
    """The thumbnail downscaled to the card width (screenshots are larger than cards)."""
    from PIL import Image

    del mtime_ns  # part of the cache key only
    with Image.open(path) as image:
        if image.width > 2 * THUMBNAIL_WIDTH:
            height = round(image.height * 2 * THUMBNAIL_WIDTH / image.width)
            image = image.resize((2 * THUMBNAIL_WIDTH, height), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=True)
    return out.getvalue()


# -- one page -----------------------------------------------------------------------------
def page_view(
    slug: str, location: Location | None = None, *, defer: bool | None = None
) -> pn.viewable.Viewable:
    """The page ``slug`` under the app header; an error card when it cannot be built.

    ``defer`` (default: when served) returns the header and a "Loading" note at once and builds
    the page when the browser has loaded the document (``pn.state.onload``): the browser fetches
    and starts the JavaScript while the server imports the page, waits for its warm-up and
    builds it, instead of after. The tab title is set then too.
    """
    if defer is None:
        defer = _served()
    if not defer:
        title, body = _build_page(slug, location)
        return _shell(title, body)
    try:
        title = declared_title(slug) or slug
    except UnknownPageError:  # the build shows the error card
        title = slug
    header = _header(title)
    holder = pn.Column(
        pn.pane.Markdown(f"Loading *{html.escape(slug)}* ...", margin=(10, 16)),
        sizing_mode="stretch_width",
    )

    release = hold_warm_up()  # until this page is built, other pages' warm-up waits

    def fill() -> None:
        try:
            with session_activity():
                _enable_compilation_cache()
                title, body = _build_page(slug, location)
                header.object = _header_html(title)
                holder[:] = [body]
                if pn.state.curdoc is not None:
                    pn.state.curdoc.title = f"{title} · {APP_TITLE}"
        finally:
            release()

    pn.state.onload(fill)
    return _frame(header, holder)


def _served() -> bool:
    return bool(pn.state.curdoc is not None and pn.state.curdoc.session_context)


def _enable_compilation_cache() -> None:
    """Point JAX at the persistent compilation cache before this session's first jitted call
    (``on_server_loaded`` does it too; repeating it is cheap)."""
    from snnviz.core import enable_compilation_cache

    enable_compilation_cache()


def _build_page(slug: str, location: Location | None) -> tuple[str, pn.viewable.Viewable]:
    """Import, wait for the warm-up of, construct and lay out page ``slug``: (title, body);
    the body is an error card when a step fails. Logs how long each step took."""
    stamps = [("start", time.perf_counter())]
    try:
        cls = load_page(slug)
    except Exception as err:
        return slug, _failure(slug, "could not be loaded", err)
    stamps.append(("import", time.perf_counter()))
    wait_until_warm(slug)
    stamps.append(("warm-up wait", time.perf_counter()))
    try:
        page = cls()
        stamps.append(("construct", time.perf_counter()))
        if location is not None:
            sync_url(page, location)
        body = page.panel()
        stamps.append(("layout", time.perf_counter()))
    except Exception as err:
        log.exception("page %r failed to build", slug)
        return cls.title, _failure(slug, "failed to build", err)
    steps = ", ".join(f"{name} {b - a:.2f}" for (_, a), (name, b) in itertools.pairwise(stamps))
    _app_log.info("snnviz: built page %s in %.2f s (%s)", slug, stamps[-1][1] - stamps[0][1], steps)
    return cls.title, body


def _failure(slug: str, what: str, err: BaseException) -> pn.viewable.Viewable:
    detail = "".join(traceback.format_exception_only(type(err), err)).strip()
    return pn.pane.Alert(
        f"**Page `{slug}` {what}.**\n\n```\n{detail}\n```\n\n[Back to the gallery](?)",
        alert_type="danger",
        sizing_mode="stretch_width",
        margin=(10, 16),
    )


def sync_url(page: Any, location: Location) -> dict[str, str]:
    """Keep ``page.url_params`` in sync with the URL query; returns ``{entry: query key}``.

    An entry is a page parameter (``"g"``) or a parameter of a Parameterized held by one
    (``"model.v_th"``). The query key is the last component unless two entries share it
    (then the whole dotted entry is used). Query values are applied first, so a shared link
    restores the page; later changes rewrite the URL. When a held object is replaced (e.g. a
    new neuron model), its parameters are re-synced from the new object's values. A value
    the page rejects (out of bounds) is logged and ignored.
    """
    entries = list(dict.fromkeys(page.url_params))
    last = [e.rpartition(".")[2] for e in entries]
    keys = {e: (k if last.count(k) == 1 else e) for e, k in zip(entries, last, strict=True)}
    groups: dict[str, dict[str, str]] = {}
    for entry in sorted(entries, key=lambda e: e.count(".")):  # page's own params first
        owner, _, name = entry.rpartition(".")
        groups.setdefault(owner, {})[name] = keys[entry]

    def on_error(values: dict) -> None:
        log.warning("page %r: URL values rejected: %s", getattr(page, "slug", page), values)

    for owner, mapping in groups.items():
        target = _resolve(page, owner)
        _check_names(page, owner, target, mapping)
        location.sync(target, _present(target, mapping), on_error=on_error)
        if owner:
            _watch_replacement(page, owner, mapping, target, location, on_error)

    def write_all() -> None:
        """The browser reports its own URL on connect, dropping what sync wrote before; write
        every synced value again so the address bar is a complete, shareable link."""
        values = {}
        for owner, mapping in groups.items():
            target = _resolve(page, owner)
            for name, key in _present(target, mapping).items():
                values[key] = _serialize(target, name)
        location.update_query(**values)

    if pn.state.curdoc is not None and pn.state.curdoc.session_context:
        pn.state.onload(write_all)
    return keys


def _serialize(target: Any, name: str) -> str:
    value = getattr(target, name)
    with contextlib.suppress(Exception):  # param types without a serializer keep the value
        value = target.param[name].serialize(value)
    return value if isinstance(value, str) else json.dumps(value)


def _resolve(page: Any, owner: str) -> Any:
    target = page
    for part in filter(None, owner.split(".")):
        target = getattr(target, part)
    return target


def _present(target: Any, mapping: dict[str, str]) -> dict[str, str]:
    return {name: key for name, key in mapping.items() if name in target.param}


def _check_names(page: Any, owner: str, target: Any, mapping: dict[str, str]) -> None:
    if not owner:  # the page's own params must all exist; held objects may vary by kind
        missing = [name for name in mapping if name not in target.param]
        if missing:
            raise ValueError(
                f"{type(page).__name__}.url_params names unknown parameter(s) {missing}; "
                f"parameters: {[p for p in target.param if p != 'name']}"
            )


def _watch_replacement(page, owner, mapping, first, location, on_error) -> None:
    held = {"target": first}
    head = owner.split(".")[0]

    def resync(_event: Any) -> None:
        old, new = held["target"], _resolve(page, owner)
        if new is old:
            return
        with contextlib.suppress(ValueError):  # never synced (no parameter present)
            location.unsync(old)
        # the new object's values win over the URL's stale ones (unsync dropped only the
        # keys the old object had)
        query = {
            k: v if isinstance(v, str) else json.dumps(v)
            for k, v in location.query_params.items()
            if k not in mapping.values()
        }
        location.search = f"?{urllib.parse.urlencode(query)}" if query else ""
        location.sync(new, _present(new, mapping), on_error=on_error)
        held["target"] = new

    page.param.watch(resync, head)


def _header_html(title: str | None) -> str:
    crumbs = (
        ""
        if title is None
        else (
            f"<a href='?'>&larr; Gallery</a>&nbsp;&nbsp;<span class='title'>{html.escape(title)}"
            "</span>"
        )
    )
    return f"<a class='brand' href='?'>{APP_TITLE}</a>{crumbs}"


def _header(title: str | None) -> pn.pane.HTML:
    """The header bar: brand link to the gallery, then the page title (if any)."""
    return pn.pane.HTML(
        _header_html(title),
        stylesheets=[_HEADER_CSS],
        sizing_mode="stretch_width",
        margin=0,
        styles={"background": "#0b3d6e", "color": "#fff", "padding": "10px 16px"},
    )


def _frame(header: pn.viewable.Viewable, body: pn.viewable.Viewable) -> pn.viewable.Viewable:
    return pn.Column(
        header, body, sizing_mode="stretch_width", margin=0, css_classes=["snnviz-app"]
    )


def _shell(title: str | None, body: pn.viewable.Viewable) -> pn.viewable.Viewable:
    """The app frame: a header bar (brand link to the gallery, page title) over ``body``."""
    return _frame(_header(title), body)
