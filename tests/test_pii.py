"""Masking of personal data: the rule itself, previews, and frames (see analytics/pii.py)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from shopper_tui.analytics.pii import mask_email, mask_frame, mask_name
from shopper_tui.analytics.tables import table_preview
from shopper_tui.analytics.workspace import import_source, open_workspace


@pytest.mark.parametrize(("raw", "masked"), [
    ("john.doe@example.com", "j***@e***.com"),
    ("Quinn.Okafor1@Example.co.uk", "Q***@E***.uk"),
    ("a@b", "a***@b***"),
    ("not an address", "***"),
    (None, None),
])
def test_email_masking(raw: str | None, masked: str | None) -> None:
    assert mask_email(raw) == masked


@pytest.mark.parametrize(("raw", "masked"), [
    ("Quinn Okafor", "Q. O."),
    ("  anna   maria weber ", "A. M. W."),
    ("Cher", "C."),
    ("", "***"),
    (None, None),
])
def test_name_masking(raw: str | None, masked: str | None) -> None:
    assert mask_name(raw) == masked


def test_mask_frame_masks_only_personal_columns_unless_show_pii() -> None:
    frame = pl.DataFrame({"customer_id": ["C1", "C2"], "email": ["ann.lee@shop.com", None], "name": ["Ann Lee", "Bo"]})
    masked = mask_frame(frame)
    assert masked.to_dict(as_series=False) == {
        "customer_id": ["C1", "C2"], "email": ["a***@s***.com", None], "name": ["A. L.", "B."],
    }
    assert mask_frame(frame, show_pii=True).equals(frame)
    assert mask_frame(frame.drop("email", "name")).equals(frame.drop("email", "name"))


def test_customers_preview_is_masked_by_default(tmp_path: Path) -> None:
    with open_workspace(import_source("sample", data_dir=tmp_path).path) as ws:
        raw = ws.sql("SELECT customer_id, email, name FROM customers ORDER BY customer_id LIMIT 50")
        shown = table_preview(ws, "customers", limit=50).sort("customer_id")
        unmasked = table_preview(ws, "customers", limit=50, show_pii=True).sort("customer_id")
    assert shown["customer_id"].to_list() == raw["customer_id"].to_list()
    emails, names = shown["email"].to_list(), shown["name"].to_list()
    assert not set(emails) & set(raw["email"].to_list())
    assert all(e is None or (e.endswith(".com") and "***@" in e) for e in emails)
    assert names == [f"{n.split()[0][0]}. {n.split()[-1][0]}." if n else n for n in raw["name"].to_list()]
    assert unmasked.select("email", "name").equals(raw.select("email", "name"))
