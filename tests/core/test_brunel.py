"""Brunel (2000) model A on the engine's LIF.

Checks: sizes and exact fan-in; a single input spike gives a delta PSP of J (and -gJ) exactly
D later, the tau_syn -> 0 limit of the engine's current-based LIF; the step equals an
independent numpy simulation; both connectivity layouts agree; parameter changes never
recompile; the external drive is Poisson and independent across neurons and steps; the four
regimes of Fig. 8 at the paper's scale (slow).
"""

from __future__ import annotations

import dataclasses
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, optimize, special, stats

from snnviz.core.analysis import mean_cv, mean_rate, synchrony_chi
from snnviz.core.network import REGIMES, BrunelNetwork
from snnviz.core.network._external import poisson_cdf_table, poisson_counts_fast, split_mean
from snnviz.core.neurons import LIF
from snnviz.core.sim import advance
from snnviz.core.synapses import ei_fan_in
from tests.helpers import count_compilations

DT = 0.1


def test_build_sizes_and_exact_fan_in():
    net = BrunelNetwork.build(250, key=jax.random.key(0), **REGIMES["AI"])
    assert (net.n_exc, net.n_inh, net.c_exc, net.c_inh) == (200, 50, 20, 5)
    assert net.layout == "rows" and net.n_neurons == 250
    assert net.max_delay_steps == 100  # 10 ms at dt = 0.1 ms
    packed = np.asarray(net.connectivity)
    nibbles = np.concatenate([packed & 15, packed >> 4], axis=1)
    adjacency = ((nibbles[:, :, None] >> np.arange(4)) & 1).reshape(250, -1)[:, :250]
    np.testing.assert_array_equal(adjacency[:200].sum(0), 20)  # C_E excitatory inputs each
    np.testing.assert_array_equal(adjacency[200:].sum(0), 5)  # C_I inhibitory inputs each
    assert not adjacency.diagonal().any()  # no autapses
    assert float(net.nu_thr_hz()) == pytest.approx(20 / (0.1 * 20 * 20) * 1000)
    assert float(net.external_count_mean()) == pytest.approx(2.0)  # eta theta dt / (J tau)


def _silent_network_with_one_spiker(presyn: int, **params):
    """No external drive, every V = 0 except ``presyn`` above threshold (it fires at step 0)."""
    net = BrunelNetwork.build(100, key=jax.random.key(1), eta=0.0, **params)
    pre = ei_fan_in(jax.random.key(1), net.n_exc, net.n_inh, net.c_exc, net.c_inh)
    target = int(np.nonzero((pre == presyn).any(axis=1))[0][0])
    net = dataclasses.replace(net, probe_idx=jnp.array([target]), n_probe=1)
    state = net.init_state(key=jax.random.key(2))
    v = jnp.zeros(100).at[presyn].set(float(net.v_th) + 1.0)
    return net, eqx.tree_at(lambda s: s.neuron.v, state, v)


@pytest.mark.parametrize(("presyn", "sign"), [(3, 1.0), (90, -1.0)])  # excitatory, inhibitory
def test_single_spike_gives_a_delta_psp_of_j_after_the_delay(presyn, sign):
    j, g, delay_ms, tau = 0.2, 4.0, 1.5, 20.0
    net, state = _silent_network_with_one_spiker(presyn, j_mv=j, g=g, delay_ms=delay_ms)
    _, rec = advance(net, state, 60)
    assert bool(rec["spikes"][0, presyn])
    v = np.asarray(rec["v_probe"][:, 0], np.float64)
    d = round(delay_ms / DT)
    # spike at the end of step 0 (t = 0.1 ms) -> jump at the start of step d + 1 (t = 1.6 ms)
    np.testing.assert_array_equal(v[: d + 1], 0.0)
    amplitude = j if sign > 0 else -g * j
    k = np.arange(60 - d - 1) + 1
    np.testing.assert_allclose(v[d + 1 :], amplitude * np.exp(-k * DT / tau), rtol=1e-5)
    assert abs(v[d + 1]) == pytest.approx(abs(amplitude), rel=0.05)  # PSP amplitude J +- 5 %


def test_delta_psp_is_the_short_tau_syn_limit_of_the_engine_lif():
    """The engine's current-based LIF with tau_syn -> 0 and charge J C_m gives the same PSP."""
    j, tau_mem, c_mem = 0.2, 20.0, 250.0
    net, state = _silent_network_with_one_spiker(3, j_mv=j, tau_mem=tau_mem, delay_ms=0.5)
    _, rec = advance(net, state, 40)
    network_psp = np.asarray(rec["v_probe"][:, 0])
    for tau_syn in (0.01, 0.002):
        lif = LIF(
            tau_mem=tau_mem,
            tau_syn=tau_syn,
            c_mem=c_mem,
            v_rest=0.0,
            v_reset=-1.0,
            v_th=1e6,
            t_ref=0.0,
        )
        step = lif.discretise(DT)
        lif_state, trace = lif.init_state((1,)), []
        for t in range(40):
            kick = j * c_mem / tau_syn if t == 6 else 0.0  # arrives at the network's step 6
            lif_state, _ = step(lif_state, jnp.full(1, kick), jnp.zeros(1))
            trace.append(float(lif_state.v[0]))
        assert max(trace) == pytest.approx(j, rel=0.05)
        # the same PSP up to O(tau_syn / tau_mem) (the LIF's charge arrives over ~tau_syn)
        np.testing.assert_allclose(network_psp[6:], trace[6:], rtol=2e-3)


def _numpy_reference(net, state, n_steps):
    """Independent float64 simulation of the same network (same drive counts)."""
    n = net.n_neurons
    pre = ei_fan_in(jax.random.key(0), net.n_exc, net.n_inh, net.c_exc, net.c_inh)
    weight = np.where(np.arange(n) < net.n_exc, float(net.j_mv), -float(net.g * net.j_mv))
    w = np.zeros((n, n))
    np.add.at(w, (np.repeat(np.arange(n), pre.shape[1]), pre.ravel()), weight[pre.ravel()])
    parts, part_mean = split_mean(net.external_count_mean())
    cdf = poisson_cdf_table(part_mean)
    drive = jax.jit(poisson_counts_fast, static_argnums=4)
    d = round(float(net.delay_ms) / DT)
    v = np.asarray(state.neuron.v, np.float64)
    ref = np.zeros(n, int)
    in_transit = np.zeros((n_steps + d + 2, n))
    decay = math.exp(-DT / float(net.tau_mem))
    n_ref = round(float(net.t_ref) / DT)
    spikes, volts = [], []
    for t in range(n_steps):
        external = np.asarray(drive(state.seed, jnp.int32(t), cdf, parts, n))
        v = (v + in_transit[t] + float(net.j_mv) * external) * decay
        refractory = ref > 0
        v[refractory] = float(net.v_reset)
        ref[refractory] -= 1
        fired = v >= float(net.v_th)
        v[fired] = float(net.v_reset)
        ref[fired] = n_ref
        in_transit[t + 1 + d] += w @ fired
        spikes.append(fired)
        volts.append(v.copy())
    return np.array(spikes), np.array(volts)


def test_step_matches_an_independent_numpy_simulation():
    net = BrunelNetwork.build(200, key=jax.random.key(0), n_probe=200, g=4.0, eta=2.5, j_mv=0.5)
    assert np.array_equal(np.asarray(net.probe_idx), np.arange(200))
    state = net.init_state(key=jax.random.key(3))
    _, rec = advance(net, state, 300)
    spikes, volts = _numpy_reference(net, state, 300)
    assert spikes.sum() > 500  # an active network, not a trivial comparison
    np.testing.assert_array_equal(np.asarray(rec["spikes"]), spikes)
    np.testing.assert_allclose(np.asarray(rec["v_probe"]), volts, atol=2e-4)


def test_rows_and_lists_layouts_give_identical_runs():
    records = []
    for layout in ("rows", "lists"):
        net = BrunelNetwork.build(300, key=jax.random.key(4), layout=layout, **REGIMES["SI_fast"])
        assert net.layout == layout
        _, rec = advance(net, net.init_state(key=jax.random.key(5)), 400)
        records.append(np.asarray(rec["spikes"]))
    assert records[0].sum() > 1000
    np.testing.assert_array_equal(records[0], records[1])


def test_new_parameter_values_do_not_recompile():
    net = BrunelNetwork.build(400, key=jax.random.key(0), **REGIMES["AI"])
    state = net.init_state(key=jax.random.key(1))
    state, _ = advance(net, state, 50)  # compile the chunk once
    changes = [
        {"g": 6.0, "eta": 4.0},
        {"j_mv": 0.2},
        {"delay_ms": 3.0},
        {"tau_mem": 10.0},
        {"v_th": 18.0, "v_reset": 5.0},
        {"t_ref": 1.0},
        {"dt": 0.05},
        {"eta": 30.0},
    ]
    with count_compilations() as log:
        for change in changes:
            state, rec = advance(net.with_params(**change), state, 50)
        jax.block_until_ready(rec)
    assert log.matching("advance") == 0, log.names


@pytest.mark.parametrize("lam", [0.0, 0.3, 2.0, 4.0, 12.0, 60.0])
def test_external_drive_is_poisson(lam):
    parts, part_mean = split_mean(lam)
    cdf = poisson_cdf_table(part_mean)
    seed = jnp.array([11, 22], jnp.uint32)
    draw = jax.jit(jax.vmap(lambda t: poisson_counts_fast(seed, t, cdf, parts, 1000)))
    counts = np.asarray(draw(jnp.arange(400)))  # 400 steps x 1000 neurons
    if lam == 0:
        assert not counts.any()
        return
    assert counts.mean() == pytest.approx(lam, rel=0.02)
    assert counts.var() == pytest.approx(lam, rel=0.05)
    assert np.mean(counts == 0) == pytest.approx(math.exp(-lam), abs=0.01)
    z = (counts - counts.mean()) / counts.std()
    assert abs(np.mean(z[1:] * z[:-1])) < 0.01  # steps independent
    assert abs(np.mean(z[:, 1:] * z[:, :-1])) < 0.01  # neighbouring neurons independent
    assert counts.sum(1).var() / (1000 * lam) == pytest.approx(1.0, rel=0.2)  # no common part


def test_external_drive_matches_the_poisson_distribution():
    cdf = poisson_cdf_table(2.0)
    counts = np.asarray(
        jax.vmap(lambda t: poisson_counts_fast(jnp.array([5, 9], jnp.uint32), t, cdf, 1, 2000))(
            jnp.arange(200)
        )
    ).ravel()
    observed = np.bincount(np.minimum(counts.astype(int), 8), minlength=9)  # 8 = "8 or more"
    pmf = stats.poisson.pmf(np.arange(8), 2.0)
    expected = counts.size * np.append(pmf, 1.0 - pmf.sum())
    chi2 = np.sum((observed - expected) ** 2 / expected)
    assert chi2 < stats.chi2.ppf(0.999, df=8)


def test_parameters_are_validated():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="v_reset"):
        BrunelNetwork.build(50, key=key, v_reset=25.0)
    with pytest.raises(ValueError, match="`g` must be >= 0"):
        BrunelNetwork.build(50, key=key, g=-1.0)
    with pytest.raises(ValueError, match="max_delay_steps=100"):
        BrunelNetwork.build(50, key=key, delay_ms=12.0)
    with pytest.raises(ValueError, match="unknown parameter"):
        BrunelNetwork.build(50, key=key, gamma=0.3)
    with pytest.raises(ValueError, match="layout"):
        BrunelNetwork.build(50, key=key, layout="csr")
    with pytest.raises(ValueError, match="at least one excitatory and one inhibitory"):
        BrunelNetwork.build(20, key=key)
    net = BrunelNetwork.build(50, key=key)
    with pytest.raises(ValueError, match="tau_mem"):
        net.with_params(tau_mem=0.0)


# --- the four regimes of Fig. 8 at the paper's scale ------------------------------------------


def _siegert_rate_hz(net: BrunelNetwork) -> float:
    """Self-consistent stationary rate of Brunel's (2000) mean-field theory (Amit-Brunel):
    1/nu = tau_rp + tau sqrt(pi) int_{(V_r - mu)/sigma}^{(theta - mu)/sigma} e^{u^2}(1 + erf u) du
    with mu = C_E J tau (nu_ext + nu (1 - gamma g)), sigma^2 = J^2 C_E tau (nu_ext + nu (1 + gamma g^2)).
    """
    j, g, tau = float(net.j_mv), float(net.g), float(net.tau_mem)
    theta, v_r, t_ref, c_e = float(net.v_th), float(net.v_reset), float(net.t_ref), net.c_exc
    gamma = net.c_inh / net.c_exc
    nu_ext = float(net.external_rate_hz()) / 1000.0  # per ms

    def transfer(nu):
        mu = c_e * j * tau * (nu_ext + nu * (1 - gamma * g))
        sigma = math.sqrt(j * j * c_e * tau * (nu_ext + nu * (1 + gamma * g * g)))
        integral, _ = integrate.quad(
            lambda u: special.erfcx(-u), (v_r - mu) / sigma, (theta - mu) / sigma, limit=200
        )
        return 1.0 / (t_ref + tau * math.sqrt(math.pi) * integral)

    return 1000.0 * optimize.brentq(lambda nu: transfer(nu) - nu, 1e-9, 1.0 / t_ref)


@pytest.fixture(scope="module")
def regimes_at_paper_scale():
    """N_E = 10,000, N_I = 2,500 (C_E = 1,000, C_I = 250): 200 ms transient, then 1 s (SR,
    which fires at ~300 Hz and costs the most, 300 ms)."""
    results = {}
    for name, params in REGIMES.items():
        net = BrunelNetwork.build(12_500, key=jax.random.key(0), **params)
        state, _ = advance(net, net.init_state(key=jax.random.key(1)), 2000)
        _, rec = advance(net, state, 3000 if name == "SR" else 10_000)
        raster = np.asarray(rec["spikes"])
        results[name] = {
            "rate": mean_rate(raster, DT),
            "cv": mean_cv(raster, DT, min_spikes=5),
            "chi": synchrony_chi(raster, DT, bin_ms=1.0),
            "mean_field": _siegert_rate_hz(net),
        }
        print(name, {k: round(v, 3) for k, v in results[name].items()})
    return results


@pytest.mark.slow
def test_regimes_of_fig8_at_paper_scale(regimes_at_paper_scale):
    r = regimes_at_paper_scale
    # SR: neurons fire regularly and in synchrony, near the mean-field (refractory-limited) rate
    assert r["SR"]["cv"] < 0.2 and r["SR"]["chi"] > 0.4
    # AI: the rate of Brunel's mean-field theory, low synchrony, far more irregular than SR
    assert r["AI"]["rate"] == pytest.approx(r["AI"]["mean_field"], rel=0.3)
    assert r["AI"]["chi"] < 0.2 and r["AI"]["cv"] > 0.3
    # SI fast: irregular neurons on a global oscillation (more synchrony than AI)
    assert r["SI_fast"]["cv"] > 0.7 and r["SI_fast"]["chi"] > 1.5 * r["AI"]["chi"]
    # SI slow: low rates, irregular
    assert r["SI_slow"]["rate"] < 10.0 and r["SI_slow"]["cv"] > 0.3
