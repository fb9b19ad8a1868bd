"""Pilot tests of the Experiments screen and the sample-size calculator (screen and CLI)."""

from __future__ import annotations

import json

import pytest

from shopper_tui.analytics.errors import ShopperError
from shopper_tui.analytics.experiments import experiments, sample_size
from shopper_tui.app import make_app
from shopper_tui.cli import main
from shopper_tui.commands.funnels import parse_plan, parse_proportion
from shopper_tui.config import Settings
from shopper_tui.screens.experiments import ExperimentsScreen

from test_app import SIZE, import_sample, run_async, settle, wait_for


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return import_sample(tmp_path_factory.mktemp("experiments-ui"))


def _same(shown, engine) -> None:  # noqa: ANN001
    assert shown["variant"].to_list() == engine["variant"].to_list()
    assert shown["users"].to_list() == engine["users"].to_list()
    assert shown["conversions"].to_list() == engine["conversions"].to_list()
    for col in ("conversion_rate", "abs_lift", "abs_lift_ci_low", "abs_lift_ci_high", "rel_lift", "p_value"):
        assert shown[col].to_list() == pytest.approx(engine[col].to_list(), abs=1e-6, nan_ok=True)


@run_async
async def test_experiments_match_engine_and_from_step_switches(settings: Settings) -> None:
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None)
        await pilot.press("8")
        screen = app.screen
        assert isinstance(screen, ExperimentsScreen)
        await wait_for(pilot, lambda: screen.results is not None)
        await settle(pilot)
        engine = experiments(app.workspace)
        _same(screen.results, engine)
        _same(screen.query_one("#experiment-table").frame, engine)
        summary = str(screen.query_one("#experiment-summary").render())
        treat = engine.row(1, named=True)
        assert "checkout_redesign" in summary
        assert f"lift {treat['abs_lift'] * 100:+.2f} pp [{treat['abs_lift_ci_low'] * 100:+.2f} pp" in summary

        before = screen.results
        await pilot.press("f", "f", "f")  # exposure → view → add_to_cart → checkout
        await wait_for(pilot, lambda: screen.results is not before and screen.spec.from_step == "checkout")
        await settle(pilot)
        engine = experiments(app.workspace, from_step="checkout")
        _same(screen.results, engine)
        # the planted effect is on checkout → purchase: significant, interval excludes 0
        treat = engine.row(1, named=True)
        assert treat["abs_lift_ci_low"] > 0 and "significant" in str(screen.query_one("#experiment-summary").render())

        before = screen.results
        await pilot.press("u")
        await wait_for(pilot, lambda: screen.results is not before)
        await settle(pilot)
        _same(screen.results, experiments(app.workspace, from_step="checkout", unit="customer"))


@run_async
async def test_sample_size_calculator(settings: Settings) -> None:
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None)
        await pilot.press("8")
        screen = app.screen
        await wait_for(pilot, lambda: screen.results is not None)
        await settle(pilot)
        control = screen.results["conversion_rate"][0]
        baseline = round(control * 100, 1) / 100
        shown = str(screen.query_one("#plan-result").render())
        assert f"{sample_size(baseline, 0.02):,} per arm" in shown  # prefilled from the control's rate

        await pilot.press("p", *"8%", "enter", "backspace", "backspace", *"-2%", "enter")
        await settle(pilot)
        shown = str(screen.query_one("#plan-result").render())
        assert "2,554 per arm" in shown and "5,108 total" in shown
        await pilot.press("escape")
        assert not isinstance(screen.focused, type(screen.query_one("#plan-mde")))
        await pilot.press("p", *"x", "enter")
        await settle(pilot)
        assert "not a proportion" in str(screen.query_one("#plan-result").render())


def test_plan_parsing_and_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_proportion("28%", "b") == pytest.approx(0.28) and parse_proportion("0.28", "b") == 0.28
    with pytest.raises(ShopperError, match="not a proportion"):
        parse_proportion("lots", "Baseline")
    plan = parse_plan("0.08,-0.02")
    assert plan["n_per_arm"] == sample_size(0.08, -0.02) == 2554 and plan["n_total"] == 5108
    assert main(["experiments", "--plan", "8%,-2%", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_per_arm"] == 2554 and out["target"] == pytest.approx(0.06)
    assert main(["experiments", "--plan", "0.3,0.05", "--power", "0.9", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split(",")[-2:] == ["n_per_arm", "n_total"]
    assert int(lines[1].split(",")[-2]) == sample_size(0.3, 0.05, power=0.9)
    assert main(["experiments", "--plan", "0.08"]) == 2
