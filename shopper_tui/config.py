"""Settings and locations: one typed object, overridable by CLI flags and environment.

Precedence: CLI flag > ``SHOPPER_TUI_*`` environment variable > settings file > default.
Folders come from platformdirs (like Posting's ``locations.py``), so every path the app
writes is decided here.

The settings file is TOML, ``<config dir>/config.toml`` (or the file named by
``SHOPPER_TUI_CONFIG_FILE``), with the same keys as :class:`Settings`::

    source = "mongodb://analyst@db.shop:27017/shop"
    mongo_uri = "mongodb://analyst@db.shop:27017/shop"   # or mongodb_uri
    theme = "textual-light"
    sentiment_model = "auto"          # auto | vader | learned | transformer
    hf_model_dir = "~/models/my-sentiment-classifier"
    [collections]
    users = "clients"
    [aspects]                         # extra review aspects: name = keywords
    colour = ["colour", "color", "shade"]

The MongoDB URI is ``SHOPPER_TUI_MONGODB_URI`` (``SHOPPER_TUI_MONGO_URI`` is still read as an
alias). Keep passwords out of the file where you can (``SHOPPER_TUI_MONGO_PASSWORD``); a file
holding one should be readable by you alone.

Review sentiment: ``sentiment_model`` (``SHOPPER_TUI_SENTIMENT_MODEL``) is the model the
Reviews screen and the review commands start with; ``hf_model_dir``
(``SHOPPER_TUI_HF_MODEL_DIR``) a local Hugging Face sequence-classification folder used by
the ``transformer`` model. For compatibility, a ``SHOPPER_TUI_SENTIMENT_MODEL`` that is not a
model name is read as that folder. ``aspects`` (``[aspects]`` in the file, or
``SHOPPER_TUI_ASPECTS="colour=colour,color;fabric=cotton,linen"``) adds review aspects.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from platformdirs import user_cache_dir, user_config_dir, user_data_dir

__all__ = ["Settings", "APP_NAME", "parse_interval", "save_funnel", "read_saved_funnels", "default_data_dir", "default_cache_dir", "default_config_dir",
           "default_config_file"]

APP_NAME = "shopper-tui"
_ENV_PREFIX = "SHOPPER_TUI_"
_ENV_CONFIG_FILE = "SHOPPER_TUI_CONFIG_FILE"
#: Field → extra names accepted for it (environment variables after the prefix, file keys).
_ALIASES = {"mongo_uri": ("MONGODB_URI", "MONGO_URI")}
#: Review sentiment models (see ``analytics.sentiment``).
SENTIMENT_MODELS = ("auto", "vader", "learned", "transformer")


def default_data_dir() -> Path:
    return Path(user_data_dir(APP_NAME, appauthor=False))


def default_cache_dir() -> Path:
    return Path(user_cache_dir(APP_NAME, appauthor=False))


def default_config_dir() -> Path:
    return Path(user_config_dir(APP_NAME, appauthor=False))


def default_config_file() -> Path:
    return default_config_dir() / "config.toml"


@dataclass(frozen=True)
class Settings:
    """Everything the app and CLI need to know before opening data.

    Attributes:
        source: "sample", a folder, a retail file, or a MongoDB URI.
        name: Workspace name (default: derived from the source).
        data_dir: Where workspaces live (``SHOPPER_TUI_DATA_DIR``).
        cache_dir: Where trained models and scores are cached (``SHOPPER_TUI_CACHE_DIR``).
        mongo_uri: Configured MongoDB URI for `doctor`, `export-mongo` and watch mode
            (``SHOPPER_TUI_MONGODB_URI``; ``SHOPPER_TUI_MONGO_URI`` is an alias).
        collections: MongoDB collection-name overrides, role → name.
        theme: Textual theme name (``SHOPPER_TUI_THEME``).
        show_pii: Show emails and names unmasked (``SHOPPER_TUI_SHOW_PII``).
        force_import: Re-import even if the workspace is current.
        funnels: Saved funnels, name → steps (the settings file's ``[funnels]`` table, e.g.
            ``checkout = ["checkout", "purchase"]``; ``SHOPPER_TUI_FUNNELS="checkout=checkout,purchase"``).
        sentiment_model: Review sentiment model: auto, vader, learned or transformer
            (``SHOPPER_TUI_SENTIMENT_MODEL``).
        hf_model_dir: Local Hugging Face sentiment-classification folder for the
            transformer model (``SHOPPER_TUI_HF_MODEL_DIR``).
        aspects: Extra review aspects, name → keywords (``[aspects]`` in the settings file).
        watch: Watch mode: poll the source (MongoDB or folder) for new rows (``--watch``).
        watch_interval: Seconds between polls in watch mode (``--interval 30s``).
        charge_codes: Product / stock codes that are charges (postage, fees, discounts) on top
            of the built-in list (``charge_codes = ["SHIP", "GIFTWRAP"]``;
            ``SHOPPER_TUI_CHARGE_CODES="SHIP,GIFTWRAP"``). Charges count in revenue, never as items.
        funnels_file: Where funnels saved from the Funnels screen go: ``funnels.toml`` beside
            the settings file (read after it; a saved funnel wins over one of the same name).
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
    funnels: dict[str, list[str]] = field(default_factory=dict)
    funnels_file: Path | None = None
    sentiment_model: str = "auto"
    hf_model_dir: Path | None = None
    aspects: dict[str, list[str]] = field(default_factory=dict)
    watch: bool = False
    watch_interval: float = 30.0
    charge_codes: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Defaults, then the settings file, then ``SHOPPER_TUI_*`` variables, then non-None
        ``overrides``.

        The settings file is ``SHOPPER_TUI_CONFIG_FILE`` when set, else — only when reading
        the real environment (``environ`` None) — ``default_config_file()`` if it exists.

        Raises:
            ShopperError: The settings file is not valid TOML or has an unknown key.
        """
        env = os.environ if environ is None else environ
        named = env.get(_ENV_CONFIG_FILE)
        path = Path(named).expanduser() if named else (default_config_file() if environ is None else None)
        values: dict[str, object] = _read_file(path) if path is not None and (named or path.is_file()) else {}
        for f in fields(cls):
            names = [f.name.upper(), *_ALIASES.get(f.name, ())]
            raw = next((env[_ENV_PREFIX + n] for n in names if env.get(_ENV_PREFIX + n)), None)
            if raw is None or f.name == "collections":
                continue
            if f.name == "sentiment_model" and raw.strip().lower() not in SENTIMENT_MODELS:
                values["hf_model_dir"] = Path(raw).expanduser()  # this variable used to name the folder
                continue
            values[f.name] = _coerce(f.name, raw)
        coll = env.get(_ENV_PREFIX + "COLLECTIONS")
        if coll:
            values["collections"] = _parse_collections(coll)
        if path is not None:
            values["funnels_file"] = path.parent / FUNNELS_FILE
        values.update({k: v for k, v in overrides.items() if v is not None})
        saved_file = values.get("funnels_file")
        if saved_file is not None:
            saved = read_saved_funnels(Path(saved_file))  # type: ignore[arg-type]
            if saved:
                values["funnels"] = {**dict(values.get("funnels") or {}), **saved}  # type: ignore[arg-type]
        for key in ("data_dir", "cache_dir", "hf_model_dir", "funnels_file"):
            if values.get(key) is not None:
                values[key] = Path(values[key]).expanduser()  # type: ignore[arg-type]
        return cls(**values)  # type: ignore[arg-type]

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def _coerce(name: str, raw: object) -> object:
    if name in ("data_dir", "cache_dir", "hf_model_dir"):
        return Path(str(raw)).expanduser()
    if name == "sentiment_model":
        from .analytics.errors import ShopperError

        model = str(raw).strip().lower()
        if model not in SENTIMENT_MODELS:
            raise ShopperError(f"Setting sentiment_model = '{raw}' is not a model.",
                               hint=f"Use one of {', '.join(SENTIMENT_MODELS)}; name a local Hugging Face "
                                    "folder with hf_model_dir.")
        return model
    if name == "aspects":
        return _parse_aspects(raw)
    if name == "watch_interval":
        return parse_interval(raw)
    if name in ("show_pii", "force_import", "watch"):
        return raw if isinstance(raw, bool) else str(raw).strip().lower() in ("1", "true", "yes", "on")
    if name == "funnels":
        return _parse_funnels(raw)
    if name == "charge_codes":
        listed = raw if isinstance(raw, list) else str(raw).split(",")
        return tuple(dict.fromkeys(str(c).strip().upper() for c in listed if str(c).strip()))
    if name == "collections":
        return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else _parse_collections(str(raw))
    return str(raw)


def _read_file(path: Path) -> dict[str, object]:
    """Settings from a TOML file (keys as :class:`Settings` fields, or their aliases)."""
    from .analytics.errors import ShopperError

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ShopperError(f"Settings file not found: '{path}' ({_ENV_CONFIG_FILE}).") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ShopperError(f"Settings file '{path}' cannot be read: {exc}") from None
    known = {f.name for f in fields(Settings)}
    aliases = {a.lower(): name for name, names in _ALIASES.items() for a in names}
    out: dict[str, object] = {}
    for key, raw in data.items():
        name = aliases.get(key.lower(), key.lower())
        if name not in known:
            raise ShopperError(f"Settings file '{path}': unknown key '{key}'.",
                               hint=f"Known keys: {', '.join(sorted(known))}.")
        out[name] = _coerce(name, raw)
    return out


def _parse_aspects(raw: object) -> dict[str, list[str]]:
    """``{"colour": ["colour", "color"]}`` (TOML table; a value may be one comma-separated
    string) or ``"colour=colour,color;fabric=cotton"`` → name → keywords."""
    from .analytics.errors import ShopperError

    if isinstance(raw, dict):
        items = list(raw.items())
    else:
        items = [part.split("=", 1) if "=" in part else (part, "") for part in str(raw).split(";") if part.strip()]
    out: dict[str, list[str]] = {}
    for name, words in items:
        keywords = ([str(w).strip() for w in words] if isinstance(words, list)
                    else [w.strip() for w in str(words).split(",")])
        keywords = [w for w in keywords if w]
        if not str(name).strip() or not keywords:
            raise ShopperError(f"Aspect setting '{name}' has no keywords.",
                               hint='Write it as colour = ["colour", "color"] under [aspects].')
        out.setdefault(str(name).strip().lower(), []).extend(keywords)
    return out


def _parse_funnels(raw: object) -> dict[str, list[str]]:
    """A TOML table ``{name: [steps]}`` or ``"name=view,purchase;other=checkout,purchase"``."""
    from .analytics.errors import ShopperError

    if isinstance(raw, dict):
        items = list(raw.items())
    else:
        items = [tuple(part.split("=", 1)) for part in str(raw).split(";") if "=" in part]
    out: dict[str, list[str]] = {}
    for name, steps in items:
        listed = steps if isinstance(steps, list) else str(steps).split(",")
        clean = [str(s).strip() for s in listed if str(s).strip()]
        if len(clean) < 2:
            raise ShopperError(f"Saved funnel '{name}' needs at least two steps, e.g. [\"view\", \"purchase\"].")
        out[str(name).strip()] = clean
    return out


FUNNELS_FILE = "funnels.toml"


def read_saved_funnels(path: Path) -> dict[str, list[str]]:
    """The funnels saved from the Funnels screen (``{}`` when the file does not exist)."""
    from .analytics.errors import ShopperError

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ShopperError(f"Saved funnels file '{path}' cannot be read: {exc}",
                           hint="Fix or delete the file; it holds only funnels saved from the Funnels screen.") from None
    return _parse_funnels(data.get("funnels", {}))


def save_funnel(settings: Settings, name: str, steps: list[str]) -> Settings:
    """Add (or replace) a saved funnel in ``settings.funnels_file``; the file is written whole
    to a temporary file and swapped in, so a crash never leaves half of it.

    Returns:
        The settings with the funnel in ``funnels``.

    Raises:
        ShopperError: No settings folder is known, the name or steps are unusable, or the
            file cannot be written.
    """
    import json

    from .analytics.errors import ShopperError

    name = name.strip()
    if not name:
        raise ShopperError("A saved funnel needs a name.")
    clean = _parse_funnels({name: list(steps)})[name]
    path = settings.funnels_file
    if path is None:
        raise ShopperError("No settings folder to save funnels in.",
                           hint="Set SHOPPER_TUI_CONFIG_FILE, or run without a custom environment.")
    saved = {**read_saved_funnels(path), name: clean}
    lines = ["# Funnels saved from shopper-tui's Funnels screen (ctrl+s). Safe to edit.", "[funnels]"]
    # TOML basic strings and JSON strings escape alike for the text we write
    lines += [f"{json.dumps(n, ensure_ascii=False)} = [{', '.join(json.dumps(s, ensure_ascii=False) for s in st)}]"
              for n, st in saved.items()]
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ShopperError(f"Cannot save the funnel to '{path}': {exc.strerror or exc}") from None
    return settings.with_(funnels={**settings.funnels, name: clean})


def _parse_collections(text: str) -> dict[str, str]:
    """``"users=customers,transactions=orders"`` → ``{"users": "customers", ...}``."""
    out: dict[str, str] = {}
    for part in text.split(","):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def parse_interval(raw: object) -> float:
    """``"30s"``, ``"2m"``, ``"1h"``, ``"0.5"`` or a number → seconds (at least 0.1).

    Raises:
        ShopperError: Not a duration.
    """
    from .analytics.errors import ShopperError

    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        seconds = float(raw)
    else:
        text = str(raw).strip().lower()
        scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
        unit = next((u for u in ("ms", "min", "s", "m", "h") if text.endswith(u)), "")
        try:
            seconds = float(text[: len(text) - len(unit)].strip()) * scale.get(unit, 1.0)
        except ValueError:
            raise ShopperError(f"'{raw}' is not an interval.", hint="Write it like 30s, 2m, 1h or 0.5.") from None
    if not seconds >= 0.1:
        raise ShopperError(f"The watch interval must be at least 0.1 s, not '{raw}'.")
    return seconds
