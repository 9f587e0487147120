"""Views of the DelGrad page: learned delay distributions, one test sample's spikes and output
potentials, accuracy vs parameter count and the weights-vs-delays comparison (numpy data of a
:class:`~snnviz.models.delgrad_training.DelGradSnapshot` or an experiment -> HoloViews)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import holoviews as hv
import numpy as np

from snnviz.core.delgrad.experiments import DelayComparison
from snnviz.models.delgrad_training import TARGET_LAG_MS

from .training import CLASS_COLORS, spike_raster_sample

if TYPE_CHECKING:
    from snnviz.models.delgrad_training import DelGradSnapshot

DELAY = hv.Dimension("delay", label="delay", unit="ms")
ACC = hv.Dimension("accuracy", label="test accuracy", unit="%")
PARAMS = hv.Dimension("parameters", label="trainable parameters")


def _framewise(plot: Any) -> Any:
    """Recompute the axis ranges on every redraw (the live views are DynamicMaps whose data
    range moves as training goes)."""
    for element in plot if isinstance(plot, hv.Overlay) else [plot]:
        element.opts(framewise=True)
    return plot


def _layer_names(sizes: Sequence[int]) -> list[str]:
    return ["input", *(f"hidden {k + 1}" for k in range(len(sizes) - 2)), "output"]


def delay_histogram(snapshot: DelGradSnapshot, *, bins: int = 30) -> hv.Overlay:
    """Learned delays (filled) and their initial values (outline) per layer, with the timing
    task's target interval marked; an empty plot for a weights-only network."""
    title = f"Learned {snapshot.delay_type} delays (step {snapshot.steps})"
    layers = [(i, d) for i, d in enumerate(snapshot.delays) if d is not None]
    if not layers:
        empty = hv.Histogram(([0.0, 1.0], [0.0]), kdims=[DELAY], vdims=["count"])
        return _framewise(
            empty.opts(title="Weights only: no delays to learn", responsive=True, height=260)
        )
    names = _layer_names(snapshot.sizes)
    values = [np.ravel(d) for _, d in layers] + [
        np.ravel(snapshot.initial_delays[i]) for i, _ in layers
    ]
    hi = max(float(np.max(np.concatenate(values))), TARGET_LAG_MS + 5.0, 1.0)
    edges = np.linspace(0.0, hi, bins + 1)
    parts: list[Any] = []
    for k, (i, d) in enumerate(layers):
        color = CLASS_COLORS[k % len(CLASS_COLORS)]
        label = f"{names[i]} → {names[i + 1]}"
        start, _ = np.histogram(np.ravel(snapshot.initial_delays[i]), bins=edges)
        now, _ = np.histogram(np.ravel(d), bins=edges)
        parts.append(
            hv.Histogram(
                (edges, start), kdims=[DELAY], vdims=["count"], label=f"{label}, initial"
            ).opts(fill_alpha=0.0, line_color=color, line_dash="dashed", line_width=1.5)
        )
        parts.append(
            hv.Histogram(
                (edges, now), kdims=[DELAY], vdims=["count"], label=f"{label}, learned"
            ).opts(fill_color=color, fill_alpha=0.5, line_color=color)
        )
    if snapshot.task == "timing":
        parts.append(hv.VLine(TARGET_LAG_MS).opts(color="black", line_dash="dotted"))
    return _framewise(
        hv.Overlay(parts).opts(
            title=title, responsive=True, height=260, legend_position="top_right", show_grid=True
        )
    )


def delay_matrix(snapshot: DelGradSnapshot) -> hv.HeatMap:
    """The output layer's effective delay of every connection (ms; axonal delays are equal
    down a column, dendritic along a row)."""
    sample = snapshot.sample
    n_out, n_pre = sample["arrivals"].shape
    effective = sample["arrivals"] - sample["pre"][None, :]
    effective = np.where(np.isfinite(effective), effective, np.nan)
    rows = [
        (f"in {j}", f"out {k}", float(effective[k, j])) for k in range(n_out) for j in range(n_pre)
    ]
    heat = hv.HeatMap(rows, kdims=["presynaptic", "output neuron"], vdims=[DELAY])
    labels = hv.Labels(
        [(a, b, f"{v:.1f}") for a, b, v in rows],
        kdims=["presynaptic", "output neuron"],
        vdims=["v"],
    ).opts(text_font_size="8pt", text_color="black")
    title = "Output layer: delay of each connection (ms)"
    if snapshot.task == "timing":
        title = f"Output delays (pair c = inputs 2c, 2c+1; target {TARGET_LAG_MS:g} ms)"
    return _framewise(
        (heat.opts(cmap="Oranges", colorbar=True, tools=["hover"]) * labels).opts(
            title=title, responsive=True, height=260
        )
    )


def _sample_title(sample: Mapping[str, Any]) -> str:
    pred = sample["prediction"]
    verdict = "no output spike" if pred < 0 else f"predicted {pred}"
    return f"Test sample {sample['index']}: class {sample['label']}, {verdict}"


def sample_raster(snapshot: DelGradSnapshot) -> hv.Overlay:
    """The chosen sample's spike times in every layer (input at the bottom)."""
    sample = snapshot.sample
    names = list(sample["n_neurons"])
    times = [sample["input_times"], *sample["layer_times"]]
    layers = {}
    for name, t in zip(names, times, strict=True):
        fired = np.isfinite(t)
        layers[name] = (np.asarray(t)[fired], np.flatnonzero(fired))
    return _framewise(
        spike_raster_sample(
            layers, n_neurons=sample["n_neurons"], title=f"{_sample_title(sample)}: spike times"
        ).opts(height=240)
    )


def output_potentials(snapshot: DelGradSnapshot) -> hv.Overlay:
    """Output neurons' membrane potentials up to their first spike (star; threshold dashed)
    and the arrivals of the presynaptic spikes at the true class's neuron (ticks at the
    bottom, coloured by the connection's weight: red excitatory, blue inhibitory)."""
    sample = snapshot.sample
    t, v, out = sample["t"], sample["v"], sample["output_times"]
    theta, label = sample["threshold"], sample["label"]
    time = hv.Dimension("t", label="time", unit="ms")
    vdim = hv.Dimension("V", label="membrane potential", unit="θ")
    parts: list[Any] = []
    low, high = 0.0, theta
    for k in range(v.shape[0]):
        color = CLASS_COLORS[k % len(CLASS_COLORS)]
        x, y = t, v[k]
        if np.isfinite(out[k]):  # the potential up to the exact crossing
            x, y = np.append(t[t < out[k]], out[k]), np.append(v[k][t < out[k]], theta)
        low, high = min(low, float(y.min())), max(high, float(y.max()))
        parts.append(
            hv.Curve((x, y), kdims=[time], vdims=[vdim], label=f"output {k}").opts(
                color=color, line_width=3 if k == label else 1.5
            )
        )
        if np.isfinite(out[k]):
            parts.append(
                hv.Scatter(([out[k]], [theta]), kdims=[time], vdims=[vdim]).opts(
                    color=color, size=12, marker="star"
                )
            )
    parts.append(hv.HLine(theta).opts(color="grey", line_dash="dashed"))
    arrivals = sample["arrivals"][label]
    fired = np.isfinite(arrivals)
    weights = sample["last_weights"][label][fired]
    scale = float(np.abs(weights).max(initial=1e-9))
    bottom = low - 0.4 * theta
    parts.append(
        hv.Spikes((arrivals[fired], weights), kdims=[time], vdims=[hv.Dimension("w")]).opts(
            color="w",
            cmap="RdBu_r",
            clim=(-scale, scale),
            spike_length=0.3 * theta,
            position=bottom + 0.05 * theta,
            line_width=3,
        )
    )
    return _framewise(
        hv.Overlay(parts).opts(
            title=f"Output potentials; ticks: arrivals (t_pre + d) at output {label}",
            responsive=True,
            height=280,
            legend_position="right",
            ylim=(bottom, high + 0.15 * theta),
        )
    )


def accuracy_vs_parameters_plot(rows: Sequence[Mapping[str, Any]], title: str = "") -> hv.Overlay:
    """Test accuracy (%) against trainable parameters, one curve per variant, points labelled
    with the hidden width (rows of :func:`~snnviz.core.delgrad.experiments.
    accuracy_vs_parameters`)."""
    parts: list[Any] = []
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    for i, name in enumerate(variants):
        sel = sorted((r for r in rows if r["variant"] == name), key=lambda r: r["parameters"])
        x = [r["parameters"] for r in sel]
        y = [100.0 * r["accuracy"] for r in sel]
        color = CLASS_COLORS[i % len(CLASS_COLORS)]
        parts.append(hv.Curve((x, y), kdims=[PARAMS], vdims=[ACC], label=name).opts(color=color))
        parts.append(hv.Scatter((x, y), kdims=[PARAMS], vdims=[ACC]).opts(color=color, size=8))
        parts.append(
            hv.Labels(
                {"x": x, "y": y, "text": [f"h={r['width']}" for r in sel]},
                kdims=["x", "y"],
                vdims=["text"],
            ).opts(text_font_size="8pt", yoffset=3)
        )
    parts.append(hv.HLine(100.0 / 3).opts(color="grey", line_dash="dashed"))
    counts = [float(r["parameters"]) for r in rows] or [1.0]
    span = max(counts) - min(counts) or 1.0
    return hv.Overlay(parts).opts(
        title=title or "Timing task: accuracy vs parameter count (h = hidden neurons)",
        responsive=True,
        height=300,
        xlim=(min(counts) - 0.08 * span, max(counts) + 0.08 * span),
        ylim=(0, 105),
        legend_position="bottom_right",
    )


def comparison_plot(comparison: DelayComparison, title: str) -> hv.Overlay:
    """Test accuracy per variant: mean (bar) and each seed (points)."""
    names = list(comparison.accuracy)
    means = [100.0 * float(np.mean(comparison.accuracy[n])) for n in names]
    bars = hv.Bars((names, means), kdims=["variant"], vdims=[ACC]).opts(
        color=CLASS_COLORS[0], alpha=0.5
    )
    points = hv.Scatter(
        [(n, 100.0 * a) for n in names for a in comparison.accuracy[n]],
        kdims=["variant"],
        vdims=[ACC],
    ).opts(color="black", size=6, jitter=0.2)
    chance = hv.HLine(100.0 / 3).opts(color="grey", line_dash="dashed")
    return (bars * points * chance).opts(
        title=title, responsive=True, height=300, ylim=(0, 105), xrotation=15
    )


def learned_delay_plot(comparison: DelayComparison, variant: str, bins: int = 40) -> hv.Overlay:
    """All learned delays of ``variant`` (every seed), the target interval dotted."""
    d = comparison.delays[variant]
    counts, edges = np.histogram(d, bins=bins, range=(0.0, max(float(d.max(initial=0.0)), 1.0)))
    hist = hv.Histogram((edges, counts), kdims=[DELAY], vdims=["count"]).opts(fill_alpha=0.6)
    return (hist * hv.VLine(TARGET_LAG_MS).opts(color="black", line_dash="dotted")).opts(
        title=f"Timing task: learned delays, {variant} (all seeds; dotted: target interval)",
        responsive=True,
        height=280,
    )


def accuracy_curves(comparison: DelayComparison, title: str) -> hv.Overlay:
    """Mean test accuracy (%) against the epoch, one curve per variant (at the epochs the
    engine evaluated: ``test_epoch`` when its history has it)."""
    parts = []
    for i, (name, histories) in enumerate(comparison.histories.items()):
        acc = 100.0 * np.mean([h["test_accuracy"] for h in histories], axis=0)
        epochs = histories[0].get("test_epoch", histories[0]["epoch"])
        parts.append(
            hv.Curve((epochs, acc), kdims=[hv.Dimension("epoch")], vdims=[ACC], label=name).opts(
                color=CLASS_COLORS[i % len(CLASS_COLORS)], line_width=2
            )
        )
    return hv.Overlay(parts).opts(
        title=title, responsive=True, height=280, ylim=(0, 100), legend_position="bottom_right"
    )
