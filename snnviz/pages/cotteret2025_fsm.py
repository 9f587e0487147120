"""VSA state machine: finite-state machines embedded in a recurrent attractor network.

States, edges and input symbols are random bipolar hypervectors; the weights superimpose a
symmetric auto-associative matrix (every state a fixed point) and asymmetric transition terms
bound to the inputs (:mod:`snnviz.core.vsa.fsm`). The network runs live, one update per chunk,
driven by the wall clock (:class:`~snnviz.components.LiveLoop`); input buttons queue a symbol,
or random symbols stream while playing. Weight non-idealities are traced values applied to the
ideal matrix with frozen random draws, so a slider move never recompiles. ``reproduce()``
checks a 50-state FSM on 4-bit, half-pruned weights, the accuracy against weight noise and the
capacity against N.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from typing import Any, ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import panel as pn
import param

from snnviz.components import ErrorBanner, LiveLoop, LiveRaster, LiveTraces, RunControls
from snnviz.core.vsa.fsm import (
    NO_INPUT,
    FSMNetwork,
    capacity_sweep,
    evaluate_fsm,
    fsm_weights,
    make_codes,
    presentation_schedule,
    random_fsm,
    simulate,
    stimulus_masks,
)
from snnviz.core.vsa.nonideal import WeightNonideality, draw_nonideality
from snnviz.models.vsa_fsm import STRUCTURE, VSAFSMModel
from snnviz.views import weight_histograms
from snnviz.views.fsm import (
    FSMGraph,
    LiveSimilarity,
    accuracy_vs_noise,
    capacity_vs_neurons,
    similarity_over_time,
)

from ._base import DemoPage, Progress
from ._layout import ReproduceSection, page_layout
from ._result import Claim, ClaimResult

CHUNK_STEPS = 1  # network updates per chunk; one update is drawn as 1 "ms" (the x axis = steps)
WINDOW_STEPS = 300
N_RASTER = 64
DEFAULT_SPEED = 0.04  # 40 updates per second
HIST_SAMPLES = 40_000
PLOT_FPS = 8.0  # heatmap and raster updates per second (each patches one image tile)
TRACES_FPS = 30.0  # similarity traces: most pushes per second (each one repaints the plot)
READOUT_HZ = 4.0
LINES = ("FSM's state", "best other state", "best edge state")

EXPLANATION = """
Press **▶ Play**: random input symbols stream in, or press an **Input: …** button to feed one
symbol. Each symbol masks the network with two stimulus vectors in turn (s_a moves the state to
the transition's *edge state*, s_b on to the target), then the input is removed and the state must
persist. The graph marks the FSM's state (thick outline) and the state decoded from the network
(green when they agree, red when not). Move **weight bits**, **sparsity** and **noise**: the
weights change at once, without recompiling. A random 50-state FSM needs about N = 4096 neurons
(capacity grows linearly with N); with fewer, watch it fail.
"""


@eqx.filter_jit
def _nonideal(nonideality: WeightNonideality, w: jax.Array, draws: Any) -> jax.Array:
    return nonideality.apply(w, draws)


_draws = eqx.filter_jit(draw_nonideality)


class Step(NamedTuple):
    """One queued update: the stimulus id, a label for the readout, the FSM's state once the
    current input is done, and whether this is the input's last step (decoded and scored)."""

    stim: int
    label: str
    target: int
    last: bool


class VSAStateMachinePage(DemoPage):
    slug: ClassVar[str] = "cotteret2025_fsm"
    title: ClassVar[str] = "VSA state machine"
    summary: ClassVar[str] = (
        "Finite-state machines embedded in a recurrent attractor network with hypervector "
        "codes: watch the state hop between attractors as inputs arrive, with quantised, "
        "sparse and noisy weights."
    )
    reference: ClassVar[str] = (
        "Cotteret, Greatorex, Renner, Chen, Neftci, Wu, Indiveri, Ziegler & Chicca (2025) "
        "Distributed representations enable robust multi-timescale symbolic computation in "
        "neuromorphic hardware, Neuromorph. Comput. Eng. 5:014008, doi:10.1088/2634-4386/ada851, "
        "arXiv:2405.01305; Cotteret, Greatorex, Ziegler & Chicca (2024) Vector symbolic finite "
        "state machines in attractor neural networks, Neural Comput. 36:549, arXiv:2212.01196"
    )
    claims: ClassVar[tuple[Claim, ...]] = ()  # filled in below the class
    url_params: ClassVar[tuple[str, ...]] = (
        "model.fsm",
        "model.n_neurons",
        "model.weight_bits",
        "model.sparsity",
        "model.noise",
    )

    model = param.ClassSelector(class_=VSAFSMModel, doc="The FSM, the network and its weights.")
    random_inputs = param.Boolean(
        default=True,
        label="stream random inputs",
        doc="While playing, feed a random input symbol whenever no input is queued.",
    )
    sequence = param.String(
        default="",
        label="input sequence",
        doc="Input symbols separated by spaces or commas, e.g. 'timer button timer'.",
    )

    def __init__(self, **params: Any) -> None:
        params.setdefault("model", VSAFSMModel())
        super().__init__(**params)
        self.banner = ErrorBanner()
        self.readout = pn.pane.Markdown(
            "", sizing_mode="stretch_width", height=52
        )  # fixed: no relayout
        self.weights_pane = pn.pane.HoloViews(sizing_mode="stretch_width", height=260)
        self.input_buttons = pn.Row(sizing_mode="stretch_width")
        self.feed_button = pn.widgets.Button(label="Feed sequence", width=130)
        self.feed_button.on_click(lambda _event: self.feed_sequence())
        self._lock = threading.Lock()
        self._queue: collections.deque[Step] = collections.deque()
        self._rng = np.random.default_rng(0)
        self._readout_at = -math.inf
        self._readout_news: tuple[Any, ...] | None = None
        self._held_lines: list[tuple[np.ndarray, np.ndarray]] = []
        self._lines_at = -math.inf
        self._build()
        self._build_plots()
        self.loop = LiveLoop(
            self._advance_chunk,
            self._push,
            chunk_ms=float(CHUNK_STEPS),
            on_reset=self._on_reset,
            on_error=self._on_error,
        )
        self.loop.speed = DEFAULT_SPEED
        self.follow_model({self._on_param: None}, on_replaced=self._on_param)

    @classmethod
    def warm_up(cls) -> None:
        """Compile the streaming chunk for the default FSM and size once per process."""
        page = cls()
        page.feed(page._fsm.inputs[0])
        page._advance_chunk()
        page.model.noise = 0.1  # compiles the non-ideal weights once (then traced values)
        page._advance_chunk()

    # -- model -------------------------------------------------------------------------------
    def _build(self) -> None:
        """(Re)draw the FSM's codes and ideal weights (compiles once per new shape)."""
        model = self.model
        fsm = model.build()
        k_codes, k_chip, self._key = jax.random.split(jax.random.PRNGKey(model.seed), 3)
        self._fsm = fsm
        self._codes = make_codes(fsm, model.n_neurons, key=k_codes)
        self._w_ideal = fsm_weights(self._codes)
        self._masks = stimulus_masks(self._codes)
        self._attractors = jnp.concatenate([self._codes.states, self._codes.edge_states])
        self._chip_key, self._chip = k_chip, None
        self._structure = model.structure_key()
        self._apply_weights()
        self._reset_state()

    def _apply_weights(self) -> None:
        """The current non-idealities applied to the ideal weights (traced: no recompile)."""
        w = self._w_ideal
        if not self.model.ideal_weights():
            if self._chip is None:
                self._chip = _draws(self._chip_key, w.shape)
            w = _nonideal(self.model.nonideality(), w, self._chip)
        self._net = FSMNetwork(w, self._masks, self.model.update_prob)
        sample = np.asarray(w).ravel()[:: max(1, w.size // HIST_SAMPLES)]
        nonzero = sample[sample != 0]
        removed = 1.0 - nonzero.size / max(sample.size, 1)
        self.weights_pane.object = weight_histograms(
            {"weights": nonzero},
            bins=61,
            title=f"Weights ({removed:.0%} zero, zeros not shown)",
        ).opts(show_legend=False, height=240, backend="bokeh")

    def _reset_state(self) -> None:
        with self._lock:
            self._queue.clear()
            self._z = self._codes.states[0]
            self._step = 0
            self._fsm_state = self._pending_state = 0
            self._done = self._correct = 0
            self._showing = "—"

    # -- inputs ------------------------------------------------------------------------------
    def feed(self, symbol: int | str) -> None:
        """Queue one input symbol (name or index): s_a, s_b, then a period without input."""
        a = self._fsm.input_index(symbol)
        name = self._fsm.inputs[a]
        m = self.model
        ids = presentation_schedule(
            [a], steps_a=m.steps_a, steps_b=m.steps_b, steps_rest=m.steps_rest
        )
        with self._lock:
            target = self._fsm.next_state(self._pending_state, a)
            self._pending_state = target
            for i, sid in enumerate(ids):
                phase = "s_a" if i < m.steps_a else "s_b" if i < m.steps_a + m.steps_b else ""
                label = f"{phase} ({name})" if phase else f"none (after {name})"
                self._queue.append(Step(int(sid), label, target, i == len(ids) - 1))

    def feed_sequence(self, text: str | None = None) -> None:
        """Queue every symbol of ``text`` (default: the ``sequence`` box); an unknown symbol
        queues nothing and shows what the FSM accepts."""
        text = self.sequence if text is None else text
        symbols = [s for s in text.replace(",", " ").split() if s]
        try:
            if not symbols:
                raise ValueError("type input symbols into the sequence box first")
            unknown = [s for s in symbols if s not in self._fsm.inputs]
            if unknown:
                raise ValueError(
                    f"unknown input(s) {unknown} for the {self._fsm.name}; its inputs are "
                    f"{list(self._fsm.inputs)}"
                )
        except ValueError as err:
            self.banner.show(str(err))
            return
        self.banner.clear()
        for s in symbols:
            self.feed(s)
        self.loop.play()

    def _on_input_button(self, symbol: str) -> None:
        self.banner.clear()
        self.feed(symbol)
        self.loop.play()

    def _take(self, n: int) -> list[Step]:
        with self._lock:
            queued = bool(self._queue)
        if not queued and self.loop.running and self.random_inputs:
            self.feed(int(self._rng.integers(self._fsm.n_inputs)))
        with self._lock:
            idle = Step(NO_INPUT, "none", self._pending_state, False)
            return [self._queue.popleft() if self._queue else idle for _ in range(n)]

    # -- the chunk ---------------------------------------------------------------------------
    def _advance_chunk(self) -> dict[str, Any]:
        """One compiled chunk of updates plus what the plots need (may run on a worker).

        The FSM's state is taken to be the target of an input from the moment the input starts,
        so "the FSM's state" trace is the state the network should reach, and "best other
        state" high means an error."""
        net, z, attractors, fsm = self._net, self._z, self._attractors, self._fsm
        items = self._take(CHUNK_STEPS)
        stim = jnp.asarray([step.stim for step in items], dtype=jnp.int32)
        key = jax.random.fold_in(self._key, self._step)
        z, rec = simulate(net, z, stim, key=key, readout=attractors, n_record=N_RASTER)
        sims = np.asarray(rec["similarity"])
        s = fsm.n_states
        lines = np.empty((len(items), 3), np.float32)
        for i, step in enumerate(items):
            if step.last:
                self._done += 1
                self._correct += int(np.argmax(sims[i, :s])) == step.target
            lines[i] = (
                sims[i, step.target],
                np.delete(sims[i, :s], step.target).max(initial=-1.0),
                sims[i, s:].max(initial=-1.0),
            )
        last = items[-1]
        self._fsm_state, self._showing = last.target, last.label
        best = int(np.argmax(sims[-1]))
        t = self._step + 1 + np.arange(len(items), dtype=np.float64)
        heat = np.concatenate([sims[:, :s], sims[:, s:].max(axis=1, initial=-1.0)[:, None]], 1)
        self._z, self._step = z, self._step + len(items)
        with self._lock:
            queued = sum(1 for step in self._queue if step.last)
        return {
            "t": t,
            "lines": lines,
            "heat": heat,
            "spikes": np.asarray(rec["spikes"]),
            "decoded": best if best < s else None,  # None: in an edge state
            "edge": None if best < s else tuple(int(v) for v in fsm.transitions()[best - s]),
            "similarity": float(sims[-1, best]),
            "expected": last.target,
            "settled": last.stim == NO_INPUT,
            "showing": self._showing,
            "done": self._done,
            "correct": self._correct,
            "queued": queued,
        }

    # -- reactions ---------------------------------------------------------------------------
    def _on_param(self, *events: Any) -> None:
        if self.live_change(self.model, self.loop, self.banner) != "update":
            return
        if not events or any(e.name not in ("steps_a", "steps_b", "steps_rest") for e in events):
            self._apply_weights()
            self.loop.parameters_changed()

    def _on_reset(self) -> None:
        try:
            if self.model.structure_key() != self._structure:
                self._build()
                self._build_plots()
            else:
                self._reset_state()
        except ValueError as err:
            self.banner.show(str(err))
        for plot in (self._traces, self._raster, self._heat):
            plot.reset()
        self._held_lines, self._readout_news = [], None
        self._graph.show(0, 0)
        self.readout.object = ""

    def _on_error(self, message: str) -> None:
        self.banner.show(f"{message}. Adjust the parameters, then press Reset.")

    # -- live plots --------------------------------------------------------------------------
    def _build_plots(self) -> None:
        fsm = self._fsm
        self._graph = FSMGraph(fsm)
        self._graph.show(0, 0)
        self._traces = LiveTraces(
            LINES,
            window_ms=WINDOW_STEPS,
            ylabel="similarity",
            title="Similarity of the network state",
            height=220,
            y_range=(-0.3, 1.1),
            colors=("#2ca02c", "#d62728", "#7f7f7f"),
        )
        self._traces.figure.xaxis.axis_label = "update step"
        x_range = self._traces.figure.x_range
        names = [*fsm.states, "edge states (max)"]
        self._heat = LiveSimilarity(
            names,
            max_fps=PLOT_FPS,
            window_steps=WINDOW_STEPS,
            x_range=x_range,
            height=max(220, min(420, 14 * len(names))),
        )
        self._raster = LiveRaster(
            N_RASTER,
            window_ms=WINDOW_STEPS,
            bin_ms=1.0,
            max_fps=PLOT_FPS,
            title=f"Spikes (state +1) of {N_RASTER} of {self.model.n_neurons} neurons",
            height=200,
            x_range=x_range,
        )
        self._raster.figure.xaxis.axis_label = "update step"
        buttons = []
        for symbol in fsm.inputs:
            button = pn.widgets.Button(label=f"Input: {symbol}", color="primary")
            button.on_click(lambda _event, s=symbol: self._on_input_button(s))
            buttons.append(button)
        self.input_buttons[:] = buttons
        panes = [
            pn.pane.Bokeh(self._graph.figure, sizing_mode="stretch_width"),
            self._traces,
            pn.pane.Bokeh(self._heat.figure, sizing_mode="stretch_width"),
            self._raster,
        ]
        if hasattr(self, "_plots"):
            self._plots[:] = panes
        else:
            self._plots = pn.Column(*panes, sizing_mode="stretch_width")

    def _push(self, chunks: list[dict[str, Any]]) -> None:
        t = [c["t"] for c in chunks]
        self._held_lines.extend((c["t"], c["lines"]) for c in chunks)
        self.push_lines()
        self._raster.push(t, [c["spikes"] for c in chunks])
        self._heat.push(np.concatenate(t), np.concatenate([c["heat"] for c in chunks]))
        last = chunks[-1]
        self._graph.show(last["decoded"], last["expected"], settled=last["settled"])
        names = self._fsm.states
        done, correct = last["done"], last["correct"]
        score = f"{correct}/{done} ({100 * correct / done:.0f} %)" if done else "—"
        if last["decoded"] is None:
            src, a, dst = last["edge"]
            where = f"edge state {names[src]} →({self._fsm.inputs[a]}) {names[dst]}"
        else:
            where = names[last["decoded"]]
        text = (
            f"**FSM state:** {names[last['expected']]} · **network:** {where} "
            f"(similarity {last['similarity']:.2f}) · **input:** {last['showing']} · "
            f"**transitions correct:** {score} · queued: {last['queued']}"
        )
        # each change re-lays out the page: news (a state or a score) at once, the rest
        # (similarity, input phase) a few times per second
        news = (last["expected"], last["decoded"], done)
        now = time.monotonic()
        if text != self.readout.object and (
            news != self._readout_news or now - self._readout_at >= 1.0 / READOUT_HZ
        ):
            self._readout_at, self._readout_news = now, news
            self.readout.object = text

    def push_lines(self, *, force: bool = False) -> None:
        """Send the held similarity-trace points: every push repaints the plot, so at most
        about ``TRACES_FPS`` times per second unless ``force``. The gap may be a quarter period
        short: frames arrive with jitter, and a strict gap would send only every other one."""
        now = time.monotonic()
        if self._held_lines and (force or now - self._lines_at >= 0.75 / TRACES_FPS):
            self._lines_at = now
            self._traces.push([h[0] for h in self._held_lines], [h[1] for h in self._held_lines])
            self._held_lines = []

    # -- layout ------------------------------------------------------------------------------
    def __panel__(self) -> pn.viewable.Viewable:
        m = self.model
        slider = {"type": pn.widgets.FloatSlider, "throttled": True}
        choose = pn.Param(
            m, parameters=["fsm", *STRUCTURE[1:]], show_name=False, sizing_mode="stretch_width"
        )
        weights = pn.Param(
            m,
            parameters=["weight_bits", "sparsity", "noise", "device_variation", "update_prob"],
            widgets={
                "sparsity": slider,
                "noise": slider,
                "device_variation": slider,
                "update_prob": slider,
                "weight_bits": {"type": pn.widgets.IntSlider, "throttled": True},
            },
            show_name=False,
            sizing_mode="stretch_width",
        )
        timing = pn.Param(
            m,
            parameters=["steps_a", "steps_b", "steps_rest"],
            show_name=False,
            sizing_mode="stretch_width",
        )
        inputs = pn.Column(
            "#### Inputs",
            self.input_buttons,
            pn.widgets.Checkbox.from_param(self.param.random_inputs),
            pn.widgets.TextInput.from_param(self.param.sequence, placeholder="e.g. timer button"),
            self.feed_button,
            sizing_mode="stretch_width",
        )
        sidebar = [
            RunControls(self.loop, layout="column"),
            inputs,
            "#### State machine",
            choose,
            "#### Weights",
            weights,
            "#### Presentation",
            timing,
        ]
        main = [
            self.banner,
            self.readout,
            self._plots,
            self.weights_pane,
            ReproduceSection(self, self.banner),
        ]
        return page_layout(self, EXPLANATION, sidebar, main)

    # -- reproduce ---------------------------------------------------------------------------
    def _measure(self, quick: bool, progress: Progress) -> tuple[dict, dict]:
        return measure(quick, progress)

    def _judge(self, claim: Claim, metrics: dict) -> ClaimResult:
        return _JUDGES[claim.key](claim, metrics)


# -- reproduce --------------------------------------------------------------------------------
CLAIM_N = 4096
CLAIM_STATES = 50
NOISE_QUICK = (0.0, 0.5, 1.0, 1.1, 1.25, 1.5)
NOISE_FULL = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0, 1.05, 1.1, 1.15, 1.25, 1.5, 2.0, 3.0)
CAPACITY_FRACTIONS = tuple(0.010 + 0.0015 * k for k in range(15))  # 0.010 ... 0.031


def crossing(x: np.ndarray, y: np.ndarray, level: float) -> float:
    """The first ``x`` where ``y`` falls below ``level`` (linear interpolation between grid
    points); ``inf`` if it never does, ``x[0]`` if it starts below."""
    below = np.nonzero(np.asarray(y) < level)[0]
    if below.size == 0:
        return math.inf
    i = int(below[0])
    if i == 0:
        return float(x[0])
    x0, x1, y0, y1 = float(x[i - 1]), float(x[i]), float(y[i - 1]), float(y[i])
    return x0 + (y0 - level) / (y0 - y1) * (x1 - x0)


def measure(quick: bool, progress: Progress) -> tuple[dict[str, Any], dict[str, Any]]:
    """The measurements behind the claims (see ``_CHECKS``); deterministic."""
    metrics: dict[str, Any] = {"n_neurons": CLAIM_N, "n_states": CLAIM_STATES}
    figures: dict[str, Any] = {}
    fsm = random_fsm(CLAIM_STATES, 2, seed=0)
    metrics["n_stored_transitions"] = len(fsm.transitions())
    walks, presentations = (16, 25) if quick else (32, 50)

    progress(0.02, f"{CLAIM_STATES}-state FSM, N = {CLAIM_N}, 4-bit weights, 50 % removed")
    chip = WeightNonideality(bits=4, keep=0.5)
    result = evaluate_fsm(
        fsm,
        CLAIM_N,
        key=jax.random.PRNGKey(0),
        nonideality=chip,
        n_walks=walks,
        n_presentations=presentations,
    )
    metrics["nonideal_accuracy"] = float(result["accuracy"])
    metrics["nonideal_presentations"] = walks * presentations
    metrics["nonideal_overlap"] = float(np.mean(result["overlap"]))

    noise = NOISE_QUICK if quick else NOISE_FULL
    accs, overlaps = [], []
    for i, sigma in enumerate(noise):
        progress(0.1 + 0.4 * i / len(noise), f"weight noise σ = {sigma:g} std(W)")
        r = evaluate_fsm(
            fsm,
            CLAIM_N,
            key=jax.random.PRNGKey(1),
            nonideality=WeightNonideality(noise=sigma),
            n_walks=walks // 2,
            n_presentations=presentations,
        )
        accs.append(float(r["accuracy"]))
        overlaps.append(float(np.mean(r["overlap"])))
    sigma = np.asarray(noise)
    metrics["noise_levels"] = list(noise)
    metrics["noise_accuracy"] = accs
    metrics["noise_sigma_99"] = crossing(sigma, np.asarray(accs), 0.99)
    metrics["noise_sigma_90"] = crossing(sigma, np.asarray(accs), 0.90)
    figures["accuracy_vs_noise"] = accuracy_vs_noise(
        sigma,
        accs,
        overlaps,
        title=f"{CLAIM_STATES}-state random FSM, N = {CLAIM_N}: accuracy vs weight noise",
    )

    sizes = (512, 1024, 2048) if quick else (512, 1024, 2048, 4096)
    capacities = []
    for i, n in enumerate(sizes):
        progress(0.5 + 0.35 * i / len(sizes), f"capacity at N = {n}")
        candidates = sorted({max(2, round(n * f)) for f in CAPACITY_FRACTIONS})
        sweep = capacity_sweep(
            n, candidates, key=jax.random.PRNGKey(2), n_walks=8, n_presentations=20 if quick else 40
        )
        capacities.append(int(sweep["capacity"]))
    n_arr, c_arr = np.asarray(sizes, float), np.asarray(capacities, float)
    metrics["capacity_n_neurons"] = list(sizes)
    metrics["capacity_states"] = capacities
    ok = c_arr > 0
    exponent = (
        float(np.polyfit(np.log(n_arr[ok]), np.log(c_arr[ok]), 1)[0]) if ok.sum() >= 2 else math.nan
    )
    metrics["capacity_exponent"] = exponent
    slope = float(np.sum(c_arr * n_arr) / np.sum(n_arr**2))
    metrics["capacity_per_neuron"] = slope
    figures["capacity"] = capacity_vs_neurons(
        n_arr,
        c_arr,
        slope=slope,
        title="Largest random FSM (2 inputs) run at ≥ 99 % vs N",
    )

    figures["similarity_over_time"] = _example(fsm, result)
    return metrics, figures


def _example(fsm: Any, result: dict[str, Any]) -> Any:
    """The first walk of the first claim's run: similarity to every attractor, every update."""
    trace = np.asarray(result["trace"])  # (presentations, steps, states + all pairs)
    n_pres, per, _ = trace.shape
    s = fsm.n_states
    stored = np.concatenate([np.ones(s, bool), np.asarray(result["edge_valid"])])
    sims = trace.reshape(n_pres * per, -1)[:, stored]
    start, symbols = int(result["start"][0]), np.asarray(result["symbols"][0])
    after = fsm.run(start, symbols)
    before = np.concatenate([[start], after[:-1]])
    fsm_state = np.repeat(before, per)
    fsm_state[per - 1 :: per] = after  # decoding happens at the last step of each input
    shown = slice(0, min(n_pres, 12) * per)
    labels = [(1 + k * per, fsm.inputs[a]) for k, a in enumerate(symbols[: min(n_pres, 12)])]
    return similarity_over_time(
        sims[shown],
        fsm_state[shown],
        n_states=s,
        input_labels=labels,
        title=f"{s}-state FSM on 4-bit, 50 %-pruned weights: similarity to every state "
        "attractor (one walk)",
    )


def _judge_at_least(key: str, bound: float) -> Any:
    def judge(claim: Claim, metrics: dict) -> ClaimResult:
        value = float(metrics[key])  # inf = never fell below the level on the grid
        ok = not math.isnan(value) and value >= bound
        return ClaimResult(claim, value, ok, _detail(key, metrics))

    return judge


def _detail(key: str, metrics: dict) -> str:
    if key == "nonideal_accuracy":
        return (
            f"{metrics['nonideal_presentations']} inputs, {metrics['n_stored_transitions']} "
            f"stored transitions, mean similarity to the correct attractor "
            f"{metrics['nonideal_overlap']:.3f}"
        )
    if key == "noise_sigma_99":
        s90 = metrics["noise_sigma_90"]
        s90_text = f"{s90:.2f}" if math.isfinite(s90) else f"> {metrics['noise_levels'][-1]}"
        return (
            f"below 99 % from σ ≈ {metrics['noise_sigma_99']:.2f}, below 90 % from σ ≈ "
            f"{s90_text} std(W)"
        )
    if key == "capacity_exponent":
        pairs = ", ".join(
            f"N={n}: {c}"
            for n, c in zip(metrics["capacity_n_neurons"], metrics["capacity_states"], strict=True)
        )
        return f"{pairs} states; C ≈ {metrics['capacity_per_neuron']:.4f} N"
    return ""


def _judge_capacity(claim: Claim, metrics: dict) -> ClaimResult:
    value = float(metrics["capacity_exponent"])
    ok = bool(np.isfinite(value) and 0.75 <= value <= 1.25)
    return ClaimResult(claim, value, ok, _detail("capacity_exponent", metrics))


_CHECKS = [
    (
        Claim(
            "nonideal_accuracy",
            "FSMs keep running with highly non-ideal weights (binary weights with noise as large "
            "as the signal, 98 % of weights removed; Neural Comput. 2024 Figs. 3-4) and scale to "
            "large FSMs on Loihi 2 (NCE 2025)",
            f"random FSM with {CLAIM_STATES} states and 2 inputs in N = {CLAIM_N} neurons, "
            "weights quantised to 4 bits and 50 % of synapses removed: ≥ 99 % correct "
            "transitions",
        ),
        _judge_at_least("nonideal_accuracy", 0.99),
    ),
    (
        Claim(
            "noise_sigma_99",
            "graceful degradation with weight noise: the walk stays correct while the "
            "attractor overlap slowly drops below 1, then breaks down (Neural Comput. 2024 "
            "Fig. 3)",
            "same FSM and N, float weights plus frozen Gaussian noise σ·std(W): accuracy stays "
            "≥ 99 % up to σ ≥ 0.5 (where it falls below 99 % and 90 % is reported)",
        ),
        _judge_at_least("noise_sigma_99", 0.5),
    ),
    (
        Claim(
            "capacity_exponent",
            "capacity linear in N for dense bipolar codes, N_Z + 2.2 N_E < 0.10 N (Neural "
            "Comput. 2024 Fig. 6)",
            "largest random FSM (2 inputs) at ≥ 99 % for N = 512, 1024, 2048 (+4096 full): "
            "log-log slope of capacity vs N in [0.75, 1.25]",
        ),
        _judge_capacity,
    ),
]
VSAStateMachinePage.claims = tuple(c for c, _ in _CHECKS)
_JUDGES = {c.key: j for c, j in _CHECKS}
