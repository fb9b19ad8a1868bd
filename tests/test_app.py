"""Pilot tests of the app: the real app from ``make_app``, on the bundled sample."""

from __future__ import annotations

import asyncio
import functools
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import DataTable as TextualDataTable
from textual.widgets import Input
from textual.worker import WorkerState

from shopper_tui.analytics import workspace as workspace_module
from shopper_tui.analytics.errors import Cancelled, ShopperError
from shopper_tui.analytics.overview import kpis
from shopper_tui.analytics.schema import TABLE_NAMES
from shopper_tui.analytics.tables import table_preview
from shopper_tui.app import SCREEN_MODES, ShopperApp, make_app
from shopper_tui.config import Settings
from shopper_tui.jobs import run_job
from shopper_tui.screens.data import PREVIEW_ROWS, DataScreen
from shopper_tui.screens.help import HelpScreen
from shopper_tui.screens.overview import OverviewScreen
from shopper_tui.widgets import ErrorModal, ExportDialog, FrameTable, JobBar, KpiCard

SIZE = (120, 40)
MARKUP_NAME = "[bold red]x[/] [@click=app.quit]y"


class _FrozenDatetime(datetime):
    @classmethod
    def now(cls, tz=None):  # noqa: ANN001, ANN206
        return datetime(2026, 1, 15, 9, 30, tzinfo=tz)


def import_sample(data_dir: Path) -> Settings:
    """Import the bundled sample once (clock frozen so `imported_at` is fixed); settings to open it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(workspace_module, "datetime", _FrozenDatetime)
        workspace_module.import_source("sample", data_dir=data_dir)
    return Settings.from_env(source="sample", data_dir=data_dir)


@pytest.fixture(scope="module")
def sample_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return import_sample(tmp_path_factory.mktemp("ui-data"))


async def settle(pilot: Pilot, rounds: int = 3) -> None:
    """Let workers finish and the screen catch up (results arrive as messages)."""
    from textual.worker import WorkerCancelled

    done = 0
    for _ in range(rounds + 20):
        try:
            await pilot.app.workers.wait_for_complete()
        except WorkerCancelled:
            # an exclusive worker replaced by a newer one (watch mode polls): wait again
            await pilot.pause()
            continue
        await pilot.pause()
        done += 1
        if done == rounds:
            return


async def wait_for(pilot: Pilot, predicate, timeout: float = 30.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {getattr(predicate, '__name__', predicate)}")
        await pilot.pause(0.05)


def run_async(test):  # noqa: ANN001, ANN201
    """Run an async test on a fresh event loop (no pytest async plugin needed)."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        return asyncio.run(test(*args, **kwargs))

    return wrapper


def _app(settings: Settings) -> ShopperApp:
    return make_app(settings)


def _card(app: App, key: str) -> str:
    return app.screen.query_one(f"#kpi-{key}", KpiCard).value_text


@run_async
async def test_opens_on_sample_with_right_kpis(sample_settings: Settings) -> None:
    app = _app(sample_settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None)
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
        k = kpis(app.workspace)
        assert k.orders > 0 and k.customers > 0
        assert _card(app, "customers") == f"{k.customers:,}"
        assert _card(app, "buyers") == f"{k.buyers:,}"
        assert _card(app, "orders") == f"{k.orders:,}"
        assert _card(app, "revenue") == (f"{k.revenue:,.0f}" if k.revenue >= 1000 else f"{k.revenue:,.2f}")
        assert _card(app, "aov") == (
            f"{k.average_order_value:,.0f}" if k.average_order_value >= 1000 else f"{k.average_order_value:,.2f}"
        )
        assert _card(app, "repeat") == f"{k.repeat_purchase_rate:.1%}"
        assert _card(app, "lost") == f"{k.cancelled_orders:,} / {k.returned_orders:,}"
        assert _card(app, "range") == f"{k.first_order:%Y-%m-%d}"


@run_async
async def test_period_key_switches_chart(sample_settings: Settings) -> None:
    app = _app(sample_settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None)
        await settle(pilot)
        title = app.screen.query_one("#chart-title")
        assert "per month" in str(title.render())
        await pilot.press("p")
        await settle(pilot)
        assert "per week" in str(title.render())


@run_async
async def test_keys_switch_between_overview_and_data(sample_settings: Settings) -> None:
    app = _app(sample_settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None)
        await pilot.press("9")
        await settle(pilot)
        assert isinstance(app.screen, DataScreen)
        assert app.current_mode == "data"
        await pilot.press("1")
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)


@run_async
async def test_data_screen_lists_every_table_with_row_counts(sample_settings: Settings) -> None:
    app = _app(sample_settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None)
        await pilot.press("9")
        await settle(pilot)
        counts = app.workspace.row_counts()
        table = app.screen.query_one("#data-tables", TextualDataTable)
        await wait_for(pilot, lambda: table.row_count == len(TABLE_NAMES))
        shown = {str(table.get_cell(name, "table")): str(table.get_cell(name, "rows")) for name in TABLE_NAMES}
        assert shown == {name: f"{counts[name]:,}" for name in TABLE_NAMES}
        facts = str(app.screen.query_one("#data-facts").render())
        assert "workspaces/sample.duckdb" in facts and "sample" in facts


async def _open_preview(app: ShopperApp, pilot, table: str) -> FrameTable:
    await wait_for(pilot, lambda: app.workspace is not None)
    await pilot.press("9")
    await settle(pilot)
    tables = app.screen.query_one("#data-tables", TextualDataTable)
    await wait_for(pilot, lambda: tables.row_count == len(TABLE_NAMES))
    tables.move_cursor(row=TABLE_NAMES.index(table))
    preview = app.screen.query_one("#preview-table", FrameTable)
    await wait_for(pilot, lambda: preview.table_name == table and preview.frame.height > 0)
    assert preview.data_table is not None
    preview.data_table.focus()
    await settle(pilot)
    return preview


def _line_colours(table) -> tuple[str, str]:  # noqa: ANN001
    """Background colours of a table's header line and of its cursor's row, as drawn."""
    colours = []
    for y in (0, table.cursor_row + 1 - table.scroll_offset.y):
        first = next(s for s in table.render_line(y) if s.text.strip())
        colours.append(first.style.bgcolor.get_truecolor().hex)
    return colours[0], colours[1]


@run_async
async def test_tables_keep_their_own_colours_whichever_screen_came_first(sample_settings: Settings) -> None:
    """Textual's DataTable and textual-fastdatatable's are both called DataTable, so each one's
    default CSS also matched the other's tables; after a visit to Data (Textual's, the list of
    tables) the frame tables drew their header and cursor in Textual's colours (a tinted header,
    the block cursor). Each now draws only its own rules: a frame table has a $primary header and
    a $secondary cursor, the list of tables a $panel header and Textual's blurred block cursor."""
    from textual.color import Color

    app = _app(sample_settings)
    async with app.run_test(size=SIZE) as pilot:
        preview = await _open_preview(app, pilot, "orders")  # Data first, the preview focused
        tables = app.screen.query_one("#data-tables", TextualDataTable)
        await pilot.pause()
        css = app.get_css_variables()

        def hex_of(name: str) -> str:  # a translucent colour as drawn on the tables' $surface
            return (Color.parse(css["surface"]) + Color.parse(css[name])).hex.lower()

        assert preview.data_table.has_focus and not tables.has_focus
        assert _line_colours(preview.data_table) == (hex_of("primary"), hex_of("secondary"))
        assert _line_colours(tables) == (hex_of("panel"), hex_of("block-cursor-blurred-background"))
        await pilot.press("2")  # Segments: frame tables only, mounted after Data's CSS was loaded
        await wait_for(pilot, lambda: app.screen.query(FrameTable).first().data_table is not None, timeout=60)
        await settle(pilot)
        grid = app.screen.query(FrameTable).first().data_table
        grid.focus()
        await pilot.pause()
        assert _line_colours(grid) == (hex_of("primary"), hex_of("secondary"))


@run_async
async def test_filter_reduces_rows(sample_settings: Settings) -> None:
    app = _app(sample_settings)
    async with app.run_test(size=SIZE) as pilot:
        preview = await _open_preview(app, pilot, "orders")
        expected = table_preview(app.workspace, "orders", limit=PREVIEW_ROWS).filter(pl.col("status") == "returned")
        assert 0 < expected.height < preview.frame.height
        await pilot.press("slash")
        await settle(pilot)
        assert isinstance(app.focused, Input)
        await pilot.press(*"status = returned", "enter")
        await settle(pilot)
        assert preview.view.height == expected.height
        assert set(preview.view.get_column("status").to_list()) == {"returned"}
        assert preview.data_table is not None and preview.data_table.row_count == expected.height
        assert f"{expected.height:,} of {preview.frame.height:,} rows" in str(preview.query_one(".frame-status").render())
        # a numeric comparison through the same bar, then clearing it
        await pilot.press("slash", "ctrl+u", "enter")
        await settle(pilot)
        assert preview.view.height == preview.frame.height


@run_async
async def test_sort_key_toggles_direction(sample_settings: Settings) -> None:
    app = _app(sample_settings)
    async with app.run_test(size=SIZE) as pilot:
        preview = await _open_preview(app, pilot, "order_items")
        grid = preview.data_table
        grid.move_cursor(column=preview.frame.columns.index("unit_price"))
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        prices = preview.view.get_column("unit_price")
        assert prices.to_list() == sorted(prices.to_list())
        await pilot.press("s")
        await settle(pilot)
        prices = preview.view.get_column("unit_price")
        assert prices.to_list() == sorted(prices.to_list(), reverse=True)


@run_async
async def test_export_dialog_writes_current_view(sample_settings: Settings, tmp_path: Path) -> None:
    app = _app(sample_settings)
    target = tmp_path / "out" / "products.csv"
    async with app.run_test(size=SIZE) as pilot:
        preview = await _open_preview(app, pilot, "products")
        await pilot.press("ctrl+e")
        await settle(pilot)
        assert isinstance(app.screen, ExportDialog)
        path_input = app.screen.query_one("#export-path", Input)
        path_input.value = str(target)
        await pilot.press("enter")
        await wait_for(pilot, target.exists)
        await settle(pilot)
        assert not isinstance(app.screen, ExportDialog)
        written = pl.read_csv(target, infer_schema=False)
        view = preview.view
        assert written.height == view.height
        assert written.columns == view.columns
        assert written.get_column("product_id").to_list() == view.get_column("product_id").to_list()
        names = view.get_column("name").fill_null("").to_list()
        got = written.get_column("name").fill_null("").to_list()
        assert got == [("'" + n) if n[:1] in ("=", "+", "-", "@") else n for n in names]


@run_async
async def test_help_lists_keys_of_app_and_screen(sample_settings: Settings) -> None:
    app = _app(sample_settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None)
        await pilot.press("9")
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        rows = {title: dict((d, k) for k, d in keys) for title, keys in app.screen.sections}
        everywhere = rows["Everywhere"]
        for mode in SCREEN_MODES:
            assert everywhere[mode.title] == mode.key
        assert "q" in everywhere["Quit"] and everywhere["Help"] == "?"
        assert everywhere["Cancel job"] == "esc"
        assert rows["Data screen"]["Re-import"] == "r"
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DataScreen)


@run_async
async def test_palette_offers_screens(sample_settings: Settings) -> None:
    app = _app(sample_settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None)
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"go to data")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DataScreen)
        dark = app.current_theme.dark
        app.action_toggle_theme()
        assert app.current_theme.dark is not dark


def _error_shown(app: App) -> bool:
    """The error modal is on screen with its text mounted (it composes after being pushed)."""
    return isinstance(app.screen, ErrorModal) and bool(app.screen.query("#error-message"))


@run_async
async def test_shopper_error_in_a_job_shows_error_modal(sample_settings: Settings) -> None:
    app = _app(sample_settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None)

        def broken(progress):
            progress("reading", 0.5)
            raise ShopperError("orders.csv: column 'ts' has 3 unparseable values", hint="Fix the dates.")

        worker = run_job(app.screen, "Loading orders", broken)
        await wait_for(pilot, lambda: _error_shown(app))
        assert worker.state is WorkerState.ERROR
        modal = app.screen
        assert str(modal.query_one("#error-message").render()) == "orders.csv: column 'ts' has 3 unparseable values"
        assert str(modal.query_one("#error-hint").render()) == "Fix the dates."
        assert "Loading orders failed" in str(modal.query_one("#error-title").render())
        assert not modal.query("#error-traceback")  # no traceback for a user-facing error
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)


@run_async
async def test_unexpected_error_hides_traceback_behind_a_key(sample_settings: Settings) -> None:
    app = _app(sample_settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None)

        def buggy(progress):
            return {}["missing"]

        run_job(app.screen, "Scoring", buggy)
        await wait_for(pilot, lambda: _error_shown(app))
        modal = app.screen
        assert str(modal.query_one("#error-message").render()) == "KeyError: 'missing'"
        box = modal.query_one("#error-traceback")
        assert box.display is False
        await pilot.press("t")
        await settle(pilot)
        assert box.display is True
        assert "Traceback" in modal.details


@run_async
async def test_escape_cancels_a_running_job(sample_settings: Settings) -> None:
    app = _app(sample_settings)
    stopped = threading.Event()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None)
        await settle(pilot)

        def slow(progress):
            try:
                for i in range(1000):
                    progress(f"step {i}", i / 1000)
                    time.sleep(0.01)
            except Cancelled:
                stopped.set()
                raise
            return "finished"

        worker = run_job(app.screen, "Slow job", slow)
        bar = app.screen.query_one(JobBar)
        await wait_for(pilot, lambda: bar.display and app.job_status is not None)
        assert app.job_status.title == "Slow job"
        await pilot.press("escape")
        await wait_for(pilot, lambda: stopped.is_set() and not worker.is_running)
        await settle(pilot)
        assert worker.state is WorkerState.CANCELLED
        assert app.job_status is None and not bar.display
        assert not isinstance(app.screen, ErrorModal)


@run_async
async def test_job_progress_refreshes_the_footer_only_when_a_job_starts_and_ends(sample_settings: Settings) -> None:
    """Each bindings refresh rebuilds the Footer (~0.1 s at 120 columns on a big screen); fifty
    progress reports must not rebuild it fifty times, yet "esc cancel" must come and go."""
    app = _app(sample_settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None)
        await settle(pilot)
        screen = app.screen
        refreshes = []
        original = screen.refresh_bindings
        screen.refresh_bindings = lambda: (refreshes.append(app.job_status is not None), original())[1]

        def reporting(progress):
            for i in range(50):
                progress(f"step {i}", i / 50)
                time.sleep(0.002)
            return "done"

        worker = run_job(screen, "Reporting job", reporting)
        await wait_for(pilot, lambda: worker.state is WorkerState.SUCCESS and app.job_status is None)
        await settle(pilot)
        assert refreshes == [True, False]  # on when it started, off when it ended
        assert app.check_action("cancel_job", ()) is False


@run_async
async def test_first_visit_does_not_restyle_the_app(sample_settings: Settings) -> None:
    """Every screen's stylesheet is read at start-up and a new screen counts as styled, so a
    first visit re-parses no stylesheet (it re-parsed everything twice, 0.1-0.2 s at scale).
    Guards a private Textual attribute (``_css_update_count``) set in ``app._styled_as_current``."""
    app = _app(sample_settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None)
        await settle(pilot)
        for mode in SCREEN_MODES[1:]:
            for path in mode.load().css_path:  # each screen's own file is already in the stylesheet
                assert app.stylesheet.has_source(str(path)), (mode.name, path)
        reparsed = []
        original = app.stylesheet.reparse
        app.stylesheet.reparse = lambda: (reparsed.append(app.current_mode), original())[1]
        for key in ("9", "2", "6", "1"):
            await pilot.press(key)
            await settle(pilot)
        assert app.current_mode == "overview"
        assert reparsed == []
        app.theme = "textual-light" if app.current_theme.dark else "textual-dark"  # a theme change still restyles
        await settle(pilot)
        assert reparsed


@run_async
async def test_help_key_is_visible_on_every_screen_at_80_columns(sample_settings: Settings) -> None:
    """The footer starts with "? Help" and "q Quit", so a narrow terminal cuts a screen's own keys
    (which ? lists) instead: at 80 columns "? Help" used to be cut off on most screens."""
    from textual.widgets._footer import FooterKey

    app = _app(sample_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None)
        for mode in SCREEN_MODES:
            await pilot.press(mode.key)
            await settle(pilot)
            keys = [key for key in app.screen.query(FooterKey) if not key.has_class("-command-palette")]
            assert [key.action for key in keys[:2]] == ["help", "quit"], mode.name
            assert len(keys) >= 3, mode.name  # the screen's own keys follow
            shown = keys[0].region
            assert shown.width > 0 and shown.right <= 80, (mode.name, shown)


@run_async
async def test_first_visit_styles_each_widget_once(sample_settings: Settings) -> None:
    """A first visit styles the new screen's widgets as they mount and not again: the screen is
    not restyled on its first resumes (``_StyledOnMount``) and no footer key is restyled after
    mounting (``ShopperFooter``: a Textual FooterKey starts compact and was restyled twice), nor
    when Textual gives it its breakpoint class.
    A revisit restyles the screen as Textual does. Guards ``ScreenResume.refresh_styles`` and
    ``FooterKey.compact``, which a Textual upgrade could change."""
    from textual.widgets._footer import FooterKey

    app = _app(sample_settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None)
        await settle(pilot)
        restyled: list[object] = []
        original = app.update_styles
        app.update_styles = lambda node, animate=True: (restyled.append(node), original(node, animate))[1]
        await pilot.press("6")
        await settle(pilot)
        funnels = app.screen
        assert type(funnels).__name__ == "FunnelsScreen"
        keys = list(funnels.query(FooterKey))
        compact = [key.key for key in keys if key.has_class("-compact")]
        assert len(keys) >= 10 and compact == [app.COMMAND_PALETTE_BINDING]  # as Textual draws them
        assert funnels not in restyled
        assert not [node for node in restyled if isinstance(node, FooterKey)]
        await pilot.press("3")  # a screen with width breakpoints gets its class before mounting
        await settle(pilot)
        affinity = app.screen
        assert type(affinity).__name__ == "AffinityScreen" and affinity.has_class("-wide")
        assert affinity not in restyled
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        assert affinity.has_class("-narrow") and not affinity.has_class("-wide")
        await pilot.press("1")
        await settle(pilot)
        restyled.clear()
        await pilot.press("6")
        await settle(pilot)
        assert funnels in restyled  # a revisit restyles, as Textual does
        await pilot.resize_terminal(*SIZE)  # resized while Affinity is away: Textual updates it on its return
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        assert affinity.has_class("-wide") and not affinity.has_class("-narrow")


@run_async
async def test_screens_built_ahead_compute_nothing_until_shown(sample_settings: Settings) -> None:
    """While the analyst is idle the app builds the screens not visited yet; they watch
    nothing until shown (no workspace, no job), and shown they load as a fresh screen would:
    the Funnels screen then shows the engine's funnel."""
    from shopper_tui.analytics.funnels import funnel
    from shopper_tui.screens.funnels import DEFAULT_STEPS

    app = _app(sample_settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None)
        others = {m.name for m in SCREEN_MODES[1:]}
        await wait_for(pilot, lambda: set(app.screens_built_ahead) == others
                       and all(s.is_mounted for s in app.screens_built_ahead.values()), timeout=60)
        await settle(pilot)
        built = dict(app.screens_built_ahead)
        assert all(screen.workspace is None for screen in built.values())
        assert not [w for w in app.workers if w.node in built.values()]
        await pilot.press("6")
        screen = app.screen
        assert screen is built["funnels"] and "funnels" not in app.screens_built_ahead
        await wait_for(pilot, lambda: screen.result is not None, timeout=60)
        await settle(pilot)
        engine = funnel(app.workspace, steps=list(DEFAULT_STEPS), window=screen.spec.window_or_default())
        assert screen.result.steps["count"].to_list() == engine.steps["count"].to_list()
        assert engine.steps["count"][0] > engine.steps["count"][-1] > 0
        assert all(other.workspace is None for name, other in built.items() if name != "funnels")


@run_async
async def test_refused_workspace_is_left_alone_and_the_advice_says_how(tmp_path: Path) -> None:
    """Opening the app with --name of a workspace imported from another source shows the
    refusal, leaves that workspace as it was, and does not advise re-importing (which would
    replace it)."""
    from shopper_tui.sample_data.generator import generate, write

    folder = tmp_path / "shop"
    write(generate(customers=60, seed=3), folder)
    data_dir = tmp_path / "data"
    theirs = workspace_module.import_source(folder, data_dir=data_dir, name="shop")
    before = theirs.path.read_bytes()
    app = _app(Settings.from_env(source="sample", name="shop", data_dir=data_dir))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace_error is not None, timeout=60)
        await wait_for(pilot, lambda: _error_shown(app))
        assert "would replace that data" in app.screen.message and str(folder.resolve()) in app.screen.message
        await pilot.press("escape")
        await settle(pilot)
        presence = str(app.screen.query_one("#presence").render())
        assert "No data open: Workspace 'shop' holds data imported from" in presence
        assert "--source or --name" in presence and "Re-import" not in presence
    assert theirs.path.read_bytes() == before and app.workspace is None


class _TableApp(App[None]):
    def __init__(self, frame: pl.DataFrame) -> None:
        super().__init__()
        self.frame = frame

    def compose(self) -> ComposeResult:
        yield FrameTable(name="products", frame=self.frame)


@run_async
async def test_markup_in_data_is_shown_literally() -> None:
    frame = pl.DataFrame({"product_id": ["P1", "P2"], "name": [MARKUP_NAME, "plain"]})
    app = _TableApp(frame)
    async with app.run_test(size=(80, 10)) as pilot:
        await settle(pilot)
        table = app.query_one(FrameTable)
        assert table.data_table is not None
        table.data_table.focus()
        lines = [table.data_table.render_line(y).text for y in range(3)]
        assert any(MARKUP_NAME in line for line in lines), lines
        await pilot.press("right", "enter")  # selecting the cell must not run the embedded action
        await settle(pilot)
        assert app.is_running


@run_async
async def test_csv_export_neutralises_formulas(tmp_path: Path) -> None:
    frame = pl.DataFrame({"name": ["=SUM(A1:A9)", "+1", "-2", "@cmd", "safe", None], "n": [1, 2, 3, 4, 5, 6]})
    app = _TableApp(frame)
    target = tmp_path / "risky.csv"
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.query_one(FrameTable).data_table.focus()
        await pilot.press("ctrl+e")
        await settle(pilot)
        assert "formulas" in str(app.screen.query_one("#export-note").render())
        app.screen.query_one("#export-path", Input).value = str(target)
        await pilot.press("enter")
        await wait_for(pilot, target.exists)
    text = target.read_text().splitlines()
    assert text[1:] == ["'=SUM(A1:A9),1", "'+1,2", "'-2,3", "'@cmd,4", "safe,5", ",6"]


def test_start_up_imports_no_heavy_library_and_paints_fast(sample_settings: Settings) -> None:
    code = f"""
import sys, time
t0 = time.perf_counter()
from shopper_tui.app import make_app
from shopper_tui.config import Settings
app = make_app(Settings.from_env(source="sample", data_dir={str(sample_settings.data_dir)!r}))
marks = {{}}
def painted():
    marks.setdefault("paint", time.perf_counter() - t0)
def poll():
    if app.workspace is not None:
        app.exit()
app.call_later(lambda: app.call_after_refresh(lambda: app.screen.call_after_refresh(painted)))
app.call_later(lambda: app.set_interval(0.02, poll))
app.run(headless=True, size=(120, 40))
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("sklearn", "hdbscan", "implicit", "transformers", "torch"))
print("HEAVY", heavy)
print("PAINT", marks.get("paint"))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "HEAVY []" in out.stdout, out.stdout
    assert "PAINT None" not in out.stdout


@run_async
async def test_new_data_recomputes_each_screen_once(sample_settings: Settings) -> None:
    """One data_changed per watch-mode poll: the showing screen at once, the others when shown.
    (Five screens call super().on_mount() although Textual runs every class's on_mount; the
    base's watchers are registered twice, and Textual keeps one of each.)"""
    app = make_app(sample_settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None)
        calls: dict[str, int] = {}
        for key in "134678":
            await pilot.press(key)
            await pilot.pause()
            screen = app.screen
            name = type(screen).__name__
            calls[name] = 0

            def counted(name: str = name) -> None:
                calls[name] += 1

            screen.data_changed = counted  # type: ignore[method-assign]
        await pilot.press("6")  # Funnels is showing: only it recomputes now
        await pilot.pause()
        app.data_version += 1
        await pilot.pause()
        assert calls["FunnelsScreen"] == 1
        for key in "13478":  # the others catch up once when shown
            await pilot.press(key)
            await pilot.pause()
        assert set(calls.values()) == {1}, calls


def test_counts_read_in_the_right_number() -> None:
    from shopper_tui.widgets import counted

    assert [counted(n, "review") for n in (0, 1, 2, 1234)] == ["0 reviews", "1 review", "2 reviews", "1,234 reviews"]


@pytest.mark.parametrize("in_thread", [False, True], ids=["inline", "worker"])
@run_async
async def test_a_replaced_table_frees_its_arrow_data_without_the_cycle_collector(
    in_thread: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app freezes long-lived objects between key presses (quiet_gc.py), so garbage *cycles*
    among them wait for a deep collection. A table replaced by a sort or a filter must not: its
    Arrow data (a copy of the view, hundreds of MB for a big table) is freed by reference
    counting alone, whether the view was computed inline or in a worker."""
    import gc
    import weakref

    from shopper_tui.widgets import frame_table

    if in_thread:
        monkeypatch.setattr(frame_table, "INLINE_ROWS", 1)
    frame = pl.DataFrame({"product_id": [f"P{i}" for i in range(500)], "price": [float(i % 37) for i in range(500)]})
    app = _TableApp(frame)
    async with app.run_test(size=(80, 12)) as pilot:
        await settle(pilot)
        table = app.query_one(FrameTable)
        table.data_table.focus()
        table.data_table.move_cursor(column=1)
        await settle(pilot)
        gc.collect()
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            dropped = []
            for _ in range(3):
                dropped.append(weakref.ref(table.data_table.backend))
                await pilot.press("s")
                await settle(pilot)
                await pilot.pause(0.05)
            prices = table.view.get_column("price").to_list()
            assert prices == sorted(prices) != frame.get_column("price").to_list()  # asc, desc, asc
            alive = [ref() is not None for ref in dropped]
        finally:
            if was_enabled:
                gc.enable()
        assert alive == [False, False, False]


def test_clearing_the_selection_with_no_screen_on_the_stack_does_not_stop_the_app(sample_settings: Settings) -> None:
    """While the app closes, an Input on a screen not closed yet can take focus after the
    current mode's stack has been emptied; its focus handler clears the selection. Textual's
    clear_selection raised ScreenStackError there (the benchmark's app stage at S died at exit)."""
    from textual.app import App as TextualApp
    from textual.app import ScreenStackError

    plain = TextualApp()
    with pytest.raises(ScreenStackError):  # Textual's own, on the same empty stack
        plain.clear_selection()
    make_app(sample_settings).clear_selection()  # the app's: nothing to clear, nothing raised


@run_async
async def test_a_screen_closing_before_it_composed_does_not_stop_the_app(sample_settings: Settings) -> None:
    """When the app quits while a screen is being built ahead, Textual composes the closing
    screen with no children (``mount`` does nothing on a closing widget) and still sends it
    Mount; the screen's on_mount then found none of its widgets and the app ended with a
    traceback (seen three times in the test suite: NoMatches on '#data-tables', '#live-status')."""
    from textual.widgets import Static

    from shopper_tui.screens.data import DataScreen
    from shopper_tui.widgets.list_table import ListTable

    class ClosingWhileComposing(DataScreen):
        def compose(self):  # noqa: ANN202
            self._closing = True  # the app's shutdown reaches the screen as it composes
            yield from super().compose()

    class ShutdownWhileComposing(DataScreen):
        def compose_body(self):  # noqa: ANN202
            app = self.app
            app._running = False  # the app's shutdown has begun ...
            app.call_later(setattr, app, "_running", True)  # (this test's app goes on)
            yield Static("", id="data-facts")  # ... and reached the tabs first: they composed empty
            yield ListTable(id="data-tables")

    app = make_app(sample_settings)
    async with app.run_test(size=(100, 30)) as pilot:
        for screen in (ClosingWhileComposing(), ShutdownWhileComposing()):
            app._register(app, screen)
            await pilot.pause()
            await pilot.pause()
            assert screen.is_mounted and len(screen.query("#live-status")) == 0
    assert app._exception is None


@run_async
async def test_a_failed_segmentation_shows_one_dialog_and_is_not_started_again(
        sample_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A segmentation that fails with an unexpected error (a bug, not a fact about the data)
    opens one error dialog; Segments, Affinity, Recommendations and Cohorts then show the reason
    instead of each training again (which stacked one dialog per screen)."""
    import shopper_tui.models as models

    calls: list[object] = []

    def broken(*args: object, **kwargs: object) -> object:
        calls.append(args)
        raise RuntimeError("duplicate output name 'buy_share:Other'")

    monkeypatch.setattr(models, "cached_segmentation", broken)
    app = _app(sample_settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None)
        await pilot.press("2")
        await wait_for(pilot, lambda: any(isinstance(s, ErrorModal) for s in app.screen_stack))
        assert "buy_share:Other" in (app.segmentation_error or "")
        await pilot.press("escape")  # the analyst closes the dialog and walks on
        await wait_for(pilot, lambda: not any(isinstance(s, ErrorModal) for s in app.screen_stack))
        for key in ("3", "4", "7", "2"):
            await pilot.press(key)
            await settle(pilot)
            assert app.screen.MODE == {"3": "affinity", "4": "recommendations", "7": "cohorts", "2": "segments"}[key]
        await settle(pilot)
        assert len(calls) == 1
        assert not any(isinstance(s, ErrorModal) for s in app.screen_stack)


@run_async
async def test_a_failed_screen_job_reaches_the_app_once(
        sample_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A screen's failed job is handed to the app once: one error dialog, no second error toast
    (the screens' super() calls made Textual's own dispatch run the forwarding handler twice)."""
    import shopper_tui.analytics.experiments as experiments_module

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("experiments exploded")

    monkeypatch.setattr(experiments_module, "experiments", broken)
    app = _app(sample_settings)
    shown: list[str] = []
    original = app.show_error

    def counting(error: BaseException, *, title: str = "") -> None:
        shown.append(str(error))
        original(error, title=title)

    monkeypatch.setattr(app, "show_error", counting)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None)
        await pilot.press("8")
        await wait_for(pilot, lambda: any(isinstance(s, ErrorModal) for s in app.screen_stack))
        await settle(pilot)
        assert shown == ["experiments exploded"]
