"""The current schema as one readable file, ``sql/current/schema.sql``: what the migrations
leave behind, dumped by pg_dump (tables, indexes, every function's current definition, owners
and grants). ``make schema`` writes it; ``tests/test_migrations.py`` keeps it equal to the
migrations, as procrastinate's schema.sql and migration test do.

``PYTHONPATH=tools python -m schema_dump --write`` (= ``make schema``) migrates a throwaway
database and writes the file; ``--check`` exits 1 when the file is out of date.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import psycopg

from loyaltydb.migrations import migrate
from loyaltydb.testing import TempServer

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "sql" / "current" / "schema.sql"
HEADER = """\
-- The current loyalty schema: every table, index, type and function as migrations 0001 to the
-- newest leave them, with owners and grants. Generated (`make schema`; a test keeps it equal to
-- the migrations): read functions with their comments in sql/functions/<area>/, change them there.
"""
#: pg_dump lines that change from run to run or from one minor release to the next.
_VOLATILE = ("-- Dumped", "\\restrict", "\\unrestrict")


def dump(server: TempServer, conninfo: str) -> str:
    """The loyalty schema of ``conninfo`` as pg_dump prints it, less its volatile lines."""
    completed = subprocess.run(
        [str(server.bindir / "pg_dump"), "--schema-only", "--schema=loyalty", "-d", conninfo],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [line for line in completed.stdout.splitlines() if not line.startswith(_VOLATILE)]
    return HEADER + "\n".join(lines).strip() + "\n"


def dump_database(server: TempServer, conninfo: str) -> str:
    """Everything the migrations may have made in ``conninfo``'s database (every schema,
    function bodies, owners and grants), less yoyo's own bookkeeping: for comparing schemas."""
    completed = subprocess.run(
        [
            str(server.bindir / "pg_dump"),
            "--schema-only",
            "--exclude-table=public._yoyo*",
            "--exclude-table=public.yoyo_lock",
            "-d",
            conninfo,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return "\n".join(line for line in completed.stdout.splitlines() if not line.startswith(_VOLATILE))


def current(server: TempServer) -> str:
    """The dump of a database freshly migrated on ``server``."""
    with psycopg.connect(server.conninfo(), autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS schema_dump")
        admin.execute("CREATE DATABASE schema_dump")
    migrate(server.conninfo("schema_dump"))
    return dump(server, server.conninfo("schema_dump"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make schema", description="write or check sql/current/schema.sql")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    with TempServer() as server:
        text = current(server)
    if args.write:
        SCHEMA_FILE.parent.mkdir(parents=True, exist_ok=True)
        SCHEMA_FILE.write_text(text, encoding="utf-8")
        return 0
    if SCHEMA_FILE.read_text(encoding="utf-8") != text:
        print(f"{SCHEMA_FILE} is out of date: run `make schema`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
