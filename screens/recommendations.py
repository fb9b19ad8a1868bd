"""Recommendations: one shopper's ranked products with the reasons behind each, a live session
simulator, cold start, offline evaluation and A/B comparison.

The hybrid recommender is fitted in a worker the first time the screen is shown (from the
artifact cache afterwards). The segment signal uses the app's shared segmentation: when it is
not ready the model is fitted without it, the segmentation is requested, and its labels are
applied when they arrive (no refit). Scoring one shopper takes a few milliseconds, so the
ranking is recomputed at once whenever the customer, the session, the weights or the
repeat-purchase toggle change; items that moved since the previous ranking are marked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.suggester import SuggestFromList
from textual.widgets import ContentSwitcher, Input, Label, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState
from textual_fastdatatable import DataTable as FastDataTable

from shopper_tui.analytics.errors import ShopperError
from shopper_tui.jobs import in_lane, job_progress
from shopper_tui.palette import PaletteCommands
from shopper_tui.widgets import FrameTable, ShopperScreen, no_data_text

from .rec_eval_view import EvalPanel

if TYPE_CHECKING:
    from shopper_tui.analytics.purchases import GuestShare
    from shopper_tui.analytics.recommend import RecModel, Recommendations
    from shopper_tui.analytics.segmentation import SegmentationResult
    from shopper_tui.analytics.workspace import Workspace

__all__ = ["PICKER_LIMIT", "RecommendationCommands", "RecommendationsScreen", "recommendation_rows"]

N_ITEMS = 10
PICKER_LIMIT = 200
SIGNAL_STYLE = {"collaborative": "#5fafff", "item_item": "#ffaf5f", "content": "#87d787",
                "segment": "#d787d7", "session": "#ffd75f"}
SIGNAL_SHORT = {"collaborative": "collab", "item_item": "item-item", "content": "content", "segment": "segment",
                "session": "session"}
BAR_WIDTH = 20


def recommendation_rows(recs: Recommendations, previous: dict[str, int] | None) -> pl.DataFrame:
    """The table of one ranking: rank, move (▲n / ▼n / new against ``previous``, product id →
    rank), product, category, price, score, each signal's share in whole percent, why."""
    from shopper_tui.analytics.recommenders import SIGNALS, percent_shares

    items = recs.items
    shares = items.select([f"share_{s}" for s in SIGNALS]).rows()
    percents = [percent_shares(row) for row in shares]
    move: list[str] = []
    for pid, rank in zip(items.get_column("product_id").to_list(), items.get_column("rank").to_list(), strict=True):
        if previous is None:
            move.append("")
        elif pid not in previous:
            move.append("new")
        elif previous[pid] > rank:
            move.append(f"▲{previous[pid] - rank}")
        elif previous[pid] < rank:
            move.append(f"▼{rank - previous[pid]}")
        else:
            move.append("=")
    return items.select(
        "rank", pl.Series("move", move, dtype=pl.String), "name", "category", "price", pl.col("score").round(3),
        *[pl.Series(f"{SIGNAL_SHORT[s]} %", [p[i] for p in percents], dtype=pl.Int64) for i, s in enumerate(SIGNALS)],
        "why", "product_id",
    )


def reasons_text(item: dict[str, Any], *, cold_start: bool) -> Text:
    """One item's reasons, each with an inline bar of its share (literal product names)."""
    text = Text()
    text.append(f"#{item['rank']} ", style="bold")
    text.append(str(item["name"] or item["product_id"]), style="bold")
    price = f"{item['price']:,.2f}" if item.get("price") is not None else "—"
    text.append(f"  · {item['category']} · {price} · score {item['score']:.3f}\n", style="dim")
    for reason in item["reasons"] or []:
        filled = round(reason["share"] * BAR_WIDTH)
        style = SIGNAL_STYLE.get(reason["signal"], "white")
        label = SIGNAL_SHORT.get(reason["signal"], reason["signal"])
        text.append(f"  {label:<10}")
        text.append("█" * filled, style=style)
        text.append("░" * (BAR_WIDTH - filled), style="dim")
        text.append(f" {reason['percent']:>3} %  ")
        text.append(str(reason["text"]))
        text.append("\n")
    if cold_start:
        text.append("  cold start: no purchase history, so no collaborative or item-item signal", style="italic dim")
    return text


#: What the ranking on screen was scored for: customer, session, signal weights, repeat purchases.
_ScoreState = tuple[str | None, tuple[tuple[str, str], ...], tuple[tuple[str, float], ...], bool]


@dataclass
class _Trained:
    """A worker's model: what it was labelled with, the customer box's completions (None: keep
    the ones shown), and the shopper on screen already scored, for that state."""

    model: RecModel
    source: object
    suggester: SuggestFromList | None
    scored: tuple[_ScoreState, Recommendations] | None = None
    guests: GuestShare | None = None  # the guest orders the model leaves out (None: not asked)


class RecommendationCommands(PaletteCommands):
    """Every action of the Recommendations screen in the command palette."""

    COMMANDS = (
        ("Recommendations: pick a customer", "Type or search a customer id (i)", "focus_customer"),
        ("Recommendations: anonymous shopper", "Cold start: no customer, only the live session (n)", "anonymous"),
        ("Recommendations: toggle repeat purchases", "Include or exclude products already bought (r)", "toggle_repeat"),
        ("Recommendations: add session products", "Open the product picker to simulate a live session (p)", "picker"),
        ("Recommendations: clear the live session", "Forget the simulated session's products (x)", "clear_session"),
        ("Recommendations: evaluation and A/B", "Offline metrics per recommender and the A/B table (e)", "toggle_eval"),
        ("Recommendations: next hybrid weight", "Select the next signal's weight to edit (w)", "next_weight"),
        ("Recommendations: raise the selected weight", "+0.05 on the selected signal, then re-evaluate (+)", "weight_up"),
        ("Recommendations: lower the selected weight", "-0.05 on the selected signal, then re-evaluate (-)", "weight_down"),
        ("Recommendations: change A/B arm A", "Cycle the recommender served to arm A (a)", "arm_a"),
        ("Recommendations: change A/B arm B", "Cycle the recommender served to arm B (b)", "arm_b"),
        ("Recommendations: change evaluation k", "Cycle the cut-off k: 5, 10, 20 (k)", "next_k"),
        ("Recommendations: retrain on the latest data", "Refit every signal on the workspace as it is now",
         "retrain"),
    )


class RecommendationsScreen(ShopperScreen):
    """Pick a shopper, read why each product is recommended, simulate a session, evaluate."""

    MODE = "recommendations"
    TITLE_TEXT = "Recommendations"
    CSS_PATH = "recommendations.tcss"
    COMMANDS = {RecommendationCommands}
    AUTO_FOCUS = ""
    BINDINGS = [
        Binding("i", "focus_customer", "Customer"),
        Binding("n", "anonymous", "Anonymous"),
        Binding("r", "toggle_repeat", "Repeat buys"),
        Binding("p", "picker", "Add to session"),
        Binding("x", "clear_session", "Clear session"),
        Binding("e", "toggle_eval", "Evaluation"),
        Binding("w", "next_weight", "Weight", show=False),
        Binding("plus,equals_sign", "weight_up", "Weight +", show=False),
        Binding("minus", "weight_down", "Weight -", show=False),
        Binding("a", "arm_a", "Arm A", show=False),
        Binding("b", "arm_b", "Arm B", show=False),
        Binding("k", "next_k", "k", show=False),
        Binding("escape", "close_panel", "Close", show=False),
    ]

    def __init__(self) -> None:
        from shopper_tui.analytics.recommend import DEFAULT_WEIGHTS

        super().__init__()
        self.model: RecModel | None = None
        self.customer: str | None = None
        self.session: list[tuple[str, str]] = []
        self.include_purchased = False
        self.weights: dict[str, float] = dict(DEFAULT_WEIGHTS)
        self.recs: Recommendations | None = None
        self.table_frame: pl.DataFrame | None = None
        self._labelled: object | None = None  # the segmentation the model's labels came from
        self._guests: GuestShare | None = None  # the guest orders the model leaves out, said under the box
        self._previous: dict[str, int] | None = None
        self._highlight = 0

    # -- layout ----------------------------------------------------------------------------
    def compose_body(self) -> ComposeResult:
        with Horizontal(id="rec-customer-bar"):
            yield Label("Customer", id="rec-customer-label")
            yield Input(placeholder="customer id, enter · blank = anonymous shopper", id="customer-input")
            yield Static("", id="rec-model-state", markup=False)
        yield Static("Training the recommender…", id="rec-note", markup=False)
        with ContentSwitcher(initial="rec-main", id="rec-views"):
            with Horizontal(id="rec-main"):
                with Vertical(id="rec-left"):
                    yield FrameTable(name="recommendations", empty_text="Waiting for the model…", id="rec-table")
                    yield Static("", id="rec-reasons", markup=False)
                with Vertical(id="session-panel"):
                    yield Label("Live session · enter = viewed, c = carted", id="session-title", markup=False)
                    yield Input(placeholder="filter products", id="picker-filter")
                    yield OptionList(id="picker")
                    yield Static("", id="session-list", markup=False)
            yield EvalPanel(weights=self.weights, id="rec-eval")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#session-panel").display = False
        self.watch(self.app, "segmentation", self._segmentation_changed, init=False)
        self.watch(self.app, "selected_customer", self._customer_selected, init=False)

    def watch_workspace(self, workspace: Workspace | None) -> None:
        if workspace is None:
            return
        self.model = None
        self.recs = None
        self._previous = None
        self.query_one("#rec-model-state", Static).update("training…")
        self.query_one("#rec-note", Static).update("Training the recommender (ALS, item-item, content, popularity)…")
        self._fit(workspace, self._labels(), self.app.segmentation)

    def data_changed(self) -> None:
        """New rows in watch mode: keep serving the trained model (refitting ALS on every poll
        would keep a core busy); the palette's "retrain on the latest data" refits."""
        if self.model is None:
            return
        state = self.query_one("#rec-model-state", Static)
        text = str(state.render())
        if "new rows since training" not in text:
            state.update(f"{text} · new rows since training (ctrl+p: retrain)")

    def action_retrain(self) -> None:
        if self.workspace is not None:
            self.watch_workspace(self.workspace)

    def show_no_data(self, message: str) -> None:
        first, advice = no_data_text(message).split("\n", 1)
        self._cannot_train(ShopperError(first), advice)

    # -- workers ---------------------------------------------------------------------------
    def _labels(self) -> pl.DataFrame | None:
        from shopper_tui.models import segment_labels

        seg = self.app.segmentation
        return segment_labels(seg) if seg is not None else None

    def _cache(self, ws: Workspace) -> Any:
        from shopper_tui.models import artifact_cache

        return artifact_cache(ws, self.app.settings)

    @work(thread=True, exclusive=True, exit_on_error=False, group="rec-fit")
    def _fit(self, ws: Workspace, labels: pl.DataFrame | None, source: object) -> _Trained | ShopperError:
        from shopper_tui.analytics.recommend import fit_recommender

        progress = job_progress("Training recommender")
        try:
            model = fit_recommender(ws, labels=labels, cache=self._cache(ws), progress=progress)
        except ShopperError as exc:  # nothing to learn from (no purchases, views or carts): said in place
            return exc
        from shopper_tui.analytics.purchases import guest_share

        # the customer box's completions: a list of every customer, folded, built here (50 ms at L)
        return _Trained(model, source, SuggestFromList(model.customers.tolist(), case_sensitive=False),
                        guests=guest_share(ws))

    @work(thread=True, exclusive=True, exit_on_error=False, group="rec-segments")
    @in_lane
    def _apply_segments(self, model: RecModel, labels: pl.DataFrame | None, source: object,
                        state: _ScoreState) -> _Trained:
        from shopper_tui.analytics.recommend import recommend

        job_progress("Recommender: segment popularity")("applying segment labels", None)
        model = model.with_segments(labels)
        # the shopper on screen, scored here: a segmentation finishing sets every screen's
        # workers going, and scoring on the UI thread then took 50-200 ms
        customer, session, weights, include_purchased = state
        try:
            recs = recommend(model, customer, n=N_ITEMS, weights=dict(weights), session=list(session),
                             include_purchased=include_purchased)
        except ShopperError:  # scored again on the UI thread, which says why
            return _Trained(model, source, None)
        return _Trained(model, source, None, (state, recs))

    def _score_state(self) -> _ScoreState:
        return self.customer, tuple(self.session), tuple(self.weights.items()), self.include_purchased

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is not WorkerState.SUCCESS:
            return
        if event.worker.group in ("rec-fit", "rec-segments"):
            trained = event.worker.result
            if isinstance(trained, ShopperError):
                self._cannot_train(trained)
                return
            assert isinstance(trained, _Trained)
            first = self.model is None
            self.model = trained.model
            self._labelled = trained.source
            if trained.suggester is not None:  # a new fit (not new segments): its guest note too
                self.query_one("#customer-input", Input).suggester = trained.suggester
                self._guests = trained.guests
            scored = trained.scored
            self._model_ready(first, scored[1] if scored is not None and scored[0] == self._score_state() else None)

    def _cannot_train(self, error: ShopperError, hint: str = "") -> None:
        self.model = None
        self.query_one("#rec-model-state", Static).update("no model")
        self.query_one("#rec-note", Static).update(Text.assemble(("No recommendations: ", "bold"), error.message))
        self.query_one("#rec-reasons", Static).update(
            hint or "Recommendations learn from orders and events; add them to the source and import it again.")
        table = self.query_one("#rec-table", FrameTable)
        table.empty_text = "No model."
        table.set_frame(pl.DataFrame())

    def _model_ready(self, first: bool, recs: Recommendations | None = None) -> None:
        model = self.model
        assert model is not None
        app: Any = self.app
        n_customers = len(model.customers)
        seg = "segments: " + (app.segment_choice.describe() if self._labelled is not None else "none yet (overall popularity)")
        self.query_one("#rec-model-state", Static).update(
            f"{n_customers:,} customers · {model.n_items:,} products · content {model.content_backend} · {seg}")
        if first:
            self._filter_picker("")
            self._show_session()
            if self.customer is None:
                self.customer = app.selected_customer or (str(model.customers[0]) if n_customers else None)
                self.query_one("#customer-input", Input).value = self.customer or ""
        if app.segmentation is not None and app.segmentation is not self._labelled:
            self._apply_segments(model, self._labels(), app.segmentation, self._score_state())
        elif app.segmentation is None and app.workspace is not None:
            app.request_segmentation()
        self.refresh_recs(keep_marks=False, recs=recs)  # a new model is not the user's doing: no move marks
        if first and self.focused is None and self.query_one("#rec-views", ContentSwitcher).current == "rec-main":
            self._focus_table()

    def _segmentation_changed(self, seg: SegmentationResult | None) -> None:
        if self.model is not None and seg is not None and seg is not self._labelled:
            self._apply_segments(self.model, self._labels(), seg, self._score_state())
        panel = self.query_one(EvalPanel)
        if panel.started and seg is not None:
            panel.set_labels(self._labels())

    def _customer_selected(self, customer: str | None) -> None:
        if customer:
            self.pick_customer(customer)

    # -- the ranking ------------------------------------------------------------------------
    def pick_customer(self, customer: str | None) -> None:
        """Show ``customer`` (None = an anonymous shopper); the session starts empty."""
        self.customer = customer or None
        self.session = []
        self._previous = None
        self.query_one("#customer-input", Input).value = customer or ""
        self._show_session()
        self.refresh_recs(keep_marks=False)

    def refresh_recs(self, *, keep_marks: bool = True, recs: Recommendations | None = None) -> None:
        """Score the current shopper again (milliseconds: no retraining) and show it; ``recs``:
        already scored (by a worker) for the shopper, session and weights on screen."""
        from shopper_tui.analytics.recommend import recommend

        if self.model is None:
            return
        previous = self._previous if keep_marks else None
        if recs is None:
            recs = recommend(self.model, self.customer, n=N_ITEMS, weights=self.weights, session=self.session,
                             include_purchased=self.include_purchased)
        self.recs = recs
        self._previous = dict(zip(recs.items.get_column("product_id").to_list(),
                                  recs.items.get_column("rank").to_list(), strict=True))
        self.table_frame = recommendation_rows(recs, previous)
        self.query_one("#rec-table", FrameTable).set_frame(self.table_frame, keep_view=True)
        self._highlight = 0
        self._show_note()
        self._show_reasons()

    def _show_note(self) -> None:
        recs = self.recs
        if recs is None:
            return
        who = self.customer or "anonymous shopper"
        text = Text()
        if recs.cold_start:
            unknown = f"'{self.customer}' has no history here" if self.customer else "no customer"
            text.append(" COLD START ", style="reverse bold")
            text.append(f" {unknown} — {recs.note.removeprefix('cold start: ')}")
        else:
            text.append(f"{who}", style="bold")
            text.append(f": {recs.note}")
        text.append(" · repeat purchases " + ("shown" if self.include_purchased else "hidden") + " (r)")
        if self._guests is not None and self._guests.orders:  # customers' recommendations: guests are not among them
            g = self._guests
            text.append(f" · {g.orders:,} guest orders ({g.share_of_revenue:.0%} of revenue) not included", style="dim")
        moved = self.table_frame.filter(pl.col("move").is_in(["", "="]).not_()).height if self.table_frame is not None else 0
        if self._previous is not None and moved and any(self.table_frame.get_column("move") != ""):  # type: ignore[union-attr]
            text.append(f" · {moved} moved", style="bold")
        self.query_one("#rec-note", Static).update(text)

    def _show_reasons(self) -> None:
        recs = self.recs
        box = self.query_one("#rec-reasons", Static)
        if recs is None or recs.items.is_empty():
            box.update("No products to recommend." if self.include_purchased else
                       "No products left to recommend: this shopper has bought every product · "
                       "r: show products already bought")
            return
        view = self.query_one("#rec-table", FrameTable).view
        index = min(self._highlight, max(view.height - 1, 0))
        pid = view.get_column("product_id")[index] if view.height else recs.items.get_column("product_id")[0]
        item = recs.items.filter(pl.col("product_id") == pid).row(0, named=True)
        box.update(reasons_text(item, cold_start=recs.cold_start))

    @on(FastDataTable.CellHighlighted)
    def _row_highlighted(self, event: FastDataTable.CellHighlighted) -> None:
        if self.query_one("#rec-table", FrameTable) in event.data_table.ancestors:
            self._highlight = event.coordinate.row
            self._show_reasons()

    # -- the session ------------------------------------------------------------------------
    def add_to_session(self, product_id: str, kind: str = "view") -> None:
        """Add a viewed or carted product to the simulated session and re-rank."""
        self.session = [(p, k) for p, k in self.session if p != product_id] + [(product_id, kind)]
        self._show_session()
        self.refresh_recs(keep_marks=True)

    def _show_session(self) -> None:
        text = Text("Session: ", style="bold")
        if not self.session:
            text.append("empty · p opens the product picker", style="dim")
        names = self._names()
        for product_id, kind in self.session:
            text.append(f"\n {'carted' if kind == 'add_to_cart' else 'viewed'} ")
            text.append(names.get(product_id, product_id))
        self.query_one("#session-list", Static).update(text)

    def _names(self) -> dict[str, str]:
        if self.model is None:
            return {}
        items = self.model.items
        return dict(zip(items.get_column("product_id").to_list(),
                        items.get_column("name").fill_null("").to_list(), strict=True))

    @on(Input.Changed, "#picker-filter")
    def _picker_filter_changed(self, event: Input.Changed) -> None:
        self._filter_picker(event.value)

    def _filter_picker(self, query: str) -> None:
        if self.model is None:
            return
        items = self.model.items
        q = query.strip().lower()
        if q:
            items = items.filter(pl.any_horizontal(
                pl.col(c).cast(pl.String).fill_null("").str.to_lowercase().str.contains(q, literal=True)
                for c in ("product_id", "name", "category")))
        picker = self.query_one("#picker", OptionList)
        picker.clear_options()
        picker.add_options([
            Option(Text(f"{r['name'] or r['product_id']} · {r['category']} · {r['price'] or 0:,.2f}"), id=r["product_id"])
            for r in items.head(PICKER_LIMIT).iter_rows(named=True)
        ])
        if items.height > PICKER_LIMIT:
            self.query_one("#session-title", Label).update(
                f"Live session · first {PICKER_LIMIT} of {items.height:,} · enter viewed, c carted")
        else:
            self.query_one("#session-title", Label).update(f"Live session · {items.height:,} products · enter viewed, c carted")

    @on(Input.Submitted, "#picker-filter")
    def _picker_filter_submitted(self, event: Input.Submitted) -> None:
        picker = self.query_one("#picker", OptionList)
        picker.focus()
        if picker.option_count and picker.highlighted is None:
            picker.highlighted = 0

    @on(OptionList.OptionSelected, "#picker")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.add_to_session(event.option.id, "view")

    def on_key(self, event: Any) -> None:
        picker = self.query_one("#picker", OptionList)
        if event.key == "c" and picker.has_focus and picker.highlighted is not None:
            option = picker.get_option_at_index(picker.highlighted)
            if option.id:
                event.stop()
                event.prevent_default()
                self.add_to_session(option.id, "add_to_cart")

    # -- the customer input ----------------------------------------------------------------
    @on(Input.Submitted, "#customer-input")
    def _customer_submitted(self, event: Input.Submitted) -> None:
        self.pick_customer(event.value.strip() or None)
        self._focus_table()

    def _focus_table(self) -> None:
        table = self.query_one("#rec-table", FrameTable).data_table
        if table is not None:
            table.focus()
        else:
            self.set_focus(None)

    # -- actions ---------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "close_panel":
            return self.query_one("#session-panel").display or isinstance(self.focused, Input)
        if action in ("next_weight", "weight_up", "weight_down", "arm_a", "arm_b", "next_k"):
            return self.query_one("#rec-views", ContentSwitcher).current == "rec-eval" or None
        return True

    def action_focus_customer(self) -> None:
        self.query_one("#rec-views", ContentSwitcher).current = "rec-main"
        self.query_one("#customer-input", Input).focus()

    def action_anonymous(self) -> None:
        self.pick_customer(None)

    def action_toggle_repeat(self) -> None:
        self.include_purchased = not self.include_purchased
        self.refresh_recs(keep_marks=True)

    def action_picker(self) -> None:
        self.query_one("#rec-views", ContentSwitcher).current = "rec-main"
        self.query_one("#session-panel").display = True
        self.query_one("#picker-filter", Input).focus()

    def action_clear_session(self) -> None:
        self.session = []
        self._show_session()
        self.refresh_recs(keep_marks=True)

    def action_close_panel(self) -> None:
        if isinstance(self.focused, Input) and self.focused.id == "customer-input":
            self._focus_table()
            return
        self.query_one("#session-panel").display = False
        self._focus_table()

    def action_toggle_eval(self) -> None:
        switcher = self.query_one("#rec-views", ContentSwitcher)
        if switcher.current == "rec-eval":
            switcher.current = "rec-main"
            self._focus_table()
            self.refresh_bindings()
            return
        switcher.current = "rec-eval"
        self.set_focus(None)
        self.refresh_bindings()
        panel = self.query_one(EvalPanel)
        ws = self.workspace
        if not panel.started and ws is not None:
            panel.start(ws, self._cache(ws), self._labels())

    def _show_eval(self) -> None:
        """The palette runs evaluation actions from any view: show the panel they change."""
        if self.query_one("#rec-views", ContentSwitcher).current != "rec-eval":
            self.action_toggle_eval()

    def action_next_weight(self) -> None:
        self._show_eval()
        self.query_one(EvalPanel).next_signal()

    def action_weight_up(self) -> None:
        self._show_eval()
        self.query_one(EvalPanel).change_weight(+0.05)

    def action_weight_down(self) -> None:
        self._show_eval()
        self.query_one(EvalPanel).change_weight(-0.05)

    def action_arm_a(self) -> None:
        self._show_eval()
        self.query_one(EvalPanel).next_arm(0)

    def action_arm_b(self) -> None:
        self._show_eval()
        self.query_one(EvalPanel).next_arm(1)

    def action_next_k(self) -> None:
        self._show_eval()
        self.query_one(EvalPanel).next_k()

    @on(EvalPanel.WeightsChanged)
    def _weights_changed(self, event: EvalPanel.WeightsChanged) -> None:
        self.weights = dict(event.weights)
        self.refresh_recs(keep_marks=True)
