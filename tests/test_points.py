"""The points ledger (contract "Points: the ledger behind every balance"): earn, spend, adjust and
reverse through one writer, keys that make a retry a replay, refusals typed and named with nothing
written, the invariants (balance = ledger = the enrollment's copy, never negative) under real
threads, and the approval and import paths that feed it. Both kinds of database where it applies."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import loyaltydb
from helpers import World, count
from loyaltydb import events
from loyaltydb.errors import (
    AlreadyReversed,
    CardNotActive,
    CardNotFound,
    IdempotencyKeyReused,
    InsufficientPoints,
    InvalidInput,
    NotAuthorized,
    PointsOutOfRange,
    TransactionNotFound,
)

JOHN = 32


def _card(db: psycopg.Connection[Any], world: World, welcome: int = 0) -> loyaltydb.EnrollmentResult:
    """John's Coffee Club card, approved (with ``welcome`` points)."""
    if welcome:
        db.execute(
            "UPDATE loyalty.loyalty_programs SET welcome_points = %s WHERE id = %s", (welcome, world.coffee_club)
        )
        db.commit()
    return loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, JOHN, world.coffee_club))


def _balances(db: psycopg.Connection[Any], card_id: int | None) -> tuple[int, int, int]:
    """(the card's balance, its ledger's sum, its enrollment's current_points)."""
    row = db.execute(
        "SELECT k.points_balance, (SELECT coalesce(sum(t.points), 0) FROM loyalty.point_transactions AS t"
        "  WHERE t.customer_id = k.customer_id AND t.card_id = k.id), e.current_points"
        " FROM loyalty.loyalty_cards AS k JOIN loyalty.program_enrollments AS e"
        "   ON e.customer_id = k.customer_id AND e.program_id = k.program_id"
        " WHERE k.customer_id = %s AND k.id = %s",
        (JOHN, card_id),
    ).fetchone()
    db.commit()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


@pytest.mark.both_modes
def test_earn_spend_adjust_reverse_keep_one_ledger(db: psycopg.Connection[Any], world: World) -> None:
    card = _card(db, world, welcome=10)
    assert _balances(db, card.card_id) == (10, 10, 10)  # the welcome points, in all three places
    earned = loyaltydb.earn_points(db, JOHN, world.coffee_club, 50, idempotency_key="order-1", reference="R-1")
    assert (earned.points, earned.balance_after, earned.reason, earned.replayed) == (50, 60, "EARN", False)
    assert (earned.customer_id, earned.program_id, earned.card_id) == (JOHN, world.coffee_club, card.card_id)
    spent = loyaltydb.spend_points(db, JOHN, world.coffee_club, 25, idempotency_key="order-2")
    assert (spent.points, spent.balance_after, spent.reason) == (-25, 35, "SPEND")
    fixed = loyaltydb.adjust_points(db, JOHN, world.coffee_club, -5, idempotency_key="fix-1", note="double scan")
    assert (fixed.points, fixed.balance_after) == (-5, 30)
    undone = loyaltydb.reverse_points(db, JOHN, spent.transaction_id, idempotency_key="undo-1")
    assert (undone.points, undone.balance_after, undone.reason) == (25, 55, "REVERSAL")
    assert _balances(db, card.card_id) == (55, 55, 55)
    loyaltydb.spend_points(db, JOHN, world.coffee_club, 10, idempotency_key="order-3")
    with pytest.raises(InsufficientPoints, match="has 45 points, reversal needs 50"):  # never below zero
        loyaltydb.reverse_points(db, JOHN, earned.transaction_id, idempotency_key="undo-2")
    history = loyaltydb.card_transactions(db, JOHN, world.coffee_club)
    assert [(row.reason, row.points) for row in history] == [
        ("SPEND", -10),
        ("REVERSAL", 25),
        ("ADJUST", -5),
        ("SPEND", -25),
        ("EARN", 50),
        ("WELCOME", 10),
    ]
    assert history[1].reverses_id == spent.transaction_id
    assert (history[4].reference, history[2].note) == ("R-1", "double scan")
    # Keyset pages: two, then the rest before the last one shown.
    first = loyaltydb.card_transactions(db, JOHN, world.coffee_club, limit=2)
    rest = loyaltydb.card_transactions(db, JOHN, world.coffee_club, before=first[-1].transaction_id)
    assert first + rest == history
    assert loyaltydb.verify_points(db) == []


@pytest.mark.both_modes
def test_a_reversal_restores_the_balance_exactly(db: psycopg.Connection[Any], world: World) -> None:
    card = _card(db, world)
    earned = loyaltydb.earn_points(db, JOHN, world.coffee_club, 70, idempotency_key="e")
    spent = loyaltydb.spend_points(db, JOHN, world.coffee_club, 30, idempotency_key="s")
    assert loyaltydb.reverse_points(db, JOHN, spent.transaction_id, idempotency_key="r1").balance_after == 70
    with pytest.raises(InsufficientPoints, match="has 70 points"):
        loyaltydb.spend_points(db, JOHN, world.coffee_club, 71, idempotency_key="s2")
    assert loyaltydb.reverse_points(db, JOHN, earned.transaction_id, idempotency_key="r2").balance_after == 0
    assert _balances(db, card.card_id) == (0, 0, 0)


@pytest.mark.both_modes
def test_a_key_replays_the_same_call_and_refuses_another(db: psycopg.Connection[Any], world: World) -> None:
    _card(db, world)
    first = loyaltydb.earn_points(db, JOHN, world.coffee_club, 40, idempotency_key="k")
    again = loyaltydb.earn_points(db, JOHN, world.coffee_club, 40, idempotency_key="k")
    assert again.replayed and (again.transaction_id, again.balance_after) == (first.transaction_id, 40)
    others: list[Callable[[], object]] = [
        lambda: loyaltydb.earn_points(db, JOHN, world.coffee_club, 41, idempotency_key="k"),
        lambda: loyaltydb.spend_points(db, JOHN, world.coffee_club, 40, idempotency_key="k"),
        lambda: loyaltydb.earn_points(db, JOHN, world.coffee_club, 40, idempotency_key="k", reference="other"),
    ]
    for other in others:
        with pytest.raises(IdempotencyKeyReused, match="'k'"):
            other()
    assert count(db, "SELECT count(*) FROM loyalty.point_transactions WHERE customer_id = %s", JOHN) == 1
    # A call that failed stored nothing: its retry is judged afresh.
    with pytest.raises(InsufficientPoints):
        loyaltydb.spend_points(db, JOHN, world.coffee_club, 100, idempotency_key="retry")
    loyaltydb.earn_points(db, JOHN, world.coffee_club, 100, idempotency_key="top-up")
    assert loyaltydb.spend_points(db, JOHN, world.coffee_club, 100, idempotency_key="retry").balance_after == 40
    assert count(db, "SELECT count(*) FROM loyalty.events WHERE type = 'points.earned'") == 2  # none for the replay


@pytest.mark.both_modes
def test_a_transaction_is_reversed_once(db: psycopg.Connection[Any], world: World) -> None:
    _card(db, world, welcome=5)
    earned = loyaltydb.earn_points(db, JOHN, world.coffee_club, 10, idempotency_key="e")
    loyaltydb.reverse_points(db, JOHN, earned.transaction_id, idempotency_key="r")
    assert loyaltydb.reverse_points(db, JOHN, earned.transaction_id, idempotency_key="r").replayed
    with pytest.raises(AlreadyReversed, match=f"Transaction {earned.transaction_id} was reversed already"):
        loyaltydb.reverse_points(db, JOHN, earned.transaction_id, idempotency_key="r-again")
    welcome = loyaltydb.card_transactions(db, JOHN, world.coffee_club)[-1]
    with pytest.raises(InvalidInput, match="WELCOME, which cannot be reversed"):
        loyaltydb.reverse_points(db, JOHN, welcome.transaction_id, idempotency_key="r-welcome")
    with pytest.raises(TransactionNotFound):  # another customer's id, and one that does not exist
        loyaltydb.reverse_points(db, world.existing_customer, earned.transaction_id, idempotency_key="x")
    with pytest.raises(TransactionNotFound):
        loyaltydb.reverse_points(db, JOHN, 10**12, idempotency_key="x")


@pytest.mark.both_modes
def test_every_refusal_is_typed_named_and_writes_nothing(db: psycopg.Connection[Any], world: World) -> None:
    card = _card(db, world)
    loyaltydb.earn_points(db, JOHN, world.coffee_club, 2_000_000_000, idempotency_key="big")
    before = _balances(db, card.card_id), count(db, "SELECT count(*) FROM loyalty.events")
    bad: list[tuple[type[Exception], str, Callable[[], object]]] = [
        (InvalidInput, "points must be a positive integer, not 0", lambda: _earn(db, world, 0)),
        (InvalidInput, "points must be a positive integer, not -3", lambda: _earn(db, world, -3)),
        (InvalidInput, "points must be an integer", lambda: _earn(db, world, 1.5)),
        (InvalidInput, "points must not be None", lambda: _earn(db, world, None)),
        (InvalidInput, "out of range", lambda: _earn(db, world, 2**31)),  # past an integer: 22003
        (InvalidInput, "non-zero", lambda: loyaltydb.adjust_points(db, JOHN, world.coffee_club, 0,
                                                                   idempotency_key="a", note="n")),
        (InvalidInput, "1 to 200 characters, not 0", lambda: _earn(db, world, 1, key="")),
        (InvalidInput, "1 to 200 characters, not 201", lambda: _earn(db, world, 1, key="k" * 201)),
        (InvalidInput, "idempotency_key must be a string", lambda: _earn(db, world, 1, key=None)),
        (InvalidInput, "reference must be at most 200", lambda: loyaltydb.earn_points(
            db, JOHN, world.coffee_club, 1, idempotency_key="ref", reference="r" * 201)),
        (CardNotFound, f"Customer {JOHN} has no card in program {world.tea_club}",
         lambda: loyaltydb.earn_points(db, JOHN, world.tea_club, 1, idempotency_key="k")),
        (CardNotFound, "has no card", lambda: loyaltydb.earn_points(db, 999999, world.coffee_club, 1,
                                                                    idempotency_key="k")),
        (PointsOutOfRange, "2200000000 points", lambda: _earn(db, world, 200_000_000)),
        (InsufficientPoints, "has 2000000000 points", lambda: loyaltydb.spend_points(
            db, JOHN, world.coffee_club, 2_000_000_001, idempotency_key="s")),
        (NotAuthorized, f"Business {world.other_business_id} may not", lambda: loyaltydb.earn_points(
            db, JOHN, world.coffee_club, 1, idempotency_key="b", business_id=world.other_business_id)),
    ]  # fmt: skip
    for error, words, call in bad:
        with pytest.raises(error, match=words):
            call()
        assert db.execute("SELECT 1").fetchone() == (1,)  # the connection is usable
        db.commit()
    assert (_balances(db, card.card_id), count(db, "SELECT count(*) FROM loyalty.events")) == before
    # The right business is allowed.
    loyaltydb.earn_points(db, JOHN, world.coffee_club, 1, idempotency_key="ok", business_id=world.business_id)


def _earn(db: psycopg.Connection[Any], world: World, points: Any, key: Any = "k") -> object:
    return loyaltydb.earn_points(db, JOHN, world.coffee_club, points, idempotency_key=key)


@pytest.mark.both_modes
def test_an_inactive_card_enrollment_or_program_earns_and_spends_nothing(
    db: psycopg.Connection[Any], world: World
) -> None:
    card = _card(db, world)
    loyaltydb.earn_points(db, JOHN, world.coffee_club, 10, idempotency_key="e")
    for table, where in (
        ("loyalty_cards", f"customer_id = {JOHN} AND id = {card.card_id}"),
        ("program_enrollments", f"customer_id = {JOHN} AND id = {card.enrollment_id}"),
        ("loyalty_programs", f"id = {world.coffee_club}"),
    ):
        db.execute(f"UPDATE loyalty.{table} SET status = 'INACTIVE' WHERE {where}")
        db.commit()
        with pytest.raises(CardNotActive, match=f"Card {card.card_id} is not active"):
            loyaltydb.earn_points(db, JOHN, world.coffee_club, 1, idempotency_key=f"e-{table}")
        with pytest.raises(CardNotActive):
            loyaltydb.spend_points(db, JOHN, world.coffee_club, 1, idempotency_key=f"s-{table}")
        # Corrections are allowed there.
        fixed = loyaltydb.adjust_points(db, JOHN, world.coffee_club, 1, idempotency_key=f"a-{table}", note="fix")
        loyaltydb.reverse_points(db, JOHN, fixed.transaction_id, idempotency_key=f"r-{table}")
        db.execute(f"UPDATE loyalty.{table} SET status = 'ACTIVE' WHERE {where}")
        db.commit()
    assert _balances(db, card.card_id) == (10, 10, 10)


@pytest.mark.both_modes
def test_every_change_is_published_and_told_by_name(db: psycopg.Connection[Any], world: World) -> None:
    _card(db, world)
    events.fetch(db, "test")
    earned = loyaltydb.earn_points(db, JOHN, world.coffee_club, 50, idempotency_key="e")
    spent = loyaltydb.spend_points(db, JOHN, world.coffee_club, 20, idempotency_key="s")
    loyaltydb.adjust_points(db, JOHN, world.coffee_club, 3, idempotency_key="a", note="n")
    loyaltydb.reverse_points(db, JOHN, spent.transaction_id, idempotency_key="r", business_id=world.business_id)
    got = events.fetch(db, "test")
    assert [e.type for e in got] == ["points.earned", "points.spent", "points.adjusted", "points.reversed"]
    assert got[0].payload == {
        "customer_name": "John Smith",
        "program_name": "Coffee Club",
        "business_name": "Bean There Coffee",
        "program_id": world.coffee_club,
        "card_id": earned.card_id,
        "card_number": got[0].payload["card_number"],
        "transaction_id": earned.transaction_id,
        "points": 50,
        "balance_after": 50,
        "channels": ["email", "push"],
    }
    assert got[3].payload["reverses_id"] == spent.transaction_id
    feed = loyaltydb.customer_notifications(db, JOHN, limit=4)
    assert [n.type for n in feed] == ["POINTS_ADDED", "POINTS_ADDED", "POINTS_DEDUCTED", "POINTS_ADDED"]
    assert feed[3].title == "You earned 50 points at Coffee Club"
    assert feed[3].message == "Bean There Coffee added 50 points to your Coffee Club card. Your balance is 50 points."
    assert feed[0].message.endswith("(a reversal). Your balance is 53 points.")
    assert feed[3].data["customer_name"] == "John Smith"


@pytest.mark.both_modes
def test_one_hot_card_loses_no_update_under_eight_sessions(dsn: str, db: psycopg.Connection[Any], world: World) -> None:
    """Eight threads earn and spend on one card, each call its own key; then balance = ledger =
    enrollment = the sum of the successful results, and never below zero on the way."""
    card = _card(db, world, welcome=100)
    results: list[int] = []
    refused: list[int] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        with psycopg.connect(dsn) as conn:
            for i in range(25):
                key = f"t{n}-{i}"
                try:
                    if (n + i) % 3 == 0:
                        result = loyaltydb.spend_points(conn, JOHN, world.coffee_club, 7, idempotency_key=key)
                    else:
                        result = loyaltydb.earn_points(conn, JOHN, world.coffee_club, 3, idempotency_key=key)
                except InsufficientPoints:
                    with lock:
                        refused.append(1)
                    continue
                assert result.balance_after >= 0
                with lock:
                    results.append(result.points)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) + len(refused) == 200
    expected = 100 + sum(results)
    assert _balances(db, card.card_id) == (expected, expected, expected)
    assert loyaltydb.verify_points(db) == []


@pytest.mark.both_modes
def test_two_sessions_with_one_key_write_one_row(dsn: str, db: psycopg.Connection[Any], world: World) -> None:
    _card(db, world)
    barrier = threading.Barrier(6)
    got: list[Any] = []

    def worker() -> None:
        with psycopg.connect(dsn) as conn:
            barrier.wait()
            got.append(loyaltydb.earn_points(conn, JOHN, world.coffee_club, 9, idempotency_key="same"))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 6 and len({r.transaction_id for r in got}) == 1
    assert sum(not r.replayed for r in got) == 1
    assert count(db, "SELECT count(*) FROM loyalty.point_transactions WHERE idempotency_key = 'same'") == 1


@pytest.mark.both_modes
def test_a_batch_earns_in_order_and_all_or_nothing(db: psycopg.Connection[Any], world: World) -> None:
    _card(db, world)
    other = loyaltydb.approve_enrollment(
        db, loyaltydb.request_enrollment(db, world.existing_customer, world.coffee_club)
    )
    results = loyaltydb.earn_points_batch(
        db,
        [
            (world.existing_customer, world.coffee_club, 5, "b1"),
            (JOHN, world.coffee_club, 7, "b2"),
            (world.existing_customer, world.coffee_club, 6, "b3"),
        ],
    )
    assert [(r.customer_id, r.points, r.balance_after) for r in results] == [
        (world.existing_customer, 5, 5),
        (JOHN, 7, 7),
        (world.existing_customer, 6, 11),
    ]
    assert other.card_id == results[0].card_id
    again = loyaltydb.earn_points_batch(db, [(JOHN, world.coffee_club, 7, "b2")])
    assert again[0].replayed
    before = count(db, "SELECT count(*) FROM loyalty.point_transactions")
    with pytest.raises(CardNotFound, match=r"entry 2 \(customer 32, program"):
        loyaltydb.earn_points_batch(db, [(JOHN, world.coffee_club, 1, "c1"), (JOHN, world.tea_club, 1, "c2")])
    with pytest.raises(InvalidInput, match="entry 1: points must be an integer"):
        loyaltydb.earn_points_batch(db, [(JOHN, world.coffee_club, "1", "c1")])  # type: ignore[list-item]
    assert count(db, "SELECT count(*) FROM loyalty.point_transactions") == before
    assert loyaltydb.earn_points_batch(db, []) == []


def test_a_tampered_balance_is_found_by_verify_points_and_status_check(
    db: psycopg.Connection[Any], dsn: str, world: World
) -> None:
    from test_cli import run_cli

    card = _card(db, world)
    loyaltydb.earn_points(db, JOHN, world.coffee_club, 10, idempotency_key="e")
    assert run_cli("--dsn", dsn, "status", "--check").returncode == 0
    db.execute("UPDATE loyalty.loyalty_cards SET points_balance = 99 WHERE id = %s", (card.card_id,))
    db.commit()
    (problem,) = loyaltydb.verify_points(db)
    assert (problem.card_id, problem.points_balance, problem.ledger_sum, problem.enrollment_points) == (
        card.card_id,
        99,
        10,
        10,
    )
    assert "balance 99 is not the ledger's sum 10" in problem.problem
    checked = run_cli("--dsn", dsn, "status", "--check")
    assert checked.returncode == 3 and "balance 99 is not the ledger's sum 10" in checked.stderr
    with pytest.raises(psycopg.errors.CheckViolation):  # never negative: the domain's CHECK
        db.execute("UPDATE loyalty.loyalty_cards SET points_balance = -1 WHERE id = %s", (card.card_id,))
    db.rollback()


@pytest.mark.both_modes
def test_an_enrollments_points_become_its_new_cards_opening_row(db: psycopg.Connection[Any], world: World) -> None:
    """An enrollment with points and no card (an imported one): the card an approval makes starts
    with them (OPENING) and the welcome points (WELCOME); every place agrees."""
    loyaltydb.ensure_customer(db, JOHN)
    db.execute(
        "INSERT INTO loyalty.program_enrollments (customer_id, program_id, status, current_points)"
        " VALUES (%s, %s, 'INACTIVE', 40)",
        (JOHN, world.coffee_club),
    )
    db.commit()
    card = _card(db, world, welcome=10)
    history = loyaltydb.card_transactions(db, JOHN, world.coffee_club)
    assert [(r.reason, r.points, r.balance_after) for r in history] == [("WELCOME", 10, 50), ("OPENING", 40, 40)]
    assert _balances(db, card.card_id) == (50, 50, 50)
    # The same through a batch, for Tea Club.
    db.execute(
        "INSERT INTO loyalty.program_enrollments (customer_id, program_id, status, current_points)"
        " VALUES (%s, %s, 'INACTIVE', 15)",
        (JOHN, world.tea_club),
    )
    db.execute("UPDATE loyalty.loyalty_programs SET welcome_points = 5 WHERE id = %s", (world.tea_club,))
    db.commit()
    (tea,) = loyaltydb.approve_enrollments(db, [loyaltydb.request_enrollment(db, JOHN, world.tea_club)])
    assert [(r.reason, r.points) for r in loyaltydb.card_transactions(db, JOHN, world.tea_club)] == [
        ("WELCOME", 5),
        ("OPENING", 15),
    ]
    assert _balances(db, tea.card_id) == (20, 20, 20)
    assert loyaltydb.verify_points(db) == []


def test_the_async_ledger(dsn: str, world: World) -> None:
    import asyncio

    from loyaltydb import aio

    async def scenario() -> None:
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            request = await aio.request_enrollment(conn, JOHN, world.coffee_club)
            await aio.approve_enrollment(conn, request)
            earned = await aio.earn_points(conn, JOHN, world.coffee_club, 8, idempotency_key="a1")
            spent = await aio.spend_points(conn, JOHN, world.coffee_club, 3, idempotency_key="a2")
            await aio.adjust_points(conn, JOHN, world.coffee_club, 1, idempotency_key="a3", note="n")
            await aio.reverse_points(conn, JOHN, spent.transaction_id, idempotency_key="a4")
            (batch,) = await aio.earn_points_batch(conn, [(JOHN, world.coffee_club, 2, "a5")])
            assert (earned.balance_after, batch.balance_after) == (8, 11)
            assert len(await aio.card_transactions(conn, JOHN, world.coffee_club)) == 5
            assert await aio.verify_points(conn) == []

    asyncio.run(scenario())


#: An operation of the property test: ("earn" | "spend" | "adjust", points) or ("reverse", k):
#: reverse the k-th successful change of the same session so far (modulo how many it has).
OPERATIONS = st.one_of(
    st.tuples(st.sampled_from(["earn", "spend"]), st.integers(1, 60)),
    st.tuples(st.just("adjust"), st.integers(-40, 40).filter(bool)),
    st.tuples(st.just("reverse"), st.integers(0, 20)),
)
_customers = itertools.count(5000)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sessions=st.lists(st.lists(OPERATIONS, min_size=1, max_size=12), min_size=2, max_size=3))
def test_any_operations_from_several_sessions_keep_the_ledger_exact(
    dsn: str, db: psycopg.Connection[Any], world: World, sessions: list[list[tuple[str, int]]]
) -> None:
    """Any operations from 2-3 sessions at once on one card: balance = ledger = enrollment = the
    successful results' sum, never negative; and the successful changes, applied one by one in
    ledger order on a second card, give the same balance after each."""
    customer, twin = next(_customers), next(_customers)
    for user in (customer, twin):
        db.execute("INSERT INTO loyalty.users (id, name) VALUES (%s, %s)", (user, f"User {user}"))
        db.commit()
        loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, user, world.coffee_club))
    done: list[loyaltydb.PointResult] = []
    lock = threading.Lock()

    def session(n: int, operations: list[tuple[str, int]]) -> None:
        mine: list[loyaltydb.PointResult] = []
        with psycopg.connect(dsn) as conn:
            for i, (kind, amount) in enumerate(operations):
                key = f"s{n}-{i}"
                try:
                    if kind == "reverse":
                        if not mine:
                            continue
                        target = mine[amount % len(mine)]
                        result = loyaltydb.reverse_points(conn, customer, target.transaction_id, idempotency_key=key)
                    else:
                        change = {
                            "earn": loyaltydb.earn_points,
                            "spend": loyaltydb.spend_points,
                        }.get(kind)
                        if change is None:
                            result = loyaltydb.adjust_points(
                                conn, customer, world.coffee_club, amount, idempotency_key=key, note="p"
                            )
                        else:
                            result = change(conn, customer, world.coffee_club, amount, idempotency_key=key)
                except (InsufficientPoints, AlreadyReversed, InvalidInput):
                    continue
                assert result.balance_after >= 0
                if result.reason != "REVERSAL":
                    mine.append(result)
                with lock:
                    done.append(result)

    threads = [threading.Thread(target=session, args=(n, ops)) for n, ops in enumerate(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    row = db.execute(
        "SELECT k.points_balance, e.current_points, (SELECT coalesce(sum(t.points), 0)"
        "  FROM loyalty.point_transactions AS t WHERE t.customer_id = k.customer_id AND t.card_id = k.id)"
        " FROM loyalty.loyalty_cards AS k JOIN loyalty.program_enrollments AS e USING (customer_id, program_id)"
        " WHERE k.customer_id = %s",
        (customer,),
    ).fetchone()
    db.commit()
    total = sum(result.points for result in done)
    assert row == (total, total, total)
    # The same changes one by one, in the order the ledger holds them (each under the card's lock).
    for result in sorted(done, key=lambda r: r.transaction_id):
        replayed = loyaltydb.adjust_points(
            db, twin, world.coffee_club, result.points, idempotency_key=f"twin-{result.transaction_id}", note="twin"
        )
        assert replayed.balance_after == result.balance_after


def _written(db: psycopg.Connection[Any], customer: int) -> dict[str, list[Any]]:
    """What a customer's earns wrote, without ids, times, names or numbers that differ between
    two customers: ledger rows, notifications, events, balances."""
    rows = {
        "ledger": "SELECT points, balance_after, reason, idempotency_key, reference, note"
        " FROM loyalty.point_transactions WHERE customer_id = %s ORDER BY id",
        "feed": "SELECT type, title, message, data - 'transaction_id' - 'card_id' - 'customer_name'"
        " FROM loyalty.customer_notifications WHERE customer_id = %s AND type LIKE 'POINTS%%'"
        " ORDER BY (data ->> 'transaction_id')::bigint",
        "events": "SELECT type, payload - 'transaction_id' - 'card_id' - 'card_number' - 'customer_name'"
        " FROM loyalty.events WHERE customer_id = %s AND type LIKE 'points.%%' ORDER BY id",
        "balances": "SELECT k.program_id, k.points_balance, e.current_points FROM loyalty.loyalty_cards AS k"
        " JOIN loyalty.program_enrollments AS e USING (customer_id, program_id) WHERE k.customer_id = %s ORDER BY 1",
    }
    written = {name: db.execute(query, (customer,)).fetchall() for name, query in rows.items()}
    db.commit()
    return written


def test_the_set_based_batch_writes_what_single_earns_write(db: psycopg.Connection[Any], world: World) -> None:
    """A batch in which every entry writes goes set-based; its rows equal those of the same earns
    made one by one through earn_points on a twin customer's cards. A batch with a key seen
    before goes entry by entry: the seen key replays, the others write."""
    for user in (6001, 6002):
        db.execute("INSERT INTO loyalty.users (id, name) VALUES (%s, 'Twin')", (user,))
        db.commit()
        for program in (world.coffee_club, world.tea_club):
            loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, user, program))
    plan = [
        (world.coffee_club, 5, "a"),
        (world.tea_club, 7, "b"),
        (world.coffee_club, 11, "c"),
        (world.tea_club, 1, "d"),
    ]
    batch = loyaltydb.earn_points_batch(db, [(6001, program, points, key) for program, points, key in plan])
    single = [loyaltydb.earn_points(db, 6002, program, points, idempotency_key=key) for program, points, key in plan]
    assert [(r.points, r.balance_after, r.replayed) for r in batch] == [
        (r.points, r.balance_after, False) for r in single
    ]
    assert [r.transaction_id for r in batch] == sorted(r.transaction_id for r in batch)  # the entries' order
    assert _written(db, 6001) == _written(db, 6002)
    mixed = loyaltydb.earn_points_batch(db, [(6001, world.coffee_club, 3, "e"), (6001, world.coffee_club, 5, "a")])
    assert [(r.replayed, r.balance_after) for r in mixed] == [(False, 19), (True, 5)]
    assert loyaltydb.verify_points(db) == []
