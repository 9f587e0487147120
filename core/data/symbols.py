r"""Procedurally generated symbols: as many classes as wanted, no download (an Omniglot stand-in).

A class is a *glyph*: 2-4 strokes (straight segments, circular arcs or quadratic Bézier
curves) with control points drawn in the unit square from a generator seeded by
``(seed, class id)``. An *instance* of a class redraws the glyph with

* every control point jittered by :math:`\mathcal N(0, \sigma_\mathrm{pt}^2)` (handwriting),
* a random similarity transform: rotation :math:`\pm` ``max_rotation_deg``, scale in
  ``1 \pm max_scale``, shift :math:`\pm` ``max_shift`` (fractions of the canvas),
* a random pen width in ``pen_width`` (fraction of the canvas),

and renders it anti-aliased on a ``size x size`` canvas: a pixel's intensity is
:math:`\mathrm{clip}((w/2 - d)/a + 1/2,\, 0,\, 1)` with :math:`d` its distance to the nearest
stroke point, :math:`w` the pen width and :math:`a` one pixel (a one-pixel soft edge).
Everything is NumPy and deterministic: instance ``i`` of class ``c`` depends on
``(seed, c, i)`` only, so class sets and instance counts can change without redrawing others.

>>> s = symbol_set(range(40), 16, seed=0)        # 40 classes x 16 instances
>>> s.images.shape, s.labels.shape                  # (640, 16, 16), (640,)
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np

__all__ = ["SymbolSet", "glyph_strokes", "render_symbol", "symbol_set"]

SIZE = 16  # default canvas (pixels)
POINTS_PER_STROKE = 24
MAX_STROKES = 4
STROKE_KINDS = ("line", "arc", "bezier")


class SymbolSet(NamedTuple):
    """Symbol images ``images`` (n, size, size) float32 in [0, 1] and class ids ``labels`` (n,)
    int32 (the ids passed to :func:`symbol_set`, not renumbered)."""

    images: np.ndarray
    labels: np.ndarray


def _rng(*entropy: int) -> np.random.Generator:
    return np.random.default_rng([int(e) for e in entropy])


def glyph_strokes(class_id: int, *, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """The strokes of class ``class_id``: a list of ``(kind, control points (3, 2))`` in the
    unit square (a line uses the first and last point, an arc passes through all three, a
    Bézier curve uses the middle one as its control point)."""
    return [(kind, ctrl.copy()) for kind, ctrl in _glyph(int(class_id), int(seed))]


@functools.lru_cache(maxsize=4096)
def _glyph(class_id: int, seed: int) -> tuple[tuple[str, np.ndarray], ...]:
    if class_id < 0:
        raise ValueError(f"class_id must be >= 0, got {class_id!r}")
    rng = _rng(seed, 7919, class_id)
    n_strokes = int(rng.integers(2, MAX_STROKES + 1))
    strokes = []
    for _ in range(n_strokes):
        kind = STROKE_KINDS[int(rng.integers(len(STROKE_KINDS)))]
        start = rng.uniform(0.2, 0.8, 2)
        end = rng.uniform(0.2, 0.8, 2)
        while np.hypot(*(end - start)) < 0.3:  # no dots: every stroke is at least 0.3 long
            end = rng.uniform(0.2, 0.8, 2)
        bend = rng.uniform(-0.25, 0.25)
        normal = np.array([-(end - start)[1], (end - start)[0]])
        middle = (start + end) / 2 + bend * normal
        strokes.append((kind, np.stack([start, np.clip(middle, 0.1, 0.9), end])))
    return tuple(strokes)


def _stroke_points(kind: str, ctrl: np.ndarray, n: int) -> np.ndarray:
    """``n`` points along one stroke (n, 2)."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    p0, p1, p2 = ctrl
    if kind == "line":
        return (1 - t) * p0 + t * p2
    if kind == "bezier":
        return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2
    # arc through p0, p1, p2 (the circumscribed circle); nearly collinear points -> a line
    ax, ay = p0
    bx, by = p1
    cx, cy = p2
    d = 2 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by))
    if abs(d) < 1e-3:
        return (1 - t) * p0 + t * p2
    ux = (
        (ax**2 + ay**2) * (by - cy) + (bx**2 + by**2) * (cy - ay) + (cx**2 + cy**2) * (ay - by)
    ) / d
    uy = (
        (ax**2 + ay**2) * (cx - bx) + (bx**2 + by**2) * (ax - cx) + (cx**2 + cy**2) * (bx - ax)
    ) / d
    centre = np.array([ux, uy])
    radius = np.hypot(*(p0 - centre))
    a0, a1, a2 = (np.arctan2(*(p - centre)[::-1]) for p in (p0, p1, p2))
    # go from a0 to a2 the way that passes a1
    span = (a2 - a0) % (2 * np.pi)
    if (a1 - a0) % (2 * np.pi) > span:
        span -= 2 * np.pi
    angles = a0 + span * t[:, 0]
    return centre + radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _instance_points(
    class_id: int,
    instance: int,
    *,
    seed: int,
    point_jitter: float,
    max_rotation_deg: float,
    max_scale: float,
    max_shift: float,
    pen_width: tuple[float, float],
) -> tuple[np.ndarray, float]:
    """The stroke points (P, 2) of one instance in unit-canvas coordinates and its pen width."""
    rng = _rng(seed, 104729, class_id, instance)
    points = []
    for kind, ctrl in glyph_strokes(class_id, seed=seed):
        ctrl = ctrl + rng.normal(0.0, point_jitter, ctrl.shape)
        points.append(_stroke_points(kind, ctrl, POINTS_PER_STROKE))
    pts = np.concatenate(points) - 0.5
    angle = np.deg2rad(rng.uniform(-max_rotation_deg, max_rotation_deg))
    scale = 1.0 + rng.uniform(-max_scale, max_scale)
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    pts = pts @ rot.T + 0.5 + rng.uniform(-max_shift, max_shift, 2)
    return pts, float(rng.uniform(*pen_width))


def _rasterise(points: np.ndarray, widths: np.ndarray, size: int) -> np.ndarray:
    """Anti-aliased images (n, size, size) of point sets ``points`` (n, P, 2) (NaN rows are
    ignored) drawn with pen ``widths`` (n,)."""
    centres = (np.arange(size) + 0.5) / size
    gx, gy = np.meshgrid(centres, centres)  # x: column, y: row (downwards)
    pixels = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    out = np.empty((points.shape[0], size * size), np.float32)
    for start in range(0, points.shape[0], 128):
        pts = np.nan_to_num(points[start : start + 128], nan=1e3).astype(np.float32)
        # |p - q|^2 = |p|^2 + |q|^2 - 2 p.q as one matrix product per image
        d2 = ((pixels**2).sum(-1)[None, :, None] + (pts**2).sum(-1)[:, None, :]
              - 2.0 * np.einsum("pk,nqk->npq", pixels, pts))  # fmt: skip
        dist = np.sqrt(np.maximum(d2.min(axis=2), 0.0))
        w = widths[start : start + 128, None]
        out[start : start + 128] = np.clip((w / 2 - dist) * size + 0.5, 0.0, 1.0)
    return out.reshape(-1, size, size)


def _check_render(size: int, pen_width: tuple[float, float]) -> None:
    if size < 4:
        raise ValueError(f"size must be >= 4 pixels, got {size!r}")
    if not 0 < pen_width[0] <= pen_width[1]:
        raise ValueError(f"pen_width must be (low, high) with 0 < low <= high, got {pen_width!r}")


def render_symbol(
    class_id: int,
    instance: int,
    *,
    seed: int = 0,
    size: int = SIZE,
    point_jitter: float = 0.025,
    max_rotation_deg: float = 10.0,
    max_scale: float = 0.08,
    max_shift: float = 0.04,
    pen_width: tuple[float, float] = (0.07, 0.10),
) -> np.ndarray:
    """One instance of a class as a ``(size, size)`` float32 image in [0, 1] (row 0 at the
    top); deterministic in ``(seed, class_id, instance)``. Arguments: see the module docstring."""
    _check_render(size, pen_width)
    pts, width = _instance_points(
        class_id, instance, seed=seed, point_jitter=point_jitter,
        max_rotation_deg=max_rotation_deg, max_scale=max_scale, max_shift=max_shift,
        pen_width=pen_width,
    )  # fmt: skip
    return _rasterise(pts[None], np.array([width]), size)[0]


def symbol_set(
    class_ids: Iterable[int],
    n_instances: int,
    *,
    seed: int = 0,
    size: int = SIZE,
    **render_kwargs: Any,
) -> SymbolSet:
    """``n_instances`` instances of every class in ``class_ids``, class by class
    (labels = the class ids); each image equals :func:`render_symbol` of the same arguments.
    ``render_kwargs`` are those of :func:`render_symbol`."""
    ids = [int(c) for c in class_ids]
    if n_instances < 1:
        raise ValueError(f"n_instances must be >= 1, got {n_instances!r}")
    if not ids:
        raise ValueError("class_ids is empty; give at least one class id")
    options = {"point_jitter": 0.025, "max_rotation_deg": 10.0, "max_scale": 0.08,
               "max_shift": 0.04, "pen_width": (0.07, 0.10)}  # fmt: skip
    unknown = set(render_kwargs) - set(options)
    if unknown:
        raise ValueError(f"unknown render option(s) {sorted(unknown)}; known: {sorted(options)}")
    options.update(render_kwargs)
    _check_render(size, options["pen_width"])
    drawn = [_instance_points(c, i, seed=seed, **options) for c in ids for i in range(n_instances)]
    n_points = max(p.shape[0] for p, _ in drawn)
    points = np.full((len(drawn), n_points, 2), np.nan)
    for k, (p, _) in enumerate(drawn):
        points[k, : p.shape[0]] = p
    widths = np.array([w for _, w in drawn])
    labels = np.repeat(np.asarray(ids, np.int32), n_instances)
    return SymbolSet(_rasterise(points, widths, size), labels)
