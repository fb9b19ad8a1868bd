"""Experiments: every A/B test found in events, each variant against its control.

Per variant: users (sessions or customers), conversions to the chosen goal (optionally
from a step, e.g. checkout → purchase), absolute and relative lift with 95 % intervals,
the two-proportion z-test p-value, and a warning when the arm is underpowered for the
observed effect. A sample-size calculator plans the next test (baseline, minimum detectable
effect → units per arm). Numbers come from :mod:`shopper_tui.analytics.experiments` in a worker.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.widgets import Input, Label, Static
from textual.worker import Worker, WorkerState

from shopper_tui.jobs import in_lane, job_progress
from shopper_tui.palette import PaletteCommands
from shopper_tui.widgets import FrameTable, ShopperScreen, no_data_text

if TYPE_CHECKING:
    import polars as pl
    from shopper_tui.analytics.workspace import Workspace

__all__ = ["ExperimentsScreen", "ExperimentSpec", "summary_text"]

GOALS = ("purchase", "checkout", "add_to_cart")
FROM_STEPS: tuple[str | None, ...] = (None, "view", "add_to_cart", "checkout")
UNITS = ("session", "customer")


@dataclass(frozen=True)
class ExperimentSpec:
    goal: str = "purchase"
    from_step: str | None = None
    unit: str = "session"

    def describe(self) -> str:
        start = f"{self.from_step} → " if self.from_step else "exposure → "
        return f"conversion {start}{self.goal} · unique {self.unit}s · 95 % intervals · two-proportion z-test"


def _pp(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:+.2f} pp"


def _pct(value: float | None, sign: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value * 100:+.1f}%" if sign else f"{value * 100:.2f}%"


def _p(value: float | None) -> str:
    if value is None:
        return "—"
    return "< 0.0001" if value < 1e-4 else f"{value:.4f}"


def summary_text(frame: pl.DataFrame, styles: dict[str, Any] | None = None) -> Text:
    """One block per experiment: control rate, then each variant's lift, CI, p-value, warnings."""
    styles = styles or {}
    out = Text(no_wrap=False)
    if frame.is_empty():
        out.append("No experiment in the events (no event carries experiment and variant).", style=styles.get("dim"))
        return out
    for (name,), part in frame.group_by("experiment", maintain_order=True):
        rows = part.to_dicts()
        control = rows[0]
        out.append(f"{name}", style="bold")
        out.append(f"   control '{control['variant']}': {control['conversions']:,} of {control['users']:,} "
                   f"= {_pct(control['conversion_rate'])}", style=styles.get("dim"))
        if control["excluded"]:
            out.append(f" · {control['excluded']:,} seen in two variants, left out", style=styles.get("dim"))
        out.append("\n")
        for r in rows[1:]:
            significant = r["p_value"] is not None and r["p_value"] < 0.05
            out.append(f"  {r['variant']}: {_pct(r['conversion_rate'])} of {r['users']:,}  ")
            out.append(f"lift {_pp(r['abs_lift'])} [{_pp(r['abs_lift_ci_low'])}, {_pp(r['abs_lift_ci_high'])}]  ",
                       style=styles.get("good" if significant and (r["abs_lift"] or 0) > 0 else
                                        "bad" if significant else "dim"))
            out.append(f"rel {_pct(r['rel_lift'], True)} [{_pct(r['rel_lift_ci_low'], True)}, "
                       f"{_pct(r['rel_lift_ci_high'], True)}]  p {_p(r['p_value'])}  ")
            out.append("significant" if significant else "not significant", style="bold" if significant else "")
            out.append("\n")
        for r in rows:
            if r["warning"]:
                out.append(f"  ⚠ {r['variant']}: {r['warning']}\n", style=styles.get("warn"))
    out.rstrip()
    return out


class ExperimentCommands(PaletteCommands):
    """The Experiments screen's actions in the command palette."""

    COMMANDS = (
        ("Experiments: next goal", "purchase → checkout → add_to_cart (g)", "next_goal"),
        ("Experiments: next from step", "exposure → view → add_to_cart → checkout (f)", "next_from"),
        ("Experiments: sessions / customers", "Count unique sessions or customers (u)", "toggle_unit"),
        ("Experiments: sample-size calculator", "Baseline and minimum detectable effect → n per arm (p)", "plan"),
    )


class ExperimentsScreen(ShopperScreen):
    """A/B results per experiment and a sample-size calculator."""

    MODE = "experiments"
    TITLE_TEXT = "Experiments"
    CSS_PATH = "funnels.tcss"
    AUTO_FOCUS = ""
    COMMANDS = {ExperimentCommands}
    BINDINGS = [
        Binding("g", "next_goal", "Goal"),
        Binding("f", "next_from", "From step"),
        Binding("u", "toggle_unit", "Sessions/customers"),
        Binding("p", "plan", "Sample size"),
        Binding("escape", "leave_input", "Leave input"),
    ]

    spec: reactive[ExperimentSpec] = reactive(ExperimentSpec, init=False)

    def __init__(self) -> None:
        super().__init__()
        self.results: pl.DataFrame | None = None

    def compose_body(self) -> ComposeResult:
        with Vertical(id="experiments-body"):
            yield Static(self.spec.describe(), id="experiment-spec", markup=False)
            with VerticalScroll(id="experiment-summary-box"):
                yield Static("Computing…", id="experiment-summary", markup=False)
            with Horizontal(id="plan-controls"):
                yield Label("Sample size (p): baseline", classes="control-label")
                yield Input("", placeholder="e.g. 28%", id="plan-baseline")
                yield Label("MDE (absolute)", classes="control-label")
                yield Input("2%", placeholder="e.g. 2%", id="plan-mde")
            yield Static("", id="plan-result", markup=False)
            yield Label("Variants (every number; ctrl+e exports)", id="experiment-table-title", markup=False)
            yield FrameTable(name="experiments", id="experiment-table", empty_text="Computing…")

    def on_mount(self) -> None:
        super().on_mount()
        for box in self.query(Input):
            box.can_focus = False  # typed keys belong to the screen until p opens the calculator

    def watch_workspace(self, workspace: Workspace | None) -> None:
        if workspace is not None:
            self._start(workspace, self.spec)

    def watch_spec(self, spec: ExperimentSpec) -> None:
        self.query_one("#experiment-spec", Static).update(spec.describe())
        if self.workspace is not None:
            self._start(self.workspace, spec)

    def show_no_data(self, message: str) -> None:
        self._no_experiments(no_data_text(message))

    def _start(self, ws: Workspace, spec: ExperimentSpec) -> None:
        if ws.has_rows("events"):
            self.compute(ws, spec)
            return
        # nothing to compare: say so in place (the engine's ShopperError would be a modal)
        self._no_experiments("This data set has no events, so there are no experiments to read.\n"
                             "Add an events file with experiment and variant columns to the source and import "
                             "it again. The sample-size calculator (p) works without data.")

    def _no_experiments(self, message: str) -> None:
        self.query_one("#experiment-summary", Static).update(message)
        table = self.query_one("#experiment-table", FrameTable)
        table.empty_text = "No experiments."
        import polars as pl

        table.set_frame(pl.DataFrame())

    @work(thread=True, exclusive=True, exit_on_error=False, group="experiments")
    @in_lane
    def compute(self, ws: Workspace, spec: ExperimentSpec) -> tuple[ExperimentSpec, pl.DataFrame]:
        progress = job_progress("Experiments")
        from shopper_tui.analytics.experiments import experiments

        progress(spec.describe(), None)
        return spec, experiments(ws, goal=spec.goal, from_step=spec.from_step, unit=spec.unit)  # type: ignore[arg-type]

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "experiments" and event.state is WorkerState.SUCCESS:
            spec, frame = event.worker.result  # type: ignore[misc]
            if spec == self.spec:
                self._show(frame)

    def _show(self, frame: pl.DataFrame) -> None:
        import polars.selectors as cs

        self.results = frame
        styles = {"dim": "dim", "good": "bold green", "bad": "bold red", "warn": "yellow"}
        self.query_one("#experiment-summary", Static).update(summary_text(frame, styles))
        self.query_one("#experiment-table", FrameTable).set_frame(
            frame.with_columns(cs.float().round(6)), name="experiments")
        baseline = self.query_one("#plan-baseline", Input)
        if not baseline.value and not frame.is_empty():
            baseline.value = f"{frame['conversion_rate'][0] * 100:.1f}%"  # the first control's rate
            self._plan()
        if self.focused is None and self.query_one("#experiment-table", FrameTable).data_table is not None:
            self.call_after_refresh(self._focus_table)

    def _focus_table(self) -> None:
        grid = self.query_one("#experiment-table", FrameTable).data_table
        if grid is not None:
            grid.focus()

    # -- actions ---------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "leave_input":
            return isinstance(self.focused, Input)
        return True

    def action_leave_input(self) -> None:
        self._focus_table()

    def action_next_goal(self) -> None:
        goal = GOALS[(GOALS.index(self.spec.goal) + 1) % len(GOALS)]
        from_step = self.spec.from_step
        if from_step is not None and FROM_STEPS.index(from_step) >= FROM_STEPS.index(goal):
            from_step = None  # the from step must come before the goal
        self.spec = replace(self.spec, goal=goal, from_step=from_step)

    def action_next_from(self) -> None:
        options = [s for s in FROM_STEPS if s is None or (s in FROM_STEPS and (
            self.spec.goal not in FROM_STEPS or FROM_STEPS.index(s) < FROM_STEPS.index(self.spec.goal)))]
        current = options.index(self.spec.from_step) if self.spec.from_step in options else 0
        self.spec = replace(self.spec, from_step=options[(current + 1) % len(options)])

    def action_toggle_unit(self) -> None:
        self.spec = replace(self.spec, unit=UNITS[(UNITS.index(self.spec.unit) + 1) % len(UNITS)])

    def action_plan(self) -> None:
        box = self.query_one("#plan-baseline", Input)
        box.can_focus = True
        self.query_one("#plan-mde", Input).can_focus = True
        box.focus()

    @on(Input.Blurred)
    def _input_left(self, event: Input.Blurred) -> None:
        if not isinstance(self.focused, Input):
            for box in self.query(Input):
                box.can_focus = False

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self._plan()
        if event.input.id == "plan-baseline":
            self.query_one("#plan-mde", Input).focus()

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self._plan()

    def _plan(self) -> None:
        """The sample-size calculator (a closed-form formula: instant, no worker needed)."""
        from shopper_tui.analytics.errors import ShopperError

        from shopper_tui.commands.funnels import parse_plan

        baseline = self.query_one("#plan-baseline", Input).value
        mde = self.query_one("#plan-mde", Input).value
        out = self.query_one("#plan-result", Static)
        if not baseline.strip() or not mde.strip():
            out.update("")
            return
        try:
            plan = parse_plan(f"{baseline},{mde}")
        except ShopperError as exc:
            out.update(Text(str(exc), style="yellow"))
            return
        out.update(Text.assemble(("→ ", "dim"), (f"{plan['n_per_arm']:,} per arm", "bold"),
                                 (f" ({plan['n_total']:,} total; {plan['baseline']:.1%} → {plan['target']:.1%}, "
                                  "α 0.05, power 80 %)", "dim")))
