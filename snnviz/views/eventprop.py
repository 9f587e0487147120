"""Views of the EventProp page: decision map and weights of a snapshot, one sample's forward
spikes and adjoint events, output membranes, the finite-difference gradient check and the
readout-bits table (numpy data from :mod:`snnviz.models.eventprop_training` -> HoloViews or
Markdown)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import holoviews as hv
import numpy as np

from snnviz.core.data.yinyang import CLASS_NAMES
from snnviz.models.eventprop_training import LAYER_NAMES, SCORED, UNSCORED_REASONS

from .traces import membrane_traces
from .training import adjoint_events, decision_map, events_by_layer, weight_histograms

if TYPE_CHECKING:
    from snnviz.models.eventprop_training import EventPropSnapshot

#: The adjoint quantity that colours the backward events: label -> ``sample_events`` key.
ADJOINT_VALUES = {
    "λ_V jump at the spike": "jump",
    "dL/dt_k of the spike": "grad_time",
    "λ_I at the spike": "lambda_i",
}


def pick_item(index: int):
    """DynamicMap callback showing element ``index`` of the list a Pipe sends."""

    def pick(data: list) -> Any:
        return data[index]

    return pick


def class_image(grid_class: np.ndarray) -> np.ndarray:
    """Class grid as floats with NaN (transparent) where no output neuron fired."""
    return np.where(grid_class < 0, np.nan, grid_class.astype(np.float64))


def snapshot_decision_map(data: EventPropSnapshot) -> hv.Overlay:
    snap = data
    overlay = decision_map(
        snap.grid_axis,
        snap.grid_axis,
        class_image(snap.grid_class),
        snap.map_points,
        snap.map_labels,
        predictions=snap.map_predictions,
        title=f"Decision map, epoch {snap.epoch:.1f}",
    )
    x, y = snap.sample["point"]
    marker = hv.Points([(x, y)], label="chosen sample").opts(
        marker="star", size=16, color="gold", line_color="black"
    )
    return overlay * marker


def snapshot_weights(data: EventPropSnapshot) -> hv.Overlay:
    hist = weight_histograms(
        {"input → hidden": data.hidden_weights, "hidden → output": data.output_weights},
        unit="θ",
        title="Weights",
    )
    # the weights drift while training: rescale the axes on every refresh
    return hist.map(lambda h: h.opts(framewise=True, backend="bokeh"), hv.Histogram)


def sample_view(sample: dict[str, Any], value: str = "jump") -> hv.Layout:
    """Forward spikes (input, hidden, output) and the adjoint events of one sample, coloured
    by ``value`` (``"jump"``, ``"grad_time"`` or ``"lambda_i"``, see ``sample_events``)."""
    fwd, adj = sample["forward"], sample["adjoint"]
    forward = events_by_layer(fwd["time"], fwd["neuron"], fwd["layer"], LAYER_NAMES)
    adjoint = events_by_layer(adj["time"], adj["neuron"], adj["layer"], LAYER_NAMES, adj[value])
    del adjoint["input"]
    label = next(k for k, v in ADJOINT_VALUES.items() if v == value)
    return adjoint_events(
        forward,
        adjoint,
        n_neurons=sample["n_neurons"],
        t_range=(0.0, sample["t_max"]),
        value_label=label,
    )


def output_traces_view(sample: dict[str, Any]) -> hv.Layout:
    """The output neurons' membrane V(t) up to each one's first spike (the readout; the
    simulation stops following a neuron there) and their adjoint λ_V(t) (backward)."""
    names = [f"{c} neuron" for c in CLASS_NAMES]
    t = sample["t"]
    before = t[:, None] <= sample["output_first"][None, :]
    v_until_spike = np.where(before, sample["v_output"], np.nan)
    v = membrane_traces(
        t,
        v_until_spike,
        labels=names,
        value_dim=hv.Dimension("v", label="V", unit="θ"),
        threshold_mv=sample["threshold"],
        title="Output membranes to first spike (forward)",
    ).opts(height=200)
    lam = membrane_traces(
        sample["t"],
        sample["lambda_v_output"],
        labels=names,
        value_dim=hv.Dimension("lambda_v", label="λ_V", unit="1/(θ ms)"),
        title="Output neurons: adjoint λ_V (backward in time)",
    ).opts(height=200)
    return (v + lam).cols(1)


def gradient_summary(result: dict[str, Any], threshold: float = 1e-3) -> str:
    """Markdown: the worst relative error (passing below ``threshold``), how many weights were
    scored and why not."""
    reason = result["reason"]
    counts = {r: int(np.sum(reason == r)) for r in UNSCORED_REASONS}
    skipped = "; ".join(f"{n} {UNSCORED_REASONS[r]}" for r, n in counts.items() if n)
    ok = result["max_relative_error"] < threshold
    status = (
        f"**pass** (< {threshold:g})" if ok else f"**FAIL** (>= {threshold:g} or nothing scored)"
    )
    return (
        f"{status}. Test sample {result['index']} at step {result['steps']}: max relative "
        f"error **{result['max_relative_error']:.2e}** (median "
        f"{result['median_relative_error']:.1e}) over {result['n_scored']} of "
        f"{result['n_weights']} weights (central differences in float64, "
        f"ε = {result['eps_rel']:g}·rms(W)); EventProp vs autodiff through the exact spike "
        f"times: {result['max_relative_error_vs_autodiff']:.1e}. Not scored: "
        f"{skipped or 'none'}."
    )


def gradient_view(result: dict[str, Any]) -> hv.Overlay:
    """|EventProp| against |finite difference| per weight (log-log), scored weights coloured
    by layer, the others grey; the diagonal is perfect agreement."""
    g = np.abs(result["eventprop"])
    fd = np.abs(np.nan_to_num(result["finite_difference"]))
    scored = result["reason"] == SCORED
    keep = (g > 0) & (fd > 0)
    ep_dim = hv.Dimension("eventprop", label="|dL/dw| EventProp")
    fd_dim = hv.Dimension("fd", label="|dL/dw| finite differences")
    rel_dim = hv.Dimension("rel", label="relative error")
    layers = []
    for code, name, color in ((0, "input → hidden", "#1f77b4"), (1, "hidden → output", "#ff7f0e")):
        sel = keep & scored & (result["layer"] == code)
        layers.append(
            hv.Scatter(
                (g[sel], fd[sel], result["relative_error"][sel]),
                kdims=[ep_dim],
                vdims=[fd_dim, rel_dim],
                label=name,
            ).opts(color=color, size=5, tools=["hover"])
        )
    other = keep & ~scored
    layers.append(
        hv.Scatter((g[other], fd[other]), kdims=[ep_dim], vdims=[fd_dim], label="not scored").opts(
            color="lightgrey", size=4
        )
    )
    both = np.concatenate([g[keep], fd[keep]])
    lo, hi = (float(both.min()), float(both.max())) if both.size else (1e-12, 1.0)
    diagonal = hv.Curve([(lo, lo), (hi, hi)], kdims=[ep_dim], vdims=[fd_dim]).opts(
        color="black", line_dash="dashed", line_width=1
    )
    return hv.Overlay([*layers, diagonal]).opts(
        logx=True,
        logy=True,
        responsive=True,
        height=300,
        legend_position="bottom_right",
        title=(
            f"Gradient check, sample {result['index']}: max rel. error "
            f"{result['max_relative_error']:.1e}"
        ),
    )


def readout_bits_markdown(report: dict[str, Any]) -> str:
    """Markdown table of bits read out per sample: spike times vs dense membrane sampling."""
    lines = [
        f"**Bits read out per sample for one gradient** ({report['mean_spikes']:.1f} hidden + "
        "output spikes per test sample, 16 bits each, vs 8-bit membrane samples of every hidden "
        "and output neuron; Pehle et al. 2023):",
        "",
        "| membrane sampling step | dense bits | spike-time bits | dense / spike |",
        "|---|---|---|---|",
    ]
    for row in report["readout_bits"]:
        lines.append(
            f"| {row['dt_ms']:g} ms ({row['n_steps']} samples) | {row['dense_bits']:.0f} | "
            f"{row['event_bits']:.0f} | **{row['dense_over_event']:.1f}×** |"
        )
    return "\n".join(lines)
