"""MongoDB source: read the seed collections of one database into raw canonical frames.

Collections and the tables they feed (names configurable with ``collections``, role → name):

=================  ==========================================================================
role               table
=================  ==========================================================================
``users``          customers
``products``       products
``transactions``   orders, and order_items from the embedded ``items`` array, unwound on the
                   server (``$project`` + ``$unwind``) so one row travels per item
``order_items``    order_items, only when transactions embed no items
``events``         events (a flat collection, one document per event); session attributes
                   missing from the events are taken from ``sessions`` when it exists
``sessions``       events, when there is no ``events`` collection: the embedded ``events``
                   array is unwound on the server; session-level fields (customer, device,
                   channel, experiment, variant) fill what the events lack
``reviews``        reviews
=================  ==========================================================================

Field names are mapped to canonical columns by synonyms (``user_id`` → customer_id,
``timestamp`` / ``created_at`` → ts, ``type`` → event_type, camelCase too); ``_id`` is the row's
id when the id field is absent. Only the fields needed travel (projection), in batches of
:data:`BATCH_SIZE` documents turned into Polars columns batch by batch. ObjectIds become
strings; a column whose documents disagree on the type is read as text so the validator
reports the values that do not parse; a nested document or array where a single value is
expected rejects the document (``RawSource.loader_rejects``). ``__line`` is the 1-based
number of the document within its collection (for unwound rows: of the parent document).

Credentials come from the URI or, when it has none, from ``SHOPPER_TUI_MONGO_USER`` /
``SHOPPER_TUI_MONGO_PASSWORD``; they never appear in descriptions, notes or error messages.
The server must answer within ``serverSelectionTimeoutMS`` (from the URI, else
``SHOPPER_TUI_MONGO_TIMEOUT_MS``, else 3 s), and each reply while reading within
``socketTimeoutMS`` (from the URI, else ``SHOPPER_TUI_MONGO_READ_TIMEOUT_MS``, else 120 s).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from types import NoneType
from urllib.parse import quote, quote_plus, unquote

import polars as pl
from bson import Decimal128, ObjectId
from pymongo import MongoClient
from pymongo.errors import ConfigurationError, ConnectionFailure, NetworkTimeout, OperationFailure, PyMongoError

from ..errors import ShopperError, SourceUnavailable
from ..schema import LINE_COLUMN, TABLES
from . import ProgressFn, RawSource, RawTable, _no_progress, mask_uri

__all__ = [
    "BATCH_SIZE",
    "DEFAULT_TIMEOUT_MS",
    "DEFAULT_READ_TIMEOUT_MS",
    "ROLES",
    "database_name",
    "fingerprint",
    "load_mongo",
]

BATCH_SIZE = 10_000  #: documents per batch (and per server round trip)
DEFAULT_TIMEOUT_MS = 3_000
#: How long one reply of the server may take once connected (``socketTimeoutMS``) unless the
#: URI or ``SHOPPER_TUI_MONGO_READ_TIMEOUT_MS`` says otherwise: a server that stops answering
#: mid-read ends the import with an error instead of hanging it for ever.
DEFAULT_READ_TIMEOUT_MS = 120_000
_ENV_USER = "SHOPPER_TUI_MONGO_USER"
_ENV_PASSWORD = "SHOPPER_TUI_MONGO_PASSWORD"
_ENV_TIMEOUT = "SHOPPER_TUI_MONGO_TIMEOUT_MS"
_ENV_READ_TIMEOUT = "SHOPPER_TUI_MONGO_READ_TIMEOUT_MS"

#: Role → collection names tried in order when ``collections`` does not name one.
ROLES: dict[str, tuple[str, ...]] = {
    "users": ("users", "customers"),
    "products": ("products",),
    "transactions": ("transactions", "orders"),
    "order_items": ("order_items",),
    "events": ("events",),
    "sessions": ("sessions",),
    "reviews": ("reviews",),
}
_ROLE_ALIASES = {"customers": "users", "orders": "transactions", "items": "order_items"}
_ITEM_ARRAYS = ("items", "line_items", "lines")
_EVENT_ARRAYS = ("events",)
_SESSION_ATTRS = ("customer_id", "device", "channel", "experiment", "variant")
_NESTED_REASON = "nested document or array where a single value was expected"
_DOC = "__doc"  # the document's _id as text, used to give unwound rows their parent's number

#: Canonical column → document field names tried in order (camelCase variants are added).
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "customer_id": ("customer_id", "user_id", "customer", "user", "client_id"),
    "product_id": ("product_id", "sku", "item_id", "product"),
    "order_id": ("order_id", "transaction_id", "invoice", "invoice_no"),
    "session_id": ("session_id", "session", "visit_id"),
    "ts": ("ts", "timestamp", "created_at", "time", "date", "datetime", "event_time"),
    "signup_ts": ("signup_ts", "signup_date", "signed_up_at", "registered_at", "created_at", "joined_at"),
    "event_type": ("event_type", "type", "event", "action"),
    "quantity": ("quantity", "qty"),
    "unit_price": ("unit_price", "price"),
    "name": ("name", "full_name"),
    "subcategory": ("subcategory", "sub_category"),
    "title": ("title", "summary", "headline"),
    "text": ("text", "body", "review", "comment", "content"),
    "rating": ("rating", "stars", "score"),
    "status": ("status", "state"),
}
#: Where a table reads a column differently.
_TABLE_SYNONYMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("orders", "ts"): ("ts", "timestamp", "created_at", "order_date", "ordered_at", "date", "datetime"),
    ("reviews", "ts"): ("ts", "created_at", "timestamp", "date"),
    ("products", "name"): ("name", "title", "product_name"),
}


def _names(column: str, table: str) -> tuple[str, ...]:
    """Document field names for a canonical column, each followed by its camelCase form."""
    base = _TABLE_SYNONYMS.get((table, column)) or _SYNONYMS.get(column, (column,))
    out: list[str] = []
    for n in base:
        camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), n)
        out += [n] if camel == n else [n, camel]
    return tuple(out)


def _fields(table: str, *, id_column: str | None = None, only: tuple[str, ...] | None = None) -> dict[str, tuple[str, ...]]:
    """Canonical column → document field names, ``_id`` last for the table's own id."""
    cols = only or tuple(TABLES[table].columns)
    out = {c: _names(c, table) for c in cols}
    if id_column:
        out[id_column] = (*out[id_column], "_id")
    return out


# -- URI, credentials, connection ----------------------------------------------------------

def _split_uri(uri: str) -> tuple[str, str, str, str]:
    """``scheme://userinfo@hosts/db?query`` → (userinfo, hosts, db, query), without DNS."""
    rest = uri.split("://", 1)[1] if "://" in uri else uri
    rest, _, query = rest.partition("?")
    userinfo, _, hostpath = rest.rpartition("@")
    hosts, _, db = hostpath.partition("/")
    return userinfo, hosts, unquote(db), query


def database_name(uri: str) -> str:
    """The database named in the URI path (``mongodb://host/shop`` → ``"shop"``).

    Raises:
        ShopperError: The URI names no database, or an invalid one.
    """
    _, _, db, _ = _split_uri(uri)
    if not db:
        raise ShopperError(
            f"{mask_uri(uri)}: the URI names no database: add /dbname",
            hint="For example mongodb://localhost:27017/shop (add ?authSource=admin if your user lives in admin).",
        )
    bad = sorted(set(db) & set('/\\. "$'))
    if bad:
        raise ShopperError(f"{mask_uri(uri)}: '{db}' is not a valid database name (it contains {' '.join(map(repr, bad))}).")
    return db


@dataclass(frozen=True)
class _Creds:
    user: str | None
    password: str | None
    from_env: bool

    def secrets(self) -> list[str]:
        if not self.password:
            return []
        return [s for s in {self.password, quote_plus(self.password), quote(self.password, safe="")} if s]


def _credentials(uri: str) -> _Creds:
    userinfo, _, _, _ = _split_uri(uri)
    if userinfo:
        user, sep, password = userinfo.partition(":")
        if sep:
            return _Creds(unquote(user), unquote(password), False)
        env_pw = os.environ.get(_ENV_PASSWORD)
        return _Creds(unquote(user), env_pw or None, bool(env_pw))
    user, password = os.environ.get(_ENV_USER) or None, os.environ.get(_ENV_PASSWORD) or None
    if password and not user:
        raise ShopperError(f"{_ENV_PASSWORD} is set but {_ENV_USER} is not: set both, or put the user in the URI.")
    return _Creds(user, password, bool(user))


def _scrub(text: str, creds: _Creds, uri: str) -> str:
    """A driver message made safe to show: URI masked, password removed wherever it appears."""
    text = text.replace(uri, mask_uri(uri))
    for secret in sorted(creds.secrets(), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text.split(", full error:")[0].split(" (configured timeouts")[0].strip()


def _timeout_ms(timeout_ms: int | None, *, env: str = _ENV_TIMEOUT, default: int = DEFAULT_TIMEOUT_MS) -> int:
    if timeout_ms is not None:
        return int(timeout_ms)
    raw = os.environ.get(env, "").strip()
    try:
        return int(raw) if raw else default
    except ValueError:
        raise ShopperError(f"{env}={raw!r} is not a number of milliseconds.") from None


@contextmanager
def _database(uri: str, *, timeout_ms: int | None) -> Iterator[tuple[object, _Creds]]:
    """Connect, check the server answers and we may read; yield (database, credentials).

    Every driver error raised inside the block becomes a :class:`ShopperError` with the URI
    masked and the password removed.
    """
    db_name = database_name(uri)
    creds = _credentials(uri)
    shown = mask_uri(uri)
    _, _, _, query = _split_uri(uri)
    options: dict[str, object] = {"appname": "shopper-tui", "datetime_conversion": "DATETIME_AUTO"}
    if "serverselectiontimeoutms=" not in query.lower():
        options["serverSelectionTimeoutMS"] = _timeout_ms(timeout_ms)
    if "connecttimeoutms=" not in query.lower():
        options["connectTimeoutMS"] = max(_timeout_ms(timeout_ms), 1000)
    if "sockettimeoutms=" not in query.lower():
        options["socketTimeoutMS"] = _timeout_ms(None, env=_ENV_READ_TIMEOUT, default=DEFAULT_READ_TIMEOUT_MS)
    if creds.from_env:
        options.update(username=creds.user, password=creds.password)
    who = f"user '{creds.user}'" if creds.user else "no user"
    if creds.from_env and not _split_uri(uri)[0]:
        who += f" (from {_ENV_USER})"
    waited = options.get("serverSelectionTimeoutMS")
    try:
        client = MongoClient(uri, **options)
    except (ConfigurationError, ValueError, TypeError) as exc:
        raise ShopperError(f"{shown}: invalid MongoDB URI: {_scrub(str(exc), creds, uri)}") from None
    try:
        db = client[db_name]
        try:
            db.command("ping")
            db.list_collection_names()
        except ConnectionFailure as exc:
            raise SourceUnavailable(
                f"MongoDB server not reachable at {shown}: {_scrub(str(exc), creds, uri)}",
                hint="Is the server running, and are host and port right? "
                + (f"Waited {waited} ms; set serverSelectionTimeoutMS in the URI or {_ENV_TIMEOUT} to wait longer."
                   if waited else "Raise serverSelectionTimeoutMS in the URI to wait longer."),
            ) from None
        except OperationFailure as exc:
            if exc.code == 18:
                raise ShopperError(
                    f"MongoDB authentication failed for {who} at {shown}.",
                    hint="Check the user name and password; if the user is defined in another database, "
                    "add ?authSource=admin (or that database) to the URI.",
                ) from None
            if exc.code == 13:
                if creds.user:
                    raise ShopperError(f"MongoDB {who} may not read database '{db_name}' at {shown}.",
                                       hint="Grant the user the read role on that database.") from None
                raise ShopperError(
                    f"The MongoDB server at {shown} requires authentication.",
                    hint=f"Put user:password in the URI or set {_ENV_USER} and {_ENV_PASSWORD}.",
                ) from None
            raise ShopperError(f"MongoDB at {shown}: {_scrub(str(exc), creds, uri)}") from None
        try:
            yield db, creds
        except NetworkTimeout as exc:
            raise ShopperError(
                f"MongoDB server at {shown} stopped answering while reading: {_scrub(str(exc), creds, uri)}",
                hint="The server or the network may be overloaded; try again, or wait longer with socketTimeoutMS "
                f"in the URI or {_ENV_READ_TIMEOUT}"
                + (f" (waited {options['socketTimeoutMS']} ms)." if "socketTimeoutMS" in options else "."),
            ) from None
        except PyMongoError as exc:
            raise ShopperError(f"MongoDB error while reading {shown}: {_scrub(str(exc), creds, uri)}") from None
    except PyMongoError as exc:  # a failure after the checks above (connection dropped, …)
        raise ShopperError(f"MongoDB error at {shown}: {_scrub(str(exc), creds, uri)}") from None
    finally:
        client.close()


def _resolve(db: object, uri: str, collections: dict[str, str] | None) -> dict[str, str]:
    """Role → existing collection name.

    Raises:
        ShopperError: An unknown role, a collection named explicitly that does not exist, or
            none of the expected collections found.
    """
    found = sorted(n for n in db.list_collection_names() if not n.startswith("system."))
    wanted: dict[str, tuple[str, ...]] = dict(ROLES)
    for role, name in (collections or {}).items():
        key = _ROLE_ALIASES.get(role, role)
        if key not in ROLES:
            raise ShopperError(f"Unknown MongoDB collection role '{role}'; the roles are {', '.join(ROLES)}.")
        if name not in found:
            raise ShopperError(
                f"Collection '{name}' (given for {role}) is not in database '{db.name}' at {mask_uri(uri)}; "
                f"found: {', '.join(found) or 'no collections'}."
            )
        wanted[key] = (name,)
    resolved = {role: next(n for n in names if n in found) for role, names in wanted.items() if any(n in found for n in names)}
    if not resolved:
        raise ShopperError(
            f"Database '{db.name}' at {mask_uri(uri)} has none of the expected collections "
            f"({', '.join(ROLES)}); found: {', '.join(found) or 'no collections at all (check the database name)'}.",
            hint="Map yours with SHOPPER_TUI_COLLECTIONS, e.g. users=clients,transactions=orders.",
        )
    return resolved


# -- fingerprint ---------------------------------------------------------------------------

def fingerprint(uri: str, *, collections: dict[str, str] | None = None, timeout_ms: int | None = None) -> str:
    """A cheap text that changes when the database's content may have changed.

    For every collection of the database (whatever the mapping, so renamed roles are
    covered): its estimated document count (from metadata) and its largest ``_id`` — only
    that one ``_id`` travels, never documents. Updates in place that change neither go
    unseen (re-import with ``force``). ``collections``, when given, is part of the text.

    Raises:
        ShopperError: As :func:`load_mongo` for connection problems.
    """
    with _database(uri, timeout_ms=timeout_ms) as (db, _):
        loader = _Loader(db, {}, _no_progress)
        parts = [db.name, json.dumps(sorted((collections or {}).items()))]
        for name in sorted(n for n in db.list_collection_names() if not n.startswith("system.")):
            last = db[name].find_one({}, {"_id": 1}, sort=[("_id", -1)])
            parts.append(f"{name}:{loader.count(name)}:{(last or {}).get('_id')!r}")
        return "|".join(parts)


# -- documents → columns -------------------------------------------------------------------

def _kind(t: type) -> str:
    if t is str:
        return "str"
    if t is bool:
        return "bool"
    if issubclass(t, int):
        return "int"
    if issubclass(t, float):
        return "float"
    if issubclass(t, datetime):
        return "datetime"
    if t is ObjectId:
        return "oid"
    if t is Decimal128:
        return "decimal"
    if issubclass(t, (dict, list, tuple)):
        return "nested"
    return "other"


def _text(v: object) -> object:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, datetime):
        return v.isoformat(sep=" ")
    return str(v)


def _series(name: str, vals: list[object], *, nested_as_text: bool = False) -> tuple[pl.Series, list[int]]:
    """One batch of one field as a typed series, plus the indices of nested values (nulled,
    or kept as JSON text when ``nested_as_text``)."""
    kinds = {_kind(t) for t in set(map(type, vals)) if t is not NoneType}
    nested: list[int] = []
    if "nested" in kinds and not nested_as_text:
        nested = [i for i, v in enumerate(vals) if isinstance(v, (dict, list, tuple))]
        vals = [None if isinstance(v, (dict, list, tuple)) else v for v in vals]
        kinds.discard("nested")
    if not kinds:
        return pl.Series(name, [None] * len(vals), dtype=pl.Null), nested
    if kinds == {"str"}:
        return pl.Series(name, vals, dtype=pl.String), nested
    if kinds == {"int"}:
        return pl.Series(name, vals, dtype=pl.Int64), nested
    if kinds == {"bool"}:
        return pl.Series(name, vals, dtype=pl.Boolean), nested
    if kinds == {"datetime"}:
        return pl.Series(name, vals, dtype=pl.Datetime("us")), nested
    if kinds == {"oid"}:
        return pl.Series(name, [None if v is None else str(v) for v in vals], dtype=pl.String), nested
    if kinds <= {"int", "float", "decimal"}:
        if "decimal" in kinds:
            vals = [float(v.to_decimal()) if _kind(type(v)) == "decimal" else v for v in vals]
        return pl.Series(name, vals, dtype=pl.Float64, strict=False), nested
    text = [json.dumps(v, default=str) if isinstance(v, (dict, list, tuple)) else _text(v) for v in vals]
    return pl.Series(name, text, dtype=pl.String), nested


def _common_dtype(dtypes: set[pl.DataType]) -> pl.DataType:
    dtypes = {d for d in dtypes if d != pl.Null}
    if len(dtypes) == 1:
        return dtypes.pop()
    if dtypes and dtypes <= {pl.Int64, pl.Float64}:
        return pl.Float64
    return pl.String


_ROW = "__row"  # the row's position in what the cursor returned, 1-based
_NESTED = "__nested__"


@dataclass
class _Read:
    """What one cursor returned.

    Attributes:
        frame: One row per document: the fields seen (nested values nulled), a
            ``__nested__<field>`` flag per field that had nested values, ``_ROW`` and, when
            asked, ``_DOC``.
        nested: ``_ROW``, field, value of every nested value found.
        empty: The cursor returned nothing.
    """

    frame: pl.DataFrame
    nested: pl.DataFrame
    empty: bool


def _read(cursor: object, *, names: list[str], label: str, total: int, progress: ProgressFn,
          doc_key: bool = False, inner: tuple[str, list[str]] | None = None) -> _Read:
    """Drain a cursor batch by batch into columns of the given document fields.

    Args:
        names: Top-level fields to keep.
        doc_key: Also keep ``_id`` as text in ``_DOC`` and count progress in distinct ``_id``
            (parent documents, for unwound rows).
        inner: ``(array, fields)``: the rows were unwound from ``array``, whose element (a
            document) gives ``fields``, kept as columns ``__<array>__<field>``.
    """
    parts: dict[str, list[pl.Series | int]] = {}  # an int: that many rows without the field
    present: set[str] = set()
    docs: list[pl.Series] = []
    nested_rows: dict[str, list[object]] = {_ROW: [], "field": [], "value": []}
    row = 0
    parents = 0

    def add(column: str, rows: list[dict], keys: set[str], field: str) -> None:
        if field not in keys:
            parts.setdefault(column, []).append(len(rows))
            return
        present.add(column)
        vals = [d.get(field) for d in rows]
        series, nested = _series(column, vals, nested_as_text=field == "_id")
        parts.setdefault(column, []).append(series)
        for i in nested:
            nested_rows[_ROW].append(row + i + 1)
            nested_rows["field"].append(column)
            nested_rows["value"].append(json.dumps(vals[i], default=str)[:200])

    progress(label, 0.0 if total else None)
    while batch := list(islice(cursor, BATCH_SIZE)):
        keys: set[str] = set().union(*batch)
        for name in names:
            add(name, batch, keys, name)
        if inner:
            array, fields = inner
            elements = [d.get(array) for d in batch]
            elements = [e if isinstance(e, dict) else {} for e in elements]
            element_keys: set[str] = set().union(*elements)
            for field in fields:
                add(f"__{array}__{field}", elements, element_keys, field)
        if doc_key:
            ids = [d.get("_id") for d in batch]
            docs.append(_series(_DOC, ids, nested_as_text=True)[0].cast(pl.String))
            parents += len(set(map(str, ids)))
        row += len(batch)
        progress(label, min((parents if doc_key else row) / total, 1.0) if total else None)
    if total:
        progress(label, 1.0)
    columns = []
    for name in (n for n in parts if n in present):
        dtype = _common_dtype({p.dtype for p in parts[name] if isinstance(p, pl.Series)})
        columns.append(pl.concat([p.cast(dtype) if isinstance(p, pl.Series) else pl.repeat(None, p, dtype=dtype, eager=True)
                                  .alias(name) for p in parts[name]]))
    frame = pl.DataFrame([*columns, pl.int_range(1, row + 1, dtype=pl.Int64, eager=True).alias(_ROW)])
    if doc_key:
        frame = frame.with_columns(pl.concat(docs) if docs else pl.Series(_DOC, [], dtype=pl.String))
    nested = pl.DataFrame(nested_rows, schema={_ROW: pl.Int64, "field": pl.String, "value": pl.String})
    for field in nested.get_column("field").unique().to_list():
        rows = nested.filter(pl.col("field") == field).get_column(_ROW)
        frame = frame.with_columns(pl.col(_ROW).is_in(rows.implode()).alias(_NESTED + field))
    return _Read(frame, nested, row == 0)


def _canonical(read: _Read, fields: dict[str, tuple[str, ...]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Coalesce synonym fields into canonical columns (first field holding a value wins).

    A row is rejected for a column when the field that would give its value holds a nested
    document or array; nested values in fields shadowed by an earlier synonym are ignored.

    Returns:
        The frame (canonical columns, ``_ROW``, ``_DOC`` when read) and the rejects
        (``_ROW``, column, value).
    """
    df = read.frame
    exprs = []
    rejected: list[pl.DataFrame] = []
    for col, names in fields.items():
        have = [n for n in names if n in df.columns]
        if not have:
            if read.empty:
                exprs.append(pl.lit(None, dtype=pl.String).alias(col))
            continue
        target = _common_dtype({df.schema[n] for n in have})
        exprs.append(pl.coalesce([pl.col(n).cast(target) for n in have]).alias(col))
        taken = pl.lit(False)
        for n in have:
            flag = _NESTED + n
            if flag in df.columns:
                rows = df.filter(~taken & pl.col(flag)).get_column(_ROW)
                if rows.len():
                    hits = read.nested.filter((pl.col("field") == n) & pl.col(_ROW).is_in(rows.implode()))
                    rejected.append(hits.select(_ROW, pl.lit(col).alias("column"), "value"))
                taken = taken | pl.col(flag)
            taken = taken | pl.col(n).is_not_null()
    out = df.select(*exprs, *[c for c in (_ROW, _DOC) if c in df.columns])
    rejects = (pl.concat(rejected).sort(_ROW) if rejected
               else pl.DataFrame(schema={_ROW: pl.Int64, "column": pl.String, "value": pl.String}))
    return out, rejects


# -- loading ---------------------------------------------------------------------------------

@dataclass
class _Table:
    """A canonical table read from one collection, before rejected documents are dropped.

    Attributes:
        frame: Canonical columns, ``_ROW`` and maybe ``_DOC``.
        rejects: ``_ROW``, column, value of rows with a nested value where one is not allowed.
        origin: "collection 'users'" or "collection 'transactions' (items)".
        parents: For unwound rows, parent ``_DOC`` → its ``LINE_COLUMN`` in the parent
            collection; rows are then numbered by their parent document.
    """

    frame: pl.DataFrame
    rejects: pl.DataFrame
    origin: str
    parents: pl.DataFrame | None = None

    def doc_lines(self) -> pl.DataFrame:
        """``_DOC`` → document number, for numbering rows unwound from these documents."""
        return self.frame.select(_DOC, pl.col(_ROW).alias(LINE_COLUMN))


_PEEK = 200  # documents looked at to find which embedded array holds the items / events


class _Loader:
    """One load: reads the collections of one database and keeps what it found.

    Attributes:
        resolved: Role → collection name, for the non-empty collections found.
        tables: Canonical table → what was read.
        notes: For the user (missing or empty collections, what was read from where).
    """

    def __init__(self, db: object, resolved: dict[str, str], progress: ProgressFn) -> None:
        self.db = db
        self.progress = progress
        self._counts: dict[str, int] = {}
        self.tables: dict[str, _Table] = {}
        self.notes: list[str] = []
        self.read_from: list[str] = []
        self.empty = {role: name for role, name in resolved.items() if self.count(name) == 0 and not self.peek(name, ())}
        self.resolved = {role: name for role, name in resolved.items() if role not in self.empty}

    # -- collection facts ---------------------------------------------------------------
    def count(self, name: str) -> int:
        """Documents in the collection, estimated from metadata (no scan) where possible."""
        if name not in self._counts:
            coll = self.db[name]
            try:
                self._counts[name] = int(coll.estimated_document_count())
            except OperationFailure:  # views, servers without the count command
                self._counts[name] = int(coll.count_documents({}))
        return self._counts[name]

    def peek(self, name: str, fields: tuple[str, ...]) -> set[str]:
        """Which of ``fields`` (plus ``_id``) the first documents of the collection have."""
        with self.db[name].find({}, {"_id": 1, **{f: 1 for f in fields}}, limit=_PEEK) as cursor:
            return set().union(*cursor)

    def embedded_array(self, name: str, candidates: tuple[str, ...]) -> str | None:
        """The first candidate array field the documents have: looked for in the first
        documents, then (if none of those has one) with an ``$exists`` query."""
        seen = self.peek(name, candidates)
        found = next((a for a in candidates if a in seen), None)
        if found or self.count(name) <= _PEEK:
            return found
        coll = self.db[name]
        return next((a for a in candidates if coll.find_one({a: {"$exists": True}}, {"_id": 1}) is not None), None)

    def absent(self, role: str) -> str:
        """Why a role gave nothing: "no 'reviews' collection" or "collection 'x' is empty"."""
        if role in self.empty:
            return f"collection '{self.empty[role]}' is empty"
        return f"no {' or '.join(map(repr, ROLES[role]))} collection"

    # -- reading ----------------------------------------------------------------------------
    def flat(self, name: str, fields: dict[str, tuple[str, ...]], *, doc_key: bool = False) -> _Table:
        """One document per row: ``find`` with a projection of the fields needed."""
        names = list(dict.fromkeys(n for ns in fields.values() for n in ns))
        projection: dict[str, int] = {n: 1 for n in names} or {"_id": 1}
        if "_id" not in names and not doc_key:
            projection["_id"] = 0
        with self.db[name].find({}, projection, batch_size=BATCH_SIZE) as cursor:
            read = _read(cursor, names=names, label=f"reading collection '{name}'", total=self.count(name),
                         progress=self.progress, doc_key=doc_key)
        frame, rejects = _canonical(read, fields)
        return _Table(frame, rejects, f"collection '{name}'")

    def unwound(self, name: str, array: str, *, outer: dict[str, tuple[str, ...]],
                inner: dict[str, tuple[str, ...]], parents: pl.DataFrame) -> _Table:
        """Rows of an embedded array, unwound on the server: ``$project`` (the parent fields
        needed and the array) then ``$unwind``, so each row arrives as one array element.

        ``outer`` fields come from the parent document, ``inner`` ones from the element
        (tried first when a column has both). The whole element is kept rather than a list of
        its fields, so elements that are not documents still arrive (and are reported).
        """
        outer_names = list(dict.fromkeys(n for ns in outer.values() for n in ns if n not in ("_id", array)))
        inner_names = list(dict.fromkeys(n for ns in inner.values() for n in ns))
        pipeline = [{"$project": {"_id": 1, **{n: 1 for n in outer_names}, array: 1}}, {"$unwind": f"${array}"}]
        label = f"reading {array} of collection '{name}'"
        self.progress(label, None)  # the server may work a while before the first batch
        with self.db[name].aggregate(pipeline, batchSize=BATCH_SIZE) as cursor:
            read = _read(cursor, names=["_id", *outer_names], label=label, total=self.count(name),
                         progress=self.progress, doc_key=True, inner=(array, inner_names))
        fields = {c: (*(f"__{array}__{n}" for n in inner.get(c, ())), *outer.get(c, ())) for c in {**outer, **inner}}
        frame, rejects = _canonical(read, fields)
        return _Table(frame, rejects, f"collection '{name}' ({array})", parents)

    # -- the roles ----------------------------------------------------------------------------
    def simple(self, role: str, table: str, id_column: str, missing: str) -> None:
        if role not in self.resolved:
            self.notes.append(f"{self.absent(role)}: {missing}")
            return
        name = self.resolved[role]
        self.tables[table] = self.flat(name, _fields(table, id_column=id_column))
        self.read_from.append(f"{name} → {table}")

    def orders(self) -> None:
        if "transactions" not in self.resolved:
            self.notes.append(f"{self.absent('transactions')}: orders not imported")
            return
        name = self.resolved["transactions"]
        order_fields = _fields("orders", id_column="order_id")
        self.tables["orders"] = self.flat(name, order_fields, doc_key=True)
        array = self.embedded_array(name, _ITEM_ARRAYS)
        if array:
            self.tables["order_items"] = self.unwound(
                name, array, outer={"order_id": order_fields["order_id"]},
                inner=_fields("order_items", only=("product_id", "quantity", "unit_price")),
                parents=self.tables["orders"].doc_lines())
            self.read_from.append(f"{name} → orders + order_items ('{array}' unwound on the server)")
        elif "order_items" in self.resolved:
            self.tables["order_items"] = self.flat(self.resolved["order_items"], _fields("order_items"))
            self.read_from.append(f"{name} → orders; {self.resolved['order_items']} → order_items")
        else:
            self.notes.append(f"documents of collection '{name}' have no {' / '.join(map(repr, _ITEM_ARRAYS))} "
                              f"array and {self.absent('order_items')}: order lines not imported")
            self.read_from.append(f"{name} → orders")

    def events(self) -> None:
        sessions = self.resolved.get("sessions")
        array = self.embedded_array(sessions, _EVENT_ARRAYS) if sessions else None
        session_fields = _fields("events", id_column="session_id", only=("session_id", *_SESSION_ATTRS))
        if "events" in self.resolved:
            name = self.resolved["events"]
            self.tables["events"] = self.flat(name, _fields("events"))
            self.read_from.append(f"{name} → events")
            if sessions and not array:
                attrs = self.flat(sessions, session_fields)
                self.tables["events"].frame = _fill_from_sessions(self.tables["events"].frame, attrs.frame)
                self.read_from.append(f"{sessions} → session attributes of events")
            elif sessions:
                self.notes.append(f"collection '{sessions}' not read: events come from the flat collection '{name}'")
        elif sessions and array:
            parents = self.flat(sessions, {}, doc_key=True).doc_lines()
            inner = _fields("events", only=("ts", "event_type", "product_id", *_SESSION_ATTRS))
            self.tables["events"] = self.unwound(sessions, array, outer=session_fields, inner=inner, parents=parents)
            self.read_from.append(f"{sessions} → events ('{array}' unwound on the server)")
        elif sessions and self.peek(sessions, _names("event_type", "events")) - {"_id"}:
            self.tables["events"] = self.flat(sessions, _fields("events"))
            self.read_from.append(f"{sessions} → events (one document per event)")
        elif sessions:
            self.notes.append(f"documents of collection '{sessions}' have no 'events' array nor an event type, and "
                              f"{self.absent('events')}: events not imported (funnels and experiments need them)")
        else:
            self.notes.append(f"{self.absent('events')}, {self.absent('sessions')}: events not imported "
                              "(funnels and experiments need them)")


def _fill_from_sessions(events: pl.DataFrame, sessions: pl.DataFrame) -> pl.DataFrame:
    """Fill event columns (customer, device, …) left empty from the session they belong to."""
    cols = [c for c in _SESSION_ATTRS if c in sessions.columns]
    if not cols or "session_id" not in events.columns or "session_id" not in sessions.columns:
        return events
    s = sessions.select(pl.col("session_id").cast(pl.String).alias("__sid"), *[pl.col(c).alias(f"__s_{c}") for c in cols])
    s = s.filter(pl.col("__sid").is_not_null()).unique("__sid", keep="first", maintain_order=True)
    ev = events.with_columns(pl.col("session_id").cast(pl.String).alias("__sid")).join(
        s, on="__sid", how="left", maintain_order="left")
    for c in cols:
        if c in ev.columns:
            t = _common_dtype({ev.schema[c], ev.schema[f"__s_{c}"]})
            ev = ev.with_columns(pl.coalesce(pl.col(c).cast(t), pl.col(f"__s_{c}").cast(t)).alias(c))
        else:
            ev = ev.with_columns(pl.col(f"__s_{c}").alias(c))
    return ev.drop("__sid", *[f"__s_{c}" for c in cols])


def load_mongo(
    uri: str,
    *,
    progress: ProgressFn | None = None,
    collections: dict[str, str] | None = None,
    timeout_ms: int | None = None,
) -> RawSource:
    """Read a MongoDB database's seed collections into raw canonical tables.

    Args:
        uri: ``mongodb://[user:password@]host[:port]/dbname[?options]``.
        progress: ``progress(step, fraction)``, fraction of the collection's documents read.
        collections: Role → collection name overrides (roles: see :data:`ROLES`; ``customers``
            and ``orders`` are accepted for ``users`` and ``transactions``).
        timeout_ms: How long to wait for the server (default: the URI's
            ``serverSelectionTimeoutMS``, else ``SHOPPER_TUI_MONGO_TIMEOUT_MS``, else 3 000).

    Returns:
        A ``RawSource`` of kind "mongodb", described by the masked URI; missing optional
        collections are listed in its notes; documents with nested values where single
        values are expected are in its ``loader_rejects``.

    Raises:
        ShopperError: No database in the URI, server unreachable, authentication failed, no
            expected collection in the database, or a driver error while reading.
    """
    with _database(uri, timeout_ms=timeout_ms) as (db, _):
        loader = _Loader(db, _resolve(db, uri, collections), progress or _no_progress)
        if not loader.resolved:
            raise ShopperError(f"Database '{db.name}' at {mask_uri(uri)}: every expected collection is empty "
                               f"({', '.join(loader.empty.values())}).")
        loader.simple("users", "customers", "customer_id", "customers taken from orders/events")
        loader.simple("products", "products", "product_id", "products taken from order lines/events, category unknown")
        loader.orders()
        loader.events()
        loader.simple("reviews", "reviews", "review_id", "reviews not imported")
        notes = [f"read from database '{db.name}': " + "; ".join(loader.read_from), *loader.notes]
    return _assemble(loader.tables, mask_uri(uri), notes)


def _assemble(tables: dict[str, _Table], description: str, notes: list[str]) -> RawSource:
    """Number the rows, drop rejected documents and gather them as loader rejects."""
    raw: dict[str, RawTable] = {}
    reject_frames: list[pl.DataFrame] = []
    for table, t in tables.items():
        frame = t.frame
        if t.parents is not None:
            frame = frame.join(t.parents, on=_DOC, how="left", maintain_order="left")
        else:
            frame = frame.with_columns(pl.col(_ROW).alias(LINE_COLUMN))
        if t.rejects.height:
            first = t.rejects.unique(_ROW, keep="first", maintain_order=True)
            first = first.join(frame.select(_ROW, LINE_COLUMN), on=_ROW, how="left", maintain_order="left")
            frame = frame.filter(~pl.col(_ROW).is_in(first.get_column(_ROW).implode()))
            reject_frames.append(first.select(
                pl.lit(table).alias("table"), pl.lit(t.origin).alias("origin"), pl.col(LINE_COLUMN).alias("line"),
                "column", "value", pl.lit(_NESTED_REASON).alias("reason")))
        raw[table] = RawTable(name=table, frame=frame.drop(_ROW, _DOC, strict=False), origin=t.origin)
    loader_rejects = pl.concat(reject_frames) if reject_frames else None
    return RawSource(kind="mongodb", description=description, tables=raw, notes=notes, loader_rejects=loader_rejects)
