"""Column widths of the data table: measured like textual-fastdatatable does, without measuring
every value of a long text column in Python (0.9-1.7 s on the UI thread for one segment's
reviews at L; see shopper_tui/widgets/frame_table.py)."""

from __future__ import annotations

import random

import polars as pl
import pytest
import textual_fastdatatable.format as tfd_format
from textual_fastdatatable import ArrowBackend

from shopper_tui.widgets import frame_table
from shopper_tui.widgets.frame_table import MAX_COLUMN_WIDTH, _Backend
from shopper_tui.widgets.printable import printable_frame


@pytest.fixture
def path(request, monkeypatch) -> str:
    """Both ways of measuring: in Arrow (long columns) and in Python (short ones, on the UI thread)."""
    monkeypatch.setattr(frame_table, "_PY_MEASURE_ROWS", -1 if request.param == "arrow" else 10**9)
    return request.param


def _widths(cls: type[ArrowBackend], frame: pl.DataFrame) -> list[int]:
    backend = cls(printable_frame(frame).to_arrow())
    backend.render_markup = False
    return list(backend.column_content_widths)


@pytest.mark.parametrize("path", ["arrow", "python"], indirect=True)
def test_hand_worked_widths_of_text_columns(path: str) -> None:
    frame = pl.DataFrame({
        "ascii": ["ab", "abcd", None],
        "cjk": ["漢字", "abc", "x"],            # two cells per ideograph: 4
        "combining": ["e\u0301e\u0301", "ab", ""],  # four code points, two cells
        "emoji": ["😀x", "ab", "a"],           # 3
        "markup": ["[b]x[/b]", "a", "b"],      # shown literally: 8
        "number": [1, 22, 333],
        "empty": ["", "", ""],
    })
    assert _widths(_Backend, frame) == [4, 4, 2, 3, 8, 3, 0]
    assert _widths(_Backend, frame) == _widths(ArrowBackend, frame)


@pytest.mark.parametrize("path", ["arrow", "python"], indirect=True)
def test_widths_match_textual_fastdatatable_up_to_the_widest_column_drawn(path: str) -> None:
    rng = random.Random(7)
    alphabet = [*"abc xyz", "é", "漢", "😀", "\u0301", "\n", "\t", "\u2028", "\x1b", "[b]", "…", "ß"]
    columns = {}
    for n in range(40):
        longest = rng.choice([2, 6, 12, 20, 30, 70])
        columns[f"c{n}"] = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, longest)))
                            for _ in range(200)] + [None]
    frame = pl.DataFrame(columns)
    ours, theirs = _widths(_Backend, frame), _widths(ArrowBackend, frame)
    clamp = [min(w, MAX_COLUMN_WIDTH) for w in ours]
    assert clamp == [min(w, MAX_COLUMN_WIDTH) for w in theirs]
    assert [o for o, t in zip(ours, theirs, strict=True) if t < MAX_COLUMN_WIDTH] == \
        [t for t in theirs if t < MAX_COLUMN_WIDTH]  # exact below the clamp
    assert sum(w < MAX_COLUMN_WIDTH for w in theirs) >= 20  # both cases are exercised
    assert sum(w >= MAX_COLUMN_WIDTH for w in theirs) >= 5


@pytest.mark.parametrize("path", ["arrow", "python"], indirect=True)
def test_a_long_text_column_is_measured_a_value_or_two_not_value_by_value(path: str, monkeypatch) -> None:
    measured: list[object] = []
    real = tfd_format.measure_width

    def counting(value: object, *args: object, **kwargs: object) -> int:
        measured.append(value)
        return real(value, *args, **kwargs)

    monkeypatch.setattr(tfd_format, "measure_width", counting)
    # review texts with a line break (shown as a visible, non-ASCII character) and an accent
    texts = [f"Review {i}: the café was fine.\nWould buy again — {'x' * (i % 50)}" for i in range(5_000)]
    names = [f"Crème {i % 300}" for i in range(5_000)]  # short, accented, 300 distinct
    assert _widths(_Backend, pl.DataFrame({"text": texts, "name": names})) == [33, 9]  # first line + "…⏎"
    assert len(measured) <= 3
    measured.clear()
    assert _widths(ArrowBackend, pl.DataFrame({"text": texts, "name": names}))[1] == 9
    assert len(measured) >= 5_000  # what the library does: every distinct value
