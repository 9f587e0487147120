r"""Spatial rate maps, spatial autocorrelograms and the gridness score of grid cells (numpy).

* :func:`rate_map` bins a trajectory and a per-sample signal (a rate, or spike counts) into an
  occupancy-normalised map; bins never visited are NaN. Optional Gaussian smoothing (as is usual
  before computing autocorrelograms) smooths the summed signal and the occupancy separately and
  divides, ``(G * s) / (G * n)``, so rarely visited bins do not dominate
  (:func:`maps_from_sums` does the same for sums accumulated elsewhere).
* :func:`spatial_autocorrelogram` is the Pearson correlation of the map with itself shifted by
  every lag :math:`(\tau_x, \tau_y)`, computed only over the bins that are visited in both the
  map and its shifted copy (Sargolini et al. 2006, Science 312:758, supplementary methods;
  Hafting et al. 2005):

  .. math:: r(\tau) = \frac{n \sum \lambda_1\lambda_2 - \sum\lambda_1 \sum\lambda_2}
            {\sqrt{n\sum\lambda_1^2 - (\sum\lambda_1)^2}\,\sqrt{n\sum\lambda_2^2-(\sum\lambda_2)^2}}

  with the sums over the ``n`` overlapping pairs :math:`\lambda_1 = f(x),\ \lambda_2 = f(x+\tau)`;
  lags with fewer than ``min_overlap`` pairs are NaN. All six sums are full 2-D
  cross-correlations of masked maps, done with FFTs.
* :func:`gridness_score`: the autocorrelogram is restricted to an annulus around the centre that
  excludes the central peak, rotated by 30, 60, 90, 120 and 150 deg, and correlated (Pearson,
  over the annulus bins) with the unrotated one; the score is

  .. math:: g = \min(r_{60}, r_{120}) - \max(r_{30}, r_{90}, r_{150})

  (Sargolini et al. 2006). A hexagonal map is symmetric under 60 deg rotations and anti-
  symmetric-looking under 30/90/150, so ``g`` is large (ideal maps reach ~1.5); a square lattice
  is symmetric under 90 deg, so its ``g`` is negative. As in Langston et al. 2010 (Science
  328:1576) and Brandon et al. 2011, the annulus' outer radius is expanded in steps of one bin
  and the maximum score is kept; the inner radius is the central peak's, taken as the first
  local minimum of the radially averaged autocorrelogram. Rotation uses bilinear interpolation
  about the zero-lag bin.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "GridnessResult",
    "RateMapAccumulator",
    "central_peak_radius",
    "gaussian_smooth",
    "gridness_score",
    "maps_from_sums",
    "rate_map",
    "rotate_about_centre",
    "spatial_autocorrelogram",
]

ROTATIONS_DEG = (30, 60, 90, 120, 150)


def rate_map(
    xy: ArrayLike,
    values: ArrayLike,
    *,
    box: tuple[tuple[float, float], tuple[float, float]] = ((0.0, 1.0), (0.0, 1.0)),
    n_bins: int = 40,
    min_occupancy: int = 1,
    smooth_bins: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Occupancy-normalised rate maps.

    Args:
        xy: positions ``(T, 2)`` (m).
        values: per-sample signal ``(T,)`` or ``(T, C)`` for ``C`` cells (a rate, or a spike
            count per sample: then divide by the sample duration for Hz).
        box: ``((x0, x1), (y0, y1))`` the arena (m); samples outside are clipped into it.
        n_bins: bins per side.
        min_occupancy: bins with fewer samples are NaN.
        smooth_bins: s.d. of the Gaussian smoothing kernel in bins (0 = none).

    Returns:
        ``(maps, occupancy)``: maps ``(n_bins, n_bins)`` or ``(C, n_bins, n_bins)`` indexed
        ``[y, x]`` (row = y bin), and the sample count per bin ``(n_bins, n_bins)``.
    """
    xy = np.asarray(xy, dtype=np.float64)
    vals = np.asarray(values, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"xy must have shape (T, 2), got {xy.shape}")
    if vals.shape[:1] != xy.shape[:1] or vals.ndim not in (1, 2):
        raise ValueError(
            f"values must have shape (T,) or (T, C) with T = {len(xy)}, got {vals.shape}"
        )
    if int(n_bins) != n_bins or n_bins < 2:
        raise ValueError(f"n_bins must be an integer >= 2, got {n_bins!r}")
    (x0, x1), (y0, y1) = box
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"box must be ((x0, x1), (y0, y1)) with x1 > x0, y1 > y0, got {box!r}")
    ix = np.clip(((xy[:, 0] - x0) / (x1 - x0) * n_bins).astype(int), 0, n_bins - 1)
    iy = np.clip(((xy[:, 1] - y0) / (y1 - y0) * n_bins).astype(int), 0, n_bins - 1)
    flat = iy * n_bins + ix
    occ = np.bincount(flat, minlength=n_bins * n_bins).reshape(n_bins, n_bins)
    v2 = vals[:, None] if vals.ndim == 1 else vals
    sums = np.stack(
        [np.bincount(flat, weights=v2[:, c], minlength=n_bins * n_bins) for c in range(v2.shape[1])]
    ).reshape(-1, n_bins, n_bins)
    maps = maps_from_sums(sums, occ, smooth_bins=smooth_bins, min_occupancy=min_occupancy)
    return (maps[0] if vals.ndim == 1 else maps), occ


class RateMapAccumulator:
    """Rate maps built up sample by sample (for live pages): the occupancy of a square arena
    ``[0, arena_m]^2`` in ``n_bins x n_bins`` bins and, for each named signal, the per-bin sums
    of ``n_cells`` cells' values (one ``np.bincount`` per signal and call)."""

    def __init__(
        self, n_cells: int, arena_m: float, n_bins: int = 32, signals: tuple[str, ...] = ("rate",)
    ) -> None:
        self.n_cells, self.arena_m, self.n_bins = int(n_cells), float(arena_m), int(n_bins)
        self.occupancy = np.zeros(self.n_bins * self.n_bins)
        self.sums = {name: np.zeros((self.n_cells, self.n_bins**2)) for name in signals}

    @property
    def samples(self) -> int:
        """Samples added so far."""
        return int(self.occupancy.sum())

    def add(self, xy: ArrayLike, **signals: ArrayLike) -> None:
        """Add samples: positions ``(T, 2)`` (m) and, per signal name, values ``(T, C)``."""
        nb2 = self.n_bins * self.n_bins
        pos = np.asarray(xy, dtype=np.float64)
        idx = np.clip((pos / self.arena_m * self.n_bins).astype(int), 0, self.n_bins - 1)
        flat = idx[:, 1] * self.n_bins + idx[:, 0]
        self.occupancy += np.bincount(flat, minlength=nb2)
        cell_bins = (np.arange(self.n_cells)[None, :] * nb2 + flat[:, None]).ravel()
        for name, values in signals.items():
            counts = np.bincount(
                cell_bins,
                weights=np.asarray(values, np.float64).ravel(),
                minlength=self.n_cells * nb2,
            )
            self.sums[name] += counts.reshape(self.n_cells, nb2)

    def maps(self, name: str, cells: list[int], smooth_bins: float = 0.0) -> list[np.ndarray]:
        """Occupancy-normalised (optionally smoothed) maps ``[y, x]`` of ``cells``."""
        shape = (self.n_bins, self.n_bins)
        sums = self.sums[name][cells].reshape(len(cells), *shape)
        return list(maps_from_sums(sums, self.occupancy.reshape(shape), smooth_bins=smooth_bins))


def gaussian_smooth(a: ArrayLike, sigma_bins: float) -> np.ndarray:
    """Separable Gaussian smoothing of the last two axes (zero padding, kernel truncated at
    4 sigma); ``sigma_bins <= 0`` returns a copy."""
    a = np.asarray(a, dtype=np.float64)
    if sigma_bins <= 0:
        return a.copy()
    half = max(1, min(int(np.ceil(4.0 * sigma_bins)), (min(a.shape[-2:]) - 1) // 2))
    x = np.arange(-half, half + 1)
    kernel = np.exp(-0.5 * (x / sigma_bins) ** 2)
    kernel /= kernel.sum()
    out = np.apply_along_axis(np.convolve, -1, a, kernel, mode="same")
    return np.apply_along_axis(np.convolve, -2, out, kernel, mode="same")


def maps_from_sums(
    sums: ArrayLike, occupancy: ArrayLike, *, smooth_bins: float = 0.0, min_occupancy: int = 1
) -> np.ndarray:
    """Rate maps ``(..., n, n)`` from summed signals ``(..., n, n)`` and the occupancy ``(n, n)``:
    ``(G * s) / (G * n)`` on bins with at least ``min_occupancy`` samples, NaN elsewhere."""
    s = np.asarray(sums, dtype=np.float64)
    occ = np.asarray(occupancy, dtype=np.float64)
    visited = occ >= max(1, min_occupancy)
    num = gaussian_smooth(s, smooth_bins)
    den = gaussian_smooth(occ, smooth_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(visited, num / den, np.nan)


def _xcorr_full(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``c[tau] = sum_p a[p] b[p + tau]`` for every lag, shape ``(2H-1, 2W-1)``, zero lag at the
    centre ``(H-1, W-1)``."""
    h, w = a.shape
    shape = (2 * h - 1, 2 * w - 1)
    fa = np.fft.rfft2(a[::-1, ::-1], shape)
    fb = np.fft.rfft2(b, shape)
    return np.fft.irfft2(fa * fb, shape)


def spatial_autocorrelogram(rate: ArrayLike, *, min_overlap: int = 20) -> np.ndarray:
    """The spatial autocorrelogram (Pearson over overlapping visited bins; see the module
    docstring) of a map ``(H, W)`` whose NaN bins are unvisited: ``(2H-1, 2W-1)``, zero lag at
    ``(H-1, W-1)``, NaN where fewer than ``min_overlap`` pairs overlap or a side is constant."""
    f = np.asarray(rate, dtype=np.float64)
    if f.ndim != 2 or min(f.shape) < 2:
        raise ValueError(f"rate map must be 2-D with at least 2 bins per side, got {f.shape}")
    mask = np.isfinite(f).astype(np.float64)
    x = np.where(mask > 0, f, 0.0)
    n = np.rint(_xcorr_full(mask, mask))
    s1 = _xcorr_full(x, mask)  # sum of f(p) over pairs
    s2 = _xcorr_full(mask, x)  # sum of f(p + tau)
    s11 = _xcorr_full(x * x, mask)
    s22 = _xcorr_full(mask, x * x)
    s12 = _xcorr_full(x, x)
    var1 = n * s11 - s1 * s1
    var2 = n * s22 - s2 * s2
    scale = np.maximum(np.abs(s11) + np.abs(s22), 1e-300) * np.maximum(n, 1.0)
    ok = (n >= max(2, min_overlap)) & (var1 > 1e-10 * scale) & (var2 > 1e-10 * scale)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (n * s12 - s1 * s2) / np.sqrt(var1 * var2)
    return np.where(ok, np.clip(r, -1.0, 1.0), np.nan)


def rotate_about_centre(image: ArrayLike, angle_deg: float) -> np.ndarray:
    """Rotate an image counter-clockwise by ``angle_deg`` about its centre bin (bilinear
    interpolation; NaN where the source falls outside or touches a NaN)."""
    img = np.asarray(image, dtype=np.float64)
    h, w = img.shape
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    a = np.deg2rad(angle_deg)
    # output pixel p samples the input at R(-a) p
    dx, dy = xx - cx, yy - cy
    sx = cx + np.cos(a) * dx + np.sin(a) * dy
    sy = cy - np.sin(a) * dx + np.cos(a) * dy
    tol = 1e-9
    inside = (sx >= -tol) & (sx <= w - 1 + tol) & (sy >= -tol) & (sy <= h - 1 + tol)
    sx, sy = np.clip(sx, 0.0, w - 1.0), np.clip(sy, 0.0, h - 1.0)
    x0 = np.minimum(np.floor(sx).astype(int), w - 2)
    y0 = np.minimum(np.floor(sy).astype(int), h - 2)
    fx, fy = sx - x0, sy - y0
    out = np.zeros_like(sx)
    for dy_, wy in ((0, 1.0 - fy), (1, fy)):
        for dx_, wx in ((0, 1.0 - fx), (1, fx)):
            weight = wx * wy
            value = img[y0 + dy_, x0 + dx_]
            # a neighbour with zero weight must not turn the sample into NaN
            out = out + np.where(weight > 1e-12, weight * value, 0.0)
    return np.where(inside, out, np.nan)


@dataclasses.dataclass(frozen=True)
class GridnessResult:
    """The gridness score and how it was obtained (radii in bins, correlations per angle)."""

    score: float
    inner_radius: float
    outer_radius: float
    correlations: dict[int, float]  # rotation (deg) -> Pearson r over the annulus

    @property
    def finite(self) -> bool:
        return bool(np.isfinite(self.score))


def _radial_profile(ac: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = ac.shape
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot(yy - (h - 1) / 2.0, xx - (w - 1) / 2.0)
    ri = np.rint(r).astype(int)
    ok = np.isfinite(ac)
    sums = np.bincount(ri[ok], weights=ac[ok], minlength=ri.max() + 1)
    counts = np.bincount(ri[ok], minlength=ri.max() + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        prof = sums / counts
    return prof, r


def central_peak_radius(ac: ArrayLike) -> float:
    """Radius (bins) of the autocorrelogram's central peak: the first local minimum of its
    radially averaged profile (or where the profile first turns negative, if earlier)."""
    prof, _ = _radial_profile(np.asarray(ac, dtype=np.float64))
    for i in range(1, len(prof) - 1):
        if not np.isfinite(prof[i]):
            break
        if prof[i] < 0 or (prof[i] <= prof[i - 1] and prof[i] <= prof[i + 1]):
            return float(i)
    return float("nan")


def _annulus_corr(ac: np.ndarray, rotated: np.ndarray, sel: np.ndarray) -> float:
    a, b = ac[sel], rotated[sel]
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 10:
        return float("nan")
    a, b = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else float("nan")


def gridness_score(
    autocorr: ArrayLike,
    *,
    inner_radius: float | None = None,
    outer_radius: float | None = None,
    max_outer_radius: float | None = None,
) -> GridnessResult:
    """The gridness score ``min(r60, r120) - max(r30, r90, r150)`` of a spatial autocorrelogram
    (Sargolini et al. 2006; see the module docstring).

    Args:
        autocorr: ``(2H-1, 2W-1)`` autocorrelogram with zero lag at the centre (NaN allowed).
        inner_radius: radius (bins) of the excluded central peak; default
            :func:`central_peak_radius`.
        outer_radius: a fixed annulus outer radius (bins); default: expand it from
            ``inner_radius + 2`` to ``max_outer_radius`` in steps of one bin and keep the maximum
            score (Langston et al. 2010; Brandon et al. 2011).
        max_outer_radius: the largest outer radius tried (default: 80% of the autocorrelogram's
            half-width, where enough bins still overlap).

    Returns:
        :class:`GridnessResult` (score NaN when the autocorrelogram has no usable annulus).
    """
    ac = np.asarray(autocorr, dtype=np.float64)
    if ac.ndim != 2 or ac.shape[0] % 2 == 0 or ac.shape[1] % 2 == 0:
        raise ValueError(
            f"autocorrelogram must be 2-D with odd sides (zero lag at the centre), got {ac.shape}"
        )
    r_in = central_peak_radius(ac) if inner_radius is None else float(inner_radius)
    _, r = _radial_profile(ac)
    nan = GridnessResult(float("nan"), r_in, float("nan"), {})
    if not np.isfinite(r_in):
        return nan
    rotated = {a: rotate_about_centre(ac, a) for a in ROTATIONS_DEG}
    if outer_radius is not None:
        outers = [float(outer_radius)]
    else:
        top = 0.8 * (min(ac.shape) - 1) / 2.0 if max_outer_radius is None else max_outer_radius
        outers = list(np.arange(r_in + 2.0, top + 1e-9, 1.0))
    best = nan
    for r_out in outers:
        sel = (r >= r_in) & (r <= r_out)
        corr = {a: _annulus_corr(ac, rotated[a], sel) for a in ROTATIONS_DEG}
        score = min(corr[60], corr[120]) - max(corr[30], corr[90], corr[150])
        if np.isfinite(score) and not (best.finite and best.score >= score):
            best = GridnessResult(float(score), r_in, float(r_out), corr)
    return best
