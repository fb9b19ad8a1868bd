"""Audit log: who / when / what / how many, appended as JSON Lines in the data folder, and never
a password or a PII value — tested by searching the whole file for them."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from urllib.parse import quote_plus

import pytest

from shopper_tui.analytics import audit
from shopper_tui.analytics.errors import ShopperError


def test_entries_say_who_when_what_and_how_many(data_dir: Path) -> None:
    audit.record("import", data_dir=data_dir, source="sample", workspace="sample", rows={"orders": 40_211})
    audit.record("show_pii", data_dir=data_dir, screen="Segments", columns=["email", "name"], rows=25)
    lines = (data_dir / "audit.jsonl").read_text().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["event"] == "import" and first["rows"] == {"orders": 40_211} and first["who"] == getpass.getuser()
    assert first["ts"].endswith("+00:00") and second["columns"] == ["email", "name"]
    assert [e["event"] for e in audit.entries(data_dir)] == ["import", "show_pii"]
    assert audit.entries(data_dir, limit=1)[0]["event"] == "show_pii"


def test_passwords_and_pii_never_land_in_the_log(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    password = "S3cr3t:p@ss/wörd"
    env_password = "from-the-Env-42"
    monkeypatch.setenv("SHOPPER_TUI_MONGO_PASSWORD", env_password)
    uri = f"mongodb://analyst:{quote_plus(password)}@db.shop:27017/shop"
    raw_uri = f"mongodb://analyst:{password}@db.shop:27017/shop"  # unencoded, as people paste them
    audit.record(
        "import", data_dir=data_dir, source=uri, error=f"could not reach {raw_uri}",
        password=password, options={"apiKey": "k-123", "tls": True}, hosts=[f"https://bob:{env_password}@proxy"],
        note=f"exported for anna.smith@example.com with {env_password}", rows=10,
    )
    text = (data_dir / "audit.jsonl").read_text()
    for secret in (password, quote_plus(password), "p@ss", env_password, "k-123", "anna.smith@example.com"):
        assert secret not in text, secret
    entry = json.loads(text)
    assert entry["source"] == "mongodb://analyst:***@db.shop:27017/shop"
    assert entry["password"] == "***" and entry["options"] == {"apiKey": "***", "tls": True}
    assert entry["rows"] == 10 and "<email>" in entry["note"]


def test_default_location_and_unwritable_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPPER_TUI_DATA_DIR", str(tmp_path / "elsewhere"))
    assert audit.audit_path() == tmp_path / "elsewhere" / "audit.jsonl"
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ShopperError, match="audit log .* cannot be written"):
        audit.record("export", data_dir=blocker, rows=1)
