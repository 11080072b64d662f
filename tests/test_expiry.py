"""Points expiry (contract "Points expiry"): credits of a program with a points_ttl expire that long
after they were made, OPENING and IMPORT never; spends use the credits that expire soonest first;
the sweep writes off only what is left of overdue credits, beside spends and beside itself; and
verify_points checks that what is left of the credits is the balance. Both kinds of database."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import loyaltydb
from helpers import World, count
from loyaltydb import events

JOHN = 32


def _card_with_ttl(db: psycopg.Connection[Any], world: World, ttl: str = "30 days") -> loyaltydb.EnrollmentResult:
    db.execute("UPDATE loyalty.loyalty_programs SET points_ttl = %s WHERE id = %s", (ttl, world.coffee_club))
    db.commit()
    return loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, JOHN, world.coffee_club))


def _age(db: psycopg.Connection[Any], transaction_id: int | None, days: int) -> None:
    """Make ledger rows (one, or with None all of customer 32's) ``days`` older, as if written
    then. The new times are computed here: Citus refuses a STABLE expression of a column (a
    timestamptz minus an interval) in an UPDATE."""
    rows = db.execute(
        "SELECT customer_id, id, created_at FROM loyalty.point_transactions"
        " WHERE customer_id = 32 AND (%(id)s::bigint IS NULL OR id = %(id)s)",
        {"id": transaction_id},
    ).fetchall()
    for customer, row_id, created in rows:
        db.execute(
            "UPDATE loyalty.point_transactions SET created_at = %s WHERE customer_id = %s AND id = %s",
            (created - timedelta(days=days), customer, row_id),
        )
    db.commit()


def _left(db: psycopg.Connection[Any]) -> list[tuple[str, int, int]]:
    rows = db.execute(
        "SELECT reason::text, points, points - consumed FROM loyalty.point_transactions"
        " WHERE customer_id = 32 AND points > 0 ORDER BY id"
    ).fetchall()
    db.commit()
    return [(str(r), int(p), int(left)) for r, p, left in rows]


@pytest.mark.both_modes
def test_an_overdue_credit_expires_what_is_left_of_it(db: psycopg.Connection[Any], world: World) -> None:
    _card_with_ttl(db, world)
    old = loyaltydb.earn_points(db, JOHN, world.coffee_club, 50, idempotency_key="old")
    loyaltydb.earn_points(db, JOHN, world.coffee_club, 30, idempotency_key="new")
    _age(db, old.transaction_id, 40)
    # A spend uses the credit that expires soonest (the old one) first.
    loyaltydb.spend_points(db, JOHN, world.coffee_club, 20, idempotency_key="s")
    assert _left(db) == [("EARN", 50, 30), ("EARN", 30, 30)]
    events.fetch(db, "test")
    assert loyaltydb.expire_points(db) == 1
    assert loyaltydb.expire_points(db) == 0  # nothing left to expire
    (card,) = loyaltydb.customer_cards(db, JOHN)
    assert card.points_balance == 30  # the 30 left of the old credit expired; the spent 20 did not
    expired = loyaltydb.card_transactions(db, JOHN, world.coffee_club)[0]
    assert (expired.reason, expired.points, expired.balance_after) == ("EXPIRE", -30, 30)
    assert [e.type for e in events.fetch(db, "test")] == ["points.expired"]
    (told, *_) = loyaltydb.customer_notifications(db, JOHN)
    assert told.type == "POINTS_DEDUCTED" and "(they expired)" in told.message
    assert loyaltydb.verify_points(db) == []


@pytest.mark.both_modes
def test_opening_and_imported_points_never_expire(db: psycopg.Connection[Any], world: World) -> None:
    """An enrollment's own points become an OPENING row: never overdue, used last by spends."""
    loyaltydb.ensure_customer(db, JOHN)
    db.execute(
        "INSERT INTO loyalty.program_enrollments (customer_id, program_id, status, current_points)"
        " VALUES (32, %s, 'INACTIVE', 40)",
        (world.coffee_club,),
    )
    db.commit()
    _card_with_ttl(db, world, "1 day")
    earned = loyaltydb.earn_points(db, JOHN, world.coffee_club, 10, idempotency_key="e")
    _age(db, None, 9)
    loyaltydb.spend_points(db, JOHN, world.coffee_club, 15, idempotency_key="s")  # the EARN's 10 first
    assert _left(db) == [("OPENING", 40, 35), ("EARN", 10, 0)]
    assert loyaltydb.expire_points(db) == 0
    assert earned.balance_after == 50 and loyaltydb.customer_cards(db, JOHN)[0].points_balance == 35


def test_the_sweep_never_expires_a_point_spent_beside_it(dsn: str, db: psycopg.Connection[Any], world: World) -> None:
    """A spend holding the card's locks while the sweep comes: the sweep waits, then finds what is
    left after the spend, and expires only that."""
    _card_with_ttl(db, world)
    old = loyaltydb.earn_points(db, JOHN, world.coffee_club, 50, idempotency_key="old")
    loyaltydb.earn_points(db, JOHN, world.coffee_club, 5, idempotency_key="new")
    _age(db, old.transaction_id, 40)
    with psycopg.connect(dsn) as spender:
        with spender.transaction():
            loyaltydb.spend_points(spender, JOHN, world.coffee_club, 45, idempotency_key="s")
            swept: list[int] = []
            sweep = threading.Thread(target=lambda: swept.append(_sweep(dsn)))
            sweep.start()
            sweep.join(timeout=1.5)
            assert sweep.is_alive()  # waiting for the card
        sweep.join(timeout=30)
    assert swept == [1]
    assert loyaltydb.customer_cards(db, JOHN)[0].points_balance == 5
    assert [r.points for r in loyaltydb.card_transactions(db, JOHN, world.coffee_club)][:2] == [-5, -45]
    assert loyaltydb.verify_points(db) == []


def _sweep(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return loyaltydb.expire_points(conn)


def test_two_sweeps_at_once_expire_a_credit_once(dsn: str, db: psycopg.Connection[Any], world: World) -> None:
    _card_with_ttl(db, world)
    for n in range(5):
        earned = loyaltydb.earn_points(db, JOHN, world.coffee_club, 10, idempotency_key=f"e{n}")
        _age(db, earned.transaction_id, 40)
    barrier = threading.Barrier(2)
    results: list[int] = []

    def sweep() -> None:
        with psycopg.connect(dsn) as conn:
            barrier.wait()
            results.append(loyaltydb.expire_points(conn))

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 5
    assert count(db, "SELECT count(*) FROM loyalty.point_transactions WHERE reason = 'EXPIRE'") == 5
    assert loyaltydb.customer_cards(db, JOHN)[0].points_balance == 0
    assert loyaltydb.verify_points(db) == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=st.lists(st.tuples(st.sampled_from(["earn", "spend", "age"]), st.integers(1, 40)), min_size=1, max_size=15)
)
def test_expiry_never_takes_a_point_that_was_spent(
    db: psycopg.Connection[Any], world: World, steps: list[tuple[str, int]]
) -> None:
    """Any earns, spends and ageing, then the sweep: the balance after it is exactly what was left
    of the credits not overdue, recomputed here oldest-first, independently of the database."""
    customer = 7000 + count(db, "SELECT count(*) FROM loyalty.users")
    db.execute("INSERT INTO loyalty.users (id, name) VALUES (%s, 'Ager')", (customer,))
    db.execute("UPDATE loyalty.loyalty_programs SET points_ttl = '10 days' WHERE id = %s", (world.coffee_club,))
    db.commit()
    loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, customer, world.coffee_club))
    credits: list[list[int]] = []  # [points left, age in days], oldest first: the model
    for n, (kind, amount) in enumerate(steps):
        if kind == "earn":
            loyaltydb.earn_points(db, customer, world.coffee_club, amount, idempotency_key=f"p{n}")
            credits.append([amount, 0])
        elif kind == "spend" and sum(c[0] for c in credits) >= amount:
            loyaltydb.spend_points(db, customer, world.coffee_club, amount, idempotency_key=f"p{n}")
            for credit in credits:  # the oldest (soonest to expire) first
                take = min(credit[0], amount)
                credit[0] -= take
                amount -= take
        elif kind == "age":
            db.execute(
                "UPDATE loyalty.point_transactions SET created_at = created_at - make_interval(days => %s)"
                " WHERE customer_id = %s",
                (amount, customer),
            )
            db.commit()
            for credit in credits:
                credit[1] += amount
    loyaltydb.expire_points(db, limit=100)
    (card,) = loyaltydb.customer_cards(db, customer)
    assert card.points_balance == sum(left for left, age in credits if age < 10)
    assert loyaltydb.verify_points(db) == []


@pytest.mark.both_modes
def test_the_sweep_and_the_spends_agree_on_which_credit_is_oldest(db: psycopg.Connection[Any], world: World) -> None:
    """A credit with the later id can be the older one (its transaction started first and took
    the card's lock second): the sweep expires that one, whole, and a second sweep finds nothing
    (it once expired the credit with the lower id instead, then replayed the overdue one's key
    forever, counting it each time)."""
    db.execute("UPDATE loyalty.loyalty_programs SET points_ttl = '10 days' WHERE id = %s", (world.coffee_club,))
    db.commit()
    loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, 32, world.coffee_club))
    recent = loyaltydb.earn_points(db, 32, world.coffee_club, 30, idempotency_key="recent")
    overdue = loyaltydb.earn_points(db, 32, world.coffee_club, 50, idempotency_key="overdue")
    for made, days in ((recent, 5), (overdue, 20)):
        db.execute(
            "UPDATE loyalty.point_transactions SET created_at = now() - make_interval(days => %s)"
            " WHERE customer_id = 32 AND id = %s",
            (days, made.transaction_id),
        )
    db.commit()
    assert loyaltydb.expire_points(db) == 1
    assert loyaltydb.expire_points(db) == 0
    left = dict(
        db.execute(
            "SELECT idempotency_key, points - consumed FROM loyalty.point_transactions"
            " WHERE customer_id = 32 AND reason = 'EARN'"
        ).fetchall()
    )
    assert left == {"recent": 30, "overdue": 0}
    assert loyaltydb.customer_cards(db, 32)[0].points_balance == 30
    # A spend now takes from the credit that expires soonest, whatever its id.
    loyaltydb.spend_points(db, 32, world.coffee_club, 10, idempotency_key="spend")
    assert loyaltydb.verify_points(db) == []
