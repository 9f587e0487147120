"""TrainingSession, LearningCurves and LiveCurves with fake trainers (no server, no JAX)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import threading
import time

import numpy as np
import panel as pn
import pytest

from snnviz.components import (
    ErrorBanner,
    FrameScheduler,
    LearningCurves,
    LiveCurves,
    RunControls,
    Trainer,
    TrainingSession,
    TrainingUpdate,
    format_readout,
)
from tests.helpers import Collect


class FakeClock:
    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Bowl:
    """Gradient descent on ``L(w) = 0.5 |w - w*|^2``: after k steps ``L = (1 - lr)^(2k) L_0``.

    Logs every call, the learning rate each ``train_steps`` call saw, and how many of its
    methods ran at once (must never exceed 1).
    """

    def __init__(self, dim: int = 4, learning_rate: float = 0.1, delay_s: float = 0.0) -> None:
        self.dim = dim
        self.learning_rate = learning_rate
        self.delay_s = delay_s
        self.calls: list[str] = []
        self.seen_lr: list[float] = []
        self.seeds: list[int] = []
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()
        self.w = np.zeros(dim)
        self.target = np.ones(dim)
        self.steps = 0

    def _enter(self, name: str) -> None:
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.calls.append(name)
        if self.delay_s:
            time.sleep(self.delay_s)

    def _exit(self) -> None:
        with self._lock:
            self.active -= 1

    def loss(self) -> float:
        return 0.5 * float(np.sum((self.w - self.target) ** 2))

    def reset(self, seed: int) -> None:
        self._enter("reset")
        rng = np.random.default_rng(seed)
        self.target = rng.normal(size=self.dim) + 3.0
        self.w = np.zeros(self.dim)
        self.steps = 0
        self.seeds.append(seed)
        self._exit()

    def train_steps(self, n: int) -> dict[str, float]:
        self._enter("train")
        lr = self.learning_rate
        self.seen_lr.append(lr)
        for _ in range(n):
            self.w = self.w - lr * (self.w - self.target)
        self.steps += n
        self._exit()
        return {
            "loss": self.loss(),
            "train_acc": 1.0 / (1.0 + self.loss()),
            "epoch": self.steps / 50,
        }

    def evaluate(self) -> dict[str, float]:
        self._enter("evaluate")
        self._exit()
        return {"test_loss": 1.1 * self.loss(), "test_acc": 1.0 / (1.0 + 1.1 * self.loss())}

    def snapshot(self) -> np.ndarray:
        self._enter("snapshot")
        self._exit()
        return self.w.copy()


class Exploding(Bowl):
    """Raises in its ``fail_at``-th train call, or returns a NaN loss in its ``nan_at``-th."""

    def __init__(self, fail_at: int | None = None, nan_at: int | None = None, **kw) -> None:
        super().__init__(**kw)
        self.fail_at, self.nan_at = fail_at, nan_at
        self.n_train = 0

    def train_steps(self, n: int) -> dict[str, float]:
        self.n_train += 1
        if self.n_train == self.fail_at:
            raise FloatingPointError("overflow in the surrogate")
        out = super().train_steps(n)
        if self.n_train == self.nan_at:
            out["loss"] = math.nan
        return out


def make(trainer=None, **kwargs) -> tuple[TrainingSession, Bowl, FakeClock]:
    trainer = trainer if trainer is not None else Bowl()
    clock = kwargs.pop("clock", FakeClock())
    session = TrainingSession(
        trainer,
        clock=clock,
        scheduler=kwargs.pop("scheduler", FrameScheduler(autostart=False)),
        offload=kwargs.pop("offload", False),
        **kwargs,
    )
    return session, trainer, clock


def frames(session: TrainingSession, clock: FakeClock, n: int, dt: float = 0.05) -> None:
    for _ in range(n):
        clock.t += dt
        session.loop.tick()


def test_fake_trainers_satisfy_the_protocol():
    assert isinstance(Bowl(), Trainer)
    with pytest.raises(TypeError, match=r"lacks \['evaluate', 'snapshot'\]"):
        TrainingSession(object.__new__(type("Half", (), {"reset": id, "train_steps": id})))


# -- steps, history, curves --------------------------------------------------------------------
def test_steps_accumulate_and_history_follows_the_closed_form():
    session, bowl, clock = make(steps_per_call=5, eval_every_steps=20, max_calls_per_frame=3)
    assert bowl.seeds == [0] and session.steps == 0 and session.history == []
    loss0 = bowl.loss()
    session.play()
    frames(session, clock, 4)  # 1 call (cost unknown), then 3 per frame
    assert session.steps == 50 and bowl.calls.count("train") == 10
    steps = [row["step"] for row in session.history]
    assert steps == [5.0 * k for k in range(1, 11)]
    expected = [loss0 * 0.9 ** (2 * s) for s in steps]  # GD on the bowl, lr = 0.1
    np.testing.assert_allclose([row["loss"] for row in session.history], expected, rtol=1e-12)
    evaluated = [row["step"] for row in session.history if "test_acc" in row]
    assert evaluated == [5.0, 25.0, 45.0]  # first call, then every 20 steps
    # curves: all train points, test points only where evaluated, accuracy in %
    loss_src = session.curves.loss.sources["train"].data
    np.testing.assert_allclose(loss_src["x"], steps)
    np.testing.assert_allclose(loss_src["y"], expected, rtol=1e-12)
    test_acc = session.curves.accuracy.sources["test"].data
    np.testing.assert_allclose(test_acc["x"], evaluated)
    assert min(test_acc["y"]) > 0 and max(test_acc["y"]) <= 100
    assert session.metrics["step"] == 50 and "test_acc" in session.metrics
    session.pause()  # the readout is throttled while running, fresh when paused
    assert session.readout.object.startswith("step 50 / 10000 · epoch 1.0 · loss ")


def test_frames_respect_max_calls_and_step_runs_one_call():
    session, bowl, clock = make(max_calls_per_frame=4)
    session.play()
    frames(session, clock, 1)
    assert bowl.calls.count("train") == 1  # first call alone: it may compile
    frames(session, clock, 2)
    assert bowl.calls.count("train") == 9
    session.step()
    assert not session.loop.running and session.steps == 100
    assert bowl.calls[-3:] == ["train", "evaluate", "snapshot"]  # a Step shows its result
    assert session.latest_update.reason == "stopped" and session.latest_update.steps == 100


def test_pause_stops_calls():
    session, bowl, clock = make()
    session.play()
    frames(session, clock, 3)
    session.pause()
    n = len(bowl.calls)
    assert session.status == "paused"
    frames(session, clock, 20)
    assert len(bowl.calls) == n
    session.play()
    frames(session, clock, 1)
    assert bowl.calls.count("train") > n - 3


def test_reset_reinitialises_from_the_seed_and_clears_everything():
    session, bowl, clock = make()
    updates: list[TrainingUpdate] = []
    session.add_view_listener(updates.append)
    assert updates[0].reason == "reset" and updates[0].steps == 0  # called now: initial model
    session.play()
    frames(session, clock, 3)
    assert session.history and len(session.curves.loss.sources["train"].data["x"])
    session.seed = 7
    session.reset()
    assert bowl.seeds == [0, 7] and session.steps == 0 and session.history == []
    assert session.metrics == {}
    assert all(len(src.data["x"]) == 0 for src in session.curves.loss.sources.values())
    assert updates[-1].reason == "reset" and updates[-1].steps == 0
    np.testing.assert_array_equal(updates[-1].snapshot, np.zeros(4))
    assert session.loop.running  # keeps playing after a reset, from step 0
    frames(session, clock, 1)
    assert session.history[0]["step"] == 10.0


# -- errors and budget -------------------------------------------------------------------------
def test_exception_pauses_and_shows_the_message():
    session, bowl, clock = make(Exploding(fail_at=3))
    session.play()
    frames(session, clock, 5)
    assert not session.loop.running and session.status == "error"
    assert bowl.n_train == 3 and len(session.history) == 2
    assert session.banner.visible
    assert session.banner.message == (
        "Training paused at step 20: FloatingPointError: overflow in the surrogate"
    )
    assert "stopped by an error" in session.readout.object
    session.play()  # the user may carry on; the banner goes away
    assert session.status == "running" and not session.banner.visible


@pytest.mark.parametrize("where", ["train", "evaluate"])
def test_non_finite_metric_pauses_with_a_hint(where):
    trainer = Exploding(nan_at=2) if where == "train" else Bowl()
    if where == "evaluate":
        trainer.evaluate = lambda: {"test_acc": 0.5, "test_loss": math.inf}  # type: ignore
    session, _, clock = make(trainer)
    session.play()
    frames(session, clock, 3)
    assert session.status == "error" and not session.loop.running
    if where == "train":
        assert session.banner.message.startswith("train_steps returned loss = nan at step 20")
        assert len(session.history) == 1
    else:
        assert session.banner.message.startswith("evaluate returned test_loss = inf at step 10")
        assert session.history == []
    assert "Lower the learning rate, then press Reset." in session.banner.message
    session.reset()
    assert not session.banner.visible and session.status == "paused"


def test_max_steps_stops_says_done_and_refuses_to_play_until_raised():
    session, bowl, clock = make(steps_per_call=20, max_steps=50, max_calls_per_frame=8)
    session.play()
    frames(session, clock, 5)
    assert session.steps == 60 and bowl.calls.count("train") == 3  # first multiple >= 50
    assert not session.loop.running and session.status == "done"
    assert "done" in session.readout.object and session.progress.value == 1000
    last = session.history[-1]
    assert "test_acc" in last and last["step"] == 60  # the final state is evaluated ...
    assert session.latest_update.steps == 60  # ... and shown, once
    assert session.latest_update.reason == "stopped" and bowl.calls[-2:] == ["evaluate", "snapshot"]
    assert bowl.calls.count("snapshot") == 3  # after reset, first call, last call
    controls = session.controls
    controls.play.value = True  # pressing Play: nothing left to do
    assert not session.loop.running and not controls.play.value
    frames(session, clock, 3)
    assert bowl.calls.count("train") == 3
    session.max_steps = 100
    assert session.status == "paused"
    session.play()
    frames(session, clock, 5)
    assert session.steps == 100 and session.status == "done"


# -- hyperparameters ---------------------------------------------------------------------------
def test_hyperparameter_change_reaches_the_next_call_without_restart():
    tick = Collect()  # the session thread's queue: the frame asked for by the change waits here
    session, bowl, clock = make(dispatch=tick)
    session.play()
    frames(session, clock, 2)
    calls_before = len(bowl.seen_lr)
    session.set_hyperparameters(learning_rate=0.3)
    assert bowl.learning_rate == 0.1  # queued until the next call, never applied mid-call
    assert session.pending_hyperparameters == {"learning_rate": 0.3}
    assert tick.run_all() == 1  # the change asks for a frame at once (LiveLoop's hurry) ...
    assert bowl.seen_lr[:calls_before] == [0.1] * calls_before
    assert bowl.seen_lr[calls_before:] == [0.3]  # ... whose call sees the new value
    assert session.pending_hyperparameters == {}
    frames(session, clock, 1)
    assert set(bowl.seen_lr[calls_before:]) == {0.3}
    assert bowl.seeds == [0]  # no reset
    steps = [row["step"] for row in session.history]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)  # history continues
    with pytest.raises(ValueError, match=r"has no attribute\(s\) \['surrogate_slop'\]"):
        session.set_hyperparameters(surrogate_slop=2.0)


def test_hyperparameters_go_through_the_trainer_setter_and_apply_on_reset():
    class WithSetter(Bowl):
        def set_hyperparameters(self, **values):
            self.calls.append(f"set {sorted(values)}")
            self.__dict__.update(values)

    session, bowl, _ = make(WithSetter())
    session.set_hyperparameters(learning_rate=0.5, width=3)  # the setter validates, not us
    session.reset()
    assert bowl.calls[-3:] == ["set ['learning_rate', 'width']", "reset", "snapshot"]
    assert bowl.learning_rate == 0.5


def test_steps_per_call_change_is_seen_by_the_next_call():
    tick = Collect()
    session, _, clock = make(max_calls_per_frame=2, dispatch=tick)
    session.play()
    frames(session, clock, 2)
    assert session.steps == 30
    session.steps_per_call = 7
    assert session.loop.max_chunks_per_frame == 1  # one call per frame until it is timed
    tick.run_all()
    assert session.steps == 37 and session.loop.max_chunks_per_frame == 2
    frames(session, clock, 1)
    assert session.steps == 51


# -- views refresh rate ------------------------------------------------------------------------
def test_view_listeners_are_throttled_and_get_the_final_state():
    session, bowl, clock = make(view_hz=2.0, max_calls_per_frame=1)
    updates: list[TrainingUpdate] = []
    session.add_view_listener(updates.append, call_now=False)
    session.play()
    frames(session, clock, 40, dt=0.05)  # 2 s of frames at 20 Hz, one call each
    training = [u for u in updates if u.reason == "training"]
    assert 4 <= len(training) <= 5  # ~2 Hz, not 20 Hz
    assert bowl.calls.count("snapshot") == len(training) + 1  # + the one after reset
    session.pause()  # between calls: the views catch up with the last call at once
    assert updates[-1].reason == "stopped" and updates[-1].steps == session.steps == 400
    np.testing.assert_allclose(updates[-1].snapshot, bowl.w)
    assert updates[-1].metrics["step"] == 400
    n = len(updates)
    session.pause()
    assert len(updates) == n  # already fresh: no second snapshot


def test_slow_view_listeners_are_refreshed_less_often():
    """A redraw costing 0.5 s may take at most a quarter of the time: one per 2 s, not 2 Hz."""
    session, _, clock = make(view_hz=2.0, max_calls_per_frame=1, max_view_fraction=0.25)
    stamps: list[float] = []

    def slow_redraw(update: TrainingUpdate) -> None:
        stamps.append(clock.t)
        clock.t += 0.5  # the redraw's cost, as the session's clock sees it

    session.add_view_listener(slow_redraw, call_now=False)
    session.play()
    frames(session, clock, 100, dt=0.05)
    gaps = np.diff(stamps)
    assert session.view_gap_s == pytest.approx(2.0)
    assert len(stamps) >= 3  # 25 % of the time: 0.5 s of redraw per 2 s, not 2 Hz ...
    assert np.all((gaps >= 2.0 - 1e-9) & (gaps <= 2.0 + 0.05 + 1e-9))  # ... to within a frame
    with pytest.raises(ValueError, match=r"max_view_fraction must be in \(0, 1\], got 0"):
        make(max_view_fraction=0)


def test_failing_view_listener_pauses_with_a_message():
    session, _, clock = make()

    def broken(update: TrainingUpdate) -> None:
        if update.steps:
            raise KeyError("grid")

    session.add_view_listener(broken)
    session.play()
    frames(session, clock, 2)
    assert not session.loop.running and session.status == "error"
    assert session.banner.message == (
        "Training paused at step 10: updating the views failed: KeyError: 'grid'"
    )


def test_readout_is_throttled():
    session, _, clock = make(readout_hz=2.0, max_calls_per_frame=1)
    session.play()
    texts = []
    for _ in range(10):
        clock.t += 0.1
        session.loop.tick()
        texts.append(session.readout.object.split(" · ")[0])
    assert len(set(texts)) <= 6 and texts[-1] != "step 100"  # ~2 Hz of 10 frames
    session.pause()
    assert session.readout.object.startswith("step 100 / 10000")


# -- threads -----------------------------------------------------------------------------------
def _wait_for(predicate, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_calls_run_on_the_worker_and_never_overlap():
    """Slow calls on a 2-thread pool while the user plays, steps, resets and changes the
    learning rate: at most one trainer method runs at any time, and results reach the page
    only on its own thread (the Collect queue)."""
    tick = Collect()
    bowl = Bowl(delay_s=0.002)
    main = threading.get_ident()
    push_threads: set[int] = set()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        clock = FakeClock()
        session = TrainingSession(
            bowl,
            clock=clock,
            scheduler=FrameScheduler(autostart=False),
            executor=pool,
            dispatch=tick,
            offload=True,
            max_calls_per_frame=3,
        )
        session.add_view_listener(lambda u: push_threads.add(threading.get_ident()))
        session.play()
        deadline = time.monotonic() + 20.0
        i = 0
        while i < 60 or bowl.calls.count("train") < 20:  # however slow the machine
            assert time.monotonic() < deadline, "timed out"
            clock.t += 0.02
            session.loop.tick()
            if i % 7 == 3:
                session.step()
            if i % 11 == 5:
                session.set_hyperparameters(learning_rate=0.05 + 0.01 * (i % 3))
            if i % 13 == 8:
                session.reset()
            if i % 5 == 0:
                session.play()
            time.sleep(0.001)
            tick.run_all()
            i += 1

        def settle() -> None:
            _wait_for(lambda: not session.loop.busy or bool(tick.queue))
            while session.loop.busy or tick.queue:
                tick.run_all()
                time.sleep(0.001)

        session.pause()
        settle()  # a reset still pending drops queued steps (LiveLoop), so step once more
        session.step()
        settle()
    assert bowl.max_active == 1
    assert len(bowl.seeds) >= 4
    assert push_threads == {main}
    steps = [row["step"] for row in session.history]
    assert steps and steps == sorted(steps) and steps[0] >= 10  # only calls since the reset


def test_offloaded_call_returns_on_the_next_tick():
    tick = Collect()
    gate = threading.Event()
    bowl = Bowl()
    original = bowl.train_steps

    def gated(n):
        gate.wait(5)
        return original(n)

    bowl.train_steps = gated  # type: ignore[method-assign]
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        session = TrainingSession(
            bowl,
            scheduler=FrameScheduler(autostart=False),
            executor=pool,
            dispatch=tick,
            clock=FakeClock(),
        )
        session.step()
        assert session.loop.busy and session.history == []
        gate.set()
        _wait_for(lambda: len(tick.queue) == 1)
        assert session.history == []  # nothing touched from the worker thread
        tick.run_all()
    assert session.steps == 10 and len(session.history) == 1


def test_runs_by_itself_on_an_event_loop_like_a_notebook():
    """No server: frames come from the scheduler's timer on the running asyncio loop, calls
    run on the worker pool, results come back to the loop's thread."""

    async def scenario() -> tuple[TrainingSession, Bowl, set[int], int]:
        bowl = Bowl(delay_s=0.001)
        session = TrainingSession(
            bowl, max_steps=200, scheduler=FrameScheduler(min_interval_ms=5.0)
        )
        threads: set[int] = set()
        session.add_view_listener(lambda u: threads.add(threading.get_ident()))
        session.play()
        for _ in range(500):
            await asyncio.sleep(0.01)
            if session.status == "done":
                break
        return session, bowl, threads, threading.get_ident()

    session, bowl, threads, loop_thread = asyncio.run(scenario())
    assert session.status == "done" and session.steps == 200
    assert [row["step"] for row in session.history] == [10.0 * k for k in range(1, 21)]
    assert threads == {loop_thread} and bowl.max_active == 1


# -- lifetime, layout --------------------------------------------------------------------------
class FakeServerDoc:
    session_context = object()

    def __init__(self) -> None:
        self.callbacks = type("Callbacks", (), {"hold_value": None})()
        self.destroyed: list = []

    def on_session_destroyed(self, callback) -> None:
        self.destroyed.append(callback)

    def add_next_tick_callback(self, callback) -> None:
        callback()

    def hold(self, policy) -> None:
        pass

    def unhold(self) -> None:
        pass


def test_session_end_stops_training_and_drops_listeners():
    doc = FakeServerDoc()
    scheduler = FrameScheduler(autostart=False)
    session, bowl, clock = make(doc=doc, scheduler=scheduler)
    session.add_view_listener(lambda u: None)
    session.play()
    assert scheduler.stats().sessions == 1
    for callback in doc.destroyed:
        callback(None)
    assert session.closed and session.loop.closed and scheduler.stats().sessions == 0
    assert session._view_listeners == []
    n = len(bowl.calls)
    session.play()
    frames(session, clock, 3)
    assert len(bowl.calls) == n


def test_layout_and_controls():
    session, _, _ = make(chance=1 / 3)
    assert isinstance(session.controls, RunControls)
    assert session.controls.speed not in session.controls.__panel__().objects  # no "speed"
    layout = session.__panel__()
    assert isinstance(layout, pn.Column) and layout.objects[0].objects[0] is session.controls.play
    live = session.live_view()  # everything but the controls, for a sidebar layout
    assert session.controls.play not in live.objects
    assert session.banner.alert in live.objects  # it owns its banner
    shared = ErrorBanner()
    other, _, _ = make(banner=shared)
    assert other.banner is shared and shared.alert not in other.live_view().objects
    assert session.curves.chance == pytest.approx(1 / 3)
    spans = [r for r in session.curves.accuracy.figure.center if type(r).__name__ == "Span"]
    assert len(spans) == 1 and spans[0].location == pytest.approx(100 / 3)
    settings = session.settings()
    assert isinstance(settings, pn.Param)
    pn.panel(session).get_root()  # builds Bokeh models without a server
    settings.get_root()


# -- curves ------------------------------------------------------------------------------------
def test_live_curves_keep_the_whole_run_within_max_points():
    curves = LiveCurves(["a", "b"], max_points=100)
    x = np.arange(1000.0)
    for start in range(0, 1000, 37):  # uneven pushes
        curves.push("a", x[start : start + 37], 2 * x[start : start + 37])
    data = curves.sources["a"].data
    stride = curves.stride("a")
    assert stride == 16  # smallest power of two with ceil(1000 / stride) <= 100
    np.testing.assert_array_equal(data["x"], x[::stride])  # from the first point on
    np.testing.assert_array_equal(data["y"], 2 * x[::stride])
    assert len(curves.sources["b"].data["x"]) == 0 and curves.stride("b") == 1
    curves.reset()
    assert len(curves.sources["a"].data["x"]) == 0 and curves.stride("a") == 1
    with pytest.raises(ValueError, match="unknown series 'c'"):
        curves.push("c", [1.0], [1.0])
    with pytest.raises(ValueError, match="distinct series names"):
        LiveCurves(["a", "a"])


def test_learning_curves_push_rows_with_sparse_evaluations():
    curves = LearningCurves(chance=0.1, max_points=50)
    rows = [{"step": 10.0 * k, "loss": 1.0 / k, "train_acc": 0.5} for k in range(1, 6)]
    rows[1]["test_acc"] = 0.25
    rows[4]["test_acc"] = 0.75
    curves.push(rows)
    np.testing.assert_allclose(curves.accuracy.sources["test"].data["x"], [20.0, 50.0])
    np.testing.assert_allclose(curves.accuracy.sources["test"].data["y"], [25.0, 75.0])
    np.testing.assert_allclose(
        curves.loss.sources["train"].data["y"], [1, 1 / 2, 1 / 3, 1 / 4, 1 / 5]
    )
    assert len(curves.loss.sources["test"].data["x"]) == 0
    assert curves.accuracy.figure.x_range is curves.loss.figure.x_range
    with pytest.raises(ValueError, match="chance must be a fraction"):
        LearningCurves(chance=33.0)


def test_format_readout():
    text = format_readout(
        1200,
        {"epoch": 3.21, "loss": 0.41234, "test_acc": 0.8712},
        status="running",
        steps_per_s=850.0,
    )
    assert text == "step 1200 · epoch 3.2 · loss 0.412 · test acc 87.1 % · 850 steps/s · running"
    assert format_readout(0, {}, max_steps=500) == "step 0 / 500"
