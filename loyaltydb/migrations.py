"""Apply, roll back and list the versioned SQL migrations under ``sql/migrations/`` with yoyo.

yoyo keeps its bookkeeping tables in ``public``; a DBA may equally run
``yoyo apply --database postgresql+psycopg://... "$(loyaltydb migrations-dir)"``: both see the
same history. Reading the history (``status()``, ``rollback_plan()``) only reads: it creates
nothing and works as ``loyalty_app``. Changing it first checks the role may, so a role that may
not leaves nothing behind.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from yoyo import read_migrations
from yoyo.backends.core.postgresql import PostgresqlPsycopgBackend
from yoyo.connections import DatabaseURI
from yoyo.migrations import default_migration_table

from ._dsn import connect, resolve_conninfo
from .errors import ConnectionFailed, LoyaltyError, PermissionDenied, ReadOnly, one_line


def sql_dir() -> Path:
    """The SQL tree: inside the installed package, else the source tree's ``sql/``."""
    packaged = Path(__file__).with_name("sql")
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent / "sql"


def migrations_dir() -> Path:
    """The versioned migrations yoyo applies (``sql/migrations/``; ids are the file names)."""
    return sql_dir() / "migrations"


@dataclass(frozen=True, slots=True)
class MigrationState:
    """One migration and whether the database has it applied."""

    id: str
    applied: bool


@dataclass(frozen=True, slots=True)
class RollbackStep:
    """One migration a rollback would undo, and what it drops (tables with their rows)."""

    id: str
    drops: tuple[str, ...]


class RollbackChanged(LoyaltyError):
    """The migrations to roll back changed between the plan a user confirmed and the rollback."""


class RollbackFailed(LoyaltyError):
    """A rollback stopped at one migration: those before it are undone (each in its own
    transaction, as yoyo runs them), the failing one and older ones are still applied."""

    def __init__(self, message: str, *, undone: Sequence[str], failed: str, error: str, applied: Sequence[str]) -> None:
        super().__init__(message)
        self.undone = list(undone)
        self.failed = failed
        self.error = error
        self.applied = list(applied)


class Distributed(LoyaltyError):
    """Rollback on a distributed (Citus) database: ``distribute`` dropped keys and triggers the
    rollbacks rely on, so it is refused before anything is touched."""


class UnknownMigrations(LoyaltyError):
    """The database has migrations applied that this version of loyaltydb does not know (a newer
    version, or plain yoyo with newer files, applied them): rolling back from under them could
    leave a schema no version knows, so nothing is rolled back. Use the newer version."""


class _ConninfoBackend(PostgresqlPsycopgBackend):  # type: ignore[misc]
    """yoyo's psycopg 3 backend, connecting with a libpq conninfo rather than a URL.

    A conninfo honours everything libpq does (PGHOST, service files, sockets); yoyo opens
    one of these per migration and closes it, and we close the first one ourselves.
    """

    def connect(self, dburi: DatabaseURI) -> psycopg.Connection[Any]:
        return connect(dburi.args["conninfo"], autocommit=True)


@contextmanager
def _backend(conninfo: str | None) -> Iterator[Any]:
    """yoyo's backend, once the role is known to be allowed to migrate (else nothing is created)."""
    uri = DatabaseURI("postgresql+psycopg", None, None, None, None, None, {"conninfo": resolve_conninfo(conninfo)})
    backend = _ConninfoBackend(uri, default_migration_table)
    try:
        _check_may_migrate(backend.connection)
        backend.init_database()
        yield backend
    finally:
        backend.connection.close()


#: yoyo's bookkeeping tables in public: a migration reads and writes every one of them.
_YOYO_TABLES = ("_yoyo_migration", "_yoyo_log", "_yoyo_version", "yoyo_lock")


def _check_may_migrate(conn: psycopg.Connection[Any]) -> None:
    """Raise ReadOnly or PermissionDenied, before yoyo creates its tables, when this session
    cannot migrate: what the migrations really need is checked, not only the role's attributes."""
    row = conn.execute(
        "SELECT pg_catalog.pg_is_in_recovery() OR current_setting('transaction_read_only')::boolean"
    ).fetchone()
    if row and row[0]:
        raise ReadOnly(
            "this session is read-only (a standby, or default_transaction_read_only is on):"
            " run migrations on the primary; nothing was changed"
        )
    row = conn.execute(
        "SELECT current_user, r.rolsuper, r.rolcreaterole,"
        " to_regrole('loyalty_owner') IS NULL OR pg_has_role('loyalty_owner', 'MEMBER'),"
        " to_regclass(%s) IS NOT NULL OR has_schema_privilege('public', 'CREATE'),"
        # 0001 creates schema loyalty: CREATE on the database, unless the schema is there already.
        " to_regnamespace('loyalty') IS NOT NULL OR has_database_privilege(current_database(), 'CREATE'),"
        " (SELECT coalesce(bool_and(has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE, DELETE')), true)"
        "    FROM pg_catalog.pg_class AS c WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY(%s))"
        " FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user",
        (default_migration_table, list(_YOYO_TABLES)),
    ).fetchone()
    assert row is not None
    user, superuser, createrole, owner_member, history_writable, may_create_schema, history_usable = row
    if superuser:
        return
    if createrole and owner_member and history_writable and not may_create_schema:
        raise PermissionDenied(
            f"role {user} may not run migrations: it needs CREATE on this database (GRANT CREATE ON DATABASE …"
            f" TO {user}) for the loyalty schema; nothing was changed"
        )
    if createrole and owner_member and history_writable and not history_usable:
        raise PermissionDenied(
            f"role {user} may not run migrations: it needs SELECT, INSERT, UPDATE and DELETE on yoyo's tables in"
            f" public ({', '.join(_YOYO_TABLES)}), which another role created; nothing was changed"
        )
    if createrole and owner_member and history_writable:
        return
    raise PermissionDenied(
        f"role {user} may not run migrations: they need a superuser, or a role with CREATEROLE that is a"
        " member of loyalty_owner and may create tables in schema public (where yoyo keeps its history);"
        " nothing was changed"
    )


def _refuse_distributed(conn: psycopg.Connection[Any], chosen: Sequence[Any]) -> None:
    """Raise Distributed, touching nothing, when the loyalty tables are distributed by Citus."""
    if not chosen:
        return
    row = (
        conn.execute(
            "SELECT to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL AND EXISTS ("
            " SELECT FROM pg_catalog.pg_class AS c WHERE c.relnamespace = to_regnamespace('loyalty')"
            " AND c.oid IN (SELECT logicalrelid FROM pg_dist_partition))"
        ).fetchone()
        if _has_citus(conn)
        else (False,)
    )
    if row and row[0]:
        raise Distributed(
            "this database is distributed (loyaltydb distribute): rollback is not supported on a cluster"
            " (distribute dropped keys and triggers the rollbacks need); nothing was rolled back"
        )


def _has_citus(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT count(*) FROM pg_catalog.pg_extension WHERE extname = 'citus'").fetchone()
    return bool(row and row[0])


def _refuse_unknown(conn: psycopg.Connection[Any]) -> None:
    """Raise UnknownMigrations when the database has a migration applied that we do not know."""
    known = {migration.hash for migration in _all_migrations()}
    hashes = _applied_hashes(conn)
    if all(hash_ in known for hash_ in hashes):
        return
    query = sql.SQL("SELECT migration_id FROM {} WHERE NOT migration_hash = ANY(%s) ORDER BY applied_at_utc").format(
        sql.Identifier(default_migration_table)
    )
    unknown = [migration_id for (migration_id,) in conn.execute(query, (list(known),))]
    raise UnknownMigrations(
        f"this database has migrations applied that this loyaltydb does not know: {', '.join(unknown)};"
        " nothing was rolled back (roll back with the version that applied them)"
    )


def _applied_hashes(conn: psycopg.Connection[Any]) -> list[str]:
    """yoyo's applied migration hashes, oldest first, read only: none when yoyo has no table yet."""
    with conn.transaction():
        conn.execute("SET TRANSACTION READ ONLY")
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (default_migration_table,)).fetchone()
        if not (row and row[0]):
            return []
        query = sql.SQL("SELECT migration_hash FROM {} ORDER BY applied_at_utc").format(
            sql.Identifier(default_migration_table)
        )
        try:
            return [hash_ for (hash_,) in conn.execute(query)]
        except psycopg.errors.InsufficientPrivilege as exc:
            raise PermissionDenied(
                f"this role may not read yoyo's history ({default_migration_table}): run `loyaltydb migrate` once"
                f" with this version (it grants SELECT on it to loyalty_app), or GRANT SELECT on it yourself"
            ) from exc


def _all_migrations() -> Any:
    return read_migrations(str(migrations_dir()))


def _prepare_cluster(backend: Any) -> None:
    """On a Citus database, let loyalty_owner log in first (``sql/cluster/owner_login.sql``)."""
    backend.connection.execute((sql_dir() / "cluster" / "owner_login.sql").read_text(encoding="utf-8"))


# `loyaltydb status` as the application's role reads yoyo's history. Granted while this database
# has loyalty_app's privileges (0008_roles), and revoked before a rollback: the grant would count
# as a use of the role by this database, and keep 0008's rollback from dropping the roles.
_GRANT_HISTORY = sql.SQL(
    "DO $$ BEGIN IF to_regrole('loyalty_app') IS NOT NULL AND to_regnamespace('loyalty') IS NOT NULL"
    " AND has_schema_privilege('loyalty_app', 'loyalty', 'USAGE') THEN GRANT SELECT ON {0} TO loyalty_app; END IF;"
    " END $$"
)
_REVOKE_HISTORY = sql.SQL(
    "DO $$ BEGIN IF to_regrole('loyalty_app') IS NOT NULL THEN REVOKE SELECT ON {0} FROM loyalty_app; END IF; END $$"
)


def migrate(conninfo: str | None = None) -> list[str]:
    """Apply every pending migration; returns the ids applied, in order (empty when none)."""
    migrations = _all_migrations()
    with _backend(conninfo) as backend, backend.lock():
        pending = backend.to_apply(migrations)
        if pending:
            _prepare_cluster(backend)
        backend.apply_migrations(pending)
        backend.connection.execute(_GRANT_HISTORY.format(sql.Identifier(default_migration_table)))
    return [migration.id for migration in pending]


def rollback(conninfo: str | None = None, steps: int | None = 1, *, expected: Sequence[str] | None = None) -> list[str]:
    """Roll back the last ``steps`` applied migrations (all when None); returns their ids.

    With ``expected`` (the ids of a ``rollback_plan()`` a user confirmed), raise
    ``RollbackChanged`` and roll back nothing if other migrations would be rolled back now.
    """
    if steps is not None and steps < 0:
        raise ValueError("steps must be a positive number or None")
    migrations = _all_migrations()
    with _backend(conninfo) as backend, backend.lock():
        _refuse_unknown(backend.connection)
        applied = list(backend.to_rollback(migrations))  # newest first
        chosen = applied if steps is None else applied[:steps]
        if expected is not None and [migration.id for migration in chosen] != list(expected):
            raise RollbackChanged("the applied migrations changed since the plan was shown; nothing was rolled back")
        _refuse_distributed(backend.connection, chosen)
        history = sql.Identifier(default_migration_table)
        backend.connection.execute(_REVOKE_HISTORY.format(history))
        undone: list[str] = []
        try:
            # One at a time, so that a failure says exactly what was undone and what is applied.
            for migration in chosen:
                try:
                    backend.rollback_migrations(migrations.__class__([migration]))
                except psycopg.Error as exc:
                    applied_now = [m.id for m in backend.to_rollback(migrations)]
                    detail = f": {exc.diag.message_detail}" if exc.diag.message_detail else ""
                    error = one_line(f"{exc.diag.message_primary or exc}{detail}", fold_lines=True)
                    before = f"{len(undone)} ({undone[0]} to {undone[-1]})" if undone else "none"
                    raise RollbackFailed(
                        f"rolling back {migration.id} failed; rolled back before it: {before};"
                        f" {len(applied_now)} migration(s) still applied, the newest"
                        f" {applied_now[0] if applied_now else 'none'}: {error}",
                        undone=undone,
                        failed=migration.id,
                        error=error,
                        applied=applied_now,
                    ) from exc
                undone.append(migration.id)
        finally:
            backend.connection.execute(_GRANT_HISTORY.format(history))
    return undone


def status(conninfo: str | None = None) -> list[MigrationState]:
    """Every known migration, in order, with whether it is applied. Only reads."""
    migrations = _all_migrations()
    with connect(conninfo, autocommit=True) as conn:
        applied = set(_applied_hashes(conn))
    return [MigrationState(migration.id, migration.hash in applied) for migration in migrations]


def rollback_plan(conninfo: str | None = None, steps: int | None = 1) -> list[RollbackStep]:
    """What ``rollback()`` with these ``steps`` would undo, newest first, and what each drops
    (from its rollback SQL; tables with their row counts). Only reads."""
    by_hash = {migration.hash: migration for migration in _all_migrations()}
    with connect(conninfo, autocommit=True) as conn:
        _refuse_unknown(conn)
        applied = [by_hash[hash_] for hash_ in reversed(_applied_hashes(conn)) if hash_ in by_hash]
        chosen = applied if steps is None else applied[:steps]
        _refuse_distributed(conn, chosen)
        return [RollbackStep(migration.id, _drops(conn, migration.id)) for migration in chosen]


_DROPPED_TABLES = re.compile(r"^\s*DROP TABLE (?:IF EXISTS )?([^;]+);", re.IGNORECASE | re.MULTILINE)
_DROPPED_COLUMN = re.compile(r"ALTER TABLE (\S+) DROP COLUMN (?:IF EXISTS )?(\w+)", re.IGNORECASE)
_DROPPED_OTHER = re.compile(r"\bDROP (SCHEMA|ROLE) (?:IF EXISTS )?(\w+)", re.IGNORECASE)
#: Functions (with their argument types), views, types, domains, indexes, triggers and sequences.
_DROPPED_OBJECT = re.compile(
    r"^\s*DROP (FUNCTION|VIEW|TYPE|DOMAIN|INDEX|TRIGGER|SEQUENCE) (?:IF EXISTS )?([\w.]+(?:\([^)]*\))?(?: ON [\w.]+)?)",
    re.IGNORECASE | re.MULTILINE,
)


def _drops(conn: psycopg.Connection[Any], migration_id: str) -> tuple[str, ...]:
    """What the rollback SQL of ``migration_id`` drops, in words a DBA confirms."""
    text = (migrations_dir() / f"{migration_id}.rollback.sql").read_text(encoding="utf-8")
    drops: list[str] = []
    for tables in _DROPPED_TABLES.findall(text):
        for table in (name.strip() for name in tables.replace("CASCADE", "").split(",")):
            row = conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*table.split("."))), prepare=False
            ).fetchone()
            drops.append(f"table {table} ({row[0] if row else 0:,} rows)")
    drops += [f"column {table}.{column}" for table, column in _DROPPED_COLUMN.findall(text)]
    drops += [f"{kind.lower()} {' '.join(name.split())}" for kind, name in _DROPPED_OBJECT.findall(text)]
    for kind, name in _DROPPED_OTHER.findall(text):
        drops.append(_role_drop(conn, name) if kind.upper() == "ROLE" else f"{kind.lower()} {name}")
    return tuple(drops)


def _role_drop(conn: psycopg.Connection[Any], role: str) -> str:
    """What happens to ``role``: 0008's rollback keeps a role another database still uses."""
    rows = conn.execute(
        "SELECT DISTINCT db.datname FROM pg_catalog.pg_shdepend AS d"
        " JOIN pg_catalog.pg_database AS db ON db.oid = d.dbid"
        " WHERE d.refclassid = 'pg_authid'::regclass AND d.refobjid = to_regrole(%s)"
        " AND db.datname <> current_database() ORDER BY 1",
        (role,),
    ).fetchall()
    if rows:
        return f"role {role} (kept: database {', '.join(row[0] for row in rows)} uses it)"
    return f"role {role}"


__all__ = [
    "ConnectionFailed",
    "Distributed",
    "MigrationState",
    "RollbackChanged",
    "RollbackFailed",
    "RollbackStep",
    "UnknownMigrations",
    "migrate",
    "migrations_dir",
    "rollback",
    "rollback_plan",
    "sql_dir",
    "status",
]
