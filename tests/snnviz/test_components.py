"""Live plots, controls, feedback and export (headless: no server, no browser)."""

from __future__ import annotations

import concurrent.futures
import io
import json
import threading
import time

import holoviews as hv
import numpy as np
import panel as pn
import param
import pytest

from snnviz import views
from snnviz.components import (
    ErrorBanner,
    ExportPanel,
    FrameScheduler,
    LiveLoop,
    LiveRaster,
    LiveRate,
    LiveTraces,
    ProgressReporter,
    RunControls,
    apply_preset,
    figure_html,
    preset_dict,
    preset_json,
    to_csv_bytes,
    to_npz_bytes,
)
from snnviz.components.controls import format_sim_time
from snnviz.components.live_plots import _BinStream
from tests.helpers import Collect


def _wait_for(predicate, timeout_s: float = 5.0) -> None:
    """Poll until ``predicate()`` (a done-callback runs just after ``Future.result`` returns)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def _chunks(n_chunks: int, steps: int, dt: float, n_neurons: int, p: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n_chunks):
        t = dt * (k * steps + np.arange(steps))
        out.append((t, rng.random((steps, n_neurons)) < p))
    return out


# -- LiveTraces ---------------------------------------------------------------------------------
def test_live_traces_streams_chunks_decimated_and_bounded():
    traces = LiveTraces(["a", "b"], window_ms=100.0, max_points=200)
    t = 0.1 * np.arange(1000)  # dt 0.1 ms: one window is 1000 samples -> keep every 5th
    v = np.stack([t, -t], axis=1)
    traces.push([t[:500], t[500:]], [v[:500], v[500:]])
    assert traces.stride == 5
    data = traces.source.data
    np.testing.assert_allclose(data["t"], t[::5][-200:])
    np.testing.assert_allclose(data["y1"], -t[::5][-200:])
    for k in range(1, 20):  # many more pushes: the buffer stays at max_points rows
        traces.push(t + 100 * k, v)
    assert len(traces.source.data["t"]) == 200
    assert np.all(np.diff(traces.source.data["t"]) > 0)
    traces.reset()
    assert len(traces.source.data["t"]) == 0
    with pytest.raises(ValueError, match=r"shape \(T, 2\)"):
        traces.push(t, v[:, :1])


def test_live_traces_restart_in_time_clears_and_backend_option():
    traces = LiveTraces(["v"], backend="webgl")
    assert traces.figure.output_backend == "webgl"
    assert LiveTraces(["v"]).figure.output_backend == "canvas"
    traces.push(np.arange(10.0), np.arange(10.0))
    traces.push(np.arange(3.0), np.zeros(3))  # the model restarted at t = 0
    np.testing.assert_allclose(traces.source.data["t"], [0, 1, 2])
    with pytest.raises(ValueError, match="backend"):
        LiveTraces(["v"], backend="svg")  # type: ignore[arg-type]
    assert isinstance(traces.__panel__(), pn.pane.Bokeh)
    assert traces.__panel__() is traces.__panel__()


# -- binning ------------------------------------------------------------------------------------
@pytest.mark.parametrize("chunk_steps", [1, 7, 50, 333])
def test_bin_stream_releases_exactly_the_offline_counts(chunk_steps):
    """However the run is chunked, released bins equal a one-shot binning of all events."""
    rng = np.random.default_rng(chunk_steps)
    dt, n_steps, n, rows, bin_ms = 0.1, 2000, 37, 5, 2.5
    t = dt * np.arange(n_steps)
    dense = rng.random((n_steps, n)) < 0.05
    stream = _BinStream(bin_ms, rows)
    released = []
    first_bin = None
    for s in range(0, n_steps, chunk_steps):
        ti, ni = np.nonzero(dense[s : s + chunk_steps])
        out = stream.add(t[s:][ti], (ni * rows) // n, t[s], t[min(s + chunk_steps, n_steps) - 1])
        if out is not None:
            first_bin = out[0] if first_bin is None else first_bin
            released.append(out[1])
    got = np.concatenate(released, axis=1)
    times, ids = views.spike_events(dense, t)
    ref, _, _ = views.bin_spike_counts(
        times, ids, n_neurons=n, t_range=(0, t[-1] + dt), bin_ms=bin_ms, n_rows=rows
    )
    assert first_bin == 0
    assert got.shape[1] == int(t[-1] // bin_ms)  # every bin before the last sample's bin
    np.testing.assert_array_equal(got, ref[:, : got.shape[1]])


# -- LiveRaster ---------------------------------------------------------------------------------
def test_live_raster_10k_neurons_counts_spikes_with_fixed_tile_size():
    raster = LiveRaster(10_000, window_ms=100.0, bin_ms=1.0, max_rows=200)
    sizes = []
    for p in (0.001, 0.2):  # sparse vs dense activity: same payload shape
        raster.reset()
        total = 0
        for t, s in _chunks(4, 100, 0.1, 10_000, p, seed=int(p * 1000)):
            raster.push(t, s)
            total += int(s[t < 39.0].sum())  # bins completed by t = 39.9 ms
        tiles = raster.source.data["image"]
        assert all(tile.shape[0] == 200 for tile in tiles)
        assert sum(float(tile.sum()) for tile in tiles) == total
        sizes.append(sum(tile.nbytes for tile in tiles))
        assert raster.color_mapper.high >= max(float(tile.max()) for tile in tiles)
    assert sizes[0] == sizes[1]
    assert raster.source.data["x"][0] == 0.0
    assert raster.source.data["dh"][0] == 10_000


def test_live_raster_keeps_one_window_of_tiles():
    raster = LiveRaster(50, window_ms=20.0, bin_ms=1.0)
    for t, s in _chunks(100, 30, 0.1, 50, 0.01):  # 300 ms of data in 3 ms pushes
        raster.push(t, s)
    x, dw = np.asarray(raster.source.data["x"]), np.asarray(raster.source.data["dw"])
    newest_end = (x + dw).max()
    assert newest_end == 299.0  # every completed 1 ms bin is drawn
    tile_ms = raster.tiles.tile_bins * raster.bin_ms
    assert np.all(x + dw > newest_end - 20.0 - tile_ms)  # one window plus at most one tile
    assert x.min() <= newest_end - 20.0  # ... and together they cover the window
    order = np.argsort(x)
    np.testing.assert_allclose((x + dw)[order][:-1], x[order][1:])  # contiguous, no overlap
    assert len(x) <= 8


def test_live_raster_max_fps_holds_bins_back():
    now = [0.0]
    raster = LiveRaster(10, window_ms=100.0, bin_ms=1.0, max_fps=10.0, clock=lambda: now[0])
    chunks = _chunks(6, 20, 0.1, 10, 0.1)
    for i, (t, s) in enumerate(chunks):
        now[0] = 0.03 * i  # pushes 30 ms apart, sends at most every 100 ms
        raster.push(t, s)
    assert raster.sends == 2  # sent at 0 s and 0.12 s
    with pytest.raises(ValueError, match=r"neuron ids must be in \[0, 10\)"):
        raster.push_events([1.0], [10], t_first=0.0, t_last=2.0)


# -- LiveRate -----------------------------------------------------------------------------------
def test_live_rate_of_regular_firing():
    n, dt = 8, 0.1
    rate = LiveRate(n, bin_ms=5.0, window_ms=50.0)
    t = dt * np.arange(2000)
    spikes = np.zeros((2000, n))
    spikes[::100] = 1  # every neuron every 10 ms -> 100 Hz
    for s in range(0, 2000, 250):
        rate.push(t[s : s + 250], spikes[s : s + 250])
    data = rate.source.data
    assert len(data["t"]) == rate.rollover == 11
    # spikes at t = 0, 10, 20, ... ms: bins starting at a multiple of 10 ms hold one spike per
    # neuron (1 / 5 ms = 200 Hz), the others none; averaged over 10 ms that is 100 Hz
    t_mid, r = np.asarray(data["t"]), np.asarray(data["rate"])
    np.testing.assert_allclose(r, np.where((t_mid - 2.5) % 10 == 0, 200.0, 0.0))
    np.testing.assert_allclose(np.diff(t_mid), 5.0)
    assert t_mid[-1] == 192.5  # the bin [195, 200) of the last sample (199.9 ms) is still open


# -- RunControls --------------------------------------------------------------------------------
def _loop(**kwargs):
    clock = kwargs.pop("clock", lambda: 0.0)
    return LiveLoop(
        kwargs.pop("advance", lambda: np.zeros(2)),
        kwargs.pop("push", lambda chunks: None),
        kwargs.pop("chunk_ms", 1.0),
        clock=clock,
        scheduler=FrameScheduler(autostart=False),
        offload=False,
        probe_cost=False,
        **kwargs,
    )


def test_run_controls_drive_the_loop():
    resets = []
    loop = _loop(on_reset=lambda: resets.append(1))
    controls = RunControls(loop)
    controls.play.value = True
    assert loop.running and controls.play.label == "❚❚ Pause"
    loop.pause()
    assert not controls.play.value and controls.play.label == "▶ Play"
    controls.step_button.clicks += 1
    assert loop.chunks_run == 1 and controls.time.value == "1 ms"
    controls.speed.value = 2.5
    assert loop.speed == 2.5
    controls.reset_button.clicks += 1
    assert resets == [1] and loop.sim_time_ms == 0 and controls.time.value == "0 ms"
    assert isinstance(controls.__panel__(), pn.Row)
    assert isinstance(RunControls(loop, layout="column").__panel__(), pn.Column)


def test_run_controls_time_readout_is_throttled():
    now = [0.0]
    wall = [0.0]
    loop = _loop(clock=lambda: wall[0], max_chunks_per_frame=1000)
    controls = RunControls(loop, readout_hz=4.0, clock=lambda: now[0])
    loop.play()
    values = []
    for i in range(1, 11):
        now[0] = wall[0] = 0.05 * i  # frames every 50 ms
        loop.tick()
        values.append(controls.time.value)
    assert values == ["50 ms"] * 5 + ["300 ms"] * 5  # refreshed at 0.05 s and 0.30 s only
    loop.pause()
    assert controls.time.value == format_sim_time(loop.sim_time_ms) == "500 ms"


def test_format_sim_time():
    assert format_sim_time(12.4) == "12 ms"
    assert format_sim_time(12_345.0) == "12.35 s"
    assert format_sim_time(185_000.0) == "3 min 05.0 s"


# -- feedback -----------------------------------------------------------------------------------
def test_error_banner_show_and_clear():
    banner = ErrorBanner()
    assert not banner.visible and banner.message == ""
    banner.show("nan in ['v']")
    assert banner.visible and banner.alert.object == "nan in ['v']"
    banner.clear()
    assert not banner.visible and banner.alert.object == ""
    assert isinstance(banner.__panel__(), pn.pane.Alert)


def test_error_banner_from_a_thread_is_applied_on_the_owner_tick():
    tick = Collect()
    banner = ErrorBanner(dispatch=tick)
    worker = threading.Thread(target=banner.show, args=("boom",))
    worker.start()
    worker.join()
    assert not banner.visible  # not touched from the worker thread
    assert tick.run_all() == 1
    assert banner.visible and banner.alert.object == "boom"


def test_progress_reporter_coalesces_cross_thread_updates():
    tick = Collect()
    progress = ProgressReporter(dispatch=tick)

    def work():
        for i in range(101):
            progress(i / 100, f"step {i}")

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    assert len(tick.queue) == 1  # one scheduled update for 101 reports
    tick.run_all()
    assert progress.bar.value == 1000 and progress.text.object == "step 100"
    progress(float("nan"), "keeps the last finite fraction")
    assert progress.fraction == 1.0
    progress(-3.0, "clipped")
    assert progress.bar.value == 0
    progress.reset()
    assert not progress.bar.visible


def test_progress_reporter_run_reports_result_and_errors():
    tick = Collect()
    progress = ProgressReporter(dispatch=tick)
    results, errors = [], []
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        release = threading.Event()

        def work(report):
            report(0.5, "half way")
            release.wait(5)
            return 42

        future = progress.run(work, on_done=results.append, executor=pool)
        assert progress.busy
        assert progress.run(work, executor=pool) is None  # already running
        release.set()
        assert future is not None and future.result(timeout=5) == 42
        _wait_for(lambda: len(tick.queue) == 2)  # the progress update, then the hand-back
        tick.run_all()
        assert results == [42] and not progress.busy
        assert progress.text.object == "done" and progress.bar.value == 1000

        release.clear()

        def broken(report):
            release.wait(5)
            raise RuntimeError("diverged")

        failing = progress.run(broken, on_error=errors.append, executor=pool)
        assert failing is not None
        release.set()
        _wait_for(lambda: len(tick.queue) == 1)
        tick.run_all()
    assert errors == ["RuntimeError: diverged"]
    assert "failed: RuntimeError: diverged" in progress.text.object and not progress.busy


# -- export -------------------------------------------------------------------------------------
class Neuron(param.Parameterized):
    tau_mem_ms = param.Number(20.0, bounds=(0.1, 1000.0))
    v_th_mv = param.Number(-50.0)
    n_neurons = param.Integer(100, bounds=(1, None))
    adaptive = param.Boolean(False)
    label = param.String("x")
    version = param.Number(1.0, constant=True)


def test_csv_round_trip_keeps_values_exactly():
    rng = np.random.default_rng(0)
    data = {
        "t_ms": 0.1 * np.arange(50),
        "v": rng.normal(size=(50, 3)).astype(np.float32),
        "count": np.arange(50),
    }
    text = to_csv_bytes(data).decode()
    header = text.splitlines()[0]
    assert header == "t_ms,v[0],v[1],v[2],count"
    table = np.loadtxt(io.StringIO(text), delimiter=",", skiprows=1)
    np.testing.assert_array_equal(table[:, 0], data["t_ms"])
    np.testing.assert_array_equal(table[:, 1:4].astype(np.float32), data["v"])
    np.testing.assert_array_equal(table[:, 4], data["count"])
    with pytest.raises(ValueError, match="different lengths"):
        to_csv_bytes({"a": np.zeros(3), "b": np.zeros(4)})


def test_npz_round_trip():
    data = {"t_ms": np.arange(5.0), "spikes": np.eye(5, dtype=bool)}
    loaded = np.load(io.BytesIO(to_npz_bytes(data)))
    assert set(loaded.files) == {"t_ms", "spikes"}
    np.testing.assert_array_equal(loaded["spikes"], data["spikes"])
    assert loaded["spikes"].dtype == bool


def test_preset_json_round_trip_and_checks():
    model = Neuron(tau_mem_ms=12.5, n_neurons=7)
    preset = json.loads(preset_json(model, name="fast"))
    assert preset == {
        "name": "fast",
        "model": "Neuron",
        "params": {"tau_mem_ms": 12.5, "v_th_mv": -50.0, "n_neurons": 7},
    }
    fresh = Neuron()
    apply_preset(fresh, json.dumps(preset))
    assert preset_dict(fresh, name="fast") == preset
    with pytest.raises(ValueError, match="for model 'Other'"):
        apply_preset(fresh, {**preset, "model": "Other"})
    with pytest.raises(ValueError, match=r"unknown params \['bogus'\]"):
        apply_preset(fresh, {**preset, "params": {"bogus": 1.0}})
    with pytest.raises(ValueError):  # param's own bounds check
        apply_preset(fresh, {**preset, "params": {"tau_mem_ms": -1.0}})


def test_figure_html_from_holoviews_and_live_plot():
    html = figure_html(hv.Curve([1, 2, 3]), title="curve")
    assert "Bokeh" in html and "<title>curve</title>" in html
    traces = LiveTraces(["v"])
    traces.push(np.arange(3.0), np.arange(3.0))
    html = figure_html(traces, resources="cdn")
    assert "Bokeh" in html and "cdn.bokeh.org" in html
    assert traces.figure.document is None  # exporting did not adopt the live figure
    with pytest.raises(TypeError, match="HoloViews object"):
        figure_html(object())


def test_export_panel_downloads():
    model = Neuron()
    data = {"t_ms": np.arange(4.0), "v": np.ones((4, 2))}
    panel = ExportPanel(
        data=lambda: data, params=model, figure=lambda: hv.Curve([1, 2]), filename="lab"
    )
    assert set(panel.buttons) == {"csv", "npz", "json", "html"}
    assert panel.buttons["csv"].filename == "lab.csv"
    csv = panel.buttons["csv"].callback().getvalue().decode()
    assert csv.splitlines()[0] == "t_ms,v[0],v[1]"
    npz = np.load(panel.buttons["npz"].callback())
    np.testing.assert_array_equal(npz["v"], data["v"])
    assert json.loads(panel.buttons["json"].callback().getvalue())["model"] == "Neuron"
    assert b"Bokeh" in panel.buttons["html"].callback().getvalue()
    assert set(ExportPanel(figure=hv.Curve([1, 2])).buttons) == {"html"}
    lazy = ExportPanel(params=lambda: Neuron(n_neurons=3))  # resolved at click time
    assert json.loads(lazy.buttons["json"].callback().getvalue())["params"]["n_neurons"] == 3
    with pytest.raises(ValueError, match="at least one"):
        ExportPanel()
