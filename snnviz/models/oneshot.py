"""Parameter model of the one-shot learning page (:mod:`snnviz.core.plasticity`).

:class:`OneShotModel` holds what a user chooses: the evaluation set, the rule (meta-learned or
hand-tuned), float or the emulated 8-bit chip, N-way and k-shot, the episode seed, and the
settings of a new meta-training run. :class:`OneShotSession` owns the engine objects: the
process-wide prepared experiment (:func:`snnviz.core.plasticity.prepare`, cached per process
and configuration), a meta-learned rule re-trained on this page (if any), and returns plain
NumPy results for the views. Numeric choices are traced in the engine (episode seed, N, k and
the rule's hyperparameters never recompile; the chip toggle and a new N compile once).
This module never imports panel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import param

from snnviz.core.plasticity import (
    METHODS,
    SPLITS,
    EpisodeTrace,
    MetaConfig,
    MetaParams,
    MetaResult,
    OneShotConfig,
    OneShotSetup,
    compare,
    is_prepared,
    meta_train,
    prepare,
    trace_episode,
)
from snnviz.core.plasticity.meta import EVAL_QUERIES

from ._base import ParamModel, integer, number

Progress = Callable[[float, str], None]

#: The evaluation sets a user can pick (held-out classes only; base classes are for training).
DATASETS = ("held-out symbols", "digits (other domain)")
RULES = ("meta-learned", "hand-tuned")
SHOTS = (1, 2, 3, 4, 5)
N_QUERY = EVAL_QUERIES
DEFAULT_CONFIG = OneShotConfig()


class OneShotModel(ParamModel):
    """An N-way k-shot episode on held-out classes, learnt by a plastic readout."""

    model_name: ClassVar[str] = "oneshot_plasticity"

    dataset = param.Selector(
        objects=list(DATASETS), default=DATASETS[0], label="new classes from",
        doc="Held-out procedurally generated symbols (never seen in pre-training or "
        "meta-training), or scikit-learn's digits rendered as event streams (another domain)",
    )  # fmt: skip
    rule = param.Selector(
        objects=list(RULES), default="meta-learned", label="plasticity rule",
        doc="The three-factor rule with meta-learned hyperparameters, or the hand-tuned one "
        "(best of a coarse grid over learning rate, depression gain and target rate)",
    )  # fmt: skip
    fixed_point = param.Boolean(
        default=False, label="Loihi 8-bit fixed point",
        doc="Run the rule on the emulated learning engine: 8-bit weights with stochastic "
        "rounding, 7-bit integer traces, power-of-two learning rate",
    )  # fmt: skip
    n_way = integer(
        5, bounds=(2, 20), soft=(2, 10), label="N-way (new classes)",
        doc="Number of new classes per episode (dimensionless; digits have 10, held-out "
        "symbols 24)",
    )  # fmt: skip
    n_shot = integer(
        1, bounds=(1, 5), soft=(1, 5), label="k-shot (examples per class)",
        doc="How often each new class is shown (one presentation of 20 ms per example)",
    )  # fmt: skip
    episode_seed = integer(
        0, bounds=(0, 2**31 - 1), soft=(0, 100), label="episode seed",
        doc="Seed of the episode: which classes, which examples, the presentation order",
    )  # fmt: skip
    meta_steps = integer(
        200, bounds=(10, 3000), soft=(50, 1000), label="meta-training steps",
        doc="Outer-loop Adam steps of a new meta-training run (8 episodes per step)",
    )  # fmt: skip
    meta_learning_rate = number(
        0.02, bounds=(1e-4, 0.5), soft=(0.002, 0.1), step=0.002, unit="",
        label="meta learning rate",
        doc="Adam step size of the outer loop on the unconstrained hyperparameters "
        "(dimensionless, log units)",
    )  # fmt: skip
    meta_seed = integer(
        1, bounds=(0, 2**31 - 1), soft=(0, 100), label="meta-training seed",
        doc="Seed of the episodes a new meta-training run draws",
    )  # fmt: skip
    meta_through_chip = param.Boolean(
        default=False, label="meta-train through the chip emulation",
        doc="Differentiate through the emulated 8-bit learning engine (straight-through "
        "estimators), as the paper does, instead of the float rule",
    )  # fmt: skip

    def validate(self) -> None:
        available = {"held-out symbols": DEFAULT_CONFIG.data.n_test_classes,
                     "digits (other domain)": 10}[self.dataset]  # fmt: skip
        if self.n_way > available:
            raise ValueError(
                f"N-way = {self.n_way} is more than the {available} classes of "
                f"{self.dataset!r}; choose N <= {available}"
            )

    def structure_key(self) -> tuple:
        return (self.model_name, self.n_way, self.fixed_point)

    def meta_config(self) -> MetaConfig:
        """The outer-loop settings of a new meta-training run (others as the default run)."""
        base = DEFAULT_CONFIG.meta
        return MetaConfig(
            n_way=base.n_way, n_shot=base.n_shot, max_shot=base.max_shot,
            n_query=base.n_query, episodes_per_step=base.episodes_per_step,
            validation_episodes=base.validation_episodes,
            steps=self.meta_steps, learning_rate=self.meta_learning_rate,
            steps_per_call=min(base.steps_per_call, self.meta_steps),
            weight_max=base.weight_max, seed=self.meta_seed,
        )  # fmt: skip

    def build(self) -> OneShotSession:
        """A session on the process-wide experiment (prepares it on first use: slow)."""
        self.validate()
        return OneShotSession(prepare(DEFAULT_CONFIG))


class OneShotSession:
    """The prepared experiment plus this page's own meta-trained rule (if re-trained)."""

    def __init__(self, setup: OneShotSetup) -> None:
        self.setup = setup
        self.retrained: MetaResult | None = None
        self.retrained_on_chip = False

    @staticmethod
    def ready() -> bool:
        """True when the default experiment is already prepared in this process."""
        return is_prepared(DEFAULT_CONFIG)

    @staticmethod
    def start(progress: Progress | None = None) -> OneShotSession:
        """Prepare the default experiment (cached per process) and open a session on it."""
        return OneShotSession(prepare(DEFAULT_CONFIG, progress))

    @property
    def meta_params(self) -> MetaParams:
        """The meta-learned rule in use: this page's re-trained one, else the default run's."""
        return self.setup.meta.params if self.retrained is None else self.retrained.params

    @property
    def meta_history(self) -> dict[str, list[float]]:
        return (self.setup.meta if self.retrained is None else self.retrained).history

    def params_for(self, rule: str) -> MetaParams:
        if rule not in RULES:
            raise ValueError(f"unknown rule {rule!r}; choose one of {list(RULES)}")
        return self.meta_params if rule == "meta-learned" else self.setup.hand

    def episode(self, model: OneShotModel) -> EpisodeTrace:
        """One seeded episode with the model's rule, recorded step by step."""
        model.validate()
        readout = self.setup.readout(params=self.params_for(model.rule), chip=model.fixed_point)
        return trace_episode(self.setup, readout, model.dataset, n_way=model.n_way,
                             n_shot=model.n_shot, n_query=N_QUERY, seed=model.episode_seed)  # fmt: skip

    def comparison(
        self,
        dataset: str,
        *,
        n_way: int = 5,
        n_episodes: int = 100,
        shots: tuple[int, ...] = SHOTS,
        methods: tuple[str, ...] = METHODS,
        progress: Progress | None = None,
    ) -> dict[str, dict[int, tuple[float, float]]]:
        """Accuracy vs shots of every method on the same seeded episodes of ``dataset``."""
        if dataset not in SPLITS:
            raise ValueError(f"unknown data set {dataset!r}; choose one of {list(SPLITS)}")
        return compare(self.setup, dataset, methods=methods, n_way=n_way, shots=shots,
                       n_query=N_QUERY, n_episodes=n_episodes, meta_params=self.meta_params,
                       progress=progress)  # fmt: skip

    def retrain(
        self,
        model: OneShotModel,
        progress: Progress | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> MetaResult:
        """Meta-train again from the default run's starting point with the model's settings
        (through the chip emulation if asked); the result replaces this session's meta-learned
        rule."""
        chip = self.setup.config.chip.build() if model.meta_through_chip else None
        result = meta_train(self.setup.features["train"], model.meta_config(),
                            init=self.setup.meta_start,
                            chip=chip, progress=progress, should_stop=should_stop)  # fmt: skip
        self.retrained, self.retrained_on_chip = result, model.meta_through_chip
        return result

    def reset_rule(self) -> None:
        """Go back to the default run's meta-learned rule."""
        self.retrained, self.retrained_on_chip = None, False

    def hyperparameters(self) -> dict[str, dict[str, float]]:
        """``{"hand-tuned": summary, "meta-learned": summary}`` in natural units."""
        return {"hand-tuned": self.setup.hand.summary(), "meta-learned": self.meta_params.summary()}

    def weight_range(self) -> float:
        return float(self.setup.config.chip.weight_max)

    def class_names(self, dataset: str, classes: np.ndarray) -> list[str]:
        """Display names of a split's class ids."""
        if dataset.startswith("digits"):
            return [f"digit {int(c)}" for c in classes]
        offset = self.setup.config.data.n_train_classes
        return [f"symbol #{int(c) + offset}" for c in classes]

    def timings(self) -> dict[str, Any]:
        return dict(self.setup.seconds)
