"""Help: every key binding of the app, the current screen and the focused widget.

Generated from the bindings themselves (``Screen.active_bindings``), so it never goes stale.
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Label, Static

from rich.table import Table
from rich.text import Text

__all__ = ["HelpScreen", "binding_sections"]

Section = tuple[str, list[tuple[str, str]]]


def _group_title(node: DOMNode) -> str:
    if isinstance(node, App):
        return "Everywhere"
    if isinstance(node, Screen):
        return f"{getattr(node, 'TITLE_TEXT', '') or type(node).__name__} screen"
    return getattr(node, "HELP_TITLE", None) or type(node).__name__


def binding_sections(screen: Screen) -> list[Section]:
    """Bindings active on ``screen`` grouped by where they are defined, keys merged per action.

    Returns:
        ``[(group title, [(keys, description), ...]), ...]``, the app's group first.
    """
    app = screen.app
    groups: dict[str, dict[tuple[str, str], list[str]]] = {}
    order: list[tuple[int, str]] = []
    for key, active in screen.active_bindings.items():
        binding: Binding = active.binding
        if not active.enabled and binding.action != "cancel_job":
            continue
        title = _group_title(active.node)
        if title not in groups:
            groups[title] = {}
            rank = 0 if isinstance(active.node, App) else 1 if isinstance(active.node, Screen) else 2
            order.append((rank, title))
        description = binding.description or binding.action
        keys = groups[title].setdefault((binding.action, description), [])
        shown = app.get_key_display(Binding(key, binding.action, binding.description))
        if shown not in keys:
            keys.append(shown)
    # app bindings hidden right now (e.g. escape while no job runs) are still keys to know
    everywhere = groups.setdefault("Everywhere", {})
    if (0, "Everywhere") not in order:
        order.append((0, "Everywhere"))
    for binding in type(app).BINDINGS:
        if isinstance(binding, Binding) and not any(action == binding.action for action, _ in everywhere):
            everywhere[(binding.action, binding.description or binding.action)] = [app.get_key_display(binding)]
    return [
        (title, [(", ".join(keys), description) for (_action, description), keys in groups[title].items()])
        for _rank, title in sorted(order, key=lambda rt: rt[0])
    ]


class HelpScreen(ModalScreen[None]):
    """The keys, grouped; ``escape``, ``q`` or ``?`` closes."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, sections: list[Section]) -> None:
        super().__init__(classes="help-screen")
        self.sections = sections

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Label("Keys", id="help-title")
            with VerticalScroll(id="help-body"):
                for title, rows in self.sections:
                    yield Label(title, classes="help-group", markup=False)
                    table = Table.grid(padding=(0, 2))
                    table.add_column(min_width=14, style="bold")
                    table.add_column()
                    for keys, description in rows:
                        table.add_row(Text(keys), Text(description))
                    yield Static(table, classes="help-keys")
            yield Static(
                "Tables: s sorts by the cursor's column (again: reverse), / filters "
                "(text, or column op value like revenue > 100), ctrl+e exports. ctrl+p: every command.",
                id="help-tip", markup=False,
            )
            yield Footer()

    def action_close(self) -> None:
        self.dismiss(None)
