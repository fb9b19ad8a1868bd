"""The reusable heatmap widget on synthetic grids: 1×1, nulls, 200 columns, keys, scales."""

from __future__ import annotations

import time

import pytest
from textual.app import App, ComposeResult

from shopper_tui.widgets.heatmap import Heatmap, abbreviate

from test_app import run_async


class HeatApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Heatmap.CellHighlighted | Heatmap.CellChosen] = []

    def compose(self) -> ComposeResult:
        yield Heatmap(id="map")

    def on_heatmap_cell_highlighted(self, message: Heatmap.CellHighlighted) -> None:
        self.messages.append(message)

    def on_heatmap_cell_chosen(self, message: Heatmap.CellChosen) -> None:
        self.messages.append(message)


def _text(heat: Heatmap, y: int) -> str:
    return heat.render_line(y).text


def test_abbreviate() -> None:
    assert abbreviate("Toys", 5) == "Toys"
    assert abbreviate("Electronics", 5) == "Elec…"
    assert abbreviate("Home & Garden", 5) == "Ho&Ga"
    assert len(abbreviate("Home & Garden", 3)) <= 3
    assert abbreviate("Outdoor", 1) == "O" and abbreviate("Outdoor", 0) == ""


@run_async
async def test_one_by_one_and_blank_cells() -> None:
    app = HeatApp()
    async with app.run_test(size=(80, 24)) as pilot:
        heat = app.query_one(Heatmap)
        heat.set_data(["Only"], ["Solo"], [[None]])
        await pilot.pause()
        row = _text(heat, 1)
        assert row.startswith("Only") and "nan" not in row.lower() and "none" not in row.lower()
        assert row[heat.label_width:].strip() == ""  # the null cell is blank
        heat.set_data(["A", "B"], ["x", "y"], [[1.0, float("nan")], [None, 2.0]], fmt=lambda v: f"{v:.1f}")
        await pilot.pause()
        assert _text(heat, 1).split() == ["A", "1.0"] and _text(heat, 2).split() == ["B", "2.0"]
        assert "blank = none" in _text(heat, heat.scrollable_content_region.height - 1)


@run_async
async def test_two_hundred_columns_scroll_with_the_cursor() -> None:
    app = HeatApp()
    cols = [f"Category number {k}" for k in range(200)]
    values = [[float(r * 200 + c) if (r + c) % 7 else None for c in range(200)] for r in range(40)]
    async with app.run_test(size=(80, 24)) as pilot:
        heat = app.query_one(Heatmap)
        heat.focus()
        start = time.perf_counter()
        heat.set_data([f"Segment {r}" for r in range(40)], cols, values, fmt=lambda v: f"{v:.0f}")
        await pilot.pause()
        assert heat.cell_width == 6  # labels abbreviated, not widened: 200 columns do not fit
        assert "Cate…" in _text(heat, 0)
        await pilot.press("end")
        await pilot.pause()
        assert heat.cursor == (0, 199)
        assert heat.scroll_offset.x > 0
        assert f"{199:.0f}" in _text(heat, 1)  # the last column is on screen
        for _ in range(45):
            await pilot.press("down")
        await pilot.press("left")
        await pilot.pause()
        assert heat.cursor == (39, 198) and heat.scroll_offset.y > 0
        last_row = _text(heat, heat.scrollable_content_region.height - 2)
        assert last_row.startswith("Segment 39")
        assert time.perf_counter() - start < 5
        moved = [m for m in app.messages if isinstance(m, Heatmap.CellHighlighted)]
        assert moved[-1].row == 39 and moved[-1].column == 198 and moved[-1].value == 39 * 200 + 198
        await pilot.press("enter")
        await pilot.pause()
        chosen = [m for m in app.messages if isinstance(m, Heatmap.CellChosen)]
        assert [(m.row, m.column) for m in chosen] == [(39, 198)]


@run_async
async def test_scales_and_wide_cells() -> None:
    app = HeatApp()
    async with app.run_test(size=(120, 20)) as pilot:
        heat = app.query_one(Heatmap)
        heat.set_data(["s"], ["Electronics", "Toys"], [[50.0, 200.0]], centre=100, log=True)
        await pilot.pause()
        assert "Electronics" in _text(heat, 0)  # room for whole labels: cells widen
        # diverging on a log scale: 50 and 200 are equally far from 100, on opposite sides
        low, mid, high = heat.color_of(50.0), heat.color_of(100.0), heat.color_of(200.0)
        assert low != high and low != mid
        assert heat._scale.position(50.0) == pytest.approx(0.0)
        assert heat._scale.position(100.0) == pytest.approx(0.5)
        assert heat._scale.position(200.0) == pytest.approx(1.0)
        heat.set_data(["s"], ["a", "b"], [[0.0, 10.0]], scale=(0.0, 20.0))
        assert heat._scale.position(10.0) == pytest.approx(0.5)
        heat.set_data([], [], [])
        await pilot.press("down", "enter")
        assert not any(isinstance(m, Heatmap.CellChosen) for m in app.messages)
