"""The events' edges that adversarial testing found (issue 27): a consumer writing in its own
transaction, a listener whose backend is terminated, arguments that must be typed errors,
consumers that are gone for good, and a service's login following events. Each test fails on the
code before the fix."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from test_cli import assert_user_error, run_cli
from test_events import _tail_json_while

import loyaltydb
from helpers import World, count
from loyaltydb import events
from loyaltydb.errors import ConnectionLost, InvalidInput

JOHN = 32


@pytest.mark.both_modes
def test_a_consumer_that_writes_in_its_own_transaction_misses_none_of_its_events(
    dsn: str, world: World, connect: Callable[..., psycopg.Connection[Any]]
) -> None:
    """fetch, approve, ack, commit in ONE transaction, after a later transaction committed (so
    the consumer's own transaction is below the snapshot's xmax): the approval's events come
    with the next fetch. The position stored to count the consumer's own transaction as seen."""
    consumer, other = connect(), connect()
    events.fetch(consumer, "c")
    consumer.commit()
    consumer.execute("SELECT pg_current_xact_id()")  # this transaction has its id now
    loyaltydb.request_enrollment(other, world.existing_customer, world.tea_club)  # a later one commits
    early = events.fetch(consumer, "c")
    request = loyaltydb.request_enrollment(consumer, JOHN, world.coffee_club)
    loyaltydb.approve_enrollment(consumer, request)
    events.ack(consumer, "c", [e.id for e in early])
    consumer.commit()
    later = events.fetch(other, "c", limit=1000)
    assert "enrollment.approved" in [e.type for e in later]
    assert {e.customer_id for e in later if e.type.startswith("enrollment")} == {JOHN}


def test_listen_whose_backend_is_terminated_is_connection_lost(
    dsn: str, connect: Callable[..., psycopg.Connection[Any]]
) -> None:
    """Killed while waiting: ConnectionLost (not psycopg's OperationalError); the connection then
    says it is lost again, not that a transaction is open."""
    listener, admin = connect(autocommit=True), connect(autocommit=True)
    assert events.listen(listener, timeout=1)  # starts listening
    caught: list[BaseException] = []

    def wait() -> None:
        try:
            events.listen(listener, timeout=20)
        except BaseException as exc:  # noqa: BLE001  (the test looks at what it was)
            caught.append(exc)

    thread = threading.Thread(target=wait)
    thread.start()
    admin.execute("SELECT pg_sleep(0.5)")
    admin.execute("SELECT pg_terminate_backend(%s)", (listener.info.backend_pid,))
    thread.join(timeout=30)
    assert caught and isinstance(caught[0], ConnectionLost), caught
    with pytest.raises(ConnectionLost, match="reconnect"):
        events.listen(listener, timeout=1)


@pytest.mark.parametrize("timeout", ["1", None, True])
def test_a_listen_timeout_that_is_no_number_is_invalid_input(db: psycopg.Connection[Any], timeout: Any) -> None:
    db.commit()
    with pytest.raises(InvalidInput, match="timeout must be a number of seconds"):
        events.listen(db, timeout=timeout)


def test_a_retention_past_a_century_is_refused_by_name(db: psycopg.Connection[Any], dsn: str) -> None:
    with pytest.raises(InvalidInput, match="older_than must be from 0 to 3,155,760,000 seconds"):
        events.prune(db, older_than=1e20)
    assert_user_error(
        run_cli("--dsn", dsn, "events", "prune", "--older-than", "99999999999999999999"), "older_than", "100 years"
    )


@pytest.mark.both_modes
def test_a_consumer_gone_for_good_is_listed_and_dropped(db: psycopg.Connection[Any], dsn: str, world: World) -> None:
    """One stray fetch registers "mailr", which then holds back pruning forever: `status` and
    `events consumers` say since when; dropping it (a loyalty_app login may) lets prune work."""
    events.fetch(db, "mailr")
    loyaltydb.request_enrollment(db, JOHN, world.coffee_club)
    events.fetch(db, "mailr")  # queued for it, never acked
    (status,) = events.consumers(db)
    assert (status.consumer, status.unacked) == ("mailr", 1)
    assert status.holds_back_since is not None and status.oldest_unacked_at is not None
    assert events.prune(db, older_than=0) == 0  # mailr holds it
    shown = run_cli("--dsn", dsn, "status")
    assert shown.returncode == 0, shown.stderr
    assert "consumer 'mailr': last fetch" in shown.stdout and "holds back pruning of events since" in shown.stdout
    listed = run_cli("--dsn", dsn, "events", "consumers", "--json")
    assert [row["consumer"] for row in json.loads(listed.stdout)] == ["mailr"]
    db.execute("DO $$ BEGIN CREATE ROLE events_app_login LOGIN; EXCEPTION WHEN duplicate_object THEN END $$")
    db.execute("GRANT loyalty_app TO events_app_login")
    db.commit()
    as_app = psycopg.conninfo.make_conninfo(dsn, user="events_app_login")
    dropped = run_cli("--dsn", as_app, "events", "drop-consumer", "mailr", "--json")
    assert dropped.returncode == 0, dropped.stderr
    assert json.loads(dropped.stdout) == {"dropped": True}
    assert events.drop_consumer(db, "mailr") is False
    assert events.consumers(db) == []
    assert count(db, "SELECT count(*) FROM loyalty.event_deliveries") == 0
    assert events.prune(db, older_than=0) == 0  # no consumer at all: nothing is pruned (unchanged)
    events.fetch(db, "mailer")  # a real consumer, which acks
    loyaltydb.request_enrollment(db, JOHN, world.tea_club)
    got = events.fetch(db, "mailer")
    events.ack(db, "mailer", [e.id for e in got])
    events.fetch(db, "mailer")  # its position passes them
    assert events.prune(db, older_than=0) >= 1


@pytest.mark.both_modes
def test_a_service_login_can_tail_events(db: psycopg.Connection[Any], dsn: str, world: World) -> None:
    """`events tail` as a loyalty_app login (it called internal functions before: permission
    denied for function _distributed)."""
    db.execute("DO $$ BEGIN CREATE ROLE tail_app_login LOGIN; EXCEPTION WHEN duplicate_object THEN END $$")
    db.execute("GRANT loyalty_app TO tail_app_login")
    db.commit()
    as_app = psycopg.conninfo.make_conninfo(dsn, user="tail_app_login")
    lines = _tail_json_while(as_app, 1, lambda: loyaltydb.request_enrollment(db, JOHN, world.coffee_club))
    assert [line["type"] for line in lines] == ["enrollment.requested"]
