"""Surrogate-gradient training: autodiff through the scans equals a hand-written BPTT, traced
hyperparameters never recompile the step, multi-step scan == repeated steps, determinism, and
the Yin-Yang / digits accuracy targets."""

from __future__ import annotations

import dataclasses
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from snnviz.core.snn import (
    DIGITS_FULL,
    YINYANG_FULL,
    YINYANG_QUICK,
    LeakyReadout,
    LIFLayer,
    SpikingSequential,
    Surrogate,
    batch_loss,
    batch_outputs,
    decision_map,
    evaluate,
    fit,
    get_learning_rate,
    init_optimizer,
    make_optimizer,
    predict,
    readout_logits,
    set_learning_rate,
    set_surrogate,
    set_time_constants,
    surrogate_derivative,
    train_digits,
    train_step,
    train_steps,
    train_yinyang,
    trainable_arrays,
    yinyang_sets,
)
from tests.helpers import count_compilations


# ------------------------------------------------------------------ hand-written BPTT
def hand_bptt(model: SpikingSequential, x: np.ndarray, y: np.ndarray, readout: str) -> dict:
    r"""Explicit forward and reverse-time recursion for LIF (optionally recurrent) -> readout,
    with cross-entropy on the mean or max over time of the readout membrane. numpy, float64.

    Forward (batch b, step t; S[-1] = 0)::

        I1[t] = b1 I1[t-1] + W1 x[t] + V S[t-1]
        U1[t] = a1 U1[t-1] + (1-a1) I1[t] - th S[t-1]        (subtract)
              = a1 U1[t-1] (1 - S[t-1]) + (1-a1) I1[t]       (zero)
        S[t]  = H(U1[t] - th)
        I2[t] = b2 I2[t-1] + W2 S[t];   U2[t] = a2 U2[t-1] + (1-a2) I2[t]

    Backward, adjoints l* = dL/d* with l*[T] = 0, from t = T-1 down to 0::

        lU2[t] = gU2[t] + a2 lU2[t+1];      lI2[t] = (1-a2) lU2[t] + b2 lI2[t+1]
        lS[t]  = W2^T lI2[t] + V^T lI1[t+1] + (reset term, unless detached:
                 -th lU1[t+1] (subtract) or -a1 U1[t] lU1[t+1] (zero))
        lU1[t] = a1 lU1[t+1] (times (1 - S[t]) for zero reset) + sigma'(U1[t] - th) lS[t]
        lI1[t] = (1-a1) lU1[t] + b1 lI1[t+1]
        dW2 = sum_t lI2[t] S[t]^T;  dW1 = sum_t lI1[t] x[t]^T;  dV = sum_t lI1[t] S[t-1]^T
    """
    hidden, out = model.layers
    w1, w2 = np.asarray(hidden.weight), np.asarray(out.weight)
    v = None if hidden.recurrent_weight is None else np.asarray(hidden.recurrent_weight)
    a1, b1 = (float(d) for d in hidden.decays())
    a2, b2 = (float(d) for d in out.decays())
    th = float(hidden.threshold)
    kind, k = hidden.surrogate.kind, float(hidden.surrogate.slope)
    zero_reset, detached = hidden.reset == "zero", hidden.detach_reset
    n_b, n_t, _ = x.shape
    n_h, n_o = w1.shape[0], w2.shape[0]

    i1, u1, s_prev = np.zeros((n_b, n_h)), np.zeros((n_b, n_h)), np.zeros((n_b, n_h))
    i2, u2 = np.zeros((n_b, n_o)), np.zeros((n_b, n_o))
    u1s, ss, u2s = np.zeros((n_t, n_b, n_h)), np.zeros((n_t, n_b, n_h)), np.zeros((n_t, n_b, n_o))
    for t in range(n_t):
        i1 = b1 * i1 + x[:, t] @ w1.T + (s_prev @ v.T if v is not None else 0.0)
        if zero_reset:
            u1 = a1 * u1 * (1 - s_prev) + (1 - a1) * i1
        else:
            u1 = a1 * u1 + (1 - a1) * i1 - th * s_prev
        s = (u1 >= th).astype(float)
        i2 = b2 * i2 + s @ w2.T
        u2 = a2 * u2 + (1 - a2) * i2
        u1s[t], ss[t], u2s[t], s_prev = u1, s, u2, s

    logits = u2s.mean(axis=0) if readout == "mean" else u2s.max(axis=0)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    g_logits = (p - np.eye(n_o)[y]) / n_b
    if readout == "mean":
        g_u2 = np.broadcast_to(g_logits / n_t, (n_t, n_b, n_o))
    else:  # jnp.max splits the cotangent equally between tied maxima
        ties = (u2s == logits[None]).astype(float)
        g_u2 = ties / ties.sum(axis=0, keepdims=True) * g_logits[None]

    l_u2, l_i2 = np.zeros((n_b, n_o)), np.zeros((n_b, n_o))
    l_u1, l_i1 = np.zeros((n_b, n_h)), np.zeros((n_b, n_h))
    d_w1, d_w2 = np.zeros_like(w1), np.zeros_like(w2)
    d_v = None if v is None else np.zeros_like(v)
    for t in reversed(range(n_t)):
        l_u2 = g_u2[t] + a2 * l_u2
        l_i2 = (1 - a2) * l_u2 + b2 * l_i2
        d_w2 += l_i2.T @ ss[t]
        l_s = l_i2 @ w2
        if v is not None:
            l_s = l_s + l_i1 @ v  # l_i1 still holds lI1[t+1]
        if not detached:
            l_s = l_s - (a1 * u1s[t] * l_u1 if zero_reset else th * l_u1)
        keep = a1 * (1 - ss[t]) if zero_reset else a1
        sigma = np.asarray(surrogate_derivative(kind, u1s[t] - th, k))
        l_u1 = keep * l_u1 + sigma * l_s
        l_i1 = (1 - a1) * l_u1 + b1 * l_i1
        d_w1 += l_i1.T @ x[:, t]
        if v is not None and t > 0:
            d_v += l_i1.T @ ss[t - 1]
    return {"w1": d_w1, "w2": d_w2, "v": d_v, "spikes": ss.sum()}


@pytest.mark.parametrize(
    ("kind", "reset", "detach", "recurrent", "readout"),
    [
        ("fast_sigmoid", "subtract", True, False, "mean"),
        ("fast_sigmoid", "subtract", False, True, "max"),
        ("arctan", "zero", False, True, "mean"),
        ("arctan", "subtract", True, True, "max"),
        ("triangle", "zero", True, False, "max"),
        ("triangle", "subtract", False, False, "mean"),
    ],
)
def test_autodiff_through_scan_equals_hand_written_bptt(kind, reset, detach, recurrent, readout):
    rng = np.random.default_rng(11)
    with jax.enable_x64(True):
        k1, k2 = jax.random.split(jax.random.key(5))
        hidden = LIFLayer(
            6, 20, key=k1, recurrent=recurrent, tau_mem=8.0, tau_syn=3.0, dt=0.5,
            threshold=0.7, weight_scale=5.0, recurrent_scale=1.0, reset=reset,
            detach_reset=detach, surrogate=Surrogate(kind, 2.0),
        )  # fmt: skip
        readout_layer = LeakyReadout(20, 3, key=k2, tau_mem=6.0, tau_syn=2.0, dt=0.5)
        model = SpikingSequential([hidden, readout_layer])
        x = (rng.random((4, 60, 6)) < 0.2).astype(np.float64)
        y = rng.integers(0, 3, 4)
        grads = eqx.filter_grad(
            lambda m: batch_loss(m, jnp.asarray(x), jnp.asarray(y), readout)[0]
        )(model)
        expected = hand_bptt(model, x, y, readout)
    assert expected["spikes"] > 100, "the hidden layer must spike for the test to mean much"
    assert np.abs(expected["w1"]).max() > 1e-4, "surrogate path must carry gradient"
    errors = {
        "w1": np.abs(np.asarray(grads.layers[0].weight) - expected["w1"]).max(),
        "w2": np.abs(np.asarray(grads.layers[1].weight) - expected["w2"]).max(),
    }
    if recurrent:
        errors["v"] = np.abs(np.asarray(grads.layers[0].recurrent_weight) - expected["v"]).max()
    assert max(errors.values()) < 1e-12, errors


def test_detached_reset_changes_only_the_gradient():
    """Same forward, different input-weight gradient with the reset in the graph."""
    rng = np.random.default_rng(2)
    x = jnp.asarray((rng.random((3, 40, 4)) < 0.3).astype(np.float32))
    y = jnp.asarray([0, 1, 0])
    models = [
        SpikingSequential(
            [
                LIFLayer(4, 10, key=jax.random.key(0), weight_scale=5.0, detach_reset=d),
                LeakyReadout(10, 2, key=jax.random.key(1)),
            ]
        )
        for d in (True, False)
    ]
    forward = eqx.filter_jit(lambda m, x: jax.vmap(m)(x))
    outs = [forward(m, x) for m in models]
    np.testing.assert_array_equal(np.asarray(outs[0].output), np.asarray(outs[1].output))
    grads = [eqx.filter_jit(eqx.filter_grad(lambda m: batch_loss(m, x, y)[0]))(m) for m in models]
    assert not np.allclose(np.asarray(grads[0].layers[0].weight), grads[1].layers[0].weight)


# ------------------------------------------------------------------ steps and compilation
def _tiny_problem(n=64, n_steps=30):
    config = dataclasses.replace(YINYANG_QUICK, n_train=n, n_test=n, n_steps=n_steps, n_hidden=24)
    (x, y), _ = yinyang_sets(config)
    return config.network(5, 3), x, y


def test_new_learning_rate_slope_and_time_constants_do_not_recompile():
    model, x, y = _tiny_problem()
    optimizer = make_optimizer(1e-3)
    opt_state = init_optimizer(optimizer, model)
    model, opt_state, _ = train_step(model, opt_state, x, y, optimizer, "max")  # compile
    idx = jnp.arange(64).reshape(2, 32)
    model, opt_state, _ = train_steps(model, opt_state, x, y, idx, optimizer, "max")  # compile
    with count_compilations() as log:
        opt_state = set_learning_rate(opt_state, 0.05)
        changed = set_time_constants(set_surrogate(model, slope=2.5), tau_mem=15.0, tau_syn=3.0)
        new, _, metrics = train_step(changed, opt_state, x, y, optimizer, "max")
        train_steps(changed, opt_state, x, y, idx, optimizer, "max")
        train_step(set_surrogate(changed, slope=40.0), set_learning_rate(opt_state, 1e-4), x, y,
                   optimizer, "max")  # fmt: skip
    assert log.matching("train_step") == 0, log.names
    assert np.isfinite(float(metrics.loss))
    assert get_learning_rate(opt_state) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="build the optimiser with make_optimizer"):
        set_learning_rate(optax.adam(1e-3).init([jnp.ones(2)]), 0.1)
    # the traced learning rate is the one used: Adam's first steps move weights by ~lr
    fresh = init_optimizer(optimizer, model)
    moved, _, _ = train_step(model, set_learning_rate(fresh, 0.05), x, y, optimizer, "max")
    step_size = np.abs(np.asarray(moved.layers[0].weight - model.layers[0].weight)).max()
    assert step_size == pytest.approx(0.05, rel=1e-3)
    assert float(new.layers[0].tau_mem) == 15.0  # constants are not trained by default


def test_optimizer_state_survives_a_new_surrogate_kind():
    """The optimiser state is built over the flat list of trainable arrays, so a change of
    static metadata (surrogate kind) keeps Adam's moments usable."""
    model, x, y = _tiny_problem()
    optimizer = make_optimizer(1e-3)
    state = init_optimizer(optimizer, model)
    assert [a.shape for a in trainable_arrays(model)] == [(24, 5), (3, 24)]
    model, state, _ = train_step(model, state, x, y, optimizer, "max")
    other = set_surrogate(model, kind="arctan")
    _, state, metrics = train_step(other, state, x, y, optimizer, "max")
    assert np.isfinite(float(metrics.loss))
    assert int(state.inner_state[0].count) == 2  # Adam's step count went on


def test_train_steps_equals_repeated_train_step():
    model, x, y = _tiny_problem()
    optimizer = make_optimizer(5e-3)
    state = init_optimizer(optimizer, model)
    idx = jnp.asarray(np.random.default_rng(0).permutation(64).reshape(4, 16))
    scanned, _, metrics = train_steps(model, state, x, y, idx, optimizer, "mean")
    looped = model
    losses = []
    for i in range(4):
        looped, state, m = train_step(looped, state, x[idx[i]], y[idx[i]], optimizer, "mean")
        losses.append(float(m.loss))
    np.testing.assert_allclose(np.asarray(metrics.loss), losses, rtol=1e-5)
    for a, b in zip(jax.tree.leaves(scanned), jax.tree.leaves(looped), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


def test_readouts_and_evaluate():
    out = jnp.asarray([[[1.0, 0.0], [3.0, -1.0], [2.0, 5.0]]])  # (1, T=3, 2)
    np.testing.assert_allclose(readout_logits(out, "max"), [[3.0, 5.0]])
    np.testing.assert_allclose(readout_logits(out, "mean"), [[2.0, 4.0 / 3.0]])
    np.testing.assert_allclose(readout_logits(out, "last"), [[2.0, 5.0]])
    np.testing.assert_allclose(readout_logits(out, "count"), [[6.0, 4.0]])
    with pytest.raises(ValueError, match="unknown readout 'median'"):
        readout_logits(out, "median")
    model, x, y = _tiny_problem()
    # the losses run a batch time-major; that equals vmap over samples
    by_vmap = eqx.filter_jit(lambda m, x: jax.vmap(m)(x))(model, x)
    time_major = eqx.filter_jit(batch_outputs)(model, x)
    np.testing.assert_allclose(by_vmap.output, time_major.output, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(by_vmap.spikes[0], time_major.spikes[0])
    assert float(time_major.spikes[0].sum()) > 0
    whole = evaluate(model, x, y)
    chunked = evaluate(model, x, y, batch_size=24)
    assert whole.accuracy == chunked.accuracy
    assert whole.loss == pytest.approx(chunked.loss, rel=1e-5)
    assert whole.accuracy == pytest.approx(float(jnp.mean(predict(model, x) == y)))
    loss, acc = batch_loss(model, x, y)
    assert float(loss) == pytest.approx(whole.loss, rel=1e-5)
    assert float(acc) == pytest.approx(whole.accuracy)


def test_fit_is_deterministic_and_reports_progress():
    model, x, y = _tiny_problem(n=96)
    calls = []
    kwargs = dict(epochs=3, batch_size=32, learning_rate=5e-3, lr_decay=0.5, seed=3)
    m1, h1 = fit(model, (x, y), (x, y), progress=lambda f, msg: calls.append((f, msg)), **kwargs)
    m2, h2 = fit(model, (x, y), (x, y), **kwargs)
    assert h1["loss"] == h2["loss"] and h1["test_acc"] == h2["test_acc"]
    for a, b in zip(jax.tree.leaves(m1), jax.tree.leaves(m2), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert [f for f, _ in calls] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert "epoch 3/3" in calls[-1][1] and "test accuracy" in calls[-1][1]
    assert h1["step"] == [3, 6, 9] and h1["lr"] == pytest.approx([5e-3, 2.5e-3, 1.25e-3])
    assert set(h1) == {
        "epoch",
        "step",
        "loss",
        "train_acc",
        "test_loss",
        "test_acc",
        "lr",
        "wall_s",
    }
    with pytest.raises(ValueError, match="batch_size 200 exceeds the 96 training samples"):
        fit(model, (x, y), epochs=1, batch_size=200, learning_rate=1e-3)


# ------------------------------------------------------------------ accuracy targets
def test_yinyang_quick_reaches_80_percent():
    start = time.perf_counter()
    result = train_yinyang(YINYANG_QUICK)
    wall = time.perf_counter() - start
    acc = result.history["test_acc"][-1]
    assert acc >= 0.80, f"quick Yin-Yang test accuracy {acc:.3f} after {wall:.1f} s"
    grid = decision_map(result.model, YINYANG_QUICK, resolution=12)
    assert grid.shape == (12, 12) and set(np.unique(grid)) <= {0, 1, 2}


@pytest.mark.slow
def test_yinyang_full_reaches_90_percent():
    result = train_yinyang(YINYANG_FULL)
    acc = result.history["test_acc"][-1]
    assert acc >= 0.90, (
        f"full Yin-Yang test accuracy {acc:.3f} ({result.history['wall_s'][-1]:.0f} s)"
    )


@pytest.mark.slow
def test_digits_full_reaches_90_percent():
    result = train_digits(DIGITS_FULL)
    acc = result.history["test_acc"][-1]
    assert acc >= 0.90, f"digits test accuracy {acc:.3f} ({result.history['wall_s'][-1]:.0f} s)"
