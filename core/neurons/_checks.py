"""Validation of neuron parameters: clear messages for concrete values, silent under tracing."""

from __future__ import annotations

import jax
import numpy as np


def _concrete(value):
    if isinstance(value, jax.core.Tracer):
        return None
    return np.asarray(value)


def check_positive(owner: str, name: str, value, unit: str) -> None:
    """Raise ``ValueError`` naming ``owner.name`` if any concrete entry is not > 0 and finite."""
    v = _concrete(value)
    if v is not None and not (np.all(np.isfinite(v)) and np.all(v > 0)):
        raise ValueError(f"{owner}: `{name}` must be a finite number > 0 {unit}, got {v.tolist()}")


def check_finite(owner: str, name: str, value, unit: str) -> None:
    """Raise ``ValueError`` naming ``owner.name`` if any concrete entry is NaN or infinite."""
    v = _concrete(value)
    if v is not None and not np.all(np.isfinite(v)):
        raise ValueError(f"{owner}: `{name}` must be finite {unit}, got {v.tolist()}")


def check_order(owner: str, low: str, low_value, high: str, high_value) -> None:
    """Raise ``ValueError`` unless ``low_value < high_value`` everywhere (when concrete)."""
    lo, hi = _concrete(low_value), _concrete(high_value)
    if lo is not None and hi is not None and not np.all(lo < hi):
        raise ValueError(f"{owner}: `{low}` ({lo.tolist()}) must be below `{high}` ({hi.tolist()})")
