"""``loyaltydb distribute``: a migrated database on a Citus coordinator becomes a distributed one.

Per-customer tables are distributed by the customer (= user) id and colocated, programs and
businesses become reference tables, and the API functions are delegated to the worker that owns
their customer (``sql/cluster/distribute.sql``, idempotent). See docs/scaling.md.
"""

from __future__ import annotations

from typing import Any

import psycopg

from ._dsn import connect
from .errors import ClusterUnavailable, NotMigrated, translated_errors
from .migrations import sql_dir, status

__all__ = ["distribute", "owner_login_warnings"]


def distribute(conninfo: str | None = None) -> list[str]:
    """Distribute the loyalty schema of ``conninfo``'s database; safe to run again. Returns
    warnings about the setup (see docs/scaling.md, "The safe setup for the owner's logins")."""
    if not all(state.applied for state in status(conninfo)):
        raise NotMigrated("this database is not migrated (run 'loyaltydb migrate' first)")
    with connect(conninfo, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_catalog.pg_extension WHERE extname = 'citus'").fetchone()
        if not row or not row[0]:
            raise ClusterUnavailable(
                "this database has no Citus: distribute needs a Citus coordinator"
                " (shared_preload_libraries = 'citus', CREATE EXTENSION citus, workers added)"
            )
        with translated_errors():
            conn.execute((sql_dir() / "cluster" / "distribute.sql").read_text(encoding="utf-8"))
        return owner_login_warnings(conn)


def owner_login_warnings(conn: psycopg.Connection[Any]) -> list[str]:
    """A warning when loyalty_owner can log in with no password and no pg_dist_authinfo entry:
    then only pg_hba.conf keeps other clients out, and a ``trust`` line lets them in."""
    row = conn.execute(
        "SELECT r.rolcanlogin AND r.rolpassword IS NULL"
        " AND NOT EXISTS (SELECT FROM pg_catalog.pg_dist_authinfo AS a WHERE a.rolename = r.rolname)"
        " FROM pg_catalog.pg_authid AS r WHERE r.rolname = 'loyalty_owner'"
    ).fetchone()
    if row and row[0]:
        return [
            "loyalty_owner can log in and has no password nor pg_dist_authinfo entry: only pg_hba.conf keeps"
            " other clients out (never trust it); give it a password in pg_dist_authinfo, or certificates"
            " (docs/scaling.md, the safe setup)"
        ]
    return []
