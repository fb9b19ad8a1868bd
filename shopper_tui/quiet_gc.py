"""Python's cyclic garbage collector, run when the analyst is not pressing keys.

Textual builds and drops many small objects with cycles (every footer rebuild, every screen
composed, every table page rendered). Python collects the oldest generation when enough
objects have survived, wherever that happens to be: usually in the middle of a key press,
since that is when the app allocates. On the 16 M-event benchmark a full collection took
0.1-0.8 s, which made random screen switches take up to a second.

:class:`QuietCollector` takes the timing over while the app runs:

* the objects alive after start-up (modules, classes, the first screen) are frozen, so a full
  collection no longer walks them;
* automatic collection is off; a 0.25 s timer collects the young generations (a few ms, so
  short-lived cycles are still freed within a quarter of a second);
* once no key or mouse event has come for a second after some input (and at the latest once a
  minute), the old generation is collected and what survives is frozen too. Only what survived
  since the previous quiet second is walked, so this usually takes 2-17 ms; while the analyst
  types without a pause, it also runs whenever 30 k objects have survived since the last one.
  Walking everything took 160-205 ms once every screen had loaded its data (M and L: 325 k
  objects, mostly Textual's render caches), and a key pressed 1.05 s after the previous one
  waited for it (at M a median of 113-196 ms, 27-52 ms since);
* frozen objects are still freed as soon as nothing refers to them; only garbage *cycles*
  among them wait. Those are freed by a deep collection (unfreeze, collect everything, freeze
  again; ~0.3 s at L) after 30 s without input, or at the next quiet second once 5 minutes have
  passed since the last one, but not while a job's progress is on screen (training, say), where
  it would stall the progress bar. A table replaced by a sort or a filter drops its Arrow data
  itself (:class:`~shopper_tui.widgets.frame_table.FrameTable`), so big buffers do not wait;
* on exit everything is put back as it was (tests run many apps in one process).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

__all__ = ["QuietCollector"]

#: Seconds without input before the old generation's newcomers are collected and frozen.
QUIET_S = 1.0
#: ... and at least this often, input or not.
LONGEST_S = 60.0
#: Objects in the old generation (survivors since the last freeze) that are collected and frozen
#: at once, even while the analyst types: 187 k took 113 ms after 27 screen switches without a
#: one-second pause (size S); 30 k take under 20 ms.
NEWCOMERS_MAX = 30_000
#: Seconds without input before a deep collection (everything, frozen objects included).
DEEP_QUIET_S = 30.0
#: A deep collection runs at the next quiet second once this long has passed without one.
DEEP_LONGEST_S = 300.0
#: How often the timer runs (young generations are collected on every tick).
TICK_S = 0.25


class QuietCollector:
    """Collect garbage between key presses, not during them (see the module docstring)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 busy: Callable[[], bool] = lambda: False) -> None:
        """``busy`` says whether a job's progress is on screen: a deep collection waits for it
        to end, since it holds the event loop for ~0.3 s at L and a progress bar would stall."""
        self._clock = clock
        self._busy = busy
        self._was_enabled = gc.isenabled()
        self._last_input = clock()
        self._last_full = clock()
        self._last_deep = clock()
        self._input_since_full = False
        self._frozen_since_deep = False
        self.running = False
        self.full_collections = 0  #: old-generation collections (newcomers since the last freeze)
        self.deep_collections = 0  #: collections of everything, frozen objects included

    def start(self) -> None:
        """Freeze what start-up left alive and stop automatic collection."""
        gc.collect()
        gc.freeze()
        gc.disable()
        self.running = True

    def freeze(self) -> None:
        """Freeze objects that will live as long as the app (e.g. modules imported later)."""
        if self.running:
            gc.freeze()
            self._frozen_since_deep = True

    def idle_s(self) -> float:
        """Seconds since the last key or mouse event (or since the app started)."""
        return self._clock() - self._last_input

    def input_seen(self) -> None:
        """A key or mouse event arrived: put the full collection off."""
        self._last_input = self._clock()
        self._input_since_full = True

    def tick(self) -> None:
        """Collect the young generations now and the old one when the analyst is idle."""
        if not self.running:
            return
        now = self._clock()
        idle = now - self._last_input
        if self._frozen_since_deep and (
            idle >= DEEP_QUIET_S or (idle >= QUIET_S and now - self._last_deep >= DEEP_LONGEST_S)
        ) and not self._busy():
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            self.deep_collections += 1
            self._last_deep = self._last_full = now
            self._frozen_since_deep = self._input_since_full = False
        elif (idle >= QUIET_S and self._input_since_full) or now - self._last_full >= LONGEST_S:
            self._collect_newcomers(now)
        else:
            gc.collect(1)
            if len(gc.get_objects(generation=2)) >= NEWCOMERS_MAX:  # ~0.5 ms: only newcomers are there
                self._collect_newcomers(now)  # typing without a pause: walk them in slices

    def _collect_newcomers(self, now: float) -> None:
        gc.collect()  # the frozen objects are not walked
        gc.freeze()
        self.full_collections += 1
        self._last_full = now
        self._input_since_full = False
        self._frozen_since_deep = True

    def stop(self) -> None:
        """Put the collector back as it was."""
        if not self.running:
            return
        self.running = False
        gc.unfreeze()
        if self._was_enabled:
            gc.enable()
