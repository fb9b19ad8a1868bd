"""Funnels: hand-worked event tables with counts written by hand, a brute-force reference
on generated data, and the planted device drop-off recovered."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from shopper_tui.analytics.errors import ShopperError
from shopper_tui.analytics.funnels import MODES, dropped_examples, funnel, parse_window
from shopper_tui.analytics.purchases import create_views
from shopper_tui.analytics.schema import TABLES, empty_frame
from shopper_tui.analytics.workspace import Workspace, open_workspace

T0 = datetime(2025, 1, 1, 10, 0, 0)
M, H, D = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)


def make_workspace(path: Path, tables: dict[str, pl.DataFrame], extras: dict[str, pl.DataFrame] | None = None) -> Workspace:
    """A complete workspace file written straight from canonical frames (missing tables empty)."""
    con = duckdb.connect(str(path))
    try:
        for name, spec in TABLES.items():
            frame = tables.get(name)
            frame = empty_frame(name) if frame is None else frame.select(
                (pl.col(c) if c in frame.columns else pl.lit("product" if c == "kind" else None)).cast(t).alias(c)
                for c, t in spec.schema.items())
            for table, data in [(name, frame)]:
                con.register("_f", data.to_arrow())
                con.execute(f'CREATE TABLE "{table}" AS SELECT * FROM _f')
                con.unregister("_f")
        for name, frame in (extras or {}).items():
            con.register("_f", frame.to_arrow())
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM _f')
            con.unregister("_f")
        con.execute("CREATE TABLE _rejects (\"table\" VARCHAR, line BIGINT, reason VARCHAR)")
        con.execute("CREATE TABLE _meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        con.execute("INSERT INTO _meta VALUES ('complete', '1'), ('cache_version', '1'), ('source', 'test')")
        create_views(con)
    finally:
        con.close()
    return open_workspace(path)


def events(rows: list[tuple]) -> pl.DataFrame:
    """(session, customer, offset from T0, event_type, device[, experiment, variant]) → events frame."""
    cols = ["session_id", "customer_id", "ts", "event_type", "device", "experiment", "variant"]
    full = [(r[0], r[1], T0 + r[2], r[3], r[4], *(r[5:] if len(r) > 5 else (None, None))) for r in rows]
    return pl.DataFrame(full, schema=cols, orient="row")


# Hand-worked sessions (offsets from T0). Expected depths are written next to each session:
# ordered / strict / any, with the default 1-day session window.
HAND = [
    # S1 repeated steps: view view add add checkout purchase                      4 / 4 / 4
    ("S1", "C1", 0 * M, "view", "mobile", "exp1", "control"), ("S1", "C1", 1 * M, "view", "mobile", "exp1", "control"),
    ("S1", "C1", 2 * M, "add_to_cart", "mobile", "exp1", "control"),
    ("S1", "C1", 3 * M, "add_to_cart", "mobile", "exp1", "control"),
    ("S1", "C1", 4 * M, "checkout", "mobile", "exp1", "control"),
    ("S1", "C1", 5 * M, "purchase", "mobile", "exp1", "control"),
    # S2 out of order: add before view, then checkout, purchase                   1 / 1 / 4
    ("S2", "C2", 0 * M, "add_to_cart", "desktop", "exp1", "control"), ("S2", "C2", 1 * M, "view", "desktop", "exp1", "control"),
    ("S2", "C2", 2 * M, "checkout", "desktop", "exp1", "control"), ("S2", "C2", 3 * M, "purchase", "desktop", "exp1", "control"),
    # S3 same timestamp: add logged before view at the same second, then checkout  3 / 3 / 3
    ("S3", "C3", 0 * M, "add_to_cart", "mobile", "exp1", "treat"), ("S3", "C3", 0 * M, "view", "mobile", "exp1", "treat"),
    ("S3", "C3", 1 * M, "checkout", "mobile", "exp1", "treat"),
    # S4 crosses the window: the cart comes 25 h after the only view              1 / 1 / 1
    ("S4", "C4", 0 * M, "view", "desktop"), ("S4", "C4", 25 * H, "add_to_cart", "desktop"),
    ("S4", "C4", 25 * H + M, "checkout", "desktop"),
    # S5 a later view rescues the window (best attempt starts at 23 h)             3 / 3 / 3
    ("S5", "C5", 0 * M, "view", "mobile"), ("S5", "C5", 23 * H, "view", "mobile"),
    ("S5", "C5", 25 * H, "add_to_cart", "mobile"), ("S5", "C5", 25 * H + M, "checkout", "mobile"),
    # S6 another event type between view and cart                                  3 / 1 / 3
    ("S6", "C6", 0 * M, "view", "tablet"), ("S6", "C6", 1 * M, "search", "tablet"),
    ("S6", "C6", 2 * M, "add_to_cart", "tablet"), ("S6", "C6", 3 * M, "checkout", "tablet"),
    # S7 anonymous, logs in at checkout                                             4 / 4 / 4
    ("S7", None, 0 * M, "view", "mobile", "exp1", "treat"), ("S7", None, 1 * M, "add_to_cart", "mobile", "exp1", "treat"),
    ("S7", "C7", 2 * M, "checkout", "mobile", "exp1", "treat"), ("S7", "C7", 3 * M, "purchase", "mobile", "exp1", "treat"),
    # S8 anonymous throughout                                                       2 / 2 / 2
    ("S8", None, 0 * M, "view", "desktop"), ("S8", None, 1 * M, "add_to_cart", "desktop"),
    # S9a / S9b one customer, two sessions 3 days apart                           S9a 1 / 1 / 1, S9b not in
    ("S9a", "C9", 0 * M, "view", "mobile"),
    ("S9b", "C9", 3 * D, "add_to_cart", "mobile"), ("S9b", "C9", 3 * D + M, "checkout", "mobile"),
    # S10 a step-1 event interrupts: view add view checkout                       3 / 2 / 3
    ("S10", "C10", 0 * M, "view", "desktop"), ("S10", "C10", 1 * M, "add_to_cart", "desktop"),
    ("S10", "C10", 2 * M, "view", "desktop"), ("S10", "C10", 3 * M, "checkout", "desktop"),
]


@pytest.fixture(scope="module")
def hand_ws(tmp_path_factory: pytest.TempPathFactory):
    ws = make_workspace(tmp_path_factory.mktemp("hand") / "hand.duckdb", {"events": events(HAND)})
    yield ws
    ws.close()


def counts(result, group: str = "all") -> list[int]:
    return result.steps.filter(pl.col("group") == group)["count"].to_list()


@pytest.mark.parametrize(("mode", "expected"), [
    ("ordered", [10, 7, 6, 2]),  # ≥2: S1 S3 S5 S6 S7 S8 S10; ≥3: minus S8; ≥4: S1 S7
    ("strict", [10, 6, 4, 2]),   # S6 and S10 break; ≥3: S1 S3 S5 S7
    ("any", [10, 8, 7, 3]),      # S2 counts fully in any order
])
def test_session_funnel_by_hand(hand_ws, mode: str, expected: list[int]) -> None:
    result = funnel(hand_ws, mode=mode)
    assert counts(result) == expected
    steps = result.steps
    assert steps["step"].to_list() == ["view", "add_to_cart", "checkout", "purchase"]
    assert steps["conversion_from_first"].to_list() == pytest.approx([c / expected[0] for c in expected])
    prev = [1.0] + [b / a for a, b in zip(expected, expected[1:])]
    assert steps["conversion_from_previous"].to_list() == pytest.approx(prev)
    assert steps["drop_off"].to_list() == [a - b for a, b in zip(expected, expected[1:])] + [None]


def test_time_to_next_step_by_hand(hand_ws) -> None:
    # view → cart in the reported attempts: S1 60 s (from the second view), S3 0 s, S5 2 h
    # (from the 23 h view), S6 120 s, S7 60 s, S8 60 s, S10 60 s.
    row = funnel(hand_ws).steps.row(0, named=True)
    assert row["median_seconds_to_next"] == 60.0
    assert row["p90_seconds_to_next"] == pytest.approx(120 + 0.4 * (7200 - 120))  # linear interpolation
    # cart → checkout: S1 120, S3 60, S5 60, S6 60, S7 60, S10 120 (S10: cart@1 → checkout@3)
    row = funnel(hand_ws).steps.row(1, named=True)
    assert row["median_seconds_to_next"] == 60.0
    strict = funnel(hand_ws, mode="strict").steps.row(0, named=True)  # S1: last view of the streak → first cart
    assert strict["median_seconds_to_next"] == 60.0


def test_customer_funnel_stitches_anonymous_sessions(hand_ws) -> None:
    # Customers: C1 4, C2 1, C3 3, C4 3 (14-day window), C5 3, C6 3, C7 4 (its anonymous view and
    # cart belong to it), C9 3 (view and cart in two sessions), C10 3. S8 stays anonymous.
    result = funnel(hand_ws, unit="customer")
    assert counts(result) == [9, 8, 8, 2]
    assert result.excluded_anonymous_sessions == 1
    assert result.window == timedelta(days=14)
    # with a one-day window C4 (25 h) and C9 (3 days) stop at the view
    assert counts(funnel(hand_ws, unit="customer", window=timedelta(days=1))) == [9, 6, 6, 2]
    assert counts(funnel(hand_ws, unit="customer", mode="strict")) == [9, 7, 6, 2]  # C6 breaks, C10 stops at 2
    assert counts(funnel(hand_ws, unit="customer", mode="any")) == [9, 9, 9, 3]  # C2 counts in any order


def test_breakdowns_by_hand(hand_ws) -> None:
    by_device = funnel(hand_ws, by="device")
    assert by_device.groups == ("desktop", "mobile", "tablet")
    assert counts(by_device, "mobile") == [5, 4, 4, 2]   # S1 S3 S5 S7 S9a
    assert counts(by_device, "desktop") == [4, 2, 1, 0]  # S2 S4 S8 S10
    assert counts(by_device, "tablet") == [1, 1, 1, 0]   # S6
    by_variant = funnel(hand_ws, by="variant")
    assert by_variant.groups == ("control", "treat")
    assert counts(by_variant, "control") == [2, 1, 1, 1]
    assert counts(by_variant, "treat") == [2, 2, 2, 1]
    labels = pl.DataFrame({"customer_id": ["C1", "C3", "C7"], "segment_id": [1, 1, 2], "segment": ["Alpha", "Alpha", "Beta"]})
    by_segment = funnel(hand_ws, by="segment", labels=labels)
    assert by_segment.groups == ("Alpha", "Beta", "(unlabelled)", "(anonymous)")
    assert counts(by_segment, "Alpha") == [2, 2, 2, 1]
    assert counts(by_segment, "Beta") == [1, 1, 1, 1]  # S7 logs in as C7
    assert counts(by_segment, "(unlabelled)") == [6, 3, 3, 0]
    assert counts(by_segment, "(anonymous)") == [1, 1, 0, 0]
    assert by_segment.to_json()[0] == {"group": "Alpha", "steps": by_segment.steps.filter(pl.col("group") == "Alpha")
                                       .select("step", "count", "conversion_from_previous", "conversion_from_first")
                                       .to_dicts()}


def test_funnel_json_and_custom_steps(hand_ws) -> None:
    result = funnel(hand_ws, steps=("view", "add_to_cart", "purchase"))
    assert result.to_json() == [
        {"step": "view", "count": 10, "conversion_from_previous": 1.0, "conversion_from_first": 1.0},
        {"step": "add_to_cart", "count": 7, "conversion_from_previous": 0.7, "conversion_from_first": 0.7},
        {"step": "purchase", "count": 2, "conversion_from_previous": 2 / 7, "conversion_from_first": 0.2},
    ]


def test_dropped_examples_by_hand(hand_ws) -> None:
    dropped = dropped_examples(hand_ws, at_step=1)
    assert sorted(dropped["session_id"].to_list()) == ["S2", "S4", "S9a"]
    assert dropped.columns[:3] == ["session_id", "customer_id", "group"]
    s4 = dropped.filter(pl.col("session_id") == "S4").row(0, named=True)
    assert (s4["events"], s4["last_event"], s4["reached_at"]) == (3, "checkout", T0)
    at3 = dropped_examples(hand_ws, at_step=3, by="device", group="mobile")
    assert sorted(at3["session_id"].to_list()) == ["S3", "S5"]  # reached checkout, no purchase
    s7 = dropped_examples(hand_ws, at_step=2, mode="strict")  # S8 and S10 reached the cart only
    assert sorted(s7["session_id"].to_list()) == ["S10", "S8"]
    assert dropped_examples(hand_ws, at_step=1, limit=1).height == 1
    customers = dropped_examples(hand_ws, at_step=1, unit="customer")
    assert customers["customer_id"].to_list() == ["C2"]


def test_bad_arguments_are_shopper_errors(hand_ws, tmp_path: Path) -> None:
    for kwargs in ({"steps": ("view",)}, {"steps": ("view", "view")}, {"steps": ("view", "wishlist")},
                   {"mode": "sideways"}, {"by": "segment"}, {"window": timedelta(0)}, {"unit": "household"}):
        with pytest.raises(ShopperError):
            funnel(hand_ws, **kwargs)
    with pytest.raises(ShopperError):
        dropped_examples(hand_ws, at_step=4)
    empty = make_workspace(tmp_path / "empty.duckdb", {})
    with pytest.raises(ShopperError, match="no events"):
        funnel(empty)
    empty.close()
    assert parse_window("90m") == timedelta(minutes=90) and parse_window("2") == timedelta(days=2)
    with pytest.raises(ShopperError):
        parse_window("soon")


# -- generated data -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def gen(tmp_path_factory: pytest.TempPathFactory):
    from shopper_tui.sample_data.generator import generate

    sample = generate(customers=1500, seed=5)
    ws = make_workspace(tmp_path_factory.mktemp("gen") / "gen.duckdb", sample.tables, sample.truth)
    yield ws, sample
    ws.close()


def _reference_depths(ev: pl.DataFrame, steps: tuple[str, ...], window: timedelta, mode: str) -> dict[str, int]:
    """Brute force, one unit at a time: try every step-1 event as a start (definitions of
    analytics.funnels), independent of the SQL."""
    pos = {s: i for i, s in enumerate(steps)}
    ev = ev.with_columns(pl.col("event_type").replace_strict(pos, default=len(steps)).alias("pos")).sort("unit", "ts", "pos")
    out: dict[str, int] = {}
    for unit, ts, ps in ev.group_by("unit", maintain_order=True).agg("ts", "pos").iter_rows():
        if 0 not in ps:
            continue
        best = 1
        if mode == "any":
            for end in range(len(ts)):
                done = {p for t, p in zip(ts[: end + 1], ps[: end + 1]) if ts[end] - t <= window}
                k = 0
                while k < len(steps) and k in done:
                    k += 1
                best = max(best, k)
        elif mode == "ordered":
            for i, p in enumerate(ps):
                if p != 0:
                    continue
                k = 1
                for j in range(i + 1, len(ps)):
                    if k < len(steps) and ps[j] == k and ts[j] - ts[i] <= window:
                        k += 1
                best = max(best, k)
        else:  # strict: collapse streaks, steps must be adjacent streaks
            runs: list[tuple[int, datetime, datetime]] = []
            for t, p in zip(ts, ps):
                if runs and runs[-1][0] == p:
                    runs[-1] = (p, runs[-1][1], t)
                else:
                    runs.append((p, t, t))
            for i, (p, _, last) in enumerate(runs):
                if p != 0:
                    continue
                k = 1
                while i + k < len(runs) and k < len(steps) and runs[i + k][0] == k and runs[i + k][1] - last <= window:
                    k += 1
                best = max(best, k)
        out[unit] = best
    return out


def _reference_counts(depths: dict[str, int], n: int) -> list[int]:
    hist: dict[int, int] = defaultdict(int)
    for d in depths.values():
        hist[d] += 1
    return [sum(v for d, v in hist.items() if d >= k) for k in range(1, n + 1)]


@pytest.mark.parametrize(("unit", "mode"), [("session", "ordered"), ("session", "strict"), ("session", "any"),
                                            ("customer", "ordered")])
def test_sql_funnel_equals_reference_on_generated_data(gen, unit: str, mode: str) -> None:
    ws, sample = gen
    steps = ("view", "add_to_cart", "checkout", "purchase")
    ev = sample.tables["events"]
    if unit == "session":
        ev = ev.with_columns(unit=pl.col("session_id"))
    else:  # generated sessions are wholly known or wholly anonymous
        ev = ev.filter(pl.col("customer_id").is_not_null()).with_columns(unit=pl.col("customer_id"))
    window = timedelta(days=1) if unit == "session" else timedelta(days=14)
    if unit == "customer":  # keep the brute force small: a third of the customers
        ev = ev.filter(pl.col("unit").str.slice(-1).is_in(["1", "4", "7"]))
    expected = _reference_counts(_reference_depths(ev.select("unit", "ts", "event_type"), steps, window, mode), 4)
    if unit == "customer":
        labels = pl.DataFrame({"customer_id": ev["unit"].unique()}).with_columns(segment_id=pl.lit(1))
        got = counts(funnel(ws, unit="customer", mode=mode, by="segment", labels=labels), "1")
    else:
        got = counts(funnel(ws, unit=unit, mode=mode))
    assert got == expected
    assert expected[3] > 0


def test_planted_device_drop_off_is_recovered(gen) -> None:
    from shopper_tui.sample_data.generator import EXPERIMENT_UPLIFT, LATENT_TYPES

    ws, sample = gen
    # Planted: device mix × per-type funnel rates; mobile-heavy types convert least.
    planted = {}
    for d, device in enumerate(("mobile", "desktop")):
        weights = [lt.share * lt.device_mix[d] for lt in LATENT_TYPES]
        rates = [lt.view_to_cart * lt.cart_to_checkout * lt.checkout_to_purchase for lt in LATENT_TYPES]
        planted[device] = sum(w * r for w, r in zip(weights, rates)) / sum(weights)
    assert planted["mobile"] < planted["desktop"]
    end_to_end = funnel(ws, by="device").steps.filter(pl.col("step") == "purchase")
    measured = dict(zip(end_to_end["group"], end_to_end["conversion_from_first"]))
    assert measured["mobile"] < measured["desktop"] - 0.02

    # checkout → purchase per device equals the planted rate of the sessions behind it: each
    # purchase session with rate p brings (1 − p)/p abandoned checkouts, so E = n / Σ 1/p.
    rate = {lt.name: lt.checkout_to_purchase for lt in LATENT_TYPES}
    purchases = (sample.tables["events"].filter(pl.col("event_type") == "purchase")
                 .unique("session_id").join(sample.truth["truth_customers"], on="customer_id")
                 .with_columns(p=pl.col("latent_type").replace_strict(rate)
                               + EXPERIMENT_UPLIFT * (pl.col("variant") == "treatment").cast(pl.Float64)))
    expected = purchases.group_by("device").agg(e=pl.len() / (1 / pl.col("p")).sum())
    steps = funnel(ws, steps=("checkout", "purchase"), by="device").steps.filter(pl.col("step_index") == 1)
    got = steps.join(expected, left_on="group", right_on="device").with_columns(
        conv=1 - pl.col("drop_off_rate"), se=((pl.col("e") * (1 - pl.col("e"))) / pl.col("count")).sqrt())
    assert got.height == 3
    assert ((got["conv"] - got["e"]).abs() < 3 * got["se"]).all(), got


# -- headless command ---------------------------------------------------------------------


def run_command(argv: list[str], path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> str:
    """Run one of `funnel` / `cohorts` / `experiments` against the workspace file at ``path``."""
    import argparse

    from shopper_tui.commands import funnels as commands

    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers(dest="command"), lambda p: None)
    args = parser.parse_args(argv)
    monkeypatch.setattr(commands, "open_for", lambda _args: open_workspace(path))
    assert args.handler(args) == 0
    return capsys.readouterr().out


def test_funnel_command_json_and_csv(hand_ws, monkeypatch, capsys) -> None:
    import json

    out = run_command(["funnel", "--steps", "view,add_to_cart,purchase", "--format", "json"], hand_ws.path,
                      monkeypatch, capsys)
    assert json.loads(out) == funnel(hand_ws, steps=("view", "add_to_cart", "purchase")).to_json()
    out = run_command(["funnel", "--by", "device", "--mode", "strict", "--window", "2h", "--format", "csv"],
                      hand_ws.path, monkeypatch, capsys)
    frame = pl.read_csv(out.encode())
    assert frame.columns[:4] == ["group", "step_index", "step", "count"]
    # S5: the cart comes exactly 2 h after its last view (the window is inclusive), checkout 1 min too late
    assert frame.filter(pl.col("group") == "mobile")["count"].to_list() == [5, 4, 3, 2]
    grouped = json.loads(run_command(["funnel", "--by", "variant", "--format", "json"], hand_ws.path, monkeypatch, capsys))
    assert [g["group"] for g in grouped] == ["control", "treat"]
    assert [s["count"] for s in grouped[1]["steps"]] == [2, 2, 2, 1]


def test_funnel_command_by_segment(gen, monkeypatch, capsys) -> None:
    import json

    ws, _ = gen
    total = funnel(ws).to_json()
    groups = json.loads(run_command(["funnel", "--by", "segment", "--format", "json"], ws.path, monkeypatch, capsys))
    names = [g["group"] for g in groups]
    assert names[-1] == "(anonymous)" and len(names) > 3
    for k in range(4):  # every session lands in exactly one segment group
        assert sum(g["steps"][k]["count"] for g in groups) == total[k]["count"]


@pytest.mark.parametrize("mode", MODES)
def test_simultaneous_first_events_give_one_group_every_time(tmp_path: Path, mode: str) -> None:
    """A customer's first moment has three sessions' views at once (mobile, none, desktop):
    the breakdown takes the smallest known value, desktop, on every run (DuckDB's sort leaves
    ties in any order; the group used to follow it)."""
    rows = [("A1", "C1", 0 * M, "view", "mobile"), ("A2", "C1", 0 * M, "view", None),
            ("A3", "C1", 0 * M, "view", "desktop"), ("A1", "C1", 1 * M, "add_to_cart", "mobile"),
            ("B1", "C2", 0 * M, "view", None), ("B1", "C2", 2 * M, "view", "tablet")]  # first moment: no device
    ws = make_workspace(tmp_path / "ties.duckdb", {"events": events(rows)})
    try:
        for _ in range(5):
            result = funnel(ws, unit="customer", mode=mode, by="device")
            assert result.groups == ("desktop", "(unknown)")
            assert counts(result, "desktop") == [1, 1, 0, 0]
            assert counts(result, "(unknown)") == [1, 0, 0, 0]
            dropped = dropped_examples(ws, unit="customer", mode=mode, by="device", at_step=1)
            assert dropped.select("customer_id", "group").rows() == [("C2", "(unknown)")]
    finally:
        ws.close()
