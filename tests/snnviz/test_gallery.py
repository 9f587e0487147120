"""Tests of the page registry and the gallery app (snnviz/gallery.py, app/).

The first group checks every registered page against the demo contract and the repository
conventions (notebook, thumbnail, tests); the rest uses stand-in pages from tests/helpers.py.
"""

import ast
import html
import io
import re
import subprocess
import sys
import urllib.request

import nbformat
import panel as pn
import pytest
from panel.io.location import Location

from snnviz import gallery
from snnviz.pages import Claim, DemoPage
from tests.helpers import FAKE_PAGES

SLUGS = list(gallery.PAGES)


def _objects(viewable, kind):
    return list(viewable.select(kind))


def _html_text(viewable) -> str:
    return html.unescape("\n".join(str(o.object) for o in viewable.select(pn.pane.HTML)))


# -- every registered page follows the contract ---------------------------------------------
@pytest.mark.parametrize("slug", SLUGS)
def test_page_follows_the_demo_contract(slug):
    cls = gallery.load_page(slug)
    assert issubclass(cls, DemoPage) and cls.slug == slug
    for attr in ("title", "summary", "reference"):
        assert isinstance(getattr(cls, attr), str) and getattr(cls, attr).strip(), attr
    assert re.search(r"(19|20)\d\d", cls.reference), "reference needs a year"
    assert cls.claims and all(isinstance(c, Claim) and c.key for c in cls.claims)
    assert cls._measure is not DemoPage._measure and cls._judge is not DemoPage._judge
    assert callable(cls.reproduce)
    for entry in cls.url_params:
        head = entry.split(".")[0]
        assert head in cls.param, f"url_params entry {entry!r} names no parameter"


def test_page_titles_are_read_from_source_without_importing_pages():
    code = (
        "import sys; from snnviz import gallery\n"
        "titles = {s: gallery.page_title({'page': s}) for s in gallery.PAGES}\n"
        "heavy = [m for m in ('jax', 'holoviews', 'snnviz.pages.neuron_lab') if m in sys.modules]\n"
        "print(repr((titles, heavy)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    titles, heavy = ast.literal_eval(out.stdout.strip().splitlines()[-1])
    assert heavy == []  # serving a page's HTML imports neither the page nor JAX/HoloViews
    for slug in SLUGS:
        assert gallery.declared_title(slug) == gallery.load_page(slug).title
        assert titles[slug] == f"{gallery.load_page(slug).title} · snnviz"


@pytest.mark.parametrize("slug", SLUGS)
def test_page_has_a_notebook(slug, repo_root):
    path = repo_root / "demos" / f"{slug}.ipynb"
    assert path.is_file(), f"missing {path}: run `python scripts/make_notebook.py {slug}`"
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    assert any("page.reproduce" in c.source for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("slug", SLUGS)
def test_page_has_a_thumbnail(slug):
    from PIL import Image

    path = gallery.thumbnail_path(slug)
    assert path.is_file(), f"missing thumbnail {path}"
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width >= 200 and image.height >= 100


@pytest.mark.parametrize("slug", SLUGS)
def test_page_has_tests(slug, repo_root):
    this = repo_root / "tests" / "snnviz" / "test_gallery.py"
    mentioning = [
        p
        for p in (repo_root / "tests").rglob("test_*.py")
        if p != this and slug in p.read_text(errors="replace")
    ]
    assert mentioning, f"no test module under tests/ mentions {slug!r}"


def test_gallery_of_the_real_registry_builds_headless():
    app = gallery.build_app({})
    cards = [c for c in app.select(pn.Column) if "snnviz-card" in c.css_classes]
    assert [c.name for c in cards] == SLUGS
    broken = [c.name for c in cards if "snnviz-error" in c.css_classes]
    assert not broken, f"pages that fail to load: {broken}\n{_html_text(app)}"
    app.get_root()  # the Bokeh models build without a server


@pytest.mark.parametrize("slug", SLUGS)
def test_page_view_builds_headless(slug):
    view = gallery.build_app({"page": slug})
    alerts = [a for a in _objects(view, pn.pane.Alert) if a.visible]  # error banners start hidden
    assert not alerts, alerts[0].object if alerts else ""
    view.get_root()


# -- registry mechanics with stand-in pages -------------------------------------------------
@pytest.fixture
def fake_registry(monkeypatch):
    monkeypatch.setattr(gallery, "PAGES", {**FAKE_PAGES, "broken": "tests.no_such_module:X"})
    return gallery.PAGES


def test_load_page_errors(fake_registry):
    with pytest.raises(
        gallery.UnknownPageError, match=r"unknown page 'nope'; known pages: fake_pass, "
    ):
        gallery.load_page("nope")
    with pytest.raises(ModuleNotFoundError):
        gallery.load_page("broken")
    fake_registry["wrong_slug"] = "tests.helpers:FakePage"
    with pytest.raises(TypeError, match="declares slug 'fake_pass'"):
        gallery.load_page("wrong_slug")
    fake_registry["not_a_page"] = "tests.helpers:count_compilations"
    with pytest.raises(TypeError, match="is not a DemoPage subclass"):
        gallery.load_page("not_a_page")


def test_gallery_shows_cards_and_an_error_card_for_a_broken_page(fake_registry):
    app = gallery.build_app({})
    cards = {c.name: c for c in app.select(pn.Column) if "snnviz-card" in c.css_classes}
    assert list(cards) == list(fake_registry)
    assert "snnviz-error" in cards["broken"].css_classes
    assert "No module named 'tests.no_such_module'" in _html_text(cards["broken"])
    text = _html_text(cards["fake_pass"])
    assert "Fake page" in text and "href='?page=fake_pass'" in text and ">Open</a>" in text
    app.get_root()


def test_thumbnail_is_embedded_and_downscaled(fake_registry, monkeypatch, tmp_path):
    from PIL import Image

    png = tmp_path / "thumb.png"
    Image.new("RGB", (1280, 720), "navy").save(png)
    monkeypatch.setattr(
        gallery,
        "thumbnail_path",
        lambda slug: png if slug == "fake_pass" else tmp_path / "none.png",
    )
    app = gallery.build_app({})
    images = _objects(app, pn.pane.PNG)
    assert len(images) == 1 and images[0].link_url == "?page=fake_pass"
    with Image.open(io.BytesIO(images[0].object)) as small:
        assert small.width == 2 * gallery.THUMBNAIL_WIDTH and small.height == 360


def test_unknown_page_shows_the_known_slugs(fake_registry):
    view = gallery.build_app({"page": "nope"})
    (alert,) = _objects(view, pn.pane.Alert)
    assert "unknown page 'nope'; known pages: fake_pass, fake_fail" in alert.object
    assert "(?)" in alert.object  # link back to the gallery
    assert gallery.page_title({"page": "nope"}) == "snnviz"
    assert gallery.page_title({"page": "fake_pass"}) == "Fake page · snnviz"
    assert gallery.page_title({}) == "snnviz: gallery"


def test_page_view_wraps_the_page_with_a_back_link(fake_registry):
    view = gallery.build_app({"page": "fake_pass"})
    assert not _objects(view, pn.pane.Alert)
    assert "← Gallery" in _html_text(view) and "href='?'" in _html_text(view)
    assert any(getattr(w, "name", "") == "Gain" for w in view.select(pn.widgets.Widget))


def test_deferred_page_view_fills_in_on_load_and_releases_the_warm_up(fake_registry):
    from snnviz import warmup

    # outside a server pn.state.onload runs the build at once; served it runs on load
    view = gallery.page_view("fake_pass", defer=True)
    assert any(getattr(w, "name", "") == "Gain" for w in view.select(pn.widgets.Widget))
    assert "Fake page" in _html_text(view)
    assert warmup.wait_for_quiet(quiet_s=0.0, timeout_s=1)  # no hold left behind
    broken = gallery.page_view("nope", defer=True)
    assert "could not be loaded" in _objects(broken, pn.pane.Alert)[0].object


def test_url_query_restores_and_follows_the_page(fake_registry):
    location = Location(search="?page=fake_pass&gain=7&level=0.25")
    page = gallery.load_page("fake_pass")()
    keys = gallery.sync_url(page, location)
    assert keys == {"gain": "gain", "model.level": "level"}
    assert page.gain == 7 and page.model.level == 0.25  # the link restored the configuration
    page.gain = 3.5
    assert location.query_params == {"page": "fake_pass", "gain": 3.5, "level": 0.25}
    page.model.level = 0.75
    assert location.query_params["level"] == 0.75
    # a new held object: its values replace the URL's, and it is followed from now on
    page.model = type(page.model)(level=0.1)
    assert location.query_params["level"] == 0.1
    page.model.level = 0.2
    assert location.query_params["level"] == 0.2


def test_url_values_out_of_bounds_are_ignored(fake_registry, caplog):
    location = Location(search="?page=fake_pass&gain=50")
    page = gallery.load_page("fake_pass")()
    gallery.sync_url(page, location)
    assert page.gain == 2.0
    assert "URL values rejected" in caplog.text


def test_url_params_naming_a_missing_parameter_is_reported(fake_registry, monkeypatch):
    cls = gallery.load_page("fake_pass")
    monkeypatch.setattr(cls, "url_params", ("gain", "nonsense"))
    view = gallery.page_view("fake_pass", Location(search="?page=fake_pass"))
    (alert,) = _objects(view, pn.pane.Alert)
    assert "failed to build" in alert.object and "unknown parameter(s) ['nonsense']" in alert.object


# -- the served app -------------------------------------------------------------------------
def test_served_app_answers(panel_server):
    with urllib.request.urlopen(f"{panel_server}/app", timeout=60) as response:
        body = response.read().decode()
    assert response.status == 200 and "<title>snnviz: gallery</title>" in body
    with urllib.request.urlopen(f"{panel_server}/app?page=nope", timeout=60) as response:
        assert response.status == 200
