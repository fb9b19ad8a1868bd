"""A one-line question: ``enter`` answers with the typed text, ``escape`` answers None."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

__all__ = ["NamePrompt"]


class NamePrompt(ModalScreen[str | None]):
    """Asks for a name (of a funnel to save, say); empty answers are not accepted."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, *, value: str = "", note: str = "") -> None:
        super().__init__(classes="name-prompt")
        self.title_text = title
        self.value = value
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box"):
            yield Label(self.title_text, id="prompt-title", markup=False)
            yield Input(self.value, id="prompt-input")
            yield Static(self.note, id="prompt-note", markup=False)

    def on_mount(self) -> None:
        self.query_one("#prompt-input", Input).focus()

    @on(Input.Submitted, "#prompt-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self.dismiss(event.value.strip())
        else:
            self.query_one("#prompt-note", Static).update("Type a name, or escape to cancel.")

    def action_cancel(self) -> None:
        self.dismiss(None)
