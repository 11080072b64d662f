"""The business inbox (pending_requests), the replaced system's (integer, integer, uuid) call,
and the cap on rejection reasons: on one server and on the Citus cluster."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import psycopg
import pytest

import loyaltydb
from helpers import World, count, snapshot
from loyaltydb import aio
from loyaltydb.errors import InvalidInput, ReasonTooLong, RequestNotFound

pytestmark = pytest.mark.both_modes


def _requests(conn: psycopg.Connection[Any], world: World) -> list[uuid.UUID]:
    """Five requests, each in a transaction of its own (so each has its own requested_at)."""
    made = [
        loyaltydb.request_enrollment(conn, world.new_user, world.coffee_club),
        loyaltydb.request_enrollment(conn, world.existing_customer, world.tea_club),
        loyaltydb.request_enrollment(conn, world.new_user, world.bakery_club),  # another business
        loyaltydb.request_enrollment(conn, world.existing_customer, world.coffee_club),
        loyaltydb.request_enrollment(conn, world.new_user, world.tea_club),
    ]
    conn.commit()
    return made


def test_the_inbox_lists_pending_requests_oldest_first_in_keyset_pages(
    db: psycopg.Connection[Any], world: World, mode: str
) -> None:
    first, second, _other, fourth, fifth = _requests(db, world)
    loyaltydb.approve_enrollment(db, fourth)  # decided: no longer in the inbox

    page = loyaltydb.pending_requests(db, world.business_id, limit=2)
    assert [p.request_id for p in page] == [first, second]
    assert (page[0].customer_id, page[0].customer_name, page[0].program_id, page[0].program_name) == (
        world.new_user,
        "John Smith",  # not a customer yet: named from the users row
        world.coffee_club,
        "Coffee Club",
    )
    assert (page[1].customer_name, page[1].program_name) == ("Ada L.", "Tea Club")  # the customer's name
    assert page[0].requested_at <= page[1].requested_at

    rest = loyaltydb.pending_requests(db, world.business_id, limit=2, after=page[-1].request_id)
    assert [p.request_id for p in rest] == [fifth]
    assert loyaltydb.pending_requests(db, world.business_id, after=fifth) == []
    # A cursor that was decided meanwhile keeps its place.
    loyaltydb.approve_enrollment(db, first)
    assert [p.request_id for p in loyaltydb.pending_requests(db, world.business_id, after=first)] == [second, fifth]
    assert [p.request_id for p in loyaltydb.pending_requests(db, world.other_business_id)] == [_other]

    async def through_aio() -> list[loyaltydb.PendingRequest]:
        async with await psycopg.AsyncConnection.connect(db.info.dsn) as conn:
            return await aio.pending_requests(conn, world.business_id, limit=1)

    assert [p.request_id for p in asyncio.run(through_aio())] == [second]


def test_bad_inbox_arguments_are_typed_errors(db: psycopg.Connection[Any], world: World) -> None:
    mine = loyaltydb.request_enrollment(db, world.new_user, world.coffee_club)
    theirs = loyaltydb.request_enrollment(db, world.new_user, world.bakery_club)
    for limit in (0, 1001):
        with pytest.raises(InvalidInput, match="limit must be from 1 to 1000"):
            loyaltydb.pending_requests(db, world.business_id, limit=limit)
    with pytest.raises(RequestNotFound, match="names no request of business 7"):
        loyaltydb.pending_requests(db, world.business_id, after=theirs)
    with pytest.raises(RequestNotFound):
        loyaltydb.pending_requests(db, world.business_id, after=uuid.uuid4())
    with pytest.raises(InvalidInput):
        loyaltydb.pending_requests(db, world.business_id, limit=2.5)  # type: ignore[arg-type]
    assert [p.request_id for p in loyaltydb.pending_requests(db, world.business_id)] == [mine]  # still usable


def test_the_replaced_systems_call_approves_and_returns_the_card_id(db: psycopg.Connection[Any], world: World) -> None:
    request_id = loyaltydb.request_enrollment(db, world.new_user, world.coffee_club)
    call = "SELECT loyalty.process_enrollment_approval(%s::integer, %s::integer, %s::uuid)"

    before = snapshot(db)
    for customer, program in ((world.existing_customer, world.coffee_club), (world.new_user, world.tea_club)):
        with pytest.raises(psycopg.Error) as refused:
            db.execute(call, (customer, program, request_id))
        db.rollback()
        assert refused.value.sqlstate == "LY001" and "for customer" in str(refused.value)
    assert snapshot(db) == before  # a mix-up approves nothing

    row = db.execute(call, (world.new_user, world.coffee_club, request_id)).fetchone()
    db.commit()
    assert row is not None
    (card,) = loyaltydb.customer_cards(db, world.new_user)
    assert row[0] == card.id
    assert db.execute(call, (world.new_user, world.coffee_club, request_id)).fetchone() == row  # a replay
    db.commit()
    assert count(db, "SELECT count(*) FROM loyalty.customers WHERE id = %s", world.new_user) == 1


def test_a_rejection_reason_is_capped_by_the_database(db: psycopg.Connection[Any], world: World) -> None:
    request_id = loyaltydb.request_enrollment(db, world.new_user, world.coffee_club)
    with pytest.raises(ReasonTooLong, match="at most 1000 characters; this one has 100000"):
        loyaltydb.reject_enrollment(db, request_id, "x" * 100_000)
    assert count(db, "SELECT count(*) FROM loyalty.customer_approval_requests WHERE status = 'PENDING'") == 1
    assert isinstance(ReasonTooLong("x"), InvalidInput)
    result = loyaltydb.reject_enrollment(db, request_id, "é" * 1000)  # 1,000 characters is fine
    assert result.status == "REJECTED"
