"""The bee path-integration page headless: it builds with its buttons, the live loop flies a
journey chunk by chunk and stops at its end, slider moves never recompile, the circuit selector
rebuilds, bad values show a banner, the ES runs a generation (per-neuron genes at zero fly like the
global genes), the ES claim needs a rising trend, and quick reproduce passes."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import panel as pn
import pytest

import snnviz.models.bee_evolution as bee_es
import snnviz.pages.schreiber2023_bee as bee_page
from snnviz.core.navigation import RateCX, stack_circuits
from snnviz.core.navigation.evolution import GENES, NEURON_GENES, evaluate_population, n_genes
from snnviz.core.navigation.spiking import SpikingCX
from snnviz.models.bee import CHUNK_STEPS, BeeModel
from snnviz.pages._bee_reproduce import JUDGES
from snnviz.pages.schreiber2023_bee import BeePathIntegrationPage
from tests.helpers import count_compilations


@pytest.fixture(scope="module")
def page():
    page = BeePathIntegrationPage(model=BeeModel(n_outbound=100, n_inbound=100))
    page.loop._offload = False  # run chunks inline: no worker thread, no event loop needed
    page.es_loop._offload = False
    return page


def _labels(viewable) -> set[str]:
    return {
        getattr(b, "label", None) or b.name
        for b in viewable.select(lambda o: isinstance(o, pn.widgets.Button | pn.widgets.Toggle))
    }


def test_page_builds_with_its_controls(page):
    labels = _labels(page.panel())
    for label in (
        "Run one journey",
        "Run many journeys",
        "Evolve",
        "Reset evolution",
        "Reproduce (quick)",
    ):
        assert label in labels, labels


def test_stepping_flies_the_journey_and_stops_at_its_end(page):
    page.loop.reset()
    for _ in range(3):
        page.loop.step()
    steps = 3 * CHUNK_STEPS
    n_out = len(page.journey_view.outbound.data["x"])
    assert n_out == steps  # 75 outbound steps of 100
    assert page.journey_view.vectors.data["label"] == ["true home vector", "decoded from CPU4"]
    assert len(page.bumps.tb1.data["top"]) == 8 and len(page.bumps.cpu4.data["top"]) == 16
    assert page.activity.buffer[:, -steps:].any()
    assert "outbound" in page.readout.object
    for _ in range(6):  # past the end (200 steps = 8 chunks): the loop pauses itself
        page.loop.step()
    assert int(page._journey.t) == 200
    assert len(page.journey_view.inbound.data["x"]) == 100 + 1
    assert "closest approach" in page.readout.object
    page.loop.play()
    page.loop.tick(now=time.perf_counter() + 10.0)
    assert not page.loop.running


def test_decoded_home_vector_points_home(page):
    page.loop.reset()
    chunks = [page._advance_chunk() for _ in range(4)]
    last = chunks[-1]
    true_home = -last["xy"][-1]
    decoded = last["decoded_home"]
    cos = decoded @ true_home / (np.linalg.norm(decoded) * np.linalg.norm(true_home))
    assert cos > np.cos(np.radians(30))
    assert np.linalg.norm(decoded) == pytest.approx(np.linalg.norm(true_home), rel=0.5)


def test_slider_moves_do_not_recompile(page):
    page.loop.reset()
    page._advance_chunk()
    with count_compilations() as log:
        page.model.noise = 0.2
        page.model.memory_leak = 0.001
        page.model.turn_gain = 1.5
        page._advance_chunk()
    assert log.matching("advance_journey") == 0, log.names
    assert float(page._circuit.noise) == pytest.approx(0.2)
    page.model.param.update(noise=0.1, memory_leak=0.0, turn_gain=1.0)


@pytest.mark.slow
def test_emulated_circuit_sliders_do_not_recompile(page):
    page.model.circuit = "emulated BSS-2"
    page.loop.reset()
    assert isinstance(page._circuit, SpikingCX)
    page._advance_chunk()
    with count_compilations() as log:
        page.model.mismatch = 0.2
        page.model.weight_bits = 3
        page.model.chip_seed = 5
        chunk = page._advance_chunk()
    assert log.matching("advance_journey") == 0, log.names
    assert chunk["activity"].shape == (CHUNK_STEPS, 76)
    assert float(page._circuit.weight_bits) == 3.0
    page.model.param.update(circuit="rate", mismatch=0.05, weight_bits=6, chip_seed=0)
    page.loop.reset()
    assert isinstance(page._circuit, RateCX)


def test_bad_values_show_a_banner(page):
    page.model.weight_bits = 2.5
    assert "whole number" in page.banner.message
    page.model.weight_bits = 6
    assert not page.banner.visible


def test_one_es_generation_streams_fitness(page, monkeypatch):
    monkeypatch.setattr(bee_page, "ES_ROUTES", 2)
    monkeypatch.setattr(bee_page, "ES_STEPS", 40)
    page.es_loop.reset()
    page.es_loop.step()
    data = page.fitness.source.data
    assert data["generation"] == [1]
    assert data["best"][0] >= data["mean"][0]
    assert "generation 1" in page.es_readout.object and "journeys" in page.es_readout.object
    assert page._es_journeys == bee_page.ES_POPSIZE * bee_page.ES_ROUTES


def test_flying_the_evolved_genes_swaps_values_without_recompiling(page):
    page.loop.reset()
    page._advance_chunk()
    page._es_state = page._es_state.__class__(
        mean=page._es_state.mean + 0.3,
        opt_state=page._es_state.opt_state,
        generation=page._es_state.generation,
    )
    with count_compilations() as log:
        page.fly_evolved = True  # restarts the journey on the ES mean genes
        page._advance_chunk()
    assert log.matching("advance_journey") == 0, log.names
    mean = np.asarray(page._es_state.mean)
    assert float(page._flying.memory_gain) == pytest.approx(np.exp(mean[0]), rel=1e-5)
    assert float(page._flying.cpu1_bias) == pytest.approx(mean[2], rel=1e-5)
    page.fly_evolved = False
    assert float(page._flying.memory_gain) == pytest.approx(float(page._circuit.memory_gain))


def test_es_generation_splits_over_a_dask_cluster(page, monkeypatch):
    from distributed import LocalCluster

    monkeypatch.setattr(bee_page, "ES_ROUTES", 2)
    monkeypatch.setattr(bee_page, "ES_STEPS", 40)
    page.es_loop.reset()
    local = page._es_generation()
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        page.dask_scheduler = cluster.scheduler_address
        try:
            page.es_loop.reset()  # same seed: the same first generation, now on the cluster
            remote = page._es_generation()
        finally:
            page.dask_scheduler = ""
    assert remote["workers"] == 2 and local["workers"] == 0
    assert remote["mean"] == pytest.approx(local["mean"], rel=1e-5)
    np.testing.assert_allclose(remote["genes"], local["genes"], rtol=1e-5)


def test_run_many_reports_success_statistics(page):
    page._show_many((np.array([0.01, 0.05, 0.5, 0.02]), 2.0))
    assert "3 / 4 journeys homed" in page.many_readout.object
    assert len(page.many_plot) == 1


def test_stacked_circuits_run_as_a_population():
    circuits = stack_circuits([RateCX(noise=0.0), RateCX(noise=0.3)])
    np.testing.assert_allclose(np.asarray(circuits.noise), [0.0, 0.3], rtol=1e-6)
    assert jax.tree.leaves(circuits)[0].shape[0] == 2


@pytest.mark.slow
def test_quick_reproduce_passes():
    result = BeePathIntegrationPage().reproduce(quick=True)
    assert result.passed, result.summary()
    m = result.metrics
    assert m["rate_homed"] >= 0.85 and m["frozen_median_closest"] >= 0.5
    assert m["es_fitness_evolved"] > m["es_fitness_start"]
    for key in ("paths", "homing", "degradation", "evolution"):
        assert key in result.figures


def test_model_builds_each_circuit():
    rate = BeeModel(noise=0.2, memory_leak=0.01).build()
    assert isinstance(rate, RateCX) and float(rate.noise) == pytest.approx(0.2)
    spiking = BeeModel(circuit="spiking", n_substeps=10).build()
    assert isinstance(spiking, SpikingCX) and spiking.step_ms == 10.0
    assert float(spiking.weight_bits) == 0.0  # ideal synapses
    chip = BeeModel(circuit="emulated BSS-2", mismatch=0.1, weight_bits=4, chip_seed=3).build()
    assert float(chip.weight_bits) == 4.0
    assert float(np.std(np.asarray(chip.neuron.g_leak))) > 0.0  # fixed-pattern mismatch
    assert BeeModel(circuit="spiking").structure_key() != BeeModel().structure_key()
    assert BeeModel(noise=0.3).structure_key() == BeeModel().structure_key()


def test_es_gene_sets_start_and_spread():
    assert bee_es.es_genes("emulated BSS-2") == GENES  # the page evolves the global genes
    assert bee_es.es_genes("rate", per_neuron=True) == GENES  # no neurons to correct
    names = bee_es.es_genes("emulated BSS-2", per_neuron=True)
    assert names == GENES + NEURON_GENES
    start, sigma = bee_es.es_start(names), bee_es.es_sigma(names)
    assert start.shape == sigma.shape == (48,)
    np.testing.assert_allclose(start[:4], bee_es.POOR_START, rtol=1e-6)
    assert not start[4:].any()  # per-neuron genes start uncorrected
    gain, bias = bee_es.ES_GAIN_SIGMA, bee_es.ES_BIAS_SIGMA
    np.testing.assert_allclose(sigma[:4], [gain, gain, bias, bias], rtol=1e-6)
    np.testing.assert_allclose(sigma[4:], bee_es.ES_NEURON_SIGMA, rtol=1e-6)


@pytest.mark.slow
def test_zero_neuron_genes_fly_like_the_global_genes():
    chip = BeeModel(circuit="emulated BSS-2", n_substeps=4).build()
    names = bee_es.es_genes("emulated BSS-2", per_neuron=True)
    globals_ = np.stack([np.asarray(bee_es.POOR_START), [np.log(0.005), 0.0, 2.5, 2.5]])
    full = np.concatenate([globals_, np.zeros((2, 44))], axis=1).astype(np.float32)
    key = jax.random.key(4)
    by_globals = evaluate_population(chip, jnp.asarray(globals_, jnp.float32), key, 2, 40, 40)
    by_all = evaluate_population(chip, jnp.asarray(full), key, 2, 40, 40, names)
    for field in ("decoded_amplitude", "closest_ratio"):
        np.testing.assert_allclose(
            np.asarray(getattr(by_all, field)), np.asarray(getattr(by_globals, field)), rtol=1e-5
        )
    shifted = full.copy()
    shifted[:, 4:] = 1.0  # large corrections change the memory the journeys build
    by_shifted = evaluate_population(chip, jnp.asarray(shifted), key, 2, 40, 40, names)
    amplitude = np.asarray(by_globals.decoded_amplitude)
    assert np.all(np.abs(np.asarray(by_shifted.decoded_amplitude) - amplitude) > 1e-3 * amplitude)


def test_evolved_per_neuron_genes_fall_back_to_the_global_ones_on_the_rate_circuit(page):
    names = GENES + NEURON_GENES
    mean = np.asarray(bee_es.es_start(names)) + 0.2
    page._es_names = names
    page._es_state = page._es_state.__class__(
        mean=mean, opt_state=page._es_state.opt_state, generation=page._es_state.generation
    )
    try:
        page.fly_evolved = True
        assert isinstance(page._flying, RateCX)
        assert float(page._flying.memory_gain) == pytest.approx(np.exp(mean[0]), rel=1e-5)
    finally:
        page.fly_evolved = False
        page.es_loop.reset()
    assert page._es_names == GENES


def test_per_neuron_option_restarts_the_es_with_the_neuron_genes(page):
    page.es_per_neuron = True  # the rate circuit has no neurons to correct: the global genes
    assert page._es_names == GENES and int(page._es_state.generation) == 0
    with page.model.param.update(circuit="emulated BSS-2"):
        page.es_loop.reset()
        assert page._es_names == GENES + NEURON_GENES
        assert page._es_state.mean.shape == (n_genes(GENES + NEURON_GENES),)
        page.es_per_neuron = False
        assert page._es_names == GENES and page._es_state.mean.shape == (len(GENES),)
    page.es_loop.reset()


def test_es_gain_needs_a_rising_trend():
    claim = next(c for c in BeePathIntegrationPage.claims if c.key == "es_gain")
    metrics = dict(
        es_gain=0.5,
        es_mean_fitness_slope_per_generation=0.01,
        es_generations=10,
        es_global_generations=10,
        es_n_genes=4,
        es_journeys=320,
        es_journey_steps=500,
        es_wall_s=10.0,
        es_emulated_hardware_s=1.6,
        es_fitness_start=-0.9,
        es_fitness_evolved=-0.4,
        es_fitness_hand_wired=-0.4,
        es_test_journeys=32,
    )
    assert JUDGES["es_gain"](claim, metrics).passed
    falling = dict(metrics, es_mean_fitness_slope_per_generation=-0.01)
    assert not JUDGES["es_gain"](claim, falling).passed
    small = dict(metrics, es_gain=0.1)
    assert not JUDGES["es_gain"](claim, small).passed
    two_phase = dict(metrics, es_generations=30, es_n_genes=48)
    detail = JUDGES["es_gain"](claim, two_phase).detail
    assert "30 generations (10 on the global genes, then with 44 per-neuron genes)" in detail
