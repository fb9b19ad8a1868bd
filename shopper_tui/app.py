"""The application: screens as modes, the workspace, jobs, errors, help and the palette.

``make_app(settings)`` is the one factory the CLI and every test use.

Adding a screen is one line in :data:`SCREEN_MODES` (its key, mode name, title and
``module:Class``); the class subclasses :class:`~shopper_tui.widgets.ShopperScreen`. Screens
are imported when first shown, so start-up pays only for the first one.

Data flow: on mount a thread worker imports the source (instant when the workspace is
current) and opens the workspace; :attr:`ShopperApp.workspace` is set when it is open and
every screen follows it (attributes down). Jobs report through :mod:`shopper_tui.jobs`;
failures of any job end here, once, in :meth:`ShopperApp.show_error`.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, work
from textual.app import App, ScreenStackError
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen
from textual.worker import Worker, WorkerState

from .analytics.errors import Cancelled, ShopperError
from .config import Settings
from .jobs import JobEnded, JobProgressed, JobStarted, JobStatus, job_progress
from .models import SegmentChoice
from .palette import PaletteCommands
from .quiet_gc import TICK_S as QUIET_GC_TICK_S
from .quiet_gc import QuietCollector
from .watching import WatchMode, WatchStatus
from .widgets.bar_chart import counted
from .widgets.error_modal import ErrorModal
from .widgets.shell import ShopperScreen

if TYPE_CHECKING:
    import polars as pl
    from textual.timer import Timer

    from .analytics.segmentation import SegmentationResult
    from .analytics.workspace import ImportResult, Workspace

__all__ = ["SCREEN_MODES", "ScreenMode", "ShopperApp", "make_app"]


@dataclass(frozen=True)
class ScreenMode:
    """One screen of the app: the key that shows it, its mode name, title and class."""

    key: str
    name: str
    title: str
    target: str  # "module:Class", imported on first use
    short: str = ""  # what the mode bar shows when the full titles do not fit
    #: Modules the screen imports as it is built (not at its module's import, which start-up
    #: pays): imported with the screens' modules in the background, not on the UI thread.
    warm: tuple[str, ...] = ()

    @property
    def short_title(self) -> str:
        return self.short or self.title

    @property
    def module(self) -> str:
        return self.target.partition(":")[0]

    def load(self) -> Screen[Any]:
        screen = getattr(importlib.import_module(self.module), self.target.partition(":")[2])()
        _styled_as_current(screen)
        return screen

    def first_screen(self) -> Screen[Any]:
        """The screen for the mode's first visit: the one the app built ahead, or a new one."""
        from textual._context import active_app

        try:
            built = active_app.get().screens_built_ahead.pop(self.name, None)
        except (LookupError, AttributeError):  # no running app, or not a ShopperApp
            built = None
        if built is None:
            return self.load()
        built.call_later(built.shown_first)  # runs before the resume switch_mode sends it
        return built


def _styled_as_current(screen: Screen[Any]) -> None:
    """Mark a new screen as styled with the app's current stylesheet, which it is: its widgets
    are styled as they mount. Textual starts a screen's CSS counter at -1, so a mode's first
    visit re-parsed every stylesheet source and restyled every widget of the app twice (once
    in ``_init_mode``, again in ``switch_mode``): 0.1-0.2 s of each first visit. A theme change
    still bumps the app's counter and restyles as before. This sets a private Textual attribute;
    ``test_first_visit_does_not_restyle_the_app`` fails if a Textual upgrade changes it."""
    from textual._context import active_app

    try:
        count = active_app.get()._css_update_count
    except (LookupError, AttributeError):  # no running app, or Textual changed: Textual's own path
        return
    if hasattr(screen, "_css_update_count"):
        screen._css_update_count = count


#: How often, and after how long without input, the next screen is built ahead of its visit.
BUILD_AHEAD_TICK_S = 0.05  # the next screen starts once the previous one has mounted
BUILD_AHEAD_QUIET_S = 0.5

#: Every screen, in key order. Keys 2-8 are reserved for Segments, Affinity,
#: Recommendations, Reviews, Funnels, Cohorts and Experiments.
SCREEN_MODES: tuple[ScreenMode, ...] = (
    ScreenMode("1", "overview", "Overview", "shopper_tui.screens.overview:OverviewScreen"),
    ScreenMode("2", "segments", "Segments", "shopper_tui.screens.segments:SegmentsScreen"),
    ScreenMode("3", "affinity", "Affinity", "shopper_tui.screens.affinity:AffinityScreen"),
    ScreenMode("4", "recommendations", "Recommendations", "shopper_tui.screens.recommendations:RecommendationsScreen", "Recs",
               warm=("shopper_tui.analytics.recommend",)),  # SciPy: 150-190 ms
    ScreenMode("5", "reviews", "Reviews", "shopper_tui.screens.reviews:ReviewsScreen"),
    ScreenMode("6", "funnels", "Funnels", "shopper_tui.screens.funnels:FunnelsScreen"),
    ScreenMode("7", "cohorts", "Cohorts", "shopper_tui.screens.cohorts:CohortsScreen"),
    ScreenMode("8", "experiments", "Experiments", "shopper_tui.screens.experiments:ExperimentsScreen", "A/B"),
    ScreenMode("9", "data", "Data", "shopper_tui.screens.data:DataScreen"),
)


class ShopperCommands(PaletteCommands):
    """Every app action in the command palette."""

    def commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        from .analytics.sources import mask_uri

        app = self.app
        assert isinstance(app, ShopperApp)
        commands: list[tuple[str, str, Callable[[], Any]]] = [
            (f"Go to {m.title}", f"Show the {m.title} screen (key {m.key})", partial(app.switch_mode, m.name))
            for m in app.screen_modes
        ]
        commands += [
            ("Export current table", "Write the focused table's view to CSV or Parquet (ctrl+e)", app.action_export_table),
            ("Toggle dark/light theme", "Switch between the dark and the light theme", app.action_toggle_theme),
            ("Re-import source", f"Read '{mask_uri(app.settings.source)}' again and rebuild the workspace",
             app.action_reimport),
            ("Cancel running job", "Stop the job in progress (escape)", app.action_cancel_job),
            ("Show keys and help", "Every key binding of the app and this screen (?)", app.action_help),
            ("Quit", "Leave shopper-tui (q)", app.exit),
        ]
        commands += app.watch_commands()  # retrain, export to MongoDB, PII (shopper_tui.watching)
        return commands


def _stylesheets() -> list[Path]:
    """app.tcss and every screen's stylesheet, all read once at start-up.

    The screens keep their own ``CSS_PATH`` (so a screen run on its own is styled), but a
    stylesheet that first arrives with its screen makes Textual re-parse every source and
    restyle every mounted widget of every screen: 0.1-0.3 s on each first visit, growing with
    each screen visited. Read here, a screen's file is already known when it is first shown.
    """
    spec = importlib.util.find_spec("shopper_tui.screens")  # locates the package without importing it
    folders = list(spec.submodule_search_locations or ()) if spec else []
    return [Path(__file__).resolve().parent / "app.tcss",
            *(path.resolve() for folder in folders for path in sorted(Path(folder).glob("*.tcss")))]


class ShopperApp(WatchMode, App[None]):
    """shopper-tui. Build it with :func:`make_app`.

    Attributes:
        workspace: The open workspace, or None while opening (or after a failure).
        import_result: What the last import did (reused, seconds, report).
        workspace_error: Why no workspace is open, when opening failed.
        job_status: The job shown in the job bar, or None.
        segmentation: The current segmentation shared by every screen (None until trained);
            screens ask for it with :meth:`request_segmentation` and watch this attribute.
        segment_choice: Which segmentation ``segmentation`` is (or is being trained).
        segmentation_error: Why ``segment_choice`` could not be trained (a ShopperError's
            message, e.g. too few customers), or None. Screens show it where the segments
            would be; the same choice is not tried again until asked (``force``, retrain).
        selected_customer: The customer the analyst is looking at (set by a drill-down,
            followed by Recommendations), or None.
        focus_segment: The segment_id the analyst is looking at (set by Segments, used as
            the default filter by Affinity, Reviews, Funnels and Cohorts), or None.
    """

    CSS_PATH = _stylesheets()
    TITLE = "shopper-tui"
    COMMANDS = {ShopperCommands}
    screen_modes: tuple[ScreenMode, ...] = SCREEN_MODES
    MODES = {m.name: m.first_screen for m in SCREEN_MODES}
    BINDINGS = [
        # the mode bar at the top shows these keys, so the footer keeps its width for the screen's
        # own keys (at 80 columns they were cut off after "1 Overview  2 Segments  3 Aff")
        *(Binding(m.key, f"switch_mode('{m.name}')", m.title, show=False) for m in SCREEN_MODES),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("escape", "cancel_job", "Cancel job"),
        Binding("ctrl+t", "toggle_theme", "Dark/light", show=False),
    ]

    workspace: reactive[Workspace | None] = reactive(None, init=False)
    import_result: reactive[ImportResult | None] = reactive(None, init=False)
    workspace_error: reactive[str | None] = reactive(None, init=False)
    job_status: reactive[JobStatus | None] = reactive(None, init=False)
    segmentation: reactive[SegmentationResult | None] = reactive(None, init=False, always_update=True)  # results hold frames: no == on set
    segment_choice: reactive[SegmentChoice] = reactive(SegmentChoice(), init=False)
    segmentation_error: reactive[str | None] = reactive(None, init=False)
    selected_customer: reactive[str | None] = reactive(None, init=False)
    focus_segment: reactive[int | None] = reactive(None, init=False)
    # watch mode (shopper_tui.watching): bumped when polled rows arrive or PII display
    # changes, so the open screen reloads in place; what the Data screen's live panel shows
    data_version: reactive[int] = reactive(0, init=False)
    # customers placed in another segment by new data (watch mode or a re-import) with the
    # trained model:
    # customer_id, from_segment_id (null = new), to_segment_id, moved_at (Segments shows them)
    moved_customers: reactive[pl.DataFrame | None] = reactive(None, init=False, always_update=True)
    watch_status: reactive[WatchStatus | None] = reactive(None, init=False)

    _reassigning = False  #: a re-import's customers are being placed with the trained model

    def __init__(self, settings: Settings) -> None:
        from .widgets.printable import install

        install()  # control characters in the data are shown, never sent to the terminal
        super().__init__()
        self.settings = settings
        self._jobs: dict[Worker[Any], JobStatus] = {}
        self._footer_shows_cancel = False  # whether the footer was last refreshed with a job running
        # garbage collection between key presses, and no long one while a job shows progress (quiet_gc.py)
        self._quiet_gc = QuietCollector(busy=lambda: bool(self._jobs))
        self.screens_built_ahead: dict[str, Screen[Any]] = {}  # mode → screen built, not yet shown
        self._build_ahead_queue: list[ScreenMode] = []  # modes whose screens are built when idle
        self._build_ahead_timer: Timer | None = None
        self._user_cancelled: set[Worker[Any]] = set()
        self._closed_workspace: Workspace | None = None
        if settings.theme in self.available_themes:
            self.theme = settings.theme

    # -- start-up and the workspace ---------------------------------------------------------
    def clear_selection(self) -> None:
        """Textual's, which ignores a missing screen but not an empty screen stack. While the app
        closes, the stacks are emptied one mode at a time; an Input on a later mode's screen that
        takes focus meanwhile (a table replaced as a training ends moves focus to it) called this
        and stopped the app with a traceback instead of closing it."""
        try:
            super().clear_selection()
        except ScreenStackError:
            pass

    def on_unmount(self) -> None:
        self.stop_change_feed()  # watch mode's MongoDB change stream thread, if any
        self._quiet_gc.stop()

    async def on_mount(self) -> None:
        await self.switch_mode(SCREEN_MODES[0].name)
        # start the import after the first paint: its imports (Polars, DuckDB) would hold the GIL
        self.screen.call_after_refresh(self.open_source, self.settings.force_import)
        self.screen.call_after_refresh(self._preload_screens)
        self.screen.call_after_refresh(self._start_quiet_gc)
        self.start_watch_timer()

    def _start_quiet_gc(self) -> None:
        self._quiet_gc.start()
        self.set_interval(QUIET_GC_TICK_S, self._quiet_gc.tick, name="quiet gc")

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.MouseDown, events.MouseScrollDown, events.MouseScrollUp)):
            self._quiet_gc.input_seen()  # no full collection, no building ahead, while typing
        await super().on_event(event)

    def _start_building_ahead(self) -> None:
        """Build the screens not visited yet, one at a time, while the analyst is not typing.

        Composing and styling a screen's widgets is most of a first visit (50-150 ms); built
        ahead, a first visit costs what a revisit does. A screen built ahead watches nothing
        and computes nothing until it is first shown (``ShopperScreen.shown_first``). Starts
        once the screens' modules are imported (``_preload_screens``), while the source may still
        be importing: a first import of a large export takes minutes, and the analyst can look
        around meanwhile."""
        self._build_ahead_queue = [m for m in self.screen_modes if m.name not in self._screen_stacks]
        self._build_ahead_timer = self.set_interval(BUILD_AHEAD_TICK_S, self._build_next_ahead,
                                                    name="build screens ahead")

    def _build_next_ahead(self) -> None:
        if not self._build_ahead_queue:
            if self._build_ahead_timer is not None:
                self._build_ahead_timer.stop()
            return
        if self._quiet_gc.idle_s() < BUILD_AHEAD_QUIET_S:
            return
        if any(not screen.is_mounted for screen in self.screens_built_ahead.values()):
            return  # the previous one is still composing
        while self._build_ahead_queue:
            mode = self._build_ahead_queue.pop(0)
            if mode.name in self._screen_stacks or mode.name in self.screens_built_ahead:
                continue  # visited meanwhile
            try:
                screen = mode.load()
            except Exception:  # noqa: BLE001 - the visit itself imports again and reports the error
                continue
            if isinstance(screen, ShopperScreen):
                screen.build_ahead()
                self.screens_built_ahead[mode.name] = screen
                self._register(self, screen)  # composed and mounted off screen (Textual's own path)
                return

    @work(thread=True, exit_on_error=False, group="preload")
    def _preload_screens(self) -> None:
        """Import every screen's module in the background, so a first visit does not wait for
        it (30-120 ms each). A thread runs Python code in 5 ms turns, so the UI stays live."""
        for mode in self.screen_modes:
            for module in (mode.module, *mode.warm):
                try:
                    importlib.import_module(module)
                except Exception:  # noqa: BLE001 - the visit itself imports again and reports the error
                    pass
        try:
            self.call_from_thread(self._quiet_gc.freeze)  # the modules live as long as the app
            self.call_from_thread(self._start_building_ahead)
        except RuntimeError:  # the app closed meanwhile
            pass

    @work(thread=True, exclusive=True, exit_on_error=False, group="import")
    def open_source(self, force: bool = False) -> tuple[ImportResult, Workspace]:
        """Import the source (skipped when the workspace is current) and open the workspace."""
        from .analytics.sources import mask_uri
        from .analytics.workspace import import_source, open_workspace

        s = self.settings
        progress = job_progress(f"{'Re-importing' if force else 'Opening'} {mask_uri(s.source)}")

        if s.show_pii and not force:
            from .analytics.audit import record

            record("show_pii", data_dir=s.data_dir, source=mask_uri(s.source), where="app start (--show-pii)")

        result = import_source(
            s.source, data_dir=s.data_dir, name=s.name, force=force,
            collections=s.collections or None, charge_codes=s.charge_codes, progress=progress,
        )
        progress("opening workspace", None)
        old = self.workspace
        if old is not None and not result.reused:
            # DuckDB shares one instance per path: the old one must go before the new file is seen
            self._closed_workspace = old
            old.close()
        if not s.watch:
            return result, open_workspace(result.path)
        from .watching import start_watching

        ws = open_workspace(result.path, read_only=False)  # watch mode appends: one writer per file
        try:
            progress("recording where watching starts", None)
            start_watching(ws, s)
        except BaseException:
            ws.close()
            raise
        return result, ws

    def _opened(self, result: ImportResult, workspace: Workspace) -> None:
        previous = self.segmentation
        self.import_result = result
        self.workspace_error = None
        self.segmentation = None  # belongs to the previous data
        self.segmentation_error = None
        self.focus_segment = None
        reassign = previous is not None and not result.reused
        # new data under a trained model: place every customer in its segments (no
        # retraining) and list who moved; "Retrain now" refits. Set before the screens see
        # the workspace, so they wait for it instead of training.
        self._reassigning = reassign
        self.workspace = workspace
        if reassign:
            self._reassign_after_import(workspace, previous)
        if result.offline:
            self.notify(result.offline, title="Source not reachable", severity="warning", timeout=12, markup=False)
        if not result.reused:
            rejected = result.report.rows_rejected
            self.notify(
                f"Imported in {result.seconds:.1f} s"
                + (f"; {rejected:,} rows rejected (see Data, key 9)" if rejected else "; no rows rejected"),
                title="Import",
            )

    # -- the shared segmentation -------------------------------------------------------------
    def request_segmentation(self, choice: SegmentChoice | None = None, *, force: bool = False) -> None:
        """Make ``choice`` (default: the current one) the app's segmentation: loaded from the
        cache or trained in a worker. ``segmentation`` is set when it is ready."""
        choice = choice or self.segment_choice
        if self.workspace is None:
            return
        if not force and choice == self.segment_choice and (
            self.segmentation is not None or self.segmentation_error is not None or self._reassigning
            or any(w.group == "segmentation" and not w.is_finished for w in self.workers)
        ):
            # ready, being trained or placed after a re-import, or known not to be possible: a
            # second request (another screen shown meanwhile) would train it once more
            return
        self.segmentation_error = None
        self.segment_choice = choice
        self._segment(choice, force)

    @work(thread=True, exclusive=True, exit_on_error=False, group="reassign")
    def _reassign_after_import(self, ws: Workspace, previous: SegmentationResult) -> tuple[Any, ...]:
        import dataclasses

        import polars as pl

        from .analytics.watch import reassign_with_features
        from .watching import apply_assignments

        job_progress("Placing customers in the trained segments")("features of every customer", None)
        ids = ws.sql("SELECT customer_id FROM customers").get_column("customer_id")
        assigned, features = reassign_with_features(ws, previous.model, ids.to_list())
        kept = previous.labels.filter(pl.col("customer_id").is_in(assigned.get_column("customer_id").implode()))
        updated, moved = apply_assignments(dataclasses.replace(previous, labels=kept), assigned, features)
        return ws, previous, updated, moved

    def _reassigned(self, ws: Workspace, previous: SegmentationResult, updated: SegmentationResult,
                    moved: pl.DataFrame) -> None:
        from datetime import datetime

        from .watching import merge_moves

        self._reassigning = False
        if ws is not self.workspace or self.segmentation is not None:
            return
        self._moves_model = previous.model
        self.segmentation = updated
        self.moved_customers = merge_moves(None, moved, datetime.now()) if moved.height else None
        self.notify(f"{moved.height:,} of {counted(updated.labels.height, 'customer')} placed in another segment by the "
                    "new data (trained model, no retraining). Segments: v lists them; ctrl+p → Retrain now refits.",
                    title="Re-imported")

    @work(thread=True, exclusive=True, exit_on_error=False, group="segmentation")
    def _segment(self, choice: SegmentChoice, force: bool) -> tuple[SegmentChoice, SegmentationResult]:
        from .models import cached_segmentation

        progress = job_progress(f"Segmenting: {choice.describe()}")
        ws = self.workspace
        assert ws is not None
        return choice, cached_segmentation(ws, self.settings, choice, progress=progress, force=force)

    # -- jobs ------------------------------------------------------------------------------
    def on_job_started(self, message: JobStarted) -> None:
        if message.worker.state in (WorkerState.PENDING, WorkerState.RUNNING):
            self._jobs[message.worker] = JobStatus(message.title)
            self._show_job()

    def on_job_progressed(self, message: JobProgressed) -> None:
        status = self._jobs.get(message.worker)
        if status is not None:
            self._jobs[message.worker] = JobStatus(status.title, message.step, message.fraction)
            self._show_job()

    def on_job_ended(self, message: JobEnded) -> None:
        self._job_state_changed(message.worker, message.state)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self._job_state_changed(event.worker, event.state)
        if event.worker.group == "segmentation" and event.state is WorkerState.SUCCESS:
            choice, result = event.worker.result  # type: ignore[misc]
            if choice == self.segment_choice:
                self.segmentation_error = None
                self.segmentation = result
        if event.worker.group == "reassign" and event.state in (WorkerState.SUCCESS, WorkerState.ERROR,
                                                                 WorkerState.CANCELLED):
            if event.state is WorkerState.SUCCESS:
                self._reassigned(*event.worker.result)  # type: ignore[misc]
            else:  # could not place them: train on the new data as usual
                self._reassigning = False
                self.request_segmentation()
        if event.worker.group == "import":
            if event.state is WorkerState.SUCCESS:
                self._opened(*event.worker.result)  # type: ignore[misc]
            elif event.state is WorkerState.ERROR:
                if self.workspace is not None and self.workspace is self._closed_workspace:
                    self.workspace = None
                if self.workspace is None:
                    self.workspace_error = str(event.worker.error)

    def _job_state_changed(self, worker: Worker[Any], state: WorkerState) -> None:
        if state not in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        status = self._jobs.pop(worker, None)
        self._show_job()
        title = status.title if status else (worker.name or "Job")
        by_user = worker in self._user_cancelled
        self._user_cancelled.discard(worker)
        if state is WorkerState.ERROR:
            if isinstance(worker.error, Cancelled) or by_user:
                self.notify(f"{title}: cancelled.", title="Cancelled")
            elif worker.group == "reassign":
                # the fallback (training on the new data) starts at once: a warning, not a modal
                self.notify(f"Could not place customers with the trained model ({worker.error}); "
                            "training on the new data instead.", title=title, severity="warning", markup=False)
            elif worker.group == "segmentation" and isinstance(worker.error, ShopperError):
                # not enough data to segment is a fact about the data, not a failure: every
                # screen that needs segments says so in place (no modal, no retry loop)
                self.segmentation_error = worker.error.message
                self.notify(worker.error.message, title=f"{title}: not possible", severity="warning")
            elif worker.error is not None:
                if worker.group == "segmentation":
                    # every screen that needs segments shows this reason in place and does not
                    # start the segmentation again until the data or the choice changes: one
                    # failure, one dialog (it was one per screen, stacked)
                    self.segmentation_error = f"The segmentation failed: {worker.error}"
                self.show_error(worker.error, title=f"{title} failed")
        elif state is WorkerState.CANCELLED and by_user:
            self.notify(f"{title}: cancelled.", title="Cancelled")

    def _show_job(self) -> None:
        self.job_status = next(reversed(self._jobs.values()), None) if self._jobs else None
        # "esc cancel" shows while any job runs. Refresh the footer's bindings only when that
        # changes: each refresh recomposes the Footer (~0.1 s of styling at 120 columns), and a
        # job reports progress many times.
        if self.screen_stack and bool(self._jobs) != self._footer_shows_cancel:  # a job can end while closing
            self._footer_shows_cancel = bool(self._jobs)
            self.refresh_bindings()

    def show_error(self, error: BaseException, *, title: str = "Something went wrong") -> None:
        """Show ``error`` in the error modal (one at a time; later ones become notifications)."""
        if any(isinstance(s, ErrorModal) for s in self.screen_stack):
            self.notify(str(error), title=title, severity="error")
            return
        self.push_screen(ErrorModal(error, title=title))

    # -- actions ---------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_job":
            return bool(self._jobs)
        if action == "switch_mode" and isinstance(self.screen, ModalScreen):
            return False  # close the dialog first; switching would carry it along
        return True

    def action_cancel_job(self) -> None:
        """Cancel the most recently started job still running."""
        for worker in reversed(list(self._jobs)):
            if worker.is_running or worker.state is WorkerState.PENDING:
                self._user_cancelled.add(worker)
                worker.cancel()
                self.notify(f"Cancelling {self._jobs[worker].title}…")
                return

    def action_reimport(self) -> None:
        """Read the source again (force) and rebuild the workspace atomically."""
        self.open_source(force=True)

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"

    def action_help(self) -> None:
        from .screens.help import HelpScreen, binding_sections

        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(binding_sections(self.screen)))

    def action_export_table(self) -> None:
        """Export the focused table, or the first table on the screen."""
        from .widgets.frame_table import FrameTable

        focused = self.focused
        table = next((n for n in focused.ancestors_with_self if isinstance(n, FrameTable)), None) if focused else None
        if table is None:
            table = next((t for t in self.screen.query(FrameTable) if t.display), None)
        if table is None:
            self.notify("There is no table on this screen to export.", severity="warning")
            return
        table.action_export()


def make_app(settings: Settings) -> ShopperApp:
    """The app for ``settings``: the CLI runs it, tests drive it with ``run_test``."""
    return ShopperApp(settings)
