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
    """Decisions read no table whole, small ones included: loyalty.businesses (200 rows here, a
    few pages) read whole on every approval cost 7.6% of its instructions until 0023
    (docs/benchmarks.md). The inbox reads no large table whole (a page may read the few pages of
    loyalty_programs once, rightly)."""
    bench.load(dsn, scale=20_000, pending=20_000, say=lambda _: None)

    def scans(conn: psycopg.Connection[Any]) -> dict[str, int]:
        conn.execute("SELECT pg_stat_force_next_flush()")
        time.sleep(0.1)
        return bench.seq_scans(conn)

    with psycopg.connect(dsn, autocommit=True) as conn:
        ids = [row[0] for row in conn.execute("SELECT request_id FROM bench.queue ORDER BY n")]
        businesses = [row[0] for row in conn.execute("SELECT DISTINCT business_id FROM loyalty.loyalty_programs")]
        before = scans(conn)
        for request_id in ids[:300]:
            loyaltydb.approve_enrollment(conn, request_id)
        loyaltydb.approve_enrollments(conn, ids[300:1300])
        loyaltydb.reject_enrollment(conn, ids[1300])
        decided = scans(conn)
        for business_id in businesses[:20]:  # every page of 20 inboxes
            page = loyaltydb.pending_requests(conn, business_id, limit=100)
            while page:
                page = loyaltydb.pending_requests(conn, business_id, limit=100, after=page[-1].request_id)
        listed = scans(conn)
    assert set(before) == set(loyalty_tables(db))
    assert {table: decided[table] - before[table] for table in before} == dict.fromkeys(before, 0)
    large = {row[0] for row in db.execute("SELECT relname FROM pg_class WHERE relnamespace = 'loyalty'::regnamespace"
                                          " AND relkind = 'r' AND relpages > 10")}  # fmt: skip
    db.commit()
    assert large >= {"customer_approval_requests", "customer_notifications", "users", "customers"}
    assert {table: listed[table] - decided[table] for table in large} == dict.fromkeys(large, 0)


#: The approval's shared rules (migration 0016): SQL functions the planner must inline into the
#: statements of both paths. One that is not inlined is planned again on every call (text ||
#: integer, for one, is only STABLE and stops the inlining of an IMMUTABLE function).
SHARED_RULES = {
    "_card_created_title": "$1",
    "_card_created_message": "$1, $1, $1, $4",
    "_card_created_data": "$1, $1, $1, $1, $2, $4",
    "_card_number_for": "$3, $3",
    "_other_side_title": "$5, $1, $1",
    "_other_side_message": "$5, $1, $1, $1",
}


def test_the_shared_approval_rules_are_inlined(db: psycopg.Connection[Any]) -> None:
    db.execute("SET plan_cache_mode = force_generic_plan")
    calls = ", ".join(f"loyalty.{name}({args})" for name, args in SHARED_RULES.items())
    db.execute(f"PREPARE rules (text, uuid, bigint, integer, boolean) AS SELECT {calls}")
    explained = db.execute("EXPLAIN (VERBOSE) EXECUTE rules ('x', gen_random_uuid(), 32, 50, true)")
    plan = "\n".join(row[0] for row in explained)
    assert "format(" in plan and "_luhn_check_digit" in plan  # the bodies, substituted
    assert not [name for name in SHARED_RULES if name in plan], plan


def test_no_check_constraint_calls_a_sql_function(db: psycopg.Connection[Any]) -> None:
    """A CHECK that calls a SQL-language function has it inlined each time a statement writes
    the table, which parses the function's body again: 0018's check of request ids cost about
    0.5 ms an approval that way (0022 fixed it; docs/benchmarks.md). CHECKs call plpgsql."""
    found = db.execute(
        "SELECT c.conname, p.proname FROM pg_constraint AS c"
        " JOIN pg_depend AS d ON d.classid = 'pg_constraint'::regclass AND d.objid = c.oid"
        " JOIN pg_proc AS p ON d.refclassid = 'pg_proc'::regclass AND p.oid = d.refobjid"
        " JOIN pg_language AS l ON l.oid = p.prolang"
        " WHERE c.contype = 'c' AND c.connamespace = 'loyalty'::regnamespace AND l.lanname = 'sql'"
    ).fetchall()
    db.commit()
    assert found == []
