"""Rewards and redemptions (contract "Rewards, deduction requests, ..."): a program's catalogue
with stock; redeem_reward spends the cost as a REDEEM ledger row in the same transaction as the
redemption and the stock, with an 8-character counter code; fulfil or cancel once; cancelling
refunds exactly once and gives the stock back. Both kinds of database where it applies."""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import Any
from uuid import UUID

import psycopg
import pytest

import loyaltydb
from helpers import World, count, race
from loyaltydb import events
from loyaltydb.errors import (
    CardNotActive,
    CardNotFound,
    IdempotencyKeyReused,
    InsufficientPoints,
    InvalidInput,
    NotAuthorized,
    ProgramNotFound,
    RedemptionNotFound,
    RedemptionNotPending,
    RewardUnavailable,
)

JOHN = 32
CODE = re.compile(r"^[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{8}$")


def _card_with(db: psycopg.Connection[Any], world: World, points: int, customer: int = JOHN) -> None:
    loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, customer, world.coffee_club))
    loyaltydb.earn_points(db, customer, world.coffee_club, points, idempotency_key="start")


def _balance(db: psycopg.Connection[Any], customer: int = JOHN) -> int:
    (card,) = loyaltydb.customer_cards(db, customer)
    return card.points_balance


def _stock(db: psycopg.Connection[Any], reward_id: int) -> int | None:
    row = db.execute("SELECT stock FROM loyalty.rewards WHERE id = %s", (reward_id,)).fetchone()
    db.commit()  # no transaction left open: the calls after this one commit their own
    assert row is not None
    stock: int | None = row[0]
    return stock


@pytest.mark.both_modes
def test_a_redemption_spends_takes_stock_and_tells_both_sides_by_name(
    db: psycopg.Connection[Any], world: World
) -> None:
    _card_with(db, world, 200)
    coffee = loyaltydb.create_reward(db, world.business_id, world.coffee_club, "Free coffee", 120, stock=5)
    mug = loyaltydb.create_reward(db, world.business_id, world.coffee_club, " Mug ", 500)
    assert [(r.name, r.points_cost, r.stock) for r in loyaltydb.program_rewards(db, world.coffee_club)] == [
        ("Free coffee", 120, 5),
        ("Mug", 500, None),
    ]
    events.fetch(db, "test")

    done = loyaltydb.redeem_reward(db, JOHN, coffee, idempotency_key="r1")
    assert (done.status, done.reward_id, done.points, done.balance_after, done.replayed) == (
        "PENDING",
        coffee,
        120,
        80,
        False,
    )
    assert CODE.match(done.code)
    assert _balance(db) == 80 and _stock(db, coffee) == 4 and _stock(db, mug) is None
    (spent, *_) = loyaltydb.card_transactions(db, JOHN, world.coffee_club)
    assert (spent.reason, spent.points, spent.balance_after, spent.reference) == (
        "REDEEM",
        -120,
        80,
        f"reward:{coffee}",
    )
    assert loyaltydb.verify_points(db) == []

    (told,) = [n for n in loyaltydb.customer_notifications(db, JOHN) if n.type == "REWARD_REDEEMED"]
    assert told.message == (
        f"Show code {done.code} at Bean There Coffee to get Free coffee. 120 points were deducted from your"
        " Coffee Club card; your balance is 80 points."
    )
    # The ledger's writer tells nothing of its own for a redemption: one notification, not two.
    assert not [n for n in loyaltydb.customer_notifications(db, JOHN) if n.type == "POINTS_DEDUCTED"]
    (business,) = [n for n in loyaltydb.business_notifications(db, world.business_id) if n.type == "REWARD_REDEEMED"]
    assert business.title == "John Smith redeemed Free coffee"
    published = [e for e in events.fetch(db, "test") if e.customer_id == JOHN]
    assert [e.type for e in published] == ["reward.redeemed"]
    assert published[0].payload["code"] == done.code and published[0].payload["customer_name"] == "John Smith"
    assert published[0].payload["balance_after"] == 80


@pytest.mark.both_modes
def test_a_retry_replays_and_a_key_redeems_one_reward(db: psycopg.Connection[Any], world: World) -> None:
    _card_with(db, world, 300)
    coffee = loyaltydb.create_reward(db, world.business_id, world.coffee_club, "Free coffee", 100, stock=5)
    cake = loyaltydb.create_reward(db, world.business_id, world.coffee_club, "Cake", 100)
    first = loyaltydb.redeem_reward(db, JOHN, coffee, idempotency_key="k")
    again = loyaltydb.redeem_reward(db, JOHN, coffee, idempotency_key="k")
    assert again == dataclasses.replace(first, replayed=True)
    assert _balance(db) == 200 and _stock(db, coffee) == 4
    with pytest.raises(IdempotencyKeyReused, match="to redeem reward"):
        loyaltydb.redeem_reward(db, JOHN, cake, idempotency_key="k")
    # A key the card used for an earn is not a redemption's either.
    with pytest.raises(IdempotencyKeyReused):
        loyaltydb.redeem_reward(db, JOHN, cake, idempotency_key="start")
    assert count(db, "SELECT count(*) FROM loyalty.redemptions") == 1


@pytest.mark.both_modes
def test_refusals_are_typed_and_leave_nothing_behind(db: psycopg.Connection[Any], world: World) -> None:
    _card_with(db, world, 100)
    coffee = loyaltydb.create_reward(db, world.business_id, world.coffee_club, "Free coffee", 120, stock=2)
    before = (_balance(db), _stock(db, coffee), count(db, "SELECT count(*) FROM loyalty.point_transactions"))
    with pytest.raises(InsufficientPoints, match="has 100 points, redeem needs 120"):
        loyaltydb.redeem_reward(db, JOHN, coffee, idempotency_key="a")
    assert (_balance(db), _stock(db, coffee), count(db, "SELECT count(*) FROM loyalty.point_transactions")) == before
    with pytest.raises(RewardUnavailable, match="Reward 999999 not found"):
        loyaltydb.redeem_reward(db, JOHN, 999999, idempotency_key="a")
    cheap = loyaltydb.create_reward(db, world.business_id, world.coffee_club, "Sticker", 10, stock=0)
    with pytest.raises(RewardUnavailable, match='"Sticker" is out of stock'):
        loyaltydb.redeem_reward(db, JOHN, cheap, idempotency_key="a")
    loyaltydb.update_reward(db, world.business_id, coffee, status="INACTIVE")
    with pytest.raises(RewardUnavailable, match='"Free coffee" is not active'):
        loyaltydb.redeem_reward(db, JOHN, coffee, idempotency_key="a")
    assert loyaltydb.program_rewards(db, world.coffee_club) == []
    tea = loyaltydb.create_reward(db, world.business_id, world.tea_club, "Green tea", 5)
    with pytest.raises(CardNotFound):
        loyaltydb.redeem_reward(db, JOHN, tea, idempotency_key="a")
    sticker = loyaltydb.update_reward(db, world.business_id, cheap, stock=3)
    assert (sticker.stock, sticker.status) == (3, "ACTIVE")
    loyaltydb.block_card(db, JOHN, world.coffee_club, "lost")
    with pytest.raises(CardNotActive):
        loyaltydb.redeem_reward(db, JOHN, cheap, idempotency_key="a")
    assert _stock(db, cheap) == 3 and count(db, "SELECT count(*) FROM loyalty.redemptions") == 0
    # The connection is still usable after every refusal.
    assert _balance(db) == 100


@pytest.mark.both_modes
def test_the_catalogue_is_the_business_s_own(db: psycopg.Connection[Any], world: World) -> None:
    with pytest.raises(NotAuthorized):
        loyaltydb.create_reward(db, world.other_business_id, world.coffee_club, "Free coffee", 10)
    with pytest.raises(ProgramNotFound):
        loyaltydb.create_reward(db, world.business_id, 987654, "Free coffee", 10)
    with pytest.raises(ProgramNotFound):
        loyaltydb.program_rewards(db, 987654)
    coffee = loyaltydb.create_reward(db, world.business_id, world.coffee_club, "Free coffee", 10)
    with pytest.raises(NotAuthorized):
        loyaltydb.update_reward(db, world.other_business_id, coffee, stock=1)
    with pytest.raises(RewardUnavailable):
        loyaltydb.update_reward(db, world.business_id, 987654, stock=1)
    for bad in ({"points_cost": 0}, {"stock": -1}, {"status": "GONE"}):
        with pytest.raises(InvalidInput):
            loyaltydb.update_reward(db, world.business_id, coffee, **bad)
    with pytest.raises(InvalidInput, match="name must be 1 to 200 characters"):
        loyaltydb.create_reward(db, world.business_id, world.coffee_club, "  ", 10)
    with pytest.raises(InvalidInput, match="points_cost must be a positive integer"):
        loyaltydb.create_reward(db, world.business_id, world.coffee_club, "Free", -5)
    changed = loyaltydb.update_reward(db, world.business_id, coffee, points_cost=25)
    assert (changed.reward_id, changed.program_id, changed.name, changed.points_cost, changed.stock) == (
        coffee,
        world.coffee_club,
        "Free coffee",
        25,
        None,
    )


@pytest.mark.both_modes
def test_fulfil_once_by_code_and_never_after_a_cancel(db: psycopg.Connection[Any], world: World) -> None:
    _card_with(db, world, 300)
    coffee = loyaltydb.create_reward(db, world.business_id, world.coffee_club, "Free coffee", 100, stock=3)
    first = loyaltydb.redeem_reward(db, JOHN, coffee, idempotency_key="1")
    typed = f"{first.code[:4].lower()}-{first.code[4:].lower()} "
    done = loyaltydb.fulfil_redemption(db, world.business_id, typed)
    assert (done.redemption_id, done.status, done.reward_name, done.points) == (
        first.redemption_id,
        "FULFILLED",
        "Free coffee",
        100,
    )
    assert done.decided_at is not None
    assert loyaltydb.fulfil_redemption(db, world.business_id, first.code) == done
    with pytest.raises(RedemptionNotPending, match="was fulfilled"):
        loyaltydb.cancel_redemption(db, JOHN, first.redemption_id)
    with pytest.raises(RedemptionNotFound):
        loyaltydb.fulfil_redemption(db, world.other_business_id, first.code)
    with pytest.raises(RedemptionNotFound):
        loyaltydb.fulfil_redemption(db, world.business_id, "ZZZZZZZZ")
    (told,) = [n for n in loyaltydb.customer_notifications(db, JOHN) if n.type == "REDEMPTION_FULFILLED"]
    assert told.message == f"Bean There Coffee handed over Free coffee (code {first.code})."

    second = loyaltydb.redeem_reward(db, JOHN, coffee, idempotency_key="2")
    loyaltydb.cancel_redemption(db, JOHN, second.redemption_id)
    with pytest.raises(RedemptionNotPending, match="was cancelled"):
        loyaltydb.fulfil_redemption(db, world.business_id, second.code)


@pytest.mark.both_modes
def test_a_cancel_refunds_once_and_gives_the_stock_back(db: psycopg.Connection[Any], world: World) -> None:
    _card_with(db, world, 300)
    coffee = loyaltydb.create_reward(db, world.business_id, world.coffee_club, "Free coffee", 100, stock=3)
    mine = loyaltydb.redeem_reward(db, JOHN, coffee, idempotency_key="1")
    assert (_balance(db), _stock(db, coffee)) == (200, 2)
    events.fetch(db, "test")
    cancelled = loyaltydb.cancel_redemption(db, JOHN, mine.redemption_id)
    assert cancelled.status == "CANCELLED"
    assert loyaltydb.cancel_redemption(db, JOHN, mine.redemption_id) == cancelled
    assert (_balance(db), _stock(db, coffee)) == (300, 3)
    refunds = [t for t in loyaltydb.card_transactions(db, JOHN, world.coffee_club) if t.reason == "REFUND"]
    assert [(t.points, t.balance_after) for t in refunds] == [(100, 300)]
    assert loyaltydb.verify_points(db) == []
    (business,) = [
        n for n in loyaltydb.business_notifications(db, world.business_id) if n.type == "REDEMPTION_CANCELLED"
    ]
    assert business.title == "John Smith cancelled their Free coffee redemption"
    assert [e.type for e in events.fetch(db, "test")] == ["redemption.cancelled"]

    # The business cancels one of its own (the customer is told who did); another's is refused.
    theirs = loyaltydb.redeem_reward(db, JOHN, coffee, idempotency_key="2")
    with pytest.raises(NotAuthorized):
        loyaltydb.cancel_redemption(db, JOHN, theirs.redemption_id, business_id=world.other_business_id)
    loyaltydb.cancel_redemption(db, JOHN, theirs.redemption_id, business_id=world.business_id)
    told = [n for n in loyaltydb.customer_notifications(db, JOHN) if n.type == "REDEMPTION_CANCELLED"]
    assert told[0].message == (
        "Bean There Coffee cancelled it. 100 points were refunded to your Coffee Club card; your balance is 300 points."
    )
    with pytest.raises(RedemptionNotFound):
        loyaltydb.cancel_redemption(db, world.existing_customer, theirs.redemption_id)


@pytest.mark.both_modes
def test_ten_sessions_redeeming_the_last_three_make_exactly_three(
    db: psycopg.Connection[Any], world: World, dsn: str, mode: str
) -> None:
    customers = list(range(100, 110))
    for customer in customers:
        db.execute("INSERT INTO loyalty.users (id, name) VALUES (%s, %s)", (customer, f"Customer {customer}"))
    db.commit()
    for customer in customers:
        _card_with(db, world, 50, customer)
    last = loyaltydb.create_reward(db, world.business_id, world.coffee_club, "Limited mug", 30, stock=3)

    def redeem(customer: int) -> Any:
        return lambda conn: loyaltydb.redeem_reward(conn, customer, last, idempotency_key="mug")

    outcomes = race(dsn, [redeem(customer) for customer in customers])
    won = [o for o in outcomes if isinstance(o, loyaltydb.RedemptionResult)]
    lost = [o for o in outcomes if not isinstance(o, loyaltydb.RedemptionResult)]
    assert len(won) == 3 and all(isinstance(o, RewardUnavailable) for o in lost), outcomes
    assert _stock(db, last) == 0
    assert count(db, "SELECT count(*) FROM loyalty.redemptions") == 3
    assert count(db, "SELECT count(*) FROM loyalty.point_transactions WHERE reason = 'REDEEM'") == 3
    assert len({o.code for o in won}) == 3
    # On a cluster each redemption's number comes from its worker's range (node group << 48).
    groups = {row[0] for row in db.execute("SELECT number >> 48 FROM loyalty.redemptions")}
    assert groups <= {0} if mode == "single" else 0 not in groups
    assert loyaltydb.verify_points(db) == []


def _cancel(conn: psycopg.Connection[Any], *, redemption_id: UUID) -> loyaltydb.Redemption:
    return loyaltydb.cancel_redemption(conn, JOHN, redemption_id)


def _fulfil(conn: psycopg.Connection[Any], *, business_id: int, code: str) -> loyaltydb.Redemption:
    return loyaltydb.fulfil_redemption(conn, business_id, code)


@pytest.mark.both_modes
def test_a_cancel_racing_a_fulfilment_ends_one_way(db: psycopg.Connection[Any], world: World, dsn: str) -> None:
    _card_with(db, world, 1000)
    coffee = loyaltydb.create_reward(db, world.business_id, world.coffee_club, "Free coffee", 100, stock=10)
    for attempt in range(5):
        made = loyaltydb.redeem_reward(db, JOHN, coffee, idempotency_key=f"race-{attempt}")
        outcomes = race(
            dsn,
            [
                functools.partial(_cancel, redemption_id=made.redemption_id),
                functools.partial(_fulfil, business_id=world.business_id, code=made.code),
            ],
        )
        ended = [o for o in outcomes if isinstance(o, loyaltydb.Redemption)]
        assert len(ended) == 1 and isinstance(next(o for o in outcomes if o not in ended), RedemptionNotPending)
    cancelled = count(db, "SELECT count(*) FROM loyalty.redemptions WHERE status = 'CANCELLED'")
    refunds = count(db, "SELECT count(*) FROM loyalty.point_transactions WHERE reason = 'REFUND'")
    assert refunds == cancelled
    assert _stock(db, coffee) == 5 + cancelled
    assert _balance(db) == 1000 - 100 * (5 - cancelled)
    assert loyaltydb.verify_points(db) == []


def test_codes_are_unique_and_readable_across_nodes(db: psycopg.Connection[Any]) -> None:
    # Node groups 0 (one server, the coordinator) to 3, as a cluster's workers number theirs.
    made = db.execute(
        "SELECT count(*), count(DISTINCT c), bool_and(c ~ '^[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{8}$')"
        "  FROM (SELECT loyalty._redemption_code((g::bigint << 48) + n) AS c"
        "          FROM generate_series(0, 3) AS g, generate_series(1, 50000) AS n) AS codes"
    ).fetchone()
    assert made == (200000, 200000, True)
    # Consecutive numbers do not give look-alike codes: they differ in most places.
    pair = db.execute("SELECT loyalty._redemption_code(1), loyalty._redemption_code(2)").fetchone()
    assert pair is not None
    first, second = pair
    assert sum(a != b for a, b in zip(first, second, strict=True)) >= 4
    with pytest.raises(psycopg.errors.ProgramLimitExceeded):
        db.execute("SELECT loyalty._redemption_code(4294967296)")


@pytest.mark.both_modes
def test_a_redemption_spends_the_credits_that_expire_first_and_a_refund_is_a_new_credit(
    db: psycopg.Connection[Any], world: World
) -> None:
    db.execute("UPDATE loyalty.loyalty_programs SET points_ttl = '30 days' WHERE id = %s", (world.coffee_club,))
    db.commit()
    _card_with(db, world, 100)
    loyaltydb.earn_points(db, JOHN, world.coffee_club, 50, idempotency_key="later")
    coffee = loyaltydb.create_reward(db, world.business_id, world.coffee_club, "Free coffee", 120)
    made = loyaltydb.redeem_reward(db, JOHN, coffee, idempotency_key="r")
    left = db.execute(
        "SELECT idempotency_key, points - consumed FROM loyalty.point_transactions"
        " WHERE customer_id = %s AND reason = 'EARN' ORDER BY id",
        (JOHN,),
    ).fetchall()
    assert left == [("start", 0), ("later", 30)]
    loyaltydb.cancel_redemption(db, JOHN, made.redemption_id)
    assert loyaltydb.verify_points(db) == []
    assert _balance(db) == 150
