"""Pilot test of the Affinity screen: heatmap, cursor story, metric switch, drill-down, cross-sell, export."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from textual.widgets import Input, Select, Static

from shopper_tui.analytics.affinity import item_products, pair_rules, segment_affinity
from shopper_tui.app import make_app
from shopper_tui.config import Settings
from shopper_tui.models import segment_labels
from shopper_tui.screens.affinity import AffinityScreen
from shopper_tui.widgets import ExportDialog, FrameTable
from shopper_tui.widgets.heatmap import Heatmap

from test_app import import_sample, run_async, settle, wait_for

SIZE = (120, 40)


@pytest.fixture(scope="module")
def affinity_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    base = import_sample(tmp_path_factory.mktemp("affinity-data"))
    return Settings.from_env(source="sample", data_dir=base.data_dir, cache_dir=tmp_path_factory.mktemp("aff-cache"))


def _grid(long: pl.DataFrame, metric: str) -> list[list[float | None]]:
    items = sorted(long.get_column("item").unique().to_list())
    wide = long.pivot(on="item", index="segment_id", values=metric).sort("segment_id")
    return [v for r in wide.select(items).rows() for v in r]


def _flat(values: list[list[float | None]]) -> list[float | None]:
    return [v for row in values for v in row]


@run_async
async def test_affinity_screen_end_to_end(affinity_settings: Settings, tmp_path: Path) -> None:
    app = make_app(affinity_settings)
    target = tmp_path / "rules.csv"
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None)
        await pilot.press("3")
        screen = app.screen
        assert isinstance(screen, AffinityScreen)
        heat = screen.query_one(Heatmap)
        await wait_for(pilot, lambda: screen.data is not None and heat.row_labels, timeout=120)
        await settle(pilot)
        ws = app.workspace
        labels = segment_labels(app.segmentation)
        long = segment_affinity(ws, labels)
        names = app.segmentation.segments.sort("segment_id").get_column("name").to_list()
        assert heat.row_labels == names
        assert heat.col_labels == sorted(long.get_column("item").unique().to_list())
        assert _flat(heat.values) == pytest.approx(_grid(long, "index"))

        # move the cursor: the side panel explains the cell with the engine's numbers
        await pilot.press("down", "right")
        await settle(pilot)
        assert heat.cursor == (1, 1)
        cell = long.filter((pl.col("segment") == names[1]) & (pl.col("item") == heat.col_labels[1])).row(0, named=True)
        story = str(screen.query_one("#cell-info", Static).render())
        assert f"Segment '{names[1]}'" in story and heat.col_labels[1] in story
        assert f"{cell['lift']:.1f}× as often" in story
        assert f"({cell['customers']:,} of {cell['segment_customers']:,})" in story

        # switch metric: share
        await pilot.press("m")
        await settle(pilot)
        assert screen.metric == "share"
        assert _flat(heat.values) == pytest.approx(_grid(long, "share"))

        # drill into the cell: top products with their own index, and the reviews summary
        await pilot.press("enter")
        drill = screen.query_one("#drill-table", FrameTable)
        await wait_for(pilot, lambda: drill.frame.height > 0, timeout=60)
        await wait_for(pilot, lambda: "What customers say" in str(screen.query_one("#drill-reviews", Static).render()),
                       timeout=120)
        await settle(pilot)
        expected = item_products(ws, labels, item=heat.col_labels[1], segment_id=int(cell["segment_id"]), limit=None)
        assert drill.frame.get_column("product_id").to_list() == expected.get_column("product_id").to_list()
        assert drill.frame.get_column("index").to_list() == pytest.approx(expected.get_column("index").round(0).to_list())
        assert screen.view == "drill"
        await pilot.press("escape")
        await settle(pilot)
        assert screen.view == "heat"

        # cross-sell for one segment
        await pilot.press("x")
        await settle(pilot)
        seg_id = int(cell["segment_id"])
        screen.query_one("#cross-segment", Select).value = seg_id
        await settle(pilot)
        table = screen.query_one("#cross-table", FrameTable)
        members = labels.filter(pl.col("segment_id") == seg_id).get_column("customer_id")
        rules = pair_rules(ws, level="category", min_support=0.01, customers=members)
        await wait_for(pilot, lambda: table.frame.height == rules.height and table.table_name.endswith(
            names[1].replace(" ", "-").lower()))
        assert table.frame.get_column("antecedent").to_list() == rules.get_column("antecedent").to_list()
        assert table.frame.get_column("lift").to_list() == pytest.approx(rules.get_column("lift").to_list(), abs=1e-3)

        # minimum lift filter
        threshold = float(f"{rules.get_column('lift')[rules.height // 2]:.2f}")
        screen.query_one("#cross-lift", Input).value = str(threshold)
        screen.query_one("#cross-lift", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        await wait_for(pilot, lambda: table.frame.height == rules.filter(pl.col("lift") >= threshold).height)

        # export
        table.data_table.focus()
        await pilot.press("ctrl+e")
        await settle(pilot)
        assert isinstance(app.screen, ExportDialog)
        app.screen.query_one("#export-path", Input).value = str(target)
        await pilot.press("enter")
        await wait_for(pilot, target.exists)
        await settle(pilot)
        written = pl.read_csv(target)
        assert written.columns == ["antecedent", "consequent", "support", "confidence", "lift", "conviction", "baskets"]
        assert written.height == table.view.height > 0
        assert (written.get_column("lift") >= threshold - 1e-3).all()
