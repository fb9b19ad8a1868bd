"""Untrusted text: product names, categories, countries and review text holding Rich/Textual
markup (``[bold]``, ``[/]``, ``[@click=app.quit]``), ANSI escape sequences and control
characters are shown literally on every screen that shows them — Reviews (table and review
detail), Recommendations (reasons), Affinity (heatmap labels, top products), Segments (the
customer view) — never reach the terminal as control codes and cannot trigger actions.
(CSV formula escaping on export: tests/test_app.py::test_csv_export_neutralises_formulas.)
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from rich.text import Text
from test_app import MARKUP_NAME, run_async, settle, wait_for
from test_edge_cases import screen_text, shop, write_folder
from textual.app import App, ComposeResult
from textual.content import Content
from textual.widgets import Label, Static

from shopper_tui.app import make_app
from shopper_tui.config import Settings
from shopper_tui.widgets import ErrorModal, FrameTable
from shopper_tui.widgets.heatmap import Heatmap
from shopper_tui.widgets.printable import REPLACEMENTS, install, printable, printable_frame

SIZE = (160, 50)
ANSI = "\x1b[31mRED\x1b[0m\x1b]0;pwned\x07\x9b2J\x00"
NAME = f"{MARKUP_NAME} {ANSI}"  # a product name
CATEGORY = "Sh[b]oe[/b]s\x1b[5m"
COUNTRY = "D[@click=app.quit]E[/]\x1b[1m"
REVIEW = "[bold]Great[/bold] shoes \x1b[2J [@click=app.quit]quit[/] fast delivery\x07 and good quality\u202e"
# what a Static shows of each: markup literal, each control character as its picture (Textual
# itself drops bell, backspace, vertical tab, form feed and carriage return)
SHOWN = {name: printable(name.translate({7: None, 8: None, 11: None, 12: None, 13: None}))
         for name in (NAME, CATEGORY, COUNTRY, REVIEW)}
CONTROL = {chr(c) for c in REPLACEMENTS} | {"\x07", "\x08", "\r"}


def _assert_no_control(text: str, where: str) -> None:
    found = sorted({repr(ch) for ch in text if ch in CONTROL})
    assert not found, f"{where}: control characters reach the terminal: {found}"


# -- the helper itself -------------------------------------------------------------------------
def test_printable_replaces_controls_one_for_one() -> None:
    assert printable("a\x1b[31mb\x9bc\x00\x7f\u202ed\te\nf") == "a␛[31mb\ufffdc␀␡\ufffdd\te\nf"
    assert printable(MARKUP_NAME) == MARKUP_NAME  # markup is not its business
    assert len(printable(ANSI)) == len(ANSI)


def test_printable_frame_only_touches_dirty_text_columns() -> None:
    frame = pl.DataFrame({"a": ["ok", "x\x1by"], "b": ["fine", "also"], "n": [1, 2]})
    out = printable_frame(frame)
    assert out["a"].to_list() == ["ok", "x␛y"] and out["b"].to_list() == ["fine", "also"]
    clean = frame.drop("a")
    assert printable_frame(clean) is clean


def test_textual_content_shows_controls_after_install() -> None:
    install()
    for content in (Content(ANSI), Content.from_rich_text(Text(ANSI))):
        _assert_no_control(content.plain, "Content")
        assert "␛[31mRED" in content.plain


class _Widgets(App[None]):
    def compose(self) -> ComposeResult:
        yield Static(NAME, markup=False, id="static")
        yield Label(Text(REVIEW), id="label")
        yield FrameTable(name="t", frame=pl.DataFrame({"name": [NAME], "review": [REVIEW]}), id="table")
        yield Heatmap(id="heat")

    def on_mount(self) -> None:
        self.query_one(Heatmap).set_data([COUNTRY], [CATEGORY], [[1.0]])


@run_async
async def test_widgets_paint_no_control_codes() -> None:
    install()
    app = _Widgets()
    async with app.run_test(size=(200, 20)) as pilot:
        await settle(pilot)
        painted = screen_text(app)
        _assert_no_control(painted, "screen")
        for widget in (app.query_one("#static"), app.query_one("#label"), app.query_one(Heatmap),
                       app.query_one(FrameTable).data_table):
            lines = "\n".join(widget.render_line(y).text for y in range(widget.size.height))
            _assert_no_control(lines, str(widget))
        assert SHOWN[NAME] in painted and "␛[31mRED" in painted
        assert MARKUP_NAME in painted
        assert "Sh[b]oe[/b]s␛[5m"[:8] in painted  # the heatmap column label (abbreviated to its cell)
        table = app.query_one(FrameTable)
        assert table.view["name"][0] == NAME  # only the display is cleaned: data, filter and export keep it


# -- the app on a hostile shop ---------------------------------------------------------------
@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    base = tmp_path_factory.mktemp("hostile")
    tables = shop(customers=8, products=4)
    tables["products"] = tables["products"].with_columns(
        pl.when(pl.col("product_id") == "P1").then(pl.lit(NAME)).otherwise(pl.col("name")).alias("name"),
        pl.when(pl.col("product_id").is_in(["P1", "P3"])).then(pl.lit(CATEGORY)).otherwise(pl.col("category"))
        .alias("category"))
    tables["customers"] = tables["customers"].with_columns(pl.lit(COUNTRY).alias("country"))
    tables["reviews"] = tables["reviews"].with_columns(
        pl.when(pl.col("review_id") == "R1").then(pl.lit(REVIEW)).otherwise(pl.col("text")).alias("text"))
    folder = write_folder(tables, base / "shop")
    return Settings.from_env(source=str(folder), data_dir=base / "data", cache_dir=base / "cache")


def _check(app, where: str, *expected: str) -> str:  # noqa: ANN001
    text = screen_text(app)
    _assert_no_control(text, where)
    for item in expected:
        assert item in text, f"{where}: {item!r} not shown literally:\n{text}"
    assert not isinstance(app.screen, ErrorModal)
    assert app.is_running
    return text


@run_async
async def test_hostile_text_is_literal_on_every_screen(hostile: Settings) -> None:
    from shopper_tui.screens.affinity import AffinityScreen
    from shopper_tui.screens.recommendations import RecommendationsScreen
    from shopper_tui.screens.review_detail import ReviewDetailScreen
    from shopper_tui.screens.reviews import ReviewsScreen
    from shopper_tui.screens.segments import SegmentsScreen

    app = make_app(hostile)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None, timeout=60)
        await settle(pilot)

        # Reviews: the table, then the review in full
        await pilot.press("5")
        screen = app.screen
        assert isinstance(screen, ReviewsScreen)
        await wait_for(pilot, lambda: screen.views is not None, timeout=90)
        await settle(pilot)
        screen.show_tab("reviews")
        await settle(pilot)
        _check(app, "reviews table", "[bold red]x[/] [@click=app.quit]y ␛[31m", "Sh[b]oe[/b]s␛[5m")
        screen.open_review("R1")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewDetailScreen))
        await settle(pilot)
        _check(app, "review detail", SHOWN[REVIEW][:60], "[@click=app.quit]quit[/]")
        await pilot.click("#review-text")  # a click on the text runs no embedded action
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)

        # Recommendations: the reasons of a customer who has not bought P1
        await pilot.press("4")
        recs = app.screen
        assert isinstance(recs, RecommendationsScreen)
        await wait_for(pilot, lambda: recs.recs is not None, timeout=120)
        recs.pick_customer("C2")
        await settle(pilot)
        grid = recs.query_one("#rec-table", FrameTable)
        names = grid.view["name"].to_list()
        assert NAME in names, names
        grid.data_table.move_cursor(row=names.index(NAME))
        await settle(pilot)
        reasons = str(recs.query_one("#rec-reasons", Static).render())
        assert SHOWN[NAME] in reasons
        _check(app, "recommendations", MARKUP_NAME, SHOWN[NAME])

        # Affinity: the heatmap's category label and the cell's top products
        await pilot.press("3")
        aff = app.screen
        assert isinstance(aff, AffinityScreen)
        heat = aff.query_one(Heatmap)
        await wait_for(pilot, lambda: aff.data is not None and bool(heat.row_labels), timeout=120)
        await settle(pilot)
        column = heat.col_labels.index(CATEGORY)
        heat.cursor = (0, column)
        await settle(pilot)
        panel = str(aff.query_one("#cell-info", Static).render())
        assert CATEGORY in panel.replace("␛", "\x1b") or SHOWN[CATEGORY] in panel
        _check(app, "affinity", "Sh[b]oe")
        await pilot.press("enter")  # the drill-down: top products of that category
        drill = aff.query_one("#drill-table", FrameTable)
        await wait_for(pilot, lambda: drill.frame.height > 0, timeout=60)
        await settle(pilot)
        _check(app, "affinity drill-down", SHOWN[CATEGORY][:8])

        # Segments: a customer's profile (country) and categories
        await pilot.press("2")
        seg = app.screen
        assert isinstance(seg, SegmentsScreen)
        await wait_for(pilot, lambda: seg.shown is not None, timeout=120)
        await settle(pilot)
        seg.open_segment(int(seg.shown.table["id"][0]))
        await wait_for(pilot, lambda: seg.level == "customers")
        await settle(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: seg.level == "customer", timeout=30)
        await settle(pilot)
        _check(app, "customer view", "D[@click=app.quit]E[/]␛[1m")
        assert app.is_running


def test_csv_export_escapes_every_formula_prefix_and_keeps_the_text(tmp_path: Path) -> None:
    """Beyond tests/test_app.py (=, +, -, @ through the dialog): tab and carriage return
    prefixes, markup and escape sequences are written as they are, only defused."""
    from shopper_tui.analytics.frames import export_frame

    ansi = "\x1b[31mRED\x1b[0m"
    names = ["\t=1+1", "\r=2", f"={MARKUP_NAME}", f"-{ansi}", MARKUP_NAME, ansi, None]
    frame = pl.DataFrame({"name": names, "n": [-1, 2, 3, 4, 5, 6, 7]})
    result = export_frame(frame, tmp_path / "x.csv", format="csv")
    assert result.neutralised_cells == 4
    back = pl.read_csv(tmp_path / "x.csv", infer_schema=False)
    assert back["name"].to_list() == ["'\t=1+1", "'\r=2", f"'={MARKUP_NAME}", f"'-{ansi}", MARKUP_NAME, ansi, None]
    assert back["n"].to_list() == ["-1", "2", "3", "4", "5", "6", "7"]  # numbers are not formulas
