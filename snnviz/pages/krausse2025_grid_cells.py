"""Grid cells (GC-VSA): path integration by phasor binding and by phase-coded spikes.

An agent walks a square arena; a grid-cell code (modules of three gratings at 60 deg, several
spacings and orientations) path-integrates its self-motion by repeated binding, next to a spiking
realisation (velocity-controlled oscillators whose spike times carry the phases). The page
streams the walk with both decoded positions, builds rate maps of model grid cells from the
trajectory, scores their spatial autocorrelograms (gridness) at a low rate, and plots the
decoding error of both realisations. The walk advances in compiled chunks of ``CHUNK_STEPS``
steps (:class:`~snnviz.components.LiveLoop`); noise, speed and cell sliders swap traced values
(no recompile); code sliders (spacing, ratio, orientation, arena) also re-anchor the integrators
at the true position and clear the maps; sizes rebuild and compile once.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import jax
import numpy as np
import panel as pn
import param

from snnviz.components import ErrorBanner, LiveLoop, RunControls
from snnviz.core.analysis.gridness import (
    RateMapAccumulator,
    gridness_score,
    rate_map,
    spatial_autocorrelogram,
)
from snnviz.core.vsa.gridcells import GridNavigator, NavState, run_navigator, walk_and_decode
from snnviz.models.grid_cells import GridCellsModel
from snnviz.views.grid_cells import (
    LiveArena,
    LiveErrors,
    LiveMaps,
    error_curves,
    gridness_bars,
    rate_maps_figure,
    trajectory_overlay,
)

from ._base import DemoPage, Progress
from ._layout import ReproduceSection, page_layout
from ._result import Claim, ClaimResult

CHUNK_STEPS = 5
N_BINS = 32
N_SHOWN = 4
MAPS_EVERY = 5  # chunks between rate-map image updates
GRIDNESS_EVERY = 40  # chunks between autocorrelogram / gridness updates
MIN_SAMPLES_FOR_GRIDNESS = 2000
BOUND_M = 0.05  # path-integration claim: max error below 5 cm in a 1 m arena
NOISY_PHASE = 0.1  # rad per step, for the cleanup claim
SMOOTH_BINS = 1.0  # Gaussian smoothing of rate maps before autocorrelation (bins)
GRIDNESS_MIN = 0.5
REALISATIONS = ("phasor", "spiking")

EXPLANATION = """
Press **▶ Play**. The grey disc is the agent; the blue and red rings are where the **phasor**
code and the **spiking** code (oscillators whose spike times carry the phases) think it is — integrated
from self-motion alone, no landmarks. Rate maps of four grid cells (one per module) fill in as
the agent covers the arena; once it has walked 2,000 steps (~40 s of walk, ~10 s at 4x speed), their
autocorrelograms and gridness scores appear and then update every few seconds
(> 0.3–0.5 is "grid-like"). Add **phase noise**: without the **attractor cleanup** the code
decoheres and the decoded position jumps; with it the error stays small. **Velocity noise** is
on the manifold, so nothing can correct it: the error random-walks. Spacing and ratio sliders
re-anchor the integrators and clear the maps; sizes rebuild (one compile).
"""


def shown_cells(model: GridCellsModel) -> list[int]:
    """Indices of the (up to) four displayed cells: the first cell of the first distinct
    modules, going through scales first (orientation 0), then the other orientations."""
    modules = [
        s * model.n_orientations + o
        for o in range(model.n_orientations)
        for s in range(model.n_scales)
    ][:N_SHOWN]
    return [m * model.cells_per_module for m in modules]


def module_label(model: GridCellsModel, module: int) -> str:
    s, o = divmod(module, model.n_orientations)
    return f"{model.scales[s]:.2f} m/{model.orientation_deg + o * 60 / model.n_orientations:.0f}°"


@dataclasses.dataclass(frozen=True)
class Images:
    """Images for the live maps. Their NaN bins mean "not visited" (or "too little overlap"),
    so they travel as one opaque leaf that the live loop's NaN check does not inspect."""

    images: list[np.ndarray]
    scores: list[float] = dataclasses.field(default_factory=list)


class GridCellsPage(DemoPage):
    slug: ClassVar[str] = "krausse2025_grid_cells"
    title: ClassVar[str] = "Grid cells (GC-VSA)"
    summary: ClassVar[str] = (
        "A grid-cell vector-symbolic code path-integrates a random walk by phasor binding and "
        "by phase-coded spikes; rate maps, autocorrelograms and gridness build up live."
    )
    reference: ClassVar[str] = (
        "Krausse S., Neftci E., Sommer F. T., Renner A. (2025) A grid cell-inspired structured "
        "vector algebra for cognitive maps, arXiv:2503.08608"
    )
    claims: ClassVar[tuple[Claim, ...]] = (
        Claim(
            "gridness_phasor",
            "GC-VSA modules reproduce hexagonal grid-cell receptive fields",
            f"median gridness (Sargolini 2006) of the phasor cells > {GRIDNESS_MIN} in every "
            "module (measured: the lowest module median)",
        ),
        Claim(
            "gridness_spiking",
            "a spiking realisation of the code (our addition)",
            f"median gridness of the spiking cells (phase-gated coincidence detectors of the "
            f"three gratings' oscillators) > {GRIDNESS_MIN} in every module (lowest median)",
        ),
        Claim(
            "pi_max_error_phasor_cm",
            "accurate path integration by binding with velocity",
            f"phasor code: max decoding error over three 1,000-step random walks (full: six of "
            f"2,000 steps; 1 m arena, no landmarks, no noise) < {100 * BOUND_M:.0f} cm",
        ),
        Claim(
            "pi_max_error_spiking_cm",
            "path integration with and without a spiking realisation",
            f"spiking code (spike times quantised to dt/n_substeps): max error over the same "
            f"walks < {100 * BOUND_M:.0f} cm",
        ),
        Claim(
            "noisy_max_error_cleanup_cm",
            "an attractor (cleanup) step acts like a CAN",
            f"phase noise {NOISY_PHASE} rad/step: with cleanup the max error of both "
            f"realisations stays < {100 * BOUND_M:.0f} cm (without cleanup: see detail)",
        ),
    )
    url_params: ClassVar[tuple[str, ...]] = (
        "realisation",
        "model.dim",
        "model.n_scales",
        "model.n_orientations",
        "model.smallest_scale",
        "model.scale_ratio",
        "model.velocity_noise",
        "model.phase_noise",
        "model.cleanup",
    )

    realisation = param.Selector(
        objects=list(REALISATIONS),
        default="phasor",
        doc="Which realisation's grid cells the rate maps show.",
    )
    model = param.ClassSelector(class_=GridCellsModel, doc="The code, the walk and the noise.")

    def __init__(self, **params: Any) -> None:
        params.setdefault("model", GridCellsModel())
        super().__init__(**params)
        self.banner = ErrorBanner()
        self.readout = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.arena = LiveArena(self.model.arena_m)
        self.rate_maps = LiveMaps(N_SHOWN, self.model.arena_m)
        half = (N_BINS - 0.5) * self.model.arena_m / N_BINS
        self.autocorrs = LiveMaps(
            N_SHOWN, half, lo=-half, palette="RdBu11", symmetric=True, axis="lag "
        )
        self.errors = LiveErrors()
        self._epoch = 0
        self._pushed_epoch = 0
        self._build()
        self.loop = LiveLoop(
            self._advance_chunk,
            self._push,
            chunk_ms=self._chunk_ms,
            on_reset=self._on_reset,
            on_error=self._on_error,
            speed=4.0,
        )
        self.follow_model({self._on_param: None}, on_replaced=self._on_param)
        self.param.watch(self._on_realisation, "realisation")

    @classmethod
    def warm_up(cls) -> None:
        """Compile the streaming chunk and its decoder for the default sizes."""
        cls()._advance_chunk()

    # -- model ---------------------------------------------------------------------------
    @property
    def _chunk_ms(self) -> float:
        return CHUNK_STEPS * float(self.model.dt_ms)

    def _build(self) -> None:
        """(Re)build the navigator and start a new walk at the centre (compiles per shape)."""
        self._nav: GridNavigator = self.model.build()
        self._structure = self.model.structure_key()
        self._code_key = self._code_identity()
        self._state: NavState = self._nav.init_state(key=jax.random.key(self.model.seed + 7))
        self._clear_statistics()

    def _code_identity(self) -> tuple:
        return (*self.model.code_key(), self.model.arena_m)

    def _clear_statistics(self) -> None:
        self._acc = RateMapAccumulator(
            self._nav.cells.n_cells, self.model.arena_m, N_BINS, REALISATIONS
        )
        self._shown = shown_cells(self.model)
        self._titles = [
            module_label(self.model, c // self.model.cells_per_module) for c in self._shown
        ]
        self._chunks = 0
        self._steps = 0
        self._err = {name: [0.0, 0.0, 0.0] for name in REALISATIONS}  # sum, max, last
        self._gridness_text = ""
        self._epoch += 1
        self._reanchor = False

    def _advance_chunk(self) -> dict[str, Any]:
        """One compiled chunk, decoded, accumulated into the rate maps; on the worker thread
        when offloaded. Returns what ``_push`` hands to the plots."""
        nav = self._nav  # one consistent snapshot even if a slider moves meanwhile
        state = self._state
        if self._reanchor:
            state = nav.reanchor(state)
            self._clear_statistics()
        state, rec = walk_and_decode(nav, state, CHUNK_STEPS)
        rec = jax.device_get(rec)
        dec = rec
        dt_s = float(nav.walk.dt_ms) * 1e-3
        self._acc.add(rec["xy"], phasor=rec["rates"], spiking=rec["cell_spikes"] / dt_s)
        t_s = (self._steps + np.arange(1, CHUNK_STEPS + 1)) * dt_s
        self._steps += CHUNK_STEPS
        self._chunks += 1
        for name in REALISATIONS:
            e = dec[f"error_{name}"]
            acc = self._err[name]
            acc[0] += float(e.sum())
            acc[1] = max(acc[1], float(e.max()))
            acc[2] = float(e[-1])
        out: dict[str, Any] = {
            "epoch": self._epoch,
            "t_s": t_s,
            "xy": rec["xy"],
            "decoded_phasor": dec["decoded_phasor"],
            "decoded_spiking": dec["decoded_spiking"],
            "error_phasor": dec["error_phasor"],
            "error_spiking": dec["error_spiking"],
        }
        if self._chunks % MAPS_EVERY == 1 or self._chunks == 1:
            out["maps"] = Images(self._acc.maps(self.realisation, self._shown, SMOOTH_BINS))
        if self._chunks % GRIDNESS_EVERY == 0 and self._acc.samples >= MIN_SAMPLES_FOR_GRIDNESS:
            acs, scores = [], []
            for m in self._acc.maps(self.realisation, self._shown, SMOOTH_BINS):
                ac = spatial_autocorrelogram(m)
                acs.append(ac)
                scores.append(gridness_score(ac).score)
            out["autocorrs"] = Images(acs, scores)
            self._gridness_text = "gridness " + ", ".join(f"{s:.2f}" for s in scores)
        self._state = state  # LiveLoop never overlaps chunks or resets
        out["readout"] = self._readout_text()
        return out

    def _readout_text(self) -> str:
        n = max(1, self._steps)
        parts = [f"walk t = {self._steps * float(self.model.dt_ms) / 1000:.1f} s"]
        for name in REALISATIONS:
            total, peak, last = self._err[name]
            parts.append(
                f"{name} error {100 * last:.1f} cm (mean {100 * total / n:.1f}, "
                f"max {100 * peak:.1f})"
            )
        if self._gridness_text:
            parts.append(f"{self.realisation} {self._gridness_text}")
        elif (missing := MIN_SAMPLES_FOR_GRIDNESS - self._acc.samples) > 0:
            walk_s = missing * float(self.model.dt_ms) / 1000
            parts.append(f"autocorrelograms after {walk_s:.0f} s more walk")
        return " · ".join(parts)

    # -- reactions -----------------------------------------------------------------------
    def _on_param(self, *_: Any) -> None:
        if self.live_change(self.model, self.loop, self.banner) != "update":
            return
        self._nav = self.model.build()
        if self._code_identity() != self._code_key:
            self._code_key = self._code_identity()
            self._reanchor = True  # applied by the next chunk (which owns the state)
            self._set_extents()
        self.loop.parameters_changed()

    def _on_realisation(self, *_: Any) -> None:
        maps = self._acc.maps(self.realisation, self._shown, SMOOTH_BINS)
        self.rate_maps.update(maps, self._map_titles())
        self._gridness_text = ""

    def _on_reset(self) -> None:
        try:
            self.model.validate()
            self._build()
        except ValueError as err:
            self.banner.show(str(err))
        self.loop.chunk_ms = self._chunk_ms
        self._set_extents()
        self._clear_plots()
        self.readout.object = ""

    def _on_error(self, message: str) -> None:
        self.banner.show(f"{message}. Adjust the parameters, then press Reset.")

    def _set_extents(self) -> None:
        arena = self.model.arena_m
        self.arena.set_arena(arena)
        self.rate_maps.set_extent(arena)
        half = (N_BINS - 0.5) * arena / N_BINS
        self.autocorrs.set_extent(half, lo=-half)

    def _clear_plots(self) -> None:
        for plot in (self.arena, self.rate_maps, self.autocorrs, self.errors):
            plot.reset()

    def _map_titles(self) -> list[str]:
        return [f"{self.realisation} {t}" for t in self._titles]

    # -- live plots ----------------------------------------------------------------------
    def _push(self, chunks: list[dict[str, Any]]) -> None:
        if chunks[-1]["epoch"] != self._pushed_epoch:
            self._pushed_epoch = chunks[-1]["epoch"]
            self._clear_plots()
            chunks = [c for c in chunks if c["epoch"] == self._pushed_epoch]

        def cat(key: str) -> np.ndarray:
            return np.concatenate([c[key] for c in chunks])

        self.arena.push(cat("xy"), cat("decoded_phasor"), cat("decoded_spiking"))
        self.errors.push(cat("t_s"), cat("error_phasor"), cat("error_spiking"))
        with_maps = [c for c in chunks if "maps" in c]
        if with_maps:
            self.rate_maps.update(with_maps[-1]["maps"].images, self._map_titles())
        with_ac = [c for c in chunks if "autocorrs" in c]
        if with_ac:
            last = with_ac[-1]["autocorrs"]
            self.autocorrs.update(last.images, [f"gridness {s:.2f}" for s in last.scores])
        self.readout.object = chunks[-1]["readout"]

    # -- layout --------------------------------------------------------------------------
    def __panel__(self) -> pn.viewable.Viewable:
        throttled = {k: {"throttled": True} for k in GridCellsModel.STRUCTURE}
        controls = pn.Param(
            self, parameters=["realisation"], show_name=False, sizing_mode="stretch_width"
        )
        model = pn.Param(
            self.model, show_name=False, sizing_mode="stretch_width", widgets=throttled
        )
        sidebar = [RunControls(self.loop, layout="column"), controls, model]
        maps = pn.Column(
            "**Rate maps** (grey: not visited yet)",
            pn.Row(*[pn.pane.Bokeh(f) for f in self.rate_maps.figures]),
            f"**Spatial autocorrelograms** (from {MIN_SAMPLES_FOR_GRIDNESS:,} walk steps on, "
            "then every few seconds)",
            pn.Row(*[pn.pane.Bokeh(f) for f in self.autocorrs.figures]),
        )
        main = [
            self.banner,
            self.readout,
            pn.Row(pn.pane.Bokeh(self.arena.figure), maps, sizing_mode="stretch_width"),
            pn.pane.Bokeh(self.errors.figure, sizing_mode="stretch_width"),
            ReproduceSection(self, self.banner),
        ]
        return page_layout(self, EXPLANATION, sidebar, main)

    # -- reproduce -----------------------------------------------------------------------
    def _measure(self, quick: bool, progress: Progress) -> tuple[dict, dict]:
        metrics: dict[str, Any] = {}
        figures: dict[str, Any] = {}
        n_walk = 1000 if quick else 2000
        seeds = (1, 2, 3) if quick else (1, 2, 3, 4, 5, 6)
        # 1. path integration, no landmarks: noise-free, then phase noise with/without cleanup
        conditions = {
            "clean": {"phase_noise": 0.0, "cleanup": False},
            "noisy_cleanup": {"phase_noise": NOISY_PHASE, "cleanup": True},
            "noisy_raw": {"phase_noise": NOISY_PHASE, "cleanup": False},
        }
        curves: dict[str, np.ndarray] = {}
        for ci, (cond, values) in enumerate(conditions.items()):
            progress(0.05 + 0.25 * ci / len(conditions), f"path integration: {cond}")
            worst = {name: [] for name in REALISATIONS}
            means = {name: [] for name in REALISATIONS}
            for seed in seeds:
                model = GridCellsModel(**values)
                rec, dec = run_walk(model, n_walk, walk_seed=seed)
                for name in REALISATIONS:
                    e = dec[f"error_{name}"]
                    worst[name].append(float(e.max()))
                    means[name].append(float(e.mean()))
                    if seed == seeds[0] and cond != "noisy_raw":
                        label = {
                            "clean": "no noise",
                            "noisy_cleanup": f"phase noise {NOISY_PHASE} + cleanup",
                        }[cond]
                        curves[f"{name}, {label}"] = e
                if cond == "clean" and seed == seeds[0]:
                    figures["path"] = trajectory_overlay(
                        rec["xy"],
                        {"phasor": dec["decoded_phasor"], "spiking": dec["decoded_spiking"]},
                        model.arena_m,
                        title=f"Decoded paths, {n_walk} steps, no landmarks",
                    )
            for name in REALISATIONS:
                metrics[f"{cond}_max_error_{name}_cm"] = 100 * max(worst[name])
                metrics[f"{cond}_mean_error_{name}_cm"] = 100 * float(np.mean(means[name]))
        metrics["pi_max_error_phasor_cm"] = metrics["clean_max_error_phasor_cm"]
        metrics["pi_max_error_spiking_cm"] = metrics["clean_max_error_spiking_cm"]
        metrics["noisy_max_error_cleanup_cm"] = max(
            metrics["noisy_cleanup_max_error_phasor_cm"],
            metrics["noisy_cleanup_max_error_spiking_cm"],
        )
        t_s = np.arange(1, n_walk + 1) * GridCellsModel().dt_ms * 1e-3
        figures["errors"] = error_curves(
            t_s,
            curves,
            bound_m=BOUND_M,
            title="Decoding error without landmarks (seed 1)",
        )
        # 2. rate maps and gridness
        progress(0.35, "rate maps: long walk")
        map_model = GridCellsModel(cells_per_module=4 if quick else 8, mean_speed=0.4)
        n_map = 12_000 if quick else 40_000
        n_bins = N_BINS if quick else 40
        rec, _ = run_walk(
            map_model,
            n_map,
            walk_seed=11,
            decode=False,
            progress=lambda f: progress(0.35 + 0.4 * f, "rate maps: long walk"),
        )
        dt_s = map_model.dt_ms * 1e-3
        signals = {"phasor": rec["rates"], "spiking": rec["cell_spikes"] / dt_s}
        progress(0.8, "autocorrelograms and gridness")
        per = map_model.cells_per_module
        for name, values in signals.items():
            maps, occ = rate_map(
                rec["xy"],
                values,
                box=((0, map_model.arena_m),) * 2,
                n_bins=n_bins,
                smooth_bins=SMOOTH_BINS,
            )
            acs = [spatial_autocorrelogram(m) for m in maps]
            scores = np.array([gridness_score(a).score for a in acs])
            medians = np.nanmedian(scores.reshape(map_model.n_modules, per), axis=1)
            labels = [module_label(map_model, m) for m in range(map_model.n_modules)]
            metrics[f"gridness_medians_{name}"] = dict(
                zip(labels, medians.round(3).tolist(), strict=True)
            )
            metrics[f"gridness_{name}"] = float(np.nanmin(medians))
            shown = shown_cells(map_model)
            figures[f"rate_maps_{name}"] = rate_maps_figure(
                [maps[c] for c in shown],
                [acs[c] for c in shown],
                [f"{name}: {labels[c // per]}" for c in shown],
                [scores[c] for c in shown],
                map_model.arena_m,
            )
            figures[f"gridness_{name}"] = gridness_bars(
                dict(zip(labels, medians.tolist(), strict=True)),
                threshold=GRIDNESS_MIN,
                title=f"Median gridness per module ({name} cells, {per} cells each)",
            )
        metrics["map_walk_steps"] = n_map
        metrics["map_unvisited_fraction"] = float(np.mean(occ == 0))
        return metrics, figures

    def _judge(self, claim: Claim, metrics: dict) -> ClaimResult:
        value = float(metrics[claim.key])
        if claim.key.startswith("gridness"):
            name = claim.key.split("_")[1]
            detail = ", ".join(
                f"{k}: {v:.2f}" for k, v in metrics[f"gridness_medians_{name}"].items()
            )
            return ClaimResult(
                claim, value, bool(np.isfinite(value) and value > GRIDNESS_MIN), detail
            )
        if claim.key == "noisy_max_error_cleanup_cm":
            detail = (
                "without cleanup: mean error phasor "
                f"{metrics['noisy_raw_mean_error_phasor_cm']:.1f} cm, spiking "
                f"{metrics['noisy_raw_mean_error_spiking_cm']:.1f} cm; with cleanup: mean "
                f"{metrics['noisy_cleanup_mean_error_phasor_cm']:.2f} / "
                f"{metrics['noisy_cleanup_mean_error_spiking_cm']:.2f} cm"
            )
        else:
            name = claim.key.split("_")[3]
            detail = f"mean {metrics[f'clean_mean_error_{name}_cm']:.2f} cm"
        return ClaimResult(claim, value, bool(np.isfinite(value) and value < 100 * BOUND_M), detail)


def run_walk(
    model: GridCellsModel,
    n_steps: int,
    *,
    walk_seed: int = 0,
    decode: bool = True,
    progress: Any = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """:func:`~snnviz.core.vsa.gridcells.run_navigator` for a model, from the arena's centre."""
    return run_navigator(
        model.build(), n_steps, key=jax.random.key(walk_seed), decode=decode, progress=progress
    )
