"""A MongoDB-protocol server for the tests that need one.

``mongo_url`` (session-scoped) yields a URL with no database in it:

* ``MONGODB_URL`` from the environment when set (a real ``mongod``, e.g. in CI);
* otherwise a SecantusDB server (``secantusdb`` from PyPI) started on a free loopback port
  with in-memory storage, stopped when the session ends.

If the server does not answer ``ping`` within :data:`STARTUP_SECONDS` the fixture *fails*
with the server's output: a silently skipped MongoDB test would hide breakage.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

__all__ = ["mongo_url", "mongo_replset_url", "free_port", "start_secantus", "stop", "url_with_database",
           "STARTUP_SECONDS"]

STARTUP_SECONDS = 20.0


def free_port() -> int:
    """A TCP port nothing listens on right now (loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def url_with_database(url: str, database: str) -> str:
    """``mongodb://h:p/?x=1`` + ``shop`` → ``mongodb://h:p/shop?x=1``."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


def _answers_ping(url: str) -> bool:
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    client = MongoClient(url, serverSelectionTimeoutMS=250, connectTimeoutMS=250)
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def start_secantus(*extra: str, timeout: float = STARTUP_SECONDS,
                   standalone: bool = True) -> tuple[subprocess.Popen[bytes], str, Path]:
    """Start ``python -m secantus`` on a free loopback port; wait until it answers ``ping``.
    ``standalone=False`` starts it as a single-node replica set, which offers change streams.

    Returns:
        The process, its URL (no database) and the file holding its output.

    Raises:
        pytest.fail: The server exited or did not answer in time (its output is shown).
    """
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="secantus-", suffix=".log")[1])
    cmd = [sys.executable, "-m", "secantus", "--host", "127.0.0.1", "--port", str(port),
           "--storage-path", ":memory:", *(["--standalone"] if standalone else []), *extra]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"mongodb://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if _answers_ping(url):
            return proc, url, log
        time.sleep(0.1)
    stop(proc)
    output = log.read_text(errors="replace")[-4000:]
    log.unlink(missing_ok=True)
    pytest.fail(
        f"MongoDB test server did not come up ({' '.join(cmd)}; exit code {proc.returncode}):\n{output}",
        pytrace=False,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate the server, killing it if it does not exit within 10 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def mongo_url() -> Iterator[str]:
    """URL of a MongoDB-protocol server for this test session (no database in it)."""
    external = os.environ.get("MONGODB_URL", "").strip()
    if external:
        yield external
        return
    proc, url, log = start_secantus()
    try:
        yield url
    finally:
        stop(proc)
        log.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def mongo_replset_url() -> Iterator[str]:
    """URL of a server with change streams (a replica set): ``MONGODB_URL`` when set (tests
    skip if it turns out to be standalone), else SecantusDB started as a one-node replica set."""
    external = os.environ.get("MONGODB_URL", "").strip()
    if external:
        yield external
        return
    proc, url, log = start_secantus(standalone=False)
    try:
        yield url
    finally:
        stop(proc)
        log.unlink(missing_ok=True)


@pytest.fixture
def mongo_db(mongo_url: str) -> Iterator[tuple[str, object]]:
    """A fresh database (random name) on the test server: its URI and a pymongo handle;
    dropped afterwards."""
    import uuid

    from pymongo import MongoClient

    name = f"t_{uuid.uuid4().hex[:12]}"
    client: MongoClient = MongoClient(mongo_url, serverSelectionTimeoutMS=5000)
    try:
        yield url_with_database(mongo_url, name), client[name]
    finally:
        client.drop_database(name)
        client.close()
