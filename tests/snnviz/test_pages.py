"""The two foundation pages, headless: reproduce() verdicts, live reactions, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from snnviz.pages import neuron_lab as neuron_lab_module
from snnviz.pages.network_lab import NetworkLab
from snnviz.pages.neuron_lab import NeuronLab
from tests.helpers import count_compilations


@pytest.fixture(scope="module")
def neuron_lab():
    return NeuronLab()


def test_neuron_lab_reproduce_passes_every_claim(neuron_lab):
    result = neuron_lab.reproduce(quick=True)
    assert result.passed, result.summary()
    assert result.metrics["patterns_matched"] == 1.0
    assert result.metrics["lif_max_error_steps"] <= 1.0
    assert set(result.figures) == {p[0] for p in result.metrics["pattern_table"]}


def test_neuron_lab_slider_changes_the_trace_without_recompiling(neuron_lab):
    neuron_lab.model = "AdEx"
    before = neuron_lab.last_record["v"].copy()
    with count_compilations() as log:
        neuron_lab.current.amplitude = neuron_lab.current.amplitude + 300.0
    assert log.matching("advance") == 0, log.names
    after = neuron_lab.last_record["v"]
    assert not np.allclose(before, after)
    assert (
        neuron_lab.last_record["spikes"].sum() > 0
    ) and "firing pattern" in neuron_lab.pattern.object


def test_neuron_lab_bad_combination_shows_a_message_and_keeps_serving(neuron_lab):
    neuron_lab.model = "LIF"
    neuron_lab.neuron.v_reset = -40.0  # above the -50 mV threshold
    assert neuron_lab.banner.visible
    assert "v_reset" in neuron_lab.banner.message and "v_th" in neuron_lab.banner.message
    neuron_lab.neuron.v_reset = -70.0
    assert not neuron_lab.banner.visible


def test_neuron_lab_presets_load_per_model(neuron_lab):
    neuron_lab.model = "AdEx"
    names = neuron_lab.param.preset.objects
    assert "Tonic spiking" in names or any("onic" in n for n in names)
    neuron_lab.preset = next(n for n in names if "urst" in n)
    assert "burst" in neuron_lab.pattern.object


def test_neuron_lab_redraws_in_place_and_skips_an_unchanged_f_i_curve(neuron_lab, monkeypatch):
    neuron_lab.model = "AdEx"
    plots = neuron_lab.plots
    trace_source, fi_data = plots.trace_source, dict(plots.fi_source.data)
    calls = []
    real = neuron_lab_module.fi_curve_rates
    monkeypatch.setattr(
        neuron_lab_module, "fi_curve_rates", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    neuron_lab.current.amplitude = 700.0  # the current does not enter the f-I curve
    assert calls == [] and plots.fi_source.data["rate"] is fi_data["rate"]
    assert plots.trace_source is trace_source  # same source, new data
    v = np.asarray(trace_source.data["v"])
    np.testing.assert_allclose(v[v < -20], neuron_lab.last_record["v"][:, 0][v < -20])
    traj = plots.phase_sources["trajectory"].data
    np.testing.assert_array_equal(traj["w"], neuron_lab.last_record["w"][:, 0])
    neuron_lab.neuron.b = neuron_lab.neuron.b + 20.0  # a neuron parameter does
    assert calls == [1]


def test_neuron_lab_deferred_redraws_of_a_stale_move_are_skipped(neuron_lab, monkeypatch):
    """Served, the phase plane and f-I curve are redrawn on later ticks; a newer move first
    makes the older one's pending redraws skip."""
    queued = []

    class Doc:
        session_context = object()

        def add_next_tick_callback(self, callback):
            queued.append(callback)

    neuron_lab.model = "AdEx"
    monkeypatch.setattr(neuron_lab_module.pn.state, "curdoc", Doc())
    title = neuron_lab.plots.phase.title.text
    neuron_lab.current.amplitude = 650.0
    neuron_lab.current.amplitude = 800.0
    assert len(queued) == 2 and neuron_lab.plots.phase.title.text == title  # nothing drawn yet
    queued.pop(0)()  # the first move's redraw: stale, skipped
    assert len(queued) == 1 and neuron_lab.plots.phase.title.text == title
    queued.pop(0)()  # the second's phase plane, then its f-I curve on the next tick
    assert "800 pA" in neuron_lab.plots.phase.title.text and len(queued) == 1
    queued.pop(0)()
    assert not queued


@pytest.fixture(scope="module")
def network_lab():
    return NetworkLab()


def test_network_lab_reproduce_separates_the_regimes(network_lab):
    result = network_lab.reproduce(quick=True)
    assert result.passed, result.summary()
    m = result.metrics
    assert m["SR_cv"] < m["AI_cv"] and m["SR_chi"] > m["AI_chi"]


def test_network_lab_slider_moves_do_not_recompile_and_take_effect(network_lab):
    network_lab._advance_chunk()
    with count_compilations() as log:
        network_lab.network.g = 3.0
        chunk = network_lab._advance_chunk()
    assert log.count == 0, log.names
    assert chunk["g"] == 3.0 and network_lab.regime == "custom"
    network_lab.regime = "AI"
    assert network_lab._advance_chunk()["g"] == 5.0


def test_network_lab_slider_move_while_playing_asks_for_a_frame_at_once(network_lab, monkeypatch):
    calls = []
    monkeypatch.setattr(network_lab.loop, "parameters_changed", lambda: calls.append(1))
    network_lab.network.eta = 2.5
    network_lab.regime = "AI"
    assert len(calls) == 2


def test_network_lab_bad_delay_pauses_with_a_message(network_lab):
    network_lab.loop.play()
    network_lab.network.delay_ms = 0.05  # shorter than dt = 0.1 ms
    assert not network_lab.loop.running
    assert "delay" in network_lab.banner.message
    network_lab.network.delay_ms = 1.5
    assert not network_lab.banner.visible
    network_lab.loop.pause()


def test_network_lab_resize_rebuilds_on_reset(network_lab):
    network_lab.network.n_neurons = 500
    chunk = network_lab._advance_chunk()
    assert network_lab._net.n_neurons == 500 and network_lab._raster.n_neurons == 500
    assert chunk["ids"].size == 0 or chunk["ids"].max() < 500


def test_a_skipped_claim_neither_passes_nor_fails_and_says_so():
    from snnviz.pages import Claim, ClaimResult
    from snnviz.pages._layout import result_table
    from snnviz.pages._result import Result

    ok = ClaimResult(Claim("a", "paper a", "a > 0"), 1.0, True)
    skip = ClaimResult(
        Claim("b", "paper b", "b > 0"), "not run", False, "full mode only", skipped=True
    )
    result = Result("x", True, [ok, skip], {})
    assert result.passed and "  SKIP  b > 0: measured not run  [full mode only]" in result.summary()
    assert "skipped" in result_table(result)
    bad = ClaimResult(Claim("c", "paper c", "c > 0"), -1.0, False)
    assert not Result("x", True, [ok, skip, bad], {}).passed and bad.verdict == "FAIL"


def test_follow_model_moves_the_watchers_to_a_replacement_model():
    import param

    from snnviz.pages import DemoPage

    class Knobs(param.Parameterized):
        a = param.Number(1.0)
        b = param.Number(2.0)

    class Page(DemoPage):
        model = param.ClassSelector(class_=Knobs)

    page = Page(model=Knobs())
    seen: dict[str, list] = {"a": [], "any": [], "replaced": []}
    page.follow_model(
        {
            lambda *ev: seen["a"].extend(e.name for e in ev): ["a"],
            lambda *ev: seen["any"].extend(e.name for e in ev): None,  # all of them
        },
        on_replaced=lambda: seen["replaced"].append(page.model),
    )
    page.model.b = 3.0
    old, page.model = page.model, Knobs()
    old.a = 5.0  # no longer watched
    page.model.a = 7.0
    assert seen == {"a": ["a"], "any": ["b", "a"], "replaced": [page.model]}
