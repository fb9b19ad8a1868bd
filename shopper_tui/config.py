"""Settings and locations: one typed object, overridable by CLI flags and environment.

Precedence: CLI flag > ``SHOPPER_TUI_*`` environment variable > default. Folders come from
platformdirs (like Posting's ``locations.py``), so every path the app writes is decided here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from platformdirs import user_cache_dir, user_config_dir, user_data_dir

__all__ = ["Settings", "APP_NAME", "default_data_dir", "default_cache_dir", "default_config_dir"]

APP_NAME = "shopper-tui"
_ENV_PREFIX = "SHOPPER_TUI_"


def default_data_dir() -> Path:
    return Path(user_data_dir(APP_NAME, appauthor=False))


def default_cache_dir() -> Path:
    return Path(user_cache_dir(APP_NAME, appauthor=False))


def default_config_dir() -> Path:
    return Path(user_config_dir(APP_NAME, appauthor=False))


@dataclass(frozen=True)
class Settings:
    """Everything the app and CLI need to know before opening data.

    Attributes:
        source: "sample", a folder, a retail file, or a MongoDB URI.
        name: Workspace name (default: derived from the source).
        data_dir: Where workspaces live (``SHOPPER_TUI_DATA_DIR``).
        cache_dir: Where trained models and scores are cached (``SHOPPER_TUI_CACHE_DIR``).
        mongo_uri: Configured MongoDB URI for `doctor` (``SHOPPER_TUI_MONGO_URI``).
        collections: MongoDB collection-name overrides, role → name.
        theme: Textual theme name (``SHOPPER_TUI_THEME``).
        show_pii: Show emails and names unmasked (``SHOPPER_TUI_SHOW_PII``).
        force_import: Re-import even if the workspace is current.
    """

    source: str = "sample"
    name: str | None = None
    data_dir: Path = field(default_factory=default_data_dir)
    cache_dir: Path = field(default_factory=default_cache_dir)
    mongo_uri: str | None = None
    collections: dict[str, str] = field(default_factory=dict)
    theme: str = "textual-dark"
    show_pii: bool = False
    force_import: bool = False

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Defaults, then ``SHOPPER_TUI_*`` variables, then non-None ``overrides``."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(_ENV_PREFIX + f.name.upper())
            if raw is None or f.name == "collections":
                continue
            if f.name in ("data_dir", "cache_dir"):
                values[f.name] = Path(raw).expanduser()
            elif f.name in ("show_pii", "force_import"):
                values[f.name] = raw.strip().lower() in ("1", "true", "yes", "on")
            else:
                values[f.name] = raw
        coll = env.get(_ENV_PREFIX + "COLLECTIONS")
        if coll:
            values["collections"] = _parse_collections(coll)
        values.update({k: v for k, v in overrides.items() if v is not None})
        for key in ("data_dir", "cache_dir"):
            if key in values:
                values[key] = Path(values[key]).expanduser()  # type: ignore[arg-type]
        return cls(**values)  # type: ignore[arg-type]

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def _parse_collections(text: str) -> dict[str, str]:
    """``"users=customers,transactions=orders"`` → ``{"users": "customers", ...}``."""
    out: dict[str, str] = {}
    for part in text.split(","):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip()
    return out
