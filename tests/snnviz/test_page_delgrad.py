"""The DelGrad page and its trainer, headless: training lowers the loss, live hyperparameters
never recompile, structural changes rebuild, bad values show a banner, the sample view agrees
with the closed form, NeuroBench counts delays as parameters, and reproduce() passes."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import panel as pn
import pytest

from snnviz.core.delgrad import TTFSNeuron, membrane_potential
from snnviz.models.delgrad_training import (
    DelGradModel,
    DelGradTrainer,
    gradient_check,
    gradient_check_suite,
)
from snnviz.pages.goeltz2025_delgrad import DelGradPage
from tests.helpers import count_compilations


@pytest.fixture(scope="module")
def page():
    return DelGradPage()


@pytest.fixture(scope="module")
def trainer():
    return DelGradTrainer(DelGradModel(delay_type="synaptic", seed=3))


def _labels(viewable) -> set[str]:
    return {
        b.label
        for b in viewable.select(lambda o: isinstance(o, pn.widgets.Button | pn.widgets.Toggle))
    }


def test_page_builds_with_its_controls_and_views(page):
    layout = page.panel()
    labels = _labels(layout)
    for label in (
        "▶ Play",
        "Step",
        "Reset",
        "Run accuracy vs parameter count",
        "Compute NeuroBench metrics",
        "Check gradients (finite differences)",
        "Reproduce (quick)",
    ):
        assert label in labels, labels
    snapshot = page.session.latest_update.snapshot
    assert snapshot.delay_type == "synaptic" and snapshot.sizes == (6, 3)
    assert snapshot.parameters == {"weights": 18, "delays": 18, "total": 36}


def test_training_calls_lower_the_loss_and_keep_delays_feasible(trainer):
    first = trainer.train_steps(20)
    for _ in range(6):
        last = trainer.train_steps(20)
    assert last["loss"] < 0.8 * first["loss"], (first, last)
    assert last["epoch"] == pytest.approx(140 * 50 / 3000)
    metrics = trainer.evaluate()
    assert 0.0 <= metrics["test_acc"] <= 1.0 and np.isfinite(metrics["test_loss"])
    delays = trainer.snapshot().delays[0]
    d_max = trainer.hyperparameters["d_max"]
    assert delays.shape == (3, 6) and delays.min() >= 0.0 and delays.max() <= d_max
    assert not np.allclose(delays, trainer.initial_delays[0])  # the delays are trained


def test_live_hyperparameters_do_not_recompile_and_take_effect(trainer):
    trainer.train_steps(20)  # compiled for this shape
    before = trainer.current()[0]
    with count_compilations() as log:
        trainer.set_hyperparameters(
            learning_rate=1e-4, delay_lr_scale=5.0, tau_syn=6.0, d_max=30.0, lr_decay=0.9
        )
        trainer.train_steps(20)
    assert log.matching("train_epoch") == 0, log.names
    after = trainer.current()[0]
    assert float(after.neuron.tau_syn) == 6.0
    # Adam moves each parameter by at most ~lr per step (delays: lr * delay_lr_scale)
    lr = trainer.learning_rate_now()
    w_step = np.abs(np.asarray(after.weights[0] - before.weights[0])).max()
    d_step = np.abs(np.asarray(after.delays[0] - before.delays[0])).max()
    assert 0 < w_step <= 20 * lr * 1.01
    assert 0 < d_step <= 20 * lr * 5.0 * 1.01
    assert np.asarray(after.delays[0]).max() <= 30.0
    with pytest.raises(ValueError, match="learning_rate"):
        trainer.set_hyperparameters(learning_rate=5.0)
    with pytest.raises(ValueError, match="hidden"):
        trainer.set_hyperparameters(hidden=3)


def test_page_sliders_queue_traced_hyperparameters(page):
    page.model.learning_rate = 0.002
    assert page.session.pending_hyperparameters["learning_rate"] == 0.002
    page.trainer.set_hyperparameters(**page.session.pending_hyperparameters)
    page.trainer.train_steps(page.session.steps_per_call)
    with count_compilations() as log:
        page.model.tau_syn = 4.0
        page.trainer.set_hyperparameters(**page.session.pending_hyperparameters)
        page.trainer.train_steps(page.session.steps_per_call)
    assert log.matching("train_epoch") == 0, log.names
    assert page.trainer.hyperparameters["tau_syn"] == 4.0


def test_bad_value_shows_a_banner_and_pauses(page):
    page.model.d_max = 10.0  # below the initial delays' range (20 ms)
    assert page.banner.visible and "d_max" in page.banner.message
    assert page.session.status != "running"
    page.model.d_max = 40.0
    assert not page.banner.visible


def test_structural_changes_rebuild_the_network_when_paused(page):
    page.model.delay_type = "axonal"
    assert page.trainer.net.delay_type == "axonal"
    assert page.session.latest_update.snapshot.parameters["delays"] == 6
    page.model.delay_type = "none"
    snapshot = page.session.latest_update.snapshot
    assert snapshot.delay_type == "none" and snapshot.parameters["total"] == 18
    page.model.task = "yinyang"  # task defaults: 30 hidden neurons, Yin-Yang's settings
    assert page.model.hidden == 30 and page.trainer.net.sizes == (5, 30, 3)
    assert page.session.max_steps == 30 * 100
    page.model.task = "timing"
    page.model.delay_type = "synaptic"
    assert page.trainer.net.sizes == (6, 3) and page.model.hidden == 0


def test_sample_view_agrees_with_the_closed_form(trainer):
    trainer.sample_index = 7
    sample = trainer.snapshot().sample
    assert sample["index"] == 7
    net = trainer.current()[0]
    np.testing.assert_allclose(
        sample["arrivals"] - sample["pre"][None, :], np.asarray(net.delays[-1]), atol=1e-5
    )
    out = sample["output_times"]
    fired = np.isfinite(out)
    assert fired.any()
    neuron = TTFSNeuron(float(net.neuron.tau_syn), 1.0)
    for k in np.flatnonzero(fired):  # V(t*) = θ at each output spike
        v = membrane_potential(
            jnp.asarray(out[k]),
            jnp.asarray(sample["arrivals"][k]),
            sample["last_weights"][k],
            neuron,
        )
        assert float(v) == pytest.approx(1.0, abs=1e-3)
    assert sample["prediction"] == int(np.argmin(out))


def test_gradient_check_of_the_trained_network(trainer):
    net = trainer.current()[0]
    result = gradient_check(net, np.asarray(trainer.data()[1].times[0]))
    assert result["n_delays"] > 0 and result["n_weights"] > 0
    assert result["max_rel_error"] < 1e-4, result


@pytest.mark.slow
def test_axonal_and_dendritic_gradients_match_finite_differences():
    result = gradient_check_suite(("axonal", "dendritic"), seeds=(0, 1))
    assert result["n_delays"] >= 30 and result["n_weights"] >= 100
    assert result["max_rel_error"] < 1e-4, result["per_delay_type"]


def test_neurobench_counts_delays_as_parameters(trainer):
    with_delays = trainer.neurobench()
    plain = DelGradTrainer(DelGradModel(delay_type="none", seed=3)).neurobench()
    assert with_delays["parameter_count"] == 36 and plain["parameter_count"] == 18
    assert with_delays["footprint"] - plain["footprint"] == 18 * 4  # float32 delays
    # every input spikes once and reaches all 3 outputs: 6 x 3 accumulates per sample
    for report in (with_delays, plain):
        assert report["synaptic_operations"]["Effective_ACs"] == pytest.approx(18.0)
        assert report["synaptic_operations"]["Effective_MACs"] == 0.0


@pytest.mark.slow
def test_quick_reproduce_passes_with_a_clear_margin(page):
    result = page.reproduce(quick=True)
    assert result.passed, result.summary()
    m = result.metrics
    assert m["gradient_max_rel_error"] < 1e-4 and m["gradient_n_delays"] > 0
    assert m["timing_margin_pp"] >= 15.0
    assert m["timing_neurons"] == 3 and m["timing_seeds"] == 3
    assert m["timing_weights+synaptic delays"] > 0.8
    assert {"timing_accuracy", "timing_learned_delays", "timing_learning_curves"} <= set(
        result.figures
    )
