"""Jobs: engine calls running in thread workers, with progress, cancellation and one error path.

How a screen (or widget) runs engine work::

    class SegmentsScreen(ShopperScreen):          # ShopperScreen is a JobOwner
        @work(thread=True, exclusive=True, exit_on_error=False, group="segments")
        def train(self) -> Segmentation:
            progress = job_progress("Training segments")
            return segment(self.workspace, progress=progress)

        def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
            if event.state is WorkerState.SUCCESS and event.worker.group == "segments":
                self.result = event.worker.result

or, without a method, ``run_job(self, "Training segments", lambda progress: segment(ws, progress=progress))``.

* :func:`job_progress` (called inside the worker thread) announces the job to the app with
  :class:`JobStarted` and returns the engine's ``progress(step, fraction)`` callback; the
  callback posts :class:`JobProgressed` (throttled) and raises
  :class:`~shopper_tui.analytics.errors.Cancelled` once the worker is cancelled, which stops
  the engine at its next step.
* :class:`JobOwner` (mixed into screens and widgets that start workers) forwards every
  ``Worker.StateChanged`` to the app as :class:`JobEnded`, where failures are handled once:
  the app shows one ``ErrorModal``. Success is the owner's business.
* The app shows the running job in every screen's ``JobBar``; ``escape`` cancels it.
* :func:`in_lane` (under ``@work``) makes a short analysis wait for :data:`ANALYSIS_LANE`, so
  such analyses run one at a time, the visible screen's first (see :class:`Lane`).
"""

from __future__ import annotations

import functools
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from textual.message import Message
from textual.worker import Worker, WorkerState, get_current_worker

from .analytics.errors import Cancelled

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from .analytics.sources import ProgressFn

__all__ = [
    "ANALYSIS_LANE",
    "JobEnded",
    "JobOwner",
    "JobProgressed",
    "JobStarted",
    "JobStatus",
    "Lane",
    "in_lane",
    "job_progress",
    "run_job",
]

T = TypeVar("T")
_MIN_INTERVAL = 0.05  # seconds between progress messages for the same step


@dataclass
class JobStarted(Message):
    """A worker announced itself as a user-visible job."""

    worker: Worker[Any]
    title: str


@dataclass
class JobProgressed(Message):
    """A job reached a step; ``fraction`` in [0, 1] or None when unknown."""

    worker: Worker[Any]
    step: str
    fraction: float | None


@dataclass
class JobEnded(Message):
    """A worker owned by a :class:`JobOwner` changed state (forwarded ``Worker.StateChanged``)."""

    worker: Worker[Any]
    state: WorkerState


@dataclass(frozen=True)
class JobStatus:
    """What the job bar shows."""

    title: str
    step: str = ""
    fraction: float | None = None


def job_progress(title: str) -> ProgressFn:
    """Inside a thread worker: announce the job and return the engine's progress callback.

    Args:
        title: What the job does, e.g. "Importing sample".

    Returns:
        ``progress(step, fraction=None)``; raises :class:`Cancelled` when the worker was
        cancelled (escape, or an exclusive worker replaced it).
    """
    worker = get_current_worker()
    app = worker.node.app
    app.post_message(JobStarted(worker, title))
    last = {"step": None, "at": 0.0}

    def progress(step: str, fraction: float | None = None) -> None:
        if worker.is_cancelled:
            raise Cancelled(f"{title}: cancelled")
        now = time.monotonic()
        if step != last["step"] or now - last["at"] >= _MIN_INTERVAL:
            last["step"], last["at"] = step, now
            app.post_message(JobProgressed(worker, step, fraction))

    return progress


def run_job(
    owner: DOMNode,
    title: str,
    fn: Callable[[ProgressFn], T],
    *,
    group: str = "job",
) -> Worker[T]:
    """Run ``fn(progress)`` as a job in a thread worker owned by ``owner``.

    ``owner`` should be a :class:`JobOwner` (every ``ShopperScreen`` and the app are) so a
    failure reaches the app's error modal. The result arrives as the worker's ``result`` in
    the owner's ``on_worker_state_changed``.
    """

    def body() -> T:
        return fn(job_progress(title))

    return owner.run_worker(
        body, name=title, group=group, thread=True, exclusive=True, exit_on_error=False
    )


class Lane:
    """Slots that thread workers wait for, the visible screen's first, then in order of arrival.

    A segmentation sets five screens recomputing at once (affinity, personas, cohorts, reviews,
    the recommender's segment signal). Their threads took turns with the UI thread for the GIL
    and the two cores, and the UI waited up to 114 ms at a time (M; 1.6 s at L before the work
    on the UI thread was moved out). One at a time, the longest wait was 43-51 ms, and the last
    result came 0.1-0.7 s later. A worker cancelled while it waits (escape, or replaced by a newer
    one of its group) leaves without running.

    The visible screen's work does not wait behind a hidden screen's: when every slot is held
    by work of screens not on display, the first urgent waiter takes one extra slot (at L, the
    visible screen's recompute waited up to 1.3 s, 3.7 s behind the funnels). Two at a time the
    UI waited up to 71-77 ms at M, within the 100 ms target.
    """

    def __init__(self, slots: int = 1) -> None:
        self._cond = threading.Condition()
        self._free = slots
        self._extra = True  # the one slot an urgent waiter may take beyond ``slots``
        self._order = itertools.count()
        self._waiting: list[tuple[int, Callable[[], bool]]] = []
        self._holding: list[Callable[[], bool]] = []

    @staticmethod
    def _urgent(urgent: Callable[[], bool]) -> bool:
        try:
            return bool(urgent())
        except Exception:  # noqa: BLE001 - a screen closing meanwhile is simply not urgent
            return False

    def _first(self) -> tuple[int, Callable[[], bool]]:
        return min(self._waiting, key=lambda waiter: (not self._urgent(waiter[1]), waiter[0]))

    @contextmanager
    def slot(self, urgent: Callable[[], bool] = lambda: False,
             cancelled: Callable[[], bool] = lambda: False) -> Iterator[bool]:
        """Hold a slot for the ``with`` block; yields False (and holds nothing) if ``cancelled()``
        became true while waiting. ``urgent()`` (asked again every 0.1 s: the analyst may switch
        screens) puts a waiter before the others."""
        me = (next(self._order), urgent)
        held = extra = False
        with self._cond:
            self._waiting.append(me)
            try:
                while True:
                    if self._first() is me:
                        if self._free > 0:
                            self._free -= 1
                            held = True
                            break
                        if (self._extra and self._urgent(urgent)
                                and not any(self._urgent(h) for h in self._holding)):
                            self._extra = False
                            held = extra = True
                            break
                    if cancelled():
                        break
                    self._cond.wait(0.1)
            finally:
                self._waiting.remove(me)
                if held:
                    self._holding.append(urgent)
                else:
                    self._cond.notify_all()  # the next waiter may be first now
        if not held:
            yield False
            return
        try:
            yield True
        finally:
            with self._cond:
                self._holding.remove(urgent)
                if extra:
                    self._extra = True
                else:
                    self._free += 1
                self._cond.notify_all()


#: The lane of the short analyses a screen recomputes when its data or the segments change.
ANALYSIS_LANE = Lane(1)


def in_lane(method: Callable[..., T]) -> Callable[..., T | None]:
    """Decorate a worker method (under ``@work(thread=True, ...)``) of a widget or screen: it
    runs in :data:`ANALYSIS_LANE`, before the others if its screen is the one on display."""

    @functools.wraps(method)
    def run(self: Any, *args: Any, **kwargs: Any) -> T | None:
        worker = get_current_worker()

        def urgent() -> bool:
            return self.screen is self.app.screen

        with ANALYSIS_LANE.slot(urgent, lambda: worker.is_cancelled) as held:
            return method(self, *args, **kwargs) if held else None

    return run


class JobOwner:
    """Mixin for screens and widgets that start workers: hands their state changes to the app.

    Textual calls this handler itself for every subclass (it dispatches ``on_*`` methods along
    the class's MRO), so a subclass's own ``on_worker_state_changed`` must not call ``super()``:
    that handed each job to the app twice (one failure, an error dialog and an error toast).
    """

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.app.post_message(JobEnded(event.worker, event.state))  # type: ignore[attr-defined]
