"""Pilot tests of the Funnels screen: numbers checked against the engine on the same workspace."""

from __future__ import annotations

from datetime import timedelta
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

from shopper_tui.analytics.funnels import dropped_examples, funnel
from shopper_tui.analytics.segmentation import segment
from shopper_tui.app import make_app
from shopper_tui.analytics.errors import ShopperError
from shopper_tui.config import Settings, save_funnel
from shopper_tui.models import SegmentChoice, segment_labels
from shopper_tui.screens.funnels import FunnelBars, FunnelsScreen, duration, window_text

from test_app import SIZE, import_sample, run_async, settle, wait_for

_NUMBERS = ["step", "count", "conversion_from_previous", "conversion_from_first", "drop_off",
            "median_seconds_to_next", "p90_seconds_to_next"]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return import_sample(tmp_path_factory.mktemp("funnel-ui"))


async def _open_funnels(pilot) -> FunnelsScreen:  # noqa: ANN001
    await wait_for(pilot, lambda: pilot.app.workspace is not None)
    await pilot.press("6")
    screen = pilot.app.screen
    assert isinstance(screen, FunnelsScreen)
    await wait_for(pilot, lambda: screen.result is not None)
    await settle(pilot)
    return screen


async def _next_result(pilot, screen: FunnelsScreen, *keys: str) -> None:  # noqa: ANN001
    before = screen.result
    await pilot.press(*keys)
    await wait_for(pilot, lambda: screen.result is not before and screen.result.by == screen.spec.by
                   and screen.result.unit == screen.spec.unit)
    await settle(pilot)


def _same(shown: pl.DataFrame, engine: pl.DataFrame) -> None:
    a, b = shown.select(_NUMBERS), engine.select(_NUMBERS)
    assert a["step"].to_list() == b["step"].to_list()
    assert a["count"].to_list() == b["count"].to_list()
    for col in _NUMBERS[2:]:
        assert a[col].to_list() == pytest.approx(b[col].to_list(), abs=1e-4, nan_ok=True)


def test_helpers() -> None:
    assert duration(31) == "31s" and duration(104) == "1m44s" and duration(7500) == "2h05m"
    assert duration(None) == "—" and duration(3 * 86400) == "3.0d"
    assert window_text(timedelta(days=1)) == "1d" and window_text(timedelta(days=14)) == "2w"
    assert window_text(timedelta(hours=12)) == "12h" and window_text(timedelta(minutes=30)) == "30m"


@run_async
async def test_default_funnel_matches_engine_and_draws_bars(settings: Settings) -> None:
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_funnels(pilot)
        engine = funnel(app.workspace, steps=("view", "add_to_cart", "checkout", "purchase"))
        assert screen.result.unit == "session" and screen.result.window == timedelta(days=1)
        _same(screen.result.steps, engine.steps)
        table = screen.query_one("#funnel-table")
        _same(table.frame, engine.steps)
        drawn = str(screen.query_one(FunnelBars).render())
        first, last = engine.steps.row(0, named=True), engine.steps.row(-1, named=True)
        assert f"{first['count']:,}" in drawn and f"{last['count']:,}" in drawn
        assert f"drop-off {first['drop_off']:,}" in drawn
        assert f"{last['conversion_from_first'] * 100:.1f}%" in drawn
        assert f"med {duration(first['median_seconds_to_next'])}" in drawn
        # keys go to the screen, not into the steps input
        assert screen.focused is not None and screen.focused.id != "funnel-steps"


@run_async
async def test_unit_mode_window_and_steps_are_editable(settings: Settings) -> None:
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_funnels(pilot)
        ws = app.workspace
        await _next_result(pilot, screen, "u")  # customers, 14-day default window
        assert screen.result.unit == "customer" and screen.result.window == timedelta(days=14)
        assert screen.query_one("#funnel-window").value == "2w"
        _same(screen.result.steps, funnel(ws, unit="customer").steps)

        before = screen.result
        await pilot.press("m")  # strict
        await wait_for(pilot, lambda: screen.result is not before and screen.result.mode == "strict")
        _same(screen.result.steps, funnel(ws, unit="customer", mode="strict").steps)

        before = screen.result
        await pilot.press("w", *"3d", "enter")
        await wait_for(pilot, lambda: screen.result is not before and screen.result.window == timedelta(days=3))
        _same(screen.result.steps, funnel(ws, unit="customer", mode="strict", window=timedelta(days=3)).steps)

        before = screen.result
        await pilot.press("e", *"add_to_cart,purchase", "enter")
        await wait_for(pilot, lambda: screen.result is not before and len(screen.result.step_names) == 2)
        _same(screen.result.steps, funnel(ws, steps=("add_to_cart", "purchase"), unit="customer", mode="strict",
                                          window=timedelta(days=3)).steps)

        # an unknown step is refused with a message; the funnel stays as it was
        shown = screen.result
        await pilot.press("e", *"view,basket", "enter")
        await settle(pilot)
        assert screen.result is shown and screen.spec.steps == ("add_to_cart", "purchase")


@run_async
async def test_breakdown_side_by_side_and_dropped_examples(settings: Settings) -> None:
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_funnels(pilot)
        ws = app.workspace
        app.segment_choice = SegmentChoice(method="rfm")
        app.segmentation = segment(ws, method="rfm")
        await _next_result(pilot, screen, "b")  # segment
        labels = segment_labels(app.segmentation)
        engine = funnel(ws, by="segment", labels=labels)
        assert screen.result.groups == engine.groups
        for group in engine.groups:
            _same(screen.result.steps.filter(pl.col("group") == group), engine.steps.filter(pl.col("group") == group))

        await _next_result(pilot, screen, "b")  # device
        engine = funnel(ws, by="device")
        assert screen.result.groups == engine.groups == ("desktop", "mobile", "tablet")
        drawn = str(screen.query_one(FunnelBars).render()).splitlines()
        assert all(g in drawn[0] for g in engine.groups)  # side by side, one column per group
        purchase = [line for line in drawn if "purchase" in line][0]
        for group in engine.groups:
            rate = engine.steps.filter((pl.col("group") == group) & (pl.col("step") == "purchase"))
            assert f"{rate['conversion_from_first'][0] * 100:.0f}%" in purchase

        # enter on desktop / add_to_cart: sessions that dropped off there
        table = screen.query_one("#funnel-table")
        table.data_table.focus()
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: screen.examples is not None)
        await settle(pilot)
        expected = dropped_examples(ws, at_step=2, by="device", group="desktop", limit=200)
        assert screen.examples_for == {"at_step": 2, "step": "add_to_cart", "group": "desktop"}
        assert table.frame["session_id"].to_list() == expected["session_id"].to_list()
        assert set(table.frame["group"].to_list()) == {"desktop"}
        assert table.table_name == "funnel_dropped_after_add_to_cart"  # what ctrl+e exports

        await pilot.press("escape")  # back up to the steps
        await settle(pilot)
        assert screen.examples is None and "step_index" in table.frame.columns


@run_async
async def test_saved_funnels_from_settings(settings: Settings, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[funnels]\ncheckout = ["checkout", "purchase"]\n', encoding="utf-8")
    loaded = Settings.from_env({"SHOPPER_TUI_CONFIG_FILE": str(config)}, data_dir=settings.data_dir,
                               cache_dir=settings.cache_dir)
    assert loaded.funnels == {"checkout": ["checkout", "purchase"]}
    assert Settings.from_env({"SHOPPER_TUI_FUNNELS": "a=view,purchase"}).funnels == {"a": ["view", "purchase"]}
    assert Settings.from_env({}).funnels == {}
    app = make_app(loaded)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_funnels(pilot)
        before = screen.result
        await pilot.press("f")
        await wait_for(pilot, lambda: screen.result is not before)
        assert screen.result.step_names == ("checkout", "purchase")
        _same(screen.result.steps, funnel(app.workspace, steps=("checkout", "purchase")).steps)


@run_async
async def test_save_funnel_from_the_screen_survives_a_restart(settings: Settings, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('theme = "textual-dark"\n', encoding="utf-8")  # the user's file is never rewritten
    env = {"SHOPPER_TUI_CONFIG_FILE": str(config)}
    loaded = Settings.from_env(env, data_dir=settings.data_dir, cache_dir=settings.cache_dir)
    assert loaded.funnels == {} and loaded.funnels_file == tmp_path / "funnels.toml"
    app = make_app(loaded)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_funnels(pilot)
        screen.spec = replace(screen.spec, steps=("view", "checkout", "purchase"))
        await pilot.press("ctrl+s")
        await pilot.pause()
        prompt = app.screen.query_one("#prompt-input")
        prompt.value = ""
        await pilot.press(*'[b]Late "buyers"', "enter")
        await pilot.pause()
        assert app.screen is screen
        assert app.settings.funnels == {'[b]Late "buyers"': ["view", "checkout", "purchase"]}
    assert config.read_text(encoding="utf-8") == 'theme = "textual-dark"\n'
    again = Settings.from_env(env)
    assert again.funnels == {'[b]Late "buyers"': ["view", "checkout", "purchase"]}
    # saving under the same name replaces; another name adds
    again = save_funnel(again, '[b]Late "buyers"', ["view", "purchase"])
    again = save_funnel(again, "cart", ["add_to_cart", "purchase"])
    assert Settings.from_env(env).funnels == {'[b]Late "buyers"': ["view", "purchase"], "cart": ["add_to_cart", "purchase"]}
    with pytest.raises(ShopperError, match="at least two steps"):
        save_funnel(again, "one", ["view"])


@run_async
async def test_dropped_examples_follow_the_funnel_shown_while_a_breakdown_waits(settings: Settings) -> None:
    """b (segment) with no segments yet keeps the last funnel on screen while they train; enter
    on a step lists that funnel's drop-offs, not an error about the missing segment labels."""
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_funnels(pilot)
        ws = app.workspace
        app.segmentation = None
        app.request_segmentation = lambda *a, **k: None  # the segments are still training
        await pilot.press("b")
        await settle(pilot)
        assert screen.spec.by == "segment" and screen.result.by is None
        table = screen.query_one("#funnel-table")
        table.data_table.focus()
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: screen.examples is not None)
        assert screen.examples_for == {"at_step": 2, "step": "add_to_cart", "group": None}
        expected = dropped_examples(ws, at_step=2, limit=200)
        assert table.frame["session_id"].to_list() == expected["session_id"].to_list()
