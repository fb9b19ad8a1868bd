"""Reviews: sentiment mix and trend, aspects, topics, "what customers say", segments, reviews.

Scoring (``analytics.reviews.score_reviews``) runs in a worker with progress and can be
cancelled (escape); it is cached per data fingerprint and model, so reopening is instant.
Every view is computed from the scored reviews in workers, after the filters:

* ``views``  — filtered scores, sentiment mix, aspect table, segment × aspect, review list;
* ``trend``  — sentiment per week or month;
* ``summary`` — extractive summaries per product, category, segment or overall;
* ``topics`` — LDA topics with top words, share and trend (cached per review set).

The model in use and why is always on screen. ``enter`` on a review opens it in full with
the sentences that drove each aspect highlighted (:mod:`.review_detail`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Label, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState
from textual_fastdatatable import DataTable

from shopper_tui.config import SENTIMENT_MODELS
from shopper_tui.jobs import in_lane, job_progress
from shopper_tui.palette import PaletteCommands
from shopper_tui.widgets import BarChart, FrameTable, ShopperScreen, counted, no_data_text

from .review_detail import ReviewDetailScreen, ReviewFilter, ReviewFilterDialog

if TYPE_CHECKING:
    import polars as pl
    from shopper_tui.analytics.reviews import ReviewScores, SentimentMix
    from shopper_tui.analytics.segmentation import SegmentationResult
    from shopper_tui.analytics.workspace import Workspace

__all__ = ["ReviewsScreen", "ReviewViews", "ReviewCommands", "SentimentChart", "GRANULARITIES", "TABS"]

GRANULARITIES = ("product", "category", "segment", "all")
FREQS = ("month", "week")
TABS = (("aspects", "Aspects"), ("topics", "Topics"), ("summary", "What customers say"),
        ("segments", "By segment"), ("reviews", "Reviews"))
_COLOURS = {"positive": "green", "neutral": "yellow", "negative": "red"}
#: Without colour (NO_COLOR) the chart tells the three shares apart by shade instead.
_SHADES = {"positive": "░", "neutral": "▒", "negative": "█"}
_EIGHTHS = " ▁▂▃▄▅▆▇█"
_SPARK = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class ReviewViews:
    """What the views worker computed for one filter."""

    filtered: ReviewScores
    mix: SentimentMix
    aspects: pl.DataFrame
    segments: pl.DataFrame | None
    reviews: pl.DataFrame
    labels: pl.DataFrame | None
    note: str
    #: ``segments`` as the table shows it: a column per aspect, the share of negative mentions
    segments_wide: pl.DataFrame | None = None


# -- the chart ---------------------------------------------------------------------------------
class SentimentChart(Widget):
    """Stacked 100 % bars per period: negative (bottom), neutral, positive (top)."""

    DEFAULT_CLASSES = "sentiment-chart"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.trend: pl.DataFrame | None = None
        self.shown = 0

    def set_trend(self, trend: pl.DataFrame) -> None:
        self.trend = trend
        self.refresh()

    def render(self) -> Text:
        t = self.trend
        if t is None:
            return Text("Scoring reviews…", style="dim")
        if t.is_empty():
            return Text("No dated reviews to chart.", style="dim")
        width, height = self.size.width, self.size.height
        rows = max(height - 3, 1)
        ticks = {0: "100%", rows // 2: "50%", rows - 1: "0%"}
        plot_width = max(width - 6, 1)
        n = min(t.height, plot_width)
        tail = t.tail(n)
        self.shown = n
        step = max(1, min(4, plot_width // n))
        bar = step - 1 if step >= 3 else step
        neg, neu = tail["share_negative"].to_list(), tail["share_neutral"].to_list()
        out = Text(no_wrap=True, overflow="crop")
        for r in range(rows):
            level = rows - 1 - r  # cell spans [level, level + 1) in row units
            out.append(f"{ticks.get(r, ''):>4} ", style="dim")
            out.append("┤" if r in ticks else "│", style="dim")
            for sn, su in zip(neg, neu):
                a, b = sn * rows, (sn + su) * rows
                out.append_text(self._shade(level, a, b, bar) if self.app.no_color else self._cell(level, a, b, bar))
                out.append(" " * (step - bar))
            out.append("\n")
        out.append(" " * 5 + "└" + "─" * min(plot_width, n * step) + "\n", style="dim")
        out.append_text(BarChart._labels(tail["period"].to_list(), 6, step, "dim"))
        return out

    @staticmethod
    def _shade(level: int, a: float, b: float, width: int) -> Text:
        """A cell without colour: the shade of the share at the cell's middle (to the nearest
        whole cell, as eighth blocks need two colours)."""
        y = level + 0.5
        key = "negative" if y < a else "neutral" if y < b else "positive"
        return Text(_SHADES[key] * width)

    @staticmethod
    def _cell(level: int, a: float, b: float, width: int) -> Text:
        def colour(y: float) -> str:
            return _COLOURS["negative"] if y < a else _COLOURS["neutral"] if y < b else _COLOURS["positive"]

        low, high = colour(level + 0.01), colour(level + 0.99)
        if low == high:
            return Text("█" * width, style=low)
        edge = next(x for x in (a, b) if level < x < level + 1)
        eighths = round((edge - level) * 8)
        if eighths <= 0:
            return Text("█" * width, style=high)
        return Text(_EIGHTHS[min(eighths, 8)] * width, style=f"{low} on {high}")


# -- the palette -----------------------------------------------------------------------------
class ReviewCommands(PaletteCommands):
    """Every action of the Reviews screen."""

    def commands(self) -> list[tuple[str, str, Any]]:
        screen = self.screen
        if not isinstance(screen, ReviewsScreen):
            return []
        out: list[tuple[str, str, Any]] = [
            (f"Reviews: sentiment model {m}", f"Score reviews with {m} (m cycles)", partial(screen.set_model, m))
            for m in SENTIMENT_MODELS
        ]
        out += [(f"Reviews: trend per {f}", "Sentiment and topic trends per period (w)",
                 partial(setattr, screen, "freq", f)) for f in FREQS]
        out += [(f"Reviews: summaries by {g}", "What customers say per group (g)",
                 partial(setattr, screen, "by", g)) for g in GRANULARITIES]
        out += [(f"Reviews: only reviews mentioning {a}", "Filter by aspect (a cycles)",
                 partial(screen.apply_filter, screen.filter.with_(aspect=a))) for a in screen.aspect_names]
        out += [(f"Reviews: only {s} reviews", "Filter by sentiment",
                 partial(screen.apply_filter, screen.filter.with_(sentiment=s))) for s in _COLOURS]
        out += [(f"Reviews: show {title}", f"Show the {title} tab ([ and ] switch)", partial(screen.show_tab, tab))
                for tab, title in TABS]
        out += [
            ("Reviews: filters…", "Product, category, segment, rating, dates, sentiment, aspect (f)",
             screen.action_filters),
            ("Reviews: clear filters", "Show every review (x)", screen.action_clear_filters),
            ("Reviews: segment customers", "Train the shared segmentation for sentiment by segment",
             screen.action_train_segments),
        ]
        return out

# -- the screen ------------------------------------------------------------------------------
def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.0%}"


class ReviewsScreen(ShopperScreen):
    """What customers say: sentiment, aspects, topics, summaries, segments."""

    MODE = "reviews"
    TITLE_TEXT = "Reviews"
    CSS_PATH = "reviews.tcss"
    COMMANDS = {ReviewCommands}
    BINDINGS = [
        Binding("m", "next_model", "Model"),
        Binding("w", "next_freq", "Week/month"),
        Binding("g", "next_granularity", "Summary by"),
        Binding("f", "filters", "Filters"),
        Binding("a", "next_aspect", "Aspect filter"),
        Binding("x", "clear_filters", "Clear filters"),
        Binding("left_square_bracket", "tab(-1)", "Prev tab", show=False),
        Binding("right_square_bracket", "tab(1)", "Next tab", show=False),
    ]

    model: reactive[str] = reactive("auto", init=False)
    freq: reactive[str] = reactive("month", init=False)
    by: reactive[str] = reactive("product", init=False)

    def __init__(self) -> None:
        super().__init__()
        self.rs: ReviewScores | None = None
        self.views: ReviewViews | None = None
        self.filter = ReviewFilter()
        self.aspect_names: list[str] = []
        self._focus_applied: int | None = None

    def compose_body(self) -> ComposeResult:
        with Vertical(id="reviews"):
            yield Static("Opening workspace…", id="reviews-model", markup=False)
            yield Static("", id="reviews-filters", markup=False)
            yield Static("", id="reviews-mix", markup=False)
            yield Label("Sentiment over time", id="trend-title", markup=False)
            yield SentimentChart(id="trend-chart")
            with TabbedContent(id="reviews-tabs"):
                with TabPane("Aspects", id="aspects"):
                    yield FrameTable(name="review_aspects", id="aspect-table", empty_text="Scoring…")
                with TabPane("Topics", id="topics"):
                    yield Static("", id="topics-note", markup=False)
                    yield FrameTable(name="review_topics", id="topic-table", empty_text="Finding topics…")
                with TabPane("What customers say", id="summary"):
                    yield Static("", id="summary-note", markup=False)
                    yield FrameTable(name="review_summaries", id="summary-table", empty_text="Summarising…")
                    yield Static("", id="summary-full", markup=False)
                with TabPane("By segment", id="segments"):
                    yield Static("", id="segments-note", markup=False)
                    yield FrameTable(name="segment_aspects", id="segment-table", empty_text="No segmentation yet.")
                with TabPane("Reviews", id="reviews-list"):
                    yield FrameTable(name="reviews", id="reviews-table", empty_text="Scoring…")
        yield Static("", id="reviews-missing", markup=False)

    def on_mount(self) -> None:
        self.model = self.app.settings.sentiment_model or "auto"
        self.watch(self.app, "segmentation", self._segmentation_changed, init=False)
        self.watch(self.app, "segmentation_error", self._segmentation_changed, init=False)
        self.watch(self.app, "focus_segment", self._focus_changed, init=True)

    # -- data in ---------------------------------------------------------------------------
    def watch_workspace(self, workspace: Workspace | None) -> None:
        self.rs = self.views = None
        if workspace is None:
            return
        if "reviews" not in workspace.present:
            self._missing(
                "This data set has no reviews, so there is nothing to show here.\n\n"
                "Add a reviews.csv / reviews.parquet (review_id, product_id, text; rating, ts, customer_id, "
                "title optional) to the source folder, or a 'reviews' collection in MongoDB, then "
                "ctrl+p → Re-import source.")
            return
        self.query_one("#reviews").display = True
        self.query_one("#reviews-missing").display = False
        self.score(workspace, self.model)

    def _missing(self, text: str) -> None:
        self.query_one("#reviews").display = False
        missing = self.query_one("#reviews-missing", Static)
        missing.display = True
        missing.update(text)

    def show_no_data(self, message: str) -> None:
        self._missing(no_data_text(message))

    def watch_model(self, model: str) -> None:
        if self.workspace is not None and self.is_mounted and "reviews" in self.workspace.present:
            self.score(self.workspace, model)

    def watch_freq(self, _freq: str) -> None:
        if self.views is not None:
            self.trend(self.views.filtered, self.freq)
            self.topics(self.views.filtered, self.freq)

    def watch_by(self, _by: str) -> None:
        if self.views is not None:
            self._summarise(self.views)

    def _segmentation_changed(self, _result: object) -> None:
        if self.rs is not None:
            self.compute_views(self.rs, self.filter, self.app.segmentation)

    def _focus_changed(self, segment: int | None) -> None:
        if segment is not None and segment != self._focus_applied:
            self._focus_applied = segment
            self.apply_filter(self.filter.with_(segment=segment))

    # -- workers ---------------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="reviews-score")
    def score(self, workspace: Workspace, model: str) -> ReviewScores:
        progress = job_progress(f"Scoring reviews ({model})")
        from shopper_tui.analytics.reviews import score_reviews

        from shopper_tui.models import artifact_cache

        s = self.app.settings
        return score_reviews(workspace, model=model, aspects=getattr(s, "aspects", None) or None,
                             cache=artifact_cache(workspace, s), hf_model_dir=getattr(s, "hf_model_dir", None),
                             progress=progress)

    @work(thread=True, exclusive=True, exit_on_error=False, group="reviews-views")
    @in_lane
    def compute_views(self, rs: ReviewScores, flt: ReviewFilter,
                      segmentation: SegmentationResult | None) -> ReviewViews:
        progress = job_progress("Review views")
        import polars as pl
        from shopper_tui.analytics.reviews import (
            aspect_table,
            filter_scores,
            segment_aspects,
            sentiment_mix,
        )

        from shopper_tui.models import segment_labels

        labels = segment_labels(segmentation) if segmentation is not None else None
        note = ""
        product = flt.product
        if product is not None and not rs.scores["product_id"].eq(product).any():
            hits = rs.scores.filter(pl.col("product_name").str.to_lowercase().str.contains(product.lower(),
                                                                                          literal=True))
            product = hits["product_id"].unique().to_list()
            note = f"'{flt.product}' matches {len(product)} product(s) by name"
        segment = flt.segment
        if segment is not None and labels is None:
            segment, note = None, "segment filter waits for a segmentation"
        progress("filtering", 0.1)
        filtered = filter_scores(rs, product=product, category=flt.category, segment=segment, labels=labels,
                                 rating=flt.rating, since=flt.since, until=flt.until, sentiment=flt.sentiment,
                                 aspect=flt.aspect)
        progress("aspects", 0.3)
        aspects = aspect_table(filtered).select(
            "aspect", "mentions", "share_positive", "share_negative", "positive_example", "negative_example",
            "net", "reviews")
        seg = wide = None
        if labels is not None:
            progress("segments", 0.8)
            seg = segment_aspects(filtered, labels)
            wide = (seg.pivot(on="aspect", index=["segment_id", "segment", "segment_reviews"], values="share_negative")
                    .sort("segment_id"))
            wide = wide.with_columns(pl.exclude("segment_id", "segment", "segment_reviews").round(3))
        listing = filtered.scores.sort("ts", descending=True, nulls_last=True).select(
            "review_id", pl.col("ts").dt.date().alias("date"), "rating", "sentiment", "score", "product_name",
            "category", "aspects",
            pl.col("document").str.replace_all(r"\s*\n\s*", " · ").str.slice(0, 200).alias("text"))
        return ReviewViews(filtered, sentiment_mix(filtered), aspects, seg, listing, labels, note, wide)

    @work(thread=True, exclusive=True, exit_on_error=False, group="reviews-trend")
    @in_lane
    def trend(self, filtered: ReviewScores, freq: str) -> tuple[str, pl.DataFrame]:
        from shopper_tui.analytics.reviews import sentiment_trend

        return freq, sentiment_trend(filtered, freq=freq)  # type: ignore[arg-type]

    @work(thread=True, exclusive=True, exit_on_error=False, group="reviews-summary")
    @in_lane
    def summarise(self, filtered: ReviewScores, by: str, labels: pl.DataFrame | None) -> tuple[str, Any]:
        progress = job_progress(f"Summarising reviews by {by}")
        import polars as pl
        from shopper_tui.analytics.reviews import summaries

        if filtered.scores.is_empty():
            return by, "No reviews match the filters."
        progress("choosing sentences", None)
        table = summaries(filtered, by=by, labels=labels)  # type: ignore[arg-type]
        if by == "product":
            names = filtered.scores.select(group="product_id", name="product_name").unique("group")
            table = table.join(names, on="group", how="left").select("group", "name", *table.columns[1:])
        table = table.drop("sentences")
        return by, table.select("group", *(["name"] if by == "product" else []), "summary",
                                pl.exclude("group", "name", "summary"))

    @work(thread=True, exclusive=True, exit_on_error=False, group="reviews-topics")
    @in_lane
    def topics(self, filtered: ReviewScores, freq: str) -> Any:
        progress = job_progress("Finding review topics")
        import polars as pl
        from shopper_tui.analytics.errors import ShopperError
        from shopper_tui.analytics.topics import review_topics

        from shopper_tui.models import artifact_cache

        ws = self.workspace
        cache = artifact_cache(ws, self.app.settings) if ws is not None else None
        try:
            found = review_topics(filtered, freq=freq, cache=cache, progress=progress)  # type: ignore[arg-type]
        except ShopperError as exc:
            return str(exc)
        periods = 24
        spark = (found.trend.sort("period").group_by("topic_id", maintain_order=True)
                 .agg(pl.col("share").tail(periods)))
        lines = {tid: _sparkline(shares) for tid, shares in spark.iter_rows()}
        table = found.topics.with_columns(
            pl.col("top_words").list.join(", "),
            pl.col("topic_id").replace_strict(lines, default="", return_dtype=pl.String).alias("trend"),
        ).select("topic_id", "label", "reviews", "share", "trend", "share_positive", "share_negative",
                 "average_rating", "top_words")
        return freq, table

    # -- results ---------------------------------------------------------------------------
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        group = event.worker.group
        if group == "reviews-score" and event.state in (WorkerState.ERROR, WorkerState.CANCELLED):
            if self.rs is not None and self.model != self.rs.choice.requested:
                self.set_reactive(ReviewsScreen.model, self.rs.choice.requested)  # back to what is shown
            self._show_model()
        if event.state is not WorkerState.SUCCESS:
            return
        result = event.worker.result
        if group == "reviews-score":
            self.rs = result  # type: ignore[assignment]
            self.aspect_names = list(self.rs.aspects)
            self._show_model()
            self.compute_views(self.rs, self.filter, self.app.segmentation)
        elif group == "reviews-views":
            self._show_views(result)  # type: ignore[arg-type]
        elif group == "reviews-trend":
            self._show_trend(*result)  # type: ignore[misc]
        elif group == "reviews-summary":
            self._show_summary(*result)  # type: ignore[misc]
        elif group == "reviews-topics":
            self._show_topics(result)

    def _show_model(self) -> None:
        text = Text("Model ", style="dim")
        if self.rs is None:
            text.append(f"{self.model}: scoring…")
        else:
            c = self.rs.choice
            text.append(c.model, style="bold")
            if c.requested != c.model:
                text.append(f" (asked: {c.requested})", style="dim")
            text.append(f" — {c.reason}")
            if self.rs.cached:
                text.append(" · cached", style="dim")
            if self.model != c.requested:
                text.append(f" · scoring with {self.model}…", style="bold")
        text.append(" · m: model", style="dim")
        self.query_one("#reviews-model", Static).update(text)

    def _segment_names(self) -> dict[int, str]:
        seg = self.app.segmentation
        if seg is None:
            return {}
        return dict(seg.segments.select("segment_id", "name").iter_rows())

    def _show_filters(self, note: str = "") -> None:
        text = Text("Filters: ", style="dim")
        text.append(self.filter.describe(self._segment_names()), style="bold" if self.filter.active else "")
        if note:
            text.append(f" ({note})", style="dim")
        text.append("  · f: filters · a: aspect · x: clear", style="dim")
        self.query_one("#reviews-filters", Static).update(text)

    def _show_views(self, views: ReviewViews) -> None:
        self.views = views
        mix = views.mix
        text = Text(counted(mix.reviews, "review"), style="bold")
        if mix.average_rating is not None:
            text.append(f" · {mix.average_rating:.2f}★ avg ({mix.rated:,} rated)")
        for key in ("positive", "neutral", "negative"):
            text.append(" · ")
            text.append(f"{getattr(mix, 'share_' + key):.0%} {key[:3]}", style=_COLOURS[key])
        text.append(f" · score {mix.average_score:+.2f}")
        self.query_one("#reviews-mix", Static).update(text)
        self._show_filters(views.note)
        self.query_one("#aspect-table", FrameTable).set_frame(views.aspects, keep_view=True)
        self.query_one("#reviews-table", FrameTable).set_frame(views.reviews, keep_view=True)
        segments = self.query_one("#segment-table", FrameTable)
        note = self.query_one("#segments-note", Static)
        if views.segments_wide is None:
            segments.set_frame(_empty())
            failed = self.app.segmentation_error
            note.update(f"No segments with this data: {failed}" if failed else
                        "No segmentation yet: train one on Segments (2), or ctrl+p → Reviews: segment customers."
                        + ("" if "orders" in (self.workspace.present if self.workspace else ()) else
                           " It needs orders, which this data set does not have."))
        else:  # pivoted in the worker: on the UI thread it took 40-70 ms after a segmentation at L
            segments.set_frame(views.segments_wide, keep_view=True)
            note.update("Share of each segment's mentions of an aspect that are negative "
                        "(enter: filter by segment)")
        self.trend(views.filtered, self.freq)
        self._summarise(views)
        self.topics(views.filtered, self.freq)

    def _summarise(self, views: ReviewViews) -> None:
        note = self.query_one("#summary-note", Static)
        if self.by == "segment" and views.labels is None:
            self.query_one("#summary-table", FrameTable).set_frame(_empty())
            failed = self.app.segmentation_error
            note.update(f"No segments with this data: {failed} · g: granularity" if failed else
                        "Summaries by segment need a segmentation: train one on Segments (2) or "
                        "ctrl+p → Reviews: segment customers · g: granularity")
            return
        note.update(f"What customers say, by {self.by}: summarising… · g: granularity")
        self.summarise(views.filtered, self.by, views.labels)

    def _show_trend(self, freq: str, trend: pl.DataFrame) -> None:
        chart = self.query_one(SentimentChart)
        chart.set_trend(trend)
        self.call_after_refresh(self._title_trend, freq, trend)

    def _title_trend(self, freq: str, trend: pl.DataFrame) -> None:
        title = Text(f"Sentiment per {freq} ", style="bold")
        for key in ("positive", "neutral", "negative"):
            title.append(_SHADES[key] if self.app.no_color else "■", style=_COLOURS[key])
            title.append(f"{key[:3]} ", style="dim")
        chart = self.query_one(SentimentChart)
        if trend.height:
            last = trend.row(trend.height - 1, named=True)
            title.append(f"· latest {last['share_positive']:.0%} pos of {last['reviews']:,}", style="dim")
            if chart.shown and chart.shown < trend.height:
                title.append(f" · last {chart.shown} of {trend.height}", style="dim")
        title.append(" · w: week/month", style="dim")
        self.query_one("#trend-title", Label).update(title)

    def _show_summary(self, by: str, table: Any) -> None:
        if by != self.by:
            return
        note = self.query_one("#summary-note", Static)
        frame = self.query_one("#summary-table", FrameTable)
        if isinstance(table, str):
            note.update(table)
            frame.set_frame(_empty())
            return
        drill = "" if by == "all" else f" (enter: filter by {by})"
        note.update(f"What customers say, by {by}{drill} · g: granularity")
        frame.set_frame(table)
        self._show_full_summary(0)

    def _show_full_summary(self, index: int) -> None:
        view = self.query_one("#summary-table", FrameTable).view
        full = self.query_one("#summary-full", Static)
        if "summary" not in view.columns or not 0 <= index < view.height:
            full.update("")
            return
        row = view.row(index, named=True)
        text = Text(f"{row['group']}", style="bold")
        if row.get("name"):
            text.append(f" {row['name']}", style="bold")
        text.append(f" ({counted(row['reviews'], 'review')}): ", style="dim")
        text.append(row["summary"] or "—")
        full.update(text)

    def on_data_table_cell_highlighted(self, event: DataTable.CellHighlighted) -> None:
        summary = self.query_one("#summary-table", FrameTable)
        if event.data_table is summary.data_table:
            self._show_full_summary(event.coordinate.row)

    def _show_topics(self, result: Any) -> None:
        note = self.query_one("#topics-note", Static)
        frame = self.query_one("#topic-table", FrameTable)
        if isinstance(result, str):
            note.update(f"No topics: {result}")
            frame.set_frame(_empty())
            return
        freq, table = result
        note.update(f"LDA topics: share of reviews, trend of that share per {freq} (last 24), top words")
        frame.set_frame(table, keep_view=True)

    # -- drill-down ------------------------------------------------------------------------
    def on_frame_table_row_chosen(self, event: FrameTable.RowChosen) -> None:
        table, row = event.table.id, event.row
        if table == "reviews-table":
            self.open_review(str(row["review_id"]))
        elif table == "aspect-table":
            self.apply_filter(self.filter.with_(aspect=row["aspect"]))
        elif table == "segment-table":
            self.apply_filter(self.filter.with_(segment=row["segment_id"]))
        elif table == "summary-table" and self.by != "all":
            key = {"product": "product", "category": "category", "segment": "segment"}[self.by]
            value: Any = row["group"]
            if self.by == "segment":
                names = {v: k for k, v in self._segment_names().items()}
                value = names.get(value, value)
            self.apply_filter(self.filter.with_(**{key: value}))

    def open_review(self, review_id: str) -> None:
        from shopper_tui.analytics.reviews import review_detail

        if self.rs is None:
            return
        detail = review_detail(self.rs, review_id)
        name = self.rs.scores.filter(self.rs.scores["review_id"] == review_id)["product_name"]
        self.app.push_screen(ReviewDetailScreen(detail, name[0] if len(name) else None))

    # -- actions ---------------------------------------------------------------------------
    def apply_filter(self, flt: ReviewFilter) -> None:
        self.filter = flt
        self._show_filters("updating…")
        if self.rs is not None:
            self.compute_views(self.rs, flt, self.app.segmentation)

    def set_model(self, model: str) -> None:
        self.model = model
        self._show_model()

    def show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab if tab != "reviews" else "reviews-list"

    def action_tab(self, step: int) -> None:
        ids = [t if t != "reviews" else "reviews-list" for t, _ in TABS]
        tabs = self.query_one(TabbedContent)
        tabs.active = ids[(ids.index(tabs.active) + step) % len(ids)] if tabs.active in ids else ids[0]

    def action_next_model(self) -> None:
        self.set_model(SENTIMENT_MODELS[(SENTIMENT_MODELS.index(self.model) + 1) % len(SENTIMENT_MODELS)])

    def action_next_freq(self) -> None:
        self.freq = FREQS[(FREQS.index(self.freq) + 1) % len(FREQS)]

    def action_next_granularity(self) -> None:
        self.by = GRANULARITIES[(GRANULARITIES.index(self.by) + 1) % len(GRANULARITIES)]

    def action_next_aspect(self) -> None:
        names: list[str | None] = [None, *self.aspect_names]
        current = self.filter.aspect if self.filter.aspect in names else None
        self.apply_filter(self.filter.with_(aspect=names[(names.index(current) + 1) % len(names)]))

    def action_clear_filters(self) -> None:
        self.apply_filter(ReviewFilter())

    def action_filters(self) -> None:
        categories: list[str] = []
        if self.rs is not None:
            categories = sorted(c for c in self.rs.scores["category"].unique().to_list() if c is not None)

        def chosen(flt: ReviewFilter | None) -> None:
            if flt is not None:
                self.apply_filter(flt)

        self.app.push_screen(ReviewFilterDialog(self.filter, categories=categories, aspects=self.aspect_names,
                                                segments=self._segment_names()), chosen)

    def action_train_segments(self) -> None:
        self.app.request_segmentation()


def _sparkline(values: list[float]) -> str:
    top = max(values, default=0.0) or 1.0
    return "".join(_SPARK[min(7, int(v / top * 7.999))] for v in values)


def _empty() -> pl.DataFrame:
    import polars as pl

    return pl.DataFrame()
