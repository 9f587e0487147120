"""EventProp training on Yin-Yang: accuracy targets, traced learning rate, page helpers."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnviz.core.eventprop import (
    FULL,
    QUICK,
    LossParams,
    decision_map,
    init_weights,
    make_optimizer,
    readout_bits,
    readout_bits_for,
    train_epoch,
    train_yinyang,
)
from tests.helpers import count_compilations


def test_quick_config_reaches_80_percent_within_budget():
    """QUICK: >= 80 % Yin-Yang test accuracy (chance 33 %), history and progress complete.
    (~11 s with a warm compilation cache, ~24 s cold under load; the budget is 35 s.)"""
    calls = []
    result = train_yinyang(QUICK, progress=lambda f, m: calls.append((f, m)))
    history = result.history
    assert history["test_accuracy"][-1] >= 0.80, history["test_accuracy"]
    assert history["loss"][-1] < history["loss"][0]
    assert len(history["epoch"]) == QUICK.epochs
    assert [f for f, _ in calls] == sorted(f for f, _ in calls) and calls[-1][0] == 1.0
    assert history["silent_output_fraction"][-1] < 0.05


@pytest.mark.slow
def test_full_config_reaches_90_percent():
    result = train_yinyang(FULL)
    assert result.history["test_accuracy"][-1] >= 0.90, result.history["test_accuracy"]


def test_learning_rate_is_traced_and_epochs_do_not_recompile():
    """A new learning rate (in the optimiser state) and new data reuse the compiled epoch;
    a zero learning rate (and no bumping) leaves the weights unchanged."""
    config = dataclasses.replace(QUICK, n_hidden=8)
    net = config.network()
    w = init_weights(jax.random.key(0), 5, 8, 3, hidden_mean=2.0, output_mean=1.0)
    opt = make_optimizer(1e-3)
    state = opt.init(w)
    loss = LossParams(0.5, 3e-3, 10.0)
    x = jnp.asarray(np.random.default_rng(0).uniform(0, 10, (3, 4, 5)), jnp.float32)
    y = jnp.asarray(np.random.default_rng(1).integers(0, 3, (3, 4)), jnp.int32)
    bump = jnp.asarray(0.0, jnp.float32)
    w1, state, losses, accs = train_epoch(w, state, net, x, y, loss, bump)
    assert losses.shape == (3,) and accs.shape == (3,)
    state.hyperparams["learning_rate"] = jnp.asarray(0.0, jnp.float32)
    x2 = x + 0.5
    with count_compilations() as log:
        w2, state, _, _ = train_epoch(w1, state, net, x2, y, loss, bump)
    assert log.matching("train_epoch") == 0, log.names
    np.testing.assert_array_equal(np.asarray(w2.hidden), np.asarray(w1.hidden))
    assert not np.array_equal(np.asarray(w1.hidden), np.asarray(w.hidden))


def test_readout_bits_closed_form_and_network_count():
    bits = readout_bits(100, n_steps=60, n_neurons=63)
    assert bits["event_bits"] == 1600 and bits["dense_bits"] == 60 * 63 * 8
    assert bits["dense_over_event"] == pytest.approx(60 * 63 * 8 / 1600)
    config = dataclasses.replace(QUICK, n_hidden=10)
    w = init_weights(jax.random.key(1), 5, 10, 3, hidden_mean=2.0, output_mean=1.0)
    x = config.encode(jnp.asarray([[0.2, 0.7, 0.8, 0.3], [0.5, 0.5, 0.5, 0.5]], jnp.float32))
    counted = readout_bits_for(w, config.network(), x, dt=0.5)
    spikes = jax.vmap(config.network(), in_axes=(None, 0))(w, x)
    n = (
        np.isfinite(np.asarray(spikes.hidden)).sum()
        + np.isfinite(np.asarray(spikes.output_first)).sum()
    )
    assert counted["mean_spikes"] == pytest.approx(n / 2)
    assert counted["n_steps"] == 60 and counted["n_neurons"] == 13


def test_decision_map_covers_the_square():
    config = dataclasses.replace(QUICK, n_hidden=10)
    w = init_weights(jax.random.key(2), 5, 10, 3, hidden_mean=2.0, output_mean=1.0)
    grid = decision_map(w, config, resolution=12)
    assert grid.shape == (12, 12) and set(np.unique(grid)) <= {-1, 0, 1, 2}
