r"""Evolution strategy for the path-integration circuit: OpenAI-ES with antithetic sampling.

Natural-evolution-strategy gradient (Salimans et al. 2017) of the expected fitness under
a Gaussian search distribution :math:`N(\mu, \sigma^2 I)`, from ``popsize/2`` antithetic
pairs :math:`\mu \pm \sigma\epsilon_i` and centred fitness *ranks* :math:`\hat F` (in
[-0.5, 0.5]):

.. math::

    \hat g = \frac{1}{P\sigma} \sum_{i=1}^{P/2} (\hat F_i^+ - \hat F_i^-)\,\epsilon_i

The mean follows :math:`\hat g` uphill through an optax optimiser (Adam by default).
The ES is generic (:class:`OpenES` on a vector); :func:`apply_genes` maps a vector onto named
circuit parameters and :func:`evaluate_population` flies every candidate on the same fresh
random routes in one ``jax.vmap``, so a live page can run one generation per call.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from .circuit import AbstractCircuit
from .journey import JourneySummary, random_routes, run_population


class ESState(eqx.Module):
    """Search distribution mean (d,), optimiser state and generation counter."""

    mean: Float[Array, " d"]
    opt_state: PyTree
    generation: Array


class OpenES(eqx.Module):
    """OpenAI-ES with antithetic sampling and centred ranks (``popsize`` even, static)."""

    popsize: int = eqx.field(static=True)
    sigma: Float[Array, ""]
    optimiser: optax.GradientTransformation = eqx.field(static=True)

    def __init__(self, popsize: int, sigma: float = 0.1, learning_rate: float = 0.05):
        if popsize < 2 or popsize % 2:
            raise ValueError(f"OpenES: popsize must be an even number >= 2, got {popsize}")
        if not sigma > 0:
            raise ValueError(f"OpenES: sigma must be > 0, got {sigma}")
        self.popsize = popsize
        self.sigma = jnp.asarray(sigma, jnp.float32)
        self.optimiser = optax.adam(learning_rate)

    def init(self, mean: Array) -> ESState:
        """Start the search at ``mean`` (d,)."""
        mean = jnp.asarray(mean, jnp.float32)
        return ESState(mean=mean, opt_state=self.optimiser.init(mean), generation=jnp.int32(0))

    def ask(self, state: ESState, *, key: PRNGKeyArray) -> tuple[Array, Array]:
        """``(candidates (P, d), eps (P/2, d))``: the antithetic pairs ``mean +- sigma eps``."""
        eps = jax.random.normal(key, (self.popsize // 2, state.mean.shape[0]))
        candidates = jnp.concatenate(
            [state.mean[None] + self.sigma * eps, state.mean[None] - self.sigma * eps]
        )
        return candidates, eps

    def tell(self, state: ESState, eps: Array, fitness: Array) -> ESState:
        """Update the mean from the candidates' ``fitness`` (P,), higher is better."""
        ranks = jnp.argsort(jnp.argsort(fitness)).astype(jnp.float32)
        centred = ranks / (self.popsize - 1) - 0.5
        half = self.popsize // 2
        grad = ((centred[:half] - centred[half:]) @ eps) / (self.popsize * self.sigma)
        updates, opt_state = self.optimiser.update(-grad, state.opt_state, state.mean)
        return ESState(
            mean=optax.apply_updates(state.mean, updates),
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


def genes_of(circuit: AbstractCircuit, names: tuple[str, ...] = GENES) -> Array:
    """The gene vector of a circuit: log of gains, raw biases/proportions."""
    vals = [jnp.log(getattr(circuit, n)) if n in _LOG_GENES else getattr(circuit, n) for n in names]
    return jnp.stack([jnp.asarray(v, jnp.float32) for v in vals])


def apply_genes(
    circuit: AbstractCircuit, genes: Array, names: tuple[str, ...] = GENES
) -> AbstractCircuit:
    """A copy of ``circuit`` with the named parameters set from ``genes`` (inverse of
    :func:`genes_of`; the CL1 proportion is clipped to [0, 1])."""
    values = []
    for i, n in enumerate(names):
        g = genes[i]
        if n in _LOG_GENES:
            g = jnp.exp(g)
        elif n == "cl1_proportion":
            g = jnp.clip(g, 0.0, 1.0)
        values.append(g)
    return eqx.tree_at(lambda c: [getattr(c, n) for n in names], circuit, values)


def homing_fitness(summary: JourneySummary) -> Array:
    """Fitness of journeys (higher is better): minus the mean closest-approach ratio,
    each capped at 1.5 so one lost bee cannot dominate. Reduces the last axis (routes)."""
    return -jnp.mean(jnp.minimum(summary.closest_ratio, 1.5), axis=-1)


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
