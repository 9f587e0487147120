"""Shared look of every snnviz view: sizes, tools, dimensions with units, colours."""

from __future__ import annotations

from typing import Any, TypeVar

import holoviews as hv
import holoviews.plotting.bokeh  # registers the bokeh backend's options

Element = TypeVar("Element", bound=hv.core.Dimensioned)

# Canvas, not WebGL: headless and software-GL browsers stall on WebGL read-backs (STACK.md §3),
# and these analysis views are small. Live plots choose their backend per plot.
hv.renderer("bokeh").webgl = False

HEIGHT = 280  # px; width follows the container (responsive)
TOOLS = ("hover",)  # added to bokeh's default pan / wheel-zoom / box-zoom / reset / save
CATEGORY_COLORS = hv.Cycle("Category10")
RASTER_CMAP = "Greys"  # white (no spikes) -> black (many spikes)

TIME = hv.Dimension("t", label="time", unit="ms")
NEURON = hv.Dimension("neuron", label="neuron")
V_MEMBRANE = hv.Dimension("v", label="membrane potential", unit="mV")
W_ADAPT = hv.Dimension("w", label="adaptation current", unit="pA")
CURRENT = hv.Dimension("current", label="input current", unit="pA")
RATE = hv.Dimension("rate", label="firing rate", unit="Hz")
COUNT = hv.Dimension("count", label="count")


def styled(element: Element, **opts: Any) -> Element:
    """Apply the common bokeh options (responsive width, fixed height, hover) plus ``opts``."""
    base: dict[str, Any] = {"responsive": True, "height": HEIGHT, "tools": list(TOOLS)}
    base.update(opts)
    return element.opts(backend="bokeh", **base)


def overlay_opts(overlay: hv.Overlay, *, title: str = "", **opts: Any) -> hv.Overlay:
    """Options of an overlay of styled elements: responsive, common height, legend on the right."""
    base: dict[str, Any] = {
        "responsive": True,
        "height": HEIGHT,
        "title": title,
        "legend_position": "right",
    }
    base.update(opts)
    return overlay.opts(backend="bokeh", **base)


def dimension(name: str, label: str | None = None, unit: str | None = None) -> hv.Dimension:
    """A dimension with an optional human label and unit (shown as ``label (unit)``)."""
    return hv.Dimension(name, label=label or name, unit=unit)
