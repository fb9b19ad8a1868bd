"""Pilot tests of the Segments screen: table, method switch, drill-down, customer view,
compare, PII masking and export — numbers checked against the engine on the same workspace."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from textual.widgets import Input, Static

from shopper_tui.analytics.customers import compare_segments
from shopper_tui.analytics.rfm import RFM_GRID_NAMES
from shopper_tui.analytics.workspace import open_workspace
from shopper_tui.app import make_app
from shopper_tui.config import Settings
from shopper_tui.models import SegmentChoice, cached_segmentation
from shopper_tui.screens.segments import SegmentsScreen
from shopper_tui.widgets import ExportDialog, FrameTable

from test_app import import_sample, run_async, settle, wait_for

SIZE = (120, 40)
MASKED_EMAIL = r"^.\*\*\*@.\*\*\*(\.[a-z]+)?$"


def warm_segmentations(data_dir: Path) -> Settings:
    """Import the sample and cache K-Means (the default) and the RFM grid, like a second launch."""
    base = import_sample(data_dir)
    settings = Settings.from_env(source="sample", data_dir=data_dir, cache_dir=data_dir / "cache")
    path = next(Path(data_dir).rglob("*.duckdb"))
    with open_workspace(path) as ws:
        for choice in (SegmentChoice(), SegmentChoice("rfm", "rfm")):
            cached_segmentation(ws, settings, choice)
    assert base.data_dir == settings.data_dir
    return settings


@pytest.fixture(scope="module")
def seg_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return warm_segmentations(tmp_path_factory.mktemp("seg-ui"))


def _screen(app) -> SegmentsScreen:  # noqa: ANN001
    screen = app.screen
    assert isinstance(screen, SegmentsScreen)
    return screen


async def open_segments(pilot, method: str = "kmeans") -> SegmentsScreen:  # noqa: ANN001
    app = pilot.app
    await wait_for(pilot, lambda: app.workspace is not None)
    await pilot.press("2")
    await settle(pilot)
    screen = _screen(app)
    await wait_for(pilot, lambda: screen.shown is not None and screen.shown.result.method == method)
    await settle(pilot)
    return screen


@run_async
async def test_segments_table_matches_the_cached_segmentation(seg_settings: Settings) -> None:
    app = make_app(seg_settings)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_segments(pilot)
        result = app.segmentation
        assert result is not None and result.method == "kmeans"
        table = screen.query_one("#segments-table", FrameTable)
        assert table.frame["segment"].to_list() == result.segments["name"].to_list()
        assert table.frame["customers"].to_list() == result.segments["size"].to_list()
        assert table.frame["customers"].sum() == result.labels.height
        assert table.frame["insight"].str.contains("customers in").all()
        spark = str(screen.query_one("#seg-spark", Static).render())
        assert f"chosen k={result.k}" in spark
        assert app.focus_segment == int(table.frame["id"][0])
        # the persona of the highlighted segment is spelled out below the table
        assert str(result.segments["persona"][0]) in str(screen.query_one("#seg-insights", Static).render())


@run_async
async def test_change_method_drill_down_and_export(seg_settings: Settings, tmp_path: Path) -> None:
    app = make_app(seg_settings)
    target = tmp_path / "customers.csv"
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_segments(pilot)
        await pilot.press("m")  # K-Means → RFM grid (cached)
        await wait_for(pilot, lambda: screen.shown is not None and screen.shown.result.method == "rfm")
        await settle(pilot)
        result = app.segmentation
        table = screen.query_one("#segments-table", FrameTable)
        assert table.frame["segment"].to_list() == [n for n in RFM_GRID_NAMES if n in result.segments["name"].to_list()]
        assert app.segment_choice == SegmentChoice("rfm", "both")

        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: screen.level == "customers")
        await settle(pilot)
        second = result.segments.row(1, named=True)
        customers = screen.query_one("#customers-table", FrameTable)
        assert customers.frame.height == second["size"]
        assert set(customers.frame["segment"].to_list()) == {second["name"]}
        assert customers.frame["email"].drop_nulls().str.contains(MASKED_EMAIL).all()
        assert app.focus_segment == second["segment_id"]

        await pilot.press("ctrl+e")
        await settle(pilot)
        assert isinstance(app.screen, ExportDialog)
        app.screen.query_one("#export-path", Input).value = str(target)
        await pilot.press("enter")
        await wait_for(pilot, target.exists)
        await settle(pilot)
        written = pl.read_csv(target, infer_schema=False)
        assert written.height == second["size"]
        assert written["email"].drop_nulls().str.contains(MASKED_EMAIL).all()
        raw = app.workspace.sql("SELECT email FROM customers")["email"].drop_nulls().to_list()
        assert not set(written["email"].to_list()) & set(raw)

        first_id = customers.view["customer_id"][0]
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.level == "customer")
        await settle(pilot)
        assert app.selected_customer == first_id
        assert screen.customer is not None and screen.customer.customer_id == first_id
        assert screen.customer.segment == second["name"]
        profile = str(screen.query_one("#cust-profile", Static).render())
        assert "@" in profile and "***@" in profile
        orders = screen.query_one("#cust-orders", FrameTable)
        assert orders.frame["status"].eq("completed").sum() == screen.customer.rfm["orders"]

        await pilot.press("escape")
        await settle(pilot)
        assert screen.level == "customers"
        await pilot.press("escape")
        await settle(pilot)
        assert screen.level == "segments"
        await pilot.press("escape")  # top level, no job: nothing to go back to, no crash
        await settle(pilot)
        assert screen.level == "segments" and app.screen is screen


@run_async
async def test_compare_two_segments(seg_settings: Settings) -> None:
    app = make_app(seg_settings)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_segments(pilot)
        await pilot.press("c", "down", "c")
        await wait_for(pilot, lambda: screen.level == "compare")
        result = app.segmentation
        a, b = result.segments["segment_id"][0], result.segments["segment_id"][1]
        shown = screen.query_one("#compare-table", FrameTable).frame
        assert shown.equals(compare_segments(result, a, b))
        big = shown.filter(pl.col("gap_sd").abs() >= 1)
        assert big.height > 0 and big["stands_out"].str.len_chars().eq(3).all()
        await pilot.press("escape")
        await settle(pilot)
        assert screen.level == "segments"


@run_async
async def test_show_pii_unmasks_the_customers_table(seg_settings: Settings) -> None:
    app = make_app(Settings.from_env(source="sample", data_dir=seg_settings.data_dir,
                                     cache_dir=seg_settings.cache_dir, show_pii=True))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_segments(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.level == "customers")
        await settle(pilot)
        frame = screen.query_one("#customers-table", FrameTable).frame
        raw = app.workspace.sql("SELECT customer_id, email, name FROM customers")
        joined = frame.select("customer_id", "email", "name").join(raw, on="customer_id", suffix="_raw")
        assert joined.height == frame.height
        assert (joined["email"] == joined["email_raw"]).all() and (joined["name"] == joined["name_raw"]).all()


@run_async
async def test_palette_offers_method_switch(seg_settings: Settings) -> None:
    app = make_app(seg_settings)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_segments(pilot)
        screen.choose(method="rfm")
        await wait_for(pilot, lambda: screen.shown is not None and screen.shown.result.method == "rfm")
        from shopper_tui.screens.segments import SegmentsCommands

        names = [name for name, _, _ in SegmentsCommands(screen).commands()]
        assert {"Segments: method K-Means", "Segments: method HDBSCAN", "Segments: features behavioural"} <= set(names)
