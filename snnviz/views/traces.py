"""Membrane-potential (or any per-neuron) traces against time.

Example::

    from snnviz.views import membrane_traces
    t_ms = dt * np.arange(n_steps)
    membrane_traces(t_ms, record["v"], neurons=[0, 5, 9], threshold_mv=-50.0)
"""

from __future__ import annotations

from collections.abc import Sequence

import holoviews as hv
import numpy as np
from numpy.typing import ArrayLike

from ._style import CATEGORY_COLORS, TIME, V_MEMBRANE, overlay_opts, styled


def membrane_traces(
    t_ms: ArrayLike,
    values: ArrayLike,
    *,
    neurons: Sequence[int] | None = None,
    labels: Sequence[str] | None = None,
    value_dim: hv.Dimension = V_MEMBRANE,
    threshold_mv: float | None = None,
    title: str = "",
) -> hv.Overlay:
    """One curve per neuron: ``values[T, N]`` (or ``values[T]``) against ``t_ms[T]``.

    Args:
        t_ms: sample times in ms.
        values: the traces, time along axis 0 (mV by default; pass ``value_dim`` for others).
        neurons: which columns to draw (default: all, so keep N small).
        labels: legend names, one per drawn neuron (default ``"neuron <i>"``).
        value_dim: the y dimension (name, label, unit).
        threshold_mv: if given, a dashed horizontal line at this value.
        title: plot title.

    Returns an ``hv.Overlay`` of ``hv.Curve`` (plus an ``hv.HLine`` for the threshold).
    """
    t = np.asarray(t_ms, dtype=np.float64)
    v = np.asarray(values)
    if v.ndim == 1:
        v = v[:, None]
    if v.ndim != 2 or t.ndim != 1 or v.shape[0] != t.shape[0]:
        raise ValueError(
            f"membrane_traces: need t_ms of shape (T,) and values of shape (T,) or (T, N), "
            f"got {np.shape(t_ms)} and {np.shape(values)}"
        )
    cols = list(range(v.shape[1])) if neurons is None else [int(i) for i in neurons]
    bad = [i for i in cols if not 0 <= i < v.shape[1]]
    if bad:
        raise ValueError(f"neurons {bad} out of range for {v.shape[1]} columns")
    names = [f"neuron {i}" for i in cols] if labels is None else list(labels)
    if len(names) != len(cols):
        raise ValueError(f"got {len(names)} labels for {len(cols)} neurons")
    curves = [
        styled(hv.Curve((t, v[:, i]), kdims=[TIME], vdims=[value_dim], label=name)).opts(
            color=color, line_width=1.5, backend="bokeh"
        )
        for i, name, color in zip(cols, names, _colors(len(cols)), strict=True)
    ]
    layers: list[hv.Element] = list(curves)
    if threshold_mv is not None:
        layers.append(
            hv.HLine(float(threshold_mv)).opts(color="grey", line_dash="dashed", backend="bokeh")
        )
    return overlay_opts(hv.Overlay(layers), title=title, show_legend=len(cols) > 1)


def _colors(n: int) -> list[str]:
    palette = CATEGORY_COLORS.values
    return [palette[i % len(palette)] for i in range(n)]
