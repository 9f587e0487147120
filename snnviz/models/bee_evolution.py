"""The evolution strategy's set-up for the bee circuit: which genes, where they start, how
widely they are searched, and the fitness of a population of gene vectors.

The genes (:mod:`snnviz.core.navigation.evolution`): four global ones (log memory gain, log
turn gain, CPU1 and CPU4 biases) and, for the spiking circuits, 44 per-neuron corrections.
The search starts from :data:`POOR_START`, a deliberately poor circuit (memory gain 0.0015,
turn gain 0.3, biases 4.5 / 3.5 vs Stone et al.'s 0.005, 1, 2.5, 2.5) that homes almost never.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import PRNGKeyArray

from snnviz.core.navigation.circuit import AbstractCircuit
from snnviz.core.navigation.evolution import (
    GENES,
    NEURON_GENES,
    evaluate_population,
    homing_fitness,
    n_genes,
)

POOR_START = (
    float(np.log(0.0015)),
    float(np.log(0.3)),
    4.5,
    3.5,
)  # memory gain, turn gain, CPU1/CPU4 bias
# search spread: log-gains, biases (sigmoid input units), per-neuron corrections; Adam's step
# is ES_LEARNING_RATE for the widest group (the biases) and scales with sigma for the others
ES_GAIN_SIGMA, ES_BIAS_SIGMA, ES_NEURON_SIGMA = 0.2, 0.5, 0.05
ES_LEARNING_RATE = 0.375


def es_genes(circuit_kind: str, per_neuron: bool = False) -> tuple[str, ...]:
    """The genes the ES evolves: the four global ones, plus (``per_neuron``, spiking circuits
    only) per-neuron input offsets of TB1, TN2, CPU4 and CPU1 and the TN2 gains
    (``circuit_kind`` is :attr:`BeeModel.circuit`). The live page and quick reproduction evolve
    the global genes: with 8 candidates x 4 routes a generation, the 44 per-neuron genes
    drowned the global genes' signal; the full reproduction adds them in a second phase (see
    :mod:`snnviz.pages._bee_reproduce`)."""
    if per_neuron and circuit_kind != "rate":
        return GENES + NEURON_GENES
    return GENES


def es_start(names: tuple[str, ...]) -> np.ndarray:
    """The ES's poor start: :data:`POOR_START` globals, per-neuron genes 0 (uncorrected)."""
    start = np.zeros(n_genes(names), np.float32)
    start[: len(GENES)] = POOR_START
    return start


def es_sigma(names: tuple[str, ...]) -> np.ndarray:
    """Search spread per gene: ``ES_GAIN_SIGMA`` for the log-gains, ``ES_BIAS_SIGMA`` for the
    biases, ``ES_NEURON_SIGMA`` for the per-neuron genes (their steps scale alike, see
    :class:`OpenES`). A bias must travel ~2 units from the poor start, a log-gain ~1."""
    sigma = np.full(n_genes(names), ES_NEURON_SIGMA, np.float32)
    for i, name in enumerate(GENES):
        sigma[i] = ES_GAIN_SIGMA if name.endswith("_gain") else ES_BIAS_SIGMA
    return sigma


def fly_candidates(
    circuit: AbstractCircuit,
    key: PRNGKeyArray,
    n_routes: int,
    n_steps: int,
    candidates: np.ndarray,
    names: tuple[str, ...] = GENES,
    n_inbound: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """ES fitness and homed fraction of each candidate gene vector (P, d) of ``names``, flying
    ``n_routes`` common random routes of ``n_steps`` out + ``n_inbound`` (default ``n_steps``)
    home; a Dask task when fanned out (each row depends only on its genes, so a split
    population gives the same numbers)."""
    n_in = n_steps if n_inbound is None else n_inbound
    summary = evaluate_population(
        circuit, jnp.asarray(candidates), key, n_routes, n_steps, n_in, names
    )
    return np.asarray(homing_fitness(summary)), np.asarray(summary.homed).mean(axis=-1)
