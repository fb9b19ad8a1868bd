"""Audit log: one JSON object per line in ``<data dir>/audit.jsonl``.

Every import, export, write-back and use of ``--show-pii`` is appended as::

    {"ts": "2026-07-01T09:30:12+00:00", "who": "anna", "event": "import",
     "source": "mongodb://anna:***@db.shop/shop", "workspace": "shop", "rows": 48211, ...}

*who* is the operating-system user, *ts* the UTC time; the rest is what the caller passes:
what was done and how many rows, **never values**. Callers pass names and counts (tables,
columns, row counts, masked sources), not data. As a safety net every text field is scrubbed
before it is written: passwords in URIs (any scheme) are masked, the MongoDB password from
``SHOPPER_TUI_MONGO_PASSWORD`` is removed wherever it appears, fields whose name suggests a
secret (password, token, secret, api key, credentials) are replaced by ``"***"``, and e-mail
addresses are replaced by ``"<email>"``.

Lines are written with one ``write`` on a file opened for appending, so concurrent writers
(the app and a headless command) do not interleave within a line. When the log passes
:data:`MAX_BYTES` it is renamed to ``audit.1.jsonl`` (replacing the previous one) and a new
one is started.
"""

from __future__ import annotations

import getpass
import json
import os
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote, quote_plus

from .errors import ShopperError
from .sources import mask_uri

__all__ = ["EVENTS", "AUDIT_FILE", "MAX_BYTES", "audit_path", "record", "entries"]

#: The events the app records (others are accepted, these are the ones to use).
EVENTS = ("import", "export", "write_back", "show_pii", "watch")
AUDIT_FILE = "audit.jsonl"
MAX_BYTES = 10_000_000
_ENV_DATA_DIR = "SHOPPER_TUI_DATA_DIR"
_ENV_PASSWORD = "SHOPPER_TUI_MONGO_PASSWORD"

# the password runs to the last "@" before the host (unencoded "@" in passwords happen)
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)([^:/@\s]+):([^/\s]*)@")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_SECRET_KEY = re.compile(r"pass(word)?|pwd|secret|token|api_?key|credential", re.IGNORECASE)


def audit_path(data_dir: Path | None = None) -> Path:
    """The audit log file: ``data_dir`` (default ``SHOPPER_TUI_DATA_DIR``, else the platform's
    user data folder for shopper-tui, as in ``shopper_tui.config``) / ``audit.jsonl``."""
    if data_dir is None:
        env = os.environ.get(_ENV_DATA_DIR)
        if env:
            data_dir = Path(env).expanduser()
        else:
            from platformdirs import user_data_dir

            data_dir = Path(user_data_dir("shopper-tui", appauthor=False))
    return Path(data_dir) / AUDIT_FILE


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (containers without a passwd entry)
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def _scrub_text(text: str) -> str:
    text = mask_uri(_URL_PASSWORD.sub(r"\1\2:***@", text))
    secret = os.environ.get(_ENV_PASSWORD)
    if secret:
        for form in sorted({secret, quote_plus(secret), quote(secret, safe="")}, key=len, reverse=True):
            text = text.replace(form, "***")
    return _EMAIL.sub("<email>", text)


def _scrub(value: object) -> object:
    """A JSON-ready copy of ``value`` with secrets and e-mail addresses removed."""
    if isinstance(value, str):
        return _scrub_text(value)
    if isinstance(value, Mapping):
        return {str(k): ("***" if _SECRET_KEY.search(str(k)) else _scrub(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_scrub(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return _scrub_text(str(value))


def record(event: str, *, data_dir: Path | None = None, **fields: object) -> dict[str, object]:
    """Append one entry to the audit log and return it (as written).

    Args:
        event: What happened: one of :data:`EVENTS`.
        data_dir: The data folder (``Settings.data_dir``); default as :func:`audit_path`.
        **fields: What and how much — e.g. ``source=`` (masked again here), ``workspace=``,
            ``rows=`` (int or {table: int}), ``collections=``, ``columns=`` (names only).
            Never pass data values: only names and counts belong in the log.

    Raises:
        ShopperError: The log cannot be written (the data folder is not writable).
    """
    if not event or not isinstance(event, str):
        raise ShopperError("An audit entry needs an event name, e.g. 'import'.")
    entry: dict[str, object] = {
        "ts": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "who": _who(),
        "event": event,
        "pid": os.getpid(),
    }
    clean = _scrub(fields)
    assert isinstance(clean, dict)
    entry.update({k: v for k, v in clean.items() if k not in entry})
    line = json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n"
    path = audit_path(data_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_file() and path.stat().st_size > MAX_BYTES:
            os.replace(path, path.with_name("audit.1.jsonl"))
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)
    except OSError as exc:
        raise ShopperError(f"The audit log '{path}' cannot be written: {exc.strerror or exc}.",
                           hint="Check that the data folder is writable (`shopper-tui doctor`).") from None
    return entry


def entries(data_dir: Path | None = None, *, limit: int | None = None) -> list[dict[str, object]]:
    """The log's entries, oldest first (the last ``limit`` when given); unreadable lines are skipped."""
    path = audit_path(data_dir)
    if not path.is_file():
        return []
    out: list[dict[str, object]] = []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out[-limit:] if limit else out
