"""Funnels: conversion through ordered steps, as horizontal bars, with breakdowns and drop-offs.

The funnel is defined by its steps (an input; saved funnels come from the settings file's
``[funnels]`` table), the unit (sessions or customers), the conversion window and the mode
(ordered, strict, any order). ``b`` breaks it down by segment, device, channel or experiment
variant, shown side by side. The table under the bars holds every number; ``enter`` on a
step lists example units that dropped off after it (exportable with ctrl+e), ``escape``
goes back. All computation runs in workers (:mod:`shopper_tui.analytics.funnels`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Input, Label, Static
from textual.worker import Worker, WorkerState

from shopper_tui.jobs import in_lane, job_progress
from shopper_tui.palette import PaletteCommands
from shopper_tui.widgets import FrameTable, ShopperScreen, no_data_text

if TYPE_CHECKING:
    import polars as pl
    from shopper_tui.analytics.funnels import FunnelResult
    from shopper_tui.analytics.workspace import Workspace

__all__ = ["FunnelsScreen", "FunnelSpec", "FunnelBars", "duration", "percent"]

DEFAULT_STEPS = ("view", "add_to_cart", "checkout", "purchase")
UNITS = ("session", "customer")
MODES = ("ordered", "strict", "any")
BREAKDOWNS: tuple[str | None, ...] = (None, "segment", "device", "channel", "variant")
_EIGHTHS = " ▏▎▍▌▋▊▉█"


def duration(seconds: float | None) -> str:
    """``31`` → ``31s``, ``104`` → ``1m44s``, ``7500`` → ``2h05m``, ``300000`` → ``3.5d``; None → ``—``."""
    if seconds is None:
        return "—"
    s = float(seconds)
    if s < 60:
        return f"{s:.0f}s"
    if s < 3600:
        return f"{int(s // 60)}m{int(s % 60):02d}s"
    if s < 86400:
        return f"{int(s // 3600)}h{int(s % 3600 // 60):02d}m"
    return f"{s / 86400:.1f}d"


def percent(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def window_text(window: timedelta) -> str:
    """A window the way a user writes it: 1d, 14d, 12h, 30m."""
    s = int(window.total_seconds())
    for size, suffix in ((604800, "w"), (86400, "d"), (3600, "h"), (60, "m")):
        if s % size == 0 and s >= size and not (suffix == "w" and s // size < 2):
            return f"{s // size}{suffix}"
    return f"{s}s"


def bar(fraction: float, width: int) -> str:
    """A left-aligned bar of ``width`` cells filled to ``fraction`` (eighth-cell precision)."""
    eighths = max(0, min(width * 8, round(fraction * width * 8)))
    full, rest = divmod(eighths, 8)
    return ("█" * full + (_EIGHTHS[rest] if rest else "")).ljust(width)


@dataclass(frozen=True)
class FunnelSpec:
    """Everything that defines the funnel on screen."""

    steps: tuple[str, ...] = DEFAULT_STEPS
    unit: str = "session"
    window: timedelta | None = None  # None: the unit's default (1d sessions, 14d customers)
    mode: str = "ordered"
    by: str | None = None

    def window_or_default(self) -> timedelta:
        if self.window is not None:
            return self.window
        return timedelta(days=1) if self.unit == "session" else timedelta(days=14)

    def describe(self) -> str:
        by = f" · by {self.by}" if self.by else ""
        return (f"{' → '.join(self.steps)} · {self.unit}s · {window_text(self.window_or_default())} window"
                f" · {self.mode}{by}")


class FunnelBars(Widget):
    """Horizontal bars of a funnel; with a breakdown, one column per group side by side."""

    COMPONENT_CLASSES = {"funnel-bars--bar", "funnel-bars--drop", "funnel-bars--dim"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.result: FunnelResult | None = None
        self.message: str | None = None  # why there is no funnel to draw (shown instead of bars)

    def show(self, result: FunnelResult | None, message: str | None = None) -> None:
        self.result = result
        self.message = message
        self.refresh(layout=True)

    def get_content_height(self, container: Any, viewport: Any, width: int) -> int:
        if self.result is None:
            return 1 if self.message is None else len(self.message.splitlines()) + 1
        n = len(self.result.step_names)
        return n * 2 + 1 if self.result.by is None else n + 2

    def render(self) -> Text:
        if self.result is None:
            return Text(self.message or "Computing the funnel…", style="dim" if self.message is None else "")
        if self.result.steps.is_empty():
            return Text("No unit reached the first step.", style="dim")
        if self.result.by is None:
            return self._single(self.result.steps, self.size.width)
        return self._side_by_side(self.result, self.size.width)

    def _single(self, frame: pl.DataFrame, width: int) -> Text:
        rows = frame.to_dicts()
        first = rows[0]["count"] or 1
        name_w = max(len(r["step"]) for r in rows) + 4
        nums_w = 52
        bar_w = max(8, width - name_w - nums_w - 1)
        bar_style, drop_style, dim = self._styles()
        out = Text(no_wrap=True, overflow="ellipsis")
        out.append(f"{'':<{name_w}}{'':<{bar_w}} {'count':>9} {'step':>7} {'overall':>8}  time to next\n",
                   style=dim)
        for r in rows:
            out.append(f"{r['step_index']} {r['step']:<{name_w - 2}}", style="bold")
            out.append(bar(r["count"] / first, bar_w), style=bar_style)
            out.append(f" {r['count']:>9,} {percent(r['conversion_from_previous']):>7} "
                       f"{percent(r['conversion_from_first']):>8}")
            if r["median_seconds_to_next"] is not None:
                out.append(f"  med {duration(r['median_seconds_to_next'])} · p90 "
                           f"{duration(r['p90_seconds_to_next'])}", style=dim)
            out.append("\n")
            if r["drop_off"] is not None:
                out.append(f"{'':<{name_w}}↓ drop-off {r['drop_off']:,} ({percent(r['drop_off_rate'])})\n",
                           style=drop_style)
        out.rstrip()
        return out

    def _side_by_side(self, result: FunnelResult, width: int) -> Text:
        import polars as pl

        groups = list(result.groups)
        name_w = max(len(s) for s in result.step_names) + 3
        col_w = max(12, (width - name_w) // max(1, len(groups)))
        bar_w = max(3, col_w - 8)
        bar_style, _drop, dim = self._styles()
        out = Text(no_wrap=True, overflow="crop")
        out.append(" " * name_w, style="bold")
        for g in groups:
            first = result.steps.filter((pl.col("group") == g) & (pl.col("step_index") == 1))["count"]
            n = int(first[0]) if len(first) else 0
            label = f"{g} ({n:,})"
            out.append(label[: col_w - 1].ljust(col_w), style="bold")
        out.append("\n")
        by_key = {(r["group"], r["step_index"]): r for r in result.steps.iter_rows(named=True)}
        for i, step in enumerate(result.step_names, start=1):
            out.append(f"{i} {step:<{name_w - 2}}", style="bold")
            for g in groups:
                r = by_key.get((g, i))
                rate = (r or {}).get("conversion_from_first")
                out.append(bar(rate or 0.0, bar_w), style=bar_style)
                out.append(f" {percent(rate, 0):>5}".ljust(col_w - bar_w))
            out.append("\n")
        out.append("bars: share of the group's first step; every number in the table below", style=dim)
        return out

    def _styles(self) -> tuple[Any, Any, Any]:
        return tuple(self.get_component_rich_style(f"funnel-bars--{n}") for n in ("bar", "drop", "dim"))  # type: ignore[return-value]


class FunnelCommands(PaletteCommands):
    """The Funnels screen's actions in the command palette."""

    def commands(self) -> list[tuple[str, str, str]]:
        screen = self.screen
        assert isinstance(screen, FunnelsScreen)
        commands = [
            ("Funnel: edit steps", "Type the funnel's event types, comma-separated (e)", "edit_steps"),
            ("Funnel: edit conversion window", "e.g. 30m, 12h, 1d, 2w (w)", "edit_window"),
            ("Funnel: sessions / customers", "Count unique sessions or unique customers (u)", "toggle_unit"),
            ("Funnel: next mode", "ordered → strict → any order (m)", "next_mode"),
            ("Funnel: next breakdown", "none → segment → device → channel → variant (b)", "next_breakdown"),
            ("Funnel: dropped examples", "Units that dropped off after the selected step (enter)", "drop_examples"),
            ("Funnel: next saved funnel", "Cycle the funnels saved in the settings file (f)", "next_saved"),
            ("Funnel: save these steps", "Keep this funnel under a name in the settings folder (ctrl+s)",
             "save_funnel"),
            ("Funnel: reset", "Default steps, window, mode, no breakdown (r)", "reset"),
        ]
        for name in screen.saved_funnels():
            commands.append((f"Funnel: open saved '{name}'", "From the settings file's [funnels]",
                             f"open_saved({name!r})"))
        return commands


class FunnelsScreen(ShopperScreen):
    """A conversion funnel with breakdowns and drop-off examples."""

    MODE = "funnels"
    TITLE_TEXT = "Funnels"
    CSS_PATH = "funnels.tcss"
    AUTO_FOCUS = ""  # keys act on the screen; e / w focus the inputs
    COMMANDS = {FunnelCommands}
    BINDINGS = [
        Binding("e", "edit_steps", "Steps"),
        Binding("w", "edit_window", "Window"),
        Binding("u", "toggle_unit", "Sessions/customers"),
        Binding("m", "next_mode", "Mode"),
        Binding("b", "next_breakdown", "Breakdown"),
        Binding("f", "next_saved", "Saved funnel", show=False),
        Binding("ctrl+s", "save_funnel", "Save funnel", show=False),
        Binding("r", "reset", "Reset", show=False),
        Binding("escape", "back", "Back"),
    ]

    spec: reactive[FunnelSpec] = reactive(FunnelSpec, init=False)

    def __init__(self) -> None:
        super().__init__()
        self.result: FunnelResult | None = None
        self.result_spec: FunnelSpec | None = None  # what the shown result was computed for
        self.examples: pl.DataFrame | None = None
        self.examples_for: dict[str, Any] | None = None
        self._saved_index = -1

    def compose_body(self) -> ComposeResult:
        with Vertical(id="funnel-body"):
            with Horizontal(id="funnel-controls"):
                yield Label("Steps", classes="control-label")
                yield Input(",".join(DEFAULT_STEPS), id="funnel-steps")
                yield Label("Window", classes="control-label")
                yield Input("", placeholder="1d", id="funnel-window")
            yield Static("", id="funnel-spec", markup=False)
            with VerticalScroll(id="funnel-chart"):
                yield FunnelBars(id="funnel-bars")
            yield Label("", id="funnel-table-title", markup=False)
            yield FrameTable(name="funnel", id="funnel-table", empty_text="Computing…")

    def on_mount(self) -> None:
        super().on_mount()
        self.watch(self.app, "segmentation", self._segmentation_changed, init=False)
        self.watch(self.app, "segmentation_error", self._segmentation_changed, init=False)
        self._show_spec()
        for box in self.query(Input):
            box.can_focus = False  # typed keys belong to the screen until e / w opens an input

    # -- state -----------------------------------------------------------------------------
    def saved_funnels(self) -> dict[str, list[str]]:
        return dict(self.app.settings.funnels or {})

    def watch_workspace(self, workspace: Workspace | None) -> None:
        if workspace is not None:
            self.recompute()

    def watch_spec(self, spec: FunnelSpec) -> None:
        self.query_one("#funnel-steps", Input).value = ",".join(spec.steps)
        self.query_one("#funnel-window", Input).value = window_text(spec.window_or_default())
        self._show_spec()
        self.recompute()

    def _segmentation_changed(self, _result: object) -> None:
        if self.spec.by == "segment":
            self.recompute()

    def _show_spec(self) -> None:
        spec = self.spec
        text = Text(spec.describe())
        if spec.by == "segment" and self.app.segmentation is None:
            failed = self.app.segmentation_error
            text.append("   (no segments with this data)" if failed else "   (segmenting… the breakdown follows)",
                        style="dim")
        self.query_one("#funnel-spec", Static).update(text)

    def show_no_data(self, message: str) -> None:
        self._no_funnel(no_data_text(message))

    def _no_funnel(self, message: str) -> None:
        """Say why there is no funnel where the bars and the table would be."""
        import polars as pl

        self.result = None
        self.query_one(FunnelBars).show(None, message)
        table = self.query_one("#funnel-table", FrameTable)
        table.empty_text = "No funnel."
        table.set_frame(pl.DataFrame())

    def recompute(self) -> None:
        ws = self.workspace
        if ws is None:
            return
        if not ws.has_rows("events"):
            self._no_funnel("This data set has no events, so there are no funnels.\nAdd an events file "
                            "(session_id, ts, event_type, …) to the source and import it again.")
            return
        labels = None
        if self.spec.by == "segment":
            seg = self.app.segmentation
            failed = self.app.segmentation_error
            if seg is None and failed:
                self._no_funnel(f"No breakdown by segment: {failed}\nb: another breakdown.")
                self._show_spec()
                return
            if seg is None:
                self.app.request_segmentation()
                self._show_spec()
                return
            from shopper_tui.models import segment_labels

            labels = segment_labels(seg)
        self._show_spec()
        self.compute(ws, self.spec, labels)

    @work(thread=True, exclusive=True, exit_on_error=False, group="funnel")
    @in_lane
    def compute(self, ws: Workspace, spec: FunnelSpec, labels: pl.DataFrame | None) -> tuple[FunnelSpec, FunnelResult]:
        progress = job_progress("Funnel")
        from shopper_tui.analytics.funnels import funnel

        progress(" → ".join(spec.steps), None)
        return spec, funnel(ws, steps=spec.steps, unit=spec.unit, window=spec.window_or_default(), mode=spec.mode,
                            by=spec.by, labels=labels)  # type: ignore[arg-type]

    @work(thread=True, exclusive=True, exit_on_error=False, group="funnel-drops")
    @in_lane
    def load_examples(self, ws: Workspace, spec: FunnelSpec, labels: pl.DataFrame | None, at_step: int,
                      group: str | None) -> tuple[dict[str, Any], pl.DataFrame]:
        progress = job_progress("Drop-off examples")
        from shopper_tui.analytics.funnels import dropped_examples

        progress(f"dropped after {spec.steps[at_step - 1]}", None)
        frame = dropped_examples(ws, at_step=at_step, steps=spec.steps, unit=spec.unit,
                                 window=spec.window_or_default(), mode=spec.mode, by=spec.by,  # type: ignore[arg-type]
                                 labels=labels, group=group, limit=200)
        return {"at_step": at_step, "step": spec.steps[at_step - 1], "group": group}, frame

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is not WorkerState.SUCCESS:
            return
        if event.worker.group == "funnel":
            spec, result = event.worker.result  # type: ignore[misc]
            if spec == self.spec:
                self.result_spec = spec
                self._show_result(result)
        elif event.worker.group == "funnel-drops":
            where, frame = event.worker.result  # type: ignore[misc]
            self._show_examples(where, frame)

    def _show_result(self, result: FunnelResult) -> None:
        import polars.selectors as cs

        self.result = result
        self.examples, self.examples_for = None, None
        self.query_one(FunnelBars).show(result)
        frame = result.steps if result.by else result.steps.drop("group")
        table = self.query_one("#funnel-table", FrameTable)
        table.set_frame(frame.with_columns(cs.float().round(4)), name="funnel")
        self.call_after_refresh(self._focus_table)
        note = ""
        if result.excluded_anonymous_sessions:
            note = f" · {result.excluded_anonymous_sessions:,} anonymous sessions left out"
        self.query_one("#funnel-table-title", Label).update(
            f"Steps{' by ' + result.by if result.by else ''} · enter on a step: units that dropped off after it{note}")
        self.refresh_bindings()

    def _show_examples(self, where: dict[str, Any], frame: pl.DataFrame) -> None:
        self.examples, self.examples_for = frame, where
        group = f" in {where['group']}" if where["group"] is not None else ""
        unit = "sessions" if self.spec.unit == "session" else "customers"
        self.query_one("#funnel-table-title", Label).update(
            f"escape: back · {unit.capitalize()} that reached {where['step']} but not the next step{group} "
            f"(latest {frame.height:,}; enter selects the customer)")
        table = self.query_one("#funnel-table", FrameTable)
        table.set_frame(frame, name=f"funnel_dropped_after_{where['step']}")
        self.call_after_refresh(self._focus_table, True)
        self.refresh_bindings()

    def _focus_table(self, force: bool = False) -> None:
        grid = self.query_one("#funnel-table", FrameTable).data_table
        if grid is not None and (force or self.focused is None):
            grid.focus()

    # -- actions ---------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            in_input = isinstance(self.focused, Input)
            return in_input or (self.examples is not None and self.app.job_status is None)
        return True

    def action_back(self) -> None:
        if isinstance(self.focused, Input):
            self._focus_table(True)
            return
        if self.result is not None:
            self._show_result(self.result)
            self.call_after_refresh(self._focus_table, True)

    def action_edit_steps(self) -> None:
        self._edit("#funnel-steps")

    def action_edit_window(self) -> None:
        self._edit("#funnel-window")

    def _edit(self, selector: str) -> None:
        box = self.query_one(selector, Input)
        box.can_focus = True
        box.focus()

    @on(Input.Blurred)
    def _input_left(self, event: Input.Blurred) -> None:
        event.input.can_focus = False

    def action_toggle_unit(self) -> None:
        unit = UNITS[(UNITS.index(self.spec.unit) + 1) % len(UNITS)]
        self.spec = replace(self.spec, unit=unit, window=None)  # each unit has its own default

    def action_next_mode(self) -> None:
        self.spec = replace(self.spec, mode=MODES[(MODES.index(self.spec.mode) + 1) % len(MODES)])

    def action_next_breakdown(self) -> None:
        self.spec = replace(self.spec, by=BREAKDOWNS[(BREAKDOWNS.index(self.spec.by) + 1) % len(BREAKDOWNS)])

    def action_set_breakdown(self, by: str) -> None:
        self.spec = replace(self.spec, by=by or None)

    def action_reset(self) -> None:
        self.spec = FunnelSpec()

    def action_next_saved(self) -> None:
        saved = self.saved_funnels()
        if not saved:
            self.notify("No saved funnels yet: ctrl+s saves the current steps under a name "
                        '(or add a [funnels] table to the settings file).', severity="warning")
            return
        self._saved_index = (self._saved_index + 1) % len(saved)
        self.action_open_saved(list(saved)[self._saved_index])

    def action_save_funnel(self) -> None:
        from shopper_tui.widgets import NamePrompt

        steps = list(self.spec.steps)
        current = next((n for n, st in self.saved_funnels().items() if st == steps), "")
        where = self.app.settings.funnels_file
        note = f"{' → '.join(steps)}\nSaved to {where}" if where else " → ".join(steps)
        self.app.push_screen(NamePrompt("Save this funnel as", value=current, note=note),
                             lambda name: self._save_as(name, steps))

    def _save_as(self, name: str | None, steps: list[str]) -> None:
        from shopper_tui.analytics.errors import ShopperError

        from shopper_tui.config import save_funnel

        if not name:
            return
        try:
            self.app.settings = save_funnel(self.app.settings, name, steps)
        except ShopperError as exc:
            self.notify(str(exc), title="Funnel not saved", severity="error", markup=False)
            return
        self._saved_index = list(self.saved_funnels()).index(name)
        self.notify(f"Saved funnel '{name}' ({len(steps)} steps); f cycles saved funnels.", title="Funnel",
                    markup=False)

    def action_open_saved(self, name: str) -> None:
        steps = self.saved_funnels().get(name)
        if steps:
            self.notify(f"Saved funnel '{name}'", title="Funnel", markup=False)
            self.spec = replace(self.spec, steps=tuple(steps))

    def action_drop_examples(self) -> None:
        table = self.query_one("#funnel-table", FrameTable)
        grid = table.data_table
        if self.examples is None and grid is not None and 0 <= grid.cursor_row < table.view.height:
            self._examples_for_row(table.view.row(grid.cursor_row, named=True))

    @on(Input.Submitted, "#funnel-steps")
    def _steps_submitted(self, event: Input.Submitted) -> None:
        from shopper_tui.analytics.schema import EVENT_TYPES

        steps = tuple(s.strip() for s in event.value.replace("→", ",").split(",") if s.strip())
        unknown = [s for s in steps if s not in EVENT_TYPES]
        problem = (f"Unknown step '{unknown[0]}'; steps are event types: {', '.join(EVENT_TYPES)}." if unknown
                   else "A funnel needs at least two different steps." if len(set(steps)) < 2
                   else "Each step may appear once." if len(set(steps)) != len(steps) else None)
        if problem:
            self.notify(problem, title="Steps", severity="error")
            return
        self.spec = replace(self.spec, steps=steps)
        self._focus_table(True)

    @on(Input.Submitted, "#funnel-window")
    def _window_submitted(self, event: Input.Submitted) -> None:
        from shopper_tui.analytics.errors import ShopperError
        from shopper_tui.analytics.funnels import parse_window

        try:
            window = parse_window(event.value) if event.value.strip() else None
            if window is not None and window <= timedelta(0):
                raise ShopperError("The conversion window must be positive.")
        except ShopperError as exc:
            self.notify(str(exc), title="Window", severity="error")
            return
        self.spec = replace(self.spec, window=window)
        self._focus_table(True)

    @on(FrameTable.RowChosen, "#funnel-table")
    def _row_chosen(self, event: FrameTable.RowChosen) -> None:
        if self.examples is None:
            self._examples_for_row(event.row)
            return
        customer = event.row.get("customer_id")
        if customer is not None:
            self.app.selected_customer = str(customer)
            self.notify(f"Customer {customer} selected (Recommendations, key 4, follows it).", title="Customer")

    def _examples_for_row(self, row: dict[str, Any]) -> None:
        ws, result, spec = self.workspace, self.result, self.result_spec
        if ws is None or result is None or spec is None:
            return
        if row.get("drop_off") is None:
            self.notify("The last step has no drop-off; pick an earlier step.", severity="warning")
            return
        labels = None
        if result.by == "segment":
            if self.app.segmentation is None:
                self.notify("The segments are being trained again; try once they are back.", severity="warning")
                return
            from shopper_tui.models import segment_labels

            labels = segment_labels(self.app.segmentation)
        # the funnel the table shows, not a spec changed since (b pressed while it recomputes)
        self.load_examples(ws, spec, labels, int(row["step_index"]), row.get("group") if result.by else None)
