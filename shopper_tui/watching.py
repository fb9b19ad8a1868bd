"""Watch mode, retraining, write-back and PII in the app: the glue between the engine
(:mod:`~shopper_tui.analytics.watch`, :mod:`~shopper_tui.analytics.writeback`,
:mod:`~shopper_tui.analytics.audit`) and :class:`~shopper_tui.app.ShopperApp`.

How watch mode flows (``shopper-tui --source … --watch --interval 30s``):

1. The import worker opens the workspace read-write (DuckDB allows one writer per file, so
   the same :class:`Workspace` serves every screen's reads) and records where watching starts
   (:func:`init_watermarks`).
2. A timer ticks every interval; a tick starts one poll worker unless one is still running
   or an import is under way (no overlap). On a MongoDB server with change streams (a replica
   set) a :class:`~shopper_tui.analytics.watch.ChangeFeed` also ticks the moment documents
   arrive (a poll already running is followed by another at once).
3. The worker polls (:class:`Watcher`), and when rows arrived and a segmentation is trained,
   places the affected customers with the trained model (:func:`reassign`, no retraining).
   It never raises: a failure (server down) becomes :attr:`WatchStatus.error` and the next
   tick tries again from the same watermarks.
4. The result arrives as :class:`WatchPolled`; the app updates :attr:`watch_status`, swaps in
   the updated segmentation and bumps ``data_version``, which the open screen watches to
   reload in place. An error is notified once when it starts and once when polling resumes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import polars as pl
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from .jobs import job_progress
from .widgets.bar_chart import counted

if TYPE_CHECKING:
    from .analytics.segmentation import SegmentationResult
    from .analytics.watch import ChangeFeed, PollResult, Watcher
    from .analytics.workspace import Workspace
    from .config import Settings

__all__ = ["WatchMode", "WatchPolled", "WatchStatus", "MongoUriDialog", "apply_assignments", "merge_moves", "segments_changed",
           "start_watching"]


# -- pure parts (no Textual) ----------------------------------------------------------------------

def start_watching(ws: Workspace, settings: Settings) -> dict[str, str]:
    """Record where watching starts for streams without a watermark (call right after import)."""
    from .analytics.watch import init_watermarks

    return init_watermarks(ws, settings.source, collections=settings.collections or None, timeout_ms=5000)


def apply_assignments(result: SegmentationResult, assigned: pl.DataFrame,
                      features: pl.DataFrame) -> tuple[SegmentationResult, pl.DataFrame]:
    """``result`` with the labels of ``assigned`` (customer_id, segment_id, probability)
    replacing or adding to its own, and every statistic recomputed from ``features`` (those
    customers' features on the new data, from ``reassign_with_features``): sizes, shares,
    R/F/M means, revenue shares, top categories and personas.

    Returns:
        The updated result, and the customers who changed segment or are new:
        customer_id, from_segment_id (null when new), to_segment_id.
    """
    from .analytics.segmentation import with_members

    if assigned.is_empty():
        return result, _NO_MOVES
    old = result.labels
    new = assigned.select(pl.col("customer_id"), pl.col("segment_id").cast(old.schema["segment_id"]),
                          pl.col("probability").cast(old.schema["probability"]))
    before = old.join(new, on="customer_id", how="right", suffix="_new")
    moved = before.filter(pl.col("segment_id").is_null() | (pl.col("segment_id") != pl.col("segment_id_new"))).select(
        pl.col("customer_id").cast(pl.String),
        pl.col("segment_id").cast(pl.Int64).alias("from_segment_id"),
        pl.col("segment_id_new").cast(pl.Int64).alias("to_segment_id"),
    )
    labels = pl.concat([old.join(new, on="customer_id", how="anti"), new]).sort("customer_id")
    return with_members(result, labels, features), moved


_NO_MOVES = pl.DataFrame(schema={"customer_id": pl.String, "from_segment_id": pl.Int64, "to_segment_id": pl.Int64})


def merge_moves(earlier: pl.DataFrame | None, later: pl.DataFrame, at: datetime) -> pl.DataFrame:
    """Every customer moved since watching began: their first ``from``, latest ``to`` and
    when they last moved; customers back where they started drop out."""
    stamped = later.with_columns(pl.lit(at.replace(tzinfo=None)).alias("moved_at"))
    if earlier is None or earlier.is_empty():
        return stamped
    both = pl.concat([earlier, stamped])
    merged = both.group_by("customer_id", maintain_order=True).agg(
        pl.col("from_segment_id").first(), pl.col("to_segment_id").last(), pl.col("moved_at").last())
    return merged.filter(pl.col("from_segment_id").is_null()
                         | (pl.col("from_segment_id") != pl.col("to_segment_id"))).sort("moved_at", descending=True)


def segments_changed(old: pl.DataFrame, new: pl.DataFrame) -> tuple[int, int]:
    """How many customers changed segment between two fits (and how many were compared).

    Segment ids of two fits are arbitrary, so each new segment is matched to an old one by
    the assignment that keeps the most customers in place (Hungarian method on the overlap
    table); a customer changed when their new segment is not the match of their old one.
    Customers in only one of the two are not compared.
    """
    from scipy.optimize import linear_sum_assignment

    both = old.select("customer_id", a="segment_id").join(new.select("customer_id", b="segment_id"), on="customer_id")
    if both.is_empty():
        return 0, 0
    import numpy as np

    ai = both["a"].rank("dense").cast(pl.Int64).to_numpy() - 1
    bi = both["b"].rank("dense").cast(pl.Int64).to_numpy() - 1
    matrix = np.zeros((int(ai.max()) + 1, int(bi.max()) + 1), dtype=np.int64)
    np.add.at(matrix, (ai, bi), 1)
    rows, cols = linear_sum_assignment(-matrix)
    kept = int(matrix[rows, cols].sum())
    return both.height - kept, both.height


@dataclass(frozen=True)
class WatchStatus:
    """What the Data screen's live panel shows."""

    source: str
    interval: float
    polls: int = 0
    last: PollResult | None = None
    last_polled: datetime | None = None
    arrived: PollResult | None = None  #: the last poll that brought rows
    arrived_at: datetime | None = None
    error: str | None = None
    error_since: datetime | None = None
    rows_per_minute: float = 0.0
    watermarks: dict[str, str] = field(default_factory=dict)
    tail: pl.DataFrame | None = None
    reassigned: int = 0  #: customers whose segment changed by the last poll's reassignment
    total_rows: int = 0
    feed: str | None = None  #: MongoDB change streams: how new rows are noticed (None for folders)


@dataclass
class FeedNotice(Message):
    """The change feed saw new documents (``changed``) or changed state (listening, refused …)."""

    changed: bool


@dataclass
class WatchPolled(Message):
    """A poll finished (``result`` None when it failed: ``error`` says why)."""

    result: PollResult | None
    error: str | None
    segmentation: SegmentationResult | None
    moved: pl.DataFrame
    watcher: Watcher


# -- the export dialog --------------------------------------------------------------------------

class MongoUriDialog(ModalScreen[str | None]):
    """Ask where to write segments, user features and recommendations. The configured URI is
    shown masked; leaving it unchanged uses it (the password never reaches the screen)."""

    DEFAULT_CSS = """
    MongoUriDialog { align: center middle; }
    MongoUriDialog > Vertical { width: 80; max-width: 95%; height: auto; border: thick $primary;
        background: $surface; padding: 1 2; }
    MongoUriDialog Label { width: 100%; margin-bottom: 1; }
    MongoUriDialog Horizontal { height: auto; align-horizontal: right; margin-top: 1; }
    MongoUriDialog Button { margin-left: 2; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, configured: str | None) -> None:
        super().__init__()
        from .analytics.sources import mask_uri

        self._configured = configured
        self._masked = mask_uri(configured) if configured else ""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Export segments, user_features and recommendations to MongoDB", markup=False)
            yield Label("mongodb://host:port/database (unchanged: the configured URI, password kept hidden)",
                        markup=False, classes="hint")
            yield Input(value=self._masked, placeholder="mongodb://host:27017/shop", id="mongo-uri")
            with Horizontal():
                yield Button("Export", variant="primary", id="export")
                yield Button("Cancel", id="cancel")

    def _uri(self) -> str | None:
        text = self.query_one(Input).value.strip()
        if not text:
            return None
        return self._configured if text == self._masked and self._configured else text

    @on(Input.Submitted)
    @on(Button.Pressed, "#export")
    def _submit(self) -> None:
        uri = self._uri()
        if uri is None or not uri.startswith(("mongodb://", "mongodb+srv://")):
            self.notify("Give a mongodb:// URI with the database to write to.", severity="warning")
            return
        self.dismiss(uri)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


# -- the app mixin --------------------------------------------------------------------------------

class WatchMode:
    """Mixed into :class:`~shopper_tui.app.ShopperApp`: watch-mode polling, "Retrain now",
    "Export to MongoDB" and the PII toggle. The app declares the reactives ``data_version``
    and ``watch_status`` this mixin sets."""

    _watcher: Watcher | None = None
    _feed: ChangeFeed | None = None
    _poll_again: bool = False
    _retrain_baseline: SegmentationResult | None = None
    _moves_model: object | None = None  #: the model the moved customers were placed with
    _retrain_pending: bool = False

    # -- polling ---------------------------------------------------------------------------
    def start_watch_timer(self) -> None:
        """Start polling every ``settings.watch_interval`` seconds (watch mode only)."""
        app: Any = self
        if not app.settings.watch:
            return
        from .analytics.sources import mask_uri

        app.watch_status = WatchStatus(mask_uri(app.settings.source), app.settings.watch_interval)
        app.set_interval(app.settings.watch_interval, self._watch_tick, name="watch")
        from .analytics.sources import source_kind

        if source_kind(app.settings.source) == "mongodb":
            from .analytics.watch import ChangeFeed

            self._feed = ChangeFeed(app.settings.source, on_change=self._feed_changed, on_state=self._feed_state,
                                    collections=app.settings.collections or None,
                                    timeout_ms=self._source_timeout_ms()).start()
            app.watch_status = dataclasses.replace(app.watch_status, feed=self._feed_text())

    def _source_timeout_ms(self) -> int:
        """How long a poll or the change feed waits for the server: the interval, 0.5–5 s."""
        app: Any = self
        return max(500, min(5000, int(app.settings.watch_interval * 1000)))

    def _feed_text(self) -> str | None:
        feed = self._feed
        if feed is None:
            return None
        if feed.state == "listening":
            return "change stream: new rows read at once"
        if feed.state == "unsupported":
            return f"polling only: {feed.detail}"
        if feed.state == "reconnecting":
            return f"change stream reconnecting ({feed.detail}); polling meanwhile"
        return f"change stream {feed.state}"

    def _feed_changed(self) -> None:
        """From the change feed's thread: documents arrived; poll now (on the UI thread)."""
        self.post_message(FeedNotice(changed=True))  # type: ignore[attr-defined]  # thread-safe, never blocks

    def _feed_state(self) -> None:
        """From the change feed's thread: it started listening, lost the server or was refused."""
        self.post_message(FeedNotice(changed=False))  # type: ignore[attr-defined]

    def on_feed_notice(self, message: FeedNotice) -> None:
        app: Any = self
        if not app.screen_stack or self._feed is None:
            return  # the app is closing
        app.watch_status = dataclasses.replace(app.watch_status, feed=self._feed_text())
        if message.changed:
            self._source_changed()

    def _source_changed(self) -> None:
        if self._busy("watch"):
            self._poll_again = True  # polled as soon as the running poll ends
            return
        self._watch_tick()

    def stop_change_feed(self) -> None:
        if self._feed is not None:
            self._feed.stop(timeout=0)

    def _busy(self, group: str) -> bool:
        app: Any = self
        return any(w.group == group and not w.is_finished for w in app.workers)

    def _watch_tick(self) -> None:
        app: Any = self
        if not app.screen_stack or app.workspace is None or self._busy("watch") or self._busy("import"):
            return  # no overlap with the previous poll; never while the workspace is swapped
        self._watch_poll(app.workspace, app.segmentation)

    @work(thread=True, exclusive=False, exit_on_error=False, group="watch")
    def _watch_poll(self, ws: Workspace, segmentation: SegmentationResult | None) -> None:
        from .analytics.sources import mask_uri
        from .analytics.watch import Watcher, reassign_with_features

        app: Any = self
        if self._watcher is None or self._watcher.ws is not ws:
            self._watcher = Watcher(ws, app.settings.source, collections=app.settings.collections or None,
                                    timeout_ms=self._source_timeout_ms())
        watcher = self._watcher
        updated, moved, error = None, _NO_MOVES, None
        try:
            result = watcher.poll()
            error = watcher.last_error
            if result is not None and result.customers and segmentation is not None:
                assigned, features = reassign_with_features(ws, segmentation.model, result.customers)
                updated, moved = apply_assignments(segmentation, assigned, features)
        except Exception as exc:  # noqa: BLE001 - a poll never stops the app; shown in the live panel
            result, error = None, f"{type(exc).__name__}: {exc}"
        app.post_message(WatchPolled(result, mask_uri(error) if error else None, updated, moved, watcher))

    def on_watch_polled(self, message: WatchPolled) -> None:
        app: Any = self
        if not app.screen_stack:
            return  # the app is closing
        if self._feed is not None:
            app.watch_status = dataclasses.replace(app.watch_status, feed=self._feed_text())
        if self._poll_again:  # documents arrived while this poll ran
            self._poll_again = False
            app.call_later(self._watch_tick)
        old: WatchStatus = app.watch_status
        now = datetime.now().astimezone()
        w = message.watcher
        if message.error:
            if old.error is None:
                app.notify(f"{message.error}\nThe app keeps working; polling retries every "
                           f"{app.settings.watch_interval:g} s.", title="Watch: poll failed", severity="error",
                           timeout=8)
            app.watch_status = dataclasses.replace(old, polls=old.polls + 1, error=message.error,
                                                   error_since=old.error_since or now, last_polled=now)
            return
        if old.error is not None:
            app.notify("The source answers again; polling resumed.", title="Watch")
        r = message.result
        assert r is not None
        app.watch_status = dataclasses.replace(
            old, polls=old.polls + 1, last=r, last_polled=now, error=None, error_since=None,
            rows_per_minute=w.rows_per_minute, watermarks=dict(r.watermarks), tail=w.tail,
            reassigned=message.moved.height if r.changed else old.reassigned, total_rows=old.total_rows + r.rows,
            arrived=r if r.changed else old.arrived, arrived_at=now if r.changed else old.arrived_at,
        )
        if r.changed:
            if message.segmentation is not None and app.segmentation is not None \
                    and message.segmentation.model is app.segmentation.model:
                app.segmentation = message.segmentation
                if not message.moved.is_empty():
                    self._moves_model = message.segmentation.model
                    app.moved_customers = merge_moves(app.moved_customers, message.moved, now)
            app.data_version += 1

    # -- retrain ---------------------------------------------------------------------------
    def action_retrain_now(self) -> None:
        """Refit the current segmentation in a worker; report how many customers moved."""
        app: Any = self
        if app.workspace is None:
            app.notify("No data open yet.", severity="warning")
            return
        self._retrain_baseline = app.segmentation
        self._retrain_pending = True
        app.notify(f"Retraining {app.segment_choice.describe()}…", title="Retrain")
        app.request_segmentation(force=True)

    def watch_segmentation(self, result: SegmentationResult | None) -> None:
        app_: Any = self
        if app_.moved_customers is not None and (result is None or result.model is not self._moves_model):
            app_.moved_customers = None  # a new model: its segment ids are not the old ones
        if not self._retrain_pending or result is None or result is self._retrain_baseline:
            return
        app: Any = self
        self._retrain_pending = False
        old, self._retrain_baseline = self._retrain_baseline, None
        if old is None:
            app.notify(f"Trained: {result.k} segments, {result.labels.height:,} customers.", title="Retrain")
            return
        changed, compared = segments_changed(old.labels, result.labels)
        app.notify(f"{changed:,} of {counted(compared, 'customer')} changed segment ({result.k} segments).",
                   title="Retrained")

    # -- write-back ----------------------------------------------------------------------------
    def action_export_mongo(self) -> None:
        """Ask for the MongoDB URI, then write segments, user features and recommendations."""
        app: Any = self
        if app.workspace is None:
            app.notify("No data open yet.", severity="warning")
            return

        def chosen(uri: str | None) -> None:
            if uri:
                self._export_mongo(app.workspace, uri, app.segmentation)

        app.push_screen(MongoUriDialog(app.settings.mongo_uri), chosen)

    @work(thread=True, exclusive=True, exit_on_error=False, group="export-mongo")
    def _export_mongo(self, ws: Workspace, uri: str, segmentation: SegmentationResult | None) -> None:
        from .analytics import audit
        from .analytics.sources import mask_uri
        from .analytics.writeback import (
            segment_frames,
            top_n_recommendations,
            write_back,
        )
        from .models import artifact_cache, cached_segmentation, segment_labels

        app: Any = self
        progress = job_progress(f"Exporting to {mask_uri(uri)}")
        choice = app.segment_choice
        result = segmentation or cached_segmentation(ws, app.settings, choice, progress=progress)
        segments, users = segment_frames(result)
        from .analytics.recommend import fit_recommender

        model = fit_recommender(ws, labels=segment_labels(result), cache=artifact_cache(ws, app.settings),
                                progress=progress)
        recs = top_n_recommendations(model, result.labels["customer_id"].to_list(), n=10, progress=progress)
        out = write_back(uri, segments=segments, user_features=users, recommendations=recs, method=result.method,
                         progress=progress)
        audit.record("write_back", data_dir=app.settings.data_dir, target=out.target, workspace=ws.name,
                     source=ws.meta.get("source", "?"), method=result.method, run_id=out.run_id, rows=out.written,
                     removed=out.removed, where="app palette")
        counts = ", ".join(f"{c} {n:,}" for c, n in out.written.items())
        app.call_from_thread(app.notify, f"{out.target}: {counts} (run {out.run_id}).", title="Exported to MongoDB")

    # -- PII ---------------------------------------------------------------------------------
    def action_toggle_pii(self) -> None:
        """Show or mask customer emails and names; every change is audit-logged."""
        from .analytics import audit
        from .analytics.sources import mask_uri

        app: Any = self
        show = not app.settings.show_pii
        app.settings = app.settings.with_(show_pii=show)
        audit.record("show_pii", data_dir=app.settings.data_dir, source=mask_uri(app.settings.source),
                     where="app palette", enabled=show)
        app.notify("Personal columns shown (audit-logged)." if show else "Personal columns masked.", title="PII")
        app.data_version += 1

    def watch_commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        """Palette entries: (name, help, callback)."""
        app: Any = self
        pii = "Mask personal data" if app.settings.show_pii else "Show personal data (PII)"
        return [
            ("Retrain now", "Refit the current segmentation and report how many customers changed segment",
             self.action_retrain_now),
            ("Export to MongoDB", "Write segments, user_features and recommendations (upserts, audit-logged)",
             self.action_export_mongo),
            (pii, "Toggle unmasked customer emails and names (audit-logged)", self.action_toggle_pii),
        ]
