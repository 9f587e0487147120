r"""Evolution strategy for the path-integration circuit: OpenAI-ES with antithetic sampling.

Natural-evolution-strategy gradient (Salimans et al. 2017) of the expected fitness under
a Gaussian search distribution :math:`N(\mu, \sigma^2 I)`, from ``popsize/2`` antithetic
pairs :math:`\mu \pm \sigma\epsilon_i` and centred fitness *ranks* :math:`\hat F` (in
[-0.5, 0.5]):

.. math::

    \hat g = \frac{1}{P\sigma} \sum_{i=1}^{P/2} (\hat F_i^+ - \hat F_i^-)\,\epsilon_i

The mean follows :math:`\hat g` uphill through Adam. ``sigma`` may differ per gene (a
vector), and so may the step: Adam's normalised step is scaled by ``learning_rate * sigma_k /
max(sigma)`` per gene, so a gene group searched with a small ``sigma`` also moves in small steps
(noise-driven drift of many weakly informative genes stays small).

The ES is generic (:class:`OpenES` on a vector); :func:`apply_genes` maps a vector onto named
circuit parameters and :func:`evaluate_population` flies every candidate on the same fresh
random routes in one ``jax.vmap``, so a live page can run one generation per call.

**Per-neuron genes** (spiking circuits only) counter fixed-pattern mismatch the way on-chip
calibration or in-the-loop evolution does on BrainScaleS-2: ``<pop>_offset`` genes (one per
neuron of TB1, TN2, CPU4 or CPU1) add :math:`\delta_i` (input units of the rate cell, i.e. the
cell's bias becomes :math:`b - \delta_i`) through the neuron's current offset
:math:`I_{0,i} \leftarrow I_{0,i} + I_{1,i}\,\delta_i`; ``tn2_gain`` genes scale the speed
neurons' input gain by :math:`e^{g_i}` (left/right integration balance).
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from .circuit import AbstractCircuit
from .journey import JourneySummary, random_routes, run_population
from .spiking import CPU1, CPU4, TB1, TN2


class ESState(eqx.Module):
    """Search distribution mean (d,), optimiser state and generation counter."""

    mean: Float[Array, " d"]
    opt_state: PyTree
    generation: Array


class OpenES(eqx.Module):
    """OpenAI-ES with antithetic sampling and centred ranks (``popsize`` even, static).

    ``sigma``: search spread, a scalar or one value per gene (d,); ``learning_rate``: Adam's
    step for the gene(s) with the largest ``sigma`` (the others scale with their ``sigma``);
    ``lr_decay``: the step shrinks by this factor every generation (1 = constant), so the mean
    settles instead of jittering around the optimum by a full step.
    """

    popsize: int = eqx.field(static=True)
    sigma: Float[Array, "*d"]
    step_scale: Float[Array, "*d"]
    lr_decay: Float[Array, ""]
    optimiser: optax.GradientTransformation = eqx.field(static=True)

    def __init__(
        self,
        popsize: int,
        sigma: float | Array = 0.1,
        learning_rate: float = 0.05,
        lr_decay: float = 1.0,
    ) -> None:
        if popsize < 2 or popsize % 2:
            raise ValueError(f"OpenES: popsize must be an even number >= 2, got {popsize}")
        sigma = np.asarray(sigma, np.float32)
        if sigma.ndim > 1 or not np.all(sigma > 0):
            raise ValueError(
                f"OpenES: sigma must be a number or a vector of numbers > 0, got {sigma.tolist()}"
            )
        if not learning_rate > 0:
            raise ValueError(f"OpenES: learning_rate must be > 0, got {learning_rate}")
        if not 0 < lr_decay <= 1:
            raise ValueError(f"OpenES: lr_decay must be in (0, 1], got {lr_decay}")
        self.popsize = popsize
        self.sigma = jnp.asarray(sigma)
        self.step_scale = jnp.asarray(learning_rate * sigma / sigma.max())
        self.lr_decay = jnp.asarray(lr_decay, jnp.float32)
        self.optimiser = optax.scale_by_adam()

    def init(self, mean: Array) -> ESState:
        """Start the search at ``mean`` (d,)."""
        mean = jnp.asarray(mean, jnp.float32)
        if self.sigma.ndim == 1 and self.sigma.shape != mean.shape:
            raise ValueError(
                f"OpenES: sigma has {self.sigma.shape[0]} values but the mean {mean.shape[0]} genes"
            )
        return ESState(mean=mean, opt_state=self.optimiser.init(mean), generation=jnp.int32(0))

    def ask(self, state: ESState, *, key: PRNGKeyArray) -> tuple[Array, Array]:
        """``(candidates (P, d), eps (P/2, d))``: the antithetic pairs ``mean +- sigma eps``."""
        eps = jax.random.normal(key, (self.popsize // 2, state.mean.shape[0]))
        step = (self.sigma if self.sigma.ndim == 0 else self.sigma[None]) * eps
        candidates = jnp.concatenate([state.mean[None] + step, state.mean[None] - step])
        return candidates, eps

    def tell(self, state: ESState, eps: Array, fitness: Array) -> ESState:
        """Update the mean from the candidates' ``fitness`` (P,), higher is better."""
        ranks = jnp.argsort(jnp.argsort(fitness)).astype(jnp.float32)
        centred = ranks / (self.popsize - 1) - 0.5
        half = self.popsize // 2
        grad = ((centred[:half] - centred[half:]) @ eps) / (self.popsize * self.sigma)
        direction, opt_state = self.optimiser.update(grad, state.opt_state, state.mean)
        return ESState(
            mean=state.mean + self.step_scale * self.lr_decay**state.generation * direction,
            opt_state=opt_state,
            generation=state.generation + 1,
        )


def es_step(
    es: OpenES,
    state: ESState,
    fitness_fn: Callable[[Array, PRNGKeyArray], Array],
    *,
    key: PRNGKeyArray,
) -> tuple[ESState, Array, Array]:
    """One generation: ask, evaluate ``fitness_fn(candidates, key) -> (P,)``, tell.
    Returns ``(state, candidates, fitness)``."""
    k_ask, k_eval = jax.random.split(key)
    candidates, eps = es.ask(state, key=k_ask)
    fitness = fitness_fn(candidates, k_eval)
    return es.tell(state, eps, fitness), candidates, fitness


# --- the circuit's genes -----------------------------------------------------------------

GENES: tuple[str, ...] = ("memory_gain", "turn_gain", "cpu1_bias", "cpu4_bias")
_LOG_GENES = frozenset({"memory_gain", "turn_gain"})
# per-neuron genes of the spiking circuits: name -> (neuron slice, kind)
_NEURON_GENES: dict[str, tuple[slice, str]] = {
    "tb1_offset": (TB1, "offset"),
    "tn2_offset": (TN2, "offset"),
    "tn2_gain": (TN2, "gain"),
    "cpu4_offset": (CPU4, "offset"),
    "cpu1_offset": (CPU1, "offset"),
}
NEURON_GENES: tuple[str, ...] = (
    "tb1_offset",
    "tn2_offset",
    "tn2_gain",
    "cpu4_offset",
    "cpu1_offset",
)


def gene_size(name: str) -> int:
    """Number of genes ``name`` stands for (1 for a global parameter, else its neurons)."""
    if name in _NEURON_GENES:
        sl = _NEURON_GENES[name][0]
        return sl.stop - sl.start
    return 1


def gene_slices(names: tuple[str, ...]) -> dict[str, slice]:
    """Where each named gene (group) sits in the gene vector."""
    out, start = {}, 0
    for n in names:
        out[n] = slice(start, start + gene_size(n))
        start += gene_size(n)
    return out


def n_genes(names: tuple[str, ...]) -> int:
    """Length of the gene vector of ``names``."""
    return sum(gene_size(n) for n in names)


def _check_neuron_genes(circuit: AbstractCircuit, names: tuple[str, ...]) -> None:
    per_neuron = [n for n in names if n in _NEURON_GENES]
    if per_neuron and not hasattr(circuit, "current_offset"):
        raise ValueError(
            f"per-neuron genes {per_neuron} need a spiking circuit (current_offset/current_gain), "
            f"got {type(circuit).__name__}"
        )


def genes_of(circuit: AbstractCircuit, names: tuple[str, ...] = GENES) -> Array:
    """The gene vector of a circuit: log of gains, raw biases/proportions; per-neuron genes
    are 0 (no correction, the circuit as built)."""
    _check_neuron_genes(circuit, names)
    vals = []
    for n in names:
        if n in _NEURON_GENES:
            vals.append(jnp.zeros(gene_size(n), jnp.float32))
        elif n in _LOG_GENES:
            vals.append(jnp.log(jnp.asarray(getattr(circuit, n), jnp.float32))[None])
        else:
            vals.append(jnp.asarray(getattr(circuit, n), jnp.float32)[None])
    return jnp.concatenate(vals)


def apply_genes(
    circuit: AbstractCircuit, genes: Array, names: tuple[str, ...] = GENES
) -> AbstractCircuit:
    """A copy of ``circuit`` with the named parameters set from ``genes`` (inverse of
    :func:`genes_of`; the CL1 proportion is clipped to [0, 1]). Per-neuron genes correct the
    circuit *as built* (see the module docstring)."""
    _check_neuron_genes(circuit, names)
    if genes.shape[-1] != n_genes(names):
        raise ValueError(
            f"apply_genes: {n_genes(names)} genes expected for {names}, got {genes.shape[-1]}"
        )
    where = gene_slices(names)
    scalars, values = [], []
    for n in names:
        if n in _NEURON_GENES:
            continue
        g = genes[where[n].start]
        if n in _LOG_GENES:
            g = jnp.exp(g)
        elif n == "cl1_proportion":
            g = jnp.clip(g, 0.0, 1.0)
        scalars.append(n)
        values.append(g)
    if scalars:
        circuit = eqx.tree_at(lambda c: [getattr(c, n) for n in scalars], circuit, values)
    per_neuron = [n for n in names if n in _NEURON_GENES]
    if per_neuron:
        offset = jnp.asarray(circuit.current_offset, jnp.float32)
        gain = jnp.asarray(circuit.current_gain, jnp.float32)
        new_offset, new_gain = offset, gain
        for n in per_neuron:
            sl, kind = _NEURON_GENES[n]
            g = genes[where[n]]
            if kind == "offset":
                new_offset = new_offset.at[sl].add(gain[sl] * g)
            else:
                new_gain = new_gain.at[sl].multiply(jnp.exp(g))
        circuit = eqx.tree_at(
            lambda c: (c.current_offset, c.current_gain), circuit, (new_offset, new_gain)
        )
    return circuit


def closest_approach_fitness(closest_ratio: Array) -> Array:
    """Fitness of journeys from their closest-approach ratios (higher is better): minus the
    mean ratio, each capped at 1.5 so one lost bee cannot dominate. Reduces the last axis."""
    return -jnp.mean(jnp.minimum(closest_ratio, 1.5), axis=-1)


def homing_fitness(summary: JourneySummary) -> Array:
    """:func:`closest_approach_fitness` of journey summaries (reduces the routes axis)."""
    return closest_approach_fitness(summary.closest_ratio)


@eqx.filter_jit
def evaluate_population(
    circuit: AbstractCircuit,
    candidates: Array,
    key: PRNGKeyArray,
    n_routes: int,
    n_outbound: int,
    n_inbound: int,
    names: tuple[str, ...] = GENES,
) -> JourneySummary:
    """Every candidate gene vector (P, d) flies the same ``n_routes`` fresh random routes
    (``n_outbound`` + ``n_inbound`` steps) with the same noise (common random numbers, so
    fitness differences reflect the genes): summaries of shape (P, n_routes)."""
    k_routes, k_fly = jax.random.split(key)
    routes = random_routes(k_routes, n_routes, n_outbound)
    circuits = jax.vmap(lambda g: apply_genes(circuit, g, names))(candidates)
    # common random numbers: every candidate sees the same routes *and* the same noise
    keys = jnp.broadcast_to(k_fly, (candidates.shape[0], *k_fly.shape))
    return run_population(circuits, routes, keys, n_inbound)
