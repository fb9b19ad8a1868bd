"""The command-palette provider every screen's commands use.

A screen lists its commands as ``(name, help, action)``: ``action`` is a callable, or the
text of an action on the screen (``"next_mode"``, ``"open_saved('checkout')"``). Subclasses
set ``COMMANDS`` or override :meth:`PaletteCommands.commands` when the list depends on the
screen's state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from textual.command import DiscoveryHit, Hit, Hits, Provider

__all__ = ["PaletteCommands", "PaletteEntry"]

PaletteEntry = tuple[str, str, "str | Callable[[], Any]"]


class PaletteCommands(Provider):
    """Shows ``commands()`` when the palette opens and matches them as the user types."""

    COMMANDS: ClassVar[tuple[PaletteEntry, ...]] = ()

    def commands(self) -> Iterable[PaletteEntry]:
        return self.COMMANDS

    def _callback(self, action: str | Callable[[], Any]) -> Callable[[], Any]:
        if callable(action):
            return action
        screen = self.screen

        async def run() -> None:
            await screen.run_action(action)

        return run

    async def discover(self) -> Hits:
        for name, help_text, action in self.commands():
            yield DiscoveryHit(name, self._callback(action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, action in self.commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), self._callback(action), help=help_text)
