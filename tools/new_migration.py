"""Write the next migration pair from the function sources that changed (``make migration NAME=…``).

You edit ``sql/functions/<area>/<name>.sql`` (and, for a schema change, nothing else yet); this tool
migrates a throwaway database with every migration so far, runs the sources over it to see which
functions they change, add or no longer have, and writes ``sql/migrations/NNNN_<NAME>.sql``:

- forward: a place for your table DDL, then the current source of every changed or new function
  (the whole file of its name), then a DROP for every function whose source file was deleted;
- rollback: the previous definition of every changed or dropped function (the newest earlier
  migration's own text when it gives exactly the database's definition, else
  ``pg_get_functiondef``'s), a DROP for every new function, then a place to undo your DDL.

Add table DDL by hand in the two marked places before you commit; ``make test`` then checks the
pair: the sources equal the newest definitions, and rolling back restores the previous schema.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import psycopg

import function_sources
from function_sources import MIGRATIONS_DIR, ROOT, check_source, drift, name_of, previous_definition
from loyaltydb.migrations import migrate
from loyaltydb.testing import TempServer

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_OWNER = "-- Objects created from here on belong to loyalty_owner (see 0008_roles).\nSET LOCAL ROLE loyalty_owner;\n"


def _next_id(name: str) -> tuple[str, str]:
    """(the new migration's id, the id it depends on)."""
    forward = sorted(p.stem for p in MIGRATIONS_DIR.glob("*.sql") if not p.name.endswith(".rollback.sql"))
    number = int(forward[-1][:4]) + 1 if forward else 1
    return f"{number:04d}_{name}", forward[-1]


def _is_api(procedure: str) -> bool:
    """The API is what has no leading underscore, and loyalty_app may run all of it (test_security)."""
    return not name_of(procedure).startswith("_")


def _shown(path: Path) -> Path:
    """A source's path as a migration names it: from the repository's root (sql/functions/...)."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def render(migration_id: str, depends: str, conn: psycopg.Connection[Any]) -> tuple[str, str]:
    """The (forward, rollback) texts for the sources' drift from ``conn``'s migrated database."""
    sources = {path.stem: path for path in function_sources.source_files()}
    found = drift(conn, sources.values())
    # New functions first: a SQL-language function is checked against what it calls when created.
    new = sorted({name_of(proc) for proc in found.added})
    files = new + sorted({name_of(proc) for proc in found.changed} - set(new))
    forward = [
        f"-- {migration_id}: say here what changes for callers and why.\n"
        "-- Written by tools/new_migration.py from sql/functions/; add table DDL where marked.\n"
        f"-- depends: {depends}\n",
        _OWNER,
        "-- Table DDL of this migration, if any, goes here (before the functions that use it).\n",
    ]
    # Dropped first: a function whose signature changed is dropped, then created anew.
    forward += [f"-- No source defines it any more.\nDROP FUNCTION {proc};\n" for proc in sorted(found.unsourced)]
    forward += [f"-- {_shown(sources[name])}\n{sources[name].read_text(encoding='utf-8').strip()}\n" for name in files]
    api = sorted(proc for proc in found.added if _is_api(proc))
    forward += [f"GRANT EXECUTE ON FUNCTION {proc} TO loyalty_app;\n" for proc in api]
    rollback = [_OWNER]
    rollback += [f"DROP FUNCTION {proc};\n" for proc in sorted(found.added)]
    rollback += [previous_definition(conn, proc, before) + "\n" for proc, (before, _) in sorted(found.changed.items())]
    rollback += [previous_definition(conn, proc, text) + "\n" for proc, text in sorted(found.unsourced.items())]
    # A dropped API function comes back with its grant (DROP took it).
    rollback += [
        f"GRANT EXECUTE ON FUNCTION {proc} TO loyalty_app;\n" for proc in sorted(found.unsourced) if _is_api(proc)
    ]
    rollback.append("-- Undo this migration's table DDL here, if any (after the functions).\n")
    return "\n".join(forward), "\n".join(rollback)


def main(argv: list[str] | None = None) -> int:
    summary = __doc__.splitlines()[0] if __doc__ else None
    parser = argparse.ArgumentParser(prog="make migration NAME=…", description=summary)
    parser.add_argument("name", help="snake_case, e.g. card_ready_title")
    args = parser.parse_args(argv)
    if not _NAME.match(args.name):
        parser.error(f"NAME must be snake_case (a-z, 0-9, _), not {args.name!r}")
    problems = function_sources.misplaced_sources()
    problems += [problem for path in function_sources.source_files() for problem in check_source(path)]
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    migration_id, depends = _next_id(args.name)
    with TempServer() as server:
        with psycopg.connect(server.conninfo(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE new_migration")
        migrate(server.conninfo("new_migration"))
        with psycopg.connect(server.conninfo("new_migration"), autocommit=True) as conn:
            texts = render(migration_id, depends, conn)
    forward_path = MIGRATIONS_DIR / f"{migration_id}.sql"
    forward_path.write_text(texts[0], encoding="utf-8")
    forward_path.with_name(f"{migration_id}.rollback.sql").write_text(texts[1], encoding="utf-8")
    print(f"wrote {forward_path.relative_to(ROOT)} and its .rollback.sql")
    return 0


if __name__ == "__main__":
    sys.exit(main())
