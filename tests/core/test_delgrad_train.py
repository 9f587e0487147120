"""DelGrad training: the loss and its silent-neuron handling, the jitted epoch (no recompile
when the learning rate moves), determinism, delay projection, and the headline experiment:
weights+delays beat weights-only on the interval task at equal neuron count."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnviz.core.delgrad import TTFSNetwork, TTFSNeuron, first_spike_and_peak
from snnviz.core.delgrad.experiments import accuracy_vs_parameters, compare_delays
from snnviz.core.delgrad.tasks import interval_task
from snnviz.core.delgrad.train import (
    OPTIMISER,
    LossConfig,
    effective_times,
    train,
    train_epoch,
    ttfs_loss,
)
from snnviz.core.delgrad.ttfs import SpikeAndPeak
from tests.helpers import count_compilations

NEURON = TTFSNeuron(5.0, 1.0)


def test_loss_is_ttfs_cross_entropy_when_every_output_fires():
    cfg = LossConfig()
    t = jnp.array([6.0, 4.0, 9.0])
    out = SpikeAndPeak(t, jnp.array([1.5, 2.0, 1.2]), t - 1.0)
    log_p = np.log(np.exp(-np.asarray(t) / 2.5) / np.exp(-np.asarray(t) / 2.5).sum())
    expected = -log_p[1] + 0.005 * (np.exp(4.0 / (2.6 * 5.0)) - 1.0)
    assert float(ttfs_loss(out, jnp.asarray(1), NEURON, cfg)) == pytest.approx(expected, rel=1e-6)


def test_effective_time_continues_the_spike_time_through_grazing():
    cfg = LossConfig()
    # a lone input spikes iff w > 4 (the PSP peak is w/4); compare just above and below
    times = []
    for w in (4.0 * (1 + 1e-6), 4.0 * (1 - 1e-6)):
        out = first_spike_and_peak(jnp.array([0.0]), jnp.array([w]), NEURON)
        times.append(float(effective_times(jax.tree.map(lambda a: a[None], out), NEURON, cfg)[0]))
    assert np.isfinite(times[0]) and times[0] == pytest.approx(times[1], abs=0.05)
    assert times[1] == pytest.approx(10.0 * np.log(2.0), abs=0.05)


def test_a_silent_label_output_still_gets_a_gradient(getkey):
    net = TTFSNetwork.init([4, 3], key=getkey(), weight_mean=(0.3,), weight_std=(0.1,))
    x = jnp.array([0.0, 1.0, 2.0, 3.0])
    assert np.all(np.isinf(np.asarray(net(x))))

    def loss(params):
        out = net.with_parameters(params).outputs_and_peaks(x)
        return ttfs_loss(out, jnp.asarray(0), net.neuron, LossConfig())

    g_w = jax.grad(loss)(net.parameters)[0][0]
    assert np.all(np.asarray(g_w[0]) < 0)  # raise the label neuron's weights


@pytest.fixture(scope="module")
def small_task():
    return interval_task(300, 150, seed=5)


def test_training_is_deterministic_and_reports_progress(small_task):
    seen = []
    kwargs = dict(delay_type="synaptic", epochs=3, d_init_max=20.0, seed=7, eval_every=2)
    first = train(*small_task, progress=lambda f, m: seen.append((f, m)), **kwargs)
    second = train(*small_task, **kwargs)
    assert first.history["loss"] == second.history["loss"]
    assert first.history["test_epoch"] == [2, 3]  # every 2nd epoch and the last
    for a, b in zip(jax.tree.leaves(first.network), jax.tree.leaves(second.network), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert [f for f, _ in seen] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert "epoch 3/3" in seen[-1][1]
    other = train(*small_task, **{**kwargs, "seed": 8})
    assert other.history["loss"] != first.history["loss"]


def test_delays_are_projected_into_bounds(small_task):
    result = train(
        *small_task, delay_type="axonal", epochs=3, d_init_max=20.0, d_max=5.0, learning_rate=0.1
    )
    d = np.asarray(result.network.delays[0])
    assert d.min() >= 0.0 and d.max() <= 5.0
    assert np.any(d == 5.0)  # the projection was active


def test_moving_the_learning_rate_does_not_recompile(small_task):
    train_set, _ = small_task
    net = TTFSNetwork.init([6, 3], key=jax.random.key(0), delay_type="synaptic", d_init_max=20.0)
    state = OPTIMISER.init(net.parameters)
    xb = train_set.times.reshape(6, 50, 6)
    yb = train_set.labels.reshape(6, 50)
    args = (xb, yb, jnp.asarray(40.0), jnp.asarray(30.0), LossConfig())
    net1, state1, _, _ = train_epoch(net, state, *args)
    state1.hyperparams["learning_rate"] = jnp.asarray(0.001, jnp.float32)
    with count_compilations() as log:
        net2, _, _, _ = train_epoch(net1, state1, *args)
    assert log.matching("train_epoch") == 0, log.names
    moved = np.abs(np.asarray(net2.weights[0] - net1.weights[0])).max()
    assert 0 < moved <= 6 * 0.001 * 1.5  # 6 Adam steps, each about the new learning rate


def test_bad_arguments_are_rejected(small_task):
    with pytest.raises(ValueError, match="delay_type"):
        train(*small_task, delay_type="somatic")
    with pytest.raises(ValueError, match="batch_size"):
        train(*small_task, batch_size=0)


def test_accuracy_vs_parameters_rows():
    rows = accuracy_vs_parameters(widths=(0,), seeds=(0,), epochs=2, task={"n_train": 200})
    assert [(r["variant"], r["parameters"], r["neurons"]) for r in rows] == [
        ("weights", 18, 3),
        ("weights+synaptic delays", 36, 3),
    ]
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in rows)


@pytest.mark.slow
def test_delays_beat_weights_only_on_the_timing_task():
    """The issue's claim at equal neuron count (3 output neurons, no hidden layer), 3 seeds.

    Weights-only gets two chances: the delay network's settings, and the fan-in-scaled
    initial weights (better for weights-only); the better mean is the baseline."""
    with_delays = compare_delays(quick=True, delay_types=(None, "synaptic"))
    retuned = compare_delays(quick=True, delay_types=(None,), weight_mean=None, weight_std=None)
    summary = with_delays.summary()
    delays_mean = summary["weights+synaptic delays"][0]
    baseline = max(summary["weights"][0], retuned.summary()["weights"][0])
    assert len(with_delays.accuracy["weights"]) == 3
    assert delays_mean >= baseline + 0.15, (summary, retuned.summary())
    assert with_delays.delays["weights+synaptic delays"].size == 3 * 18
    assert with_delays.parameters["weights+synaptic delays"] == {
        "weights": 18,
        "delays": 18,
        "total": 36,
    }


@pytest.mark.slow
def test_yinyang_quick_training_beats_80_percent():
    result = compare_delays(quick=True, dataset="yinyang", delay_types=(None,))
    assert result.accuracy["weights"][0] >= 0.80


def test_seeds_and_runs_reuse_one_compiled_epoch_per_variant():
    with count_compilations() as log:
        result = compare_delays(seeds=(0, 1, 2), epochs=2, task={"n_train": 200, "n_test": 100})
    assert log.matching("train_epoch") <= 2, log.names  # one per variant, not per seed
    assert set(result.accuracy) == {"weights", "weights+synaptic delays"}
    assert all(len(v) == 3 for v in result.accuracy.values())
