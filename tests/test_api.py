"""The Python API: atomicity, typed errors, notices, retries and the aio twin."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

import loyaltydb
from helpers import RESULT_FIELDS, World, add_request, count, wait_until_blocked
from loyaltydb import aio, api, errors, retry

ROOT = Path(__file__).resolve().parent.parent


def test_a_call_inside_the_callers_transaction_joins_it(db: psycopg.Connection[Any], world: World) -> None:
    request_id = add_request(db, world.new_user, world.coffee_club)
    db.execute("SELECT 1")  # the caller's transaction is now open
    loyaltydb.approve_enrollment(db, request_id)
    db.rollback()  # the caller changes its mind: the approval goes with it
    assert count(db, "SELECT count(*) FROM loyalty.customers WHERE id = 32") == 0
    assert count(db, "SELECT count(*) FROM loyalty.customer_approval_requests WHERE status = 'PENDING'") == 1


def test_an_error_inside_the_callers_transaction_rolls_back_only_the_call(
    db: psycopg.Connection[Any], world: World
) -> None:
    db.execute("INSERT INTO loyalty.users (id, name) VALUES (500, 'kept')")
    with pytest.raises(errors.RequestNotFound):
        loyaltydb.approve_enrollment(db, "00000000-0000-0000-0000-000000000000")
    assert db.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS  # usable, not aborted
    db.commit()
    assert count(db, "SELECT count(*) FROM loyalty.users WHERE id = 500") == 1


def test_a_call_on_an_idle_connection_commits_its_own_transaction(
    db: psycopg.Connection[Any], world: World, connect: Callable[..., psycopg.Connection[Any]]
) -> None:
    request_id = add_request(db, world.new_user, world.coffee_club)
    loyaltydb.approve_enrollment(db, request_id)
    assert db.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    other = connect()
    assert count(other, "SELECT count(*) FROM loyalty.loyalty_cards WHERE customer_id = 32") == 1


def test_an_autocommit_connection_works(world: World, connect: Callable[..., psycopg.Connection[Any]]) -> None:
    conn = connect(autocommit=True)
    result = loyaltydb.approve_enrollment(conn, loyaltydb.request_enrollment(conn, world.new_user, world.tea_club))
    assert result.status == "APPROVED"


@pytest.mark.parametrize(
    ("cls", "sqlstate"),
    [
        (errors.RequestNotFound, "LY001"),
        (errors.RequestAlreadyDecided, "LY002"),
        (errors.UserNotFound, "LY003"),
        (errors.ProgramNotFound, "LY004"),
        (errors.ProgramNotActive, "LY005"),
        (errors.NotAuthorized, "LY006"),
        (errors.SerializationFailure, "40001"),
        (errors.DeadlockDetected, "40P01"),
        (errors.LockTimeout, "55P03"),
    ],
)
def test_each_sqlstate_maps_to_its_error_class(cls: type[errors.LoyaltyError], sqlstate: str) -> None:
    assert issubclass(cls, errors.LoyaltyError)
    assert sqlstate in cls.sqlstates


def test_errors_are_chained_from_the_psycopg_error(db: psycopg.Connection[Any], world: World) -> None:
    with pytest.raises(errors.UserNotFound) as caught:
        loyaltydb.ensure_customer(db, 12345)
    cause = caught.value.__cause__
    assert isinstance(cause, psycopg.Error) and cause.sqlstate == "LY003" == caught.value.sqlstate


def test_an_unmigrated_database_raises_not_migrated(empty_dsn: str) -> None:
    with psycopg.connect(empty_dsn) as conn, pytest.raises(errors.NotMigrated, match="loyaltydb migrate"):
        loyaltydb.ensure_customer(conn, 1)


def test_results_are_frozen_typed_records(db: psycopg.Connection[Any], world: World) -> None:
    result = loyaltydb.approve_enrollment(db, add_request(db, world.new_user, world.coffee_club))
    assert [field.name for field in dataclasses.fields(result)] == RESULT_FIELDS
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.status = "REJECTED"  # type: ignore[misc]


def test_notices_reach_python_logging(
    db: psycopg.Connection[Any], world: World, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="loyaltydb"):
        loyaltydb.ensure_customer(db, world.new_user)
    assert [r.getMessage() for r in caplog.records if r.name == "loyaltydb"] == [
        "created customer 32 (John Smith) from user 32"
    ]


def test_a_conflict_in_a_transaction_we_own_is_retried(
    db: psycopg.Connection[Any], world: World, connect: Callable[..., psycopg.Connection[Any]]
) -> None:
    """At REPEATABLE READ the waiting approval fails with 40001; the wrapper retries and replays."""
    request_id = add_request(db, world.new_user, world.coffee_club)
    holder = connect()
    holder.execute("SELECT 1 FROM loyalty.customer_approval_requests WHERE id = %s FOR UPDATE", (request_id,))
    waiter = connect(application_name="rr-waiter")
    waiter.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    outcome: list[object] = []
    retries_before = retry.retries()
    thread = threading.Thread(target=lambda: outcome.append(loyaltydb.approve_enrollment(waiter, request_id)))
    thread.start()
    wait_until_blocked(db, "rr-waiter")
    decided = loyaltydb.approve_enrollment(holder, request_id)  # joins holder's open transaction
    holder.commit()
    thread.join(timeout=30)
    assert outcome == [decided]
    assert retry.retries() == retries_before + 1


def test_a_conflict_inside_the_callers_transaction_is_raised_for_the_caller_to_retry(
    db: psycopg.Connection[Any], world: World, connect: Callable[..., psycopg.Connection[Any]]
) -> None:
    request_id = add_request(db, world.new_user, world.coffee_club)
    caller = connect()
    caller.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    caller.execute("SELECT 1")  # the caller's snapshot is taken now
    loyaltydb.approve_enrollment(connect(), request_id)  # someone else decides meanwhile
    with pytest.raises(errors.SerializationFailure):
        loyaltydb.approve_enrollment(caller, request_id)
    assert isinstance(errors.SerializationFailure("x"), errors.TransactionConflict)


def test_aio_and_api_export_the_same_functions_with_the_same_signatures() -> None:
    """Walks __all__ of both: same names, same parameters and annotations (but for the
    connection class), coroutines on one side, plain functions on the other; every one is
    exported by the package too."""
    assert sorted(api.__all__) == sorted(aio.__all__)
    assert "approve_enrollments" in api.__all__
    for name in api.__all__:
        sync_function, async_function = getattr(api, name), getattr(aio, name)
        assert inspect.iscoroutinefunction(async_function) and not inspect.iscoroutinefunction(sync_function), name
        sync_signature, async_signature = inspect.signature(sync_function), inspect.signature(async_function)
        # The connection types differ by name only (AsyncConnectable and Connectable, or the classes).
        unasync = str(async_signature).replace("AsyncConnectable", "Connectable")
        unasync = unasync.replace("AsyncConnection", "Connection")
        assert unasync == str(sync_signature), name
        assert inspect.getdoc(async_function) == inspect.getdoc(sync_function), name
        assert getattr(loyaltydb, name) is sync_function
        assert name in loyaltydb.__all__


def test_api_py_is_generated_from_aio_py() -> None:
    """api.py is exactly what tools/async_to_sync.py makes of aio.py (make generate)."""
    completed = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "async_to_sync.py"), "--check"], capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stderr


def test_aio_approves_rejects_and_raises_like_the_sync_api(dsn: str, world: World) -> None:
    async def scenario() -> None:
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            request_id = await aio.request_enrollment(conn, world.new_user, world.coffee_club)
            result = await aio.approve_enrollment(conn, request_id)
            assert result.customer_created and result.status == "APPROVED"
            assert await aio.approve_enrollment(conn, request_id) == result
            cards = await aio.customer_cards(conn, world.new_user)
            assert [card.card_number for card in cards] == [result.card_number]
            customer = await aio.ensure_customer(conn, world.new_user)
            assert (customer.name, customer.created) == ("John Smith", False)
            with pytest.raises(errors.RequestAlreadyDecided):
                await aio.reject_enrollment(conn, request_id)
            other = await aio.request_enrollment(conn, world.new_user, world.tea_club)
            await conn.execute("SELECT 1")  # open a transaction of the caller's
            rejected = await aio.reject_enrollment(conn, other, reason="full")
            assert rejected.status == "REJECTED"
            await conn.rollback()  # ... which takes the rejection with it
            cur = await conn.execute("SELECT status FROM loyalty.customer_approval_requests WHERE id = %s", (other,))
            assert await cur.fetchone() == ("PENDING",)

    asyncio.run(scenario())
