"""The one place errors are shown: a modal with a readable message.

A :class:`~shopper_tui.analytics.errors.ShopperError` shows its message and hint; anything
else shows its type and message, with the traceback one key away (hidden by default).
"""

from __future__ import annotations

import traceback

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, Static

from ..analytics.errors import ShopperError

__all__ = ["ErrorModal"]


class ErrorModal(ModalScreen[None]):
    """Shows one failure. ``escape``/``enter`` closes; ``t`` toggles the traceback."""

    BINDINGS = [
        Binding("escape,enter", "close", "Close"),
        Binding("t", "toggle_traceback", "Traceback"),
    ]

    def __init__(self, error: BaseException, *, title: str = "Something went wrong") -> None:
        super().__init__(classes="error-modal")
        self.error = error
        self.title_text = title
        if isinstance(error, ShopperError):
            self.message = error.message
            self.hint = error.hint
            self.details: str | None = None
        else:
            self.message = f"{type(error).__name__}: {error}"
            self.hint = "This looks like a bug in shopper-tui; press t for the traceback to report it."
            self.details = "".join(traceback.format_exception(error))

    def compose(self) -> ComposeResult:
        with Vertical(id="error-box"):
            yield Label(self.title_text, id="error-title", markup=False)
            yield Static(self.message, id="error-message", markup=False)
            if self.hint:
                yield Static(self.hint, id="error-hint", markup=False)
            if self.details:
                with VerticalScroll(id="error-traceback"):
                    yield Static(self.details, markup=False)
            yield Footer()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_traceback":
            return self.details is not None
        return True

    def action_toggle_traceback(self) -> None:
        box = self.query_one("#error-traceback")
        box.display = not box.display

    def action_close(self) -> None:
        self.dismiss(None)
