"""No statement of an approval, single or bulk, nor of the business inbox, does a sequential scan
on a loaded database."""

from __future__ import annotations

import time
from typing import Any

import psycopg

import loyaltydb
from benchmarks import bench
from helpers import loyalty_tables


def test_approvals_on_a_loaded_database_use_no_sequential_scan(db: psycopg.Connection[Any], dsn: str) -> None:
    bench.load(dsn, scale=20_000, pending=20_000, say=lambda _: None)
    with psycopg.connect(dsn, autocommit=True) as conn:
        ids = [row[0] for row in conn.execute("SELECT request_id FROM bench.queue ORDER BY n")]
        before = bench.seq_scans(conn)
        for request_id in ids[:300]:
            loyaltydb.approve_enrollment(conn, request_id)
        loyaltydb.approve_enrollments(conn, ids[300:1300])
        loyaltydb.reject_enrollment(conn, ids[1300])
        businesses = [row[0] for row in conn.execute("SELECT DISTINCT business_id FROM loyalty.loyalty_programs")]
        for business_id in businesses[:20]:  # every page of 20 inboxes
            page = loyaltydb.pending_requests(conn, business_id, limit=100)
            while page:
                page = loyaltydb.pending_requests(conn, business_id, limit=100, after=page[-1].request_id)
        conn.execute("SELECT pg_stat_force_next_flush()")
    time.sleep(0.1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        after = bench.seq_scans(conn)
    assert set(after) == set(before) == set(loyalty_tables(db))
    # A table of a few pages is read whole, rightly (loyalty.businesses: 200 rows here).
    large = {row[0] for row in db.execute("SELECT relname FROM pg_class WHERE relnamespace = 'loyalty'::regnamespace"
                                          " AND relkind = 'r' AND relpages > 10")}  # fmt: skip
    db.commit()
    assert large >= {"customer_approval_requests", "customer_notifications", "users", "customers"}
    assert {table: after[table] - before[table] for table in large} == dict.fromkeys(large, 0)
