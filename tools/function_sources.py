"""``sql/functions/<area>/<name>.sql``: the one editable source of every SQL function, and how
it compares with what the migrations leave in a database.

Released migrations are frozen: a function's newest definition lives in the migration that last
changed it, and its current source, with its why-comments, in ``sql/functions/<area>/<name>.sql``
(all overloads of one name in one file, as ``CREATE OR REPLACE FUNCTION`` statements; the areas,
``approval``, ``points``, ``events`` and so on, are folders for the reader: a name is unique
across them). The two are
compared in a database, not as text: running every source over a migrated database must leave
each function's ``pg_get_functiondef`` unchanged and add none (``tests/test_function_sources.py``),
and ``tools/new_migration.py`` writes a migration pair from the sources that differ.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import sqlparse

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = ROOT / "sql" / "functions"
MIGRATIONS_DIR = ROOT / "sql" / "migrations"

_CREATE = re.compile(r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+loyalty\.(\w+)\s*\(", re.IGNORECASE | re.MULTILINE)


def source_files() -> list[Path]:
    """Every function source (``sql/functions/<area>/<name>.sql``), by name."""
    return sorted(FUNCTIONS_DIR.glob("*/*.sql"), key=lambda path: (path.stem, path))


def misplaced_sources() -> list[str]:
    """What is wrong with where the sources are: a file outside an area folder, or a name that
    two areas both have (a function's name is its file's, so it may have one)."""
    problems = [f"{path.relative_to(ROOT)}: move it into an area folder" for path in FUNCTIONS_DIR.glob("*.sql")]
    seen: dict[str, Path] = {}
    for path in source_files():
        if path.stem in seen:
            problems.append(f"{path.relative_to(ROOT)}: {seen[path.stem].relative_to(ROOT)} has that name already")
        seen[path.stem] = path
    return problems


def name_of(procedure: str) -> str:
    """``loyalty.f(bigint)`` -> ``f``: the file a function's source lives in, minus ``.sql``."""
    return procedure.split("(", 1)[0].split(".", 1)[1]


def catalog(conn: psycopg.Connection[Any]) -> dict[str, str]:
    """Every function of schema ``loyalty`` (``loyalty.f(bigint)``) and its full definition."""
    rows = conn.execute(
        "SELECT p.oid::regprocedure::text, pg_catalog.pg_get_functiondef(p.oid)"
        " FROM pg_catalog.pg_proc AS p WHERE p.pronamespace = 'loyalty'::regnamespace"
    ).fetchall()
    return dict(rows)


def check_source(path: Path) -> list[str]:
    """What is wrong with the shape of one source file: each statement must define ``loyalty.<name>``."""
    problems = []
    for statement in sqlparse.split(path.read_text(encoding="utf-8")):
        if not sqlparse.format(statement, strip_comments=True).strip():
            continue
        match = _CREATE.search(statement)
        if not match or not re.match(r"^\s*CREATE\s+OR\s+REPLACE", statement[match.start() :], re.IGNORECASE):
            problems.append(f"{path.name}: every statement must be CREATE OR REPLACE FUNCTION loyalty.{path.stem}(...)")
        elif match.group(1) != path.stem:
            problems.append(f"{path.name}: defines loyalty.{match.group(1)}, which belongs in {match.group(1)}.sql")
    return problems


@dataclass(frozen=True)
class Drift:
    """How the sources differ from a migrated database (all empty: they agree)."""

    #: procedures whose source gives another definition: before (the database's) and after
    changed: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: procedures a source defines that the database does not have, with their definitions
    added: dict[str, str] = field(default_factory=dict)
    #: procedures of the database that no source defines (no file, or not in its file), with
    #: their definitions
    unsourced: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.changed or self.added or self.unsourced)


def drift(conn: psycopg.Connection[Any], files: Iterable[Path] | None = None) -> Drift:
    """Run the sources over ``conn``'s migrated database in a transaction that is rolled back,
    and say what they would change. ``conn`` must not be in a transaction.

    A procedure no source defines keeps its pg_proc row as it was; every one a source defines,
    even identically, is rewritten by this transaction (its ``xmin`` is ours).
    """
    files = list(source_files() if files is None else files)
    with conn.transaction(force_rollback=True):
        before = catalog(conn)
        conn.execute("SELECT pg_catalog.pg_current_xact_id()")
        for path in files:
            conn.execute(path.read_text(encoding="utf-8"), prepare=False)
        after = catalog(conn)
        untouched = {
            proc
            for (proc,) in conn.execute(
                "SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc AS p"
                " WHERE p.pronamespace = 'loyalty'::regnamespace"
                " AND NOT p.xmin = pg_catalog.xid(pg_catalog.pg_current_xact_id())"
            )
        }
    return Drift(
        changed={proc: (before[proc], after[proc]) for proc in before if after[proc] != before[proc]},
        added={proc: after[proc] for proc in after.keys() - before.keys()},
        unsourced={proc: before[proc] for proc in sorted(untouched & before.keys())},
    )


def previous_definition(conn: psycopg.Connection[Any], procedure: str, definition: str) -> str:
    """The text that restores ``procedure`` to ``definition`` (the database's now): the newest
    migration's own statement when it still gives exactly that (comments and layout kept), else
    ``pg_get_functiondef``'s text, which always does."""
    name = name_of(procedure)
    candidates: list[tuple[str, str]] = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if path.name.endswith(".rollback.sql"):
            continue
        for statement in sqlparse.split(path.read_text(encoding="utf-8")):
            match = _CREATE.search(statement)
            if match and match.group(1) == name:
                text = statement[match.start() :].strip().rstrip(";")
                text = re.sub(r"^CREATE\s+FUNCTION", "CREATE OR REPLACE FUNCTION", text, flags=re.IGNORECASE)
                candidates.append((path.stem, text + ";"))
    current = catalog(conn)
    for migration, text in reversed(candidates):
        if _defines(conn, text, name) == procedure:
            with conn.transaction(force_rollback=True):
                conn.execute(text, prepare=False)
                if catalog(conn) == current:
                    return f"-- As {migration} defined it.\n{text}"
    return f"-- As the migrations left it (pg_get_functiondef).\n{definition.rstrip()};"


def _defines(conn: psycopg.Connection[Any], text: str, name: str) -> str | None:
    """Which procedure (``loyalty.f(bigint)``) a CREATE statement defines: it is run against a
    scratch schema in a transaction that is rolled back. None when it no longer runs (it names
    a type that a later migration renamed, say)."""
    probe = "_function_sources_probe"
    with conn.transaction(force_rollback=True):
        conn.execute(f"CREATE SCHEMA {probe}")
        try:
            with conn.transaction():
                conn.execute(text.replace(f"loyalty.{name}(", f"{probe}.{name}(", 1), prepare=False)
        except psycopg.Error:
            return None
        row = conn.execute(
            "SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc AS p WHERE p.pronamespace = %s::regnamespace",
            (probe,),
        ).fetchone()
    return str(row[0]).replace(f"{probe}.", "loyalty.", 1) if row else None
