"""``make bench``'s events figures (issue 19): approvals at 8 clients (pgbench, the b script) with
a consumer registered, then that one consumer draining what they published: events fetched
and acked a second against events published a second while the approvals ran. (The cost of
writing events, the single path with events against without, is ``make bench-ab REF=<commit
before 0026>``: docs/benchmarks.md.)"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from loyaltydb import events
from loyaltydb.testing import TempServer
from loyaltydb.testing.databases import clone_database, migrated_template

Say = Callable[[str], None]


def run(server: TempServer, say: Say, *, clients: int = 8, seconds: float = 8.0, batch: int = 500) -> dict[str, Any]:
    from benchmarks.bench import PROCEDURE_SCRIPT, load, pgbench  # bench imports this module

    template = migrated_template(server, "events_template")
    dsn = clone_database(server, template, "events_drain")
    load(dsn, 20_000, 60_000, say)
    with psycopg.connect(dsn, autocommit=True) as conn:
        events.fetch(conn, "drain")  # registered before the approvals: it receives all they publish
        before = _count(conn)
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "b.sql"
        script.write_text(PROCEDURE_SCRIPT)
        approvals = pgbench(server, "events_drain", clients, seconds, "approvals", ["-f", str(script)])
    with psycopg.connect(dsn, autocommit=True) as conn:
        published = _count(conn) - before
        started, drained = time.perf_counter(), 0
        while batch_events := events.fetch(conn, "drain", limit=batch):
            events.ack(conn, "drain", [event.id for event in batch_events])
            drained += len(batch_events)
        drain_seconds = time.perf_counter() - started
    figures = {
        "clients": clients,
        "approvals_per_s": round(approvals.rate, 1),
        "events_published": published,
        "events_per_approval": round(published / max(approvals.approvals, 1), 2),
        "events_published_per_s": round(published / approvals.seconds, 1),
        "events_drained": drained,
        "drain_s": round(drain_seconds, 3),
        "events_drained_per_s": round(drained / drain_seconds, 1),
        "batch": batch,
    }
    say(
        f"events: {figures['approvals_per_s']:,.0f} approvals/s at {clients} clients published"
        f" {figures['events_published_per_s']:,.0f} events/s ({figures['events_per_approval']} an approval);"
        f" one consumer drained {drained:,} in {drain_seconds:.2f} s: {figures['events_drained_per_s']:,.0f} events/s"
    )
    return figures


def _count(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM loyalty.events").fetchone()
    return int(row[0]) if row else 0
