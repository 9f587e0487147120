"""The spatio-temporal queries & family trees page (krausse2025_queries), headless: it builds,
every query answers, slider moves do not recompile, bad input shows a banner, the accuracy
curves are cached, and the quick reproduce passes its claims."""

from __future__ import annotations

import numpy as np
import pytest

from snnviz.models.vsa_queries import FamilyTreeModel, SceneMemoryModel
from snnviz.pages import krausse2025_queries as page_module
from snnviz.pages.krausse2025_queries import (
    ANALOGY,
    FIRST,
    QUERIES,
    RELATION,
    TWO_HOP,
    WHAT,
    WHERE,
    VSAQueriesPage,
    crossing_dim,
)
from tests.helpers import count_compilations


@pytest.fixture(scope="module")
def page():
    page = VSAQueriesPage()
    page.panel()
    return page


def test_page_builds_and_answers_the_default_where_query(page):
    assert page.query == WHERE and not page.banner.visible
    answer = page.last_answer
    assert answer["true_xy"] is not None  # the widgets point at a stored event
    assert answer["error_bins"] <= 1.0
    assert "true position" in page.answer.object
    assert page.bars_pane.object is not None and page.scene_pane.object is not None
    for name in VSAQueriesPage.url_params:  # every URL parameter exists
        owner, _, attr = name.rpartition(".")
        target = getattr(page, owner) if owner else page
        assert attr in target.param, name


def test_every_query_type_answers(page):
    for query in QUERIES:
        page.query = query
        assert not page.banner.visible, (query, page.banner.message)
        assert page.answer.object.startswith("**"), query
    page.query = WHAT
    scene = page.scene_session.scene
    page.use_stored_event(3)
    assert page.last_answer["best"] == page.scene_session.names[int(scene.objects[3])]


def test_family_queries_decode_the_published_relatives(page):
    page.param.update(query=RELATION, person="Colin", relation="uncle")
    assert sorted(page.last_answer["answer"]) == ["Arthur", "Charles"]
    assert "✓" in page.answer.object
    page.param.update(query=TWO_HOP, chain="grandparent")
    assert sorted(page.last_answer["answer"]) == sorted(
        ["Christopher", "Penelope", "Andrew", "Christine"]
    )
    page.param.update(query=ANALOGY, person="Victoria", relation="husband")
    assert page.last_answer["answer"] == ["Marco"]  # James's Italian counterpart


def test_changing_a_query_widget_updates_the_answer(page):
    page.param.update(query=FIRST, object_a="apple", object_b="ball")
    first = page.answer.object
    page.object_b = "cup"
    assert page.answer.object != first and "cup" in page.answer.object


def test_slider_moves_do_not_recompile(page):
    # warm every query kind once (this test may run first in a fresh process), then move
    # values only: the same shapes must not compile again
    page.scene.param.update(n_events=30, noise=0.5)
    page.family.noise = 0.5
    for query in (WHERE, FIRST, RELATION):
        page.query = query
    page.query = WHERE
    with count_compilations() as log:
        page.scene.param.update(n_events=20, noise=1.0, n_objects=10, n_times=12, seed=4)
        page.query = FIRST
        page.family.noise = 1.5
        page.query = RELATION
    assert log.count == 0, log.names
    assert not page.banner.visible
    page.scene.param.update(noise=0.0, n_objects=8, n_times=10, n_events=24, seed=0)
    page.family.noise = 0.0


def test_bad_input_shows_a_banner_and_the_page_keeps_working(page):
    page.query = WHERE
    page.scene.param.update(n_objects=2, n_times=2, n_events=30)
    assert page.banner.visible and "load (events) = 30" in page.banner.message
    page.scene.param.update(n_objects=8, n_times=10, n_events=24)
    assert not page.banner.visible
    with pytest.raises(ValueError, match="unknown object 'dragon'"):
        page.scene_session.where("dragon", 0)
    with pytest.raises(ValueError, match=r"time step 42 is outside \[0, 9\]"):
        page.scene_session.where("apple", 42)


def test_accuracy_curves_are_computed_once_per_setting(page, monkeypatch):
    calls = []

    def fake_curve_data(scene, family, *, seeds, progress):
        calls.append(scene.dim)
        dims = page_module.DIMS
        ones = [1.0] * len(dims)
        return {
            "dims": dims, "scene_dim": scene.dim, "family_dim": family.dim, "scene_events": 24,
            "scene_by_dim": {"where": ones, "what": ones, "first": ones},
            "scene_loads": [8, 16], "scene_by_load": {"where": [1, 1], "what": [1, 1],
                                                      "first": [1, 1]},
            "family_by_dim": {e: {"one_hop": ones, "two_hop": ones, "analogy": ones}
                              for e in ("records", "triples")},
            "family_loads": [8, 16], "family_by_load": {"one_hop": [1, 1], "analogy": [1, 1]},
        }  # fmt: skip

    monkeypatch.setattr(page_module, "accuracy_sweeps", fake_curve_data)
    page._curve_cache.clear()
    page.compute_curves(background=False)
    page.compute_curves(background=False)
    assert calls == [page.scene.dim]
    assert all(pane.object is not None for pane in page.curve_panes)


def test_crossing_dim_is_where_the_curve_stays_above_target():
    dims = (64, 128, 256, 512)
    assert crossing_dim(dims, [0.5, 0.96, 0.94, 0.99]) == 512
    assert crossing_dim(dims, [0.96, 0.97, 0.99, 1.0]) == 64
    assert crossing_dim(dims, [0.1, 0.2, 0.3, 0.9]) is None


def test_models_reject_impossible_scenes():
    model = SceneMemoryModel(n_objects=2, n_times=3, n_events=7)
    with pytest.raises(ValueError, match="more than objects x time steps"):
        model.build()
    session = FamilyTreeModel(dim=256).build()
    with pytest.raises(ValueError, match="unknown query"):
        session.chain("Colin", "cousin")


@pytest.mark.slow  # ~20-40 s: three dimension sweeps and two load sweeps
def test_quick_reproduce_passes_every_claim():
    result = VSAQueriesPage().reproduce(quick=True)
    assert result.passed, result.summary()
    m = result.metrics
    assert m["scene_accuracy"] >= 0.95 and m["family_accuracy"] >= 0.95
    assert m["dims_to_95"] is not None and m["dims_to_95"] <= 1024
    # the one-trace family memory needs a larger D than per-person records
    assert m["family_triples_dims_to_95"] is None or m["family_triples_dims_to_95"] > 1024
    assert set(result.figures) == {"scene_vs_dim", "scene_vs_load", "family_vs_dim",
                                   "family_vs_load"}  # fmt: skip
    curve = m["curves"]["scene_by_dim"]["where"]
    assert curve[0] < curve[-1] and np.isfinite(curve).all()
