"""Phase plane of a two-variable neuron (AdEx: membrane potential V and adaptation current w).

The caller supplies the model as plain functions or arrays, so this module knows nothing about
parameters. For AdEx with constant input I (Brette & Gerstner 2005)::

    C dV/dt = -g_L (V - E_L) + g_L Δ_T exp((V - V_T) / Δ_T) - w + I
    τ_w dw/dt = a (V - E_L) - w

the V-nullcline is ``w = -g_L (V - E_L) + g_L Δ_T exp((V - V_T)/Δ_T) + I`` and the w-nullcline is
``w = a (V - E_L)``.

Example::

    from snnviz.views import phase_plane
    phase_plane(
        v_range_mv=(-80, -30), w_range_pa=(-50, 250),
        v_nullcline=lambda v: -gl * (v - el) + gl * dt * np.exp((v - vt) / dt) + i_ext,
        w_nullcline=lambda v: a * (v - el),
        vector_field=lambda v, w: (dv_dt(v, w), dw_dt(v, w)),
        trajectory=(record_v, record_w),
    )
"""

from __future__ import annotations

from collections.abc import Callable

import holoviews as hv
import numpy as np
from numpy.typing import ArrayLike

from ._style import V_MEMBRANE, W_ADAPT, overlay_opts, styled

Nullcline = Callable[[np.ndarray], ArrayLike] | tuple[ArrayLike, ArrayLike]
VectorField = (
    Callable[[np.ndarray, np.ndarray], tuple[ArrayLike, ArrayLike]]
    | tuple[ArrayLike, ArrayLike, ArrayLike, ArrayLike]
)
_V_END = hv.Dimension("v_end", label="V", unit="mV")
_W_END = hv.Dimension("w_end", label="w", unit="pA")


def phase_plane(
    *,
    v_range_mv: tuple[float, float],
    w_range_pa: tuple[float, float],
    v_nullcline: Nullcline | None = None,
    w_nullcline: Nullcline | None = None,
    vector_field: VectorField | None = None,
    trajectory: tuple[ArrayLike, ArrayLike] | None = None,
    grid: int = 15,
    n_points: int = 400,
    title: str = "",
) -> hv.Overlay:
    """Nullclines, a direction field and a trajectory in the (V, w) plane.

    Args:
        v_range_mv, w_range_pa: the visible window.
        v_nullcline, w_nullcline: ``f(V_mV array) -> w_pA array`` (sampled at ``n_points`` V
            values) or arrays ``(V, w)``. Points outside the w window are hidden, so an exploding
            exponential does not stretch the axes.
        vector_field: ``f(V grid, w grid) -> (dV/dt, dw/dt)`` (evaluated on a ``grid x grid``
            mesh) or four arrays ``(V, w, dV/dt, dw/dt)``. Drawn as equal-length arrows whose
            direction is the flow direction on screen (each axis scaled by its window span).
        trajectory: arrays ``(V(t), w(t))``; its start is marked with a dot.

    Returns an ``hv.Overlay``; its layers are labelled ``"V-nullcline"``, ``"w-nullcline"``,
    ``"flow"``, ``"trajectory"`` and ``"start"`` (those given). :func:`phase_plane_columns`
    computes the same layers as plain arrays (for a raw Bokeh plot updated in place).
    """
    cols = phase_plane_columns(
        v_range_mv=v_range_mv,
        w_range_pa=w_range_pa,
        v_nullcline=v_nullcline,
        w_nullcline=w_nullcline,
        vector_field=vector_field,
        trajectory=trajectory,
        grid=grid,
        n_points=n_points,
    )
    layers: list[hv.Element] = []
    if "flow" in cols:
        f = cols["flow"]
        segs = np.stack([f["v0"], f["w0"], f["v1"], f["w1"]], axis=1)
        element = hv.Segments(segs, kdims=[V_MEMBRANE, W_ADAPT, _V_END, _W_END], label="flow")
        layers.append(styled(element, color=PHASE_COLORS["flow"], line_width=1, tools=[]))
    for name in ("V-nullcline", "w-nullcline"):
        if name in cols:
            curve = hv.Curve(
                (cols[name]["v"], cols[name]["w"]), kdims=[V_MEMBRANE], vdims=[W_ADAPT], label=name
            )
            layers.append(styled(curve, color=PHASE_COLORS[name], line_width=2))
    if "trajectory" in cols:
        tv, tw = cols["trajectory"]["v"], cols["trajectory"]["w"]
        path = hv.Curve((tv, tw), kdims=[V_MEMBRANE], vdims=[W_ADAPT], label="trajectory")
        layers.append(styled(path, color=PHASE_COLORS["trajectory"], line_width=1.5, alpha=0.8))
        if tv.size:
            start = hv.Scatter((tv[:1], tw[:1]), kdims=[V_MEMBRANE], vdims=[W_ADAPT], label="start")
            layers.append(styled(start, color=PHASE_COLORS["trajectory"], size=8))
    (v_lo, v_hi), (w_lo, w_hi) = cols["window"]["v"], cols["window"]["w"]
    return overlay_opts(
        hv.Overlay(layers),
        title=title,
        xlim=(float(v_lo), float(v_hi)),
        ylim=(float(w_lo), float(w_hi)),
    )


#: Line colours of the phase-plane layers.
PHASE_COLORS = {
    "flow": "#999999",
    "V-nullcline": "#d62728",
    "w-nullcline": "#1f77b4",
    "trajectory": "black",
}


def phase_plane_columns(
    *,
    v_range_mv: tuple[float, float],
    w_range_pa: tuple[float, float],
    v_nullcline: Nullcline | None = None,
    w_nullcline: Nullcline | None = None,
    vector_field: VectorField | None = None,
    trajectory: tuple[ArrayLike, ArrayLike] | None = None,
    grid: int = 15,
    n_points: int = 400,
) -> dict[str, dict[str, np.ndarray]]:
    """The layers of :func:`phase_plane` as arrays (same arguments, same checks).

    Returns ``{"window": {"v": (lo, hi), "w": (lo, hi)}}`` plus, for those given,
    ``"flow": {"v0", "w0", "v1", "w1"}`` (arrow segments), ``"V-nullcline"`` and
    ``"w-nullcline": {"v", "w"}`` (NaN where hidden), ``"trajectory"`` and ``"start"``:
    ``{"v", "w"}``.
    """
    v_lo, v_hi = _window(v_range_mv, "v_range_mv")
    w_lo, w_hi = _window(w_range_pa, "w_range_pa")
    out: dict[str, dict[str, np.ndarray]] = {
        "window": {"v": np.array([v_lo, v_hi]), "w": np.array([w_lo, w_hi])}
    }
    if vector_field is not None:
        segs = _flow_segments(vector_field, (v_lo, v_hi), (w_lo, w_hi), int(grid))
        out["flow"] = {k: segs[:, i] for i, k in enumerate(("v0", "w0", "v1", "w1"))}
    for name, spec in (("V-nullcline", v_nullcline), ("w-nullcline", w_nullcline)):
        if spec is None:
            continue
        v, w = _sample_nullcline(spec, (v_lo, v_hi), int(n_points), name)
        margin = 0.05 * (w_hi - w_lo)
        out[name] = {"v": v, "w": np.where((w >= w_lo - margin) & (w <= w_hi + margin), w, np.nan)}
    if trajectory is not None:
        tv = np.asarray(trajectory[0], dtype=np.float64).ravel()
        tw = np.asarray(trajectory[1], dtype=np.float64).ravel()
        if tv.shape != tw.shape:
            raise ValueError(
                f"phase_plane: trajectory V and w must have the same length, got {tv.size} and "
                f"{tw.size}"
            )
        out["trajectory"] = {"v": tv, "w": tw}
        out["start"] = {"v": tv[:1], "w": tw[:1]}
    if len(out) == 1:
        raise ValueError(
            "phase_plane: give at least one of v_nullcline, w_nullcline, vector_field, trajectory"
        )
    return out


def _window(rng: tuple[float, float], name: str) -> tuple[float, float]:
    lo, hi = float(rng[0]), float(rng[1])
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        raise ValueError(f"phase_plane: {name} must be (low, high) with high > low, got {rng}")
    return lo, hi


def _sample_nullcline(
    spec: Nullcline, v_window: tuple[float, float], n_points: int, name: str
) -> tuple[np.ndarray, np.ndarray]:
    if callable(spec):
        v = np.linspace(v_window[0], v_window[1], n_points)
        with np.errstate(over="ignore", invalid="ignore"):
            w = np.asarray(spec(v), dtype=np.float64) * np.ones_like(v)
    else:
        v = np.asarray(spec[0], dtype=np.float64).ravel()
        w = np.asarray(spec[1], dtype=np.float64).ravel()
    if v.shape != w.shape:
        raise ValueError(f"phase_plane: {name} has {v.size} V values but {w.size} w values")
    return v, w


def flow_arrows(
    v: ArrayLike,
    w: ArrayLike,
    dv: ArrayLike,
    dw: ArrayLike,
    *,
    v_span: float,
    w_span: float,
    length: float,
) -> np.ndarray:
    """Arrow segments ``[k, (v0, w0, v1, w1)]`` for a direction field, shaft then two head barbs.

    Directions are computed with each axis divided by its span, so on a plot of that window the
    arrows point along the flow and all have ``length`` (a fraction of the window). Points where
    the flow vanishes or is not finite get no arrow.
    """
    v, w, dv, dw = (np.asarray(a, dtype=np.float64).ravel() for a in (v, w, dv, dw))
    nx, ny = dv / v_span, dw / w_span
    norm = np.hypot(nx, ny)
    ok = np.isfinite(norm) & (norm > 0)
    v, w, ux, uy = v[ok], w[ok], nx[ok] / norm[ok], ny[ok] / norm[ok]
    half = 0.5 * length
    tail = np.stack([v - half * ux * v_span, w - half * uy * w_span], axis=1)
    head = np.stack([v + half * ux * v_span, w + half * uy * w_span], axis=1)
    segments = [np.concatenate([tail, head], axis=1)]
    barb = 0.35 * length
    for angle in (np.deg2rad(150.0), np.deg2rad(-150.0)):
        c, s = np.cos(angle), np.sin(angle)
        bx, by = c * ux - s * uy, s * ux + c * uy
        end = np.stack([head[:, 0] + barb * bx * v_span, head[:, 1] + barb * by * w_span], axis=1)
        segments.append(np.concatenate([head, end], axis=1))
    return np.concatenate(segments, axis=0)


def _flow_segments(
    spec: VectorField, v_window: tuple[float, float], w_window: tuple[float, float], grid: int
) -> np.ndarray:
    if callable(spec):
        if grid < 2:
            raise ValueError(f"phase_plane: grid must be >= 2, got {grid}")
        vg, wg = np.meshgrid(
            np.linspace(*v_window, grid + 2)[1:-1], np.linspace(*w_window, grid + 2)[1:-1]
        )
        with np.errstate(over="ignore", invalid="ignore"):
            dv, dw = spec(vg, wg)
        v, w = vg, wg
        cells = grid
    else:
        v, w, dv, dw = spec
        cells = max(2, round(np.sqrt(np.size(v))))
    return flow_arrows(
        v,
        w,
        np.broadcast_to(np.asarray(dv, dtype=np.float64), np.shape(v)),
        np.broadcast_to(np.asarray(dw, dtype=np.float64), np.shape(w)),
        v_span=v_window[1] - v_window[0],
        w_span=w_window[1] - w_window[0],
        length=0.7 / cells,
    )
