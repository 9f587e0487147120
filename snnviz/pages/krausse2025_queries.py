"""Spatio-temporal queries & family trees (GC-VSA, Krausse et al. 2025).

Two memories built from FHRR phasor vectors and queried by unbinding + cleanup:

* a **scene memory** — objects at positions (GC-VSA grid-cell code, or a random FPE) at time
  steps (FPE of time), all events superposed in one trace — asked "where was X at t", "what
  was at (x, y) at t" and "which came first: X or Y";
* Hinton's **family trees** (two isomorphic families, 12 relations, 112 facts) as
  role-filler bindings — asked "who is the R of X", two-hop chains (grandparent, sibling via
  the parents, in-laws) and analogies to the other family through one binding.

Queries are instant (one compiled call per dimension); accuracy-vs-dimension and -load curves
are computed on a button. ``reproduce()`` checks >= 95 % accuracy at the default D = 1024 and
where the accuracy curves cross 95 %.
"""

from __future__ import annotations

from typing import Any, ClassVar

import holoviews as hv
import numpy as np
import panel as pn
import param

from snnviz.components import ErrorBanner, ProgressReporter
from snnviz.core.vsa import family_tree as ft
from snnviz.core.vsa import scene_memory as sm
from snnviz.models.vsa_queries import (
    ARENA_M,
    DIMS,
    FAMILY_KEYS,
    MAX_TIMES,
    OBJECT_NAMES,
    SCENE_KEYS,
    TARGET,
    FamilySession,
    FamilyTreeModel,
    SceneMemoryModel,
    SceneSession,
    accuracy_sweeps,
    crossing_dim,
)
from snnviz.views.vsa_queries import (
    accuracy_figures,
    arena_heatmap,
    family_tree_graph,
    scene_view,
    similarity_bars,
    time_profiles,
)

from ._base import DemoPage, Progress
from ._layout import ReproduceSection, page_layout
from ._result import Claim, ClaimResult

WHERE, WHAT, FIRST = (
    "Where was X at time t?",
    "What was at (x, y) at time t?",
    "Which came first: X or Y?",
)
RELATION, TWO_HOP, ANALOGY = (
    "Who is the R of X? (family)",
    "Two hops (family)",
    "Analogy: counterpart in the other family",
)
QUERIES = (WHERE, WHAT, FIRST, RELATION, TWO_HOP, ANALOGY)
SCENE_QUERIES = (WHERE, WHAT, FIRST)
DEFAULT_DIM = 1024

EXPLANATION = """
**Scene memory.** Each event binds an object code, a position code and a time code,
e = object ⊙ place(x, y) ⊙ time(t), and the whole scene is their sum. The place code is the
GC-VSA grid code: phasors of grid modules at 4 scales × 3 orientations (a fractional power
encoding, so binding adds positions); time is a 1-D fractional power encoding whose kernel
vanishes one step away. *Where was X at t*: unbind X and t, compare with the place code of
every bin (the map shows that similarity). *What was at (x, y) at t*: unbind place and time,
clean up over the objects. *Which came first*: unbind X alone; for each time step the best
match over the arena gives a time profile; the first step above the dashed line is X's first
appearance.

**Family trees.** Hinton's (1986) two isomorphic families. Each person's record is the sum of
relation ⊙ relative over their facts; *who is the R of X* unbinds R from X's record and keeps
every person above half a stored item. Two hops chain that: the cleaned-up answers of the
first hop are asked the second. People are coded as family ⊙ slot, so one binding maps a
whole family onto the other: the analogy query binds the unbound answer with
Italian ⊙ conj(English). Switch *memory* to *triples* to store all 112 facts in one trace and
watch how much larger D must be.

**Try it.** Pick a query, change the object/time/person, then raise the *load* or the
*noise*, or lower *D*: the bars of wrong candidates rise towards the right one. *Compute
accuracy curves* runs every query type over many random scenes and codes.
"""


class VSAQueriesPage(DemoPage):
    slug: ClassVar[str] = "krausse2025_queries"
    title: ClassVar[str] = "Spatio-temporal queries & family trees"
    summary: ClassVar[str] = (
        "A scene of objects at grid-cell-coded places and times, and Hinton's family trees, "
        "each stored as superposed FHRR bindings: ask where, what, which came first, who is "
        "whose relative, two-hop chains and analogies by unbinding and cleanup."
    )
    reference: ClassVar[str] = (
        "Krausse, Neftci, Sommer & Renner (2025) A grid cell-inspired structured vector "
        "algebra for cognitive maps, arXiv:2503.08608; Hinton (1986) Learning distributed "
        "representations of concepts, Proc. 8th Annual Conf. Cognitive Science Society"
    )
    claims: ClassVar[tuple[Claim, ...]] = (
        Claim(
            "scene_accuracy",
            "GC-VSA stores a spatio-temporal scene and answers queries about object locations "
            "and temporal order by unbinding (accuracy numbers not reported)",
            "where (within one 5 cm bin), what and which-came-first accuracy each >= 95 % at "
            "D = 1024 with 24 events (8 objects, 10 time steps, grid-cell place code); "
            "measured: the worst of the three",
        ),
        Claim(
            "family_accuracy",
            "GC-VSA reasons symbolically on family trees: relations, hierarchies and analogies "
            "via binding (accuracy numbers not reported)",
            "1-hop (104 queries) and 2-hop (48 chained queries) family-tree accuracy >= 95 % "
            "at D = 1024 with per-person records (exact answer sets); measured: the worse",
        ),
        Claim(
            "dims_to_95",
            "VSA query accuracy grows with the dimension D (crosstalk ~ sqrt(load / 2D))",
            "every accuracy-vs-D curve (scene: where/what/first; family: 1-hop/2-hop/analogy) "
            "rises from D = 64 and stays >= 95 % from some D <= 1024; measured: the largest "
            "such D",
        ),
    )
    url_params: ClassVar[tuple[str, ...]] = (
        "query", "object_a", "object_b", "time_step", "x_m", "y_m", "person", "relation",
        "chain", "scene.dim", "scene.position_code", "scene.n_objects", "scene.n_times",
        "scene.n_events", "scene.noise", "scene.seed", "family.dim", "family.encoding",
        "family.noise", "family.seed",
    )  # fmt: skip

    query = param.Selector(objects=list(QUERIES), default=WHERE, label="Query",
                           doc="The question asked of the memory.")  # fmt: skip
    object_a = param.Selector(objects=list(OBJECT_NAMES[:8]), default="apple", label="object X",
                              doc="The object asked about.")  # fmt: skip
    object_b = param.Selector(objects=list(OBJECT_NAMES[:8]), default="ball", label="object Y",
                              doc="The second object (which came first).")  # fmt: skip
    time_step = param.Integer(0, bounds=(0, MAX_TIMES - 1), label="time step t",
                              doc="The time step asked about.")  # fmt: skip
    x_m = param.Number(0.5, bounds=(0.0, ARENA_M), step=0.01, label="x (m)",
                       doc="x of the place asked about (m).")  # fmt: skip
    y_m = param.Number(0.5, bounds=(0.0, ARENA_M), step=0.01, label="y (m)",
                       doc="y of the place asked about (m).")  # fmt: skip
    person = param.Selector(objects=list(ft.ENGLISH + ft.ITALIAN), default="Colin",
                            label="person X", doc="The person asked about.")  # fmt: skip
    relation = param.Selector(objects=list(ft.RELATIONS), default="uncle", label="relation R",
                              doc="The relation asked for.")  # fmt: skip
    chain = param.Selector(objects=list(ft.TWO_HOP_CHAINS), default="grandparent",
                           label="two-hop query", doc="A chain of two relations.")  # fmt: skip
    scene = param.ClassSelector(class_=SceneMemoryModel, doc="The scene memory.")
    family = param.ClassSelector(class_=FamilyTreeModel, doc="The family-tree memory.")

    def __init__(self, **params: Any) -> None:
        params.setdefault("scene", SceneMemoryModel())
        params.setdefault("family", FamilyTreeModel())
        super().__init__(**params)
        self.banner = ErrorBanner()
        self.answer = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.bars_pane = pn.pane.HoloViews(sizing_mode="stretch_width")
        self.scene_pane = pn.pane.HoloViews(sizing_mode="stretch_width")
        self.tree_pane = pn.pane.HoloViews(sizing_mode="stretch_width")
        self.scene_session: SceneSession | None = None
        self.family_session: FamilySession | None = None
        self.last_answer: dict[str, Any] = {}
        self._curve_cache: dict[tuple, dict[str, Any]] = {}
        self._build_curve_section()
        self._rebuild_scene(pick_event=True)
        self._rebuild_family()
        self.scene.param.watch(self._on_scene, list(self.scene.param_names()))
        self.family.param.watch(self._on_family, list(self.family.param_names()))
        self.param.watch(self._on_query, ["query", "object_a", "object_b", "time_step", "x_m",
                                          "y_m", "person", "relation", "chain"])  # fmt: skip

    @classmethod
    def warm_up(cls) -> None:
        """Compile the default shapes: store, every query type and the family read-out."""
        page = cls()
        for query in QUERIES:
            page.query = query

    # -- reactions -------------------------------------------------------------------------
    def _on_scene(self, *_: Any) -> None:
        if self._guard(self._rebuild_scene) and self.query in SCENE_QUERIES:
            self._guard(self._answer)

    def _on_family(self, *_: Any) -> None:
        if self._guard(self._rebuild_family) and self.query not in SCENE_QUERIES:
            self._guard(self._answer)

    def _on_query(self, *_: Any) -> None:
        self._guard(self._answer)

    def _rebuild_scene(self, pick_event: bool = False) -> None:
        session = self.scene.build()
        self.scene_session = session
        names = list(session.names)
        with param.parameterized.discard_events(self):
            self.param.object_a.objects = names
            self.param.object_b.objects = names
            self.object_a = self.object_a if self.object_a in names else names[0]
            self.object_b = self.object_b if self.object_b in names else names[1]
            self.param.time_step.bounds = (0, session.scene.n_times - 1)
            self.time_step = min(self.time_step, session.scene.n_times - 1)
        if pick_event:
            self.use_stored_event(0)
        self._draw_scene()

    def _rebuild_family(self) -> None:
        self.family_session = self.family.build()
        self._draw_tree()

    def use_stored_event(self, index: int | None = None) -> None:
        """Point the query widgets at a stored event (random one if ``index`` is None)."""
        scene = self.scene_session.scene
        if index is None:
            index = int(np.random.default_rng().integers(scene.n_events))
        with param.parameterized.discard_events(self):
            self.object_a = self.scene_session.names[int(scene.objects[index])]
            self.time_step = int(scene.times[index])
            self.x_m, self.y_m = (round(float(v), 3) for v in scene.xy[index])
        self._guard(self._answer)

    # -- answers ---------------------------------------------------------------------------
    def _answer(self) -> None:
        self._update_widgets()
        handler = {
            WHERE: self._where, WHAT: self._what, FIRST: self._first,
            RELATION: self._relation, TWO_HOP: self._two_hop, ANALOGY: self._analogy,
        }[self.query]  # fmt: skip
        handler()

    def _where(self) -> None:
        r = self.scene_session.where(self.object_a, self.time_step)
        self.last_answer = r
        x, y = r["decoded_xy"]
        truth = (f"true position ({r['true_xy'][0]:.2f}, {r['true_xy'][1]:.2f}) m, error "
                 f"{r['error_bins']:.1f} bins" if r["true_xy"] is not None
                 else f"{self.object_a} was **not** stored at t = {self.time_step}")  # fmt: skip
        self.answer.object = (
            f"**{self.object_a} at t = {self.time_step} → ({x:.3f}, {y:.3f}) m** "
            f"(best similarity {r['similarity']:.2f}) · {truth}"
        )
        flat = r["heatmap"]
        self.bars_pane.object = arena_heatmap(
            flat, ARENA_M, true_xy=r["true_xy"], decoded_xy=r["decoded_xy"],
            title="similarity to the place code of every position",
        )  # fmt: skip
        self._draw_scene(highlight={self.object_a})

    def _what(self) -> None:
        r = self.scene_session.what(self.x_m, self.y_m, self.time_step)
        self.last_answer = r
        near = r["events_at_t"]
        closest = near[0] if near else None
        stored = (f"nearest stored event at t = {self.time_step}: {closest[0]} "
                  f"{100 * closest[1]:.1f} cm away" if closest
                  else f"nothing stored at t = {self.time_step}")  # fmt: skip
        truth = {closest[0]} if closest and closest[1] <= self.scene_session.bin_m else set()
        self.answer.object = (
            f"**({self.x_m:.2f}, {self.y_m:.2f}) m at t = {self.time_step} → {r['best']}** "
            f"(similarity {float(np.max(r['sims'])):.2f}) · {stored}"
        )
        self.bars_pane.object = similarity_bars(
            self.scene_session.names, r["sims"], answer={r["best"]}, truth=truth,
            title="similarity to every object",
        )  # fmt: skip
        self._draw_scene(highlight={r["best"]})

    def _first(self) -> None:
        a, b = self.object_a, self.object_b
        r = self.scene_session.first(a, b)
        self.last_answer = r
        dec, true = r["decoded_first"], r["true_first"]
        truth = (f"true first appearances t = {true[0]} and {true[1]}" if min(true) >= 0
                 else "one of them was never stored")  # fmt: skip
        self.answer.object = (
            f"**first: {r['answer']}** (decoded first appearances t = {dec[0]} for {a}, "
            f"t = {dec[1]} for {b}) · {truth}"
        )
        self.bars_pane.object = time_profiles(
            r["profiles"], [a, b], threshold=sm.WHEN_THRESHOLD, first=dec,
            title="best similarity over the arena at each time step",
        )  # fmt: skip
        self._draw_scene(highlight={a, b})

    def _family_answer(self, r: dict[str, Any], question: str, title: str) -> None:
        self.last_answer = r
        ok = "✓" if sorted(r["answer"]) == sorted(r["truth"]) else "✗"
        answer = ", ".join(r["answer"]) or "nobody"
        truth = ", ".join(r["truth"]) or "nobody"
        self.answer.object = f"**{question} → {answer}** {ok} · true: {truth}"
        self.bars_pane.object = similarity_bars(
            self.family_session.tree.names, r["sims"], answer=set(r["answer"]),
            truth=set(r["truth"]), threshold=0.5, title=title,
        )  # fmt: skip
        self._draw_tree(answer=r["answer"], truth=r["truth"])

    def _relation(self) -> None:
        r = self.family_session.relation(self.person, self.relation)
        self._family_answer(r, f"the {self.relation} of {self.person}",
                            f"unbind({self.relation}) from {self.person}'s record")  # fmt: skip

    def _two_hop(self) -> None:
        r = self.family_session.chain(self.person, self.chain)
        first = ", ".join(r["first_hop"]) or "nobody"
        self._family_answer(r, f"the {self.chain} of {self.person}",
                            f"second hop from the cleaned-up first hop ({first})")  # fmt: skip

    def _analogy(self) -> None:
        r = self.family_session.analogy(self.person, self.relation)
        self._family_answer(
            r, f"the other family's counterpart of the {self.relation} of {self.person}",
            f"unbind({self.relation}) from {self.person}'s record ⊙ family map",
        )  # fmt: skip

    # -- drawing ---------------------------------------------------------------------------
    def _scene_plot(self, highlight: set[str]) -> hv.Overlay:
        s = self.scene_session
        return scene_view(s.scene.objects, s.scene.xy, s.scene.times, s.names, ARENA_M,
                          highlight=highlight,
                          title=f"stored scene: {s.scene.n_events} events")  # fmt: skip

    def _draw_scene(self, highlight: set[str] | None = None) -> None:
        self.scene_pane.object = self._scene_plot(
            highlight={self.object_a} if highlight is None else highlight
        )

    def _draw_tree(self, answer: Any = (), truth: Any = ()) -> None:
        t = self.family_session.tree
        self.tree_pane.object = family_tree_graph(
            t.names, t.family, t.slot, t.generation, t.father, t.mother, t.spouse,
            subject=self.person, answer=set(answer), truth=set(truth),
            title="English (left) and Italian (right) families",
        )  # fmt: skip

    # -- widgets ---------------------------------------------------------------------------
    def _build_widgets(self) -> pn.Column:
        w = {name: pn.panel(self.param[name]) for name in (
            "query", "object_a", "object_b", "time_step", "x_m", "y_m", "person", "relation",
            "chain")}  # fmt: skip
        self._query_widgets = w
        self.ask_button = pn.widgets.Button(label="Ask", color="primary")
        self.ask_button.on_click(lambda _e: self._on_query())
        self.event_button = pn.widgets.Button(label="Random stored event")
        self.event_button.on_click(lambda _e: self.use_stored_event(None))
        self._update_widgets()
        return pn.Column(*w.values(), pn.Row(self.ask_button, self.event_button),
                         sizing_mode="stretch_width")  # fmt: skip

    def _update_widgets(self) -> None:
        widgets = getattr(self, "_query_widgets", None)
        if not widgets:
            return
        shown = {
            WHERE: {"object_a", "time_step"}, WHAT: {"x_m", "y_m", "time_step"},
            FIRST: {"object_a", "object_b"}, RELATION: {"person", "relation"},
            TWO_HOP: {"person", "chain"}, ANALOGY: {"person", "relation"},
        }[self.query]  # fmt: skip
        for name, widget in widgets.items():
            widget.visible = name == "query" or name in shown
        if hasattr(self, "event_button"):
            self.event_button.visible = self.query in (WHERE, WHAT)

    # -- accuracy curves -------------------------------------------------------------------
    def _build_curve_section(self) -> None:
        self.curve_progress = ProgressReporter()
        self.curve_button = pn.widgets.Button(
            label="Compute accuracy curves", color="primary",
            description="Accuracy of every query type vs D and vs load, 5 random scenes / "
            "code draws each, at the current settings",
        )  # fmt: skip
        self.curve_button.on_click(lambda _e: self.compute_curves())
        self.curve_progress.param.watch(
            lambda e: setattr(self.curve_button, "disabled", e.new), "busy"
        )
        self.curve_panes = [pn.pane.HoloViews(sizing_mode="stretch_width") for _ in range(4)]
        self.curves: dict[str, Any] = {}

    def _curve_key(self) -> tuple:
        s, f = self.scene, self.family
        return (s.dim, s.position_code, s.n_objects, s.n_times, s.n_events, s.noise,
                f.dim, f.noise)  # fmt: skip

    def compute_curves(self, *, background: bool = True) -> None:
        """Accuracy vs D and vs load for the scene and the family trees (cached per setting);
        on a worker thread with the progress bar unless ``background`` is False."""
        key = self._curve_key()
        if key in self._curve_cache:
            self._show_curves(self._curve_cache[key])
            return

        def work(report: Progress) -> dict[str, Any]:
            result = accuracy_sweeps(self.scene, self.family, seeds=range(5), progress=report)
            self._curve_cache[key] = result
            return result

        self.curve_progress.run(
            work, on_done=self._show_curves, on_error=self.banner.show, background=background
        )

    def _show_curves(self, data: dict[str, Any]) -> None:
        self.curves = data
        for pane, fig in zip(self.curve_panes, accuracy_figures(data).values(), strict=True):
            pane.object = fig

    # -- layout ----------------------------------------------------------------------------
    def __panel__(self) -> pn.viewable.Viewable:
        sidebar = [
            "#### Ask", self._build_widgets(),
            "#### Scene memory",
            pn.Param(self.scene, show_name=False, sizing_mode="stretch_width"),
            "#### Family-tree memory",
            pn.Param(self.family, show_name=False, sizing_mode="stretch_width"),
        ]  # fmt: skip
        main = [
            self.banner, self.answer,
            pn.Row(self.bars_pane, self.scene_pane, sizing_mode="stretch_width"),
            self.tree_pane,
            "### Accuracy vs dimension and load", self.curve_button, self.curve_progress,
            pn.GridBox(*self.curve_panes, ncols=2, sizing_mode="stretch_width"),
            ReproduceSection(self, self.banner),
        ]  # fmt: skip
        return page_layout(self, EXPLANATION, sidebar, main)

    # -- reproduce -------------------------------------------------------------------------
    def _measure(self, quick: bool, progress: Progress) -> tuple[dict, dict]:
        seeds = range(5) if quick else range(20)
        data = accuracy_sweeps(
            SceneMemoryModel(), FamilyTreeModel(), seeds=seeds, progress=progress
        )
        i = DIMS.index(DEFAULT_DIM)
        scene_at = {k: data["scene_by_dim"][k][i] for k in SCENE_KEYS}
        family_at = {k: data["family_by_dim"]["records"][k][i] for k in FAMILY_KEYS}
        crossings = {f"scene {k}": crossing_dim(DIMS, data["scene_by_dim"][k]) for k in SCENE_KEYS}
        crossings |= {
            f"family {k}": crossing_dim(DIMS, data["family_by_dim"]["records"][k])
            for k in FAMILY_KEYS
        }
        rises = {name: curve[0] < curve[-1] or curve[0] >= TARGET for name, curve in (
            *((f"scene {k}", data["scene_by_dim"][k]) for k in SCENE_KEYS),
            *((f"family {k}", data["family_by_dim"]["records"][k]) for k in FAMILY_KEYS),
        )}  # fmt: skip
        known = [d for d in crossings.values() if d is not None]
        metrics = {
            "scene_accuracy": min(scene_at.values()),
            "scene_at_default": scene_at,
            "scene_where_error_bins": data["scene_by_dim"]["where_error_bins"][i],
            "family_accuracy": min(family_at["one_hop"], family_at["two_hop"]),
            "family_at_default": family_at,
            "family_triples_at_default": {
                k: data["family_by_dim"]["triples"][k][i] for k in FAMILY_KEYS
            },
            "family_triples_dims_to_95": crossing_dim(
                DIMS, data["family_by_dim"]["triples"]["one_hop"]
            ),
            "dims_to_95": max(known) if len(known) == len(crossings) else None,
            "crossings": crossings,
            "curves_rise": rises,
            "n_seeds": len(seeds),
            "curves": data,
        }
        return metrics, accuracy_figures(data)

    def _judge(self, claim: Claim, metrics: dict) -> ClaimResult:
        value = metrics[claim.key]
        if claim.key == "scene_accuracy":
            parts = ", ".join(
                f"{k} {100 * v:.1f} %" for k, v in metrics["scene_at_default"].items()
            )
            detail = f"{parts}; mean where error {metrics['scene_where_error_bins']:.2f} bins"
            return ClaimResult(claim, value, value >= TARGET, detail)
        if claim.key == "family_accuracy":
            parts = ", ".join(
                f"{k} {100 * v:.1f} %" for k, v in metrics["family_at_default"].items()
            )
            tri = metrics["family_triples_at_default"]
            detail = (f"{parts}; one-trace triples memory at D = 1024: 1-hop "
                      f"{100 * tri['one_hop']:.1f} %, 2-hop {100 * tri['two_hop']:.1f} % "
                      f"(>= 95 % from D = {metrics['family_triples_dims_to_95']})")  # fmt: skip
            return ClaimResult(claim, value, value >= TARGET, detail)
        crossings = metrics["crossings"]
        flat = [k for k, ok in metrics["curves_rise"].items() if not ok]
        never = [k for k, d in crossings.items() if d is None or d > DEFAULT_DIM]
        detail = "; ".join(f"{k}: {d}" for k, d in crossings.items())
        if never:
            detail += f" — not >= 95 % by D = {DEFAULT_DIM}: {', '.join(never)}"
        if flat:
            detail += f" — not rising: {', '.join(flat)}"
        return ClaimResult(claim, value, not never and not flat, detail)
