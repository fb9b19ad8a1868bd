"""Pilot tests of the Reviews screen: numbers checked against the engine on the same workspace."""

from __future__ import annotations


import polars as pl
import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from shopper_tui.analytics.reviews import (
    aspect_table,
    filter_scores,
    review_detail,
    score_reviews,
    sentiment_mix,
    summaries,
)
from shopper_tui.analytics.workspace import import_source, open_workspace
from shopper_tui.app import make_app
from shopper_tui.config import Settings
from shopper_tui.models import artifact_cache
from shopper_tui.screens.review_detail import ReviewDetailScreen, ReviewFilter
from shopper_tui.screens.reviews import ReviewsScreen
from shopper_tui.widgets import FrameTable

from test_app import SIZE, import_sample, run_async, settle, wait_for

MARKUP_REVIEW = "[bold]Great[/bold] price, worth it. [@click=app.quit]quit[/] The shipping was slow."


@pytest.fixture(scope="module")
def sample_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    base = tmp_path_factory.mktemp("reviews-ui")
    return import_sample(base / "data").with_(cache_dir=base / "cache")


@pytest.fixture(scope="module")
def engine(sample_settings: Settings):  # noqa: ANN201
    """The engine's scores on the same workspace (this also warms the app's cache)."""
    result = import_source("sample", data_dir=sample_settings.data_dir)
    ws = open_workspace(result.path)
    rs = score_reviews(ws, cache=artifact_cache(ws, sample_settings))
    ws.close()
    return rs


async def open_reviews(pilot: Pilot) -> ReviewsScreen:
    await wait_for(pilot, lambda: pilot.app.workspace is not None)
    await pilot.press("5")
    screen = pilot.app.screen
    assert isinstance(screen, ReviewsScreen)
    await wait_for(pilot, lambda: screen.views is not None, timeout=60)
    await settle(pilot)
    return screen


def _static_text(screen, selector: str):  # noqa: ANN001, ANN202
    return screen.query_one(selector, Static).render()


@run_async
async def test_reviews_screen_granularity_aspect_filter_and_one_review(sample_settings: Settings, engine) -> None:
    app = make_app(sample_settings)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_reviews(pilot)
        mix = sentiment_mix(engine)
        # model in use and why, and the overall mix, as the engine says
        model_line = str(_static_text(screen, "#reviews-model"))
        assert engine.choice.model in model_line and engine.choice.reason in model_line.replace("\n", " ")
        mix_line = str(_static_text(screen, "#reviews-mix"))
        assert f"{mix.reviews:,} reviews" in mix_line
        assert f"{mix.average_rating:.2f}★ avg" in mix_line
        assert f"{mix.share_positive:.0%} pos" in mix_line and f"{mix.share_negative:.0%} neg" in mix_line
        shown = screen.query_one("#aspect-table", FrameTable).frame
        expected = aspect_table(engine)
        assert shown["aspect"].to_list() == expected["aspect"].to_list()
        assert shown["mentions"].to_list() == expected["mentions"].to_list()
        assert shown["negative_example"].to_list() == expected["negative_example"].to_list()
        assert screen.query_one("#topic-table", FrameTable).frame.height >= 2

        # switch granularity: product → category
        products = screen.query_one("#summary-table", FrameTable).frame
        assert products["group"].to_list() == summaries(engine, by="product")["group"].to_list()
        await pilot.press("g")
        await settle(pilot)
        assert screen.by == "category"
        by_category = summaries(engine, by="category")
        shown = screen.query_one("#summary-table", FrameTable).frame
        assert shown["group"].to_list() == by_category["group"].to_list()
        assert shown["summary"].to_list() == by_category["summary"].to_list()

        # filter by aspect (first configured aspect)
        await pilot.press("a")
        await wait_for(pilot, lambda: screen.views is not None and screen.views.filtered.scores.height < mix.reviews)
        await settle(pilot)
        aspect = engine.aspects[0]
        assert screen.filter == ReviewFilter(aspect=aspect)
        only = filter_scores(engine, aspect=aspect)
        assert screen.query_one("#reviews-table", FrameTable).frame.height == only.scores.height
        assert f"{only.scores.height:,} reviews" in str(_static_text(screen, "#reviews-mix"))
        assert f"mentions {aspect}" in str(_static_text(screen, "#reviews-filters"))

        # open one review: enter on the first row of the review list
        await pilot.press("right_square_bracket", "right_square_bracket", "right_square_bracket",
                          "right_square_bracket")
        table = screen.query_one("#reviews-table", FrameTable)
        assert table.data_table is not None
        table.data_table.focus()
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewDetailScreen))
        detail_screen = app.screen
        first_id = table.view["review_id"][0]
        detail = review_detail(engine, first_id)
        assert detail_screen.detail.review_id == first_id and detail.mentions
        body = detail_screen.query_one("#review-text", Static).render()
        assert body.plain == detail.document
        colour = {"positive": "green", "neutral": "yellow", "negative": "red"}
        spans = sorted((s.start, s.end, next(k for k, c in colour.items() if c in str(s.style)))
                       for s in body.spans)
        assert spans == sorted((m["start"], m["end"], m["sentiment"]) for m in detail.mentions)
        assert all("underline" in str(s.style) for s in body.spans)
        assert any(m["aspect"] == aspect for m in detail.mentions)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen


@pytest.fixture(scope="module")
def reviews_only(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A review export with no orders or events: products and reviews only."""
    base = tmp_path_factory.mktemp("reviews-only")
    src = base / "src"
    src.mkdir()
    pl.DataFrame({"product_id": ["P1", "P2"], "name": ["Kettle [red]x[/red]", "Mug"],
                  "category": ["Kitchen", "Kitchen"]}).write_csv(src / "products.csv")
    texts = [MARKUP_REVIEW] + [
        ("Lovely kettle, great quality and fast shipping." if i % 2 else
         "Poor quality, it broke and the price is too high.") + f" Note {i}." for i in range(1, 40)]
    pl.DataFrame({"review_id": [f"R{i:03d}" for i in range(40)], "product_id": ["P1", "P2"] * 20,
                  "rating": [5 if i % 2 else 1 for i in range(40)], "text": texts,
                  "ts": [f"2025-0{1 + i % 6}-1{i % 9} 10:00:00" for i in range(40)]}).write_csv(src / "reviews.csv")
    return Settings.from_env(source=str(src), data_dir=base / "data", cache_dir=base / "cache")


@run_async
async def test_reviews_only_data_and_markup_shown_literally(reviews_only: Settings) -> None:
    app = make_app(reviews_only)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_reviews(pilot)
        assert screen.rs is not None and screen.rs.choice.model == "vader"  # too few ratings to learn
        assert "VADER" in str(_static_text(screen, "#reviews-model"))
        assert screen.views.mix.reviews == 40
        assert "segmentation" in str(_static_text(screen, "#segments-note"))
        screen.open_review("R000")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewDetailScreen))
        await pilot.pause()
        body = app.screen.query_one("#review-text", Static).render()
        assert "[bold]Great[/bold]" in body.plain and "[@click=app.quit]quit[/]" in body.plain
        detail = review_detail(screen.rs, "R000")
        assert sorted((s.start, s.end) for s in body.spans) == sorted((m["start"], m["end"]) for m in detail.mentions)
        assert {m["aspect"] for m in detail.mentions} >= {"price", "shipping"}
        who = str(app.screen.query_one("#review-who", Static).render())
        assert "Kettle [red]x[/red]" in who
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running


@run_async
async def test_model_key_rescores_and_says_why(sample_settings: Settings, engine) -> None:
    app = make_app(sample_settings)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_reviews(pilot)
        assert screen.model == "auto"
        await pilot.press("m")  # auto → vader
        await wait_for(pilot, lambda: screen.rs is not None and screen.rs.choice.model == "vader", timeout=60)
        await settle(pilot)
        assert "VADER lexicon, as chosen" in str(_static_text(screen, "#reviews-model"))
        assert screen.views is not None and screen.views.mix.model == "vader"


@run_async
async def test_sentiment_chart_without_colour_uses_shades(sample_settings: Settings, monkeypatch) -> None:  # noqa: ANN001
    """Under NO_COLOR the stacked bars tell negative, neutral and positive apart by shade
    (█ ▒ ░), each share to the nearest whole row, and the legend shows the same shades."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(sample_settings)
    assert app.no_color
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_reviews(pilot)
        from shopper_tui.screens.reviews import SentimentChart

        chart = screen.query_one(SentimentChart)
        await wait_for(pilot, lambda: chart.trend is not None and chart.trend.height > 0, timeout=60)
        await settle(pilot)
        lines = chart.render().plain.splitlines()
        rows = chart.size.height - 3
        plot = [line[6:] for line in lines[:rows]]
        assert set("".join(plot)) <= set("░▒█ ") and {"░", "█"} <= set("".join(plot))
        last = [row.rstrip()[-1] for row in plot]  # the latest period's bar, top to bottom
        share = chart.trend.row(chart.trend.height - 1, named=True)
        assert abs(last.count("█") - share["share_negative"] * rows) <= 0.5
        assert abs(last.count("▒") - share["share_neutral"] * rows) <= 1  # two roundings meet here
        assert abs(last.count("░") - share["share_positive"] * rows) <= 0.5
        assert last == sorted(last, key="░▒█".index)  # positive on top, negative at the bottom
        title = str(screen.query_one("#trend-title").render())
        assert "░pos" in title and "▒neu" in title and "█neg" in title
