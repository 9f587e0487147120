"""In-context learning with plastic attention (Finkbeiner & Neftci 2024, Loihi 2).

A decoder-only transformer whose self-attention is a fast-weight matrix written by a local
Hebbian outer-product rule per token (M ← λ M + v kᵀ) and read by the query (y = M q), is
pre-trained on few-shot episodes so that at inference the *plastic synapses* learn a new
label assignment from the prompt alone. Type or sample a prompt, step through its tokens to
watch M being written, read the answer; compare float and Loihi 2-like fixed-point synapses;
compute accuracy vs number of shots on held-out classes.

``reproduce()`` pre-trains (cached per process), then checks 5-way 5-shot accuracy on unseen
prototypes, its rise with shots, and the 8-bit fixed-point gap to float. Quick: 1000 training
steps of 32 episodes, 1000 test episodes per point (~25 s with a warm compilation cache, ~55-60 s
cold, on 2 shared cores). Full: 3000 steps of 64 episodes, 4000 test episodes per point
(~2 min).
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

import numpy as np
import panel as pn
import param

from snnviz.components import ErrorBanner, ProgressReporter
from snnviz.core.attention import icl_model
from snnviz.core.attention.icl_model import ICLConfig
from snnviz.core.attention.icl_tasks import PromptError, sample_prompt
from snnviz.models.icl import (
    DEFAULT_CONFIG,
    FIXED,
    FLOAT,
    FULL_CONFIG,
    ICLSession,
    InContextModel,
    PromptResult,
)
from snnviz.views.icl import (
    accuracy_vs_shots,
    label_bars,
    memory_image,
    token_bars,
    training_curve,
)

from ._base import DemoPage, Progress
from ._layout import ReproduceSection, page_layout
from ._result import Claim, ClaimResult

DEFAULT_PROMPT = "A:1 B:2 C:3 B:2 C:3 A:1 | C?"
THRESHOLDS = {"accuracy_5way5shot": 0.80, "shots_gain_points": 5.0, "fixed_point_gap_points": 5.0}

EXPLANATION = """
**What the paper did.** Finkbeiner & Neftci ran a decoder-only transformer on Intel's Loihi 2
in which self-attention *is* synaptic plasticity: each token writes its value–key pair into a
matrix of plastic synapses with a local two-factor Hebbian update, **M ← λ M + v kᵀ**, and the
query reads it, **y = M q** (linear attention, computed token by token). Pre-trained on
few-shot episodes (Omniglot images with labels, then a query), the network learns a new task
*in context*: the only thing that changes at inference is M.

**What this page runs.** A stand-in task (no downloads): classes are random prototypes in
ℝ¹⁶, an item is a prototype plus noise, and every episode assigns the labels 1–5 afresh, so
the label of an item can only come from the prompt. A one-layer transformer (4 heads) with
fast-weight attention is pre-trained on training classes; **letters in prompts stand for
held-out classes it never saw**. `A:1 B:2 C:3 B:2 | C?` shows items A, B, C with their labels
and asks for C's. Play the tokens to watch each write (v kᵀ, right) add to the memory M (left);
the bars show how strongly the query reads each stored token. *Fixed point* keeps M on an
integer grid (8 bits by default, like Loihi's weights) with stochastically rounded writes.
"""


class InContextAttentionPage(DemoPage):
    slug: ClassVar[str] = "finkbeiner2024_icl"
    title: ClassVar[str] = "In-context learning with plastic attention"
    summary: ClassVar[str] = (
        "A transformer whose attention is a fast-weight matrix written by Hebbian plasticity "
        "per token learns new label assignments from the prompt alone; watch the synapses "
        "being written, compare float and Loihi 2-like 8-bit synapses."
    )
    reference: ClassVar[str] = (
        "Finkbeiner & Neftci (2024) On-chip learning via transformer in-context learning, "
        "arXiv:2410.08711"
    )
    claims: ClassVar[tuple[Claim, ...]] = (
        Claim(
            "accuracy_5way5shot",
            "in-context few-shot classification (Omniglot, image-label pairs then a query) "
            "with attention computed by on-chip plasticity on Loihi 2 (numbers not retrieved)",
            "5-way 5-shot accuracy on held-out prototypes (ℝ¹⁶, noise σ = 1, labels permuted per "
            "episode; float plastic attention, 1000 episodes, 4000 in full mode) >= 80 % (chance "
            "20 %)",
        ),
        Claim(
            "shots_gain_points",
            "in-context learning improves with the number of examples in the prompt",
            "accuracy rises with shots: 5-shot minus 1-shot accuracy >= 5 points (5-way, "
            "held-out prototypes)",
        ),
        Claim(
            "fixed_point_gap_points",
            "the fixed-point (Loihi 2) deployment performs close to the float model "
            "(our notes: 8-bit M within ~3 points, unverified)",
            "8-bit fixed point (M on a 255-level grid with stochastically rounded writes, "
            "8-bit q, k, v) within 5 points of float at every shot count 1–5 (largest gap, "
            "same episodes)",
        ),
    )
    url_params: ClassVar[tuple[str, ...]] = (
        "prompt", "ways", "shots", "layer", "model.arithmetic", "model.bits",
        "model.rounding", "model.decay", "model.noise", "model.noise_seed", "model.letter_seed",
    )  # fmt: skip

    prompt = param.String(
        DEFAULT_PROMPT, label="Prompt",
        doc="Pairs LETTER:LABEL then the query LETTER?, e.g. 'A:1 B:2 C:1 | B?' (letters stand "
        "for held-out classes; each occurrence is a fresh noisy item)",
    )  # fmt: skip
    ways = param.Integer(3, bounds=(2, 5), label="ways (sampled prompts)",
                         doc="Number of classes in a sampled prompt")  # fmt: skip
    shots = param.Integer(2, bounds=(1, 5), label="shots (sampled prompts)",
                          doc="Items per class in a sampled prompt")  # fmt: skip
    layer = param.Integer(0, bounds=(0, 7), label="layer",
                          doc="Which layer's plastic memory to show (0 = first)")  # fmt: skip
    model = param.ClassSelector(class_=InContextModel, doc="Deployment and prompt items.")

    def __init__(self, *, config: ICLConfig = DEFAULT_CONFIG, **params: Any) -> None:
        """``config``: the pre-trained model the page deploys (default :data:`DEFAULT_CONFIG`;
        ``reproduce()`` always uses the default / full config)."""
        params.setdefault("model", InContextModel())
        super().__init__(**params)
        self.config = config
        self.param.layer.bounds = (0, config.n_layers - 1)
        self.layer = min(self.layer, config.n_layers - 1)
        self.banner = ErrorBanner()
        self.train_progress = ProgressReporter()
        self.curve_progress = ProgressReporter()
        self.session: ICLSession | None = None
        self.result: PromptResult | None = None
        self.curves: dict[str, Any] | None = None
        self._sample_counter = itertools.count(1)
        self.answer = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.status = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.memory_pane = pn.pane.HoloViews(sizing_mode="stretch_width")
        self.write_pane = pn.pane.HoloViews(sizing_mode="stretch_width")
        self.tokens_pane = pn.pane.HoloViews(sizing_mode="stretch_width")
        self.labels_pane = pn.pane.HoloViews(sizing_mode="stretch_width")
        self.curve_pane = pn.pane.HoloViews(sizing_mode="stretch_width")
        self.training_pane = pn.pane.HoloViews(sizing_mode="stretch_width")
        self._build_widgets()
        self.param.watch(self._on_prompt, ["prompt"])
        self.param.watch(lambda _e: self._draw_token(), ["layer"])
        self.follow_model({self._on_model: None}, self.run_prompt)
        self.start()

    @classmethod
    def warm_up(cls) -> None:
        """Pre-train the default model (cached per process) and compile the prompt run in float
        and 8-bit fixed point and the accuracy sweep."""
        session = ICLSession.pretrain(DEFAULT_CONFIG)
        page = cls()
        page.run_prompt()
        page.model.arithmetic = FIXED
        session.accuracy_curves(page.model, n_episodes=1000)

    # -- pre-training ------------------------------------------------------------------------
    def start(self, *, background: bool = True) -> None:
        """Use the cached pre-trained model, or pre-train it (on a worker thread with the
        progress bar unless ``background`` is False)."""
        if icl_model.is_pretrained(self.config):
            self._trained(ICLSession.pretrain(self.config))
            return
        if not background:
            self._trained(ICLSession.pretrain(self.config, self.train_progress))
            return
        self.status.object = ("*Pre-training the transformer on few-shot episodes of training "
                              "classes (once per server process)…*")  # fmt: skip
        self._set_enabled(False)
        self.train_progress.run(
            lambda report: ICLSession.pretrain(self.config, report),
            on_done=self._trained, on_error=self.banner.show,
        )  # fmt: skip

    def _trained(self, session: ICLSession) -> None:
        self.session = session
        self.train_progress.reset()
        t = session.trained
        self.status.object = (
            f"Pre-trained: {t.config.steps} steps on {t.config.n_train_prototypes} training "
            f"classes in {t.seconds:.0f} s, final loss {t.loss[-1]:.3f} (guessing: "
            f"{np.log(t.config.n_labels):.2f})."
        )
        self.training_pane.object = training_curve(
            t.steps, t.loss, chance_loss=float(np.log(t.config.n_labels)),
            title="pre-training loss (episodes of training classes)",
        )  # fmt: skip
        self._set_enabled(True)
        self.run_prompt()

    def _set_enabled(self, enabled: bool) -> None:
        for widget in (self.run_button, self.sample_button, self.curve_button, self.player):
            widget.disabled = not enabled

    # -- prompts -----------------------------------------------------------------------------
    def _on_prompt(self, event: Any) -> None:
        # a prompt committed by Enter, a sample or code is also the box's pending text, so
        # "Run prompt" never falls back to older typing
        self.prompt_input.value_input = event.new
        self.run_prompt()

    def run_prompt(self) -> None:
        """Parse the prompt, run the deployed model and redraw (errors go to the banner)."""
        if self.session is None:
            return
        try:
            prompt = self.session.parse(self.prompt)
            self.result = self.session.run(prompt, self.model)
        except (PromptError, ValueError, FloatingPointError) as err:
            self.banner.show(str(err))
            return
        self.banner.clear()
        n = len(self.result.tokens)
        self._moving_player = True  # one redraw below, not one per player change
        try:  # (not discard_events: that would also stop the widget syncing to the browser)
            self.player.param.update(end=n, value=n)  # tokens from 1; a prompt has >= 2 tokens
        finally:
            self._moving_player = False
        self._draw_answer()
        self._draw_token()

    def sample(self) -> None:
        """A random prompt with the chosen ways and shots (a new one on every call)."""
        if self.session is None:
            return
        prompt = sample_prompt(next(self._sample_counter), n_ways=self.ways, shots=self.shots,
                               n_labels=self.session.config.n_labels)  # fmt: skip
        self.prompt = str(prompt)

    def _on_model(self, *_: Any) -> None:
        self.run_prompt()
        if self.curves is not None and self.session is not None:
            cached = self.session.cached_curves(self.model, n_episodes=self.curves["n_episodes"])
            if cached is None:  # the settings changed what the curves show: don't keep stale ones
                self.curves = None
                self.curve_pane.object = None
            elif cached is not self.curves:
                self._show_curves(cached)

    def _draw_answer(self) -> None:
        r = self.result
        assert r is not None
        p = r.probabilities[r.answer]
        if r.truth is None:
            verdict = f"the prompt gives no label for {r.prompt.query}"
        else:
            mark = "✓" if r.truth == r.answer else "✗"
            verdict = f"the prompt's pairs say {r.truth + 1} {mark}"
        arithmetic = (r.arithmetic if r.arithmetic == FLOAT
                      else f"{self.model.bits}-bit fixed point, {self.model.rounding} rounding")  # fmt: skip
        self.answer.object = (f"**{r.prompt.query}? → label {r.answer + 1}** (p = {p:.2f}) · "
                              f"{verdict} · {arithmetic}")  # fmt: skip
        self.labels_pane.object = label_bars(r.probabilities, answer=r.answer, truth=r.truth,
                                             title="answer: label probabilities at the query")  # fmt: skip

    def _draw_token(self) -> None:
        r = self.result
        if r is None:
            return
        layer = min(self.layer, len(r.memory) - 1)
        t = int(np.clip(self.player.value - 1, 0, len(r.tokens) - 1))
        token = r.tokens[t]
        self.memory_pane.object = memory_image(
            r.memory[layer][t], clim=r.clim[layer],
            title=f"memory M after token {t + 1} ({token}), layer {layer + 1}",
        )  # fmt: skip
        self.write_pane.object = memory_image(
            r.writes[layer][t], clim=float(np.abs(r.writes[layer]).max(initial=0.0)) or 1.0,
            title=f"write v·φ(k)ᵀ of token {t + 1} ({token})",
        )  # fmt: skip
        self.tokens_pane.object = token_bars(
            r.tokens, current=t, weights=r.read[layer].sum(axis=1),
            title="tokens; bar: the query's read of each (current: orange)",
        )  # fmt: skip

    # -- accuracy vs shots -------------------------------------------------------------------
    def compute_curves(self, *, background: bool = True, n_episodes: int = 1000) -> None:
        """Accuracy vs shots on held-out classes, float and fixed point (current bits and
        rounding), on a worker thread with a progress bar unless ``background`` is False."""
        if self.session is None:
            return
        session, model = self.session, self.model

        def work(report: Progress) -> dict[str, Any]:
            return session.accuracy_curves(model, n_episodes=n_episodes, progress=report)

        self.curve_progress.run(
            work, on_done=self._show_curves, on_error=self.banner.show, background=background
        )

    def _show_curves(self, data: dict[str, Any]) -> None:
        self.curves = data
        self.curve_progress.reset()
        self.curve_pane.object = accuracy_vs_shots(
            data["shots"], {k: data[k] for k in (FLOAT, FIXED, "nearest class mean")},
            chance=data["chance"],
            title=f"{self.session.config.n_labels}-way accuracy on held-out classes "
            f"({data['n_episodes']} episodes per point; fixed point: {data['bits']} bits, "
            f"{data['rounding']} rounding)",
        )  # fmt: skip

    # -- layout ------------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.prompt_input = pn.widgets.TextInput.from_param(self.param.prompt,
                                                            sizing_mode="stretch_width")  # fmt: skip
        self.run_button = pn.widgets.Button(label="Run prompt", color="primary")
        self.run_button.on_click(lambda _e: self._run_from_input())
        self.sample_button = pn.widgets.Button(label="Sample prompt")
        self.sample_button.on_click(lambda _e: self.sample())
        self.player = pn.widgets.Player(label="Token", start=1, end=2, value=2, interval=800,
                                        loop_policy="once", show_value=True,
                                        sizing_mode="stretch_width")  # fmt: skip
        self._moving_player = False
        self.player.param.watch(lambda _e: self._moving_player or self._draw_token(), "value")
        self.curve_button = pn.widgets.Button(label="Compute accuracy vs shots", color="primary")
        self.curve_button.on_click(lambda _e: self.compute_curves())
        self.curve_progress.param.watch(
            lambda e: setattr(self.curve_button, "disabled", e.new), "busy"
        )

    def _run_from_input(self) -> None:
        if (
            self.prompt_input.value_input is not None
            and self.prompt_input.value_input != self.prompt
        ):
            self.prompt = self.prompt_input.value_input  # typed but not yet committed
        else:
            self.run_prompt()

    def __panel__(self) -> pn.viewable.Viewable:
        sidebar = [
            "#### Prompt", self.prompt_input, pn.Row(self.run_button, self.sample_button),
            pn.Param(self.param, show_name=False, sizing_mode="stretch_width",
                     parameters=["ways", "shots"] + (["layer"] if self.config.n_layers > 1 else [])),
            "#### Deployment", pn.Param(self.model, show_name=False, sizing_mode="stretch_width"),
        ]  # fmt: skip
        main = [
            self.banner, self.train_progress, self.status, self.answer,
            "#### Step through the tokens", self.player,
            pn.Row(self.memory_pane, self.write_pane, sizing_mode="stretch_width"),
            pn.Row(self.tokens_pane, self.labels_pane, sizing_mode="stretch_width"),
            "### Accuracy vs number of shots", self.curve_button, self.curve_progress,
            self.curve_pane, self.training_pane,
            ReproduceSection(self, self.banner),
        ]  # fmt: skip
        return page_layout(self, EXPLANATION, sidebar, main)

    # -- reproduce ---------------------------------------------------------------------------
    def _measure(self, quick: bool, progress: Progress) -> tuple[dict, dict]:
        config = DEFAULT_CONFIG if quick else FULL_CONFIG
        n_episodes = 1000 if quick else 4000
        session = ICLSession.pretrain(config, lambda f, m: progress(0.75 * f, m))
        model = InContextModel()  # float vs 8-bit fixed point, stochastic rounding, noise 1
        curves = session.accuracy_curves(
            model, n_episodes=n_episodes, seed=1,
            progress=lambda f, m: progress(0.75 + 0.2 * f, m),
        )  # fmt: skip
        progress(0.95, "float accuracy on training classes (generalisation gap)")
        train_pool = icl_model.accuracy_by_shots(
            session.trained, model.kernels(session.trained, bits=None), shots=(5,),
            n_episodes=n_episodes, pool="train", seed=2,
        )  # fmt: skip
        flt, fixed = np.asarray(curves[FLOAT]), np.asarray(curves[FIXED])
        trained = session.trained
        metrics = {
            "accuracy_5way5shot": float(flt[-1]),
            "shots_gain_points": float(100 * (flt[-1] - flt[0])),
            "fixed_point_gap_points": float(100 * np.max(np.abs(flt - fixed))),
            "shots": curves["shots"].tolist(),
            "accuracy_float": flt.round(4).tolist(),
            "accuracy_fixed_8bit": fixed.round(4).tolist(),
            "accuracy_nearest_class_mean": np.asarray(curves["nearest class mean"])
            .round(4)
            .tolist(),
            "accuracy_5shot_training_classes": float(train_pool["accuracy"][0]),
            "chance": curves["chance"],
            "n_episodes": n_episodes,
            "train_steps": trained.config.steps,
            "train_seconds": round(trained.seconds, 1),
            "final_training_loss": float(trained.loss[-1]),
        }
        figures = {
            "accuracy_vs_shots": accuracy_vs_shots(
                curves["shots"], {k: curves[k] for k in (FLOAT, FIXED, "nearest class mean")},
                chance=curves["chance"],
                title=f"5-way accuracy on held-out classes ({n_episodes} episodes per point)",
            ),
            "training_loss": training_curve(trained.steps, trained.loss,
                                            chance_loss=float(np.log(trained.config.n_labels)),
                                            title="pre-training loss"),
        }  # fmt: skip
        return metrics, figures

    def _judge(self, claim: Claim, metrics: dict[str, Any]) -> ClaimResult:
        measured = metrics[claim.key]
        threshold = THRESHOLDS[claim.key]
        if claim.key == "fixed_point_gap_points":
            passed = measured <= threshold
            detail = (f"float {_pct(metrics['accuracy_float'])} vs 8-bit "
                      f"{_pct(metrics['accuracy_fixed_8bit'])} for 1..5 shots")  # fmt: skip
        elif claim.key == "shots_gain_points":
            passed = measured >= threshold
            detail = f"float accuracy by shots 1..5: {_pct(metrics['accuracy_float'])}"
        else:
            passed = measured >= threshold
            detail = (f"nearest-class-mean reference {100 * metrics['accuracy_nearest_class_mean'][-1]:.1f} %, "
                      f"training classes {100 * metrics['accuracy_5shot_training_classes']:.1f} %, "
                      f"chance {100 * metrics['chance']:.0f} %")  # fmt: skip
        return ClaimResult(claim, measured, bool(passed), detail)


def _pct(values: list[float]) -> str:
    return "/".join(f"{100 * v:.1f}" for v in values) + " %"
