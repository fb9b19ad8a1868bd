"""The analysis lane: short analyses run one at a time, the visible screen's first."""

from __future__ import annotations

import threading
import time

from shopper_tui.jobs import Lane


def _until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_one_at_a_time_the_urgent_first_then_in_order_of_arrival() -> None:
    lane = Lane(1)
    order: list[str] = []
    running: list[str] = []
    overlap: list[int] = []
    release_first = threading.Event()
    urgent = {"c": False}

    def job(name: str, is_urgent=lambda: False) -> None:
        with lane.slot(is_urgent) as held:
            assert held
            running.append(name)
            overlap.append(len(running))
            order.append(name)
            if name == "a":
                release_first.wait(5)
            running.remove(name)

    a = threading.Thread(target=job, args=("a", lambda: True))  # a's screen is on display: no overtaking it
    a.start()
    _until(lambda: order == ["a"])
    threads = [threading.Thread(target=job, args=(name,)) for name in ("b", "d")]
    threads.append(threading.Thread(target=job, args=("c", lambda: urgent["c"])))
    for arrived, t in enumerate(threads, start=1):
        t.start()
        _until(lambda arrived=arrived: len(lane._waiting) == arrived)
    urgent["c"] = True  # the analyst switched to c's screen while everything waited
    release_first.set()
    for t in (a, *threads):
        t.join(5)
    assert order == ["a", "c", "b", "d"]
    assert max(overlap) == 1


def test_a_waiter_cancelled_meanwhile_leaves_without_running() -> None:
    lane = Lane(1)
    holding, release = threading.Event(), threading.Event()
    cancelled = {"b": False}
    ran: list[str] = []

    def hold() -> None:
        with lane.slot() as held:
            assert held
            holding.set()
            release.wait(5)

    def waiter() -> None:
        with lane.slot(cancelled=lambda: cancelled["b"]) as held:
            if held:
                ran.append("b")

    first, second = threading.Thread(target=hold), threading.Thread(target=waiter)
    first.start()
    holding.wait(5)
    second.start()
    _until(lambda: len(lane._waiting) == 1)
    cancelled["b"] = True
    second.join(5)
    assert not second.is_alive() and ran == [] and lane._waiting == []
    release.set()
    first.join(5)
    with lane.slot() as held:  # the slot came back
        assert held


def test_the_visible_screens_work_does_not_wait_behind_a_hidden_screens() -> None:
    """One extra slot, for the first urgent waiter when only hidden screens' work holds the
    slots: c (visible) runs beside a (hidden); d (visible too) waits for c's extra slot, b
    (hidden) for a's."""
    lane = Lane(1)
    order: list[str] = []
    running: set[str] = set()
    overlaps: list[set[str]] = []
    release = {name: threading.Event() for name in "abcd"}

    def job(name: str, is_urgent=lambda: False) -> None:
        with lane.slot(is_urgent) as held:
            assert held
            order.append(name)
            running.add(name)
            overlaps.append(set(running))
            release[name].wait(5)
            running.discard(name)

    threads = {name: threading.Thread(target=job, args=(name, (lambda: True) if name in "cd" else (lambda: False)))
               for name in "abcd"}
    threads["a"].start()
    _until(lambda: order == ["a"])
    threads["b"].start()
    _until(lambda: len(lane._waiting) == 1)
    threads["c"].start()
    _until(lambda: order == ["a", "c"])  # c did not wait for a
    threads["d"].start()
    _until(lambda: len(lane._waiting) == 2)
    time.sleep(0.25)  # two of the waiters' 0.1 s re-checks: neither b nor d may start yet
    assert order == ["a", "c"] and running == {"a", "c"}
    release["c"].set()
    _until(lambda: order == ["a", "c", "d"])  # the extra slot went to the next visible one
    release["d"].set()
    threads["d"].join(5)
    assert order == ["a", "c", "d"]  # b still waits for a's own slot
    release["a"].set()
    release["b"].set()
    for t in threads.values():
        t.join(5)
    assert order == ["a", "c", "d", "b"]
    assert max(len(o) for o in overlaps) == 2
