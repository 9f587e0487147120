"""The VSA state-machine page: builds, streams, buttons, no recompiles, banners, reproduce."""

from __future__ import annotations

import statistics
import time

import numpy as np
import pytest

from snnviz.pages.cotteret2025_fsm import VSAStateMachinePage, crossing
from tests.helpers import count_compilations


@pytest.fixture(scope="module")
def page():
    page = VSAStateMachinePage()
    page.panel()
    return page


def _run(page, n_steps: int) -> dict:
    chunk = {}
    for _ in range(n_steps):
        chunk = page._advance_chunk()
        page._push([chunk])
    return chunk


def _present(page, symbol: str) -> dict:
    m = page.model
    page.feed(symbol)
    return _run(page, m.steps_a + m.steps_b + m.steps_rest)


def test_a_fed_input_moves_the_network_to_the_fsm_successor(page):
    page.loop.reset()
    page.feed("timer")  # green -> amber, through the edge state of (green, timer)
    mid = _run(page, page.model.steps_a)
    assert mid["decoded"] is None and mid["edge"] == (0, 0, 2) and mid["similarity"] > 0.95
    assert not mid["settled"] and "s_a (timer)" in mid["showing"]
    assert "edge state green →(timer) amber" in page.readout.object
    m = page.model
    chunk = _run(page, m.steps_b + m.steps_rest)
    assert page._fsm.states[chunk["expected"]] == "amber"
    assert chunk["decoded"] == chunk["expected"] and chunk["similarity"] > 0.95
    assert "**FSM state:** amber" in page.readout.object and "1/1" in page.readout.object
    assert page._graph.nodes.data["fill"][chunk["expected"]] == "#2ca02c"  # agrees: green
    assert len(page._heat.source.data["image"]) > 0
    page.push_lines(force=True)  # the traces are sent at most ~30 times per second
    target = np.asarray(page._traces.source.data["y0"])  # similarity to the FSM's state
    other = np.asarray(page._traces.source.data["y1"])  # best other node state
    assert target[-1] > 0.95 and other.max() < 0.6  # no wrong state was ever reached


def test_input_buttons_queue_a_symbol_and_start_the_run(page):
    labels = [b.label for b in page.input_buttons]
    assert labels == ["Input: timer", "Input: button"]
    page.loop.reset()
    page.random_inputs = False
    page.input_buttons[1].clicks += 1  # "button": green -> green (req)
    assert page.loop.running
    page.loop.pause()
    chunk = _run(page, 20)
    assert (
        page._fsm.states[chunk["expected"]] == "green (req)" == page._fsm.states[chunk["decoded"]]
    )
    page.random_inputs = True


def test_random_inputs_stream_while_playing(page):
    page.loop.reset()
    page.loop.running = True  # no frames are scheduled headless: chunks run by hand
    try:
        chunk = _run(page, 60)
    finally:
        page.loop.pause()
    assert chunk["done"] >= 3 and chunk["correct"] == chunk["done"]


def test_slider_moves_apply_the_nonidealities_without_recompiling(page):
    page.loop.reset()
    page.model.noise = 0.2  # first use compiles the non-ideal weights once
    _run(page, 1)
    with count_compilations() as log:
        page.model.param.update(
            weight_bits=3, sparsity=0.5, noise=0.5, device_variation=0.2, update_prob=0.8
        )
        _present(page, "timer")
    assert log.count == 0, log.names
    w = np.asarray(page._net.weights)
    assert 0.45 < np.mean(w == 0) < 0.55  # half of the synapses removed
    title = page.weights_pane.object.opts.get().kwargs["title"]
    assert "zero" in title
    page.model.param.update(
        weight_bits=16, sparsity=0.0, noise=0.0, device_variation=0.0, update_prob=1.0
    )
    assert page._net.weights is page._w_ideal


def test_bad_inputs_show_a_banner_and_keep_serving(page):
    page.feed_sequence("timer walk")
    assert "unknown input(s) ['walk']" in page.banner.message
    queued = len(page._queue)
    assert queued == 0  # nothing of a bad sequence is queued
    page.loop.play()
    page.model.update_prob = 0.05  # s_a / s_b too short for so slow updates
    assert not page.loop.running and "update probability" in page.banner.message
    page.model.update_prob = 1.0
    assert not page.banner.visible
    page.feed_sequence("timer, timer")
    assert len(page._queue) == 2 * 14 and page.loop.running
    page.loop.pause()


def test_choosing_another_fsm_rebuilds_graph_buttons_and_heatmap(page):
    page.model.fsm = "parity"
    try:
        assert [b.label for b in page.input_buttons] == ["Input: 0", "Input: 1"]
        assert len(page._graph.nodes.data["name"]) == 2
        chunk = _present(page, "1")
        assert page._fsm.states[chunk["expected"]] == "odd" == page._fsm.states[chunk["decoded"]]
        assert chunk["heat"].shape[1] == 3  # even, odd, edge states
    finally:
        page.model.fsm = "traffic light"


def test_a_frame_is_cheap_enough_for_20_fps(page):
    page.loop.reset()
    page.feed("timer")
    _run(page, 3)
    costs = []
    for _ in range(10):
        start = time.perf_counter()
        _run(page, 1)
        costs.append(time.perf_counter() - start)
    assert statistics.median(costs) < 0.05, costs


def test_crossing_interpolates_between_grid_points():
    x = np.array([0.0, 1.0, 2.0])
    assert crossing(x, np.array([1.0, 0.9, 0.5]), 0.99) == pytest.approx(0.1)
    assert crossing(x, np.array([1.0, 1.0, 1.0]), 0.99) == float("inf")
    assert crossing(x, np.array([0.5, 0.4, 0.3]), 0.99) == 0.0


@pytest.mark.slow
def test_quick_reproduce_passes_every_claim():
    result = VSAStateMachinePage().reproduce(quick=True)
    assert result.passed, result.summary()
    m = result.metrics
    assert m["nonideal_accuracy"] >= 0.99 and m["n_states"] >= 50
    assert m["noise_sigma_90"] >= m["noise_sigma_99"] >= 0.5
    acc = m["noise_accuracy"]
    assert acc[0] == 1.0 and acc[-1] < 0.9  # the curve spans the breakdown
    assert set(result.figures) == {"accuracy_vs_noise", "capacity", "similarity_over_time"}


def test_the_live_loop_streams_chunks_to_the_plots(page):
    page.loop.reset()
    page.loop.play()
    try:
        for _ in range(40):
            page.loop.tick()
            time.sleep(0.03)
        deadline = time.monotonic() + 30
        while page.loop.busy and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        page.loop.pause()
    assert page.loop.frames_pushed >= 3 and page.loop.chunks_run >= 3
    assert page.loop.last_error is None
    assert "FSM state" in page.readout.object
