"""A bar chart of a time series in block characters, with value and calendar axes.

Hand-rolled (eighth blocks for the bar tops): one bar per period, the y axis labelled with
0, the middle and the top value, the x axis with month names and years. When there are more
periods than columns the most recent ones are shown and :attr:`BarChart.shown` says how many.
"""

from __future__ import annotations

from datetime import date

from rich.text import Text
from textual.widget import Widget

__all__ = ["BarChart", "compact_number"]

_EIGHTHS = " ▁▂▃▄▅▆▇█"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def counted(n: int, noun: str) -> str:
    """``1`` review, ``1,234`` reviews: the count with its noun in the right number."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def compact_number(value: float) -> str:
    """``1234`` → ``1.2k``, ``2_500_000`` → ``2.5M``; small numbers as integers."""
    size = abs(value)
    if size >= 1e9:
        return f"{value / 1e9:.1f}G"
    if size >= 1e6:
        return f"{value / 1e6:.1f}M"
    if size >= 1e4:
        return f"{value / 1e3:.0f}k"
    if size >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:.0f}"


class BarChart(Widget):
    """Bars for (period start, value) pairs. Call :meth:`set_series` to fill it."""

    DEFAULT_CLASSES = "bar-chart"
    COMPONENT_CLASSES = {"bar-chart--bar", "bar-chart--axis", "bar-chart--label"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.periods: list[date] = []
        self.values: list[float] = []
        self.shown = 0
        self.filled = False  # no series yet: the data is still loading (or importing)

    def set_series(self, periods: list[date], values: list[float]) -> None:
        self.periods, self.values = list(periods), [float(v) for v in values]
        self.filled = True
        self.refresh()

    def render(self) -> Text:
        width, height = self.size.width, self.size.height
        if not self.filled:
            return Text("…", style="dim")  # as the figures above it say while they load
        if not self.values:
            self.shown = 0
            return Text("No completed orders to chart.", style="dim")
        bar_style = self.get_component_rich_style("bar-chart--bar")
        axis_style = self.get_component_rich_style("bar-chart--axis")
        label_style = self.get_component_rich_style("bar-chart--label")
        rows = max(height - 3, 1)
        top = max(self.values) or 1.0
        ticks = {0: compact_number(top), rows // 2: compact_number(top * (rows - rows // 2) / rows), rows - 1: "0"}
        y_width = max(len(t) for t in ticks.values()) + 1
        plot_width = max(width - y_width - 1, 1)
        n = min(len(self.values), plot_width)
        periods, values = self.periods[-n:], self.values[-n:]
        self.shown = n
        step = max(1, min(8, plot_width // n))
        bar_width = step - 2 if step >= 6 else step - 1 if step >= 3 else step
        heights = [round(v / top * rows * 8) for v in values]
        out = Text(no_wrap=True, overflow="crop")
        for r in range(rows):
            level = rows - 1 - r
            out.append(f"{ticks.get(r, ''):>{y_width - 1}} ", style=label_style)
            out.append("┤" if r in ticks else "│", style=axis_style)
            line = []
            for h in heights:
                fill = h - level * 8
                char = _EIGHTHS[max(0, min(8, fill))]
                line.append(char * bar_width + " " * (step - bar_width))
            out.append("".join(line), style=bar_style)
            out.append("\n")
        out.append(" " * y_width + "└" + "─" * min(plot_width, n * step), style=axis_style)
        out.append("\n")
        out.append_text(self._labels(periods, y_width + 1, step, label_style))
        return out

    @staticmethod
    def _labels(periods: list[date], indent: int, step: int, style: object) -> Text:
        """Two lines: month names where a month starts (if room), then years where they start."""
        months = [" "] * (len(periods) * step + 6)
        years = [" "] * (len(periods) * step + 6)
        free_m = free_y = 0
        previous: date | None = None
        for i, p in enumerate(periods):
            x = i * step
            new_month = previous is None or (p.year, p.month) != (previous.year, previous.month)
            new_year = previous is None or p.year != previous.year
            previous = p
            if new_month and x >= free_m:
                name = _MONTHS[p.month - 1]
                months[x : x + 3] = name
                free_m = x + 4
            if new_year and x >= free_y:
                years[x : x + 4] = str(p.year)
                free_y = x + 5
        text = Text(" " * indent + "".join(months).rstrip(), style=style, no_wrap=True, overflow="crop")
        text.append("\n" + " " * indent + "".join(years).rstrip())
        return text
