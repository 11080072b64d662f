"""Events (contract: "Events"): every change writes its event in its own transaction; consumers
receive each at least once, never two workers of one consumer the same one, and never skip one
whose transaction commits after later ones were fetched and acked. Real connections, threads and
the real console script; the consumer tests on one server and on the Citus cluster."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from test_cli import _console_script, run_cli

import loyaltydb
from helpers import World, count
from loyaltydb import events
from loyaltydb.errors import InvalidInput, UserNotFound

JOHN = 32  # a user who is not a customer yet


def _types(conn: psycopg.Connection[Any], consumer: str = "test") -> list[str]:
    got = events.fetch(conn, consumer, limit=1000)
    events.ack(conn, consumer, [e.id for e in got])
    return [e.type for e in got]


def test_an_approval_publishes_its_decision_customer_card_and_points(db: psycopg.Connection[Any], world: World) -> None:
    events.fetch(db, "test")  # registers the consumer: it receives what commits from now on
    db.execute("UPDATE loyalty.loyalty_programs SET welcome_points = 50 WHERE id = %s", (world.coffee_club,))
    db.commit()
    request = loyaltydb.request_enrollment(db, JOHN, world.coffee_club)
    result = loyaltydb.approve_enrollment(db, request)
    got = events.fetch(db, "test")
    assert [e.type for e in got] == [
        "enrollment.requested",
        "customer.created",
        "enrollment.approved",
        "card.created",
        "points.credited",
    ]
    approved = got[2]
    assert (approved.customer_id, approved.business_id) == (JOHN, world.business_id)
    assert approved.payload == {
        "customer_name": "John Smith",
        "program_name": "Coffee Club",
        "business_name": "Bean There Coffee",
        "request_id": str(request),
        "program_id": world.coffee_club,
        "card_id": result.card_id,
        "card_number": result.card_number,
        "channels": ["email", "push"],
    }
    assert got[4].payload["points"] == 50
    assert "channels" not in got[0].payload  # the business decides a request: no customer is notified
    # A replay changes nothing and publishes nothing.
    events.ack(db, "test", [e.id for e in got])
    loyaltydb.approve_enrollment(db, request)
    assert events.fetch(db, "test") == []


def test_every_kind_of_change_is_published(db: psycopg.Connection[Any], world: World) -> None:
    events.fetch(db, "test")
    loyaltydb.reject_enrollment(db, loyaltydb.request_enrollment(db, JOHN, world.tea_club), "Full")
    invitation = loyaltydb.invite_customer(db, world.business_id, world.existing_customer, world.coffee_club)
    loyaltydb.accept_invitation(db, invitation, customer_id=world.existing_customer)
    declined = loyaltydb.invite_customer(db, world.business_id, world.existing_customer, world.tea_club)
    loyaltydb.decline_invitation(db, declined, customer_id=world.existing_customer)
    loyaltydb.ensure_customer(db, JOHN)
    overdue = loyaltydb.invite_customer(db, world.other_business_id, JOHN, world.bakery_club)
    db.execute(
        "UPDATE loyalty.customer_approval_requests SET expires_at = now() - interval '1 s' WHERE id = %s", (overdue,)
    )
    db.commit()
    assert loyaltydb.expire_requests(db) == 1
    assert _types(db) == [
        "enrollment.requested",
        "enrollment.rejected",
        "invitation.sent",
        "invitation.accepted",
        "card.created",
        "invitation.sent",
        "invitation.declined",
        "customer.created",
        "invitation.sent",
        "request.expired",
    ]


def test_a_batch_publishes_as_one_by_one_would(db: psycopg.Connection[Any], world: World) -> None:
    events.fetch(db, "test")
    requests = [loyaltydb.request_enrollment(db, JOHN, p) for p in (world.coffee_club, world.tea_club)]
    requests.append(loyaltydb.request_enrollment(db, JOHN, world.coffee_club))  # a duplicate
    _types(db)
    loyaltydb.approve_enrollments(db, requests)
    assert _types(db) == [
        "customer.created",
        "enrollment.approved",
        "card.created",
        "enrollment.approved",
        "card.created",
        "enrollment.approved",
    ]


def test_channels_follow_the_customers_preferences(db: psycopg.Connection[Any], world: World) -> None:
    db.execute(
        'UPDATE loyalty.customers SET notification_preferences = \'{"sms": true, "email": false, "promotions": false}\''
        " WHERE id = %s",
        (world.existing_customer,),
    )
    db.commit()
    events.fetch(db, "test")
    loyaltydb.invite_customer(db, world.business_id, world.existing_customer, world.coffee_club)
    loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, world.existing_customer, world.tea_club))
    got = {e.type: e.payload.get("channels") for e in events.fetch(db, "test")}
    assert got["invitation.sent"] == []  # promotions off
    assert got["enrollment.approved"] == ["push", "sms"]
    assert got["card.created"] == ["push", "sms"]
    assert got["enrollment.requested"] is None


def test_a_rolled_back_change_leaves_no_event(db: psycopg.Connection[Any], world: World) -> None:
    events.fetch(db, "test")
    with db.transaction(force_rollback=True):  # the caller's transaction, rolled back
        loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, JOHN, world.coffee_club))
    assert events.fetch(db, "test") == []
    assert count(db, "SELECT count(*) FROM loyalty.events WHERE customer_id = %s", JOHN) == 0


def test_a_user_that_does_not_exist_publishes_nothing(db: psycopg.Connection[Any], world: World) -> None:
    events.fetch(db, "test")
    with pytest.raises(UserNotFound):
        loyaltydb.request_enrollment(db, 4242, world.coffee_club)
    assert events.fetch(db, "test") == []


@pytest.mark.both_modes
def test_an_event_that_commits_after_later_ones_were_acked_is_not_skipped(
    db: psycopg.Connection[Any], world: World, connect: Callable[..., psycopg.Connection[Any]]
) -> None:
    """The classic outbox bug: T1 writes event 1 and stays open, T2 writes event 2 and commits;
    the consumer fetches and acks 2 (the highest id so far); T1 commits. Event 1 still comes."""
    events.fetch(db, "test")
    slow, fast = connect(), connect()
    early = loyaltydb.request_enrollment  # both write an enrollment.requested event
    slow.execute("BEGIN")
    first = early(slow, JOHN, world.coffee_club)  # inside slow's open transaction: id 1, not committed
    second = early(fast, world.existing_customer, world.coffee_club)  # committed: id 2
    got = events.fetch(db, "test")
    assert [e.payload["request_id"] for e in got] == [str(second)]
    events.ack(db, "test", [e.id for e in got])
    slow.commit()
    late = events.fetch(db, "test")
    assert [e.payload["request_id"] for e in late] == [str(first)]
    assert late[0].id < got[0].id  # an older id, committed later


@pytest.mark.both_modes
def test_a_late_batch_over_many_customers_in_a_savepoint_is_not_skipped(
    db: psycopg.Connection[Any], world: World, connect: Callable[..., psycopg.Connection[Any]]
) -> None:
    """The same, for a transaction the coordinator of a cluster runs over both workers (two-phase
    commit) whose events are written inside a savepoint (the API joins an open transaction
    through one). Each event row must carry its worker's own transaction number."""
    users = list(range(100, 108))  # spread over both workers
    for user in users:
        db.execute("INSERT INTO loyalty.users (id, email) VALUES (%s, %s)", (user, f"u{user}@example.com"))
    db.commit()
    requests = [loyaltydb.request_enrollment(db, user, world.coffee_club) for user in users]
    events.fetch(db, "test", limit=1000)  # registers after the requests
    db.commit()
    slow, fast = connect(), connect()
    slow.execute("SELECT 1")  # an open transaction: the batch joins it through a savepoint
    loyaltydb.approve_enrollments(slow, requests)
    loyaltydb.request_enrollment(fast, JOHN, world.coffee_club)
    got = events.fetch(db, "test")
    assert [e.type for e in got] == ["enrollment.requested"]
    events.ack(db, "test", [e.id for e in got])
    db.commit()
    slow.commit()
    late = events.fetch(db, "test", limit=1000)
    assert sorted({e.customer_id for e in late if e.type == "enrollment.approved"}) == users
    assert len(late) == 3 * len(users)  # customer.created, enrollment.approved, card.created each


@pytest.mark.both_modes
def test_an_event_not_acked_comes_back_after_the_visibility_timeout(
    db: psycopg.Connection[Any], world: World, connect: Callable[..., psycopg.Connection[Any]]
) -> None:
    events.fetch(db, "test")
    loyaltydb.request_enrollment(db, JOHN, world.coffee_club)
    worker = connect()
    (held,) = events.fetch(worker, "test", visibility_timeout=1.0)
    worker.close()  # the worker dies before its ack
    assert events.fetch(db, "test") == []  # still held
    time.sleep(1.2)
    (again,) = events.fetch(db, "test")
    assert again == held
    assert count(db, "SELECT deliveries FROM loyalty.event_deliveries WHERE event_id = %s", held.id) == 2
    assert events.ack(db, "test", [again.id]) == 1
    assert events.ack(db, "test", [again.id]) == 0
    time.sleep(0.1)
    assert events.fetch(db, "test", visibility_timeout=0) == []


@pytest.mark.both_modes
def test_workers_of_one_consumer_never_hold_the_same_event(
    db: psycopg.Connection[Any], world: World, connect: Callable[..., psycopg.Connection[Any]]
) -> None:
    events.fetch(db, "workers")
    for user in range(100, 160):
        db.execute("INSERT INTO loyalty.users (id, email) VALUES (%s, %s)", (user, f"u{user}@example.com"))
    db.commit()
    for user in range(100, 160):
        loyaltydb.request_enrollment(db, user, world.coffee_club)
    held: list[list[int]] = [[], [], [], []]
    errors: list[BaseException] = []

    def work(slot: int) -> None:
        try:
            conn = connect()
            while batch := events.fetch(conn, "workers", limit=3):
                held[slot].extend(e.id for e in batch)
                time.sleep(0.01)
                events.ack(conn, "workers", [e.id for e in batch])
        except BaseException as exc:  # noqa: BLE001  (reported below, from the main thread)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(slot,)) for slot in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    every = [event for worker in held for event in worker]
    assert len(every) == 60 == len(set(every))
    assert sum(1 for worker in held if worker) >= 2  # they really competed


@pytest.mark.both_modes
def test_each_consumer_receives_every_event_and_a_late_one_only_what_follows(
    db: psycopg.Connection[Any], world: World
) -> None:
    events.fetch(db, "mailer")
    events.fetch(db, "analytics")
    loyaltydb.request_enrollment(db, JOHN, world.coffee_club)
    assert _types(db, "mailer") == ["enrollment.requested"]
    events.fetch(db, "latecomer")
    loyaltydb.request_enrollment(db, JOHN, world.tea_club)
    assert _types(db, "analytics") == ["enrollment.requested", "enrollment.requested"]
    assert _types(db, "mailer") == ["enrollment.requested"]
    assert _types(db, "latecomer") == ["enrollment.requested"]


def _listen_in_thread(listener: psycopg.Connection[Any]) -> tuple[threading.Thread, list[float]]:
    """A thread waiting in listen (10 s at most); the list gets the time it woke, if it did."""
    woke: list[float] = []

    def wait() -> None:
        if events.listen(listener, timeout=10):
            woke.append(time.monotonic())

    thread = threading.Thread(target=wait)
    thread.start()
    return thread, woke


def test_listen_wakes_an_idle_consumer_within_a_second(
    dsn: str, world: World, connect: Callable[..., psycopg.Connection[Any]]
) -> None:
    listener = connect(autocommit=True)
    assert events.listen(listener, timeout=5)  # the first call starts listening and returns at once
    thread, woke = _listen_in_thread(listener)
    time.sleep(0.5)
    writer = connect()
    committed = time.monotonic()
    loyaltydb.request_enrollment(writer, JOHN, world.coffee_club)
    thread.join(timeout=15)
    assert woke, "listen did not wake"
    assert woke[0] - committed < 1.0
    assert not events.listen(listener, timeout=0.3)  # nothing more


def _notified(conn: psycopg.Connection[Any], timeout: float) -> bool:
    """Whether a raw LISTEN on ``conn`` (no wake-up lock of its own) got a notification."""
    return any(True for _ in conn.notifies(timeout=timeout, stop_after=1))


def test_writers_notify_only_while_a_consumer_waits(
    dsn: str, world: World, connect: Callable[..., psycopg.Connection[Any]]
) -> None:
    """Notifying transactions commit one at a time, so a write with no consumer waiting sends none."""
    spy = connect(autocommit=True)
    spy.execute("LISTEN loyalty_events")
    writer = connect()
    loyaltydb.request_enrollment(writer, JOHN, world.coffee_club)
    assert not _notified(spy, 0.5), "a write with nobody waiting notified"

    listener = connect(autocommit=True)
    assert events.listen(listener, timeout=1)  # starts listening
    thread = threading.Thread(target=events.listen, args=(listener,), kwargs={"timeout": 10})
    thread.start()
    time.sleep(0.5)  # the listener now waits
    loyaltydb.request_enrollment(writer, JOHN, world.tea_club)
    assert _notified(spy, 5), "a write while a consumer waited did not notify"
    thread.join(timeout=15)
    # Woken, the listener no longer holds the wake-up lock: writes go quiet again.
    held = spy.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1"
        " AND (classid::bigint << 32 | objid::bigint) = loyalty._events_wake_key()"
    ).fetchone()
    assert held == (0,)
    loyaltydb.request_enrollment(writer, JOHN, world.bakery_club)
    assert not _notified(spy, 0.5)


def test_a_writer_that_commits_while_a_consumer_comes_to_wait_still_wakes_it(
    dsn: str, world: World, connect: Callable[..., psycopg.Connection[Any]]
) -> None:
    """The lost wake-up: the writer's statement found nobody waiting (so sends no NOTIFY), and it
    commits after the consumer looked for events. The consumer's wait for the lock closes it."""
    listener = connect(autocommit=True)
    assert events.listen(listener, timeout=1)
    writer = connect()
    with writer.transaction():
        writer.execute(
            "SELECT loyalty.request_enrollment(p_customer_id => %s, p_program_id => %s)", (JOHN, world.coffee_club)
        )
        thread, woke = _listen_in_thread(listener)
        time.sleep(0.5)
        assert not woke  # waits for the writer's transaction
    committed = time.monotonic()
    thread.join(timeout=15)
    assert woke, "listen slept through a commit that sent no NOTIFY"
    assert woke[0] - committed < 1.0


def test_listen_gives_up_on_a_writer_left_open_after_its_timeout(
    dsn: str, world: World, connect: Callable[..., psycopg.Connection[Any]]
) -> None:
    listener = connect(autocommit=True)
    assert events.listen(listener, timeout=1)
    writer = connect()
    writer.execute(
        "SELECT loyalty.request_enrollment(p_customer_id => %s, p_program_id => %s)", (JOHN, world.coffee_club)
    )
    started = time.monotonic()
    assert events.listen(listener, timeout=0.5) is False
    assert time.monotonic() - started < 3
    writer.commit()
    assert events.listen(listener, timeout=5)  # the commit is seen, nothing left held
    assert listener.execute("SELECT 1").fetchone() == (1,)


def test_listen_refuses_a_connection_in_a_transaction(db: psycopg.Connection[Any]) -> None:
    db.execute("SELECT 1")
    with pytest.raises(InvalidInput, match="no transaction open"):
        events.listen(db, timeout=0.1)


@pytest.mark.both_modes
def test_prune_keeps_what_a_consumer_has_not_acked(db: psycopg.Connection[Any], world: World) -> None:
    loyaltydb.request_enrollment(db, JOHN, world.coffee_club)
    assert events.prune(db, older_than=0) == 0  # no consumer: nothing is pruned
    events.fetch(db, "a")
    events.fetch(db, "b")
    loyaltydb.request_enrollment(db, JOHN, world.tea_club)
    acked = events.fetch(db, "a")
    events.ack(db, "a", [e.id for e in acked])
    assert events.prune(db, older_than=0) == 1  # the first: before both registered
    assert events.prune(db, older_than=0) == 0  # b holds the second
    got = events.fetch(db, "b")
    events.ack(db, "b", [e.id for e in got])
    assert events.prune(db, older_than=3600) == 0  # younger than an hour
    assert events.prune(db, older_than=0) == 1
    assert count(db, "SELECT count(*) FROM loyalty.events") == 0


@pytest.mark.both_modes
def test_bad_consumer_arguments_are_one_sentence(db: psycopg.Connection[Any]) -> None:
    with pytest.raises(InvalidInput, match="consumer must be a name"):
        events.fetch(db, 7)  # type: ignore[arg-type]
    with pytest.raises(loyaltydb.LoyaltyError, match="a consumer name is"):
        events.fetch(db, "no spaces please")
    with pytest.raises(loyaltydb.LoyaltyError, match="limit must be"):
        events.fetch(db, "ok", limit=0)
    assert events.fetch(db, "ok") == []  # the connection stays usable


@pytest.mark.both_modes
def test_the_async_consumer_api(dsn: str, world: World) -> None:
    import asyncio

    from loyaltydb import aio

    async def scenario() -> None:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            assert await aio.events.fetch(conn, "async") == []
            assert await aio.events.listen(conn, timeout=1)
            await aio.request_enrollment(conn, JOHN, world.coffee_club)
            assert await aio.events.listen(conn, timeout=2)
            got = await aio.events.fetch(conn, "async")
            assert [e.type for e in got] == ["enrollment.requested"]
            assert await aio.events.ack(conn, "async", [got[0].id]) == 1

    asyncio.run(scenario())


def _tail_json_while(dsn: str, limit: int, write: Callable[[], object]) -> list[dict[str, Any]]:
    """`loyaltydb events tail --json --limit N` through the real console script, following while
    ``write`` commits; the JSON objects it printed."""
    tail = subprocess.Popen(
        [_console_script(), "--dsn", dsn, "events", "tail", "--json", "--limit", str(limit)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)  # it is following
    write()
    out, err = tail.communicate(timeout=30)
    assert tail.returncode == 0, err
    return [json.loads(line) for line in out.splitlines()]


def _tail_as_ops_then_prune(dsn: str, db: psycopg.Connection[Any], *, pruned: int) -> None:
    """`events tail --consumer ops` prints John's Bakery Club request and acks it; then `events
    prune` deletes ``pruned`` events, every consumer having acked them."""
    printed = run_cli("--dsn", dsn, "events", "tail", "--consumer", "ops", "--limit", "1")
    assert printed.returncode == 0, printed.stderr
    assert "enrollment.requested  John Smith, Bakery Club" in printed.stdout
    assert count(db, "SELECT count(*) FROM loyalty.event_deliveries") == 0  # acked
    time.sleep(1.1)
    done = run_cli("--dsn", dsn, "events", "prune", "--older-than", "1", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"pruned": pruned}


def test_tail_prints_events_live_through_the_console_script(
    dsn: str, world: World, db: psycopg.Connection[Any]
) -> None:
    lines = _tail_json_while(
        dsn,
        2,
        lambda: (
            loyaltydb.request_enrollment(db, JOHN, world.coffee_club),
            loyaltydb.request_enrollment(db, JOHN, world.tea_club),
        ),
    )
    assert [line["type"] for line in lines] == ["enrollment.requested", "enrollment.requested"]
    assert lines[0]["payload"]["program_name"] == "Coffee Club"
    assert count(db, "SELECT count(*) FROM loyalty.event_consumers") == 0  # an observer registers nothing
    # As a consumer, it acks what it printed; prune then deletes what everyone acked.
    events.fetch(db, "ops")  # registered now: the next event is its first
    loyaltydb.request_enrollment(db, JOHN, world.bakery_club)
    _tail_as_ops_then_prune(dsn, db, pruned=3)  # the two before ops registered, and its acked one


@pytest.mark.parametrize("mode", ["cluster"], indirect=True)
def test_on_a_cluster_tail_follows_and_listen_polls(
    dsn: str, db: psycopg.Connection[Any], world: World, connect: Callable[..., psycopg.Connection[Any]]
) -> None:
    """No NOTIFY reaches a coordinator, so listen returns every half second there; tail's
    observer keeps a snapshot of every node as its position, as a consumer does."""
    lines = _tail_json_while(dsn, 1, lambda: loyaltydb.request_enrollment(db, JOHN, world.coffee_club))
    assert [line["payload"]["program_name"] for line in lines] == ["Coffee Club"]
    assert count(db, "SELECT count(*) FROM loyalty.event_consumers") == 0  # an observer registers nothing
    events.fetch(db, "ops")
    db.commit()
    listener = connect(autocommit=True)
    assert events.listen(listener, timeout=1)  # starts listening
    thread, woke = _listen_in_thread(listener)
    loyaltydb.request_enrollment(db, JOHN, world.bakery_club)
    committed = time.monotonic()
    thread.join(timeout=15)
    assert woke and woke[0] - committed < 1.0
    _tail_as_ops_then_prune(dsn, db, pruned=2)  # the one before ops registered, and its acked one


@pytest.mark.both_modes
def test_the_example_worker_of_the_docs_sends_card_created_on_its_channels(dsn: str, world: World) -> None:
    """docs/events.md's worker, run as it is printed: it sends the new card's email and push."""
    page = (Path(__file__).resolve().parents[1] / "docs" / "events.md").read_text(encoding="utf-8")
    found = re.search(r"A worker that sends email.*?```python\n(.*?)```", page, re.DOTALL)
    assert found, "docs/events.md has no example worker"
    namespace: dict[str, Any] = {}
    exec(compile(found.group(1), "docs/events.md", "exec"), namespace)  # noqa: S102  (our own docs)
    sent: list[tuple[str, int, str]] = []

    class Done(Exception):
        pass

    def send_email(customer: int, text: str, dedupe_key: int) -> None:
        sent.append(("email", customer, text))

    def send_push(customer: int, text: str, dedupe_key: int) -> None:
        sent.append(("push", customer, text))
        raise Done

    failures: list[BaseException] = []

    def worker() -> None:
        try:
            namespace["run"](dsn, send_email, send_push)
        except Done:
            pass
        except BaseException as exc:  # noqa: BLE001  (reported from the main thread)
            failures.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    time.sleep(1.0)  # its first fetch registered it, and it listens
    with psycopg.connect(dsn) as conn:
        result = loyaltydb.approve_enrollment(conn, loyaltydb.request_enrollment(conn, JOHN, world.coffee_club))
    thread.join(timeout=15)
    assert not thread.is_alive() and not failures
    text = f"John Smith, your Coffee Club card {result.card_number} is ready."
    assert sent == [("email", JOHN, text), ("push", JOHN, text)]


@pytest.mark.both_modes
def test_events_are_written_with_their_customer_on_both_kinds_of_database(
    db: psycopg.Connection[Any], world: World, mode: str
) -> None:
    """On the cluster too an approval writes its events, on the customer's worker in the same
    (delegated) transaction, and a consumer reads them there (the consumer tests above run on
    both kinds of database too)."""
    assert events.fetch(db, "anyone") == []
    result = loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, JOHN, world.coffee_club))
    rows = db.execute(
        "SELECT type, payload ->> 'card_number' FROM loyalty.events WHERE customer_id = %s ORDER BY id", (JOHN,)
    ).fetchall()
    db.commit()
    assert rows == [
        ("enrollment.requested", None),
        ("customer.created", None),
        ("enrollment.approved", result.card_number),
        ("card.created", result.card_number),
    ]
    assert [(e.type, e.customer_id) for e in events.fetch(db, "anyone")] == [(t, JOHN) for t, _ in rows]
    db.commit()
    if mode == "cluster":
        nodes = db.execute(
            "SELECT DISTINCT nodeport FROM citus_shards WHERE citus_table_type = 'distributed' AND shardid IN ("
            " get_shard_id_for_distribution_column('loyalty.events', %s),"
            " get_shard_id_for_distribution_column('loyalty.loyalty_cards', %s))",
            (JOHN, JOHN),
        ).fetchall()
        assert len(nodes) == 1  # the same worker as the card
