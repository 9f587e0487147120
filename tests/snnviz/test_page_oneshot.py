"""The one-shot plasticity page (stewart2024_oneshot): it builds, an episode runs and plays
frame by frame, switching rule / chip / data set works without recompiling for numeric
choices, bad input shows a banner, the comparison is cached, and the quick reproduce passes.

The experiment (data, extractor pre-training, hand tuning, meta-training) is prepared once per
process and shared by every test here (module fixture), so the tests that need it are slow.
"""

from __future__ import annotations

import numpy as np
import pytest

from snnviz.core.plasticity import METHODS, prepare
from snnviz.models.oneshot import DEFAULT_CONFIG, OneShotModel
from snnviz.pages import stewart2024_oneshot as page_module
from snnviz.pages.stewart2024_oneshot import OneShotPlasticityPage
from tests.helpers import count_compilations


def test_model_validates_n_way_against_the_data_set():
    model = OneShotModel(dataset="digits (other domain)", n_way=12)
    with pytest.raises(ValueError, match="N-way = 12 is more than the 10 classes"):
        model.validate()
    OneShotModel(dataset="held-out symbols", n_way=12).validate()
    with pytest.raises(ValueError, match="must be at most 20"):
        OneShotModel(n_way=30)
    config = OneShotModel(meta_steps=40, meta_seed=3).meta_config()
    assert (
        config.steps == 40 and config.seed == 3 and config.max_shot == DEFAULT_CONFIG.meta.max_shot
    )


@pytest.fixture(scope="module")
def page():
    prepare(DEFAULT_CONFIG)  # the experiment, once per process
    page = OneShotPlasticityPage()
    page.panel()
    return page


@pytest.fixture(scope="module")
def result():
    return OneShotPlasticityPage().reproduce(quick=True)


@pytest.mark.slow
def test_page_builds_and_runs_the_default_episode(page):
    assert page.session is not None and not page.banner.visible
    trace = page.trace
    n_way, t_steps = page.model.n_way, DEFAULT_CONFIG.data.n_steps
    assert trace.weights.shape == (n_way * t_steps + 1, n_way, 129)
    assert trace.spikes.shape == (n_way * t_steps, n_way)
    assert "queries right" in page.episode_text.object
    assert page.player.end == n_way * t_steps
    for name in OneShotPlasticityPage.url_params:
        owner, _, attr = name.rpartition(".")
        assert attr in (getattr(page, owner) if owner else page).param, name
    # while class c is shown, only its neuron's weights move (no depression learnt), and they do
    first = int(trace.support_labels[0])
    moved = np.abs(trace.weights[t_steps] - trace.weights[0]).sum(axis=1)
    assert moved[first] > 0 and moved[first] == moved.max()


@pytest.mark.slow
def test_player_steps_through_the_frames(page):
    page.player.value = 0
    before = page.weights_pane.object
    page.player.value = 25
    assert page.weights_pane.object is not before
    assert "t = 5 ms" in page.frame_pane.object.opts.get().kwargs["title"]
    page.show_frame(10_000)  # clipped to the last frame
    assert page.error_pane.object is not None


@pytest.mark.slow
def test_rule_chip_and_data_set_switches(page):
    page.model.param.update(rule="hand-tuned")
    hand = page.trace.accuracy
    page.model.param.update(rule="meta-learned", fixed_point=True)
    assert not page.banner.visible and "8-bit chip" in page.episode_text.object
    weights = page.trace.weights
    steps = weights[1:] / page.session.weight_range() * 127
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-3)  # on the 8-bit grid
    page.model.param.update(fixed_point=False, dataset="digits (other domain)")
    assert all(name.startswith("digit ") for name in page.names)
    page.model.param.update(dataset="held-out symbols")
    assert 0.0 <= hand <= 1.0


@pytest.mark.slow
def test_numeric_choices_do_not_recompile(page):
    page.model.param.update(episode_seed=1, n_shot=2)  # warm this shape
    with count_compilations() as log:
        page.model.param.update(episode_seed=5, n_shot=3)
        page.model.episode_seed = 6
        page.model.rule = "hand-tuned"
        page.model.rule = "meta-learned"
    assert log.matching("_record") == 0, log.names
    page.model.param.update(episode_seed=0, n_shot=1)


@pytest.mark.slow
def test_bad_input_shows_a_banner_and_the_page_recovers(page):
    page.model.dataset = "digits (other domain)"
    page.model.n_way = 12
    assert page.banner.visible and "N-way = 12" in page.banner.message
    page.model.n_way = 5
    assert not page.banner.visible
    page.model.dataset = "held-out symbols"


@pytest.mark.slow
def test_comparison_is_computed_once_per_setting(page, monkeypatch):
    calls = []

    def fake(dataset, *, n_way, n_episodes, progress):
        calls.append((dataset, n_way))
        return {m: {k: (0.5, 0.01) for k in (1, 2, 3, 4, 5)} for m in METHODS}

    monkeypatch.setattr(page.session, "comparison", fake)
    page.comparisons.clear()
    page.compute_comparison(background=False)
    page.compute_comparison(background=False)
    assert calls == [("held-out symbols", 5)]
    assert page.curve_pane.object is not None and "k = 5" in page.comparison_text.object


@pytest.mark.slow  # the whole experiment + evaluation: ~40-90 s on a loaded 2-core machine
def test_quick_reproduce_passes_and_its_numbers_are_sane(result):
    assert result.passed, result.summary()
    m = result.metrics
    one = m["oneshot_by_method"]
    assert one["meta-learned rule"] >= page_module.TARGET_ONESHOT
    assert one["meta-learned rule"] - one["hand-tuned rule"] >= 0.15
    assert one["meta-learned rule, 8-bit chip"] >= 0.5
    held = m["held_out_vs_shots"]["meta-learned rule"]
    assert held[5][0] > held[1][0]  # more shots help
    assert 0.15 <= one["transfer learning (online)"] <= 1.0
    assert set(result.figures) >= {"accuracy_vs_shots", "oneshot_held_out", "meta_training"}
    assert m["meta_final_train_accuracy"] > 0.8
