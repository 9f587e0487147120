"""The in-context learning page (finkbeiner2024_icl), headless: it builds on a small
pre-trained model, answers typed and sampled prompts, steps through tokens showing the memory
that the writes add up to, toggles fixed point, shows parse errors in the banner, does not
recompile for numeric settings, and the quick reproduce (default model) passes its claims."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from snnviz.core.attention import icl_model
from snnviz.models.icl import DEFAULT_CONFIG, FIXED, FLOAT, ICLSession, InContextModel
from snnviz.pages.finkbeiner2024_icl import InContextAttentionPage
from tests.helpers import count_compilations

#: The default model with 150 instead of 1000 pre-training steps: trains in a few seconds and
#: shares every compilation with the default model (the page's behaviour, not its accuracy).
SMALL = dataclasses.replace(DEFAULT_CONFIG, steps=150)


@pytest.fixture(scope="module")
def page():
    page = InContextAttentionPage(config=SMALL)
    page.start(background=False)
    page.panel()
    return page


def test_page_builds_and_answers_the_default_prompt(page):
    assert not page.banner.visible, page.banner.message
    r = page.result
    assert r is not None and r.tokens[-1] == "C?" and len(r.tokens) == 7
    assert r.truth == 2  # the prompt's pairs give C the label 3
    np.testing.assert_allclose(r.probabilities.sum(), 1.0, rtol=1e-6)
    assert page.answer.object.startswith("**C? → label")
    assert page.memory_pane.object is not None and page.labels_pane.object is not None
    assert page.training_pane.object is not None and "Pre-trained" in page.status.object
    for name in InContextAttentionPage.url_params:  # every URL parameter exists
        owner, _, attr = name.rpartition(".")
        target = getattr(page, owner) if owner else page
        assert attr in target.param, name


def test_memory_shown_per_token_is_the_sum_of_the_writes(page):
    page.model.param.update(arithmetic=FLOAT, decay=1.0)
    page.prompt = "A:1 B:2 A:1 C:3 | B?"
    r = page.result
    assert page.player.end == 5 and page.player.value == 5  # tokens numbered from 1
    for layer in range(len(r.memory)):
        np.testing.assert_allclose(r.memory[layer], np.cumsum(r.writes[layer], axis=0),
                                   rtol=1e-4, atol=1e-5)  # fmt: skip
    page.player.value = 3
    assert "after token 3 (A:1)" in page.memory_pane.object.opts.get().kwargs["title"]
    # the query writes too, but nothing after it: read weights only up to the query
    assert r.read[0].shape == (5, SMALL.n_heads)


def test_decay_makes_early_tokens_fade(page):
    page.model.param.update(arithmetic=FLOAT, decay=1.0)
    page.prompt = "A:1 B:2 C:3 | A?"
    full = page.result.read[0].copy()
    page.model.decay = 0.5
    faded = page.result.read[0]
    np.testing.assert_allclose(faded[0], full[0] * 0.5**3, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(faded[3], full[3], rtol=1e-4, atol=1e-6)
    page.model.decay = 1.0


def test_bad_prompt_shows_the_banner_and_a_good_one_clears_it(page):
    page.prompt = "A:1 B:9 | A?"
    assert page.banner.visible and "label 9; labels are 1..5" in page.banner.message
    page.prompt = "A:1 B:2"
    assert "must end with a query" in page.banner.message
    page.prompt = "A:1 B:2 | B?"
    assert not page.banner.visible and page.result.prompt.query == "B"


def test_bad_model_value_is_refused_with_its_name(page):
    with pytest.raises(ValueError, match="decay"):
        page.model.decay = 1.5


def test_fixed_point_toggle_puts_memory_on_the_grid(page):
    page.prompt = "A:1 B:2 C:3 A:1 | C?"
    page.model.param.update(arithmetic=FIXED, bits=6, rounding="stochastic")
    assert "6-bit fixed point" in page.answer.object
    fmt = icl_model.calibrate(page.session.trained, bits=6)[0]
    levels = page.result.memory[0] / float(fmt.step("memory"))
    np.testing.assert_allclose(levels, np.round(levels), atol=1e-3)
    assert np.abs(levels).max() <= 31
    page.model.param.update(arithmetic=FLOAT, bits=8)
    assert "float" in page.answer.object


def test_numeric_settings_do_not_recompile(page):
    page.model.param.update(arithmetic=FLOAT, decay=1.0, noise=1.0)
    page.prompt = "A:1 B:2 C:3 | A?"
    with count_compilations() as log:
        page.model.decay = 0.9
        page.model.noise = 0.5
        page.model.noise_seed = 3
        page.model.letter_seed = 2
        page.prompt = "B:1 A:2 B:1 C:2 A:2 | C?"
    assert log.matching("_run_tokens") == 0 and log.matching("_encode") == 0, log.names
    page.model.param.update(decay=1.0, noise=1.0, noise_seed=0, letter_seed=0)


def test_sample_prompt_and_player(page):
    page.param.update(ways=4, shots=3)
    page.sample_button.clicks += 1
    r = page.result
    assert len(r.tokens) == 13 and len(set(r.prompt.items)) == 4 and r.truth is not None
    first = page.prompt
    page.sample()
    assert page.prompt != first


def test_accuracy_curves_are_computed_and_cached(page):
    page.compute_curves(background=False, n_episodes=1000)  # the shape reproduce() uses
    data = page.curves
    assert list(data["shots"]) == [1, 2, 3, 4, 5]
    for key in (FLOAT, FIXED, "nearest class mean"):
        assert np.all((data[key] >= 0) & (data[key] <= 1))
    assert data["nearest class mean"][-1] > data["nearest class mean"][0]
    assert page.curve_pane.object is not None
    again = page.session.accuracy_curves(page.model, n_episodes=1000)
    assert again is data


def test_session_refuses_an_overlong_prompt():
    session = ICLSession.pretrain(SMALL)
    text = " ".join(["A:1"] * SMALL.seq_len) + " A?"
    with pytest.raises(ValueError, match="at most 25 fit"):
        session.parse(text)
    assert session.run(session.parse("A:1 B:2 A?"), InContextModel()).answer in range(5)


# --------------------------------------------------------------------------- reproduce
@pytest.fixture(scope="module")
def reproduced():
    return InContextAttentionPage(config=SMALL).reproduce(quick=True)


@pytest.mark.slow
def test_quick_reproduce_passes_its_claims(reproduced):
    result = reproduced
    assert result.passed, result.summary()
    m = result.metrics
    assert m["accuracy_5way5shot"] >= 0.8 and m["fixed_point_gap_points"] <= 5
    assert m["accuracy_float"][-1] > m["accuracy_float"][0]
    # the reference classifier sees the same episodes: the model cannot beat it by much
    assert m["accuracy_5way5shot"] <= m["accuracy_nearest_class_mean"][-1] + 0.03
    assert m["train_steps"] == DEFAULT_CONFIG.steps
    assert {"accuracy_vs_shots", "training_loss"} <= set(result.figures)
    again = InContextAttentionPage(config=SMALL).reproduce(quick=True)  # cached: deterministic
    assert again.metrics["accuracy_float"] == m["accuracy_float"]
