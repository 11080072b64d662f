"""Real races: threads with their own connections, released together by a barrier.

Whatever the interleaving, every call succeeds (or loses a decision race with the typed
RequestAlreadyDecided), and the database ends with one customer, one enrollment and one
card per (customer, program); no foreign-key, unique or deadlock error reaches a caller.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import psycopg
import pytest

import loyaltydb
from helpers import World, add_program, add_request, add_user, count, race
from invariants import INVARIANTS, violations
from loyaltydb.errors import RequestAlreadyDecided
from loyaltydb.models import EnrollmentResult

# Every behaviour here holds on one server and on a Citus cluster.
pytestmark = pytest.mark.both_modes

ROUNDS = 5
SESSIONS = 12


Call = Callable[[psycopg.Connection[Any]], EnrollmentResult]


def _approve(request_id: UUID) -> Call:
    return lambda conn: loyaltydb.approve_enrollment(conn, request_id)


def _reject(request_id: UUID) -> Call:
    return lambda conn: loyaltydb.reject_enrollment(conn, request_id)


def _successes(outcomes: list[EnrollmentResult | BaseException]) -> list[EnrollmentResult]:
    """The results, after asserting that no call failed."""
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert not failures, failures
    return [o for o in outcomes if isinstance(o, EnrollmentResult)]


def _one_of_each_per_pair(db: psycopg.Connection[Any]) -> None:
    """Every invariant holds: one enrollment and one card per (customer, program), no card
    without its customer, one CARD_CREATED notification per card."""
    assert violations(db) == dict.fromkeys(INVARIANTS, 0)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_many_sessions_approving_one_request(db: psycopg.Connection[Any], dsn: str, world: World, round_: int) -> None:
    request_id = add_request(db, world.new_user, world.coffee_club)
    outcomes = _successes(race(dsn, [_approve(request_id)] * SESSIONS))
    assert len(set(outcomes)) == 1  # every session returns the very same result
    assert outcomes[0].customer_created is True
    assert count(db, "SELECT count(*) FROM loyalty.customers WHERE id = 32") == 1
    assert count(db, "SELECT count(*) FROM loyalty.loyalty_cards WHERE customer_id = 32") == 1
    _one_of_each_per_pair(db)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_a_new_customers_requests_to_many_programs_approved_at_once(
    db: psycopg.Connection[Any], dsn: str, world: World, round_: int
) -> None:
    programs = [add_program(db, 7 if n % 2 else 8, f"Program {n}") for n in range(SESSIONS)]
    db.commit()
    requests = [add_request(db, world.new_user, program) for program in programs]
    outcomes = _successes(race(dsn, [_approve(request_id) for request_id in requests]))
    assert sum(o.customer_created for o in outcomes) == 1
    assert count(db, "SELECT count(*) FROM loyalty.customers WHERE id = 32") == 1
    assert count(db, "SELECT count(*) FROM loyalty.program_enrollments WHERE customer_id = 32") == SESSIONS
    assert count(db, "SELECT count(*) FROM loyalty.loyalty_cards WHERE customer_id = 32") == SESSIONS
    assert count(db, "SELECT count(*) FROM loyalty.customer_business_relationships WHERE customer_id = 32") == 2
    _one_of_each_per_pair(db)


@pytest.mark.parametrize("user", ["existing_customer", "new_user"])
@pytest.mark.parametrize("round_", range(ROUNDS))
def test_duplicate_requests_for_one_program_approved_at_once(
    db: psycopg.Connection[Any], dsn: str, world: World, user: str, round_: int
) -> None:
    """For an existing customer nothing serialises the sessions on the customer row:
    the unique keys of enrollments and cards must make them converge."""
    user_id = getattr(world, user)
    requests = [add_request(db, user_id, world.coffee_club) for _ in range(SESSIONS)]
    outcomes = _successes(race(dsn, [_approve(request_id) for request_id in requests]))
    assert len({(o.enrollment_id, o.card_id, o.card_number, o.notification_id) for o in outcomes}) == 1
    assert count(db, "SELECT count(*) FROM loyalty.program_enrollments WHERE customer_id = %s", user_id) == 1
    assert count(db, "SELECT count(*) FROM loyalty.loyalty_cards WHERE customer_id = %s", user_id) == 1
    assert count(db, "SELECT count(*) FROM loyalty.customer_approval_requests WHERE status = 'APPROVED'") == SESSIONS
    _one_of_each_per_pair(db)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_approve_racing_reject(db: psycopg.Connection[Any], dsn: str, world: World, round_: int) -> None:
    request_id = add_request(db, world.new_user, world.coffee_club)
    calls = [_approve(request_id), _reject(request_id)] * (SESSIONS // 2)
    outcomes = race(dsn, calls)
    decided = [o for o in outcomes if isinstance(o, EnrollmentResult)]
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert all(isinstance(o, RequestAlreadyDecided) for o in refused), refused
    assert len({o.status for o in decided}) == 1  # one decision won; the same one repeated is a replay
    status = decided[0].status
    assert len(refused) == SESSIONS // 2  # every call of the losing decision was refused
    cards = count(db, "SELECT count(*) FROM loyalty.loyalty_cards WHERE customer_id = 32")
    assert (status, cards) in {("APPROVED", 1), ("REJECTED", 0)}


def test_many_new_customers_at_once_get_distinct_card_numbers(
    db: psycopg.Connection[Any], dsn: str, world: World
) -> None:
    users = range(1000, 1000 + 4 * SESSIONS)
    for user_id in users:
        add_user(db, user_id, None, f"user.{user_id}@example.com")
    db.commit()
    requests = [add_request(db, user_id, world.coffee_club) for user_id in users]
    outcomes = _successes(race(dsn, [_approve(request_id) for request_id in requests]))
    assert len({o.card_number for o in outcomes}) == len(requests)
    _one_of_each_per_pair(db)
