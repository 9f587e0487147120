r"""Parameter model of the GC-VSA grid-cell navigator (:class:`snnviz.core.vsa.gridcells.GridNavigator`).

``n_scales x n_orientations`` grid modules with spacings ``lambda_s = smallest_scale * ratio^s``
and orientations ``orientation + o * 60 / n_orientations`` deg, coded in ``dim`` phasor
components; an agent walks a square arena (smooth random walk, reflecting walls) and the code
path-integrates its noisy self-motion by binding, next to a spiking realisation (velocity-
controlled oscillators, one cycle per walk step of ``dt_ms``, simulated in ``n_substeps`` time
steps) with optional attractor cleanup. Reference: Krausse, Neftci, Sommer & Renner (2025),
arXiv 2503.08608.

The sizes (``dim``, ``n_scales``, ``n_orientations``, ``cells_per_module``, ``n_substeps``) and
``seed`` fix the shapes: changing one builds a new navigator and compiles once
(:meth:`GridCellsModel.structure_key`). Every other value is a traced array, so a slider move
never recompiles; the code values (:meth:`GridCellsModel.code_key`) change the meaning of the
integrators' state, so a page re-anchors them at the true position when those move.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import param

from ._base import ParamModel, integer, number


class GridCellsModel(ParamModel):
    """GC-VSA grid modules, the walking agent, noise and the spiking realisation."""

    model_name: ClassVar[str] = "gc_vsa"
    aliases: ClassVar[tuple[str, ...]] = ("grid_cells", "gridcells", "gcvsa")

    # -- structure (rebuild + compile once) ----------------------------------------------
    dim = integer(
        1024,
        bounds=(12, 8192),
        soft=(96, 4096),
        label="dimension D",
        doc="Hypervector dimension: phasor components (and spiking oscillators)",
    )
    n_scales = integer(
        4,
        bounds=(1, 8),
        soft=(1, 6),
        label="module scales",
        doc="Number of grid-module spacings (a geometric series)",
    )
    n_orientations = integer(
        3,
        bounds=(1, 6),
        soft=(1, 4),
        label="orientations",
        doc="Number of module orientations, spread over 60 deg",
    )
    cells_per_module = integer(
        2,
        bounds=(1, 16),
        soft=(1, 8),
        label="cells per module",
        doc="Model grid cells tracked per module for rate maps",
    )
    n_substeps = integer(
        40,
        bounds=(4, 400),
        soft=(10, 100),
        label="spiking steps per cycle",
        doc="Time steps per oscillation cycle of the spiking realisation: "
        "spike times are quantised to dt / n_substeps",
    )
    seed = integer(
        0,
        bounds=(0, 2**31 - 1),
        soft=(0, 100),
        label="seed",
        doc="Seed of the code's phase offsets, the cells and the walk",
    )

    # -- the code (traced; moving them re-anchors the integrators) -----------------------
    smallest_scale = number(
        0.25,
        bounds=(0.08, 2.0),
        soft=(0.15, 0.6),
        step=0.01,
        unit="m",
        label="smallest spacing",
        doc="Spacing of the finest grid module",
    )
    scale_ratio = number(
        1.4,
        bounds=(1.0, 3.0),
        soft=(1.1, 2.0),
        step=0.01,
        unit="",
        label="scale ratio",
        doc="Ratio of successive module spacings (about 1.42 in rats)",
    )
    orientation_deg = number(
        7.0,
        bounds=(0.0, 60.0),
        soft=(0.0, 60.0),
        step=1.0,
        unit="deg",
        label="orientation",
        doc="Orientation of the first modules",
    )

    # -- walk and noise (traced) -----------------------------------------------------------
    arena_m = number(
        1.0,
        bounds=(0.2, 5.0),
        soft=(0.5, 2.0),
        step=0.05,
        unit="m",
        label="arena side",
        doc="Side of the square arena",
    )
    mean_speed = number(
        0.3,
        bounds=(0.0, 2.0),
        soft=(0.05, 0.8),
        step=0.01,
        unit="m/s",
        label="mean speed",
        doc="Mean running speed of the agent",
    )
    speed_sd = number(
        0.1,
        bounds=(0.0, 1.0),
        soft=(0.0, 0.3),
        step=0.01,
        unit="m/s",
        label="speed s.d.",
        doc="Standard deviation of the running speed",
    )
    turn_sd = number(
        2.0,
        bounds=(0.0, 20.0),
        soft=(0.0, 6.0),
        step=0.1,
        unit="rad/sqrt(s)",
        label="turning noise",
        doc="Heading diffusion of the random walk",
    )
    dt_ms = number(
        20.0,
        bounds=(2.0, 200.0),
        soft=(5.0, 50.0),
        step=1.0,
        unit="ms",
        label="walk step",
        doc="Walk step = one oscillation cycle of the spiking realisation",
    )
    velocity_noise = number(
        0.0,
        bounds=(0.0, 1.0),
        soft=(0.0, 0.2),
        step=0.005,
        unit="m/s",
        label="velocity noise",
        doc="S.d. of the noise on the self-motion signal, per axis and step",
    )
    phase_noise = number(
        0.0,
        bounds=(0.0, 3.0),
        soft=(0.0, 0.5),
        step=0.01,
        unit="rad",
        label="phase noise",
        doc="S.d. of the phase noise per component and walk step",
    )
    cleanup = param.Boolean(
        True,
        label="attractor cleanup",
        doc="Project the state back onto the code manifold after every step "
        "(per module: circular mean over repeats, consistent 3 phases)",
    )

    # -- spiking grid cells (traced) -------------------------------------------------------
    coinc_window_ms = number(
        6.0,
        bounds=(0.01, 100.0),
        soft=(0.5, 8.0),
        step=0.1,
        unit="ms",
        label="coincidence window",
        doc="A spiking grid cell fires when its three oscillators all fire within this window "
        "around its preferred time in the cycle",
    )

    STRUCTURE: ClassVar[tuple[str, ...]] = (
        "dim",
        "n_scales",
        "n_orientations",
        "cells_per_module",
        "n_substeps",
        "seed",
    )
    CODE: ClassVar[tuple[str, ...]] = ("smallest_scale", "scale_ratio", "orientation_deg")

    # -- derived ---------------------------------------------------------------------------
    @property
    def scales(self) -> tuple[float, ...]:
        """Module spacings ``smallest_scale * scale_ratio**s`` (m)."""
        return tuple(self.smallest_scale * self.scale_ratio**s for s in range(self.n_scales))

    @property
    def n_modules(self) -> int:
        return self.n_scales * self.n_orientations

    def validate(self) -> None:
        n_axes = 3 * self.n_modules
        if self.dim < n_axes:
            raise ValueError(
                f"GC-VSA: dimension D = {self.dim} is below the {n_axes} module axes "
                f"(3 x {self.n_scales} scales x {self.n_orientations} orientations); raise D "
                f"or use fewer modules"
            )
        # A walk step must move every grating by well under half a period, or phase
        # differences alias (the spiking read-out and the cleanup assume |k.v dt| < pi).
        k_max = 4.0 * math.pi / (math.sqrt(3.0) * self.smallest_scale)
        step_phase = k_max * (self.mean_speed + 3.0 * self.speed_sd) * self.dt_ms * 1e-3
        if step_phase >= math.pi / 2:
            raise ValueError(
                f"GC-VSA: the agent moves {(self.mean_speed + 3 * self.speed_sd) * self.dt_ms:.1f}"
                f" mm per {self.dt_ms:g} ms step, a phase step of {step_phase:.2f} rad on the "
                f"finest module (spacing {self.smallest_scale:g} m); it must stay below pi/2: "
                f"slow the agent, shorten the walk step or use a larger smallest spacing"
            )

    def structure_key(self) -> tuple:
        """The shapes: ``("gc_vsa", dim, n_scales, n_orientations, cells_per_module,
        n_substeps, seed)``."""
        return (self.model_name, *(getattr(self, k) for k in self.STRUCTURE))

    def code_key(self) -> tuple:
        """The values that define the code (a change invalidates the integrators' state)."""
        return (*self.structure_key(), *(getattr(self, k) for k in self.CODE))

    def build(self) -> Any:
        """The :class:`~snnviz.core.vsa.gridcells.GridNavigator` for the current values."""
        self.validate()
        import jax
        import jax.numpy as jnp

        from snnviz.core.vsa.gridcells import GridNavigator, Walk, make_grid_cells, make_grid_code

        k_code, k_cells = jax.random.split(jax.random.key(self.seed))
        code = make_grid_code(
            k_code,
            dim=self.dim,
            scales=self.scales,
            n_orientations=self.n_orientations,
            orientation_deg=self.orientation_deg,
        )
        cells = make_grid_cells(k_cells, code, self.cells_per_module)
        walk = Walk(
            box=jnp.full((2,), self.arena_m, jnp.float32),
            mean_speed=jnp.float32(self.mean_speed),
            speed_sd=jnp.float32(self.speed_sd),
            tau_speed_ms=jnp.float32(1000.0),
            turn_sd=jnp.float32(self.turn_sd),
            dt_ms=jnp.float32(self.dt_ms),
        )
        return GridNavigator(
            code=code,
            cells=cells,
            walk=walk,
            phase_noise=jnp.float32(self.phase_noise),
            velocity_noise=jnp.float32(self.velocity_noise),
            cleanup=jnp.float32(1.0 if self.cleanup else 0.0),
            coinc_window_ms=jnp.float32(self.coinc_window_ms),
            n_sub=int(self.n_substeps),
        )
