"""Views: element types, data equal to independent computations, and bokeh rendering."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pytest
from bokeh.models import Model

from snnviz import views
from snnviz.core.analysis import events as spk


def _render(element: object) -> Model:
    model = hv.render(element, backend="bokeh")
    assert isinstance(model, Model)
    return model


def _poisson_events(rng, n_neurons: int, rate_hz: float, t_ms: float):
    counts = rng.poisson(rate_hz * t_ms / 1000.0, size=n_neurons)
    ids = np.repeat(np.arange(n_neurons), counts)
    times = rng.uniform(0.0, t_ms, size=ids.size)
    return times, ids


# -- spike arithmetic ---------------------------------------------------------------------------
def test_spike_events_from_dense_matches_loop():
    rng = np.random.default_rng(0)
    dense = rng.random((50, 7)) < 0.2
    t = 0.5 * np.arange(50)
    times, ids = views.spike_events(dense, t)
    expected = [(t[i], j) for i in range(50) for j in range(7) if dense[i, j]]
    assert list(zip(times.tolist(), ids.tolist(), strict=True)) == expected
    with pytest.raises(ValueError, match=r"spikes of shape \(T, N\)"):
        views.spike_events(dense, t[:-1])


def test_bin_spike_counts_matches_brute_force_with_grouped_rows():
    rng = np.random.default_rng(1)
    n, rows = 103, 10  # rows group unequal numbers of neurons
    times = rng.uniform(0, 100, 2000)
    ids = rng.integers(0, n, 2000)
    counts, t_edges, r_edges = views.bin_spike_counts(
        times, ids, n_neurons=n, t_range=(0, 100), bin_ms=7.0, n_rows=rows
    )
    assert counts.shape == (rows, 15) and t_edges[-1] >= 100
    expected = np.zeros_like(counts)
    for t, i in zip(times, ids, strict=True):
        r = next(r for r in range(rows) if r_edges[r] <= i < r_edges[r + 1])
        expected[r, int(t // 7.0)] += 1
    np.testing.assert_array_equal(counts, expected)
    assert counts.sum() == times.size


def test_bin_spike_counts_includes_right_edge_and_drops_outside():
    counts, _, _ = views.bin_spike_counts(
        [0.0, 5.0, 10.0, 10.5, -1.0], [0, 0, 0, 0, 0], n_neurons=1, t_range=(0, 10), bin_ms=5
    )
    np.testing.assert_array_equal(counts, [[1, 2]])


def test_population_rate_of_regular_trains_is_exact():
    n, period = 20, 10.0  # every neuron fires every 10 ms -> 100 Hz
    times = np.concatenate([np.arange(0.5 + i * 0.3, 1000, period) for i in range(n)])
    centres, rate = views.population_rate_hz(times, n_neurons=n, t_range=(0, 1000), bin_ms=50)
    np.testing.assert_allclose(rate, 100.0)
    np.testing.assert_allclose(centres, np.arange(25, 1000, 50))


def test_isi_and_cv_regular_vs_poisson():
    regular = np.tile(np.arange(0, 1000, 20.0), 3)
    ids = np.repeat(np.arange(3), 50)
    isi = views.interspike_intervals(regular, ids)
    assert isi.size == 150 - 3
    np.testing.assert_allclose(isi, 20.0)
    np.testing.assert_allclose(views.isi_cv(regular, ids), 0.0, atol=1e-12)
    rng = np.random.default_rng(2)
    times = np.cumsum(rng.exponential(10.0, size=(4, 5000)), axis=1).ravel()
    cv = views.isi_cv(times, np.repeat(np.arange(4), 5000))
    np.testing.assert_allclose(cv, 1.0, atol=0.05)  # Poisson process: CV = 1
    with pytest.raises(ValueError, match="min_spikes"):
        views.isi_cv(times, np.repeat(np.arange(4), 5000), min_spikes=2)


# -- traces -------------------------------------------------------------------------------------
def test_membrane_traces_one_curve_per_selected_neuron():
    t = 0.1 * np.arange(200)
    v = np.sin(t[:, None] + np.arange(6)[None, :])
    overlay = views.membrane_traces(t, v, neurons=[1, 4], threshold_mv=0.5)
    assert isinstance(overlay, hv.Overlay)
    curves = [el for el in overlay if isinstance(el, hv.Curve)]
    assert [c.label for c in curves] == ["neuron 1", "neuron 4"]
    np.testing.assert_allclose(curves[1].dimension_values(1), v[:, 4])
    assert any(isinstance(el, hv.HLine) for el in overlay)
    fig = _render(overlay)
    assert fig.xaxis[0].axis_label == "time (ms)"
    assert fig.yaxis[0].axis_label == "membrane potential (mV)"
    with pytest.raises(ValueError, match="out of range"):
        views.membrane_traces(t, v, neurons=[6])


# -- raster -------------------------------------------------------------------------------------
def test_raster_scatter_below_threshold_holds_every_spike():
    rng = np.random.default_rng(3)
    times, ids = _poisson_events(rng, 500, 10.0, 1000.0)
    raster = views.spike_raster(times, ids, n_neurons=500, t_range=(0, 1000))
    assert isinstance(raster, hv.Scatter)
    assert len(raster) == times.size
    np.testing.assert_array_equal(np.sort(raster.dimension_values(1)), np.sort(ids))
    _render(raster)


def test_raster_binned_above_threshold_keeps_counts_and_bounded_size():
    rng = np.random.default_rng(4)
    times, ids = _poisson_events(rng, 10_000, 5.0, 1000.0)
    raster = views.spike_raster(times, ids, n_neurons=10_000, t_range=(0, 1000))
    assert isinstance(raster, hv.Image)
    values = raster.dimension_values(2, flat=False)
    assert values.shape == (400, 800)  # max_rows x n_time_bins, whatever the spike count
    assert values.sum() == times.size
    # rows group 25 neurons each: row r counts neurons 25r .. 25r + 24
    expected_row0 = np.count_nonzero(ids < 25)
    assert raster.dimension_values(2, flat=False)[0].sum() == expected_row0
    assert raster.bounds.lbrt() == pytest.approx((0, 0, 1000, 10_000))
    fig = _render(raster)
    assert fig.yaxis[0].axis_label == "neuron"


def test_raster_switches_on_spike_count_and_honours_method():
    times = np.linspace(0, 100, 1000)
    ids = np.arange(1000) % 10
    assert isinstance(views.spike_raster(times, ids, max_scatter_spikes=999), hv.Image)
    assert isinstance(views.spike_raster(times, ids, method="binned"), hv.Image)
    with pytest.raises(ValueError, match="method must be"):
        views.spike_raster(times, ids, method="pixels")  # type: ignore[arg-type]


@pytest.mark.slow  # datashader's numba kernels compile on first use (~9 s)
def test_raster_datashader_method_aggregates_counts():
    rng = np.random.default_rng(8)
    times, ids = _poisson_events(rng, 3000, 5.0, 200.0)
    shaded = views.spike_raster(times, ids, n_neurons=3000, method="datashader")
    assert isinstance(shaded, hv.DynamicMap)
    image = shaded[()]  # evaluate the pipeline once at its default ranges
    assert isinstance(image, hv.Image)
    _render(shaded)


# -- rates --------------------------------------------------------------------------------------
def test_population_rate_view_matches_helper():
    rng = np.random.default_rng(5)
    times, _ = _poisson_events(rng, 100, 20.0, 500.0)
    hist = views.population_rate(times, n_neurons=100, t_range=(0, 500), bin_ms=10)
    assert isinstance(hist, hv.Histogram)
    _, rate = views.population_rate_hz(times, n_neurons=100, t_range=(0, 500), bin_ms=10)
    np.testing.assert_allclose(hist.dimension_values(1), rate)
    np.testing.assert_allclose(hist.edges, np.arange(0, 501, 10))
    curve = views.population_rate(times, n_neurons=100, t_range=(0, 500), as_curve=True)
    assert isinstance(curve, hv.Curve)
    assert _render(hist).yaxis[0].axis_label == "firing rate (Hz)"
    _render(curve)


def test_isi_and_cv_histograms_count_intervals_and_neurons():
    rng = np.random.default_rng(6)
    times, ids = _poisson_events(rng, 50, 30.0, 1000.0)
    isi_hist = views.isi_histogram(times, ids, bins=30)
    assert isinstance(isi_hist, hv.Histogram)
    n_intervals = sum(max(0, np.count_nonzero(ids == i) - 1) for i in range(50))
    assert isi_hist.dimension_values(1).sum() == n_intervals
    cv_hist = views.cv_histogram(times, ids)
    assert cv_hist.dimension_values(1).sum() == sum(
        np.count_nonzero(ids == i) >= 3 for i in range(50)
    )
    _render(isi_hist)
    _render(cv_hist)


# -- f-I ----------------------------------------------------------------------------------------
def test_fi_curve_with_callable_and_tabulated_closed_form():
    i = np.linspace(0, 500, 11)
    f = np.maximum(0, i - 100) * 0.1
    overlay = views.fi_curve(i, f, closed_form=lambda x: np.maximum(0, x - 100) * 0.1)
    assert isinstance(overlay, hv.Overlay)
    ref = next(el for el in overlay if el.label == "closed form")
    np.testing.assert_allclose(
        ref.dimension_values(1), np.maximum(0, ref.dimension_values(0) - 100) * 0.1
    )
    assert ref.dimension_values(0).min() == 0 and ref.dimension_values(0).max() == 500
    measured = [el for el in overlay if el.label == "simulated"]
    assert {type(el) for el in measured} == {hv.Curve, hv.Scatter}
    fig = _render(overlay)
    assert fig.xaxis[0].axis_label == "input current (pA)"
    tab = views.fi_curve(i, f, closed_form=(i, f))
    assert len(tab) == 3
    assert len(views.fi_curve(i, f)) == 2
    with pytest.raises(ValueError, match="same length"):
        views.fi_curve(i, f[:-1])


# -- phase plane --------------------------------------------------------------------------------
GL, EL, VT, DT, A, I_EXT, C, TAU_W = 10.0, -70.0, -50.0, 2.0, 2.0, 300.0, 200.0, 100.0


def _v_null(v):
    return -GL * (v - EL) + GL * DT * np.exp((v - VT) / DT) + I_EXT


def _field(v, w):
    return (_v_null(v) - w) / C, (A * (v - EL) - w) / TAU_W


def test_phase_plane_layers_and_clipped_nullclines():
    traj_v = np.linspace(-70, -45, 100)
    traj_w = np.linspace(0, 80, 100)
    overlay = views.phase_plane(
        v_range_mv=(-80, -40),
        w_range_pa=(-50, 400),
        v_nullcline=_v_null,
        w_nullcline=lambda v: A * (v - EL),
        vector_field=_field,
        trajectory=(traj_v, traj_w),
    )
    assert isinstance(overlay, hv.Overlay)
    layers = {el.label: el for el in overlay}
    assert set(layers) == {"flow", "V-nullcline", "w-nullcline", "trajectory", "start"}
    assert isinstance(layers["flow"], hv.Segments)
    vn = layers["V-nullcline"]
    v, w = vn.dimension_values(0), vn.dimension_values(1)
    inside = np.isfinite(w)
    np.testing.assert_allclose(w[inside], _v_null(v[inside]))
    assert not inside.all()  # the exponential leaves the window and is hidden, not drawn
    np.testing.assert_allclose(layers["trajectory"].dimension_values(0), traj_v)
    fig = _render(overlay)
    assert (fig.x_range.start, fig.x_range.end) == (-80, -40)
    assert fig.yaxis[0].axis_label == "adaptation current (pA)"


def test_flow_arrows_point_along_the_field_with_equal_screen_length():
    rng = np.random.default_rng(7)
    v = rng.uniform(-80, -40, 30)
    w = rng.uniform(-50, 400, 30)
    dv, dw = _field(v, w)
    segs = views.flow_arrows(v, w, dv, dw, v_span=40.0, w_span=450.0, length=0.05)
    assert segs.shape == (90, 4)  # shaft + two barbs per arrow
    shaft = segs[:30]
    sx, sy = shaft[:, 2] - shaft[:, 0], shaft[:, 3] - shaft[:, 1]
    # parallel to (dv, dw) in data coordinates, pointing the same way
    np.testing.assert_allclose(sx * dw - sy * dv, 0.0, atol=1e-9 * np.abs(dv * dw).max())
    assert np.all(sx * dv + sy * dw > 0)
    np.testing.assert_allclose(np.hypot(sx / 40.0, sy / 450.0), 0.05)
    np.testing.assert_allclose((shaft[:, 0] + shaft[:, 2]) / 2, v)  # centred on the grid point
    assert views.flow_arrows([0.0], [0.0], [0.0], [0.0], v_span=1, w_span=1, length=0.1).shape == (
        0,
        4,
    )


def test_phase_plane_accepts_arrays_and_rejects_empty_or_bad_windows():
    vg, wg = np.meshgrid(np.linspace(-80, -40, 5), np.linspace(-50, 400, 5))
    dv, dw = _field(vg, wg)
    overlay = views.phase_plane(
        v_range_mv=(-80, -40), w_range_pa=(-50, 400), vector_field=(vg, wg, dv, dw)
    )
    _render(overlay)
    with pytest.raises(ValueError, match="at least one"):
        views.phase_plane(v_range_mv=(-80, -40), w_range_pa=(-50, 400))
    with pytest.raises(ValueError, match="v_range_mv"):
        views.phase_plane(v_range_mv=(-40, -80), w_range_pa=(0, 1), w_nullcline=lambda v: v)


def test_spike_helpers_reject_bad_input():
    with pytest.raises(ValueError, match="equally long"):
        spk.interspike_intervals([1.0, 2.0], [0])
    with pytest.raises(ValueError, match="non-negative integers"):
        spk.interspike_intervals([1.0], [-1])
    with pytest.raises(ValueError, match="n_neurons=3 but a spike has neuron id 5"):
        spk.infer_n_neurons([5], 3)
    with pytest.raises(ValueError, match="bin_ms"):
        views.bin_spike_counts([1.0], [0], n_neurons=1, t_range=(0, 1), bin_ms=0)


# -- ImageTiles (live rolling images) -------------------------------------------------------------
def test_image_tiles_patch_one_tile_per_update_and_hold_the_window():
    from bokeh.document import Document
    from bokeh.document.events import ColumnsPatchedEvent
    from bokeh.models import ColumnDataSource

    from snnviz.views.raster import ImageTiles

    rng = np.random.default_rng(3)
    source = ColumnDataSource(ImageTiles.empty())
    tiles = ImageTiles(source, rows=4, bin_width=0.5, window_bins=40, y=0.0, dh=4.0)
    assert (tiles.tile_bins, tiles.slots) == (5, 9)
    doc = Document()
    doc.add_root(source)
    events: list = []
    doc.on_change(events.append)
    full = rng.random((4, 225)).astype(np.float32)
    done = 0
    for k in (3, 1, 4, 2, 7, 3, 5, 3) * 8 + (1,):  # uneven pushes, 225 bins in all
        tiles.append(done * 0.5, full[:, done : done + k])
        done += k
    assert done == 225 and tiles.updates == 65
    # one replace, then patches of the tiles a push spans (up to 3 for 7 bins in 5-bin tiles)
    patched = [e.patches for e in events if isinstance(e, ColumnsPatchedEvent)]
    assert len(patched) == 64 and len(events) == 65
    assert all(1 <= len(p["image"]) <= 3 for p in patched)
    assert sum(len(p["image"]) == 1 for p in patched) > len(patched) / 2
    assert len(source.data["image"]) == tiles.slots  # the payload never grows
    drawn = tiles.drawn()
    x0, end = drawn[0][0], drawn[-1][0] + drawn[-1][1]
    assert end == 225 * 0.5 and x0 <= end - 40 * 0.5  # the window is covered
    joined = np.concatenate([img for _, _, img in drawn], axis=1)
    first = round(x0 / 0.5)
    np.testing.assert_array_equal(joined, full[:, first:])  # every bin in place, in order
    # a gap in time (the model restarted elsewhere) starts a new tile there
    tiles.append(500.0, np.ones((4, 2), np.float32))
    assert tiles.drawn()[-1][:2] == (500.0, 1.0)
    with pytest.raises(ValueError, match=r"values must be \(4, k\)"):
        tiles.append(0.0, np.ones((3, 2)))
    tiles.reset()
    assert source.data["image"] == [] and tiles.drawn() == []
