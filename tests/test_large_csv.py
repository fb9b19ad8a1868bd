"""The paths a large CSV export takes (16 M events at size L), exercised on small data by
shrinking their thresholds: slices parsed at once, the UTF-8 check in pieces, columns copied
into one piece, line numbers without counting line breaks. Each must give what the simple
whole-column way gives."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from shopper_tui.analytics import parsing
from shopper_tui.analytics.sources import files
from shopper_tui.analytics.errors import ShopperError
from shopper_tui.analytics.sources.files import load_folder, read_delimited
from shopper_tui.analytics.validate import validate

MIXED = [
    "2024-03-01T08:15:00", " 2024-03-02T09:00:00.250 ", "", None, "03/04/2024 10:30", "not a date",
    "2024-03-05", "2024-02-30T00:00:00", "2024-03-06T23:59:59.999999", "   ",
] * 37


def _simple_parse(values: list[str | None]) -> pl.Series:
    """The column parsed by hand with the formats parse_datetimes picks for it, one at a time."""
    s = pl.Series("ts", values).str.strip_chars()
    s = pl.select(pl.when(s == "").then(None).otherwise(s)).to_series()
    iso_t = s.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us")
    us = s.str.to_datetime("%m/%d/%Y %H:%M", strict=False, time_unit="us")
    day = s.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us"))
    return iso_t.fill_null(us).fill_null(day).alias("ts")


def test_datetimes_parsed_in_slices_equal_the_whole_column(monkeypatch: pytest.MonkeyPatch) -> None:
    whole, how = parsing.parse_datetimes(pl.Series("ts", MIXED))
    monkeypatch.setattr(parsing, "_PARALLEL_ROWS", 50)  # 370 rows: as many slices as cores
    monkeypatch.setattr(pl, "thread_pool_size", lambda: 3)
    assert len(parsing._per_slice(pl.Series("ts", MIXED), lambda e: e)) == 3
    sliced, how_sliced = parsing.parse_datetimes(pl.Series("ts", MIXED))
    assert sliced.equals(whole) and how_sliced == how
    assert sliced.n_chunks() == 1
    assert sliced.equals(_simple_parse(MIXED))
    # the hand-read values: 8:15, the fraction kept, the US date, the bare day, 30 Feb unread
    assert sliced.head(10).to_list() == [
        datetime(2024, 3, 1, 8, 15), datetime(2024, 3, 2, 9, 0, 0, 250_000), None, None,
        datetime(2024, 3, 4, 10, 30), None, datetime(2024, 3, 5), None,
        datetime(2024, 3, 6, 23, 59, 59, 999_999), None]


def test_first_distinct_values_come_from_a_prefix_only_when_it_holds_enough() -> None:
    # 3 distinct values in the first 10 000 rows, 2 more only at the end
    s = pl.Series("x", ["a", "b", "c"] * 5_000 + ["d", "e"])
    assert parsing._first_distinct(s, 2).to_list() == ["a", "b"]
    assert parsing._first_distinct(s, 5).to_list() == ["a", "b", "c", "d", "e"]
    assert parsing._first_distinct(pl.Series("x", [None, "z", None, "z", "y"]), 9).to_list() == ["z", "y"]


def test_any_row_in_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parsing, "_PARALLEL_ROWS", 10)
    s = pl.Series("id", ["a"] * 95 + [" b"] + [None] * 4)
    assert parsing.any_row(s, lambda e: e.str.starts_with(" "))
    assert not parsing.any_row(s, lambda e: e.str.starts_with("x"))
    assert not parsing.any_row(pl.Series("id", [None] * 30, dtype=pl.String), lambda e: e == "")
    # clean_text and to_id_strings decide from those tests whether anything needs changing
    assert parsing.clean_text(s).to_list() == ["a"] * 95 + ["b"] + [None] * 4
    ids = pl.Series("id", ["17850.0"] + ["C1"] * 40 + ["12.50", "7.00"])
    assert parsing.to_id_strings(ids).to_list() == ["17850"] + ["C1"] * 40 + ["12.50", "7"]
    clean = pl.Series("id", ["C1", "C2"] * 20)
    assert parsing.clean_text(clean) is clean  # nothing to strip: the column itself, not a copy
    assert parsing.clean_text(pl.Series("t", ["", "  ", " x ", "y", None])).to_list() == [None, None, "x", "y", None]


def test_utf8_check_in_pieces_across_a_character_split(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "_PIECE", 5)
    text = "née,Zoë,東京,😀\n".encode() * 3
    assert any(text[i:i + 5].decode("utf-8", "ignore") != text[i:i + 5].decode("utf-8", "replace")
               for i in range(0, len(text), 5))  # some piece cuts a character in two
    assert files._is_utf8(text)
    assert not files._is_utf8(text + "café".encode("cp1252"))
    assert not files._is_utf8(text[:-2] + b"\xf0\x9f")  # cut inside the last character
    # lines as Polars reads them (a blank line is a row of nulls), and up to the last with content
    assert files._line_counts(b"a\nb\n\n  \r\n") == (4, 2) and files._line_counts(b"a\n\"x\ny\"\n") == (3, 3)
    assert files._line_counts(b"a\nb") == (2, 2) and files._line_counts(b"a\n\n") == (2, 1)


def test_in_one_piece_keeps_every_value() -> None:
    # "" is the name Polars gives a column under an empty header (",b" …)
    parts = [pl.DataFrame({"": [f"v{i}" for i in range(k, k + 7)], "b": list(range(k, k + 7))}) for k in (0, 7, 14)]
    chunked = pl.concat(parts, rechunk=False)
    assert chunked.n_chunks("all") == [3, 3]
    expect = chunked.rechunk()
    one = files._in_one_piece(chunked.get_columns())
    assert one.n_chunks("all") == [1, 1] and one.equals(expect) and one.columns == ["", "b"]


def test_line_numbers_without_counting_match_the_counted_ones(tmp_path: Path) -> None:
    """One row per line takes the short way; a quoted line break the counted one. Both name
    the physical line of each row, and a row of bare delimiters is skipped but keeps its line."""
    plain = tmp_path / "plain.csv"
    plain.write_text("review_id,product_id,rating,text\nr1,p1,5,good\n,,,\nr2,p2,x,fine\nr3,p3,4,ok\n")
    broken = tmp_path / "broken.csv"
    broken.write_text('review_id,product_id,rating,text\nr1,p1,5,"two\nlines"\n,,,\nr2,p2,x,fine\nr3,p3,4,ok\n')
    a, b = read_delimited(plain), read_delimited(broken)
    assert a.frame.get_column("__line").to_list() == [2, 4, 5] and a.blank_lines == 1
    assert b.frame.get_column("__line").to_list() == [2, 5, 6] and b.blank_lines == 1
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "reviews.csv").write_bytes(broken.read_bytes())
    checked = validate(load_folder(folder, progress=lambda *a: None))
    bad = checked.rejects.filter(pl.col("column") == "rating")
    assert bad.select("line", "value").rows() == [(5, "x")]


# -- a large file read in pieces of whole rows ------------------------------------------------
PLAIN = (
    '\ufeffsession_id;customer_id;ts;event_type;note;note;\r\n'
    + "".join(f'S{i:03d};C{i % 7};2024-03-{1 + i % 28:02d} 10:{i % 60:02d}:00;view;"a;b ""{i}""";née 東京 {i};x\r\n'
              for i in range(60))
    + ";;;;;;\r\n"  # a row of bare delimiters: skipped, its line kept
    + "S999;C1;2024-03-01 00:00:00;buy;last;;\r\n\r\n  \r\n"  # a blank line, then one of spaces
)


def _both_ways(path: Path, monkeypatch: pytest.MonkeyPatch, piece: int) -> tuple[files.DelimitedText, files.DelimitedText, bool]:
    """The file read whole and in pieces of ``piece`` bytes, and whether the pieces were used."""
    whole = read_delimited(path)
    taken: list[bool] = []
    real = files._read_in_pieces

    def spy(*args: object) -> object:
        out = real(*args)
        taken.append(out is not None)
        return out

    with monkeypatch.context() as m:
        m.setattr(files, "_LARGE_FILE", 1)
        m.setattr(files, "_READ_PIECE", piece)
        m.setattr(files, "_read_in_pieces", spy)
        pieces = read_delimited(path)
    assert taken, "the reader in pieces was not tried"
    return whole, pieces, taken[0]


def _same(a: files.DelimitedText, b: files.DelimitedText) -> None:
    assert a.frame.equals(b.frame), (a.frame, b.frame)
    assert a.frame.columns == b.frame.columns
    assert (a.encoding, a.delimiter, a.header, a.blank_lines, a.notes) == (
        b.encoding, b.delimiter, b.header, b.blank_lines, b.notes)


@pytest.mark.parametrize("piece", [64, 97, 200, 1_000, 100_000])
def test_a_plain_file_read_in_pieces_equals_it_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          piece: int) -> None:
    path = tmp_path / "events.csv"
    path.write_bytes(PLAIN.encode())
    assert not PLAIN.encode().isascii()
    whole, pieces, taken = _both_ways(path, monkeypatch, piece)
    assert taken
    _same(whole, pieces)
    f = pieces.frame
    # read by hand: the BOM gone, a quoted delimiter and doubled quotes, the repeated header
    # name read once, the row of bare delimiters and the blank line skipped, the line of
    # spaces kept as a row (the validator finds its session_id missing)
    assert pieces.delimiter == ";" and pieces.blank_lines == 2 and f.height == 62
    assert pieces.notes == ["events.csv: header 'note' given more than once; the first column of each is used"]
    assert f.columns[:5] == ["session_id", "customer_id", "ts", "event_type", "note"]
    assert f.row(7)[:5] == ("S007", "C0", "2024-03-08 10:07:00", "view", 'a;b "7"')
    assert f.get_column("__line").to_list() == [*range(2, 62), 63, 65]
    assert f.get_column("session_id").to_list()[-2:] == ["S999", "  "]


@pytest.mark.parametrize(("name", "text", "pieces_taken"), [
    # a line break inside a quoted value: rows and lines differ, the whole-file reader counts them
    ("quoted_break", "review_id,text\n" + "".join(f'r{i},"line one\nline two {i}"\n' for i in range(20)), False),
    # a blank line is a row of nulls either way, also as the first line of a piece
    ("blank_inside", "review_id,text\n" + "".join(f"r{i},t{i}\n" + ("\n" if i % 3 == 0 else "") for i in range(20)), True),
    ("short_rows", "review_id,text,rating\n" + "".join(f"r{i},t{i}\n" if i % 2 else f"r{i},t{i},5\n" for i in range(20)), True),
    ("stray_quote", "review_id,text\n" + "".join(f'r{i},a 12" pizza {i}\n' for i in range(20)), None),
    ("no_final_break", "review_id,text\n" + "\n".join(f"r{i},t{i}" for i in range(20)), True),
    # a row longer than a piece: a longer piece is read from the same place
    ("long_row", "review_id,text\nr0," + "x" * 110 + "\n" + "".join(f"r{i},t{i}\n" for i in range(1, 20)), True),
    ("quotes_on_one_line", "review_id,text\n" + "".join(f'r{i},"say ""hi"", {i}"\n' for i in range(20)), True),
])
def test_what_the_pieces_cannot_take_is_read_whole_with_the_same_result(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str, pieces_taken: bool | None) -> None:
    path = tmp_path / f"{name}.csv"
    path.write_text(text)
    for piece in (40, 128):
        whole, pieces, taken = _both_ways(path, monkeypatch, piece)
        if pieces_taken is not None:
            assert taken is pieces_taken
        _same(whole, pieces)


def test_a_file_the_pieces_refuse_gets_the_whole_file_readers_answer(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    cp1252 = tmp_path / "reviews.csv"
    cp1252.write_bytes(("review_id,text\n" + "".join(f"r{i},café {i}\n" for i in range(30))).encode("cp1252"))
    whole, pieces, taken = _both_ways(cp1252, monkeypatch, 64)
    assert not taken and pieces.encoding == "cp1252"
    _same(whole, pieces)
    assert pieces.frame.get_column("text")[3] == "café 3"
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n" + "1,2\n" * 40 + "1,2,3\n" + "1,2\n" * 5)
    with monkeypatch.context() as m:
        m.setattr(files, "_LARGE_FILE", 1)
        m.setattr(files, "_READ_PIECE", 64)
        with pytest.raises(ShopperError, match="line 42 has 3 fields but the header has 2"):
            read_delimited(ragged)


def test_an_emptied_file_is_left_to_the_whole_file_reader(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_bytes(b"\xef\xbb\xbf")  # measured large, emptied before it was read: only a BOM left
    assert files._read_in_pieces(path) is None
    path.write_bytes(b"")
    assert files._read_in_pieces(path) is None


def test_row_end_skips_line_breaks_inside_quotes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "_PIECE", 5)  # counts in sections of 5 bytes
    text = b'a,"q""r"\n"x\ny",1\n\n"z'
    assert files._count(text, b'"') == text.count(b'"') == 7
    assert files._count(text, b"\n", 3, 17) == text.count(b"\n", 3, 17) == 3
    assert files._row_end(b'a,"x\ny"\nb,"p\nq') == 8  # the break after "x\ny" closes a row, the last is open
    assert files._row_end(b'a,"x\ny') == 0
    assert files._row_end(b'a,""""\nb,"c') == 7  # doubled quotes count twice
    assert files._piece_lines(b"a\nb\n\n \r\n", last=True) == 4 and files._piece_lines(b"a\nb", last=True) == 2
    assert files._piece_lines(b"a\nb\n\n", last=False) == 3
