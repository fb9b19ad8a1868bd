"""Write-back to a real MongoDB-protocol server: `export-mongo` run twice leaves the same
documents (only run id and timestamp change), the indexes exist, stale documents go, other
methods' segments stay, and the password never shows in output or in the audit log."""

from __future__ import annotations

import argparse
import json
import uuid
from pathlib import Path
from urllib.parse import quote_plus

import polars as pl
import pytest
from _mongo_server import free_port
from pymongo.database import Database

from shopper_tui.analytics.errors import ShopperError
from shopper_tui.analytics.writeback import parse_collections, write_back
from shopper_tui.cli import _common
from shopper_tui.commands import mongo as mongo_commands
from shopper_tui.sample_data.generator import generate, write

pytestmark = pytest.mark.mongo

STAMPS = ("run_id", "exported_at")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("shop")
    write(generate(customers=120, seed=41, orders_per_customer=3.0, reviews_per_customer=0.2), out)
    return out




def _export(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="shopper-tui")
    sub = parser.add_subparsers(dest="command")
    mongo_commands.register(sub, _common)
    args = parser.parse_args(argv)
    return args.handler(args)


def _contents(db: Database) -> dict[str, list[dict]]:
    return {c: sorted(({k: v for k, v in d.items() if k not in STAMPS} for d in db[c].find()), key=lambda d: str(d["_id"]))
            for c in ("segments", "user_features", "recommendations")}


def test_export_twice_leaves_the_same_documents(
    folder: Path, mongo_db: tuple[str, Database], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri, db = mongo_db
    password = "Wr1te:b@ck/pw"
    user = f"writer_{uuid.uuid4().hex[:6]}"
    try:
        db.command("createUser", user, pwd=password, roles=[{"role": "readWrite", "db": db.name}])
    except Exception as exc:  # a real mongod without the rights to create users
        pytest.skip(f"cannot create a MongoDB user on this server: {exc}")
    secret_uri = uri.replace("mongodb://", f"mongodb://{user}:{quote_plus(password)}@")
    data = tmp_path / "data"
    argv = ["export-mongo", "--uri", secret_uri, "--source", str(folder), "--data-dir", str(data),
            "--cache-dir", str(tmp_path / "cache"), "--method", "kmeans", "--top-n", "5"]

    assert _export(argv) == 0
    first = _contents(db)
    runs = {d["run_id"] for c in first for d in db[c].find()}
    assert _export(argv) == 0
    second = _contents(db)
    for c in first:  # same documents, same counts
        for a, b in zip(first[c], second[c], strict=True):
            assert a == b, (c, {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)})
    assert len(runs) == 1 and {d["run_id"] for c in first for d in db[c].find()} != runs  # new run stamped

    users = db.user_features.find_one()
    assert set(users) >= {"_id", "segment_id", "segment", "segment_probability", "recency_days", "method", *STAMPS}
    assert isinstance(users.get("buy_share"), dict)  # "buy_share:Outdoor" columns nested
    assert all("." not in k for k in users)
    recs = db.recommendations.find_one()
    assert 1 <= len(recs["items"]) <= 5 and [i["rank"] for i in recs["items"]] == sorted(i["rank"] for i in recs["items"])
    assert db.user_features.count_documents({}) == db.recommendations.count_documents({})
    assert db.segments.count_documents({"method": "kmeans"}) == db.segments.count_documents({})
    assert "method_1_segment_id_1" in db.segments.index_information()
    assert "segment_id_1" in db.user_features.index_information()
    assert "items.product_id_1" in db.recommendations.index_information()

    # another method's segments are added beside, not over, these
    assert _export([*argv[:-4], "--method", "rfm", "--collections", "segments"]) == 0
    assert db.segments.count_documents({"method": "kmeans"}) == len(first["segments"])
    assert db.segments.count_documents({"method": "rfm"}) > 0

    out = capsys.readouterr()
    log = (data / "audit.jsonl").read_text()
    for text in (out.out, out.err, log):
        assert password not in text and quote_plus(password) not in text
    entries = [json.loads(line) for line in log.splitlines()]
    assert [e["event"] for e in entries].count("import") == 1  # the workspace import, once
    entries = [e for e in entries if e["event"] != "import"]
    assert [e["event"] for e in entries] == ["write_back"] * 3
    assert entries[0]["rows"]["user_features"] == len(first["user_features"]) and f"{user}:***@" in entries[0]["target"]


def test_stale_documents_are_pruned(mongo_db: tuple[str, Database]) -> None:
    uri, db = mongo_db
    features = pl.DataFrame({"customer_id": [f"C{i}" for i in range(10)], "spend": [float(i) for i in range(10)],
                             "view_share:Home & Garden": [0.5] * 10, "segment_id": [i % 2 for i in range(10)],
                             "probability": [1.0] * 10})
    first = write_back(uri, user_features=features, method="kmeans")
    assert first.written == {"user_features": 10} and first.removed == {"user_features": 0}
    kept = write_back(uri, user_features=features.head(8), method="kmeans", prune=False)
    assert kept.removed == {} and db.user_features.count_documents({}) == 10
    pruned = write_back(uri, user_features=features.head(8), method="kmeans")
    assert pruned.removed == {"user_features": 2} and db.user_features.count_documents({}) == 8
    doc = db.user_features.find_one({"_id": "C3"})
    assert doc["view_share"] == {"Home & Garden": 0.5} and doc["segment_probability"] == 1.0


def test_errors_are_plain(mongo_db: tuple[str, Database]) -> None:
    uri, _ = mongo_db
    with pytest.raises(ShopperError, match="Nothing to write back"):
        write_back(uri)
    with pytest.raises(ShopperError, match="needs the segmentation method"):
        write_back(uri, segments=pl.DataFrame({"segment_id": [0], "name": ["x"]}))
    with pytest.raises(ShopperError, match="not one of segments, user_features, recommendations"):
        parse_collections("segments,orders")
    down = f"mongodb://u:Hidden-pw@127.0.0.1:{free_port()}/shop"
    with pytest.raises(ShopperError, match="not reachable") as caught:
        write_back(down, user_features=pl.DataFrame({"customer_id": ["C1"], "segment_id": [0]}), timeout_ms=300)
    assert "Hidden-pw" not in str(caught.value)


def test_uri_from_environment_or_settings_file(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from shopper_tui.config import Settings

    down = f"mongodb://u:Hidden-pw@127.0.0.1:{free_port()}/shop"
    monkeypatch.setenv("SHOPPER_TUI_MONGO_TIMEOUT_MS", "300")
    argv = ["export-mongo", "--source", str(folder), "--collections", "segments", "--method", "rfm"]
    with pytest.raises(ShopperError, match="needs a MongoDB URI"):
        _export(argv)
    for name in ("SHOPPER_TUI_MONGODB_URI", "SHOPPER_TUI_MONGO_URI"):  # the documented name, then the alias
        monkeypatch.setenv(name, down)
        with pytest.raises(ShopperError, match="not reachable") as caught:
            _export(argv)
        assert "Hidden-pw" not in str(caught.value) and "u:***@" in str(caught.value)
        monkeypatch.delenv(name)
    settings_file = tmp_path / "config.toml"
    settings_file.write_text(f'mongodb_uri = "{down}"\ntheme = "textual-light"\n[collections]\nusers = "clients"\n')
    monkeypatch.setenv("SHOPPER_TUI_CONFIG_FILE", str(settings_file))
    settings = Settings.from_env()
    assert (settings.mongo_uri, settings.theme, settings.collections) == (down, "textual-light", {"users": "clients"})
    monkeypatch.setenv("SHOPPER_TUI_THEME", "textual-dark")  # the environment wins over the file
    assert Settings.from_env().theme == "textual-dark"
    settings_file.write_text('mongo_url = "x"\n')
    with pytest.raises(ShopperError, match="unknown key 'mongo_url'"):
        Settings.from_env()
