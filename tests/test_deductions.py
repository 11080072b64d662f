"""Deduction requests (contract "Rewards, deduction requests, ..."): the business asks, the customer
answers; a yes is a DEDUCTION ledger row in the same transaction, or InsufficientPoints with the
request left PENDING. They behave as invitations do: told by name and requiring action, expiry,
only that customer answers, replays, the business told. Both kinds of database where it applies."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from typing import Any

import psycopg
import pytest
from test_cli import assert_user_error, run_cli

import loyaltydb
from helpers import World, count
from loyaltydb import events
from loyaltydb.errors import (
    CardNotActive,
    CardNotFound,
    InsufficientPoints,
    InvalidInput,
    NotAuthorized,
    ProgramNotActive,
    ReasonTooLong,
    RequestAlreadyDecided,
    RequestExpired,
    RequestNotFound,
)

JOHN = 32


def _with_points(db: psycopg.Connection[Any], world: World, points: int = 100) -> None:
    loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, JOHN, world.coffee_club))
    loyaltydb.earn_points(db, JOHN, world.coffee_club, points, idempotency_key="start")


@pytest.mark.both_modes
def test_a_yes_deducts_and_both_sides_are_told_by_name(db: psycopg.Connection[Any], world: World) -> None:
    _with_points(db, world)
    events.fetch(db, "test")
    asked = loyaltydb.request_points_deduction(db, world.business_id, JOHN, world.coffee_club, 30, reason="a refund")
    (told,) = [n for n in loyaltydb.customer_notifications(db, JOHN) if n.type == "POINTS_DEDUCTION_REQUEST"]
    assert told.requires_action and not told.action_taken
    assert told.message == (
        "Bean There Coffee would like to deduct 30 points from your Coffee Club card: a refund. Do you agree?"
    )
    assert loyaltydb.customer_cards(db, JOHN)[0].points_balance == 100  # nothing deducted yet
    result = loyaltydb.answer_points_deduction(db, asked, customer_id=JOHN, approved=True)
    assert result is not None
    assert (result.reason, result.points, result.balance_after, result.replayed) == ("DEDUCTION", -30, 70, False)
    again = loyaltydb.answer_points_deduction(db, asked, customer_id=JOHN, approved=True)
    assert again == dataclasses.replace(result, replayed=True)
    with pytest.raises(RequestAlreadyDecided):
        loyaltydb.answer_points_deduction(db, asked, customer_id=JOHN, approved=False)
    (actioned,) = [n for n in loyaltydb.customer_notifications(db, JOHN) if n.type == "POINTS_DEDUCTION_REQUEST"]
    assert actioned.action_taken
    (business,) = [n for n in loyaltydb.business_notifications(db, world.business_id)
                   if n.type.startswith("POINTS_DEDUCTION")]  # fmt: skip
    assert business.message == "John Smith agreed to the deduction of 30 points from their Coffee Club card: a refund"
    got = [e.type for e in events.fetch(db, "test") if e.type.startswith("points.")]
    assert got == ["points.deduction_requested", "points.deducted"]
    history = loyaltydb.card_transactions(db, JOHN, world.coffee_club)
    assert (history[0].reason, history[0].note) == ("DEDUCTION", "a refund")
    assert loyaltydb.verify_points(db) == []


@pytest.mark.both_modes
def test_a_no_deducts_nothing_and_replays(db: psycopg.Connection[Any], world: World) -> None:
    _with_points(db, world)
    asked = loyaltydb.request_points_deduction(db, world.business_id, JOHN, world.coffee_club, 30, reason="r")
    assert loyaltydb.answer_points_deduction(db, asked, customer_id=JOHN, approved=False) is None
    assert loyaltydb.answer_points_deduction(db, asked, customer_id=JOHN, approved=False) is None
    with pytest.raises(RequestAlreadyDecided):
        loyaltydb.answer_points_deduction(db, asked, customer_id=JOHN, approved=True)
    assert loyaltydb.customer_cards(db, JOHN)[0].points_balance == 100
    assert count(db, "SELECT count(*) FROM loyalty.events WHERE type = 'points.deduction_declined'") == 1


@pytest.mark.both_modes
def test_too_few_points_leaves_the_request_pending(db: psycopg.Connection[Any], world: World) -> None:
    _with_points(db, world, points=10)
    asked = loyaltydb.request_points_deduction(db, world.business_id, JOHN, world.coffee_club, 30, reason="r")
    with pytest.raises(InsufficientPoints, match="has 10 points"):
        loyaltydb.answer_points_deduction(db, asked, customer_id=JOHN, approved=True)
    status = "SELECT status FROM loyalty.points_deductions WHERE customer_id = 32"
    assert db.execute(status).fetchone() == ("PENDING",)
    db.commit()
    loyaltydb.earn_points(db, JOHN, world.coffee_club, 25, idempotency_key="more")
    result = loyaltydb.answer_points_deduction(db, asked, customer_id=JOHN, approved=True)
    assert result is not None and result.balance_after == 5


@pytest.mark.both_modes
def test_only_that_customer_answers_in_time(db: psycopg.Connection[Any], world: World) -> None:
    _with_points(db, world)
    asked = loyaltydb.request_points_deduction(db, world.business_id, JOHN, world.coffee_club, 5, reason="r")
    with pytest.raises(NotAuthorized, match="another customer's"):
        loyaltydb.answer_points_deduction(db, asked, customer_id=world.existing_customer, approved=True)
    with pytest.raises(RequestNotFound):
        loyaltydb.answer_points_deduction(db, uuid.uuid4(), customer_id=JOHN, approved=True)
    db.execute("UPDATE loyalty.points_deductions SET expires_at = now() - interval '1 s'")
    db.commit()
    with pytest.raises(RequestExpired):
        loyaltydb.answer_points_deduction(db, asked, customer_id=JOHN, approved=True)
    with pytest.raises(InvalidInput, match="approved must be True or False"):
        loyaltydb.answer_points_deduction(db, asked, customer_id=JOHN, approved="yes")  # type: ignore[arg-type]


@pytest.mark.both_modes
def test_asking_is_refused_by_name(db: psycopg.Connection[Any], world: World) -> None:
    _with_points(db, world)
    before = count(db, "SELECT count(*) FROM loyalty.events")
    cases: list[tuple[type[Exception], Any]] = [
        (NotAuthorized, lambda: loyaltydb.request_points_deduction(
            db, world.other_business_id, JOHN, world.coffee_club, 5, reason="r")),
        (CardNotFound, lambda: loyaltydb.request_points_deduction(
            db, world.business_id, JOHN, world.tea_club, 5, reason="r")),
        (InvalidInput, lambda: loyaltydb.request_points_deduction(
            db, world.business_id, JOHN, world.coffee_club, 0, reason="r")),
        (InvalidInput, lambda: loyaltydb.request_points_deduction(
            db, world.business_id, JOHN, world.coffee_club, 5, reason="  ")),
        (ReasonTooLong, lambda: loyaltydb.request_points_deduction(
            db, world.business_id, JOHN, world.coffee_club, 5, reason="x" * 1001)),
    ]  # fmt: skip
    for error, call in cases:
        with pytest.raises(error):
            call()
    db.execute("UPDATE loyalty.loyalty_programs SET status = 'INACTIVE' WHERE id = %s", (world.coffee_club,))
    db.commit()
    with pytest.raises(ProgramNotActive):
        loyaltydb.request_points_deduction(db, world.business_id, JOHN, world.coffee_club, 5, reason="r")
    assert count(db, "SELECT count(*) FROM loyalty.events") == before


def test_two_answers_at_once_deduct_once(dsn: str, db: psycopg.Connection[Any], world: World) -> None:
    _with_points(db, world)
    asked = loyaltydb.request_points_deduction(db, world.business_id, JOHN, world.coffee_club, 10, reason="r")
    barrier = threading.Barrier(4)
    results: list[Any] = []

    def answer() -> None:
        with psycopg.connect(dsn) as conn:
            barrier.wait()
            results.append(loyaltydb.answer_points_deduction(conn, asked, customer_id=JOHN, approved=True))

    threads = [threading.Thread(target=answer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({r.transaction_id for r in results}) == 1 and sum(not r.replayed for r in results) == 1
    assert loyaltydb.customer_cards(db, JOHN)[0].points_balance == 90


def test_the_command_line_asks_and_answers(db: psycopg.Connection[Any], dsn: str, world: World) -> None:
    _with_points(db, world)
    card = ["--customer-id", "32", "--program-id", str(world.coffee_club)]
    asked = run_cli("--dsn", dsn, "points", "request-deduction", "--business-id", "7", *card, "--points", "15",
                    "--reason", "returned order")  # fmt: skip
    assert asked.returncode == 0, asked.stderr
    answered = run_cli("--dsn", dsn, "points", "answer-deduction", asked.stdout.strip(), "--customer-id", "32",
                       "--approve")  # fmt: skip
    assert "DEDUCTION -15 points" in answered.stdout and "balance 85" in answered.stdout
    assert_user_error(
        run_cli("--dsn", dsn, "points", "answer-deduction", "nope", "--customer-id", "32", "--decline"),
        "must be a UUID",
    )


@pytest.mark.both_modes
def test_the_sweep_expires_overdue_deduction_requests(db: psycopg.Connection[Any], world: World) -> None:
    _with_points(db, world)
    asked = loyaltydb.request_points_deduction(db, world.business_id, JOHN, world.coffee_club, 5, reason="r")
    kept = loyaltydb.request_points_deduction(db, world.business_id, JOHN, world.coffee_club, 6, reason="r")
    db.execute("UPDATE loyalty.points_deductions SET expires_at = now() - interval '1 s' WHERE id = %s", (asked,))
    db.commit()
    assert loyaltydb.expire_requests(db) == 1
    assert loyaltydb.expire_requests(db) == 0
    statuses = db.execute("SELECT id, status FROM loyalty.points_deductions ORDER BY status").fetchall()
    db.commit()
    assert statuses == [(asked, "EXPIRED"), (kept, "PENDING")]
    payload = db.execute("SELECT payload FROM loyalty.events WHERE type = 'request.expired'").fetchone()
    db.commit()
    assert payload is not None and (payload[0]["kind"], payload[0]["points"]) == ("DEDUCTION", 5)
    with pytest.raises(RequestExpired):
        loyaltydb.answer_points_deduction(db, asked, customer_id=JOHN, approved=True)


@pytest.mark.both_modes
def test_a_blocked_card_agrees_to_no_deduction(db: psycopg.Connection[Any], world: World) -> None:
    """A yes is a spend: on a blocked card it is CardNotActive, and the request stays PENDING."""
    _with_points(db, world)
    asked = loyaltydb.request_points_deduction(db, world.business_id, JOHN, world.coffee_club, 5, reason="r")
    loyaltydb.block_card(db, JOHN, world.coffee_club, "lost")
    with pytest.raises(CardNotActive):
        loyaltydb.answer_points_deduction(db, asked, customer_id=JOHN, approved=True)
    assert db.execute("SELECT status FROM loyalty.points_deductions").fetchone() == ("PENDING",)
    db.commit()
