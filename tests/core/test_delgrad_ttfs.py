"""DelGrad forward pass: the closed-form first-spike time against an independent integration
of the neuron's ODE, the free-potential peak, symmetries, batching and the delay layouts."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnviz.core.delgrad import (
    TTFSNetwork,
    TTFSNeuron,
    arrival_times,
    delay_shape,
    first_spike_and_peak,
    first_spike_time,
    membrane_potential,
)
from snnviz.core.delgrad.tasks import interval_task, yinyang_task

TAU_S = 5.0
NEURON = TTFSNeuron(tau_syn=TAU_S, threshold=1.0)


def integrate_ode(arrivals, weights, *, tau_s, theta, t_end, dt):
    """Heun integration of ``tau_m V' = -V + I``, ``tau_s I' = -I`` (``tau_m = 2 tau_s``) with
    ``I += w`` at the first grid point at or after each arrival; vectorised over cases.

    Returns the first upward threshold crossing (linear interpolation, ``inf`` if none), the
    maximum of ``V`` on the grid and its time."""
    m = arrivals.shape[0]
    n_steps = int(np.ceil(t_end / dt))
    jumps = np.zeros((n_steps + 1, m))
    finite = np.isfinite(arrivals)
    steps = np.where(finite, np.ceil(np.where(finite, arrivals, 0.0) / dt), n_steps + 1)
    rows, cols = np.nonzero(steps <= n_steps)
    np.add.at(jumps, (steps[rows, cols].astype(int), rows), weights[rows, cols])
    tau_m, decay = 2 * tau_s, np.exp(-dt / tau_s)
    v, i_syn = np.zeros(m), np.zeros(m)
    crossing = np.full(m, np.inf)
    v_max, t_max = np.zeros(m), np.full(m, np.inf)
    for k in range(n_steps):
        i_syn = i_syn + jumps[k]
        i_next = i_syn * decay
        k1 = (-v + i_syn) / tau_m
        k2 = (-(v + dt * k1) + i_next) / tau_m
        v_new = v + 0.5 * dt * (k1 + k2)
        up = (v < theta) & (v_new >= theta) & ~np.isfinite(crossing)
        crossing[up] = (k + (theta - v[up]) / (v_new[up] - v[up])) * dt
        better = v_new > v_max
        v_max[better], t_max[better] = v_new[better], (k + 1) * dt
        v, i_syn = v_new, i_next
    return crossing, v_max, t_max


@pytest.fixture(scope="module")
def random_cases():
    rng = np.random.default_rng(42)
    m, n = 64, 6
    arrivals = rng.uniform(0.0, 4 * TAU_S, size=(m, n))
    arrivals[rng.uniform(size=(m, n)) < 0.1] = np.inf  # some presynaptic neurons are silent
    weights = rng.uniform(-2.0, 4.0, size=(m, n))
    t_end = 8 * TAU_S
    crossing, v_max, t_vmax = integrate_ode(
        arrivals, weights, tau_s=TAU_S, theta=1.0, t_end=t_end, dt=1e-4 * TAU_S
    )
    return arrivals, weights, crossing, v_max, t_vmax, t_end


def test_closed_form_matches_fine_step_integration(random_cases):
    arrivals, weights, crossing, v_max, _, t_end = random_cases
    t = np.asarray(
        jax.vmap(first_spike_time, in_axes=(0, 0, None))(
            jnp.asarray(arrivals), jnp.asarray(weights), NEURON
        )
    )
    clear = np.abs(v_max - 1.0) > 1e-3  # a grazing crossing can go either way numerically
    late = np.isfinite(t) & (t > t_end)  # beyond the integrated window
    check = clear & ~late
    assert check.sum() >= 50
    spiked = np.isfinite(crossing)
    assert 10 <= spiked[check].sum() <= check.sum() - 10  # both outcomes are exercised
    np.testing.assert_array_equal(np.isfinite(t[check]), spiked[check])
    both = check & spiked
    assert np.max(np.abs(t[both] - crossing[both])) < 1e-3 * TAU_S


def test_peak_potential_matches_integration(random_cases):
    arrivals, weights, _, v_max, _, t_end = random_cases
    out = jax.vmap(first_spike_and_peak, in_axes=(0, 0, None))(
        jnp.asarray(arrivals), jnp.asarray(weights), NEURON
    )
    v_peak, t_peak = np.asarray(out.v_peak), np.asarray(out.t_peak)
    inside = t_peak < t_end - 1.0  # the peak lies inside the integrated window
    assert inside.sum() >= 50
    np.testing.assert_allclose(v_peak[inside], v_max[inside], rtol=1e-4, atol=1e-5)
    # the closed-form peak time gives the same potential (the peak is flat, so compare V)
    v_at_peak = jax.vmap(membrane_potential, in_axes=(0, 0, 0, None))(
        jnp.asarray(np.where(inside, t_peak, 0.0)),
        jnp.asarray(arrivals),
        jnp.asarray(weights),
        NEURON,
    )
    np.testing.assert_allclose(np.asarray(v_at_peak)[inside], v_peak[inside], rtol=1e-5)
    # spiking <=> peak above threshold
    spiked = np.isfinite(np.asarray(out.t_spike))
    clear = np.abs(v_peak - 1.0) > 1e-5
    np.testing.assert_array_equal(spiked[clear], v_peak[clear] >= 1.0)


def test_potential_is_at_threshold_at_the_spike_and_below_before(random_cases):
    arrivals, weights = random_cases[0], random_cases[1]
    for a, w in zip(arrivals[:20], weights[:20], strict=True):
        t = float(first_spike_time(jnp.asarray(a), jnp.asarray(w), NEURON))
        if not np.isfinite(t):
            continue
        assert float(membrane_potential(t, jnp.asarray(a), jnp.asarray(w), NEURON)) == (
            pytest.approx(1.0, abs=1e-4)
        )
        before = membrane_potential(
            jnp.linspace(0.0, t, 400)[:-1], jnp.asarray(a), jnp.asarray(w), NEURON
        )
        assert float(jnp.max(before)) < 1.0 + 1e-5


def test_single_input_spike_time_closed_form():
    # one input of weight w at 0: V = w (x - x^2), x = e^{-t/tau_m}; crossing at the larger root
    for w in (4.5, 6.0, 20.0):
        x = (1 + np.sqrt(1 - 4 / w)) / 2
        expected = -2 * TAU_S * np.log(x)
        got = float(first_spike_time(jnp.array([0.0]), jnp.array([w]), NEURON))
        assert got == pytest.approx(expected, rel=1e-5)
    # the peak of a lone PSP is w/4 at tau_m ln 2: below 4 the neuron stays silent
    out = first_spike_and_peak(jnp.array([0.0]), jnp.array([3.9]), NEURON)
    assert np.isinf(float(out.t_spike))
    assert float(out.v_peak) == pytest.approx(3.9 / 4, rel=1e-5)
    assert float(out.t_peak) == pytest.approx(2 * TAU_S * np.log(2), rel=1e-5)


def test_no_spike_cases_return_inf():
    assert np.isinf(float(first_spike_time(jnp.array([1.0, 2.0]), jnp.array([-1.0, 2.0]), NEURON)))
    never = jnp.array([jnp.inf, jnp.inf])
    out = first_spike_and_peak(never, jnp.array([10.0, 10.0]), NEURON)
    assert np.isinf(float(out.t_spike)) and float(out.v_peak) == 0.0
    # an input that never arrives does not change the spike of the others
    a, w = jnp.array([0.0, 3.0]), jnp.array([3.0, 3.0])
    t_two = first_spike_time(a, w, NEURON)
    t_three = first_spike_time(jnp.array([0.0, 3.0, jnp.inf]), jnp.array([3.0, 3.0, 50.0]), NEURON)
    assert float(t_three) == pytest.approx(float(t_two), rel=1e-6)


def test_time_shift_equivariance_and_input_order(getkey):
    a = jax.random.uniform(getkey(), (8,), minval=0.0, maxval=15.0)
    w = jax.random.uniform(getkey(), (8,), minval=0.0, maxval=2.5)
    t = first_spike_time(a, w, NEURON)
    assert np.isfinite(float(t))
    assert float(first_spike_time(a + 7.0, w, NEURON)) == pytest.approx(float(t) + 7.0, abs=1e-4)
    perm = jax.random.permutation(getkey(), 8)
    assert float(first_spike_time(a[perm], w[perm], NEURON)) == pytest.approx(float(t), abs=1e-5)


def test_jit_and_vmap_agree_with_a_loop(getkey):
    a = jax.random.uniform(getkey(), (16, 5), minval=0.0, maxval=15.0)
    w = jax.random.uniform(getkey(), (16, 5), minval=-1.0, maxval=3.0)
    batched = jax.jit(jax.vmap(first_spike_time, in_axes=(0, 0, None)))(a, w, NEURON)
    looped = np.array([float(first_spike_time(a[i], w[i], NEURON)) for i in range(16)])
    np.testing.assert_array_equal(np.isfinite(batched), np.isfinite(looped))
    ok = np.isfinite(looped)
    np.testing.assert_allclose(np.asarray(batched)[ok], looped[ok], rtol=1e-6)


def test_parameter_and_shape_errors():
    with pytest.raises(ValueError, match="tau_syn"):
        TTFSNeuron(tau_syn=-1.0)
    with pytest.raises(ValueError, match="1-D"):
        first_spike_time(jnp.zeros((2, 3)), jnp.zeros((2, 3)), NEURON)
    with pytest.raises(ValueError, match="delay_type"):
        delay_shape("somatic", 3, 2)


@pytest.mark.parametrize(
    ("delay_type", "shape"),
    [(None, None), ("axonal", (4,)), ("dendritic", (3,)), ("synaptic", (3, 4))],
)
def test_arrival_times_per_delay_type(delay_type, shape):
    assert delay_shape(delay_type, 4, 3) == shape
    pre = jnp.array([0.0, 1.0, 2.0, 3.0])
    d = None if shape is None else jnp.arange(np.prod(shape), dtype=jnp.float32).reshape(shape)
    arr = np.asarray(arrival_times(pre, d, delay_type, 3))
    expected = np.broadcast_to(np.asarray(pre), (3, 4)).copy()
    if delay_type == "axonal":
        expected += np.asarray(d)[None, :]
    elif delay_type == "dendritic":
        expected += np.asarray(d)[:, None]
    elif delay_type == "synaptic":
        expected += np.asarray(d)
    np.testing.assert_array_equal(arr, expected)


def test_dendritic_delay_shifts_the_output_spike(getkey):
    net = TTFSNetwork.init([5, 4], key=getkey(), delay_type="dendritic")
    x = jax.random.uniform(getkey(), (5,), minval=0.0, maxval=10.0)
    t0 = net.with_parameters((net.weights, (jnp.zeros(4),)))(x)
    shift = jnp.array([0.0, 1.0, 2.5, 4.0])
    t1 = net.with_parameters((net.weights, (shift,)))(x)
    ok = np.isfinite(np.asarray(t0))
    assert ok.sum() >= 2
    np.testing.assert_allclose(np.asarray(t1 - t0)[ok], np.asarray(shift)[ok], atol=1e-4)


def test_network_shapes_silent_hidden_and_parameter_counts(getkey):
    net = TTFSNetwork.init([5, 7, 3], key=getkey(), delay_type="synaptic", bias_time=2.0)
    x = jax.random.uniform(getkey(), (11, 5), minval=0.0, maxval=10.0)
    hidden, out = jax.vmap(net.layer_times)(x)
    assert hidden.shape == (11, 7) and out.shape == (11, 3)
    assert net.parameter_counts() == {
        "weights": 7 * 5 + 3 * 8,
        "delays": 7 * 5 + 3 * 8,
        "total": 118,
    }
    # a network whose hidden layer is silent: outputs see only the bias spike
    w = (jnp.full((7, 5), -1.0), jnp.full((3, 8), 5.0))
    silent = net.with_parameters((w, net.delays))
    hidden, out = jax.vmap(silent.layer_times)(x)
    assert np.all(np.isinf(np.asarray(hidden)))
    assert np.all(np.isfinite(np.asarray(out)))


def test_tasks_are_deterministic_and_well_formed():
    a_train, _ = interval_task(300, 90, seed=3)
    b_train, _ = interval_task(300, 90, seed=3)
    np.testing.assert_array_equal(np.asarray(a_train.times), np.asarray(b_train.times))
    assert a_train.n_inputs == 6 and a_train.n_classes == 3
    assert np.bincount(np.asarray(a_train.labels)).tolist() == [100, 100, 100]
    times = np.asarray(a_train.times)
    assert np.all(np.isfinite(times)) and np.allclose(times.min(axis=1), 0.0)
    lags = times[:, 1::2] - times[:, 0::2]
    y = np.asarray(a_train.labels)
    target = lags[np.arange(300), y]
    jitter = 0.5 * np.sqrt(2)  # s.d. of a difference of two jittered spikes
    assert np.all(np.abs(target - 15.0) < 5 * jitter)
    others = np.ones_like(lags, bool)
    others[np.arange(300), y] = False
    assert np.all(np.abs(lags[others] - 15.0) > 5.0 - 5 * jitter)
    with pytest.raises(ValueError, match="margin_ms"):
        interval_task(10, 10, lag_ms=5.0, margin_ms=6.0)
    yy_train, yy_test = yinyang_task(30, 12)
    assert yy_train.times.shape == (30, 5) and yy_test.times.shape == (12, 5)
