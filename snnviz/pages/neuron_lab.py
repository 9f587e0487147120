"""Neuron lab: LIF / AdLIF / AdEx under current injection, and the AdEx firing patterns.

Every control change re-simulates the neuron (one compiled chunk, reused for every value and
duration) and redraws the membrane trace, the (V, w) phase plane and the f-I curve.
``reproduce()`` classifies the firing pattern of every shipped AdEx preset (Naud et al. 2008)
and checks the LIF against its closed-form first-spike time and ISI.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import panel as pn
import param

from snnviz.components import ErrorBanner, ExportPanel
from snnviz.core.analysis.fi_curve import fi_curve as fi_curve_rates
from snnviz.core.analysis.firing_patterns import classify_pattern
from snnviz.core.sim import DrivenPopulation, simulate_chunked
from snnviz.models import CurrentProtocol, NeuronModel, list_presets, model_class
from snnviz.views import membrane_traces
from snnviz.views.neuron_lab import NeuronPlots
from snnviz.views.phase_plane import phase_plane_columns

from ._base import DemoPage, Progress
from ._layout import ReproduceSection, page_layout
from ._result import Claim, ClaimResult

MODELS = ("AdEx", "AdLIF", "LIF")
CUSTOM = "custom"
_KEY = jax.random.PRNGKey(0)
_FI_POINTS = 24
_FI_DURATION_MS = 500.0

EXPLANATION = """
Pick a model and a preset, then move any slider: the neuron is re-simulated at once (no
recompilation: every parameter is a traced array); the membrane trace is redrawn first, the
phase plane and the f-I curve right after. Spikes are drawn up to the cut-off. The
phase plane shows the V- and w-nullclines for the stimulus current (their crossing is the
resting state; when it vanishes the neuron fires) and the trajectory. The f-I curve uses a
constant current and the same parameters.
"""


def simulate_neuron(
    neuron: Any, current: Any, *, dt_ms: float, duration_ms: float, n: int = 1
) -> dict[str, np.ndarray]:
    """Simulate ``n`` neurons for ``duration_ms``; returns ``t`` (ms) and the records (T, n)."""
    system = DrivenPopulation(neuron, current, dt=dt_ms, shape=(n,))
    n_steps = max(1, round(duration_ms / dt_ms))
    _, rec = simulate_chunked(system, n_steps, key=_KEY)
    if not np.all(np.isfinite(rec["v"])):
        raise FloatingPointError(
            "the membrane potential became NaN/infinite: lower the time step `dt` or the "
            "current, or check v_peak / delta_t"
        )
    rec["t"] = dt_ms * np.arange(1, n_steps + 1)
    return rec


def spike_display_value(neuron: Any) -> float:
    """Where a spike is drawn: the AdEx cut-off ``v_peak``, else 20 mV above threshold."""
    return float(neuron.v_peak) if hasattr(neuron, "v_peak") else float(neuron.v_th) + 20.0


class NeuronLab(DemoPage):
    slug: ClassVar[str] = "neuron_lab"
    title: ClassVar[str] = "Neuron lab"
    summary: ClassVar[str] = (
        "LIF, adaptive LIF and AdEx neurons under current injection: membrane trace, phase "
        "plane with nullclines, f-I curve, and the AdEx firing patterns."
    )
    reference: ClassVar[str] = (
        "Brette & Gerstner (2005) J Neurophysiol 94:3637, doi:10.1152/jn.00686.2005; "
        "Naud, Marcille, Clopath & Gerstner (2008) Biol Cybern 99:335, "
        "doi:10.1007/s00422-008-0264-7"
    )
    claims: ClassVar[tuple[Claim, ...]] = (
        Claim(
            "patterns_matched",
            "AdEx reproduces tonic, adapting, initial-burst, bursting, delayed, transient and "
            "irregular firing with a few parameter changes (Naud et al. 2008, Fig. 4)",
            "every shipped AdEx preset is classified as its own pattern (fraction = 1)",
        ),
        Claim(
            "lif_max_error_steps",
            "LIF first spike at t* = -τ_m ln(1 - (θ - E_L)/(R I)), ISI = t_ref + t*",
            "simulated first-spike times and ISIs within 1 time step of the closed form",
        ),
    )
    url_params: ClassVar[tuple[str, ...]] = (
        "model",
        "preset",
        "dt_ms",
        "duration_ms",
        "current.kind",
        "current.amplitude",
    )

    model = param.Selector(objects=list(MODELS), default="AdEx", doc="Neuron model.")
    preset = param.Selector(objects=[CUSTOM], default=CUSTOM, doc="Parameter preset.")
    dt_ms = param.Number(
        0.05,
        bounds=(0.005, 1.0),
        softbounds=(0.01, 0.5),
        step=0.005,
        label="dt (ms)",
        doc="Integration time step (ms).",
    )
    duration_ms = param.Number(
        600.0,
        bounds=(20.0, 5000.0),
        softbounds=(100.0, 2000.0),
        step=10.0,
        label="Duration (ms)",
        doc="Simulated time (ms).",
    )
    fi_max_pa = param.Number(
        1000.0,
        bounds=(10.0, 20000.0),
        softbounds=(100.0, 3000.0),
        step=50.0,
        label="f-I max current (pA)",
        doc="Largest constant current of the f-I curve (pA).",
    )
    neuron = param.ClassSelector(class_=NeuronModel, doc="The neuron's parameters.")
    current = param.ClassSelector(class_=CurrentProtocol, doc="The injected current.")

    def __init__(self, **params: Any) -> None:
        params.setdefault(
            "current", CurrentProtocol(kind="step", amplitude=500.0, t_on=50.0, t_off=550.0)
        )
        super().__init__(**params)
        self.banner = ErrorBanner()
        self.pattern = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.plots = NeuronPlots()
        self.trace_pane = pn.pane.Bokeh(self.plots.trace, sizing_mode="stretch_width")
        self.phase_pane = pn.pane.Bokeh(self.plots.phase, sizing_mode="stretch_width")
        self.fi_pane = pn.pane.Bokeh(self.plots.fi, sizing_mode="stretch_width")
        self.last_record: dict[str, np.ndarray] = {}
        self._generation = 0  # bumps on every re-simulation; stale deferred redraws skip
        self._fi_key: tuple | None = None  # inputs of the f-I curve on show
        self._applying_preset = False
        self._neuron_controls = pn.Column()
        self._current_watcher = self.current.param.watch(self._refresh, list(self.current.values()))
        self._neuron_watcher = None
        self._on_model()
        self.param.watch(self._on_model, "model")
        self.param.watch(self._on_preset, "preset")
        self.param.watch(self._refresh, ["dt_ms", "duration_ms", "fi_max_pa"])
        self.param.watch(self._on_current_replaced, "current")

    @classmethod
    def warm_up(cls) -> list[Callable[[], None]]:
        """Compile the default model's runs now; the other models' are later warm-up stages
        (see :mod:`snnviz.warmup`), so the server starts as soon as the first page can render."""
        page = cls()
        return [functools.partial(setattr, page, "model", name) for name in MODELS[1:]]

    # -- reactions ---------------------------------------------------------------------------
    def _on_model(self, *_: Any) -> None:
        names = [p["name"] for p in list_presets(self.model)]
        self.param.preset.objects = [*names, CUSTOM]
        with param.parameterized.discard_events(self):
            self.preset = names[0] if names else CUSTOM
        self._set_neuron(model_class(self.model)())
        self._on_preset()

    def _on_current_replaced(self, event: Any) -> None:
        event.old.param.unwatch(self._current_watcher)
        self._current_watcher = self.current.param.watch(self._refresh, list(self.current.values()))
        self._refresh()

    def _set_neuron(self, neuron: NeuronModel) -> None:
        if self.neuron is not None and self._neuron_watcher is not None:
            self.neuron.param.unwatch(self._neuron_watcher)
        self.neuron = neuron
        self._neuron_watcher = neuron.param.watch(self._refresh, list(neuron.values()))
        self._neuron_controls[:] = [
            pn.Param(neuron, show_name=False, sizing_mode="stretch_width"),
            ExportPanel(
                data=self.export_data,
                params=neuron,
                figure=lambda: self.plots.trace,
                filename=f"neuron_lab_{neuron.model_name.lower()}",
            ),
        ]

    def _on_preset(self, *_: Any) -> None:
        if self.preset != CUSTOM:
            preset = next(p for p in list_presets(self.model) if p["name"] == self.preset)
            self._applying_preset = True  # one simulation for the whole preset, not one per value
            try:
                self.neuron.apply_preset(preset)
                if preset.get("current"):
                    self.current.apply_preset(preset)
                if preset.get("duration_ms"):
                    self.duration_ms = float(preset["duration_ms"])
            finally:
                self._applying_preset = False
        self._refresh()

    def _refresh(self, *_: Any) -> None:
        if self._applying_preset:
            return
        try:
            self._compute_and_draw()
            self.banner.clear()
        except (ValueError, FloatingPointError) as err:
            self.banner.show(str(err))

    # -- compute and draw --------------------------------------------------------------------
    def _compute_and_draw(self) -> None:
        """Re-simulate and redraw: the membrane trace and the pattern now, the phase plane and
        the f-I curve on the next ticks of the session's event loop (served), so the trace's
        update reaches the browser without waiting for them; in a notebook or a test all at
        once. A newer change makes the pending redraws of an older one skip."""
        self._generation += 1
        generation = self._generation
        neuron = self.neuron.build()
        current = self.current.build()
        rec = simulate_neuron(neuron, current, dt_ms=self.dt_ms, duration_ms=self.duration_ms)
        self.last_record = rec
        spikes = rec["spikes"][:, 0] > 0
        v_shown = np.where(spikes, spike_display_value(neuron), rec["v"][:, 0])
        self.plots.show_trace(
            rec["t"], v_shown, float(neuron.v_th), f"{self.model}: membrane potential"
        )
        on, off = self.current.stimulus_window(self.duration_ms)
        label = classify_pattern(rec["t"][spikes], on, off)
        rate = spikes.sum() / (self.duration_ms / 1000.0)
        self.pattern.object = (
            f"**{spikes.sum()} spikes** ({rate:.1f} Hz mean) · firing pattern: **{label}**"
        )
        i_stim = float(np.max(rec["i_ext"]))
        self._defer(
            generation,
            lambda: self._draw_phase_plane(neuron, rec, i_stim),
            lambda: self._draw_fi(neuron),
        )

    def _defer(self, generation: int, *steps: Callable[[], None]) -> None:
        """Run ``steps`` one per event-loop tick of this session (now when not served), unless a
        newer re-simulation has started by then. Errors go to the banner."""
        doc = pn.state.curdoc
        served = doc is not None and doc.session_context is not None

        def run(i: int) -> None:
            if generation != self._generation:
                return
            try:
                steps[i]()
            except (ValueError, FloatingPointError) as err:
                self.banner.show(str(err))
                return
            if i + 1 < len(steps):
                if served:
                    doc.add_next_tick_callback(lambda: run(i + 1))
                else:
                    run(i + 1)

        if not steps:
            return
        if served:
            doc.add_next_tick_callback(lambda: run(0))
        else:
            run(0)

    def _draw_phase_plane(self, neuron: Any, rec: dict, i_stim: float) -> None:
        if "w" not in rec:
            self.plots.show_phase_plane(None, "LIF has no adaptation variable: no (V, w) plane")
            return
        v, w = rec["v"][:, 0], rec["w"][:, 0]
        v_lo = min(float(neuron.v_reset), float(v.min())) - 5.0
        v_hi = float(getattr(neuron, "v_peak", neuron.v_th + 10.0))
        w_lo, w_hi = min(0.0, float(w.min())) - 20.0, float(w.max()) + 50.0

        def as_np(f):
            return lambda *args: np.asarray(f(*(jnp.asarray(a, jnp.float32) for a in args)))

        cols = phase_plane_columns(
            v_range_mv=(v_lo, v_hi),
            w_range_pa=(w_lo, w_hi),
            v_nullcline=as_np(lambda vv: neuron.v_nullcline(vv, i_stim)),
            w_nullcline=as_np(neuron.w_nullcline),
            vector_field=as_np(lambda vv, ww: (neuron.dvdt(vv, ww, i_stim), neuron.dwdt(vv, ww))),
            trajectory=(v, w),
        )
        self.plots.show_phase_plane(cols, f"Phase plane at I = {i_stim:.0f} pA")

    def _draw_fi(self, neuron: Any) -> None:
        """The f-I curve; skipped when neither the neuron, ``dt`` nor the range changed (the
        injected current does not enter it)."""
        key = (self.model, tuple(sorted(self.neuron.values().items())), self.dt_ms, self.fi_max_pa)
        if key == self._fi_key:
            return
        currents = np.linspace(0.0, self.fi_max_pa, _FI_POINTS)
        rates = fi_curve_rates(
            neuron, currents, dt=self.dt_ms, duration_ms=_FI_DURATION_MS, key=_KEY
        )
        self.plots.show_fi(currents, np.asarray(rates))
        self._fi_key = key

    def export_data(self) -> dict[str, np.ndarray]:
        """The last simulated run (for CSV/NPZ export)."""
        return {k: np.asarray(v).reshape(len(v), -1)[:, 0] for k, v in self.last_record.items()}

    # -- layout ------------------------------------------------------------------------------
    def __panel__(self) -> pn.viewable.Viewable:
        settings = pn.Param(
            self,
            parameters=["model", "preset", "dt_ms", "duration_ms", "fi_max_pa"],
            show_name=False,
            sizing_mode="stretch_width",
        )
        current = pn.Param(self.current, show_name=False, sizing_mode="stretch_width")
        sidebar = [
            settings,
            "#### Injected current",
            current,
            "#### Neuron parameters",
            self._neuron_controls,
        ]
        main = [
            self.banner,
            self.pattern,
            self.trace_pane,
            pn.Row(self.phase_pane, self.fi_pane, sizing_mode="stretch_width"),
            ReproduceSection(self, self.banner),
        ]
        return page_layout(self, EXPLANATION, sidebar, main)

    # -- reproduce ---------------------------------------------------------------------------
    def _measure(self, quick: bool, progress: Progress) -> tuple[dict, dict]:
        presets = list_presets("AdEx")
        dt = 0.05 if quick else 0.01
        matched, figures, table = 0, {}, []
        for i, preset in enumerate(presets):
            progress(i / (len(presets) + 1), f"AdEx preset {preset['name']}")
            neuron = model_class("AdEx").from_preset(preset).build()
            current = CurrentProtocol.from_preset(preset)
            rec = simulate_neuron(
                neuron, current.build(), dt_ms=dt, duration_ms=float(preset["duration_ms"])
            )
            spikes = rec["spikes"][:, 0] > 0
            on, off = current.stimulus_window(float(preset["duration_ms"]))
            label = classify_pattern(rec["t"][spikes], on, off)
            matched += label == preset["pattern"]
            table.append((preset["name"], preset["pattern"], label))
            v = np.where(spikes, spike_display_value(neuron), rec["v"][:, 0])
            figures[preset["name"]] = membrane_traces(
                rec["t"], v, labels=["V"], title=f"{preset['name']}: classified '{label}'"
            )
        progress(len(presets) / (len(presets) + 1), "LIF closed form")
        metrics = {
            "patterns_matched": matched / max(1, len(presets)),
            "pattern_table": table,
            "lif_max_error_steps": lif_closed_form_error_steps(dt_ms=0.1),
        }
        return metrics, figures

    def _judge(self, claim: Claim, metrics: dict) -> ClaimResult:
        value = metrics[claim.key]
        if claim.key == "patterns_matched":
            wrong = [
                f"{n}: {got}≠{want}" for n, want, got in metrics["pattern_table"] if want != got
            ]
            return ClaimResult(claim, value, value == 1.0, "; ".join(wrong))
        return ClaimResult(claim, value, value <= 1.0)


def lif_closed_form_error_steps(dt_ms: float) -> float:
    """Largest |simulated - closed form| of the LIF first-spike time and ISI, in time steps."""
    lif = model_class("LIF")()
    currents = np.linspace(600.0, 3000.0, 12)
    rec = simulate_neuron(
        lif.build(),
        CurrentProtocol(kind="constant").build(amplitude=jnp.asarray(currents)),
        dt_ms=dt_ms,
        duration_ms=200.0,
        n=len(currents),
    )
    r = lif.tau_mem / lif.c_mem  # GΩ: pA * GΩ = mV
    t_star = -lif.tau_mem * np.log(1 - (lif.v_th - lif.v_rest) / (r * currents))
    worst = 0.0
    for k in range(len(currents)):
        times = rec["t"][rec["spikes"][:, k] > 0]
        first_err = abs(times[0] - t_star[k])
        isi_err = np.max(np.abs(np.diff(times) - (lif.t_ref + t_star[k])))
        worst = max(worst, first_err / dt_ms, isi_err / dt_ms)
    return float(worst)
