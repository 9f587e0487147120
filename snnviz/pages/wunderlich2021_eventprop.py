"""EventProp: exact gradients for spiking networks (Wunderlich & Pehle 2021), trained live on
Yin-Yang, with the BrainScaleS-2 view of Pehle et al. (2023): the gradient needs only spike
times.

The page drives an :class:`~snnviz.models.eventprop_training.EventPropTrainer` through a
:class:`~snnviz.components.TrainingSession` (learning curves stream; the decision map, the
weight histograms and the chosen sample's forward spikes and adjoint events refresh from
snapshots). Numeric hyperparameters are traced values handed over between calls; shape changes
wait for Reset (or apply at once when paused). ``reproduce()`` trains the engine's QUICK (or
FULL) configuration and checks accuracy, the gradient against finite differences and the bits
read out per gradient.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import holoviews as hv
import jax
import numpy as np
import panel as pn
import param

from snnviz.components import ErrorBanner, ProgressReporter, TrainingSession, TrainingUpdate
from snnviz.core.data.yinyang import CLASS_NAMES
from snnviz.core.eventprop import FULL, QUICK, train_yinyang
from snnviz.models.eventprop_training import (
    LIVE_HYPERPARAMETERS,
    READOUT_DT_MS,
    STRUCTURAL,
    EventPropSnapshot,
    EventPropTrainer,
    EventPropYinYang,
    forward_batch,
    gradient_vs_finite_differences,
    grid_features,
    history_rows,
    initial_weights,
    neurobench_report,
    predicted_class,
    readout_bits_table,
    yinyang_data,
)
from snnviz.views import (
    decision_map,
    learning_curves,
    metrics_table,
    weight_histograms,
)
from snnviz.views.eventprop import (
    ADJOINT_VALUES,
    class_image,
    gradient_summary,
    gradient_view,
    output_traces_view,
    pick_item,
    readout_bits_markdown,
    sample_view,
    snapshot_decision_map,
    snapshot_weights,
)

from ._base import DemoPage, Progress
from ._layout import ReproduceSection, page_layout
from ._result import Claim, ClaimResult

STEPS_PER_CALL = 10
SAMPLE_REFRESH_S = 10.0  # side panel refresh while training (4 plots, ~0.4-1 s of the loop)
MAX_STEPS = 2500  # ~16 epochs at batch 32: about the QUICK run
GRADIENT_SAMPLES = 8  # test samples per network in reproduce()'s gradient check
GRADIENT_THRESHOLD = 1e-3
MIN_SCORED_FRACTION = 0.9
BITS_RATIO_THRESHOLD = 10.0

EXPLANATION = """
**What the paper showed.** For leaky integrate-and-fire neurons the exact gradient of a loss
of spike times can be computed like the forward pass: event by event. EventProp integrates
adjoint variables λ_V, λ_I backwards in time between the forward spikes and makes λ_V jump at
every spike time; a weight's gradient is −τ_syn Σ λ_I at the presynaptic spikes. It trains
Yin-Yang to about 95 % (Wunderlich & Pehle 2021). On BrainScaleS-2 only the spike times have to
be read out, about ten times fewer bits than the dense membrane traces a surrogate gradient
needs (Pehle et al. 2023).

**What this page trains.** 5 latency-coded inputs (x, y, 1−x, 1−y spike between 0 and 10 ms,
bias at 0 ms) → LIF hidden layer (τ_mem = 2 τ_syn, spike times in closed form) → 3 output
neurons; the class is the output that fires first (time-to-first-spike cross-entropy). The
Yin-Yang data (5000 train / 1000 test points) is generated in code. Press **▶ Play**: the
curves stream, and every second or so the decision map (background: predicted class, dots:
test points, crosses: misclassified, star: the chosen sample), the weight histograms and the
chosen sample's **forward spikes** and **adjoint events** are redrawn. **Gradient check**
compares EventProp with float64 finite differences on that sample, now. Learning rate, τ_syn
and the loss parameters act on the next call without recompiling; width, spike cap and batch
size apply at **Reset** (at once when paused).

**Our small-scale check.** `reproduce()` trains the engine's quick configuration (60 hidden, up
to 2 spikes each, 15 epochs of 5000 samples, ~15-25 s; full mode: 120 hidden, 50 epochs) and
checks the gradient of every weight against float64 central finite differences (step ε =
10⁻⁵·rms of the layer's weights) on 8 test samples, before and after training. A weight is
scored unless its gradient is below 10⁻⁴ of the sample's largest (FD round-off), FD at ε and 10ε
disagree by more than 10⁻⁴ (a threshold crossing close to grazing), or ±ε adds or removes a
spike; none of these looks at the EventProp value. It also counts the bits read out per sample.
"""


class EventPropPage(DemoPage):
    slug: ClassVar[str] = "wunderlich2021_eventprop"
    title: ClassVar[str] = "EventProp: exact gradients for spiking networks"
    summary: ClassVar[str] = (
        "Train a spiking network on Yin-Yang with exact event-based gradients: forward spikes "
        "and backward adjoint events of one sample, a live finite-difference gradient check, "
        "bits read out vs dense sampling, and NeuroBench metrics."
    )
    reference: ClassVar[str] = (
        "Wunderlich & Pehle (2021) Event-based backpropagation can compute exact gradients for "
        "spiking neural networks, Sci Rep 11:12829, doi:10.1038/s41598-021-91786-z, "
        "arXiv:2009.08378; Pehle, Blessing, Arnold, Müller & Schemmel (2023) Event-based "
        "backpropagation for analog neuromorphic hardware, arXiv:2302.07141"
    )
    claims: ClassVar[tuple[Claim, ...]] = (
        Claim(
            "test_accuracy",
            "EventProp trains Yin-Yang to ~95 % test accuracy (chance 33 %)",
            "Yin-Yang test accuracy >= 80 % in quick mode (60 hidden, <= 2 spikes each, 15 "
            "epochs of 5000 samples; whole quick run ~20-30 s); >= 90 % in full mode (120 "
            "hidden, <= 3 spikes, 50 epochs; whole full run ~2 min on 2 cores)",
        ),
        Claim(
            "gradient_error_untrained",
            "EventProp's gradient is exact (adjoint method with jumps at the spike times)",
            "untrained network, every weight on 8 test samples: max relative error vs float64 "
            "central finite differences < 1e-3 where FD is trustworthy (scored: >= 90 % of the "
            "non-negligible weight gradients of the 8 samples)",
        ),
        Claim(
            "gradient_error_trained",
            "EventProp's gradient is exact (adjoint method with jumps at the spike times)",
            "trained network, every weight on 8 test samples: max relative error vs float64 "
            "central finite differences < 1e-3 where FD is trustworthy (scored: >= 90 % of the "
            "non-negligible weight gradients of the 8 samples)",
        ),
        Claim(
            "readout_bits_ratio",
            "the gradient needs about one order of magnitude fewer bits read out than "
            "surrogate gradients with dense membrane sampling (Pehle et al. 2023)",
            "trained network, test set: 8-bit membrane samples of every hidden and output "
            "neuron at dt = 0.5 ms over 30 ms >= 10x the 16-bit spike times per sample",
        ),
    )
    url_params: ClassVar[tuple[str, ...]] = (
        "model.n_hidden",
        "model.max_spikes_hidden",
        "model.batch_size",
        "model.learning_rate",
        "model.tau_syn",
        "model.tau_0",
        "model.alpha",
        "sample",
    )

    model = param.ClassSelector(class_=EventPropYinYang, doc="Network, optimiser and loss.")
    sample = param.Integer(
        0,
        bounds=(0, QUICK.n_test - 1),
        label="test sample",
        doc="Which test point the side panel and the gradient check use (index, dimensionless)",
    )
    adjoint_value = param.Selector(
        objects=list(ADJOINT_VALUES),
        default="λ_V jump at the spike",
        label="adjoint value shown",
        doc="What colours each adjoint event: the jump of λ_V, dL/dt_k, or λ_I at the spike",
    )

    def __init__(self, **params: Any) -> None:
        params.setdefault("model", EventPropYinYang())
        super().__init__(**params)
        self.banner = ErrorBanner()
        self.trainer = EventPropTrainer(self.model)
        self.trainer.sample_index = int(self.sample)
        self.session = TrainingSession(
            self.trainer,
            banner=self.banner,
            chance=1.0 / len(CLASS_NAMES),
            steps_per_call=STEPS_PER_CALL,
            max_steps=MAX_STEPS,
            eval_hz=2.0,
            view_hz=1.0,
        )
        self.pending = pn.pane.Markdown("", sizing_mode="stretch_width", margin=(0, 10))
        self._latest: EventPropSnapshot = self.session.latest_update.snapshot
        self._map_pipe = hv.streams.Pipe(data=self._latest)
        self._weights_pipe = hv.streams.Pipe(data=self._latest)
        self.map_pane = pn.pane.HoloViews(
            hv.DynamicMap(snapshot_decision_map, streams=[self._map_pipe]), sizing_mode="fixed"
        )
        self.weights_pane = pn.pane.HoloViews(
            hv.DynamicMap(snapshot_weights, streams=[self._weights_pipe]),
            sizing_mode="stretch_width",
        )
        self.sample_text = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.sample_plots = pn.Column(sizing_mode="stretch_width")
        self._sample_pipe: hv.streams.Pipe | None = None
        self._sample_rows: tuple | None = None
        self._sample_drawn_at = -np.inf
        self.grad_button = pn.widgets.Button(
            label="Gradient check",
            color="primary",
            description="EventProp vs float64 finite differences on the chosen test sample",
        )
        self.grad_progress = ProgressReporter()
        self.grad_text = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.grad_pane = pn.pane.HoloViews(sizing_mode="stretch_width", visible=False)
        self.grad_progress.param.watch(
            lambda e: setattr(self.grad_button, "disabled", e.new), "busy"
        )
        self.grad_button.on_click(self._start_gradient_check)
        self.bench_button = pn.widgets.Button(
            label="Compute NeuroBench metrics",
            description="NeuroBench metrics and bits read out, current weights, test set",
        )
        self.bench_progress = ProgressReporter()
        self.bench_pane = pn.pane.HoloViews(sizing_mode="stretch_width", visible=False)
        self.bench_text = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.bench_progress.param.watch(
            lambda e: setattr(self.bench_button, "disabled", e.new), "busy"
        )
        self.bench_button.on_click(lambda _event: self.refresh_neurobench())
        self._bench_steps = -1
        self._draw_sample(self._latest.sample)
        self.session.add_view_listener(self._on_update, call_now=False)
        self.follow_model(
            {self._on_live: LIVE_HYPERPARAMETERS, self._on_structure: STRUCTURAL},
            on_replaced=self._on_model_replaced,
        )
        self.param.watch(self._on_sample, "sample")
        self.param.watch(lambda _e: self._draw_sample(self._latest_sample), "adjoint_value")

    @classmethod
    def warm_up(cls) -> None:
        """Compile the default shapes: training call, evaluation, snapshot (forward, sample
        events), NeuroBench forward and the float64 gradient check."""
        trainer = EventPropTrainer()
        trainer.train_steps(STEPS_PER_CALL)
        trainer.evaluate()
        trainer.snapshot()
        trainer.neurobench()
        trainer.gradient_check(0)

    # -- reactions ---------------------------------------------------------------------------
    def _on_model_replaced(self) -> None:
        self.trainer.model = self.model
        self._on_live()
        self._on_structure()

    def _on_live(self, *events: Any) -> None:
        try:
            self.model.validate()
        except ValueError as err:
            self.session.pause()
            self.banner.show(f"{err}. Training paused; change the value to continue.")
            return
        self.banner.clear()
        self.session.set_hyperparameters(**self.model.live_values())

    def _on_structure(self, *events: Any) -> None:
        try:
            self.model.validate()
        except ValueError as err:
            self.session.pause()
            self.banner.show(str(err))
            return
        if self.model.structure_key() == self.trainer.structure:
            self.pending.object = ""
        elif self.session.loop.running:
            changed = ", ".join(f"{p} = {getattr(self.model, p)}" for p in STRUCTURAL)
            self.pending.object = f"*{changed}: takes effect at **Reset**.*"
        else:
            self.session.reset()

    def _on_sample(self, *_: Any) -> None:
        self.trainer.sample_index = int(self.sample)
        self._sample_drawn_at = -np.inf  # while training: draw it with the next snapshot
        if not self.session.loop.running:
            try:
                self._draw_sample(self.trainer.sample(int(self.sample)))
            except ValueError as err:
                self.banner.show(str(err))

    def _on_update(self, update: TrainingUpdate) -> None:
        snap: EventPropSnapshot = update.snapshot
        self._latest = snap
        self._map_pipe.send(snap)
        self._weights_pipe.send(snap)
        stale = time.perf_counter() - self._sample_drawn_at >= SAMPLE_REFRESH_S
        if update.reason != "training" or stale:
            self._draw_sample(snap.sample)
        if update.reason == "reset":
            self.pending.object = ""
            self.grad_text.object = ""
            self.grad_pane.visible = False
            self.bench_text.object = ""
            self.bench_pane.visible = False
            self._bench_steps = -1
        elif update.reason == "stopped" and update.steps != self._bench_steps:
            self.refresh_neurobench()

    # -- side panel: one sample --------------------------------------------------------------
    def _draw_sample(self, sample: dict[str, Any]) -> None:
        self._latest_sample = sample
        label, pred = sample["label"], sample["prediction"]
        verdict = "no output spike" if pred < 0 else f"predicted **{CLASS_NAMES[pred]}**"
        x, y = sample["point"]
        self.sample_text.object = (
            f"Test sample {sample['index']} at (x, y) = ({x:.2f}, {y:.2f}), class "
            f"**{CLASS_NAMES[label]}**, {verdict}; loss {sample['loss']:.3f}. Adjoint events: "
            "one per hidden/output spike, at its time, in the backward pass (refreshed every "
            f"{SAMPLE_REFRESH_S:g} s while training)."
        )
        elements = [
            *sample_view(sample, ADJOINT_VALUES[self.adjoint_value]),
            *output_traces_view(sample),
        ]
        rows = tuple(sample["n_neurons"].values())
        if self._sample_pipe is None or rows != self._sample_rows:
            # a new layer size changes the rows: fresh plots (a Pipe keeps the first y range)
            self._sample_rows = rows
            self._sample_pipe = hv.streams.Pipe(data=elements)
            self.sample_plots[:] = [
                pn.pane.HoloViews(
                    hv.DynamicMap(pick_item(i), streams=[self._sample_pipe]),
                    sizing_mode="stretch_width",
                )
                for i in range(len(elements))
            ]
        else:
            self._sample_pipe.send(elements)
        self._sample_drawn_at = time.perf_counter()

    # -- gradient check ----------------------------------------------------------------------
    def _start_gradient_check(self, _event: object = None) -> None:
        index = int(self.sample)
        self.grad_text.object = ""
        self.grad_progress.run(
            lambda report: self._gradient_check(index, report),
            on_done=self._show_gradient_check,
            on_error=self.banner.show,
        )

    def _gradient_check(self, index: int, report: ProgressReporter) -> dict[str, Any]:
        report(0.1, "float64 EventProp, autodiff and finite differences (first call compiles)")
        return self.trainer.gradient_check(index)

    def _show_gradient_check(self, result: dict[str, Any]) -> None:
        self.grad_text.object = gradient_summary(result, GRADIENT_THRESHOLD)
        self.grad_pane.object = gradient_view(result)
        self.grad_pane.visible = True

    # -- NeuroBench --------------------------------------------------------------------------
    def refresh_neurobench(self) -> None:
        """Compute the NeuroBench table and the readout bits on a worker, then show them."""
        steps = self.session.steps
        self.bench_progress.run(
            lambda report: self.trainer.neurobench(),
            on_done=lambda report: self._show_neurobench(report, steps),
            on_error=self.banner.show,
        )

    def _show_neurobench(self, report: dict[str, Any], steps: int) -> None:
        row = {"model": f"EventProp, step {steps}", **report["table"]}
        self.bench_pane.object = metrics_table([row], title="NeuroBench (test set)")
        self.bench_pane.visible = True
        self.bench_text.object = readout_bits_markdown(report) + (
            f"\n\nDense SynOps count a clocked run with {report['n_steps']} steps of "
            f"{report['dt_ms']:g} ms; the activations are the hidden spikes (up to the cap) "
            "and the first output spikes."
        )
        self._bench_steps = steps

    # -- layout ------------------------------------------------------------------------------
    def __panel__(self) -> pn.viewable.Viewable:
        widgets = {
            "learning_rate": {"type": pn.widgets.EditableFloatSlider, "format": "0.0000"},
            "alpha": {"type": pn.widgets.EditableFloatSlider, "format": "0.000"},
        }
        model = pn.Param(self.model, widgets=widgets, show_name=False, sizing_mode="stretch_width")
        sample_controls = pn.Param(
            self, parameters=["sample", "adjoint_value"], show_name=False, width=300
        )
        sidebar = [
            self.session.controls,
            self.pending,
            "#### Network, optimiser, loss",
            model,
            "#### Training loop",
            self.session.settings(),
        ]
        side_panel = pn.Column(
            "### One test sample: forward spikes and backward adjoint events",
            sample_controls,
            self.sample_text,
            self.sample_plots,
            pn.Row(self.grad_button, self.grad_progress, sizing_mode="stretch_width"),
            self.grad_text,
            self.grad_pane,
            sizing_mode="stretch_width",
        )
        training = pn.Column(
            "### Decision map and weights",
            self.map_pane,
            self.weights_pane,
            sizing_mode="stretch_width",
        )
        main = [
            self.banner,
            self.session.live_view(),
            pn.Row(training, side_panel, sizing_mode="stretch_width"),
            "### NeuroBench metrics and bits read out",
            pn.Row(self.bench_button, self.bench_progress, sizing_mode="stretch_width"),
            self.bench_pane,
            self.bench_text,
            ReproduceSection(self, self.banner),
        ]
        return page_layout(self, EXPLANATION, sidebar, main)

    # -- reproduce ---------------------------------------------------------------------------
    def _measure(self, quick: bool, progress: Progress) -> tuple[dict, dict]:
        config = QUICK if quick else FULL
        share = 0.75
        result = train_yinyang(config, progress=lambda f, m: progress(share * f, m))
        weights, history = result.weights, result.history
        net = config.network()
        data = yinyang_data(config)
        metrics: dict[str, Any] = {
            "quick": quick,
            "test_accuracy": history["test_accuracy"][-1],
            "train_seconds": history["wall_s"][-1],
            "epochs": config.epochs,
            "n_hidden": config.n_hidden,
            "max_spikes_hidden": config.max_spikes_hidden,
        }
        checks = {}
        for which, w in (("untrained", initial_weights(config)), ("trained", weights)):
            progress(share + (0.1 if which == "trained" else 0.0), f"gradient check, {which}")
            runs = [
                gradient_vs_finite_differences(
                    w,
                    net,
                    data.x_test[i],
                    int(data.y_test[i]),
                    tau_0=config.tau_0,
                    alpha=config.alpha,
                    tau_1=config.tau_1,
                )
                for i in range(GRADIENT_SAMPLES)
            ]
            for i, run in enumerate(runs):
                run.update(index=i, steps=0 if which == "untrained" else len(history["epoch"]))
            errors = [r["max_relative_error"] for r in runs]
            metrics[f"gradient_error_{which}"] = float(np.max(errors))
            scored = sum(r["n_scored"] for r in runs)
            relevant = sum(r["n_relevant"] for r in runs)
            metrics[f"gradient_scored_{which}"] = int(scored)
            metrics[f"gradient_scored_fraction_{which}"] = scored / relevant if relevant else 0.0
            metrics[f"gradient_error_vs_autodiff_{which}"] = float(
                np.max([r["max_relative_error_vs_autodiff"] for r in runs])
            )
            checks[which] = runs[0]
        progress(0.95, "NeuroBench metrics, bits read out, figures")
        # one forward pass (one compile) for the test set and the decision map's grid
        n_test, shown = data.x_test.shape[0], 300
        axis, grid = grid_features(32)
        inputs = np.concatenate([data.x_test, np.asarray(config.encode(grid))])
        spikes = forward_batch(weights, net, inputs)
        test_spikes = jax.tree_util.tree_map(lambda a: a[:n_test], spikes)
        pred = predicted_class(spikes)
        report = neurobench_report(
            weights, net, data.x_test, data.y_test, dt_ms=READOUT_DT_MS, spikes=test_spikes
        )
        n_neurons = config.n_hidden + len(CLASS_NAMES)
        bits = readout_bits_table(report["mean_spikes"], n_neurons, config.t_max, [READOUT_DT_MS])
        metrics.update(
            readout_bits_ratio=bits[0]["dense_over_event"],
            event_bits=bits[0]["event_bits"],
            dense_bits=bits[0]["dense_bits"],
            mean_spikes_per_sample=report["mean_spikes"],
            neurobench=report["table"],
        )
        steps_per_epoch = config.n_train // config.batch_size
        figures = {
            "learning_curves": learning_curves(
                history_rows(history, steps_per_epoch), chance=1.0 / len(CLASS_NAMES)
            ),
            "decision_map": decision_map(
                axis,
                axis,
                class_image(pred[n_test:].reshape(axis.size, axis.size)),
                data.test_points[:shown],
                data.y_test[:shown],
                predictions=pred[:shown],
                title=f"Decision map after training ({100 * metrics['test_accuracy']:.1f} %)",
            ),
            "weights": weight_histograms(
                {"input → hidden": weights.hidden, "hidden → output": weights.output},
                title="Trained weights",
                unit="θ",
            ),
            "gradient_check": gradient_view(checks["trained"]),
            "neurobench": metrics_table(
                [{"model": "EventProp (Yin-Yang)", **report["table"]}], title="NeuroBench"
            ),
        }
        return metrics, figures

    def _judge(self, claim: Claim, metrics: dict) -> ClaimResult:
        value = float(metrics[claim.key])
        if claim.key == "test_accuracy":
            bound = 0.80 if metrics["quick"] else 0.90
            mode = "quick" if metrics["quick"] else "full"
            return ClaimResult(
                claim, value, bool(value >= bound), f"{mode} mode needs >= {bound:.0%}"
            )
        if claim.key.startswith("gradient_error_"):
            which = claim.key.removeprefix("gradient_error_")
            scored = float(metrics[f"gradient_scored_fraction_{which}"])
            ok = np.isfinite(value) and value < GRADIENT_THRESHOLD
            ok = ok and scored >= MIN_SCORED_FRACTION
            detail = (
                f"{metrics[f'gradient_scored_{which}']} weight gradients scored, {scored:.1%} of "
                f"the non-negligible ones; EventProp vs autodiff "
                f"{metrics[f'gradient_error_vs_autodiff_{which}']:.1e}"
            )
            return ClaimResult(claim, value, bool(ok), detail)
        ok = np.isfinite(value) and value >= BITS_RATIO_THRESHOLD
        detail = (
            f"{metrics['dense_bits']:.0f} dense vs {metrics['event_bits']:.0f} event bits "
            f"({metrics['mean_spikes_per_sample']:.1f} spikes per sample)"
        )
        return ClaimResult(claim, value, bool(ok), detail)
