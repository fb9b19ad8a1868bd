"""Command line: `shopper-tui` opens the app; subcommands run headless.

Kept import-light: the app, the engine and heavy libraries are imported inside the command
that needs them, so `shopper-tui --version` and start-up stay fast.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from . import __version__

__all__ = ["main", "build_parser"]


def _common(parser: argparse.ArgumentParser, *, with_source: bool = True, top: bool = False) -> None:
    # Sub-commands repeat these options; SUPPRESS keeps an absent sub-command flag from
    # overwriting one given before the sub-command (`shopper-tui --source X segments`).
    default = None if top else argparse.SUPPRESS
    if with_source:
        parser.add_argument("--source", "-s", default=default,
                            help="'sample' (default), a folder, a retail file or a mongodb:// URI")
        parser.add_argument("--name", default=default, help="workspace name (default: from the source)")
    parser.add_argument("--data-dir", type=Path, default=default, help="where workspaces live (env SHOPPER_TUI_DATA_DIR)")
    parser.add_argument("--cache-dir", type=Path, default=default,
                        help="where model caches live (env SHOPPER_TUI_CACHE_DIR)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shopper-tui",
        description="Understand your shoppers from the terminal. With no command, opens the app.",
    )
    parser.add_argument("--version", action="version", version=f"shopper-tui {__version__}")
    _common(parser, top=True)
    parser.add_argument("--force-import", action="store_true", help="re-import the source even if unchanged")
    parser.add_argument("--show-pii", action="store_true", help="show customer emails and names unmasked")
    parser.add_argument("--theme", help="Textual theme (e.g. textual-dark, textual-light)")
    parser.add_argument("--watch", action="store_true",
                        help="keep polling the source (MongoDB or folder) for new rows and update the app")
    parser.add_argument("--interval", metavar="DURATION",
                        help="time between polls in watch mode, e.g. 30s, 2m (default 30s)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("import", help="import a source into a workspace without opening the UI")
    p.add_argument("import_source", metavar="SOURCE", help="'sample', a folder, a retail file or a mongodb:// URI")
    p.add_argument("--name", dest="import_name", help="workspace name (default: from the source)")
    p.add_argument("--force", action="store_true", help="re-import even if the source is unchanged")
    p.add_argument("--collections", help="MongoDB collection names, e.g. users=customers,transactions=orders")
    _common(p, with_source=False)

    p = sub.add_parser("sample", help="write a generated data set as Parquet")
    p.add_argument("--customers", type=int, default=5000, help="number of customers (default 5000)")
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    p.add_argument("--out", type=Path, required=True, help="output folder")

    p = sub.add_parser("doctor", help="check versions, folders, workspaces, extras and MongoDB")
    p.add_argument("--mongo-uri", help="MongoDB URI to check (env SHOPPER_TUI_MONGODB_URI)")
    _common(p, with_source=False)

    from .commands import register_all

    register_all(sub, _common)
    return parser


def _settings(args: argparse.Namespace, **extra: object):
    from .config import Settings

    return Settings.from_env(
        source=getattr(args, "source", None),
        name=getattr(args, "name", None),
        data_dir=getattr(args, "data_dir", None),
        cache_dir=getattr(args, "cache_dir", None),
        **extra,
    )


def _progress_printer(enabled: bool):
    last = {"step": None}

    def progress(step: str, fraction: float | None = None) -> None:
        if enabled and step != last["step"]:
            last["step"] = step
            print(f"  … {step}", file=sys.stderr, flush=True)

    return progress


def _cmd_run(args: argparse.Namespace) -> int:
    from .app import make_app
    from .config import parse_interval

    settings = _settings(
        args, force_import=args.force_import or None, show_pii=args.show_pii or None, theme=args.theme,
        watch=args.watch or None, watch_interval=parse_interval(args.interval) if args.interval else None,
    )
    if args.interval and not settings.watch:
        from .analytics.errors import ShopperError

        raise ShopperError("--interval only applies in watch mode.", hint="Add --watch.")
    if settings.watch:
        from .analytics.errors import ShopperError
        from .analytics.sources import mask_uri, source_kind

        if source_kind(settings.source) not in ("mongodb", "files"):
            raise ShopperError(f"--watch follows a MongoDB database or a folder, not '{mask_uri(settings.source)}'.",
                               hint="A single file or the sample does not grow: import it again after it changes.")
    make_app(settings).run()
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from .analytics.sources import mask_uri
    from .analytics.workspace import import_source
    from .config import _parse_collections

    settings = _settings(args)
    if args.collections:
        from .analytics.errors import ShopperError
        from .analytics.sources import source_kind

        kind = source_kind(args.import_source)
        if kind != "mongodb":
            raise ShopperError(f"--collections names MongoDB collections; '{mask_uri(args.import_source)}' is "
                               + ("the bundled sample" if kind == "sample" else "a folder of files" if kind == "files"
                                  else "a file") + ".",
                               hint="Files are matched to tables by their names (customers.csv, orders.parquet, …); "
                                    "drop --collections.")
    collections = _parse_collections(args.collections) if args.collections else settings.collections
    print(f"Importing {mask_uri(args.import_source)} …", file=sys.stderr)
    result = import_source(
        args.import_source,
        data_dir=settings.data_dir,
        name=args.import_name,
        force=args.force,
        collections=collections or None,
        charge_codes=settings.charge_codes,
        progress=_progress_printer(sys.stderr.isatty()),
    )
    if result.offline:
        print(f"shopper-tui: {result.offline}", file=sys.stderr)
    verb = "kept as stored in" if result.offline else "unchanged; reused" if result.reused else "imported into"
    print(f"Workspace '{result.name}' {verb} {result.path} in {result.seconds:.1f} s")
    print()
    for line in result.report.lines():
        print(line)
    print()
    print("rows per table: " + ", ".join(f"{t} {n:,}" for t, n in result.row_counts.items()))
    if result.row_counts.get("order_items"):
        from .analytics.purchases import reconcile
        from .analytics.workspace import open_workspace

        with open_workspace(result.path) as ws:
            rec = reconcile(ws)
        print()
        for line in rec.lines():
            print(line)
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    from .sample_data.generator import generate_to

    if args.customers < 1:
        from .analytics.errors import ShopperError

        raise ShopperError("--customers must be at least 1.")
    started = time.perf_counter()
    counts = generate_to(args.out, customers=args.customers, seed=args.seed, progress=_progress_printer(True))
    print(f"Wrote a generated data set to {args.out} in {time.perf_counter() - started:.1f} s")
    if isinstance(counts, dict):
        print(", ".join(f"{k} {v:,}" for k, v in counts.items()))
    return 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import run_doctor

    settings = _settings(args, mongo_uri=args.mongo_uri)
    return run_doctor(settings)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `shopper-tui` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    commands = {None: _cmd_run, "import": _cmd_import, "sample": _cmd_sample, "doctor": _cmd_doctor}
    handler = commands.get(args.command) or args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the one place errors become exit codes
        from .analytics.errors import ShopperError

        if isinstance(exc, ShopperError):
            print(f"shopper-tui: {exc.message}", file=sys.stderr)
            if exc.hint:
                print(exc.hint, file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
