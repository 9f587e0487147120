"""Views of the bee path-integration page: live raw-Bokeh plots (journey arena, TB1/CPU4 bumps,
circuit activity, ES fitness) and HoloViews figures for ``reproduce()``.

Live plots follow STACK.md: raw ``ColumnDataSource`` streams and small in-place updates, never a
rebuilt figure. Conventions: headings clockwise from +y, so a point is ``(x, y)`` as drawn.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import holoviews as hv
import numpy as np
from bokeh.models import ColumnDataSource, FixedTicker, LinearColorMapper
from bokeh.plotting import figure

from snnviz.core.navigation.circuit import POPULATIONS

from ._style import styled

COLORS = {
    "outbound": "#9e9e9e",
    "inbound": "#1f77b4",
    "true": "#2ca02c",
    "decoded": "#ff7f0e",
    "nest": "#d62728",
}
CIRCUIT_COLORS = {"rate": "#1f77b4", "spiking": "#9467bd", "emulated BSS-2": "#ff7f0e"}


def _fig(title: str, height: int, **kw) -> figure:
    return figure(
        title=title,
        height=height,
        tools="pan,wheel_zoom,box_zoom,reset,save",
        output_backend="canvas",
        **kw,
    )


class LiveJourney:
    """Arena: outbound path (grey), homing path (blue), nest (red), the bee, the true home
    vector (green) and the one decoded from CPU4 (orange), both drawn from the bee."""

    def __init__(self, *, height: int = 420, trail: int = 20_000) -> None:
        self.trail = trail
        self.figure = _fig(
            "Journey: outbound (grey), homing (blue)", height, match_aspect=True, width=height
        )
        self.outbound = ColumnDataSource({"x": [], "y": []})
        self.inbound = ColumnDataSource({"x": [], "y": []})
        self.bee = ColumnDataSource({"x": [0.0], "y": [0.0]})
        self.vectors = ColumnDataSource(
            {"x0": [], "y0": [], "x1": [], "y1": [], "color": [], "label": []}
        )
        self.figure.line("x", "y", source=self.outbound, color=COLORS["outbound"], line_width=1)
        self.figure.line("x", "y", source=self.inbound, color=COLORS["inbound"], line_width=1.5)
        self.figure.segment(
            "x0",
            "y0",
            "x1",
            "y1",
            source=self.vectors,
            color="color",
            line_width=3,
            legend_field="label",
        )
        self.figure.scatter(
            [0.0], [0.0], marker="star", size=16, color=COLORS["nest"], legend_label="nest"
        )
        self.figure.scatter("x", "y", source=self.bee, size=9, color="black")
        self.figure.legend.location = "top_left"
        self.figure.legend.background_fill_alpha = 0.5
        self.figure.xaxis.axis_label = "x"
        self.figure.yaxis.axis_label = "y"

    def push(self, xy: np.ndarray, outbound: np.ndarray, decoded_home: np.ndarray) -> None:
        """New positions (n, 2) with their phase (n,) and the decoded home vector (2,)."""
        out, inn = xy[outbound], xy[~outbound]
        if len(out):
            self.outbound.stream(
                {"x": out[:, 0].tolist(), "y": out[:, 1].tolist()}, rollover=self.trail
            )
        if len(inn):
            if not len(self.inbound.data["x"]) and len(self.outbound.data["x"]):
                inn = np.concatenate(
                    [[[self.outbound.data["x"][-1], self.outbound.data["y"][-1]]], inn]
                )
            self.inbound.stream(
                {"x": inn[:, 0].tolist(), "y": inn[:, 1].tolist()}, rollover=self.trail
            )
        bx, by = (float(v) for v in xy[-1])
        self.bee.data = {"x": [bx], "y": [by]}
        dx, dy = (float(v) for v in decoded_home)
        self.vectors.data = {
            "x0": [bx, bx],
            "y0": [by, by],
            "x1": [0.0, bx + dx],
            "y1": [0.0, by + dy],
            "color": [COLORS["true"], COLORS["decoded"]],
            "label": ["true home vector", "decoded from CPU4"],
        }

    def reset(self) -> None:
        for src in (self.outbound, self.inbound):
            src.data = {"x": [], "y": []}
        self.bee.data = {"x": [0.0], "y": [0.0]}
        self.vectors.data = {"x0": [], "y0": [], "x1": [], "y1": [], "color": [], "label": []}


class LiveBumps:
    """Bar plots of the TB1 heading bump (8 columns; *low* = current heading) and the CPU4
    memory (16 columns, minus its resting 0.5; the home vector is the bump's opposite)."""

    def __init__(self, *, height: int = 200) -> None:
        self.tb1 = ColumnDataSource({"x": list(range(8)), "top": [0.0] * 8})
        self.cpu4 = ColumnDataSource(
            {"x": list(range(16)), "top": [0.0] * 16, "color": ["#1f77b4"] * 8 + ["#9467bd"] * 8}
        )
        self.tb1_figure = _fig("TB1 (heading compass, low = heading)", height, y_range=(0, 1.05))
        self.tb1_figure.vbar(x="x", top="top", width=0.8, source=self.tb1, color="#2ca02c")
        self.tb1_figure.xaxis.ticker = FixedTicker(ticks=list(range(8)))
        self.tb1_figure.xaxis.major_label_overrides = {i: f"{45 * i}°" for i in range(8)}
        self.cpu4_figure = _fig(
            "CPU4 memory − 0.5 (left | right hemisphere)", height, y_range=(-0.5, 0.5)
        )
        self.cpu4_figure.vbar(x="x", top="top", width=0.8, source=self.cpu4, color="color")
        self.cpu4_figure.xaxis.axis_label = "column"
        self.tb1_figure.xaxis.axis_label = "preferred heading"

    def update(self, tb1: np.ndarray, memory: np.ndarray) -> None:
        self.tb1.data = {"x": list(range(8)), "top": [float(v) for v in tb1]}
        self.cpu4.data = dict(self.cpu4.data, top=[float(v) - 0.5 for v in memory])

    def reset(self) -> None:
        self.update(np.zeros(8), np.full(16, 0.5))


class LiveActivity:
    """Activity of all 76 neurons over the last ``window`` agent steps as an image (server-side
    binned: spike counts per agent step for spiking circuits, rates for the rate model)."""

    def __init__(self, *, window: int = 300, height: int = 260) -> None:
        n = sum(n for _, n in POPULATIONS)
        self.window = window
        self.buffer = np.zeros((n, window), np.float32)
        self.mapper = LinearColorMapper(palette="Greys256", low=0.0, high=1.0)
        self.mapper.palette = list(reversed(self.mapper.palette))
        self.figure = _fig(
            "Circuit activity (last agent steps)", height, x_range=(0, window), y_range=(0, n)
        )
        self.source = ColumnDataSource({"image": [self.buffer]})
        self.figure.image(
            image="image", x=0, y=0, dw=window, dh=n, source=self.source, color_mapper=self.mapper
        )
        edges = np.cumsum([0] + [n for _, n in POPULATIONS])
        self.figure.yaxis.ticker = FixedTicker(
            ticks=[float(e + m) / 2 for e, m in itertools.pairwise(edges)]
        )
        self.figure.yaxis.major_label_overrides = {
            float(e + m) / 2: name
            for (name, _), (e, m) in zip(POPULATIONS, itertools.pairwise(edges), strict=True)
        }
        self.figure.xaxis.axis_label = "agent step (most recent at right)"

    def push(self, activity: np.ndarray, scale: float) -> None:
        """New rows ``(steps, 76)``; ``scale`` maps them to [0, 1] (max count or 1 for rates)."""
        new = np.asarray(activity, np.float32).T[:, -self.window :] / max(scale, 1e-9)
        k = new.shape[1]
        self.buffer = np.concatenate([self.buffer[:, k:], new], axis=1)
        self.source.data = {"image": [self.buffer]}

    def reset(self) -> None:
        self.buffer = np.zeros_like(self.buffer)
        self.source.data = {"image": [self.buffer]}


class LiveFitness:
    """ES fitness per generation: best and mean (fitness = − mean closest-approach ratio)."""

    def __init__(self, *, height: int = 240) -> None:
        self.source = ColumnDataSource({"generation": [], "best": [], "mean": []})
        self.figure = _fig("Evolution strategy: fitness per generation", height)
        self.figure.line(
            "generation", "best", source=self.source, color="#d62728", legend_label="best"
        )
        self.figure.line(
            "generation", "mean", source=self.source, color="#1f77b4", legend_label="mean"
        )
        self.figure.xaxis.axis_label = "generation"
        self.figure.yaxis.axis_label = "fitness (− closest approach / turn distance)"
        self.figure.legend.location = "bottom_right"

    def push(self, generation: int, best: float, mean: float) -> None:
        self.source.stream({"generation": [generation], "best": [best], "mean": [mean]})

    def reset(self) -> None:
        self.source.data = {"generation": [], "best": [], "mean": []}


# --- HoloViews figures for reproduce() ------------------------------------------------------


def journey_paths(
    paths: Sequence[np.ndarray], n_outbound: int, *, title: str = "Journeys"
) -> hv.Overlay:
    """Paths (each (T, 2)): outbound grey, homing coloured, nest red."""
    layers = []
    for xy in paths:
        layers.append(
            hv.Curve((xy[:n_outbound, 0], xy[:n_outbound, 1]), "x", "y").opts(
                backend="bokeh", color=COLORS["outbound"], line_width=1
            )
        )
        layers.append(
            hv.Curve((xy[n_outbound - 1 :, 0], xy[n_outbound - 1 :, 1]), "x", "y").opts(
                backend="bokeh", line_width=1.5
            )
        )
    layers.append(
        hv.Scatter(([0.0], [0.0]), "x", "y").opts(
            backend="bokeh", color=COLORS["nest"], size=12, marker="star"
        )
    )
    return styled(
        hv.Overlay(layers).opts(backend="bokeh", title=title, data_aspect=1, show_legend=False)
    )


def closest_approach_cdf(ratios: Mapping[str, np.ndarray], threshold: float = 0.1) -> hv.Overlay:
    """Empirical CDFs of the closest approach / turnaround distance, one per circuit."""
    curves = []
    for name, r in ratios.items():
        x = np.sort(np.asarray(r, float))
        y = np.arange(1, len(x) + 1) / len(x)
        curves.append(
            hv.Curve(
                (x, y), "closest approach / turnaround distance", "fraction of routes", label=name
            )
        )
    line = hv.VLine(threshold).opts(backend="bokeh", color="black", line_dash="dashed")
    return styled(
        hv.Overlay([*curves, line]).opts(
            backend="bokeh", title="Homing precision", logx=True, legend_position="bottom_right"
        )
    )


def degradation_curves(
    mismatch: Sequence[float],
    homed_m: Sequence[float],
    bits: Sequence[float],
    homed_b: Sequence[float],
) -> hv.Layout:
    """Homing success vs fixed-pattern mismatch and vs synapse resolution (emulated chip)."""
    a = hv.Curve((list(mismatch), list(homed_m)), "mismatch σ", "homing success") * hv.Scatter(
        (list(mismatch), list(homed_m)), "mismatch σ", "homing success"
    ).opts(backend="bokeh", size=7)
    b = hv.Curve((list(bits), list(homed_b)), "weight bits", "homing success") * hv.Scatter(
        (list(bits), list(homed_b)), "weight bits", "homing success"
    ).opts(backend="bokeh", size=7)
    return (
        styled(a.opts(backend="bokeh", title="Emulated BSS-2: mismatch", ylim=(0, 1.05)))
        + styled(b.opts(backend="bokeh", title="Emulated BSS-2: weight resolution", ylim=(0, 1.05)))
    ).cols(2)


def es_curve(
    best: Sequence[float], mean: Sequence[float], *, title: str = "Evolution strategy"
) -> hv.Overlay:
    """Best and mean fitness per generation."""
    g = np.arange(1, len(best) + 1)
    return styled(
        (
            hv.Curve((g, list(best)), "generation", "fitness", label="best")
            * hv.Curve((g, list(mean)), "generation", "fitness", label="mean")
        ).opts(backend="bokeh", title=title, legend_position="bottom_right")
    )
