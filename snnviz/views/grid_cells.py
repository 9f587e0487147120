"""Views of the GC-VSA grid-cell page: rate maps, spatial autocorrelograms with their gridness
score, trajectories and path-integration errors.

HoloViews functions (for ``reproduce()`` figures and notebooks) and three small live Bokeh
figures (:class:`LiveArena`, :class:`LiveMaps`, :class:`LiveErrors`) that a page updates per
frame by streaming only new points, or by swapping a small image at a low rate. No Panel here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import holoviews as hv
import numpy as np
from bokeh.models import ColumnDataSource, LinearColorMapper, Range1d
from bokeh.plotting import figure
from numpy.typing import ArrayLike

from ._style import overlay_opts, styled

RATE_CMAP = "Viridis256"
AC_CMAP = "RdBu_r"  # hv / bokeh palette names differ; HoloViews takes "RdBu_r"
COLORS = {"true": "#333333", "phasor": "#1f77b4", "spiking": "#d62728"}


# --------------------------------------------------------------------------- HoloViews
def rate_map_image(
    rate: ArrayLike, arena_m: float, *, title: str = "", peak_hz: float | None = None
) -> hv.Image:
    """A rate map ``(n, n)`` indexed ``[y, x]`` over the arena ``[0, arena_m]^2`` (m); NaN bins
    (never visited) are grey."""
    r = np.asarray(rate, dtype=float)
    img = hv.Image(r[::-1], bounds=(0, 0, arena_m, arena_m), kdims=["x", "y"], vdims=["rate"])
    clim = (
        0.0,
        float(np.nanmax(r)) if peak_hz is None and np.isfinite(r).any() else peak_hz or 1.0,
    )
    return img.opts(
        backend="bokeh",
        cmap="viridis",
        clim=clim,
        title=title,
        aspect="equal",
        xlabel="x (m)",
        ylabel="y (m)",
        clipping_colors={"NaN": "lightgray"},
        frame_width=200,
        frame_height=200,
        tools=["hover"],
        colorbar=False,
    )


def autocorrelogram_image(ac: ArrayLike, bin_m: float, *, title: str = "") -> hv.Image:
    """A spatial autocorrelogram ``(2n-1, 2n-1)`` with lags in m (bin size ``bin_m``)."""
    a = np.asarray(ac, dtype=float)
    half = a.shape[0] // 2 * bin_m + bin_m / 2
    img = hv.Image(
        a[::-1], bounds=(-half, -half, half, half), kdims=["lag x", "lag y"], vdims=["r"]
    )
    return img.opts(
        backend="bokeh",
        cmap="RdBu_r",
        clim=(-1.0, 1.0),
        title=title,
        aspect="equal",
        xlabel="lag x (m)",
        ylabel="lag y (m)",
        clipping_colors={"NaN": "white"},
        frame_width=200,
        frame_height=200,
        tools=["hover"],
        colorbar=False,
    )


def rate_maps_figure(
    maps: Sequence[ArrayLike],
    autocorrs: Sequence[ArrayLike],
    titles: Sequence[str],
    scores: Sequence[float],
    arena_m: float,
) -> hv.Layout:
    """Rate maps (top row) and their autocorrelograms with gridness scores (bottom row)."""
    n = len(maps)
    bin_m = arena_m / np.asarray(maps[0]).shape[0]
    top = [rate_map_image(m, arena_m, title=t) for m, t in zip(maps, titles, strict=True)]
    bottom = [
        autocorrelogram_image(a, bin_m, title=f"gridness {s:.2f}")
        for a, s in zip(autocorrs, scores, strict=True)
    ]
    return hv.Layout(top + bottom).cols(n).opts(shared_axes=False)


def error_curves(
    t_s: ArrayLike,
    errors: Mapping[str, ArrayLike],
    *,
    bound_m: float | None = None,
    title: str = "Path-integration error",
) -> hv.Overlay:
    """Decoding error (cm) against time (s), one line per realisation, optional bound line."""
    t = np.asarray(t_s, dtype=float)
    curves = [
        styled(
            hv.Curve(
                (t, 100.0 * np.asarray(e, dtype=float)),
                kdims=[hv.Dimension("t", unit="s")],
                vdims=[hv.Dimension("error", unit="cm")],
                label=name,
            ),
            color=COLORS.get(name.split(",")[0].split()[0], "gray"),
            line_dash="dashed" if "cleanup" in name else "solid",
        )
        for name, e in errors.items()
    ]
    overlay = hv.Overlay(curves)
    if bound_m is not None:
        overlay = overlay * hv.HLine(100.0 * bound_m).opts(
            backend="bokeh", color="black", line_dash="dashed"
        )
    return overlay_opts(overlay, title=title, logy=False)


def trajectory_overlay(
    xy: ArrayLike,
    decoded: Mapping[str, ArrayLike],
    arena_m: float,
    *,
    title: str = "True and decoded path",
) -> hv.Overlay:
    """The true path and the decoded paths in the arena (m)."""
    x_dim, y_dim = hv.Dimension("x", unit="m"), hv.Dimension("y", unit="m")
    paths = [
        styled(
            hv.Path([np.asarray(xy)], kdims=[x_dim, y_dim], label="true"),
            color=COLORS["true"],
            line_width=3,
            alpha=0.5,
        )
    ]
    for name, d in decoded.items():
        paths.append(
            styled(
                hv.Path([np.asarray(d)], kdims=[x_dim, y_dim], label=name),
                color=COLORS.get(name.split(",")[0].split()[0], "gray"),
                line_dash="dashed",
            )
        )
    return overlay_opts(
        hv.Overlay(paths),
        title=title,
        xlim=(0, arena_m),
        ylim=(0, arena_m),
        responsive=False,
        frame_width=360,
        frame_height=360,
        height=None,
        show_legend=True,
    )


def gridness_bars(
    medians: Mapping[str, float],
    *,
    threshold: float | None = None,
    title: str = "Median gridness per module",
) -> hv.Overlay:
    """Bars of the median gridness score per module (label -> score), optional threshold."""
    bars = styled(
        hv.Bars(list(medians.items()), kdims=["module"], vdims=["gridness"]), xrotation=45
    )
    overlay = hv.Overlay([bars])
    if threshold is not None:
        overlay = overlay * hv.HLine(threshold).opts(
            backend="bokeh", color="red", line_dash="dashed"
        )
    return overlay_opts(overlay, title=title)


# --------------------------------------------------------------------------- live Bokeh
def _square_figure(title: str, size: float, px: int, *, lo: float = 0.0, axis: str = "") -> figure:
    fig = figure(
        title=title,
        width=px,
        height=px,
        x_range=Range1d(lo, size),
        y_range=Range1d(lo, size),
        tools="pan,wheel_zoom,reset,save",
        match_aspect=True,
        output_backend="canvas",
    )
    fig.toolbar.logo = None
    fig.xaxis.axis_label = f"{axis}x (m)"
    fig.yaxis.axis_label = f"{axis}y (m)"
    return fig


class LiveArena:
    """The arena: the agent's recent path, its position and the decoded positions.

    ``push(xy, decoded_phasor, decoded_spiking)`` streams the new path points (rollover
    ``trail``) and moves the three markers to the last rows."""

    def __init__(self, arena_m: float, *, trail: int = 3000, px: int = 380) -> None:
        self.trail = int(trail)
        self.figure = _square_figure("Agent (black), phasor (blue), spiking (red)", arena_m, px)
        self.path = ColumnDataSource({"x": [], "y": []})
        self.markers = ColumnDataSource(self._no_markers())
        self.figure.line("x", "y", source=self.path, color="#999999", line_width=1)
        self.figure.scatter(
            "x",
            "y",
            source=self.markers,
            line_color="color",
            fill_color="color",
            size="size",
            fill_alpha="alpha",
            line_width=2,
        )

    @staticmethod
    def _no_markers() -> dict[str, list]:
        return {"x": [], "y": [], "color": [], "label": [], "size": [], "alpha": []}

    def set_arena(self, arena_m: float) -> None:
        for r in (self.figure.x_range, self.figure.y_range):
            r.start, r.end = 0.0, float(arena_m)

    def push(self, xy: np.ndarray, decoded_phasor: np.ndarray, decoded_spiking: np.ndarray) -> None:
        self.path.stream({"x": xy[:, 0].tolist(), "y": xy[:, 1].tolist()}, rollover=self.trail)
        last = [xy[-1], decoded_phasor[-1], decoded_spiking[-1]]
        self.markers.data = {
            "x": [float(p[0]) for p in last],
            "y": [float(p[1]) for p in last],
            "color": [COLORS["true"], COLORS["phasor"], COLORS["spiking"]],
            "label": ["agent", "phasor", "spiking"],
            "size": [16, 11, 11],  # the agent is a large grey disc under the decoded rings
            "alpha": [0.35, 0.0, 0.0],
        }

    def reset(self) -> None:
        self.path.data = {"x": [], "y": []}
        self.markers.data = self._no_markers()


class LiveMaps:
    """``n`` small images side by side (rate maps, or autocorrelograms), swapped in place."""

    def __init__(
        self,
        n: int,
        extent: float,
        *,
        lo: float = 0.0,
        px: int = 190,
        palette: str = RATE_CMAP,
        symmetric: bool = False,
        axis: str = "",
    ) -> None:
        self.extent, self.lo = float(extent), float(lo)
        self.mapper = LinearColorMapper(palette=palette, nan_color="lightgray")
        self.symmetric = symmetric
        if symmetric:
            self.mapper.low, self.mapper.high = -1.0, 1.0
        self.figures = []
        self.sources = []
        for _ in range(n):
            fig = _square_figure("", extent, px, lo=lo, axis=axis)
            fig.toolbar_location = None
            src = ColumnDataSource({"image": [np.full((2, 2), np.nan)]})
            fig.image(
                "image",
                source=src,
                x=lo,
                y=lo,
                dw=extent - lo,
                dh=extent - lo,
                color_mapper=self.mapper,
            )
            self.figures.append(fig)
            self.sources.append(src)

    def set_extent(self, extent: float, lo: float = 0.0) -> None:
        """Change the images' spatial extent (m)."""
        self.extent, self.lo = float(extent), float(lo)
        for fig in self.figures:
            for r in (fig.x_range, fig.y_range):
                r.start, r.end = self.lo, self.extent
            glyph = fig.renderers[0].glyph
            glyph.x = glyph.y = self.lo
            glyph.dw = glyph.dh = self.extent - self.lo

    def update(self, images: Sequence[np.ndarray], titles: Sequence[str]) -> None:
        """Show ``images[i]`` (indexed ``[y, x]``, row 0 at the bottom) with ``titles[i]``."""
        for fig, src, img, title in zip(self.figures, self.sources, images, titles, strict=False):
            src.data = {"image": [np.asarray(img, dtype=np.float32)]}
            fig.title.text = title
        if not self.symmetric:
            finite = [np.nanmax(i) for i in images if np.isfinite(i).any()]
            self.mapper.low, self.mapper.high = 0.0, float(max(finite)) if finite else 1.0

    def reset(self) -> None:
        for fig, src in zip(self.figures, self.sources, strict=True):
            src.data = {"image": [np.full((2, 2), np.nan)]}
            fig.title.text = ""


class LiveErrors:
    """Decoding error (cm) of both realisations against walk time (s), streamed."""

    def __init__(self, *, rollover: int = 20000, height: int = 220) -> None:
        self.rollover = int(rollover)
        self.figure = figure(
            title="Decoding error",
            height=height,
            sizing_mode="stretch_width",
            tools="pan,xwheel_zoom,box_zoom,reset,save",
            output_backend="canvas",
            x_axis_label="walk time (s)",
            y_axis_label="error (cm)",
        )
        self.figure.toolbar.logo = None
        self.source = ColumnDataSource({"t": [], "phasor": [], "spiking": []})
        self.figure.line(
            "t", "phasor", source=self.source, color=COLORS["phasor"], legend_label="phasor"
        )
        self.figure.line(
            "t", "spiking", source=self.source, color=COLORS["spiking"], legend_label="spiking"
        )
        self.figure.legend.location = "top_left"

    def push(self, t_s: np.ndarray, err_phasor: np.ndarray, err_spiking: np.ndarray) -> None:
        self.source.stream(
            {
                "t": np.asarray(t_s).tolist(),
                "phasor": (100.0 * np.asarray(err_phasor)).tolist(),
                "spiking": (100.0 * np.asarray(err_spiking)).tolist(),
            },
            rollover=self.rollover,
        )

    def reset(self) -> None:
        self.source.data = {"t": [], "phasor": [], "spiking": []}
