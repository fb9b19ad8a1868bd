"""The app's garbage-collection timing (shopper_tui.quiet_gc): full collections wait for a quiet
second after input, short-lived cycles are still freed on the next tick, and everything is put
back on exit."""

from __future__ import annotations

import gc
import weakref

from shopper_tui.quiet_gc import LONGEST_S, QUIET_S, QuietCollector


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
