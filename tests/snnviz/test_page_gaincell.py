"""The gain-cell attention page (leroux2025_gaincell), headless: it builds, the maps follow the
device sliders without recompiling and respect the window, bad text shows a banner, the
calculator reacts, and (slow) the quick reproduce passes and the trained page evaluates and
samples on the current chip."""

from __future__ import annotations

import numpy as np
import pytest

from snnviz.core.attention import hardware_cost as hc
from snnviz.core.data.text import VOCAB
from snnviz.models.gaincell import CONFIG
from snnviz.pages.leroux2025_gaincell import GainCellAttentionPage
from tests.helpers import count_compilations


@pytest.fixture(scope="module")
def page():
    page = GainCellAttentionPage()
    page.panel()
    return page


def test_page_builds_with_maps_and_calculator(page):
    assert not page.banner.visible
    assert "untrained" in page.status.object
    maps = page.last_maps
    n = len(maps.text)
    assert 0 < n <= CONFIG.seq_len and set(maps.text) <= set(VOCAB)
    assert maps.ideal.shape == (CONFIG.n_layers, CONFIG.n_heads, n, n)
    assert maps.gaincell.shape == maps.ideal.shape
    np.testing.assert_allclose(maps.ideal.sum(-1), 1.0, rtol=1e-5)  # softmax rows
    assert maps.gaincell.min() >= 0 and maps.gaincell.max() <= 1  # pulses / T_max
    for pane in (page.ideal_pane, page.gaincell_pane, page.voltage_pane, page.leak_pane,
                 page.cost_pane):  # fmt: skip
        assert pane.object is not None
    assert "H100" in page.cost_text.object and "37.7 MB" in page.cost_text.object
    for name in GainCellAttentionPage.url_params:
        owner, _, attr = name.rpartition(".")
        target = getattr(page, owner) if owner else page
        assert attr in target.param, name


def test_maps_follow_the_device_without_recompiling(page):
    page.device.param.update(window=6, variation=0.1)  # warm this path
    with count_compilations() as log:
        page.device.param.update(
            window=4, retention_ms=0.5, token_period_us=50.0, variation=0.3, nonlinearity=0.9,
            quantise=False, chip_seed=3, v_rest=0.3,
        )  # fmt: skip
        page.layer, page.head = 1, 2
    assert log.matching("_maps") == 0, log.names
    assert not page.banner.visible, page.banner.message
    gc = page.last_maps.gaincell
    n = gc.shape[-1]
    t, s = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    assert np.all(gc[:, :, (t - s >= 4) | (s > t)] == 0)  # outside the window: no pulse
    np.testing.assert_allclose(page.last_maps.ideal[:, :, (t - s >= 4)], 0.0)
    assert "window 4" in page.status.object
    page.device.param.update(window=32, retention_ms=5.0, token_period_us=20.0, variation=0.05,
                             nonlinearity=0.5, quantise=True, chip_seed=0, v_rest=0.45)  # fmt: skip
    page.layer = page.head = 0


def test_bad_text_shows_a_banner_and_recovers(page):
    page.text = "The Cat."
    assert page.banner.visible and "'T'" in page.banner.message
    page.text = "the cat sees a dog ."
    assert not page.banner.visible
    assert page.last_maps.text == "the cat sees a dog ."


def test_actions_before_training_explain_themselves(page):
    page.evaluate_chip()
    assert page.banner.visible and "Train & adapt" in page.banner.message
    page.sample()
    assert page.banner.visible and "Train & adapt" in page.banner.message
    page.text = page.text + " "  # any redraw clears the banner
    assert not page.banner.visible


def test_calculator_reacts(page):
    before = page.last_cost["gpus"]["H100"].energy_j
    page.cost.context = 512
    after = page.last_cost["gpus"]["H100"].energy_j
    assert after == pytest.approx(before / 2, rel=1e-9)
    assert "18.9 MB" in page.cost_text.object
    page.cost.context = 1024
    rows = hc.parameter_rows(page.last_cost["hw"])
    assert {r["source"] for r in rows} <= {hc.PAPER, hc.DATASHEET, hc.ASSUMPTION}


@pytest.fixture(scope="module")
def reproduced(page):
    return page.reproduce(quick=True)


@pytest.mark.slow
def test_quick_reproduce_passes(reproduced):
    assert reproduced.passed, reproduced.summary()
    m = reproduced.metrics
    assert 0 <= m["adapted_gap"] <= 0.15 or m["adapted_gap"] < 0
    assert m["unadapted_ratio"] >= 1.5
    models = m["models"]
    ideal = models["ideal"]["perplexity"]
    assert 1.0 < ideal < 3.0  # well below the 4-gram baseline of the text (~2.0) or near it
    assert models["adapted"]["accuracy"] > models["no_adaptation"]["accuracy"] + 0.2
    assert models["calibration_only"]["perplexity"] < models["no_adaptation"]["perplexity"]
    assert {"models", "fine-tuning", "cost", "maps"} <= set(reproduced.figures)
    assert reproduced.seconds > 0


@pytest.mark.slow
def test_trained_page_evaluates_and_samples_on_the_current_chip(page, reproduced):
    assert reproduced.passed
    page.train_and_adapt(background=False)  # same settings as reproduce: cached
    assert page.session.trained and "trained and adapted" in page.status.object
    assert page.metrics_pane.object is not None and page.loss_pane.object is not None
    assert page.chip_table.object.count("\n") >= 4
    page.sample()
    assert not page.banner.visible and len(page.sample_output.object) > 40
    with count_compilations() as log:
        page.device.variation = 0.2
        page.evaluate_chip()
    assert log.matching("_evaluate") == 0 and log.matching("_maps") == 0, log.names
    page.device.variation = 0.05
