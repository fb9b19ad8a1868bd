"""Export dialog: choose a path and CSV or Parquet; returns an :class:`ExportRequest` or None."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

__all__ = ["ExportDialog", "ExportRequest"]

_CSV_NOTE = (
    "CSV: text cells starting with = + - @ are written with a leading ' so spreadsheets "
    "show them instead of running them as formulas."
)
_PARQUET_NOTE = "Parquet: values are written exactly as shown, with their types."


@dataclass(frozen=True)
class ExportRequest:
    """Where and how to write the current view."""

    path: Path
    format: str  # "csv" | "parquet"


class ExportDialog(ModalScreen[ExportRequest | None]):
    """Asks where to write ``rows`` rows of ``name``; ``enter`` exports, ``escape`` cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, *, name: str, rows: int, folder: Path | None = None) -> None:
        super().__init__(classes="export-dialog")
        self.table_name = name
        self.rows = rows
        self.folder = folder or Path.cwd()

    def compose(self) -> ComposeResult:
        with Vertical(id="export-box"):
            yield Label(f"Export {self.table_name} · {self.rows:,} rows (current filter and sort)", id="export-title",
                        markup=False)
            yield Input(str(self.folder / f"{self.table_name}.csv"), id="export-path", select_on_focus=False)
            with RadioSet(id="export-format"):
                yield RadioButton("CSV", value=True, id="fmt-csv")
                yield RadioButton("Parquet", id="fmt-parquet")
            yield Static(_CSV_NOTE, id="export-note", markup=False)
            yield Static("", id="export-exists", markup=False)
            with Horizontal(id="export-buttons"):
                yield Button("Export", variant="primary", id="export-ok")
                yield Button("Cancel", id="export-cancel")

    def on_mount(self) -> None:
        self.query_one("#export-path", Input).focus()
        self._check_exists()

    @property
    def _format(self) -> str:
        return "parquet" if self.query_one("#fmt-parquet", RadioButton).value else "csv"

    @on(RadioSet.Changed)
    def _format_changed(self) -> None:
        fmt = self._format
        self.query_one("#export-note", Static).update(_CSV_NOTE if fmt == "csv" else _PARQUET_NOTE)
        path_input = self.query_one("#export-path", Input)
        path = Path(path_input.value)
        suffix = ".parquet" if fmt == "parquet" else ".csv"
        if path.suffix.lower() in (".csv", ".parquet", ".pq", ""):
            path_input.value = str(path.with_suffix(suffix))

    @on(Input.Changed, "#export-path")
    def _check_exists(self) -> None:
        value = self.query_one("#export-path", Input).value.strip()
        exists = bool(value) and Path(value).expanduser().exists()
        self.query_one("#export-exists", Static).update("This file exists and will be replaced." if exists else "")

    @on(Input.Submitted, "#export-path")
    @on(Button.Pressed, "#export-ok")
    def _export(self) -> None:
        value = self.query_one("#export-path", Input).value.strip()
        if not value:
            self.notify("Give a file path to export to.", severity="warning")
            return
        self.dismiss(ExportRequest(Path(value).expanduser(), self._format))

    @on(Button.Pressed, "#export-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
