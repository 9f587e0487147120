"""The scan driver: values never recompile, shapes and chunk lengths do; chunked runs equal
one long run."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnviz.core.inputs import CurrentInjection
from snnviz.core.neurons import LIF, AdEx, AdLIF
from snnviz.core.sim import DrivenPopulation, advance, simulate
from tests.helpers import count_compilations

N_STEPS = 200


def population(neuron, *, amplitude=600.0, dt=0.1, shape=(4,), rate=0.0, weight=0.0):
    current = CurrentInjection(offset=amplitude, step=100.0, t_on=5.0, t_off=15.0)
    return DrivenPopulation(
        neuron, current, dt=dt, shape=shape, poisson_rate_hz=rate, poisson_weight=weight
    )


NEURONS = {
    "LIF": (LIF(), LIF(tau_mem=15.0, v_th=-48.0, t_ref=1.0)),
    "AdLIF": (AdLIF(), AdLIF(a=5.0, b=10.0, tau_w=40.0)),
    "AdEx": (AdEx(), AdEx(delta_t=1.0, b=10.0, c_mem=200.0, t_ref=1.0)),
}


@pytest.mark.parametrize("model", sorted(NEURONS))
def test_new_parameter_values_do_not_recompile(model):
    first, second = NEURONS[model]
    key = jax.random.key(0)
    # warm-up compiles once; a non-zero rate compiles the Poisson sampler in (weight 0: no effect)
    simulate(population(first, rate=1.0), N_STEPS, key=key)
    with count_compilations() as log:
        _, rec = simulate(
            population(second, amplitude=900.0, dt=0.05, rate=2000.0, weight=30.0),
            N_STEPS,
            key=jax.random.key(1),
        )
        jax.block_until_ready(rec)
    assert log.count == 0, log.names
    # ... and the new values really were used
    _, rec_first = simulate(population(first), N_STEPS, key=key)
    assert not np.allclose(np.asarray(rec["v"]), np.asarray(rec_first["v"]))


def test_poisson_sampler_is_compiled_in_only_when_used():
    assert not population(LIF()).poisson_input
    assert population(LIF(), rate=5.0).poisson_input
    quiet = population(LIF(), amplitude=0.0)
    forced = DrivenPopulation(quiet.neuron, quiet.current, dt=0.1, shape=(4,), poisson_input=True)
    _, a = simulate(quiet, N_STEPS, key=jax.random.key(0))
    _, b = simulate(forced, N_STEPS, key=jax.random.key(0))  # rate 0: samples only zeros
    np.testing.assert_array_equal(np.asarray(a["v"]), np.asarray(b["v"]))


def test_advance_chunks_do_not_recompile_and_equal_one_run():
    """Streaming: chunk after chunk reuses one executable, and four chunks of 50 steps give
    exactly the records of one 200-step run (state and PRNG key carried)."""
    system = population(AdEx(), rate=3000.0, weight=40.0)
    key = jax.random.key(3)
    _, whole = simulate(system, N_STEPS, key=key)
    state = system.init_state(key=key)
    state, first = advance(system, state, 50)  # compiles the 50-step chunk
    chunks = [first]
    with count_compilations() as log:
        for _ in range(3):
            state, rec = advance(system, state, 50)
            chunks.append(rec)
        jax.block_until_ready(state)
    assert log.count == 0, log.names
    for name in ("v", "spikes", "w"):
        joined = np.concatenate([np.asarray(c[name]) for c in chunks])
        np.testing.assert_allclose(joined, np.asarray(whole[name]), rtol=0, atol=1e-5)


def test_new_n_steps_or_shape_recompiles():
    system = population(LIF())
    simulate(system, N_STEPS, key=jax.random.key(0))
    with count_compilations() as log:
        simulate(system, N_STEPS + 1, key=jax.random.key(0))
    assert log.matching("advance") == 1, log.names
    with count_compilations() as log:
        simulate(population(LIF(), shape=(5,)), N_STEPS, key=jax.random.key(0))
    assert log.matching("advance") == 1, log.names


def test_drive_is_added_to_the_current():
    """``drive`` (one entry per step) is added to I_ext and recorded."""
    system = population(LIF(), amplitude=0.0)
    drive = jnp.full((N_STEPS, 4), 250.0)
    _, rec = simulate(system, N_STEPS, key=jax.random.key(0), drive=drive)
    t = 0.1 * np.arange(N_STEPS)
    expected = 250.0 + np.where((t >= 5.0) & (t < 15.0), 100.0, 0.0)
    np.testing.assert_allclose(np.asarray(rec["i_ext"])[:, 0], expected, rtol=1e-6)


def test_bad_arguments_raise():
    system = population(LIF())
    with pytest.raises(ValueError, match=r"`n_steps` must be a positive integer, got 0"):
        simulate(system, 0, key=jax.random.key(0))
    with pytest.raises(
        ValueError, match=r"leading time axis of n_steps=10, got leading sizes \[7\]"
    ):
        advance(system, system.init_state(key=jax.random.key(0)), 10, jnp.zeros((7, 4)))
