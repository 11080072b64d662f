"""``loyaltydb demo``: the seed's story, played on a throwaway server (or rolled back).

User 32 has no customer row, asks to join a program, and the business approves: the
approval creates the customer, the enrollment, the card and a notification.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

from . import _story as story
from . import api
from ._dsn import connect
from .migrations import migrate
from .testing import TempServer

Print = Callable[[str], None]


def play(conn: psycopg.Connection[Any], business_id: int, user_id: int, say: Print) -> None:
    """Play the story on a migrated database, inside the caller's transaction."""
    seeded = story.seed(conn, business_id, user_id)
    say(f"Business {story.BUSINESS_NAME} (user {business_id}) runs the program {story.PROGRAM_NAME}.")
    say(
        f"User {user_id} <{story.USER_EMAIL}> has no name and no customer row: "
        f"customer row exists = {story.has_customer_row(conn, user_id)}."
    )

    request_id = api.request_enrollment(conn, user_id, seeded.program_id)
    say(f"User {user_id} asks to join {story.PROGRAM_NAME}: request {request_id} is PENDING.")

    result = api.approve_enrollment(conn, request_id)
    say(f"{story.BUSINESS_NAME} approves it, in one transaction:")
    customer = api.ensure_customer(conn, user_id)
    say(f"  customer      {customer.id} {customer.name!r} <{customer.email}> (auto-created: {result.customer_created})")
    for card in api.customer_cards(conn, user_id):
        say(f"  card          {card.card_number} for {card.program_name} at {card.business_name}, {card.status}")
    row = conn.execute(
        "SELECT type, title, message FROM loyalty.customer_notifications WHERE id = %s", (result.notification_id,)
    ).fetchone()
    if row:
        say(f"  notification  [{row[0]}] {row[1]}: {row[2]}")
    again = api.approve_enrollment(conn, request_id)
    say(f"Approving the same request again changes nothing and returns the same result: {again == result}.")


def run(conninfo: str | None, say: Print = print) -> None:
    """With a DSN: play in a rolled-back transaction there. Without: on a throwaway server."""
    if conninfo is not None:
        with connect(conninfo, autocommit=True) as conn, conn.transaction(force_rollback=True):
            story.require_writer(conn, "demo")
            business_id, user_id = story.unused_user_ids(conn)
            say("Playing the story in a transaction that is rolled back at the end.")
            play(conn, business_id, user_id, say)
        return
    say("Starting a throwaway PostgreSQL server...")
    with TempServer() as server:
        applied = migrate(server.conninfo())
        say(f"Migrated: {', '.join(applied)}.")
        with connect(server.conninfo(), autocommit=True) as conn:
            play(conn, business_id=7, user_id=32, say=say)
    say("Server stopped and deleted.")
