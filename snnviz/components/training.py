"""Live training: a :class:`TrainingSession` drives any :class:`Trainer` without blocking the
server, streams loss/accuracy curves and refreshes the page's other views at a low rate.

The session is a thin layer over :class:`~snnviz.components.LiveLoop`: one loop *chunk* is one
``trainer.train_steps(steps_per_call)`` call (``chunk_ms`` is 1 and ``speed`` is maximal, so
the loop's wall-clock pacing reduces to "as many calls per frame as the compute budget
allows"). From the loop it inherits: frames from the process-wide scheduler, calls on the
worker pool (one at a time per session; a reset waits for the running call), Play/Pause/Step/
Reset through :class:`~snnviz.components.RunControls`, exceptions that pause and report
instead of killing the server, and cleanup when the browser session ends. It works the same in a
notebook (the scheduler's timer runs on the kernel's event loop).

What the session adds, per call (on the worker thread):

* applies queued hyperparameters (:meth:`TrainingSession.set_hyperparameters`) *between* calls,
  so a learning-rate slider takes effect on the next call without a restart;
* evaluates (``trainer.evaluate()``) every ``eval_every_steps`` steps, or at most ``eval_hz``
  times a second when that is 0, and always on the call that stops training (Step, a pause,
  the budget);
* takes ``trainer.snapshot()`` at most ``view_hz`` times a second (and when stopping), and
  less often when the view listeners are slow: they may use at most ``max_view_fraction`` of
  the session's thread (redrawing a HoloViews pane by replacing its object costs 0.2-0.5 s,
  so two such views would otherwise starve the frames; a ``hv.streams.Pipe`` is ~4x cheaper);
* stops at the first call that reaches ``max_steps`` (status "done");
* raises :class:`TrainingDiverged` on a NaN/inf metric, so the loop pauses with a message.

Back on the session's thread each frame it appends the metrics to :attr:`history`, streams them
to :class:`LearningCurves`, refreshes the readout ("step 1200 · epoch 3.2 · test acc 87.1 %")
at most ``readout_hz`` times a second, and hands fresh snapshots to the view listeners.

Example (a page; ``trainer.snapshot()`` returns the predicted class on a grid)::

    session = TrainingSession(trainer, chance=1 / 3, max_steps=5000)
    grid = hv.streams.Pipe(data=session.latest_update.snapshot)   # the fresh model's map
    decision = hv.DynamicMap(                        # a Pipe redraws ~4x cheaper than
        lambda data: decision_map(xs, ys, data),     # replacing a pane's object
        streams=[grid],
    ) * test_points
    session.add_view_listener(lambda update: grid.send(update.snapshot))  # <= view_hz
    lr = pn.widgets.FloatLogSlider(name="learning rate", start=-4, end=-1, value=1e-2)
    lr.param.watch(lambda e: session.set_hyperparameters(learning_rate=e.new), "value_throttled")
    sidebar = pn.Column(session.controls, lr, session.settings())
    main = pn.Column(session.live_view(), pn.pane.HoloViews(decision))
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import panel as pn
import param
from bokeh.models import ColumnDataSource, DataRange1d, Range1d, Span
from bokeh.palettes import Category10_10
from numpy.typing import ArrayLike

from snnviz.views.training import ACCURACY_KEYS, LOSS_KEYS, TEST_COLOR, TRAIN_COLOR

from . import _runtime
from .controls import RunControls
from .feedback import ErrorBanner
from .live_loop import LiveLoop
from .live_plots import Backend, _base_figure, _check_backend, _Viewable
from .scheduler import FrameScheduler

log = logging.getLogger(__name__)

Status = Literal["paused", "running", "done", "error"]


@runtime_checkable
class Trainer(Protocol):
    """What a :class:`TrainingSession` drives: a model, its optimiser and its data.

    The session never calls two of these methods at the same time, but it calls them from a
    worker thread (``reset`` from the session's thread while no other call runs). Keep the
    model state in attributes that a call replaces whole (``self.params = new_params``).

    Hyperparameters a page changes while training (learning rate, surrogate slope) should be
    traced values in the compiled step (e.g. ``optax.inject_hyperparams``), read at each call,
    so a change never recompiles. The session sets them between calls, through
    ``set_hyperparameters(**values)`` if the trainer has that method, else with ``setattr``.
    """

    def reset(self, seed: int) -> None:
        """Fresh model and optimiser state from ``seed`` (cheap: no training, no data load)."""

    def train_steps(self, n: int) -> Mapping[str, float]:
        """Run ``n`` minibatch steps (jitted, typically 10-500 ms) and return the latest
        metrics, e.g. ``{"loss": .., "train_acc": .., "epoch": ..}``; accuracies as fractions
        in [0, 1]. A ``"step"`` key is replaced by the session's own count. ``n`` is usually
        constant (``steps_per_call``), so it may be a static argument of a ``lax.scan``."""

    def evaluate(self) -> Mapping[str, float]:
        """Test-set metrics, e.g. ``{"test_acc": .., "test_loss": ..}``."""

    def snapshot(self) -> Any:
        """Whatever the page's views need (params, a decision map's grid of predictions),
        computed here on the worker thread so the view listeners only draw."""


class TrainingDiverged(ArithmeticError):
    """A metric returned by the trainer was NaN or infinite."""


@dataclasses.dataclass(frozen=True)
class TrainingUpdate:
    """What view listeners receive.

    ``steps``: optimisation steps since the reset; ``metrics``: the newest value of every
    metric (train and test merged); ``snapshot``: ``trainer.snapshot()`` taken after ``steps``
    steps; ``reason``: ``"reset"`` (fresh model), ``"training"`` (periodic refresh) or
    ``"stopped"`` (training paused, finished or a Step: the final state).
    """

    steps: int
    metrics: Mapping[str, float]
    snapshot: Any
    reason: Literal["reset", "training", "stopped"]


@dataclasses.dataclass
class _CallRecord:
    """One call's outcome, handed from the worker to the session's thread.

    Deliberately not a pytree: LiveLoop's NaN scan sees one opaque leaf and skips it (the
    session checks the metrics itself, and a snapshot may legitimately hold inf, e.g. "no
    spike" times)."""

    steps: int
    metrics: dict[str, float] | None = None
    snapshot: Any = None
    has_snapshot: bool = False
    done: bool = False


def _finite_or_raise(metrics: Mapping[str, float], steps: int, source: str) -> None:
    for key, value in metrics.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if not math.isfinite(number):
            raise TrainingDiverged(
                f"{source} returned {key} = {number} at step {steps}; training paused. Lower "
                "the learning rate, then press Reset."
            )


def format_readout(
    steps: int,
    metrics: Mapping[str, float],
    *,
    status: str = "",
    steps_per_s: float | None = None,
    max_steps: int | None = None,
) -> str:
    """One line such as ``step 1200 / 5000 · epoch 3.2 · loss 0.412 · test acc 87.1 %``.

    Shows ``epoch``, ``loss``, ``train_acc``, ``test_acc`` when present (accuracies are
    fractions, shown in %), then the speed and the status.
    """
    parts = [f"step {steps}" + (f" / {max_steps}" if max_steps is not None else "")]
    if "epoch" in metrics:
        parts.append(f"epoch {float(metrics['epoch']):.1f}")
    if "loss" in metrics:
        parts.append(f"loss {float(metrics['loss']):.3g}")
    for key, label in (("train_acc", "train acc"), ("test_acc", "test acc")):
        if key in metrics:
            parts.append(f"{label} {100.0 * float(metrics[key]):.1f} %")
    if steps_per_s is not None and steps_per_s > 0:
        parts.append(f"{steps_per_s:.3g} steps/s")
    if status:
        parts.append(status)
    return " · ".join(parts)


# -- live curves -------------------------------------------------------------------------------
class LiveCurves(_Viewable):
    """Named series of (x, y) points that grow for the whole run, always fully visible.

    Unlike :class:`~snnviz.components.LiveTraces` (a rolling time window), learning curves keep
    their start: each series shows every ``stride``-th point, and when a series would exceed
    ``max_points`` its stride doubles and its source is rebuilt once (so a run of any length
    costs at most ``max_points`` points per series and ``log2(length / max_points)`` rebuilds).
    Ordinary pushes are one ``stream`` per series.

    Args:
        names: series (legend entries).
        xlabel, ylabel, title, height, backend, x_range: figure options (``x_range``: share
            another figure's range).
        y_range: fixed ``(low, high)`` or None to follow the data.
        max_points: points kept per series (>= 2).
        colors: one colour per series (default Category10).
    """

    def __init__(
        self,
        names: Sequence[str],
        *,
        xlabel: str = "training step",
        ylabel: str = "",
        title: str = "",
        height: int = 240,
        y_range: tuple[float, float] | None = None,
        x_range: Any = None,
        max_points: int = 2000,
        colors: Sequence[str] | None = None,
        backend: Backend = "canvas",
    ) -> None:
        self.names = [str(n) for n in names]
        if not self.names or len(set(self.names)) != len(self.names):
            raise ValueError(f"LiveCurves: need distinct series names, got {self.names}")
        if int(max_points) < 2:
            raise ValueError(f"LiveCurves: max_points must be >= 2, got {max_points}")
        self.max_points = int(max_points)
        self.sources = {n: ColumnDataSource({"x": [], "y": []}) for n in self.names}
        self.figure = _base_figure(
            title=title,
            ylabel=ylabel,
            height=height,
            backend=_check_backend(backend),
            x_range=x_range if x_range is not None else DataRange1d(),
            y_range=Range1d(*y_range) if y_range is not None else DataRange1d(),
        )
        self.figure.xaxis.axis_label = xlabel
        palette = list(colors) if colors is not None else list(Category10_10)
        for i, name in enumerate(self.names):
            self.figure.line(
                "x",
                "y",
                source=self.sources[name],
                color=palette[i % len(palette)],
                line_width=2,
                legend_label=name,
            )
        self.figure.legend.location = "top_right"
        self.figure.legend.click_policy = "hide"
        self._full: dict[str, tuple[list[float], list[float]]] = {}
        self._stride: dict[str, int] = {}
        self.reset()

    def stride(self, name: str) -> int:
        """Every how many points of series ``name`` one is drawn."""
        return self._stride[name]

    def push(self, name: str, x: ArrayLike, y: ArrayLike) -> None:
        """Append points ``(x[i], y[i])`` to series ``name``."""
        if name not in self.sources:
            raise ValueError(f"LiveCurves: unknown series {name!r}; have {self.names}")
        xs = np.asarray(x, dtype=np.float64).ravel()
        ys = np.asarray(y, dtype=np.float64).ravel()
        if xs.shape != ys.shape:
            raise ValueError(f"LiveCurves.push: x and y lengths differ ({xs.size}, {ys.size})")
        if xs.size == 0:
            return
        full_x, full_y = self._full[name]
        start = len(full_x)
        full_x.extend(xs.tolist())
        full_y.extend(ys.tolist())
        stride = self._stride[name]
        if math.ceil(len(full_x) / stride) > self.max_points:
            while math.ceil(len(full_x) / stride) > self.max_points:
                stride *= 2
            self._stride[name] = stride
            self.sources[name].data = {"x": full_x[::stride], "y": full_y[::stride]}
        else:
            keep = (start + np.arange(xs.size)) % stride == 0
            if keep.any():
                self.sources[name].stream({"x": xs[keep], "y": ys[keep]}, rollover=self.max_points)
        self._sent()

    def reset(self) -> None:
        """Remove all points."""
        for name in self.names:
            self._full[name] = ([], [])
            self._stride[name] = 1
            self.sources[name].data = {"x": [], "y": []}
        self._sent()


class LearningCurves:
    """Loss and accuracy (%) against the training step, train and test, streamed live.

    Two :class:`LiveCurves` sharing the x axis: ``loss`` (keys ``loss_keys``) and ``accuracy``
    (keys ``accuracy_keys``, fractions drawn in %, y from 0 to 100) with an optional dashed
    chance line. :meth:`push` takes history rows (dicts with ``step`` and any of the keys; rows
    without a key are skipped for that curve, so sparse evaluations draw a continuous line).

    Args:
        chance: chance accuracy as a fraction (1/3 for three classes), or None.
        loss_keys, accuracy_keys: ``{history key: legend label}``.
        max_points, height, backend: as for :class:`LiveCurves`.
        layout: ``"row"`` (side by side) or ``"column"``.
    """

    def __init__(
        self,
        *,
        chance: float | None = None,
        loss_keys: Mapping[str, str] = LOSS_KEYS,
        accuracy_keys: Mapping[str, str] = ACCURACY_KEYS,
        max_points: int = 2000,
        height: int = 240,
        backend: Backend = "canvas",
        layout: Literal["row", "column"] = "row",
    ) -> None:
        if chance is not None and not 0.0 <= chance <= 1.0:
            raise ValueError(f"LearningCurves: chance must be a fraction in [0, 1], got {chance}")
        if layout not in ("row", "column"):
            raise ValueError(f"LearningCurves: layout must be 'row' or 'column', got {layout!r}")
        self.loss_keys = dict(loss_keys)
        self.accuracy_keys = dict(accuracy_keys)
        colors = [TRAIN_COLOR, TEST_COLOR, *Category10_10[2:]]
        common = {"max_points": max_points, "height": height, "backend": backend, "colors": colors}
        self.loss = LiveCurves(list(self.loss_keys.values()), ylabel="loss", title="Loss", **common)
        self.accuracy = LiveCurves(
            list(self.accuracy_keys.values()),
            ylabel="accuracy (%)",
            title="Accuracy",
            y_range=(0.0, 100.0),
            x_range=self.loss.figure.x_range,
            **common,
        )
        self.accuracy.figure.legend.location = "bottom_right"
        self.chance = chance
        if chance is not None:
            self.accuracy.figure.add_layout(
                Span(
                    location=100.0 * chance,
                    dimension="width",
                    line_dash="dashed",
                    line_color="grey",
                )
            )
        self._layout = layout

    def push(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Append history rows (each with ``step``)."""
        for curves, keys, scale in (
            (self.loss, self.loss_keys, 1.0),
            (self.accuracy, self.accuracy_keys, 100.0),
        ):
            for key, label in keys.items():
                pts = [(float(r["step"]), float(r[key])) for r in rows if key in r and "step" in r]
                if pts:
                    x, y = np.asarray(pts).T
                    curves.push(label, x, y * scale)

    def reset(self) -> None:
        """Clear both plots."""
        self.loss.reset()
        self.accuracy.reset()

    def __panel__(self) -> pn.viewable.Viewable:
        panes = (self.loss.__panel__(), self.accuracy.__panel__())
        if self._layout == "row":
            return pn.Row(*panes, sizing_mode="stretch_width")
        return pn.Column(*panes, sizing_mode="stretch_width")


# -- the session -------------------------------------------------------------------------------
class TrainingSession(pn.viewable.Viewer):
    """Train ``trainer`` live: controls, readout, learning curves, view listeners (see the
    module docstring for what happens per call and per frame).

    Parts for custom layouts (the session itself lays out controls, readout, progress, the
    banner if it owns it, and the curves; :meth:`live_view` is all but the controls): ``controls`` (:class:`RunControls`: Play/Pause,
    Step = one call, Reset), ``readout`` (Markdown), ``progress`` (steps / ``max_steps``),
    ``banner`` (:class:`ErrorBanner`), ``curves`` (:class:`LearningCurves`), ``loop``
    (the :class:`LiveLoop`), :meth:`settings` (widgets for the session's parameters).

    Args:
        trainer: what to train (:class:`Trainer`); ``trainer.reset(seed)`` is called here.
        banner: where errors are shown (default: a banner of its own, in the layout).
        chance: chance accuracy (fraction) for the accuracy plot.
        curves: the live curves (default ``LearningCurves(chance=chance)``).
        max_calls_per_frame: most ``train_steps`` calls per frame; the loop also keeps a frame's
            calls under ``max_frame_work_ms`` (measured median call cost; at least one call).
        readout_hz: most readout refreshes per second (each is a message to the browser).
        max_view_fraction: share of the session thread's time the view listeners may use:
            after a refresh that took ``c`` s the next one waits at least
            ``c / max_view_fraction`` s (in addition to ``1 / view_hz``).
        offload: True (default) = every call on the worker pool; None = inline when cheap.
        clock, scheduler, executor, dispatch, doc: as for :class:`LiveLoop` (tests inject them).
    """

    steps_per_call = param.Integer(
        default=10,
        bounds=(1, None),
        softbounds=(1, 500),
        doc="Optimisation steps per train_steps call (a new value may compile once).",
    )
    eval_every_steps = param.Integer(
        default=0,
        bounds=(0, None),
        softbounds=(0, 5000),
        doc="Evaluate on the test set every this many steps; 0 = at most eval_hz times a second.",
    )
    eval_hz = param.Number(
        default=5.0,
        bounds=(0.01, 1000.0),
        doc="Most evaluations per second when eval_every_steps = 0.",
    )
    view_hz = param.Number(
        default=2.0,
        bounds=(0.01, 1000.0),
        softbounds=(0.2, 10.0),
        doc="Most snapshots (refreshes of the other views) per second.",
    )
    max_steps = param.Integer(
        default=10_000,
        bounds=(1, None),
        allow_None=True,
        doc="Training budget: pause with status 'done' once this many steps ran (None: no limit).",
    )
    seed = param.Integer(default=0, bounds=(0, None), doc="Seed of the next Reset.")
    status = param.Selector(
        default="paused",
        objects=["paused", "running", "done", "error"],
        constant=True,
        doc="paused, running, done (budget reached) or error (see the banner).",
    )

    def __init__(
        self,
        trainer: Trainer,
        *,
        banner: ErrorBanner | None = None,
        chance: float | None = None,
        curves: LearningCurves | None = None,
        max_calls_per_frame: int = 8,
        max_frame_work_ms: float = 50.0,
        readout_hz: float = 4.0,
        max_view_fraction: float = 0.25,
        max_history: int = 50_000,
        offload: bool | None = True,
        clock: Callable[[], float] = time.perf_counter,
        scheduler: FrameScheduler | None = None,
        executor: concurrent.futures.Executor | None = None,
        dispatch: _runtime.Dispatch | None = None,
        doc: Any = None,
        **params: Any,
    ) -> None:
        missing = [
            m
            for m in ("reset", "train_steps", "evaluate", "snapshot")
            if not callable(getattr(trainer, m, None))
        ]
        if missing:
            raise TypeError(
                f"TrainingSession: the trainer {type(trainer).__name__} lacks {missing}; it must "
                "implement reset(seed), train_steps(n), evaluate() and snapshot()"
            )
        if not 0.0 < max_view_fraction <= 1.0:
            raise ValueError(
                f"TrainingSession: max_view_fraction must be in (0, 1], got {max_view_fraction}"
            )
        if int(max_calls_per_frame) < 1 or int(max_history) < 2:
            raise ValueError(
                "TrainingSession: need max_calls_per_frame >= 1 and max_history >= 2, got "
                f"{max_calls_per_frame} and {max_history}"
            )
        super().__init__(**params)
        self.trainer = trainer
        self.max_calls_per_frame = int(max_calls_per_frame)
        self.max_history = int(max_history)
        self._clock = clock
        self._readout_gap = 1.0 / readout_hz if readout_hz > 0 else 0.0
        self._max_view_fraction = float(max_view_fraction)
        self._view_cost_s = 0.0  # duration of the last refresh of the view listeners
        self._own_banner = banner is None
        self.banner = banner if banner is not None else ErrorBanner(doc=doc, dispatch=dispatch)
        self.curves = curves if curves is not None else LearningCurves(chance=chance)
        self.history: list[dict[str, float]] = []
        self.latest_update: TrainingUpdate | None = None
        self._latest: dict[str, float] = {}
        self._steps = 0  # pushed to the page (session thread)
        self._snapshot_steps = -1
        self._rate: collections.deque[tuple[float, int]] = collections.deque()
        self._last_readout = -math.inf
        self._view_listeners: list[Callable[[TrainingUpdate], None]] = []
        self._pending: dict[str, Any] = {}
        self._pending_lock = threading.Lock()
        self._closed = False
        self._reset_worker_counters()
        self.readout = pn.pane.Markdown("", sizing_mode="stretch_width", margin=(0, 10))
        self.progress = pn.indicators.Progress(
            value=0, max=1000, height=12, sizing_mode="stretch_width", visible=False
        )
        doc = doc if doc is not None else _runtime.current_doc()
        self.loop = LiveLoop(
            self._advance,
            self._push,
            chunk_ms=1.0,  # one "chunk" is one train_steps call
            on_reset=self._on_reset,
            on_error=self._on_error,
            offload=offload,
            max_frame_work_ms=max_frame_work_ms,
            clock=clock,
            scheduler=scheduler,
            executor=executor,
            dispatch=dispatch,
            doc=doc,
            speed=1000.0,  # owe far more calls than the budget allows: train flat out
            max_chunks_per_frame=1,  # until a call's cost is known (the first call compiles)
        )
        self.controls = RunControls(self.loop, show_speed=False, show_time=False)
        self.controls.step_button.description = "Run one call of steps_per_call training steps"
        self.controls.reset_button.description = "Re-initialise the model from the seed"
        self.loop.param.watch(self._on_running, "running")
        self.param.watch(self._on_steps_per_call, "steps_per_call")
        self.param.watch(self._on_max_steps, "max_steps")
        _runtime.on_session_destroyed(doc, self.close)
        self.loop.reset()  # trainer.reset(seed) through _on_reset (errors go to the banner)

    # -- public API ----------------------------------------------------------------------------
    @property
    def steps(self) -> int:
        """Optimisation steps shown so far (since the last reset)."""
        return self._steps

    @property
    def metrics(self) -> dict[str, float]:
        """The newest value of every metric (train and test merged)."""
        return dict(self._latest)

    @property
    def budget_reached(self) -> bool:
        return self.max_steps is not None and self._steps >= self.max_steps

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def view_gap_s(self) -> float:
        """Least time between two view refreshes while training (s): ``1 / view_hz``, or
        longer when the listeners are slow (see ``max_view_fraction``)."""
        return max(1.0 / float(self.view_hz), self._view_cost_s / self._max_view_fraction)

    @property
    def pending_hyperparameters(self) -> dict[str, Any]:
        """Hyperparameters set but not yet handed to the trainer (applied before its next call)."""
        with self._pending_lock:
            return dict(self._pending)

    def play(self) -> None:
        """Start (or resume) training."""
        self.loop.play()

    def pause(self) -> None:
        """Stop starting calls (a call in flight finishes and is shown)."""
        self.loop.pause()

    def step(self) -> None:
        """Pause, then run exactly one call of ``steps_per_call`` steps."""
        self.loop.step()

    def reset(self) -> None:
        """Fresh model from ``seed`` and empty curves (after any call in flight returns)."""
        self.loop.reset()

    def set_hyperparameters(self, **values: Any) -> None:
        """Queue hyperparameter changes; the trainer gets them right before its next call
        (never in the middle of one), and a running frame is cut short to show them soon.

        Raises ValueError for a name the trainer lacks (unless it has ``set_hyperparameters``,
        which then validates them itself).
        """
        if not hasattr(self.trainer, "set_hyperparameters"):
            unknown = sorted(k for k in values if not hasattr(self.trainer, k))
            if unknown:
                raise ValueError(
                    f"TrainingSession.set_hyperparameters: the trainer "
                    f"{type(self.trainer).__name__} has no attribute(s) {unknown}"
                )
        with self._pending_lock:
            self._pending.update(values)
        self.loop.parameters_changed()

    def add_view_listener(
        self, callback: Callable[[TrainingUpdate], None], *, call_now: bool = True
    ) -> None:
        """Call ``callback(update)`` on the session's thread with every fresh snapshot: at most
        ``view_hz`` times a second while training, after a reset and when training stops.
        With ``call_now``, also right away with the latest update (the initial model)."""
        self._view_listeners.append(callback)
        if call_now and self.latest_update is not None:
            callback(self.latest_update)

    def remove_view_listener(self, callback: Callable[[TrainingUpdate], None]) -> None:
        self._view_listeners = [c for c in self._view_listeners if c is not callback]

    def settings(self) -> pn.viewable.Viewable:
        """Widgets for ``steps_per_call``, ``eval_every_steps``, ``max_steps`` and ``seed``."""
        return pn.Param(
            self,
            parameters=["steps_per_call", "eval_every_steps", "max_steps", "seed"],
            show_name=False,
            sizing_mode="stretch_width",
        )

    def close(self) -> None:
        """Stop for good (called when the browser session ends)."""
        self._closed = True
        self.loop.close()
        self._view_listeners.clear()
        with self._pending_lock:
            self._pending.clear()

    # -- worker side (one call at a time; LiveLoop never overlaps calls and resets) ------------
    def _reset_worker_counters(self) -> None:
        self._worker_steps = 0
        self._eval_wall: float | None = None
        self._eval_steps = 0
        self._snapshot_wall: float | None = None

    def _apply_pending(self) -> None:
        with self._pending_lock:
            values, self._pending = self._pending, {}
        if not values:
            return
        setter = getattr(self.trainer, "set_hyperparameters", None)
        if callable(setter):
            setter(**values)
        else:
            for key, value in values.items():
                setattr(self.trainer, key, value)

    def _eval_due(self, now: float) -> bool:
        if self._eval_wall is None:
            return True
        every = int(self.eval_every_steps)
        if every > 0:
            return self._worker_steps - self._eval_steps >= every
        return now - self._eval_wall >= 1.0 / float(self.eval_hz)

    def _advance(self) -> _CallRecord:
        """One ``train_steps`` call (+ evaluation and snapshot when due); runs on a worker."""
        budget = self.max_steps
        if budget is not None and self._worker_steps >= budget:
            return _CallRecord(self._worker_steps, done=True)  # rest of a frame past the budget
        trainer = self.trainer
        self._apply_pending()
        n = int(self.steps_per_call)
        metrics = {str(k): v for k, v in dict(trainer.train_steps(n)).items()}
        self._worker_steps += n
        steps = self._worker_steps
        _finite_or_raise(metrics, steps, "train_steps")
        done = budget is not None and steps >= budget
        stopping = done or not self.loop.running  # a Step, a pause, or the last call
        now = self._clock()
        if stopping or self._eval_due(now):
            evaluated = dict(trainer.evaluate())
            _finite_or_raise(evaluated, steps, "evaluate")
            metrics.update(evaluated)
            self._eval_wall, self._eval_steps = now, steps
        metrics["step"] = steps
        record = _CallRecord(steps, metrics=_numeric(metrics), done=done)
        if stopping or self._snapshot_wall is None or now - self._snapshot_wall >= self.view_gap_s:
            record.snapshot, record.has_snapshot = trainer.snapshot(), True
            self._snapshot_wall = now
        return record

    # -- session side --------------------------------------------------------------------------
    def _push(self, records: list[_CallRecord]) -> None:
        rows = [r.metrics for r in records if r.metrics is not None]
        for row in rows:
            self.history.append(row)
            self._latest.update(row)
        if len(self.history) > self.max_history:  # thin uniformly, keep the newest row
            self.history[:] = [*self.history[-2::-2][::-1], self.history[-1]]
        self._steps = records[-1].steps
        self.curves.push(rows)
        self.loop.max_chunks_per_frame = self.max_calls_per_frame  # the call cost is known now
        now = self._clock()
        self._rate.append((now, self._steps))
        while len(self._rate) > 2 and self._rate[1][0] < now - 2.0:
            self._rate.popleft()
        shot = next((r for r in reversed(records) if r.has_snapshot), None)
        finished = any(r.done for r in records)
        if shot is not None:
            reason = "stopped" if finished or not self.loop.running else "training"
            self._publish(shot.steps, shot.snapshot, reason)
        if finished:
            self.loop.pause()  # status "done" via _on_running
        self._refresh_if_stopped()
        self._update_readout(force=not self.loop.running)

    def _publish(self, steps: int, snapshot: Any, reason: str) -> None:
        self._snapshot_steps = steps
        update = TrainingUpdate(steps, dict(self._latest), snapshot, reason)  # type: ignore[arg-type]
        self.latest_update = update
        start = self._clock()
        for listener in list(self._view_listeners):
            try:
                listener(update)
            except Exception as exc:
                log.warning("TrainingSession view listener failed", exc_info=True)
                self.loop.pause()
                self._on_error(f"updating the views failed: {type(exc).__name__}: {exc}")
                return
        self._view_cost_s = max(0.0, self._clock() - start)

    def _refresh_if_stopped(self) -> None:
        """Paused between calls with an older snapshot: take one now (no call is running)."""
        if self.loop.running or self.loop.busy or self._closed:
            return
        if self._snapshot_steps == self._steps:
            return
        try:
            snapshot = self.trainer.snapshot()
        except Exception as exc:
            log.warning("TrainingSession snapshot failed", exc_info=True)
            self._snapshot_steps = self._steps  # do not retry on every pause
            self._on_error(f"snapshot failed: {type(exc).__name__}: {exc}")
            return
        self._publish(self._steps, snapshot, "stopped")

    def _on_reset(self) -> None:
        """Called by the loop with no call in flight."""
        self._apply_pending()
        self.trainer.reset(int(self.seed))
        self._reset_worker_counters()
        self._steps = 0
        self.history.clear()
        self._latest.clear()
        self._rate.clear()
        self.curves.reset()
        self.banner.clear()
        self.loop.max_chunks_per_frame = 1  # the first call may compile again
        self._set_status("running" if self.loop.running else "paused")
        self._publish(0, self.trainer.snapshot(), "reset")
        self._update_readout(force=True)

    def _on_error(self, message: str) -> None:
        prefix = f"{TrainingDiverged.__name__}: "
        if message.startswith(prefix):
            text = message[len(prefix) :]
        else:
            text = f"Training paused at step {self._steps}: {message}"
        self._set_status("error")
        self.banner.show(text)
        self._update_readout(force=True)

    def _on_running(self, event: Any) -> None:
        if self.loop.running and self.budget_reached:
            self.loop.running = False  # nothing left to do: raise max_steps or reset
            return
        if self.loop.running:
            self._set_status("running")
            self.banner.clear()
        elif self.status != "error":
            self._set_status("done" if self.budget_reached else "paused")
            self._refresh_if_stopped()
        self._update_readout(force=True)

    def _on_steps_per_call(self, event: Any) -> None:
        self.loop.max_chunks_per_frame = 1  # a new n may compile: one call per frame until timed
        self.loop.parameters_changed()

    def _on_max_steps(self, event: Any) -> None:
        if not self.loop.running and self.status in ("paused", "done"):
            self._set_status("done" if self.budget_reached else "paused")
        self._update_readout(force=True)

    def _set_status(self, status: Status) -> None:
        if self.status != status:
            with param.edit_constant(self):
                self.status = status

    def _steps_per_s(self) -> float | None:
        if len(self._rate) < 2 or not self.loop.running:
            return None
        (w0, s0), (w1, s1) = self._rate[0], self._rate[-1]
        return (s1 - s0) / (w1 - w0) if w1 > w0 else None

    def _status_text(self) -> str:
        if self.status == "done":
            return f"**done** (max_steps = {self.max_steps}; raise it or press Reset)"
        if self.status == "error":
            return "**stopped by an error** (see above)"
        return self.status

    def _update_readout(self, *, force: bool = False) -> None:
        now = self._clock()
        if not force and now - self._last_readout < self._readout_gap:
            return
        self._last_readout = now
        self.readout.object = format_readout(
            self._steps,
            self._latest,
            status=self._status_text(),
            steps_per_s=self._steps_per_s(),
            max_steps=self.max_steps,
        )
        if self.max_steps is None:
            self.progress.visible = False
        else:
            self.progress.value = min(1000, round(1000 * self._steps / self.max_steps))
            self.progress.visible = True

    def live_view(self) -> pn.viewable.Viewable:
        """Readout, progress bar, the banner (if the session owns it) and the learning curves,
        without the controls (for pages that put :attr:`controls` in a sidebar)."""
        parts: list[Any] = [self.readout, self.progress]
        if self._own_banner:
            parts.append(self.banner)
        parts.append(self.curves)
        return pn.Column(*parts, sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self.controls, self.live_view(), sizing_mode="stretch_width")


def _numeric(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The numeric metrics as Python floats (JAX/NumPy scalars would keep device buffers
    alive); other values (labels, arrays) are dropped."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            continue
    return out
