"""``RunControls``: play/pause, step, reset and speed for a :class:`LiveLoop`.

Example::

    loop = LiveLoop(advance_chunk, push, chunk_ms=10.0, on_reset=reset_model)
    pn.Column(RunControls(loop), traces)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

import panel as pn

from .live_loop import LiveLoop

_PLAY, _PAUSE = "▶ Play", "❚❚ Pause"  # glyphs present in common fonts (DejaVu)


def readout(loop: LiveLoop) -> str:
    """Simulated time, plus the achieved speed when it falls short of the requested one."""
    text = format_sim_time(loop.sim_time_ms)
    factor = loop.realtime_factor
    if loop.running and factor is not None and factor < 0.9 * float(loop.speed):
        text += f" (running at {factor:.2g}× real time)"
    return text


def format_sim_time(t_ms: float) -> str:
    """``850 ms``, ``12.35 s`` or ``3 min 05.0 s``: simulated time for a readout."""
    if t_ms < 1000.0:
        return f"{t_ms:.0f} ms"
    seconds = t_ms / 1000.0
    if seconds < 60.0:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(seconds, 60.0)
    return f"{int(minutes)} min {rest:04.1f} s"


class RunControls(pn.viewable.Viewer):
    """Compact controls bound to a :class:`LiveLoop`.

    Widgets (attributes, for tests and custom layouts): ``play`` (a Toggle two-way linked to
    ``loop.running``), ``step_button``, ``reset_button``, ``speed`` (a slider on ``loop.speed``,
    "x real time") and ``time`` (simulated time, refreshed at most ``readout_hz`` times a second,
    with the achieved speed when the model cannot keep up).

    Args:
        loop: the loop to control.
        layout: ``"row"`` (default) or ``"column"``.
        show_speed, show_time: include the speed slider / time readout.
        readout_hz: maximum refresh rate of the time readout (each refresh is a message).
        clock: wall clock (seconds) for the readout throttle.
    """

    def __init__(
        self,
        loop: LiveLoop,
        *,
        layout: Literal["row", "column"] = "row",
        show_speed: bool = True,
        show_time: bool = True,
        readout_hz: float = 4.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if layout not in ("row", "column"):
            raise ValueError(f"RunControls: layout must be 'row' or 'column', got {layout!r}")
        super().__init__()
        self.loop = loop
        self._clock = clock
        self._min_gap = 1.0 / readout_hz if readout_hz > 0 else 0.0
        self._last_readout = -float("inf")
        self.play = pn.widgets.Toggle.from_param(
            loop.param.running,
            label=_PAUSE if loop.running else _PLAY,
            color="primary",
            width=100,
        )
        self.step_button = pn.widgets.Button(label="Step", width=70, description="Run one chunk")
        self.reset_button = pn.widgets.Button(
            label="Reset", width=70, description="Restart the simulation at t = 0"
        )
        self.speed = pn.widgets.FloatSlider.from_param(
            loop.param.speed, label="Speed (× real time)", width=200
        )
        self.time = pn.widgets.StaticText(label="t", value=readout(loop))
        self.step_button.on_click(lambda _event: loop.step())
        self.reset_button.on_click(lambda _event: loop.reset())
        loop.param.watch(self._on_running, "running")
        loop.add_frame_listener(self._on_frame)
        widgets: list[pn.viewable.Viewable] = [self.play, self.step_button, self.reset_button]
        if show_speed:
            widgets.append(self.speed)
        if show_time:
            widgets.append(self.time)
        self._layout = pn.Row(*widgets) if layout == "row" else pn.Column(*widgets)

    def _on_running(self, event: object) -> None:
        self.play.label = _PAUSE if self.loop.running else _PLAY
        self.time.value = readout(self.loop)  # never stale when paused

    def _on_frame(self, loop: LiveLoop) -> None:
        now = self._clock()
        fresh = not loop.running or loop.sim_time_ms == 0.0
        if fresh or now - self._last_readout >= self._min_gap:
            self._last_readout = now
            self.time.value = readout(loop)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
