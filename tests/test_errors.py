"""Errors never escape the typed hierarchy: timeouts, wrong argument types, 2-D arrays, extreme
ids, imported card numbers; and a notice cannot forge a log line. Nothing is ever written."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import psycopg
import pytest

import loyaltydb
from helpers import World, add_request, add_user, count, luhn_valid, snapshot, wait_until_blocked
from loyaltydb import _selfcheck as selfcheck
from loyaltydb import errors
from loyaltydb.errors import Cancelled, InvalidInput


@pytest.mark.both_modes
def test_a_statement_timeout_is_cancelled_with_nothing_written(
    db: psycopg.Connection[Any], dsn: str, world: World
) -> None:
    request_id = add_request(db, world.new_user, world.coffee_club)
    before = snapshot(db)
    with psycopg.connect(dsn) as holder, psycopg.connect(dsn, options="-c statement_timeout=200") as conn:
        holder.execute(
            "SELECT FROM loyalty.customer_approval_requests WHERE customer_id = 32 AND id = %s FOR UPDATE",
            (request_id,),
        )
        with pytest.raises(Cancelled) as caught:
            loyaltydb.approve_enrollment(conn, request_id)
        assert caught.value.sqlstate == "57014" and "\n" not in str(caught.value)
        holder.rollback()
        assert snapshot(db) == before
        assert loyaltydb.approve_enrollment(conn, request_id).status == "APPROVED"  # the connection is usable


@pytest.mark.parametrize("bad", [79.6, Decimal("79"), True, "79", None])
@pytest.mark.both_modes
def test_ids_must_be_integers_not_floats_decimals_or_bools(db: psycopg.Connection[Any], world: World, bad: Any) -> None:
    request_id = add_request(db, world.new_user, world.coffee_club)
    before = snapshot(db)
    calls: list[Callable[[], object]] = [
        lambda: loyaltydb.ensure_customer(db, bad),
        lambda: loyaltydb.request_enrollment(db, bad, world.coffee_club),
        lambda: loyaltydb.request_enrollment(db, world.new_user, bad),
        lambda: loyaltydb.customer_cards(db, bad),
    ]
    if bad is not None:  # None is "no business" for business_id
        calls.append(lambda: loyaltydb.approve_enrollment(db, request_id, business_id=bad))
    for call in calls:
        with pytest.raises(InvalidInput, match="must"):
            call()
    assert snapshot(db) == before


@pytest.mark.both_modes
def test_a_rejection_reason_must_be_text(db: psycopg.Connection[Any], world: World) -> None:
    request_id = add_request(db, world.new_user, world.coffee_club)
    before = snapshot(db)
    with pytest.raises(InvalidInput, match="reason must be a string"):
        loyaltydb.reject_enrollment(db, request_id, 5)  # type: ignore[arg-type]
    assert snapshot(db) == before


@pytest.mark.both_modes
def test_request_ids_must_be_uuids_or_strings(db: psycopg.Connection[Any], world: World) -> None:
    request_id = add_request(db, world.new_user, world.coffee_club)
    with pytest.raises(InvalidInput, match="request id must be a UUID"):
        loyaltydb.approve_enrollments(db, [request_id, [request_id]])  # type: ignore[list-item]
    with pytest.raises(InvalidInput, match="list of request ids"):
        loyaltydb.approve_enrollments(db, str(request_id))
    with pytest.raises(InvalidInput, match="request id must be a UUID"):
        loyaltydb.approve_enrollment(db, 42)  # type: ignore[arg-type]


@pytest.mark.both_modes
def test_a_two_dimensional_array_in_sql_is_invalid_input(db: psycopg.Connection[Any], world: World) -> None:
    request_id = add_request(db, world.new_user, world.coffee_club)
    with pytest.raises(psycopg.Error) as caught:
        db.execute("SELECT * FROM loyalty.process_enrollment_approvals(ARRAY[[%s::uuid]])", (request_id,))
    db.rollback()
    assert caught.value.sqlstate == "22023"
    assert isinstance(errors.translate(caught.value), InvalidInput)


def test_selfcheck_works_when_a_user_has_the_smallest_bigint(db: psycopg.Connection[Any], world: World) -> None:
    add_user(db, -(2**63), "Edge", None)
    db.commit()
    checks = selfcheck.run(db)
    assert checks and all(check.ok for check in checks), checks
    assert count(db, "SELECT count(*) FROM loyalty.users") == 5  # the world's four and the edge one


def _import_card_with_customer_32s_first_number(db: psycopg.Connection[Any], world: World) -> str:
    """A card imported for customer 40 holding the number customer 32's first card would get."""
    payload = "9" + "0000000032" + "0001"
    row = db.execute("SELECT %s || loyalty._luhn_check_digit(%s)", (payload, payload)).fetchone()
    assert row is not None
    taken: str = row[0]
    db.execute(
        "INSERT INTO loyalty.loyalty_cards (customer_id, program_id, business_id, card_number) VALUES (40, %s, 7, %s)",
        (world.coffee_club, taken),
    )
    db.commit()
    return taken


def test_an_imported_card_holding_the_next_number_is_skipped(db: psycopg.Connection[Any], world: World) -> None:
    """A card imported (for another customer) with the number customer 32's first card would get:
    the approval takes the next ordinal instead of failing on the unique card number."""
    taken = _import_card_with_customer_32s_first_number(db, world)
    result = loyaltydb.approve_enrollment(db, add_request(db, world.new_user, world.coffee_club))
    assert result.card_number is not None and luhn_valid(result.card_number)
    assert result.card_number != taken and result.card_number.startswith("900000000320002")


@pytest.mark.both_modes
def test_a_name_with_a_newline_cannot_forge_a_log_line(
    db: psycopg.Connection[Any], caplog: pytest.LogCaptureFixture
) -> None:
    forged = "Mallory\n2026-01-01 00:00:00,000 WARNING loyaltydb: approvals disabled"
    add_user(db, 66, forged, None)
    db.commit()
    with caplog.at_level(logging.INFO, logger="loyaltydb"):
        loyaltydb.ensure_customer(db, 66)
    messages = [record.getMessage() for record in caplog.records if record.name == "loyaltydb"]
    assert messages == ["created customer 66 (Mallory\\n2026-01-01 00:00:00,000 WARNING loyaltydb: approvals "
                        "disabled) from user 66"]  # fmt: skip
    assert all("\n" not in message for message in messages)


def test_a_cancel_request_is_cancelled_too(db: psycopg.Connection[Any], dsn: str, world: World) -> None:
    """pg_cancel_backend or a driver cancel, not a timeout: the same typed error."""
    request_id = add_request(db, world.new_user, world.coffee_club)
    outcome: list[BaseException] = []
    with psycopg.connect(dsn) as holder, psycopg.connect(dsn, application_name="cancelled") as conn:
        holder.execute(
            "SELECT FROM loyalty.customer_approval_requests WHERE customer_id = 32 AND id = %s FOR UPDATE",
            (request_id,),
        )

        def approve() -> None:
            try:
                loyaltydb.approve_enrollment(conn, request_id)
            except BaseException as exc:  # noqa: BLE001 - inspected below
                outcome.append(exc)

        thread = threading.Thread(target=approve)
        thread.start()
        wait_until_blocked(db, "cancelled")
        conn.cancel_safe()
        thread.join(30)
        holder.rollback()
    assert len(outcome) == 1 and isinstance(outcome[0], Cancelled), outcome


def test_a_batch_skips_a_taken_number_and_numbers_out_of_range_customers(
    db: psycopg.Connection[Any], world: World
) -> None:
    """A number a card has already (imported for another customer) and customer ids outside the
    scheme's range send the batch back to numbering card by card, which handles both."""
    taken = _import_card_with_customer_32s_first_number(db, world)
    (result,) = loyaltydb.approve_enrollments(db, [add_request(db, 32, world.coffee_club)])
    assert result.card_number is not None and luhn_valid(result.card_number)
    assert result.card_number != taken and result.card_number.startswith("900000000320002")

    add_user(db, -5, "Negative", None)
    db.commit()
    results = loyaltydb.approve_enrollments(db, [add_request(db, -5, world.coffee_club),
                                                 add_request(db, 32, world.tea_club)])  # fmt: skip
    outside, inside = (r.card_number or "" for r in results)
    assert luhn_valid(outside) and not outside.startswith("9")  # the sequence's number
    assert inside.startswith("900000000320003")
