"""Import hygiene: the engine never imports Textual, start-up never imports heavy ML
libraries, and the package resolves both installed and from a source checkout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("sklearn", "hdbscan", "implicit", "transformers", "torch")


def _modules_after(code: str, cwd: Path | None = None) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"],
        capture_output=True, text=True, check=True, cwd=cwd,
    )
    return set(out.stdout.split())


def test_engine_does_not_import_textual() -> None:
    import pkgutil

    import shopper_tui.analytics as analytics

    names = [m.name for m in pkgutil.walk_packages(analytics.__path__, "shopper_tui.analytics.")]
    assert "shopper_tui.analytics.workspace" in names
    code = "\n".join(f"import {n}" for n in names)
    loaded = _modules_after(code)
    assert not any(m == "textual" or m.startswith("textual.") for m in loaded)


def test_engine_sources_never_mention_textual() -> None:
    import shopper_tui.analytics as analytics

    folder = Path(analytics.__file__).parent
    offenders = [p.name for p in folder.rglob("*.py") if "import textual" in p.read_text() or "from textual" in p.read_text()]
    assert offenders == []


@pytest.mark.parametrize("module", ["shopper_tui.cli", "shopper_tui.app"])
def test_startup_does_not_import_heavy_libraries(module: str) -> None:
    loaded = _modules_after(f"import {module}")
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
    assert heavy == []


@pytest.mark.parametrize(("preset", "expected_tail"), [
    (None, "dirty_decay_ms:100,muzzy_decay_ms:0"),  # ours, after Polars' own defaults (later wins)
    ("dirty_decay_ms:2000", "dirty_decay_ms:2000"),  # the user's own setting is kept
])
def test_polars_allocator_settings_are_set_before_polars_loads(preset: str | None, expected_tail: str) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    if preset:
        env["_RJEM_MALLOC_CONF"] = preset
    code = ("import shopper_tui.analytics.workspace, polars, os; from shopper_tui import ALLOCATOR_SETTINGS; "
            "print(os.environ['_RJEM_MALLOC_CONF'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    conf = out.stdout.strip()
    assert conf.endswith(expected_tail), conf
    assert "Invalid conf" not in out.stderr  # jemalloc complains on stderr about a setting it does not know


def test_subpackages_resolve_from_repo_root() -> None:
    # `python -m pytest` from the checkout puts the root first on sys.path; the root
    # shopper_tui/ folder must still find analytics/, screens/ and sample_data/.
    out = subprocess.run(
        [sys.executable, "-c", "import shopper_tui.analytics.workspace, shopper_tui.screens, shopper_tui.sample_data;"
         "from shopper_tui.analytics.sample_data_location import bundled_dir;"
         "print(sorted(p.name for p in bundled_dir().glob('*.parquet')))"],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    assert "orders.parquet" in out.stdout


def test_bundled_sample_is_package_data() -> None:
    from shopper_tui.analytics.sample_data_location import bundled_dir

    names = {p.name for p in bundled_dir().glob("*.parquet")}
    assert {"customers.parquet", "products.parquet", "orders.parquet", "order_items.parquet",
            "events.parquet", "reviews.parquet"} <= names


def test_stylesheet_is_package_data() -> None:
    import shopper_tui

    assert (Path(shopper_tui.__file__).parent / "app.tcss").is_file()
