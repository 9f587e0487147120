"""Headless reproduction of the bee page (:meth:`BeePathIntegrationPage.reproduce`): the
measurements behind each claim, their figures, and the rules that judge them.

The ES claims (:func:`_evolve`): phase 1 evolves the four global genes (memory gain, turn
gain, CPU1 and CPU4 biases) from a deliberately poor start; in full mode phase 2 starts from
phase 1's mean and also evolves the 44 per-neuron genes (20 generations, 16 candidates x 8
routes), the way the paper's CMA-ES tunes hardware parameters against fixed-pattern mismatch.
Biases are searched with a wider spread (0.5, sigmoid input units) than log-gains (0.2).

Measured on the emulated chip (5 % mismatch; held-out 1,500 + 1,500-step routes, never used for
fitness; a homing fraction of 128 routes has a standard error of ~0.035):

- Stone et al.'s hand-wired values home 0.75 of 256 routes. Of 31 global-gene settings scanned,
  the best homes 0.84 of 128 (memory gain 0.007, turn gain 0.7, CPU4 bias 3.25), most 0.72-0.80.
- One spread of 0.2 for all four genes (before): the biases hardly left the start in 40
  generations (CPU1 bias 4.5 -> 4.0) and the evolved circuit homed 0.73-0.75 of 64 routes, below
  the hand-wired 0.78 on the same routes.
- Phase 1 alone, seven 40-generation runs (four seeds with this fitness, two with a
  homing-success term added, and the page's own run): 0.77-0.83 of 128 routes.
- Phase 2 after five phase-1 results: +0.10 (0.77 -> 0.87), +0.04 (0.80 -> 0.84, the page's
  seed 5), +0.02 (0.77 -> 0.79, seed 11), -0.10 (0.77 -> 0.67) and -0.25 (0.80 -> 0.55, seed 23).
  Not a reliable gain at this budget: the per-neuron genes drift (RMS ~0.35 after 20 generations)
  and can undo what phase 1 found. In quick mode (8 candidates x 4 routes) they drowned the
  global genes' signal altogether (fitness -0.95 -> -0.94 in 10 generations vs -0.95 -> -0.59),
  so quick mode and the live page evolve the global genes unless "evolve per-neuron offsets" is
  ticked.

The full-mode claim (>= 0.8) is therefore not robustly reproduced: the page's seed passes (0.84,
the full reproduction took 26 min on 2 busy cores), seeds 11 and 23 end at 0.79 and 0.55. A
next step would keep phase 2's genes only when they beat phase 1's on validation routes.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from snnviz.core.navigation import (
    HOMING_THRESHOLD,
    RateCX,
    advance_journey,
    init_journey,
    random_routes,
    run_journeys,
    run_population,
    stack_circuits,
)
from snnviz.core.navigation.bss2 import SPEEDUP, emulated_bss2_cx
from snnviz.core.navigation.evolution import (
    GENES,
    OpenES,
    closest_approach_fitness,
    evaluate_population,
    genes_of,
    n_genes,
)
from snnviz.core.navigation.spiking import spiking_cx
from snnviz.distributed import BatchFanOut
from snnviz.models.bee import CHUNK_STEPS
from snnviz.models.bee_evolution import (
    ES_LEARNING_RATE,
    es_genes,
    es_sigma,
    es_start,
    fly_candidates,
)
from snnviz.views.bee import closest_approach_cdf, degradation_curves, es_curve, journey_paths

from ._base import Progress
from ._result import Claim, ClaimResult

# full reproduction, phase 2: per-neuron genes (step ES_CALIBRATION_LEARNING_RATE) on top of the
# evolved global genes (which keep moving in smaller steps)
ES_CALIBRATION_GLOBAL_SIGMA, ES_CALIBRATION_NEURON_SIGMA = 0.05, 0.1
ES_CALIBRATION_LEARNING_RATE, ES_CALIBRATION_GENERATIONS = 0.1, 20
PAPER_JOURNEYS_PER_S = 4800 / 1800.0  # Schreiber et al.: 4,800 journeys in ~30 min on one chip
MISMATCH_LEVELS = (0.0, 0.05, 0.1, 0.2)
BIT_LEVELS = (3.0,)


def _example_paths(circuit: Any, routes: Any, n_in: int, n_paths: int) -> list[np.ndarray]:
    paths = []
    for i in range(n_paths):
        route = jax.tree.map(lambda x, i=i: x[i], routes)
        state = init_journey(circuit, route, n_in, key=jax.random.key(100 + i))
        n_total = route.rotation.shape[0] + n_in
        xy = []
        for _ in range(n_total // CHUNK_STEPS):
            state, rec = advance_journey(circuit, state, CHUNK_STEPS)
            xy.append(np.asarray(rec.position))
        paths.append(np.concatenate(xy))
    return paths


def measure(
    quick: bool, progress: Progress, fan_out: BatchFanOut | None = None
) -> tuple[dict, dict]:
    """The reproduction (see the claims): rate, spiking and emulated homing, degradation curves,
    the ES from a poor start and throughput. Deterministic (seeded)."""
    metrics: dict[str, Any] = {"quick": quick}
    figures: dict[str, Any] = {}
    n_out = n_in = 1500
    n_sub = 10 if quick else 20
    n_spk = 16 if quick else 100
    metrics["neuron_steps_per_agent_step"] = n_sub
    metrics["spiking_routes"] = n_spk

    progress(0.02, "rate circuit: 100 routes")
    routes = random_routes(jax.random.key(0), 100, n_out)
    keys = jax.random.split(jax.random.key(1), 100)
    rate = run_journeys(RateCX(), routes, keys, n_in)
    metrics["rate_homed"] = float(rate.homed.mean())
    metrics["rate_median_closest"] = float(jnp.median(rate.closest_ratio))
    metrics["rate_median_angle_error_deg"] = float(np.degrees(jnp.median(rate.decoded_angle_error)))
    metrics["rate_median_search_ratio"] = float(jnp.median(rate.search_ratio))
    frozen = run_journeys(RateCX(memory_gain=0.0), routes, keys, n_in)
    metrics["frozen_median_closest"] = float(jnp.median(frozen.closest_ratio))
    leaky = run_journeys(RateCX(memory_leak=1.0 / 50.0), routes, keys, n_in)
    metrics["leak50_homed"] = float(leaky.homed.mean())
    figures["paths"] = journey_paths(
        _example_paths(RateCX(), routes, n_in, 4), n_out, title="Rate circuit: four journeys"
    )

    progress(0.15, f"spiking circuit: {n_spk} routes")
    sub_routes = jax.tree.map(lambda x: x[:n_spk], routes)
    spk = run_journeys(spiking_cx(n_substeps=n_sub), sub_routes, keys[:n_spk], n_in)
    metrics["spiking_homed"] = float(spk.homed.mean())
    metrics["spiking_median_closest"] = float(jnp.median(spk.closest_ratio))
    metrics["rate_homed_same_routes"] = float(rate.homed[:n_spk].mean())

    progress(
        0.3, f"emulated BSS-2: {len(MISMATCH_LEVELS) + len(BIT_LEVELS)} chips x {n_spk} routes"
    )
    variants = [(m, 6.0) for m in MISMATCH_LEVELS] + [(0.05, b) for b in BIT_LEVELS]
    chips = stack_circuits(
        [emulated_bss2_cx(mismatch=m, weight_bits=b, n_substeps=n_sub) for m, b in variants]
    )
    emu = run_population(
        chips, sub_routes, jax.random.split(jax.random.key(2), len(variants)), n_in
    )
    homed = np.asarray(emu.homed.mean(axis=1))
    homed_m = [float(h) for h in homed[: len(MISMATCH_LEVELS)]]
    homed_b = [float(h) for h in homed[len(MISMATCH_LEVELS) :]] + [homed_m[1]]
    metrics["emulated_homed"] = homed_m[1]
    metrics["emulated_median_closest"] = float(np.median(np.asarray(emu.closest_ratio[1])))
    metrics["degradation"] = homed_m
    metrics["homed_vs_bits"] = dict(zip([*BIT_LEVELS, 6.0], homed_b, strict=True))
    metrics["emulated_journeys"] = len(variants) * n_spk
    metrics["hardware_s_per_journey_20ms_steps"] = (n_out + n_in) * 20.0 / 1000.0 / SPEEDUP
    figures["homing"] = closest_approach_cdf(
        {
            "rate": np.asarray(rate.closest_ratio),
            "spiking": np.asarray(spk.closest_ratio),
            "emulated BSS-2": np.asarray(emu.closest_ratio[1]),
        }
    )
    figures["degradation"] = degradation_curves(
        MISMATCH_LEVELS, homed_m, [*BIT_LEVELS, 6.0], homed_b
    )

    metrics.update(_evolve(quick, n_sub, progress, figures, fan_out or BatchFanOut()))
    return metrics, figures


@dataclasses.dataclass
class _ESPhase:
    """One ES phase of the reproduction: which genes, from where, with what budget."""

    names: tuple[str, ...]
    start: np.ndarray
    sigma: np.ndarray
    learning_rate: float
    popsize: int
    n_routes: int
    generations: int
    lr_decay: float = 1.0


def _run_es_phase(
    phase: _ESPhase,
    circuit: Any,
    key: Any,
    n_out: int,
    n_in: int,
    fan_out: BatchFanOut,
    report: Callable[[int], None],
) -> tuple[np.ndarray, dict[str, list[float]]]:
    """Run ``phase``; returns the final mean genes and per-generation best/mean fitness and
    wall seconds."""
    es = OpenES(
        phase.popsize,
        sigma=phase.sigma,
        learning_rate=phase.learning_rate,
        lr_decay=phase.lr_decay,
    )
    state = es.init(jnp.asarray(phase.start))
    log: dict[str, list[float]] = {"best": [], "mean": [], "seconds": []}
    for g in range(phase.generations):
        report(g)
        start = time.perf_counter()
        key, k_ask, k_eval = jax.random.split(key, 3)
        candidates, eps = es.ask(state, key=k_ask)
        fly = functools.partial(
            fly_candidates,
            circuit,
            k_eval,
            phase.n_routes,
            n_out,
            names=phase.names,
            n_inbound=n_in,
        )
        fitness, _homed = fan_out(fly, np.asarray(candidates))
        state = es.tell(state, eps, jnp.asarray(fitness))
        log["best"].append(float(fitness.max()))
        log["mean"].append(float(fitness.mean()))
        log["seconds"].append(time.perf_counter() - start)
    return np.asarray(state.mean), log


def _evolve(
    quick: bool,
    n_sub: int,
    progress: Progress,
    figures: dict,
    fan_out: BatchFanOut,
    seed: int = 5,
) -> dict[str, Any]:
    """The ES claims. Phase 1 evolves the four global genes from
    :data:`~snnviz.models.bee_evolution.POOR_START`; full mode adds phase 2, which starts from
    phase 1's mean and also evolves the 44 per-neuron genes (small steps, 8 routes a
    candidate): tuning against the chip's fixed-pattern mismatch, as the paper's CMA-ES on
    hardware parameters does (see the module docstring for what it gains). ``seed``: the
    ES's random numbers (the page's claims use 5)."""
    # training journeys: quick 250 + 250 steps; full 1,500 out (the test length: the memory gain
    # must suit it) + 1,000 home (the closest approach of a homing bee comes well before)
    if quick:
        popsize, n_routes, n_out, n_in, generations, test_steps = 8, 4, 250, 250, 10, 250
    else:
        popsize, n_routes, n_out, n_in, generations, test_steps = 16, 4, 1500, 1000, 40, 1500
    circuit = emulated_bss2_cx(n_substeps=n_sub)
    names = es_genes("emulated BSS-2")
    phases = [
        _ESPhase(
            names,
            es_start(names),
            es_sigma(names),
            ES_LEARNING_RATE,
            popsize,
            n_routes,
            generations,
            # full mode: the step shrinks 3x over the run, so the mean settles near the optimum
            lr_decay=1.0 if quick else (1.0 / 3.0) ** (1.0 / generations),
        )
    ]
    if not quick:
        all_names = es_genes("emulated BSS-2", per_neuron=True)
        sigma = np.full(n_genes(all_names), ES_CALIBRATION_NEURON_SIGMA, np.float32)
        sigma[: len(GENES)] = ES_CALIBRATION_GLOBAL_SIGMA
        phases.append(
            _ESPhase(
                all_names,
                np.zeros(n_genes(all_names), np.float32),  # globals filled in from phase 1
                sigma,
                ES_CALIBRATION_LEARNING_RATE,
                popsize,
                2 * n_routes,
                ES_CALIBRATION_GENERATIONS,
                lr_decay=(1.0 / 3.0) ** (1.0 / ES_CALIBRATION_GENERATIONS),
            )
        )
    total = sum(ph.generations for ph in phases)
    key = jax.random.key(seed)  # candidates and training routes; test routes are fixed
    logs, means, done = [], [], 0
    for i, phase in enumerate(phases):
        if i:
            phase.start[: len(GENES)] = means[-1][: len(GENES)]
        key, k_phase = jax.random.split(key)

        def report(g: int, done: int = done, what: str = ("global genes", "+ per-neuron")[i]):
            progress(
                0.5 + 0.45 * (done + g) / total,
                f"evolution strategy ({what}): generation {done + g + 1} / {total}",
            )

        mean_genes, log = _run_es_phase(phase, circuit, k_phase, n_out, n_in, fan_out, report)
        means.append(mean_genes)
        logs.append(log)
        done += phase.generations
    best = [v for log in logs for v in log["best"]]
    mean = [v for log in logs for v in log["mean"]]
    seconds = [v for log in logs for v in log["seconds"]]
    title = f"ES on the emulated chip ({popsize} x {n_routes} journeys / generation)"
    if len(phases) > 1:
        title = (
            f"ES on the emulated chip: global genes ({popsize} x {n_routes} journeys), then "
            f"+ per-neuron genes from generation {generations + 1} ({popsize} x {2 * n_routes})"
        )
    figures["evolution"] = es_curve(best, mean, title=title)

    # test on held-out routes (keys 900+, never used for fitness): start, evolved, hand-wired
    # (and, in full mode, phase 1's global genes alone). Quick mode reuses the compiled
    # population shape (padding the probe to popsize, 8 calls x n_routes routes): compiling a
    # new shape would cost more than the journeys; full mode flies the circuits on 2 x 64 routes
    # (a homing fraction's standard error ~0.035).
    test_names = phases[-1].names
    width = n_genes(test_names)

    def padded(genes: np.ndarray) -> np.ndarray:
        return np.concatenate([genes, np.zeros(width - len(genes), np.float32)])

    hand = np.asarray(genes_of(circuit, test_names))  # Stone et al.'s tuned values
    probe = [padded(phases[0].start), padded(means[-1]), hand, padded(means[0])]
    if quick:
        probe = jnp.asarray(np.stack(probe[:3] + [means[-1]] * (popsize - 3)))
        parts = [(probe, jax.random.key(900 + i), n_routes) for i in range(8)]
    else:
        parts = [(jnp.asarray(np.stack(probe)), jax.random.key(900 + i), 64) for i in range(2)]
    ratios = np.concatenate(
        [
            np.asarray(
                evaluate_population(
                    circuit, genes, k, n, test_steps, test_steps, test_names
                ).closest_ratio[:4]
            )
            for genes, k, n in parts
        ],
        axis=1,
    )
    fit = np.asarray(closest_approach_fitness(ratios))
    homed = np.mean(ratios <= HOMING_THRESHOLD, axis=1)
    n_journeys = sum(ph.generations * ph.popsize * ph.n_routes for ph in phases)
    steps = np.repeat(
        [ph.popsize * ph.n_routes * (n_out + n_in) for ph in phases],
        [ph.generations for ph in phases],
    )  # agent steps flown per generation
    slope = float(np.polyfit(np.arange(total), mean, 1)[0]) if total > 1 else 0.0
    genes = means[-1]
    # compiling generations (the first of each phase: a new gene set is a new program) excluded
    first = np.cumsum([0] + [ph.generations for ph in phases[:-1]])
    warm = np.ones(total, bool)
    warm[first] = False
    return {
        "es_gain": float(fit[1] - fit[0]),
        "es_fitness_start": float(fit[0]),
        "es_fitness_evolved": float(fit[1]),
        "es_fitness_hand_wired": float(fit[2]),
        "es_homed_start": float(homed[0]),
        "es_homing_success": float(homed[1]),
        "es_homed_hand_wired": float(homed[2]),
        # full mode: phase 1's global genes alone, before the per-neuron phase
        "es_homed_global_genes": float(homed[3]) if len(phases) > 1 else float(homed[1]),
        "es_mean_fitness_slope_per_generation": slope,
        "es_mean_fitness": mean,
        "es_generations": total,
        "es_global_generations": generations,
        "es_n_genes": len(genes),
        "es_evolved_globals": {
            "memory_gain": float(np.exp(genes[0])),
            "turn_gain": float(np.exp(genes[1])),
            "cpu1_bias": float(genes[2]),
            "cpu4_bias": float(genes[3]),
        },
        # RMS of the per-neuron corrections (0 when only the global genes evolve)
        "es_neuron_gene_rms": float(np.sqrt(np.mean(genes[len(GENES) :] ** 2)))
        if len(genes) > len(GENES)
        else 0.0,
        "es_journeys": n_journeys,
        "es_journey_steps": n_out + n_in,
        "es_test_journeys": int(ratios.shape[1]),
        "es_test_steps": 2 * test_steps,
        "es_wall_s": float(np.sum(seconds)),
        "es_journeys_per_s": n_journeys / float(np.sum(seconds)),
        # throughput of the non-compiling generations, in full-length (3,000-step) journeys
        "journeys_per_s": float(np.sum(np.asarray(steps)[warm]) / 3000.0)
        / float(np.sum(np.asarray(seconds)[warm]))
        if warm.any()
        else float("nan"),
        "es_emulated_hardware_s": float(np.sum(steps)) * circuit.step_ms / 1000.0 / SPEEDUP,
    }


def _judge_min(key: str, bound: float, detail_fn=None):
    def judge(c: Claim, m: dict) -> ClaimResult:
        value = float(m[key])
        detail = detail_fn(m) if detail_fn else ""
        return ClaimResult(c, value, bool(np.isfinite(value) and value >= bound), detail)

    return judge


def _judge_degradation(c: Claim, m: dict) -> ClaimResult:
    homed_m = [float(h) for h in m["degradation"]]
    bits = {float(k): float(v) for k, v in m["homed_vs_bits"].items()}
    slope = float(np.polyfit(MISMATCH_LEVELS, homed_m, 1)[0])
    no_cliff = homed_m[MISMATCH_LEVELS.index(0.05)] >= homed_m[0] - 0.15
    bits_ok = all(v >= bits[6.0] - 0.15 for k, v in bits.items() if k >= 3.0)
    detail = (
        "homing success vs mismatch σ "
        + ", ".join(f"{s:g}: {h:.2f}" for s, h in zip(MISMATCH_LEVELS, homed_m, strict=True))
        + f" (slope {slope:+.2f} per unit σ); vs weight bits "
        + ", ".join(f"{int(k)}: {bits[k]:.2f}" for k in sorted(bits))
        + f"; {m['spiking_routes']} routes per point"
    )
    passed = slope < 0 and no_cliff and bits_ok
    return ClaimResult(c, [round(h, 3) for h in homed_m], bool(passed), detail)


def _judge_es_gain(c: Claim, m: dict) -> ClaimResult:
    value = float(m["es_gain"])
    slope = float(m["es_mean_fitness_slope_per_generation"])
    detail = (
        f"{m['es_generations']} generations ({m['es_global_generations']} on the global genes, "
        f"then with {m['es_n_genes'] - len(GENES)} per-neuron genes), "
        if m["es_generations"] > m["es_global_generations"]
        else f"{m['es_generations']} generations, "
    ) + (
        f"{m['es_journeys']} journeys of {m['es_journey_steps']} steps "
        f"in {m['es_wall_s']:.1f} s wall-clock ({m['es_emulated_hardware_s']:.2f} s emulated hardware time); "
        f"fitness start {m['es_fitness_start']:.2f} -> evolved {m['es_fitness_evolved']:.2f} "
        f"(hand-wired {m['es_fitness_hand_wired']:.2f}) on {m['es_test_journeys']} held-out journeys; "
        f"mean-fitness slope {slope:+.3f} per generation"
    )
    return ClaimResult(c, value, bool(np.isfinite(value) and value >= 0.2 and slope > 0), detail)


def _judge_es_success(c: Claim, m: dict) -> ClaimResult:
    value = float(m["es_homing_success"])
    detail = (
        f"start {m['es_homed_start']:.2f}, evolved {value:.2f} (global genes alone "
        f"{m['es_homed_global_genes']:.2f}), hand-wired {m['es_homed_hand_wired']:.2f} "
        f"on the same {m['es_test_journeys']} held-out journeys of {m['es_test_steps']} steps"
    )
    if m["quick"]:
        return ClaimResult(
            c, value, False, detail + " (quick mode: short journeys, not judged)", skipped=True
        )
    return ClaimResult(c, value, value >= 0.8, detail)


JUDGES = {
    "rate_homed": _judge_min(
        "rate_homed",
        0.85,
        lambda m: (
            f"median closest approach {100 * m['rate_median_closest']:.1f} % (Stone et al.: 2.3 %), "
            f"median home-vector angle error at turnaround {m['rate_median_angle_error_deg']:.1f}°, "
            f"search phase mean distance {100 * m['rate_median_search_ratio']:.0f} % of turnaround distance; "
            f"with a memory leak of 1/50 per step {100 * m['leak50_homed']:.0f} % home"
        ),
    ),
    "frozen_median_closest": _judge_min("frozen_median_closest", 0.5),
    "spiking_homed": _judge_min(
        "spiking_homed",
        0.75,
        lambda m: (
            f"rate model on the same {m['spiking_routes']} routes: "
            f"{m['rate_homed_same_routes']:.2f}; spiking median closest approach "
            f"{100 * m['spiking_median_closest']:.1f} %; {m['neuron_steps_per_agent_step']} x 1 ms neuron steps per agent step"
        ),
    ),
    "emulated_homed": _judge_min(
        "emulated_homed",
        0.6,
        lambda m: (
            f"rate model on the same routes: {m['rate_homed_same_routes']:.2f}; emulated median "
            f"closest approach {100 * m['emulated_median_closest']:.1f} %"
        ),
    ),
    "degradation": _judge_degradation,
    "es_gain": _judge_es_gain,
    "es_homing_success": _judge_es_success,
    "journeys_per_s": _judge_min(
        "journeys_per_s",
        PAPER_JOURNEYS_PER_S,
        lambda m: (
            f"{m['es_generations'] - 1} ES generations timed after the compiling one "
            f"({m['neuron_steps_per_agent_step']} x 1 ms neuron steps per agent step); "
            f"ES journeys of {m['es_journey_steps']} steps incl. compile: "
            f"{m['es_journeys_per_s']:.1f}/s; the chip itself needs "
            f"{1e3 * m['hardware_s_per_journey_20ms_steps']:.0f} ms of hardware time per "
            "3,000-step journey at 20 ms per agent step"
        ),
    ),
}
