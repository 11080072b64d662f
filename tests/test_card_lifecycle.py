"""The card lifecycle (contract "Rewards, deduction requests, points expiry, card lifecycle", its
card part): block and unblock, replace a lost card under a new number, leave a program and come
back to the same card; each with its event and notification by name, on both kinds of database."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

import loyaltydb
from helpers import World, count
from loyaltydb import events
from loyaltydb.errors import CardNotActive, CardNotFound, NotAuthorized, ReasonTooLong

JOHN = 32


def _card(db: psycopg.Connection[Any], world: World, program: int | None = None) -> loyaltydb.EnrollmentResult:
    return loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, JOHN, program or world.coffee_club))


@pytest.mark.both_modes
def test_a_blocked_card_earns_and_spends_nothing_until_unblocked(db: psycopg.Connection[Any], world: World) -> None:
    _card(db, world)
    loyaltydb.earn_points(db, JOHN, world.coffee_club, 30, idempotency_key="e1")
    events.fetch(db, "test")
    blocked = loyaltydb.block_card(db, JOHN, world.coffee_club, "reported lost", business_id=world.business_id)
    assert (blocked.status, blocked.points_balance) == ("BLOCKED", 30)
    assert loyaltydb.block_card(db, JOHN, world.coffee_club, "again") == blocked  # changes nothing
    with pytest.raises(CardNotActive, match="card BLOCKED"):
        loyaltydb.earn_points(db, JOHN, world.coffee_club, 1, idempotency_key="e2")
    with pytest.raises(CardNotActive):
        loyaltydb.spend_points(db, JOHN, world.coffee_club, 1, idempotency_key="s1")
    loyaltydb.adjust_points(db, JOHN, world.coffee_club, 5, idempotency_key="a1", note="a correction is allowed")
    # Re-joining does not unblock it.
    assert _card(db, world).card_id == blocked.id
    assert loyaltydb.customer_cards(db, JOHN)[0].status == "BLOCKED"
    unblocked = loyaltydb.unblock_card(db, JOHN, world.coffee_club, "found it")
    assert (unblocked.status, unblocked.points_balance) == ("ACTIVE", 35)
    assert loyaltydb.unblock_card(db, JOHN, world.coffee_club, None) == unblocked
    assert loyaltydb.earn_points(db, JOHN, world.coffee_club, 1, idempotency_key="e3").balance_after == 36
    got = [e for e in events.fetch(db, "test") if e.type.startswith("card.")]
    assert [e.type for e in got] == ["card.blocked", "card.unblocked"]
    assert got[0].payload["reason"] == "reported lost" and got[0].payload["customer_name"] == "John Smith"
    feed = [n for n in loyaltydb.customer_notifications(db, JOHN) if n.type.startswith("CARD_")]
    assert [n.type for n in feed][:2] == ["CARD_UNBLOCKED", "CARD_BLOCKED"]
    assert feed[1].title == "Your Coffee Club card is blocked"
    assert feed[1].message.startswith("Bean There Coffee blocked your Coffee Club card: reported lost.")


@pytest.mark.both_modes
def test_a_replaced_card_keeps_its_balance_under_a_new_number_and_the_old_one_finds_nothing(
    db: psycopg.Connection[Any], world: World
) -> None:
    first = _card(db, world)
    loyaltydb.earn_points(db, JOHN, world.coffee_club, 40, idempotency_key="e1")
    loyaltydb.block_card(db, JOHN, world.coffee_club, "lost")
    replaced = loyaltydb.replace_card(db, JOHN, world.coffee_club)
    assert (replaced.id, replaced.points_balance, replaced.status) == (first.card_id, 40, "ACTIVE")
    assert first.card_number and replaced.card_number != first.card_number
    assert loyaltydb.find_card(db, first.card_number) is None
    assert loyaltydb.find_card(db, replaced.card_number) == replaced
    again = loyaltydb.replace_card(db, JOHN, world.coffee_club)
    assert len({first.card_number, replaced.card_number, again.card_number}) == 3
    # A new card of the same customer never gets a number a card had before.
    tea = _card(db, world, world.tea_club)
    assert tea.card_number not in {first.card_number, replaced.card_number, again.card_number}
    assert [r.reason for r in loyaltydb.card_transactions(db, JOHN, world.coffee_club)] == ["EARN"]
    (feed,) = [n for n in loyaltydb.customer_notifications(db, JOHN) if n.type == "CARD_REPLACED"][:1]
    assert again.card_number in feed.message
    numbers = db.execute(
        "SELECT payload ->> 'previous_card_number', payload ->> 'card_number' FROM loyalty.events"
        " WHERE type = 'card.replaced' ORDER BY id"
    ).fetchall()
    db.commit()
    assert numbers == [(first.card_number, replaced.card_number), (replaced.card_number, again.card_number)]


@pytest.mark.both_modes
def test_leaving_and_coming_back_keeps_the_same_card_and_balance(db: psycopg.Connection[Any], world: World) -> None:
    first = _card(db, world)
    _card(db, world, world.tea_club)
    loyaltydb.earn_points(db, JOHN, world.coffee_club, 25, idempotency_key="e1")
    left = loyaltydb.leave_program(db, JOHN, world.coffee_club)
    assert (left.status, left.points_balance) == ("INACTIVE", 25)
    assert loyaltydb.leave_program(db, JOHN, world.coffee_club) == left  # changes nothing
    relationship = "SELECT status FROM loyalty.customer_business_relationships WHERE customer_id = 32"
    assert db.execute(relationship).fetchone() == ("ACTIVE",)  # Tea Club is still the business's
    db.commit()
    with pytest.raises(CardNotActive, match="enrollment INACTIVE"):
        loyaltydb.earn_points(db, JOHN, world.coffee_club, 1, idempotency_key="e2")
    loyaltydb.leave_program(db, JOHN, world.tea_club)
    assert db.execute(relationship).fetchone() == ("INACTIVE",)  # the business's last program
    db.commit()
    (told, _) = [n for n in loyaltydb.business_notifications(db, world.business_id) if n.type == "CUSTOMER_LEFT"]
    assert told.message == "John Smith has left your Tea Club loyalty program"
    back = _card(db, world)  # joining again
    assert (back.card_id, back.card_number) == (first.card_id, first.card_number)
    (card,) = [c for c in loyaltydb.customer_cards(db, JOHN) if c.program_id == world.coffee_club]
    assert (card.status, card.points_balance) == ("ACTIVE", 25)
    assert db.execute(relationship).fetchone() == ("ACTIVE",)
    db.commit()
    assert count(db, "SELECT count(*) FROM loyalty.events WHERE type = 'enrollment.left'") == 2
    assert loyaltydb.verify_points(db) == []


@pytest.mark.both_modes
def test_lifecycle_refusals_are_typed_and_write_nothing(db: psycopg.Connection[Any], world: World) -> None:
    _card(db, world)
    before = count(db, "SELECT count(*) FROM loyalty.events")
    with pytest.raises(CardNotFound):
        loyaltydb.block_card(db, JOHN, world.tea_club, "x")
    with pytest.raises(NotAuthorized, match=f"Business {world.other_business_id} may not change card"):
        loyaltydb.replace_card(db, JOHN, world.coffee_club, business_id=world.other_business_id)
    with pytest.raises(ReasonTooLong):
        loyaltydb.block_card(db, JOHN, world.coffee_club, "x" * 1001)
    with pytest.raises(CardNotFound):
        loyaltydb.leave_program(db, 999999, world.coffee_club)
    assert count(db, "SELECT count(*) FROM loyalty.events") == before
    assert loyaltydb.customer_cards(db, JOHN)[0].status == "ACTIVE"


def test_the_async_lifecycle(dsn: str, world: World) -> None:
    import asyncio

    from loyaltydb import aio

    async def scenario() -> None:
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            await aio.approve_enrollment(conn, await aio.request_enrollment(conn, JOHN, world.coffee_club))
            assert (await aio.block_card(conn, JOHN, world.coffee_club, "lost")).status == "BLOCKED"
            assert (await aio.unblock_card(conn, JOHN, world.coffee_club, None)).status == "ACTIVE"
            assert (await aio.replace_card(conn, JOHN, world.coffee_club)).status == "ACTIVE"
            assert (await aio.leave_program(conn, JOHN, world.coffee_club)).status == "INACTIVE"

    asyncio.run(scenario())
