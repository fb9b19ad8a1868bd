"""The customer view: one customer's profile, RFM, segment, timelines and categories.

Shown by the Segments screen when the analyst presses ``enter`` on a customer. It only
renders a :class:`~shopper_tui.analytics.customers.CustomerDetail` computed by the screen's
worker; names and emails arrive already masked unless the app runs with ``--show-pii``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static, TabbedContent, TabPane

from shopper_tui.widgets import FrameTable

if TYPE_CHECKING:
    from shopper_tui.analytics.customers import CustomerDetail

__all__ = ["CustomerView"]

_PROFILE_FIELDS = ("name", "email", "country", "age", "gender", "signup_ts")


def _value(value: Any) -> str:
    if value is None:
        return "—"
    if hasattr(value, "strftime"):
        return f"{value:%Y-%m-%d}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def _lines(rows: list[tuple[str, str]], width: int = 11) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    for i, (label, value) in enumerate(rows):
        if i:
            text.append("\n")
        text.append(f"{label:<{width}}", style="bold")
        text.append(value)  # data, never markup
    return text


class CustomerView(Vertical):
    """Profile, RFM and segment cards over tabs with orders, events and categories."""

    DEFAULT_CLASSES = "customer-view"

    def compose(self) -> ComposeResult:
        with Horizontal(id="cust-cards"):
            yield Static("", id="cust-profile", classes="cust-card", markup=False)
            yield Static("", id="cust-rfm", classes="cust-card", markup=False)
            yield Static("", id="cust-segment", classes="cust-card", markup=False)
        with TabbedContent(id="cust-tabs"):
            with TabPane("Orders", id="cust-tab-orders"):
                yield FrameTable(name="customer_orders", id="cust-orders", empty_text="No orders.")
            with TabPane("Events", id="cust-tab-events"):
                yield FrameTable(name="customer_events", id="cust-events", empty_text="No events.")
            with TabPane("Categories bought", id="cust-tab-categories"):
                yield FrameTable(name="customer_categories", id="cust-categories", empty_text="No purchases.")

    def on_mount(self) -> None:
        self.query_one("#cust-profile").border_title = "Profile"
        self.query_one("#cust-rfm").border_title = "RFM"
        self.query_one("#cust-segment").border_title = "Segment"

    def show(self, detail: CustomerDetail, *, show_pii: bool) -> None:
        """Fill the view with ``detail``."""
        p = detail.profile
        rows = [("customer", detail.customer_id)]
        rows += [(f, _value(p.get(f))) for f in _PROFILE_FIELDS if f in p]
        if not p:
            rows.append(("", "not in the customers table"))
        elif not show_pii:
            rows.append(("", "name, email masked (--show-pii)"))
        self.query_one("#cust-profile", Static).update(_lines(rows))

        if detail.rfm is None:
            rfm = _lines([("", "no completed purchase:"), ("", "no RFM values")])
        else:
            r, life = detail.rfm, detail.lifetimes or {}
            rfm = _lines([
                ("recency", f"{r['recency_days']:,} days ago"),
                ("frequency", f"{r['orders']:,} orders"),
                ("monetary", f"{r['spend']:,.2f}"),  # the total spend; short enough for an 80-column card
                ("scores", f"R{r['r_score']} F{r['f_score']} M{r['m_score']} · {r['segment']}"),
                ("lifetimes", f"f {life.get('frequency', 0):.0f} · r {life.get('recency', 0):.0f}"
                              f" · T {life.get('T', 0):.0f} days"),
                ("", f"mean repeat {life.get('monetary_value', 0):,.2f}"),
            ])
        self.query_one("#cust-rfm", Static).update(rfm)

        completed = detail.orders.filter(detail.orders["status"] == "completed").height if detail.orders.height else 0
        seg_rows = [
            ("segment", detail.segment if detail.segment is not None else "not segmented"),
            ("membership", f"{detail.probability:.0%}" if detail.probability is not None else "—"),
            ("orders", f"{detail.orders.height:,} ({completed:,} completed)"),
            ("events", f"{detail.events_total:,}" + (f" (latest {detail.events.height:,} shown)"
                                                    if detail.events_total > detail.events.height else "")),
            ("categories", ", ".join(detail.categories["category"].head(3).to_list()) or "—"),
            ("", "r: recommendations"),
        ]
        self.query_one("#cust-segment", Static).update(_lines(seg_rows))
        self.query_one("#cust-orders", FrameTable).set_frame(detail.orders, name=f"orders_{detail.customer_id}")
        self.query_one("#cust-events", FrameTable).set_frame(detail.events, name=f"events_{detail.customer_id}")
        self.query_one("#cust-categories", FrameTable).set_frame(
            detail.categories, name=f"categories_{detail.customer_id}"
        )
        self.query_one(TabbedContent).active = "cust-tab-orders"

    def focus_table(self) -> None:
        table = self.query_one("#cust-orders", FrameTable).data_table
        if table is not None:
            table.focus()
