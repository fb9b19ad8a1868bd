"""Pilot tests of the Cohorts screen: the heatmap's cells are the engine's rates."""

from __future__ import annotations

import polars as pl
import pytest

from shopper_tui.analytics.cohorts import cohorts
from shopper_tui.analytics.segmentation import segment
from shopper_tui.app import make_app
from shopper_tui.config import Settings
from shopper_tui.models import SegmentChoice, segment_labels
from shopper_tui.screens.cohorts import CohortsScreen, triangle
from shopper_tui.widgets.heatmap import Heatmap

from test_app import SIZE, import_sample, run_async, settle, wait_for


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return import_sample(tmp_path_factory.mktemp("cohorts-ui"))


def _check_heatmap(heatmap: Heatmap, engine: pl.DataFrame) -> None:
    sizes = engine.select("cohort", "size").unique().sort("cohort")
    assert len(heatmap.row_labels) == sizes.height
    assert heatmap.row_labels[0].endswith(f"· {sizes['size'][0]:,}")
    for r in engine.sample(n=min(40, engine.height), seed=1).iter_rows(named=True):
        row = sizes["cohort"].to_list().index(r["cohort"])
        expected = None if r["rate"] is None else r["rate"] * 100
        assert heatmap.value_at(row, r["period"]) == pytest.approx(expected)
    # a triangle: newer cohorts have fewer periods
    filled = [sum(v is not None for v in row) for row in heatmap.values]
    assert filled == sorted(filled, reverse=True) and filled[0] > filled[-1]


def test_triangle_shape() -> None:
    from datetime import date

    frame = pl.DataFrame({"cohort": [date(2025, 1, 1)] * 2 + [date(2025, 2, 1)], "size": [10, 10, 4],
                          "period": [0, 1, 0], "value": [10.0, 3.0, 4.0], "rate": [1.0, 0.3, 1.0]})
    rows, cols, values = triangle(frame, "month")
    assert rows == ["2025-01 · 10", "2025-02 · 4"] and cols == ["0", "1"]
    assert values == [[100.0, pytest.approx(30.0)], [100.0, None]]


@run_async
async def test_cohorts_switch_mode_measure_and_segment(settings: Settings) -> None:
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None)
        await pilot.press("7")
        screen = app.screen
        assert isinstance(screen, CohortsScreen)
        await wait_for(pilot, lambda: screen.frame is not None)
        await settle(pilot)
        ws = app.workspace
        heatmap = screen.query_one(Heatmap)
        _check_heatmap(heatmap, cohorts(ws))
        first = cohorts(ws).row(0, named=True)
        assert f"{first['value']:,.0f} active in month 0" in str(screen.query_one("#cohort-cell").render())

        async def press(key: str) -> None:
            before = screen.frame
            await pilot.press(key)
            await wait_for(pilot, lambda: screen.frame is not before and screen._spec_shown == screen.spec)
            await settle(pilot)

        await press("n")
        _check_heatmap(heatmap, cohorts(ws, mode="on_or_after"))
        await press("v")
        _check_heatmap(heatmap, cohorts(ws, mode="on_or_after", measure="revenue"))
        assert "% of period-0 revenue" in heatmap.legend_text
        await press("p")  # weeks
        _check_heatmap(heatmap, cohorts(ws, mode="on_or_after", measure="revenue", period="week"))

        # t: the same numbers as a table (exportable)
        await pilot.press("t")
        table = screen.query_one("#cohort-table")
        assert table.display and not heatmap.display
        assert table.frame.height == screen.frame.height

        # g: filter by segment (labels from the app's segmentation)
        app.segment_choice = SegmentChoice(method="rfm")
        app.segmentation = segment(ws, method="rfm")
        await settle(pilot)
        await press("g")
        labels = segment_labels(app.segmentation)
        seg_id = screen.spec.segment
        assert seg_id == min(labels["segment_id"].unique().to_list())
        _check_heatmap(heatmap, cohorts(ws, mode="on_or_after", measure="revenue", period="week",
                                        labels=labels, segment=seg_id))


@run_async
async def test_focus_segment_is_the_default_filter(settings: Settings) -> None:
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None)
        app.segment_choice = SegmentChoice(method="rfm")
        app.segmentation = segment(app.workspace, method="rfm")
        labels = segment_labels(app.segmentation)
        focus = int(labels["segment_id"][0])
        app.focus_segment = focus
        await pilot.press("7")
        screen = app.screen
        await wait_for(pilot, lambda: screen.frame is not None)
        await settle(pilot)
        assert screen.spec.segment == focus
        name = labels.filter(pl.col("segment_id") == focus)["segment"][0]
        assert f"segment {name}" in str(screen.query_one("#cohort-spec").render())
        _check_heatmap(screen.query_one(Heatmap), cohorts(app.workspace, labels=labels, segment=focus))


@run_async
async def test_focus_set_after_the_screen_was_built_ahead_is_followed(settings: Settings) -> None:
    """Cohorts built ahead of its first visit read the focus segment as they mounted; a focus
    set afterwards is still the first triangle's filter when the screen is shown."""
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None)
        await wait_for(pilot, lambda: "cohorts" in app.screens_built_ahead
                       and app.screens_built_ahead["cohorts"].is_mounted, timeout=60)
        built = app.screens_built_ahead["cohorts"]
        assert built.workspace is None and built.frame is None  # nothing computed off screen
        app.segment_choice = SegmentChoice(method="rfm")
        app.segmentation = segment(app.workspace, method="rfm")
        labels = segment_labels(app.segmentation)
        focus = int(labels["segment_id"][-1])
        app.focus_segment = focus
        await pilot.press("7")
        screen = app.screen
        assert screen is built
        await wait_for(pilot, lambda: screen.frame is not None)
        await settle(pilot)
        assert screen.spec.segment == focus
        _check_heatmap(screen.query_one(Heatmap), cohorts(app.workspace, labels=labels, segment=focus))
