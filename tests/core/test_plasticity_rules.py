"""Plasticity rules: STDP window against its closed form, Hebbian decay fixed point, the
three-factor rule's gating and terms, trace dynamics."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snnviz.core.plasticity import (
    STDP,
    Hebbian,
    Post,
    Pre,
    ThreeFactor,
    stdp_window,
    trace_decay,
    update_trace,
)
from snnviz.core.snn.surrogate import surrogate_derivative


def _pair_dw(rule: STDP, t_pre: int, t_post: int, n_steps: int = 80) -> float:
    """Weight change of one synapse for one pre and one post spike, simulated step by step
    (dt = 1 ms): the rule reads the traces decayed to this step, then the spikes jump them."""
    d_pre, d_post = rule.trace_decays(1.0)
    x = y = jnp.zeros(1)
    w = jnp.zeros((1, 1))
    for t in range(n_steps):
        s_pre = jnp.array([float(t == t_pre)])
        s_post = jnp.array([float(t == t_post)])
        x, y = update_trace(x, 0.0, decay=d_pre), update_trace(y, 0.0, decay=d_post)
        w = w + rule(Pre(s_pre, x), Post(s_post, y, jnp.zeros(1)), jnp.zeros(1), w)
        x, y = x + s_pre, y + s_post
    return float(w[0, 0])


def test_stdp_window_matches_the_closed_form():
    rule = STDP(a_plus=0.01, a_minus=0.012, tau_plus_ms=15.0, tau_minus_ms=25.0)
    lags = list(range(-30, 31, 3))
    simulated = np.array([_pair_dw(rule, 40, 40 + lag) for lag in lags])
    closed = np.asarray(stdp_window(np.array(lags, float), a_plus=0.01, a_minus=0.012,
                                    tau_plus_ms=15.0, tau_minus_ms=25.0))  # fmt: skip
    np.testing.assert_allclose(simulated, closed, rtol=1e-5, atol=1e-9)


def test_stdp_window_shape_ltp_ltd_and_time_constants():
    lags = np.arange(1, 40, dtype=float)
    ltp = np.asarray(stdp_window(lags, tau_plus_ms=20.0, tau_minus_ms=30.0))
    ltd = np.asarray(stdp_window(-lags, tau_plus_ms=20.0, tau_minus_ms=30.0))
    assert np.all(ltp > 0) and np.all(ltd < 0)  # pre before post potentiates, after depresses
    np.testing.assert_allclose(ltp[1:] / ltp[:-1], math.exp(-1 / 20.0), rtol=1e-5)
    np.testing.assert_allclose(ltd[1:] / ltd[:-1], math.exp(-1 / 30.0), rtol=1e-5)
    assert float(stdp_window(0.0)) == 0.0
    # a single spike's trace is a * exp(-t / tau)
    x, values = jnp.zeros(()), []
    for t in range(10):
        x = update_trace(x, float(t == 0), decay=trace_decay(8.0, 1.0), impulse=2.0)
        values.append(float(x))
    np.testing.assert_allclose(values, 2.0 * np.exp(-np.arange(10) / 8.0), rtol=1e-6)


def test_hebbian_decay_converges_geometrically_to_its_fixed_point():
    rule = Hebbian(eta=0.02, decay=0.05)
    x, y = jnp.array([0.5, 1.0, 0.0]), jnp.array([1.0, 0.2])
    w0 = jnp.array([[0.3, -0.1, 0.2], [0.0, 0.4, -0.3]])
    fixed = rule.fixed_point(x, y)
    np.testing.assert_allclose(fixed, 0.4 * np.outer(y, x), rtol=1e-6)
    w = w0
    for n in range(1, 61):
        w = w + rule(Pre(jnp.zeros(3), x), Post(jnp.zeros(2), y, jnp.zeros(2)), jnp.zeros(2), w)
        if n in (1, 10, 60):  # W_n = W* + (1 - lambda)^n (W_0 - W*)
            np.testing.assert_allclose(w, fixed + 0.95**n * (w0 - fixed), rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match=r"`decay` must be in \[0, 1\)"):
        Hebbian(decay=1.5)


def _signals(membrane, error):
    pre = Pre(jnp.array([1.0, 0.0, 1.0]), jnp.array([0.8, 0.3, 1.5]))
    post = Post(jnp.zeros(2), jnp.array([0.4, 0.1]), jnp.asarray(membrane))
    return pre, post, jnp.asarray(error)


def test_three_factor_updates_only_where_the_error_exceeds_the_threshold():
    rule = ThreeFactor(eta=0.1, error_threshold=0.2, surrogate_slope=2.0, pre_offset=0.5,
                       weight_decay=0.3)  # fmt: skip
    pre, post, error = _signals([-0.5, -1.0], [0.15, -0.6])
    w = jnp.full((2, 3), 0.2)
    dw = np.asarray(rule(pre, post, error, w))
    assert np.all(dw[0] == 0.0)  # |E| = 0.15 <= 0.2: no update at all (no decay either)
    sigma = float(surrogate_derivative("fast_sigmoid", -1.0, 2.0))  # = 1 / 9
    expected = 0.1 * (-0.6 * sigma * (np.array([0.8, 0.3, 1.5]) - 0.5) - 0.3 * 0.6 * 0.2)
    np.testing.assert_allclose(dw[1], expected, rtol=1e-6)
    # the error threshold has a (surrogate) gradient, so meta-learning can tune it
    grad = jax.grad(lambda th: ThreeFactor(0.1, th)(pre, post, error, w).sum())(0.2)
    assert np.isfinite(grad) and grad != 0.0


@settings(max_examples=30, deadline=None)
@given(
    eta=st.floats(1e-4, 1.0),
    error=st.floats(-1.0, 1.0).filter(lambda e: abs(abs(e) - 0.05) > 1e-3),
    membrane=st.floats(-3.0, 3.0),
)
def test_three_factor_is_linear_in_eta_and_follows_the_error_sign(eta, error, membrane):
    pre, post, e = _signals([membrane, membrane], [error, error])
    w = jnp.zeros((2, 3))
    dw = np.asarray(ThreeFactor(eta=eta)(pre, post, e, w))
    dw1 = np.asarray(ThreeFactor(eta=1.0)(pre, post, e, w))
    np.testing.assert_allclose(dw, eta * dw1, rtol=1e-5, atol=1e-12)
    if abs(error) > 0.05:  # plain SOEL: sign of the error times a positive eligibility
        assert np.all(np.sign(dw[:, [0, 2]]) == np.sign(error))
    else:
        assert np.all(dw == 0)


def test_rules_reject_bad_hyperparameters():
    with pytest.raises(ValueError, match="surrogate_slope` must be finite and > 0"):
        ThreeFactor(surrogate_slope=0.0)
    with pytest.raises(ValueError, match="tau_plus_ms` must be finite and > 0"):
        STDP(tau_plus_ms=-1.0)
    with pytest.raises(ValueError, match="eta` must be finite"):
        Hebbian(eta=float("nan"))
