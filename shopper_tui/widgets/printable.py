"""Untrusted text on screen: control characters are shown, never sent to the terminal.

Product names, review text, categories and ids come from the user's files. Markup in them is
already inert (every widget showing data is built with ``markup=False`` or from
:class:`rich.text.Text`), but a control character would reach the terminal as it is: an ESC
starts an escape sequence (colours, clearing the screen, setting the title, writing the
clipboard), a C1 ``\\x9b`` does the same on some terminals, and bidi overrides reorder what is
shown. Textual removes only bell, backspace, vertical tab, form feed and carriage return.

:func:`printable` replaces every other C0 control (tab and newline stay), DEL and the C1
controls with their Unicode "control picture" (``\\x1b`` → ``␛``) and bidi overrides with
``�`` — one cell each, so the text keeps its length and any highlight spans stay aligned.

:func:`install` extends Textual's own control-code table with the same replacements, so every
``Static``, ``Label``, ``OptionList`` and Rich ``Text`` shown through Textual's ``Content`` is
covered without touching each call site; :func:`printable_frame` does it for the cells of a
:class:`~shopper_tui.widgets.FrameTable`; widgets that paint raw segments (the heatmap) call
:func:`printable` on their labels.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

__all__ = ["REPLACEMENTS", "install", "printable", "printable_frame", "CONTROL_PATTERN"]

_KEPT = {9, 10}  # tab, newline: layout, not commands
_TEXTUAL_STRIPS = {7, 8, 11, 12, 13}  # Textual removes these itself (and so do we, when it does not)
_BIDI = [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]

#: code point → what is shown instead.
REPLACEMENTS: dict[int, str] = {
    **{c: chr(0x2400 + c) for c in range(0x20) if c not in _KEPT},
    0x7F: "\u2421",
    **{c: "\ufffd" for c in range(0x80, 0xA0)},
    **{c: "\ufffd" for c in _BIDI},
}
#: A regex class matching every character :func:`printable` replaces (for Polars).
CONTROL_PATTERN = "[" + "".join(f"\\x{{{c:x}}}" for c in sorted(REPLACEMENTS)) + "]"
_CONTROL_RE = re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(REPLACEMENTS)) + "]")


def printable(text: str) -> str:
    """``text`` with control characters replaced by visible ones (same length)."""
    return text.translate(REPLACEMENTS) if _CONTROL_RE.search(text) else text


def printable_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with :func:`printable` applied to the text columns that need it (for display only)."""
    import polars as pl

    text_columns = [c for c, t in frame.schema.items() if t == pl.String]
    if not text_columns or frame.is_empty():
        return frame
    flags = frame.select(pl.col(c).str.contains(CONTROL_PATTERN).any() for c in text_columns).row(0)
    dirty = [c for c, flag in zip(text_columns, flags, strict=True) if flag]
    if not dirty:
        return frame
    return frame.with_columns(pl.col(c).map_elements(printable, return_dtype=pl.String) for c in dirty)


_installed = False


def install() -> None:
    """Make Textual's ``Content`` show control characters instead of passing them to the terminal.

    Textual keeps one translate table (``textual.content._CONTROL_STRIP_TRANSLATE``) for the
    codes it strips from every ``Content``; its own entries stay (those characters are
    removed), the rest of :data:`REPLACEMENTS` is added. Idempotent; tests check that it works
    with the installed Textual (``tests/test_untrusted_text.py``).
    """
    global _installed
    if _installed:
        return
    from textual import content

    table = getattr(content, "_CONTROL_STRIP_TRANSLATE", None)
    if isinstance(table, dict):
        for code, shown in REPLACEMENTS.items():
            if code not in _TEXTUAL_STRIPS:
                table.setdefault(code, shown)
    _installed = True
