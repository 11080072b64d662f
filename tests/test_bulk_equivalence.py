"""Bulk approval gives, for any mix, exactly what approving its ids one by one in that order
gives, and never changes the stored outcome of a request decided before the batch.

The property builds a random mix (fresh requests, replays of requests decided earlier,
duplicates for one customer and program, repeated ids, new and existing customers, invitations,
overdue rows, programs with and without welcome points, now and then a request that cannot be
approved), decides it one by one inside a transaction it rolls back, then in bulk, and compares
every field of every result, and what else the decisions wrote: the points ledger, the cards'
balances and what the businesses were told.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, fields
from typing import Any, LiteralString
from uuid import UUID

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import loyaltydb
from helpers import World, add_program, add_request, add_user, snapshot
from loyaltydb.errors import LoyaltyError
from loyaltydb.models import EnrollmentResult

_user_ids = itertools.count(100_000, 10)

# (user, program, state): user 0-3 of the example; program 0-3 (3 is INACTIVE); state of the
# request before the batch.
STATES = ["pending", "pending", "approved", "rejected", "invitation", "overdue"]
REQUESTS = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.sampled_from(STATES)), min_size=1, max_size=8)
#: Welcome points of the three active programs.
POINTS = st.lists(st.sampled_from([0, 0, 15]), min_size=3, max_size=3)
# Users: does each exist, and is it a customer already?
USERS = st.lists(st.sampled_from(["new", "customer", "customer", "new", "missing"]), min_size=4, max_size=4)


#: The fields whose values a batch makes, and the query for the values that exist before it.
MADE_FIELDS = {
    "enrollment_id": "SELECT id FROM loyalty.program_enrollments",
    "card_id": "SELECT id FROM loyalty.loyalty_cards",
    "card_number": "SELECT card_number FROM loyalty.loyalty_cards",
    "notification_id": "SELECT id FROM loyalty.customer_notifications",
}


def _canonical(results: list[EnrollmentResult], known: dict[str, set[object]]) -> list[tuple[object, ...]]:
    """Every field of every result; a value made during the batch (a new id or card number,
    which the rolled-back run and the bulk run draw differently from their sequences) becomes
    'new value #k', k its first appearance, so equal shapes mean equal results."""
    made: dict[tuple[str, object], int] = {}
    rows = []
    for result in results:
        row = []
        for field in fields(result):
            value = getattr(result, field.name)
            if field.name in known and value is not None and value not in known[field.name]:
                value = ("new", made.setdefault((field.name, value), len(made)))
            row.append(value)
        rows.append(tuple(row))
    return rows


def _known_values(db: psycopg.Connection[Any]) -> dict[str, set[object]]:
    known = {name: {row[0] for row in db.execute(sql)} for name, sql in MADE_FIELDS.items()}
    db.commit()
    return known


def _effects(db: psycopg.Connection[Any], base: int) -> list[list[tuple[object, ...]]]:
    """What decisions wrote besides their results, for this example's users: the ledger, the
    cards' balances, and the business's notifications (each with the request it is about)."""
    mine = "customer_id BETWEEN %(low)s AND %(high)s ORDER BY 1, 2, 3, 4, 5"
    queries: list[LiteralString] = [
        "SELECT customer_id, program_id, points, reason, request_id FROM loyalty.point_transactions WHERE " + mine,
        "SELECT customer_id, program_id, points_balance, 0, NULL::uuid FROM loyalty.loyalty_cards WHERE " + mine,
        "SELECT customer_id, business_id, type, message, (data->>'request_id')::uuid"
        " FROM loyalty.customer_notifications WHERE audience = 'BUSINESS' AND type <> 'ENROLLMENT_REQUEST' AND " + mine,
    ]
    return [db.execute(sql, {"low": base, "high": base + 3}).fetchall() for sql in queries]


@dataclass(frozen=True)
class Decided:
    """What deciding a batch one by one gave: the results, and what they wrote (_effects)."""

    results: list[EnrollmentResult]
    effects: list[list[tuple[object, ...]]]


def _one_by_one(db: psycopg.Connection[Any], ids: list[UUID], base: int) -> Decided | tuple[type, str]:
    """Each id approved in turn inside a transaction that is rolled back (the first error stops
    it): the results, and what they wrote."""
    results = []
    with db.transaction(force_rollback=True):
        for request_id in ids:
            try:
                results.append(loyaltydb.approve_enrollment(db, request_id))
            except LoyaltyError as exc:
                return type(exc), str(exc)
        return Decided(results, _effects(db, base))


@settings(max_examples=220, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    users=USERS,
    requests=REQUESTS,
    points=POINTS,
    picks=st.lists(st.integers(0, 7), min_size=1, max_size=10),
    data=st.data(),
)
def test_bulk_equals_one_by_one_for_any_mix(
    db: psycopg.Connection[Any],
    world: World,
    users: list[str],
    requests: list[tuple[int, int, str]],
    points: list[int],
    picks: list[int],
    data: st.DataObject,
) -> None:
    base = next(_user_ids)
    inactive = add_program(db, world.business_id, f"Closed {base}", status="INACTIVE")
    programs = [world.coffee_club, world.tea_club, world.bakery_club, inactive]
    for program, welcome in zip(programs, points, strict=False):
        db.execute("UPDATE loyalty.loyalty_programs SET welcome_points = %s WHERE id = %s", (welcome, program))
    for n, kind in enumerate(users):
        if kind != "missing":
            add_user(db, base + n, None if n % 2 else f"User {n}", f"first.last{n}@example.com")
        if kind == "customer":
            db.execute("INSERT INTO loyalty.customers (id, user_id, name) VALUES (%s, %s, 'Known')", (base + n,) * 2)
    db.commit()
    ids: list[UUID] = []
    invited: set[tuple[int, int]] = set()  # one PENDING invitation per customer and program
    for user, program, state in requests:
        if state == "invitation" and not invited.isdisjoint({(user, program)}):
            state = "pending"
        if state == "invitation":
            invited.add((user, program))
        if programs[program] == inactive or users[user] == "missing":
            state = "pending"  # neither can be decided beforehand; they stay as failures
        request_id = add_request(db, base + user, programs[program])
        if state in ("invitation", "overdue"):
            db.execute(
                "UPDATE loyalty.customer_approval_requests SET kind = %s, expires_at = now() + %s WHERE id = %s",
                (
                    "INVITATION" if state == "invitation" else "REQUEST",
                    "-1 second" if state == "overdue" else "1 day",
                    request_id,
                ),
            )
            db.commit()
        if state == "approved":
            loyaltydb.approve_enrollment(db, request_id)
        elif state == "rejected":
            loyaltydb.reject_enrollment(db, request_id)
        ids.append(request_id)
    batch = [ids[pick % len(ids)] for pick in picks]
    if data.draw(st.booleans().map(lambda b: b and len(batch) > 1), label="unknown id"):
        batch.insert(data.draw(st.integers(0, len(batch) - 1)), UUID(int=base))

    known = _known_values(db)
    decided_before = snapshot(db)
    expected = _one_by_one(db, batch, base)
    assert snapshot(db) == decided_before, "the one-by-one run was not rolled back"

    if not isinstance(expected, Decided):  # one by one stops at an error: bulk raises the same, writes nothing
        with pytest.raises(LoyaltyError) as caught:
            loyaltydb.approve_enrollments(db, batch)
        assert (type(caught.value), str(caught.value)) == expected
        assert snapshot(db) == decided_before
        return

    stored_before = {rid: loyaltydb.approve_enrollment(db, rid) for rid in set(batch) if _is_approved(db, rid)}
    results = loyaltydb.approve_enrollments(db, batch)
    assert _canonical(results, known) == _canonical(expected.results, known)
    assert _effects(db, base) == expected.effects
    db.commit()
    # Replays return their stored outcome untouched, and every request now replays its result.
    for request_id, before in stored_before.items():
        assert loyaltydb.approve_enrollment(db, request_id) == before
    for result in results:
        assert loyaltydb.approve_enrollment(db, result.request_id) == result


def _is_approved(db: psycopg.Connection[Any], request_id: UUID) -> bool:
    row = db.execute("SELECT status FROM loyalty.customer_approval_requests WHERE id = %s", (request_id,)).fetchone()
    db.commit()
    return row is not None and row[0] == "APPROVED"


def test_a_batch_never_rewrites_an_earlier_decision(db: psycopg.Connection[Any], world: World) -> None:
    """The reported defect: customer 32's request A is approved alone (customer created), then
    a batch [B, A] must not move 'customer_created' from A to B."""
    first = add_request(db, world.new_user, world.coffee_club)
    second = add_request(db, world.new_user, world.tea_club)
    alone = loyaltydb.approve_enrollment(db, first)
    assert alone.customer_created
    batch = loyaltydb.approve_enrollments(db, [second, first])
    assert [r.customer_created for r in batch] == [False, True]
    assert batch[1] == alone
    assert loyaltydb.approve_enrollment(db, first) == alone
