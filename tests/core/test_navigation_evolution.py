"""The evolution strategy (snnviz.core.navigation.evolution): antithetic sampling, descent on
a quadratic (also with per-gene spreads), gene round trips, per-neuron genes acting as bias
shifts and gains, and a rise of homing fitness from a poor start."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnviz.core.navigation import RateCX
from snnviz.core.navigation.bss2 import emulated_bss2_cx
from snnviz.core.navigation.evolution import (
    GENES,
    NEURON_GENES,
    OpenES,
    apply_genes,
    es_step,
    evaluate_population,
    gene_slices,
    genes_of,
    homing_fitness,
    n_genes,
)


def test_ask_returns_antithetic_pairs():
    es = OpenES(8, sigma=0.3)
    state = es.init(jnp.array([1.0, -2.0, 0.5]))
    candidates, eps = es.ask(state, key=jax.random.key(0))
    assert candidates.shape == (8, 3) and eps.shape == (4, 3)
    np.testing.assert_allclose(
        np.asarray(candidates[:4] + candidates[4:]) / 2,
        np.tile([1.0, -2.0, 0.5], (4, 1)),
        atol=1e-6,
    )


def test_es_minimises_a_quadratic():
    target = jnp.array([1.5, -0.5, 2.0, 0.0, -1.0])
    es = OpenES(16, sigma=0.1, learning_rate=0.05)
    state = es.init(jnp.zeros(5))
    start = float(jnp.linalg.norm(state.mean - target))

    def fitness(candidates, key):
        del key
        return -jnp.sum((candidates - target[None]) ** 2, axis=1)

    step = jax.jit(lambda s, k: es_step(es, s, fitness, key=k)[0])
    key = jax.random.key(0)
    for _ in range(300):
        key, k = jax.random.split(key)
        state = step(state, k)
    assert float(jnp.linalg.norm(state.mean - target)) < 0.1 * start
    assert int(state.generation) == 300


def test_odd_population_is_rejected():
    with pytest.raises(ValueError, match="popsize must be an even number"):
        OpenES(7)


def test_genes_round_trip():
    circuit = RateCX(memory_gain=0.004, turn_gain=1.3, cpu1_bias=2.0)
    genes = genes_of(circuit)
    assert genes.shape == (len(GENES),)
    again = apply_genes(RateCX(), genes)
    np.testing.assert_allclose(np.asarray(genes_of(again)), np.asarray(genes), rtol=1e-6)
    assert float(again.memory_gain) == pytest.approx(0.004, rel=1e-5)


@pytest.mark.slow
def test_es_raises_homing_fitness_from_a_poor_start():
    circuit = RateCX()
    poor = jnp.array([np.log(0.0015), np.log(0.3), 4.5, 3.5])
    es = OpenES(16, sigma=0.2, learning_rate=0.1)
    state = es.init(poor)

    def fitness(candidates, key):
        return homing_fitness(evaluate_population(circuit, candidates, key, 4, 500, 500))

    key = jax.random.key(0)
    for _ in range(30):
        key, k = jax.random.split(key)
        state, _, _ = es_step(es, state, fitness, key=k)
    test = evaluate_population(
        circuit, jnp.stack([poor, state.mean]), jax.random.key(99), 32, 500, 500
    )
    before, after = np.asarray(homing_fitness(test))
    assert after > before + 0.4
    assert float(test.homed[1].mean()) > float(test.homed[0].mean()) + 0.4


def test_sigma_per_gene_sets_the_spread_and_the_step():
    es = OpenES(4, sigma=np.array([0.2, 0.05]), learning_rate=0.1)
    np.testing.assert_allclose(np.asarray(es.step_scale), [0.1, 0.025], rtol=1e-6)
    state = es.init(jnp.zeros(2))
    candidates, eps = es.ask(state, key=jax.random.key(1))
    np.testing.assert_allclose(
        np.asarray(candidates[:2]), np.asarray(eps) * np.array([0.2, 0.05]), rtol=1e-6
    )
    # Adam's first step has magnitude 1 per coordinate: each gene moves by its step_scale
    new = es.tell(state, eps, jnp.array([1.0, 0.0, 0.0, 1.0]))
    np.testing.assert_allclose(np.abs(np.asarray(new.mean)), [0.1, 0.025], rtol=1e-3)


def test_bad_sigma_and_mismatched_length_are_rejected():
    with pytest.raises(ValueError, match="sigma must be"):
        OpenES(4, sigma=np.array([0.1, 0.0]))
    with pytest.raises(ValueError, match="sigma has 2 values but the mean 3"):
        OpenES(4, sigma=np.array([0.1, 0.2])).init(jnp.zeros(3))


def test_es_with_per_gene_sigma_fits_genes_of_different_scales():
    target = jnp.array([2.0, 0.05, -0.03])
    es = OpenES(16, sigma=np.array([0.2, 0.01, 0.01]), learning_rate=0.05)
    state = es.init(jnp.zeros(3))

    def fitness(candidates, key):
        del key
        scale = jnp.array([[1.0, 0.05, 0.05]])
        return -jnp.sum(((candidates - target[None]) / scale) ** 2, axis=1)

    step = jax.jit(lambda s, k: es_step(es, s, fitness, key=k)[0])
    key = jax.random.key(0)
    for _ in range(300):
        key, k = jax.random.split(key)
        state = step(state, k)
    np.testing.assert_allclose(np.asarray(state.mean), np.asarray(target), atol=0.01 * 2)


def test_neuron_gene_layout():
    names = GENES + NEURON_GENES
    assert n_genes(names) == 4 + 8 + 2 + 2 + 16 + 16
    where = gene_slices(names)
    assert where["tb1_offset"] == slice(4, 12) and where["cpu1_offset"] == slice(32, 48)


def test_per_neuron_genes_need_a_spiking_circuit():
    with pytest.raises(ValueError, match="need a spiking circuit"):
        apply_genes(RateCX(), jnp.zeros(n_genes(GENES + NEURON_GENES)), GENES + NEURON_GENES)
    with pytest.raises(ValueError, match="4 genes expected"):
        apply_genes(RateCX(), jnp.zeros(5))


def test_offset_genes_shift_the_bias_and_gain_genes_scale_the_speed_input():
    names = GENES + NEURON_GENES
    chip = emulated_bss2_cx(n_substeps=5, noise=0.0)
    genes = genes_of(chip, names)
    assert float(jnp.abs(genes[4:]).max()) == 0.0  # no correction: the chip as built
    same = apply_genes(chip, genes, names)
    np.testing.assert_array_equal(np.asarray(same.current_offset), np.asarray(chip.current_offset))
    where = gene_slices(names)
    delta = 0.3
    shifted = apply_genes(chip, genes.at[where["cpu4_offset"]].set(delta), names)
    # a +delta offset on every CPU4 neuron is a CPU4 bias lowered by delta: same currents
    lowered = eqx.tree_at(lambda c: c.cpu4_bias, chip, chip.cpu4_bias - delta)
    state = chip.init_state(key=jax.random.key(0))
    heading, velocity = jnp.float32(0.4), jnp.array([0.3, 0.2])
    counts_a = counts_b = 0.0
    sa = sb = state
    for i in range(5):
        sa, out_a = shifted.step(sa, heading, velocity, key=jax.random.key(i))
        sb, out_b = lowered.step(sb, heading, velocity, key=jax.random.key(i))
        counts_a, counts_b = counts_a + out_a.activity, counts_b + out_b.activity
    np.testing.assert_allclose(np.asarray(counts_a), np.asarray(counts_b), atol=1.0)
    gained = apply_genes(chip, genes.at[where["tn2_gain"]].set(jnp.array([0.2, -0.1])), names)
    np.testing.assert_allclose(
        np.asarray(gained.current_gain[42:44]) / np.asarray(chip.current_gain[42:44]),
        np.exp([0.2, -0.1]),
        rtol=1e-5,
    )
    untouched = np.r_[0:42, 44:76]
    np.testing.assert_array_equal(
        np.asarray(gained.current_gain)[untouched], np.asarray(chip.current_gain)[untouched]
    )
