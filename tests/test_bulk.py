"""Bulk approval: the same results as one by one in that order, atomic, safe under races."""

from __future__ import annotations

import asyncio
import functools
import random
from typing import Any
from uuid import UUID

import psycopg
import pytest

import loyaltydb
from helpers import World, add_program, add_request, add_user, count, luhn_valid, race, snapshot
from loyaltydb import aio, retry
from loyaltydb.errors import InvalidInput, NotAuthorized, RequestAlreadyDecided, RequestNotFound, UserNotFound
from loyaltydb.models import EnrollmentResult

# Every behaviour here holds on one server and on a Citus cluster.
pytestmark = pytest.mark.both_modes

MIRROR = 1000  # the one-by-one side's users are the batch side's plus this


def _scenario(db: psycopg.Connection[Any], world: World, offset: int) -> list[UUID]:
    """Requests in order: a new customer's three programs (one twice), an existing customer's
    duplicate pair, the same id twice, and a request approved before the batch."""
    if offset:
        add_user(db, 32 + offset, None, "john.smith@example.com")
        add_user(db, 40 + offset, "Ada Lovelace", "ada@example.com")
        db.execute("INSERT INTO loyalty.customers (id, user_id, name) VALUES (%s, %s, 'Ada L.')", (40 + offset,) * 2)
        db.commit()
    new, old = world.new_user + offset, world.existing_customer + offset
    earlier = add_request(db, old, world.tea_club)
    loyaltydb.approve_enrollment(db, earlier)
    # The new customer's first request is for business 8, which a batch decides after business 7.
    pairs = [(new, world.bakery_club), (new, world.coffee_club), (new, world.bakery_club), (old, world.coffee_club),
             (old, world.coffee_club), (new, world.tea_club)]  # fmt: skip
    ids = [add_request(db, user, program) for user, program in pairs]
    return [*ids, ids[1], earlier]


def _shape(results: list[EnrollmentResult]) -> list[tuple[object, ...]]:
    """Results with ids replaced by 'the same as item k', so two runs can be compared."""

    def first(attribute: str, value: object) -> int | None:
        if value is None:
            return None
        return next(n for n, r in enumerate(results) if getattr(r, attribute) == value)

    return [
        (r.status, r.customer_id % MIRROR, r.program_id, r.customer_created, first("enrollment_id", r.enrollment_id),
         first("card_id", r.card_id), first("notification_id", r.notification_id), luhn_valid(r.card_number or "0"))
        for r in results
    ]  # fmt: skip


def test_a_batch_gives_the_results_of_one_by_one_in_that_order(db: psycopg.Connection[Any], world: World) -> None:
    batch_ids = _scenario(db, world, offset=0)
    single_ids = _scenario(db, world, offset=MIRROR)
    batch = loyaltydb.approve_enrollments(db, batch_ids)
    singles = [loyaltydb.approve_enrollment(db, request_id) for request_id in single_ids]
    assert [r.request_id for r in batch] == batch_ids
    assert _shape(batch) == _shape(singles)
    assert batch[1] == batch[-2]  # the repeated id replays its own result
    assert [r.customer_created for r in batch][:3] == [True, False, False]
    assert loyaltydb.approve_enrollment(db, batch_ids[0]) == batch[0]  # the kept outcome agrees
    assert count(db, "SELECT count(*) FROM loyalty.loyalty_cards WHERE customer_id IN (32, 40)") == 5


def test_an_empty_batch_returns_nothing(db: psycopg.Connection[Any]) -> None:
    assert loyaltydb.approve_enrollments(db, []) == []


@pytest.mark.parametrize("bad", ["rejected", "unknown", "missing user", "malformed", "null"])
def test_a_batch_with_a_bad_request_raises_its_error_and_writes_nothing(
    db: psycopg.Connection[Any], world: World, bad: str
) -> None:
    good = [add_request(db, world.new_user, world.coffee_club), add_request(db, 40, world.tea_club)]
    culprit: Any
    if bad == "rejected":
        culprit = add_request(db, world.new_user, world.tea_club)
        loyaltydb.reject_enrollment(db, culprit)
    else:
        culprit = {"unknown": UUID(int=7), "missing user": add_request(db, 999, world.coffee_club),
                   "malformed": "not-a-uuid", "null": None}[bad]  # fmt: skip
    expected = {"rejected": RequestAlreadyDecided, "unknown": RequestNotFound, "missing user": UserNotFound,
                "malformed": InvalidInput, "null": InvalidInput}[bad]  # fmt: skip
    before = snapshot(db)
    with pytest.raises(expected):
        loyaltydb.approve_enrollments(db, [good[0], culprit, good[1]])
    assert snapshot(db) == before
    assert loyaltydb.approve_enrollments(db, good)[1].status == "APPROVED"  # the connection is usable


def test_a_business_can_bulk_approve_only_its_own_requests(db: psycopg.Connection[Any], world: World) -> None:
    mine = [add_request(db, world.new_user, world.coffee_club), add_request(db, 40, world.tea_club)]
    theirs = add_request(db, world.new_user, world.bakery_club)
    before = snapshot(db)
    with pytest.raises(NotAuthorized):
        loyaltydb.approve_enrollments(db, [*mine, theirs], business_id=world.business_id)
    assert snapshot(db) == before
    results = loyaltydb.approve_enrollments(db, mine, business_id=world.business_id)
    assert [r.status for r in results] == ["APPROVED", "APPROVED"]


def test_aio_bulk_approval(dsn: str, db: psycopg.Connection[Any], world: World) -> None:
    ids = [add_request(db, world.new_user, world.coffee_club), add_request(db, world.new_user, world.tea_club)]

    async def scenario() -> list[EnrollmentResult]:
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            return await aio.approve_enrollments(conn, ids)

    results = asyncio.run(scenario())
    assert [r.customer_created for r in results] == [True, False]
    assert loyaltydb.approve_enrollments(db, ids) == results


@pytest.mark.parametrize("round_", range(5))
def test_batches_racing_singles_and_each_other(
    db: psycopg.Connection[Any], dsn: str, world: World, round_: int, mode: str
) -> None:
    """Overlapping batches in opposite orders and single approvals of the same customers'
    requests: no deadlock or unique error reaches anyone; one card per (customer, program)."""
    users = [2000 + n for n in range(6)]
    for user in users:
        add_user(db, user, None, f"racer.{user}@example.com")
    programs = [add_program(db, 7 if n % 2 else 8, f"Race {n}") for n in range(4)]
    db.commit()
    # The two batches share customers (and businesses) but no request; the singles duplicate
    # requests of the first batch.
    first = [add_request(db, user, program) for user in users for program in programs[:2]]
    second = [add_request(db, user, program) for user in users for program in programs[2:]][::-1]
    duplicates = [add_request(db, user, programs[0]) for user in users]
    requests = first + second + duplicates
    calls: list[Any] = [
        functools.partial(loyaltydb.approve_enrollments, request_ids=first),
        functools.partial(loyaltydb.approve_enrollments, request_ids=second),
    ]
    calls += [functools.partial(loyaltydb.approve_enrollment, request_id=rid) for rid in duplicates]
    retries_before = retry.retries()
    outcomes = race(dsn, calls)
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert not failures, failures
    # On a cluster too (0018): requests locked in id order, then decided in key order.
    assert retry.retries() == retries_before, "a deadlock or serialization failure needed a retry"
    assert count(db, "SELECT count(*) FROM loyalty.customer_approval_requests WHERE status = 'APPROVED'") == len(
        requests
    )
    assert count(db, "SELECT count(*) FROM loyalty.loyalty_cards WHERE customer_id >= 2000") == len(first + second)
    assert count(db, "SELECT count(*) FROM loyalty.customers WHERE id >= 2000") == len(users)


def test_a_batch_numbers_its_cards_like_single_approvals(db: psycopg.Connection[Any], world: World, mode: str) -> None:
    """The customer's card count plus the card's rank, in program order (one server: 0015, set-based;
    a cluster decides one by one in (customer, business, program) order since 0018)."""
    # An explicit number: on a cluster the column default (the coordinator's sequence) fails.
    db.execute("INSERT INTO loyalty.loyalty_cards (customer_id, program_id, business_id, card_number)"
               " VALUES (40, %s, 8, '1' || repeat('0', 14) || loyalty._luhn_check_digit('1' || repeat('0', 14)))",
               (world.bakery_club,))  # fmt: skip
    db.commit()
    results = loyaltydb.approve_enrollments(
        db,
        [add_request(db, 32, world.tea_club), add_request(db, 32, world.coffee_club),
         add_request(db, 40, world.coffee_club)],
    )  # fmt: skip
    numbers = [r.card_number or "" for r in results]
    assert [n[:15] for n in numbers] == ["900000000320002", "900000000320001", "900000000400002"]
    assert all(luhn_valid(n) for n in numbers)


def test_a_request_id_that_names_another_customer_is_refused_at_the_door(
    db: psycopg.Connection[Any], world: World
) -> None:
    """An imported row whose UUIDv8 id carries customer 40 but whose row says 32 could not be
    decided singly (routed to 40) while bulk approved it: 0018 refuses such a row."""
    carrying_40 = loyaltydb.request_enrollment(db, world.existing_customer, world.tea_club)
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute(
            "INSERT INTO loyalty.customer_approval_requests (id, customer_id, program_id, business_id)"
            " VALUES (%s::uuid, 32, %s, 7)",
            (str(carrying_40)[:-4] + "ffff", world.coffee_club),
        )
    db.rollback()


def test_eight_batches_over_the_same_customers_need_no_retry(
    db: psycopg.Connection[Any], dsn: str, world: World
) -> None:
    """8 concurrent batches, each of every customer's request to its own program, in shuffled
    orders: on a cluster 7 of 64 such batches had failed after 5 attempts (issue 15)."""
    users = [3000 + n for n in range(8)]
    for user in users:
        add_user(db, user, None, f"batch.{user}@example.com")
    programs = [add_program(db, 7 if n % 2 else 8, f"Batch {n}") for n in range(8)]
    db.commit()
    shuffler = random.Random(15)
    batches = []
    for program in programs:
        ids = [add_request(db, user, program) for user in users]
        shuffler.shuffle(ids)
        batches.append(ids)
    retries_before = retry.retries()
    outcomes = race(dsn, [functools.partial(loyaltydb.approve_enrollments, request_ids=ids) for ids in batches])
    assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes
    assert retry.retries() == retries_before
    assert count(db, "SELECT count(*) FROM loyalty.loyalty_cards WHERE customer_id >= 3000") == 64
