"""``loyaltydb import-legacy``: the replaced system's database into loyaltydb (docs/legacy.md).
The report goes to stdout (``--json`` for scripts); progress, on a terminal only, to stderr."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import TextIO

from ._cli_args import dsn, print_json
from ._dsn import configured_conninfo
from .legacy import Progress, import_legacy

Command = Callable[..., argparse.ArgumentParser]


def add_command(command: Command, common: argparse.ArgumentParser) -> None:
    """Add ``import-legacy`` through cli's ``command`` helper (description and example)."""
    legacy = command(
        "import-legacy",
        "import the replaced system's database (merging its duplicates, keeping every card number)",
        "loyaltydb --dsn postgresql://admin@db/loyalty import-legacy --from postgresql://reader@old-db/app --dry-run",
        parents=[common],
    )
    legacy.add_argument("--from", dest="source", type=dsn, metavar="DSN", required=True, help="the legacy database")
    legacy.add_argument("--schema", default="public", help="the schema of its tables (default public)")
    legacy.add_argument("--dry-run", action="store_true", help="do everything, then roll back: the same report")
    legacy.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    """Import, then print the report; exit 0 (a report with skipped rows is still a success)."""
    progress = terminal_progress(sys.stderr)
    try:
        report = import_legacy(
            args.source, configured_conninfo(args.dsn), schema=args.schema, dry_run=args.dry_run, progress=progress
        )
    finally:
        if progress is not None:
            sys.stderr.write("\r\x1b[K")  # the progress line gives way to the report (or the error)
    if args.json:
        print_json(report.as_json())
    else:
        print("\n".join(report.lines()))
    return 0


def terminal_progress(stream: TextIO, every: float = 0.2) -> Progress | None:
    """A one-line progress display on ``stream`` when it is a terminal (at most one redraw each
    ``every`` seconds); None, so nothing at all, when it is not."""
    if not stream.isatty():
        return None
    shown = [0.0]

    def show(line: str) -> None:
        now = time.monotonic()
        if now - shown[0] >= every or not line[-1:].isdigit():
            shown[0] = now
            stream.write(f"\r\x1b[Kloyaltydb: {line}")
            stream.flush()

    return show
