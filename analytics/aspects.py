"""Aspect-based sentiment: what a review says about price, quality, service, shipping and fit.

Definition used (rule-based, sentence level, explainable — every mention points at the
sentence that produced it):

1. The review document (title line, then the body, HTML removed; see :func:`clean_text`) is
   split into sentences at ``. ! ?`` and line breaks.
2. A sentence is cut into *clauses* at contrast words (but, however, although, though, yet,
   except, whereas, while, despite) and semicolons, so "great quality but overpriced" gives
   "great quality" (quality, positive) and "overpriced" (price, negative).
3. An aspect is *mentioned* in a clause when one of its keywords or phrases occurs there
   (:data:`DEFAULT_ASPECTS`, plus user aspects: aspect → keywords). "cheap" next to
   material / fabric / made / feels / looks is a quality word, otherwise a price word.
4. The mention's score is VADER's compound score (−1…1) of the narrowest span around the
   keyword that carries sentiment: the comma/"and"-separated part of the clause holding the
   keyword, else the whole clause. VADER handles negation ("not worth it", "didn't fit")
   and intensifiers; its lexicon is extended per aspect with words whose polarity depends
   on the aspect ("cheap" is good for price, bad for quality; "slow", "late" are bad for
   shipping; "runs small", "too tight" are bad for fit). A score ≥ 0.05 is positive,
   ≤ −0.05 negative, otherwise neutral.

One sentence may mention several aspects; the same aspect twice in a sentence is one
mention (mean score). Pure Python on strings (VADER is per text); the caller spreads large
sets over processes (:mod:`.sentiment`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import polars as pl

__all__ = [
    "DEFAULT_ASPECTS",
    "AspectMention",
    "AspectExtractor",
    "clean_text",
    "clean_expr",
    "split_sentences",
    "label_for",
    "NEUTRAL_BAND",
]

#: |score| below this is neutral (VADER's customary threshold).
NEUTRAL_BAND = 0.05

#: Aspect → keywords / phrases (case-insensitive, whole words; "$5"-style prices count as price).
DEFAULT_ASPECTS: dict[str, tuple[str, ...]] = {
    "price": (
        "price", "prices", "priced", "pricing", "cost", "costs", "costly", "expensive", "overpriced",
        "pricey", "cheap", "cheaper", "affordable", "inexpensive", "value", "money", "bargain",
        "penny", "pennies", "worth it", "worth the", "paid", "dollars", "rip off", "ripoff", "a steal",
    ),
    "quality": (
        "quality", "material", "materials", "fabric", "well made", "poorly made", "badly made",
        "cheaply made", "construction", "stitching", "seam", "seams", "durable", "durability",
        "flimsy", "sturdy", "solid", "fell apart", "falling apart", "falls apart", "broke", "broken",
        "breaks", "ripped", "torn", "tear", "pilling", "pilled", "shrank", "shrunk", "faded",
        "craftsmanship", "workmanship", "build", "held up", "holds up", "lasted", "still works",
        "months of use", "wear and tear",
    ),
    "service": (
        "customer service", "service", "support", "staff", "seller", "customer care", "helpdesk",
        "help desk", "representative", "agent", "return policy", "refund", "exchange",
        "customer support", "service team", "responded", "response", "replied", "emails",
    ),
    "shipping": (
        "shipping", "shipped", "ship", "ships", "delivery", "delivered", "deliver", "arrived",
        "arrive", "arrives", "arrival", "package", "packaging", "packaged", "parcel", "courier",
        "tracking", "dispatch", "dispatched", "postage", "transit", "came quickly", "came fast",
    ),
    "size/fit": (
        "size", "sizes", "sizing", "sized", "fit", "fits", "fitted", "fitting", "true to size", "tts",
        "runs small", "runs large", "runs big", "run small", "run large", "run big", "runs a bit small",
        "runs a little small", "runs a bit large", "runs a little large", "runs a bit big", "too small",
        "too big", "too large", "too tight", "too loose", "too short", "too long", "tight", "loose",
        "snug", "baggy", "petite", "length", "inseam", "waist", "bust",
    ),
}

# "cheap" describing the make, not the price; matched as quality before price's "cheap".
_CHEAP_QUALITY = (
    r"cheap(?:ly)?[\s-]+(?:made|material|materials|fabric|quality|looking|feeling|plastic|construction)"
    r"|(?:looks?|looked|feels?|felt|seems?|seemed)\s+(?:(?:very|so|really|too|a\s+bit|kind\s+of|quite)\s+)?cheap"
)

# Phrase rewrites before VADER: multi-word expressions VADER cannot see become one token
# whose valence is set below (same for every aspect).
_PHRASES: tuple[tuple[str, str], ...] = (
    (_CHEAP_QUALITY, " cheapmake "),
    (r"\btrue\s+to\s+size\b|\btts\b", " truetosize "),
    (r"\bspot\s+on\b", " spoton "),
    (r"\bruns?\s+(?:a\s+(?:bit|little)\s+)?(?:small|large|big|short|long)\b", " runsoff "),
    (r"\btoo\s+(?:small|big|large|tight|loose|short|long|snug|baggy)\b", " toooff "),
    (r"\b(?:size|sized|sizing)\s+(?:up|down)\b", " sizedoff "),
    (r"\bwell[\s-]+made\b", " wellmade "),
    (r"\b(?:poorly|badly|cheaply)[\s-]+made\b", " poorlymade "),
    (r"\b(?:fell|falling|falls|fall)\s+apart\b", " fellapart "),
    (r"\bhigh[\s-]+quality\b", " highquality "),
    (r"\b(?:low|poor|bad)[\s-]+quality\b", " lowquality "),
    (r"\bon\s+time\b", " ontime "),
    (r"\btook\s+(?:forever|ages|weeks|too\s+long)\b|\btakes\s+(?:forever|ages)\b", " tooklong "),
    (r"\bnever\s+(?:arrived|came|showed\s+up|responded|replied|answered|got\s+back)\b", " neverdid "),
    (r"\bstill\s+waiting\b|\bno\s+(?:response|reply|answer)\b", " neverdid "),
    (r"\brip[\s-]?off\b", " ripoff "),
    (r"\ba\s+steal\b", " asteal "),
    (r"\breasonably\s+priced\b|\bgood\s+price\b|\bgreat\s+price\b", " goodprice "),
    (r"\bvalue\s+for\s+(?:the\s+)?money\b", " valueformoney "),
)
_SHARED_VALENCE = {
    "cheapmake": -1.8, "truetosize": 1.8, "spoton": 1.8, "runsoff": -1.2, "toooff": -1.6,
    "sizedoff": -0.6, "wellmade": 2.0, "poorlymade": -2.0, "fellapart": -2.4, "highquality": 2.0,
    "lowquality": -2.0, "ontime": 1.5, "tooklong": -1.8, "neverdid": -2.0, "ripoff": -2.5,
    "asteal": 1.8, "goodprice": 1.8, "valueformoney": 0.0, "flimsy": -1.8, "sturdy": 1.6,
    "durable": 1.6, "broke": -1.6, "ripped": -1.4, "torn": -1.4, "pilling": -1.2, "pilled": -1.2,
    "shrank": -1.2, "shrunk": -1.2, "unhelpful": -2.0, "unresponsive": -2.0, "responsive": 1.5,
    "overpriced": -2.0, "pricey": -1.0, "expensive": -1.2, "affordable": 1.6, "inexpensive": 1.4,
}
#: Aspect-specific valences (override the shared ones for that aspect only).
_ASPECT_VALENCE: dict[str, dict[str, float]] = {
    "price": {"cheap": 1.2, "cheaper": 1.0, "penny": 0.0},
    "quality": {"cheap": -1.6, "solid": 1.5, "thin": -0.6, "soft": 1.2, "scratchy": -1.2},
    "shipping": {"fast": 1.6, "quick": 1.6, "quickly": 1.4, "promptly": 1.6, "early": 1.2,
                 "late": -1.6, "slow": -1.6, "slowly": -1.4, "lost": -1.6, "delayed": -1.6,
                 "careful": 1.2, "carefully": 1.2},
    "service": {"quickly": 1.2, "promptly": 1.5, "slow": -1.2, "useless": -2.0},
    "size/fit": {"fit": 0.8, "fits": 0.8, "fitted": 0.6, "tight": -0.8, "baggy": -1.2,
                 "snug": -0.3, "loose": -0.8, "wrong": -1.8, "perfectly": 2.0},
}

_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+[\"')\]]*|\n|$)")
_CONTRAST = re.compile(
    r"\s*(?:[;]|\b(?:but|however|although|though|yet|except|whereas|while|despite|otherwise)\b)\s*",
    re.IGNORECASE,
)
_PART = re.compile(r"\s*(?:,|\band\b|\bwith\b)\s*", re.IGNORECASE)
_TAG = r"<[^>]{0,200}>"
_ENTITIES = {"&amp;": "&", "&quot;": '"', "&#39;": "'", "&apos;": "'", "&lt;": "<", "&gt;": ">", "&nbsp;": " "}


def clean_expr(expr: pl.Expr) -> pl.Expr:
    """A Polars expression cleaning review text: HTML tags and common entities removed,
    runs of spaces collapsed (line breaks kept), null → ""."""
    out = expr.cast(pl.String).fill_null("").str.replace_all(r"(?is)<(script|style)\b.*?</(script|style)\s*>", " ")
    out = out.str.replace_all(r"(?i)<br\s*/?>|</p>", "\n")
    out = out.str.replace_all(_TAG, " ")
    for entity, char in _ENTITIES.items():
        out = out.str.replace_all(entity, char, literal=True)
    out = out.str.replace_all(r"[ \t\r\f\v]+", " ").str.replace_all(r" ([!?.,;:])", "$1")
    return out.str.replace_all(r" ?\n[\s]*", "\n").str.strip_chars()


def clean_text(text: str | None) -> str:
    """:func:`clean_expr` for one string."""
    return pl.select(clean_expr(pl.lit(text, dtype=pl.String))).item()


def split_sentences(document: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the sentences of ``document`` (blank ones skipped)."""
    spans = []
    for m in _SENTENCE.finditer(document):
        s, e = m.span()
        while s < e and document[s].isspace():
            s += 1
        while e > s and document[e - 1].isspace():
            e -= 1
        if e > s:
            spans.append((s, e))
    return spans


def label_for(score: float) -> str:
    """positive / neutral / negative for a score in −1…1."""
    return "positive" if score >= NEUTRAL_BAND else "negative" if score <= -NEUTRAL_BAND else "neutral"


@dataclass(frozen=True)
class AspectMention:
    """One aspect mentioned in one sentence.

    Attributes:
        aspect: Aspect name.
        sentiment: positive / neutral / negative.
        score: VADER compound (aspect-aware lexicon) of the span that carries the opinion.
        sentence_index: Index of the sentence in the document.
        start: Start of the sentence in the document (characters).
        end: End of the sentence (exclusive).
        keyword: The keyword or phrase that triggered the mention (first one).
    """

    aspect: str
    sentiment: str
    score: float
    sentence_index: int
    start: int
    end: int
    keyword: str


def _keyword_pattern(words: Iterable[str]) -> str:
    parts = []
    for w in sorted({w.strip().lower() for w in words if w and w.strip()}, key=len, reverse=True):
        if w == "$":
            parts.append(r"\$\s?\d")
            continue
        body = r"[\s-]+".join(re.escape(p) for p in w.split())
        parts.append(rf"\b{body}\b")
    return "|".join(parts) or r"(?!x)x"


@lru_cache(maxsize=8)
def _analyzer(aspect: str | None):
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    a = SentimentIntensityAnalyzer()
    a.lexicon = {**a.lexicon, **_SHARED_VALENCE, **_ASPECT_VALENCE.get(aspect or "", {})}
    return a


@lru_cache(maxsize=65536)
def _span_score(aspect: str | None, span: str) -> float:
    """VADER compound of a (lower-cased) span with the aspect's lexicon; memoised because
    review sentences repeat a lot ("fits true to size", "fast shipping")."""
    return float(_analyzer(aspect).polarity_scores(_rewrite(span))["compound"])


_PHRASE_RES = tuple((re.compile(p, re.IGNORECASE), repl) for p, repl in _PHRASES)


def _rewrite(span: str) -> str:
    out = span.lower()
    for rx, repl in _PHRASE_RES:
        out = rx.sub(repl, out)
    return out


class AspectExtractor:
    """Finds aspect mentions in review documents.

    Args:
        aspects: Aspect → keywords. ``None`` = :data:`DEFAULT_ASPECTS`; user aspects are
            merged with :func:`AspectExtractor.with_defaults`.
    """

    def __init__(self, aspects: Mapping[str, Iterable[str]] | None = None) -> None:
        self.aspects: dict[str, tuple[str, ...]] = {
            k: tuple(v) for k, v in (DEFAULT_ASPECTS if aspects is None else aspects).items()
        }
        # The default aspects share one alternation (a word belongs to one of them; "cheap"
        # next to "fabric" goes to quality first); every other aspect gets its own pattern,
        # so a user aspect may reuse a default's word ("packaging" is shipping and packaging).
        groups = []
        self._names: dict[str, str] = {}
        if "quality" in self.aspects:
            groups.append(f"(?P<g_cq>{_CHEAP_QUALITY})")
            self._names["g_cq"] = "quality"
        patterns = []
        for i, (name, words) in enumerate(self.aspects.items()):
            if name in DEFAULT_ASPECTS:
                groups.append(f"(?P<g{i}>{_keyword_pattern(words)})")
            else:
                patterns.append(f"(?P<g{i}>{_keyword_pattern(words)})")
            self._names[f"g{i}"] = name
        self._patterns = [re.compile(p, re.IGNORECASE) for p in (["|".join(groups)] if groups else []) + patterns]
        self._rx = re.compile("|".join(p.pattern for p in self._patterns) or r"(?!x)x", re.IGNORECASE)

    @classmethod
    def with_defaults(cls, extra: Mapping[str, Iterable[str]] | None = None) -> AspectExtractor:
        """Default aspects plus user aspects (a user aspect with a default's name adds keywords)."""
        merged = {k: list(v) for k, v in DEFAULT_ASPECTS.items()}
        for k, v in (extra or {}).items():
            merged.setdefault(k, []).extend(v)
        return cls(merged)

    @property
    def config_key(self) -> str:
        """A stable digest of the aspect configuration (for cache keys)."""
        import hashlib

        text = repr(sorted((k, sorted(v)) for k, v in self.aspects.items()))
        return hashlib.sha1(text.encode()).hexdigest()[:10]

    def _score(self, aspect: str, text: str) -> float:
        return _span_score(aspect if aspect in _ASPECT_VALENCE else None, text.lower())

    def mentions(self, document: str) -> list[AspectMention]:
        """Aspect mentions of one cleaned document, in sentence order."""
        if not document or not self._rx.search(document):
            return []
        out: list[AspectMention] = []
        for si, (s, e) in enumerate(split_sentences(document)):
            sentence = document[s:e]
            if not self._rx.search(sentence):
                continue
            found: dict[str, list[float]] = {}
            first_kw: dict[str, str] = {}
            for clause in _CONTRAST.split(sentence):
                if not clause:
                    continue
                for m in (m for rx in self._patterns for m in rx.finditer(clause)):
                    aspect = self._names[m.lastgroup or ""]
                    part = _part_around(clause, m.start(), m.end())
                    score = self._score(aspect, part)
                    if abs(score) < NEUTRAL_BAND and part != clause:
                        score = self._score(aspect, clause)  # no opinion next to the word: the clause's
                    found.setdefault(aspect, []).append(score)
                    first_kw.setdefault(aspect, m.group(0).lower())
            for aspect, scores in found.items():
                score = round(sum(scores) / len(scores), 4)
                out.append(AspectMention(aspect, label_for(score), score, si, s, e, first_kw[aspect]))
        return out


def _part_around(clause: str, start: int, end: int) -> str:
    """The comma / "and" / "with"-separated part of ``clause`` holding [start, end)."""
    left = 0
    right = len(clause)
    for m in _PART.finditer(clause):
        if m.end() <= start:
            left = m.end()
        elif m.start() >= end:
            right = m.start()
            break
    return clause[left:right]
