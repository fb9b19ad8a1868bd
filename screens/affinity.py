"""Affinity: what each segment is drawn to (segment × category heatmap) and what sells together.

Three views in one screen:

* the heatmap — rows are the app's segments, columns categories (subcategories, brands),
  cells the share, index or lift from :func:`~shopper_tui.analytics.affinity.segment_affinity`;
  the side panel explains the cell under the cursor in words;
* ``enter`` on a cell — that segment's top products of that category, each with its own
  index (:func:`~shopper_tui.analytics.affinity.item_products`), and what reviews say about
  the category (scored once in a worker, cached);
* ``x`` — cross-sell rules (:func:`~shopper_tui.analytics.affinity.pair_rules`) for all
  customers or one segment, filtered by minimum support and lift and by antecedent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.widgets import ContentSwitcher, Input, Label, Select, Static
from textual.worker import Worker, WorkerState

from shopper_tui.jobs import in_lane, job_progress
from shopper_tui.palette import PaletteCommands
from shopper_tui.widgets import FrameTable, ShopperScreen, counted, no_data_text
from shopper_tui.widgets.heatmap import Heatmap

if TYPE_CHECKING:
    import polars as pl
    from shopper_tui.analytics.reviews import ReviewScores
    from shopper_tui.analytics.segmentation import SegmentationResult
    from shopper_tui.analytics.workspace import Workspace

__all__ = ["AffinityScreen", "AffinityCommands", "AffinityData", "LEVELS", "METRICS", "BASES", "cell_story"]

LEVELS = ("category", "subcategory", "brand")
METRICS = ("index", "share", "lift")
BASES = ("purchases", "views", "carts")
RULE_LEVELS = ("category", "product")
_DEFAULT_SUPPORT = {"category": "0.01", "product": "0.002"}
_VERB = {"purchases": "buys", "views": "views", "carts": "adds to cart"}
_NOUN = {"purchases": ("spend", "units"), "views": ("views", "views"), "carts": ("cart adds", "cart adds")}
_ALL = -1  # the "all customers" choice of the cross-sell segment picker


@dataclass(frozen=True)
class AffinityData:
    """What the affinity worker computed for one (by, basis, measure)."""

    by: str
    basis: str
    measure: str
    long: pl.DataFrame  # segment_affinity's long frame
    top: pl.DataFrame  # item_products(limit=3): the top products of every cell


def _pct(value: float) -> str:
    return f"{value * 100:.1f} %" if value < 0.1 else f"{value * 100:.0f} %"


def metric_format(metric: str) -> Callable[[float], str]:
    if metric == "share":
        return lambda v: f"{v * 100:.1f}%" if v < 0.1 else f"{v * 100:.0f}%"
    if metric == "index":
        return lambda v: f"{v:.0f}"
    return lambda v: f"{v:.1f}×" if v < 10 else f"{v:.0f}×"


def cell_story(row: dict[str, Any], *, basis: str, measure: str, top: list[dict[str, Any]], level: str) -> str:
    """The cell under the cursor in words, with its numbers."""
    seg, item = row["segment"], row["item"]
    verb = _VERB[basis]
    noun = _NOUN[basis][0 if measure == "spend" else 1]
    if row.get("customers") is None or row.get("lift") is None:
        return (f"Segment '{seg}' never {'bought' if basis == 'purchases' else verb} {level} '{item}' "
                f"({counted(row['segment_customers'], 'customer')}). The cell is blank: there is nothing to measure.")
    lift, pen = row["lift"], row["penetration"]
    overall = pen / lift if lift else 0.0
    lines = [
        f"Segment '{seg}' {verb} {item} {lift:.1f}× as often as the average customer: "
        f"{_pct(pen)} of its customers ({row['customers']:,} of {row['segment_customers']:,}) vs {_pct(overall)} overall.",
        "",
        f"{item} is {_pct(row['share'])} of the segment's {noun}; index {row['index']:.0f} "
        f"(100 = the average customer's share).",
    ]
    if top:
        lines += ["", "Top products:"]
        lines += [f" {p['rank']}. {p['name'] or p['product_id']} (index {p['index']:.0f})" for p in top]
    lines += ["", "enter: top products and reviews"]
    return "\n".join(lines)


class AffinityCommands(PaletteCommands):
    """Every action of the Affinity screen in the palette."""

    def commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        screen = self.screen
        if not isinstance(screen, AffinityScreen):
            return []
        out: list[tuple[str, str, Callable[[], Any]]] = []
        out += [(f"Affinity by {lv}", f"Columns are {lv}s (c cycles)", partial(screen.set_option, "by", lv))
                for lv in LEVELS]
        out += [(f"Affinity metric: {m}", f"Colour and print the {m} (m cycles)", partial(screen.set_option, "metric", m))
                for m in METRICS]
        out += [(f"Affinity from {b}", f"Measure affinity on {b} (b cycles)", partial(screen.set_option, "basis", b))
                for b in BASES]
        out += [
            ("Affinity: spend / units", "Share by spend or by units (u)", screen.action_toggle_measure),
            ("Open the cell's top products", "Top products of the cell's category for its segment (enter)",
             screen.action_drill),
            ("Cross-sell rules", "Category→category and product→product rules (x)", screen.action_crosssell),
            ("Back to the heatmap", "Leave the drill-down or cross-sell view (escape)", screen.action_back),
        ]
        return out


class AffinityScreen(ShopperScreen):
    """Segment × category heatmap, top products per cell, and cross-sell rules."""

    MODE = "affinity"
    TITLE_TEXT = "Affinity"
    CSS_PATH = "affinity.tcss"
    COMMANDS = {AffinityCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    BINDINGS = [
        Binding("c", "cycle('by')", "Category/sub/brand"),
        Binding("m", "cycle('metric')", "Metric"),
        Binding("b", "cycle('basis')", "Basis"),
        Binding("u", "toggle_measure", "Spend/units"),
        Binding("x", "crosssell", "Cross-sell"),
        Binding("escape", "back", "Back"),
    ]

    by: reactive[str] = reactive("category", init=False)
    metric: reactive[str] = reactive("index", init=False)
    basis: reactive[str] = reactive("purchases", init=False)
    measure: reactive[str] = reactive("spend", init=False)
    view: reactive[str] = reactive("heat", init=False)

    def __init__(self) -> None:
        super().__init__()
        self.data: AffinityData | None = None
        self.labels: pl.DataFrame | None = None
        self.drilled: tuple[int, str] | None = None  # (segment_id, item) of the drill-down
        self._reviews: ReviewScores | None = None
        self._segments: list[tuple[int, str]] = []
        self._items: list[str] = []

    # -- layout ----------------------------------------------------------------------------
    def compose_body(self) -> ComposeResult:
        yield Static("Opening workspace…", id="affinity-status", markup=False)
        with ContentSwitcher(initial="heat-view", id="affinity-views"):
            with Horizontal(id="heat-view"):
                yield Heatmap(id="affinity-map", empty_text="Waiting for the segmentation…")
                with VerticalScroll(id="cell-panel"):
                    yield Static("", id="cell-info", markup=False)
            with Vertical(id="drill-view"):
                yield Label("", id="drill-title", markup=False)
                yield FrameTable(name="top-products", id="drill-table", empty_text="Loading…")
                with VerticalScroll(id="drill-reviews-box"):
                    yield Static("", id="drill-reviews", markup=False)
            with Vertical(id="cross-view"):
                with Horizontal(id="cross-filters"):
                    yield Select([(lv, lv) for lv in RULE_LEVELS], value="category", allow_blank=False,
                                 id="cross-level")
                    yield Select([("All customers", _ALL)], value=_ALL, allow_blank=False, id="cross-segment")
                    yield Input(_DEFAULT_SUPPORT["category"], placeholder="min support", id="cross-support",
                                tooltip="minimum support (share of baskets)")
                    yield Input("", placeholder="min lift", id="cross-lift", tooltip="minimum lift")
                    yield Input("", placeholder="antecedent (with …)", id="cross-antecedent",
                                tooltip="only rules starting from this category or product id")
                yield FrameTable(name="cross-sell", id="cross-table", empty_text="Loading…")

    def on_mount(self) -> None:
        super().on_mount()
        self.watch(self.app, "segmentation", self._take_segmentation, init=True)
        self.watch(self.app, "segmentation_error", self._segmentation_failed, init=True)
        self.watch(self.app, "focus_segment", self._follow_focus, init=False)
        self.query_one(Heatmap).focus()

    def _follow_focus(self, segment_id: int | None) -> None:
        """Segments set a focus segment: put the heatmap cursor and the cross-sell filter on it."""
        ids = [i for i, _ in self._segments]
        if segment_id in ids:
            heat = self.query_one(Heatmap)
            heat.cursor = (ids.index(segment_id), heat.cursor[1])
            self.query_one("#cross-segment", Select).value = segment_id

    def show_no_data(self, message: str) -> None:
        self._status("No data open")
        heat = self.query_one(Heatmap)
        heat.empty_text = no_data_text(message, sep=" ")
        heat.refresh()

    def _status(self, text: str | Text) -> None:
        self.query_one("#affinity-status", Static).update(text)

    # -- state -----------------------------------------------------------------------------
    def watch_workspace(self, workspace: Workspace | None) -> None:
        self._reviews = None
        if workspace is None:
            return
        if self.app.segmentation is None:
            self._status("Segmenting customers (Segments, key 2, chooses the method)…")
            self.app.request_segmentation()

    def _segmentation_failed(self, error: str | None) -> None:
        """No segments with this data: the heatmap (segments × categories) cannot be drawn."""
        if not error or self.labels is not None:
            return
        heat = self.query_one(Heatmap)
        heat.empty_text = f"Affinity compares segments, and segmentation is not possible: {error}"
        heat.refresh()
        self._status("Affinity needs segments · x: cross-sell rules work without them")

    def _take_segmentation(self, result: SegmentationResult | None) -> None:
        if result is None:
            self.labels = None
            return
        from shopper_tui.models import segment_labels

        self.labels = segment_labels(result)
        names = result.segments.select("segment_id", "name").sort("segment_id")
        self._segments = [(int(i), str(n)) for i, n in names.iter_rows()]
        picker = self.query_one("#cross-segment", Select)
        picker.set_options([("All customers", _ALL), *((n, i) for i, n in self._segments)])
        focus = self.app.focus_segment
        picker.value = focus if focus in dict(self._segments) else _ALL
        self.reload()

    def reload(self) -> None:
        if self.workspace is None or self.labels is None:
            return
        self._status(f"Computing affinity by {self.by} from {self.basis}…")
        self.load(self.workspace, self.labels, self.by, self.basis, self.measure)
        if self.view == "cross":
            self.load_rules()

    def watch_by(self) -> None:
        self.reload()

    def watch_basis(self) -> None:
        self.reload()

    def watch_measure(self) -> None:
        self.reload()

    def watch_metric(self) -> None:
        self.show_heatmap()

    def watch_view(self, view: str) -> None:
        self.query_one(ContentSwitcher).current = f"{view}-view"
        self.refresh_bindings()
        if view == "heat":
            self.query_one(Heatmap).focus()
        self._describe()

    def set_option(self, name: str, value: str) -> None:
        setattr(self, name, value)

    def action_cycle(self, name: str) -> None:
        options = {"by": LEVELS, "metric": METRICS, "basis": BASES}[name]
        setattr(self, name, options[(options.index(getattr(self, name)) + 1) % len(options)])

    def action_toggle_measure(self) -> None:
        self.measure = "units" if self.measure == "spend" else "spend"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return self.view != "heat"  # in the heatmap, escape falls through to "cancel job"
        if action == "toggle_measure":
            return True if self.basis == "purchases" else None
        return True

    def action_back(self) -> None:
        if self.view != "heat":
            self.view = "heat"

    # -- the heatmap -----------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="affinity")
    @in_lane
    def load(self, ws: Workspace, labels: pl.DataFrame, by: str, basis: str, measure: str) -> AffinityData:
        progress = job_progress(f"Affinity by {by} from {basis}")
        from shopper_tui.analytics.affinity import item_products, segment_affinity

        progress("segment × item", None)
        long = segment_affinity(ws, labels, by=by, basis=basis, measure=measure)  # type: ignore[arg-type]
        progress("top products per cell", None)
        top = item_products(ws, labels, by=by, basis=basis, measure=measure, limit=3)  # type: ignore[arg-type]
        return AffinityData(by, basis, measure, long, top)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is not WorkerState.SUCCESS:
            return
        group = event.worker.group
        if group == "affinity":
            self.data = event.worker.result  # type: ignore[assignment]
            self.show_heatmap()
        elif group == "drill":
            self._show_drill(*event.worker.result)  # type: ignore[misc]
        elif group == "reviews":
            self._reviews = event.worker.result  # type: ignore[assignment]
            if self.drilled is not None:
                self.load_drill(*self.drilled)
        elif group == "rules":
            rules, title = event.worker.result  # type: ignore[misc]
            self.query_one("#cross-table", FrameTable).set_frame(rules, name=title)

    def show_heatmap(self) -> None:
        data = self.data
        if data is None:
            return
        import polars as pl

        heat = self.query_one(Heatmap)
        long = data.long
        self._items = long.get_column("item").unique(maintain_order=True).sort().to_list()
        segs = long.select("segment_id", "segment").unique(maintain_order=True).sort("segment_id")
        self._segments = [(int(i), str(n)) for i, n in segs.iter_rows()]
        if not self._items:
            heat.set_data([], [], [])
            heat.empty_text = (  # a plain transactions file has purchases but names no products
                "The purchases name no products (amounts only), so there are no categories to measure affinity on."
                if data.basis == "purchases" and self.workspace is not None and self.workspace.has_rows("order_items")
                else f"No {data.basis} to measure affinity on.")
            self._describe()
            return
        wide = (long.pivot(on="item", index="segment_id", values=self.metric, aggregate_function="first")
                .sort("segment_id"))
        for item in self._items:
            if item not in wide.columns:
                wide = wide.with_columns(pl.lit(None, dtype=pl.Float64).alias(item))
        values = wide.select(self._items).rows()
        cursor = None
        focus = self.app.focus_segment
        if heat.row_labels == [] and focus is not None:
            ids = [i for i, _ in self._segments]
            if focus in ids:
                cursor = (ids.index(focus), 0)
        scale = {"index": dict(centre=100.0, log=True), "lift": dict(centre=1.0, log=True),
                 "share": dict(scale=(0.0, max((v for r in values for v in r if v is not None), default=1.0)))}
        heat.set_data([n for _, n in self._segments], self._items, values, fmt=metric_format(self.metric),
                      legend=self.metric, cursor=cursor, **scale[self.metric])  # type: ignore[arg-type]
        self._describe()

    def _describe(self) -> None:
        parts = [f"by {self.by} (c)", f"metric {self.metric} (m)", f"from {self.basis} (b)"]
        if self.basis == "purchases":
            parts.append(f"{self.measure} (u)")
        choice = self.app.segment_choice
        seg = f" · {choice.describe()}" if choice is not None and self.labels is not None else ""
        views = {"heat": "Affinity", "drill": "Top products", "cross": "Cross-sell"}
        text = f"{views[self.view]} · " + " · ".join(parts) + seg
        if self.data is not None and self.view == "heat":
            text = text.replace(" · ", f" · {len(self._segments)}×{len(self._items)} · ", 1)
        self._status(text)

    def _cell(self, row: int, column: int) -> dict[str, Any] | None:
        if self.data is None or row >= len(self._segments) or column >= len(self._items):
            return None
        import polars as pl

        sid, item = self._segments[row][0], self._items[column]
        hit = self.data.long.filter((pl.col("segment_id") == sid) & (pl.col("item") == item))
        return hit.row(0, named=True) if hit.height else None

    @on(Heatmap.CellHighlighted, "#affinity-map")
    def _highlighted(self, event: Heatmap.CellHighlighted) -> None:
        row = self._cell(event.row, event.column)
        if row is None or self.data is None:
            return
        import polars as pl

        top = (self.data.top.filter((pl.col("segment_id") == row["segment_id"]) & (pl.col("item") == row["item"]))
               .sort("rank").to_dicts())
        self.query_one("#cell-info", Static).update(
            cell_story(row, basis=self.data.basis, measure=self.data.measure, top=top, level=self.data.by))

    @on(Heatmap.CellChosen, "#affinity-map")
    def _chosen(self, event: Heatmap.CellChosen) -> None:
        self._drill_into(event.row, event.column)

    def action_drill(self) -> None:
        self._drill_into(*self.query_one(Heatmap).cursor)

    # -- drill-down: top products of the cell + reviews --------------------------------------
    def _drill_into(self, row: int, column: int) -> None:
        cell = self._cell(row, column)
        if cell is None:
            return
        self.drilled = (int(cell["segment_id"]), str(cell["item"]))
        self.query_one("#drill-title", Label).update(
            f"Top products of {self.by} '{cell['item']}' for segment '{cell['segment']}' "
            f"(from {self.basis}; index and lift vs all customers) · escape: back")
        self.query_one("#drill-reviews", Static).update("")
        self.view = "drill"
        self.query_one("#drill-table", FrameTable).focus()
        self.load_drill(*self.drilled)
        ws = self.workspace
        if self._reviews is None and ws is not None and "reviews" in ws.present:
            self.query_one("#drill-reviews", Static).update("Scoring reviews…")
            self.score(ws)

    @work(thread=True, exclusive=True, exit_on_error=False, group="reviews")
    def score(self, ws: Workspace) -> ReviewScores:
        progress = job_progress("Scoring reviews")
        from shopper_tui.analytics.reviews import load_reviews, score_frame

        from shopper_tui.models import artifact_cache

        # in-process (workers=1): a process pool cannot start from inside the running app
        # ("bad value(s) in fds_to_keep"); the scores are cached, so this runs once per data set
        return score_frame(load_reviews(ws), cache=artifact_cache(ws, self.app.settings),
                           progress=progress, workers=1)

    def load_drill(self, segment_id: int, item: str) -> None:
        if self.workspace is None or self.labels is None:
            return
        self._drill_worker(self.workspace, self.labels, self.by, self.basis, self.measure, segment_id, item,
                           self._reviews)

    @work(thread=True, exclusive=True, exit_on_error=False, group="drill")
    def _drill_worker(self, ws: Workspace, labels: pl.DataFrame, by: str, basis: str, measure: str,
                      segment_id: int, item: str, reviews: ReviewScores | None) -> tuple[pl.DataFrame, str, str]:
        progress = job_progress(f"Top products of {item}")
        import polars as pl
        from shopper_tui.analytics.affinity import item_products
        from shopper_tui.analytics.reviews import summaries

        products = item_products(ws, labels, by=by, basis=basis, measure=measure,  # type: ignore[arg-type]
                                 item=item, segment_id=segment_id, limit=None)
        table = products.select(
            "rank", "product_id", "name", pl.col("amount").round(2), "customers",
            (pl.col("share_of_item") * 100).round(1).alias("share_of_item_%"), pl.col("index").round(0),
            (pl.col("penetration") * 100).round(1).alias("penetration_%"), pl.col("lift").round(2),
        )
        progress("reviews summary", None)
        if "reviews" not in ws.present:
            text = "No reviews in this data set: add a reviews table to see what customers say."
        elif reviews is None:
            text = "Scoring reviews…"
        else:
            if by == "category":
                sums = summaries(reviews, by="category", limit=None)
                hit = sums.filter(pl.col("group") == item)
            else:
                ids = item_products(ws, labels, by=by, basis="purchases", item=item, limit=None)["product_id"]
                scoped = replace(reviews, scores=reviews.scores.filter(pl.col("product_id").is_in(ids.implode())))
                hit = summaries(scoped, by="all")
            if hit.height == 0 or hit["reviews"][0] == 0:
                text = f"No reviews of {by} '{item}'."
            else:
                r = hit.row(0, named=True)
                rating = f", average {r['average_rating']:.1f}★" if r["average_rating"] is not None else ""
                text = (f"What customers say about {item} ({counted(r['reviews'], 'review')}{rating}; "
                        f"{r['share_positive']:.0%} positive, {r['share_negative']:.0%} negative; "
                        f"model: {reviews.choice.model}):\n"
                        + "\n".join(f"• {s}" for s in r["sentences"]))
        return table, f"top-products-{item}", text

    def _show_drill(self, table: pl.DataFrame, name: str, reviews_text: str) -> None:
        self.query_one("#drill-table", FrameTable).set_frame(table, name=name)
        self.query_one("#drill-reviews", Static).update(reviews_text)

    # -- cross-sell --------------------------------------------------------------------------
    def action_crosssell(self) -> None:
        self.view = "cross"
        self.load_rules()
        self.query_one("#cross-table", FrameTable).focus()

    def _float(self, selector: str) -> float | None:
        text = self.query_one(selector, Input).value.strip()
        if not text:
            return None
        try:
            return float(text)
        except ValueError:
            self.notify(f"'{text}' is not a number.", severity="warning")
            return None

    def load_rules(self) -> None:
        if self.workspace is None:
            return
        import polars as pl

        level = str(self.query_one("#cross-level", Select).value)
        segment = self.query_one("#cross-segment", Select).value
        support = self._float("#cross-support") or float(_DEFAULT_SUPPORT[level])
        lift = self._float("#cross-lift")
        antecedent = self.query_one("#cross-antecedent", Input).value.strip() or None
        customers = None
        who = "all customers"
        if segment != _ALL and self.labels is not None:
            customers = self.labels.filter(pl.col("segment_id") == segment).get_column("customer_id")
            who = dict(self._segments).get(int(segment), str(segment))  # type: ignore[arg-type]
        title = f"cross-sell-{level}-{who}".replace(" ", "-").lower()
        self._rules_worker(self.workspace, level, support, lift, customers, antecedent, title)

    @work(thread=True, exclusive=True, exit_on_error=False, group="rules")
    @in_lane
    def _rules_worker(self, ws: Workspace, level: str, support: float, lift: float | None,
                      customers: pl.Series | None, antecedent: str | None, title: str) -> tuple[pl.DataFrame, str]:
        progress = job_progress(f"Cross-sell rules by {level}")
        from shopper_tui.analytics.affinity import pair_rules

        progress("pairs over baskets", None)
        rules = pair_rules(ws, level=level, min_support=support, min_lift=lift,  # type: ignore[arg-type]
                           customers=customers, antecedent=antecedent)
        import polars as pl

        names = [c for c in ("antecedent_name", "consequent_name") if c in rules.columns]
        return rules.select("antecedent", *names[:1], "consequent", *names[1:], pl.col("support").round(5),
                            pl.col("confidence").round(4), pl.col("lift").round(3), pl.col("conviction").round(3),
                            "baskets"), title

    @on(Select.Changed, "#cross-level")
    def _level_changed(self, event: Select.Changed) -> None:
        support = self.query_one("#cross-support", Input)
        if support.value.strip() in _DEFAULT_SUPPORT.values():
            support.value = _DEFAULT_SUPPORT[str(event.value)]
        if self.view == "cross":
            self.load_rules()

    @on(Select.Changed, "#cross-segment")
    def _segment_changed(self) -> None:
        if self.view == "cross":
            self.load_rules()

    @on(Input.Submitted, "#cross-filters Input")
    def _filter_submitted(self) -> None:
        self.load_rules()
