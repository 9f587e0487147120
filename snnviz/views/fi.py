"""f-I curve: firing rate against constant input current, with an optional closed form.

Example (LIF, whose rate for I > I_rheo is 1 / (t_ref + tau_m ln(R I / (R I - theta)))::

    from snnviz.views import fi_curve
    fi_curve(currents_pa, measured_hz, closed_form=lambda i: lif_rate_hz(i, params))
"""

from __future__ import annotations

from collections.abc import Callable

import holoviews as hv
import numpy as np
from numpy.typing import ArrayLike

from ._style import CURRENT, RATE, overlay_opts, styled

ClosedForm = Callable[[np.ndarray], ArrayLike] | tuple[ArrayLike, ArrayLike]


def fi_curve(
    currents_pa: ArrayLike,
    rates_hz: ArrayLike,
    *,
    closed_form: ClosedForm | None = None,
    label: str = "simulated",
    closed_form_label: str = "closed form",
    n_closed_form_points: int = 400,
    title: str = "",
) -> hv.Overlay:
    """Measured rates as a line with markers, optionally over a dashed closed-form curve.

    Args:
        currents_pa, rates_hz: the measured points (same length).
        closed_form: either a function ``f(I_pA array) -> rate_Hz array`` (evaluated on
            ``n_closed_form_points`` currents spanning the measured ones) or a tuple of arrays
            ``(I_pA, rate_Hz)``.
        label, closed_form_label: legend names.

    Returns an ``hv.Overlay`` of ``hv.Curve`` and ``hv.Scatter`` (+ the closed-form ``hv.Curve``).
    """
    i = np.asarray(currents_pa, dtype=np.float64).ravel()
    f = np.asarray(rates_hz, dtype=np.float64).ravel()
    if i.shape != f.shape:
        raise ValueError(
            f"fi_curve: currents_pa and rates_hz must have the same length, got {i.size} and "
            f"{f.size}"
        )
    layers: list[hv.Element] = []
    if closed_form is not None:
        if callable(closed_form):
            lo, hi = (float(i.min()), float(i.max())) if i.size else (0.0, 1.0)
            i_ref = np.linspace(lo, hi, int(n_closed_form_points))
            f_ref = np.asarray(closed_form(i_ref), dtype=np.float64)
        else:
            i_ref = np.asarray(closed_form[0], dtype=np.float64).ravel()
            f_ref = np.asarray(closed_form[1], dtype=np.float64).ravel()
        if i_ref.shape != f_ref.shape:
            raise ValueError(
                f"fi_curve: closed form gave {f_ref.size} rates for {i_ref.size} currents"
            )
        layers.append(
            styled(
                hv.Curve((i_ref, f_ref), kdims=[CURRENT], vdims=[RATE], label=closed_form_label),
                color="grey",
                line_dash="dashed",
                line_width=2,
            )
        )
    layers.append(
        styled(hv.Curve((i, f), kdims=[CURRENT], vdims=[RATE], label=label), color="#1f77b4")
    )
    layers.append(styled(hv.Scatter((i, f), kdims=[CURRENT], vdims=[RATE], label=label), size=6))
    return overlay_opts(hv.Overlay(layers), title=title, legend_position="top_left")
