"""Tests of the parameter models (snnviz/models): bounds, units, build, validation, presets."""

import json
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import param
import pytest

from snnviz.core.inputs import CurrentInjection
from snnviz.core.neurons import LIF, AdEx, AdLIF
from snnviz.core.sim import DrivenPopulation, simulate
from snnviz.models import (
    AdExModel,
    AdLIFModel,
    BrunelModel,
    CurrentProtocol,
    LIFModel,
    ParamModel,
    check_preset,
    list_presets,
    load_preset,
    model_class,
    presets_dir,
)
from tests.helpers import count_compilations

MODELS = [LIFModel, AdLIFModel, AdExModel, CurrentProtocol, BrunelModel]
NEURONS = [(LIFModel, LIF), (AdLIFModel, AdLIF), (AdExModel, AdEx)]
UNITS = {"ms", "mV", "pA", "pF", "nS", "Hz"}
DIMENSIONLESS = {("BrunelModel", "g"), ("BrunelModel", "eta")}


def _numbers(cls):
    return [
        name
        for name in cls.param_names()
        if isinstance(cls.param[name], param.Number)
        and not isinstance(cls.param[name], param.Integer)
    ]


def _bounded(cls):
    return [(cls, n) for n in cls.param_names() if isinstance(cls.param[n], param.Number)]


def _random_values(cls, rng):
    """In-bounds values drawn inside the soft bounds (integers too)."""
    values = {}
    for name in cls.param_names():
        p = cls.param[name]
        if isinstance(p, param.Integer):
            lo, hi = p.softbounds
            values[name] = int(rng.integers(lo, hi + 1))
        elif isinstance(p, param.Number):
            lo, hi = p.softbounds
            values[name] = round(float(rng.uniform(lo, hi)), 3)
        elif isinstance(p, param.Selector):
            values[name] = p.objects[int(rng.integers(len(p.objects)))]
    return values


def _valid_random_model(cls, rng):
    for _ in range(200):
        model = cls(**_random_values(cls, rng))
        try:
            model.validate()
            return model
        except ValueError:
            continue
    raise AssertionError(f"no valid random {cls.__name__} in 200 draws")


# -- parameters: bounds, units, docs --------------------------------------------------------
@pytest.mark.parametrize(
    ("cls", "name"),
    [b for c in MODELS for b in _bounded(c)],
    ids=lambda v: v if isinstance(v, str) else v.__name__,
)
def test_bounds_reject_out_of_range_values(cls, name):
    lo, hi = cls.param[name].bounds
    model = cls()
    default = getattr(model, name)
    if lo is not None:
        below = lo - (1 if isinstance(cls.param[name], param.Integer) else abs(lo) * 0.01 + 0.01)
        with pytest.raises(ValueError, match=f"{cls.__name__}.{name}' must be at least"):
            setattr(model, name, below)
    if hi is not None:
        above = hi + (1 if isinstance(cls.param[name], param.Integer) else abs(hi) * 0.01 + 0.01)
        with pytest.raises(ValueError, match=f"{cls.__name__}.{name}' must be at most"):
            setattr(model, name, above)
    assert getattr(model, name) == default  # a rejected value leaves the model unchanged
    assert lo is not None and hi is not None, "every number needs hard bounds"
    s_lo, s_hi = cls.param[name].softbounds
    assert lo <= s_lo <= default <= s_hi <= hi


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_every_number_has_a_unit_label_and_doc(cls):
    for name in _numbers(cls):
        p = cls.param[name]
        assert p.doc and len(p.doc) > 10, f"{cls.__name__}.{name} needs a doc"
        if (cls.__name__, name) in DIMENSIONLESS:
            assert cls.unit(name) == ""
        else:
            assert cls.unit(name) in UNITS, f"{cls.__name__}.{name} label {p.label!r}"
            assert p.doc.endswith(f"({cls.unit(name)})")


def test_neuron_units_match_the_core_docstrings():
    assert AdExModel.unit("g_leak") == "nS" and AdExModel.unit("b") == "pA"
    assert AdExModel.unit("c_mem") == "pF" and LIFModel.unit("tau_mem") == "ms"
    assert AdExModel.param.v_th.label == "V_T (mV)"


# -- build ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("model_cls", "core_cls"), NEURONS, ids=lambda c: c.__name__)
def test_build_returns_the_core_neuron_with_the_model_values(model_cls, core_cls):
    model = _valid_random_model(model_cls, np.random.default_rng(1))
    neuron = model.build()
    assert type(neuron) is core_cls
    for name, value in model.values().items():
        np.testing.assert_allclose(np.asarray(getattr(neuron, name)), value, rtol=1e-6)
    # the model mirrors the core class field for field (and the defaults agree)
    core_fields = {f for f in core_cls.__dataclass_fields__}
    assert set(model_cls.param_names()) == core_fields
    default_core = core_cls()
    for name, value in model_cls().values().items():
        np.testing.assert_allclose(np.asarray(getattr(default_core, name)), value, rtol=1e-6)


def test_rebuilding_with_new_values_does_not_recompile():
    """A page rebuilds the neuron on every slider move: values must be traced, not static."""
    model, current = AdExModel(), CurrentProtocol(kind="constant", amplitude=600.0)

    def run():
        pop = DrivenPopulation(neuron=model.build(), current=current.build(), dt=0.1, shape=(4,))
        return simulate(pop, 200, key=jax.random.key(0))[1]

    first = run()
    model.param.update(b=10.0, a=1.0, v_th=-52.0)
    current.amplitude = 900.0
    with count_compilations() as log:
        second = run()
    assert log.matching("advance") == 0, log.names
    assert float(second["spikes"].sum()) != float(first["spikes"].sum())  # values took effect


@pytest.mark.parametrize("kind", ["constant", "step", "sine"])
def test_current_protocol_matches_its_closed_form(kind):
    proto = CurrentProtocol(
        kind=kind,
        amplitude=300.0,
        baseline=-20.0,
        t_on=10.0,
        t_off=30.0,
        sine_amplitude=50.0,
        sine_freq_hz=25.0,
    )
    current = proto.build()
    assert isinstance(current, CurrentInjection)
    t = np.array([0.0, 5.0, 10.0, 17.5, 29.9, 30.0, 44.0])
    got = np.array([float(current(jnp.float32(ti))) for ti in t])
    expected = {
        "constant": np.full_like(t, 300.0),
        "step": np.where((t >= 10.0) & (t < 30.0), 280.0, -20.0),
        "sine": 300.0 + 50.0 * np.sin(2 * np.pi * 25.0 * t / 1000.0),
    }[kind]
    np.testing.assert_allclose(got, expected, atol=1e-3)


def test_current_protocol_per_neuron_amplitudes_and_active_params():
    amps = jnp.array([0.0, 100.0, 250.0])
    current = CurrentProtocol(kind="constant").build(amplitude=amps)
    np.testing.assert_allclose(np.asarray(current(jnp.float32(3.0))), amps)
    assert CurrentProtocol(kind="constant").active_params() == ("kind", "amplitude")
    assert "t_on" in CurrentProtocol(kind="step").active_params()
    assert "sine_freq_hz" in CurrentProtocol(kind="sine").active_params()


# -- cross-parameter validation -------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "match"),
    [
        (
            LIFModel(v_reset=-45.0, v_th=-50.0),
            r"LIF: `v_reset` \(-45 mV\) must be below `v_th` \(-50 mV\)",
        ),
        (
            AdLIFModel(v_reset=-50.0, v_th=-50.0),
            r"AdLIF: `v_reset` \(-50 mV\) must be below `v_th`",
        ),
        (
            AdExModel(v_th=-40.0, v_peak=-45.0),
            r"AdEx: `v_th` \(-40 mV\) must be below `v_peak` \(-45 mV\)",
        ),
        (AdExModel(v_reset=5.0, v_peak=0.0), r"AdEx: `v_reset` \(5 mV\) must be below `v_peak`"),
        (
            CurrentProtocol(kind="step", t_on=300.0, t_off=100.0),
            r"`t_on` \(300 ms\) must be before `t_off` \(100 ms\)",
        ),
        (
            BrunelModel(v_reset=25.0, v_th=20.0),
            r"`v_reset` \(25 mV\) must be below the threshold `v_th` \(20 mV\)",
        ),
        (
            BrunelModel(delay_ms=0.05, dt=0.1),
            r"`delay_ms` \(0.05 ms\) must be at least one time step `dt` \(0.1 ms\)",
        ),
    ],
    ids=["lif", "adlif", "adex-vth", "adex-reset", "step", "brunel-reset", "brunel-delay"],
)
def test_bad_combinations_raise_a_clear_value_error_from_build(model, match):
    with pytest.raises(ValueError, match=match):
        model.build()


def test_adex_reset_above_threshold_is_allowed():
    """Bursting AdEx patterns (Naud et al. 2008) reset above V_T: not an error."""
    neuron = AdExModel(v_reset=-47.0, v_th=-50.0).build()
    assert float(neuron.v_reset) == pytest.approx(-47.0)


def test_step_protocol_ignores_timing_when_constant():
    assert CurrentProtocol(kind="constant", t_on=300.0, t_off=100.0).build() is not None


# -- structure keys -------------------------------------------------------------------------
def test_structure_key_changes_only_with_static_choices():
    lif = LIFModel()
    key = lif.structure_key()
    lif.param.update(v_th=-40.0, tau_mem=30.0)
    assert lif.structure_key() == key
    assert AdExModel().structure_key() != key

    net = BrunelModel()
    key = net.structure_key()
    net.param.update(g=3.0, eta=0.9, j_mv=0.2, delay_ms=3.0)
    assert net.structure_key() == key
    net.n_neurons = 1000
    assert net.structure_key() != key
    assert BrunelModel(seed=3).structure_key() != BrunelModel(seed=4).structure_key()


def test_brunel_builds_the_core_network_and_updates_it_without_recompiling():
    from snnviz.core.network import BrunelNetwork
    from snnviz.core.sim import advance

    model = BrunelModel(n_neurons=250, g=4.5, eta=0.9, delay_ms=2.0)
    network = model.build()
    assert isinstance(network, BrunelNetwork)
    assert (network.n_exc, network.n_inh) == (200, 50)
    for name, value in model.traced_values().items():
        assert float(getattr(network, name)) == pytest.approx(value), name
    # the ring covers the slider's longest delay, so no delay value needs a rebuild
    model.delay_ms = BrunelModel.param.delay_ms.bounds[1]
    state = network.init_state(key=jax.random.key(1))
    state, _ = advance(network, state, 20)
    model.param.update(g=6.0, eta=4.0)
    updated = model.update_network(network)
    assert updated.connectivity is network.connectivity and float(updated.g) == 6.0
    with count_compilations() as log:
        advance(updated, state, 20)
    assert log.matching("advance") == 0, log.names


# -- presets --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "cls", [LIFModel, AdLIFModel, AdExModel, BrunelModel], ids=lambda c: c.__name__
)
def test_preset_round_trip_through_json(cls):
    model = _valid_random_model(cls, np.random.default_rng(7))
    current = _valid_random_model(CurrentProtocol, np.random.default_rng(8))
    preset = model.to_preset(
        "trial", source="unit test", current=current, duration_ms=250.0, pattern="tonic"
    )
    loaded = json.loads(json.dumps(preset))
    assert set(loaded) == {"name", "model", "source", "params", "current", "duration_ms", "pattern"}
    again = cls.from_preset(loaded)
    assert type(again) is cls and again.values() == model.values()
    assert type(ParamModel.from_preset(loaded)) is cls  # dispatch on the "model" field
    assert CurrentProtocol.from_preset(loaded).values() == current.values()
    assert check_preset(loaded, "round trip") is loaded


def test_apply_preset_is_all_or_nothing():
    model = AdExModel()
    before = model.values()
    bad = AdExModel(a=1.0).to_preset("bad")
    bad["params"]["b"] = 1e6  # above the bound
    with pytest.raises(ValueError, match=r"AdExModel\.b' must be at most"):
        model.apply_preset(bad)
    assert model.values() == before
    model.apply_preset(AdExModel(a=1.0, b=0.0).to_preset("good"))
    assert (model.a, model.b) == (1.0, 0.0)


def test_preset_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['tau_x'\].*known parameters"):
        LIFModel.from_preset({"name": "x", "model": "lif", "params": {"tau_x": 1.0}})
    with pytest.raises(ValueError, match="is for model 'adex', not 'lif'"):
        LIFModel.from_preset(AdExModel().to_preset("x"))
    with pytest.raises(ValueError, match=r"unknown model 'hh'; known models: \['adex', "):
        ParamModel.from_preset({"name": "x", "model": "hh", "params": {}})
    with pytest.raises(ValueError, match=r"missing key\(s\) \['params'\]"):
        check_preset({"name": "x", "model": "lif"})


def test_model_names_are_matched_loosely_and_integers_coerced():
    assert model_class("AdEx") is model_class("adex") is model_class("AdExModel") is AdExModel
    net = BrunelModel.from_preset(
        {"name": "n", "model": "Brunel2000", "params": {"n_neurons": 1000.0}}
    )
    assert net.n_neurons == 1000 and isinstance(net.n_neurons, int)


def test_list_and_load_presets_from_a_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("SNNVIZ_PRESETS", str(tmp_path))
    assert presets_dir() == tmp_path
    files = {
        "b.json": AdExModel(b=0.0).to_preset("tonic", current=CurrentProtocol()),
        "a.json": AdExModel(a=-0.5).to_preset("bursting"),
        "c.json": LIFModel().to_preset("plain"),
    }
    for name, preset in files.items():
        (tmp_path / name).write_text(json.dumps(preset))
    assert [p["name"] for p in list_presets()] == ["bursting", "tonic", "plain"]
    assert [p["name"] for p in list_presets("AdEx")] == ["bursting", "tonic"]
    assert load_preset("plain")["model"] == "lif"
    with pytest.raises(ValueError, match=r"no preset named 'chaos'; known presets: \['bursting'"):
        load_preset("chaos", model="adex")
    (tmp_path / "z.json").write_text('{"name": "broken", "model": "adex", "params": {"b": -1e9}}')
    with pytest.raises(ValueError, match=r"z.json: .*AdExModel.b' must be at least"):
        list_presets()


def test_default_presets_dir_is_in_the_repository(repo_root, monkeypatch):
    monkeypatch.delenv("SNNVIZ_PRESETS", raising=False)
    assert presets_dir() == repo_root / "assets" / "presets"


@pytest.mark.parametrize(
    "path",
    sorted((presets_dir()).glob("*.json")) if presets_dir().is_dir() else [],
    ids=lambda p: p.name,
)
def test_repository_presets_are_valid(path):
    preset = json.loads(path.read_text())
    check_preset(preset, str(path))
    model = ParamModel.from_preset(preset)
    model.build() if not isinstance(model, BrunelModel) else model.validate()


# -- layering -------------------------------------------------------------------------------
def test_models_never_import_panel():
    code = (
        "import sys\n"
        "import snnviz.models as m\n"
        "m.AdExModel().build(); m.CurrentProtocol().build(); m.list_presets()\n"
        "bad = sorted(k for k in ('panel', 'bokeh', 'holoviews') if k in sys.modules)\n"
        "assert not bad, f'snnviz.models imported {bad}'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
