"""Every screen's palette commands point at actions that exist, and the palette runs them."""

from __future__ import annotations

import pytest
from textual.actions import parse

from shopper_tui.app import SCREEN_MODES, make_app
from shopper_tui.config import Settings

from test_app import SIZE, import_sample, run_async, settle, wait_for


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return import_sample(tmp_path_factory.mktemp("palette"))


@run_async
async def test_every_palette_command_names_a_real_action(settings: Settings) -> None:
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None)
        checked = 0
        for mode in SCREEN_MODES:
            await pilot.press(mode.key)
            await pilot.pause()
            screen = app.screen
            for provider_cls in screen.COMMANDS:
                provider = provider_cls(screen)
                for name, help_text, action in provider.commands():
                    assert name and help_text
                    if callable(action):
                        continue
                    _target, action_name, _args = parse(action)
                    assert hasattr(screen, f"action_{action_name}"), (mode.name, name, action)
                    checked += 1
        assert checked >= 25  # Cohorts, Experiments and Funnels list theirs as action strings


@run_async
async def test_palette_runs_a_screen_command(settings: Settings) -> None:
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None)
        await pilot.press("7")
        await settle(pilot)
        screen = app.screen
        assert screen.spec.period == "month"
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"next period", "enter")
        await settle(pilot)
        assert app.screen is screen
        assert screen.spec.period == "week"
