r"""Static images as event-camera streams: a saccading image seen by emulated DVS pixels.

Like N-MNIST (Orchard et al. 2015), the image moves on the sensor in three saccades along a
triangle (right, then down-left, then up-left back to the start), each taking a third of the
``n_steps`` time steps; every sample gets its own small random offset of the
path's amplitude and phase (seeded). Each frame is the image shifted by the current position
(bilinear interpolation, zero outside).

Each pixel is an ideal DVS pixel with a per-pixel threshold mismatch: it keeps a reference
log intensity :math:`L_\mathrm{ref}` and, with :math:`L(t) = \log(I(t) + \epsilon)`, emits at
step t

.. math::
    n_\mathrm{ON} = \lfloor (L(t) - L_\mathrm{ref}) / C \rfloor_+, \quad
    n_\mathrm{OFF} = \lfloor (L_\mathrm{ref} - L(t)) / C \rfloor_+, \quad
    L_\mathrm{ref} \leftarrow L_\mathrm{ref} + C\,(n_\mathrm{ON} - n_\mathrm{OFF}),

with :math:`C = C_0 (1 + \sigma_C \xi)` per pixel (:math:`\xi \sim \mathcal N(0, 1)`, clipped
to stay positive). Optional background noise adds single ON or OFF events with probability
``noise_rate`` per pixel and step. Events come out as counts ``(n, T, 2, H, W)`` (channel 0
ON, 1 OFF); :func:`flatten_events` gives the ``(n, T, 2 H W)`` input rasters of the spiking
networks. Everything is NumPy, deterministic in ``seed``.

:func:`event_digits` renders scikit-learn's 8x8 digits (upsampled to ``content`` pixels and
centred on the canvas) this way; :func:`images_to_events` takes any image stack (e.g.
:func:`snnviz.core.data.symbols.symbol_set`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .digits import _load as _load_digits

__all__ = [
    "EventSet",
    "bilinear_shift",
    "dvs_events",
    "event_digits",
    "flatten_events",
    "images_to_events",
    "saccade_path",
    "upsample",
]

CANVAS = 16
N_STEPS = 20
LOG_EPS = 0.1


class EventSet(NamedTuple):
    """Event counts ``events`` (n, T, 2, H, W) float32 (ON, OFF) and ``labels`` (n,) int32."""

    events: np.ndarray
    labels: np.ndarray


def saccade_path(n_steps: int, amplitude_px: float, phase: float = 0.0) -> np.ndarray:
    """Positions ``(n_steps, 2)`` (dy, dx) in pixels along three straight saccades through the
    triangle (0, 0) -> (0, A) -> (A, A/2) -> (0, 0) (A = ``amplitude_px``), starting a fraction
    ``phase`` in [0, 1) of the way round. Position ``t`` is where the image is at the end of
    step ``t``; step 0 already moves away from the start."""
    if n_steps < 3:
        raise ValueError(f"n_steps must be >= 3 (three saccades), got {n_steps!r}")
    corners = amplitude_px * np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.5], [0.0, 0.0]])
    s = (np.arange(1, n_steps + 1) / n_steps + phase) % 1.0 * 3.0  # saccade index + fraction
    k = np.minimum(s.astype(int), 2)
    frac = (s - k)[:, None]
    return (1 - frac) * corners[k] + frac * corners[k + 1]


def bilinear_shift(images: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Each image moved by each shift: ``images`` (n, H, W), ``shifts`` (n, T, 2) as (dy, dx)
    pixels -> frames (n, T, H, W); ``out[y, x] = image(y - dy, x - dx)`` bilinearly
    interpolated, zero outside the image."""
    images = np.asarray(images, np.float32)
    n, h, w = images.shape
    padded = np.zeros((n, h + 2, w + 2), np.float32)
    padded[:, 1:-1, 1:-1] = images
    ys = np.arange(h)[None, None, :, None] - shifts[:, :, 0, None, None]  # (n, T, H, 1)
    xs = np.arange(w)[None, None, None, :] - shifts[:, :, 1, None, None]  # (n, T, 1, W)
    ys = np.clip(ys, -1.0, h) + 1.0  # padded coordinates; beyond one pixel reads zeros
    xs = np.clip(xs, -1.0, w) + 1.0
    y0 = np.clip(np.floor(ys).astype(int), 0, h)
    x0 = np.clip(np.floor(xs).astype(int), 0, w)
    fy, fx = ys - y0, xs - x0
    idx = np.arange(n)[:, None, None, None]
    top = (1 - fx) * padded[idx, y0, x0] + fx * padded[idx, y0, x0 + 1]
    bottom = (1 - fx) * padded[idx, y0 + 1, x0] + fx * padded[idx, y0 + 1, x0 + 1]
    return ((1 - fy) * top + fy * bottom).astype(np.float32)


def dvs_events(
    frames: np.ndarray,
    *,
    threshold: float = 0.25,
    mismatch: float = 0.0,
    noise_rate: float = 0.0,
    initial: np.ndarray | None = None,
    seed: int = 0,
) -> np.ndarray:
    """DVS events of a frame sequence (module docstring): ``frames`` (n, T, H, W) intensities
    >= 0 -> counts (n, T, 2, H, W) (ON, OFF). The reference starts at ``initial`` (n, H, W)
    (default: the first frame, which then emits nothing). ``threshold`` is C0 in log units,
    ``mismatch`` the relative standard deviation of C per pixel, ``noise_rate`` the
    probability of a background event per pixel and step."""
    frames = np.asarray(frames, np.float32)
    if frames.ndim != 4:
        raise ValueError(f"frames must have shape (n, T, H, W), got {frames.shape}")
    if not threshold > 0:
        raise ValueError(f"threshold must be > 0 (log-intensity units), got {threshold!r}")
    if not 0.0 <= noise_rate < 0.5:
        raise ValueError(f"noise_rate must be in [0, 0.5), got {noise_rate!r}")
    if np.any(frames < 0):
        raise ValueError("frames must be intensities >= 0")
    rng = np.random.default_rng([int(seed), 31337])
    n, t_steps, h, w = frames.shape
    c = threshold * np.clip(1.0 + mismatch * rng.standard_normal((n, h, w)), 0.2, None)
    log_i = np.log(frames + LOG_EPS)
    ref = np.log(np.asarray(initial, np.float32) + LOG_EPS) if initial is not None else log_i[:, 0]
    out = np.zeros((n, t_steps, 2, h, w), np.float32)
    for t in range(t_steps):
        diff = log_i[:, t] - ref
        on = np.floor(np.maximum(diff, 0.0) / c)
        off = np.floor(np.maximum(-diff, 0.0) / c)
        ref = ref + c * (on - off)
        out[:, t, 0], out[:, t, 1] = on, off
    if noise_rate > 0:
        noise = rng.random(out.shape) < noise_rate / 2  # split between ON and OFF
        out += noise
    return out


def upsample(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of ``images`` (n, h, w) to (n, size, size) (pixel centres aligned)."""
    images = np.asarray(images, np.float32)
    _, h, w = images.shape
    ys = np.clip((np.arange(size) + 0.5) * h / size - 0.5, 0, h - 1)
    xs = np.clip((np.arange(size) + 0.5) * w / size - 0.5, 0, w - 1)
    y0, x0 = np.minimum(ys.astype(int), h - 2), np.minimum(xs.astype(int), w - 2)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    a = images[:, y0][:, :, x0]
    b = images[:, y0][:, :, x0 + 1]
    c = images[:, y0 + 1][:, :, x0]
    d = images[:, y0 + 1][:, :, x0 + 1]
    return ((1 - fy) * ((1 - fx) * a + fx * b) + fy * ((1 - fx) * c + fx * d)).astype(np.float32)


def images_to_events(
    images: np.ndarray,
    *,
    n_steps: int = N_STEPS,
    amplitude_px: float = 2.0,
    jitter: float = 0.3,
    threshold: float = 0.25,
    mismatch: float = 0.05,
    noise_rate: float = 0.002,
    seed: int = 0,
) -> np.ndarray:
    """Saccade every image of ``images`` (n, H, W) in [0, 1] over the sensor and return its
    DVS events (n, n_steps, 2, H, W). The path of sample i has amplitude
    ``amplitude_px * (1 + jitter * u)`` and phase ``jitter * u' / 3`` (u, u' uniform in
    [-1/2, 1/2], seeded); the reference is the image at its start position. The image is
    centred on the path (shifted by minus half the amplitude) so it stays on the canvas."""
    images = np.asarray(images, np.float32)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (n, H, W), got {images.shape}")
    rng = np.random.default_rng([int(seed), 2718])
    n = images.shape[0]
    amplitudes = amplitude_px * (1.0 + jitter * (rng.random(n) - 0.5))
    phases = jitter * (rng.random(n) - 0.5) / 3.0 % 1.0
    paths = np.stack(
        [saccade_path(n_steps + 1, a, p) for a, p in zip(amplitudes, phases, strict=True)]
    )
    paths = np.roll(paths, 1, axis=1) - amplitudes[:, None, None] / 2  # entry 0: the start
    frames = bilinear_shift(images, paths)
    return dvs_events(
        frames[:, 1:], threshold=threshold, mismatch=mismatch, noise_rate=noise_rate,
        initial=frames[:, 0], seed=seed,
    )  # fmt: skip


def event_digits(
    classes: tuple[int, ...] = tuple(range(10)),
    per_class: int | None = None,
    *,
    canvas: int = CANVAS,
    content: int = 12,
    seed: int = 0,
    **event_kwargs: float,
) -> EventSet:
    """scikit-learn's digits of ``classes`` as event streams: ``per_class`` images per class
    (seeded choice; all when None), upsampled from 8x8 to ``content`` pixels, centred on a
    ``canvas``-pixel sensor and saccaded (:func:`images_to_events`, ``event_kwargs``)."""
    if not 8 <= content <= canvas:
        raise ValueError(f"need 8 <= content <= canvas, got content={content}, canvas={canvas}")
    features, labels = _load_digits()
    rng = np.random.default_rng([int(seed), 161803])
    picked = []
    for c in classes:
        if not 0 <= int(c) <= 9:
            raise ValueError(f"digit classes are 0..9, got {c!r}")
        members = np.flatnonzero(labels == int(c))
        if per_class is not None:
            if per_class > members.size:
                raise ValueError(f"per_class={per_class} but digit {c} has {members.size} images")
            members = rng.choice(members, per_class, replace=False)
        picked.append(members)
    idx = np.concatenate(picked)
    images = upsample(features[idx].reshape(-1, 8, 8), content)
    pad = (canvas - content) // 2
    placed = np.zeros((idx.size, canvas, canvas), np.float32)
    placed[:, pad : pad + content, pad : pad + content] = images
    events = images_to_events(placed, seed=seed, **event_kwargs)
    return EventSet(events, labels[idx].astype(np.int32))


def flatten_events(events: np.ndarray) -> np.ndarray:
    """``(n, T, 2, H, W)`` counts -> ``(n, T, 2 H W)`` input rasters (ON block, then OFF)."""
    events = np.asarray(events)
    return events.reshape(*events.shape[:2], -1)
