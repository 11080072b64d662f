"""The seed's story as data: a business, its program, and a user who is not a customer yet.

Shared by ``loyaltydb demo`` and ``loyaltydb selfcheck``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import psycopg

from .errors import NotMigrated, PermissionDenied, SingleServerOnly

#: What a migrated database has: the contract's entry point.
PROCEDURE = "loyalty.process_enrollment_approval(uuid,boolean)"
BUSINESS_NAME = "Bean There Coffee"
PROGRAM_NAME = "Coffee Club"
USER_EMAIL = "john.smith@example.com"
#: What the name derivation makes of USER_EMAIL for a user with no name.
EXPECTED_CUSTOMER_NAME = "John Smith"


@dataclass(frozen=True, slots=True)
class Story:
    """The ids of the story's rows."""

    business_id: int
    user_id: int
    program_id: int


def require_writer(conn: psycopg.Connection[Any], command: str) -> None:
    """Before the story writes anything: the database is migrated, and this role may insert the
    story's rows directly (``loyalty_app`` may only call the API)."""
    row = conn.execute("SELECT to_regprocedure(%s) IS NOT NULL", (PROCEDURE,)).fetchone()
    if not (row and row[0]):
        raise NotMigrated(f"this database is not migrated (run 'loyaltydb migrate'): {PROCEDURE} is missing")
    row = conn.execute("SELECT to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL").fetchone()
    if row and row[0] and _distributed(conn):
        raise SingleServerOnly(
            f"{command} runs on one server only: it plays in one rolled-back transaction that mixes direct"
            " inserts with API calls, which a Citus cluster refuses (use it before `loyaltydb distribute`)"
        )
    row = conn.execute(
        "SELECT current_user, has_table_privilege('loyalty.users', 'INSERT')"
        " AND has_table_privilege('loyalty.loyalty_programs', 'INSERT')"
    ).fetchone()
    if row is not None and not row[1]:
        raise PermissionDenied(
            f"{command} inserts a test business, program and user into loyalty's tables, which role {row[0]}"
            " may not: run it as a superuser or a member of loyalty_owner (loyalty_app may only call the API)"
        )


def _distributed(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute(
        "SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition WHERE logicalrelid = 'loyalty.users'::regclass)"
    ).fetchone()
    return bool(row and row[0])


def unused_user_ids(conn: psycopg.Connection[Any]) -> tuple[int, int]:
    """Two user ids that no user has: random, far below zero (no application id is there),
    and checked, so any ids the table holds (even -2**63) are fine."""
    while True:
        candidates = random.sample(range(-(2**62), -(2**32)), 2)
        row = conn.execute("SELECT count(*) FROM loyalty.users WHERE id = ANY (%s)", (candidates,)).fetchone()
        if row is not None and row[0] == 0:
            return candidates[0], candidates[1]


def seed(conn: psycopg.Connection[Any], business_id: int, user_id: int) -> Story:
    """Insert the business, its ACTIVE program, and a nameless user with no customer row."""
    conn.execute(
        "INSERT INTO loyalty.users (id, name, email) VALUES (%s, %s, NULL), (%s, NULL, %s)",
        (business_id, BUSINESS_NAME, user_id, USER_EMAIL),
    )
    row = conn.execute(
        "INSERT INTO loyalty.loyalty_programs (business_id, name) VALUES (%s, %s) RETURNING id",
        (business_id, PROGRAM_NAME),
    ).fetchone()
    assert row is not None
    return Story(business_id=business_id, user_id=user_id, program_id=row[0])


def has_customer_row(conn: psycopg.Connection[Any], user_id: int) -> bool:
    return conn.execute("SELECT 1 FROM loyalty.customers WHERE id = %s", (user_id,)).fetchone() is not None
