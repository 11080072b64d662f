"""Faults: a backend killed at each step of an approval, lock timeouts, a server restart
under load, and a small stress run; nothing partial may remain and nothing committed be lost."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

import loyaltydb
from benchmarks import stress
from helpers import World, snapshot, wait_until_blocked
from loyaltydb.errors import ConnectionLost, LockTimeout
from loyaltydb.migrations import migrate
from loyaltydb.testing import TempServer

# Each step of the procedure, and a statement that makes another session hold what that step
# needs: the approval blocks there, and is killed there.
BLOCKERS: dict[str, str] = {
    "request row lock": "SELECT FROM loyalty.customer_approval_requests WHERE id = %(request)s FOR UPDATE",
    "program row lock": "UPDATE loyalty.loyalty_programs SET name = name WHERE id = %(program)s",
    "user row lock": "SELECT FROM loyalty.users WHERE id = %(user)s FOR UPDATE",
    "customer insert": "INSERT INTO loyalty.customers (id, user_id, name) VALUES (%(user)s, %(user)s, 'held')",
    "enrollment insert": "INSERT INTO loyalty.program_enrollments (customer_id, program_id)"
    " VALUES (%(existing)s, %(program)s)",
    "card insert": "INSERT INTO loyalty.loyalty_cards (customer_id, program_id, business_id)"
    " VALUES (%(existing)s, %(program)s, 7)",
    "relationship upsert": "INSERT INTO loyalty.customer_business_relationships (customer_id, business_id)"
    " VALUES (%(existing)s, 7)",
    "request notification update": "SELECT FROM loyalty.customer_notifications AS n"
    " JOIN loyalty.customer_approval_requests AS r ON r.notification_id = n.id"
    " WHERE r.id = %(request)s FOR UPDATE OF n",
}
# Steps after the customer exists are reached by an existing customer's request.
EXISTING_CUSTOMER_STEPS = {"enrollment insert", "card insert", "relationship upsert"}


@pytest.mark.parametrize("path", ["approve", "accept"])
@pytest.mark.parametrize("step", list(BLOCKERS))
def test_a_backend_killed_at_any_step_leaves_nothing_partial(
    db: psycopg.Connection[Any], world: World, connect: Callable[..., psycopg.Connection[Any]], step: str, path: str
) -> None:
    """A business's approval of a request, and a customer's acceptance of an invitation (with
    welcome points, so the ledger is written too), killed while blocked at each step."""
    user = world.existing_customer if step in EXISTING_CUSTOMER_STEPS else world.new_user
    db.execute("UPDATE loyalty.loyalty_programs SET welcome_points = 10 WHERE id = %s", (world.coffee_club,))
    db.commit()
    if path == "approve":
        request_id = loyaltydb.request_enrollment(db, user, world.coffee_club)
    else:
        request_id = loyaltydb.invite_customer(db, world.business_id, user, world.coffee_club)

    def decide(conn: psycopg.Connection[Any]) -> loyaltydb.EnrollmentResult:
        if path == "approve":
            return loyaltydb.approve_enrollment(conn, request_id)
        return loyaltydb.accept_invitation(conn, request_id, customer_id=user)

    before = snapshot(db)
    params = {"request": request_id, "program": world.coffee_club, "user": user, "existing": user}
    _kill_while_blocked(db, connect, BLOCKERS[step], params, f"victim-{step}", decide)
    assert snapshot(db) == before  # nothing of the killed approval remains
    result = decide(connect())  # and a re-call succeeds
    assert result.status == "APPROVED" and result.card_number
    assert [card.points_balance for card in loyaltydb.customer_cards(db, user)] == [10]


def test_the_callers_lock_timeout_surfaces_as_a_typed_error_with_nothing_written(
    db: psycopg.Connection[Any], world: World, connect: Callable[..., psycopg.Connection[Any]]
) -> None:
    request_id = loyaltydb.request_enrollment(db, world.new_user, world.coffee_club)
    before = snapshot(db)
    holder = connect()
    holder.execute("SELECT FROM loyalty.users WHERE id = 32 FOR UPDATE")
    caller = connect()
    caller.execute("SET lock_timeout = '200ms'")
    caller.commit()
    started = time.monotonic()
    with pytest.raises(LockTimeout) as caught:
        loyaltydb.approve_enrollment(caller, request_id)
    assert caught.value.sqlstate == "55P03"
    assert time.monotonic() - started < 10
    holder.rollback()
    assert snapshot(db) == before
    assert caller.execute("SELECT 1").fetchone() == (1,)


def test_a_small_stress_run_keeps_every_invariant(dsn: str) -> None:
    report = stress.run(dsn, sessions=8, operations=800)
    assert report.ok, "\n".join(report.lines())
    assert report.operations["approve"] > 50 and report.approvals_seen_committed > 200
    assert report.expected_errors["UserNotFound"] > 0  # the ghosts really ran


def _wait_for_approvals(conninfo: str, at_least: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(conninfo, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("SELECT count(*) FROM loyalty.customer_approval_requests WHERE status = 'APPROVED'")
            if (row.fetchone() or (0,))[0] >= at_least:
                return
            time.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} approvals after {timeout} s")


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_a_server_restart_under_load_loses_no_committed_approval(mode: str) -> None:
    with TempServer() as server:  # default settings: fsync and synchronous_commit on
        migrate(server.conninfo())
        reports: list[stress.StressReport] = []
        load = threading.Thread(
            target=lambda: reports.append(
                stress.run(server.conninfo(), sessions=8, operations=4000, tolerate_disconnects=True)
            )
        )
        load.start()
        _wait_for_approvals(server.conninfo(), at_least=300)  # the load is well under way
        server.restart(mode)
        load.join(timeout=300)
        (report,) = reports
        assert report.disconnects > 0, "the restart did not interrupt the load"
        assert report.ok, "\n".join(report.lines())


def _kill_while_blocked(
    db: psycopg.Connection[Any],
    connect: Callable[..., psycopg.Connection[Any]],
    blocker: str,
    params: dict[str, object],
    name: str,
    call: Callable[[psycopg.Connection[Any]], object],
) -> None:
    """Another session runs ``blocker`` (and keeps its locks); ``call`` on a connection of its own
    blocks behind it and has its backend terminated there; it must raise ConnectionLost, chained
    from psycopg's error (issue 15). The blocker is then rolled back."""
    holder = connect()
    holder.execute(blocker, params)
    victim = connect(application_name=name[:60])
    failure: list[BaseException] = []

    def run() -> None:
        try:
            call(victim)
        except BaseException as error:  # noqa: BLE001 - the test inspects it
            failure.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    wait_until_blocked(db, name[:60])
    db.execute("SELECT pg_terminate_backend(%s)", (victim.info.backend_pid,))
    db.commit()
    thread.join(timeout=30)
    assert failure and isinstance(failure[0], ConnectionLost), failure
    assert isinstance(failure[0].__cause__, psycopg.OperationalError)
    holder.rollback()


# Each statement of a ledger change (loyalty._change_points, in its order), and what makes another
# session hold what that statement needs: the change blocks there and is killed there.
LEDGER_BLOCKERS: dict[str, str] = {
    "enrollment row lock": "SELECT FROM loyalty.program_enrollments WHERE customer_id = 32 FOR UPDATE",
    "card row lock": "SELECT FROM loyalty.loyalty_cards WHERE customer_id = 32 FOR UPDATE",
    "ledger insert": "LOCK TABLE loyalty.point_transactions IN SHARE MODE",
    "card balance update": "LOCK TABLE loyalty.loyalty_cards IN SHARE MODE",
    "enrollment points update": "LOCK TABLE loyalty.program_enrollments IN SHARE MODE",
    "notification insert": "LOCK TABLE loyalty.customer_notifications IN SHARE MODE",
    "event insert": "LOCK TABLE loyalty.events IN SHARE MODE",
}


@pytest.mark.parametrize("path", ["earn", "spend", "reverse"])
@pytest.mark.parametrize("step", list(LEDGER_BLOCKERS))
def test_a_backend_killed_at_any_statement_of_a_ledger_change_leaves_it_as_before(
    db: psycopg.Connection[Any], world: World, connect: Callable[..., psycopg.Connection[Any]], step: str, path: str
) -> None:
    """An earn, a spend or a reversal killed while blocked at each of its statements: the ledger,
    the balance, the enrollment, the feed and the events are as before; the same call again (same
    key) then changes them once."""
    loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, 32, world.coffee_club))
    earned = loyaltydb.earn_points(db, 32, world.coffee_club, 40, idempotency_key="first")

    def change(conn: psycopg.Connection[Any]) -> loyaltydb.PointResult:
        if path == "earn":
            return loyaltydb.earn_points(conn, 32, world.coffee_club, 5, idempotency_key="k")
        if path == "spend":
            return loyaltydb.spend_points(conn, 32, world.coffee_club, 5, idempotency_key="k")
        return loyaltydb.reverse_points(conn, 32, earned.transaction_id, idempotency_key="k")

    before = snapshot(db)
    _kill_while_blocked(db, connect, LEDGER_BLOCKERS[step], {}, f"ledger-{step}", change)
    assert snapshot(db) == before  # nothing of the killed change remains
    result = change(connect())
    assert not result.replayed
    assert result.balance_after == {"earn": 45, "spend": 35, "reverse": 0}[path]
    assert loyaltydb.verify_points(db) == []
