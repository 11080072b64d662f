"""No statement of an approval does a sequential scan on a loaded database, and every
statement of a bulk approval has an index to use."""

from __future__ import annotations

import time

import psycopg

import loyaltydb
from loyaltydb import bench


def test_approvals_on_a_loaded_database_use_no_sequential_scan(dsn: str) -> None:
    bench.load(dsn, scale=20_000, pending=20_000, say=lambda _: None)
    with psycopg.connect(dsn, autocommit=True) as conn:
        ids = [row[0] for row in conn.execute("SELECT request_id FROM bench.queue ORDER BY n")]
        before = bench.seq_scans(conn)
        for request_id in ids[:300]:
            loyaltydb.approve_enrollment(conn, request_id)
        loyaltydb.reject_enrollment(conn, ids[1300])
        conn.execute("SELECT pg_stat_force_next_flush()")
    # A batch of 1,000 is 5% of this small table, where a sequential scan is the planner's right
    # choice; what must hold is that every table the batch reads has an index for its lookup.
    # With seq scans disfavoured, a statement with no usable index still scans.
    with psycopg.connect(dsn, autocommit=True, options="-c enable_seqscan=off") as conn:
        loyaltydb.approve_enrollments(conn, ids[300:1300])
        conn.execute("SELECT pg_stat_force_next_flush()")
    time.sleep(0.1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        after = bench.seq_scans(conn)
    assert set(after) == set(before) == set(bench.TABLES_CHECKED)
    assert {table: after[table] - before[table] for table in after} == dict.fromkeys(after, 0)
