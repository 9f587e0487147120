"""The spiking and emulated-BrainScaleS-2 circuits (snnviz.core.navigation.spiking, .bss2):
the calibrated current map against an independent simulation, weight quantisation, the
spiking TB1 bump, seeded fixed-pattern mismatch, the two clocks, and homing."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnviz.core.navigation import random_routes, run_journeys
from snnviz.core.navigation.bss2 import (
    BSS2_ADEX,
    SPEEDUP,
    biological_seconds,
    emulated_bss2_cx,
    hardware_seconds,
    mismatch_pattern,
)
from snnviz.core.navigation.spiking import (
    DEFAULT_LIF,
    calibrate_current_map,
    quantise_weights,
    spiking_cx,
)
from snnviz.core.neurons import LIF, AdEx


@pytest.mark.parametrize("neuron", [LIF(**DEFAULT_LIF), AdEx(**BSS2_ADEX)], ids=["LIF", "AdEx"])
def test_calibrated_current_gives_sigmoid_rates(neuron):
    i0, i1, rms = calibrate_current_map(neuron, 1.0)
    assert rms < 0.1
    u = np.array([-3.0, -1.0, 0.0, 1.0, 3.0], np.float32)
    step = neuron.discretise(0.1)  # an independent, finer simulation than the 1 ms calibration
    currents = jnp.asarray(i0 + i1 * u)

    def body(state, _):
        return step(state, jnp.zeros(5), currents)

    _, spikes = jax.lax.scan(body, neuron.init_state((5,)), None, length=20_000)
    rate = np.asarray(spikes[2000:]).sum(0) / (18_000 * 0.1) * 1000.0 / 200.0
    np.testing.assert_allclose(rate, 1.0 / (1.0 + np.exp(-u)), atol=0.12)
    assert np.all(np.diff(rate) >= 0)


def test_quantised_weights_have_the_allowed_levels_and_half_lsb_error():
    w = jax.random.normal(jax.random.key(0), (6, 30))
    for bits in (2.0, 6.0):
        q = np.asarray(quantise_weights(w, jnp.float32(bits)))
        lsb = np.max(np.abs(np.asarray(w)), axis=1, keepdims=True) / (2**bits - 1)
        assert np.all(np.abs(q - np.asarray(w)) <= lsb / 2 + 1e-6)
        levels = np.round(q / lsb)
        assert np.all(np.abs(levels) <= 2**bits - 1)
        assert all(len(np.unique(row)) <= 2 ** (bits + 1) - 1 for row in levels)
    np.testing.assert_array_equal(np.asarray(quantise_weights(w, jnp.float32(0.0))), np.asarray(w))


def test_spiking_tb1_bump_tracks_heading():
    circuit = spiking_cx(noise=0.0)
    step = eqx.filter_jit(circuit.step)
    prefs = np.arange(8) * 2 * np.pi / 8
    for heading in (0.4, 2.0, -1.2):
        state = circuit.init_state(key=jax.random.key(0))
        counts = np.zeros(8)
        for t in range(15):
            state, out = step(state, jnp.float32(heading), jnp.zeros(2), key=jax.random.key(t))
            if t >= 3:
                counts += np.asarray(out.tb1)
        weight = counts.max() - counts
        angle = np.arctan2(np.sum(weight * np.sin(prefs)), np.sum(weight * np.cos(prefs)))
        # within half a column (45° / 2): spike counts over a few 20 ms steps are coarse
        assert np.degrees(abs((angle - heading + np.pi) % (2 * np.pi) - np.pi)) < 22.5


def test_mismatch_is_a_seeded_fixed_pattern():
    a, syn_a = mismatch_pattern(0.1, seed=3)
    b, syn_b = mismatch_pattern(0.1, seed=3)
    c, _ = mismatch_pattern(0.1, seed=4)
    np.testing.assert_array_equal(np.asarray(a.g_leak), np.asarray(b.g_leak))
    np.testing.assert_array_equal(syn_a, syn_b)
    assert not np.allclose(np.asarray(a.g_leak), np.asarray(c.g_leak))
    assert np.std(np.asarray(a.g_leak) / BSS2_ADEX["g_leak"]) == pytest.approx(0.1, rel=0.3)
    ideal, syn = mismatch_pattern(0.0, seed=3)
    np.testing.assert_allclose(np.asarray(ideal.v_th), BSS2_ADEX["v_th"])
    np.testing.assert_allclose(syn, 1.0)
    with pytest.raises(ValueError, match="sigma must be a finite number >= 0"):
        mismatch_pattern(-0.1, seed=0)


def test_hardware_clock_is_biology_over_a_thousand():
    circuit = emulated_bss2_cx(n_substeps=20)
    assert circuit.step_ms == 20.0
    assert biological_seconds(3000, circuit) == pytest.approx(60.0)
    assert hardware_seconds(3000, circuit) == pytest.approx(60.0 / SPEEDUP)


@pytest.mark.slow
def test_spiking_and_emulated_circuits_home():
    routes = random_routes(jax.random.key(0), 16, 1500)
    keys = jax.random.split(jax.random.key(1), 16)
    spiking = run_journeys(spiking_cx(n_substeps=10), routes, keys, 1500)
    assert float(spiking.homed.mean()) >= 0.75
    emulated = run_journeys(emulated_bss2_cx(n_substeps=10), routes, keys, 1500)
    assert float(emulated.homed.mean()) >= 0.6
    assert np.degrees(float(jnp.median(emulated.decoded_angle_error))) < 20.0
