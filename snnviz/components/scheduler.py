"""The process-wide frame scheduler and worker pool shared by every live session.

One Python process serves every browser session, on one event loop, with about one core (the
GIL). Per-session timers alone would let 20 sessions x 30 frames/s saturate it, making sliders
and page loads sluggish. Instead one :class:`FrameScheduler` per process:

* measures the CPU used by the whole process (``time.process_time()``) about once a second and
  adapts one shared frame interval (never below ``min_interval_ms`` = 33 ms) so the process stays
  under ``cpu_budget`` (0.8 core). Only the *frame* part of that CPU shrinks with a longer
  interval: the simulation's own compute is set by the simulated speed (a longer interval means
  more chunks per frame, not fewer), so the scheduler splits the process CPU into simulation
  compute (worker threads, plus chunks the clients report as run inline) and frame work (the
  event-loop thread: pushes, serialisation, websocket writes, page builds) and stretches the
  interval only when the frame work exceeds what the budget leaves beside the compute;
* asks each registered session for a frame once per interval, in round-robin order and spread
  across the interval (every session gets the same frame rate; none is always served last).

A session's simulation advances by wall-clock time, not by frames (see
:class:`snnviz.components.LiveLoop`), so a longer interval means fewer, bigger pushes, not a slower
model. Everything per-session lives in the LiveLoop objects; the scheduler only holds references to
the running ones.

Example (benchmarks, or tests with fake clocks)::

    from snnviz.components.scheduler import get_scheduler
    stats = get_scheduler().stats()          # sessions, interval_ms, cpu_fraction, frames_pushed
    sched = FrameScheduler(clock=fake_wall, cpu_clock=fake_cpu, autostart=False)
    sched.register(loop); sched.tick()        # drive it by hand
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class FrameClient(Protocol):
    """What the scheduler drives: anything that can be asked for one frame (a LiveLoop)."""

    def request_frame(self) -> None:
        """Schedule one frame on the client's own document (must return quickly)."""


@dataclasses.dataclass(frozen=True)
class SchedulerStats:
    """A snapshot of the scheduler, for benchmarks and status displays."""

    sessions: int  # registered (running) clients
    interval_ms: float  # current shared frame interval
    cpu_fraction: float  # process CPU seconds per wall second over the last measurement
    frames_pushed: int  # frames the clients reported as pushed since start
    ticks: int  # scheduler ticks so far
    measurements: int  # CPU measurements so far (each may have changed the interval)
    compute_fraction: float = 0.0  # of cpu_fraction: simulation compute (not frame work)


class FrameScheduler:
    """Shares a CPU budget between live sessions by adapting one frame interval.

    Args:
        min_interval_ms: shortest frame interval (33 ms, about 30 frames/s).
        max_interval_ms: longest frame interval (the frame rate never drops below 1/this).
        cpu_budget: target process CPU in cores (CPU seconds per wall second).
        measure_every_s: how often CPU is measured and the interval adapted.
        slot_ms: the timer fires at most every ``slot_ms``; sessions are spread over the slots of
            one interval.
        min_frame_share: the share of ``cpu_budget`` frame work may always use, however much
            the simulations compute (0.25: frames never starve; compute itself is capped per
            session by :meth:`frame_work_ms` and the clients' own limits).
        clock, cpu_clock: wall clock and process-CPU clock in seconds (injectable for tests).
        frame_cpu_clock: CPU seconds of the thread that does the frame work, read where
            :meth:`tick` runs (the event loop). Default: ``time.thread_time`` when ``cpu_clock``
            is the default, else ``cpu_clock`` itself (all CPU counts as frame work).
        autostart: start a timer on the running asyncio/tornado loop when the first client
            registers. Without a running loop (scripts, tests) call :meth:`tick` yourself.

    Adaptation, once per ``measure_every_s``: the process CPU fraction ``cpu`` splits into
    frame work ``f`` (the frame thread's CPU minus inline chunks, see :meth:`note_compute`) and
    simulation compute ``c = cpu - f``. Frame work scales with the frame rate, ``f ∝ 1 /
    interval``, so with ``r = f / max(cpu_budget - c, min_frame_share * cpu_budget)`` the interval
    is multiplied by ``min(r, 2)`` when ``r > 1`` and by ``max(r / 0.9, 0.5)`` when ``r < 0.75``
    (a dead band in between avoids oscillation), then clipped to
    ``[min_interval_ms, max_interval_ms]``. With all CPU counted as frame work (``c = 0``) this
    is ``r = cpu / cpu_budget``.
    """

    def __init__(
        self,
        *,
        min_interval_ms: float = 33.0,
        max_interval_ms: float = 1000.0,
        cpu_budget: float = 0.8,
        measure_every_s: float = 1.0,
        slot_ms: float = 4.0,
        min_frame_share: float = 0.25,
        clock: Clock = time.perf_counter,
        cpu_clock: Clock = time.process_time,
        frame_cpu_clock: Clock | None = None,
        autostart: bool = True,
    ) -> None:
        if not 0 < min_interval_ms <= max_interval_ms:
            raise ValueError(
                "FrameScheduler: need 0 < min_interval_ms <= max_interval_ms, got "
                f"{min_interval_ms} and {max_interval_ms}"
            )
        if not cpu_budget > 0:
            raise ValueError(f"FrameScheduler: cpu_budget must be > 0 cores, got {cpu_budget}")
        if not measure_every_s > 0 or not slot_ms > 0:
            raise ValueError(
                "FrameScheduler: measure_every_s and slot_ms must be > 0, got "
                f"{measure_every_s} and {slot_ms}"
            )
        if not 0 < min_frame_share <= 1:
            raise ValueError(
                f"FrameScheduler: min_frame_share must be in (0, 1], got {min_frame_share}"
            )
        self.min_interval_ms = float(min_interval_ms)
        self.max_interval_ms = float(max_interval_ms)
        self.cpu_budget = float(cpu_budget)
        self.measure_every_s = float(measure_every_s)
        self.slot_ms = float(slot_ms)
        self.min_frame_share = float(min_frame_share)
        self._clock = clock
        self._cpu_clock = cpu_clock
        if frame_cpu_clock is None:
            frame_cpu_clock = time.thread_time if cpu_clock is time.process_time else cpu_clock
        self._frame_cpu_clock = frame_cpu_clock
        self._autostart = autostart
        self._lock = threading.Lock()
        self._clients: list[FrameClient] = []
        self._cursor = 0
        self._interval_ms = self.min_interval_ms
        self._cpu_fraction = 0.0
        self._compute_fraction = 0.0
        self._inline_compute_s = 0.0  # reported by clients since the last measurement
        self._last_frame_cpu = 0.0
        self._measure_thread: int | None = None
        self._frames = 0
        self._ticks = 0
        self._measurements = 0
        self._last_wall: float | None = None
        self._last_cpu = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        self._timer_chain = 0

    # -- sessions ------------------------------------------------------------------------------
    def register(self, client: FrameClient) -> None:
        """Start serving frames to ``client`` (idempotent)."""
        with self._lock:
            if not any(c is client for c in self._clients):
                self._clients.append(client)
        self._ensure_timer()

    def unregister(self, client: FrameClient) -> None:
        """Stop serving ``client`` (idempotent)."""
        with self._lock:
            self._clients = [c for c in self._clients if c is not client]

    @property
    def interval_ms(self) -> float:
        """The current shared frame interval (ms): every session gets one frame per interval."""
        return self._interval_ms

    def frame_work_ms(self) -> float:
        """Compute one session may spend per frame (ms): with ``n > 1`` sessions registered, the
        compute part of one interval's CPU budget (all but the ``min_frame_share`` kept for frame
        work) divided by ``n``, so many sessions get small frames rather than rare ones and the
        process stays within ``cpu_budget`` when overloaded; unlimited (``inf``) for a lone
        session, which waits for nobody."""
        n = len(self._clients)
        compute_budget = self.cpu_budget * (1.0 - self.min_frame_share)
        return self._interval_ms * compute_budget / n if n > 1 else math.inf

    def note_frame(self) -> None:
        """Called by a client after it pushed a frame (for :meth:`stats`)."""
        self._frames += 1

    def note_compute(self, seconds: float) -> None:
        """Called by a client that ran simulation chunks on the frame thread (inline): that
        time is compute, which a longer frame interval would not reduce, not frame work."""
        self._inline_compute_s += max(0.0, float(seconds))

    def stats(self) -> SchedulerStats:
        """Current sessions, interval, measured CPU fraction and counters."""
        return SchedulerStats(
            sessions=len(self._clients),
            interval_ms=self._interval_ms,
            cpu_fraction=self._cpu_fraction,
            frames_pushed=self._frames,
            ticks=self._ticks,
            measurements=self._measurements,
            compute_fraction=self._compute_fraction,
        )

    # -- the tick ------------------------------------------------------------------------------
    def slots(self) -> int:
        """How many timer firings one interval is split into (at most one per session)."""
        n = len(self._clients)
        return max(1, min(n, int(self._interval_ms // self.slot_ms)))

    def tick(self, now: float | None = None) -> int:
        """One timer firing: maybe measure CPU, then request frames from the next clients.

        Serves ``ceil(sessions / slots)`` clients in round-robin order, so over one interval
        (``slots`` firings) every client is asked once. Returns how many were asked.
        """
        now = self._clock() if now is None else now
        self._ticks += 1
        self._maybe_measure(now)
        with self._lock:
            clients = list(self._clients)
        if not clients:
            return 0
        per_tick = math.ceil(len(clients) / self.slots())
        for _ in range(per_tick):
            client = clients[self._cursor % len(clients)]
            self._cursor = (self._cursor + 1) % len(clients)
            try:
                client.request_frame()
            except Exception:  # a broken session must not stop the others
                log.exception("frame request failed; unregistering %r", client)
                self.unregister(client)
        return per_tick

    def _maybe_measure(self, now: float) -> None:
        cpu = self._cpu_clock()
        frame_cpu = self._frame_cpu_clock()
        thread = threading.get_ident()
        if self._last_wall is None or thread != self._measure_thread:
            # first call, or ticked from another thread (its thread clock is not comparable)
            self._last_wall, self._last_cpu, self._last_frame_cpu = now, cpu, frame_cpu
            self._measure_thread, self._inline_compute_s = thread, 0.0
            return
        wall = now - self._last_wall
        if wall < self.measure_every_s:
            return
        self._cpu_fraction = max(0.0, (cpu - self._last_cpu) / wall)
        frame_s = frame_cpu - self._last_frame_cpu - self._inline_compute_s
        frame = min(self._cpu_fraction, max(0.0, frame_s / wall))
        self._compute_fraction = self._cpu_fraction - frame
        self._last_wall, self._last_cpu, self._last_frame_cpu = now, cpu, frame_cpu
        self._inline_compute_s = 0.0
        self._measurements += 1
        frame_budget = max(
            self.cpu_budget - self._compute_fraction, self.min_frame_share * self.cpu_budget
        )
        ratio = frame / frame_budget
        if ratio > 1.0:
            factor = min(ratio, 2.0)
        elif ratio < 0.75:
            factor = max(ratio / 0.9, 0.5)
        else:
            factor = 1.0
        self._interval_ms = min(
            self.max_interval_ms, max(self.min_interval_ms, self._interval_ms * factor)
        )

    # -- the timer on the event loop -----------------------------------------------------------
    def _ensure_timer(self) -> None:
        if not self._autostart:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop here (script, test): the caller ticks by hand
            return
        if self._timer is not None and self._timer_loop is loop and not loop.is_closed():
            return
        # (re)start on this loop; a chain left on another loop stops at its next firing
        self._timer_loop = loop
        self._timer_chain += 1
        self._schedule_next(self._timer_chain)

    def _schedule_next(self, chain: int) -> None:
        loop = self._timer_loop
        if loop is None or loop.is_closed():
            self._timer = None
            return
        delay_s = self._interval_ms / self.slots() / 1000.0
        self._timer = loop.call_later(delay_s, self._on_timer, chain)

    def _on_timer(self, chain: int) -> None:
        if chain != self._timer_chain:
            return
        try:
            self.tick()
        except Exception:  # never let the process-wide timer die
            log.exception("FrameScheduler tick failed")
        if self._clients:
            self._schedule_next(chain)
        else:
            self._timer = None


_SCHEDULER: FrameScheduler | None = None
_POOL: concurrent.futures.ThreadPoolExecutor | None = None
_SINGLETON_LOCK = threading.Lock()


def get_scheduler() -> FrameScheduler:
    """The process-wide :class:`FrameScheduler` (created on first use)."""
    global _SCHEDULER
    with _SINGLETON_LOCK:
        if _SCHEDULER is None:
            _SCHEDULER = FrameScheduler()
        return _SCHEDULER


def worker_pool() -> concurrent.futures.ThreadPoolExecutor:
    """The process-wide thread pool for simulation chunks and other slow work (JAX frees the GIL).

    Sized ``min(4, cpu_count)``: enough to overlap sessions, few enough not to starve the event
    loop. Independent of ``panel serve --num-threads`` (which must not be combined with streaming).
    """
    global _POOL
    with _SINGLETON_LOCK:
        if _POOL is None:
            _POOL = concurrent.futures.ThreadPoolExecutor(
                max_workers=min(4, os.cpu_count() or 2), thread_name_prefix="snnviz-worker"
            )
        return _POOL
