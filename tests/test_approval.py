"""Approving and rejecting join requests: the behaviour section of the contract."""

from __future__ import annotations

import re
import uuid
from typing import Any

import psycopg
import pytest

import loyaltydb
from helpers import World, add_request, count, luhn_valid, snapshot
from loyaltydb.errors import (
    InvalidInput,
    ProgramNotActive,
    ProgramNotFound,
    RequestAlreadyDecided,
    RequestNotFound,
    UserNotFound,
)

# Every behaviour here holds on one server and on a Citus cluster.
pytestmark = pytest.mark.both_modes


def _row(conn: psycopg.Connection[Any], sql: str, *params: object) -> tuple[Any, ...]:
    row = conn.execute(sql, params).fetchone()
    conn.commit()
    assert row is not None, sql
    return tuple(row)


def test_approval_creates_everything_a_new_customer_needs(db: psycopg.Connection[Any], world: World) -> None:
    request_id = loyaltydb.request_enrollment(db, world.new_user, world.coffee_club)
    assert count(db, "SELECT count(*) FROM loyalty.customers WHERE id = 32") == 0

    result = loyaltydb.approve_enrollment(db, request_id)

    assert (result.request_id, result.status, result.customer_id, result.program_id) == (
        request_id,
        "APPROVED",
        32,
        world.coffee_club,
    )
    assert result.customer_created is True
    assert _row(db, "SELECT name, email FROM loyalty.customers WHERE id = 32") == (
        "John Smith",
        "john.smith@example.com",
    )
    assert _row(
        db,
        "SELECT id, status FROM loyalty.program_enrollments WHERE customer_id = 32 AND program_id = %s",
        world.coffee_club,
    ) == (result.enrollment_id, "ACTIVE")
    assert _row(
        db, "SELECT id, card_number, status, business_id FROM loyalty.loyalty_cards WHERE customer_id = 32"
    ) == (result.card_id, result.card_number, "ACTIVE", world.business_id)
    assert result.card_number is not None and luhn_valid(result.card_number)
    assert _row(
        db, "SELECT status FROM loyalty.customer_business_relationships WHERE customer_id = 32 AND business_id = 7"
    ) == ("ACTIVE",)
    status, response_at = _row(
        db, "SELECT status, response_at FROM loyalty.customer_approval_requests WHERE id = %s", request_id
    )
    assert status == "APPROVED" and response_at is not None
    assert _row(
        db,
        "SELECT n.action_taken FROM loyalty.customer_notifications AS n"
        " JOIN loyalty.customer_approval_requests AS r ON r.customer_id = n.customer_id AND r.notification_id = n.id"
        " WHERE r.id = %s",
        request_id,
    ) == (True,)


def test_the_card_created_notification_names_people_and_programs_by_name(
    db: psycopg.Connection[Any], world: World
) -> None:
    result = loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, world.new_user, world.coffee_club))
    kind, title, message, data, customer_id, business_id = _row(
        db,
        "SELECT type, title, message, data, customer_id, business_id FROM loyalty.customer_notifications WHERE id = %s",
        result.notification_id,
    )
    assert (kind, customer_id, business_id) == ("CARD_CREATED", 32, 7)
    text = f"{title} {message}"
    for name in ("John Smith", "Coffee Club", "Bean There Coffee"):
        assert name in message
    assert "Coffee Club" in title
    assert not re.search(r"\d", text), f"a number in the notification text: {text!r}"
    assert data["customer_name"] == "John Smith"
    assert data["program_name"] == "Coffee Club"
    assert data["business_name"] == "Bean There Coffee"
    assert count(db, "SELECT count(*) FROM loyalty.customer_notifications WHERE type = 'CARD_CREATED'") == 1


def test_a_business_without_a_name_is_named_from_its_email(db: psycopg.Connection[Any], world: World) -> None:
    result = loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, world.new_user, world.bakery_club))
    (message,) = _row(db, "SELECT message FROM loyalty.customer_notifications WHERE id = %s", result.notification_id)
    assert "Owner" in message and "Bakery Club" in message


def test_an_existing_customer_is_reused_not_recreated(db: psycopg.Connection[Any], world: World) -> None:
    result = loyaltydb.approve_enrollment(db, add_request(db, world.existing_customer, world.coffee_club))
    assert result.customer_created is False
    assert _row(db, "SELECT name FROM loyalty.customers WHERE id = 40") == ("Ada L.",)
    assert count(db, "SELECT count(*) FROM loyalty.customers") == 1


def test_approving_an_approved_request_changes_nothing_and_returns_the_same_result(
    db: psycopg.Connection[Any], world: World
) -> None:
    request_id = add_request(db, world.new_user, world.coffee_club)
    first = loyaltydb.approve_enrollment(db, request_id)
    before = snapshot(db)
    again = loyaltydb.approve_enrollment(db, request_id)
    assert again == first
    assert snapshot(db) == before


def test_approving_a_rejected_request_raises_request_already_decided(db: psycopg.Connection[Any], world: World) -> None:
    request_id = add_request(db, world.new_user, world.coffee_club)
    loyaltydb.reject_enrollment(db, request_id)
    before = snapshot(db)
    with pytest.raises(RequestAlreadyDecided, match="already REJECTED"):
        loyaltydb.approve_enrollment(db, request_id)
    assert snapshot(db) == before


def test_rejecting_an_approved_request_raises_request_already_decided(
    db: psycopg.Connection[Any], world: World
) -> None:
    request_id = add_request(db, world.new_user, world.coffee_club)
    loyaltydb.approve_enrollment(db, request_id)
    before = snapshot(db)
    with pytest.raises(RequestAlreadyDecided, match="already APPROVED"):
        loyaltydb.reject_enrollment(db, request_id)
    assert snapshot(db) == before


def test_rejection_creates_no_customer_and_no_card(db: psycopg.Connection[Any], world: World) -> None:
    request_id = loyaltydb.request_enrollment(db, world.new_user, world.coffee_club)
    result = loyaltydb.reject_enrollment(db, request_id, reason="The club is full")
    assert (result.status, result.enrollment_id, result.card_id, result.card_number, result.customer_created) == (
        "REJECTED",
        None,
        None,
        None,
        False,
    )
    for table in ("customers", "program_enrollments", "loyalty_cards", "customer_business_relationships"):
        assert (
            count(
                db,
                f"SELECT count(*) FROM loyalty.{table} WHERE customer_id = 32"
                if table != "customers"
                else "SELECT count(*) FROM loyalty.customers WHERE id = 32",
            )
            == 0
        )
    assert _row(
        db, "SELECT status, rejection_reason FROM loyalty.customer_approval_requests WHERE id = %s", request_id
    ) == ("REJECTED", "The club is full")
    kind, message = _row(
        db, "SELECT type, message FROM loyalty.customer_notifications WHERE id = %s", result.notification_id
    )
    assert kind == "ENROLLMENT_REJECTED"
    assert all(name in message for name in ("John Smith", "Coffee Club", "Bean There Coffee", "The club is full"))
    assert loyaltydb.reject_enrollment(db, request_id) == result


def test_rejecting_a_members_duplicate_request_says_it_was_closed_not_sorry(
    db: psycopg.Connection[Any], world: World
) -> None:
    """A customer enrolled in the program is not told the business turned them down."""
    first = loyaltydb.request_enrollment(db, world.new_user, world.coffee_club)
    duplicate = loyaltydb.request_enrollment(db, world.new_user, world.coffee_club)
    loyaltydb.approve_enrollment(db, first)
    result = loyaltydb.reject_enrollment(db, duplicate, reason="already in")
    assert (result.status, result.card_id) == ("REJECTED", None)
    kind, message = _row(
        db, "SELECT type, message FROM loyalty.customer_notifications WHERE id = %s", result.notification_id
    )
    assert kind == "ENROLLMENT_REQUEST_CLOSED"
    assert "already a member of Coffee Club at Bean There Coffee" in message and "Sorry" not in message
    # Another program of the same business: not a member there, so the usual rejection.
    other = loyaltydb.reject_enrollment(db, loyaltydb.request_enrollment(db, world.new_user, world.tea_club))
    assert _row(db, "SELECT type FROM loyalty.customer_notifications WHERE id = %s", other.notification_id) == (
        "ENROLLMENT_REJECTED",
    )


def test_a_missing_user_raises_user_not_found_and_leaves_the_request_pending(
    db: psycopg.Connection[Any], world: World
) -> None:
    request_id = add_request(db, 999, world.coffee_club)
    before = snapshot(db)
    with pytest.raises(UserNotFound) as caught:
        loyaltydb.approve_enrollment(db, request_id)
    assert str(caught.value) == "User not found for customer_id: 999. Cannot create customer record."
    assert snapshot(db) == before
    assert _row(db, "SELECT status FROM loyalty.customer_approval_requests WHERE id = %s", request_id) == ("PENDING",)


def test_an_inactive_program_cannot_be_joined(db: psycopg.Connection[Any], world: World) -> None:
    request_id = add_request(db, world.new_user, world.coffee_club)
    db.execute("UPDATE loyalty.loyalty_programs SET status = 'INACTIVE' WHERE id = %s", (world.coffee_club,))
    db.commit()
    before = snapshot(db)
    with pytest.raises(ProgramNotActive, match="Coffee Club"):
        loyaltydb.approve_enrollment(db, request_id)
    assert snapshot(db) == before
    with pytest.raises(ProgramNotActive):
        loyaltydb.request_enrollment(db, world.new_user, world.coffee_club)


def test_unknown_and_malformed_request_ids(db: psycopg.Connection[Any], world: World) -> None:
    with pytest.raises(RequestNotFound, match="not found"):
        loyaltydb.approve_enrollment(db, uuid.uuid4())
    with pytest.raises(InvalidInput, match="uuid"):
        loyaltydb.approve_enrollment(db, "not-a-uuid")
    with pytest.raises(InvalidInput, match="request id must not be None"):
        loyaltydb.approve_enrollment(db, None)  # type: ignore[arg-type]
    assert db.execute("SELECT 1").fetchone() == (1,)


def test_a_returning_customer_gets_the_enrollment_and_card_reactivated(
    db: psycopg.Connection[Any], world: World
) -> None:
    first = loyaltydb.approve_enrollment(db, add_request(db, world.new_user, world.coffee_club))
    for table in ("program_enrollments", "loyalty_cards", "customer_business_relationships"):
        db.execute(f"UPDATE loyalty.{table} SET status = 'INACTIVE' WHERE customer_id = 32")
    db.commit()
    second = loyaltydb.approve_enrollment(db, add_request(db, world.new_user, world.coffee_club))
    assert (second.enrollment_id, second.card_id, second.card_number) == (
        first.enrollment_id,
        first.card_id,
        first.card_number,
    )
    assert second.customer_created is False
    assert second.notification_id == first.notification_id  # one CARD_CREATED notification per card
    for table in ("program_enrollments", "loyalty_cards", "customer_business_relationships"):
        assert _row(db, f"SELECT status FROM loyalty.{table} WHERE customer_id = 32") == ("ACTIVE",)


def test_request_enrollment_records_a_pending_request_and_a_notification_to_act_on(
    db: psycopg.Connection[Any], world: World
) -> None:
    request_id = loyaltydb.request_enrollment(db, world.new_user, world.tea_club)
    assert isinstance(request_id, uuid.UUID)
    status, business_id, notification_id = _row(
        db,
        "SELECT status, business_id, notification_id FROM loyalty.customer_approval_requests WHERE id = %s",
        request_id,
    )
    assert (status, business_id) == ("PENDING", world.business_id)
    kind, requires_action, action_taken, title = _row(
        db,
        "SELECT type, requires_action, action_taken, title FROM loyalty.customer_notifications WHERE id = %s",
        notification_id,
    )
    assert (kind, requires_action, action_taken) == ("ENROLLMENT_REQUEST", True, False)
    assert title == "John Smith wants to join Tea Club"


def test_request_enrollment_refuses_unknown_users_and_programs(db: psycopg.Connection[Any], world: World) -> None:
    before = snapshot(db)
    with pytest.raises(UserNotFound):
        loyaltydb.request_enrollment(db, 999, world.coffee_club)
    with pytest.raises(ProgramNotFound):
        loyaltydb.request_enrollment(db, world.new_user, 999)
    assert snapshot(db) == before


def test_customer_cards_lists_cards_with_program_and_business_names(db: psycopg.Connection[Any], world: World) -> None:
    assert loyaltydb.customer_cards(db, world.new_user) == []
    coffee = loyaltydb.approve_enrollment(db, add_request(db, world.new_user, world.coffee_club))
    bakery = loyaltydb.approve_enrollment(db, add_request(db, world.new_user, world.bakery_club))
    cards = loyaltydb.customer_cards(db, world.new_user)
    assert [(c.id, c.card_number, c.program_name, c.business_name, c.status) for c in cards] == [
        (coffee.card_id, coffee.card_number, "Coffee Club", "Bean There Coffee", "ACTIVE"),
        (bakery.card_id, bakery.card_number, "Bakery Club", "Owner", "ACTIVE"),
    ]
