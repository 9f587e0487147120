"""DelGrad gradients in float64: autodiff through the closed form vs central finite
differences, and vs the implicit-function formula ``∂t/∂p = -(∂V/∂p)/(∂V/∂t)`` applied layer by
layer (an independent chain rule), for weights and axonal / dendritic / synaptic delays."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnviz.core.delgrad import (
    TTFSNetwork,
    TTFSNeuron,
    arrival_times,
    causal_set,
    first_spike_time,
    spike_time_sensitivities,
)

DELAY_TYPES = ("axonal", "dendritic", "synaptic")
EPS = 1e-4  # float64: rounding ~1e-11 / EPS, truncation ~EPS^2; smaller EPS loses tiny derivatives
REL_TOL = 1e-4


def _network(delay_type, seed):
    net = TTFSNetwork.init(
        [4, 6, 3],
        key=jax.random.key(seed),
        delay_type=delay_type,
        bias_time=1.0,
        d_init_max=4.0,
        neuron=TTFSNeuron(5.0, 1.0),
    )
    return jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), net)


def _forward(net, x):
    """Per layer: (arrivals, weights, spike times)."""
    layers, pre = [], x
    for layer, (w, d) in enumerate(zip(net.weights, net.delays, strict=True)):
        arr = arrival_times(net._layer_input(layer, pre), d, net.delay_type, w.shape[0])
        t = jax.vmap(first_spike_time, in_axes=(0, 0, None))(arr, w, net.neuron)
        layers.append((arr, w, t))
        pre = t
    return layers


def _structure(net, x):
    """Which neurons fire and which inputs are causal, in every layer."""
    out = []
    for arr, _, t in _forward(net, x):
        out += [jnp.isfinite(t), jax.vmap(causal_set)(t, arr)]
    return out


def _objective(net, x, coeff):
    t = net(x)
    return jnp.sum(jnp.where(jnp.isfinite(t), coeff * t, 0.0))


@eqx.filter_jit
def _value_and_structure(net, x, coeff):
    return _objective(net, x, coeff), _structure(net, x)


@eqx.filter_jit
def _grad(net, x, coeff):
    return jax.grad(lambda p: _objective(net.with_parameters(p), x, coeff))(net.parameters)


def _reduce(g_arrivals, delay_type):
    """Gradient w.r.t. the delays from the gradient w.r.t. the arrival matrix (n_post, n_pre)."""
    return {"axonal": g_arrivals.sum(0), "dendritic": g_arrivals.sum(1), "synaptic": g_arrivals}[
        delay_type
    ]


def _implicit_gradients(net, x, coeff):
    """Backpropagate ``sum_k coeff_k t_k`` with the implicit-function sensitivities only."""
    layers = _forward(net, x)
    g_t = jnp.where(jnp.isfinite(layers[-1][2]), coeff, 0.0)
    g_w, g_d = [], []
    for layer in reversed(range(len(layers))):
        arr, w, t = layers[layer]
        dt_dw, dt_da = jax.vmap(spike_time_sensitivities, in_axes=(0, 0, 0, None))(
            t, arr, w, net.neuron
        )
        g_w.insert(0, g_t[:, None] * dt_dw)
        g_arr = g_t[:, None] * dt_da
        g_d.insert(0, _reduce(g_arr, net.delay_type))
        n_prev = net.sizes[layer]
        g_t = g_arr.sum(0)[:n_prev]  # drop the bias input
    return tuple(g_w), tuple(g_d)


def _cases(delay_type):
    with jax.enable_x64(True):
        for seed in range(3):
            net = _network(delay_type, seed)
            key = jax.random.key(100 + seed)
            x = jax.random.uniform(key, (4,), jnp.float64, 0.0, 10.0)
            coeff = jax.random.normal(jax.random.fold_in(key, 1), (3,), jnp.float64)
            yield net, x, coeff


@pytest.mark.parametrize("delay_type", DELAY_TYPES)
def test_autodiff_equals_implicit_function_formula(delay_type):
    with jax.enable_x64(True):
        n_checked = 0
        for net, x, coeff in _cases(delay_type):
            assert np.all(np.isfinite(np.asarray(_forward(net, x)[0][2])[:3]))
            grads = _grad(net, x, coeff)
            g_w, g_d = _implicit_gradients(net, x, coeff)
            for auto, implicit in zip(
                jax.tree.leaves(grads), jax.tree.leaves((g_w, g_d)), strict=True
            ):
                np.testing.assert_allclose(auto, implicit, rtol=1e-9, atol=1e-12)
                n_checked += int(np.count_nonzero(np.asarray(implicit)))
        assert n_checked > 50


def test_dendritic_delay_gradient_is_one_for_a_spiking_neuron(getkey):
    with jax.enable_x64(True):
        a = jax.random.uniform(getkey(), (6,), jnp.float64, 0.0, 10.0)
        w = jax.random.uniform(getkey(), (6,), jnp.float64, 0.5, 2.0)
        neuron = TTFSNeuron(5.0, 1.0)
        g = jax.grad(lambda d: first_spike_time(a + d, w, neuron))(jnp.float64(0.3))
        assert float(g) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("delay_type", DELAY_TYPES)
def test_gradients_match_central_finite_differences(delay_type):
    with jax.enable_x64(True):
        n_checked = n_skipped = 0
        worst = 0.0
        for net, x, coeff in _cases(delay_type):
            leaves, treedef = jax.tree.flatten(net.parameters)

            def evaluate(leaves, net=net, x=x, coeff=coeff, treedef=treedef):
                model = net.with_parameters(jax.tree.unflatten(treedef, leaves))
                return _value_and_structure(model, x, coeff)

            grads = jax.tree.leaves(_grad(net, x, coeff))
            _, base = evaluate(leaves)
            for i, leaf in enumerate(leaves):
                for idx in np.ndindex(leaf.shape):
                    values = []
                    for sign in (1.0, -1.0):
                        moved = list(leaves)
                        moved[i] = leaf.at[idx].add(sign * EPS)
                        value, structure = evaluate(moved)
                        same = all(
                            np.array_equal(a, b) for a, b in zip(structure, base, strict=True)
                        )
                        values.append((float(value), same))
                    if not (values[0][1] and values[1][1]):
                        n_skipped += 1  # the perturbation changes a causal set
                        continue
                    fd = (values[0][0] - values[1][0]) / (2 * EPS)
                    g = float(grads[i][idx])
                    scale = max(abs(fd), abs(g))
                    if scale < 1e-9:  # exactly zero: input not causal / neuron silent
                        continue
                    worst = max(worst, abs(g - fd) / scale)
                    n_checked += 1
        fraction_skipped = n_skipped / (n_checked + n_skipped)
        print(
            f"{delay_type}: {n_checked} non-zero derivatives checked, worst relative error "
            f"{worst:.2e}, {fraction_skipped:.1%} of perturbations skipped (causal set changed)"
        )
        assert n_checked >= 60
        assert fraction_skipped < 0.2
        assert worst < REL_TOL


def test_structure_check_detects_a_causal_set_change():
    """The finite-difference test skips perturbations that move an input across the spike;
    check that such a move is detected: input 1 arrives EPS/2 after the output spike."""
    with jax.enable_x64(True):
        neuron = TTFSNeuron(5.0, 1.0)
        w = jnp.array([[6.0, 1.0]], jnp.float64)
        t_spike = float(first_spike_time(jnp.array([0.0, jnp.inf]), w[0], neuron))
        net = TTFSNetwork((w,), (jnp.zeros((1, 2), jnp.float64),), neuron, None, "synaptic")
        x = jnp.array([0.0, t_spike + EPS / 2], jnp.float64)
        base = _structure(net, x)
        for sign, changes in ((1.0, False), (-1.0, True)):
            d = jnp.array([[0.0, sign * EPS]], jnp.float64)
            moved = _structure(net.with_parameters(((w,), (d,))), x)
            same = all(np.array_equal(a, b) for a, b in zip(moved, base, strict=True))
            assert same != changes
