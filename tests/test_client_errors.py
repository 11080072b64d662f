"""What reached Python callers raw before (issue 15): a lost connection, a read-only session, an
aborted transaction, a role without loyalty_app, a RawCursor connection, None for a list, a lone
surrogate. Each is a documented loyaltydb error, chained from the original, with its SQLSTATE."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import psycopg
import pytest

import loyaltydb
from helpers import World, snapshot
from loyaltydb import errors


def test_a_backend_killed_mid_call_is_connection_lost(db: psycopg.Connection[Any], dsn: str, world: World) -> None:
    request_id = loyaltydb.request_enrollment(db, world.new_user, world.coffee_club)
    blocker = psycopg.connect(dsn)
    blocker.execute("SELECT FROM loyalty.customer_approval_requests WHERE id = %s FOR UPDATE", (request_id,))
    victim = psycopg.connect(dsn)
    pid = victim.info.backend_pid
    caught: list[BaseException] = []

    def approve() -> None:
        try:
            loyaltydb.approve_enrollment(victim, request_id)
        except BaseException as exc:  # noqa: BLE001 - the test inspects whatever was raised
            caught.append(exc)

    thread = threading.Thread(target=approve)
    thread.start()
    time.sleep(0.5)  # the call now waits on the request's row lock
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    thread.join(10)
    blocker.rollback()
    blocker.close()
    assert len(caught) == 1 and isinstance(caught[0], errors.ConnectionLost), caught
    assert isinstance(caught[0].__cause__, psycopg.OperationalError)
    assert caught[0].sqlstate == "57P01"
    assert loyaltydb.approve_enrollment(db, request_id).status == "APPROVED"  # nothing half-done


def test_a_closed_connection_is_connection_lost(dsn: str, world: World) -> None:
    conn = psycopg.connect(dsn)
    conn.close()
    with pytest.raises(errors.ConnectionLost) as caught:
        loyaltydb.customer_cards(conn, world.existing_customer)
    assert caught.value.sqlstate is None and isinstance(caught.value.__cause__, psycopg.OperationalError)


def test_a_read_only_session_is_read_only(db: psycopg.Connection[Any], world: World) -> None:
    request_id = loyaltydb.request_enrollment(db, world.new_user, world.coffee_club)
    db.execute("SET default_transaction_read_only = on")
    db.commit()
    with pytest.raises(errors.ReadOnly) as caught:
        loyaltydb.approve_enrollment(db, request_id)
    assert caught.value.sqlstate == "25006" and isinstance(caught.value, errors.InvalidTransactionState)


def test_an_aborted_caller_transaction_is_invalid_transaction_state(db: psycopg.Connection[Any], world: World) -> None:
    with pytest.raises(psycopg.errors.DivisionByZero):
        db.execute("SELECT 1 / 0")
    with pytest.raises(errors.InvalidTransactionState) as caught:
        loyaltydb.customer_cards(db, world.existing_customer)
    assert caught.value.sqlstate == "25P02"
    db.rollback()
    assert loyaltydb.customer_cards(db, world.existing_customer) == []


def test_a_role_without_loyalty_app_is_permission_denied(db: psycopg.Connection[Any], dsn: str, world: World) -> None:
    db.execute("DO $$ BEGIN CREATE ROLE stranger LOGIN; EXCEPTION WHEN duplicate_object THEN END $$")
    db.commit()
    with psycopg.connect(psycopg.conninfo.make_conninfo(dsn, user="stranger")) as conn:
        with pytest.raises(errors.PermissionDenied) as caught:
            loyaltydb.customer_cards(conn, world.existing_customer)
        assert caught.value.sqlstate == "42501"
        assert conn.execute("SELECT 1").fetchone() == (1,)  # the connection stays usable


@pytest.mark.parametrize("cursor_factory", [psycopg.RawCursor, psycopg.ClientCursor])
def test_any_cursor_factory_works(dsn: str, world: World, cursor_factory: Any) -> None:
    with psycopg.connect(dsn, cursor_factory=cursor_factory) as conn:
        request_id = loyaltydb.request_enrollment(conn, world.new_user, world.coffee_club)
        assert loyaltydb.approve_enrollment(conn, request_id).status == "APPROVED"
        assert [card.program_name for card in loyaltydb.customer_cards(conn, world.new_user)] == ["Coffee Club"]


@pytest.mark.parametrize("request_ids", [None, 42])
def test_request_ids_that_are_no_list_are_invalid_input(db: psycopg.Connection[Any], request_ids: Any) -> None:
    with pytest.raises(errors.InvalidInput, match="request_ids must be a list"):
        loyaltydb.approve_enrollments(db, request_ids)


def test_a_reason_with_a_lone_surrogate_is_invalid_input(db: psycopg.Connection[Any], world: World) -> None:
    request_id = loyaltydb.request_enrollment(db, world.new_user, world.coffee_club)
    before = snapshot(db)
    with pytest.raises(errors.InvalidInput, match="lone surrogate"):
        loyaltydb.reject_enrollment(db, request_id, "caf\udce9")
    assert snapshot(db) == before


def test_a_request_message_is_capped_like_a_reason(db: psycopg.Connection[Any], world: World) -> None:
    before = snapshot(db)
    with pytest.raises(psycopg.Error) as caught:
        db.execute("SELECT loyalty.request_enrollment(%s, %s, %s)", (world.new_user, world.coffee_club, "x" * 1001))
    db.rollback()
    assert caught.value.sqlstate == "LY010"
    assert isinstance(errors.translate(caught.value), errors.MessageTooLong)
    assert snapshot(db) == before
    row = db.execute("SELECT loyalty.request_enrollment(%s, %s, %s)", (world.new_user, world.coffee_club, "x" * 1000))
    assert isinstance(row.fetchone()[0], uuid.UUID)  # type: ignore[index]


@pytest.mark.parametrize("separator", ["\u2028", "\u2029"])
def test_one_line_escapes_the_unicode_line_separators(separator: str) -> None:
    rendered = errors.one_line(f"created customer 32 (Mallory{separator}INFO forged line)")
    assert separator not in rendered and "\\u202" in rendered
