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
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from textual.message import Message
from textual.worker import Worker, WorkerState, get_current_worker

from .analytics.errors import Cancelled

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from .analytics.sources import ProgressFn

__all__ = [
    "JobEnded",
    "JobOwner",
    "JobProgressed",
    "JobStarted",
    "JobStatus",
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


class JobOwner:
    """Mixin for screens and widgets that start workers: hands their state changes to the app."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.app.post_message(JobEnded(event.worker, event.state))  # type: ignore[attr-defined]
