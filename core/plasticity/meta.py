r"""Meta-learning the hyperparameters of the plastic readout for one-shot learning.

A *task* is an N-way k-shot episode: N classes drawn from a class pool, k support examples
and ``n_query`` query examples per class. The **inner loop** is the plastic layer's own
learning (:meth:`~.readout.PlasticReadout.learn`): every support example is shown once, in
rounds (one example of every class per round, in a random class order), with the rule
updating the weights on line — no backpropagation. The **outer loop** is gradient descent
(optax Adam) on the rule's hyperparameters :math:`\phi`, through the unrolled inner loop
(surrogate gradients for the spikes, straight-through estimators on the emulated chip), on
the query loss

.. math:: \mathcal L(\phi) = \mathbb E_\text{episodes}\Big[\frac{1}{|Q|}\sum_{q \in Q}
          \mathrm{CE}\big(\beta\, \bar I_q(W_\phi),\ c_q\big)\Big], \qquad
          \bar I_q = \tfrac{1}{T}\sum_t W f_{q,t}

(:math:`\beta` a learned logit scale used only by the loss), averaged over a batch of
episodes with :func:`jax.vmap`. :class:`MetaParams` holds :math:`\phi` in an unconstrained
parametrisation (logs of positive quantities, a logit for the target rate, bounded input
gains). The **hand-tuned** baseline (:func:`hand_tune`) is the best point of a coarse grid
over the three knobs a person would try (learning rate, depression gain, target rate) on
base-class episodes, everything else at the defaults of :meth:`MetaParams.from_values`;
meta-learning starts from one of those grid points (see
:func:`snnviz.core.plasticity.experiment.meta_start`).

**Transfer learning** (:func:`transfer_episode_accuracy`), the paper's baseline: a new last
layer on the same frozen features, initialised like an ordinary layer
(:math:`\mathcal N(0, 1/n_\mathrm{in})`), fine-tuned by gradient descent on the softmax
cross-entropy of :math:`\bar I` with the same examples and as many updates as the plastic rule
(one per time step of every presentation), at the best learning rate of a grid on base
classes (:func:`tune_transfer_learning_rate`). ``online=True`` sees the examples as the chip
does — one after the other, each only while it is shown; ``online=False`` keeps the whole
support set and takes full-batch steps over it (which needs a buffer of the examples).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from .features import FeatureSet
from .loihi import LoihiConfig
from .readout import PlasticReadout, predict_scores
from .rules import ThreeFactor

__all__ = [
    "HAND_GRID",
    "TRANSFER_GRID",
    "Episodes",
    "MetaConfig",
    "MetaParams",
    "MetaResult",
    "episode_accuracy",
    "evaluate_rule",
    "evaluate_transfer",
    "evaluation_episodes",
    "hand_tune",
    "meta_loss",
    "meta_train",
    "run_episode",
    "sample_episodes",
    "transfer_episode_accuracy",
    "tune_transfer_learning_rate",
]

Progress = Callable[[float, str], None]
#: One evaluation shape for hand tuning, validation, transfer tuning and comparisons (episodes
#: padded to EVAL_MAX_SHOT shots with EVAL_QUERIES queries per class), so they all share one
#: compiled evaluation per method.
EVAL_EPISODES, EVAL_MAX_SHOT, EVAL_QUERIES = 100, 5, 5
#: Time constants are ``TAU_FLOOR_MS + exp(raw)`` ms: never below half a step.
TAU_FLOOR_MS = 0.5
#: Input gains are ``MAX_INPUT_GAIN * sigmoid(raw)``: bounded, 1 at the hand-tuned start.
MAX_INPUT_GAIN = 8.0


# ----------------------------------------------------------------------------- parameters
def _log(x: float) -> Array:
    return jnp.asarray(math.log(x), dtype=float)


class MetaParams(eqx.Module):
    """The meta-learned hyperparameters :math:`\\phi`, unconstrained (logs; a logit for the
    target rate). :meth:`readout` builds the :class:`~.readout.PlasticReadout`.

    The defaults of :meth:`from_values`: learning rate 2^-6, error threshold 0.05,
    surrogate slope 2, pre/post/membrane time constants 10/5/10 ms, target rate 0.5 spikes
    per step, depression gain 1, input gains 1, no pre-synaptic offset and a negligible weight
    decay 1e-3 (plain SOEL), initial weights ``N(0, 0.01^2)``, logit scale 5.
    """

    log_eta: Float[Array, ""]
    log_error_threshold: Float[Array, ""]
    log_weight_decay: Float[Array, ""]
    log_slope: Float[Array, ""]
    log_tau_pre: Float[Array, ""]
    log_tau_post: Float[Array, ""]
    log_tau_mem: Float[Array, ""]
    logit_target_rate: Float[Array, ""]
    log_depress_gain: Float[Array, ""]
    log_input_gain: Float[Array, " n_in"]
    pre_offset: Float[Array, " n_in"]
    init_mean: Float[Array, " n_in"]
    log_init_scale: Float[Array, ""]
    log_beta: Float[Array, ""]

    @classmethod
    def from_values(
        cls,
        n_in: int,
        *,
        eta: float = 2.0**-6,
        error_threshold: float = 0.05,
        weight_decay: float = 1e-3,
        slope: float = 2.0,
        tau_pre_ms: float = 10.0,
        tau_post_ms: float = 5.0,
        tau_mem_ms: float = 10.0,
        target_rate: float = 0.5,
        depress_gain: float = 1.0,
        init_scale: float = 0.01,
        beta: float = 5.0,
    ) -> MetaParams:
        """Parameters with these natural values (defaults in the class doc); per-input gains
        1, no pre-synaptic offset and no initial weight mean."""
        if not 0.0 < target_rate < 1.0:
            raise ValueError(f"target_rate must be in (0, 1), got {target_rate!r}")
        for name, value in (("eta", eta), ("error_threshold", error_threshold),
                            ("weight_decay", weight_decay), ("slope", slope),
                            ("tau_pre_ms", tau_pre_ms), ("tau_post_ms", tau_post_ms),
                            ("tau_mem_ms", tau_mem_ms), ("depress_gain", depress_gain),
                            ("init_scale", init_scale), ("beta", beta)):  # fmt: skip
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        for name, value in (("tau_pre_ms", tau_pre_ms), ("tau_post_ms", tau_post_ms),
                            ("tau_mem_ms", tau_mem_ms)):  # fmt: skip
            if not value > TAU_FLOOR_MS:
                raise ValueError(f"{name} must be > {TAU_FLOOR_MS} ms, got {value!r}")
        return cls(
            log_eta=_log(eta),
            log_error_threshold=_log(error_threshold),
            log_weight_decay=_log(weight_decay),
            log_slope=_log(slope),
            log_tau_pre=_log(tau_pre_ms - TAU_FLOOR_MS),
            log_tau_post=_log(tau_post_ms - TAU_FLOOR_MS),
            log_tau_mem=_log(tau_mem_ms - TAU_FLOOR_MS),
            logit_target_rate=jnp.asarray(math.log(target_rate / (1 - target_rate)), dtype=float),
            log_depress_gain=_log(depress_gain),
            log_input_gain=jnp.full((n_in,), -math.log(MAX_INPUT_GAIN - 1.0), dtype=float),
            pre_offset=jnp.zeros((n_in,), dtype=float),
            init_mean=jnp.zeros((n_in,), dtype=float),
            log_init_scale=_log(init_scale),
            log_beta=_log(beta),
        )

    @property
    def n_in(self) -> int:
        return self.log_input_gain.shape[0]

    def readout(
        self, chip: LoihiConfig | None = None, *, weight_max: float = 0.5
    ) -> PlasticReadout:
        """The plastic layer with these hyperparameters (time constants above 0.5 ms);
        weights bounded by ``weight_max`` (the chip's, when ``chip`` is given)."""
        rule = ThreeFactor(
            eta=jnp.exp(self.log_eta),
            error_threshold=jnp.exp(self.log_error_threshold),
            surrogate_slope=jnp.exp(self.log_slope),
            pre_offset=self.pre_offset,
            weight_decay=jnp.exp(self.log_weight_decay),
        )
        return PlasticReadout(
            self.n_in,
            rule=rule,
            tau_pre_ms=TAU_FLOOR_MS + jnp.exp(self.log_tau_pre),
            tau_post_ms=TAU_FLOOR_MS + jnp.exp(self.log_tau_post),
            tau_mem_ms=TAU_FLOOR_MS + jnp.exp(self.log_tau_mem),
            target_rate=jax.nn.sigmoid(self.logit_target_rate),
            depress_gain=jnp.exp(self.log_depress_gain),
            input_gain=MAX_INPUT_GAIN * jax.nn.sigmoid(self.log_input_gain),
            init_mean=self.init_mean,
            init_scale=jnp.exp(self.log_init_scale),
            weight_max=weight_max,
            chip=chip,
        )

    @property
    def beta(self) -> Array:
        """The logit scale of the meta-loss."""
        return jnp.exp(self.log_beta)

    def summary(self) -> dict[str, float]:
        """The scalar hyperparameters in natural units (and the input gains' mean and spread)."""
        r = self.readout()
        gain = np.asarray(r.input_gain)
        return {
            "learning rate η": float(r.rule.eta),
            "error threshold θ_E": float(r.rule.error_threshold),
            "weight decay λ": float(r.rule.weight_decay),
            "surrogate slope k": float(r.rule.surrogate_slope),
            "τ_pre (ms)": float(r.tau_pre_ms),
            "τ_post (ms)": float(r.tau_post_ms),
            "τ_mem (ms)": float(r.tau_mem_ms),
            "target rate r*": float(r.target_rate),
            "depression gain m_-": float(r.depress_gain),
            "input gain g (mean)": float(gain.mean()),
            "input gain g (std)": float(gain.std()),
            "pre offset b (mean)": float(np.asarray(r.rule.pre_offset).mean()),
            "initial weight mean": float(np.asarray(r.init_mean).mean()),
            "initial weight scale": float(r.init_scale),
        }


# ----------------------------------------------------------------------------- episodes
class Episodes(NamedTuple):
    """Indices into a :class:`~.features.FeatureSet` for a batch of E episodes.

    ``support`` (E, S) in presentation order with ``support_labels`` (E, S) in 0..N-1, of
    which the first ``n_support`` (E,) are shown (the rest pads to S = ``max_shot`` N);
    ``query`` (E, N q) with ``query_labels``."""

    support: Int[Array, "E S"]
    support_labels: Int[Array, "E S"]
    n_support: Int[Array, " E"]
    query: Int[Array, "E Q"]
    query_labels: Int[Array, "E Q"]

    @property
    def n_way(self) -> int:
        return int(self.query_labels.max()) + 1


def _class_table(labels: np.ndarray) -> np.ndarray:
    """(C, m) sample indices of each class (m = the smallest class size)."""
    classes = np.unique(labels)
    members = [np.flatnonzero(labels == c) for c in classes]
    m = min(len(x) for x in members)
    return np.stack([x[:m] for x in members])


def sample_episodes(
    labels: np.ndarray,
    *,
    n_way: int,
    n_shot: int,
    n_query: int,
    n_episodes: int,
    seed: int,
    max_shot: int | None = None,
) -> Episodes:
    """Seeded N-way k-shot episodes over the classes in ``labels``: distinct classes per
    episode, distinct examples per class (support and query disjoint), support shown in
    ``n_shot`` rounds with the class order shuffled each round. The support is padded (masked)
    to ``max_shot`` rounds (default ``n_shot``), so episodes of any k share one shape."""
    table = _class_table(np.asarray(labels))
    n_classes, per_class = table.shape
    max_shot = n_shot if max_shot is None else max_shot
    if not 2 <= n_way <= n_classes:
        raise ValueError(f"n_way must be in [2, {n_classes}] (classes available), got {n_way!r}")
    if n_shot < 1 or n_query < 1 or max_shot + n_query > per_class or max_shot < n_shot:
        raise ValueError(
            f"need 1 <= n_shot <= max_shot, n_query >= 1 and max_shot + n_query <= {per_class} "
            f"(examples per class), got n_shot={n_shot!r}, max_shot={max_shot!r}, "
            f"n_query={n_query!r}"
        )
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be >= 1, got {n_episodes!r}")
    rng = np.random.default_rng([int(seed), 4242])
    sup, sup_y, qry, qry_y = [], [], [], []
    for _ in range(n_episodes):
        classes = rng.choice(n_classes, n_way, replace=False)
        picks = np.stack([table[c, rng.permutation(per_class)[: max_shot + n_query]]
                          for c in classes])  # fmt: skip
        order = np.concatenate([rng.permutation(n_way) for _ in range(max_shot)])
        shot = np.repeat(np.arange(max_shot), n_way)
        sup.append(picks[order, shot])
        sup_y.append(order)
        qry.append(picks[:, max_shot:].ravel())
        qry_y.append(np.repeat(np.arange(n_way), n_query))
    n_support = jnp.full((n_episodes,), n_shot * n_way, jnp.int32)
    as_int = lambda v: jnp.asarray(np.stack(v), jnp.int32)  # noqa: E731
    return Episodes(as_int(sup), as_int(sup_y), n_support, as_int(qry), as_int(qry_y))


# ----------------------------------------------------------------------------- one episode
def run_episode(
    readout: PlasticReadout,
    features: Float[Array, "n T F"],
    support: Int[Array, " S"],
    support_labels: Int[Array, " S"],
    n_support: Int[Array, ""] | None,
    query: Int[Array, " Q"],
    n_way: int,
    key: PRNGKeyArray,
    *,
    differentiable: bool = False,
) -> tuple[Array, Array, Array]:
    """Initialise the plastic weights, learn the first ``n_support`` support examples (all
    when None) and answer the queries: ``(weights (N, F), spike counts (Q, N), summed input
    (Q, N))``. ``differentiable``: see :meth:`~.readout.PlasticReadout.learn`."""
    k_init, k_learn = jax.random.split(key)
    weight = readout.init_weight(n_way, k_init)
    weight = readout.learn(weight, features[support], support_labels, k_learn, n_support,
                           differentiable=differentiable)  # fmt: skip
    counts, drive = jax.vmap(readout.respond, in_axes=(None, 0))(weight, features[query])
    return weight, counts, drive


def _episode_loss(
    params: MetaParams,
    chip: LoihiConfig | None,
    weight_max: Array,
    features: Array,
    episode: tuple[Array, ...],
    n_way: int,
    key: PRNGKeyArray,
) -> tuple[Array, Array]:
    support, support_labels, n_support, query, query_labels = episode
    readout = params.readout(chip, weight_max=weight_max)
    _, counts, drive = run_episode(readout, features, support, support_labels,
                                   n_support, query, n_way, key, differentiable=True)  # fmt: skip
    logits = params.beta * drive / features.shape[1]
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, query_labels).mean()
    accuracy = jnp.mean(jnp.argmax(predict_scores(counts, drive), -1) == query_labels)
    return loss, accuracy


def meta_loss(
    params: MetaParams,
    features: Float[Array, "n T F"],
    episodes: Episodes,
    key: PRNGKeyArray,
    *,
    n_way: int,
    chip: LoihiConfig | None = None,
    weight_max: ArrayLike = 0.5,
) -> tuple[Array, Array]:
    """Mean query cross-entropy and accuracy over a batch of episodes (vmapped); plastic
    weights bounded by ``weight_max`` (the chip's when ``chip`` is given)."""
    keys = jax.random.split(key, episodes.support.shape[0])
    bound = jnp.asarray(weight_max, dtype=float)
    losses, accs = jax.vmap(
        lambda ep, k: _episode_loss(params, chip, bound, features, ep, n_way, k)
    )(tuple(episodes), keys)
    return losses.mean(), accs.mean()


# ----------------------------------------------------------------------------- meta-training
@dataclasses.dataclass(frozen=True)
class MetaConfig:
    """Outer loop settings: ``steps`` Adam steps (``learning_rate`` after a linear warm-up of
    ``WARMUP_STEPS``, cosine-decayed to 5 %; gradients clipped to norm 1) on batches of ``episodes_per_step`` N-way
    (``n_way``) episodes with ``n_query`` queries per class and, per batch, k shots drawn
    uniformly from ``n_shot .. max_shot`` (a rule meta-trained on single presentations only
    need not stay stable when a class is shown again); ``steps_per_call`` steps per compiled
    call (progress between calls); ``weight_max`` bounds the plastic weights. After every
    call the rule is scored on ``validation_episodes`` fixed base-class episodes with
    ``n_shot`` and with ``max_shot`` shots, and the best-scoring parameters are kept (model
    selection on the training classes only; held-out classes are never looked at); a score
    more than ``ROLLBACK_DROP`` below the best restarts from the best parameters; ``seed``."""

    n_way: int = 5
    n_shot: int = 1
    max_shot: int = 3
    n_query: int = 4
    episodes_per_step: int = 8
    steps: int = 200
    learning_rate: float = 0.02
    steps_per_call: int = 25
    weight_max: float = 0.5
    validation_episodes: int = EVAL_EPISODES
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.weight_max > 0:
            raise ValueError(f"MetaConfig: `weight_max` must be > 0, got {self.weight_max!r}")
        for name in ("n_way", "n_shot", "n_query", "episodes_per_step", "steps", "steps_per_call"):
            if getattr(self, name) < 1:
                raise ValueError(f"MetaConfig: `{name}` must be >= 1, got {getattr(self, name)!r}")
        if self.validation_episodes < 1:
            raise ValueError(
                f"MetaConfig: `validation_episodes` must be >= 1, got {self.validation_episodes!r}"
            )
        if self.max_shot < self.n_shot:
            raise ValueError(
                f"MetaConfig: `max_shot` ({self.max_shot}) must be >= `n_shot` ({self.n_shot})"
            )
        if not self.learning_rate > 0:
            raise ValueError(f"MetaConfig: `learning_rate` must be > 0, got {self.learning_rate!r}")


class MetaResult(NamedTuple):
    """Meta-trained ``params`` (those with the best validation score) and the ``history``:
    ``loss`` and ``accuracy`` of the training episodes' queries before each step, and
    ``validation`` after each compiled call of ``steps_per_call`` steps."""

    params: MetaParams
    history: dict[str, list[float]]


@functools.partial(jax.jit, static_argnames=("n_way", "optimizer"))
def _meta_steps(
    params: MetaParams,
    opt_state: optax.OptState,
    features: Array,
    episodes: Episodes,
    keys: Array,
    chip: LoihiConfig | None,
    weight_max: Array,
    n_way: int,
    optimizer: optax.GradientTransformation,
) -> tuple[MetaParams, optax.OptState, Array, Array]:
    """``len(keys)`` outer steps; ``episodes`` fields have shape (steps, E, ...)."""

    def body(carry, inputs):
        params, opt_state = carry
        episode_batch, key = inputs
        (loss, acc), grads = jax.value_and_grad(meta_loss, has_aux=True)(
            params,
            features,
            Episodes(*episode_batch),
            key,
            n_way=n_way,
            chip=chip,
            weight_max=weight_max,
        )
        grads = jax.tree.map(lambda g: jnp.where(jnp.isfinite(g), g, 0.0), grads)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), (loss, acc)

    (params, opt_state), (losses, accs) = jax.lax.scan(
        body, (params, opt_state), (tuple(episodes), keys)
    )
    return params, opt_state, losses, accs


#: Steps of linear warm-up of the outer step size (Adam's first steps are full-size in every
#: coordinate, whatever the gradient).
WARMUP_STEPS = 40
#: A validation score this far below the best so far sends meta-training back to the best
#: parameters (with a fresh optimiser state).
ROLLBACK_DROP = 0.3
#: Per-input hyperparameters (gains, offsets, initial weight row) take steps this much smaller
#: than the scalars: Adam moves every coordinate by about the step size, and 129 coordinates
#: moving together change the summed input far more than one scalar does.
VECTOR_STEP_FACTOR = 0.1


@functools.cache
def _optimizer(learning_rate: float, steps: int) -> optax.GradientTransformation:
    def adam(scale: float) -> optax.GradientTransformation:
        peak = scale * learning_rate
        schedule = optax.warmup_cosine_decay_schedule(
            0.0, peak, warmup_steps=min(WARMUP_STEPS, max(steps // 4, 1)),
            decay_steps=max(steps, 2), end_value=0.05 * peak,
        )  # fmt: skip
        return optax.adam(schedule)

    def labels(params: MetaParams) -> MetaParams:
        return jax.tree.map(lambda leaf: "vector" if jnp.ndim(leaf) else "scalar", params)

    return optax.chain(
        optax.clip_by_global_norm(1.0),
        optax.multi_transform({"scalar": adam(1.0), "vector": adam(VECTOR_STEP_FACTOR)}, labels),
    )


def meta_train(
    train: FeatureSet,
    config: MetaConfig = MetaConfig(),
    *,
    init: MetaParams | None = None,
    chip: LoihiConfig | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> MetaResult:
    """Meta-train the rule on episodes of ``train``'s classes, starting from ``init`` (default
    :meth:`MetaParams.from_values`; pass the result of :func:`hand_tune`), through the emulated chip when ``chip`` is given.
    ``progress(fraction, message)`` is called after every compiled call; ``should_stop()``
    (checked between calls) ends training early with the parameters so far."""
    report = progress or (lambda f, m: None)
    params = MetaParams.from_values(train.features.shape[-1]) if init is None else init
    optimizer = _optimizer(config.learning_rate, config.steps)
    opt_state = optimizer.init(params)
    history: dict[str, list[float]] = {"loss": [], "accuracy": [], "validation": []}
    per_call = min(config.steps_per_call, config.steps)
    n_calls = math.ceil(config.steps / per_call)
    base = jax.random.key(config.seed)
    bound = config.weight_max
    validation = [
        sample_episodes(train.labels, n_way=config.n_way, n_shot=k, n_query=EVAL_QUERIES,
                        n_episodes=config.validation_episodes, seed=config.seed * 7919 + 31 + k,
                        max_shot=max(EVAL_MAX_SHOT, config.max_shot))
        for k in sorted({config.n_shot, config.max_shot})
    ]  # fmt: skip

    def validate(p: MetaParams) -> float:
        readout = p.readout(chip, weight_max=bound)
        return float(np.mean([episode_accuracy(readout, train, eps).mean() for eps in validation]))

    best_score, best_params = validate(params), params
    for call in range(n_calls):
        if should_stop is not None and should_stop():
            break
        shots = np.random.default_rng([config.seed, call]).integers(
            config.n_shot, config.max_shot + 1, per_call
        )
        batches = [
            sample_episodes(
                train.labels, n_way=config.n_way, n_shot=int(k), n_query=config.n_query,
                n_episodes=config.episodes_per_step, seed=config.seed * 7919 + call * 1009 + i,
                max_shot=config.max_shot,
            )
            for i, k in enumerate(shots)
        ]  # fmt: skip
        eps = Episodes(*(jnp.stack(parts) for parts in zip(*batches, strict=True)))
        keys = jax.random.split(jax.random.fold_in(base, call), per_call)
        params, opt_state, losses, accs = _meta_steps(
            params, opt_state, train.features, eps, keys, chip,
            jnp.asarray(config.weight_max, dtype=float), config.n_way, optimizer,
        )  # fmt: skip
        history["loss"].extend(np.asarray(losses).tolist())
        history["accuracy"].extend(np.asarray(accs).tolist())
        score = validate(params)
        history["validation"].append(score)
        if score >= best_score:
            best_score, best_params = score, params
        elif score < best_score - ROLLBACK_DROP:  # a bad step: restart from the best so far
            params, opt_state = best_params, optimizer.init(best_params)
            history.setdefault("rollbacks", []).append((call + 1) * per_call)
        report(
            (call + 1) / n_calls,
            f"meta-training step {(call + 1) * per_call}/{n_calls * per_call}: episode loss "
            f"{float(np.mean(losses)):.3f}, accuracy {100 * float(np.mean(accs)):.1f} %, "
            f"validation {100 * score:.1f} % (best {100 * best_score:.1f} %)",
        )
    return MetaResult(best_params, history)


# ----------------------------------------------------------------------------- evaluation
@functools.partial(jax.jit, static_argnames=("n_way",))
def _rule_accuracies(
    readout: PlasticReadout, features: Array, episodes: Episodes, key: PRNGKeyArray, n_way: int
) -> Array:
    keys = jax.random.split(key, episodes.support.shape[0])

    def one(ep, k):
        support, support_labels, n_support, query, query_labels = ep
        _, counts, drive = run_episode(readout, features, support, support_labels, n_support,
                                       query, n_way, k)  # fmt: skip
        return jnp.mean(jnp.argmax(predict_scores(counts, drive), -1) == query_labels)

    return jax.vmap(one)(tuple(episodes), keys)


def episode_accuracy(
    readout: PlasticReadout, data: FeatureSet, episodes: Episodes, *, seed: int = 0
) -> np.ndarray:
    """Query accuracy of the plastic rule on every episode, shape (E,)."""
    keys = jax.random.key(seed)
    return np.asarray(_rule_accuracies(readout, data.features, episodes, keys, episodes.n_way))


def _mean_and_error(acc: np.ndarray) -> tuple[float, float]:
    return float(acc.mean()), float(acc.std() / math.sqrt(acc.size))


def evaluation_episodes(
    data: FeatureSet,
    *,
    n_way: int = 5,
    shots: Sequence[int] = (1,),
    n_query: int = EVAL_QUERIES,
    n_episodes: int = EVAL_EPISODES,
    seed: int = 1,
) -> dict[int, Episodes]:
    """Seeded test episodes for every k in ``shots``, all padded to ``max(shots)`` shots (at
    least ``EVAL_MAX_SHOT``: one compiled shape); the same seed gives every method the same
    episodes."""
    max_shot = max(max(shots), EVAL_MAX_SHOT)
    return {int(k): sample_episodes(data.labels, n_way=n_way, n_shot=int(k), n_query=n_query,
                                    n_episodes=n_episodes, seed=seed * 1000 + int(k),
                                    max_shot=max_shot)
            for k in shots}  # fmt: skip


def evaluate_rule(
    readout: PlasticReadout, data: FeatureSet, episodes: dict[int, Episodes], *, seed: int = 0
) -> dict[int, tuple[float, float]]:
    """``{shots: (mean accuracy, standard error)}`` of the plastic rule on ``episodes``
    (from :func:`evaluation_episodes`)."""
    return {k: _mean_and_error(episode_accuracy(readout, data, eps, seed=seed))
            for k, eps in episodes.items()}  # fmt: skip


# ----------------------------------------------------------------------------- transfer
def _transfer_one(
    features: Array,
    episode: tuple[Array, ...],
    key: PRNGKeyArray,
    learning_rate: Array,
    n_way: int,
    online: bool,
) -> Array:
    support, support_labels, n_support, query, query_labels = episode
    n_in, t_steps = features.shape[-1], features.shape[1]
    weight = jax.random.normal(key, (n_way, n_in), features.dtype) / math.sqrt(n_in)
    x_support = features[support].mean(1)  # (S, F): the input per step, as the readout sees it
    shown = (jnp.arange(support.shape[0]) < n_support).astype(features.dtype)

    def loss(w, weights):
        losses = optax.softmax_cross_entropy_with_integer_labels(x_support @ w.T, support_labels)
        return jnp.sum(weights * losses) / jnp.maximum(jnp.sum(weights), 1.0)

    def steps(w, weights):  # T gradient steps on the weighted support loss
        def step(_, w):
            return w - learning_rate * jax.grad(loss)(w, weights)

        return jax.lax.fori_loop(0, t_steps, step, w)

    if online:  # each example alone, while it is shown: T steps per presentation

        def present(i, w):
            return steps(w, jax.nn.one_hot(i, support.shape[0], dtype=features.dtype))

    else:  # the whole stored support set: T full-batch steps per shown example

        def present(i, w):
            return steps(w, shown)

    weight = jax.lax.fori_loop(0, n_support, present, weight)
    logits = features[query].sum(1) @ weight.T / t_steps
    return jnp.mean(jnp.argmax(logits, -1) == query_labels)


@functools.partial(jax.jit, static_argnames=("n_way", "online"))
def _transfer_accuracies(
    features: Array,
    episodes: Episodes,
    key: PRNGKeyArray,
    learning_rate: Array,
    n_way: int,
    online: bool,
) -> Array:
    keys = jax.random.split(key, episodes.support.shape[0])
    return jax.vmap(lambda ep, k: _transfer_one(features, ep, k, learning_rate, n_way, online))(
        tuple(episodes), keys
    )


def transfer_episode_accuracy(
    data: FeatureSet,
    episodes: Episodes,
    learning_rate: ArrayLike,
    *,
    online: bool = True,
    seed: int = 0,
) -> np.ndarray:
    """Query accuracy of transfer learning on every episode (E,): a fresh ``N(0, 1/n_in)``
    last layer fine-tuned by gradient descent on the support examples' cross-entropy, ``T``
    steps per shown example (module docstring: ``online`` or full batch)."""
    acc = _transfer_accuracies(data.features, episodes, jax.random.key(seed),
                               jnp.asarray(learning_rate, dtype=float), episodes.n_way,
                               bool(online))  # fmt: skip
    return np.asarray(acc)


#: Learning rates tried for transfer learning (and the grid the page reports).
TRANSFER_GRID = tuple(2.0**k for k in range(-6, 7, 2))


def tune_transfer_learning_rate(
    data: FeatureSet,
    *,
    online: bool = True,
    n_way: int = 5,
    n_query: int = EVAL_QUERIES,
    n_episodes: int = EVAL_EPISODES,
    grid: Sequence[float] = TRANSFER_GRID,
    seed: int = 0,
) -> tuple[float, dict[float, float]]:
    """The best transfer learning rate of ``grid`` on 1-shot episodes of ``data`` (use the
    base classes); returns ``(best, {rate: accuracy})``."""
    eps = sample_episodes(data.labels, n_way=n_way, n_shot=1, n_query=n_query,
                          n_episodes=n_episodes, seed=seed + 99, max_shot=EVAL_MAX_SHOT)  # fmt: skip
    scores = {float(lr): float(transfer_episode_accuracy(data, eps, lr, online=online,
                                                         seed=seed).mean())
              for lr in grid}  # fmt: skip
    best = max(scores, key=scores.get)
    return best, scores


def evaluate_transfer(
    data: FeatureSet,
    episodes: dict[int, Episodes],
    learning_rate: float,
    *,
    online: bool = True,
    seed: int = 0,
) -> dict[int, tuple[float, float]]:
    """Like :func:`evaluate_rule` for transfer learning."""
    return {k: _mean_and_error(transfer_episode_accuracy(data, eps, learning_rate,
                                                         online=online, seed=seed))
            for k, eps in episodes.items()}  # fmt: skip


# ----------------------------------------------------------------------------- hand tuning
#: The coarse grid of :func:`hand_tune`: learning rate, depression gain, target rate.
HAND_GRID = {
    "eta": (2.0**-8, 2.0**-6, 2.0**-4),
    "depress_gain": (1e-3, 1.0),
    "target_rate": (0.5, 0.9),
}


def hand_tune(
    train: FeatureSet,
    *,
    grid: dict[str, Sequence[float]] = HAND_GRID,
    n_way: int = 5,
    n_query: int = EVAL_QUERIES,
    n_episodes: int = EVAL_EPISODES,
    weight_max: float = 0.5,
    seed: int = 0,
) -> tuple[MetaParams, dict[tuple[float, ...], float]]:
    """The hand-tuned rule: the best point of ``grid`` (keyword arguments of
    :meth:`MetaParams.from_values`) by 1-shot accuracy on base-class episodes; returns it and
    ``{grid point: accuracy}``."""
    eps = sample_episodes(train.labels, n_way=n_way, n_shot=1, n_query=n_query,
                          n_episodes=n_episodes, seed=seed + 11, max_shot=EVAL_MAX_SHOT)  # fmt: skip
    n_in = train.features.shape[-1]
    names = list(grid)
    scores: dict[tuple[float, ...], float] = {}
    best: tuple[float, MetaParams] | None = None
    for point in itertools.product(*(grid[n] for n in names)):
        params = MetaParams.from_values(n_in, **dict(zip(names, point, strict=True)))
        readout = params.readout(weight_max=weight_max)
        acc = float(episode_accuracy(readout, train, eps, seed=seed).mean())
        scores[tuple(float(v) for v in point)] = acc
        if best is None or acc > best[0]:
            best = (acc, params)
    assert best is not None
    return best[1], scores
