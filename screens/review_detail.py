"""The Reviews screen's dialogs: one review in full (aspect sentences highlighted) and the filters.

Review text is data: it is shown through :class:`rich.text.Text`, never parsed as markup.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import date
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

if TYPE_CHECKING:
    from shopper_tui.analytics.reviews import ReviewDetail

__all__ = ["ReviewFilter", "ReviewDetailScreen", "ReviewFilterDialog", "highlighted_text", "SENTIMENT_STYLES"]

#: How a sentence that drove an aspect is highlighted, by the aspect's sentiment there.
SENTIMENT_STYLES = {"positive": "bold green underline", "neutral": "bold yellow underline",
                    "negative": "bold red underline"}
RATINGS = {"any": None, "1★": 1, "2★": 2, "3★": 3, "4★": 4, "5★": 5, "1–2★": (1, 2), "4–5★": (4, 5)}


@dataclass(frozen=True)
class ReviewFilter:
    """The Reviews screen's filters (None: not filtered).

    ``product`` is a product_id or part of a product name; ``segment`` a segment_id of the
    app's segmentation; ``rating`` a star value or an inclusive range.
    """

    product: str | None = None
    category: str | None = None
    segment: int | None = None
    rating: int | tuple[int, int] | None = None
    since: date | None = None
    until: date | None = None
    sentiment: str | None = None
    aspect: str | None = None

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self))

    def describe(self, segment_names: dict[int, str] | None = None) -> str:
        parts = []
        if self.product is not None:
            parts.append(f"product {self.product}")
        if self.category is not None:
            parts.append(f"category {self.category}")
        if self.segment is not None:
            name = (segment_names or {}).get(self.segment)
            parts.append(f"segment {self.segment}" + (f" ({name})" if name else ""))
        if self.rating is not None:
            r = self.rating
            parts.append(f"rating {r}★" if isinstance(r, int) else f"rating {r[0]}–{r[1]}★")
        if self.since is not None or self.until is not None:
            parts.append(f"dates {self.since or '…'} to {self.until or '…'}")
        if self.sentiment is not None:
            parts.append(f"{self.sentiment} reviews")
        if self.aspect is not None:
            parts.append(f"mentions {self.aspect}")
        return " · ".join(parts) if parts else "none"

    def with_(self, **changes: Any) -> ReviewFilter:
        return replace(self, **changes)


def highlighted_text(detail: ReviewDetail) -> Text:
    """The review's analysed text with each aspect sentence styled by its sentiment."""
    text = Text(detail.document)
    for m in detail.mentions:
        text.stylize(SENTIMENT_STYLES.get(m["sentiment"], "bold"), m["start"], m["end"])
    return text


class ReviewDetailScreen(ModalScreen[None]):
    """One review: who, what, stars, sentiment, its full text and the aspect sentences."""

    BINDINGS = [Binding("escape", "dismiss", "Back"), Binding("enter", "dismiss", "Back", show=False)]

    def __init__(self, detail: ReviewDetail, product_name: str | None = None) -> None:
        super().__init__(classes="review-detail-screen")
        self.detail = detail
        self.product_name = product_name

    def compose(self) -> ComposeResult:
        d = self.detail
        head = Text(f"Review {d.review_id}", style="bold")
        stars = f"{'★' * d.rating}{'☆' * (5 - d.rating)}" if d.rating is not None else "no rating"
        head.append(f"   {stars}")
        if d.ts is not None:
            head.append(f"   {d.ts:%Y-%m-%d}")
        head.append(f"   {d.sentiment} ({d.score:+.2f}, {d.model})",
                    style=SENTIMENT_STYLES.get(d.sentiment, "").replace(" underline", ""))
        who = Text("product ", style="dim")
        who.append(d.product_id or "—")
        if self.product_name:
            who.append(f" {self.product_name}")
        who.append("   customer ", style="dim")
        who.append(d.customer_id or "anonymous")
        aspects = Text()
        if not d.mentions:
            aspects.append("No aspect mentioned.", style="dim")
        for i, m in enumerate(d.mentions):
            if i:
                aspects.append("\n")
            aspects.append(f"{m['aspect']:<10} {m['sentiment']:<8}", style=SENTIMENT_STYLES.get(m["sentiment"], ""))
            aspects.append(f" “{m['keyword']}”  ", style="dim")
            aspects.append(m["sentence"])
        with Vertical(id="review-dialog"):
            yield Static(head, id="review-head")
            yield Static(who, id="review-who")
            with VerticalScroll(id="review-body"):
                yield Static(highlighted_text(d), id="review-text")
            yield Label("Sentences that drove each aspect", classes="review-section")
            with VerticalScroll(id="review-aspects"):
                yield Static(aspects, id="review-mentions")
            yield Label("escape back", classes="review-hint")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)


class ReviewFilterDialog(ModalScreen["ReviewFilter | None"]):
    """Every filter of the Reviews screen; ``enter``/Apply returns the new filter."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: ReviewFilter, *, categories: list[str], aspects: list[str],
                 segments: dict[int, str]) -> None:
        super().__init__(classes="review-filter-screen")
        self.current = current
        self.categories = categories
        self.aspects = aspects
        self.segments = segments

    def compose(self) -> ComposeResult:
        c = self.current
        rating_key = next((k for k, v in RATINGS.items() if v == c.rating), "any")
        with Vertical(id="filter-dialog"):
            yield Label("Filter reviews", id="filter-title")
            with Grid(id="filter-grid"):
                yield Label("Product")
                yield Input(c.product or "", placeholder="product_id or part of its name", id="f-product")
                yield Label("Category")
                yield Select([(x, x) for x in self.categories], value=c.category or Select.NULL,
                             prompt="any", id="f-category")
                yield Label("Segment")
                yield Select([(f"{k} {v}", k) for k, v in self.segments.items()],
                             value=c.segment if c.segment in self.segments else Select.NULL,
                             prompt="any" if self.segments else "any (no segmentation yet)",
                             disabled=not self.segments, id="f-segment")
                yield Label("Rating")
                yield Select([(k, k) for k in RATINGS], value=rating_key, allow_blank=False, id="f-rating")
                yield Label("From")
                yield Input(str(c.since or ""), placeholder="YYYY-MM-DD", id="f-since")
                yield Label("To")
                yield Input(str(c.until or ""), placeholder="YYYY-MM-DD (inclusive)", id="f-until")
                yield Label("Sentiment")
                yield Select([(x, x) for x in ("positive", "neutral", "negative")],
                             value=c.sentiment or Select.NULL, prompt="any", id="f-sentiment")
                yield Label("Aspect")
                yield Select([(x, x) for x in self.aspects], value=c.aspect if c.aspect in self.aspects
                             else Select.NULL, prompt="any", id="f-aspect")
            with Horizontal(id="filter-buttons"):
                yield Button("Apply", variant="primary", id="f-apply")
                yield Button("Clear all", id="f-clear")
                yield Button("Cancel", id="f-cancel")

    def _value(self, wid: str) -> Any:
        value = self.query_one(wid, Select).value
        return None if value is Select.NULL else value

    def _date(self, wid: str) -> date | None:
        raw = self.query_one(wid, Input).value.strip()
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"'{raw}' is not a date (YYYY-MM-DD).") from None

    def _collect(self) -> ReviewFilter | None:
        try:
            since, until = self._date("#f-since"), self._date("#f-until")
        except ValueError as exc:
            self.notify(str(exc), title="Filter", severity="warning")
            return None
        product = self.query_one("#f-product", Input).value.strip() or None
        return ReviewFilter(product=product, category=self._value("#f-category"), segment=self._value("#f-segment"),
                            rating=RATINGS[self.query_one("#f-rating", Select).value], since=since, until=until,
                            sentiment=self._value("#f-sentiment"), aspect=self._value("#f-aspect"))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._apply()

    def _apply(self) -> None:
        chosen = self._collect()
        if chosen is not None:
            self.dismiss(chosen)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "f-apply":
            self._apply()
        elif event.button.id == "f-clear":
            self.dismiss(ReviewFilter())
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
