"""``LiveLoop``: run a chunked simulation live, in step with the wall clock.

The page gives two functions: ``advance_chunk()`` runs one compiled chunk of the model (``chunk_ms``
of simulated time, carrying the model state itself) and returns its records; ``push(chunks)``
updates the plots with every chunk produced since the last frame (one ``stream`` per plot).

Timing: at each frame the loop owes ``elapsed_wall_s * 1000 * speed`` simulated ms and runs that
many *whole* chunks; the remainder carries over. Frames are requested by the process-wide
:class:`~snnviz.components.scheduler.FrameScheduler`, whose interval grows when the server is
busy: then each frame carries more chunks and the model keeps pace. A frame runs at most
``max_chunks_per_frame`` chunks and at most ``max_frame_work_ms`` of measured compute (median
chunk cost; at least one chunk), or the scheduler's per-session share of its CPU budget when many
sessions run (:meth:`FrameScheduler.frame_work_ms`); past either cap the backlog is dropped, so a model too slow for
the requested speed falls behind (see ``realtime_factor``) but still shows frequent frames. Only
shapes are static in the compiled chunk, so a changed parameter never recompiles.

Parameter changes: a page calls :meth:`LiveLoop.parameters_changed` after swapping in a model
with new parameters. A job still running chunks of the old model then stops after its current
chunk and pushes what it has, and the next frame starts at once with at least one chunk of the new
model (borrowing up to one chunk of simulated time, paid back by later frames), so the plots show
the change after about one chunk instead of after a whole frame's backlog.

A frame that comes while the previous frame's job is still running is not lost: it starts as
soon as that job has been pushed, so slow chunks lower the frame rate to one frame per job, not
to one per two scheduler intervals.

Threads: a chunk measured slower than ``inline_threshold_ms`` (1 ms; or of unknown cost, like the
first call that compiles) runs on the process-wide worker pool and its results are handed back to
the session's document on the next tick; cheap chunks run inline. ``advance_chunk`` may then run
on a worker thread, one call at a time per loop: swap whole model objects from callbacks (an
attribute assignment) rather than mutating arrays in place.

Errors: an exception, or a NaN/inf anywhere in a chunk's output, pauses the loop and calls
``on_error(message)``; the server keeps serving. The loop stops when its session ends.

Example::

    loop = LiveLoop(advance_chunk=sim.advance, push=push, chunk_ms=10.0,
                    on_reset=sim.reset, on_error=banner.show)
    loop.play()        # or RunControls(loop)
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import logging
import math
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import jax
import numpy as np
import param

from . import _runtime
from .scheduler import FrameScheduler, get_scheduler, worker_pool

log = logging.getLogger(__name__)


@dataclasses.dataclass
class _Outcome:
    results: list[Any]
    error: str | None
    cut_short: int = 0  # chunks not run because the parameters changed (their time is owed)
    compute_s: float = 0.0  # wall time spent in advance_chunk


def first_nonfinite(tree: Any) -> str | None:
    """Describe the first NaN/inf in a pytree of arrays (e.g. ``"nan in ['v']"``), else None."""
    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    for path, leaf in leaves:
        if not isinstance(leaf, np.ndarray | jax.Array | float | complex | np.number):
            continue
        arr = np.asarray(leaf)
        if arr.dtype.kind not in "fc":
            continue
        finite = np.isfinite(arr)
        if not finite.all():
            bad = arr[~finite].ravel()[0]
            kind = "nan" if np.isnan(bad) else "inf"
            where = jax.tree_util.keystr(path) or "(output)"
            return f"{kind} in {where}"
    return None


class LiveLoop(param.Parameterized):
    """Drive ``advance_chunk`` live and ``push`` its records to the plots (see module docstring).

    Args:
        advance_chunk: runs one chunk of ``chunk_ms`` simulated ms; returns its records
            (any pytree of arrays).
        push: receives the list of chunk records produced since the last frame (in order).
        chunk_ms: simulated ms per chunk (> 0).
        on_reset: called by :meth:`reset` (re-initialise the model and clear the plots).
        on_error: called with a one-line message when a chunk fails or goes non-finite.
        offload: True = always run chunks on the worker pool, False = always inline,
            None = decide from the measured chunk cost.
        inline_threshold_ms: in auto mode, chunks with a median cost below this run inline.
        max_frame_work_ms: compute budget per frame; with a median chunk cost ``c`` a frame runs
            at most ``max(1, max_frame_work_ms // c)`` chunks.
        probe_cost: while no chunk cost is known, run one chunk per frame (the first chunk may
            compile); False = no limit but ``max_chunks_per_frame`` until a cost is measured.
        clock: wall clock in seconds, also used to measure chunk cost (inject a fake one in
            tests).
        scheduler: the frame scheduler (default: the process-wide one).
        executor: where offloaded chunks run (default: the process-wide worker pool).
        dispatch: runs a callback on the session's document thread (default: derived from
            ``doc``, see ``_runtime.dispatcher_for``).
        doc: the session's Bokeh document (default: ``pn.state.curdoc`` at construction).
    """

    running = param.Boolean(default=False, doc="Whether simulated time advances with wall time.")
    speed = param.Number(
        default=1.0,
        bounds=(0.001, 1000.0),
        softbounds=(0.05, 5.0),
        step=0.05,
        doc="Simulated time per wall-clock time (1 = real time, 0.1 = ten times slower).",
    )
    max_chunks_per_frame = param.Integer(
        default=50,
        bounds=(1, None),
        doc="Most chunks run per frame; beyond this the model falls behind real time.",
    )

    def __init__(
        self,
        advance_chunk: Callable[[], Any],
        push: Callable[[list[Any]], None],
        chunk_ms: float,
        *,
        on_reset: Callable[[], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        offload: bool | None = None,
        inline_threshold_ms: float = 1.0,
        max_frame_work_ms: float = 50.0,
        probe_cost: bool = True,
        clock: Callable[[], float] = time.perf_counter,
        scheduler: FrameScheduler | None = None,
        executor: concurrent.futures.Executor | None = None,
        dispatch: _runtime.Dispatch | None = None,
        doc: Any = None,
        **params: Any,
    ) -> None:
        chunk_ms = float(chunk_ms)
        if not (chunk_ms > 0 and math.isfinite(chunk_ms)):
            raise ValueError(f"LiveLoop: chunk_ms must be a positive number of ms, got {chunk_ms}")
        if not callable(advance_chunk) or not callable(push):
            raise TypeError("LiveLoop: advance_chunk and push must be callables")
        super().__init__(**params)
        self.chunk_ms = chunk_ms
        self._advance_chunk = advance_chunk
        self._push = push
        self._on_reset = on_reset
        self._on_error = on_error
        self._offload = offload
        self._inline_threshold_s = float(inline_threshold_ms) / 1000.0
        self._max_frame_work_s = float(max_frame_work_ms) / 1000.0
        self._probe_cost = bool(probe_cost)
        self._progress: collections.deque[tuple[float, float]] = collections.deque()
        self._clock = clock
        self._scheduler = scheduler if scheduler is not None else get_scheduler()
        self._executor = executor
        self._doc = doc if doc is not None else _runtime.current_doc()
        self._dispatch = dispatch if dispatch is not None else _runtime.dispatcher_for(self._doc)
        self._frame_listeners: list[Callable[[LiveLoop], None]] = []
        self._costs: collections.deque[float] = collections.deque(maxlen=8)
        self._sim_time_ms = 0.0
        self._chunks_run = 0
        self._frames = 0
        self._debt_ms = 0.0
        self._last_wall: float | None = None
        self._generation = 0
        self._job: concurrent.futures.Future[_Outcome] | None = None
        self._queued_steps = 0
        self._reset_pending = False
        self._frame_requested = False
        self._hurry = False
        self._frame_missed = False
        self._closed = False
        self.last_error: str | None = None
        _runtime.on_session_destroyed(self._doc, self.close)
        if self.running:
            self._on_running()

    # -- public state --------------------------------------------------------------------------
    @property
    def sim_time_ms(self) -> float:
        """Simulated time since the last reset (ms): ``chunk_ms`` x chunks pushed."""
        return self._sim_time_ms

    @property
    def chunks_run(self) -> int:
        """Chunks whose records were pushed since the last reset."""
        return self._chunks_run

    @property
    def frames_pushed(self) -> int:
        """Calls of ``push`` so far."""
        return self._frames

    @property
    def busy(self) -> bool:
        """True while chunks run on a worker thread."""
        return self._job is not None

    @property
    def offloading(self) -> bool:
        """Whether the next chunks go to the worker pool."""
        if self._offload is not None:
            return self._offload
        if not self._costs:
            return True  # unknown cost, e.g. the first call compiles
        return statistics.median(self._costs) >= self._inline_threshold_s

    @property
    def affordable_chunks(self) -> int:
        """Most chunks the compute budget allows per frame: ``max_frame_work_ms``, or less when
        the scheduler shares its budget among many sessions; one while the cost is unknown (the
        first chunk measures it, and may compile) unless ``probe_cost`` is off."""
        if not self._costs and self._probe_cost:
            return 1
        cost = statistics.median(self._costs) if self._costs else 0.0
        budget_s = min(self._max_frame_work_s, self._scheduler.frame_work_ms() / 1000.0)
        return max(1, math.floor(budget_s / cost)) if cost > 0 else 1_000_000

    @property
    def realtime_factor(self) -> float | None:
        """Simulated ms per wall ms over the last ~2 s of pushes (None until measurable)."""
        if len(self._progress) < 2:
            return None
        (w0, s0), (w1, s1) = self._progress[0], self._progress[-1]
        return (s1 - s0) / ((w1 - w0) * 1000.0) if w1 > w0 else None

    @property
    def closed(self) -> bool:
        return self._closed

    def add_frame_listener(self, callback: Callable[[LiveLoop], None]) -> None:
        """Call ``callback(loop)`` after every push and after a reset (e.g. a time readout)."""
        self._frame_listeners.append(callback)

    # -- controls ------------------------------------------------------------------------------
    def play(self) -> None:
        """Start advancing with wall-clock time."""
        self.running = True

    def pause(self) -> None:
        """Stop: a job on a worker stops after its current chunk (what it ran is pushed); a
        :meth:`step` still runs its chunk."""
        self.running = False

    def step(self) -> None:
        """Pause, then run and push exactly one chunk."""
        self.pause()
        if self._closed:
            return
        if self._job is not None:
            self._queued_steps += 1
        else:
            self._launch(1, stepping=True)

    def reset(self) -> None:
        """Drop in-flight results, call ``on_reset`` and restart simulated time at 0.

        Keeps playing if it was playing. With chunks running on a worker, the reset happens when
        they return (so ``on_reset`` never races ``advance_chunk``).
        """
        self._generation += 1
        if self._job is not None:
            self._reset_pending = True
        else:
            self._do_reset()

    def parameters_changed(self) -> None:
        """The model changed: cut the running job short and show the change on the next frame,
        computed as one chunk (the rest of the time owed follows on the frame after)."""
        if self._closed or not self.running:
            return
        self._hurry = True
        if self._job is None:
            self.request_frame()

    def close(self) -> None:
        """Stop for good (called when the session is destroyed)."""
        self._closed = True
        self._generation += 1
        self.running = False
        self._scheduler.unregister(self)

    # -- frames --------------------------------------------------------------------------------
    def request_frame(self) -> None:
        """Ask for one :meth:`tick` on the session's document (called by the scheduler)."""
        if self._frame_requested or self._closed:
            return
        self._frame_requested = True
        self._dispatch(self._scheduled_tick)

    def _scheduled_tick(self) -> None:
        try:
            self.tick()
        except Exception as exc:  # pragma: no cover - tick already guards user code
            self._fail(f"{type(exc).__name__}: {exc}")

    def tick(self, now: float | None = None) -> int:
        """One frame: run the whole chunks owed since the last frame and push them.

        Returns the number of chunks started (0 when paused, busy or not yet owed one).
        """
        self._frame_requested = False
        if self._closed or not self.running:
            return 0
        now = self._clock() if now is None else now
        last = now if self._last_wall is None else self._last_wall
        self._last_wall = now
        self._debt_ms += max(0.0, now - last) * 1000.0 * float(self.speed)
        cap = min(int(self.max_chunks_per_frame), self.affordable_chunks)
        if self._job is not None:  # still computing: keep owing time, up to one full frame,
            self._debt_ms = min(self._debt_ms, cap * self.chunk_ms)
            self._frame_missed = True  # and take this frame as soon as the job is pushed
            return 0
        self._frame_missed = False
        n = math.floor(self._debt_ms / self.chunk_ms + 1e-9)
        if n > cap:
            n, self._debt_ms = cap, 0.0  # drop the backlog: fall behind instead of piling up
        elif self._hurry and n == 0:
            n = 1  # show a parameter change now; the borrowed time is paid back later
            self._debt_ms -= self.chunk_ms
        else:
            self._debt_ms = max(0.0, self._debt_ms - n * self.chunk_ms)
        if self._hurry and n > 1:  # the change's first frame: one chunk, the rest stays owed
            self._debt_ms += (n - 1) * self.chunk_ms
            n = 1
        self._hurry = False
        self._launch(n)
        return n

    def _launch(self, n: int, stepping: bool = False) -> None:
        if n <= 0:
            return
        generation = self._generation
        if self.offloading:
            executor = self._executor or worker_pool()
            job = executor.submit(self._run_chunks, n, generation, stepping)
            self._job = job
            job.add_done_callback(
                lambda fut: self._dispatch(partial(self._collect, fut, generation))
            )
        else:
            outcome = self._run_chunks(n, generation, stepping)
            self._scheduler.note_compute(outcome.compute_s)  # compute, not frame work
            self._finish(outcome, generation)

    def _run_chunks(self, n: int, generation: int, stepping: bool = False) -> _Outcome:
        """Run up to ``n`` chunks (on any thread); stop early on error, reset or pause."""
        results: list[Any] = []
        spent = 0.0
        for _ in range(n):
            if generation != self._generation or not (self.running or stepping):
                break
            if self._hurry and results:
                return _Outcome(results, None, cut_short=n - len(results), compute_s=spent)
            start = self._clock()
            try:
                out = self._advance_chunk()
                problem = first_nonfinite(out)
            except Exception as exc:
                log.warning("LiveLoop chunk failed", exc_info=True)
                return _Outcome(results, f"{type(exc).__name__}: {exc}", compute_s=spent)
            cost = self._clock() - start
            spent += cost
            self._costs.append(cost)
            if problem is not None:
                t_ms = self._sim_time_ms + (len(results) + 1) * self.chunk_ms
                return _Outcome(
                    results,
                    f"the simulation produced a non-finite value ({problem}) by t = {t_ms:g} ms; "
                    "paused. Change the parameters and press reset.",
                    compute_s=spent,
                )
            results.append(out)
        return _Outcome(results, None, compute_s=spent)

    def _collect(self, future: concurrent.futures.Future[_Outcome], generation: int) -> None:
        try:
            outcome = future.result()
        except Exception as exc:  # pragma: no cover - _run_chunks catches user errors
            outcome = _Outcome([], f"{type(exc).__name__}: {exc}")
        self._job = None
        self._finish(outcome, generation)

    def _finish(self, outcome: _Outcome, generation: int) -> None:
        """Back on the document thread: push the new records, report errors, run queued work."""
        current = generation == self._generation and not self._closed
        self._debt_ms += outcome.cut_short * self.chunk_ms
        if current and outcome.results:
            self._chunks_run += len(outcome.results)
            self._sim_time_ms += len(outcome.results) * self.chunk_ms
            try:
                with _runtime.batched_events(self._doc):
                    self._push(outcome.results)
            except Exception as exc:
                log.warning("LiveLoop push failed", exc_info=True)
                self._fail(f"updating the plots failed: {type(exc).__name__}: {exc}")
                return
            self._frames += 1
            self._scheduler.note_frame()
            self._record_progress()
            self._notify()
        if current and outcome.error is not None:
            self._fail(outcome.error)
        if self._reset_pending:
            self._do_reset()
        if self._queued_steps and self._job is None and not self._closed:
            steps, self._queued_steps = self._queued_steps, 0
            self._launch(steps, stepping=True)
        elif (self._hurry or self._frame_missed) and self._job is None and self.running:
            self.request_frame()

    def _record_progress(self) -> None:
        now = self._clock()
        self._progress.append((now, self._sim_time_ms))
        while len(self._progress) > 2 and self._progress[1][0] < now - 2.0:
            self._progress.popleft()

    def _do_reset(self) -> None:
        self._progress.clear()
        self._reset_pending = False
        self._queued_steps = 0
        self._hurry = False
        self._sim_time_ms = 0.0
        self._chunks_run = 0
        self._debt_ms = 0.0
        self._last_wall = self._clock()
        self.last_error = None
        if self._on_reset is not None:
            try:
                self._on_reset()
            except Exception as exc:
                log.warning("LiveLoop on_reset failed", exc_info=True)
                self._fail(f"reset failed: {type(exc).__name__}: {exc}")
                return
        self._notify()

    def _fail(self, message: str) -> None:
        self.pause()
        self.last_error = message
        if self._on_error is None:
            log.warning("LiveLoop paused: %s", message)
            return
        try:
            self._on_error(message)
        except Exception:
            log.exception("LiveLoop on_error callback failed")

    def _notify(self) -> None:
        for listener in list(self._frame_listeners):
            try:
                listener(self)
            except Exception:
                log.exception("LiveLoop frame listener failed")

    @param.depends("running", watch=True)
    def _on_running(self) -> None:
        if self.running and self._closed:
            self.running = False
            return
        if self.running:
            self._last_wall = self._clock()
            self._debt_ms = 0.0
            self._progress.clear()  # paused time does not count against the real-time factor
            self._scheduler.register(self)
        else:
            self._scheduler.unregister(self)
