"""``loyaltydb selfcheck``: prove on a live database that approval works, leaving no trace.

Everything happens in one transaction that is rolled back; only sequences advance
(PostgreSQL never rolls those back), which leaves gaps in ids and card numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from . import _story as story
from . import api


@dataclass(frozen=True, slots=True)
class Check:
    """One verified fact: what was checked, whether it held, and what was seen."""

    name: str
    ok: bool
    detail: str


def run(conn: psycopg.Connection[Any], report: Callable[[Check], None] = lambda _: None) -> list[Check]:
    """Run every check in a rolled-back transaction; ``report`` sees each as it completes."""
    checks: list[Check] = []

    def check(name: str, ok: bool, detail: str) -> None:
        checks.append(Check(name, ok, detail))
        report(checks[-1])

    with conn.transaction(force_rollback=True):
        story.require_writer(conn, "selfcheck")
        check("procedure present", True, story.PROCEDURE)

        business_id, user_id = story.unused_user_ids(conn)
        seeded = story.seed(conn, business_id, user_id)
        absent = not story.has_customer_row(conn, user_id)
        check("test user has no customer row yet", absent, f"user {user_id}")

        request_id = api.request_enrollment(conn, user_id, seeded.program_id)
        result = api.approve_enrollment(conn, request_id)
        check("test request approved", result.status == "APPROVED", f"request {request_id}")
        check(
            "customer auto-created",
            result.customer_created and story.has_customer_row(conn, user_id),
            f"customer {result.customer_id}",
        )
        cards = api.customer_cards(conn, user_id)
        card_ok = [card.card_number for card in cards] == [result.card_number]
        check("card issued", card_ok, f"card {result.card_number}")
        row = conn.execute(
            "SELECT message FROM loyalty.customer_notifications WHERE id = %s", (result.notification_id,)
        ).fetchone()
        message = row[0] if row else ""
        named = all(name in message for name in (story.EXPECTED_CUSTOMER_NAME, story.PROGRAM_NAME, story.BUSINESS_NAME))
        check("notification names customer, program and business", named, message)
    return checks
