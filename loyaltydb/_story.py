"""The seed's story as data: a business, its program, and a user who is not a customer yet.

Shared by ``loyaltydb demo`` and ``loyaltydb selfcheck``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import psycopg

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
