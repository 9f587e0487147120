"""AdEx: the Strang-split scheme against an independent diffrax reference, phase-plane helpers
and parameter checks.

The reference helpers (``reference_spike_times``, ``reference_trace``) are generic over the
vector field and are reused by test_adlif.py.
"""

from __future__ import annotations

import math

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx
import pytest

from snnviz.core.inputs import CurrentInjection
from snnviz.core.neurons import AdEx
from snnviz.core.sim import DrivenPopulation, simulate

ADEX_FIELDS = (
    "c_mem",
    "g_leak",
    "v_rest",
    "v_th",
    "delta_t",
    "v_peak",
    "v_reset",
    "tau_w",
    "a",
    "b",
    "tau_syn",
    "t_ref",
)


# --- independent reference: adaptive Tsit5 in float64, event-located crossings --------------


def adex_field(t, y, args):
    """AdEx right-hand side for ``y = (V, I_syn, w)``; ``args["clamp"] = 1`` freezes ``V``."""
    v, i_syn, w = y
    spike_current = args["g_leak"] * args["delta_t"] * jnp.exp((v - args["v_th"]) / args["delta_t"])
    dv = -args["g_leak"] * (v - args["v_rest"]) + spike_current + i_syn + args["i_ext"] - w
    return jnp.stack(
        [
            dv / args["c_mem"] * (1 - args["clamp"]),
            -i_syn / args["tau_syn"],
            (args["a"] * (v - args["v_rest"]) - w) / args["tau_w"],
        ]
    )


@eqx.filter_jit
def _solve(field, t0, t1, y0, args, ts=None):
    """Integrate from ``t0`` to ``t1``; stop early where ``V`` reaches ``v_peak`` if
    ``args["detect"]`` is 1. One compiled function serves every segment of a spike train."""

    def crossing(t, y, args, **kwargs):
        return jnp.where(args["detect"] > 0, y[0] - args["v_peak"], -1.0)

    # bisection: V is far too steep at the AdEx upstroke for Newton on the interpolant
    event = diffrax.Event(crossing, root_finder=optx.Bisection(rtol=1e-12, atol=1e-3))
    saveat = diffrax.SaveAt(t1=True) if ts is None else diffrax.SaveAt(ts=ts)
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(field),
        diffrax.Tsit5(),
        t0,
        t1,
        1e-3,
        y0,
        args,
        saveat=saveat,
        stepsize_controller=diffrax.PIDController(rtol=1e-10, atol=1e-10),
        event=event,
        max_steps=1_000_000,
    )
    return sol.ts, sol.ys, sol.event_mask


def reference_spike_times(
    field,
    params: dict,
    y0,
    t_end: float,
    *,
    grid_dt: float | None = None,
    hold_v_after_crossing: bool = True,
) -> np.ndarray:
    """Spike times (ms) of ``field`` with threshold ``v_peak``, reset, ``+b`` and ``t_ref``.

    ``grid_dt=None``: reset at the exact crossing time (the continuous model). Otherwise the
    reset is moved to the end of the step of ``grid_dt`` in which the crossing happened, which
    is the discrete model's spike rule; between the crossing and the grid point ``V`` is held
    (AdEx, whose ``V`` diverges) or keeps integrating (linear models).
    """
    f64 = jnp.float64
    with jax.enable_x64(True):
        args = {k: f64(v) for k, v in params.items()} | {"clamp": f64(0.0), "detect": f64(1.0)}
        free = args | {"detect": f64(0.0)}
        held = free | {"clamp": f64(1.0)}
        after = held if hold_v_after_crossing else free
        y, t, spikes = jnp.asarray(y0, f64), 0.0, []
        while t < t_end:
            ts, ys, hit = _solve(field, f64(t), f64(t_end), y, args)
            if not bool(hit):
                break
            t, y = float(ts[-1]), ys[-1]
            if grid_dt is not None:
                t_grid = math.ceil(t / grid_dt - 1e-9) * grid_dt
                if t_grid > t:
                    y = _solve(field, f64(t), f64(t_grid), y, after)[1][-1]
                t = t_grid
            spikes.append(t)
            y = y.at[0].set(params["v_reset"]).at[2].add(params["b"])
            if params["t_ref"] > 0:
                y = _solve(field, f64(t), f64(t + params["t_ref"]), y, held)[1][-1]
                t = t + params["t_ref"]
        return np.asarray(spikes)


def reference_trace(field, params: dict, y0, ts: np.ndarray) -> np.ndarray:
    """``y(ts)`` (rows: times) of the sub-threshold dynamics (no reset), float64."""
    with jax.enable_x64(True):
        f64 = jnp.float64
        args = {k: f64(v) for k, v in params.items()} | {"clamp": f64(0.0), "detect": f64(0.0)}
        ts = jnp.asarray(ts, f64)
        _, ys, _ = _solve(field, f64(0.0), ts[-1], jnp.asarray(y0, f64), args, ts=ts)
        return np.asarray(ys)


def simulated(neuron, i_ext, dt: float, t_end: float):
    """``(spike_times_ms per neuron, records)`` of a population under constant currents.

    ``neuron`` may hold per-neuron parameter arrays and ``i_ext`` be one current per neuron.
    A spike recorded in step ``k`` (0-based) happened by the end of that step, ``(k+1) dt``.
    """
    n = int(np.size(i_ext))
    system = DrivenPopulation(neuron, CurrentInjection(offset=i_ext), dt=dt, shape=(n,))
    _, rec = simulate(system, round(t_end / dt), key=jax.random.key(0))
    spikes = np.asarray(rec["spikes"])
    return [(np.flatnonzero(spikes[:, i]) + 1) * dt for i in range(n)], rec


def stack(neurons):
    """One population whose neuron ``i`` has the parameters of ``neurons[i]``."""
    return jax.tree.map(lambda *xs: jnp.stack(xs), *neurons)


def params_of(neuron, **extra) -> dict:
    return {f: float(getattr(neuron, f)) for f in ADEX_FIELDS} | extra


# --- spike times ------------------------------------------------------------------------------

CASES = {  # name: (neuron, constant current pA, duration ms)
    # Brette & Gerstner (2005) defaults: tonic spiking with adaptation
    "brette_gerstner": (AdEx(), 1000.0, 300.0),
    # Naud et al. (2008) regular bursting: reset above V_T, spikes come in fast bursts
    "bursting": (
        AdEx(
            c_mem=200.0,
            g_leak=10.0,
            v_rest=-58.0,
            v_th=-50.0,
            delta_t=2.0,
            v_reset=-46.0,
            tau_w=120.0,
            a=2.0,
            b=100.0,
        ),
        210.0,
        600.0,
    ),
    # a refractory period that V must be held through
    "refractory": (AdEx(t_ref=2.0, b=20.0, tau_w=60.0), 1200.0, 150.0),
}


T_SIM = 600.0  # every case is simulated this long in one population (one compile per dt)


@pytest.fixture(scope="module")
def reference_cache():
    return {}


def simulate_cases(cases: dict, t_sim: float) -> dict:
    """Spike times of ``cases`` (name -> (neuron, current, t_end)), simulated as one population
    per dt, keyed by (name, dt)."""
    names = sorted(cases)
    out = {}
    for dt in (0.1, 0.01):
        trains, _ = simulated(
            stack([cases[c][0] for c in names]), jnp.array([cases[c][1] for c in names]), dt, t_sim
        )
        for name, train in zip(names, trains, strict=True):
            out[name, dt] = train[train <= cases[name][2]]
    return out


@pytest.fixture(scope="module")
def simulated_cases():
    """Spike times of all CASES, simulated as one population per dt."""
    return simulate_cases(CASES, T_SIM)


def _reference(cache, case, grid_dt):
    if (case, grid_dt) not in cache:
        neuron, i_ext, t_end = CASES[case]
        p = params_of(neuron, i_ext=i_ext)
        cache[case, grid_dt] = reference_spike_times(
            adex_field, p, [p["v_rest"], 0.0, 0.0], t_end, grid_dt=grid_dt
        )
    return cache[case, grid_dt]


@pytest.mark.parametrize("dt", [0.1, 0.01])
@pytest.mark.parametrize("case", sorted(CASES))
def test_spike_times_match_grid_synchronised_reference(reference_cache, simulated_cases, case, dt):
    """With resets on the step grid (the discrete model's spike rule), every spike of the
    scheme lands within one step of the reference: only the integration error remains."""
    ref = _reference(reference_cache, case, dt)
    sim = simulated_cases[case, dt]
    assert len(ref) >= 8
    assert len(sim) == len(ref)
    assert np.max(np.abs(sim - ref)) <= dt + 1e-6


@pytest.mark.parametrize("dt", [0.1, 0.01])
@pytest.mark.parametrize("case", sorted(CASES))
def test_isis_match_continuous_reference(reference_cache, simulated_cases, case, dt):
    """Against the continuous model (reset at the exact crossing time) the first spike comes
    within one step, and so does every ISI, up to 25 %: a reset delayed to the grid by q < dt
    also lets w integrate a (V_peak - E_L) q / tau_w more, lengthening the next ISI slightly."""
    ref = _reference(reference_cache, case, None)
    sim = simulated_cases[case, dt]
    n = min(len(ref), len(sim), 12)
    assert n >= 8
    assert 0.0 <= sim[0] - ref[0] <= dt + 1e-6
    np.testing.assert_allclose(np.diff(sim[:n]), np.diff(ref[:n]), atol=1.25 * dt, rtol=0)


def test_population_equals_single_neurons(simulated_cases):
    """Per-neuron parameter arrays broadcast: each neuron of the stacked population fires
    exactly like the same neuron simulated alone."""
    for case, (neuron, i_ext, t_end) in CASES.items():
        (single,), _ = simulated(neuron, jnp.array([i_ext]), 0.1, T_SIM)
        np.testing.assert_allclose(single[single <= t_end], simulated_cases[case, 0.1], atol=1e-6)


@pytest.mark.parametrize("dt", [0.1, 0.01])
def test_subthreshold_trace_matches_reference(dt):
    """Sub-threshold (500 pA: V rises to -54 mV, where the exponential current matters) with an
    initial synaptic current: V and w agree with the reference at every step. The measured
    error (~1e-4 mV at dt = 0.1 ms) is at float32 round-off; the bound leaves room for
    round-off accumulating over 20 000 steps at dt = 0.01 ms."""
    neuron = AdEx()
    i_ext = 500.0
    p = params_of(neuron, i_ext=i_ext)
    ts = 0.1 * np.arange(1, 2001)  # compared every 0.1 ms for both dt: one reference compile
    ref = reference_trace(adex_field, p, [p["v_rest"], 150.0, 0.0], ts)
    stride = round(0.1 / dt)
    v, w, n_spikes = _scan_trace(neuron, jnp.float32(dt), jnp.float32(i_ext), 2000 * stride)
    assert int(n_spikes) == 0
    assert np.max(np.abs(np.asarray(v)[stride - 1 :: stride] - ref[:, 0])) < 1e-2
    assert np.max(np.abs(np.asarray(w)[stride - 1 :: stride] - ref[:, 2])) < 1e-2


@eqx.filter_jit
def _scan_trace(neuron, dt, i_ext, n_steps: int):
    step = neuron.discretise(dt)
    state = eqx.tree_at(lambda s: s.i_syn, neuron.init_state(()), jnp.float32(150.0))

    def body(s, _):
        s, spikes = step(s, jnp.float32(0.0), i_ext)
        return s, (s.v, s.w, spikes)

    _, (v, w, spikes) = jax.lax.scan(body, state, length=n_steps)
    return v, w, spikes.sum()


# --- phase plane -----------------------------------------------------------------------------


def test_nullclines_zero_the_vector_field():
    neuron = AdEx()
    v = jnp.linspace(-80.0, -42.0, 50)
    i_ext = 500.0
    assert np.max(np.abs(neuron.dvdt(v, neuron.v_nullcline(v, i_ext), i_ext))) < 1e-4
    assert np.max(np.abs(neuron.dwdt(v, neuron.w_nullcline(v)))) < 1e-6


def test_vector_field_matches_reference_rhs_and_one_short_step():
    neuron = AdEx()
    p = params_of(neuron, i_ext=400.0, clamp=0.0, detect=0.0)
    v, w, i_syn = -55.0, 30.0, 20.0
    ref = np.asarray(adex_field(0.0, jnp.array([v, i_syn, w]), p))
    np.testing.assert_allclose(float(neuron.dvdt(v, w, 400.0, i_syn)), ref[0], rtol=1e-5)
    np.testing.assert_allclose(float(neuron.dwdt(v, w)), ref[2], rtol=1e-5)
    dt = 1e-3  # one step of the scheme is a finite difference of the vector field
    state = neuron.init_state(())
    state = eqx.tree_at(
        lambda s: (s.v, s.w, s.i_syn), state, (jnp.float32(v), jnp.float32(w), jnp.float32(i_syn))
    )
    new, _ = neuron.discretise(dt)(state, jnp.float32(0.0), jnp.float32(400.0))
    np.testing.assert_allclose(float(new.v - v) / dt, ref[0], rtol=2e-2)
    np.testing.assert_allclose(float(new.w - w) / dt, ref[2], rtol=2e-2)


def test_no_overflow_for_steep_spikes():
    """A tiny slope factor makes the exponential enormous: states stay finite, spikes happen."""
    (train,), rec = simulated(AdEx(delta_t=0.05, v_peak=30.0), jnp.array([1500.0]), 0.1, T_SIM)
    assert np.all(np.isfinite(np.asarray(rec["v"]))) and np.all(np.isfinite(np.asarray(rec["w"])))
    assert len(train) > 3


# --- parameter checks ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"delta_t": 0.0}, r"AdEx: `delta_t` must be a finite number > 0 mV, got 0\.0"),
        ({"c_mem": -5.0}, r"AdEx: `c_mem` must be a finite number > 0 pF, got -5\.0"),
        ({"g_leak": 0.0}, r"`g_leak` .* got 0\.0"),
        ({"tau_w": -1.0}, r"`tau_w` .* got -1\.0"),
        ({"tau_syn": 0.0}, r"`tau_syn` .* got 0\.0"),
        ({"v_reset": 5.0}, r"`v_reset` \(5\.0\) must be below `v_peak` \(0\.0\)"),
        ({"v_th": 10.0}, r"`v_th` \(10\.0\) must be below `v_peak` \(0\.0\)"),
        ({"t_ref": -1.0}, r"`t_ref` must be >= 0 ms, got -1\.0"),
        ({"a": float("nan")}, r"`a` must be finite nS, got \[?nan"),
        ({"b": float("inf")}, r"`b` must be finite pA, got \[?inf"),
    ],
)
def test_bad_parameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AdEx(**kwargs)


def test_bad_dt_raises():
    with pytest.raises(ValueError, match=r"AdEx: `dt` must be a finite number > 0 ms, got -0\.1"):
        AdEx().discretise(-0.1)


def test_checks_are_silent_under_tracing():
    """Inside jit the values are tracers: no check may run (or fail) there."""

    @jax.jit
    def build(delta_t):
        return AdEx(delta_t=delta_t).exp_current(jnp.float32(-50.4))

    assert float(build(2.0)) == pytest.approx(60.0)
