"""Export: data as CSV / NPZ, parameters as a preset JSON, figures as standalone HTML.

The helpers return bytes or text (usable headless, e.g. by ``snnviz reproduce``);
:class:`ExportPanel` puts them behind download buttons whose callbacks run only when clicked.

A preset is ``{"name": ..., "model": <class name>, "params": {<numeric param>: value}}``: the
numeric, writable params of a ``param.Parameterized``; :func:`apply_preset` sets them back.

Example::

    export = ExportPanel(
        data=lambda: {"t_ms": t, "v_mV": v},         # called at click time
        params=model,                                 # a param.Parameterized
        figure=lambda: page.raster_view(),            # a HoloViews object or Bokeh model
        filename="neuron_lab",
    )
    pn.Column(..., export)
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping
from typing import Any, Literal

import numpy as np
import panel as pn
import param
from bokeh.embed import file_html
from bokeh.embed.util import OutputDocumentFor
from bokeh.model import Model
from bokeh.resources import CDN, INLINE
from numpy.typing import ArrayLike

PRESET_KEYS = ("name", "model", "params")


def _columns(data: Mapping[str, ArrayLike]) -> dict[str, np.ndarray]:
    """Flatten ``{name: (T,) or (T, N) array}`` into 1-D columns (``name[i]`` for 2-D)."""
    out: dict[str, np.ndarray] = {}
    for name, value in data.items():
        arr = np.asarray(value)
        if arr.ndim == 1:
            out[str(name)] = arr
        elif arr.ndim == 2:
            for i in range(arr.shape[1]):
                out[f"{name}[{i}]"] = arr[:, i]
        else:
            raise ValueError(
                f"CSV export: column {name!r} must be 1-D or 2-D (time first), got shape "
                f"{arr.shape}"
            )
    lengths = {k: v.shape[0] for k, v in out.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"CSV export: columns have different lengths {lengths}")
    return out


def _fmt(arr: np.ndarray) -> str:
    if arr.dtype.kind in "biu":
        return "%d"
    if arr.dtype == np.float32 or arr.dtype == np.float16:
        return "%.9g"  # enough digits to round-trip float32
    return "%.17g"  # ... and float64


def to_csv_bytes(data: Mapping[str, ArrayLike]) -> bytes:
    """A CSV (header row, then one row per sample) of equally long columns; values round-trip."""
    cols = _columns(data)
    if not cols:
        raise ValueError("CSV export: no columns given")
    for name, col in cols.items():
        if col.dtype.kind not in "biuf":
            raise ValueError(f"CSV export: column {name!r} is not numeric (dtype {col.dtype})")
    table = np.column_stack([c.astype(np.float64) for c in cols.values()])
    buf = io.StringIO()
    np.savetxt(
        buf,
        table,
        delimiter=",",
        fmt=[_fmt(c) for c in cols.values()],
        header=",".join(cols),
        comments="",
    )
    return buf.getvalue().encode("utf-8")


def to_npz_bytes(data: Mapping[str, ArrayLike]) -> bytes:
    """A compressed ``.npz`` holding each array under its name (``np.load`` reads it back)."""
    if not data:
        raise ValueError("NPZ export: no arrays given")
    buf = io.BytesIO()
    np.savez_compressed(buf, **{str(k): np.asarray(v) for k, v in data.items()})
    return buf.getvalue()


def _numeric_params(obj: param.Parameterized) -> dict[str, param.Parameter]:
    return {
        name: p
        for name, p in obj.param.objects("existing").items()
        if isinstance(p, param.Number)
        and not isinstance(p, param.Date)
        and name != "name"
        and not (p.constant or p.readonly)
    }


def preset_dict(
    obj: param.Parameterized, *, name: str = "custom", model: str | None = None
) -> dict[str, Any]:
    """``{"name", "model", "params"}`` with ``obj``'s numeric, writable param values."""
    params: dict[str, Any] = {}
    for pname, p in _numeric_params(obj).items():
        value = getattr(obj, pname)
        if value is None:
            params[pname] = None
        elif isinstance(p, param.Integer):
            params[pname] = int(value)
        else:
            params[pname] = float(value)
    return {"name": str(name), "model": model or type(obj).__name__, "params": params}


def preset_json(obj: param.Parameterized, *, name: str = "custom", model: str | None = None) -> str:
    """:func:`preset_dict` as indented JSON text."""
    return json.dumps(preset_dict(obj, name=name, model=model), indent=2, allow_nan=False)


def apply_preset(obj: param.Parameterized, preset: Mapping[str, Any] | str) -> None:
    """Set ``obj``'s params from a preset (dict or JSON text); param checks bounds.

    Raises ``ValueError`` if the preset is for another model or names unknown params.
    """
    data = json.loads(preset) if isinstance(preset, str) else dict(preset)
    missing = [k for k in PRESET_KEYS if k not in data]
    if missing:
        raise ValueError(f"preset lacks the keys {missing}; a preset has {list(PRESET_KEYS)}")
    expected = type(obj).__name__
    if data["model"] != expected:
        raise ValueError(f"preset is for model {data['model']!r}, not {expected!r}")
    allowed = _numeric_params(obj)
    unknown = sorted(set(data["params"]) - set(allowed))
    if unknown:
        raise ValueError(f"preset sets unknown params {unknown}; {expected} has {sorted(allowed)}")
    obj.param.update(**data["params"])


def _is_figure(fig: Any) -> bool:
    import holoviews as hv

    return isinstance(fig, Model | hv.core.Dimensioned) or isinstance(
        getattr(fig, "figure", None), Model
    )


def _bokeh_model(fig: Any) -> Model:
    if isinstance(fig, Model):
        return fig
    if isinstance(getattr(fig, "figure", None), Model):  # the live plots
        return fig.figure
    import holoviews as hv

    if isinstance(fig, hv.core.Dimensioned):
        return hv.render(fig, backend="bokeh")
    raise TypeError(
        f"figure export needs a HoloViews object, a Bokeh model or a live plot, got "
        f"{type(fig).__name__}"
    )


def figure_html(
    fig: Any, *, title: str = "snnviz figure", resources: Literal["inline", "cdn"] = "inline"
) -> str:
    """A standalone HTML page showing ``fig`` (HoloViews object, Bokeh model or live plot).

    ``resources="inline"`` embeds BokehJS, so the file works offline; ``"cdn"`` is smaller.
    A model shown live elsewhere is serialised through a temporary document, untouched.
    """
    if resources not in ("inline", "cdn"):
        raise ValueError(f"resources must be 'inline' or 'cdn', got {resources!r}")
    model = _bokeh_model(fig)
    with OutputDocumentFor([model], always_new=True):
        return file_html(model, resources=INLINE if resources == "inline" else CDN, title=title)


class ExportPanel(pn.viewable.Viewer):
    """Download buttons for whichever of data, parameters and figure are given.

    Args:
        data: called at click time; returns ``{name: array}`` (time along axis 0) for the CSV
            and NPZ buttons.
        params: a ``param.Parameterized`` (or a function returning one, called at click time)
            for the preset JSON button.
        figure: a HoloViews object / Bokeh model / live plot, or a function returning one
            (called at click time), for the HTML button.
        filename: base name of the downloaded files.
        preset_name: the preset's ``name`` field.
    """

    def __init__(
        self,
        *,
        data: Callable[[], Mapping[str, ArrayLike]] | None = None,
        params: param.Parameterized | Callable[[], param.Parameterized] | None = None,
        figure: Any = None,
        filename: str = "snnviz",
        preset_name: str = "custom",
    ) -> None:
        if data is None and params is None and figure is None:
            raise ValueError("ExportPanel: give at least one of data, params, figure")
        super().__init__()
        self._data = data
        self._params = params
        self._figure = figure
        self._preset_name = preset_name
        self.buttons: dict[str, pn.widgets.FileDownload] = {}
        if data is not None:
            self.buttons["csv"] = self._button("CSV", f"{filename}.csv", self.csv_file)
            self.buttons["npz"] = self._button("NPZ", f"{filename}.npz", self.npz_file)
        if params is not None:
            self.buttons["json"] = self._button("Preset JSON", f"{filename}.json", self.preset_file)
        if figure is not None:
            self.buttons["html"] = self._button("Figure HTML", f"{filename}.html", self.html_file)
        self._layout = pn.Row(*self.buttons.values())

    @staticmethod
    def _button(label: str, filename: str, callback: Callable[[], io.BytesIO]) -> Any:
        return pn.widgets.FileDownload(
            callback=callback, filename=filename, label=label, color="light", embed=False
        )

    def csv_file(self) -> io.BytesIO:
        assert self._data is not None
        return io.BytesIO(to_csv_bytes(self._data()))

    def npz_file(self) -> io.BytesIO:
        assert self._data is not None
        return io.BytesIO(to_npz_bytes(self._data()))

    def preset_file(self) -> io.BytesIO:
        assert self._params is not None
        obj = self._params
        if not isinstance(obj, param.Parameterized):
            obj = obj()
        text = preset_json(obj, name=self._preset_name)
        return io.BytesIO(text.encode("utf-8"))

    def html_file(self) -> io.BytesIO:
        fig = self._figure
        if not _is_figure(fig) and callable(fig):
            fig = fig()
        return io.BytesIO(figure_html(fig).encode("utf-8"))

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
