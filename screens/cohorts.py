"""Cohorts: the retention triangle as a heatmap, cohort by period N.

Customers are grouped by first-purchase period (or signup period); each cell is the share of
the cohort active in period N (``n`` switches to "active in N or later"), or, with ``v``, the
cohort's revenue in N as a share of its period-0 revenue. ``g`` filters by segment (the
focus segment chosen on Segments by default). ``t`` shows the same numbers as a table
(exportable). Numbers come from :func:`shopper_tui.analytics.cohorts.cohorts` in a worker.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from shopper_tui.jobs import in_lane, job_progress
from shopper_tui.palette import PaletteCommands
from shopper_tui.widgets import FrameTable, ShopperScreen, counted, no_data_text
from shopper_tui.widgets.heatmap import Heatmap

if TYPE_CHECKING:
    import polars as pl
    from shopper_tui.analytics.workspace import Workspace

__all__ = ["CohortsScreen", "CohortSpec", "triangle"]

MODES = ("on", "on_or_after")
MEASURES = ("customers", "revenue")
PERIODS = ("month", "week", "quarter")
BASES = ("first_purchase", "signup")


@dataclass(frozen=True)
class CohortSpec:
    mode: str = "on"
    measure: str = "customers"
    period: str = "month"
    by: str = "first_purchase"
    segment: int | None = None

    def describe(self, segment_name: str | None = None) -> str:
        basis = "first purchase" if self.by == "first_purchase" else "signup"
        what = ("customers active" if self.measure == "customers" else "revenue (% of period 0)")
        when = f"in {self.period} N" if self.mode == "on" else f"in {self.period} N or later"
        seg = f" · segment {segment_name or self.segment}" if self.segment is not None else " · all customers"
        return f"{what} {when} · cohorts by {basis} {self.period}{seg}"


def _cohort_label(value: Any, period: str) -> str:
    return f"{value:%Y-%m}" if period == "month" else (
        f"{value.year}-Q{(value.month - 1) // 3 + 1}" if period == "quarter" else f"{value:%Y-%m-%d}")


_Triangle = tuple[list[str], list[str], list[list[float | None]]]


def triangle(frame: pl.DataFrame, period: str) -> _Triangle:
    """Row labels ("2024-07 · 42"), column labels (0…N) and rate × 100 per cell (None outside)."""
    import polars as pl

    if frame.is_empty():
        return [], [], []
    periods = list(range(int(frame["period"].max()) + 1))  # type: ignore[arg-type]
    wide = (frame.select("cohort", "size", "period", (pl.col("rate") * 100).alias("pct"))
            .pivot(on="period", index=["cohort", "size"], values="pct", sort_columns=False)
            .sort("cohort"))
    rows = [f"{_cohort_label(c, period)} · {s:,}" for c, s in zip(wide["cohort"], wide["size"], strict=True)]
    values = [[wide[str(p)][i] if str(p) in wide.columns else None for p in periods] for i in range(wide.height)]
    return rows, [str(p) for p in periods], values


class CohortCommands(PaletteCommands):
    """The Cohorts screen's actions in the command palette."""

    COMMANDS = (
        ("Cohorts: active in N / N or later", "Switch the retention definition (n)", "toggle_mode"),
        ("Cohorts: customers / revenue", "Customer retention or revenue retention (v)", "toggle_measure"),
        ("Cohorts: next period", "month → week → quarter (p)", "next_period"),
        ("Cohorts: first purchase / signup", "What starts a cohort (c)", "toggle_basis"),
        ("Cohorts: next segment filter", "All customers → each segment (g)", "next_segment"),
        ("Cohorts: heatmap / table", "Show the numbers as a table to sort, filter, export (t)", "toggle_table"),
    )


class CohortsScreen(ShopperScreen):
    """Cohort retention triangle."""

    MODE = "cohorts"
    TITLE_TEXT = "Cohorts"
    CSS_PATH = "funnels.tcss"
    COMMANDS = {CohortCommands}
    BINDINGS = [
        Binding("n", "toggle_mode", "In N / N or later"),
        Binding("v", "toggle_measure", "Customers/revenue"),
        Binding("p", "next_period", "Period"),
        Binding("c", "toggle_basis", "First buy/signup", show=False),
        Binding("g", "next_segment", "Segment"),
        Binding("t", "toggle_table", "Heatmap/table"),
    ]

    spec: reactive[CohortSpec] = reactive(CohortSpec, init=False)

    def __init__(self) -> None:
        super().__init__()
        self.frame: pl.DataFrame | None = None
        self._spec_shown: CohortSpec | None = None

    def compose_body(self) -> ComposeResult:
        with Vertical(id="cohorts-body"):
            yield Static("", id="cohort-spec", markup=False)
            yield Heatmap(id="cohort-map", empty_text="Computing cohorts…")
            table = FrameTable(name="cohorts", id="cohort-table", empty_text="Computing…")
            table.display = False
            yield table
            yield Static("", id="cohort-cell", markup=False)

    def on_mount(self) -> None:
        focus = self.app.focus_segment
        if focus is not None:  # before the workspace arrives, so the first triangle is filtered
            self.set_reactive(CohortsScreen.spec, replace(self.spec, segment=int(focus)))
        super().on_mount()
        self.watch(self.app, "segmentation", self._segmentation_changed, init=False)
        self.watch(self.app, "segmentation_error", self._segmentation_changed, init=False)
        self.watch(self.app, "focus_segment", self._focus_changed, init=False)
        self._show_spec()
        self.query_one(Heatmap).focus()

    def show_no_data(self, message: str) -> None:
        heat = self.query_one(Heatmap)
        heat.empty_text = no_data_text(message, sep=" ")
        heat.refresh()

    def _focus_changed(self, focus: int | None) -> None:
        if focus is not None and focus != self.spec.segment:
            self.spec = replace(self.spec, segment=int(focus))

    # -- computing -------------------------------------------------------------------------
    def watch_workspace(self, workspace: Workspace | None) -> None:
        if workspace is not None:
            self.recompute()

    def watch_spec(self, spec: CohortSpec) -> None:
        self.recompute()

    def _segmentation_changed(self, _result: object) -> None:
        if self.spec.segment is not None:
            self.recompute()

    def _segment_names(self) -> dict[int, str]:
        seg = self.app.segmentation
        if seg is None:
            return {}
        return {int(i): str(n) for i, n in seg.segments.select("segment_id", "name").iter_rows()}

    def _show_spec(self, note: str = "") -> None:
        name = self._segment_names().get(self.spec.segment) if self.spec.segment is not None else None
        self.query_one("#cohort-spec", Static).update(Text(self.spec.describe(name) + note))

    def recompute(self) -> None:
        ws = self.workspace
        if ws is None:
            return
        labels = None
        if self.spec.segment is not None:
            seg = self.app.segmentation
            if seg is None and self.app.segmentation_error:
                self.spec = replace(self.spec, segment=None)  # no segments with this data: everyone
                return
            if seg is None:
                self.app.request_segmentation()
                self._show_spec("  (segmenting… the filter follows)")
                return
            from shopper_tui.models import segment_labels

            labels = segment_labels(seg)
        self._show_spec()
        self.compute(ws, self.spec, labels)

    @work(thread=True, exclusive=True, exit_on_error=False, group="cohorts")
    @in_lane
    def compute(self, ws: Workspace, spec: CohortSpec,
                labels: pl.DataFrame | None) -> tuple[CohortSpec, pl.DataFrame, _Triangle, pl.DataFrame, str | None]:
        import polars.selectors as cs
        from shopper_tui.analytics.cohorts import cohorts
        from shopper_tui.analytics.purchases import guest_share

        progress = job_progress("Cohorts")
        progress(spec.describe(), None)
        frame = cohorts(ws, by=spec.by, period=spec.period, measure=spec.measure, mode=spec.mode,  # type: ignore[arg-type]
                        labels=labels, segment=spec.segment)
        # the heatmap's cells and the table too: on the UI thread they took up to 190 ms at L
        # while the other screens' workers ran after a segmentation
        return (spec, frame, triangle(frame, spec.period), frame.with_columns(cs.float().round(4)),
                guest_share(ws).note())

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "cohorts" and event.state is WorkerState.SUCCESS:
            spec, frame, cells, rounded, guests = event.worker.result  # type: ignore[misc]
            if spec == self.spec:
                self._show(spec, frame, cells, rounded)
                if guests:  # cohorts are customers: say what they leave out
                    self._show_spec(f"  · {guests}")

    def _show(self, spec: CohortSpec, frame: pl.DataFrame, cells: _Triangle, rounded: pl.DataFrame) -> None:
        self.frame, self._spec_shown = frame, spec
        rows, cols, values = cells
        heatmap = self.query_one(Heatmap)
        heatmap.empty_text = "No completed purchases, so no cohorts." if spec.by == "first_purchase" else \
            "No signups, so no cohorts."
        customers = spec.measure == "customers"
        finite = [v for row in values for v in row if v is not None]
        top = max(finite, default=100.0)
        heatmap.set_data(rows, cols, values, fmt=lambda v: f"{v:.0f}",
                         scale=(0.0, 100.0) if customers else (0.0, max(100.0, top)),
                         legend="% of cohort" if customers else "% of period-0 revenue", cursor=(0, 0))
        self.query_one("#cohort-table", FrameTable).set_frame(rounded, name=f"cohorts_{spec.measure}_{spec.mode}")

    @on(Heatmap.CellHighlighted)
    def _cell(self, event: Heatmap.CellHighlighted) -> None:
        frame, spec = self.frame, self._spec_shown
        if frame is None or spec is None or event.value is None:
            self.query_one("#cohort-cell", Static).update("")
            return
        import polars as pl

        cohorts = frame["cohort"].unique().sort()
        if event.row >= len(cohorts):
            return
        cell = frame.filter((pl.col("cohort") == cohorts[event.row]) & (pl.col("period") == event.column))
        if cell.is_empty():
            return
        r = cell.row(0, named=True)
        when = f"{spec.period} {r['period']}" + (" or later" if spec.mode == "on_or_after" else "")
        label = _cohort_label(r["cohort"], spec.period)
        if spec.measure == "customers":
            text = (f"Cohort {label} ({counted(r['size'], 'customer')}): {r['value']:,.0f} active in {when} "
                    f"= {r['rate']:.1%}")
        else:
            rate = "—" if r["rate"] is None else f"{r['rate']:.1%}"
            text = f"Cohort {label} ({counted(r['size'], 'customer')}): revenue in {when} {r['value']:,.2f} = {rate} of period 0"
        self.query_one("#cohort-cell", Static).update(text)

    # -- actions ---------------------------------------------------------------------------
    def action_toggle_mode(self) -> None:
        self.spec = replace(self.spec, mode=MODES[(MODES.index(self.spec.mode) + 1) % 2])

    def action_toggle_measure(self) -> None:
        self.spec = replace(self.spec, measure=MEASURES[(MEASURES.index(self.spec.measure) + 1) % 2])

    def action_next_period(self) -> None:
        self.spec = replace(self.spec, period=PERIODS[(PERIODS.index(self.spec.period) + 1) % len(PERIODS)])

    def action_toggle_basis(self) -> None:
        self.spec = replace(self.spec, by=BASES[(BASES.index(self.spec.by) + 1) % 2])

    def action_next_segment(self) -> None:
        names = self._segment_names()
        if not names:
            self.app.request_segmentation()
            self.notify("Segmenting first (Segments, key 2, chooses how); press g again when it is ready.")
            return
        ids: list[int | None] = [None, *sorted(names)]
        current = ids.index(self.spec.segment) if self.spec.segment in ids else 0
        self.spec = replace(self.spec, segment=ids[(current + 1) % len(ids)])

    def action_toggle_table(self) -> None:
        heatmap, table = self.query_one(Heatmap), self.query_one("#cohort-table", FrameTable)
        heatmap.display, table.display = not heatmap.display, heatmap.display
        if heatmap.display:
            heatmap.focus()
        elif table.data_table is not None:
            table.data_table.focus()
