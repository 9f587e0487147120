"""NeuroBench-style metrics on hand-computable models (snnviz.core.metrics)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnviz.core.metrics import (
    LayerActivity,
    activation_sparsity,
    classification_accuracy,
    connection_sparsity,
    footprint,
    layer_synaptic_operations,
    neurobench_metrics,
    parameter_count,
    spike_counts,
    synaptic_operations,
)


def _three_of_ten() -> np.ndarray:
    x = np.zeros((1, 1, 10), np.float32)
    x[0, 0, [1, 4, 7]] = 1.0
    return x


# --- synaptic operations --------------------------------------------------------------------


def test_three_spikes_into_dense_10x5_layer():
    ops = synaptic_operations([LayerActivity(np.ones((10, 5), np.float32), _three_of_ten())])
    assert ops.dense == 50
    assert ops.effective_acs == 15
    assert ops.effective_macs == 0


def test_zero_weights_reduce_effective_ops_not_dense():
    w = np.ones((10, 5), np.float32)
    w[1, :2] = 0.0  # input 1 (active) loses 2 targets
    w[4, :] = 0.0  # input 4 (active) loses all 5
    w[0, :] = 0.0  # input 0 is silent: no effect on effective ops
    ops = synaptic_operations([LayerActivity(w, _three_of_ten())])
    assert ops.dense == 50
    assert ops.effective_acs == (5 - 2) + 0 + 5


def test_non_binary_inputs_count_as_macs():
    x = _three_of_ten() * np.float32(0.7)
    x[0, 0, 2] = -2.5  # a fourth non-zero (graded) input
    ops = synaptic_operations([LayerActivity(np.ones((10, 5), np.float32), x)])
    assert (ops.dense, ops.effective_macs, ops.effective_acs) == (50, 20, 0)


def test_signed_spikes_are_binary_and_the_flag_overrides_detection():
    x = _three_of_ten()
    x[0, 0, 1] = -1.0
    w = np.ones((10, 5), np.float32)
    assert synaptic_operations([LayerActivity(w, x)]).effective_acs == 15
    forced = synaptic_operations([LayerActivity(w, x, binary_inputs=False)])
    assert (forced.effective_macs, forced.effective_acs) == (15, 0)


def test_time_steps_accumulate_and_samples_average():
    rng = np.random.default_rng(0)
    samples, steps, n_in, n_out = 3, 4, 6, 2
    x = (rng.random((samples, steps, n_in)) < 0.4).astype(np.float32)
    w = rng.normal(size=(n_in, n_out)).astype(np.float32)
    w[rng.random(w.shape) < 0.3] = 0.0
    ops = synaptic_operations([LayerActivity(w, x)])
    # brute force: a binarised forward pass per sample and step, as neurobench runs it
    per_call = [
        (x[s, t] != 0).astype(int) @ (w != 0).astype(int)
        for s in range(samples)
        for t in range(steps)
    ]
    assert ops.effective_acs == pytest.approx(sum(int(v.sum()) for v in per_call) / samples)
    assert ops.dense == steps * n_in * n_out


def test_layers_sum_and_each_goes_to_its_own_bucket():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)  # analog input -> MACs
    hidden = (rng.random((2, 3, 5)) < 0.5).astype(np.float32)  # spikes -> ACs
    layers = [
        LayerActivity(np.ones((4, 5), np.float32), x),
        LayerActivity(np.ones((5, 2), np.float32), hidden),
    ]
    ops = synaptic_operations(layers)
    first, second = (layer_synaptic_operations(layer) for layer in layers)
    assert ops.dense == first.dense + second.dense == 3 * (20 + 10)
    assert ops.effective_macs == first.effective_macs == 3 * 4 * 5
    assert ops.effective_acs == second.effective_acs == hidden.sum() * 2 / 2


def test_event_counts_agree_with_the_dense_raster():
    rng = np.random.default_rng(2)
    raster = (rng.random((5, 20, 8)) < 0.2).astype(np.float32)
    w = rng.normal(size=(8, 3)).astype(np.float32)
    w[rng.random(w.shape) < 0.4] = 0.0
    dense_path = LayerActivity(w, raster, outputs=raster[..., :3])
    counts = raster.sum(axis=1).astype(np.int64)
    event_path = LayerActivity(w, counts, outputs=counts[:, :3], n_steps=20)
    assert synaptic_operations([event_path]) == synaptic_operations([dense_path])
    assert activation_sparsity([event_path]) == pytest.approx(activation_sparsity([dense_path]))


def test_event_input_costs_its_fan_out_per_spike():
    w = np.zeros((3, 4), np.float32)
    w[0, :] = 1.0  # fan-out 4
    w[2, 1] = 2.0  # fan-out 1
    counts = np.array([[2, 5, 3]])  # input 1 has no targets
    ops = synaptic_operations([LayerActivity(w, counts)])
    assert ops.effective_acs == 2 * 4 + 3 * 1
    assert ops.dense == 12  # n_steps defaults to one dense pass per sample


def test_bias_is_not_a_synaptic_operation_unless_asked():
    w = np.ones((10, 5), np.float32)
    bias = np.array([0.0, 1.0, 0.0, 2.0, 3.0], np.float32)
    layer = LayerActivity(w, _three_of_ten(), bias=bias)
    assert synaptic_operations([layer]) == synaptic_operations([layer._replace(bias=None)])
    with_bias = synaptic_operations([layer], include_bias=True)
    assert (with_bias.dense, with_bias.effective_acs) == (55, 15 + 3)


# --- activation sparsity ----------------------------------------------------------------------


def test_activation_sparsity_of_a_known_raster():
    raster = np.zeros((2, 5, 4))  # 40 outputs
    raster[0, 1, 2] = raster[0, 3, 0] = raster[1, 4, 3] = 1.0
    a = LayerActivity(np.ones((4, 4)), raster, outputs=raster)
    assert activation_sparsity([a]) == pytest.approx(37 / 40)
    relu = np.zeros((2, 1, 6))  # a second layer: 12 outputs, 5 non-zero analog values
    relu[0, 0, :3] = [0.2, 1.5, 3.0]
    relu[1, 0, 4:] = [0.1, 7.0]
    b = LayerActivity(np.ones((4, 6)), np.ones((2, 1, 4)), outputs=relu)
    no_outputs = LayerActivity(np.ones((6, 1)), relu)  # readout without outputs: not counted
    assert activation_sparsity([a, b, no_outputs]) == pytest.approx((37 + 7) / (40 + 12))


def test_activation_sparsity_rejects_more_spikes_than_bins_and_no_outputs():
    layer = LayerActivity(
        np.ones((2, 2)), np.ones((1, 2), np.int64), outputs=np.array([[3, 0]]), n_steps=2
    )
    with pytest.raises(ValueError, match="at most one spike"):
        activation_sparsity([layer])
    with pytest.raises(ValueError, match="at least one layer"):
        activation_sparsity([layer._replace(outputs=None)])


# --- static metrics -----------------------------------------------------------------------


class _Tiny(eqx.Module):
    w: jax.Array
    b: jax.Array
    tau: float = eqx.field(static=True, default=5.0)


def test_footprint_and_parameter_count_float32_and_float64():
    model = _Tiny(jnp.ones((3, 4), jnp.float32), jnp.zeros((4,), jnp.float32))
    assert parameter_count(model) == 16
    assert footprint(model) == 16 * 4
    buffers = {"threshold": np.float32(1.0), "mask": np.ones((3, 4), dtype=bool)}
    assert footprint(model, buffers) == 64 + 4 + 12
    assert parameter_count({"params": model, "python_scalar": 2.0}) == 16  # scalars are not arrays
    with jax.enable_x64(True):
        model64 = _Tiny(jnp.ones((3, 4), jnp.float64), jnp.zeros((4,), jnp.float64))
        assert footprint(model64) == 16 * 8
    assert footprint({"w": np.ones((2, 5), np.float64), "i": np.zeros(3, np.int32)}) == 80 + 12


def test_connection_sparsity_counts_weight_zeros_over_all_matrices():
    w1 = np.ones((4, 5))
    w1[0, :3] = 0.0
    w2 = np.zeros((5, 2))
    w2[1, 1] = 0.5
    assert connection_sparsity([w1, w2]) == pytest.approx((3 + 9) / (20 + 10))
    with pytest.raises(ValueError, match="non-empty"):
        connection_sparsity([])


# --- accuracy, helpers, the combined report --------------------------------------------------


def test_classification_accuracy_from_indices_and_scores():
    labels = np.array([0, 1, 2, 1])
    assert classification_accuracy(np.array([0, 1, 1, 1]), labels) == 0.75
    scores = np.eye(3)[[0, 2, 2, 1]]
    assert classification_accuracy(scores, labels) == 0.75
    with pytest.raises(ValueError, match="matching"):
        classification_accuracy(np.array([0, 1]), labels)


def test_spike_counts_from_inf_padded_times():
    times = np.array([[[1.0, 4.0, np.inf], [np.inf] * 3], [[2.0, 31.0, np.inf], [0.5, 1.0, 1.5]]])
    assert spike_counts(times).tolist() == [[2, 0], [2, 3]]
    assert spike_counts(times, t_max=30.0).tolist() == [[2, 0], [1, 3]]
    assert spike_counts(np.array([[3.0, np.inf]])).tolist() == [[1, 0]]


def test_neurobench_metrics_report_of_a_two_layer_event_model():
    w_hidden = np.ones((10, 5), np.float32)
    w_hidden[9, :] = 0.0
    w_out = np.ones((5, 2), np.float32)
    in_counts = np.zeros((2, 10), np.int64)
    in_counts[0, [1, 4, 7]] = 1  # sample 0: the 3-of-10 vector
    in_counts[1, [0, 9]] = 1  # sample 1: input 9 has no targets
    hidden_counts = np.array([[1, 0, 0, 1, 0], [0, 0, 0, 0, 0]])
    out_first = np.array([[3.0, np.inf], [np.inf, 7.0]])
    w_hidden, w_out = jnp.asarray(w_hidden), jnp.asarray(w_out)  # engines hand over jax arrays
    layers = [
        LayerActivity(w_hidden, jnp.asarray(in_counts), outputs=hidden_counts, name="in->hidden"),
        LayerActivity(w_out, hidden_counts, outputs=spike_counts(out_first), name="hidden->out"),
    ]
    params = {"hidden": w_hidden, "out": w_out}
    m = neurobench_metrics(params, layers, predictions=-out_first, labels=np.array([0, 0]))
    assert m["footprint"] == (50 + 10) * 4 and m["parameter_count"] == 60
    assert m["connection_sparsity"] == pytest.approx(5 / 60)
    assert m["synaptic_operations"] == {
        "Dense": 60.0,
        "Effective_MACs": 0.0,
        "Effective_ACs": (15 + 5 + 2 * 2) / 2,
    }
    assert m["activation_sparsity"] == pytest.approx(1 - (2 + 2) / (10 + 4))
    assert m["classification_accuracy"] == 0.5
    assert [row["name"] for row in m["per_layer"]] == ["in->hidden", "hidden->out"]
    assert m["per_layer"][1]["Effective_ACs"] == 2.0 and m["per_layer"][0]["n_in"] == 10
    assert m["table"]["Effective ACs / sample"] == 12.0


def test_shape_errors_name_the_layer_and_the_fix():
    w = np.ones((10, 5))
    with pytest.raises(ValueError, match="hid: `inputs` has 5 features"):
        synaptic_operations([LayerActivity(w, np.ones((1, 1, 5)), name="hid")])
    with pytest.raises(ValueError, match="contradicts"):
        synaptic_operations([LayerActivity(w, np.ones((1, 3, 10)), n_steps=2)])
    with pytest.raises(ValueError, match="same, non-zero number of samples"):
        synaptic_operations(
            [LayerActivity(w, np.ones((1, 1, 10))), LayerActivity(w, np.ones((2, 1, 10)))]
        )
