"""The app's garbage-collection timing (shopper_tui.quiet_gc): old-generation collections wait for
a quiet second after input and freeze what survives, a long pause collects everything,
short-lived cycles are still freed on the next tick, and everything is put back on exit."""

from __future__ import annotations

import gc
import weakref

import pytest

from shopper_tui.quiet_gc import (
    DEEP_LONGEST_S,
    DEEP_QUIET_S,
    LONGEST_S,
    QUIET_S,
    QuietCollector,
)


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_full_collection_waits_for_a_quiet_second_after_input() -> None:
    clock = _Clock()
    collector = QuietCollector(clock)
    was_enabled = gc.isenabled()
    collector.start()
    try:
        assert not gc.isenabled() and gc.get_freeze_count() > 0
        clock.now += 5
        collector.tick()
        assert collector.full_collections == 0  # no input since start: nothing to catch up on
        assert collector.idle_s() == 5  # since start (the app builds screens ahead once idle)
        collector.input_seen()
        clock.now += QUIET_S / 2
        assert collector.idle_s() == QUIET_S / 2
        collector.tick()
        assert collector.full_collections == 0  # the analyst is still typing
        clock.now += QUIET_S
        collector.tick()
        assert collector.full_collections == 1  # quiet for a second after input
        clock.now += QUIET_S * 3
        collector.tick()
        assert collector.full_collections == 1  # one per quiet spell
        for _ in range(int(LONGEST_S / 0.25) + 1):  # typing without a pause: still at most LONGEST_S apart
            collector.input_seen()
            clock.now += 0.25
            collector.tick()
        assert collector.full_collections == 2
    finally:
        collector.stop()
    assert gc.isenabled() == was_enabled and gc.get_freeze_count() == 0


def test_short_lived_cycles_are_freed_on_the_next_tick() -> None:
    collector = QuietCollector(_Clock())
    collector.start()
    try:
        node = _Node()
        gone = weakref.ref(node)
        del node
        assert gone() is not None  # automatic collection is off
        collector.tick()  # a young-generation collection, even while the analyst types
        assert gone() is None
    finally:
        collector.stop()


def test_quiet_second_freezes_survivors_and_a_long_pause_collects_everything() -> None:
    """The collection at a quiet second walks only what is new since the last one and freezes
    what survives, so it stays short however much the app holds; garbage cycles among frozen
    objects are freed by the deep collection after DEEP_QUIET_S without input."""
    clock = _Clock()
    collector = QuietCollector(clock)
    collector.start()
    try:
        node = _Node()
        gone = weakref.ref(node)
        collector.input_seen()
        clock.now += QUIET_S
        collector.tick()  # quiet second: the node survives (it is referenced) and is frozen
        assert (collector.full_collections, collector.deep_collections) == (1, 0)
        assert not any(obj is node for obj in gc.get_objects())  # frozen: not walked any more
        del node  # now a garbage cycle among frozen objects
        collector.input_seen()
        clock.now += QUIET_S
        collector.tick()  # the next quiet second does not walk it
        assert gone() is not None and collector.full_collections == 2
        clock.now += DEEP_QUIET_S - QUIET_S - 0.25
        collector.tick()
        assert gone() is not None and collector.deep_collections == 0  # 0.25 s short of the pause
        clock.now += 0.25
        collector.tick()
        assert gone() is None and collector.deep_collections == 1
        clock.now += DEEP_QUIET_S
        collector.tick()
        assert collector.deep_collections == 1  # nothing frozen since: no second deep collection
    finally:
        collector.stop()
    assert gc.get_freeze_count() == 0


def test_deep_collection_comes_at_a_quiet_second_once_long_overdue() -> None:
    """An analyst who never pauses for DEEP_QUIET_S still gets frozen garbage cycles freed, at
    the first quiet second once DEEP_LONGEST_S has passed without a deep collection."""
    clock = _Clock()
    collector = QuietCollector(clock)
    collector.start()
    try:
        elapsed = 0.0
        while elapsed < DEEP_LONGEST_S - 3:  # a key every 3 s: a quiet second each time, never 30 s
            collector.input_seen()
            for _ in range(12):
                clock.now += 0.25
                elapsed += 0.25
                collector.tick()
        assert collector.deep_collections == 0 and collector.full_collections >= DEEP_LONGEST_S / 3 - 1
        collector.input_seen()
        clock.now += 3.0  # DEEP_LONGEST_S since the start, and a quiet second
        collector.tick()
        assert collector.deep_collections == 1
    finally:
        collector.stop()


def test_many_survivors_are_walked_in_slices_while_the_analyst_types(monkeypatch: pytest.MonkeyPatch) -> None:
    """Typing without a one-second pause, the old generation still never holds more than
    NEWCOMERS_MAX unfrozen objects, so no single collection walks more than that."""
    from shopper_tui import quiet_gc

    monkeypatch.setattr(quiet_gc, "NEWCOMERS_MAX", 5_000)
    clock = _Clock()
    collector = QuietCollector(clock)
    collector.start()
    try:
        kept = []
        for _ in range(4):
            kept.extend(_Node() for _ in range(2_000))
            collector.input_seen()
            clock.now += 0.25
            collector.tick()  # young collection: the nodes survive into the old generation
            assert len(gc.get_objects(generation=2)) < 5_000
        assert collector.full_collections == 1 and collector.deep_collections == 0  # at 6 000 nodes
        assert not any(obj is kept[0] for obj in gc.get_objects())  # frozen
    finally:
        collector.stop()


def test_deep_collection_waits_while_a_job_shows_progress() -> None:
    """A deep collection holds the event loop for ~0.3 s at L: not while a progress bar moves."""
    clock = _Clock()
    jobs: list[str] = []
    collector = QuietCollector(clock, busy=lambda: bool(jobs))
    collector.start()
    try:
        collector.input_seen()
        clock.now += QUIET_S
        collector.tick()  # the quiet second: newcomers frozen
        jobs.append("training")
        clock.now += DEEP_QUIET_S
        collector.tick()
        assert collector.deep_collections == 0  # the job is running
        jobs.clear()
        clock.now += 0.25
        collector.tick()
        assert collector.deep_collections == 1  # it ended: collected at the next tick
    finally:
        collector.stop()
