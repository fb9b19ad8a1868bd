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

    a = threading.Thread(target=job, args=("a",))
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
