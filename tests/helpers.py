"""Plain helpers shared by the tests: seeding rows, snapshots, running real races."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

import psycopg

T = TypeVar("T")

#: The columns of loyalty.process_enrollment_approval's row, in the contract's order.
RESULT_FIELDS = [
    "request_id",
    "status",
    "customer_id",
    "program_id",
    "enrollment_id",
    "card_id",
    "card_number",
    "customer_created",
    "notification_id",
]


def loyalty_tables(conn: psycopg.Connection[Any]) -> list[str]:
    """The loyalty schema's tables, read from the catalog: the migrations are the one source."""
    rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'loyalty' ORDER BY 1").fetchall()
    conn.commit()
    return [row[0] for row in rows]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower())[-40:]


@dataclass(frozen=True)
class World:
    business_id: int
    coffee_club: int
    tea_club: int
    other_business_id: int
    bakery_club: int
    new_user: int
    existing_customer: int


def add_user(conn: psycopg.Connection[Any], user_id: int, name: str | None, email: str | None) -> None:
    conn.execute("INSERT INTO loyalty.users (id, name, email) VALUES (%s, %s, %s)", (user_id, name, email))


def add_program(conn: psycopg.Connection[Any], business_id: int, name: str, status: str = "ACTIVE") -> int:
    # On a cluster no trigger registers the business (README "Scaling out"); on one server this
    # only repeats what the trigger does. In a transaction of its own: on a cluster, rows that
    # register_business (which runs as loyalty_owner) wrote cannot be read in the same
    # transaction by another role, and the other way round.
    conn.commit()
    conn.execute("SELECT loyalty.register_business(%s)", (business_id,))
    conn.commit()
    row = conn.execute(
        "INSERT INTO loyalty.loyalty_programs (business_id, name, status) VALUES (%s, %s, %s) RETURNING id",
        (business_id, name, status),
    ).fetchone()
    assert row is not None
    return int(row[0])


def add_request(conn: psycopg.Connection[Any], user_id: int, program_id: int) -> UUID:
    """A PENDING request inserted directly, as legacy code would (no existence checks)."""
    row = conn.execute(
        "INSERT INTO loyalty.customer_approval_requests (customer_id, program_id, business_id)"
        " SELECT %s, id, business_id FROM loyalty.loyalty_programs WHERE id = %s RETURNING id",
        (user_id, program_id),
    ).fetchone()
    assert row is not None
    conn.commit()
    return UUID(str(row[0]))


def build_world(conn: psycopg.Connection[Any]) -> World:
    add_user(conn, 7, "Bean There Coffee", "hello@beanthere.example")
    add_user(conn, 8, None, "owner@crumbs.example")
    add_user(conn, 32, None, "john.smith@example.com")
    add_user(conn, 40, "Ada Lovelace", "ada@example.com")
    conn.execute(
        "INSERT INTO loyalty.customers (id, user_id, name, email) VALUES (40, 40, 'Ada L.', 'ada@example.com')"
    )
    world = World(
        business_id=7,
        coffee_club=add_program(conn, 7, "Coffee Club"),
        tea_club=add_program(conn, 7, "Tea Club"),
        other_business_id=8,
        bakery_club=add_program(conn, 8, "Bakery Club"),
        new_user=32,
        existing_customer=40,
    )
    conn.commit()
    return world


def snapshot(conn: psycopg.Connection[Any]) -> dict[str, str]:
    """A digest of every row of every loyalty table: equal snapshots mean nothing was written."""
    digests = {}
    for table in loyalty_tables(conn):
        row = conn.execute(
            f"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '')"
            f" FROM loyalty.{table} AS t"
        ).fetchone()
        assert row is not None
        digests[table] = row[0]
    conn.commit()
    return digests


def count(conn: psycopg.Connection[Any], sql: str, *params: object) -> int:
    row = conn.execute(sql, params).fetchone()
    conn.commit()
    assert row is not None
    return int(row[0])


def luhn_valid(number: str) -> bool:
    """An independent Luhn check, to hold the SQL implementation to account."""
    if not number.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def race(dsn: str, calls: list[Callable[[psycopg.Connection[Any]], T]]) -> list[T | BaseException]:
    """Run each call in its own thread and connection, released together by a barrier."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[T | BaseException] = [RuntimeError("did not run")] * len(calls)
    connections = [psycopg.connect(dsn) for _ in calls]

    def worker(index: int) -> None:
        barrier.wait()
        try:
            outcomes[index] = calls[index](connections[index])
        except BaseException as exc:  # noqa: BLE001 - the test inspects every outcome
            outcomes[index] = exc

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for conn in connections:
        conn.close()
    return outcomes


def wait_until_blocked(conn: psycopg.Connection[Any], application_name: str, timeout: float = 30) -> None:
    """Wait until the backend named ``application_name`` waits on a lock."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'",
            (application_name,),
        ).fetchone()
        conn.commit()
        if row and row[0]:
            return
        time.sleep(0.02)
    raise AssertionError(f"{application_name} never blocked on a lock")
