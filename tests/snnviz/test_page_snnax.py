"""Surrogate-gradient (SNNAX) page: trainer, live session, views, NeuroBench wiring, checks and
the quick reproduce."""

from __future__ import annotations

import equinox as eqx
import holoviews as hv
import jax
import numpy as np
import pytest
from bokeh.models import Span

from snnviz.components import FrameScheduler
from snnviz.core.snn import SURROGATE_KINDS
from snnviz.models.surrogate_training import (
    StraightThroughSpike,
    SurrogateTrainer,
    SurrogateTraining,
    _gradients_and_output,
    mixed_surrogate_network,
    neurobench_report,
    readout_gradient_check,
    straight_through_check,
    task_data,
)
from snnviz.pages.lohoff2024_snnax import (
    SurrogateTrainingPage,
)
from tests.helpers import count_compilations

hv.extension("bokeh")


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        self.t += 0.05
        return self.t


@pytest.fixture(scope="module")
def page() -> SurrogateTrainingPage:
    """A page whose session runs calls inline (no worker, no timer): ``session.step()`` is
    one synchronous ``train_steps`` call plus evaluation and snapshot."""
    return SurrogateTrainingPage(
        session_options={
            "offload": False,
            "scheduler": FrameScheduler(autostart=False),
            "clock": FakeClock(),
        }
    )


def _render(obj) -> None:
    hv.renderer("bokeh").get_plot(obj)


# -- the page ----------------------------------------------------------------------------------
def test_page_builds_with_controls_views_and_url_params(page):
    layout = page.panel()
    assert layout is not None
    labels = {page.session.controls.step_button.label, page.session.controls.reset_button.label}
    assert labels == {"Step", "Reset"} and page.neurobench_button.label == "NeuroBench metrics"
    for dotted in page.url_params:
        owner, name = dotted.split(".")
        assert name in getattr(page, owner).param, dotted
    # the initial model is drawn: decision map, weights, sample raster and readout
    for pane in (page._task_pane, page._weights_pane, page._raster_pane, page._readout_pane):
        assert isinstance(pane.object, hv.DynamicMap)
        _render(pane.object[()])
    assert page.neurobench_rows and page.neurobench_rows[0]["step"] == 0


def test_step_trains_updates_views_and_live_values_do_not_recompile(page):
    session, trainer = page.session, page.trainer
    session.step()  # compiles the call (once per process)
    first = session.history[-1]
    assert session.steps == 10 and "test_acc" in first
    before = np.asarray(trainer.network.layers[0].weight).copy()
    with count_compilations() as log:
        page.model.learning_rate = 0.02
        page.model.slope = 4.0
        session.step()
        session.step()
    assert log.matching("train_steps") == 0, log.names
    assert trainer.hyperparameters["learning_rate"] == pytest.approx(0.02)
    assert trainer.hyperparameters["slope"] == pytest.approx(4.0)
    assert not np.allclose(before, trainer.network.layers[0].weight)
    assert session.history[-1]["loss"] < first["loss"]
    # the pipes carry the newest snapshot: 30 steps, confusion over the whole test set
    shot = page._snapshot_pipe.data
    assert shot.steps == 30 and shot.confusion.sum() == trainer.data.x_test.shape[0]
    assert page.neurobench_rows[0]["step"] == 30  # refreshed when training stopped
    accuracy_src = session.curves.accuracy.sources["test"].data
    assert len(accuracy_src["x"]) == 3 and max(accuracy_src["y"]) <= 100


def test_sample_index_redraws_the_raster(page):
    page.model.sample_index = 7
    sample = page._sample_pipe.data
    assert sample["index"] == 7 and sample["label"] == int(page.trainer.data.y_test[7])
    hidden_t, hidden_ids = sample["events"]["hidden"]
    assert hidden_t.size == sample["hidden_spikes"] and hidden_ids.max() < page.model.n_hidden
    # the input raster shows the latency code: five inputs, one spike each (bias included)
    in_t, in_ids = sample["events"]["input"]
    assert sorted(in_ids.tolist()) == [0, 1, 2, 3, 4]
    point = task_data("yinyang").test_points[7]
    assert in_t[in_ids == 0][0] == pytest.approx(np.floor(2.0 + 20.0 * point[0]))


def test_bad_batch_size_for_digits_shows_a_banner_and_keeps_the_model(page):
    structure = page.trainer.structure
    page.model.batch_size = 2000  # fine for 5000 Yin-Yang samples: paused, so it resets
    assert not page.banner.visible and page.trainer.config.batch_size == 2000
    page.model.task = "digits"  # 1438 training images
    assert page.banner.visible and "batch size 2000 exceeds the 1438" in page.banner.message
    assert page.trainer.data.task == "yinyang"  # nothing rebuilt
    page.model.param.update(batch_size=64, task="yinyang")
    assert not page.banner.visible and page.trainer.structure == structure
    with pytest.raises(ValueError, match=r"surrogate slope k \(1/θ\) \(slope\) = 0 is outside"):
        page.trainer.check_hyperparameters(slope=0)


def test_structural_changes_apply_at_once_when_paused_and_on_reset_when_running(page):
    page.model.param.update(task="digits", recurrent=True, n_hidden=40)
    trainer = page.trainer
    assert trainer.data.task == "digits" and trainer.network.layers[0].recurrent
    assert page.model.param.sample_index.bounds == (0, 358)
    shot = page._snapshot_pipe.data
    assert set(shot.weights) == {"input → hidden", "hidden → hidden", "hidden → readout"}
    assert shot.grid_class is None and shot.confusion.shape == (10, 10)
    for pane in (page._task_pane, page._weights_pane, page._raster_pane, page._readout_pane):
        _render(pane.object[()])  # confusion heatmap, three histograms, 64 input rows
    span = [r for r in page.session.curves.accuracy.figure.center if isinstance(r, Span)]
    assert span[0].location == pytest.approx(10.0)
    page.session.loop.running = True  # as after Play (no frames are ticked here)
    page.model.n_hidden = 24
    assert "applies at the next **Reset**" in page.note.object
    assert trainer.network.layers[0].n_out == 40
    page.session.pause()
    page.session.reset()
    assert trainer.network.layers[0].n_out == 24 and page.note.object == ""
    page.model.param.update(task="yinyang", recurrent=False, n_hidden=120)


def test_warm_up_compiles_what_the_default_page_uses():
    SurrogateTrainingPage.warm_up()
    trainer = SurrogateTrainer(SurrogateTraining())
    with count_compilations() as log:
        trainer.train_steps(10)
        trainer.evaluate()
        trainer.snapshot()
    assert log.matching("train_steps") == 0 and log.matching("predict") == 0, log.names


# -- the trainer's pieces ----------------------------------------------------------------------
def test_surrogate_kind_changes_live_compiles_once_and_keeps_the_state():
    trainer = SurrogateTrainer(SurrogateTraining(n_hidden=16, batch_size=32))
    trainer.train_steps(3)
    weights = np.asarray(trainer.network.layers[0].weight)
    moments = [np.asarray(m) for m in jax.tree.leaves(trainer.opt_state)]
    trainer.set_hyperparameters(surrogate="triangle", slope=2.0)
    layer = trainer.network.layers[0]
    assert layer.surrogate.kind == "triangle" and float(layer.surrogate.slope) == 2.0
    np.testing.assert_array_equal(weights, layer.weight)
    for before, after in zip(moments, jax.tree.leaves(trainer.opt_state), strict=True):
        np.testing.assert_array_equal(before, after)  # Adam's moments survive the new kind
    with count_compilations() as new_kind:
        metrics = trainer.train_steps(3)
    with count_compilations() as new_slope:
        trainer.set_hyperparameters(slope=7.0, learning_rate=1e-3)
        trainer.train_steps(3)
    assert new_kind.matching("train_steps") == 1, new_kind.names  # the counter does count
    assert new_slope.matching("train_steps") == 0, new_slope.names
    assert np.isfinite(metrics["loss"]) and trainer.steps == 9
    with pytest.raises(ValueError, match="live ones are"):
        trainer.set_hyperparameters(n_hidden=3)


def test_neurobench_synaptic_operations_match_a_direct_count():
    """Effective ACs per sample = input spikes x fan-out + hidden spikes x (fan-out of the
    readout + recurrent fan-out): every weight is non-zero, every input binary."""
    model = SurrogateTraining(n_hidden=24, recurrent=True)
    trainer = SurrogateTrainer(model)
    data = trainer.data
    x, y = data.x_test[:50], data.y_test[:50]
    report = neurobench_report(trainer.network, x, y)
    hidden = np.asarray(jax.vmap(trainer.network)(x).spikes[0])
    n_in_spikes = float(np.asarray(x).sum()) / 50
    n_hidden_spikes = float(hidden.sum()) / 50
    # the recurrent layer sees the spikes of the previous step: the last step's are unused
    n_recurrent_inputs = float(hidden[:, :-1].sum()) / 50
    expected = n_in_spikes * 24 + n_hidden_spikes * 3 + n_recurrent_inputs * 24
    ops = report["synaptic_operations"]
    assert ops["Effective_ACs"] == pytest.approx(expected) and ops["Effective_MACs"] == 0
    assert ops["Dense"] == pytest.approx(data.n_steps * (5 * 24 + 24 * 24 + 24 * 3))
    assert report["activation_sparsity"] == pytest.approx(1.0 - hidden.mean())
    assert report["parameter_count"] == 5 * 24 + 24 * 24 + 24 * 3
    assert report["hidden_spikes_per_sample"] == pytest.approx(n_hidden_spikes)


def test_readout_gradient_matches_finite_differences_and_hidden_fd_vanishes():
    trainer = SurrogateTrainer(SurrogateTraining(n_hidden=32))
    x, y = trainer.data.x_test[:16], trainer.data.y_test[:16]
    check = readout_gradient_check(trainer.network, x, y, n_directions=4)
    assert check["readout_rel_error"] < 1e-6
    assert check["hidden_fd_over_surrogate"] == 0.0 and check["hidden_grad_norm"] > 0


@pytest.mark.slow  # three spiking layers in float64: ~15 s to compile on a cold cache
def test_straight_through_check_covers_every_kind_and_can_fail():
    data = task_data("yinyang")
    x, y = data.x_test[:16], data.y_test[:16]
    network = mixed_surrogate_network(jax.random.key(3))
    kinds = [layer.surrogate.kind for layer in network.layers if layer.emits_spikes]
    assert sorted(kinds) == sorted(SURROGATE_KINDS)
    check = straight_through_check(network, x, y)
    assert min(check["spikes_per_layer"]) > 0, "every layer must spike for the check to mean much"
    assert check["rel_error"] < 1e-10 and check["forward_diff"] == 0.0
    assert check["min_grad_norm"] > 0
    # negative control: a straight-through spike with another slope gives other gradients
    single = SurrogateTrainer(SurrogateTraining(n_hidden=16)).network  # fast sigmoid, k = 10
    wrong = eqx.tree_at(
        lambda m: m.layers[0].surrogate, single, StraightThroughSpike("fast_sigmoid", 2.0)
    )
    right = eqx.tree_at(
        lambda m: m.layers[0].surrogate, single, StraightThroughSpike("fast_sigmoid", 10.0)
    )
    g_vjp, _ = _gradients_and_output(single, x, y, "max")
    g_right, _ = _gradients_and_output(right, x, y, "max")
    g_wrong, _ = _gradients_and_output(wrong, x, y, "max")
    np.testing.assert_allclose(
        g_right.layers[0].weight, g_vjp.layers[0].weight, rtol=1e-4, atol=1e-7
    )
    assert not np.allclose(g_wrong.layers[0].weight, g_vjp.layers[0].weight, rtol=1e-2)


# -- reproduce ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_quick_reproduce_passes_with_sane_metrics(page):
    result = page.reproduce(quick=True)
    assert result.passed, result.summary()
    m = result.metrics
    assert 0.8 <= m["yinyang_test_acc"] <= 1.0 and 0.85 <= m["digits_test_acc"] <= 1.0
    assert m["yinyang_epochs"] == 8 and m["digits_epochs"] == 10
    assert 0.5 < m["yinyang_activation_sparsity"] < 1.0
    assert m["hidden_fd_over_surrogate"] == 0.0  # why surrogates: the true gradient is zero
    assert m["surrogate_forward_diff"] == 0.0 and min(m["surrogate_check_spikes"]) > 0
    assert {"yinyang_learning", "yinyang_task", "digits_task", "neurobench"} <= set(result.figures)
    for name in ("yinyang_task", "digits_task", "yinyang_sample"):
        _render(result.figures[name])
