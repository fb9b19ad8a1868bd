"""A folder of CSV / Parquet / JSON Lines files named after the canonical tables.

``customers.csv``, ``orders.parquet``, ``events.jsonl`` … (stems case-insensitive, a few
common alternatives accepted: ``users`` → customers, ``items`` / ``order_lines`` →
order_items, ``sessions`` → events, ``transactions`` → orders when no orders file is there).
Headers are mapped to canonical column names case-, space- and punctuation-insensitively
through a small synonym table per table (``Customer ID`` → customer_id, ``created_at`` → ts).

Exported data sets name their files with more words (Olist's ``olist_orders_dataset.csv``,
``olist_order_items_dataset.csv``). A stem holding a canonical table name as whole words
(split at ``_``, spaces, ``-`` and ``.``) is read as that table when no file of an exact stem
(above) is there; when it holds several, the longest name wins (``order_items`` over
``orders``), and a word that is only part of a name does not count (``order_payments`` is no
orders file). Such a loosely named file that lacks a column its table requires is ignored with
a note instead of failing the import (Olist's reviews are of whole orders and have no product).

Rules applied while reading (each one says so in the notes):

* order_items without a quantity column but with order and product ids: every row is one
  unit (quantity 1), as in exports numbering the units of a line (Olist's ``order_item_id``);
* an order line's delivery charge (:data:`CHARGE_COLUMNS`: ``freight_value``, ``freight``,
  ``shipping``, ``shipping_cost``, ``delivery_fee`` …): each line where it is above 0 gets a
  charge line after it in order_items (kind ``charge``, no product id, quantity 1, unit price =
  the charge, taken as per line whatever the line's quantity), so it counts in the order's
  value and revenue and never as an item (see :mod:`..purchases`); the column is then dropped;
* a customers table with a person column (:data:`PERSON_COLUMNS`: ``customer_unique_id`` …)
  next to customer_id, as when a customer id is issued per order (Olist): customer ids are
  replaced by the person's id in customers (first row per person kept), orders, events and
  reviews, so every per-customer analysis counts people.

CSV files are read with every column as text so the validator coerces and reports each bad
value; the delimiter (``,`` ``;`` tab ``|``) is taken from the header line, a UTF-8 BOM is
dropped, UTF-16 (Excel "Unicode text") is recognised by its BOM, and bytes that are not
UTF-8 are read as cp1252, else latin-1 (the table's ``encoding`` says which).

Line numbers (``__line``): CSV rows get their physical line in the file (header = line 1,
first row = line 2), exact also when quoted fields contain line breaks; empty rows (blank
lines, or only delimiters as spreadsheets export them) are skipped but keep their numbers. Parquet rows and JSON Lines / JSON array records get their 1-based
record number (for JSON Lines without blank lines that is the physical line).

The reading helpers here (:func:`read_delimited`, :func:`map_headers`,
:func:`check_delimiter`) are shared with the single-file retail loader.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import os
import re
import zlib
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import polars as pl

from ..errors import ShopperError
from ..parsing import as_text, is_nested, parse_datetimes, to_floats, to_id_strings
from ..schema import LINE_COLUMN, NESTED_FLAG, TABLES
from . import ProgressFn, RawSource, RawTable

__all__ = [
    "load_folder",
    "read_delimited",
    "read_table_file",
    "DelimitedText",
    "normalise_header",
    "map_headers",
    "check_delimiter",
    "TABLE_STEMS",
    "table_for_stem",
    "COLUMN_SYNONYMS",
    "CHARGE_COLUMNS",
    "PERSON_COLUMNS",
    "SESSION_GAP_MINUTES",
    "number_rows",
]

#: File stem (normalised) → canonical table. Canonical names win over alternatives;
#: ``transactions`` is used for orders only when no orders file is present.
TABLE_STEMS: dict[str, str] = {
    "customers": "customers", "customer": "customers", "users": "customers", "user": "customers",
    "clients": "customers",
    "products": "products", "product": "products", "catalog": "products", "catalogue": "products",
    "orders": "orders", "order": "orders", "transactions": "orders",
    "order_items": "order_items", "orderitems": "order_items", "order_item": "order_items", "items": "order_items",
    "order_lines": "order_items", "orderlines": "order_items", "line_items": "order_items",
    "events": "events", "event": "events", "sessions": "events", "clickstream": "events",
    "reviews": "reviews", "review": "reviews",
}
_WEAK_STEMS = {"transactions"}  # only used when the canonical file is absent

#: How strongly a file's stem claims its table (lower wins; see :func:`table_for_stem`).
_EXACT, _WEAK, _LOOSE = 0, 1, 2
_WORD_SPLIT = re.compile(r"[^0-9a-z]+")


def table_for_stem(stem: str) -> tuple[str, int] | None:
    """The canonical table a (normalised) file stem names, and how strongly.

    Returns:
        ``(table, 0)`` for a stem of :data:`TABLE_STEMS`, ``(table, 1)`` for one of the weak
        stems (``transactions``), ``(table, 2)`` for a stem holding a canonical table name as
        whole words (``olist_orders_dataset`` → orders; the longest name held wins, so
        ``olist_order_items_dataset`` → order_items), else None (``olist_order_payments_dataset``:
        ``order`` is not ``orders``).
    """
    table = TABLE_STEMS.get(stem)
    if table is not None:
        return table, _WEAK if stem in _WEAK_STEMS else _EXACT
    words = [w for w in _WORD_SPLIT.split(stem) if w]
    best: tuple[int, int, str] | None = None
    for name in TABLES:
        want = name.split("_")
        n = len(want)
        if any(words[i:i + n] == want for i in range(len(words) - n + 1)):
            rank = (n, len(name), name)
            if best is None or rank > best:
                best = rank
    return (best[2], _LOOSE) if best else None

_SUFFIXES = {".csv": "csv", ".tsv": "csv", ".txt": None, ".parquet": "parquet", ".pq": "parquet",
             ".jsonl": "json", ".ndjson": "json", ".json": "json"}

_ID = ("id",)
_TS = ("ts", "timestamp", "datetime", "date_time", "created_at", "createdat", "date", "time")

#: Canonical column → accepted header spellings, in priority order (the canonical name
#: first). Headers are compared after :func:`normalise_header`, so ``Customer ID``,
#: ``customer_id`` and ``CustomerID`` are one spelling. When two headers of a file map to the
#: same column, the earlier spelling in the list wins and the other is left unmapped.
COLUMN_SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "customers": {
        "customer_id": ("customer_id", "customer", "user_id", "user", "client_id", "visitor_id", *_ID),
        "signup_ts": ("signup_ts", "signup_date", "signup", "signed_up_at", "registered_at", "registration_date",
                      "join_date", "joined_at", "created_at", "first_seen"),
        "country": ("country", "country_code", "customer_country", "nation"),
        "age": ("age", "customer_age"),
        "gender": ("gender", "sex"),
        "email": ("email", "email_address", "mail"),
        "name": ("name", "full_name", "customer_name", "user_name"),
    },
    "products": {
        "product_id": ("product_id", "sku", "item_id", "stock_code", "article_id", "asin", "product", *_ID),
        "name": ("name", "product_name", "title", "item_name"),
        "category": ("category", "category_name", "product_category", "product_category_name", "department", "cat"),
        "subcategory": ("subcategory", "sub_category", "subcat"),
        "brand": ("brand", "brand_name", "manufacturer", "vendor"),
        "price": ("price", "unit_price", "list_price", "retail_price"),
        "description": ("description", "desc", "details", "product_description"),
    },
    "orders": {
        "order_id": ("order_id", "invoice", "invoice_no", "invoice_id", "transaction_id", *_ID),
        "customer_id": ("customer_id", "customer", "user_id", "user", "client_id"),
        "ts": ("ts", "order_ts", "order_date", "order_time", "ordered_at", "purchase_date", "order_purchase_timestamp",
               "invoice_date", *_TS[1:]),
        "channel": ("channel", "sales_channel", "order_channel", "source"),
        "status": ("status", "order_status", "state"),
    },
    "order_items": {
        "order_id": ("order_id", "invoice", "invoice_no", "invoice_id", "transaction_id"),
        "product_id": ("product_id", "sku", "item_id", "stock_code", "article_id", "product"),
        "quantity": ("quantity", "qty", "quantity_ordered", "units", "count"),
        "unit_price": ("unit_price", "price", "item_price", "price_each"),
    },
    "events": {
        "session_id": ("session_id", "session", "visit_id", "sessionid"),
        "customer_id": ("customer_id", "user_id", "visitor_id", "customer", "user", "client_id"),
        "ts": ("ts", "event_time", "event_ts", "event_timestamp", *_TS[1:]),
        "event_type": ("event_type", "event", "event_name", "action", "type"),
        "product_id": ("product_id", "item_id", "sku", "product"),
        "device": ("device", "device_type", "platform"),
        "channel": ("channel", "traffic_source", "utm_source", "source"),
        "experiment": ("experiment", "experiment_id", "test", "ab_test"),
        "variant": ("variant", "group", "arm", "bucket"),
    },
    "reviews": {
        "review_id": ("review_id", *_ID),
        "product_id": ("product_id", "item_id", "sku", "asin", "product"),
        "customer_id": ("customer_id", "user_id", "reviewer_id", "customer", "user"),
        "ts": ("ts", "review_date", "reviewed_at", "review_time", *_TS[1:]),
        "rating": ("rating", "stars", "star_rating", "score", "review_score", "overall"),
        "title": ("title", "summary", "review_title", "headline"),
        "text": ("text", "review", "review_text", "body", "content", "comment", "review_body"),
    },
}

#: Order-line headers holding the line's delivery charge, in priority order (compared after
#: :func:`normalise_header`). Each line where it is above 0 gets a charge line (see the module
#: docstring).
CHARGE_COLUMNS: tuple[str, ...] = (
    "freight_value", "freight", "freight_cost", "shipping", "shipping_cost", "shipping_fee", "shipping_price",
    "delivery_fee", "delivery_cost", "delivery_charge",
)
#: Customers headers naming the person when customer ids are issued per order, in priority order.
PERSON_COLUMNS: tuple[str, ...] = ("customer_unique_id", "unique_customer_id", "person_id")

#: Events without a session id are split into sessions per customer at gaps longer than this.
SESSION_GAP_MINUTES = 30

_DELIMITERS = (",", ";", "\t", "|")
_DELIM_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_NON_HEADER = re.compile(r"[^0-9a-z]+")
_QUOTED = re.compile(r'"[^"]*"')


def normalise_header(name: str) -> str:
    """``" Customer ID "`` → ``"customerid"``: lower case, BOM, spaces and punctuation dropped."""
    return _NON_HEADER.sub("", name.replace("\ufeff", "").lower())


def map_headers(
    columns: list[str], synonyms: dict[str, tuple[str, ...]], *, origin: str
) -> tuple[dict[str, str], list[str]]:
    """Match headers to canonical columns.

    Args:
        columns: The file's headers.
        synonyms: Canonical column → accepted spellings in priority order.
        origin: File name, for notes.

    Returns:
        ``{header: canonical}`` for the headers used, and notes about headers that were
        candidates for a column another header already took.
    """
    by_norm: dict[str, list[str]] = {}
    for c in columns:
        by_norm.setdefault(normalise_header(c), []).append(c)  # "Customer ID" and "customer_id" alike
    rename: dict[str, str] = {}
    notes: list[str] = []
    taken: set[str] = set()
    for canonical, spellings in synonyms.items():
        hits = [h for n in dict.fromkeys(normalise_header(s) for s in spellings) if n in by_norm for h in by_norm[n]]
        hits = [h for h in hits if h not in taken]
        if not hits:
            continue
        rename[hits[0]] = canonical
        taken.add(hits[0])
        if len(hits) > 1:
            notes.append(f"{origin}: column '{hits[0]}' used as {canonical}; "
                         f"{', '.join(repr(h) for h in hits[1:])} also looked like it and was ignored")
    return rename, notes


@dataclass
class DelimitedText:
    """A delimited text file read with every column as text.

    Attributes:
        frame: All columns ``String``, plus ``__line`` (physical line of the row).
        encoding: ``None`` for UTF-8 (with or without BOM), else the encoding used.
        delimiter: The separator taken from the header line.
        header: The header line as text (for messages).
        blank_lines: Empty rows (blank, or only delimiters) skipped.
        notes: Facts for the report (repeated header names, the lenient parser used).
    """

    frame: pl.DataFrame
    encoding: str | None
    delimiter: str
    header: str
    blank_lines: int = 0
    notes: list[str] = field(default_factory=list)


def _raw_bytes(path: Path, origin: str) -> bytes:
    try:
        # read(size) fills one buffer; read_bytes() grew one and copied it (twice the file at once)
        with path.open("rb", buffering=0) as f:
            data = f.read(os.fstat(f.fileno()).st_size) or b""
            rest = f.read()  # anything written since it was measured
            if rest:
                data += rest
    except FileNotFoundError:
        raise ShopperError(f"{origin}: file not found ('{path}').") from None
    except OSError as exc:
        raise ShopperError(f"{origin}: cannot be read ({exc.strerror or exc}).") from exc
    if path.name.lower().endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise ShopperError(f"{origin}: not a valid gzip file ({exc}); it may be truncated or damaged.") from exc
    if not data or data.isspace():  # data.strip() copied the whole file, holding the GIL (0.7 s at 1.3 GB)
        raise ShopperError(f"{origin}: the file is empty ({len(data)} bytes); expected a header line and rows.",
                           hint="Export the table again, or remove the empty file from the folder.")
    return data


def _decode(data: bytes, origin: str) -> tuple[bytes, str | None]:
    """UTF-8 bytes of the file and the encoding used when it was not UTF-8."""
    head = data[:2048]
    if not data.startswith((b"\xff\xfe", b"\xfe\xff")) and len(head) >= 8:
        # UTF-16 written without a byte-order mark: ASCII-range text whose every other byte is NUL
        even, odd = head[0::2].count(0) / len(head[0::2]), head[1::2].count(0) / len(head[1::2])
        if odd >= 0.9 and even <= 0.1:
            data = b"\xff\xfe" + data
        elif even >= 0.9 and odd <= 0.1:
            data = b"\xfe\xff" + data
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16").encode("utf-8"), "UTF-16"
        except UnicodeDecodeError as exc:
            good = data[: exc.start - exc.start % 2].decode("utf-16", errors="replace")
            raise ShopperError(
                f"{origin}: line {good.count(chr(10)) + 1} is not valid UTF-16 text "
                f"({'the file ends in the middle of a character' if exc.end >= len(data) else exc.reason}); "
                "the file looks truncated or damaged.",
                hint="Export the table again.") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if data[:4] == b"PAR1":
        raise ShopperError(f"{origin}: this is a Parquet file, not text; rename it to .parquet.")
    if data[:2] == b"PK":
        raise ShopperError(f"{origin}: this is a zip or Excel (.xlsx) file, not text; "
                           "unzip it, or give an .xlsx file a .xlsx name.")
    if b"\x00" in data[:65536]:
        raise ShopperError(f"{origin}: contains binary data (NUL bytes), not a text table.",
                           hint="Check that the file is a CSV export and not a spreadsheet or archive.")
    encoding: str | None = None
    try:
        if not _is_utf8(data):
            data.decode("utf-8")  # raises, with the position the handling below needs
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data" and exc.end == len(data):
            # valid UTF-8 cut off in the middle of its last character (a truncated file): stay
            # with UTF-8 rather than misreading every accented letter of the file as cp1252
            data = data[: exc.start]
        else:
            for encoding in ("cp1252", "latin-1"):
                try:
                    data = data.decode(encoding).encode("utf-8")
                    break
                except UnicodeDecodeError:
                    continue
    if _control_heavy(data):
        raise ShopperError(f"{origin}: does not look like a text table (unreadable bytes at the start).",
                           hint="Check that the file is a CSV export and not a binary file.")
    return data, encoding


def _control_heavy(data: bytes) -> bool:
    """True when the start of UTF-8 ``data`` is more control characters than a text table has."""
    head = data[:4096].decode("utf-8", errors="replace")
    controls = sum(1 for ch in head if ord(ch) < 32 and ch not in "\t\r\n") + head.count("\ufffd")
    return controls > max(4, len(head) // 100)


def _unreadable_start(data: bytes) -> bool:
    """True when the start of a file is anything :func:`_decode` would stop at or convert
    (UTF-16, Parquet, zip, binary): the reader in pieces leaves such a file to it."""
    return (data.startswith((b"\xff\xfe", b"\xfe\xff", b"PAR1", b"PK")) or b"\x00" in data[:65536]
            or _control_heavy(data))


#: Bytes at a time when a whole file is checked or counted (the GIL is let go in between).
_PIECE = 1 << 24


def _is_utf8(data: bytes) -> bool:
    """True when ``data`` is valid UTF-8, checked without decoding the whole file into one
    string (a 1.3 GB export would briefly hold another 1.3 GB)."""
    if data.isascii():
        return True
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    try:
        for start in range(0, len(view), _PIECE):
            decoder.decode(view[start:start + _PIECE])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _line_counts(data: bytes) -> tuple[int, int]:
    """(lines as Polars reads them, lines up to the last one with content), without copying
    the data. Polars reads each line as a row, a blank one too (a row of nulls), the trailing
    blank lines included; the second count leaves those out. Counted in 16 MB pieces: one count
    over a 1.3 GB file held the GIL, and so froze the app importing it, for 0.45 s."""
    breaks = _count(data, b"\n")
    end = len(data)
    while end and data[end - 1] in b" \t\r\n":
        end -= 1
    trailing = data.count(b"\n", end)
    return breaks + (1 if data and not data.endswith(b"\n") else 0), 1 + breaks - trailing


def _in_one_piece(columns: list[pl.Series]) -> pl.DataFrame:
    """A frame of ``columns``, each copied into one piece (chunk), one column at a time.

    Polars reads a large CSV in pieces (550 for 16 M events). An operation across columns cut
    into different pieces (a column added or parsed next to them) first copies every column
    into one piece, all at once: 2.3 GB more at that moment for those events. Here the extra
    memory is one column's, as long as the caller holds no other reference to the columns.
    """
    names = [c.name for c in columns]
    for i, column in enumerate(columns):
        if column.n_chunks() > 1:
            columns[i] = column.rechunk()
        del column  # the old pieces go as soon as the list no longer holds them
    frame = pl.DataFrame(columns)
    frame.columns = names  # a column without a name (header ",a") would be named "column_0"
    return frame


def _sniff_delimiter(header: str, data: bytes | None = None) -> str:
    """The delimiter of a file from its header line — and, given the file's start, from how
    its first records split: a header name holding another delimiter (``Price;EUR``) or a
    quoted line break does not decide. Among the delimiters that split the header and give
    (nearly) every sampled record the header's field count, the one giving the most fields
    wins; ties go to the earlier of comma, semicolon, tab, pipe."""
    unquoted = _QUOTED.sub("", header)
    counts = {d: unquoted.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])  # ties: earlier in _DELIMITERS
    fallback = best if counts[best] else ","
    if data is None:
        return fallback
    sample = data[: 1 << 16].decode("utf-8", errors="replace")
    scores: dict[str, tuple[bool, int]] = {}
    for d in _DELIMITERS:
        if d not in sample:
            continue
        reader = csv.reader(io.StringIO(sample, newline=""), delimiter=d)
        try:
            rows = [r for r in islice(reader, 50) if r]
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        body = rows[1:-1] if len(rows) > 2 else rows[1:]  # the last sampled record may be cut off
        fits = sum(1 for r in body if len(r) == width)
        scores[d] = (not body or fits >= 0.8 * len(body), width)
    if not scores:
        return fallback
    return max(_DELIMITERS, key=lambda d: (*scores.get(d, (False, 0)), -_DELIMITERS.index(d)))


def _ragged_line(data: bytes, delimiter: str) -> tuple[int, int, int] | None:
    """(physical line, fields, expected) of the first row with more fields than the header.

    Only called after Polars refused the file, to name the line in the message.
    """
    reader = csv.reader(io.StringIO(data.decode("utf-8", errors="replace"), newline=""), delimiter=delimiter)
    expected = None
    for row in reader:
        if expected is None:
            expected = len(row)
        elif len(row) > expected:
            return reader.line_num, len(row), expected
    return None


def _header_row(data: bytes, delimiter: str) -> tuple[list[str], int]:
    """The header's fields as the csv module reads them and how many physical lines it spans
    (a quoted header name may hold a line break)."""
    reader = csv.reader(io.StringIO(data[:1 << 20].decode("utf-8", errors="replace"), newline=""), delimiter=delimiter)
    row = next(reader, [])
    return row, max(reader.line_num, 1)


def _unclosed_quote(text: str, delimiter: str) -> bool:
    """True when the csv text (one row and what follows) ends inside a quoted value."""
    try:
        for _ in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


def _lenient_read(data: bytes, delimiter: str, origin: str) -> tuple[pl.DataFrame, list[int], int]:
    """Read with Python's csv module, which takes a quote inside an unquoted value (``12" pizza``)
    literally where Polars refuses the whole file. Used only when Polars refused it.

    Returns:
        All-text columns (duplicate names suffixed as Polars does), the physical line of every
        row, and the number of empty rows skipped.

    Raises:
        ShopperError: A row has more fields than the header, or a quoted value is never closed
            (naming the line where it opens).
    """
    text = data.decode("utf-8")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, [])
    starts = [1]
    rows: list[list[str]] = []
    start = reader.line_num + 1
    for row in reader:
        rows.append(row)
        starts.append(start)
        start = reader.line_num + 1
    last = starts[-1]
    offset = 0
    for _ in range(last - 1):
        offset = text.find("\n", offset) + 1
    if _unclosed_quote(text[offset:], delimiter):
        raise ShopperError(
            f"{origin}: line {last}: a quoted value opened on this line is never closed, so the rest of the file "
            "would be read into it (the file may be truncated).",
            hint='Close the quote (a " inside a quoted value is written ""), or export the file again.')
    width = len(header)
    names: list[str] = []
    seen: dict[str, int] = {}
    for h in header:
        if h in seen:
            names.append(f"{h}_duplicated_{seen[h]}")
            seen[h] += 1
        else:
            names.append(h)
            seen[h] = 0
    columns: list[list[str | None]] = [[] for _ in names]
    lines: list[int] = []
    blank = 0
    for row, line in zip(rows, starts[1:]):
        if len(row) > width:
            raise ShopperError(
                f"{origin}: line {line} has {len(row)} fields but the header has {width} "
                f"({_DELIM_NAMES[delimiter]}-separated).",
                hint="Quote values that contain the delimiter, or fix that line.")
        if not any(row):  # only delimiters, as the Polars path counts them (whitespace is a value)
            blank += 1
            continue
        lines.append(line)
        for i in range(width):
            v = row[i] if i < len(row) else ""
            columns[i].append(v if v != "" else None)
    frame = pl.DataFrame({n: pl.Series(n, c, dtype=pl.String) for n, c in zip(names, columns)})
    return frame, lines, blank


def _header_of(data: bytes, path: Path) -> tuple[str, str, list[str], int]:
    """The start of a file's text: its header line, its delimiter (tab for a .tsv whose header
    holds one), the header's fields and how many lines the header spans."""
    first_nl = data.find(b"\n")
    header = (data if first_nl < 0 else data[:first_nl]).decode("utf-8").strip("\r")
    delimiter = ("\t" if path.name.lower().endswith((".tsv", ".tsv.gz")) and "\t" in header
                 else _sniff_delimiter(header, data))
    fields, lines = _header_row(data, delimiter)
    return header, delimiter, fields, lines


#: A plain-text file at least this large is read in pieces of ``_READ_PIECE`` bytes (see
#: :func:`_read_in_pieces`).
_LARGE_FILE = 1 << 28
_READ_PIECE = 1 << 26


def _count(data: bytes, sub: bytes, start: int = 0, end: int | None = None) -> int:
    """``data.count(sub, start, end)`` in 16 MB sections: one count holds the GIL, and over
    64 MB that froze the app's screen for 25 ms."""
    end = len(data) if end is None else end
    return sum(data.count(sub, at, min(at + _PIECE, end)) for at in range(start, end, _PIECE))


def _row_end(buf: bytes) -> int:
    """The index just past the last line break of ``buf`` outside a quoted value (``buf``
    starts at the start of a row), 0 when there is none. A line break is outside quotes when
    an even number of quote characters come before it (a quote inside a quoted value is
    written twice)."""
    cut = buf.rfind(b"\n")
    if cut < 0 or buf.find(b'"', 0, cut) < 0:
        return cut + 1
    quotes = _count(buf, b'"', 0, cut)
    while quotes % 2:
        earlier = buf.rfind(b"\n", 0, cut)
        if earlier < 0:
            return 0
        quotes -= _count(buf, b'"', earlier, cut)
        cut = earlier
    return cut + 1


def _piece_lines(piece: bytes, *, last: bool) -> int:
    """The lines of a piece of whole lines as Polars reads them (see :func:`_line_counts`)."""
    return _count(piece, b"\n") + (1 if last and piece and not piece.endswith(b"\n") else 0)


def _read_in_pieces(path: Path) -> tuple[pl.DataFrame, str, str, list[str]] | None:
    """Read a large UTF-8 CSV in pieces of whole rows: (frame, delimiter, header line, header
    fields), or ``None`` when the file must be read whole.

    Reading the whole text first held it next to the frame Polars builds from it: 1.2 GB of
    text beside 2.7 GB of frame for 16 M events. Here only one piece of text (64 MB) is held
    at a time. Only the plain case is taken: UTF-8, a one-line header, every row on one line
    (no line break inside a value; a blank line is a row of nulls, as in the whole file) and
    no row with more fields than the header. Anything else (another encoding, a stray quote,
    a ragged row, a damaged end) returns ``None`` and the whole-file reader handles it, with
    its notes and its error messages; the pieces read so far are let go first.
    """
    frames: list[pl.DataFrame] = []
    schema: dict[str, pl.DataType] | None = None
    delimiter = header = ""
    header_fields: list[str] = []
    pos = 0  # where the next piece starts in the file
    size = _READ_PIECE
    try:
        f = path.open("rb", buffering=0)
    except OSError:
        return None  # the whole-file reader says why
    with f:
        if f.read(3) == b"\xef\xbb\xbf":
            pos = 3  # the byte-order mark is not read with the header (cutting it off copies the piece)
        while True:
            f.seek(pos)
            piece = f.read(size)
            if not piece:
                break
            last = len(piece) < size
            cut = len(piece) if last else _row_end(piece)
            if not cut:  # no row ends in it: a longer piece from the same place
                if size >= 4 * _READ_PIECE:
                    return None  # a value that long is not plain
                size *= 2
                continue
            if cut < len(piece):
                # the whole rows only, read again: slicing them off would copy them holding the
                # GIL (40 ms per 64 MB, a frozen screen); the read lets it go
                del piece
                f.seek(pos)
                piece = f.read(cut)
                if len(piece) != cut:
                    return None  # the file changed while it was read
            pos += cut
            size = _READ_PIECE
            if not _is_utf8(piece):  # pieces end on line breaks, so no character is cut in two
                return None
            if schema is None:  # the first piece: the header, and whether the file is plain text
                if _unreadable_start(piece):
                    return None
                header, delimiter, header_fields, header_lines = _header_of(piece, path)
                if not header.strip() or header_lines != 1:
                    return None
            try:
                if schema is None:
                    part = pl.read_csv(piece, separator=delimiter, infer_schema=False, quote_char='"',
                                       raise_if_empty=False)
                    schema = dict(part.schema)
                    rows = _piece_lines(piece, last=last) - 1
                else:
                    # a first row with fewer fields than the header (a blank line, say) gets
                    # nulls for the rest, as it does anywhere else in the file
                    part = pl.read_csv(piece, separator=delimiter, has_header=False, schema=schema,
                                       missing_columns="insert", quote_char='"', raise_if_empty=False)
                    rows = _piece_lines(piece, last=last)
            except pl.exceptions.PolarsError:
                return None
            if part.height != rows:
                return None  # a line break inside a value (or a misread quote): read whole
            frames.append(part)
            del part, piece
            if last:
                break
    if not frames:
        return None  # nothing read (the file was emptied after it was measured)
    frame = pl.concat(frames, rechunk=False)
    frames.clear()
    return frame, delimiter, header, header_fields


def read_delimited(path: Path, *, origin: str | None = None) -> DelimitedText:
    """Read a CSV / TSV (optionally ``.gz``) with every column as text.

    Polars reads the file; when it refuses (a stray quote inside a value such as
    ``12" pizza``), Python's csv module reads it instead, taking such quotes literally. A header
    name given twice is read once (the first column; a note says so).

    Raises:
        ShopperError: Not found, empty (no header), binary, a row with more fields than
            the header, a quoted value never closed (a truncated file), or otherwise
            unparseable; the message names the file (and line).
    """
    origin = origin or path.name
    notes: list[str] = []
    blank_lines = 0
    refused: str | None = None
    try:
        large = path.stat().st_size >= _LARGE_FILE and not path.name.lower().endswith(".gz")
    except OSError:
        large = False  # _raw_bytes says why
    pieces = _read_in_pieces(path) if large else None
    data = b""

    def whole() -> bytes:
        """The file's text, read again once it has been let go."""
        return data or _decode(_raw_bytes(path, origin), origin)[0]

    if pieces is not None:
        frame, delimiter, header, header_fields = pieces
        del pieces  # the frame alone holds the columns (put in one piece below, one at a time)
        encoding, header_lines = None, 1
        lines = content_end = header_lines + frame.height  # checked piece by piece
    else:
        data, encoding = _decode(_raw_bytes(path, origin), origin)
        lines, content_end = _line_counts(data)
        header, delimiter, header_fields, header_lines = _header_of(data, path)
        if not header.strip():
            raise ShopperError(f"{origin}: the first line is blank; expected a header line naming the columns.")
        try:
            frame = pl.read_csv(io.BytesIO(data), separator=delimiter, infer_schema=False, quote_char='"',
                                raise_if_empty=False)
        except pl.exceptions.PolarsError as exc:
            refused = str(exc).splitlines()[0]
            if "more fields" in refused:
                where = _ragged_line(whole(), delimiter)
                if where:
                    line, got, want = where
                    raise ShopperError(
                        f"{origin}: line {line} has {got} fields but the header has {want} "
                        f"({_DELIM_NAMES[delimiter]}-separated).",
                        hint="Quote values that contain the delimiter, or fix that line.") from exc
    if refused is None:
        cols = frame.columns
        data = b""  # the file's text is not needed any more (read again below if Polars misread it)
        columns = frame.get_columns()
        del frame
        frame = _in_one_piece(columns)
        del columns
        if frame.height and frame.height + header_lines == lines:
            # as many rows as lines: every row is one line (a row never takes less than one),
            # so nothing needs counting
            frame = frame.with_columns(
                pl.int_range(header_lines + 1, lines + 1, dtype=pl.Int64).alias(LINE_COLUMN))
            last = lines
        elif frame.height:
            extra = pl.sum_horizontal(
                [pl.col(c).str.count_matches("\n", literal=True).fill_null(0) for c in cols]
            ).cast(pl.Int64)
            span = extra + 1
            frame = frame.with_columns((span.cum_sum() - span + 1 + header_lines).alias(LINE_COLUMN),
                                       (span.cum_sum() + header_lines).alias("__end"))
            last = frame.get_column("__end").max()
            frame = frame.drop("__end")
        else:
            frame = frame.with_columns(pl.lit(None, dtype=pl.Int64).alias(LINE_COLUMN))
            last = header_lines
        if frame.height:
            blank = frame.select(pl.all_horizontal([pl.col(c).is_null() for c in cols])).to_series()
            blank_lines = int(blank.sum())
            if blank_lines:  # filtering copies every column: only when there is something to drop
                frame = frame.filter(~blank)
        # Polars can misread a stray quote silently (a header `size"` swallowed every row): the
        # rows it returned must end on the file's last line (its blank lines read as rows of
        # nulls, as Polars does now, or left out)
        if last not in (lines, content_end):
            refused = f"its rows end on line {last}, the file on line {content_end}"
    if refused is not None:
        try:
            frame, lines, blank_lines = _lenient_read(whole(), delimiter, origin)
        except (csv.Error, UnicodeDecodeError):
            raise ShopperError(
                f"{origin}: cannot be read as a {_DELIM_NAMES[delimiter]}-separated table: {refused}") from None
        frame = frame.with_columns(pl.Series(LINE_COLUMN, lines, dtype=pl.Int64))
        cols = [c for c in frame.columns if c != LINE_COLUMN]
        notes.append(f"{origin}: quotes inside unquoted values read as they are (e.g. 12\" pizza)")
    # a header name given twice: the first column is used, the others dropped (Polars names them
    # "<name>_duplicated_<n>", which the file never said)
    repeated = sorted({h for h in header_fields if header_fields.count(h) > 1}, key=header_fields.index)
    if repeated and len(header_fields) == len(cols):
        later = [cols[i] for i, h in enumerate(header_fields) if h in repeated and header_fields.index(h) != i]
        frame = frame.drop(later, strict=False)
        notes.append(f"{origin}: header{'s' if len(repeated) > 1 else ''} "
                     f"{', '.join(repr(h) for h in repeated)} given more than once; the first column of each is used")
    return DelimitedText(frame, encoding, delimiter, header, blank_lines, notes)


def check_delimiter(text: DelimitedText, *, origin: str, expected_columns: int) -> None:
    """Raise when a file that needs several columns came out as one: the delimiter is wrong.

    Raises:
        ShopperError: Naming the file, its header and the delimiters tried.
    """
    if expected_columns > 1 and len(text.frame.columns) - 1 <= 1:
        shown = text.header if len(text.header) <= 80 else text.header[:77] + "…"
        raise ShopperError(
            f"{origin}: the header line '{shown}' gives a single column, so the delimiter looks wrong "
            f"(looked for comma, semicolon, tab and pipe).",
            hint="Save the file as comma-separated CSV (or ; / tab / | separated) with one header line.",
        )


def number_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """Add ``__line`` = 1-based row number; a column of that name in the file is dropped (it
    would clash, and is no canonical column)."""
    frame = frame.drop(LINE_COLUMN, strict=False)
    return frame.with_row_index(LINE_COLUMN, offset=1).with_columns(pl.col(LINE_COLUMN).cast(pl.Int64))


def _json_kind(v: object) -> str:
    return "object" if isinstance(v, dict) else "array" if isinstance(v, list) else "null" if v is None else "value"


def _json_problem(data: bytes) -> tuple[int, str] | None:
    """(physical line, what is wrong) of the first JSON Lines line that is not a JSON object,
    or whose field holds an object / array / plain value where earlier lines had another
    kind. Only called after Polars refused the file, to name the line in the message."""
    kinds: dict[str, tuple[str, int]] = {}
    for n, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            return n, f"not valid JSON: {exc}"
        if not isinstance(obj, dict):
            return n, f"a JSON {_json_kind(obj)}, not an object"
        for key, value in obj.items():
            kind = _json_kind(value)
            if kind == "null":
                continue
            first = kinds.setdefault(key, (kind, n))
            if first[0] != kind and {kind, first[0]} & {"object", "array"}:
                return n, f"field '{key}' is a JSON {kind} but a JSON {first[0]} at {first[1]}"
    return None


def _json_relaxed(data: bytes) -> bytes | None:
    """JSON Lines rewritten so that Polars can read it: a field holding an object or array on
    some lines and another kind on others becomes text on every line (objects and arrays as
    JSON, which the validator then rejects as nested). None when every line is a JSON object
    and no field mixes kinds, or a line is not JSON at all (the caller reports it)."""
    lines = data.split(b"\n")
    records: list[dict | None] = []
    kinds: dict[str, set[str]] = {}
    for line in lines:
        if not line.strip():
            records.append(None)
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            return None
        if not isinstance(obj, dict):
            return None
        records.append(obj)
        for key, value in obj.items():
            kinds.setdefault(key, set()).add(_json_kind(value))
    mixed = {k for k, ks in kinds.items() if len(ks - {"null"}) > 1 and ks & {"object", "array"}}
    if not mixed:
        return None
    out = []
    for obj in records:
        if obj is None:
            out.append("")
            continue
        out.append(json.dumps({k: (v if k not in mixed or v is None or isinstance(v, str) else json.dumps(v))
                               for k, v in obj.items()}))
    return "\n".join(out).encode()


_BLANK_LINE = re.compile(rb"(?:^|\n)[ \t\r]*\n")


def _read_json(path: Path, origin: str) -> pl.DataFrame:
    """A JSON Lines file, or a JSON array of objects (read as JSON Lines, one record per line,
    so both behave alike; ``__line`` is then the record number)."""
    data, _ = _decode(_raw_bytes(path, origin), origin)
    array = data.lstrip()[:1] == b"["
    where_word = "record" if array else "line"
    if array:
        try:
            records = json.loads(data)
        except ValueError as exc:
            raise ShopperError(f"{origin}: not valid JSON: {exc}.") from None
        if not isinstance(records, list):
            raise ShopperError(f"{origin}: not valid JSON: expected an array of objects.")
        bad = next((i for i, r in enumerate(records, 1) if not isinstance(r, dict)), None)
        if bad:
            raise ShopperError(f"{origin}: record {bad} of the JSON array is a JSON {_json_kind(records[bad - 1])}, "
                               "not an object.")
        data = "\n".join(json.dumps(r) for r in records).encode()
        if not records:
            return number_rows(pl.DataFrame())
    try:
        try:
            frame = pl.read_ndjson(io.BytesIO(data))
        except pl.exceptions.PolarsError:
            relaxed = _json_relaxed(data)
            if relaxed is None:
                raise
            frame = pl.read_ndjson(io.BytesIO(relaxed))
    except pl.exceptions.PolarsError as exc:
        where = _json_problem(data)
        if where:
            raise ShopperError(f"{origin}: not valid JSON{'' if array else ' Lines'}: {where_word} {where[0]}: {where[1]}.",
                               hint="JSON Lines needs one JSON object per line, each field of one kind.") from exc
        raise ShopperError(f"{origin}: not valid JSON{'' if array else ' Lines (one JSON object per line)'}: "
                           f"{str(exc).splitlines()[0]}") from exc
    frame = number_rows(frame)
    # Polars reads a field holding objects / arrays on some lines and plain values on others as
    # text ('{"id": 1}'); flag those values so the validator rejects them as nested
    for name in [c for c, t in frame.schema.items() if t == pl.String]:
        if re.search(rb'"' + re.escape(json.dumps(name).strip('"').encode()) + rb'"\s*:\s*[\[{]', data):
            flag = pl.col(name).str.contains(r"^\s*[\[{]")
            frame = frame.with_columns(flag.fill_null(False).alias(NESTED_FLAG + name))
    if not array and _BLANK_LINE.search(data):
        # Polars skips blank lines: give each record its physical line
        lines = [n for n, line in enumerate(data.split(b"\n"), 1) if line.strip()]
        if len(lines) == frame.height:
            frame = frame.with_columns(pl.Series(LINE_COLUMN, lines, dtype=pl.Int64))
    return frame


def _read_parquet(path: Path, origin: str) -> pl.DataFrame:
    if not path.is_file():
        raise ShopperError(f"{origin}: file not found ('{path}').")
    if path.stat().st_size == 0:
        raise ShopperError(f"{origin}: the file is empty (0 bytes).")
    try:
        frame = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise ShopperError(f"{origin}: not a readable Parquet file ({str(exc).splitlines()[0]}).") from exc
    return number_rows(frame)


def _file_format(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return _SUFFIXES.get(Path(name).suffix)


def _stem(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return re.sub(r"[\s-]+", "_", Path(name).stem.strip())


def read_table_file(path: Path, *, table: str, origin: str | None = None) -> tuple[RawTable, list[str]]:
    """Read one file as canonical table ``table``: headers mapped, ``__line`` added.

    Returns:
        The raw table and notes (header choices, blank lines).

    Raises:
        ShopperError: The file cannot be read, or its delimiter is evidently wrong.
    """
    origin = origin or path.name
    fmt = _file_format(path)
    notes: list[str] = []
    encoding = None
    if fmt == "csv" or fmt is None:
        text = read_delimited(path, origin=origin)
        check_delimiter(text, origin=origin, expected_columns=len(TABLES[table].required))
        frame, encoding = text.frame, text.encoding
        notes.extend(text.notes)
        if text.blank_lines:
            notes.append(f"{origin}: {text.blank_lines:,} empty row{'s' if text.blank_lines > 1 else ''} "
                         "(blank or only delimiters) skipped")
    elif fmt == "parquet":
        frame = _read_parquet(path, origin)
    else:
        frame = _read_json(path, origin)
    columns = [c for c in frame.columns if c != LINE_COLUMN and not c.startswith(NESTED_FLAG)]
    rename, map_notes = map_headers(columns, COLUMN_SYNONYMS[table], origin=origin)
    notes.extend(map_notes)
    flags = [c for c in frame.columns if c.startswith(NESTED_FLAG)]
    frame = frame.drop([f for f in flags if f.removeprefix(NESTED_FLAG) not in rename]).rename(
        {f: NESTED_FLAG + rename[f.removeprefix(NESTED_FLAG)] for f in flags if f.removeprefix(NESTED_FLAG) in rename})
    # unmapped headers keep their names (the validator lists them as ignored) unless they would
    # collide with a canonical name just assigned
    # e.g. "Customer ID" taken as customer_id while a "customer_id" column is also there: the
    # unused one goes (the note above names it) rather than clash with the new name
    clash = [c for c in columns if c not in rename and c in rename.values()]
    frame = frame.drop(clash).rename({k: v for k, v in rename.items() if k != v})
    if table == "order_items" and "quantity" not in frame.columns and {"order_id", "product_id"} <= set(frame.columns):
        # one row per unit sold (Olist and many marketplace exports number the units instead)
        frame = frame.with_columns(pl.lit(1, dtype=pl.Int64).alias("quantity"))
        notes.append(f"{origin}: no quantity column; each row counted as one unit (quantity 1)")
    if table == "order_items":
        frame, note = _line_charges(frame, origin=origin)
        if note:
            notes.append(note)
    if table == "events" and "session_id" not in frame.columns:
        frame, note = _derive_sessions(frame, origin=origin)
        if note:
            notes.append(note)
    return RawTable(name=table, frame=frame, origin=origin, encoding=encoding), notes


def _line_charges(frame: pl.DataFrame, *, origin: str) -> tuple[pl.DataFrame, str | None]:
    """Order lines with a delivery-charge column (:data:`CHARGE_COLUMNS`): a charge line after
    each line where it is above 0 (kind 'charge', no product id, quantity 1, unit price = the
    charge; the line's other columns and line number kept), the column dropped.

    A column without a single number (a shipping method, say) is left alone: the validator
    lists it among the ignored columns.
    """
    if not {"order_id", "quantity", "unit_price"} <= set(frame.columns):
        return frame, None  # the validator says which required column is missing
    taken = set(COLUMN_SYNONYMS["order_items"]) | {"kind", LINE_COLUMN}
    by_norm: dict[str, str] = {}
    for c in frame.columns:
        if c not in taken and not c.startswith(NESTED_FLAG):
            by_norm.setdefault(normalise_header(c), c)
    col = next((by_norm[n] for n in (normalise_header(s) for s in CHARGE_COLUMNS) if n in by_norm), None)
    if col is None or is_nested(frame.schema[col]):
        return frame, None
    raw = frame.get_column(col)
    amount = to_floats(raw)
    if amount.is_null().all():
        return frame, None
    text = as_text(raw).str.strip_chars()
    unreadable = int((amount.is_null() & text.is_not_null() & (text != "")).sum())
    charged = (amount > 0).fill_null(False)
    n = int(charged.sum())
    lines = frame.drop(col, NESTED_FLAG + col, strict=False)
    if "kind" not in lines.columns:
        lines = lines.with_columns(pl.lit(None, dtype=pl.String).alias("kind"))
    elif lines.schema["kind"] != pl.String:
        lines = lines.with_columns(as_text(lines.get_column("kind")))
    price_type = lines.schema["unit_price"]
    if price_type == pl.String:
        price = as_text(raw)
    elif price_type.is_float():
        price = amount.cast(price_type)
    elif price_type.is_integer():
        lines = lines.with_columns(pl.col("unit_price").cast(pl.Float64))
        price = amount
    else:
        lines = lines.with_columns(as_text(lines.get_column("unit_price")))
        price = as_text(raw)
    # each charge line right after its line, so the rows stay in file order
    order = "__order"
    lines = lines.with_columns((pl.int_range(pl.len(), dtype=pl.Int64) * 2).alias(order))
    schema = lines.schema
    charge = lines.filter(charged).with_columns(
        price.filter(charged).alias("unit_price"),
        pl.lit(1).cast(schema["quantity"]).alias("quantity"),
        pl.lit("charge", dtype=pl.String).alias("kind"),
        (pl.col(order) + 1).alias(order),
        *([pl.lit(None).cast(schema["product_id"]).alias("product_id")] if "product_id" in schema else []),
        *[pl.lit(False).alias(NESTED_FLAG + c) for c in ("product_id", "quantity", "unit_price", "kind")
          if NESTED_FLAG + c in schema],
    )
    frame = (pl.concat([lines, charge]).sort(order) if n else lines).drop(order)
    total = float(amount.filter(charged).sum() or 0.0)
    note = (f"{origin}: '{col}' read as each line's delivery charge: {n:,} charge line{'' if n == 1 else 's'} "
            f"added (kind 'charge', no product, quantity 1, unit price = {col}; Σ {total:,.2f}), one per line "
            "where it is above 0; charges count in revenue, never as items")
    if unreadable:
        note += f"; {unreadable:,} value{'' if unreadable == 1 else 's'} of it not a number added no charge"
    return frame, note


def _derive_sessions(frame: pl.DataFrame, *, origin: str) -> tuple[pl.DataFrame, str | None]:
    """Events without a session id: one session per customer per burst of activity.

    A new session starts at a customer's first event and after every gap longer than
    :data:`SESSION_GAP_MINUTES`; the id is ``"<customer_id>:<n>"``. Events without a
    customer id or a readable timestamp get no session (the validator rejects them).
    """
    if "customer_id" not in frame.columns or "ts" not in frame.columns:
        return frame, None
    note_ts = None
    if not isinstance(frame.schema["ts"], pl.Datetime):
        parsed, how = parse_datetimes(frame.get_column("ts"))
        note_ts = how.describe()
        frame = frame.with_columns(parsed.alias("__ts"))
    else:
        frame = frame.with_columns(pl.col("ts").alias("__ts"))
    # the customer as an id string (a nested or otherwise odd value gives no session)
    frame = frame.with_columns(to_id_strings(frame.get_column("customer_id")).alias("__cust"))
    cust = pl.col("__cust")
    gap = pl.duration(minutes=SESSION_GAP_MINUTES)
    ordered = frame.with_row_index("__row").sort([cust, pl.col("__ts")], nulls_last=True)
    new = (pl.col("__ts").diff().over(cust).fill_null(gap + pl.duration(minutes=1)) > gap)
    ordered = ordered.with_columns(new.cast(pl.Int64).cum_sum().over(cust).alias("__n"))
    ordered = ordered.with_columns(
        pl.when(cust.is_not_null() & pl.col("__ts").is_not_null())
        .then(pl.concat_str([cust, pl.lit(":"), pl.col("__n").cast(pl.String)]))
        .otherwise(None)
        .alias("session_id")
    )
    out = ordered.sort("__row").drop("__row", "__n", "__ts", "__cust")
    # ts stays as read: the validator parses it again and reports the values that do not parse
    # ("unparseable ts" with the value), rather than "missing session_id" for a value lost here
    n = out.get_column("session_id").n_unique()
    note = (f"{origin}: no session id column; {n:,} sessions derived per customer with a "
            f"{SESSION_GAP_MINUTES}-minute inactivity gap")
    if note_ts:
        note += f" (ts read as {note_ts})"
    return out, note


def load_folder(path: Path, *, progress: ProgressFn) -> RawSource:
    """Read every canonical table found in a folder.

    Files are matched to tables by stem (see :func:`table_for_stem`): an exact stem of
    :data:`TABLE_STEMS` first, then a weak one (``transactions``), then a stem holding a table's
    name as whole words (``olist_orders_dataset``); a loosely named file without a column its
    table requires is ignored with a note. ``truth_*.parquet`` files (the sample's planted
    answers) go to ``extras`` unchanged; any other file is left out with a note ("ignored:
    foo.txt"). Hidden files and ``truth.json`` are skipped silently. A customers table with a
    person column (:data:`PERSON_COLUMNS`) turns every customer id into its person's.

    Args:
        path: The folder.
        progress: Called with ("reading orders.csv", fraction) per file.

    Raises:
        ShopperError: The folder is missing, two files claim the same table equally, or a file
            cannot be read (empty, binary, wrong delimiter, malformed); the message names the file.
    """
    path = Path(path)
    if not path.is_dir():
        raise ShopperError(f"Folder not found: '{path}'.")
    notes: list[str] = []
    extras: dict[str, pl.DataFrame] = {}
    claims: dict[str, list[tuple[Path, int]]] = {}
    for f in sorted(path.iterdir(), key=lambda p: p.name.lower()):
        if f.name.startswith(".") or not f.is_file():
            continue
        stem = _stem(f)
        fmt = _file_format(f)
        if stem.startswith("truth"):
            if fmt == "parquet":
                extras[stem] = _read_parquet(f, f.name).drop(LINE_COLUMN)
            continue
        match = table_for_stem(stem)
        if match is None or fmt is None:
            notes.append(f"ignored: {f.name}")
            continue
        claims.setdefault(match[0], []).append((f, match[1]))
    chosen: dict[str, tuple[Path, int]] = {}
    for table, files in claims.items():
        best = min(rank for _, rank in files)
        strong = [f for f, rank in files if rank == best]
        if len(strong) > 1:
            raise ShopperError(
                f"{path}: {', '.join(f.name for f in strong)} all look like the '{table}' table; keep one.",
                hint="Rename or move the others out of the folder.")
        chosen[table] = (strong[0], best)
        notes.extend(f"ignored: {f.name} ({strong[0].name} is used for {table})" for f, _ in files if f != strong[0])
    tables: dict[str, RawTable] = {}
    order = [t for t in TABLES if t in chosen]
    for i, table in enumerate(order):
        f, rank = chosen[table]
        progress(f"reading {f.name}", i / max(len(order), 1))
        raw, file_notes = read_table_file(f, table=table)
        if rank == _LOOSE:
            missing = [c for c in TABLES[table].required if c not in raw.frame.columns]
            if missing:
                notes.append(_not_the_table(f.name, table, missing, raw.frame.columns))
                continue
        tables[table] = raw
        notes.extend(file_notes)
        if _stem(f) != table:
            notes.append(f"{f.name} read as {table}")
    note = _customers_as_persons(tables)
    if note:
        notes.append(note)
    progress("files read", 1.0)
    return RawSource(kind="files", description=f"folder {path}", tables=tables, notes=notes, extras=extras)


def _not_the_table(name: str, table: str, missing: list[str], columns: list[str]) -> str:
    """The note for a loosely named file left out because it lacks required columns."""
    cols = ", ".join(missing)
    note = (f"ignored: {name} (named like the {table} table, but it has no {cols} "
            f"column{'' if len(missing) == 1 else 's'})")
    if table == "reviews" and "product_id" in missing and any(normalise_header(c) == "orderid" for c in columns):
        note = note[:-1] + ("; its reviews are of whole orders, which can hold several products, "
                            "so no review can be given to one product)")
    return note


def _customers_as_persons(tables: dict[str, RawTable]) -> str | None:
    """Customer ids issued per order (Olist's customer_id) replaced by the person's id when the
    customers table has a :data:`PERSON_COLUMNS` column: in customers (the first row of each
    person kept), orders, events and reviews. Ids without a person are kept as they are.

    Returns:
        A note, or None when there is no person column.
    """
    customers = tables.get("customers")
    if customers is None or "customer_id" not in customers.frame.columns:
        return None
    frame = customers.frame
    by_norm = {normalise_header(c): c for c in frame.columns if c != "customer_id" and not c.startswith(NESTED_FLAG)}
    col = next((by_norm[n] for n in (normalise_header(s) for s in PERSON_COLUMNS) if n in by_norm), None)
    if col is None or is_nested(frame.schema[col]) or is_nested(frame.schema["customer_id"]):
        return None
    ids = to_id_strings(frame.get_column("customer_id"))
    persons = to_id_strings(frame.get_column(col))
    if persons.is_null().all():
        return None
    pairs = (pl.DataFrame({"id": ids, "person": persons}).filter(pl.col("id").is_not_null())
             .unique("id", keep="first", maintain_order=True).with_columns(pl.col("person").fill_null(pl.col("id"))))
    new_ids = pl.select(pl.when(persons.is_null()).then(ids).otherwise(persons)).to_series().alias("customer_id")
    frame = frame.with_columns(new_ids).drop(col, NESTED_FLAG + col, strict=False)
    first = pl.col("customer_id").is_first_distinct() | pl.col("customer_id").is_null()
    frame = frame.filter(first)
    tables["customers"] = RawTable(customers.name, frame, customers.origin, customers.encoding)
    keys, values = pairs.get_column("id"), pairs.get_column("person")
    changed = ["customers"]
    for name in ("orders", "events", "reviews"):
        t = tables.get(name)
        if t is None or "customer_id" not in t.frame.columns or is_nested(t.frame.schema["customer_id"]):
            continue
        mapped = to_id_strings(t.frame.get_column("customer_id")).replace(keys, values)
        tables[name] = RawTable(t.name, t.frame.with_columns(mapped.alias("customer_id")), t.origin, t.encoding)
        changed.append(name)
    n_ids, n_persons = pairs.height, values.n_unique()
    where = ", ".join(changed[:-1]) + " and " + changed[-1] if len(changed) > 1 else changed[0]
    return (f"{customers.origin}: '{col}' names the person behind each customer id: {n_ids:,} customer "
            f"id{'' if n_ids == 1 else 's'} of {n_persons:,} {'person' if n_persons == 1 else 'people'}; "
            f"customer ids in {where} replaced by it, so per-customer analyses count people")
