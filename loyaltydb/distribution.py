"""``loyaltydb distribute``: a migrated database on a Citus coordinator becomes a distributed one.

Per-customer tables are distributed by the customer (= user) id and colocated, programs and
businesses become reference tables, and the API functions are delegated to the worker that owns
their customer (``sql/cluster/distribute.sql``, idempotent). See docs/scaling.md.
"""

from __future__ import annotations

from ._dsn import connect
from .errors import ClusterUnavailable, NotMigrated, translated_errors
from .migrations import sql_dir, status


def distribute(conninfo: str | None = None) -> None:
    """Distribute the loyalty schema of ``conninfo``'s database; safe to run again."""
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
