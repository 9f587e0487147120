"""The evolution strategy (snnviz.core.navigation.evolution): antithetic sampling, descent on
a quadratic, gene round trips, and a rise of homing fitness from a poor start."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnviz.core.navigation import RateCX
from snnviz.core.navigation.evolution import (
    GENES,
    OpenES,
    apply_genes,
    es_step,
    evaluate_population,
    genes_of,
    homing_fitness,
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
