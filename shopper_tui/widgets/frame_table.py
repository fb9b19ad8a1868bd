"""The reusable data table: a Polars frame shown through textual-fastdatatable's Arrow backend.

Sort, filter and export work on the frame in Polars (:mod:`shopper_tui.analytics.frames`);
the table widget is rebuilt from the resulting view (it only reads Arrow buffers, so a view
of 1 M rows shows in about a third of a second). Cell text is never read as markup.

Use::

    table = FrameTable(name="orders")          # in compose
    table.set_frame(df)                         # whenever the data changes
    table.view                                  # the filtered, sorted frame shown
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import polars as pl
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Label, Static
from textual.worker import Worker, WorkerState
from textual_fastdatatable import ArrowBackend, DataTable

from ..analytics.errors import ShopperError
from ..analytics.audit import record
from ..analytics.frames import ExportResult, export_frame, filter_frame, sort_frame
from ..jobs import JobOwner, job_progress, run_job
from .export_dialog import ExportDialog, ExportRequest
from .printable import printable_frame

__all__ = ["FilterBar", "FrameTable"]

#: Frames up to this many rows and bytes are sorted, filtered and measured on the UI thread
#: (10 ms or less); bigger ones in a thread worker. One segment's reviews at L (45,599 rows,
#: 10 MB of text) took 67 ms on an idle machine and 240 ms while the other screens' workers
#: ran after a segmentation (every Arrow call gives up the GIL and waits to get it back).
INLINE_ROWS = 20_000
INLINE_BYTES = 2_000_000
#: The widest a column is drawn (cells); wider text is cut with an ellipsis.
MAX_COLUMN_WIDTH = 40
_FILTER_HELP = "text to find, or column op value (revenue > 100, status = returned, name ~ shoe); and joins"


class _Handover:
    """A worker's result, taken once. Textual's Worker keeps its result for as long as the worker
    object lives (until the cycle collector finds it); what it holds here is emptied when the
    table takes the view, so the view's Arrow data goes with the table that shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: tuple[pl.DataFrame, str | None, ArrowBackend | None]) -> None:
        self._value: tuple[pl.DataFrame, str | None, ArrowBackend | None] | None = value

    def take(self) -> tuple[pl.DataFrame, str | None, ArrowBackend | None] | None:
        value, self._value = self._value, None
        return value


class _Backend(ArrowBackend):
    """The Arrow backend, with text columns measured only as far as the table shows them.

    textual-fastdatatable measures every value Arrow cannot count (anything not plain ASCII)
    in Python, one distinct value at a time. A review text with a line break (shown as a
    visible character, so not ASCII any more) or an accent is such a value: the 45,599 reviews
    of one segment at L took 0.9-1.7 s to measure, on the UI thread, for a column drawn 40
    cells wide anyway. Here a text column is measured exactly up to :data:`MAX_COLUMN_WIDTH`
    (the table cuts wider text) and only the values that could be the widest are measured:
    see :func:`_text_width`. Other columns are measured by the base class.
    """

    @property
    def column_content_widths(self) -> list[int]:
        if not self._column_content_widths:
            self._column_content_widths = [
                (_text_width(arr, MAX_COLUMN_WIDTH) if len(arr) > _PY_MEASURE_ROWS
                 else _text_width_py(arr.to_pylist(), MAX_COLUMN_WIDTH)) if _is_text(arr.type)
                else (self._measure(arr) or 0)
                for arr in self.data.columns
            ]
        return self._column_content_widths


#: Text columns up to this many rows (those of a table shown on the UI thread) are measured in
#: Python, longer ones in Arrow. An Arrow call gives up the GIL, and the UI thread waited up to
#: the switch interval (5 ms) to get it back after each of a dozen calls per column while
#: workers ran.
_PY_MEASURE_ROWS = INLINE_ROWS


def _text_width_py(values: list[str | None], cap: int) -> int:
    """:func:`_text_width` for a list of values, in Python (the same bounds)."""
    from textual_fastdatatable.format import MULTILINE_MARKER_WIDTH, measure_width

    best = 0
    candidates: list[tuple[int, str]] = []
    for value in values:
        if not value:
            continue
        head, marker = value, 0
        if "\n" in value or "\r" in value:
            head, marker = value.replace("\r", "\n").split("\n", 1)[0], MULTILINE_MARKER_WIDTH
        if head.isascii() and head.isprintable():
            best = max(best, len(head) + marker)
        else:
            candidates.append((len(head) + (len(head.encode()) - len(head)) // 2 + marker, value))
    if best >= cap:
        return best
    seen: set[str] = set()
    for bound, value in sorted(candidates, key=lambda c: c[0], reverse=True):
        if bound <= best or best >= cap:
            break
        if value not in seen:
            seen.add(value)
            best = max(best, measure_width(value, render_markup=False))
    return best


def _is_text(dtype: Any) -> bool:
    import pyarrow.types as pt

    return bool(pt.is_string(dtype) or pt.is_large_string(dtype) or pt.is_string_view(dtype))


def _text_width(arr: Any, cap: int) -> int:
    """The widest value of a text column in terminal cells, exact below ``cap``; at least
    ``cap`` otherwise (the table draws it ``cap`` wide either way).

    A row shows a value's first line, plus a two-cell marker if there are more. A first line of
    printable ASCII is as wide as it is long. Any other is at most as wide as it is long plus
    the number of its characters from U+0800 up, the only ones (CJK, emoji) that can take two
    cells; each takes at least three bytes in UTF-8, so there are at most (bytes − length) / 2
    of them. Only values whose bound exceeds the widest found so far are measured, widest bound
    first, and the search stops once one reaches ``cap``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    from textual_fastdatatable.format import MULTILINE_MARKER_WIDTH, measure_width

    arr = arr.cast(pa.large_string()).fill_null("")
    if not len(arr):
        return 0
    chars = pc.utf8_length(arr)
    head, marker = arr, 0
    if pc.any(pc.match_substring_regex(arr, "[\r\n]")).as_py():
        head = pc.replace_substring_regex(arr, r"(?s)[\r\n].*", "", max_replacements=1)
        head_chars = pc.utf8_length(head)
        marker = pc.multiply(pc.cast(pc.not_equal(chars, head_chars), pa.int64()), MULTILINE_MARKER_WIDTH)
        chars = head_chars
    plain = pc.match_substring_regex(head, r"^[\x20-\x7e]*$")
    best = pc.max(pc.if_else(plain, pc.add(chars, marker), 0)).as_py() or 0
    if best >= cap:
        return best
    wide = pc.shift_right(pc.subtract(pc.binary_length(head), chars), 1)
    bound = pc.add(pc.add(chars, wide), marker)
    maybe = pc.and_(pc.invert(plain), pc.greater(bound, best))
    if not pc.any(maybe).as_py():
        return best
    where = pc.indices_nonzero(maybe.combine_chunks() if isinstance(maybe, pa.ChunkedArray) else maybe)
    sizes = pc.take(bound, where)
    seen: set[str] = set()
    for k in pc.array_sort_indices(sizes, order="descending").to_pylist():
        if sizes[k].as_py() <= best or best >= cap:
            break
        value = arr[where[k].as_py()].as_py()
        if value not in seen:
            seen.add(value)
            best = max(best, measure_width(value, render_markup=False))
    return best


class FilterBar(Horizontal):
    """The `/` line: an input for the filter; ``enter`` applies, ``escape`` closes."""

    DEFAULT_CLASSES = "filter-bar"
    BINDINGS = [Binding("escape", "close", "Close filter")]

    @dataclass
    class Submitted(Message):
        """The user applied a filter text (may be blank: no filter)."""

        text: str

    @dataclass
    class Closed(Message):
        """The user closed the bar without applying."""

    def compose(self) -> ComposeResult:
        yield Label("/", classes="filter-prompt")
        field = Input(placeholder=_FILTER_HELP, classes="filter-input")
        field.can_focus = False  # hidden until `/`: auto-focus must not land in it and eat the keys
        yield field

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Submitted(event.value))

    def action_close(self) -> None:
        self.post_message(self.Closed())


class FrameTable(JobOwner, Vertical):
    """A Polars frame as a sortable, filterable, exportable table.

    Args:
        name: Used for export file names and titles.
        frame: Initial data (or call :meth:`set_frame` later).
        empty_text: What to say when there is no data.
    """

    DEFAULT_CLASSES = "frame-table"
    HELP_TITLE = "Table"
    BINDINGS = [
        Binding("s", "sort", "Sort"),
        Binding("slash", "filter", "Filter"),
        Binding("ctrl+e", "export", "Export"),
    ]

    @dataclass
    class RowChosen(Message):
        """``enter`` on a row: its index in the view and its values."""

        table: FrameTable
        index: int
        row: dict[str, Any]

        @property
        def control(self) -> FrameTable:
            return self.table

    @dataclass
    class Exported(Message):
        """An export finished."""

        result: ExportResult

    def __init__(
        self, *, name: str = "table", frame: pl.DataFrame | None = None, empty_text: str = "No rows.",
        id: str | None = None, classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.table_name = name
        self.empty_text = empty_text
        self._frame: pl.DataFrame = frame if frame is not None else pl.DataFrame()
        self._view: pl.DataFrame = self._frame
        self._sort: tuple[str, bool] | None = None
        self._filter = ""
        self._generation = 0
        self._table: DataTable | None = None
        self._composed = False
        self._data_version: int | None = None  # the app's data_version when the frame was set
        self._keep_cursor = False

    # -- public ----------------------------------------------------------------------------
    @property
    def frame(self) -> pl.DataFrame:
        return self._frame

    @property
    def view(self) -> pl.DataFrame:
        """The rows shown: the frame after the filter and the sort."""
        return self._view

    @property
    def filter_text(self) -> str:
        return self._filter

    @property
    def data_table(self) -> DataTable | None:
        """The grid showing the current view (None when there are no columns)."""
        return self._table

    def set_frame(self, frame: pl.DataFrame, *, name: str | None = None, keep_view: bool = False) -> None:
        """Show ``frame``; the filter and sort are cleared unless ``keep_view`` is set.

        The same table (name and columns) set again after new rows arrived in watch mode
        (the app's ``data_version`` moved on) keeps its filter, sort and cursor too.
        """
        version = getattr(self.app, "data_version", None) if self.is_attached else None
        refreshed = (
            version is not None and self._data_version is not None and version > self._data_version
            and (name is None or name == self.table_name) and frame.columns == self._frame.columns
        )
        self._data_version = version
        self._frame = frame
        if name is not None:
            self.table_name = name
        self._keep_cursor = keep_view or refreshed
        if not (keep_view or refreshed):
            self._sort, self._filter = None, ""
        self._refresh_view()

    def apply_filter(self, text: str) -> None:
        """Filter the frame (see :func:`~shopper_tui.analytics.frames.filter_frame`)."""
        self._filter = text.strip()
        self._refresh_view()

    def sort_by(self, column: str, *, descending: bool = False) -> None:
        self._sort = (column, descending)
        self._refresh_view()

    # -- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        # the filter bar is mounted on the first `/`: an Input and its parts are a good share of
        # the styling a screen's first visit waits for, and most tables are never filtered
        yield Static("", classes="frame-status", markup=False)

    def _filter_bar(self) -> FilterBar | None:
        bars = self.query_children(FilterBar)
        return bars.first() if bars else None

    def on_mount(self) -> None:
        self._composed = True
        self._refresh_view()

    @staticmethod
    def _compute_view(
        frame: pl.DataFrame, query: str, sort: tuple[str, bool] | None
    ) -> tuple[pl.DataFrame, str | None, ArrowBackend | None]:
        """The view, why the filter was not applied (if so), and the grid's measured backend."""
        problem = None
        view = frame
        if query:
            try:
                view = filter_frame(frame, query)
            except ShopperError as exc:
                problem = str(exc)
        if sort and sort[0] in view.columns:
            view = sort_frame(view, sort[0], descending=sort[1])
        backend = None
        if view.width:
            backend = _Backend(printable_frame(view).to_arrow())  # control characters shown, not sent
            backend.render_markup = False  # cell text is data, never markup
            _ = backend.column_content_widths  # measure here (off the UI thread for big views)
        return view, problem, backend

    def _refresh_view(self) -> None:
        if not self._composed:
            return
        if self._frame.height > INLINE_ROWS or self._frame.estimated_size() > INLINE_BYTES:
            self._compute_in_thread(self._frame, self._filter, self._sort)
        else:
            self.app.workers.cancel_group(self, "view")  # a slower, older view must not land later
            self._show_view(*self._compute_view(self._frame, self._filter, self._sort))

    @work(thread=True, exclusive=True, exit_on_error=False, group="view")
    def _compute_in_thread(
        self, frame: pl.DataFrame, query: str, sort: tuple[str, bool] | None
    ) -> _Handover:
        job_progress(f"Sorting and filtering {self.table_name}")("computing", None)
        return _Handover(self._compute_view(frame, query, sort))

    def _show_view(self, view: pl.DataFrame, problem: str | None, backend: ArrowBackend | None) -> None:
        self._view = view
        if problem:
            self._filter = ""
        old = self._table
        bar = self._filter_bar()
        had_focus = old is not None and (old.has_focus or (bar is not None and bar.has_focus_within))
        column = old.cursor_column if old is not None else 0
        row = old.cursor_row if old is not None and self._keep_cursor else 0
        if old is not None:
            self.call_later(self._release, old, old.remove())
        self._table = None
        self._generation += 1
        if backend is not None:
            table = DataTable(
                backend=backend,
                render_markup=False,
                max_column_content_width=MAX_COLUMN_WIDTH,
                zebra_stripes=True,
                null_rep="·",
                id=f"{self.id or 'frame'}-grid-{self._generation}",
                classes="frame-grid",
            )
            self.mount(table)
            self._table = table
            if column or row:
                self.call_after_refresh(table.move_cursor, row=min(row, max(self._view.height - 1, 0)),
                                        column=min(column, self._view.width - 1))
            if had_focus:
                table.focus()
        self._update_status(problem)

    @staticmethod
    async def _release(table: DataTable, removal: Awaitable[None]) -> None:
        """Drop a replaced table's Arrow data once it is off screen. Widgets hold reference cycles,
        and the app freezes long-lived objects between key presses (quiet_gc.py), so the widget
        itself may wait minutes for a deep collection; its data (a copy of the view) is freed now."""
        await removal
        table.backend = None

    def _update_status(self, problem: str | None = None) -> None:
        total, shown = self._frame.height, self._view.height
        if not self._frame.width:
            text = self.empty_text
        elif self._filter:
            text = f"{shown:,} of {total:,} rows · filter: {self._filter}"
        else:
            text = f"{total:,} rows"
        if self._sort and self._frame.width:
            text += f" · sorted by {self._sort[0]} {'↓' if self._sort[1] else '↑'}"
        if problem:
            text += f" · filter not applied: {problem.splitlines()[0]}"
            self.notify(problem, title="Filter", severity="warning")
        self.query_one(".frame-status", Static).update(text)

    # -- actions ---------------------------------------------------------------------------
    def action_sort(self) -> None:
        table = self.data_table
        if table is None or not self._view.width:
            return
        column = self._view.columns[table.cursor_column]
        descending = bool(self._sort and self._sort[0] == column and not self._sort[1])
        self.sort_by(column, descending=descending)

    async def action_filter(self) -> None:
        bar = self._filter_bar()
        if bar is None:
            bar = FilterBar()
            await self.mount(bar, before=0)
        bar.display = True
        field = bar.query_one(Input)
        field.can_focus = True
        field.value = self._filter
        field.cursor_position = len(field.value)
        field.focus()

    def _close_filter(self) -> None:
        bar = self._filter_bar()
        if bar is not None:
            bar.display = False
            bar.query_one(Input).can_focus = False
        table = self.data_table
        if table is not None:
            table.focus()

    @on(FilterBar.Submitted)
    def _filter_submitted(self, event: FilterBar.Submitted) -> None:
        event.stop()
        self.apply_filter(event.text)
        self._close_filter()

    @on(FilterBar.Closed)
    def _filter_closed(self, event: FilterBar.Closed) -> None:
        event.stop()
        self._close_filter()

    def action_export(self) -> None:
        if not self._frame.width:
            self.notify("Nothing to export yet.", severity="warning")
            return
        self.app.push_screen(
            ExportDialog(name=self.table_name, rows=self._view.height), self._export_chosen
        )

    def _export_chosen(self, request: ExportRequest | None) -> None:
        if request is None:
            return
        view = self._view
        data_dir = getattr(getattr(self.app, "settings", None), "data_dir", None)
        table = self.table_name

        def export(progress: object) -> ExportResult:
            result = export_frame(view, request.path, format=request.format)  # type: ignore[arg-type]
            record("export", data_dir=data_dir, table=table, path=str(request.path), format=request.format,
                   rows=view.height, columns=view.columns)
            return result

        run_job(self, f"Exporting {self.table_name}", export, group="export")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "view" and event.state is WorkerState.SUCCESS:
            view = event.worker.result.take()  # type: ignore[union-attr]
            if view is not None:
                self._show_view(*view)
        elif event.worker.group == "export" and event.state is WorkerState.SUCCESS:
            result: ExportResult = event.worker.result  # type: ignore[assignment]
            self.notify(result.describe(), title="Export")
            self.post_message(self.Exported(result))

    @on(DataTable.CellSelected)
    def _cell_selected(self, event: DataTable.CellSelected) -> None:
        event.stop()
        index = event.coordinate.row
        if 0 <= index < self._view.height:
            self.post_message(self.RowChosen(self, index, self._view.row(index, named=True)))
