"""Every plpgsql function passes plpgsql_check with no error and no warning."""

from __future__ import annotations

import os
from typing import Any

import psycopg
import pytest


def test_all_plpgsql_functions_pass_plpgsql_check(db: psycopg.Connection[Any]) -> None:
    available = db.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'plpgsql_check'").fetchone()
    if not available:
        if os.environ.get("CI"):
            pytest.fail("plpgsql_check is not installed (Debian: postgresql-15-plpgsql-check)")
        pytest.skip("plpgsql_check is not installed (Debian: postgresql-15-plpgsql-check)")
    db.execute("CREATE EXTENSION plpgsql_check")
    functions = [
        row[0]
        for row in db.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc AS p"
            " JOIN pg_language AS l ON l.oid = p.prolang WHERE l.lanname = 'plpgsql'"
            " AND p.pronamespace = 'loyalty'::regnamespace ORDER BY 1"
        )
    ]
    assert "loyalty.process_enrollment_approval(uuid,boolean)" in functions
    findings = db.execute(
        "SELECT p.oid::regprocedure::text, r.level, r.message, r.lineno"
        "  FROM pg_proc AS p JOIN pg_language AS l ON l.oid = p.prolang,"
        "       plpgsql_check_function_tb(p.oid,"
        # a trigger function is checked against the table of its trigger (_event_xid's is added
        # by `loyaltydb distribute` only: checked against the table it is for)
        "           relid => coalesce((SELECT t.tgrelid FROM pg_trigger AS t WHERE t.tgfoid = p.oid LIMIT 1),"
        "                             CASE WHEN p.oid = 'loyalty._event_xid()'::regprocedure"
        "                                  THEN 'loyalty.events'::regclass END, 0),"
        "           fatal_errors => false, other_warnings => true,"
        "           extra_warnings => true, performance_warnings => true) AS r"
        " WHERE l.lanname = 'plpgsql' AND p.pronamespace = 'loyalty'::regnamespace"
    ).fetchall()
    assert findings == []
