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
  short-lived cycles are still freed within a quarter of a second) and the old generation
  once no key or mouse event has come for a second after some input, and at the latest
  once a minute (a 0.1 s pause that, with nobody typing, only a progress bar can show: at
  20 s it fell inside the L benchmark's 10 s training, 131 ms against 55 ms at 60 s);
* on exit everything is put back as it was (tests run many apps in one process).

Memory held by cyclic garbage is therefore freed up to a minute later than Python's default
would, but a full collection starts in the middle of handling keys only when the analyst
types for a minute without a one-second pause.
"""

from __future__ import annotations

import gc
import time

__all__ = ["QuietCollector"]

#: Seconds without input before the old generation is collected.
QUIET_S = 1.0
#: The old generation is collected at least this often, input or not.
LONGEST_S = 60.0
#: How often the timer runs (young generations are collected on every tick).
TICK_S = 0.25


class QuietCollector:
    """Collect garbage between key presses, not during them (see the module docstring)."""

    def __init__(self, clock=time.monotonic) -> None:  # noqa: ANN001 - a clock for tests
        self._clock = clock
        self._was_enabled = gc.isenabled()
        self._last_input = clock()
        self._last_full = clock()
        self._input_since_full = False
        self.running = False
        self.full_collections = 0

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
        quiet = now - self._last_input >= QUIET_S
        if (quiet and self._input_since_full) or now - self._last_full >= LONGEST_S:
            gc.collect()
            self.full_collections += 1
            self._last_full = now
            self._input_since_full = False
        else:
            gc.collect(1)

    def stop(self) -> None:
        """Put the collector back as it was."""
        if not self.running:
            return
        self.running = False
        gc.unfreeze()
        if self._was_enabled:
            gc.enable()
