"""Experiments: a hand-worked A/B table, scipy's chi-square, a textbook sample size and the
generator's planted checkout → purchase effect."""

from __future__ import annotations

import math
from datetime import timedelta

import polars as pl
import pytest
from test_funnels import events, make_workspace

from shopper_tui.analytics.errors import ShopperError
from shopper_tui.analytics.experiments import experiments, pick_control, sample_size

M = timedelta(minutes=1)
Z = 1.959963984540054


def _sessions() -> list[tuple]:
    rows: list[tuple] = []

    def s(sid: str, variant: str, *types: str) -> None:
        rows.extend((sid, None, i * M, t, "mobile", "e1", variant) for i, t in enumerate(("view", *types)))

    # A (control by name): 10 sessions, 3 purchases; A3 buys before it checks out.
    s("A1", "A", "checkout", "purchase"), s("A2", "A", "checkout", "purchase"), s("A3", "A", "purchase", "checkout")
    s("A4", "A", "checkout"), s("A5", "A", "checkout")
    for i in range(6, 11):
        s(f"A{i}", "A")
    # B: 10 sessions, 6 purchases, 4 of them after a checkout; B7 checks out only.
    for i in range(1, 5):
        s(f"B{i}", "B", "checkout", "purchase")
    s("B5", "B", "purchase"), s("B6", "B", "purchase"), s("B7", "B", "checkout")
    for i in range(8, 11):
        s(f"B{i}", "B")
    s("X1", "A"), s("X1", "B", "purchase")  # seen in both arms: left out
    return rows


@pytest.fixture(scope="module")
def ab_ws(tmp_path_factory: pytest.TempPathFactory):
    ws = make_workspace(tmp_path_factory.mktemp("ab") / "ab.duckdb", {"events": events(_sessions())})
    yield ws
    ws.close()


def test_ab_table_by_hand(ab_ws) -> None:
    from scipy.stats import chi2_contingency

    table = experiments(ab_ws)
    assert table["variant"].to_list() == ["A", "B"] and table["is_control"].to_list() == [True, False]
    assert table["users"].to_list() == [10, 10] and table["conversions"].to_list() == [3, 6]
    assert table["excluded"].to_list() == [1, 1]
    b = table.row(1, named=True)
    se = math.sqrt(0.3 * 0.7 / 10 + 0.6 * 0.4 / 10)
    assert b["abs_lift"] == pytest.approx(0.3)
    assert b["rel_lift"] == pytest.approx(1.0)
    assert (b["abs_lift_ci_low"], b["abs_lift_ci_high"]) == pytest.approx((0.3 - Z * se, 0.3 + Z * se))
    se_log = math.sqrt(0.7 / 3 + 0.4 / 6)  # Katz log risk-ratio interval
    assert b["rel_lift_ci_low"] == pytest.approx(2 * math.exp(-Z * se_log) - 1)
    chi2, p, _, _ = chi2_contingency([[3, 7], [6, 4]], correction=False)
    assert b["p_value"] == pytest.approx(p, rel=1e-9)
    z = 0.3 / math.sqrt(0.45 * 0.55 * (1 / 10 + 1 / 10))  # pooled two-proportion z
    assert chi2 == pytest.approx(z**2)
    assert b["power"] < 0.8 and "underpowered" in b["warning"]
    assert "too few" in b["warning"]  # only 4 non-conversions in B
    assert table.row(0, named=True)["abs_lift"] is None


def test_from_step_restricts_to_units_at_risk(ab_ws) -> None:
    table = experiments(ab_ws, from_step="checkout")
    # A: A1-A5 reached checkout, A1 and A2 bought after it (A3 bought before); B: B1-B4 and B7.
    assert table["users"].to_list() == [5, 5]
    assert table["conversions"].to_list() == [2, 4]
    with pytest.raises(ShopperError):
        experiments(ab_ws, goal="wishlist")
    with pytest.raises(ShopperError):
        experiments(ab_ws, goal="purchase", from_step="purchase")


def test_pick_control() -> None:
    assert pick_control(["B", "A"]) == "A"
    assert pick_control(["treatment", "Control"]) == "Control"
    assert pick_control(["new", "baseline", "a"]) == "baseline"
    assert pick_control(["v2", "v1"]) == "v1"


def test_sample_size_textbook_values() -> None:
    # JMP documentation, two-sample proportions: 0.08 vs 0.06, two-sided α 0.05, power 0.8 → 2554 per group
    assert sample_size(0.08, -0.02) == 2554
    # Fleiss formula by hand: 0.10 → 0.12 gives (1.95996·√(2·0.11·0.89) + 0.84162·√(0.09 + 0.1056))² / 0.02² = 3840.8
    assert sample_size(0.10, 0.02) == 3841
    assert sample_size(0.10, 0.02, power=0.9) > 3841
    for bad in ((0.0, 0.1), (0.95, 0.1), (0.1, 0.0)):
        with pytest.raises(ShopperError):
            sample_size(*bad)


def test_planted_effect_inside_confidence_interval(tmp_path) -> None:
    from scipy.stats import chi2_contingency

    from shopper_tui.sample_data.generator import EXPERIMENT, generate

    sample = generate(customers=1500, seed=5)
    ws = make_workspace(tmp_path / "gen.duckdb", sample.tables, sample.truth)
    try:
        table = experiments(ws, from_step="checkout")  # the planted metric: checkout → purchase of sessions
    finally:
        ws.close()
    truth = sample.truth["truth_experiment"]
    effect = truth.filter(pl.col("variant") == "treatment")["true_effect_abs"][0]
    row = table.filter(pl.col("variant") == "treatment").row(0, named=True)
    control = table.filter(pl.col("is_control")).row(0, named=True)
    assert row["experiment"] == EXPERIMENT and control["variant"] == "control"
    assert row["abs_lift_ci_low"] <= effect <= row["abs_lift_ci_high"], (row, effect)
    assert row["abs_lift_ci_low"] > 0 and row["p_value"] < 0.05  # the effect is detected
    counts = [[control["conversions"], control["users"] - control["conversions"]],
              [row["conversions"], row["users"] - row["conversions"]]]
    _, p, _, _ = chi2_contingency(counts, correction=False)
    assert row["p_value"] == pytest.approx(p, rel=1e-6)
    for variant, expected in zip(truth["variant"], truth["true_checkout_conversion"]):
        got = table.filter(pl.col("variant") == variant)["conversion_rate"][0]
        n = table.filter(pl.col("variant") == variant)["users"][0]
        assert abs(got - expected) < 3 * math.sqrt(expected * (1 - expected) / n)


def test_experiments_command(ab_ws, monkeypatch, capsys) -> None:
    import json

    from test_funnels import run_command

    rows = json.loads(run_command(["experiments", "--from-step", "checkout", "--format", "json"], ab_ws.path,
                                  monkeypatch, capsys))
    assert [(r["variant"], r["users"], r["conversions"]) for r in rows] == [("A", 5, 2), ("B", 5, 4)]
    assert "underpowered" in run_command(["experiments"], ab_ws.path, monkeypatch, capsys)
