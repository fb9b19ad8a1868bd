"""A heatmap: rows × columns of numbers, each cell coloured by value with the value printed.

Built on the Line API (:class:`~textual.scroll_view.ScrollView` + ``render_line``), so only
the visible cells are drawn: 200 columns scroll as fast as 5. The header line (column
labels, abbreviated to the cell width), the row labels on the left and the legend line at
the bottom stay put while the cells scroll. Null cells are blank. Arrow keys (and the
mouse) move a cursor; the widget posts :class:`Heatmap.CellHighlighted` when it moves and
:class:`Heatmap.CellChosen` on ``enter`` (or a second click on the same cell).

Use::

    heatmap = Heatmap(id="affinity-map")
    heatmap.set_data(["Champions", "Lost"], ["Beauty", "Outdoor"], [[53.1, 143.0], [None, 52.7]],
                     fmt=lambda v: f"{v:.0f}", centre=100, log=True)   # diverging around 100

Colour scales: sequential (low → high, ``scale=(min, max)`` or the data's range) or, with
``centre``, diverging (blue below the centre, neutral at it, orange above); ``log=True``
measures the distance from the centre as a ratio, so 50 and 200 are equally far from 100.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.color import Color, Gradient
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from .printable import printable

__all__ = ["Heatmap", "abbreviate", "default_format"]

Value = float | None
_SEQUENTIAL = Gradient((0.0, Color.parse("#1d2b4f")), (0.5, Color.parse("#2f7f9e")), (1.0, Color.parse("#e8d44d")))
_DIVERGING = Gradient((0.0, Color.parse("#2b59c3")), (0.5, Color.parse("#4a4a52")), (1.0, Color.parse("#e8743b")))


def default_format(value: float) -> str:
    """Compact number: 3 significant figures, no exponent for everyday sizes."""
    size = abs(value)
    if size >= 10_000:
        return f"{value / 1000:.0f}k"
    if size >= 100:
        return f"{value:.0f}"
    if size >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def abbreviate(label: str, width: int) -> str:
    """``label`` in at most ``width`` characters: whole if it fits, else cut with an ellipsis
    (two-word labels keep each word's start: "Home & Garden" → "Ho&Ga")."""
    if width <= 0:
        return ""
    if len(label) <= width:
        return label
    if width == 1:
        return label[0]
    words = [w for w in label.replace("&", " & ").split() if w]
    real = [w for w in words if w != "&"]
    if len(real) == 2 and len(words) <= width:
        each = max(1, (width - (len(words) - len(real))) // max(len(real), 1))
        joined = "".join(w[:each] if w != "&" else "&" for w in words)
        if len(joined) <= width:
            return joined
    return label[: width - 1] + "…"


@dataclass(frozen=True)
class _Scale:
    low: float
    high: float
    centre: float | None
    log: bool

    def position(self, value: float) -> float:
        """Where ``value`` falls on the gradient, 0…1."""
        if self.centre is None:
            span = self.high - self.low
            return 0.5 if span <= 0 else min(max((value - self.low) / span, 0.0), 1.0)
        if self.log:
            if value <= 0 or self.centre <= 0:
                return 0.0
            d = math.log(value / self.centre)
            span = max(abs(math.log(self.low / self.centre)) if self.low > 0 else 0.0,
                       abs(math.log(self.high / self.centre)) if self.high > 0 else 0.0)
        else:
            d = value - self.centre
            span = max(abs(self.low - self.centre), abs(self.high - self.centre))
        if span <= 0:
            return 0.5
        return min(max(0.5 + 0.5 * d / span, 0.0), 1.0)


class Heatmap(ScrollView, can_focus=True):
    """A scrolling, keyboard-driven heatmap. Fill it with :meth:`set_data`.

    Attributes:
        cursor: (row, column) of the highlighted cell.
    """

    DEFAULT_CLASSES = "heatmap"
    HELP_TITLE = "Heatmap"
    COMPONENT_CLASSES = {"heatmap--header", "heatmap--label", "heatmap--cursor-label", "heatmap--legend"}
    DEFAULT_CSS = """
    Heatmap { height: 1fr; width: 1fr; background: $surface; }
    Heatmap > .heatmap--header { color: $text-muted; text-style: bold; }
    Heatmap > .heatmap--label { color: $text; }
    Heatmap > .heatmap--cursor-label { color: $accent; text-style: bold; }
    Heatmap > .heatmap--legend { color: $text-muted; }
    """
    BINDINGS = [
        Binding("up", "move(-1, 0)", "Up", show=False),
        Binding("down", "move(1, 0)", "Down", show=False),
        Binding("left", "move(0, -1)", "Left", show=False),
        Binding("right", "move(0, 1)", "Right", show=False),
        Binding("home", "edge(-1)", "First column", show=False),
        Binding("end", "edge(1)", "Last column", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("enter", "choose", "Open cell"),
    ]

    @dataclass
    class _CellMessage(Message):
        """A message about the cell at (row, column)."""

        heatmap: Heatmap
        row: int
        column: int
        value: Value

        @property
        def control(self) -> Heatmap:
            return self.heatmap

    class CellHighlighted(_CellMessage):
        """The cursor moved to (row, column)."""

    class CellChosen(_CellMessage):
        """``enter`` (or a second click) on the cell at (row, column)."""

    cursor: reactive[tuple[int, int]] = reactive((0, 0), init=False, always_update=True)

    def __init__(self, *, empty_text: str = "No data.", max_label_width: int = 24,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.empty_text = empty_text
        self.max_label_width = max_label_width
        self.row_labels: list[str] = []
        self.col_labels: list[str] = []
        self.values: list[list[Value]] = []
        self.fmt: Callable[[float], str] = default_format
        self._scale = _Scale(0.0, 1.0, None, False)
        self._texts: list[list[str]] = []
        self._styles: list[list[Style | None]] = []
        self._value_width = 6
        self.legend_text = ""

    # -- public ----------------------------------------------------------------------------
    def set_data(
        self,
        row_labels: Sequence[str],
        col_labels: Sequence[str],
        values: Sequence[Sequence[Value]],
        *,
        fmt: Callable[[float], str] | None = None,
        scale: tuple[float, float] | None = None,
        centre: float | None = None,
        log: bool = False,
        legend: str = "",
        cursor: tuple[int, int] | None = None,
    ) -> None:
        """Show a new grid.

        Args:
            row_labels: One label per row.
            col_labels: One label per column (abbreviated to the cell width in the header).
            values: ``values[row][column]``; None (or NaN) is a blank cell.
            fmt: Formats a value for its cell (default: :func:`default_format`).
            scale: (min, max) of the colour scale; default: the data's range.
            centre: Makes the scale diverging around this value (e.g. 100 for an index).
            log: With ``centre``: distance from the centre as a ratio (for indices and lifts).
            legend: A word on what the colour means, shown before the scale in the legend.
            cursor: Where to put the cursor (default: keep it, clamped to the new grid).
        """
        self.row_labels = [str(r) for r in row_labels]
        self.col_labels = [str(c) for c in col_labels]
        self.values = [[None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)
                        for v in row] for row in values]
        self.fmt = fmt or default_format
        finite = [v for row in self.values for v in row if v is not None]
        if log and centre is not None:
            finite = [v for v in finite if v > 0]
        low, high = scale if scale is not None else ((min(finite), max(finite)) if finite else (0.0, 1.0))
        self._scale = _Scale(float(low), float(high), centre, log)
        self._texts = [[self.fmt(v) if v is not None else "" for v in row] for row in self.values]
        widest = max((len(t) for row in self._texts for t in row), default=3)
        self._value_width = max(widest + 2, 6)
        gradient = _DIVERGING if centre is not None else _SEQUENTIAL
        self._styles = [[self._style(v, gradient) for v in row] for row in self.values]
        self.legend_text = legend
        rows, cols = len(self.row_labels), len(self.col_labels)
        r, c = cursor if cursor is not None else self.cursor
        self.set_reactive(Heatmap.cursor, (min(max(r, 0), max(rows - 1, 0)), min(max(c, 0), max(cols - 1, 0))))
        self._update_virtual_size()
        self.refresh()
        if rows and cols:
            self.call_after_refresh(self._show_cursor)
            self._post_highlight()

    def value_at(self, row: int, column: int) -> Value:
        try:
            return self.values[row][column]
        except IndexError:
            return None

    def color_of(self, value: float) -> Color:
        """The background colour a value gets on the current scale."""
        gradient = _DIVERGING if self._scale.centre is not None else _SEQUENTIAL
        return gradient.get_color(self._scale.position(value))

    # -- geometry --------------------------------------------------------------------------
    @property
    def _view(self) -> Size:
        """The visible cell area (without the scrollbars)."""
        return self.scrollable_content_region.size

    @property
    def label_width(self) -> int:
        widest = max((len(r) for r in self.row_labels), default=0)
        cap = max(8, min(self.max_label_width, self._view.width // 3 if self._view.width else self.max_label_width))
        return min(widest, cap) + 1

    @property
    def cell_width(self) -> int:
        """Characters per cell: wide enough for the values, and for whole column labels (up to
        16 characters) when every column then still fits the width."""
        base = self._value_width
        if not self.col_labels:
            return base
        want = max(base, min(max(len(c) for c in self.col_labels) + 1, 16))
        if want > base and len(self.col_labels) * want <= self._view.width - self.label_width:
            return want
        return base

    def _update_virtual_size(self) -> None:
        width = self.label_width + len(self.col_labels) * self.cell_width
        self.virtual_size = Size(width, len(self.row_labels) + 2)

    def on_resize(self, event: events.Resize) -> None:
        self._update_virtual_size()
        self._show_cursor()

    def _body_height(self) -> int:
        return max(self._view.height - 2, 1)

    def _style(self, value: Value, gradient: Gradient) -> Style | None:
        if value is None:
            return None
        bg = gradient.get_color(self._scale.position(value))
        return Style(bgcolor=bg.rich_color, color=bg.get_contrast_text(1.0).rich_color)

    # -- rendering -------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self._view.width
        if not self.row_labels or not self.col_labels:
            import textwrap

            lines = textwrap.wrap(printable(self.empty_text), max(width, 1)) or [""]  # a reason must be read whole
            if y < len(lines):
                return Strip([Segment(lines[y][:width].ljust(width), self.rich_style)])
            return Strip.blank(width, self.rich_style)
        if y == self._view.height - 1 and self._view.height >= 3:
            return self._legend_line(width)
        scroll_x, scroll_y = int(self.scroll_offset.x), int(self.scroll_offset.y)
        label_w = self.label_width
        cw = self.cell_width
        cols_w = max(width - label_w, 0)
        first = scroll_x // cw
        last = min(len(self.col_labels), (scroll_x + cols_w) // cw + 1)
        row_c, col_c = self.cursor
        base = self.rich_style
        if y == 0:
            header = self.get_component_rich_style("heatmap--header")
            left = [Segment(" " * label_w, base)]
            cells = []
            for c in range(first, last):
                text = abbreviate(printable(self.col_labels[c]), cw - 1).center(cw - 1) + " "
                style = header + Style(reverse=True) if c == col_c and self.has_focus else header
                cells.append(Segment(text, style))
        else:
            r = scroll_y + y - 1
            if r >= len(self.row_labels):
                return Strip.blank(width, base)
            label_style = self.get_component_rich_style(
                "heatmap--cursor-label" if r == row_c else "heatmap--label")
            label = printable(self.row_labels[r])  # labels are data: painted as raw segments
            label = label if len(label) <= label_w - 1 else label[: label_w - 2] + "…"
            left = [Segment(label.ljust(label_w), label_style)]
            cells = []
            for c in range(first, last):
                text = self._texts[r][c].rjust(cw - 1) + " "
                style = self._styles[r][c] or base
                if r == row_c and c == col_c:
                    style = style + Style(bold=True, underline=True, reverse=self.has_focus)
                cells.append(Segment(text, style))
        offset = scroll_x - first * cw
        body = Strip(cells).crop(offset, offset + cols_w)
        strip = Strip.join([Strip(left).crop(0, label_w), body])
        return strip.extend_cell_length(width, base).crop(0, width)

    def _legend_line(self, width: int) -> Strip:
        style = self.get_component_rich_style("heatmap--legend")
        sc = self._scale
        gradient = _DIVERGING if sc.centre is not None else _SEQUENTIAL
        segs = [Segment(f" {self.legend_text + ': ' if self.legend_text else ''}{self.fmt(sc.low)} ", style)]
        steps = min(12, max(4, (width - 40) // 2))
        for k in range(steps):
            segs.append(Segment("  ", Style(bgcolor=gradient.get_color(k / (steps - 1)).rich_color)))
        tail = f" {self.fmt(sc.high)}"
        if sc.centre is not None:
            tail += f" · middle = {self.fmt(sc.centre)}"
        tail += " · blank = none"
        segs.append(Segment(tail, style))
        return Strip(segs).extend_cell_length(width, self.rich_style).crop(0, width)

    # -- cursor ----------------------------------------------------------------------------
    def watch_cursor(self, old: tuple[int, int], new: tuple[int, int]) -> None:
        self._show_cursor()
        self.refresh()
        if old != new:
            self._post_highlight()

    def _post_highlight(self) -> None:
        r, c = self.cursor
        if self.row_labels and self.col_labels:
            self.post_message(self.CellHighlighted(self, r, c, self.value_at(r, c)))

    def _show_cursor(self) -> None:
        if not self.row_labels or not self.col_labels or not self._view.width:
            return
        r, c = self.cursor
        cw = self.cell_width
        cols_w = max(self._view.width - self.label_width, cw)
        x = self.scroll_offset.x
        if c * cw < x:
            x = c * cw
        elif (c + 1) * cw > x + cols_w:
            x = (c + 1) * cw - cols_w
        y = self.scroll_offset.y
        body = self._body_height()
        if r < y:
            y = r
        elif r >= y + body:
            y = r - body + 1
        self.scroll_to(x=x, y=y, animate=False, immediate=True)

    def action_move(self, dr: int, dc: int) -> None:
        if not self.row_labels or not self.col_labels:
            return
        r, c = self.cursor
        self.cursor = (min(max(r + dr, 0), len(self.row_labels) - 1), min(max(c + dc, 0), len(self.col_labels) - 1))

    def action_edge(self, side: int) -> None:
        if self.col_labels:
            self.cursor = (self.cursor[0], 0 if side < 0 else len(self.col_labels) - 1)

    def action_page(self, direction: int) -> None:
        self.action_move(direction * self._body_height(), 0)

    def action_choose(self) -> None:
        if self.row_labels and self.col_labels:
            r, c = self.cursor
            self.post_message(self.CellChosen(self, r, c, self.value_at(r, c)))

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def on_click(self, event: events.Click) -> None:
        if not self.row_labels or not self.col_labels:
            return
        x, y = event.x, event.y
        if y < 1 or y >= self._view.height - 1 or x < self.label_width:
            return
        r = int(self.scroll_offset.y) + y - 1
        c = (int(self.scroll_offset.x) + x - self.label_width) // self.cell_width
        if r < len(self.row_labels) and c < len(self.col_labels):
            if (r, c) == self.cursor:
                self.action_choose()
            else:
                self.cursor = (r, c)
