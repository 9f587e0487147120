"""The Neuron lab's plots: raw Bokeh figures whose sources are replaced in place on every
slider move (membrane trace, phase plane, f-I curve)."""

from __future__ import annotations

from typing import Any

import numpy as np
from bokeh.models import ColumnDataSource, Label, Legend, LegendItem, Range1d, Span
from bokeh.plotting import figure

from .phase_plane import PHASE_COLORS

_HEIGHT = 280
_TOOLS = "pan,wheel_zoom,box_zoom,reset,save,hover"


def _figure(title: str, xlabel: str, ylabel: str, **kw: Any) -> Any:
    fig = figure(
        title=title,
        height=_HEIGHT,
        sizing_mode="stretch_width",
        min_width=250,
        tools=_TOOLS,
        x_axis_label=xlabel,
        y_axis_label=ylabel,
        output_backend="canvas",
        **kw,
    )
    fig.toolbar.logo = None
    return fig


class NeuronPlots:
    """The Neuron lab's three plots as raw Bokeh figures whose sources are replaced in place.

    Each redraw swaps the ``ColumnDataSource`` data (and titles/ranges) of the same figures:
    the browser gets new arrays, not a new plot to lay out, and the server does not re-render
    a HoloViews element (that took most of a slider move's time). Columns: trace ``t``, ``v``;
    phase plane ``v``, ``w`` (and arrow segments ``v0, w0, v1, w1``); f-I ``current``,
    ``rate``.
    """

    def __init__(self) -> None:
        self.trace_source = ColumnDataSource({"t": [], "v": []})
        self.trace = _figure("membrane potential", "time (ms)", "membrane potential (mV)")
        self.trace.line("t", "v", source=self.trace_source, line_width=1.5, color="#1f77b4")
        self.threshold = Span(
            location=0.0, dimension="width", line_color="grey", line_dash="dashed", visible=False
        )
        self.trace.add_layout(self.threshold)

        self.phase = _figure(
            "phase plane",
            "membrane potential (mV)",
            "adaptation current (pA)",
            x_range=Range1d(-80.0, 0.0),
            y_range=Range1d(-50.0, 200.0),
        )
        self.phase_sources = {
            name: ColumnDataSource(
                {"v0": [], "w0": [], "v1": [], "w1": []} if name == "flow" else {"v": [], "w": []}
            )
            for name in ("flow", "V-nullcline", "w-nullcline", "trajectory", "start")
        }
        src = self.phase_sources
        self.phase.segment(
            "v0", "w0", "v1", "w1", source=src["flow"], color=PHASE_COLORS["flow"], line_width=1
        )
        lines = {
            name: self.phase.line(
                "v",
                "w",
                source=src[name],
                color=PHASE_COLORS[name],
                line_width=1.5 if name == "trajectory" else 2,
                alpha=0.8 if name == "trajectory" else 1.0,
            )
            for name in ("V-nullcline", "w-nullcline", "trajectory")
        }
        self.phase.scatter("v", "w", source=src["start"], color="black", size=8)
        # below the plot, not over the flow field
        legend = Legend(
            items=[LegendItem(label=name, renderers=[r]) for name, r in lines.items()],
            orientation="horizontal",
            click_policy="hide",
        )
        self.phase.add_layout(legend, "below")
        self.phase_note = Label(
            x=10, y=_HEIGHT // 2, x_units="screen", y_units="screen", text="", visible=False
        )
        self.phase.add_layout(self.phase_note)

        self.fi_source = ColumnDataSource({"current": [], "rate": []})
        self.fi = _figure("f-I curve (constant current)", "input current (pA)", "firing rate (Hz)")
        self.fi.line("current", "rate", source=self.fi_source, color="#1f77b4", line_width=2)
        self.fi.scatter("current", "rate", source=self.fi_source, color="#1f77b4", size=6)

    def show_trace(self, t: np.ndarray, v: np.ndarray, threshold: float, title: str) -> None:
        """Replace the membrane trace (``t`` in ms, ``v`` in mV) and the threshold line."""
        self.trace_source.data = {"t": np.asarray(t, np.float64), "v": np.asarray(v, np.float64)}
        self.threshold.update(location=threshold, visible=True)
        self.trace.title.text = title

    def show_phase_plane(self, cols: dict | None, title: str) -> None:
        """Replace the phase-plane layers with ``phase_plane_columns(...)``; ``None`` empties
        the plot and shows ``title`` as a note on it instead (no second variable)."""
        if cols is None:
            for src in self.phase_sources.values():
                src.data = {k: [] for k in src.data}
            self.phase.title.text = "phase plane"
            self.phase_note.update(text=title, visible=True)
            return
        for name, src in self.phase_sources.items():
            src.data = cols.get(name) or {k: [] for k in src.data}
        (v_lo, v_hi), (w_lo, w_hi) = cols["window"]["v"], cols["window"]["w"]
        self.phase.x_range.update(start=float(v_lo), end=float(v_hi))
        self.phase.y_range.update(start=float(w_lo), end=float(w_hi))
        self.phase.title.text = title
        self.phase_note.visible = False

    def show_fi(self, currents: np.ndarray, rates: np.ndarray) -> None:
        """Replace the f-I curve (pA, Hz)."""
        self.fi_source.data = {
            "current": np.asarray(currents, np.float64),
            "rate": np.asarray(rates, np.float64),
        }
