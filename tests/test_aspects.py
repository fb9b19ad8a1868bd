"""Aspect extraction on hand-written sentences: plain, negated, contrasted, none, user aspects."""

from __future__ import annotations

import pytest

from shopper_tui.analytics.aspects import AspectExtractor, clean_text, split_sentences


@pytest.fixture(scope="module")
def ex() -> AspectExtractor:
    return AspectExtractor()


def _found(ex: AspectExtractor, text: str) -> dict[str, str]:
    return {m.aspect: m.sentiment for m in ex.mentions(text)}


@pytest.mark.parametrize(("text", "expected"), [
    # plain
    ("Great value for the price.", {"price": "positive"}),
    ("Way overpriced for what you get.", {"price": "negative"}),
    ("The fabric is beautiful and soft.", {"quality": "positive"}),
    ("Customer service was rude and unhelpful.", {"service": "negative"}),
    ("Shipping was fast.", {"shipping": "positive"}),
    ("Delivery took forever.", {"shipping": "negative"}),
    ("Fits true to size.", {"size/fit": "positive"}),
    ("Runs a bit small.", {"size/fit": "negative"}),
    # negation
    ("It's not cheap.", {"price": "negative"}),
    ("Not worth the money.", {"price": "negative"}),
    ("It didn't fit.", {"size/fit": "negative"}),
    ("The material is not good at all.", {"quality": "negative"}),
    ("Shipping was not slow at all.", {"shipping": "positive"}),
    ("The staff were not helpful.", {"service": "negative"}),
    # "cheap" means price or make depending on context
    ("Feels cheap and flimsy.", {"quality": "negative"}),
    ("The dress was cheap and the fabric feels cheap.", {"price": "positive", "quality": "negative"}),
    # contrast: each side keeps its own sentiment
    ("Great quality but overpriced.", {"quality": "positive", "price": "negative"}),
    ("Shipping took forever but customer service was helpful.", {"shipping": "negative", "service": "positive"}),
    ("I wanted to love this dress, but the fabric is itchy and it runs large.",
     {"quality": "negative", "size/fit": "negative"}),
    ("Although it arrived late, the quality is excellent.", {"shipping": "negative", "quality": "positive"}),
    ("Great quality and terrible packaging.", {"quality": "positive", "shipping": "negative"}),
    # no aspect
    ("Lovely colour, would buy again.", {}),
    ("I wore it to my sister's wedding.", {}),
    ("", {}),
])
def test_hand_written_sentences(ex: AspectExtractor, text: str, expected: dict[str, str]) -> None:
    assert _found(ex, text) == expected


def test_mentions_point_at_their_sentence(ex: AspectExtractor) -> None:
    doc = "Love it!\nThe colour is lovely. But it runs small. Shipping was quick."
    mentions = ex.mentions(doc)
    assert [(m.aspect, m.sentiment) for m in mentions] == [("size/fit", "negative"), ("shipping", "positive")]
    assert [doc[m.start:m.end] for m in mentions] == ["But it runs small.", "Shipping was quick."]
    assert [m.sentence_index for m in mentions] == [2, 3]
    assert mentions[0].keyword == "runs small"


def test_one_mention_per_aspect_and_sentence(ex: AspectExtractor) -> None:
    mentions = ex.mentions("The fabric and the stitching are both excellent.")
    assert [(m.aspect, m.sentiment) for m in mentions] == [("quality", "positive")]


def test_user_aspects_extend_the_defaults() -> None:
    ex = AspectExtractor.with_defaults({"colour": ["colour", "color", "shade"], "price": ["pricing tier"]})
    assert _found(ex, "The colour is gorgeous.") == {"colour": "positive"}
    assert _found(ex, "The shade looks dull and washed out.") == {"colour": "negative"}
    assert _found(ex, "The pricing tier is terrible.") == {"price": "negative"}
    assert _found(ex, "Great value for the price.") == {"price": "positive"}
    assert ex.config_key != AspectExtractor().config_key
    boxed = AspectExtractor.with_defaults({"packaging": ["packaging", "box"]})
    assert _found(boxed, "Beautiful packaging.") == {"shipping": "positive", "packaging": "positive"}
    assert _found(boxed, "The box was crushed.") == {"packaging": "negative"}


def test_cleaning_and_sentences() -> None:
    text = clean_text("<p>Great <b>fit</b>!</p><br/>Colour &amp; fabric: lovely.&nbsp; ")
    assert text == "Great fit!\nColour & fabric: lovely."
    assert [text[s:e] for s, e in split_sentences(text)] == ["Great fit!", "Colour & fabric: lovely."]
    assert split_sentences("") == [] and split_sentences(" \n ") == []
