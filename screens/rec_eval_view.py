"""The Recommendations screen's evaluation panel: offline metrics per recommender, the hybrid's
editable weights and an A/B comparison of two recommenders (or weightings).

Everything is computed in workers: :func:`~shopper_tui.analytics.rec_eval.prepare_evaluation`
(a time-based split and a fit on its training part, cached by data fingerprint) once, then
:func:`~shopper_tui.analytics.rec_eval.evaluate` and
:func:`~shopper_tui.analytics.rec_eval.ab_compare` on that split whenever the weights, ``k``
or the arms change (well under a second on the bundled sample, no refit).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from shopper_tui.jobs import JobOwner, job_progress
from shopper_tui.widgets import FrameTable

if TYPE_CHECKING:
    from shopper_tui.analytics.cache import ArtifactCache
    from shopper_tui.analytics.rec_eval import EvalSetup
    from shopper_tui.analytics.workspace import Workspace

__all__ = ["ARMS", "EDITABLE_SIGNALS", "K_CHOICES", "EvalPanel", "EvalResult", "ab_table", "metrics_table"]

#: Signals whose hybrid weight can be edited (session cannot be evaluated offline).
EDITABLE_SIGNALS = ("collaborative", "item_item", "content", "segment", "session")
#: What each A/B arm can serve: a single recommender, the hybrid with the current weights,
#: or the hybrid with the shipped default weights.
ARMS = ("hybrid", "popularity", "collaborative", "item_item", "content", "segment", "default hybrid")
K_CHOICES = (5, 10, 20)
WEIGHT_STEP = 0.05


@dataclass(frozen=True)
class EvalResult:
    """What one evaluation run produced."""

    setup: EvalSetup
    metrics: pl.DataFrame
    ab: pl.DataFrame
    k: int
    weights: dict[str, float]
    arms: tuple[str, str]


def _arm_spec(arm: str) -> Any:
    from shopper_tui.analytics.recommend import DEFAULT_WEIGHTS

    return dict(DEFAULT_WEIGHTS) if arm == "default hybrid" else arm


def metrics_table(metrics: pl.DataFrame) -> pl.DataFrame:
    """The evaluation frame for the screen: metrics rounded, plus precision relative to the
    popularity baseline."""
    base = metrics.filter(pl.col("model") == "popularity").get_column("precision")
    base_p = float(base[0]) if len(base) else 0.0
    return metrics.select(
        "model", "k",
        *[pl.col(c).round(4) for c in ("precision", "recall", "ndcg", "map", "coverage", "novelty")],
        (pl.col("precision") / base_p).round(2).alias("p_vs_popularity") if base_p > 0 else pl.lit(None, pl.Float64).alias("p_vs_popularity"),
        "users",
    )


def ab_table(ab: pl.DataFrame) -> pl.DataFrame:
    """The A/B frame for the screen: each arm's mean with its 95 % interval, the difference
    B − A with its interval, the p-value and a verdict."""

    def ci(low: str, high: str) -> pl.Expr:
        return pl.when(pl.col(low).is_null()).then(pl.lit("")).otherwise(
            pl.format("{} – {}", pl.col(low).round(4), pl.col(high).round(4)))

    return ab.select(
        "metric",
        pl.col("mean_a").round(4).alias("A"), ci("low_a", "high_a").alias("A 95% CI"),
        pl.col("mean_b").round(4).alias("B"), ci("low_b", "high_b").alias("B 95% CI"),
        pl.col("diff").round(4).alias("B − A"), ci("diff_low", "diff_high").alias("diff 95% CI"),
        pl.when(pl.col("p_value").is_null()).then(pl.lit(""))
        .when(pl.col("p_value") < 1e-4).then(pl.lit("<0.0001"))
        .otherwise(pl.col("p_value").round(4).cast(pl.String)).alias("p"),
        pl.when(pl.col("significant").is_null()).then(pl.lit("no test (per arm)"))
        .when(pl.col("significant") & (pl.col("diff") > 0)).then(pl.lit("B higher, significant"))
        .when(pl.col("significant")).then(pl.lit("A higher, significant"))
        .otherwise(pl.lit("no significant difference")).alias("verdict"),
    )


class EvalPanel(JobOwner, Vertical):
    """Offline evaluation, hybrid weights and A/B comparison.

    The owner sets :attr:`weights` (shared with the live recommendations) and calls
    :meth:`start` when the panel is first shown; weight edits post :class:`WeightsChanged`.
    """

    @dataclass
    class WeightsChanged(Message):
        """The user edited the hybrid weights."""

        weights: dict[str, float]

    def __init__(self, *, weights: dict[str, float], id: str | None = None) -> None:
        super().__init__(id=id)
        self.weights = dict(weights)
        self.selected = 0
        self.k = 10
        self.arms: tuple[str, str] = ("hybrid", "popularity")
        self.result: EvalResult | None = None
        self._setup: EvalSetup | None = None
        self._labels: pl.DataFrame | None = None
        self._started = False

    def compose(self) -> ComposeResult:
        yield Static("Evaluation not run yet: it starts when this panel is shown.", id="eval-head", markup=False)
        yield Static("", id="eval-weights", markup=False)
        yield FrameTable(name="recommender-evaluation", empty_text="Evaluating…", id="eval-table")
        yield Static("", id="ab-head", markup=False)
        yield FrameTable(name="recommender-ab", empty_text="A/B comparison follows the evaluation.", id="ab-table")

    def on_mount(self) -> None:
        self._show_weights()
        self._show_arms()

    # -- running ---------------------------------------------------------------------------
    @property
    def started(self) -> bool:
        return self._started

    def start(self, ws: Workspace, cache: ArtifactCache, labels: pl.DataFrame | None) -> None:
        """Split, fit and evaluate (the split and fit come from the cache after the first time)."""
        self._started = True
        self._labels = labels
        self.query_one("#eval-head", Static).update("Evaluating: splitting the data in time and fitting on the training part…")
        self._prepare(ws, cache, labels, self.k, dict(self.weights), self.arms)

    def set_labels(self, labels: pl.DataFrame | None) -> None:
        """New segment labels (the app's segmentation changed): re-evaluate with them."""
        self._labels = labels
        if self._setup is not None:
            self._setup = self._setup.with_segments(labels)
            self.rerun()

    def rerun(self) -> None:
        """Evaluate again on the prepared split with the current weights, k and arms."""
        if self._setup is None:
            return
        self.query_one("#eval-head", Static).update(self._head("re-evaluating…"))
        self._evaluate(self._setup, self.k, dict(self.weights), self.arms)

    @work(thread=True, exclusive=True, exit_on_error=False, group="rec-eval")
    def _prepare(self, ws: Workspace, cache: ArtifactCache, labels: pl.DataFrame | None, k: int,
                 weights: dict[str, float], arms: tuple[str, str]) -> EvalResult:
        from shopper_tui.analytics.rec_eval import prepare_evaluation

        progress = job_progress("Evaluating recommenders")
        setup = prepare_evaluation(ws, labels=labels, cache=cache, progress=progress)
        return self._run(setup, k, weights, arms, progress)

    @work(thread=True, exclusive=True, exit_on_error=False, group="rec-eval")
    def _evaluate(self, setup: EvalSetup, k: int, weights: dict[str, float], arms: tuple[str, str]) -> EvalResult:
        return self._run(setup, k, weights, arms, job_progress("Re-evaluating recommenders"))

    @staticmethod
    def _run(setup: EvalSetup, k: int, weights: dict[str, float], arms: tuple[str, str], progress: Any) -> EvalResult:
        from shopper_tui.analytics.rec_eval import ab_compare, evaluate

        progress("metrics per recommender", 0.0)
        metrics = evaluate(setup, k=k, weights=weights, progress=progress)
        progress("A/B comparison", 0.5)
        ab = ab_compare(_arm_spec(arms[0]), _arm_spec(arms[1]), data=setup, k=k, weights=weights, progress=progress)
        return EvalResult(setup, metrics, ab, k, weights, arms)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "rec-eval" and event.state is WorkerState.SUCCESS:
            self.show(event.worker.result)  # type: ignore[arg-type]

    def show(self, result: EvalResult) -> None:
        self.result = result
        self._setup = result.setup
        self.query_one("#eval-head", Static).update(self._head())
        self.query_one("#eval-table", FrameTable).set_frame(metrics_table(result.metrics), keep_view=True)
        self.query_one("#ab-table", FrameTable).set_frame(ab_table(result.ab), keep_view=True)
        self._show_arms()

    def _head(self, state: str = "") -> str:
        r = self.result
        if r is None:
            return "Evaluating…"
        text = f"Offline evaluation @ k={r.k} · {r.setup.description}"
        if self._labels is None:
            text += " · segment signal = overall popularity (no segmentation yet)"
        return text + (f" · {state}" if state else "")

    # -- editing ---------------------------------------------------------------------------
    def next_signal(self) -> None:
        self.selected = (self.selected + 1) % len(EDITABLE_SIGNALS)
        self._show_weights()

    def change_weight(self, delta: float) -> None:
        signal = EDITABLE_SIGNALS[self.selected]
        value = round(max(0.0, self.weights.get(signal, 0.0) + delta), 2)
        if value == 0 and not any(w > 0 for s, w in self.weights.items() if s != signal and s != "session"):
            self.app.notify("At least one offline signal needs a weight above 0.", severity="warning")
            return
        self.weights[signal] = value
        self._show_weights()
        self.post_message(self.WeightsChanged(dict(self.weights)))
        self.rerun()

    def next_k(self) -> None:
        self.k = K_CHOICES[(K_CHOICES.index(self.k) + 1) % len(K_CHOICES)] if self.k in K_CHOICES else 10
        self.rerun()

    def next_arm(self, which: int) -> None:
        arms = list(self.arms)
        arms[which] = ARMS[(ARMS.index(arms[which]) + 1) % len(ARMS)]
        if arms[0] == arms[1]:
            arms[which] = ARMS[(ARMS.index(arms[which]) + 1) % len(ARMS)]
        self.arms = (arms[0], arms[1])
        self._show_arms()
        self.rerun()

    def _show_weights(self) -> None:
        text = Text("Hybrid weights  ", style="bold")
        for i, signal in enumerate(EDITABLE_SIGNALS):
            style = "reverse bold" if i == self.selected else ""
            text.append(f" {signal} {self.weights.get(signal, 0.0):.2f} ", style=style)
            text.append(" ")
        text.append("· w next · +/- change · k cut-off · session is live-only (not evaluated offline)", style="dim")
        self.query_one("#eval-weights", Static).update(text)

    def _show_arms(self) -> None:
        text = Text("A/B  ", style="bold")
        text.append(f"A = {self.arms[0]}", style="bold")
        text.append("  vs  ")
        text.append(f"B = {self.arms[1]}", style="bold")
        r = self.result
        if r is not None and r.arms == self.arms and r.ab.height:
            users_a, users_b = int(r.ab.get_column("users_a")[0]), int(r.ab.get_column("users_b")[0])
            text.append(f"  · held-out customers split by hash: {users_a:,} in A, {users_b:,} in B; 95 % CIs, Welch t-test")
        text.append("  · a / b change arms", style="dim")
        self.query_one("#ab-head", Static).update(text)
