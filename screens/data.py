"""Data: where the data came from, every canonical table with its counts, the validation
report, the rejected rows and a preview of any table. ``r`` re-imports the source.

The Live tab (``l``) shows watch mode as it runs — arriving events, the watermarks, rows per
minute, the last error — and the health of the open workspace (source connectivity and
latency, workspace size and age, cache, trained models, memory; the checks of
``shopper-tui doctor``, ``h`` runs them again). Polled rows reload the counts in place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Label, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from shopper_tui.analytics.schema import TABLE_NAMES
from shopper_tui.analytics.tables import WorkspaceFacts, table_preview, table_summary, workspace_facts
from shopper_tui.doctor import HealthLine, workspace_health
from shopper_tui.jobs import job_progress
from shopper_tui.widgets import FrameTable, ListTable, ShopperScreen, counted, no_data_text

if TYPE_CHECKING:
    import polars as pl

    from shopper_tui.analytics.workspace import Workspace
    from shopper_tui.watching import WatchStatus

__all__ = ["DataScreen", "DataOverview", "PREVIEW_ROWS", "live_text", "health_text"]

#: Rows shown in a table preview.
PREVIEW_ROWS = 1000


@dataclass(frozen=True)
class DataOverview:
    """What the Data screen's worker read from the workspace."""

    facts: WorkspaceFacts
    summary: pl.DataFrame
    report_lines: list[str]
    rejects: pl.DataFrame


def _size(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{n} bytes"


def _when(iso: str) -> str:
    """``2025-01-31T09:05:00+00:00`` → ``2025-01-31 09:05 UTC``."""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return f"{moment:%Y-%m-%d %H:%M} {moment.tzname() or ''}".strip()


def _clock(moment: datetime) -> str:
    return f"{moment:%H:%M:%S}"


def live_text(status: WatchStatus | None) -> Text:
    """The watch-mode summary: state, last poll, rows per minute, watermarks, last error."""
    out = Text(no_wrap=True, overflow="ellipsis")

    def line(label: str, value: str, style: str = "") -> None:
        out.append(f"{label:<11}", style="bold")
        out.append(f"{value}\n", style=style)

    if status is None:
        line("watch", "off")
        out.append("Follow new rows with\n  shopper-tui --source FOLDER|mongodb://… --watch [--interval 30s]", style="dim")
        return out
    line("watch", f"every {status.interval:g} s · {status.source}")
    if status.feed is not None:
        line("", status.feed, "dim")
    if status.last_polled is None:
        line("last poll", "waiting for the first poll…", "dim")
    else:
        last = status.last
        what = f"{last.rows:,} new rows" if last is not None and last.changed else "nothing new"
        line("last poll", f"{_clock(status.last_polled)} · " + (what if status.error is None else "failed"))
    got = status.arrived
    if got is not None and status.arrived_at is not None:
        line("arrived", f"{_clock(status.arrived_at)} · {got.rows:,} rows: "
             + ", ".join(f"{t} {n:,}" for t, n in got.appended.items()))
    line("rows/min", f"{status.rows_per_minute:,.1f} · {status.total_rows:,} rows in {status.polls:,} polls")
    if status.reassigned:
        line("segments", f"{counted(status.reassigned, 'customer')} moved by the last new rows (trained model)")
    for i, (stream, mark) in enumerate(sorted(status.watermarks.items())):
        line("watermark" if i == 0 else "", f"{stream}: {mark}")
    if status.error is not None:
        since = f" (since {_clock(status.error_since)})" if status.error_since else ""
        line("error", f"{status.error}{since}", "bold red")
        out.append("retrying every interval; the data shown stays usable", style="dim")
    else:
        line("error", "none", "dim")
    return out


def health_text(lines: list[HealthLine]) -> Text:
    out = Text(no_wrap=True, overflow="ellipsis")
    for h in lines:
        out.append(f"{h.label:<10}", style="bold")
        out.append(f"{h.text}\n", style="" if h.ok else "bold red")
    return out


class DataScreen(ShopperScreen):
    """Sources, tables, validation, rejected rows, previews, watch mode and health."""

    MODE = "data"
    TITLE_TEXT = "Data"
    CSS_PATH = "data.tcss"
    BINDINGS = [
        Binding("r", "app.reimport", "Re-import"),
        Binding("p", "tab('tab-preview')", "Preview"),
        Binding("v", "tab('tab-validation')", "Validation"),
        Binding("x", "tab('tab-rejects')", "Rejected rows"),
        Binding("l", "tab('tab-live')", "Live & health"),
        Binding("h", "refresh_health", "Check health"),
    ]

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="data-top"):
            yield Static("Opening workspace…", id="data-facts", markup=False)
            table = ListTable(id="data-tables", cursor_type="row", zebra_stripes=False)
            table.border_title = "Tables (enter: preview)"
            yield table
        with TabbedContent(id="data-tabs"):
            with TabPane("Preview", id="tab-preview"):
                yield Label("Pick a table above.", id="preview-title", markup=False)
                yield FrameTable(name="preview", id="preview-table", empty_text="No table picked.")
            with TabPane("Validation", id="tab-validation"):
                with VerticalScroll(id="validation-scroll"):
                    yield Static("", id="validation-report", markup=False)
            with TabPane("Rejected rows", id="tab-rejects"):
                yield FrameTable(name="rejected_rows", id="rejects-table", empty_text="No rejected rows.")
            with TabPane("Live & health", id="tab-live"):
                with Horizontal(id="live-top"):
                    yield Static(live_text(None), id="live-status", markup=False)
                    yield Static("Checking…", id="live-health", markup=False)
                yield FrameTable(name="arriving_events", id="live-tail", empty_text="No events arrived yet.")

    def on_mount(self) -> None:
        table = self.query_one("#data-tables", ListTable)
        table.add_column("table", key="table")
        table.add_column(Text("rows", justify="right"), key="rows")
        table.add_column(Text("rejected", justify="right"), key="rejected")
        table.add_column("source", key="present")
        self.query_one("#data-facts", Static).border_title = "Source"
        self.query_one("#live-status", Static).border_title = "Watch"
        self.query_one("#live-health", Static).border_title = "Health (h: check again)"
        self.query_one("#live-tail", FrameTable).border_title = "Arriving events (newest last)"
        self.watch(self.app, "watch_status", self._show_live, init=True)

    def watch_workspace(self, workspace: Workspace | None) -> None:
        if workspace is not None:
            self.load(workspace)
            self.load_health(workspace)

    def show_no_data(self, message: str) -> None:
        self.query_one("#data-facts", Static).update(
            no_data_text(message, key="r to re-import") + f"\n\n{message}"
        )

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_refresh_health(self) -> None:
        if self.workspace is not None:
            self.load_health(self.workspace)

    # -- live --------------------------------------------------------------------------------
    def data_changed(self) -> None:
        """Polled rows arrived (or PII display changed): reload counts and preview in place."""
        if self.workspace is not None:
            self.load(self.workspace)

    def _show_live(self, status: WatchStatus | None) -> None:
        self.query_one("#live-status", Static).update(live_text(status))
        if status is not None and status.tail is not None:
            self.query_one("#live-tail", FrameTable).set_frame(status.tail, name="arriving_events", keep_view=True)

    @work(thread=True, exclusive=True, exit_on_error=False, group="health")
    def load_health(self, workspace: Workspace) -> list[HealthLine]:
        progress = job_progress("Health")
        progress("checking source, workspace and cache", None)
        return workspace_health(self.app.settings, workspace)

    # -- loading ---------------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="data")
    def load(self, workspace: Workspace) -> DataOverview:
        progress = job_progress("Data")
        progress("counting rows", None)
        facts = workspace_facts(workspace, data_dir=self.app.settings.data_dir)
        summary = table_summary(workspace)
        progress("reconciling order lines", None)
        lines = workspace.report.lines()
        if workspace.has_rows("order_items"):
            from shopper_tui.analytics.purchases import reconcile

            lines = ["Every order line read, by what the purchase rules made of it:", *reconcile(workspace).lines(),
                     "", *lines]
        progress("reading rejected rows", None)
        return DataOverview(facts, summary, lines, workspace.rejects())

    @work(thread=True, exclusive=True, exit_on_error=False, group="preview")
    def load_preview(self, workspace: Workspace, table: str) -> tuple[str, pl.DataFrame]:
        progress = job_progress(f"Preview {table}")
        progress("reading", None)
        show_pii = self.app.settings.show_pii
        return table, table_preview(workspace, table, limit=PREVIEW_ROWS, show_pii=show_pii)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is not WorkerState.SUCCESS:
            return
        if event.worker.group == "data":
            self.show(event.worker.result)  # type: ignore[arg-type]
        elif event.worker.group == "preview":
            name, frame = event.worker.result  # type: ignore[misc]
            self.show_preview(name, frame)
        elif event.worker.group == "health":
            self.query_one("#live-health", Static).update(health_text(event.worker.result))  # type: ignore[arg-type]

    # -- showing ---------------------------------------------------------------------------
    def show(self, data: DataOverview) -> None:
        f = data.facts
        facts = Text(no_wrap=True, overflow="ellipsis")  # long paths and URIs are cut, not wrapped
        for label, value in (
            ("source", f.source), ("kind", f.kind), ("read as", f.description),
            ("workspace", f.display_path), ("size", _size(f.size_bytes)), ("imported", _when(f.imported_at)),
        ):
            facts.append(f"{label:<10}", style="bold")
            facts.append(f"{value}\n")
        total_rejected = int(data.summary.get_column("rejected").sum())
        facts.append(f"{'rejected':<10}", style="bold")
        facts.append(f"{total_rejected:,} rows (x: see them)", style="red" if total_rejected else "")
        self.query_one("#data-facts", Static).update(facts)
        table = self.query_one("#data-tables", ListTable)
        selected = self._selected_table()
        table.clear()
        for row in data.summary.iter_rows(named=True):
            table.add_row(
                Text(row["table"]),
                Text(f"{row['rows']:,}", justify="right"),
                Text(f"{row['rejected']:,}", justify="right", style="red" if row["rejected"] else "dim"),
                Text("yes" if row["present"] else "missing", style="" if row["present"] else "yellow"),
                key=row["table"],
            )
        if selected in TABLE_NAMES:
            table.move_cursor(row=TABLE_NAMES.index(selected))
        report = "\n".join(data.report_lines) or "Nothing to report: every row was kept."
        self.query_one("#validation-report", Static).update(report)
        self.query_one("#rejects-table", FrameTable).set_frame(data.rejects, name="rejected_rows", keep_view=True)
        if self.workspace is not None:
            self.load_preview(self.workspace, selected or TABLE_NAMES[0])

    def show_preview(self, name: str, frame: pl.DataFrame) -> None:
        counts = self._row_count(name)
        shown = f"first {frame.height:,} of {counts:,} rows" if counts > frame.height else f"all {frame.height:,} rows"
        masked = "" if self.app.settings.show_pii else " · personal columns masked"
        self.query_one("#preview-title", Label).update(f"{name}: {shown}{masked if name == 'customers' else ''}")
        preview = self.query_one("#preview-table", FrameTable)
        preview.set_frame(frame, name=name, keep_view=preview.table_name == name)  # a reload keeps sort and filter

    def _row_count(self, name: str) -> int:
        table = self.query_one("#data-tables", ListTable)
        try:
            cell = table.get_cell(name, "rows")
        except Exception:  # noqa: BLE001 - row not there yet
            return 0
        return int(str(cell.plain if isinstance(cell, Text) else cell).replace(",", "") or 0)

    def _selected_table(self) -> str | None:
        table = self.query_one("#data-tables", ListTable)
        if table.row_count == 0:
            return None
        return TABLE_NAMES[table.cursor_row] if table.cursor_row < len(TABLE_NAMES) else None

    @on(DataTable.RowSelected, "#data-tables")
    @on(DataTable.RowHighlighted, "#data-tables")
    def _table_picked(self, event: DataTable.RowSelected | DataTable.RowHighlighted) -> None:
        name = event.row_key.value if event.row_key else None
        if name and self.workspace is not None:
            self.load_preview(self.workspace, name)
            if isinstance(event, DataTable.RowSelected):
                self.action_tab("tab-preview")
