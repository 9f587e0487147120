"""Firing-pattern classification, the presets in assets/presets, and f-I curves."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnviz.core.analysis import firing_patterns as fp
from snnviz.core.analysis.fi_curve import fi_curve, lif_rate_closed_form
from snnviz.core.inputs import CurrentInjection
from snnviz.core.neurons import LIF, AdEx
from snnviz.core.sim import DrivenPopulation, simulate
from snnviz.models import CurrentProtocol, ParamModel, list_presets, presets_dir
from tests.helpers import count_compilations

REQUIRED = {
    "adex_tonic",
    "adex_adapting",
    "adex_initial_burst",
    "adex_regular_bursting",
    "adex_delayed_accelerating",
    "adex_irregular",
    "adex_fast_spiking",
    "lif_default",
    "adlif_adapting",
}


def _presets(model=None):
    return list_presets(model)


def test_presets_are_listed_and_well_formed():
    presets = _presets()
    stems = {p.stem for p in presets_dir().glob("*.json")}
    assert stems >= REQUIRED
    for preset in presets:
        assert preset["pattern"] in fp.PATTERNS
        assert ParamModel.from_preset(preset).build() is not None  # the model's own checks pass


@pytest.mark.parametrize("dt", [0.1, 0.025])
@pytest.mark.parametrize("model", ["AdEx", "AdLIF", "LIF"])
def test_each_preset_shows_its_own_pattern(model, dt):
    """All presets of a model simulated as one population (per-neuron parameters and step
    amplitudes); each neuron's spike train is classified as its preset's ``pattern``."""
    presets = _presets(model)
    assert presets
    neurons = [ParamModel.from_preset(p).build() for p in presets]
    protocols = [CurrentProtocol.from_preset(p) for p in presets]
    neuron = jax.tree.map(lambda *x: jnp.stack(x), *neurons)
    current = jax.tree.map(lambda *x: jnp.stack(x), *(c.build() for c in protocols))
    windows = {c.stimulus_window(p["duration_ms"]) for c, p in zip(protocols, presets, strict=True)}
    durations = {p["duration_ms"] for p in presets}
    assert len(windows) == 1 and len(durations) == 1  # one population needs one protocol
    (on, off), (duration,) = windows.pop(), durations
    system = DrivenPopulation(neuron, current, dt=dt, shape=(len(presets),))
    _, rec = simulate(system, round(duration / dt), key=jax.random.key(0))
    trains = fp.spike_times_ms(rec["spikes"], dt)
    got = {p["name"]: fp.classify_pattern(t, on, off) for p, t in zip(presets, trains, strict=True)}
    assert got == {p["name"]: p["pattern"] for p in presets}


def _train(isis, start=100.0):
    return start + np.concatenate([[0.0], np.cumsum(isis)])


ON, OFF = 50.0, 550.0
SYNTHETIC = {
    "quiescent": np.array([10.0, 600.0]),  # spikes only outside the window
    "transient": _train([5.0, 8.0], start=60.0),
    "sparse": _train([150.0, 150.0], start=90.0),
    "tonic": _train([10.0] * 40, start=60.0),
    "fast_spiking": _train([4.0] * 100, start=55.0),
    "adapting": _train(np.geomspace(10.0, 60.0, 12), start=60.0),
    "accelerating": _train(np.geomspace(30.0, 12.0, 25), start=60.0),
    "delayed_accelerating": _train(np.geomspace(30.0, 12.0, 20), start=120.0),
    "initial_burst": _train([3.0, 4.0] + [60.0] * 7, start=60.0),
    "regular_bursting": _train([3.0, 4.0, 100.0] * 5, start=60.0),
    "delayed_bursting": _train([3.0, 4.0, 60.0] * 6, start=100.0),
    "irregular": _train(np.random.default_rng(0).exponential(20.0, 25) + 2.0, start=60.0),
}


@pytest.mark.parametrize("label", sorted(SYNTHETIC))
def test_classifier_rules_on_synthetic_trains(label):
    assert fp.classify_pattern(SYNTHETIC[label], ON, OFF) == label
    # a common time shift of the train and the stimulus changes nothing
    assert fp.classify_pattern(SYNTHETIC[label] + 1000.0, ON + 1000.0, OFF + 1000.0) == label


def test_classifier_thresholds_are_the_decision_boundaries():
    """Just above / below the adaptation-ratio threshold flips tonic <-> adapting."""
    r = fp.ADAPTING_RATIO
    above = _train(np.linspace(10.0, 10.0 * r * 1.05, 35), start=60.0)
    below = _train(np.linspace(10.0, 10.0 * r * 0.95, 35), start=60.0)
    assert fp.classify_pattern(above, ON, OFF) == "adapting"
    assert fp.classify_pattern(below, ON, OFF) == "tonic"
    features = fp.isi_features(above, ON, OFF)
    assert features["adaptation_index"] > 0 and features["cv_late"] < fp.IRREGULAR_CV


def test_classifier_rejects_an_empty_window():
    with pytest.raises(ValueError, match=r"stimulus_off_ms \(10\.0\) must be after"):
        fp.classify_pattern([1.0, 2.0], 20.0, 10.0)


# --- f-I curves ------------------------------------------------------------------------------


def test_lif_fi_curve_matches_closed_form_within_one_step():
    """The discrete ISI lies in [ISI, ISI + dt), so the simulated rate lies between the closed
    form evaluated with ISI + dt and with ISI; below rheobase (500 pA) the rate is 0."""
    neuron = LIF(v_reset=-65.0, t_ref=2.0)
    currents = np.array([0.0, 300.0, 499.0, 510.0, 600.0, 800.0, 1200.0, 2000.0])
    dt = 0.1
    rates = fi_curve(neuron, currents, dt=dt, duration_ms=1000.0, key=jax.random.key(0))
    exact = lif_rate_closed_form(neuron, currents)
    slower = np.where(exact > 0, 1000.0 / (1000.0 / np.where(exact > 0, exact, 1.0) + dt), 0.0)
    assert np.all(rates[:3] == 0.0) and np.all(exact[:3] == 0.0)
    assert np.all(rates >= slower - 1e-3) and np.all(rates <= exact + 1e-3), (rates, exact)
    # and the closed form itself: f = 1000 / (t_ref + tau ln((RI - 5) / (RI - 20)))
    r_i = 10.0 / 250.0 * 800.0
    assert exact[5] == pytest.approx(1000.0 / (2.0 + 10.0 * np.log((r_i - 5.0) / (r_i - 20.0))))


def test_fi_curve_new_currents_do_not_recompile_and_adex_is_monotone():
    key = jax.random.key(0)
    fi_curve(AdEx(), np.linspace(0.0, 1000.0, 8), dt=0.1, duration_ms=400.0, key=key)
    with count_compilations() as log:
        rates = fi_curve(
            AdEx(b=40.0), np.linspace(200.0, 1400.0, 8), dt=0.1, duration_ms=400.0, key=key
        )
    assert log.matching("advance") == 0, log.names
    assert rates[0] == 0.0 and rates[-1] > 20.0
    assert np.all(np.diff(rates) >= 0.0), rates


def test_fi_curve_uses_one_simulation_per_call():
    """One population of len(currents) neurons: a per-neuron current array, no vmap."""
    currents = jnp.array([600.0, 900.0])
    rates = fi_curve(LIF(), currents, dt=0.1, duration_ms=400.0, key=jax.random.key(0))
    system = DrivenPopulation(LIF(), CurrentInjection(offset=currents), dt=0.1, shape=(2,))
    _, rec = simulate(system, 4000, key=jax.random.key(0))
    late = np.asarray(rec["spikes"])[2000:]
    for i in range(2):
        t = np.flatnonzero(late[:, i])
        assert rates[i] == pytest.approx(1000.0 * (t.size - 1) / ((t[-1] - t[0]) * 0.1))
