"""NeuroBench metrics for every model the training pages train.

Each training page's model (surrogate-gradient BPTT, EventProp, DelGrad) is trained with its
page's defaults for a fixed number of steps, then measured on its test set with the NeuroBench
algorithm-track metrics (:func:`snnviz.core.metrics.neurobench_metrics`: footprint, parameter
count, connection and activation sparsity, synaptic operations, accuracy), whose definitions
were checked number for number against the ``neurobench`` package 2.3.0
(``scripts/compare_neurobench.py``).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import Any, ClassVar

import holoviews as hv
import numpy as np
import panel as pn
import param

from snnviz.components import ErrorBanner, ProgressReporter
from snnviz.core.metrics import LayerActivity, neurobench_metrics
from snnviz.views import metrics_table

from ._base import DemoPage, Progress
from ._layout import ReproduceSection, page_layout
from ._result import Claim, ClaimResult

EXPLANATION = """
NeuroBench (Yik et al. 2025) argues that accuracy alone does not rank neuromorphic solutions:
it defines **correctness** metrics (here: test accuracy) and **complexity** metrics —
*footprint* (bytes of parameters and buffers), *connection sparsity* (fraction of zero weights),
*activation sparsity* (fraction of silent neuron outputs over time and samples) and *synaptic
operations* per sample: *Dense* (every weight at every step, as a dense accelerator would),
*Effective MACs* (non-zero real-valued inputs × non-zero weights) and *Effective ACs* (binary
spikes × non-zero weights: what event-driven hardware pays). Press **Train and measure**: each
training page's model is trained with its page's defaults on Yin-Yang (DelGrad with its
page's default delay type), then measured on its test set. The TTFS models (EventProp, DelGrad)
are event-based: an input spike costs its fan-out, and "Dense" assumes the 0.5 ms grid that a
time-stepped simulation of the same run would need.
"""


def _surrogate() -> Any:
    from snnviz.models.surrogate_training import SurrogateTrainer

    return SurrogateTrainer()


def _eventprop() -> Any:
    from snnviz.models.eventprop_training import EventPropTrainer

    return EventPropTrainer()


def _delgrad_yinyang() -> Any:
    from snnviz.models.delgrad_training import DelGradModel, DelGradTrainer

    model = DelGradModel(task="yinyang")
    model.apply_task_defaults()  # the DelGrad page's Yin-Yang settings (30 hidden neurons)
    return DelGradTrainer(model)


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """One trained model of the table: ``factory()`` builds its page's Trainer (with a
    ``neurobench()`` report); it trains ``steps_quick`` / ``steps_full`` minibatch steps."""

    name: str
    page: str
    factory: Callable[[], Any]
    steps_quick: int
    steps_full: int

    def trainer(self) -> Any:
        return self.factory()


MODELS: tuple[ModelEntry, ...] = (
    ModelEntry("Surrogate BPTT (LIF)", "lohoff2024_snnax", _surrogate, 1000, 3000),
    ModelEntry("EventProp (TTFS LIF)", "wunderlich2021_eventprop", _eventprop, 1000, 3000),
    ModelEntry("DelGrad (TTFS LIF + delays)", "goeltz2025_delgrad", _delgrad_yinyang, 1000, 3000),
)
CALL_STEPS = 50  # training steps per call (one compiled step count per trainer)


def train_and_measure(entry: ModelEntry, steps: int, progress: Progress) -> dict[str, Any]:
    """Train ``entry``'s model for ``steps`` minibatch steps from seed 0; return its report
    (``neurobench()``) plus ``model``, ``page``, ``steps`` and ``train_s``."""
    start = time.perf_counter()
    trainer = entry.trainer()
    trainer.reset(0)
    done = 0
    while done < steps:
        n = min(CALL_STEPS, steps - done)
        trainer.train_steps(n)
        done += n
        progress(done / steps, f"{entry.name}: step {done}/{steps}")
    trainer.evaluate()
    report = trainer.neurobench()
    report.update(
        model=entry.name, page=entry.page, steps=done, train_s=time.perf_counter() - start
    )
    return report


def table_row(report: dict[str, Any]) -> dict[str, Any]:
    """The flat metrics-table row of a report."""
    return {"Model": report["model"], **report["table"], "Training steps": report["steps"]}


def reference_case() -> dict[str, float]:
    """NeuroBench's definitions on a hand-computable layer: 3 of 10 binary inputs active for
    one step into a dense 10x5 layer with one weight zeroed (in an inactive row), and a
    second, graded input sample. Expected: Dense 50, Effective ACs 15 for the spike sample;
    connection sparsity 1/50; the graded sample's 4 non-zero inputs give 20 effective MACs."""
    w = np.ones((10, 5), np.float32)
    w[9, 0] = 0.0
    spikes = np.zeros((1, 1, 10), np.float32)
    spikes[0, 0, :3] = 1.0
    graded = np.zeros((1, 1, 10), np.float32)
    graded[0, 0, :4] = [0.5, 2.0, -1.5, 0.25]
    binary = neurobench_metrics({"w": w}, [LayerActivity(w, spikes)])
    analog = neurobench_metrics({"w": w}, [LayerActivity(w, graded)])
    return {
        "dense": binary["synaptic_operations"]["Dense"],
        "effective_acs": binary["synaptic_operations"]["Effective_ACs"],
        "connection_sparsity": binary["connection_sparsity"],
        "effective_macs_graded": analog["synaptic_operations"]["Effective_MACs"],
        "footprint": binary["footprint"],
    }


def reference_bars(ref: dict[str, float]) -> hv.Bars:
    """The reference layer's operation counts: what each synaptic-operation metric charges."""
    bars = [
        ("Dense (every weight)", ref["dense"]),
        ("Effective ACs (3 spikes)", ref["effective_acs"]),
        ("Effective MACs (4 graded inputs)", ref["effective_macs_graded"]),
    ]
    return hv.Bars(bars, kdims=["metric"], vdims=["operations"]).opts(
        title="Reference layer 10 × 5: operations per sample",
        height=260,
        responsive=True,
        tools=["hover"],
        xlabel="",
        ylabel="operations",
    )


def accuracy_vs_synops(reports: list[dict[str, Any]]) -> hv.Overlay:
    """Test accuracy against effective synaptic operations per sample, one point per model."""
    rows = [
        (
            r["synaptic_operations"]["Effective_ACs"] + r["synaptic_operations"]["Effective_MACs"],
            100.0 * r["classification_accuracy"],
            r["model"],
        )
        for r in reports
    ]
    points = hv.Points(rows, kdims=["synops", "accuracy"], vdims=["model"]).opts(
        size=12,
        color="model",
        cmap="Category10",
        tools=["hover"],
        logx=True,
        xlabel="effective synaptic operations / sample (ACs + MACs)",
        ylabel="test accuracy (%)",
        title="Correctness vs cost",
        legend_position="bottom_right",
        height=320,
        responsive=True,
        show_legend=True,
    )
    labels = hv.Labels(rows, kdims=["synops", "accuracy"], vdims=["model"]).opts(
        text_font_size="9pt", yoffset=1.5
    )
    return points * labels


def footprint_bars(reports: list[dict[str, Any]]) -> hv.Bars:
    """Footprint (bytes) per model."""
    return hv.Bars(
        [(r["model"], r["footprint"]) for r in reports], kdims=["model"], vdims=["footprint"]
    ).opts(
        ylabel="footprint (bytes)",
        xlabel="",
        title="Memory footprint",
        height=320,
        responsive=True,
        tools=["hover"],
    )


def _claim(key: str, paper: str, check: str, judge: Callable[[dict], tuple[Any, bool]]):
    return Claim(key, paper, check), judge


def _judge_definitions(m: dict) -> tuple[Any, bool]:
    ref = m["reference_case"]
    ok = (
        ref["dense"] == 50
        and ref["effective_acs"] == 15
        and math.isclose(ref["connection_sparsity"], 1 / 50)
        and ref["effective_macs_graded"] == 20
        and ref["footprint"] == 200
    )
    return (
        f"Dense {ref['dense']:g}, ACs {ref['effective_acs']:g}, MACs {ref['effective_macs_graded']:g}",
        ok,
    )


def _judge_complete(m: dict) -> tuple[Any, bool]:
    bad = []
    for r in m["reports"]:
        values = [
            r["footprint"],
            r["parameter_count"],
            r["connection_sparsity"],
            r["activation_sparsity"],
            r["classification_accuracy"],
            *r["synaptic_operations"].values(),
        ]
        in_range = (
            0 <= r["connection_sparsity"] <= 1
            and 0 <= r["activation_sparsity"] <= 1
            and r["synaptic_operations"]["Effective_ACs"]
            + r["synaptic_operations"]["Effective_MACs"]
            <= r["synaptic_operations"]["Dense"]
        )
        if not (all(v is not None and np.isfinite(v) for v in values) and in_range):
            bad.append(r["model"])
    return f"{len(m['reports']) - len(bad)}/{len(m['reports'])} models complete", not bad


def _judge_spread(m: dict) -> tuple[Any, bool]:
    ratio = m["synops_spread_at_similar_accuracy"]
    return ratio, bool(np.isfinite(ratio) and ratio >= 2.0)


def _judge_accuracy(m: dict) -> tuple[Any, bool]:
    worst = min(r["classification_accuracy"] for r in m["reports"])
    return worst, worst > 0.5


_CHECKS = [
    _claim(
        "definitions",
        "NeuroBench defines Dense / effective MAC / effective AC synaptic "
        "operations, footprint and sparsities (Yik et al. 2025, Methods)",
        "hand-computable layer: Dense 50, Effective ACs 15, MACs 20, sparsity 1/50, 200 B",
        _judge_definitions,
    ),
    _claim(
        "complete",
        "every metric is reported for every model",
        "all models: metrics finite, sparsities in [0, 1], effective ops <= Dense",
        _judge_complete,
    ),
    _claim(
        "trained",
        "the measured models are trained, not random",
        "every model's test accuracy > 50 % (chance 33 % on Yin-Yang)",
        _judge_accuracy,
    ),
    _claim(
        "synops_spread",
        "correctness alone does not rank solutions: models of similar "
        "accuracy differ in cost (the premise of the benchmark)",
        "among the Yin-Yang models within 10 points of the best accuracy, max / min "
        "effective synaptic operations per sample >= 2",
        _judge_spread,
    ),
]


class NeuroBenchPage(DemoPage):
    """The NeuroBench table of the training pages' models (see the module docstring)."""

    slug: ClassVar[str] = "yik2025_neurobench"
    title: ClassVar[str] = "NeuroBench metrics of the trained models"
    summary: ClassVar[str] = (
        "Footprint, sparsity, synaptic operations and accuracy of every model trained on the "
        "training pages, with NeuroBench's definitions (checked against the neurobench package)."
    )
    reference: ClassVar[str] = (
        "Yik J. et al., NeuroBench: a framework for benchmarking neuromorphic computing "
        "algorithms and systems, Nat. Commun. 16 (2025); arXiv:2304.04640"
    )
    claims: ClassVar[tuple[Claim, ...]] = tuple(c for c, _ in _CHECKS)
    url_params: ClassVar[tuple[str, ...]] = ("run",)

    run = param.Selector(
        objects=["quick", "full"],
        default="quick",
        doc="Training budget of the live button: quick (~1 min) or full.",
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.banner = ErrorBanner()
        self.progress = ProgressReporter()
        self.button = pn.widgets.Button(label="Train and measure", color="primary")
        self.button.on_click(self._start)
        self.progress.param.watch(lambda e: setattr(self.button, "disabled", e.new), "busy")
        self.table = pn.Column(
            pn.pane.Markdown("*Press **Train and measure** to fill the table.*"),
            sizing_mode="stretch_width",
        )
        self.plots = pn.Row(sizing_mode="stretch_width")
        self.definitions = pn.pane.Markdown(self._definitions_text(), sizing_mode="stretch_width")
        self.reference_plot = pn.pane.HoloViews(
            reference_bars(reference_case()), sizing_mode="stretch_width"
        )

    def _definitions_text(self) -> str:
        ref = reference_case()
        return (
            f"Reference layer (3 of 10 spikes into 10×5, one zero weight): Dense "
            f"{ref['dense']:g}, effective ACs {ref['effective_acs']:g}, connection sparsity "
            f"{ref['connection_sparsity']:.3f}; graded input: {ref['effective_macs_graded']:g}"
            f" effective MACs."
        )

    # -- live ------------------------------------------------------------------------------
    def _start(self, _event: object = None) -> None:
        self.banner.clear()
        quick = self.run == "quick"
        self.progress.run(
            lambda report: self.measure_all(quick, report),
            on_done=self._show,
            on_error=self.banner.show,
        )

    def measure_all(self, quick: bool, progress: Progress) -> list[dict[str, Any]]:
        """Train and measure every model in :data:`MODELS` (``quick`` = the quick budget)."""
        reports = []
        for i, entry in enumerate(MODELS):
            steps = entry.steps_quick if quick else entry.steps_full

            def sub(fraction: float, message: str, i: int = i) -> None:
                progress((i + fraction) / len(MODELS), message)

            reports.append(train_and_measure(entry, steps, sub))
        return reports

    def _show(self, reports: list[dict[str, Any]]) -> None:
        self.table[:] = [
            pn.pane.HoloViews(
                metrics_table([table_row(r) for r in reports]), sizing_mode="stretch_width"
            )
        ]
        self.plots[:] = [
            pn.pane.HoloViews(accuracy_vs_synops(reports), sizing_mode="stretch_width"),
            pn.pane.HoloViews(footprint_bars(reports), sizing_mode="stretch_width"),
        ]

    def __panel__(self) -> pn.viewable.Viewable:
        sidebar = [
            pn.Param(
                self,
                parameters=["run"],
                show_name=False,
                widgets={"run": pn.widgets.RadioButtonGroup},
            ),
            self.button,
            self.progress,
        ]
        main = [
            self.banner,
            self.definitions,
            self.reference_plot,
            self.table,
            self.plots,
            ReproduceSection(self, self.banner),
        ]
        return page_layout(self, EXPLANATION, sidebar, main)

    # -- reproduce -------------------------------------------------------------------------
    def _measure(self, quick: bool, progress: Progress) -> tuple[dict, dict]:
        reports = self.measure_all(quick, progress)
        best = max(r["classification_accuracy"] for r in reports)  # all on Yin-Yang
        close = [r for r in reports if r["classification_accuracy"] >= best - 0.10]
        ops = [
            r["synaptic_operations"]["Effective_ACs"] + r["synaptic_operations"]["Effective_MACs"]
            for r in close
        ]
        spread = max(ops) / min(ops) if len(ops) > 1 and min(ops) > 0 else float("nan")
        metrics = {
            "reference_case": reference_case(),
            "reports": reports,
            "synops_spread_at_similar_accuracy": spread,
            "models_compared": [r["model"] for r in close],
        }
        figures = {
            "accuracy vs synaptic operations": accuracy_vs_synops(reports),
            "footprint": footprint_bars(reports),
            "NeuroBench table": metrics_table([table_row(r) for r in reports]),
        }
        return metrics, figures

    def _judge(self, claim: Claim, metrics: dict) -> ClaimResult:
        measured, ok = _JUDGES[claim.key](metrics)
        return ClaimResult(claim, measured, bool(ok))


_JUDGES = {c.key: j for c, j in _CHECKS}
