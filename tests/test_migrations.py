"""Migrations: naming rule, apply/rollback round trips, nothing outside the loyalty schema."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlparse

import loyaltydb
from loyaltydb.migrations import migrations_dir
from loyaltydb.testing import TempServer

MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
YOYO_TABLES = {"_yoyo_log", "_yoyo_migration", "_yoyo_version", "yoyo_lock"}


def _forward_files() -> list[Path]:
    return sorted(path for path in migrations_dir().glob("*.sql") if not path.name.endswith(".rollback.sql"))


def test_migration_files_follow_the_naming_rule() -> None:
    forward = _forward_files()
    assert forward, "no migrations found"
    previous = None
    for number, path in enumerate(forward, start=1):
        match = MIGRATION_NAME.match(path.name)
        assert match, f"{path.name}: want NNNN_snake_case.sql"
        assert int(match.group(1)) == number, f"{path.name}: numbers must run 0001, 0002, ... without gaps"
        rollback = path.with_name(path.stem + ".rollback.sql")
        assert rollback.is_file(), f"{path.name} has no {rollback.name}"
        text = path.read_text()
        if previous is not None:
            assert f"-- depends: {previous}" in text, f"{path.name} must depend on {previous}"
        # yoyo pairs rollback statements with forward ones; it cannot run more rollbacks than forwards.
        assert len(sqlparse.split(rollback.read_text())) <= len(sqlparse.split(text)), rollback.name
        previous = path.stem
    every_sql = {path.name for path in migrations_dir().glob("*.sql")}
    assert every_sql == {p.name for p in forward} | {p.stem + ".rollback.sql" for p in forward}


def _schema_dump(server: TempServer, conninfo: str) -> str:
    dump = subprocess.run(
        [str(server.bindir / "pg_dump"), "--schema-only", "--schema=loyalty", "--no-owner", "-d", conninfo],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # \restrict lines carry a random key that pg_dump makes anew on every run.
    volatile = ("-- Dumped", "\\restrict", "\\unrestrict")
    return "\n".join(line for line in dump.splitlines() if not line.startswith(volatile))


def _objects_outside_loyalty(conninfo: str) -> set[str]:
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            """
            SELECT c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public'
            UNION ALL
            SELECT p.proname FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
             WHERE n.nspname = 'public'
            UNION ALL
            SELECT t.typname FROM pg_type AS t JOIN pg_namespace AS n ON n.oid = t.typnamespace
             WHERE n.nspname = 'public' AND t.typrelid = 0 AND t.typelem = 0
            """
        ).fetchall()
    return {row[0] for row in rows}


def test_migrate_applies_everything_once(empty_dsn: str) -> None:
    applied = loyaltydb.migrate(empty_dsn)
    assert applied == [path.stem for path in _forward_files()]
    assert loyaltydb.migrate(empty_dsn) == []
    assert all(state.applied for state in loyaltydb.status(empty_dsn))


def test_nothing_but_yoyo_bookkeeping_lands_in_public(empty_dsn: str) -> None:
    loyaltydb.migrate(empty_dsn)
    outside = _objects_outside_loyalty(empty_dsn)
    assert {name for name in outside if not name.endswith(("_pkey", "_seq"))} <= YOYO_TABLES


def test_rolling_back_everything_removes_the_schema_and_reapplying_works(empty_dsn: str, pg_server: TempServer) -> None:
    loyaltydb.migrate(empty_dsn)
    migrated = _schema_dump(pg_server, empty_dsn)
    undone = loyaltydb.rollback(empty_dsn, steps=None)
    assert undone == [path.stem for path in reversed(_forward_files())]
    with psycopg.connect(empty_dsn) as conn:
        assert conn.execute("SELECT to_regnamespace('loyalty')").fetchone() == (None,)
    assert not any(state.applied for state in loyaltydb.status(empty_dsn))
    loyaltydb.migrate(empty_dsn)
    assert _schema_dump(pg_server, empty_dsn) == migrated


@pytest.mark.parametrize("steps", range(1, len(_forward_files()) + 1))
def test_each_rollback_exactly_undoes_its_migrations(empty_dsn: str, pg_server: TempServer, steps: int) -> None:
    """Rolling back the last N migrations and applying them again gives the same schema."""
    loyaltydb.migrate(empty_dsn)
    migrated = _schema_dump(pg_server, empty_dsn)
    assert len(loyaltydb.rollback(empty_dsn, steps=steps)) == steps
    assert len(loyaltydb.migrate(empty_dsn)) == steps
    assert _schema_dump(pg_server, empty_dsn) == migrated


def test_migrate_closes_every_connection_it_opens(empty_dsn: str) -> None:
    dbname = psycopg.conninfo.conninfo_to_dict(empty_dsn)["dbname"]
    loyaltydb.migrate(empty_dsn)
    loyaltydb.status(empty_dsn)
    loyaltydb.rollback(empty_dsn, steps=2)
    with psycopg.connect(empty_dsn) as conn:
        others = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (dbname,)
        ).fetchone()
    assert others == (0,)


def test_plain_yoyo_sees_the_same_migrations(empty_dsn: str) -> None:
    """DBAs may run yoyo directly (README); both tools share yoyo's bookkeeping."""
    params: dict[str, Any] = psycopg.conninfo.conninfo_to_dict(empty_dsn)
    url = f"postgresql+psycopg://{params['user']}@{params['host']}:{params['port']}/{params['dbname']}"
    yoyo = Path(__import__("sys").executable).with_name("yoyo")
    subprocess.run(
        [str(yoyo), "apply", "--batch", "--database", url, str(migrations_dir())], check=True, capture_output=True
    )
    assert loyaltydb.migrate(empty_dsn) == []
    assert all(state.applied for state in loyaltydb.status(empty_dsn))
