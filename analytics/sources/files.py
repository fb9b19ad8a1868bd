"""A folder of CSV / Parquet / JSON Lines files named after the canonical tables.

``customers.csv``, ``orders.parquet``, ``events.jsonl`` … (stems case-insensitive, a few
common alternatives accepted: ``users`` → customers, ``items`` / ``order_lines`` →
order_items, ``sessions`` → events, ``transactions`` → orders when no orders file is there).
Headers are mapped to canonical column names case-, space- and punctuation-insensitively
through a small synonym table per table (``Customer ID`` → customer_id, ``created_at`` → ts).

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

import csv
import gzip
import io
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ..errors import ShopperError
from ..parsing import parse_datetimes
from ..schema import LINE_COLUMN, TABLES
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
    "COLUMN_SYNONYMS",
    "SESSION_GAP_MINUTES",
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
    by_norm: dict[str, str] = {}
    for c in columns:
        by_norm.setdefault(normalise_header(c), c)
    rename: dict[str, str] = {}
    notes: list[str] = []
    taken: set[str] = set()
    for canonical, spellings in synonyms.items():
        hits = [by_norm[n] for n in dict.fromkeys(normalise_header(s) for s in spellings) if n in by_norm]
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
    """

    frame: pl.DataFrame
    encoding: str | None
    delimiter: str
    header: str
    blank_lines: int = 0


def _raw_bytes(path: Path, origin: str) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ShopperError(f"{origin}: file not found ('{path}').") from None
    except OSError as exc:
        raise ShopperError(f"{origin}: cannot be read ({exc.strerror or exc}).") from exc
    if path.name.lower().endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise ShopperError(f"{origin}: not a valid gzip file ({exc}).") from exc
    if not data.strip():
        raise ShopperError(f"{origin}: the file is empty ({len(data)} bytes); expected a header line and rows.",
                           hint="Export the table again, or remove the empty file from the folder.")
    return data


def _decode(data: bytes, origin: str) -> tuple[bytes, str | None]:
    """UTF-8 bytes of the file and the encoding used when it was not UTF-8."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16").encode("utf-8"), "UTF-16"
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
        data.decode("utf-8")
    except UnicodeDecodeError:
        for encoding in ("cp1252", "latin-1"):
            try:
                data = data.decode(encoding).encode("utf-8")
                break
            except UnicodeDecodeError:
                continue
    head = data[:4096].decode("utf-8", errors="replace")
    controls = sum(1 for ch in head if ord(ch) < 32 and ch not in "\t\r\n") + head.count("\ufffd")
    if controls > max(4, len(head) // 100):
        raise ShopperError(f"{origin}: does not look like a text table (unreadable bytes at the start).",
                           hint="Check that the file is a CSV export and not a binary file.")
    return data, encoding


def _sniff_delimiter(header: str) -> str:
    unquoted = _QUOTED.sub("", header)
    counts = {d: unquoted.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])  # ties: earlier in _DELIMITERS
    return best if counts[best] else ","


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


def read_delimited(path: Path, *, origin: str | None = None) -> DelimitedText:
    """Read a CSV / TSV (optionally ``.gz``) with every column as text.

    Raises:
        ShopperError: Not found, empty (no header), binary, a row with more fields than
            the header, or otherwise unparseable; the message names the file (and line).
    """
    origin = origin or path.name
    data, encoding = _decode(_raw_bytes(path, origin), origin)
    first_nl = data.find(b"\n")
    header = (data if first_nl < 0 else data[:first_nl]).decode("utf-8").strip("\r")
    if not header.strip():
        raise ShopperError(f"{origin}: the first line is blank; expected a header line naming the columns.")
    delimiter = "\t" if path.name.lower().endswith((".tsv", ".tsv.gz")) and "\t" in header else _sniff_delimiter(header)
    try:
        frame = pl.read_csv(io.BytesIO(data), separator=delimiter, infer_schema=False, quote_char='"',
                            raise_if_empty=False)
    except pl.exceptions.PolarsError as exc:
        text = str(exc).splitlines()[0]
        if "more fields" in text:
            where = _ragged_line(data, delimiter)
            if where:
                line, got, want = where
                raise ShopperError(
                    f"{origin}: line {line} has {got} fields but the header has {want} "
                    f"({_DELIM_NAMES[delimiter]}-separated).",
                    hint="Quote values that contain the delimiter, or fix that line.") from exc
        raise ShopperError(f"{origin}: cannot be read as a {_DELIM_NAMES[delimiter]}-separated table: {text}") from exc
    cols = frame.columns
    if frame.height:
        extra = pl.sum_horizontal(
            [pl.col(c).str.count_matches("\n", literal=True).fill_null(0) for c in cols]
        ).cast(pl.Int64)
        span = extra + 1
        blank = pl.all_horizontal([pl.col(c).is_null() for c in cols])
        frame = (
            frame.with_columns((span.cum_sum() - span + 2).alias(LINE_COLUMN), blank.alias("__blank"))
        )
        blank_lines = int(frame.get_column("__blank").sum())
        frame = frame.filter(~pl.col("__blank")).drop("__blank")
    else:
        frame = frame.with_columns(pl.lit(None, dtype=pl.Int64).alias(LINE_COLUMN))
        blank_lines = 0
    return DelimitedText(frame, encoding, delimiter, header, blank_lines)


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


def _read_json(path: Path, origin: str) -> pl.DataFrame:
    data, _ = _decode(_raw_bytes(path, origin), origin)
    try:
        if data.lstrip()[:1] == b"[":
            frame = pl.read_json(io.BytesIO(data))
        else:
            frame = pl.read_ndjson(io.BytesIO(data))
    except pl.exceptions.PolarsError as exc:
        raise ShopperError(f"{origin}: not valid JSON Lines (one JSON object per line): "
                           f"{str(exc).splitlines()[0]}") from exc
    return frame.with_row_index(LINE_COLUMN, offset=1).with_columns(pl.col(LINE_COLUMN).cast(pl.Int64))


def _read_parquet(path: Path, origin: str) -> pl.DataFrame:
    if not path.is_file():
        raise ShopperError(f"{origin}: file not found ('{path}').")
    if path.stat().st_size == 0:
        raise ShopperError(f"{origin}: the file is empty (0 bytes).")
    try:
        frame = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise ShopperError(f"{origin}: not a readable Parquet file ({str(exc).splitlines()[0]}).") from exc
    return frame.with_row_index(LINE_COLUMN, offset=1).with_columns(pl.col(LINE_COLUMN).cast(pl.Int64))


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
        if text.blank_lines:
            notes.append(f"{origin}: {text.blank_lines:,} empty row{'s' if text.blank_lines > 1 else ''} "
                         "(blank or only delimiters) skipped")
    elif fmt == "parquet":
        frame = _read_parquet(path, origin)
    else:
        frame = _read_json(path, origin)
    columns = [c for c in frame.columns if c != LINE_COLUMN]
    rename, map_notes = map_headers(columns, COLUMN_SYNONYMS[table], origin=origin)
    notes.extend(map_notes)
    # unmapped headers keep their names (the validator lists them as ignored) unless they would
    # collide with a canonical name just assigned
    frame = frame.rename({k: v for k, v in rename.items() if k != v})
    if table == "order_items" and "quantity" not in frame.columns and {"order_id", "product_id"} <= set(frame.columns):
        # one row per unit sold (Olist and many marketplace exports number the units instead)
        frame = frame.with_columns(pl.lit(1, dtype=pl.Int64).alias("quantity"))
        notes.append(f"{origin}: no quantity column; each row counted as one unit")
    if table == "events" and "session_id" not in frame.columns:
        frame, note = _derive_sessions(frame, origin=origin)
        if note:
            notes.append(note)
    return RawTable(name=table, frame=frame, origin=origin, encoding=encoding), notes


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
    cust = pl.col("customer_id").cast(pl.String)
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
    out = ordered.sort("__row").drop("__row", "__n", "__ts")
    if note_ts:
        out = out.with_columns(parsed.alias("ts"))
    n = out.get_column("session_id").n_unique()
    note = (f"{origin}: no session id column; {n:,} sessions derived per customer with a "
            f"{SESSION_GAP_MINUTES}-minute inactivity gap")
    if note_ts:
        note += f" (ts read as {note_ts})"
    return out, note


def load_folder(path: Path, *, progress: ProgressFn) -> RawSource:
    """Read every canonical table found in a folder.

    Files are matched to tables by stem (see :data:`TABLE_STEMS`); ``truth_*.parquet`` files
    (the sample's planted answers) go to ``extras`` unchanged; any other file is left out
    with a note ("ignored: foo.txt"). Hidden files and ``truth.json`` are skipped silently.

    Args:
        path: The folder.
        progress: Called with ("reading orders.csv", fraction) per file.

    Raises:
        ShopperError: The folder is missing, two files claim the same table, or a file cannot
            be read (empty, binary, wrong delimiter, malformed); the message names the file.
    """
    path = Path(path)
    if not path.is_dir():
        raise ShopperError(f"Folder not found: '{path}'.")
    notes: list[str] = []
    extras: dict[str, pl.DataFrame] = {}
    claims: dict[str, list[tuple[Path, bool]]] = {}
    for f in sorted(path.iterdir(), key=lambda p: p.name.lower()):
        if f.name.startswith(".") or not f.is_file():
            continue
        stem = _stem(f)
        fmt = _file_format(f)
        if stem.startswith("truth"):
            if fmt == "parquet":
                extras[stem] = _read_parquet(f, f.name).drop(LINE_COLUMN)
            continue
        table = TABLE_STEMS.get(stem)
        if table is None or fmt is None:
            notes.append(f"ignored: {f.name}")
            continue
        claims.setdefault(table, []).append((f, stem in _WEAK_STEMS))
    chosen: dict[str, Path] = {}
    for table, files in claims.items():
        strong = [f for f, weak in files if not weak] or [f for f, _ in files]
        if len(strong) > 1:
            raise ShopperError(
                f"{path}: {', '.join(f.name for f in strong)} all look like the '{table}' table; keep one.",
                hint="Rename or move the others out of the folder.")
        chosen[table] = strong[0]
        notes.extend(f"ignored: {f.name} ({strong[0].name} is used for {table})" for f, _ in files if f != strong[0])
    tables: dict[str, RawTable] = {}
    order = [t for t in TABLES if t in chosen]
    for i, table in enumerate(order):
        f = chosen[table]
        progress(f"reading {f.name}", i / max(len(order), 1))
        raw, file_notes = read_table_file(f, table=table)
        tables[table] = raw
        notes.extend(file_notes)
        if _stem(f) != table:
            notes.append(f"{f.name} read as {table}")
    progress("files read", 1.0)
    return RawSource(kind="files", description=f"folder {path}", tables=tables, notes=notes, extras=extras)
