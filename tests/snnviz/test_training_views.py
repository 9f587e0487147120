"""Training-lab views: element types and data equal to independent computations; bokeh render."""

from __future__ import annotations

import math

import holoviews as hv
import numpy as np
import pytest
from bokeh.models import DataTable, GridPlot, LinearColorMapper, Model

from snnviz import views
from snnviz.core.data import yinyang, yinyang_class
from snnviz.core.metrics import LayerActivity, neurobench_metrics


def _render(element: object) -> Model:
    model = hv.render(element, backend="bokeh")
    assert isinstance(model, Model)
    return model


def _history() -> list[dict[str, float]]:
    rows = [
        {"step": 10.0 * k, "loss": 2.0 / k, "train_acc": 0.3 + 0.06 * k, "epoch": k / 4}
        for k in range(1, 11)
    ]
    for k in (0, 4, 9):  # evaluated every fifth row, as a TrainingSession logs it
        rows[k].update(test_loss=2.2 / (k + 1), test_acc=0.25 + 0.07 * k)
    return rows


# -- history and learning curves ---------------------------------------------------------------
def test_history_columns_from_rows_and_from_columns():
    rows = _history()
    cols = views.history_columns(rows)
    assert list(cols)[:4] == ["step", "loss", "train_acc", "epoch"]
    assert np.isnan(cols["test_acc"]).sum() == 7
    np.testing.assert_allclose(cols["test_acc"][[0, 4, 9]], [0.25, 0.53, 0.88])
    again = views.history_columns(cols)
    np.testing.assert_array_equal(again["step"], cols["step"])
    assert np.isnan(views.history_columns([{"step": 1, "note": "warm-up"}])["note"][0])
    with pytest.raises(ValueError, match="equal lengths"):
        views.history_columns({"step": [1, 2], "loss": [1.0]})


def test_learning_curves_draw_train_and_sparse_test_points_in_percent():
    layout = views.learning_curves(_history(), chance=1 / 3)
    assert isinstance(layout, hv.Layout)
    loss, accuracy = layout
    loss_curves = {c.label: c for c in loss if isinstance(c, hv.Curve)}
    assert set(loss_curves) == {"train", "test"}
    np.testing.assert_allclose(
        loss_curves["train"].dimension_values("step"), np.arange(10, 101, 10)
    )
    np.testing.assert_allclose(
        loss_curves["train"].dimension_values("loss"), 2.0 / np.arange(1, 11)
    )
    np.testing.assert_allclose(loss_curves["test"].dimension_values("step"), [10, 50, 100])
    acc = {c.label: c for c in accuracy if isinstance(c, hv.Curve)}
    np.testing.assert_allclose(acc["test"].dimension_values("accuracy"), [25.0, 53.0, 88.0])
    chance = [el for el in accuracy if isinstance(el, hv.HLine)]
    assert len(chance) == 1 and chance[0].data == pytest.approx(100 / 3)
    grid = _render(layout)
    figs = [child[0] for child in grid.children]
    assert figs[0].xaxis[0].axis_label == "training step"
    assert figs[1].yaxis[0].axis_label == "accuracy (%)"
    assert (figs[1].y_range.start, figs[1].y_range.end) == (0, 100)


def test_learning_curves_before_any_step_and_custom_keys():
    empty = views.learning_curves([])
    _render(empty)
    cols = {"step": [1, 2, 3], "val_loss": [3.0, 2.0, 1.0], "val_acc": [0.1, 0.2, 0.4]}
    layout = views.learning_curves(
        cols, loss_keys={"val_loss": "validation"}, accuracy_keys={"val_acc": "validation"}
    )
    curve = next(c for c in layout[1] if isinstance(c, hv.Curve))
    assert curve.label == "validation"
    np.testing.assert_allclose(curve.dimension_values(1), [10.0, 20.0, 40.0])
    with pytest.raises(ValueError, match="chance must be a fraction"):
        views.learning_curves(cols, chance=33.3)


# -- decision map ------------------------------------------------------------------------------
def test_decision_map_of_the_true_classifier_has_no_misclassified_points():
    n = 64
    xs = (np.arange(n) + 0.5) / n
    grid_x, grid_y = np.meshgrid(xs, xs)  # (ny, nx): row j is y = xs[j]
    truth = np.asarray(yinyang_class(grid_x, grid_y))
    test = yinyang(300, seed=5)
    overlay = views.decision_map(
        xs, xs, truth, test.points, test.labels, predictions=test.labels, title="truth"
    )
    image = next(el for el in overlay if isinstance(el, hv.Image))
    np.testing.assert_array_equal(image.dimension_values(2, flat=False), truth)
    assert image.bounds.lbrt() == pytest.approx((0, 0, 1, 1))
    # the image at a point's location is that point's class (up to pixels on a boundary)
    rows = np.minimum((test.points[:, 1] * n).astype(int), n - 1)
    cols = np.minimum((test.points[:, 0] * n).astype(int), n - 1)
    assert np.mean(truth[rows, cols] == test.labels) > 0.9
    points = {el.label: el for el in overlay if isinstance(el, hv.Points)}
    assert [points[name].data.shape[0] for name in ("yin", "yang", "dot")] == [
        int(np.sum(test.labels == c)) for c in range(3)
    ]
    assert len(points["misclassified"]) == 0
    same = views.decision_map(grid_x, grid_y, truth)  # meshgrid coordinates work too
    np.testing.assert_array_equal(same.get(0).dimension_values(2, flat=False), truth)


def test_decision_map_colours_are_categorical_and_errors_are_marked():
    xs = np.linspace(0.05, 0.95, 10)
    pred = np.tile(np.arange(10) % 3, (10, 1))
    pts = np.array([[0.1, 0.1], [0.5, 0.5], [0.9, 0.2]])
    overlay = views.decision_map(xs, xs, pred, pts, [0, 1, 2], predictions=[0, 2, 2])
    wrong = next(el for el in overlay if el.label == "misclassified")
    np.testing.assert_allclose(wrong.array(), [[0.5, 0.5]])
    fig = _render(overlay)
    mapper = next(m for m in fig.select(LinearColorMapper))
    assert (mapper.low, mapper.high) == (-0.5, 2.5)  # value k falls in colour bin k
    assert len(mapper.palette) == 3 and mapper.palette[0] != mapper.palette[1]
    assert fig.frame_width == fig.frame_height  # square: the unit square is not distorted
    with pytest.raises(ValueError, match=r"shape \(len\(yy\), len\(xx\)\) = \(10, 10\)"):
        views.decision_map(xs, xs, pred[:, :5])
    with pytest.raises(ValueError, match="evenly spaced"):
        views.decision_map(xs**2, xs, pred)
    with pytest.raises(ValueError, match="labels of the points"):
        views.decision_map(xs, xs, pred, pts)


# -- weights -----------------------------------------------------------------------------------
def test_weight_histograms_count_every_finite_weight():
    rng = np.random.default_rng(0)
    w1 = rng.normal(size=(4, 120))
    w2 = 3 + rng.normal(size=(120, 3))
    w2[0, 0] = np.nan
    overlay = views.weight_histograms({"input->hidden": w1, "hidden->output": w2}, bins=30)
    assert isinstance(overlay, hv.Overlay)
    h1, h2 = overlay
    assert (h1.label, h2.label) == ("input->hidden", "hidden->output")
    assert h1.dimension_values(1).sum() == w1.size
    assert h2.dimension_values(1).sum() == w2.size - 1  # the NaN is left out
    np.testing.assert_allclose(h1.edges, h2.edges)  # shared bins when overlaid
    assert h1.edges[0] == pytest.approx(min(w1.min(), np.nanmin(w2)))
    assert _render(overlay).xaxis[0].axis_label == "weight"

    grid = views.weight_histograms({"a": w1, "b": w2}, layout="grid", density=True, unit="pA")
    assert isinstance(grid, hv.Layout)
    for hist, w in zip(grid, (w1, w2), strict=True):
        widths = np.diff(hist.edges)
        assert np.sum(hist.dimension_values(1) * widths) == pytest.approx(1.0)  # unit area
        assert hist.edges[-1] == pytest.approx(np.nanmax(w))  # own range per panel
    assert isinstance(_render(grid), GridPlot)
    constant = views.weight_histograms({"c": np.full(5, 0.2)})  # zero-width range is widened
    assert constant.get(0).dimension_values(1).sum() == 5
    with pytest.raises(ValueError, match="layout must be"):
        views.weight_histograms({"a": w1}, layout="stack")  # type: ignore[arg-type]


# -- one sample's spikes -----------------------------------------------------------------------
def _layers():
    return {
        "input": (np.array([1.0, 2.0, 3.0]), np.array([0, 1, 4])),
        "hidden": (np.array([2.5, 4.0]), np.array([3, 9])),
        "output": (np.array([6.0]), np.array([1])),
    }


def test_spike_raster_sample_stacks_layers_in_order():
    overlay = views.spike_raster_sample(_layers(), n_neurons={"input": 5, "hidden": 10})
    scatters = [el for el in overlay if isinstance(el, hv.Scatter)]
    assert [s.label for s in scatters] == ["input", "hidden", "output"]
    np.testing.assert_array_equal(scatters[0].dimension_values(1), [0, 1, 4])
    np.testing.assert_array_equal(scatters[1].dimension_values(1), [5 + 3, 5 + 9])
    np.testing.assert_array_equal(scatters[2].dimension_values(1), [15 + 1])  # 2 outputs
    np.testing.assert_array_equal(scatters[1].dimension_values(0), [2.5, 4.0])
    fig = _render(overlay)
    assert fig.yaxis[0].major_label_overrides == {2: "input", 9.5: "hidden", 15.5: "output"}
    assert fig.xaxis[0].axis_label == "time (ms)"
    with pytest.raises(ValueError, match=r"layer 'hidden': neuron ids must be in \[0, 5\)"):
        views.spike_raster_sample(_layers(), n_neurons={"hidden": 5})


def test_events_by_layer_splits_flat_events():
    t = np.array([1.0, 2.0, 3.0, 4.0])
    split = views.events_by_layer(t, [0, 1, 2, 0], [0, 1, 1, 2], ["in", "hid", "out"], [9, 8, 7, 6])
    np.testing.assert_array_equal(split["hid"][0], [2.0, 3.0])
    np.testing.assert_array_equal(split["hid"][2], [8.0, 7.0])
    np.testing.assert_array_equal(split["out"][1], [0])
    assert list(split) == ["in", "hid", "out"]
    with pytest.raises(ValueError, match=r"layer codes \[3\] have no name"):
        views.events_by_layer(t, [0, 0, 0, 0], [0, 1, 2, 3], ["in", "hid", "out"])


def test_adjoint_events_share_time_and_rows_with_the_forward_spikes():
    forward = _layers()
    jumps = {
        "hidden": (np.array([2.5, 4.0]), np.array([3, 9]), np.array([0.4, -1.5])),
        "output": (np.array([6.0]), np.array([1]), np.array([2.0])),
    }
    layout = views.adjoint_events(forward, jumps, n_neurons={"input": 5, "hidden": 10})
    assert isinstance(layout, hv.Layout) and len(layout) == 2
    bottom = next(el for el in layout[1] if isinstance(el, hv.Scatter))
    np.testing.assert_array_equal(bottom.dimension_values("t"), [2.5, 4.0, 6.0])
    np.testing.assert_array_equal(bottom.dimension_values("row"), [8, 14, 16])  # = forward rows
    np.testing.assert_array_equal(bottom.dimension_values("jump"), [0.4, -1.5, 2.0])
    grid = _render(layout)
    top_fig, bottom_fig = (child[0] for child in grid.children)
    assert top_fig.x_range is bottom_fig.x_range  # one time axis
    mapper = next(m for m in bottom_fig.select(LinearColorMapper))
    assert (mapper.low, mapper.high) == (-2.0, 2.0)  # symmetric: white means no adjoint jump
    with pytest.raises(ValueError, match=r"adjoint layers \['readout'\]"):
        views.adjoint_events(forward, {"readout": jumps["output"]})
    with pytest.raises(ValueError, match="equal-length"):
        views.adjoint_events(forward, {"hidden": (np.array([1.0]), np.array([0]), np.zeros(2))})


# -- NeuroBench table --------------------------------------------------------------------------
def test_metrics_table_from_neurobench_metrics():
    rng = np.random.default_rng(1)
    w1 = rng.normal(size=(5, 8)) * (rng.random((5, 8)) < 0.5)
    w2 = rng.normal(size=(8, 3))
    x = (rng.random((20, 10, 5)) < 0.3).astype(np.float32)
    h = (rng.random((20, 10, 8)) < 0.2).astype(np.float32)
    out = (rng.random((20, 10, 3)) < 0.2).astype(np.float32)
    layers = [LayerActivity(w1, x, h, name="in"), LayerActivity(w2, h, out, name="out")]
    labels = rng.integers(0, 3, 20)
    nb = neurobench_metrics({"w1": w1, "w2": w2}, layers, out.sum(1), labels)
    rows = [
        {"model": "surrogate BPTT", **nb["table"]},
        {"model": "EventProp", "Accuracy": 0.93, "Footprint (bytes)": 1234, "notes": "exact"},
    ]
    table = views.metrics_table(rows, title="NeuroBench")
    assert isinstance(table, hv.Table)
    assert [d.name for d in table.kdims] == ["model"]
    assert [d.name for d in table.vdims] == [*nb["table"], "notes"]
    assert list(table.dimension_values("model")) == ["surrogate BPTT", "EventProp"]
    fp = table.dimension_values("Footprint (bytes)")
    assert fp[0] == nb["footprint"] == 8 * (5 * 8 + 8 * 3)  # float64 weights
    assert fp[1] == 1234
    assert math.isnan(table.dimension_values("Effective ACs / sample")[1])  # missing -> NaN
    assert list(table.dimension_values("notes")) == ["", "exact"]
    grid = _render(table).select_one({"type": DataTable})  # (under the title)
    assert [c.title for c in grid.columns][:2] == ["model", "Footprint (bytes)"]
    cols = views.metrics_columns(rows)
    assert next(iter(cols)) == "model" and cols["notes"] == [None, "exact"]
    with pytest.raises(ValueError, match="at least one row"):
        views.metrics_table([])
