"""Spiking layers and the sequential network: spike-for-spike agreement with an independent
numpy loop of the discrete equations, the readout's closed-form impulse response, layer-wise
vs step-wise execution, vmap == loop, pytree behaviour and argument checks."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnviz.core.snn import (
    AdLIFLayer,
    LeakyReadout,
    LIFLayer,
    SpikingSequential,
    Surrogate,
    make_network,
    set_surrogate,
    set_time_constants,
    trainable_filter,
)
from tests.helpers import count_compilations


# ------------------------------------------------------------------ independent numpy reference
def numpy_lif(x, w, v=None, *, tau_mem, tau_syn, theta, dt, reset="subtract", adapt=None):
    """Loop over steps (and samples) of the discrete LIF/AdLIF equations, float64.

    ``x`` (T, n_in); returns spikes (T, n), membrane (T, n). ``adapt`` = (tau_w, a, b) for AdLIF.
    """
    n_steps, n = x.shape[0], w.shape[0]
    alpha, beta = np.exp(-dt / tau_mem), np.exp(-dt / tau_syn)
    gamma = np.exp(-dt / adapt[0]) if adapt else 0.0
    i_syn, u, wa, s = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    spikes, membrane = np.zeros((n_steps, n)), np.zeros((n_steps, n))
    for t in range(n_steps):
        i_new = beta * i_syn + w @ x[t] + (v @ s if v is not None else 0.0)
        drive = i_new - wa if adapt else i_new
        if reset == "subtract":
            u_new = alpha * u + (1 - alpha) * drive - theta * s
        else:
            u_new = alpha * u * (1 - s) + (1 - alpha) * drive
        if adapt:
            wa = gamma * wa + (1 - gamma) * (adapt[1] * u + adapt[2] * s)
        s = (u_new >= theta).astype(float)
        i_syn, u = i_new, u_new
        spikes[t], membrane[t] = s, u
    return spikes, membrane


def poisson_input(rng, n_steps, n_in, p=0.15):
    return (rng.random((n_steps, n_in)) < p).astype(np.float64)


CASES = {
    "lif_subtract": dict(cls=LIFLayer, kw={}),
    "lif_zero_reset": dict(cls=LIFLayer, kw={"reset": "zero"}),
    "lif_recurrent": dict(cls=LIFLayer, kw={"recurrent": True}),
    "lif_per_neuron_tau": dict(cls=LIFLayer, kw={}, per_neuron=True),
    "adlif": dict(cls=AdLIFLayer, kw={"a": 0.3, "b": 2.0, "tau_adapt": 40.0}),
    "adlif_recurrent_zero": dict(
        cls=AdLIFLayer, kw={"a": -0.2, "b": 1.0, "recurrent": True, "reset": "zero"}
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_layer_matches_numpy_loop_spike_for_spike(case):
    spec = CASES[case]
    n_in, n, n_steps = 20, 30, 200
    rng = np.random.default_rng(3)
    with jax.enable_x64(True):
        tau_mem = rng.uniform(5, 20, n) if spec.get("per_neuron") else 12.0
        layer = spec["cls"](
            n_in, n, key=jax.random.key(1), tau_mem=tau_mem, tau_syn=4.0, dt=0.5,
            threshold=0.8, weight_scale=6.0, **spec["kw"],
        )  # fmt: skip
        x = poisson_input(rng, n_steps, n_in)
        _, spikes = layer.run(jnp.asarray(x))
        adapt = None
        if isinstance(layer, AdLIFLayer):
            adapt = (float(layer.tau_adapt), float(layer.a), float(layer.b))
        v = None if layer.recurrent_weight is None else np.asarray(layer.recurrent_weight)
        ref_spikes, _ = numpy_lif(
            x, np.asarray(layer.weight), v, tau_mem=np.asarray(layer.tau_mem), tau_syn=4.0,
            theta=0.8, dt=0.5, reset=layer.reset, adapt=adapt,
        )  # fmt: skip
    assert spikes.dtype == jnp.float64
    assert ref_spikes.sum() > 200, "the test needs a network that spikes"
    np.testing.assert_array_equal(np.asarray(spikes), ref_spikes)


def test_float32_layer_matches_reference_spike_for_spike():
    """The float32 layer against the float64 loop: identical rasters (no threshold flips at
    this size)."""
    rng = np.random.default_rng(5)
    layer = LIFLayer(10, 40, key=jax.random.key(2), weight_scale=5.0)
    x = poisson_input(rng, 150, 10)
    _, spikes = layer.run(jnp.asarray(x, jnp.float32))
    ref, _ = numpy_lif(
        x, np.asarray(layer.weight, np.float64), tau_mem=10.0, tau_syn=5.0, theta=1.0, dt=1.0
    )
    assert ref.sum() > 100
    np.testing.assert_array_equal(np.asarray(spikes), ref)


def test_readout_impulse_response_closed_form():
    r"""One input spike of weight w at step 0: :math:`I[t] = w\beta^t`, and
    :math:`U[t] = (1-\alpha) w (\alpha^{t+1} - \beta^{t+1}) / (\alpha - \beta)`."""
    with jax.enable_x64(True):
        readout = LeakyReadout(1, 1, key=jax.random.key(0), tau_mem=8.0, tau_syn=3.0, dt=0.7)
        w = float(readout.weight[0, 0])
        x = jnp.zeros((60, 1)).at[0, 0].set(1.0)
        _, u = readout.run(x)
        a, b = np.exp(-0.7 / 8.0), np.exp(-0.7 / 3.0)
        t = np.arange(60)
        expected = (1 - a) * w * (a ** (t + 1) - b ** (t + 1)) / (a - b)
        np.testing.assert_allclose(np.asarray(u[:, 0]), expected, rtol=1e-12, atol=1e-15)


def test_constant_current_drives_membrane_to_current():
    """The (1 - alpha) scaling: a constant current I gives U -> I (weights in threshold units)."""
    readout = LeakyReadout(1, 1, key=jax.random.key(0), tau_mem=5.0, tau_syn=2.0)
    readout = eqx.tree_at(lambda r: r.weight, readout, jnp.ones((1, 1)))
    beta = np.exp(-1 / 2.0)
    x = jnp.full((300, 1), 1 - beta)  # I -> (1 - beta) / (1 - beta) = 1
    _, u = readout.run(x)
    np.testing.assert_allclose(float(u[-1, 0]), 1.0, rtol=1e-5)


def test_subthreshold_lif_equals_readout():
    """Below threshold a LIF layer's membrane follows the readout's equations exactly."""
    key = jax.random.key(4)
    lif = LIFLayer(3, 4, key=key, weight_scale=0.1, threshold=100.0)
    readout = LeakyReadout(3, 4, key=key)
    readout = eqx.tree_at(lambda r: r.weight, readout, lif.weight)
    x = jnp.asarray(poisson_input(np.random.default_rng(0), 50, 3))
    (state, spikes), (_, u) = lif.run(x), readout.run(x)
    assert float(spikes.sum()) == 0.0
    np.testing.assert_allclose(np.asarray(state.membrane), np.asarray(u[-1]), rtol=1e-6)


# ------------------------------------------------------------------ network execution
def small_network(neuron="lif", recurrent=False, n_hidden=(16, 12)):
    return make_network(
        4, n_hidden, 3, key=jax.random.key(7), neuron=neuron, recurrent=recurrent,
        hidden_weight_scale=5.0,
    )  # fmt: skip


@pytest.mark.parametrize(("neuron", "recurrent"), [("lif", False), ("lif", True), ("adlif", True)])
def test_network_equals_layer_by_layer_runs(neuron, recurrent):
    """The network (all layers stepped together in one scan) equals running each layer over
    the whole sequence in turn, feeding its output to the next (no feedback between layers);
    ``record_spikes=False`` gives the same output and no spikes."""
    model = small_network(neuron, recurrent)
    x = jnp.asarray(poisson_input(np.random.default_rng(1), 80, 4, p=0.3), jnp.float32)
    out = model(x)
    h, spikes = x, []
    for layer in model.layers:
        _, h = layer.run(h)
        if layer.emits_spikes:
            spikes.append(h)
    assert float(out.spikes[0].sum()) > 50 and float(out.spikes[1].sum()) > 20
    np.testing.assert_allclose(np.asarray(out.output), np.asarray(h), atol=1e-5)
    for a, b in zip(out.spikes, spikes, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert [s.shape for s in out.spikes] == [(80, 16), (80, 12)]
    assert out.output.shape == (80, 3)
    _, bare = model.run(x, record_spikes=False)
    assert bare.spikes == ()
    np.testing.assert_array_equal(np.asarray(bare.output), np.asarray(out.output))


def test_run_can_continue_from_a_state():
    """Two chunks carried through the returned state equal one run (streaming)."""
    model = small_network(recurrent=True)
    x = jnp.asarray(poisson_input(np.random.default_rng(2), 60, 4, p=0.3), jnp.float32)
    _, whole = model.run(x)
    state, first = model.run(x[:25])
    _, second = model.run(x[25:], state)
    np.testing.assert_allclose(
        np.asarray(whole.output), np.concatenate([first.output, second.output]), atol=1e-6
    )


def test_vmap_over_batch_equals_loop_over_samples():
    model = small_network(recurrent=True)
    x = jnp.asarray(
        np.stack([poisson_input(np.random.default_rng(i), 50, 4, p=0.3) for i in range(5)]),
        jnp.float32,
    )
    batched = jax.vmap(model)(x)
    for i in range(5):
        single = model(x[i])
        # matmul vs matvec may round differently in the last bit; spikes must be identical
        np.testing.assert_allclose(
            np.asarray(batched.output[i]), np.asarray(single.output), rtol=1e-6, atol=1e-6
        )
        for a, b in zip(batched.spikes, single.spikes, strict=True):
            np.testing.assert_array_equal(np.asarray(a[i]), np.asarray(b))
    # time-major batch axes in the state (init_state(batch_shape)) give the same result
    _, time_major = model.run(jnp.swapaxes(x, 0, 1))
    np.testing.assert_allclose(
        np.asarray(jnp.swapaxes(time_major.output, 0, 1)), np.asarray(batched.output), atol=1e-6
    )


def test_per_neuron_constants_with_batched_state():
    """Per-neuron time constants broadcast explicitly against a (batch, n) state (the suite
    runs with jax_numpy_rank_promotion='raise')."""
    layer = AdLIFLayer(3, 5, key=jax.random.key(0), tau_mem=jnp.linspace(5, 15, 5),
                       threshold=jnp.full(5, 0.9), a=jnp.zeros(5), weight_scale=4.0)  # fmt: skip
    state = layer.init_state((2,))
    assert state.membrane.shape == (2, 5)
    state, spikes = layer(state, jnp.ones((2, 3)))
    assert spikes.shape == (2, 5)


def test_filter_grad_and_jit_apply_to_the_model():
    model = small_network()
    x = jnp.asarray(poisson_input(np.random.default_rng(3), 40, 4, p=0.3), jnp.float32)

    @eqx.filter_jit
    def loss(m, x):
        return jnp.sum(m(x).output ** 2)

    grads = eqx.filter_grad(loss)(model, x)
    assert grads.layers[0].weight.shape == model.layers[0].weight.shape
    assert float(jnp.abs(grads.layers[0].weight).sum()) > 0
    # slope gets an exact zero cotangent
    assert float(grads.layers[0].surrogate.slope) == 0.0


def test_new_constants_do_not_recompile_the_forward():
    model = small_network()
    x = jnp.asarray(poisson_input(np.random.default_rng(3), 40, 4, p=0.3), jnp.float32)

    @eqx.filter_jit
    def forward(m, x):
        return m(x).output

    first = forward(model, x)
    with count_compilations() as log:
        changed = set_time_constants(set_surrogate(model, slope=3.0), tau_mem=20.0, tau_syn=2.0)
        second = forward(changed, x)
    assert log.matching("forward") == 0, log.names
    assert not np.allclose(np.asarray(first), np.asarray(second))
    assert float(changed.layers[1].tau_mem) == 20.0 and float(changed.layers[2].tau_syn) == 2.0
    assert float(changed.layers[0].surrogate.slope) == 3.0
    assert changed.layers[0].tau_mem.dtype == model.layers[0].tau_mem.dtype


def test_set_surrogate_kind_and_hidden_only_time_constants():
    model = set_surrogate(small_network(), kind="triangle")
    assert {layer.surrogate.kind for layer in model.layers[:-1]} == {"triangle"}
    model = set_time_constants(model, tau_mem=3.0, include_readout=False)
    assert float(model.layers[0].tau_mem) == 3.0 and float(model.layers[-1].tau_mem) == 10.0


def test_trainable_filter():
    model = make_network(4, 8, 2, key=jax.random.key(0), recurrent=True)
    spec = trainable_filter(model)
    assert spec.layers[0].weight is True and spec.layers[0].recurrent_weight is True
    assert spec.layers[0].tau_mem is False and spec.layers[0].threshold is False
    assert spec.layers[0].surrogate.slope is False and spec.layers[1].weight is True
    trained = make_network(
        4, 8, 2, key=jax.random.key(0), neuron="adlif", train_time_constants=True
    )
    spec = trainable_filter(trained)
    assert spec.layers[0].tau_mem is True and spec.layers[0].b is True
    assert spec.layers[0].dt is False and spec.layers[1].tau_mem is False


def test_trainable_time_constant_floor():
    """A trainable tau pushed below zero by an optimiser is floored at dt / 10 (decay e^-10)."""
    layer = LIFLayer(2, 3, key=jax.random.key(0), train_time_constants=True)
    layer = eqx.tree_at(lambda m: m.tau_mem, layer, jnp.asarray(-1.0))
    alpha, _ = layer.decays()
    np.testing.assert_allclose(float(alpha), np.exp(-10.0), rtol=1e-6)


def test_argument_checks():
    key = jax.random.key(0)
    with pytest.raises(
        ValueError, match=r"LIFLayer: `tau_mem` must be a finite number > 0, got -1"
    ):
        LIFLayer(2, 3, key=key, tau_mem=-1.0)
    with pytest.raises(
        ValueError, match=r"`reset` must be one of \('subtract', 'zero'\), got 'hard'"
    ):
        LIFLayer(2, 3, key=key, reset="hard")
    with pytest.raises(ValueError, match=r"`tau_syn` must be a scalar or have shape \(3,\)"):
        LIFLayer(2, 3, key=key, tau_syn=jnp.ones(4))
    with pytest.raises(ValueError, match="AdLIFLayer: `tau_adapt` must be a finite number > 0"):
        AdLIFLayer(2, 3, key=key, tau_adapt=0.0)
    with pytest.raises(ValueError, match="layer 0 has 3 outputs but layer 1 expects 4 inputs"):
        SpikingSequential([LIFLayer(2, 3, key=key), LeakyReadout(4, 1, key=key)])
    with pytest.raises(ValueError, match=r"expects one sample of shape \(T, 2\), got \(5, 7, 2\)"):
        SpikingSequential([LIFLayer(2, 3, key=key)])(jnp.zeros((5, 7, 2)))
    with pytest.raises(ValueError, match="`neuron` must be one of"):
        make_network(2, 3, 1, key=key, neuron="izhikevich")
    assert isinstance(LIFLayer(2, 3, key=key).surrogate, Surrogate)
