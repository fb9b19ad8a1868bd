"""Pilot tests of the Recommendations screen on the bundled sample: the ranking, its reasons
and shares (checked against ``recommend()`` on the same model), the live session, cold start,
the evaluation panel with editable weights and the A/B table, and keys during training."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from shopper_tui.analytics.rec_eval import evaluate
from shopper_tui.analytics.recommend import DEFAULT_WEIGHTS, recommend
from shopper_tui.analytics.recommenders import SIGNALS
from shopper_tui.screens.rec_eval_view import EvalPanel
from shopper_tui.screens.recommendations import RecommendationsScreen
from test_app import SIZE, import_sample, run_async, settle, wait_for
from textual.widgets import ContentSwitcher, Input, OptionList

from shopper_tui.app import make_app
from shopper_tui.config import Settings
from shopper_tui.widgets import FrameTable

SHARE_COLUMNS = ["collab %", "item-item %", "content %", "segment %", "session %"]


@pytest.fixture(scope="module")
def rec_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = tmp_path_factory.mktemp("rec-data")
    # one cache for the module: the model is fitted by the first test, loaded by the others
    return import_sample(data).with_(cache_dir=Path(data) / "cache")


def _screen(app) -> RecommendationsScreen:
    screen = app.screen
    assert isinstance(screen, RecommendationsScreen)
    return screen


async def _open_trained(pilot) -> RecommendationsScreen:  # noqa: ANN001
    """Show Recommendations and wait until its first recommendations are on screen."""
    await wait_for(pilot, lambda: pilot.app.workspace is not None)
    await pilot.press("4")
    screen = _screen(pilot.app)
    await wait_for(pilot, lambda: screen.recs is not None, timeout=90)
    return screen


def _check_against_engine(screen: RecommendationsScreen, **kwargs) -> pl.DataFrame:
    """The table shows exactly what recommend() returns on the same model; shares sum to 100."""
    expected = recommend(screen.model, screen.customer, n=10, weights=screen.weights, **kwargs).items
    shown = screen.query_one("#rec-table", FrameTable).frame
    assert shown.get_column("product_id").to_list() == expected.get_column("product_id").to_list()
    assert shown.get_column("score").to_list() == pytest.approx(expected.get_column("score").to_list(), abs=5e-4)
    assert shown.get_column("why").to_list() == expected.get_column("why").to_list()
    assert shown.select(pl.sum_horizontal(SHARE_COLUMNS)).to_series().to_list() == [100] * shown.height
    for s, col in zip(SIGNALS, SHARE_COLUMNS, strict=True):
        assert shown.get_column(col).to_list() == pytest.approx(
            (expected.get_column(f"share_{s}") * 100).to_list(), abs=1.0)
    return shown


@run_async
async def test_pick_customer_reasons_session_and_evaluation(rec_settings: Settings, monkeypatch) -> None:
    import threading

    from shopper_tui.analytics import recommend as rec_module

    # training is held until the keys have been checked: proof the UI answers while it runs
    release = threading.Event()
    real_fit = rec_module.fit_recommender

    def held_fit(*args, **kwargs):
        assert release.wait(60), "the test never released training"
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(rec_module, "fit_recommender", held_fit)
    app = make_app(rec_settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None)
        await pilot.press("4")
        screen = _screen(app)
        # training runs (nothing cached yet): the UI still answers keys
        await wait_for(pilot, lambda: app.job_status is not None)
        assert screen.model is None
        await pilot.press("e")
        assert screen.query_one("#rec-views", ContentSwitcher).current == "rec-eval"
        await pilot.press("e")
        assert screen.query_one("#rec-views", ContentSwitcher).current == "rec-main"
        assert screen.model is None and app.job_status is not None
        release.set()
        await wait_for(pilot, lambda: screen.recs is not None, timeout=90)
        await settle(pilot)

        # pick a customer by typing the id
        await pilot.press("i")
        assert isinstance(app.focused, Input) and app.focused.id == "customer-input"
        app.focused.value = ""
        await pilot.press(*"C000042", "enter")
        assert screen.customer == "C000042"
        assert not screen.recs.cold_start
        before = _check_against_engine(screen)
        reasons = str(screen.query_one("#rec-reasons").render())
        first = screen.recs.items.row(0, named=True)
        for reason in first["reasons"]:
            assert reason["text"] in reasons and f"{reason['percent']:>3} %" in reasons
        assert sum(r["percent"] for r in first["reasons"]) == 100

        # the cursor walks the ranking: the reasons follow it (↓ once raised AttributeError)
        screen._focus_table()
        await pilot.press("down", "down")
        await settle(pilot)
        third = screen.recs.items.row(2, named=True)
        reasons = str(screen.query_one("#rec-reasons").render())
        assert screen._highlight == 2 and third["name"] in reasons
        for reason in third["reasons"]:
            assert reason["text"] in reasons
        await pilot.press("up", "up")
        await settle(pilot)
        assert first["name"] in str(screen.query_one("#rec-reasons").render())

        # add a carted product from the picker: the ranking changes, moves are marked
        await pilot.press("p")
        assert app.focused.id == "picker-filter"
        await pilot.press(*"tent", "enter")
        picker = screen.query_one("#picker", OptionList)
        assert app.focused is picker and picker.option_count > 0
        pid = picker.get_option_at_index(picker.highlighted).id
        assert "tent" in screen.model.items.filter(pl.col("product_id") == pid).get_column("name")[0].lower()
        await pilot.press("c")
        assert screen.session == [(pid, "add_to_cart")]
        after = _check_against_engine(screen, session=[(pid, "add_to_cart")])
        assert after.get_column("product_id").to_list() != before.get_column("product_id").to_list() or \
            after.get_column("score").to_list() != before.get_column("score").to_list()
        assert after.get_column("move").str.contains("▲|▼|new").any()
        assert "session of 1 applied" in str(screen.query_one("#rec-note").render())
        await pilot.press("escape")
        await pilot.press("x")
        assert screen.session == []
        _check_against_engine(screen)

        # repeat purchases
        await pilot.press("r")
        assert screen.include_purchased
        _check_against_engine(screen, include_purchased=True)
        await pilot.press("r")

        # evaluation: computed in a worker, numbers = evaluate() on the same split
        await pilot.press("e")
        panel = screen.query_one(EvalPanel)
        await wait_for(pilot, lambda: panel.result is not None, timeout=90)
        await settle(pilot)
        shown = screen.query_one("#eval-table", FrameTable).frame
        assert shown.get_column("model").to_list()[0] == "popularity" and "hybrid" in shown.get_column("model").to_list()
        expected = evaluate(panel.result.setup, k=10, weights=DEFAULT_WEIGHTS)
        assert shown.get_column("precision").to_list() == pytest.approx(expected.get_column("precision").round(4).to_list())
        assert shown.get_column("ndcg").to_list() == pytest.approx(expected.get_column("ndcg").round(4).to_list())
        ab = screen.query_one("#ab-table", FrameTable).frame
        assert ab.get_column("metric").to_list() == ["precision", "recall", "ndcg", "map", "novelty", "coverage"]
        assert ab.get_column("verdict")[0] == "A higher, significant"  # hybrid beats popularity on the sample

        # edit a weight: re-evaluated in a worker, and the live ranking uses it too
        await pilot.press("w", "plus")
        assert screen.weights["item_item"] == pytest.approx(DEFAULT_WEIGHTS["item_item"] + 0.05)
        await wait_for(pilot, lambda: panel.result.weights["item_item"] == screen.weights["item_item"], timeout=30)
        await settle(pilot)
        hybrid = screen.query_one("#eval-table", FrameTable).frame.filter(pl.col("model") == "hybrid")
        again = evaluate(panel.result.setup, k=10, weights=screen.weights).filter(pl.col("model") == "hybrid")
        assert hybrid.get_column("ndcg")[0] == pytest.approx(round(again.get_column("ndcg")[0], 4))
        _check_against_engine(screen)

        # A/B arms
        await pilot.press("b")
        assert panel.arms == ("hybrid", "collaborative")
        await wait_for(pilot, lambda: panel.result.arms == ("hybrid", "collaborative"), timeout=30)
        await settle(pilot)
        assert screen.query_one("#ab-table", FrameTable).frame.height == 6


@run_async
async def test_cold_start_and_following_the_selected_customer(rec_settings: Settings) -> None:
    app = make_app(rec_settings)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_trained(pilot)
        await settle(pilot)

        await pilot.press("n")
        assert screen.customer is None and screen.recs.cold_start
        note = str(screen.query_one("#rec-note").render())
        assert "COLD START" in note and "no customer" in note
        assert set(screen.recs.signals) <= {"content", "segment", "session"}
        _check_against_engine(screen)

        await pilot.press("i")
        app.focused.value = ""
        await pilot.press(*"NOBODY", "enter")
        assert screen.recs.cold_start and "'NOBODY' has no history" in str(screen.query_one("#rec-note").render())

        app.selected_customer = "C000123"
        await pilot.pause()
        assert screen.customer == "C000123"
        assert screen.query_one("#customer-input", Input).value == "C000123"
        assert not screen.recs.cold_start
        _check_against_engine(screen)


def test_reasons_and_picker_text_are_literal() -> None:
    from shopper_tui.screens.recommendations import reasons_text
    from test_app import MARKUP_NAME

    item = {"rank": 1, "product_id": "P1", "name": MARKUP_NAME, "category": "[b]Cat[/b]", "price": 9.5, "score": 1.0,
            "reasons": [{"signal": "content", "share": 0.75, "percent": 75, "text": f"similar to {MARKUP_NAME}"},
                        {"signal": "segment", "share": 0.25, "percent": 25, "text": "popular with all shoppers"}]}
    text = reasons_text(item, cold_start=False).plain
    assert MARKUP_NAME in text and f"similar to {MARKUP_NAME}" in text and "[b]Cat[/b]" in text
    assert "█" * 15 + "░" * 5 in text and " 75 %" in text and " 25 %" in text


@run_async
async def test_new_rows_keep_the_model_until_retrain(rec_settings: Settings) -> None:
    app = make_app(rec_settings)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_trained(pilot)
        model = screen.model
        app.data_version += 1  # what watch mode does when rows arrive
        await pilot.pause()
        assert screen.model is model  # no refit on every poll
        assert "new rows since training" in str(screen.query_one("#rec-model-state").render())
        screen.action_retrain()
        assert screen.model is None
        await wait_for(pilot, lambda: screen.model is not None, timeout=90)
        assert screen.model is not model
