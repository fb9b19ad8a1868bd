"""Snapshot tests at 80×24 (the smallest supported terminal) for the screens whose own snapshot
files have no small one: Overview, Recommendations (main view), Cohorts, Experiments, Data —
and two tiny data sets whose screens must say why there is nothing to show.
(Segments, Affinity, Reviews, Funnels and the Recommendations evaluation panel have theirs in
tests/test_snapshots_<screen>.py.)

Deterministic: seeded sample, frozen import clock, every worker finished before the frame is
taken. Regenerate with ``pytest tests/test_snapshots_small.py --snapshot-update`` and look
at the SVGs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_app import import_sample, wait_for
from test_edge_cases import settle, shop, write_folder
from textual.pilot import Pilot

from shopper_tui.app import make_app
from shopper_tui.config import Settings

SMALL = (80, 24)


@pytest.fixture(scope="module")
def small_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = tmp_path_factory.mktemp("snap-small")
    return import_sample(data).with_(cache_dir=Path(data) / "cache")


async def _opened(pilot: Pilot) -> None:
    await wait_for(pilot, lambda: pilot.app.workspace is not None)
    await settle(pilot)


def _screen(key: str, ready: str):  # noqa: ANN202
    async def run(pilot: Pilot) -> None:
        await _opened(pilot)
        await pilot.press(key)
        await wait_for(pilot, lambda: getattr(pilot.app.screen, ready, None) is not None, timeout=90)
        await settle(pilot)

    return run


def test_overview_small(snap_compare, small_settings: Settings) -> None:  # noqa: ANN001
    assert snap_compare(make_app(small_settings), terminal_size=SMALL, run_before=_opened)


def test_recommendations_small(snap_compare, small_settings: Settings) -> None:  # noqa: ANN001
    async def run(pilot: Pilot) -> None:
        app = pilot.app
        await _screen("4", "recs")(pilot)
        await wait_for(pilot, lambda: app.segmentation is not None and app.screen._labelled is app.segmentation,
                       timeout=90)
        app.screen.pick_customer("C000042")
        await settle(pilot)

    assert snap_compare(make_app(small_settings), terminal_size=SMALL, run_before=run)


def test_cohorts_small(snap_compare, small_settings: Settings) -> None:  # noqa: ANN001
    assert snap_compare(make_app(small_settings), terminal_size=SMALL, run_before=_screen("7", "frame"))


def test_experiments_small(snap_compare, small_settings: Settings) -> None:  # noqa: ANN001
    assert snap_compare(make_app(small_settings), terminal_size=SMALL, run_before=_screen("8", "results"))


def test_data_small(snap_compare, small_settings: Settings) -> None:  # noqa: ANN001
    async def run(pilot: Pilot) -> None:
        await _opened(pilot)
        await pilot.press("9")
        await settle(pilot)
        await wait_for(pilot, lambda: pilot.app.screen.query_one("#preview-table").frame.height > 0)
        await settle(pilot)

    assert snap_compare(make_app(small_settings), terminal_size=SMALL, run_before=run)


# -- tiny data: the reason is readable at 80×24 ----------------------------------------------
@pytest.fixture(scope="module")
def one_customer(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    base = tmp_path_factory.mktemp("snap-one-customer")
    folder = write_folder(shop(customers=1), base / "one_customer")
    return Settings.from_env(source=str(folder), data_dir=base / "data", cache_dir=base / "cache")


@pytest.fixture(scope="module")
def no_events(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    base = tmp_path_factory.mktemp("snap-no-events")
    folder = write_folder({k: v for k, v in shop().items() if k != "events"}, base / "no_events")
    return Settings.from_env(source=str(folder), data_dir=base / "data", cache_dir=base / "cache")


def _idle_on(key: str):  # noqa: ANN202
    async def run(pilot: Pilot) -> None:
        await _opened(pilot)
        await pilot.press(key)
        await settle(pilot)
        await pilot.pause(0.3)
        await settle(pilot)
        pilot.app.clear_notifications()  # toasts carry the same words; the screen must say it alone

    return run


def test_segments_one_customer_small(snap_compare, one_customer: Settings) -> None:  # noqa: ANN001
    assert snap_compare(make_app(one_customer), terminal_size=SMALL, run_before=_idle_on("2"))


def test_funnels_no_events_small(snap_compare, no_events: Settings) -> None:  # noqa: ANN001
    assert snap_compare(make_app(no_events), terminal_size=SMALL, run_before=_idle_on("6"))
