"""EventProp page (Wunderlich & Pehle 2021) and its trainer, headless: training through the
Trainer protocol, traced hyperparameters (no recompile), errors in the banner, the gradient
check against finite differences, NeuroBench counts in closed form, and reproduce()."""

from __future__ import annotations

import time

import jax
import numpy as np
import panel as pn
import pytest
from bokeh.document import Document

from snnviz.core.eventprop import QUICK, readout_bits_for, yinyang_sets
from snnviz.models import eventprop_training as ept
from snnviz.models.eventprop_training import (
    NEGLIGIBLE,
    NO_GRADIENT,
    SCORED,
    EventPropTrainer,
    EventPropYinYang,
    forward_batch,
    gradient_vs_finite_differences,
    initial_weights,
    yinyang_data,
)
from snnviz.pages.wunderlich2021_eventprop import EventPropPage
from tests.helpers import count_compilations


@pytest.fixture(scope="module")
def page():
    return EventPropPage()


def _wait_until(condition, timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def _wait_for_steps(page: EventPropPage, steps: int) -> None:
    """Session calls run on the worker pool; outside a server their results are pushed from
    that thread as soon as they finish (the views last), and a stop starts the NeuroBench
    refresh on a worker: wait for all of it, so no worker touches the page during the next
    test (in a server every update goes through the session's thread)."""
    done = _wait_until(
        lambda: (
            page._latest.steps >= steps
            and not page.session.loop.busy
            and page._bench_steps == page.session.steps
            and not page.bench_progress.busy
        )
    )
    assert done, (page.session.steps, page._latest.steps, page.banner.message)


def _buttons(view) -> dict[str, pn.widgets.Widget]:
    found = {}
    for widget in view.select(pn.widgets.Widget):
        label = getattr(widget, "label", None) or getattr(widget, "name", "")
        found[str(label)] = widget
    return found


# -- the page ----------------------------------------------------------------------------------
def test_page_builds_renders_and_names_its_controls(page):
    view = page.panel()
    view.get_root(Document())  # renders every pane (HoloViews included) to Bokeh models
    labels = _buttons(view)
    for label in (
        "▶ Play",
        "Step",
        "Reset",
        "Gradient check",
        "Compute NeuroBench metrics",
        "Reproduce (quick)",
    ):
        assert label in labels, sorted(labels)
    for entry in EventPropPage.url_params:
        owner, _, name = entry.rpartition(".")
        assert name in (getattr(page, owner) if owner else page).param, entry
    assert len(page.sample_plots) == 4  # forward spikes, adjoint events, V and λ_V traces


def test_step_trains_through_the_session_and_refreshes_the_views(page):
    before = page.session.steps
    page.session.step()
    _wait_for_steps(page, before + page.session.steps_per_call)
    row = page.session.history[-1]
    assert {"loss", "train_acc", "test_acc", "test_loss", "epoch", "lr"} <= set(row)
    assert page._latest.steps == page.session.steps  # a Step shows its final state
    assert page._map_pipe.data is page._latest
    assert page._latest.grid_class.shape == (32, 32)
    assert set(np.unique(page._latest.grid_class)) <= {-1, 0, 1, 2}
    # training stopped: the NeuroBench table was computed on a worker and shown
    assert page.bench_pane.visible and "dense / spike" in page.bench_text.object


def test_training_calls_lower_the_loss_and_beat_chance():
    """A fresh trainer (default shapes): 40 calls of 10 Adam steps (~2.6 epochs)."""
    trainer = EventPropTrainer()
    first = trainer.train_steps(10)
    test0 = trainer.evaluate()
    losses = [trainer.train_steps(10)["loss"] for _ in range(39)]
    test1 = trainer.evaluate()
    assert np.mean(losses[-5:]) < 0.8 * first["loss"], (first, losses[-5:])
    assert test1["test_loss"] < test0["test_loss"]
    assert test1["test_acc"] > 0.6 > test0["test_acc"], (test0, test1)
    assert trainer.steps == 400 and trainer.epoch == pytest.approx(400 * 32 / 5000)


def test_hyperparameter_changes_apply_without_recompiling(page):
    page.session.step()
    _wait_for_steps(page, page.session.steps + 1)  # everything compiled for these shapes
    steps = page.session.steps
    sample_before = page.trainer.sample(0)["loss"]
    with count_compilations() as log:
        page.model.param.update(learning_rate=1e-3, tau_syn=4.0, tau_0=0.7, alpha=0.01)
        page.session.step()
        _wait_for_steps(page, steps + page.session.steps_per_call)
        sample_after = page.trainer.sample(0)["loss"]
    for name in ("train_epoch", "evaluate", "forward_batch", "_sample_arrays"):
        assert log.matching(name) == 0, log.names
    hyper = page.trainer.hyperparameters
    assert hyper["tau_syn"] == 4.0 and hyper["tau_0"] == 0.7 and hyper["alpha"] == 0.01
    assert float(page.trainer.net.neuron.tau_syn) == 4.0
    assert page.session.history[-1]["lr"] == pytest.approx(1e-3 * 0.95 ** int(page.trainer.epoch))
    assert sample_after != sample_before
    page.model.param.update(
        learning_rate=QUICK.learning_rate,
        tau_syn=QUICK.tau_syn,
        tau_0=QUICK.tau_0,
        alpha=QUICK.alpha,
    )


def test_bad_values_show_a_banner_and_pause(page):
    page.model.tau_syn = 0.2  # 30 ms window > 100 tau_syn: the event simulator's limit
    assert page.banner.visible and "τ_syn = 0.2 ms is too short" in page.banner.message
    assert not page.session.loop.running
    page.model.tau_syn = QUICK.tau_syn
    assert not page.banner.visible
    with pytest.raises(ValueError, match=r"\(learning_rate\) = -1 is outside \[1e-06, 0.1\]"):
        page.trainer.set_hyperparameters(learning_rate=-1)
    with pytest.raises(ValueError, match=r"unknown hyperparameter\(s\) \['n_hidden'\]"):
        page.trainer.set_hyperparameters(n_hidden=3)
    with pytest.raises(ValueError, match=r"test sample index must be in \[0, 1000\)"):
        page.trainer.sample(1000)


def test_structural_change_while_paused_resets_at_once(page):
    """A new batch size (a shape of the training call) re-initialises from the seed now."""
    page.model.batch_size = 16
    try:
        assert page.trainer.config.batch_size == 16 and page.trainer.steps == 0
        assert page.session.steps == 0 and page.session.history == []
        assert page._latest.steps == 0 and page.pending.object == ""
    finally:
        page.model.batch_size = QUICK.batch_size
    assert page.trainer.config.batch_size == QUICK.batch_size
    replacement = EventPropYinYang(batch_size=8, tau_0=0.8)  # e.g. a restored preset
    page.model = replacement
    assert page.trainer.model is replacement and page.trainer.config.batch_size == 8
    assert page.trainer.hyperparameters["tau_0"] == 0.8
    replacement.batch_size = QUICK.batch_size  # the new model is the one watched
    assert page.trainer.config.batch_size == QUICK.batch_size
    replacement.tau_0 = QUICK.tau_0


@pytest.mark.slow
def test_new_width_rebuilds_the_network_and_the_sample_plots(page):
    """Compiles the forward pass and the sample's adjoint for a second width (slow cold)."""
    old_plots = list(page.sample_plots)
    page.model.n_hidden = 12
    try:
        assert page.trainer.weights.hidden.shape == (12, 5)
        assert page._latest_sample["n_neurons"]["hidden"] == 12
        assert page._latest.hidden_weights.shape == (12, 5)
        assert all(new is not old for new, old in zip(page.sample_plots, old_plots, strict=True))
    finally:
        page.model.n_hidden = QUICK.n_hidden
    assert page.trainer.weights.hidden.shape == (QUICK.n_hidden, 5)


def test_gradient_check_button_path_agrees_with_finite_differences(page):
    result = page.trainer.gradient_check(3)
    assert result["max_relative_error"] < 1e-3 and result["n_scored"] > 20
    assert result["max_relative_error_vs_autodiff"] < 1e-6
    page._show_gradient_check(result)
    assert "max relative error" in page.grad_text.object and page.grad_pane.visible


# -- the measurement functions -----------------------------------------------------------------
def test_gradient_check_scores_without_looking_at_eventprop_and_catches_an_error(monkeypatch):
    """The same FD check flags a gradient that is 1 % off (a negative control)."""
    config = QUICK
    weights = initial_weights(config)
    net = config.network()
    data = yinyang_data(config)
    args = (weights, net, data.x_test[0], int(data.y_test[0]))
    hyper = {"tau_0": config.tau_0, "alpha": config.alpha, "tau_1": config.tau_1}
    good = gradient_vs_finite_differences(*args, **hyper)
    assert good["max_relative_error"] < 1e-4 and good["scored_fraction"] == 1.0
    assert set(np.unique(good["reason"])) <= {SCORED, NO_GRADIENT, NEGLIGIBLE}
    assert np.all((good["eventprop"] == 0) == (good["reason"] == NO_GRADIENT))
    real = ept.gradient_check

    def biased(*a, **kw):
        out = real(*a, **kw)
        out["eventprop"] = out["eventprop"] * 1.01
        return out

    monkeypatch.setattr(ept, "gradient_check", biased)
    bad = gradient_vs_finite_differences(*args, **hyper)
    np.testing.assert_array_equal(bad["reason"], good["reason"])  # scoring ignores EventProp
    assert bad["max_relative_error"] == pytest.approx(0.01 / 1.01, rel=1e-3)


def test_data_is_the_engine_split():
    (x_train, y_train), (x_test, y_test) = yinyang_sets(QUICK)
    data = yinyang_data(QUICK)
    np.testing.assert_array_equal(data.x_train, np.asarray(x_train))
    np.testing.assert_array_equal(data.y_train, np.asarray(y_train))
    np.testing.assert_array_equal(data.y_test, np.asarray(y_test))
    np.testing.assert_array_equal(data.x_test, np.asarray(x_test))


def test_neurobench_counts_and_readout_bits_in_closed_form(page):
    trainer = page.trainer
    report = trainer.neurobench()
    weights, net, _ = trainer.current()
    n_hidden = weights.hidden.shape[0]
    spikes = forward_batch(weights, net, trainer.data.x_test)
    hidden = np.isfinite(np.asarray(spikes.hidden)).sum(axis=2)  # (samples, n_hidden)
    output = np.isfinite(np.asarray(spikes.output_first))
    table = report["table"]
    assert table["Parameters"] == 5 * n_hidden + n_hidden * 3
    assert table["Footprint (bytes)"] == 4 * table["Parameters"] + 3 * 4  # + 3 neuron constants
    # every input spikes once into all its non-zero weights; each hidden spike into 3 outputs
    fan_in = np.count_nonzero(np.asarray(weights.hidden), axis=0).sum()
    fan_out = np.count_nonzero(np.asarray(weights.output), axis=0)
    expected_acs = fan_in + (hidden @ fan_out).mean()
    assert table["Effective ACs / sample"] == pytest.approx(expected_acs)
    assert table["Dense SynOps / sample"] == 60 * (5 * n_hidden + n_hidden * 3)
    active = hidden.sum() + output.sum()
    assert table["Activation sparsity"] == pytest.approx(
        1 - active / (60 * (n_hidden + 3) * hidden.shape[0])
    )
    row = next(r for r in report["readout_bits"] if r["dt_ms"] == 0.5)
    engine = readout_bits_for(weights, net, trainer.data.x_test, dt=0.5)
    assert row["event_bits"] == pytest.approx(engine["event_bits"], rel=1e-6)
    assert row["dense_over_event"] == pytest.approx(engine["dense_over_event"], rel=1e-6)
    page._show_neurobench(report, trainer.steps)
    assert "dense / spike" in page.bench_text.object and page.bench_pane.visible


def test_model_validates_and_keys_its_structure():
    model = EventPropYinYang()
    assert model.structure_key() == ("eventprop_yinyang", 60, 2, 32)
    assert model.config(seed=3).seed == 3 and model.config().tau_syn == QUICK.tau_syn
    model.tau_syn = 0.25
    with pytest.raises(ValueError, match=r"τ_syn >= 0\.3 ms"):
        model.build()
    with pytest.raises(ValueError):
        model.n_hidden = 0  # param's bounds
    assert jax.numpy.asarray(initial_weights(QUICK).hidden).shape == (QUICK.n_hidden, 5)


# -- reproduce ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_reproduce_quick_passes_every_claim(page):
    result = page.reproduce(quick=True)
    assert result.passed, result.summary()
    m = result.metrics
    assert 0.8 <= m["test_accuracy"] <= 1.0
    assert m["gradient_error_untrained"] < 1e-3 and m["gradient_error_trained"] < 1e-3
    assert m["gradient_scored_fraction_trained"] >= 0.9
    assert m["gradient_error_vs_autodiff_trained"] < 1e-6
    assert m["readout_bits_ratio"] >= 10.0
    assert m["neurobench"]["Accuracy"] == pytest.approx(m["test_accuracy"], abs=1e-6)
    assert set(result.figures) == {
        "learning_curves",
        "decision_map",
        "weights",
        "gradient_check",
        "neurobench",
    }
