"""Overview: headline KPIs, revenue over time, and which data is present."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.reactive import reactive
from textual.widgets import Label, Static
from textual.worker import Worker, WorkerState

from shopper_tui.jobs import job_progress
from shopper_tui.widgets import BarChart, KpiCard, ShopperScreen, compact_number, no_data_text

if TYPE_CHECKING:
    import polars as pl

    from shopper_tui.analytics.overview import Kpis
    from shopper_tui.analytics.workspace import Workspace

__all__ = ["OverviewScreen", "OverviewData", "PERIODS"]

PERIODS = ("month", "week", "day")
_CARDS = (
    ("customers", "Customers"),
    ("buyers", "Buyers"),
    ("orders", "Orders"),
    ("revenue", "Revenue"),
    ("aov", "Avg order value"),
    ("repeat", "Repeat rate"),
    ("lost", "Cancel / return"),
    ("range", "Order dates"),
)
_MISSING_HINTS = {
    "events": "No events: Funnels and Experiments need events (session_id, ts, event_type).",
    "reviews": "No reviews: the Reviews screen needs reviews (review_id, product_id, text).",
}


@dataclass(frozen=True)
class OverviewData:
    """What the overview worker computed."""

    kpis: Kpis
    series: pl.DataFrame
    period: str
    present: frozenset[str]


def _money(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.2f}"


def _reconciliation_text(k: Kpis) -> str:
    """Revenue's parts and every order line read, in two short lines (values per kind: Data)."""
    head = f"Revenue {k.revenue:,.2f}"
    if k.charge_revenue:
        head += f" = products {k.revenue - k.charge_revenue:,.2f} + charges {k.charge_revenue:,.2f}"
    if k.guest_orders:
        head += f" · guests {k.guest_revenue:,.2f}"
    if round(k.net_revenue, 2) != round(k.revenue, 2):
        head += f" · net {k.net_revenue:,.2f}"
    rec = k.reconciliation
    parts = " · ".join(f"{r['kind'].removeprefix('sold ')} {r['lines']:,}"
                       for r in rec.rows.iter_rows(named=True) if r["lines"])
    return (f"{head}\nLines read {rec.lines_read:,} (Σ quantity × price {rec.value_read:,.2f}): "
            f"{parts or 'none'} · 9 v: reconciliation")


class OverviewScreen(ShopperScreen):
    """Headline numbers of the open workspace."""

    MODE = "overview"
    TITLE_TEXT = "Overview"
    BINDINGS = [Binding("p", "next_period", "Day/week/month")]

    period: reactive[str] = reactive("month", init=False)

    def compose_body(self) -> ComposeResult:
        with Vertical(id="overview"):
            with Grid(id="kpi-grid"):
                for key, label in _CARDS:
                    yield KpiCard(label, id=f"kpi-{key}")
            yield Label("Revenue", id="chart-title", markup=False)
            yield BarChart(id="revenue-chart")
            yield Static("Opening workspace…", id="presence", markup=False)

    def watch_workspace(self, workspace: Workspace | None) -> None:
        if workspace is not None:
            self.load(workspace, self.period)

    def watch_period(self, period: str) -> None:
        if self.workspace is not None:
            self.load(self.workspace, period)

    def action_next_period(self) -> None:
        self.period = PERIODS[(PERIODS.index(self.period) + 1) % len(PERIODS)]

    @work(thread=True, exclusive=True, exit_on_error=False, group="overview")
    def load(self, workspace: Workspace, period: str) -> OverviewData:
        progress = job_progress("Overview")
        # imported here, not at module level: the first paint does not wait for Polars/DuckDB
        from shopper_tui.analytics.overview import kpis, revenue_over_time

        progress("headline numbers", None)
        numbers = kpis(workspace)
        progress(f"revenue per {period}", None)
        series = revenue_over_time(workspace, period=period)
        return OverviewData(numbers, series, period, frozenset(workspace.present))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "overview" and event.state is WorkerState.SUCCESS:
            self.show(event.worker.result)  # type: ignore[arg-type]

    def show(self, data: OverviewData) -> None:
        k = data.kpis

        def card(key: str, value: str, note: str = "") -> None:
            self.query_one(f"#kpi-{key}", KpiCard).show(value, note)

        card("customers", f"{k.customers:,}", "on file")
        card("buyers", f"{k.buyers:,}", f"{k.buyers / k.customers:.0%} have bought" if k.customers else "")
        card("orders", f"{k.orders:,}", f"{k.guest_orders:,} by guests" if k.guest_orders else "purchases")
        card("revenue", _money(k.revenue), f"net {_money(k.net_revenue)}")
        card("aov", _money(k.average_order_value), "revenue/orders")
        card("repeat", f"{k.repeat_purchase_rate:.1%}", "bought 2+ times")
        card("lost", f"{k.cancelled_orders:,} / {k.returned_orders:,}", "not in revenue")
        if k.first_order and k.last_order:
            card("range", f"{k.first_order:%Y-%m-%d}", f"to {k.last_order:%Y-%m-%d}")
        else:
            card("range", "—", "no orders")
        chart = self.query_one(BarChart)
        periods = data.series.get_column("period").to_list()
        values = data.series.get_column("revenue").to_list()
        chart.set_series(periods, values)
        self.call_after_refresh(self._title_chart, data)
        present = []
        present.append(f"sessions {k.sessions:,}" if "events" in data.present else "sessions —")
        present.append(f"reviews {k.reviews:,}" if "reviews" in data.present else "reviews —")
        lines = [_reconciliation_text(k), "Data present: " + " · ".join(present) + " · 9: every table"]
        lines += [hint for table, hint in _MISSING_HINTS.items() if table not in data.present]
        self.query_one("#presence", Static).update("\n".join(lines))

    def show_no_data(self, message: str) -> None:
        self.query_one("#presence", Static).update(
            no_data_text(message)
        )

    def _title_chart(self, data: OverviewData) -> None:
        chart = self.query_one(BarChart)
        n = data.series.height
        title = f"Revenue per {data.period}"
        if n:
            values = data.series.get_column("revenue")
            best = int(values.arg_max() or 0)
            peak = data.series.get_column("period")[best]
            when = f"{peak:%b %Y}" if data.period == "month" else f"{data.period} of {peak:%Y-%m-%d}"
            title += f" · peak {compact_number(values[best])} in {when}"
            if chart.shown and chart.shown < n:
                title += f" · last {chart.shown} of {n} {data.period}s"
        title += " · p: period"
        self.query_one("#chart-title", Label).update(title)
