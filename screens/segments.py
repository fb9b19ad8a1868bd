"""Segments: who the shoppers are — segments with personas and insights, drill-down to a
segment's customers and one customer, and two segments side by side.

The segmentation is the app's shared one (``app.segmentation``): this screen asks for it on
first show (trained in the app's worker with progress in the job bar, then cached on disk),
switches method (``m``), feature set (``f``) and k (``+``/``-``/``a``), and renders. Levels:
segments → ``enter`` → customers → ``enter`` → customer view; ``c`` marks a segment and, on
another, compares the two; ``escape`` goes back up one level.

Definitions (also in the help): RFM counts completed purchases only — cancelled and
returned orders, lines with a price or quantity ≤ 0 and orders without a customer are left
out. R = days since last purchase, F = orders, M = spend (marketing definition).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import ContentSwitcher, Label, Static
from textual.worker import Worker, WorkerState
from textual_fastdatatable import DataTable as GridTable

from shopper_tui.jobs import in_lane, job_progress
from shopper_tui.models import SegmentChoice
from shopper_tui.palette import PaletteCommands
from shopper_tui.widgets import FrameTable, ShopperScreen, counted, no_data_text

from .customer import CustomerView

if TYPE_CHECKING:
    import polars as pl
    from shopper_tui.analytics.customers import CustomerDetail
    from shopper_tui.analytics.segmentation import SegmentationResult
    from shopper_tui.analytics.workspace import Workspace

__all__ = ["SegmentsScreen", "SegmentsCommands", "METHOD_CYCLE", "FEATURE_CYCLE", "segments_table"]

#: ``m`` cycles through these, ``f`` through the feature sets.
METHOD_CYCLE = ("kmeans", "rfm", "hdbscan", "gmm")
FEATURE_CYCLE = ("both", "rfm", "behavioural")
METHOD_TITLES = {"kmeans": "K-Means", "rfm": "RFM grid", "hdbscan": "HDBSCAN", "gmm": "Gaussian mixture"}
_SPARK = "▁▂▃▄▅▆▇█"
_HELP = (
    "RFM counts purchases (completed orders with a sold line; cancellations, returns, adjustments "
    "and guest orders are left out; postage and fees count in M). R = days since last purchase, F = orders, "
    "M = spend."
)


@dataclass(frozen=True)
class SegmentsView:
    """What the screen's worker prepared from a segmentation."""

    result: SegmentationResult
    table: pl.DataFrame
    insights: dict[int, list[str]]


def segments_table(result: SegmentationResult, insights: pl.DataFrame) -> pl.DataFrame:
    """The Segments table: one row per segment with rounded numbers and the first insight.

    Columns: id, segment, customers, share_pct, recency_days (mean, buyers), orders (mean),
    spend (mean), revenue_pct, top_categories, [membership (mean probability) for GMM and
    HDBSCAN], insight, persona.
    """
    import polars as pl

    first = insights.filter(pl.col("rank") == 1).select("segment_id", insight="text")
    seg = result.segments.join(first, on="segment_id", how="left")
    cols: list[Any] = [
        pl.col("segment_id").alias("id"),
        pl.col("name").alias("segment"),
        pl.col("size").alias("customers"),
        (pl.col("share") * 100).round(1).alias("share_pct"),
        pl.col("mean_recency_days").round(0).alias("avg_recency_days"),
        pl.col("mean_orders").round(1).alias("avg_orders"),
        pl.col("mean_spend").round(0).alias("avg_spend"),
        (pl.col("revenue_share") * 100).round(1).alias("revenue_pct"),
        pl.col("top_categories").list.join(", "),
    ]
    if result.method in ("gmm", "hdbscan"):
        member = result.labels.group_by("segment_id").agg(membership=pl.col("probability").mean().round(2))
        seg = seg.join(member, on="segment_id", how="left")
        cols.append("membership")
    cols += [pl.col("insight").fill_null(""), "persona"]
    return seg.select(cols)


def sparkline(curve: list[tuple[int, float]], chosen: int | None) -> Text:
    """``silhouette ▁▃▅█▇ k=2…6 · chosen k=5 (0.258)`` with the chosen k highlighted."""
    text = Text("silhouette ", style="bold")
    if not curve:
        return text
    values = [s for _, s in curve]
    lo, hi = min(values), max(values)
    for k, s in curve:
        level = 0 if hi == lo else round((s - lo) / (hi - lo) * (len(_SPARK) - 1))
        text.append(_SPARK[level], style="reverse bold" if k == chosen else "")
    text.append(f" k={curve[0][0]}…{curve[-1][0]}")
    best = dict(curve).get(chosen) if chosen is not None else None
    if best is not None:
        text.append(f" · chosen k={chosen} ({best:.3f})", style="bold")
    return text


class SegmentsCommands(PaletteCommands):
    """Every Segments action in the command palette."""

    def commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        screen = self.screen
        if not isinstance(screen, SegmentsScreen):
            return []
        out: list[tuple[str, str, Callable[[], Any]]] = [
            (f"Segments: method {title}", f"Segment with {title}", partial(screen.choose, method=m))
            for m, title in METHOD_TITLES.items()
        ]
        out += [
            (f"Segments: features {f}", f"Cluster on {f} features (not used by the RFM grid)",
             partial(screen.choose, features=f))
            for f in FEATURE_CYCLE
        ]
        out += [
            (f"Segments: k = {k}", f"K-Means / GMM with {k} segments", partial(screen.choose, k=k))
            for k in range(2, 11)
        ]
        out += [
            ("Segments: k by silhouette", "Let the silhouette curve choose k (a)", partial(screen.choose, k=0)),
            ("Segments: mark / compare segment", "Mark the segment under the cursor, or compare it with the mark (c)",
             screen.action_compare),
            ("Segments: open segment's customers", "The customers of the segment under the cursor (enter)",
             screen.open_current_segment),
            ("Segments: back", "Go back up one level (escape)", screen.go_back),
            ("Segments: customers moved by new data", "Who watch mode placed in another segment, from → to (v)",
             screen.action_moved),
            ("Segments: retrain", "Train the current segmentation again, ignoring the cache",
             screen.action_retrain),
        ]
        return out


class SegmentsScreen(ShopperScreen):
    """Segments, personas and insights, with drill-down and comparison."""

    MODE = "segments"
    TITLE_TEXT = "Segments"
    CSS_PATH = "segments.tcss"
    COMMANDS = {SegmentsCommands}
    BINDINGS = [
        Binding("m", "next_method", "Method"),
        Binding("f", "next_features", "Features"),
        Binding("plus", "k(1)", "k+", show=False),
        Binding("minus", "k(-1)", "k−", show=False),
        Binding("a", "auto_k", "k by silhouette", show=False),
        Binding("c", "compare", "Mark/compare"),
        Binding("v", "moved", "Moved", show=False),
        Binding("r", "recommend", "Recommendations"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.level = "segments"
        self.shown: SegmentsView | None = None
        self.shown_choice: SegmentChoice | None = None
        self.marked: int | None = None
        self.current_segment: int | None = None
        self.customer: CustomerDetail | None = None
        self._customer_parent = "customers"  # where escape goes from a customer

    # -- layout ----------------------------------------------------------------------------
    def compose_body(self) -> ComposeResult:
        with ContentSwitcher(initial="level-segments", id="seg-levels"):
            with Vertical(id="level-segments"):
                yield Static("Opening workspace…", id="seg-header", markup=False)
                yield Static("", id="seg-spark", markup=False)
                yield FrameTable(name="segments", id="segments-table", empty_text="Segmenting…")
                with VerticalScroll(id="seg-detail"):
                    yield Static("", id="seg-insights", markup=False)
                    yield Static("", id="seg-notes", markup=False)
            with Vertical(id="level-customers"):
                yield Label("", id="cust-title", markup=False)
                yield FrameTable(name="segment_customers", id="customers-table", empty_text="No customers.")
            with Vertical(id="level-customer"):
                yield Label("", id="customer-title", markup=False)
                yield CustomerView(id="customer-view")
            with Vertical(id="level-moved"):
                yield Label("", id="moved-title", markup=False)
                yield FrameTable(name="moved_customers", id="moved-table", empty_text="No customer has moved.")
            with Vertical(id="level-compare"):
                yield Label("", id="compare-title", markup=False)
                yield FrameTable(name="segment_comparison", id="compare-table", empty_text="Nothing to compare.")

    def on_mount(self) -> None:
        self.watch(self.app, "segmentation", self._segmentation_changed, init=False)
        self.watch(self.app, "segment_choice", self._refresh_header, init=False)
        self.watch(self.app, "job_status", self._refresh_header, init=False)
        self.watch(self.app, "moved_customers", self._moves_changed, init=False)
        self.watch(self.app, "segmentation_error", self._segmentation_failed, init=True)
        self.query_one("#seg-detail").border_title = "Persona and insights"

    def on_screen_resume(self) -> None:
        if self.workspace is not None and self.app.segmentation is None:
            self.app.request_segmentation()

    def watch_workspace(self, workspace: Workspace | None) -> None:
        if workspace is None:
            return
        self._set_level("segments")
        if self.app.segmentation is not None:
            self._segmentation_changed(self.app.segmentation)
        else:
            self.app.request_segmentation()
            self._refresh_header()

    def show_no_data(self, message: str) -> None:
        self.query_one("#seg-header", Static).update("No data open (why: below)")
        table = self.query_one("#segments-table", FrameTable)
        table.empty_text = "No segments."
        table.set_frame(table.frame)
        self.query_one("#seg-insights", Static).update(
            no_data_text(message)
        )

    # -- the segmentation ------------------------------------------------------------------
    def _segmentation_failed(self, error: str | None) -> None:
        """The app could not train the chosen segmentation (too few customers, nothing bought):
        say why where the segments would be."""
        table = self.query_one("#segments-table", FrameTable)
        table.empty_text = "No segments with this data (see below)." if error else "Segmenting…"
        if self.shown is None:
            table.set_frame(table.frame)  # the status line shows the new empty text
        if error:
            self.query_one("#seg-insights", Static).update(Text.assemble(
                ("Segmentation is not possible: ", "bold"), error,
                ("\nm tries another method; the other screens work without segments.", "dim")))
        self._refresh_header()

    def _segmentation_changed(self, result: SegmentationResult | None) -> None:
        if result is None or self.workspace is None:
            self._refresh_header()
            return
        self.prepare(result, self.workspace)

    @work(thread=True, exclusive=True, exit_on_error=False, group="segments-view")
    @in_lane
    def prepare(self, result: SegmentationResult, workspace: Workspace) -> SegmentsView:
        from shopper_tui.analytics.personas import insights

        job_progress("Describing segments")("insights", None)
        said = insights(result, workspace)
        per: dict[int, list[str]] = {}
        for sid, text in zip(said["segment_id"].to_list(), said["text"].to_list(), strict=True):
            per.setdefault(int(sid), []).append(text)
        return SegmentsView(result, segments_table(result, said), per)

    @property
    def _app_choice(self) -> SegmentChoice:
        return self.app.segment_choice  # type: ignore[attr-defined,no-any-return]

    def _refresh_header(self, _: object = None) -> None:
        header = self.query_one("#seg-header", Static)
        choice = self._app_choice
        text = Text(no_wrap=True, overflow="ellipsis")
        if self.shown is not None and self.shown_choice is not None:
            r = self.shown.result
            text.append(f"{self.shown_choice.describe()}", style="bold")
            text.append(f" · {r.k} segments · {r.labels.height:,} customers")
        pending = self.shown is None or choice != self.shown_choice
        if pending and self.workspace is not None:
            running = self.app.job_status is not None
            if self.shown is not None:
                text.append("  →  ")
            failed = self.app.segmentation_error
            state = "training…" if running else "not possible with this data" if failed else "not trained (m/f to pick again)"
            text.append(f"{choice.describe()}: {state}", style="italic")
        moved = self.app.moved_customers
        if moved is not None and moved.height:
            text.append(f" · {moved.height:,} moved by new data (v)", style="bold")
        text.append("   m method · f features · +/- k · c compare · enter customers", style="dim")
        header.update(text)

    # -- showing ---------------------------------------------------------------------------
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is not WorkerState.SUCCESS:
            return
        group = event.worker.group
        if group == "segments-view":
            self._show_segments(event.worker.result)  # type: ignore[arg-type]
        elif group == "segment-customers":
            self._show_customers(*event.worker.result)  # type: ignore[misc]
        elif group == "customer-detail":
            self._show_customer(event.worker.result)  # type: ignore[arg-type]

    def _show_segments(self, view: SegmentsView) -> None:
        if view.result is not self.app.segmentation:
            return  # a newer one is on its way
        self.shown = view
        self.shown_choice = self._app_choice
        self.marked = None
        table = self.query_one("#segments-table", FrameTable)
        table.set_frame(view.table, name=f"segments_{view.result.method}")
        chosen = view.result.k if view.result.silhouette else None
        self.query_one("#seg-spark", Static).update(
            sparkline(view.result.silhouette, chosen) if view.result.silhouette
            else Text(f"{METHOD_TITLES[view.result.method]}: no silhouette curve (k is "
                      + ("fixed by the grid)" if view.result.method == "rfm" else
                         "found by density)" if view.result.method == "hdbscan" else "given)"), style="dim")
        )
        notes = list(view.result.notes)
        notes.append(_HELP)
        self.query_one("#seg-notes", Static).update(Text("\n".join(f"· {n}" for n in notes), style="dim"))
        self._refresh_header()
        if self.level == "segments":
            self.call_after_refresh(self._focus_level)
        first = int(view.table["id"][0]) if view.table.height else None
        self._highlight(first)

    def _highlight(self, segment_id: int | None) -> None:
        self.current_segment = segment_id
        self.app.focus_segment = segment_id
        box = self.query_one("#seg-insights", Static)
        if self.shown is None or segment_id is None:
            box.update("")
            return
        row = self.shown.result.segments.filter(self.shown.result.segments["segment_id"] == segment_id)
        if row.is_empty():
            box.update("")
            return
        text = Text()
        text.append(str(row["persona"][0]), style="bold")
        if self.marked is not None and self.marked != segment_id:
            text.append("   (c: compare with the marked segment)", style="dim")
        elif self.marked == segment_id:
            text.append("   (marked for comparison)", style="dim")
        for line in self.shown.insights.get(segment_id, []):
            text.append("\n• ")
            text.append(line)
        box.update(text)

    @on(GridTable.CellHighlighted)
    def _cell_highlighted(self, event: GridTable.CellHighlighted) -> None:
        table = self.query_one("#segments-table", FrameTable)
        if event.data_table is not table.data_table or self.shown is None:
            return
        view = table.view
        if 0 <= event.coordinate.row < view.height and "id" in view.columns:
            self._highlight(int(view["id"][event.coordinate.row]))

    @on(FrameTable.RowChosen, "#segments-table")
    def _segment_chosen(self, event: FrameTable.RowChosen) -> None:
        event.stop()
        self.open_segment(int(event.row["id"]))

    def open_current_segment(self) -> None:
        segment_id = self._cursor_segment()
        if segment_id is not None:
            self.open_segment(segment_id)

    def open_segment(self, segment_id: int) -> None:
        if self.shown is None or self.workspace is None:
            return
        self._highlight(segment_id)
        self.load_customers(self.shown.result, self.workspace, segment_id, self._show_pii)

    @property
    def _show_pii(self) -> bool:
        return bool(self.app.settings.show_pii)

    @work(thread=True, exclusive=True, exit_on_error=False, group="segment-customers")
    @in_lane
    def load_customers(
        self, result: SegmentationResult, workspace: Workspace, segment_id: int, show_pii: bool
    ) -> tuple[int, pl.DataFrame]:
        from shopper_tui.analytics.customers import segment_customers

        job_progress("Segment customers")("reading", None)
        return segment_id, segment_customers(result, workspace, segment_id, show_pii=show_pii)

    def _show_customers(self, segment_id: int, frame: pl.DataFrame) -> None:
        if self.shown is None:
            return
        name = self.shown.result.segments.filter(self.shown.result.segments["segment_id"] == segment_id)["name"]
        label = str(name[0]) if name.len() else str(segment_id)
        masked = "" if self._show_pii else " · names and emails masked"
        self.query_one("#cust-title", Label).update(
            f"{label}: {counted(frame.height, 'customer')}{masked} · enter: customer · esc: back"
        )
        slug = "".join(ch if ch.isalnum() else "_" for ch in label.lower()).strip("_")
        self.query_one("#customers-table", FrameTable).set_frame(frame, name=f"customers_{slug}")
        self._set_level("customers")

    # -- customers moved by watch mode ------------------------------------------------------
    def data_changed(self) -> None:
        """New rows: the app reassigns customers and updates ``segmentation``, which this
        screen follows; the drill-down level stays where it is."""

    def _moves_changed(self, _moves: object) -> None:
        self._refresh_header()
        if self.level == "moved":
            self._fill_moved()

    def action_moved(self) -> None:
        moved = self.app.moved_customers
        if moved is None or moved.is_empty():
            self.notify("No customer has moved segment: in watch mode (--watch), customers with new orders "
                        "or events are placed with the trained model and listed here.", title="Moved customers")
            return
        self._fill_moved()
        self._set_level("moved")

    def _fill_moved(self) -> None:
        import polars as pl

        moved = self.app.moved_customers
        if moved is None or self.shown is None:
            return
        names = self.shown.result.segments.select(pl.col("segment_id").cast(pl.Int64), pl.col("name"))
        frame = (
            moved.join(names.rename({"segment_id": "from_segment_id", "name": "from_segment"}),
                       on="from_segment_id", how="left")
            .join(names.rename({"segment_id": "to_segment_id", "name": "to_segment"}), on="to_segment_id", how="left")
            .select("customer_id", pl.col("from_segment").fill_null("(new customer)"), "to_segment",
                    "from_segment_id", "to_segment_id", "moved_at")
        )
        self.query_one("#moved-title", Label).update(
            f"{counted(frame.height, 'customer')} placed in another segment by new data (trained model, no retraining) "
            "· enter: customer · esc: back")
        self.query_one("#moved-table", FrameTable).set_frame(frame, name="moved_customers")

    @on(FrameTable.RowChosen, "#moved-table")
    @on(FrameTable.RowChosen, "#customers-table")
    def _customer_chosen(self, event: FrameTable.RowChosen) -> None:
        event.stop()
        if self.workspace is None:
            return
        self._customer_parent = "moved" if event.table.id == "moved-table" else "customers"
        result = self.shown.result if self.shown is not None else None
        self.load_customer(self.workspace, str(event.row["customer_id"]), result, self._show_pii)

    @work(thread=True, exclusive=True, exit_on_error=False, group="customer-detail")
    def load_customer(
        self, workspace: Workspace, customer_id: str, result: SegmentationResult | None, show_pii: bool
    ) -> CustomerDetail:
        from shopper_tui.analytics.customers import customer_detail

        job_progress(f"Customer {customer_id}")("reading", None)
        return customer_detail(workspace, customer_id, result=result, show_pii=show_pii)

    def _show_customer(self, detail: CustomerDetail) -> None:
        self.customer = detail
        self.app.selected_customer = detail.customer_id
        self.query_one("#customer-title", Label).update(
            f"Customer {detail.customer_id}"
            + (f" · {detail.segment}" if detail.segment is not None else "")  # the card cuts it at 80 columns
            + " · esc: back to the "
            + ("moved customers" if self._customer_parent == "moved" else "segment")
            + (" · r: recommendations" if self._has_mode("recommendations") else "")
        )
        self.query_one(CustomerView).show(detail, show_pii=self._show_pii)
        self._set_level("customer")

    # -- levels ----------------------------------------------------------------------------
    def _set_level(self, level: str) -> None:
        self.level = level
        self.query_one("#seg-levels", ContentSwitcher).current = f"level-{level}"
        self.refresh_bindings()
        self.call_after_refresh(self._focus_level)

    def _focus_level(self) -> None:
        if self.level == "customer":
            self.query_one(CustomerView).focus_table()
            return
        table_id = {"segments": "#segments-table", "customers": "#customers-table", "compare": "#compare-table",
                    "moved": "#moved-table"}
        grid = self.query_one(table_id[self.level], FrameTable).data_table
        if grid is not None:
            grid.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            # escape cancels a running job first (the app's binding); otherwise it goes up a level
            return self.level != "segments" and self.app.job_status is None
        if action == "recommend":
            return self.level == "customer" and self._has_mode("recommendations")
        if action == "compare":
            return self.level == "segments"
        return True

    def action_back(self) -> None:
        if not self.go_back():
            raise SkipAction()

    def go_back(self) -> bool:
        parent = {"customer": self._customer_parent, "customers": "segments", "compare": "segments",
                  "moved": "segments"}.get(self.level)
        if parent is None:
            return False
        self._set_level(parent)
        return True

    def _has_mode(self, mode: str) -> bool:
        return any(m.name == mode for m in self.app.screen_modes)

    def action_recommend(self) -> None:
        if self.customer is None or not self._has_mode("recommendations"):
            return
        self.app.selected_customer = self.customer.customer_id
        self.app.switch_mode("recommendations")

    # -- choosing the segmentation ---------------------------------------------------------
    def choose(self, *, method: str | None = None, features: str | None = None, k: int | None = None) -> None:
        """Ask the app for another segmentation (``k=0``: chosen by silhouette)."""
        current = self._app_choice
        method = method or current.method
        features = features or current.features
        new_k = current.k if k is None else (k or None)
        if method not in ("kmeans", "gmm"):
            new_k = None
        choice = SegmentChoice(method, features, new_k)
        if self.level != "segments":
            self._set_level("segments")
        self.app.request_segmentation(choice)
        self._refresh_header()

    def action_next_method(self) -> None:
        m = self._app_choice.method
        self.choose(method=METHOD_CYCLE[(METHOD_CYCLE.index(m) + 1) % len(METHOD_CYCLE)] if m in METHOD_CYCLE
                    else METHOD_CYCLE[0])

    def action_next_features(self) -> None:
        if self._app_choice.method == "rfm":
            self.notify("The RFM grid always uses recency and frequency; pick another method (m) to choose features.")
            return
        f = self._app_choice.features
        self.choose(features=FEATURE_CYCLE[(FEATURE_CYCLE.index(f) + 1) % len(FEATURE_CYCLE)] if f in FEATURE_CYCLE
                    else FEATURE_CYCLE[0])

    def action_k(self, step: int) -> None:
        if self._app_choice.method not in ("kmeans", "gmm"):
            self.notify("k applies to K-Means and the Gaussian mixture (m to switch).")
            return
        base = self._app_choice.k or (self.shown.result.k if self.shown is not None else 5)
        self.choose(k=max(2, min(20, base + step)))

    def action_auto_k(self) -> None:
        self.choose(k=0)

    def action_retrain(self) -> None:
        self.app.request_segmentation(force=True)

    # -- comparing -------------------------------------------------------------------------
    def _cursor_segment(self) -> int | None:
        """The segment under the table's cursor (read directly: highlight messages may still be queued)."""
        table = self.query_one("#segments-table", FrameTable)
        grid, view = table.data_table, table.view
        if grid is not None and "id" in view.columns and 0 <= grid.cursor_coordinate.row < view.height:
            return int(view["id"][grid.cursor_coordinate.row])
        return self.current_segment

    def action_compare(self) -> None:
        if self.shown is None:
            return
        self.current_segment = self._cursor_segment()
        if self.current_segment is None:
            return
        if self.marked is None or self.marked == self.current_segment:
            self.marked = None if self.marked == self.current_segment else self.current_segment
            self._highlight(self.current_segment)
            if self.marked is not None:
                self.notify("Marked. Move to another segment and press c to compare.", title="Compare")
            return
        from shopper_tui.analytics.customers import compare_segments

        a, b = self.marked, self.current_segment
        frame = compare_segments(self.shown.result, a, b)  # a few dozen rows: quick on the UI thread
        names = dict(zip(self.shown.result.segments["segment_id"].to_list(), self.shown.result.segments["name"].to_list(),
                         strict=True))
        self.query_one("#compare-title", Label).update(
            f"A: {names[a]}  vs  B: {names[b]} · every feature's mean · gap in standard deviations "
            "(▲ higher in A, ▼ lower; one mark per 0.25, 0.5, 1 sd) · esc: back"
        )
        self.query_one("#compare-table", FrameTable).set_frame(frame, name="segment_comparison")
        self.marked = None
        self._set_level("compare")
