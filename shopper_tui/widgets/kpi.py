"""KPI cards: a label, a value and a short note, styled in app.tcss."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label

__all__ = ["KpiCard"]


class KpiCard(Vertical):
    """One headline number. Call :meth:`show` to fill it."""

    DEFAULT_CLASSES = "kpi-card"

    def __init__(self, label: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.label = label

    def compose(self) -> ComposeResult:
        yield Label(self.label, classes="kpi-label", markup=False)
        yield Label("…", classes="kpi-value", markup=False)
        yield Label("", classes="kpi-note", markup=False)

    def show(self, value: str, note: str = "") -> None:
        self.query_one(".kpi-value", Label).update(value)
        self.query_one(".kpi-note", Label).update(note)

    @property
    def value_text(self) -> str:
        return str(self.query_one(".kpi-value", Label).content)
