"""Property-based tests (hypothesis) of the loaders and the validator.

Random CSV / Parquet / JSON Lines content — random header spellings and extra columns,
duplicate headers, delimiters, quoting, line endings, encodings (UTF-8, UTF-8 with BOM,
cp1252, UTF-16), blank lines, values good and bad (huge numbers, NaN, text, nested JSON),
dates in many formats, truncated last lines — must either import with an exact rejection
report (every rejected row named by file, column, line and reason, every kept value right)
or fail with a ShopperError naming the file (and the line when one is at fault). Never
another exception, never a partly written workspace.

Example counts are moderate so each test runs in seconds; each test prints how many cases
it ran (``pytest -s``).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
import json
import math
import os
import re
import shutil
import string
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from shopper_tui.analytics.errors import ShopperError
from shopper_tui.analytics.schema import LINE_COLUMN, TABLES
from shopper_tui.analytics.sources import RawSource, RawTable, load_source
from shopper_tui.analytics.sources.files import COLUMN_SYNONYMS, load_folder, normalise_header
from shopper_tui.analytics.validate import NESTED_REASON, validate
from shopper_tui.analytics.workspace import import_source, open_workspace

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                                      HealthCheck.data_too_large])


def _examples(n: int) -> int:
    """``n`` cases, scaled by SHOPPER_PROP_SCALE (e.g. 10 for a long hunt)."""
    return max(1, int(n * float(os.environ.get("SHOPPER_PROP_SCALE", "1"))))


def _quiet(step: str, fraction: float | None = None) -> None:
    return None


def _report(name: str, runs: list[int]) -> None:
    print(f"\n{name}: {len(runs)} generated cases")


# -- values with the verdict the validator must reach -------------------------------------------------

@dataclass(frozen=True)
class Value:
    """One cell as written, and what the validator must make of it.

    verdict: "ok" (``expected`` is the canonical value), "blank", "unparseable", "not positive",
    "negative", "unknown order" or "nested". A quantity "not positive" and a price "negative" are
    kept as they are (adjustments), so they carry their ``expected`` value too.
    """

    text: str | None
    verdict: str
    expected: object = None


_ID_CHARS = string.ascii_letters + string.digits + "-_.#/ ,;|\"'é中€£"
_ids = st.text(_ID_CHARS, min_size=1, max_size=12).map(str.strip).filter(bool)


def _canonical_id(text: str) -> str:
    return re.sub(r"\.0+$", "", text) if re.fullmatch(r"-?\d+\.0+", text) else text


ids = st.one_of(
    _ids.map(lambda t: Value(t, "ok", _canonical_id(t))),
    st.integers(0, 10**12).map(lambda n: Value(f"{n}.0", "ok", str(n))),  # Excel's float ids
    st.sampled_from(["", "   "]).map(lambda t: Value(t, "blank")),
)

quantities = st.one_of(
    st.integers(1, 10**9).flatmap(lambda n: st.sampled_from([str(n), f" {n} ", f"{n}.0", f"{n}.00"]).map(
        lambda t, n=n: Value(t, "ok", n))),
    st.sampled_from(["1.5", "abc", "1e400", str(10**20), "nan", "inf", "12kg", "--3", "0x10", "½"]).map(
        lambda t: Value(t, "unparseable")),
    st.sampled_from([("0", 0), ("-3", -3), ("-0.0", 0), ("-12", -12)]).map(
        lambda t: Value(t[0], "not positive", t[1])),
    st.sampled_from(["", "  "]).map(lambda t: Value(t, "blank")),
)

prices = st.one_of(
    st.integers(0, 10**8).flatmap(lambda c: st.sampled_from(
        [f"{c / 100:.2f}", f"{c // 100},{c % 100:02d}", f" {c / 100} ", f"{c / 100:.4e}"]).map(
        lambda t: Value(t, "ok", float(t.strip().replace(",", "."))))),
    st.sampled_from(["abc", "nan", "inf", "-inf", "1e999", "1.2.3", "€5", "5 EUR"]).map(lambda t: Value(t, "unparseable")),
    st.integers(1, 10**6).map(lambda c: Value(f"-{c / 100:.2f}", "negative", -c / 100)),
    st.sampled_from(["", " "]).map(lambda t: Value(t, "blank")),
)

ITEM_COLUMNS = ("order_id", "product_id", "quantity", "unit_price")


@dataclass(frozen=True)
class ItemRow:
    values: dict[str, Value]
    known_order: bool  # order_id is in orders.csv


item_rows = st.builds(
    lambda o, p, q, u, known: ItemRow({"order_id": o, "product_id": p, "quantity": q, "unit_price": u}, known),
    ids, ids, quantities, prices, st.sampled_from([True, True, True, False]),
)


def _verdict(row: ItemRow) -> tuple[str, str] | None:
    """(column, reason) of the rejection the validator must give, or None (kept): the rules
    in the validator's order — unparseable, missing, domain, references."""
    v = row.values
    for c in ITEM_COLUMNS:
        if v[c].verdict == "unparseable":
            return c, f"unparseable {c}"
    for c in ITEM_COLUMNS:
        if v[c].verdict == "blank" and c in TABLES["order_items"].required:
            return c, f"missing {c}"
    # a quantity ≤ 0 or a negative price is an adjustment: kept (analytics/purchases.py)
    if not row.known_order:
        return "order_id", "order_id not in orders"
    return None


def _spelling(canonical: str) -> st.SearchStrategy[str]:
    """A header for ``canonical`` as exports write it: a synonym in any case, with spaces,
    dashes or no separator between words, maybe padded."""
    def shape(name: str, case: str, sep: str, pad: bool) -> str:
        words = name.split("_")
        text = sep.join(words)
        text = {"lower": text.lower(), "upper": text.upper(), "title": " ".join(w.title() for w in text.split(" "))
                if sep == " " else text.title(), "as is": text}[case]
        return f" {text} " if pad else text

    return st.builds(shape, st.sampled_from(COLUMN_SYNONYMS["order_items"][canonical]),
                     st.sampled_from(["lower", "upper", "title", "as is"]), st.sampled_from(["_", " ", "-", ""]),
                     st.booleans())


_ALL_SPELLINGS = {normalise_header(s) for table in COLUMN_SYNONYMS.values() for spellings in table.values()
                  for s in spellings}
extra_names = st.text(string.ascii_letters + string.digits + " _-.;|\t\"'\né", min_size=1, max_size=10).filter(
    lambda n: normalise_header(n) not in _ALL_SPELLINGS and not n.startswith("__")
    and not any(normalise_header(n).startswith(normalise_header(s)) for s in ("quantity", "unit_price")))
extra_values = st.text(string.printable.replace("\r", "").replace("\x0b", "").replace("\x0c", "") + "é中", max_size=8)


LOOSE = -1  # quoting: only where needed, a '"' inside a value left unescaped (12" pizza)


@dataclass
class CsvCase:
    rows: list[ItemRow]
    headers: dict[str, str]
    order: list[str]  # column keys in file order: canonical names, "dup", or "x<i>" extras
    extras: dict[str, tuple[str, list[str]]]
    dup: tuple[str, list[str]] | None  # canonical column given twice, second column's values
    delimiter: str
    quoting: int
    newline: str
    encoding: str
    blank_after: set[int]
    truncate: float | None


@st.composite
def csv_cases(draw: st.DrawFn) -> CsvCase:
    rows = draw(st.lists(item_rows, min_size=1, max_size=25))
    rows = [r if any(v.text for v in r.values.values()) else
            ItemRow({**r.values, "order_id": Value("only-id", "ok", "only-id")}, r.known_order) for r in rows]
    headers = {c: draw(_spelling(c)) for c in ITEM_COLUMNS}
    n_extra = draw(st.integers(0, 3))
    extras = {}
    for i in range(n_extra):
        name = draw(extra_names)
        extras[f"x{i}"] = (name, [draw(extra_values) for _ in rows])
    dup = None
    if draw(st.booleans()):
        dup = (draw(st.sampled_from(ITEM_COLUMNS)), [draw(extra_values) for _ in rows])
    order = draw(st.permutations([*ITEM_COLUMNS, *extras]))
    if dup:
        at = draw(st.integers(order.index(dup[0]) + 1, len(order)))
        order = [*order[:at], "dup", *order[at:]]
    return CsvCase(
        rows=rows, headers=headers, order=list(order), extras=extras, dup=dup,
        delimiter=draw(st.sampled_from([",", ";", "\t", "|"])),
        quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, LOOSE])),
        newline=draw(st.sampled_from(["\n", "\r\n"])),
        encoding=draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"])),
        blank_after=set(draw(st.lists(st.integers(0, len(rows)), max_size=3))),
        truncate=draw(st.none() | st.floats(0.05, 0.95)),
    )


def _header(case: CsvCase, key: str) -> str:
    if key == "dup":
        assert case.dup is not None
        return case.headers[case.dup[0]]
    return case.headers[key] if key in case.headers else case.extras[key][0]


def _cell(case: CsvCase, key: str, i: int) -> str:
    if key == "dup":
        assert case.dup is not None
        return case.dup[1][i]
    if key in case.extras:
        return case.extras[key][1][i]
    value = case.rows[i].values[key]
    if key == "order_id" and not case.rows[i].known_order and value.verdict == "ok":
        return f"unknown {value.text}"
    return value.text or ""


def _write_csv(case: CsvCase) -> tuple[bytes, list[int], int]:
    """The file's bytes, the physical line of each row, and the byte offset where the last
    row starts."""
    def line(fields: list[str]) -> str:
        if case.quoting == LOOSE:  # as hand-made files are: a quote inside a value left as it is
            out = []
            for f in fields:
                needs = case.delimiter in f or "\n" in f or "\r" in f or f.startswith('"') or f != f.strip(" ")
                out.append('"' + f.replace('"', '""') + '"' if needs else f)
            return case.delimiter.join(out) + case.newline
        buf = io.StringIO()
        csv.writer(buf, delimiter=case.delimiter, quoting=case.quoting, lineterminator=case.newline).writerow(fields)
        return buf.getvalue()

    text = line([_header(case, k) for k in case.order])
    number = 1 + text.count("\n")
    lines = []
    last_start = 0
    for i in range(len(case.rows)):
        if i in case.blank_after:
            text += case.newline
            number += 1
        row = line([_cell(case, k, i) for k in case.order])
        lines.append(number)
        last_start = len(text)
        text += row
        number += row.count("\n")
    encoding = case.encoding
    if encoding == "cp1252":
        try:
            data = text.encode("cp1252")
            data.decode("utf-8")
            encoding = "utf-8"  # plain ASCII (or bytes that happen to be UTF-8): nothing to tell apart
        except UnicodeEncodeError:
            encoding = "utf-8"
        except UnicodeDecodeError:
            pass
    data = text.encode(encoding)
    prefix = len(text[:last_start].encode(encoding))
    return data, lines, prefix


def _orders_csv(rows: list[ItemRow]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
    w.writerow(["order_id", "customer_id", "ts", "status"])
    seen = set()
    for r in rows:
        o = r.values["order_id"]
        if r.known_order and o.verdict == "ok" and o.expected not in seen:
            seen.add(o.expected)
            w.writerow([o.text, "c1", "2024-01-01 10:00", "completed"])
    if not seen:
        w.writerow(["only-order", "c1", "2024-01-01 10:00", "completed"])
    return buf.getvalue()


def _folder(files: dict[str, bytes | str | pl.DataFrame]) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="prop-"))
    for name, content in files.items():
        if isinstance(content, pl.DataFrame):
            content.write_parquet(folder / name)
        else:
            (folder / name).write_bytes(content.encode() if isinstance(content, str) else content)
    return folder


def _kept_row(row: ItemRow) -> tuple[object, ...]:
    v = row.values
    return (v["order_id"].expected, v["product_id"].expected, v["quantity"].expected, v["unit_price"].expected)


def _check_items(checked, rows: list[ItemRow], lines: list[int], origin: str, *, exact_last: bool = True) -> None:  # noqa: ANN001
    """The validator's verdict on order_items equals the oracle's, row by row."""
    rep = checked.report.tables["order_items"]
    rejects = checked.rejects.filter(pl.col("table") == "order_items")
    got = {(r["line"], r["column"], r["reason"]) for r in rejects.iter_rows(named=True)}
    assert set(rejects.get_column("origin").to_list()) <= {origin}
    expected, kept = set(), []
    for row, line in zip(rows, lines):
        verdict = _verdict(row)
        if verdict:
            expected.add((line, *verdict))
        else:
            kept.append(_kept_row(row))
    if not exact_last:  # a truncated last row may go either way; the rest must be exact
        last = lines[-1]
        got = {g for g in got if g[0] != last}
        expected = {e for e in expected if e[0] != last}
    assert got == expected
    frame = checked.tables["order_items"]
    actual = list(frame.select("order_id", "product_id", "quantity", "unit_price").iter_rows())
    if exact_last:
        assert rep.rows_read == len(rows)
        assert rep.rows_kept == len(kept) == len(actual)
        assert sum(rep.rejected.values()) == len(expected)
        for a, e in zip(actual, kept):
            assert a[:3] == e[:3] and math.isclose(a[3], e[3], rel_tol=1e-9, abs_tol=1e-12), (a, e)
    else:
        assert rep.rows_kept + rep.rows_rejected == rep.rows_read
        before_last = [_kept_row(r) for r in rows[:-1] if _verdict(r) is None]
        assert [a[:3] for a in actual[: len(before_last)]] == [e[:3] for e in before_last]


# -- CSV ------------------------------------------------------------------------------------------------


def test_random_csv_order_items_give_an_exact_report() -> None:
    runs: list[int] = []
    stats: Counter[str] = Counter()

    @settings(max_examples=_examples(150), **SETTINGS)
    @given(csv_cases())
    def check(case: CsvCase) -> None:
        runs.append(1)
        data, lines, last_start = _write_csv(case)
        truncated = False
        if case.truncate is not None and len(data) - last_start > 2:
            cut = last_start + max(1, int((len(data) - last_start - 1) * case.truncate))
            plain = {"utf-16": "utf-16-le", "utf-8-sig": "utf-8"}.get(case.encoding, "utf-8")
            truncated = cut < len(data) - len(case.newline.encode(plain))
            data = data[:cut]
        folder = _folder({"order_items.csv": data, "orders.csv": _orders_csv(case.rows)})
        try:
            raw = load_folder(folder, progress=_quiet)
            checked = validate(raw)
        except ShopperError as exc:
            # only a truncated file may be refused, and the message must name file and line
            stats["refused (truncated)"] += 1
            assert truncated, f"refused an intact file: {exc}"
            assert "order_items.csv" in str(exc) and re.search(r"line \d+", str(exc)), str(exc)
            return
        finally:
            shutil.rmtree(folder)
        _check_items(checked, case.rows, lines, "order_items.csv", exact_last=not truncated)
        notes = " | ".join(checked.report.notes)
        stats[f"{case.encoding} {'truncated' if truncated else 'whole'}"] += 1
        stats["lenient parser" if "quotes inside unquoted values" in notes else "Polars parser"] += 1
        stats["with rejects" if checked.report.tables["order_items"].rows_rejected else "no rejects"] += 1
        if case.dup:
            assert "given more than once" in notes
        enc = checked.report.tables["order_items"].notes
        if case.encoding == "utf-16":
            assert any("UTF-16" in n for n in enc)

    check()
    _report("CSV order_items", runs)
    print(dict(stats))


# -- the reconciliation adds up to the file -----------------------------------------------------------


def test_reconciliation_adds_up_to_any_generated_file(tmp_path_factory: pytest.TempPathFactory) -> None:
    """For any order-lines file (unreadable values, blanks, quantities ≤ 0, negative prices,
    unknown orders, odd headers, quoting, encodings), the reconciliation's lines add up to the
    file's rows and its values to the file's Σ quantity × unit price over the rows where both
    read, to the cent (analytics/purchases.py: nothing read is lost)."""
    from shopper_tui.analytics.purchases import reconcile

    runs: list[int] = []

    @settings(max_examples=_examples(40), **SETTINGS)
    @given(csv_cases())
    def check(case: CsvCase) -> None:
        assume(case.truncate is None and case.dup is None)
        runs.append(1)
        data, _, _ = _write_csv(case)
        folder = _folder({"order_items.csv": data, "orders.csv": _orders_csv(case.rows)})
        data_dir = tmp_path_factory.mktemp("rec")
        try:
            with open_workspace(import_source(folder, data_dir=data_dir).path) as ws:
                rec = reconcile(ws)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            shutil.rmtree(data_dir, ignore_errors=True)
        q_p = [(r.values["quantity"].expected, r.values["unit_price"].expected) for r in case.rows]
        value = sum(q * p for q, p in q_p if q is not None and p is not None)
        assert rec.lines_read == len(case.rows) == int(rec.rows["lines"].sum())
        assert rec.value_read == pytest.approx(round(value, 2), abs=0.011)
        assert float(rec.rows["value"].sum()) == pytest.approx(rec.value_read, abs=0.011 * len(rec.rows))

    check()
    assert runs


# -- Parquet and JSON Lines -----------------------------------------------------------------------------


def _typed(value: Value, column: str, kind: str) -> object:
    """The cell as a typed value ("text", "number") for Parquet / JSON."""
    if value.text is None or kind == "text":
        return value.text
    if value.verdict in ("ok", "not positive", "negative"):
        return float(value.text.replace(",", ".").strip()) if column == "unit_price" else int(float(value.text))
    return value.text


@st.composite
def typed_cases(draw: st.DrawFn) -> tuple[list[ItemRow], dict[str, str], str, list[int], dict[int, str]]:
    rows = draw(st.lists(item_rows, min_size=1, max_size=20))
    rows = [r for r in rows if any(v.text for v in r.values.values())] or [
        ItemRow({"order_id": Value("o", "ok", "o"), "product_id": Value("p", "ok", "p"),
                 "quantity": Value("1", "ok", 1), "unit_price": Value("1.00", "ok", 1.0)}, True)]
    kinds = {c: ("text" if c in ("order_id", "product_id") else draw(st.sampled_from(["text", "number"])))
             for c in ITEM_COLUMNS}
    fmt = draw(st.sampled_from(["parquet", "jsonl", "json"]))
    blanks = draw(st.lists(st.integers(0, len(rows)), max_size=3)) if fmt == "jsonl" else []
    nested = {i: draw(st.sampled_from(ITEM_COLUMNS)) for i in draw(st.lists(st.integers(0, len(rows) - 1), max_size=2))}
    return rows, kinds, fmt, blanks, nested


def test_random_parquet_and_json_order_items_give_an_exact_report() -> None:
    runs: list[int] = []

    @settings(max_examples=_examples(100), **SETTINGS)
    @given(typed_cases())
    def check(case: tuple[list[ItemRow], dict[str, str], str, list[int], dict[int, str]]) -> None:
        runs.append(1)
        rows, kinds, fmt, blanks, nested = case
        if fmt == "parquet":
            nested = {}  # a Parquet column is nested for every row or none: covered in test_bad_input
        # typed cells cannot hold every bad value: unparseable text stays text (a mixed column)
        records = []
        for i, r in enumerate(rows):
            rec = {}
            for c in ITEM_COLUMNS:
                v = r.values[c]
                cell = _typed(v, c, kinds[c])
                if c == "order_id" and not r.known_order and v.verdict == "ok":
                    cell = f"unknown {v.text}"
                rec[c] = None if v.verdict == "blank" and not v.text.strip() else cell
                if i in nested and nested[i] == c:
                    rec[c] = {"value": rec[c]} if i % 2 else [rec[c]]
            records.append(rec)
        if fmt == "parquet":
            frame = pl.DataFrame({c: [str(r[c]) if r[c] is not None else None for r in records] for c in ITEM_COLUMNS})
            for c in ITEM_COLUMNS:
                if kinds[c] == "number" and all(v is None or isinstance(v, (int, float)) for v in (r[c] for r in records)):
                    frame = frame.with_columns(pl.Series(c, [r[c] for r in records],
                                                         dtype=pl.Float64 if c == "unit_price" else pl.Int64, strict=False))
            content: bytes | pl.DataFrame = frame
            lines = list(range(1, len(rows) + 1))
            name = "order_items.parquet"
        elif fmt == "json":
            content = json.dumps(records).encode()
            lines = list(range(1, len(rows) + 1))
            name = "order_items.json"
        else:
            text, lines, n = "", [], 1
            for i, rec in enumerate(records):
                if i in blanks:
                    text += "\n"
                    n += 1
                text += json.dumps(rec) + "\n"
                lines.append(n)
                n += 1
            content, name = text.encode(), "order_items.jsonl"
        folder = _folder({name: content, "orders.csv": _orders_csv(rows)})
        try:
            checked = validate(load_folder(folder, progress=_quiet))
        except ShopperError as exc:
            # Polars refuses a JSON field mixing objects and arrays: the message names the field
            # and, for JSON Lines, the line
            assert len({nested[i] for i in nested}) < len(nested), str(exc)
            assert name in str(exc), str(exc)
            if fmt == "jsonl":
                assert re.search(r"line \d+: field '\w+'", str(exc)), str(exc)
            return
        finally:
            shutil.rmtree(folder)
        # rows with a nested value are rejected as nested (before any other rule)
        got_nested = {(x["line"], x["column"]) for x in checked.rejects.filter(
            (pl.col("table") == "order_items") & (pl.col("reason") == NESTED_REASON)).iter_rows(named=True)}
        assert got_nested == {(lines[i], c) for i, c in nested.items()}
        keep = [i for i in range(len(rows)) if i not in nested]
        sub = checked.rejects.filter(pl.col("reason") != NESTED_REASON)
        checked.rejects = sub
        report = checked.report.tables["order_items"]
        report.rows_read -= len(nested)
        report.rejected.pop(NESTED_REASON, None)
        report.rows_kept = report.rows_read - report.rows_rejected
        if keep:
            _check_items(checked, [rows[i] for i in keep], [lines[i] for i in keep], name)

    check()
    _report("Parquet / JSON order_items", runs)


# -- dates ------------------------------------------------------------------------------------------------

DATE_FORMATS = {
    "%Y-%m-%d %H:%M:%S": timedelta(seconds=1), "%Y-%m-%dT%H:%M:%S": timedelta(seconds=1),
    "%Y-%m-%dT%H:%M:%SZ": timedelta(seconds=1), "%Y-%m-%d %H:%M": timedelta(minutes=1),
    "%Y-%m-%d": timedelta(days=1), "%Y/%m/%d %H:%M": timedelta(minutes=1), "%Y/%m/%d": timedelta(days=1),
    "%Y%m%d": timedelta(days=1), "%m/%d/%Y %H:%M": timedelta(minutes=1), "%m/%d/%Y": timedelta(days=1),
    "%d/%m/%Y %H:%M": timedelta(minutes=1), "%d/%m/%Y": timedelta(days=1), "%d.%m.%Y %H:%M": timedelta(minutes=1),
    "%d.%m.%Y": timedelta(days=1), "%d-%m-%Y": timedelta(days=1), "%m/%d/%y %H:%M": timedelta(minutes=1),
    "%Y-%m-%d %H:%M:%S.%f": timedelta(microseconds=1), "epoch s": timedelta(seconds=1),
    "epoch ms": timedelta(milliseconds=1),
}
_DAY_FIRST = {"%d/%m/%Y %H:%M", "%d/%m/%Y", "%d.%m.%Y %H:%M", "%d.%m.%Y", "%d-%m-%Y"}


def _render(ts: datetime, fmt: str) -> str:
    if fmt == "epoch s":
        return str(int((ts - datetime(1970, 1, 1)).total_seconds()))
    if fmt == "epoch ms":
        return str(int((ts - datetime(1970, 1, 1)).total_seconds() * 1000))
    return ts.strftime(fmt)


def _floor(ts: datetime, step: timedelta) -> datetime:
    if step >= timedelta(days=1):
        return datetime(ts.year, ts.month, ts.day)
    base = datetime(1970, 1, 1)
    return base + ((ts - base) // step) * step


GARBAGE_DATES = ["not a date", "2024-02-30", "31st of never", "13/13/2013", "2024-13-01 10:00", "yesterday", "??"]


def test_random_dates_in_many_formats_parse_exactly() -> None:
    runs: list[int] = []

    @settings(max_examples=_examples(120), **SETTINGS)
    @given(st.sampled_from(sorted(DATE_FORMATS)),
           st.lists(st.datetimes(min_value=datetime(2001, 9, 10), max_value=datetime(2037, 12, 31)), min_size=1,
                    max_size=20),
           st.lists(st.tuples(st.integers(0, 20), st.sampled_from(GARBAGE_DATES)), max_size=3),
           st.sampled_from(["csv", "jsonl"]))
    def check(fmt: str, stamps: list[datetime], garbage: list[tuple[int, str]], container: str) -> None:
        runs.append(1)
        if fmt in _DAY_FIRST:
            assume(any(t.day > 12 for t in stamps))  # else day/month cannot be told apart (US is assumed)
        cells = [(_render(t, fmt), _floor(t, DATE_FORMATS[fmt])) for t in stamps]
        for at, bad in garbage:
            cells.insert(min(at, len(cells)), (bad, None))
        orders = [{"order_id": f"o{i}", "customer_id": "c1", "ts": text, "status": "completed"}
                  for i, (text, _) in enumerate(cells)]
        if container == "csv":
            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=list(orders[0]), lineterminator="\n")
            w.writeheader()
            w.writerows(orders)
            files: dict[str, str] = {"orders.csv": buf.getvalue()}
            first_line = 2
        else:
            files = {"orders.jsonl": "".join(json.dumps(o) + "\n" for o in orders)}
            first_line = 1
        files["order_items.csv"] = "order_id,product_id,quantity,unit_price\no0,p1,1,1\n"
        folder = _folder(files)
        try:
            checked = validate(load_folder(folder, progress=_quiet))
        finally:
            shutil.rmtree(folder)
        got = dict(checked.tables["orders"].select("order_id", "ts").iter_rows())
        for i, (text, expected) in enumerate(cells):
            if expected is None:
                assert f"o{i}" not in got
            else:
                assert got.get(f"o{i}") == expected, (fmt, text, got.get(f"o{i}"), expected)
        bad = {(r["line"], r["reason"]) for r in checked.rejects.filter(pl.col("table") == "orders").iter_rows(named=True)}
        assert bad == {(first_line + i, "unparseable ts") for i, (_, e) in enumerate(cells) if e is None}

    check()
    _report("dates", runs)


# -- the validator on frames of any type --------------------------------------------------------------------

_DTYPES = {
    "text": st.text(max_size=6) | st.none(),
    "int": st.integers(-(2**63), 2**63 - 1) | st.none(),
    "float": st.floats(allow_nan=True, allow_infinity=True) | st.none(),
    "bool": st.booleans() | st.none(),
    "date": st.dates() | st.none(),
    "datetime": st.datetimes() | st.none(),
    "list": st.lists(st.integers(0, 9), max_size=2) | st.none(),
    "struct": st.fixed_dictionaries({"a": st.integers(0, 9)}) | st.none(),
    "decimal": st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False) | st.none(),
    "duration": st.timedeltas() | st.none(),
    "bytes": st.binary(max_size=4) | st.none(),
    "null": st.none(),
}


@st.composite
def raw_tables(draw: st.DrawFn) -> RawSource:
    n = draw(st.integers(0, 12))
    tables = {}
    for name in draw(st.lists(st.sampled_from(list(TABLES)), min_size=1, max_size=6, unique=True)):
        spec = TABLES[name]
        cols = draw(st.lists(st.sampled_from([*spec.columns, "extra"]), unique=True, max_size=len(spec.columns) + 1))
        if draw(st.integers(0, 4)):  # mostly keep the required columns, so rows get validated
            cols = list(dict.fromkeys([*spec.required, *cols]))
        data = {}
        for c in cols:
            kind = draw(st.sampled_from(sorted(_DTYPES)))
            values = [draw(_DTYPES[kind]) for _ in range(n)]
            if kind == "decimal":
                values = [None if v is None else Decimal(v) for v in values]
            data[c] = pl.Series(c, values, strict=False)
        frame = pl.DataFrame(data) if data else pl.DataFrame({"extra": [None] * n})
        frame = frame.with_row_index(LINE_COLUMN, offset=2).with_columns(pl.col(LINE_COLUMN).cast(pl.Int64))
        tables[name] = RawTable(name, frame, f"{name}.parquet")
    return RawSource("files", "random frames", tables)


def test_validator_on_columns_of_every_type() -> None:
    runs: list[int] = []

    @settings(max_examples=_examples(200), **SETTINGS)
    @given(raw_tables())
    def check(raw: RawSource) -> None:
        runs.append(1)
        read = {name: t.frame.height for name, t in raw.tables.items()}
        lines = {name: set(t.frame.get_column(LINE_COLUMN).to_list()) for name, t in raw.tables.items()}
        try:
            checked = validate(raw)
        except ShopperError as exc:
            text = str(exc)
            assert "random frames" in text or any(f"{n}.parquet" in text for n in raw.tables), text
            return
        for name, rep in checked.report.tables.items():
            assert rep.rows_read == read[name] and rep.rows_kept + rep.rows_rejected == rep.rows_read
            assert rep.rows_kept == checked.tables[name].height or name in ("customers", "products")
            rej = checked.rejects.filter(pl.col("table") == name)
            assert set(rej.get_column("line").to_list()) <= lines[name]
            assert set(rej.get_column("column").to_list()) <= set(TABLES[name].columns)
        for name, frame in checked.tables.items():
            assert dict(frame.schema) == dict(TABLES[name].schema)
            for c, t in frame.schema.items():
                if t == pl.Float64:
                    assert frame.get_column(c).drop_nulls().is_finite().all()

    check()
    _report("validator on random frames", runs)


# -- whole imports of random files: a report or a ShopperError, and the previous workspace intact ------------

_file_bytes = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
    st.lists(st.lists(st.text(string.printable, max_size=6), min_size=1, max_size=5), min_size=1, max_size=8).map(
        lambda rows: "\n".join(",".join(r) for r in rows).encode()),
    st.lists(st.dictionaries(st.sampled_from(["order_id", "customer_id", "ts", "status", "x", "product_id", "quantity"]),
                             st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=5),
                                       st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(), max_size=1))),
             max_size=6).map(lambda recs: "\n".join(json.dumps(r) for r in recs).encode()),
)


def test_random_files_import_or_fail_cleanly(tmp_path: Path) -> None:
    runs: list[int] = []
    good = tmp_path / "good"
    good.mkdir()
    (good / "orders.csv").write_text("order_id,customer_id,ts,status\no1,c1,2024-01-01,completed\n")
    (good / "order_items.csv").write_text("order_id,product_id,quantity,unit_price\no1,p1,1,2.5\n")
    data_dir = tmp_path / "data"
    first = import_source(good, data_dir=data_dir, name="w")
    before = first.path.read_bytes()

    @settings(max_examples=_examples(60), **SETTINGS)
    @given(st.sampled_from(["orders.csv", "orders.jsonl", "orders.json", "orders.parquet", "order_items.tsv",
                            "events.csv.gz"]), _file_bytes, st.booleans())
    def check(name: str, content: bytes, parquet_ok: bool) -> None:
        runs.append(1)
        table = name.split(".")[0]
        folder = _folder({f: (good / f).read_text() for f in ("orders.csv", "order_items.csv") if f.split(".")[0] != table})
        if name.endswith(".gz"):
            import gzip
            content = gzip.compress(content)
        if name.endswith(".parquet") and parquet_ok:
            try:
                pl.read_csv(io.BytesIO(content), infer_schema=False).write_parquet(folder / name)
            except Exception:  # noqa: BLE001 - not CSV either: write the raw bytes
                (folder / name).write_bytes(content)
        else:
            (folder / name).write_bytes(content)
        try:
            import_source(folder, data_dir=data_dir, name="w", force=True)
        except ShopperError as exc:
            text = str(exc)
            assert name in text or str(folder) in text, text
            assert first.path.read_bytes() == before  # untouched
        finally:
            shutil.rmtree(folder)
        leftovers = [p.name for p in first.path.parent.iterdir() if p.name != "w.duckdb"]
        assert not leftovers, leftovers
        with open_workspace(first.path) as ws:  # whatever happened, the workspace opens
            ws.row_counts()
        first.path.write_bytes(before)  # next case starts from the good workspace

    check()
    _report("random files through import_source", runs)


# -- retail files ---------------------------------------------------------------------------------------------

RETAIL_HEADERS = [
    ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"),
    ("Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"),
    ("order_id", "sku", "name", "qty", "date", "price", "customer", "region"),
]


@st.composite
def retail_rows(draw: st.DrawFn) -> list[list[str]]:
    n = draw(st.integers(1, 25))
    rows = []
    for _ in range(n):
        rows.append([
            draw(st.sampled_from(["536365", "C536379", "", "536366", "A1"]) | _ids),
            draw(st.sampled_from(["85123A", "POST", "M", "22423", "", "d", "BANK CHARGES"]) | _ids),
            draw(st.text(_ID_CHARS, max_size=12)),
            draw(st.sampled_from(["6", "-2", "0", "x", "", "1e400", "3.0"])),
            draw(st.sampled_from(["12/1/2010 8:26", "2010-12-01 08:26:00", "01/12/2010 08:26", "garbage", ""])),
            draw(st.sampled_from(["2.55", "2,55", "-1", "nan", "", "inf", "0"])),
            draw(st.sampled_from(["17850.0", "17850", "", "abc", "1e30"])),
            draw(st.sampled_from(["United Kingdom", "", "EIRE"])),
        ])
    return rows


def test_random_retail_files_account_for_every_line() -> None:
    runs: list[int] = []

    @settings(max_examples=_examples(80), **SETTINGS)
    @given(st.sampled_from(RETAIL_HEADERS), retail_rows(), st.sampled_from(["csv", "parquet"]),
           st.sampled_from(["utf-8", "cp1252", "utf-8-sig"]))
    def check(header: tuple[str, ...], rows: list[list[str]], fmt: str, encoding: str) -> None:
        runs.append(1)
        folder = Path(tempfile.mkdtemp(prefix="retail-"))
        path = folder / f"retail.{fmt}"
        try:
            if fmt == "csv":
                buf = io.StringIO()
                csv.writer(buf, lineterminator="\n").writerows([list(header), *rows])
                path.write_bytes(buf.getvalue().encode(encoding, errors="replace"))
            else:
                pl.DataFrame([pl.Series(h, [r[i] or None for r in rows], dtype=pl.String)
                              for i, h in enumerate(header)]).write_parquet(path)
            try:
                raw = load_source(path)
                checked = validate(raw)
            except ShopperError as exc:
                assert path.name in str(exc), str(exc)
                return
        finally:
            shutil.rmtree(folder)
        non_blank = [r for r in rows if any(v for v in r)] if fmt == "csv" else rows
        lines = raw.loader_rejects.get_column("line").to_list() if raw.loader_rejects is not None else []
        items = raw.tables["order_items"].frame
        # every line is either an order line or rejected once, with its own line number
        all_lines = sorted([*lines, *items.get_column(LINE_COLUMN).to_list()])
        assert len(all_lines) == len(set(all_lines)) == len(non_blank)
        first = 2 if fmt == "csv" else 1
        assert set(all_lines) <= set(range(first, first + len(rows) + 1))
        rep = checked.report.tables["order_items"]
        assert rep.rows_read == len(non_blank) and rep.rows_kept + rep.rows_rejected == rep.rows_read

    check()
    _report("retail files", runs)


# -- MongoDB documents of any shape -----------------------------------------------------------------------------

_leaf = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=True),
                  st.text(max_size=6), st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1)),
                  st.just("2024-01-01"))
_any = st.recursive(_leaf, lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.sampled_from("abx"), inner, max_size=2),
                    max_leaves=4)
_fields = ["order_id", "user_id", "customerId", "timestamp", "created_at", "status", "items", "product_id", "quantity",
           "unit_price", "qty", "price", "_id"]


@pytest.mark.mongo
def test_random_mongo_documents_are_read_or_rejected(mongo_db: tuple[str, object]) -> None:
    from shopper_tui.analytics.sources.mongo import load_mongo

    uri, db = mongo_db
    runs: list[int] = []
    item = st.dictionaries(st.sampled_from(["product_id", "sku", "quantity", "qty", "unit_price", "price"]), _any, max_size=4)
    doc = st.dictionaries(st.sampled_from(_fields[:-1]), _any, max_size=6).flatmap(
        lambda d: st.one_of(st.just(d), st.lists(item | _any, max_size=3).map(lambda items, d=d: {**d, "items": items})))

    @settings(max_examples=_examples(40), **SETTINGS)
    @given(st.lists(doc, min_size=1, max_size=8), st.lists(st.dictionaries(st.sampled_from(["_id", "age", "country",
                                                                                        "created_at"]), _any, max_size=3),
                                                         max_size=4))
    def check(transactions: list[dict], users: list[dict]) -> None:
        runs.append(1)
        db.transactions.delete_many({})
        db.users.delete_many({})
        db.transactions.insert_many([dict(d) for d in transactions])
        users = [u for u in users if not isinstance(u.get("_id"), (list,))]
        seen: set[str] = set()
        unique_users = []
        for u in users:
            key = repr(u.get("_id"))
            if "_id" in u and key in seen:
                continue
            seen.add(key)
            unique_users.append(u)
        if unique_users:
            db.users.insert_many([dict(u) for u in unique_users])
        try:
            raw = load_mongo(uri)
            checked = validate(raw)
        except ShopperError as exc:
            assert "mongodb://" in str(exc) or "collection" in str(exc), str(exc)
            return
        for name, rep in checked.report.tables.items():
            assert rep.rows_kept + rep.rows_rejected == rep.rows_read
        assert checked.report.tables["orders"].rows_read == len(transactions)
        lines = checked.rejects.filter(pl.col("table") == "orders").get_column("line").to_list()
        assert set(lines) <= set(range(1, len(transactions) + 1))

    check()
    _report("MongoDB documents", runs)
