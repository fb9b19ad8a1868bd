"""Scale edge cases in the app: tiny synthetic data sets (one customer, one product, no events,
no reviews, every order on one day, reviews only, customers without orders) open every screen
(keys 1–9) with a readable message: no error modal, no traceback, no endless "Computing…".

Each case is a folder source written into tmp_path (Parquet, some CSV), imported by the app.
"""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from test_app import run_async, wait_for
from test_app import settle as _settle

from shopper_tui.app import SCREEN_MODES, make_app
from shopper_tui.config import Settings
from shopper_tui.widgets import ErrorModal

SIZE = (120, 40)
T0 = datetime(2026, 3, 2, 10, 0)

#: Texts a screen shows only while something is still on its way: none may remain once the
#: app is idle (the screen would be waiting for ever).
PENDING = ("Computing…", "Segmenting…", "Waiting for", "Training the recommender", "Opening workspace",
           "Loading…", "Scoring reviews…")


def shop(customers: int = 6, products: int = 4, *, one_day: bool = False) -> dict[str, pl.DataFrame]:
    """A small complete shop: 3 orders per customer, a session per order, a review per customer."""
    cids = [f"C{i}" for i in range(1, customers + 1)]
    pids = [f"P{i}" for i in range(1, products + 1)]
    tables = {
        "customers": pl.DataFrame({"customer_id": cids, "signup_ts": [T0 - timedelta(days=30)] * customers,
                                   "country": ["DE"] * customers, "name": [f"Name {c}" for c in cids]}),
        "products": pl.DataFrame({"product_id": pids, "name": [f"Product {p}" for p in pids],
                                  "category": ["Shoes" if i % 2 else "Bags" for i in range(products)],
                                  "brand": ["B"] * products, "price": [10.0 + i for i in range(products)]}),
    }
    orders, items, events, reviews = [], [], [], []
    k = 0
    for ci, c in enumerate(cids):
        for j in range(3):
            k += 1
            ts = T0 + (timedelta(minutes=k) if one_day else timedelta(days=7 * j + ci, hours=j))
            orders.append({"order_id": f"O{k}", "customer_id": c, "ts": ts, "channel": "web",
                           "status": "completed" if k % 5 else "returned"})
            for line in range(1 + k % 2):
                items.append({"order_id": f"O{k}", "product_id": pids[(ci + j + line) % products],
                              "quantity": 1 + line, "unit_price": 10.0 + line})
            for e, kind in enumerate(("view", "add_to_cart", "checkout", "purchase")):
                events.append({"session_id": f"S{k}", "customer_id": c, "ts": ts - timedelta(minutes=5 - e),
                               "event_type": kind, "product_id": pids[(ci + j) % products], "device": "mobile",
                               "experiment": "exp1", "variant": "A" if ci % 2 else "B"})
            if j == 0:
                reviews.append({"review_id": f"R{k}", "product_id": pids[ci % products], "customer_id": c,
                                "ts": ts + timedelta(days=2), "rating": 1 + k % 5,
                                "text": "Great shoes, comfortable and fast delivery" if k % 2
                                else "Bad quality, broke after a week"})
    tables |= {"orders": pl.DataFrame(orders), "order_items": pl.DataFrame(items), "events": pl.DataFrame(events),
               "reviews": pl.DataFrame(reviews)}
    return tables


def _without(tables: dict[str, pl.DataFrame], *names: str) -> dict[str, pl.DataFrame]:
    return {k: v for k, v in tables.items() if k not in names}


CASES = {
    "one_customer": lambda: shop(customers=1),
    "one_product": lambda: shop(products=1),
    "no_events": lambda: _without(shop(), "events"),
    "no_reviews": lambda: _without(shop(), "reviews"),
    "one_day": lambda: shop(one_day=True),
    "reviews_only": lambda: {"reviews": shop()["reviews"]},
    "customers_no_orders": lambda: _without(shop(), "orders", "order_items", "reviews"),
}
CSV_CASES = {"one_day", "reviews_only"}  # written as CSV; the others as Parquet

#: (case, screen) → text that must be on the screen once it is idle.
EXPECTED = {
    ("one_customer", "segments"): "at least 3",
    ("one_customer", "affinity"): "at least 3",
    ("one_customer", "recommendations"): "r: show products already bought",
    ("no_events", "funnels"): "no events",
    ("no_events", "experiments"): "no events",
    ("reviews_only", "funnels"): "no events",
    ("reviews_only", "segments"): "nothing to segment",
    ("no_reviews", "reviews"): "no reviews",
    ("customers_no_orders", "overview"): "No completed orders",
    ("customers_no_orders", "reviews"): "no reviews",
}


async def settle(pilot, rounds: int = 3) -> None:  # noqa: ANN001
    """test_app.settle, also when a worker fails while we wait: a failed worker is the app's
    to report (error modal or a message in place), which is what these tests look at."""
    from textual.worker import WorkerFailed

    for _ in range(20):
        try:
            await _settle(pilot, rounds)
            return
        except WorkerFailed:
            await pilot.pause()
    await _settle(pilot, rounds)


def write_folder(tables: dict[str, pl.DataFrame], folder: Path, *, csv: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        if csv:
            frame.write_csv(folder / f"{name}.csv")
        else:
            frame.write_parquet(folder / f"{name}.parquet")
    return folder


def screen_text(app) -> str:  # noqa: ANN001
    """What the terminal shows now, as plain text (from the screenshot)."""
    svg = app.export_screenshot()
    rows: dict[float, list[tuple[float, str]]] = {}
    for m in re.finditer(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)"[^>]*>([^<]*)</text>', svg):
        rows.setdefault(float(m.group(2)), []).append((float(m.group(1)), html.unescape(m.group(3))))
    return "\n".join("".join(t for _, t in sorted(parts)).replace("\xa0", " ") for _, parts in sorted(rows.items()))


def _recording(app):  # noqa: ANN001, ANN202
    errors: list[str] = []
    show = app.show_error

    def record(error: BaseException, *, title: str = "Something went wrong") -> None:
        errors.append(f"{title}: {error!r}")
        show(error, title=title)

    app.show_error = record
    return errors


async def _visit_every_screen(app, pilot, case: str, errors: list[str]) -> dict[str, str]:  # noqa: ANN001
    shown: dict[str, str] = {}
    for mode in SCREEN_MODES:
        await pilot.press(mode.key)
        await settle(pilot)
        await pilot.pause(0.2)
        await settle(pilot)
        assert app.current_mode == mode.name, f"{case}: key {mode.key} did not open {mode.title} (focus: {app.focused})"
        assert not isinstance(app.screen, ErrorModal), f"{case}/{mode.name}: error modal: {errors}"
        text = screen_text(app)
        shown[mode.name] = text
        assert "Traceback" not in text
        stuck = [p for p in PENDING if p in text]
        assert not stuck, f"{case}/{mode.name} still shows {stuck} with nothing running:\n{text}"
        expected = EXPECTED.get((case, mode.name))
        if expected:
            assert expected.lower() in text.lower(), f"{case}/{mode.name}: no '{expected}' on screen:\n{text}"
    assert errors == [], f"{case}: {errors}"
    return shown


@pytest.mark.parametrize("case", list(CASES))
@run_async
async def test_every_screen_opens_on_a_tiny_data_set(case: str, tmp_path: Path) -> None:
    folder = write_folder(CASES[case](), tmp_path / case, csv=case in CSV_CASES)
    app = make_app(Settings.from_env(source=str(folder), data_dir=tmp_path / "data"))
    errors = _recording(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None, timeout=60)
        await settle(pilot)
        await _visit_every_screen(app, pilot, case, errors)


@run_async
async def test_reviews_by_segment_says_why_there_are_no_segments(tmp_path: Path) -> None:
    folder = write_folder(shop(customers=1), tmp_path / "one")
    app = make_app(Settings.from_env(source=str(folder), data_dir=tmp_path / "data"))
    errors = _recording(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None, timeout=60)
        await pilot.press("2")  # the segmentation is tried, and is not possible
        await wait_for(pilot, lambda: app.segmentation_error is not None, timeout=60)
        await pilot.press("5")
        await wait_for(pilot, lambda: getattr(app.screen, "views", None) is not None, timeout=60)
        await settle(pilot)
        app.screen.show_tab("segments")
        await settle(pilot)
        assert "No segments with this data: Only 1 customer" in screen_text(app)
        app.screen.by = "segment"
        await settle(pilot)
        app.screen.show_tab("summary")
        await settle(pilot)
        assert "No segments with this data: Only 1 customer" in screen_text(app)
        assert errors == []


@run_async
async def test_customers_only_is_refused_once_and_every_screen_says_why(tmp_path: Path) -> None:
    """Customers and products but nothing to analyse: the import is refused (one modal, by
    design of the validator); every screen then says there is no data and why."""
    folder = write_folder(_without(shop(), "orders", "order_items", "events", "reviews"), tmp_path / "shop")
    app = make_app(Settings.from_env(source=str(folder), data_dir=tmp_path / "data"))
    errors = _recording(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace_error is not None, timeout=60)
        await settle(pilot)
        assert len(errors) == 1 and "nothing to analyse" in errors[0]
        assert isinstance(app.screen, ErrorModal)
        await pilot.press("escape")
        await settle(pilot)
        for mode in SCREEN_MODES:
            await pilot.press(mode.key)
            await settle(pilot)
            assert app.current_mode == mode.name
            text = screen_text(app)
            assert not [p for p in PENDING if p in text], f"{mode.name}:\n{text}"
            assert "No data open" in text and "nothing to analyse" in text, f"{mode.name}:\n{text}"
        assert len(errors) == 1
