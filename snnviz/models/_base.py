"""Common machinery of the parameter models: bounded numbers with units, presets, a registry.

A model is a :class:`param.Parameterized` whose parameters *are* the user interface (bounds,
soft bounds for sliders, a label with the unit, a doc string). It builds the matching
``snnviz.core`` object with :meth:`ParamModel.build`, checks cross-parameter constraints there
(raising a ``ValueError`` a page can show), and reads/writes the preset JSON format::

    {"name": ..., "model": ..., "source": ..., "params": {...}, "current": {...} | null,
     "duration_ms": ... | null, "pattern": ... | null}

This module never imports panel (``snnviz.models`` sits below the UI layers).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import param

_REGISTRY: dict[str, type[ParamModel]] = {}
PRESET_KEYS = ("name", "model", "source", "params", "current", "duration_ms", "pattern")


def number(
    default: float,
    *,
    bounds: tuple[float | None, float | None],
    soft: tuple[float, float],
    unit: str,
    label: str,
    doc: str,
    step: float | None = None,
) -> param.Number:
    """A ``param.Number`` whose label and doc carry the unit, e.g. label ``"τ_m (ms)"``.

    ``bounds`` are hard (assigning outside raises param's ``ValueError``); ``soft`` is the
    default slider range.
    """
    suffix = f" ({unit})" if unit else ""
    return param.Number(
        default,
        bounds=bounds,
        softbounds=soft,
        step=step,
        label=f"{label}{suffix}",
        doc=f"{doc}{suffix}",
    )


def integer(
    default: int, *, bounds: tuple[int, int], soft: tuple[int, int], label: str, doc: str
) -> param.Integer:
    """A ``param.Integer`` (sizes, seeds) with hard and soft bounds."""
    return param.Integer(default, bounds=bounds, softbounds=soft, label=label, doc=doc)


def _canonical(model: str) -> str:
    """``"AdExModel"``, ``"adex"``, ``"Ad-Ex"`` -> ``"adex"``."""
    key = re.sub(r"[^a-z0-9]", "", str(model).lower())
    return key.removesuffix("model") or key


class ParamModel(param.Parameterized):
    """Base of every parameter model: registry, values, validation hook, presets.

    Subclasses set ``model_name`` (the ``"model"`` field of a preset) and optional
    ``aliases``, and implement :meth:`build`.
    """

    model_name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "model_name" in cls.__dict__ and cls.model_name:
            for alias in (cls.model_name, *cls.aliases):
                _REGISTRY[_canonical(alias)] = cls

    # -- values ---------------------------------------------------------------------------
    @classmethod
    def param_names(cls) -> tuple[str, ...]:
        """Names of the model's parameters (without param's ``name``), in definition order."""
        return tuple(p for p in cls.param if p != "name")

    def values(self) -> dict[str, Any]:
        """``{parameter: value}`` for every parameter except ``name``."""
        return {p: getattr(self, p) for p in self.param_names()}

    @classmethod
    def unit(cls, parameter: str) -> str:
        """The unit of ``parameter`` as written in its label (``""`` if dimensionless)."""
        match = re.search(r"\(([^()]*)\)\s*$", cls.param[parameter].label or "")
        return match.group(1) if match else ""

    # -- behaviour subclasses provide -----------------------------------------------------
    @classmethod
    def check_live_values(
        cls, values: Mapping[str, Any], live: tuple[str, ...], *, owner: str, reset_note: str
    ) -> dict[str, float]:
        """``values`` as floats after checking each name is in ``live`` and each value is
        finite and within its parameter's bounds; ValueError (naming ``owner``) otherwise.
        ``reset_note`` ends the unknown-name message (which parameters apply at Reset)."""
        unknown = sorted(set(values) - set(live))
        if unknown:
            raise ValueError(
                f"{owner}: unknown hyperparameter(s) {unknown}; live ones are {list(live)} "
                f"({reset_note})"
            )
        checked = {}
        for name, value in values.items():
            number = float(value)
            lo, hi = cls.param[name].bounds
            if not (math.isfinite(number) and lo <= number <= hi):
                label = cls.param[name].label or name
                raise ValueError(
                    f"{owner}: {label} ({name}) = {value!r} is outside [{lo:g}, {hi:g}]"
                )
            checked[name] = number
        return checked

    def validate(self) -> None:
        """Cross-parameter checks; raise ``ValueError`` with a message a user can act on."""

    def build(self) -> Any:
        """The ``snnviz.core`` object for the current values (calls :meth:`validate` first)."""
        raise NotImplementedError

    def structure_key(self) -> tuple:
        """The static choices (shapes, model kind): rebuild/recompile only when this changes."""
        return (self.model_name,)

    # -- presets --------------------------------------------------------------------------
    def to_preset(
        self,
        name: str = "custom",
        *,
        source: str = "",
        current: ParamModel | Mapping[str, Any] | None = None,
        duration_ms: float | None = None,
        pattern: str | None = None,
    ) -> dict[str, Any]:
        """This model as a preset dict (JSON-serialisable). ``current`` may be a
        :class:`~snnviz.models.CurrentProtocol` or its ``values()``."""
        if isinstance(current, ParamModel):
            current = current.values()
        return {
            "name": name,
            "model": self.model_name,
            "source": source,
            "params": {k: _plain(v) for k, v in self.values().items()},
            "current": None if current is None else {k: _plain(v) for k, v in current.items()},
            "duration_ms": duration_ms,
            "pattern": pattern,
        }

    @classmethod
    def from_preset(cls, preset: Mapping[str, Any]) -> Self:
        """A new model from a preset dict. Called on :class:`ParamModel` itself it picks the
        class named by ``preset["model"]``; on a subclass the names must agree."""
        target = model_class(preset.get("model", cls.model_name))
        if cls is not ParamModel and not issubclass(target, cls):
            raise ValueError(
                f"preset {preset.get('name')!r} is for model {preset.get('model')!r}, "
                f"not {cls.model_name!r}; load it with ParamModel.from_preset or "
                f"{target.__name__}.from_preset"
            )
        return target(**target._preset_params(preset))

    def apply_preset(self, preset: Mapping[str, Any]) -> None:
        """Set this model's parameters from ``preset`` in place (widgets bound to it follow).

        All values are checked before any is set: a bad preset leaves the model unchanged.
        """
        values = type(self)._preset_params(preset, strict_model=True)
        type(self)(**values)  # raises param's ValueError for an out-of-bounds value
        self.param.update(**values)

    @classmethod
    def _preset_params(cls, preset: Mapping[str, Any], strict_model: bool = True) -> dict:
        if strict_model and "model" in preset and model_class(preset["model"]) is not cls:
            raise ValueError(
                f"preset {preset.get('name')!r} is for model {preset['model']!r}, "
                f"not {cls.model_name!r}"
            )
        params = preset.get("params", preset)
        return cls._coerce_params(params, f"preset {preset.get('name')!r}")

    @classmethod
    def _coerce_params(cls, params: Mapping[str, Any], where: str) -> dict[str, Any]:
        known = cls.param_names()
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise ValueError(
                f"{where}: unknown parameter(s) {unknown} for {cls.__name__}; "
                f"known parameters: {list(known)}"
            )
        out = {}
        for key, value in params.items():
            if (
                isinstance(cls.param[key], param.Integer)
                and isinstance(value, float)
                and value.is_integer()
            ):
                value = int(value)
            out[key] = value
        return out


def model_class(model: str) -> type[ParamModel]:
    """The model class for a preset's ``"model"`` field (case and punctuation ignored)."""
    try:
        return _REGISTRY[_canonical(model)]
    except KeyError:
        known = sorted({cls.model_name for cls in _REGISTRY.values()})
        raise ValueError(f"unknown model {model!r}; known models: {known}") from None


def _plain(value: Any) -> Any:
    """numpy scalars -> Python numbers, so presets serialise with ``json``."""
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value
