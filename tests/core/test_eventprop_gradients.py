"""EventProp gradients: against float64 central finite differences, against plain autodiff
through the exact spike times, and the paper's weight-gradient identity."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnviz.core.eventprop import (
    EventNetwork,
    LIFEvent,
    Weights,
    adjoint_trace,
    gradient_check,
    layer_spike_times,
    sample_events,
    ttfs_cross_entropy,
)

LOSS = {"tau_0": 0.5, "alpha": 3e-3, "tau_1": 10.0}


def _random_case(seed: int, n_in=5, n_hidden=10, n_out=3):
    rng = np.random.default_rng(seed)
    inputs = rng.uniform(0.0, 10.0, n_in)
    weights = Weights(
        rng.normal(1.5, 1.5, (n_hidden, n_in)), rng.normal(1.0, 1.0, (n_out, n_hidden))
    )
    return inputs, weights, int(rng.integers(n_out))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_eventprop_matches_central_finite_differences(seed):
    """Every weight of a 5-10-3 net: relative error < 1e-3 (float64, eps = 1e-6 x rms weight),
    weights whose perturbation creates or deletes a spike skipped (and counted)."""
    inputs, weights, label = _random_case(seed)
    net = EventNetwork(LIFEvent(tau_syn=5.0, t_max=30.0), max_spikes_hidden=4)
    check = gradient_check(weights, net, inputs, label, n_weights=None, **LOSS)
    n_checked = int((~check["skipped"]).sum())
    assert n_checked >= 0.8 * check["skipped"].size, check["fraction_skipped"]
    assert np.count_nonzero(check["eventprop"]) > 10  # gradients are not trivially zero
    assert check["max_relative_error"] < 1e-3, check["relative_error"]
    assert check["max_relative_error_vs_autodiff"] < 1e-6


def _spike_functional(weights, inputs, neuron, coefficients, method):
    """A loss that weighs every hidden spike and the output spikes (all cotangent paths)."""
    c_hidden, c_out = coefficients
    hidden = layer_spike_times(weights.hidden, inputs[:, None], neuron, 4, method=method)
    out = layer_spike_times(weights.output, hidden, neuron, 2, method=method)
    h = jnp.where(jnp.isfinite(hidden), hidden, 0.0)
    o = jnp.where(jnp.isfinite(out), out, 0.0)
    return jnp.sum(c_hidden * h) + jnp.sum(c_out * o) + jnp.sum(jnp.sin(o / 3.0))


@jax.jit
def _both_gradients(weights, inputs, neuron, coefficients):
    """(EventProp, autodiff) gradients with respect to (weights, input times)."""
    return tuple(
        jax.grad(_spike_functional, argnums=(0, 1))(weights, inputs, neuron, coefficients, m)
        for m in ("eventprop", "autodiff")
    )


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_eventprop_matches_autodiff_through_exact_spike_times(seed):
    """EventProp (custom VJP) == reverse-mode autodiff of the closed-form crossing times, for
    a loss of all hidden spikes (several per neuron) and two output spikes per neuron; also
    the gradient with respect to the input spike times."""
    inputs, weights, _ = _random_case(seed)
    rng = np.random.default_rng(100 + seed)
    with jax.enable_x64(True):
        neuron = LIFEvent(tau_syn=5.0, t_max=30.0)
        w = Weights(*(jnp.asarray(a) for a in weights))
        x = jnp.asarray(inputs)
        coeff = (jnp.asarray(rng.normal(size=(10, 4))), jnp.asarray(rng.normal(size=(3, 2))))
        eventprop, autodiff = _both_gradients(w, x, neuron, coeff)
        hidden = layer_spike_times(w.hidden, x[:, None], neuron, 4)
    assert np.isfinite(np.asarray(hidden)).sum(axis=1).max() >= 2  # multi-spike neurons
    for a, b in zip(
        jax.tree_util.tree_leaves(eventprop), jax.tree_util.tree_leaves(autodiff), strict=True
    ):
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == np.float64 and np.max(np.abs(b)) > 0
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6 * np.max(np.abs(b)))


def test_weight_gradient_is_minus_tau_syn_times_lambda_i_at_presynaptic_spikes():
    """Paper identity dL/dW_ji = -tau_syn sum_{spikes k of i} lambda_I,j(t_k), with the adjoint
    exposed by ``sample_events`` (paper convention) and the gradient from ``jax.grad``."""
    inputs, weights, label = _random_case(7, n_hidden=12)
    with jax.enable_x64(True):
        neuron = LIFEvent(tau_syn=5.0, t_max=30.0)
        net = EventNetwork(neuron, max_spikes_hidden=3)
        w = Weights(*(jnp.asarray(a) for a in weights))
        events = sample_events(w, net, jnp.asarray(inputs), label, **LOSS)
        spikes = net(w, jnp.asarray(inputs))
        adjoint = events["adjoint"]
        out_rows = adjoint["layer"] == 2
        jump = np.zeros((3, 1))
        jump[adjoint["neuron"][out_rows], 0] = adjoint["jump"][out_rows] * -2.0 * 5.0
        hidden = np.asarray(spikes.hidden)
        first = np.asarray(spikes.output_first)[:, None]
        times = jnp.asarray(np.where(np.isfinite(hidden), hidden, 0.0).ravel())
        _, lam_i = adjoint_trace(jnp.asarray(first), jnp.asarray(jump), neuron, times)
    lam_i_paper = -np.asarray(lam_i) / 5.0  # (n_hidden*K, n_out)
    lam_i_paper[~np.isfinite(hidden).ravel()] = 0.0
    expected = -5.0 * lam_i_paper.reshape(12, 3, 3).sum(axis=1).T
    assert np.abs(events["grad"].output).max() > 0
    np.testing.assert_allclose(events["grad"].output, expected, rtol=1e-9, atol=1e-12)


def test_adjoint_events_are_consistent():
    """Jumps connect the adjoint before and after each spike; after the last output spike the
    adjoint is zero; output jumps follow dL/dt_k for the softmax readout."""
    inputs, weights, label = _random_case(5)
    net = EventNetwork(LIFEvent(), max_spikes_hidden=3)
    w = Weights(*(jnp.asarray(a, jnp.float32) for a in weights))
    events = sample_events(w, net, jnp.asarray(inputs, jnp.float32), label, **LOSS)
    adj, fwd = events["adjoint"], events["forward"]
    assert np.all(np.diff(fwd["time"]) >= 0) and set(np.unique(fwd["layer"])) <= {0, 1, 2}
    np.testing.assert_allclose(
        adj["lambda_v_before"] - adj["lambda_v_after"], adj["jump"], rtol=1e-5, atol=1e-8
    )
    out = adj["layer"] == 2
    assert out.any()
    np.testing.assert_allclose(adj["lambda_v_after"][out], 0.0)  # nothing after the first spike
    # dL/dt_n of the softmax readout: (delta_n,label - p_n) / tau_0 (+ regulariser on label)
    first = np.full(3, 30.0)
    first[adj["neuron"][out]] = adj["time"][out]
    p = np.exp(-first / LOSS["tau_0"]) / np.exp(-first / LOSS["tau_0"]).sum()
    expected = (np.eye(3)[label] - p) / LOSS["tau_0"]
    expected[label] += LOSS["alpha"] / LOSS["tau_1"] * np.exp(first[label] / LOSS["tau_1"])
    np.testing.assert_allclose(adj["grad_time"][out], expected[adj["neuron"][out]], rtol=1e-4)
    t = events["t"]
    assert np.all(events["lambda_v_output"][t > adj["time"][out].max()] == 0.0)
    assert events["v_hidden"].shape == (t.size, 10)


def test_loss_prefers_the_correct_early_spike():
    good = ttfs_cross_entropy(jnp.array([5.0, 9.0, 9.0]), 0, tau_0=1.0)
    bad = ttfs_cross_entropy(jnp.array([9.0, 5.0, 9.0]), 0, tau_0=1.0)
    assert float(good) < np.log(3) < float(bad)
    np.testing.assert_allclose(float(good), np.log(1 + 2 * np.exp(-4.0)), rtol=1e-5)


def test_gradient_check_skips_exactly_the_weights_that_change_spikes():
    """With a large step some perturbations create or delete spikes: exactly those are
    skipped (checked against the forward pass directly)."""
    inputs, weights, label = _random_case(0)
    net = EventNetwork(LIFEvent(), max_spikes_hidden=4)
    check = gradient_check(weights, net, inputs, label, n_weights=40, eps_rel=0.3, **LOSS)
    assert 0.0 < check["fraction_skipped"] < 1.0
    scale = [np.sqrt(np.mean(np.asarray(w) ** 2)) for w in weights]

    forward = jax.jit(lambda w: net(w, jnp.asarray(inputs)))

    def counts(w):
        with jax.enable_x64(True):  # the check runs in float64, so does this comparison
            s = forward(Weights(*(jnp.asarray(a, jnp.float64) for a in w)))
        return np.concatenate(
            [np.isfinite(s.hidden).ravel(), s.hidden_cap_hit, np.isfinite(s.output_first)]
        )

    base = counts(weights)
    for layer, row, col, skipped in zip(
        check["layer"], check["row"], check["col"], check["skipped"], strict=True
    ):
        changed = False
        for sign in (1.0, -1.0):
            w = [np.array(a, copy=True) for a in weights]
            w[layer][row, col] += sign * 0.3 * scale[layer]
            changed |= not np.array_equal(counts(w), base)
        assert changed == skipped, (layer, row, col)
    assert np.all(np.isnan(check["relative_error"][check["skipped"]]))
