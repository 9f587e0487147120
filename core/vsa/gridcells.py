r"""GC-VSA grid-cell codes: a fractional power encoding of 2-D position whose components are
grid-module phasors (Krausse, Neftci, Sommer & Renner 2025, arXiv 2503.08608).

**The code.** There are ``M = S x O`` modules, one per scale ``lambda_s`` (metres) and
orientation ``phi_o``. Module ``m`` has three axes ``a = 0, 1, 2`` at angles
``phi_o + a * 60 deg`` with wave vectors

.. math:: k_{m,a} = \frac{2\pi}{\lambda_s}\,\frac{2}{\sqrt{3}}\,(\cos(\phi_o + a\pi/3),
          \sin(\phi_o + a\pi/3)),

the three shortest reciprocal vectors of a hexagonal lattice of spacing ``lambda_s``, so the
outer sum of the three gratings ``sum_a cos(k_{m,a} . x)`` has its maxima on that lattice (the
hexagonal receptive field of a grid cell). Because ``k_{m,2} = k_{m,1} - k_{m,0}``, the phases
of a valid module state satisfy ``theta_0 - theta_1 + theta_2 = 0 (mod 2 pi)``: three phases,
two degrees of freedom (the 2-D position within the module's unit cell). The ``D`` hypervector
components cycle through the ``3M`` module axes, component ``j`` on axis ``c(j) = j mod 3M``
with a random phase offset ``delta_j`` (the repeats are the module's redundant population):

.. math:: z_j(x) = \exp\big(i\,(k_{c(j)} \cdot x + \delta_j)\big).

This is a fractional power encoding with phase matrix ``K`` (rows ``k_{c(j)}``), so binding
adds positions: ``z(x) * exp(i K dx) = z(x + dx)``; path integration is repeated binding with
the velocity phasor ``exp(i K v dt)``. The similarity is a kernel of the displacement,
``sim(z(x), z(y)) = (1/D) sum_j cos(k_{c(j)} . (x - y))``, a sum of hexagonal gratings of all
scales and orientations whose only global maximum in a region smaller than the modules'
common period is ``x = y``; decoding is the arg-max of that similarity over candidate
positions. Computing it needs only the ``3M`` module sums
``S_c(z) = sum_{j: c(j) = c} z_j exp(-i delta_j)``:
``sim(z, z(y)) = Re sum_c S_c exp(-i k_c . y) / D``, so decoding costs ``O(3M)`` per candidate
rather than ``O(D)``.

**Attractor cleanup** (:meth:`GridCode.cleanup`, a continuous-attractor step): per module axis
the circular mean ``angle(S_c)`` over its repeats, then the least-squares projection of the
three phases onto ``theta_0 - theta_1 + theta_2 = 0``, then unit phasors again. It removes
phase noise that is off the code manifold; noise on the manifold (a wrong velocity) stays.

**Also here:** model grid cells (:class:`GridCells`, the rectified sum of a module unit's three
gratings), a smooth random walk with reflecting walls (:class:`Walk`), and
:class:`GridNavigator`, which path-integrates the walk in two realisations side by side: the
phasor code (:func:`phasor_step`) and phase-coded spikes (:func:`spiking_cycle`: every
component is a velocity-controlled oscillator, a perfect integrate-and-fire neuron whose spike
time within a reference cycle carries its phase; the read-out sees only spike times quantised
to the time step).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Complex, Float, Int

from ..sim import AbstractSystem, advance

__all__ = [
    "GridCells",
    "GridCode",
    "GridNavigator",
    "NavState",
    "SpikingState",
    "Walk",
    "WalkState",
    "decode_records",
    "geometric_scales",
    "make_grid_cells",
    "make_grid_code",
    "phasor_step",
    "project_module_phases",
    "random_walk",
    "run_navigator",
    "spiking_cycle",
    "spiking_init",
    "spiking_readout",
    "walk_and_decode",
    "wrap_phase",
]

_HEX_FACTOR = 2.0 / math.sqrt(3.0)


def wrap_phase(phase: Array) -> Array:
    """Wrap phases (rad) into ``[-pi, pi)``."""
    return jnp.mod(phase + jnp.pi, 2.0 * jnp.pi) - jnp.pi


def geometric_scales(smallest: float, ratio: float, n: int) -> tuple[float, ...]:
    """Module spacings ``smallest * ratio**s`` for ``s = 0 .. n-1`` (metres); grid modules in
    rat MEC are spaced by a ratio of about 1.42 (Stensola et al. 2012)."""
    if not (smallest > 0 and math.isfinite(smallest)):
        raise ValueError(f"smallest scale must be a finite number > 0 m, got {smallest!r}")
    if not (ratio >= 1.0 and math.isfinite(ratio)):
        raise ValueError(f"scale ratio must be a finite number >= 1, got {ratio!r}")
    if int(n) != n or n < 1:
        raise ValueError(f"number of scales must be an integer >= 1, got {n!r}")
    return tuple(float(smallest * ratio**s) for s in range(int(n)))


def _f32(x: Any) -> Array:
    """Field converter: a strongly typed float32 array (a weakly typed Python float would
    give a different jit signature than the float32 values computed in a step)."""
    return jnp.asarray(x, dtype=jnp.float32)


def _i32(x: Any) -> Array:
    return jnp.asarray(x, dtype=jnp.int32)


def _lead(a: Array, ndim: int) -> Array:
    """Give a trailing-axes array ``ndim`` dimensions (explicit rank promotion)."""
    return a.reshape((1,) * (ndim - a.ndim) + a.shape)


class GridCode(eqx.Module):
    """A GC-VSA position code (see the module docstring for the equations).

    Fields (all arrays, so every value is traced and a new code of the same shapes never
    recompiles a jitted function):

    * ``scales`` ``(S,)`` module spacings ``lambda_s`` (m);
    * ``orientations`` ``(O,)`` module orientations ``phi_o`` (rad);
    * ``module_wave_vectors`` ``(S, O, 3, 2)`` the wave vectors ``k_{m,a}`` (rad/m);
    * ``offsets`` ``(D,)`` the component phase offsets ``delta_j`` (rad);
    * ``component_axis`` ``(D,)`` int32, ``c(j)``: the flat index ``(s * O + o) * 3 + a`` of
      the module axis that component ``j`` belongs to.
    """

    scales: Float[Array, " S"] = eqx.field(converter=_f32)
    orientations: Float[Array, " O"] = eqx.field(converter=_f32)
    module_wave_vectors: Float[Array, "S O 3 2"] = eqx.field(converter=_f32)
    offsets: Float[Array, " D"] = eqx.field(converter=_f32)
    component_axis: Int[Array, " D"] = eqx.field(converter=_i32)

    # ------------------------------------------------------------------ shapes
    @property
    def dim(self) -> int:
        """``D``, the hypervector dimension."""
        return int(self.offsets.shape[-1])

    @property
    def n_scales(self) -> int:
        """``S``, the number of module scales."""
        return int(self.module_wave_vectors.shape[0])

    @property
    def n_orientations(self) -> int:
        """``O``, the number of module orientations."""
        return int(self.module_wave_vectors.shape[1])

    @property
    def n_modules(self) -> int:
        """``M = S * O``."""
        return self.n_scales * self.n_orientations

    @property
    def n_axes(self) -> int:
        """``3M``, the number of module axes (distinct wave vectors)."""
        return 3 * self.n_modules

    @property
    def axis_wave_vectors(self) -> Float[Array, "A 2"]:
        """The ``3M`` distinct wave vectors, flat (rad/m)."""
        return self.module_wave_vectors.reshape(-1, 2)

    @property
    def wave_vectors(self) -> Float[Array, "D 2"]:
        """The FPE phase matrix ``K``: row ``j`` is ``k_{c(j)}`` (rad/m)."""
        return self.axis_wave_vectors[self.component_axis]

    # ------------------------------------------------------------------ encoding
    def encode(self, xy: Float[Array, "... 2"]) -> Complex[Array, "... D"]:
        """``z(x)_j = exp(i (k_{c(j)} . x + delta_j))`` for positions ``xy`` (m), shape
        ``(..., 2)`` -> complex64 ``(..., D)``."""
        xy = _check_xy(xy, "xy")
        phase = xy @ self.wave_vectors.T + _lead(self.offsets, xy.ndim)
        return jnp.exp(1j * phase).astype(jnp.complex64)

    def displacement_phasor(self, dxy: Float[Array, "... 2"]) -> Complex[Array, "... D"]:
        """``exp(i K dx)``: binding with it translates a code by ``dx`` (m)."""
        dxy = _check_xy(dxy, "dxy")
        return jnp.exp(1j * (dxy @ self.wave_vectors.T)).astype(jnp.complex64)

    def velocity_phasor(
        self, v_xy: Float[Array, "... 2"], dt: float | Array
    ) -> Complex[Array, "... D"]:
        """``exp(i K v dt)``, so ``bind(encode(x), velocity_phasor(v, dt)) == encode(x + v dt)``.

        ``v`` and ``dt`` in any consistent units whose product is metres (m/s and s, or mm/ms
        and ms with positions in metres ... as long as ``v * dt`` is a displacement in m)."""
        v_xy = _check_xy(v_xy, "v_xy")
        return self.displacement_phasor(v_xy * jnp.asarray(dt, v_xy.dtype))

    # ------------------------------------------------------------------ read-out
    def axis_sums(self, z: Complex[Array, "... D"]) -> Complex[Array, "... A"]:
        """``S_c = sum_{j: c(j)=c} z_j exp(-i delta_j)`` for the ``3M`` module axes (flat index
        ``(s * O + o) * 3 + a``). For a clean code ``S_c = n_c exp(i k_c . x)``. Relies on the
        layout ``c(j) = j mod 3M`` of :func:`make_grid_code` (pad to whole repeats, reshape)."""
        z = self._check_z(z)
        a = self.n_axes
        n_rep = -(-self.dim // a)
        w = z * _lead(jnp.exp(-1j * self.offsets), z.ndim).astype(z.dtype)
        pad = [(0, 0)] * (z.ndim - 1) + [(0, n_rep * a - self.dim)]
        w = jnp.pad(w, pad)
        return jnp.sum(w.reshape((*w.shape[:-1], n_rep, a)), axis=-2)

    def module_phases(self, z: Complex[Array, "... D"]) -> Float[Array, "... S O 3"]:
        """The circular-mean phase ``angle(S_c)`` of every module axis (rad), ``(..., S, O, 3)``;
        for a clean code it is ``k_{m,a} . x`` wrapped to ``(-pi, pi]``."""
        sums = self.axis_sums(z)
        return jnp.angle(sums).reshape((*sums.shape[:-1], self.n_scales, self.n_orientations, 3))

    def axis_basis(self, xy: Float[Array, "N 2"]) -> Complex[Array, "N A"]:
        """``exp(-i k_c . y)`` for candidate positions ``y`` (m): ``sim(z, encode(y)) =
        Re(S(z) @ basis.T) / D``."""
        xy = _check_xy(xy, "candidates_xy")
        return jnp.exp(-1j * (xy @ self.axis_wave_vectors.T)).astype(jnp.complex64)

    def similarity_to(
        self, z: Complex[Array, "... D"], candidates_xy: Float[Array, "N 2"]
    ) -> Float[Array, "... N"]:
        """``sim(z, encode(y))`` for every candidate ``y`` (m): ``(..., N)``; equal to
        ``similarity(z[..., None, :], encode(candidates))`` but costs ``O(3M)`` per candidate."""
        return jnp.real(self.axis_sums(z) @ self.axis_basis(candidates_xy).T) / self.dim

    def decode(
        self, z: Complex[Array, "... D"], candidates_xy: Float[Array, "N 2"]
    ) -> Float[Array, "... 2"]:
        """The candidate position (m) of maximal similarity to ``z``: ``(..., 2)``."""
        candidates_xy = _check_xy(candidates_xy, "candidates_xy")
        best = jnp.argmax(self.similarity_to(z, candidates_xy), axis=-1)
        return candidates_xy[best]

    def decode_box(
        self,
        z: Complex[Array, "... D"],
        lo: Sequence[float] | Array = (0.0, 0.0),
        hi: Sequence[float] | Array = (1.0, 1.0),
        *,
        n_coarse: int = 41,
        n_fine: int = 7,
        levels: int = 4,
    ) -> Float[Array, "... 2"]:
        """Coarse-to-fine decoding in the box ``[lo, hi]`` (m): the arg-max over an
        ``n_coarse x n_coarse`` grid, then ``levels`` refinements, each an ``n_fine x n_fine``
        grid spanning +-1 previous spacing around the current estimate (the spacing shrinks by
        ``(n_fine - 1) / 2`` per level). The result is clipped to the box. ``lo``/``hi`` may be
        traced; the grid sizes are static."""
        return self.decode_sums_box(
            self.axis_sums(z), lo, hi, n_coarse=n_coarse, n_fine=n_fine, levels=levels
        )

    def decode_sums_box(
        self,
        sums: Complex[Array, "... A"],
        lo: Sequence[float] | Array = (0.0, 0.0),
        hi: Sequence[float] | Array = (1.0, 1.0),
        *,
        n_coarse: int = 41,
        n_fine: int = 7,
        levels: int = 4,
    ) -> Float[Array, "... 2"]:
        """:meth:`decode_box` from precomputed :meth:`axis_sums` (``(..., 3M)``), e.g. recorded
        by a simulation and decoded afterwards in one batch."""
        if n_coarse < 2 or n_fine < 3 or levels < 0:
            raise ValueError(
                f"need n_coarse >= 2, n_fine >= 3, levels >= 0; got {n_coarse}, {n_fine}, {levels}"
            )
        if sums.shape[-1:] != (self.n_axes,):
            raise ValueError(f"expected axis sums of length {self.n_axes}, got shape {sums.shape}")
        lo = jnp.asarray(lo, jnp.float32)
        hi = jnp.asarray(hi, jnp.float32)
        u = jnp.linspace(0.0, 1.0, n_coarse)
        gx, gy = jnp.meshgrid(lo[0] + u * (hi[0] - lo[0]), lo[1] + u * (hi[1] - lo[1]))
        coarse = jnp.stack([gx.ravel(), gy.ravel()], axis=-1)
        est = coarse[jnp.argmax(jnp.real(sums @ self.axis_basis(coarse).T), axis=-1)]
        spacing = (hi - lo) / (n_coarse - 1)
        w = jnp.linspace(-1.0, 1.0, n_fine)
        wx, wy = jnp.meshgrid(w, w)
        local = jnp.stack([wx.ravel(), wy.ravel()], axis=-1)  # (F, 2) in units of the spacing
        kt = self.axis_wave_vectors.T

        def refine(_, carry):
            est, spacing = carry
            cand = est[..., None, :] + _lead(local * spacing[None, :], est.ndim + 1)  # (..., F, 2)
            basis = jnp.exp(-1j * (cand @ kt))  # (..., F, A)
            sims = jnp.real(jnp.sum(basis * sums[..., None, :], axis=-1))
            best = jnp.argmax(sims, axis=-1)
            est = jnp.take_along_axis(cand, best[..., None, None], axis=-2)[..., 0, :]
            return est, spacing / ((n_fine - 1) / 2)

        est, _ = jax.lax.fori_loop(0, levels, refine, (est, spacing))
        return jnp.clip(est, _lead(lo, est.ndim), _lead(hi, est.ndim))

    # ------------------------------------------------------------------ attractor
    def cleanup(self, z: Complex[Array, "... D"]) -> Complex[Array, "... D"]:
        """Project ``z`` back onto the code manifold, module by module (a continuous-attractor
        step): read each axis phase as the circular mean ``theta_c = angle(S_c)`` over its
        components, make each module's three phases consistent by the least-squares projection
        onto ``theta_0 - theta_1 + theta_2 = 0``,
        ``theta <- theta - (1, -1, 1) * wrap(theta_0 - theta_1 + theta_2) / 3``,
        and rebuild unit phasors ``z_j = exp(i (theta_{c(j)} + delta_j))``. A clean code is a
        fixed point; the module's 2-D phase (its position in the unit cell) is unchanged."""
        phases = self.module_phases(z)
        return self.from_module_phases(project_module_phases(phases))

    def from_module_phases(self, phases: Float[Array, "... S O 3"]) -> Complex[Array, "... D"]:
        """The unit-phasor code ``z_j = exp(i (theta_{c(j)} + delta_j))`` of given axis phases."""
        flat = phases.reshape((*phases.shape[:-3], self.n_axes))
        comp = flat[..., self.component_axis] + _lead(self.offsets, flat.ndim)
        return jnp.exp(1j * comp).astype(jnp.complex64)

    # ------------------------------------------------------------------ checks
    def _check_z(self, z: Array) -> Array:
        z = jnp.asarray(z)
        if z.shape[-1:] != (self.dim,):
            raise ValueError(f"expected hypervectors of dimension {self.dim}, got shape {z.shape}")
        return z


def project_module_phases(phases: Float[Array, "... 3"]) -> Float[Array, "... 3"]:
    """Least-squares projection of three axis phases onto a consistent 2-D module phase:
    ``theta - (1, -1, 1) * wrap(theta_0 - theta_1 + theta_2) / 3``."""
    sign = jnp.asarray([1.0, -1.0, 1.0], phases.dtype)
    mismatch = wrap_phase(jnp.sum(phases * _lead(sign, phases.ndim), axis=-1, keepdims=True))
    return phases - _lead(sign, phases.ndim) * mismatch / 3.0


def _check_xy(xy: Array, name: str) -> Array:
    xy = jnp.asarray(xy, dtype=jnp.float32)
    if xy.ndim == 0 or xy.shape[-1] != 2:
        raise ValueError(f"`{name}` must have a trailing axis of length 2 (x, y), got {xy.shape}")
    return xy


def make_grid_code(
    key: jax.Array,
    *,
    dim: int = 1024,
    scales: Sequence[float] = geometric_scales(0.25, 1.4, 4),
    n_orientations: int = 3,
    orientation_deg: float = 7.0,
    orientations_deg: Sequence[float] | None = None,
) -> GridCode:
    """Build a :class:`GridCode` of dimension ``dim``.

    Args:
        key: PRNG key for the component phase offsets.
        dim: ``D``; must be >= ``3 * len(scales) * n_orientations`` (one component per axis);
            the components cycle through the module axes, so each axis gets ``D // 3M`` or
            ``D // 3M + 1`` repeats.
        scales: module spacings ``lambda_s`` (m).
        n_orientations: ``O``; orientations ``orientation_deg + o * 60 / O`` deg (a hexagonal
            lattice repeats every 60 deg, so these are spread evenly over the distinct ones).
        orientation_deg: the first orientation (deg).
        orientations_deg: explicit orientations (deg), overriding the two arguments above.
    """
    scales_arr = [float(s) for s in scales]
    if not scales_arr or not all(math.isfinite(s) and s > 0 for s in scales_arr):
        raise ValueError(f"scales must be a non-empty sequence of spacings > 0 m, got {scales!r}")
    if orientations_deg is None:
        if int(n_orientations) != n_orientations or n_orientations < 1:
            raise ValueError(f"n_orientations must be an integer >= 1, got {n_orientations!r}")
        orientations_deg = [
            orientation_deg + o * 60.0 / n_orientations for o in range(n_orientations)
        ]
    orient = [math.radians(float(o)) for o in orientations_deg]
    if not orient or not all(math.isfinite(o) for o in orient):
        raise ValueError(f"orientations must be finite numbers (deg), got {orientations_deg!r}")
    n_axes = 3 * len(scales_arr) * len(orient)
    if int(dim) != dim or dim < n_axes:
        raise ValueError(
            f"dim must be an integer >= 3 x {len(scales_arr)} scales x {len(orient)} orientations"
            f" = {n_axes} (one component per module axis), got {dim!r}"
        )
    lam = jnp.asarray(scales_arr, jnp.float32)
    phi = jnp.asarray(orient, jnp.float32)
    angles = phi[:, None] + jnp.arange(3, dtype=jnp.float32)[None, :] * (jnp.pi / 3.0)  # (O, 3)
    units = jnp.stack([jnp.cos(angles), jnp.sin(angles)], axis=-1)  # (O, 3, 2)
    magnitude = 2.0 * jnp.pi / lam * _HEX_FACTOR  # (S,)
    k = magnitude[:, None, None, None] * units[None]  # (S, O, 3, 2)
    offsets = jax.random.uniform(key, (int(dim),), minval=-jnp.pi, maxval=jnp.pi)
    axis = jnp.arange(int(dim), dtype=jnp.int32) % n_axes
    return GridCode(
        scales=lam,
        orientations=phi,
        module_wave_vectors=k.astype(jnp.float32),
        offsets=offsets.astype(jnp.float32),
        component_axis=axis,
    )


# =========================================================================== model grid cells
class GridCells(eqx.Module):
    r"""Model grid cells: each reads three components ``j_0, j_1, j_2`` of one module, one per
    axis. Its phasor (rate) activity is the rectified sum of the three gratings,

    .. math:: r_c = \tfrac13 \max\big(0,\ \mathrm{Re} \sum_a z_{j_a} e^{-i\psi_c}\big)
              = \tfrac13 \max\big(0, \sum_a \cos(k_{m,a}\cdot x - \alpha_{c,a})\big),

    with ``psi_c = delta_{j_0} - delta_{j_1} + delta_{j_2}`` and preferred phases
    ``alpha_{c,a} = psi_c - delta_{j_a}`` (consistent: ``alpha_0 - alpha_1 + alpha_2 = 0``), so
    ``r_c`` peaks (at 1) on a hexagonal lattice of the module's spacing. The spiking version of
    the same cell is a coincidence detector of the three components' spikes (see
    :func:`spiking_cycle`): their phases ``k_a . x + delta_{j_a}`` are all equal exactly where
    ``k_a . x = alpha_a``, the same lattice (the oscillatory-interference picture).

    Fields: ``module`` ``(C,)`` flat module index ``s * O + o``; ``components`` ``(C, 3)``;
    ``psi`` ``(C,)`` (rad).
    """

    module: Int[Array, " C"] = eqx.field(converter=_i32)
    components: Int[Array, "C 3"] = eqx.field(converter=_i32)
    psi: Float[Array, " C"] = eqx.field(converter=_f32)

    @property
    def n_cells(self) -> int:
        return int(self.module.shape[0])

    def preferred_phases(self, code: GridCode) -> Float[Array, "C 3"]:
        """``alpha_{c,a} = psi_c - delta_{j_a}`` wrapped (rad): ``k_a . x`` at the cell's fields."""
        return wrap_phase(self.psi[:, None] - code.offsets[self.components])

    def rates(self, z: Complex[Array, "... D"]) -> Float[Array, "... C"]:
        """Rectified sum of the three gratings, normalised to a peak of 1 (see class docstring)."""
        picked = z[..., self.components]  # (..., C, 3)
        total = jnp.sum(picked, axis=-1) * jnp.exp(-1j * _lead(self.psi, picked.ndim - 1))
        return jnp.maximum(jnp.real(total), 0.0) / 3.0


def make_grid_cells(key: jax.Array, code: GridCode, per_module: int = 2) -> GridCells:
    """``per_module`` cells in every module (module-major order: cell ``m * per_module + i``),
    each on a random repeat of each of the module's three axes."""
    if int(per_module) != per_module or per_module < 1:
        raise ValueError(f"per_module must be an integer >= 1, got {per_module!r}")
    n_axes, dim = code.n_axes, code.dim
    modules = jnp.repeat(jnp.arange(code.n_modules, dtype=jnp.int32), per_module)
    axes = modules[:, None] * 3 + jnp.arange(3, dtype=jnp.int32)[None, :]  # (C, 3)
    # repeats available on axis c: r with r * n_axes + c < dim
    n_rep = (dim - 1 - axes) // n_axes + 1
    u = jax.random.uniform(key, axes.shape)
    rep = jnp.minimum((u * n_rep).astype(jnp.int32), n_rep - 1)
    comps = rep * n_axes + axes
    sign = jnp.asarray([1.0, -1.0, 1.0], jnp.float32)
    psi = wrap_phase(jnp.sum(code.offsets[comps] * sign[None, :], axis=-1))
    return GridCells(module=modules, components=comps, psi=psi)


# =========================================================================== the walk
class WalkState(eqx.Module):
    """Agent state: position ``xy`` (m), ``heading`` (rad), ``speed`` (m/s)."""

    xy: Float[Array, " 2"]
    heading: Float[Array, ""]
    speed: Float[Array, ""]


class Walk(eqx.Module):
    r"""A smooth random walk in the box ``[0, L_x] x [0, L_y]`` with reflecting walls.

    Per step of ``dt_ms``: the heading diffuses, ``h += turn_sd sqrt(dt) xi``; the speed is an
    Ornstein-Uhlenbeck process around ``mean_speed`` with stationary s.d. ``speed_sd`` and time
    constant ``tau_speed_ms`` (floored at 0); the agent moves by ``speed (cos h, sin h) dt`` and
    is mirrored at the walls (the heading is reflected with it). Units: m, m/s, rad/sqrt(s), ms.
    """

    box: Float[Array, " 2"] = eqx.field(converter=_f32)
    mean_speed: Float[Array, ""] = eqx.field(converter=_f32)
    speed_sd: Float[Array, ""] = eqx.field(converter=_f32)
    tau_speed_ms: Float[Array, ""] = eqx.field(converter=_f32)
    turn_sd: Float[Array, ""] = eqx.field(converter=_f32)
    dt_ms: Float[Array, ""] = eqx.field(converter=_f32)

    def init_state(self, xy: Float[Array, " 2"] | None = None, heading: float = 0.0) -> WalkState:
        """Start at ``xy`` (default: the box centre) with the mean speed."""
        xy = 0.5 * self.box if xy is None else jnp.asarray(xy, jnp.float32)
        return WalkState(xy.astype(jnp.float32), _f32(heading), _f32(self.mean_speed))

    def step(self, state: WalkState, key: jax.Array) -> tuple[WalkState, Float[Array, " 2"]]:
        """One step; returns the new state and the actual velocity ``(x_new - x_old) / dt``
        (m/s), the self-motion signal a path integrator receives."""
        k1, k2 = jax.random.split(key)
        dt_s = self.dt_ms * 1e-3
        heading = state.heading + self.turn_sd * jnp.sqrt(dt_s) * jax.random.normal(k1)
        a = jnp.exp(-self.dt_ms / self.tau_speed_ms)
        speed = (
            self.mean_speed
            + a * (state.speed - self.mean_speed)
            + self.speed_sd * jnp.sqrt(1.0 - a * a) * jax.random.normal(k2)
        )
        speed = jnp.maximum(speed, 0.0)
        direction = jnp.stack([jnp.cos(heading), jnp.sin(heading)])
        new = state.xy + speed * dt_s * direction
        low = new < 0.0
        high = new > self.box
        new = jnp.where(low, -new, jnp.where(high, 2.0 * self.box - new, new))
        new = jnp.clip(new, 0.0, self.box)
        direction = jnp.where(low | high, -direction, direction)
        heading = jnp.arctan2(direction[1], direction[0])
        velocity = (new - state.xy) / dt_s
        return WalkState(new, heading, speed), velocity


def random_walk(
    key: jax.Array, walk: Walk, n_steps: int, start: WalkState | None = None
) -> tuple[Float[Array, "T1 2"], Float[Array, "T 2"]]:
    """Positions ``(n_steps + 1, 2)`` (m, starting point first) and velocities ``(n_steps, 2)``
    (m/s) of a :class:`Walk`."""
    start = walk.init_state() if start is None else start

    def body(state, k):
        state, v = walk.step(state, k)
        return state, (state.xy, v)

    _, (xy, v) = jax.lax.scan(body, start, jax.random.split(key, int(n_steps)))
    return jnp.concatenate([start.xy[None], xy], axis=0), v


# =========================================================================== path integration
def phasor_step(
    code: GridCode,
    z: Complex[Array, " D"],
    velocity: Float[Array, " 2"],
    dt_ms: Array,
    key: jax.Array,
    phase_noise: Array,
    cleanup: Array,
) -> Complex[Array, " D"]:
    """One path-integration step of the phasor code: ``z <- z * exp(i K v dt) * exp(i eps)``
    with ``eps ~ N(0, phase_noise^2)`` per component (rad), then, with weight ``cleanup`` (0 or
    1), the module-wise attractor projection :meth:`GridCode.cleanup`."""
    noise = phase_noise * jax.random.normal(key, z.shape)
    z = z * code.velocity_phasor(velocity, dt_ms * 1e-3) * jnp.exp(1j * noise).astype(z.dtype)
    return jnp.where(cleanup > 0.5, code.cleanup(z), z / jnp.abs(z))


class SpikingState(eqx.Module):
    """State of the spiking realisation: ``u`` ``(D,)`` oscillator phases in cycles (the
    normalised membrane potential of a perfect integrator, threshold 1), ``since_ms`` ``(D,)``
    time since each neuron's last spike as the read-out sees it (spikes dated at the middle
    of their time step)."""

    u: Float[Array, " D"]
    since_ms: Float[Array, " D"]


def spiking_init(code: GridCode, xy: Float[Array, " 2"], dt_ms: Array) -> SpikingState:
    """Oscillators in phase with the code of ``xy``: ``u = theta / 2 pi mod 1`` and a last spike
    ``u`` cycles ago (cycle length ``dt_ms``)."""
    theta = jnp.angle(code.encode(xy))
    u = jnp.mod(theta / (2.0 * jnp.pi), 1.0)
    return SpikingState(u, u * dt_ms)


def spiking_readout(state: SpikingState, dt_ms: Array) -> Complex[Array, " D"]:
    """The code read from spike times: ``theta_j = 2 pi f_0 (t - t_spike,j)`` with
    ``f_0 = 1 / dt_ms``, i.e. each neuron's phase relative to the reference oscillator."""
    return jnp.exp(2j * jnp.pi * state.since_ms / dt_ms).astype(jnp.complex64)


def spiking_cycle(
    code: GridCode,
    cells: GridCells,
    state: SpikingState,
    velocity: Float[Array, " 2"],
    dt_ms: Array,
    key: jax.Array,
    phase_noise: Array,
    cleanup: Array,
    n_sub: int,
    coinc_window_ms: Array,
) -> tuple[SpikingState, Float[Array, " C"], Float[Array, ""]]:
    r"""One oscillation cycle (one walk step of ``dt_ms``) of the spiking realisation, in
    ``n_sub`` time steps of ``h = dt_ms / n_sub``.

    Every component ``j`` is a velocity-controlled oscillator: a perfect integrator with reset
    by subtraction, ``u_j += h (f_0 + k_j . v / 2 pi) + noise``, spike when ``u_j >= 1``,
    ``u_j -= 1``, with ``f_0 = 1 / dt_ms`` (one spike per cycle at rest). Over a cycle its phase
    advances by ``2 pi + k_j . v dt``: the phasor binding, carried by spike timing. The
    read-out knows only spike times, quantised to ``h`` (a spike is dated at the middle of its
    step): ``theta_j = 2 pi f_0 (t - t_spike)``, so its error is at most ``pi h f_0`` plus the
    phase the neuron gained from moving since it last fired (``<= |k_j . v| dt``).
    Phase noise ``N(0, phase_noise^2)`` per cycle (rad) is added to ``u`` at the start of the
    cycle (the same per-step noise as :func:`phasor_step`). ``cleanup`` (0/1):
    at the end of the cycle the attractor reads the phases from spike times, projects them with
    :meth:`GridCode.cleanup` and feeds the difference back as a one-off input to ``u``.
    Grid cell ``c`` is a phase-gated coincidence detector of its three oscillators ``j_a``:
    it fires in a time step in which one of them fires, all three have fired within the last
    ``coinc_window_ms`` = ``W``, and each did so within ``W / 2`` of the cell's preferred time
    in the reference cycle, the time at which an oscillator of phase ``psi_c`` fires (a
    theta-phase gate). So it fires where ``|k_a . x + delta_{j_a} - psi_c| <= pi W / dt`` for
    all three axes: a regular hexagon around each point of the phasor cell's lattice
    (:class:`GridCells`). Without the gate, three oscillators at 0/60/120 deg coincide on
    fields stretched 3:1 along one axis.

    Returns the new state, the grid cells' spike counts ``(C,)`` and the total spike count.
    """
    h = dt_ms / n_sub
    f0 = 1.0 / dt_ms
    drift = h * (f0 + (code.wave_vectors @ velocity) * 1e-3 / (2.0 * jnp.pi))  # cycles/step

    gate = jnp.pi * coinc_window_ms / dt_ms  # rad
    psi = cells.psi[:, None]

    def sub(carry, step):
        u, since, counts, total = carry
        u = u + drift
        spikes = u >= 1.0
        u = u - spikes.astype(u.dtype)
        since = jnp.where(spikes, 0.5 * h, since + h)
        ages = since[cells.components]  # (C, 3) ms since each input's last spike
        t_now = (step + 1).astype(jnp.float32) * h
        # the phase an oscillator firing at (t_now - age) has at the end of the cycle
        phase = 2.0 * jnp.pi * (1.0 - (t_now - ages) / dt_ms)
        aligned = jnp.all(jnp.abs(wrap_phase(phase - psi)) <= gate, axis=-1)
        recent = jnp.max(ages, axis=-1) <= coinc_window_ms
        arrived = jnp.any(spikes[cells.components], axis=-1)
        fire = (arrived & recent & aligned).astype(jnp.float32)
        return (u, since, counts + fire, total + jnp.sum(spikes.astype(jnp.float32))), None

    counts0 = jnp.zeros((cells.n_cells,), jnp.float32)
    u0 = state.u + phase_noise / (2.0 * jnp.pi) * jax.random.normal(key, state.u.shape)
    carry = (u0, state.since_ms, counts0, jnp.float32(0.0))
    steps = jnp.arange(n_sub, dtype=jnp.int32)
    (u, since, counts, total), _ = jax.lax.scan(sub, carry, steps)
    # attractor feedback computed from spike times only
    read = jnp.angle(spiking_readout(SpikingState(u, since), dt_ms))
    target = jnp.angle(code.cleanup(jnp.exp(1j * read)))
    u = u + jnp.where(cleanup > 0.5, wrap_phase(target - read) / (2.0 * jnp.pi), 0.0)
    return SpikingState(u, since), counts, total


# =========================================================================== the whole system
class NavState(eqx.Module):
    """State of :class:`GridNavigator`: the agent, both integrators, the PRNG key, the step."""

    walk: WalkState
    z: Complex[Array, " D"]
    spiking: SpikingState
    key: jax.Array
    step_index: Int[Array, ""]


class GridNavigator(AbstractSystem):
    """An agent walking in a box while a GC-VSA code path-integrates its self-motion, in two
    realisations side by side: the phasor code (repeated binding) and phase-coded spiking
    oscillators (:func:`spiking_cycle`). Both receive the same noisy velocity
    ``v + N(0, velocity_noise^2)`` (m/s, per axis and step) and phase noise (rad per step and
    component); no landmarks ever correct them. One call is one walk step of ``walk.dt_ms``::

        state = nav.init_state(key=key)
        state, records = jax.lax.scan(lambda s, _: nav(s), state, None, length=1000)

    (or :func:`snnviz.core.sim.advance`). The record holds the true position ``xy``, the
    velocity, the positions decoded from both realisations (coarse-to-fine arg-max of the
    similarity over the box), their errors (m), the grid cells' phasor rates ``(C,)`` in [0, 1]
    and spike counts ``(C,)`` per step.
    """

    code: GridCode
    cells: GridCells
    walk: Walk
    phase_noise: Float[Array, ""] = eqx.field(converter=_f32)
    velocity_noise: Float[Array, ""] = eqx.field(converter=_f32)
    cleanup: Float[Array, ""] = eqx.field(converter=_f32)
    coinc_window_ms: Float[Array, ""] = eqx.field(converter=_f32)
    n_sub: int = eqx.field(static=True, default=40)
    n_decode: int = eqx.field(static=True, default=33)

    def init_state(
        self, *, key: jax.Array, xy: Float[Array, " 2"] | None = None, heading: float = 0.0
    ) -> NavState:
        """Agent at ``xy`` (default: the centre), both integrators set to its code."""
        walk = self.walk.init_state(xy, heading)
        return NavState(
            walk=walk,
            z=self.code.encode(walk.xy),
            spiking=spiking_init(self.code, walk.xy, self.walk.dt_ms),
            key=key,
            step_index=jnp.int32(0),
        )

    def reanchor(self, state: NavState) -> NavState:
        """Reset both integrators to the code of the true position (e.g. after the code
        changed); the agent and the key are kept."""
        fresh = self.init_state(key=state.key, xy=state.walk.xy)
        return NavState(state.walk, fresh.z, fresh.spiking, state.key, state.step_index)

    def decode(self, z: Complex[Array, "... D"]) -> Float[Array, "... 2"]:
        """Coarse-to-fine decoding of codes over the walk's box (m)."""
        return self.decode_sums(self.code.axis_sums(z))

    def decode_sums(self, sums: Complex[Array, "... A"]) -> Float[Array, "... 2"]:
        """Coarse-to-fine decoding of recorded axis sums over the walk's box (m)."""
        return self.code.decode_sums_box(
            sums, jnp.zeros(2, jnp.float32), self.walk.box, n_coarse=self.n_decode, levels=4
        )

    def __call__(self, state: NavState, drive_t: None = None) -> tuple[NavState, dict[str, Array]]:
        """One walk step of both realisations (see the class docstring). The record carries the
        module-axis sums ``sums_phasor`` / ``sums_spiking`` ``(3M,)``; decode them in one batch
        afterwards with :func:`decode_records` (cheaper than decoding inside the scan)."""
        del drive_t
        key, k_walk, k_vel, k_ph, k_spk = jax.random.split(state.key, 5)
        walk, velocity = self.walk.step(state.walk, k_walk)
        v_in = velocity + self.velocity_noise * jax.random.normal(k_vel, (2,))
        dt = self.walk.dt_ms
        z = phasor_step(self.code, state.z, v_in, dt, k_ph, self.phase_noise, self.cleanup)
        spiking, cell_spikes, n_spikes = spiking_cycle(
            self.code,
            self.cells,
            state.spiking,
            v_in,
            dt,
            k_spk,
            self.phase_noise,
            self.cleanup,
            self.n_sub,
            self.coinc_window_ms,
        )
        record = {
            "xy": walk.xy,
            "velocity": velocity,
            "sums_phasor": self.code.axis_sums(z),
            "sums_spiking": self.code.axis_sums(spiking_readout(spiking, dt)),
            "rates": self.cells.rates(z),
            "cell_spikes": cell_spikes,
            "n_spikes": n_spikes,
        }
        new = NavState(walk, z, spiking, key, state.step_index + 1)
        return new, record


@eqx.filter_jit
def decode_records(nav: GridNavigator, records: dict[str, Array]) -> dict[str, Array]:
    """Decode a run's recorded axis sums: ``decoded_phasor`` / ``decoded_spiking`` ``(T, 2)``
    (m) and the errors ``error_phasor`` / ``error_spiking`` ``(T,)`` (m) against ``xy``."""
    out = {}
    for name in ("phasor", "spiking"):
        dec = nav.decode_sums(records[f"sums_{name}"])
        out[f"decoded_{name}"] = dec
        out[f"error_{name}"] = jnp.sqrt(jnp.sum((dec - records["xy"]) ** 2, axis=-1))
    return out


@eqx.filter_jit
def walk_and_decode(
    nav: GridNavigator, state: NavState, n_steps: int
) -> tuple[NavState, dict[str, Array]]:
    """``n_steps`` walk steps and their decoding in one compiled call (one dispatch per chunk,
    for live pages): the records of :class:`GridNavigator` without the axis sums, plus the
    output of :func:`decode_records`. Only ``n_steps`` and the shapes are static."""

    def body(s, _):
        return nav(s)

    state, rec = jax.lax.scan(body, state, None, length=n_steps)
    out = {k: v for k, v in rec.items() if not k.startswith("sums_")}
    out.update(decode_records(nav, rec))
    return state, out


def run_navigator(
    nav: GridNavigator,
    n_steps: int,
    *,
    key: jax.Array,
    decode: bool = True,
    chunk: int = 1000,
    progress: Callable[[float], None] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Walk ``n_steps`` from the box centre with both realisations (no landmarks), in fixed
    chunks of ``chunk`` steps so that any length reuses one compiled chunk; returns the records
    and, if ``decode``, :func:`decode_records` (numpy arrays, trimmed to ``n_steps``).
    ``progress(fraction)`` is called after each chunk."""
    if int(n_steps) < 1 or int(chunk) < 1:
        raise ValueError(f"n_steps and chunk must be >= 1, got {n_steps}, {chunk}")
    state = nav.init_state(key=key)
    recs, decs = [], []
    n_chunks = -(-int(n_steps) // int(chunk))
    for i in range(n_chunks):
        state, rec = advance(nav, state, int(chunk))
        if decode:
            decs.append(jax.device_get(decode_records(nav, rec)))
        recs.append(jax.device_get(rec))
        if progress is not None:
            progress((i + 1) / n_chunks)
    out = {k: np.concatenate([r[k] for r in recs])[:n_steps] for k in recs[0]}
    dec = {k: np.concatenate([d[k] for d in decs])[:n_steps] for k in decs[0]} if decode else {}
    return out, dec
