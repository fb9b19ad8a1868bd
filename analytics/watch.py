"""Watch mode: poll a MongoDB database or a folder for new rows and append them to the workspace.

:func:`poll` reads only what arrived since the last poll, validates it with the import's
validator, appends it to the (read-write) workspace and returns what changed — rows per table
and the customers affected — so the app can recompute those customers' features and place
them with the trained model (:func:`reassign`, no retraining).

**MongoDB.** Each watched collection is a *stream* with a watermark ``(field, _id)`` stored
in the workspace table ``_watermarks``: transactions (orders and their items), events (a flat
``events`` collection, or new ``sessions`` documents with embedded events) and reviews.
The field is the collection's timestamp (the loader's synonyms: ``ts``, ``timestamp``,
``created_at`` …) when it holds BSON dates, else ``_id`` (ObjectIds grow with insertion
time). A poll first fixes, per stream, the upper bound of what it will read — the
``max_documents``-th document after the watermark in (field, ``_id``) order, or the last one —
so documents inserted while it reads wait for the next poll; then reads exactly the range
(watermark, bound] through the MongoDB loader (same field synonyms, same ``$unwind``), so a
document is read once even when many share a timestamp. Order lines in a separate
``order_items`` collection are fetched for the new orders; session attributes for flat events
from the sessions they name.

Initial watermarks: a timestamp stream starts after the newest timestamp of its table in the
workspace (what the import saw); an ``_id`` stream starts at the collection's largest ``_id``
when it is first polled, so call :func:`init_watermarks` right after an import to miss
nothing in between. Documents inserted later with an *older* timestamp than the watermark
are not seen (re-import to pick them up).

**Folders.** Each table file's watermark is the number of rows already taken; a poll reads a
file whose size or modification time changed and takes the rows past that count (a file that
does not end in a newline is still being written: its last row waits). A file that appears
after the import is read whole. A file that shrank is left alone (re-import).

**Atomic and exactly once.** Everything is read and validated before the workspace is
touched; rows, rejects, watermarks and ``_meta`` (``watched_at``, ``watch_rows``,
``data_version``) are then written in one DuckDB transaction. A poll that fails — server
stopped, file unreadable, cancelled — raises and leaves the workspace as it was; the next
poll starts from the same watermarks, so nothing is lost or duplicated. Keyed tables are
appended with an anti-join (an order, review, customer or product already present is kept,
as the validator keeps the first of duplicate keys); customers and products referenced by
new rows but unknown are added as bare rows, as on import. Items of an order that arrived in
an earlier poll are checked against the workspace's orders.

The workspace must be opened with ``read_only=False`` — and, DuckDB allowing one writer, the
same :class:`~.workspace.Workspace` object must serve the app's reads while watching.

**Change streams.** When the server offers them (a replica set; a standalone ``mongod``
refuses them), :class:`ChangeFeed` listens on the watched collections and tells the app the
moment documents arrive, so it polls at once instead of at the next interval. The poll still
reads by watermark: a change reported twice, or one missed while the stream reconnects, costs
nothing, and the interval timer stays as the safety net.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import polars as pl
from bson import json_util

from .errors import ShopperError
from .parsing import to_id_strings
from .schema import LINE_COLUMN, TABLE_NAMES, TABLES
from .sources import ProgressFn, RawSource, RawTable, _no_progress, mask_uri, source_kind
from .validate import REJECT_SCHEMA, Validated, validate

if TYPE_CHECKING:
    from .segmentation import SegmentModel
    from .workspace import Workspace

__all__ = ["WATERMARK_TABLE", "MAX_DOCUMENTS", "ChangeFeed", "PollResult", "Watcher", "init_watermarks", "poll",
           "reassign", "reassign_with_features", "watermarks"]

WATERMARK_TABLE = "_watermarks"
MAX_DOCUMENTS = 200_000  #: documents (or new file rows) read per stream and poll at most
_TAIL = 20
_JSON = json_util.JSONOptions(json_mode=json_util.JSONMode.CANONICAL, tz_aware=False)
_KEYS = {"orders": "order_id", "reviews": "review_id", "customers": "customer_id", "products": "product_id"}


@dataclass
class PollResult:
    """What one poll changed.

    Attributes:
        source: The source polled (masked).
        appended: Rows appended per canonical table (tables with none left out).
        rejected: Rows the validator rejected per table.
        customers: Customer ids with new orders, events or reviews (sorted, unique).
        tail: The newest appended events (up to 20): ts, event_type, customer_id, product_id.
        watermarks: Stream → watermark after the poll, for display.
        notes: Things worth saying (a stream started, a file rewritten).
        polled_at: When the poll ran (UTC).
        seconds: Wall time.
    """

    source: str
    appended: dict[str, int]
    rejected: dict[str, int]
    customers: list[str]
    tail: pl.DataFrame
    watermarks: dict[str, str]
    notes: list[str] = field(default_factory=list)
    polled_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(self.appended.values())

    @property
    def changed(self) -> bool:
        return self.rows > 0


# -- watermarks ---------------------------------------------------------------------------------

def _writable(ws: Workspace) -> None:
    readonly = ws.cursor().execute(
        "SELECT readonly FROM duckdb_databases() WHERE database_name = current_database()").fetchall()[0][0]
    if readonly:
        raise ShopperError(f"Workspace '{ws.name}' is open read-only; watch mode appends to it.",
                           hint="Open it with Workspace(path, read_only=False) (one writer per file).")


def watermarks(ws: Workspace) -> dict[str, dict]:
    """Stream → stored watermark state (empty before the first poll)."""
    if WATERMARK_TABLE not in ws.tables():
        return {}
    rows = ws.cursor().execute(f"SELECT stream, state FROM {WATERMARK_TABLE}").fetchall()
    return {s: json_util.loads(state, json_options=_JSON) for s, state in rows}


def _describe(state: dict) -> str:
    if "rows" in state:
        return f"{state['rows']:,} rows of {state['file']}"
    key = state.get("key")
    if key is None:
        return f"after {state['field']} {state['after']}" if state.get("after") is not None else "from the start"
    if state["field"] == "_id":
        return f"_id {key[1]}"
    return f"{state['field']} {key[0]}, _id {key[1]}"


# -- MongoDB -----------------------------------------------------------------------------------

class _Coll:
    """A collection seen through a filter (a query, or a function giving one when used), so the
    loader reads only new documents without knowing it."""

    def __init__(self, coll: object, flt: dict | Callable[[], dict] | None) -> None:
        self._c = coll
        self._flt = flt

    def _q(self, query: dict | None) -> dict:
        flt = self._flt() if callable(self._flt) else self._flt
        if not flt:
            return query or {}
        return {"$and": [query, flt]} if query else flt

    def find(self, filter: dict | None = None, *args: object, **kwargs: object) -> object:  # noqa: A002
        return self._c.find(self._q(filter), *args, **kwargs)

    def find_one(self, filter: dict | None = None, *args: object, **kwargs: object) -> object:  # noqa: A002
        return self._c.find_one(self._q(filter), *args, **kwargs)

    def aggregate(self, pipeline: list[dict], **kwargs: object) -> object:
        return self._c.aggregate([{"$match": self._q(None)}, *pipeline], **kwargs)

    def estimated_document_count(self) -> int:
        if isinstance(self._flt, dict) and self._flt:
            return self._c.count_documents(self._flt)
        return self._c.estimated_document_count()

    def count_documents(self, query: dict) -> int:
        return self._c.count_documents(self._q(query))


class _FilteredDb:
    def __init__(self, db: object, filters: dict[str, dict | Callable[[], dict]]) -> None:
        self._db = db
        self.filters = filters
        self.name = db.name

    def __getitem__(self, name: str) -> _Coll:
        return _Coll(self._db[name], self.filters.get(name))


def _after(f: str, key: list | None) -> dict:
    """Documents after ``key`` = [field value, _id] in (field, _id) order."""
    if key is None:
        return {}
    if f == "_id":
        return {"_id": {"$gt": key[1]}}
    return {"$or": [{f: {"$gt": key[0]}}, {f: key[0], "_id": {"$gt": key[1]}}]}


def _upto(f: str, key: list) -> dict:
    if f == "_id":
        return {"_id": {"$lte": key[1]}}
    return {"$or": [{f: {"$lt": key[0]}}, {f: key[0], "_id": {"$lte": key[1]}}]}


def _lower(state: dict) -> dict:
    """Documents after the stream's watermark (a timestamp stream also needs a date there)."""
    f = state["field"]
    if state.get("key") is not None:
        return _after(f, state["key"])
    if f == "_id":
        return {}
    return {f: {"$gt": state["after"]}} if state.get("after") is not None else {f: {"$type": "date"}}


def _range(state: dict, bound: list) -> dict:
    lower = _lower(state)
    return {"$and": [lower, _upto(state["field"], bound)]} if lower else _upto(state["field"], bound)


def _mongo_streams(loader: object) -> dict[str, tuple[str, str]]:
    """Stream (role) → (collection, table its timestamp comes from)."""
    from .sources.mongo import _EVENT_ARRAYS

    out: dict[str, tuple[str, str]] = {}
    r = loader.resolved
    if "transactions" in r:
        out["transactions"] = (r["transactions"], "orders")
    if "events" in r:
        out["events"] = (r["events"], "events")
    elif "sessions" in r and loader.embedded_array(r["sessions"], _EVENT_ARRAYS):
        out["sessions"] = (r["sessions"], "sessions")
    if "reviews" in r:
        out["reviews"] = (r["reviews"], "reviews")
    return out


def _key_field(db: object, collection: str, table: str) -> str:
    """The collection's timestamp field when its newest documents hold BSON dates, else ``_id``."""
    from .sources.mongo import _names

    if table == "sessions":
        return "_id"
    names = _names("ts", table)
    newest = list(db[collection].find({}, {n: 1 for n in names}).sort("_id", -1).limit(50))
    for n in names:
        values = [d[n] for d in newest if d.get(n) is not None]
        if values and all(isinstance(v, datetime) for v in values):
            return n
    return "_id"


def _initial(ws: Workspace, db: object, collection: str, table: str) -> dict:
    f = _key_field(db, collection, table)
    if f != "_id":
        latest = ws.sql(f'SELECT max(ts) AS m FROM "{table}"')["m"][0] if table in TABLE_NAMES else None
        return {"stream": collection, "field": f, "key": None, "after": latest}
    last = db[collection].find_one({}, {"_id": 1}, sort=[("_id", -1)])
    return {"stream": collection, "field": "_id", "key": None if last is None else [None, last["_id"]]}


def _bound(db: object, state: dict, limit: int) -> list | None:
    """The (field, _id) key of the last document this poll reads, or None when nothing is new."""
    f = state["field"]
    order = [(f, 1), ("_id", 1)] if f != "_id" else [("_id", 1)]
    coll = db[state["stream"]]
    projection = {f: 1, "_id": 1}
    doc = next(iter(coll.find(_lower(state), projection).sort(order).skip(limit - 1).limit(1)), None)
    if doc is None:
        doc = next(iter(coll.find(_lower(state), projection).sort([(k, -1) for k, _ in order]).limit(1)), None)
    if doc is None:
        return None
    return [doc.get(f) if f != "_id" else None, doc["_id"]]


def _read_mongo(ws: Workspace, uri: str, *, collections: dict[str, str] | None, limit: int,
                progress: ProgressFn, timeout_ms: int | None, init_only: bool = False
                ) -> tuple[RawSource | None, dict[str, dict], list[str]]:
    from .sources.mongo import _assemble, _database, _Loader, _names, _resolve

    stored = watermarks(ws)
    new_states: dict[str, dict] = {}
    notes: list[str] = []
    with _database(uri, timeout_ms=timeout_ms) as (db, _):
        resolved = _resolve(db, uri, collections)
        probe = _Loader(db, resolved, _no_progress)
        streams = _mongo_streams(probe)
        filters: dict[str, dict | Callable[[], dict]] = {}
        for role, (collection, table) in streams.items():
            state = stored.get(collection) or _initial(ws, db, collection, table)
            if collection not in stored:
                notes.append(f"watching collection '{collection}' from {_describe(state)}")
            new_states[collection] = state
            if init_only:
                continue
            bound = _bound(db, state, limit)
            if bound is None:
                continue
            filters[collection] = _range(state, bound)
            new_states[collection] = {**state, "key": bound, "after": None}
        if init_only or not filters:
            return None, new_states, notes
        wanted = {role: name for role, name in probe.resolved.items()
                  if name in filters or role in ("order_items", "sessions")}
        fdb = _FilteredDb(db, filters)
        loader = _Loader(fdb, wanted, progress)

        def new_ids(table: str, column: str) -> list:
            t = loader.tables.get(table)
            return t.frame[column].drop_nulls().unique().to_list() if t is not None and column in t.frame.columns else []

        def of_new(table: str, column: str, fields: tuple[str, ...]) -> Callable[[], dict]:
            """Documents whose ``fields`` name one of the new rows' ``column`` values (evaluated
            when the loader reads them, after those rows)."""
            return lambda: {"$or": [{n: {"$in": new_ids(table, column)}} for n in fields]}

        if "order_items" in wanted:  # lines of the new orders (when not embedded)
            fdb.filters[wanted["order_items"]] = of_new("orders", "order_id", _names("order_id", "order_items"))
        if "sessions" in wanted and wanted["sessions"] not in filters:  # attributes of the new events' sessions
            fdb.filters[wanted["sessions"]] = of_new("events", "session_id", (*_names("session_id", "events"), "_id"))
        if streams.get("transactions", ("",))[0] in filters:
            loader.orders()
        if any(streams.get(s, ("",))[0] in filters for s in ("events", "sessions")):
            loader.events()
        if streams.get("reviews", ("",))[0] in filters:
            loader.simple("reviews", "reviews", "review_id", "")
        raw = _assemble(loader.tables, mask_uri(uri), [])
    return raw, new_states, notes


# -- folders -------------------------------------------------------------------------------------

def _folder_files(path: Path, ws: Workspace) -> dict[str, Path]:
    """Table → the file the folder loader read for it at import (its report's origin), so a
    loosely named file (``olist_orders_dataset.csv``) is followed too; a table that arrives
    later is looked for by its exact name (the import's rules for which file wins)."""
    from .sources.files import _file_format, _stem, table_for_stem

    report = ws.report.tables
    claims: dict[str, list[tuple[int, Path]]] = {}
    for f in sorted(path.iterdir(), key=lambda p: p.name.lower()):
        if f.name.startswith(".") or not f.is_file() or _file_format(f) is None:
            continue
        match = table_for_stem(_stem(f))
        if match is None:
            continue
        table, rank = match
        read_at_import = table in report and report[table].origin == f.name
        if read_at_import or (table not in report and rank < 2):
            claims.setdefault(table, []).append((-1 if read_at_import else rank, f))
    return {t: min(fs, key=lambda rf: rf[0])[1] for t, fs in claims.items()}


def _read_folder(ws: Workspace, path: Path, *, limit: int, progress: ProgressFn, init_only: bool = False
                 ) -> tuple[RawSource | None, dict[str, dict], list[str]]:
    from .sources.files import read_table_file

    if not path.is_dir():
        raise ShopperError(f"Folder not found: '{path}'.")
    stored = watermarks(ws)
    report = ws.report
    states: dict[str, dict] = {}
    tables: dict[str, RawTable] = {}
    notes: list[str] = []
    for table, f in _folder_files(path, ws).items():
        stream = f"file:{f.name}"
        st = f.stat()
        state = stored.get(stream)
        if state is None:
            imported = report.tables.get(table)
            rows = imported.rows_read if imported is not None and imported.origin == f.name else 0
            state = {"stream": stream, "file": f.name, "table": table, "rows": rows, "size": -1, "mtime_ns": -1}
            notes.append(f"watching {f.name} from row {rows:,}")
        states[stream] = state
        if init_only or (st.st_size, st.st_mtime_ns) == (state["size"], state["mtime_ns"]):
            continue
        progress(f"reading {f.name}", None)
        raw, _ = read_table_file(f, table=table)
        height = raw.frame.height
        with f.open("rb") as fh:
            fh.seek(max(st.st_size - 1, 0))
            complete = fh.read(1) in (b"\n", b"") or raw.frame.height == 0 or f.suffix.lower() in (".parquet", ".pq")
        end = height if complete else height - 1
        if end < state["rows"]:
            if height < state["rows"]:
                notes.append(f"{f.name} now has fewer rows ({height:,}) than already taken ({state['rows']:,}): "
                             "left alone; import again to pick up a rewritten file")
            states[stream] = {**state, "size": st.st_size, "mtime_ns": st.st_mtime_ns} if complete else state
            continue
        end = min(end, state["rows"] + limit)
        if end > state["rows"]:
            tables[table] = RawTable(table, raw.frame.slice(state["rows"], end - state["rows"]), raw.origin, raw.encoding)
        done = end == height
        states[stream] = {**state, "rows": end, "size": st.st_size if done else -1,
                          "mtime_ns": st.st_mtime_ns if done else -1}
    if not tables:
        return None, states, notes
    return RawSource(kind="files", description=f"folder {path}", tables=tables), states, notes


# -- validation and append -------------------------------------------------------------------------

def _empty_raw(table: str) -> RawTable:
    schema = {c: pl.String() for c in TABLES[table].columns} | {LINE_COLUMN: pl.Int64()}
    return RawTable(table, pl.DataFrame(schema=schema), "(none)")


def _check(raw: RawSource, ws: Workspace) -> Validated:
    """Validate new rows like an import; order lines of orders already in the workspace are kept
    (validated again beside those orders, read back from the workspace)."""
    for table in ("orders", "order_items"):
        raw.tables.setdefault(table, _empty_raw(table))
    checked = validate(raw, charge_codes=ws.charge_codes)
    orphan = "order_id not in orders"
    is_orphan = (pl.col("table") == "order_items") & (pl.col("reason") == orphan)
    lost = checked.rejects.filter(is_orphan)
    if lost.is_empty():
        return checked
    items = raw.tables["order_items"]
    rows = items.frame.filter(pl.col(LINE_COLUMN).is_in(lost["line"].implode()))
    ids = to_id_strings(rows["order_id"]).drop_nulls().unique().to_list()
    known = ws.sql("SELECT * FROM orders WHERE order_id IN (SELECT unnest($ids))", {"ids": ids})
    if known.is_empty():
        return checked
    context = RawTable("orders", known.select(pl.all().cast(pl.String), pl.lit(None, dtype=pl.Int64).alias(LINE_COLUMN)),
                       "(workspace)")
    again = validate(RawSource(raw.kind, raw.description,
                               {"orders": context, "order_items": RawTable("order_items", rows, items.origin)}),
                     charge_codes=ws.charge_codes)
    kept = again.tables["order_items"]
    checked.tables["order_items"] = pl.concat([checked.tables["order_items"], kept])
    for table in ("customers", "products"):  # bare rows for what only those lines reference
        key = _KEYS[table]
        checked.tables[table] = pl.concat([checked.tables[table], again.tables[table]]).unique(
            key, keep="first", maintain_order=True)
    rep = checked.report.tables["order_items"]
    rep.rejected[orphan] -= kept.height
    if rep.rejected[orphan] <= 0:
        rep.rejected.pop(orphan)
    still = again.rejects.filter(pl.col("reason") == orphan)["line"]
    checked.rejects = checked.rejects.filter(~is_orphan | pl.col("line").is_in(still.implode()))
    return checked


def _new_rows(ws: Workspace, table: str, frame: pl.DataFrame) -> pl.DataFrame:
    key = _KEYS.get(table)
    if key is None or frame.is_empty():
        return frame
    ids = frame[key].unique().to_list()
    have = ws.sql(f'SELECT {key} FROM "{table}" WHERE {key} IN (SELECT unnest($ids))', {"ids": ids})
    return frame.join(have, on=key, how="anti")


def _append(ws: Workspace, checked: Validated | None, states: dict[str, dict], polled_at: datetime,
            origin_note: str) -> dict[str, pl.DataFrame]:
    """Write new rows, rejects, watermarks and meta in one transaction."""
    frames: dict[str, pl.DataFrame] = {}
    if checked is not None:
        for table in TABLE_NAMES:
            frames[table] = _new_rows(ws, table, checked.tables[table])
        new_orders = frames["orders"]["order_id"]
        frames["order_items"] = frames["order_items"].filter(
            pl.col("order_id").is_in(new_orders.implode())
            | ~pl.col("order_id").is_in(checked.tables["orders"]["order_id"].implode()))
    appended = {t: f.height for t, f in frames.items() if f.height}
    cur = ws.cursor()
    cur.execute("BEGIN TRANSACTION")
    try:
        cur.execute(f"CREATE TABLE IF NOT EXISTS {WATERMARK_TABLE} "
                    "(stream VARCHAR PRIMARY KEY, state VARCHAR, updated_at TIMESTAMP)")
        for table, frame in frames.items():
            if frame.height:
                cur.register("_watch_new", frame.to_arrow())
                cur.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM _watch_new')
                cur.unregister("_watch_new")
        if checked is not None and checked.rejects.height:
            rejects = checked.rejects.with_columns(pl.col("origin") + origin_note).select(list(REJECT_SCHEMA))
            cur.register("_watch_new", rejects.to_arrow())
            cur.execute("INSERT INTO _rejects BY NAME SELECT * FROM _watch_new")
            cur.unregister("_watch_new")
        stamp = polled_at.replace(tzinfo=None)
        cur.executemany(f"INSERT OR REPLACE INTO {WATERMARK_TABLE} VALUES (?, ?, ?)",
                        [(s, json_util.dumps(st, json_options=_JSON), stamp) for s, st in states.items()])
        total = int(ws.meta.get("watch_rows", "0")) + sum(appended.values())
        version = int(ws.meta.get("data_version", "0")) + (1 if appended else 0)
        meta = {"watched_at": polled_at.isoformat(timespec="seconds"), "watch_rows": str(total),
                "data_version": str(version)}
        cur.executemany("INSERT OR REPLACE INTO _meta VALUES (?, ?)", list(meta.items()))
        cur.execute("COMMIT")
    except BaseException as exc:
        cur.execute("ROLLBACK")
        if isinstance(exc, duckdb.Error):
            raise ShopperError(f"Appending to workspace '{ws.name}' failed: {str(exc).splitlines()[0]}",
                               hint="Nothing was written; the next poll tries again.") from exc
        raise
    ws.meta.update(meta)
    return {t: f for t, f in frames.items() if f.height}


# -- entry points -----------------------------------------------------------------------------------

def _read(ws: Workspace, source: str | Path, *, collections: dict[str, str] | None, limit: int,
          progress: ProgressFn, timeout_ms: int | None, init_only: bool = False
          ) -> tuple[RawSource | None, dict[str, dict], list[str]]:
    kind = source_kind(source)
    if kind == "mongodb":
        return _read_mongo(ws, str(source), collections=collections, limit=limit, progress=progress,
                           timeout_ms=timeout_ms, init_only=init_only)
    if kind == "files":
        return _read_folder(ws, Path(str(source)).expanduser(), limit=limit, progress=progress, init_only=init_only)
    raise ShopperError(f"Watch mode follows a MongoDB database or a folder; '{mask_uri(str(source))}' is {kind} data.",
                       hint="A single file or the sample does not grow: import it again after it changes.")


def init_watermarks(ws: Workspace, source: str | Path, *, collections: dict[str, str] | None = None,
                    timeout_ms: int | None = None) -> dict[str, str]:
    """Record where watching starts (now) for streams that have no watermark yet; reads no data.

    Call right after an import when watch mode is on, so nothing arriving before the first poll
    is missed. Returns stream → watermark description.
    """
    _writable(ws)
    _, states, _ = _read(ws, source, collections=collections, limit=1, progress=_no_progress,
                         timeout_ms=timeout_ms, init_only=True)
    stored = watermarks(ws)
    fresh = {s: st for s, st in states.items() if s not in stored}
    if fresh:
        _append(ws, None, fresh, datetime.now(timezone.utc), "")
    return {s: _describe(st) for s, st in {**stored, **fresh}.items()}


def poll(
    ws: Workspace,
    source: str | Path,
    *,
    collections: dict[str, str] | None = None,
    max_documents: int = MAX_DOCUMENTS,
    progress: ProgressFn | None = None,
    timeout_ms: int | None = None,
) -> PollResult:
    """Append what arrived since the last poll (see the module docstring).

    Args:
        ws: The workspace, opened read-write.
        source: The MongoDB URI or folder the workspace was imported from.
        collections: MongoDB collection-name overrides (as for the import).
        max_documents: At most this many new documents (or file rows) per stream and poll;
            the rest come with the next poll.
        progress: ``progress(step, fraction)``; may raise ``Cancelled`` (nothing is written).
        timeout_ms: MongoDB server selection timeout.

    Raises:
        ShopperError: The source cannot be read (server down, file unreadable), a fatal
            validation problem, or a read-only workspace. The workspace is unchanged.
    """
    started = time.perf_counter()
    _writable(ws)
    if max_documents < 1:
        raise ShopperError(f"max_documents must be at least 1, not {max_documents}.")
    report = progress or _no_progress
    polled_at = datetime.now(timezone.utc)
    raw, states, notes = _read(ws, source, collections=collections, limit=max_documents, progress=report,
                               timeout_ms=timeout_ms)
    checked = None
    if raw is not None:
        report("validating new rows", None)
        checked = _check(raw, ws)
    note = f" (poll {polled_at:%Y-%m-%d %H:%M:%S} UTC)"
    added = _append(ws, checked, states, polled_at, note)
    customers = pl.concat([added[t]["customer_id"] for t in ("orders", "events", "reviews") if t in added]
                          or [pl.Series("customer_id", [], dtype=pl.String)])
    tail_cols = ["ts", "event_type", "customer_id", "product_id"]
    tail = (added["events"].sort("ts").tail(_TAIL).select(tail_cols) if "events" in added
            else pl.DataFrame(schema={c: TABLES["events"].schema[c] for c in tail_cols}))
    rejected = {t: r.rows_rejected for t, r in checked.report.tables.items() if r.rows_rejected} if checked else {}
    return PollResult(source=mask_uri(str(source)), appended={t: f.height for t, f in added.items()},
                      rejected=rejected, customers=customers.drop_nulls().unique().sort().to_list(), tail=tail, watermarks={s: _describe(st) for s, st in states.items()},
                      notes=notes, polled_at=polled_at, seconds=time.perf_counter() - started)


def reassign(ws: Workspace, model: SegmentModel, customers: Iterable[str], *,
             observation_end: date | datetime | str | None = None) -> pl.DataFrame:
    """Recompute the features of ``customers`` on the current data and place them in the
    model's segments with :func:`.segmentation.assign` (no retraining).

    ``observation_end`` defaults to the latest day of the data (after the poll), so recency is
    measured to "now". Customers the model's population excludes (non-buyers for an RFM
    model) are left out.

    Returns:
        customer_id, segment_id, probability.
    """
    return reassign_with_features(ws, model, customers, observation_end=observation_end)[0]


def reassign_with_features(ws: Workspace, model: SegmentModel, customers: Iterable[str], *,
                           observation_end: date | datetime | str | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """:func:`reassign`, also returning the recomputed features of the placed customers (for
    :func:`.segmentation.with_members`, which recomputes the segments' statistics)."""
    from .features import RFM_FEATURES, customer_features
    from .segmentation import assign

    ids = pl.Series("customer_id", list(customers), dtype=pl.String)
    buyers_only = model.method == "rfm" or set(model.feature_names) <= set(RFM_FEATURES)
    feats = customer_features(ws, which="both", observation_end=observation_end, include_non_buyers=not buyers_only)
    feats = feats.filter(pl.col("customer_id").is_in(ids.implode()))
    return assign(model, feats), feats


class Watcher:
    """Polls a source on behalf of the app and keeps what the Data screen shows: the last
    error, rows per minute, the watermarks and a tail of arriving events.

    Args:
        ws: The workspace, opened read-write.
        source: The MongoDB URI or folder.
        collections: MongoDB collection-name overrides.
        max_documents: Per stream and poll.
        timeout_ms: MongoDB server selection timeout per poll.
    """

    def __init__(self, ws: Workspace, source: str | Path, *, collections: dict[str, str] | None = None,
                 max_documents: int = MAX_DOCUMENTS, timeout_ms: int | None = None) -> None:
        self.ws = ws
        self.source = source
        self.collections = collections
        self.max_documents = max_documents
        self.timeout_ms = timeout_ms
        self.last: PollResult | None = None
        self.last_error: str | None = None
        self.history: list[tuple[datetime, int]] = []
        self.tail = pl.DataFrame(schema={c: TABLES["events"].schema[c] for c in ("ts", "event_type", "customer_id",
                                                                                 "product_id")})

    def poll(self, progress: ProgressFn | None = None) -> PollResult | None:
        """One poll; a ShopperError is kept in :attr:`last_error` (and None returned) so the
        caller carries on and the next poll resumes from the same watermarks."""
        try:
            result = poll(self.ws, self.source, collections=self.collections, max_documents=self.max_documents,
                          progress=progress, timeout_ms=self.timeout_ms)
        except ShopperError as exc:
            self.last_error = str(exc)
            return None
        self.last, self.last_error = result, None
        self.history = [(t, n) for t, n in self.history if (result.polled_at - t).total_seconds() <= 600]
        self.history.append((result.polled_at, result.rows))
        if result.tail.height:
            self.tail = pl.concat([self.tail, result.tail]).tail(_TAIL)
        return result

    @property
    def rows_per_minute(self) -> float:
        """Rows appended per minute over the last ten minutes of polls."""
        if len(self.history) < 2:
            return 0.0
        span = (self.history[-1][0] - self.history[0][0]).total_seconds() / 60
        return sum(n for _, n in self.history[1:]) / span if span > 0 else 0.0

    def watermarks(self) -> dict[str, str]:
        return {s: _describe(st) for s, st in watermarks(self.ws).items()}


class ChangeFeed:
    """MongoDB change streams as a wake-up for watch mode.

    :meth:`start` runs a daemon thread that opens a change stream on the database, filtered to
    inserts, replacements and updates in the collections watch mode reads (transactions,
    events or sessions, reviews), and calls ``on_change`` from that thread when documents
    arrive: once a burst pauses (the stream waits up to half a second for more), and at most
    every ``min_gap`` seconds while it goes on. A server that refuses change streams (code
    40573: not a replica set) sets :attr:`state` to ``"unsupported"`` and the thread ends; a
    lost connection sets ``"reconnecting"`` and the thread tries again every ``retry``
    seconds. Errors never leave the thread.

    Attributes:
        state: "starting", "listening", "reconnecting", "unsupported" or "stopped".
        detail: Why it is not listening (the URI's password masked), else None.
        changes: Change events seen.
        collections_watched: The collections the stream is filtered to.
    """

    def __init__(self, uri: str, *, on_change: Callable[[], None], collections: dict[str, str] | None = None,
                 min_gap: float = 1.0, retry: float = 5.0, timeout_ms: int | None = None,
                 on_state: Callable[[], None] | None = None) -> None:
        self.uri = uri
        self.on_change = on_change
        self.on_state = on_state  #: called (from the feed's thread) when :attr:`state` changes
        self.collections = collections
        self.min_gap = min_gap
        self.retry = retry
        self.timeout_ms = timeout_ms
        self.state = "starting"
        self.detail: str | None = None
        self.changes = 0
        self.collections_watched: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _set(self, state: str, detail: str | None = None) -> None:
        changed = (state, detail) != (self.state, self.detail)
        self.state, self.detail = state, detail
        if changed and self.on_state is not None:
            self.on_state()

    def start(self) -> ChangeFeed:
        self._thread = threading.Thread(target=self._run, name="shopper-change-feed", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._listen():
                    break  # unsupported: nothing to retry
            except Exception as exc:  # noqa: BLE001 - the feed only speeds polls up; it never breaks the app
                self._set("reconnecting", mask_uri(str(exc).splitlines()[0]))
                self._stop.wait(self.retry)
        if self.state != "unsupported":
            self._set("stopped")

    def _listen(self) -> bool:
        """Listen until stopped or the connection drops; True when change streams are refused."""
        from pymongo.errors import OperationFailure

        from .sources.mongo import _database, _Loader, _resolve

        with _database(self.uri, timeout_ms=self.timeout_ms) as (db, _):
            loader = _Loader(db, _resolve(db, self.uri, self.collections), _no_progress)
            self.collections_watched = sorted({c for c, _ in _mongo_streams(loader).values()})
            pipeline = [{"$match": {"operationType": {"$in": ["insert", "replace", "update"]},
                                    "ns.coll": {"$in": self.collections_watched}}}]
            try:
                stream = db.watch(pipeline, max_await_time_ms=500)
            except OperationFailure as exc:
                if exc.code == 40573 or "replica set" in str(exc):
                    self._set("unsupported", "the server offers no change streams (they need a replica set)")
                    return True
                raise
            with stream:
                self._set("listening")
                pending, last_call = False, 0.0
                while not self._stop.is_set():
                    change = stream.try_next()
                    if change is not None:
                        self.changes += 1
                        pending = True
                    if pending and (change is None or time.monotonic() - last_call >= self.min_gap):
                        pending, last_call = False, time.monotonic()
                        self.on_change()
        return False
