"""Generate ``loyaltydb/api.py`` (sync) from ``loyaltydb/aio.py`` (async): one source for both.

psycopg does the same with its ``tools/async_to_sync.py`` (on the AST); our async module is
small and regular, so a list of textual rules is enough, and every rule must match at least
once, so a rule that no longer applies is noticed. ``--check`` exits 1 when ``api.py`` is not
what the rules make of ``aio.py`` (``make test`` runs it; ``make generate`` writes the file).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "loyaltydb" / "aio.py"
TARGET = ROOT / "loyaltydb" / "api.py"

HEADER = "# Generated from loyaltydb/aio.py by tools/async_to_sync.py: edit aio.py, then run `make generate`.\n"

#: (pattern, replacement), applied in order; each must match at least once.
RULES: list[tuple[str, str]] = [
    (
        r'^"""The asynchronous API, over ``psycopg.AsyncConnection``',
        '"""The synchronous API, over ``psycopg.Connection``',
    ),
    (
        r"This module is the source of ``loyaltydb.api``, its synchronous twin, which\n"
        r"``tools/async_to_sync.py`` generates from it",
        "This module is generated from ``loyaltydb.aio``, its asynchronous twin, by\n``tools/async_to_sync.py``",
    ),
    (r"^import asyncio\n", "import time\n"),
    (r"AsyncIterator, Awaitable, Callable, Iterable,", "Callable, Iterable, Iterator,"),
    (r"from contextlib import asynccontextmanager", "from contextlib import contextmanager"),
    (r"AsyncRowFactory", "RowFactory"),
    (r"Callable\[\[\], Awaitable\[T\]\]", "Callable[[], T]"),
    (r"AsyncIterator\[None\]", "Iterator[None]"),
    (r"@asynccontextmanager", "@contextmanager"),
    (r"await asyncio\.sleep\(", "time.sleep("),
    (r"await (\w+)\.set_autocommit\(([^)]*)\)", r"\1.autocommit = \2"),
    (r"psycopg\.AsyncConnection", "psycopg.Connection"),
    (r"psycopg\.AsyncCursor", "psycopg.Cursor"),
    (r"AsyncConnectable, async_connection", "Connectable, sync_connection"),
    (r"\basync_connection\(", "sync_connection("),
    (r"\bAsyncConnectable\b", "Connectable"),
    (r"async with ", "with "),
    (r"async for ", "for "),
    (r"async def ", "def "),
    (r"await ", ""),
]


def generate(source: str) -> str:
    text = source
    for pattern, replacement in RULES:
        text, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
        if count == 0:
            raise SystemExit(f"async_to_sync: rule {pattern!r} matched nothing in {SOURCE.name}")
    leftovers = re.findall(r".*\b(?:async|await|Async\w*)\b.*", text)
    if leftovers:
        raise SystemExit(f"async_to_sync: async left in the sync module: {leftovers}")
    return _formatted(HEADER + text)


def _formatted(text: str) -> str:
    """``text`` as ``ruff format`` leaves it: shorter sync names can join lines that the async
    ones had to split, and ``make test`` checks both the generation and the formatting."""
    ruff = Path(sys.executable).with_name("ruff")
    completed = subprocess.run(
        [str(ruff), "format", "--stdin-filename", str(TARGET.relative_to(ROOT)), "-"],
        input=text,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return completed.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 when api.py is out of date")
    args = parser.parse_args(argv)
    wanted = generate(SOURCE.read_text(encoding="utf-8"))
    if args.check:
        if TARGET.read_text(encoding="utf-8") != wanted:
            print(f"{TARGET.relative_to(ROOT)} is out of date: run `make generate`", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
