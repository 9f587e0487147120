"""Preset files: ``assets/presets/*.json`` in the repository, one preset per file.

Format (see :mod:`snnviz.models._base`)::

    {"name": "tonic", "model": "adex", "source": "Naud et al. 2008, Table 1",
     "params": {...}, "current": {"kind": "step", "amplitude": 65.0, ...},
     "duration_ms": 500.0, "pattern": "tonic"}

``params`` are the model's parameter names (``LIFModel``/``AdExModel``/... fields), and
``current`` the :class:`~snnviz.models.CurrentProtocol` fields (or null).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ._base import PRESET_KEYS, ParamModel, model_class

_REQUIRED = ("name", "model", "params")


def presets_dir() -> Path:
    """``$SNNVIZ_PRESETS`` or ``<repository>/assets/presets``."""
    env = os.environ.get("SNNVIZ_PRESETS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "assets" / "presets"


def check_preset(preset: Any, where: str = "preset") -> dict[str, Any]:
    """Check the preset layout (keys, known model, parameter names, bounds) and return it."""
    if not isinstance(preset, dict):
        raise ValueError(f"{where}: a preset must be a JSON object, got {type(preset).__name__}")
    missing = [k for k in _REQUIRED if k not in preset]
    if missing:
        raise ValueError(
            f"{where}: missing key(s) {missing}; a preset has keys {list(PRESET_KEYS)}"
        )
    unknown = sorted(set(preset) - set(PRESET_KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; allowed keys: {list(PRESET_KEYS)}")
    try:
        ParamModel.from_preset(preset)
        if preset.get("current") is not None:
            from .current import CurrentProtocol

            CurrentProtocol.from_preset(preset)
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None
    return preset


def list_presets(model: str | None = None) -> list[dict[str, Any]]:
    """All presets (checked), sorted by model then name; only ``model``'s when given
    (``"adex"``, ``"AdEx"`` and ``"AdExModel"`` are the same model)."""
    folder = presets_dir()
    wanted = None if model is None else model_class(model)
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            preset = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"preset file {path}: not valid JSON ({err})") from None
        check_preset(preset, f"preset file {path}")
        if wanted is None or model_class(preset["model"]) is wanted:
            found.append(preset)
    return sorted(found, key=lambda p: (model_class(p["model"]).model_name, p["name"]))


def load_preset(name: str, model: str | None = None) -> dict[str, Any]:
    """The preset called ``name`` (its ``"name"`` field), optionally restricted to ``model``."""
    presets = list_presets(model)
    matches = [p for p in presets if p["name"] == name]
    if len(matches) != 1:
        known = [p["name"] for p in presets]
        problem = "no preset" if not matches else f"{len(matches)} presets"
        raise ValueError(f"{problem} named {name!r}; known presets: {known}")
    return matches[0]
