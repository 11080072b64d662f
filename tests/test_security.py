"""Roles and security: loyalty_app may only EXECUTE the API; definer functions are pinned."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg import errors as pg_errors

import loyaltydb
from helpers import World, add_request, loyalty_tables, snapshot
from loyaltydb.errors import NotAuthorized
from loyaltydb.testing import FAST_UNSAFE_SETTINGS, TempServer

WRITES = {
    "INSERT": "INSERT INTO loyalty.{table} DEFAULT VALUES",
    "UPDATE": "UPDATE loyalty.{table} SET {column} = {column}",
    "DELETE": "DELETE FROM loyalty.{table}",
}


def _as_app(conn: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    conn.execute("SET ROLE loyalty_app")
    conn.commit()
    return conn


@pytest.fixture
def app_login(db: psycopg.Connection[Any], dsn: str) -> Callable[[], psycopg.Connection[Any]]:
    """Connections as a LOGIN role that is granted loyalty_app, as a service would use."""
    db.execute("DO $$ BEGIN CREATE ROLE app_service LOGIN; EXCEPTION WHEN duplicate_object THEN END $$")
    db.execute("GRANT loyalty_app TO app_service")
    db.commit()
    return lambda: psycopg.connect(psycopg.conninfo.make_conninfo(dsn, user="app_service"))


def _assert_every_direct_write_is_refused(conn: psycopg.Connection[Any]) -> None:
    for table in loyalty_tables(conn):
        # The table's first column (not every table has an id: card_aliases).
        column = conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum = 1", (f"loyalty.{table}",)
        ).fetchone()
        assert column is not None
        for verb, statement in WRITES.items():
            with pytest.raises(pg_errors.InsufficientPrivilege) as caught:
                conn.execute(statement.format(table=table, column=column[0]))
            conn.rollback()
            assert caught.value.sqlstate == "42501", (verb, table)


def _assert_the_api_works(conn: psycopg.Connection[Any], world: World) -> None:
    request_id = loyaltydb.request_enrollment(conn, world.new_user, world.coffee_club)
    result = loyaltydb.approve_enrollment(conn, request_id, business_id=world.business_id)
    assert result.customer_created and result.card_number
    assert loyaltydb.ensure_customer(conn, world.new_user).name == "John Smith"
    assert [card.id for card in loyaltydb.customer_cards(conn, 32)] == [result.card_id]
    other = loyaltydb.request_enrollment(conn, world.new_user, world.tea_club)
    assert loyaltydb.reject_enrollment(conn, other).status == "REJECTED"
    row = conn.execute("SELECT loyalty.ensure_customer_exists(32)").fetchone()
    assert row == (32,)
    waiting = loyaltydb.request_enrollment(conn, world.existing_customer, world.coffee_club)
    assert [p.request_id for p in loyaltydb.pending_requests(conn, world.business_id)] == [waiting]
    # The replaced system's call, unqualified, as its services send it (schema on their path).
    conn.execute("SET search_path = loyalty, public")
    card = conn.execute(
        "SELECT process_enrollment_approval(%s::integer, %s::integer, %s)",
        (world.existing_customer, world.coffee_club, waiting),
    ).fetchone()
    conn.execute("RESET search_path")
    assert card is not None and card[0] == loyaltydb.customer_cards(conn, world.existing_customer)[0].id
    conn.commit()


def test_through_set_role_the_app_can_call_the_api_but_not_write_tables(
    connect: Callable[..., psycopg.Connection[Any]], world: World
) -> None:
    conn = _as_app(connect())
    _assert_every_direct_write_is_refused(conn)
    _assert_the_api_works(conn, world)


@pytest.mark.both_modes
def test_through_a_login_role_the_app_can_call_the_api_but_not_write_tables(
    app_login: Callable[[], psycopg.Connection[Any]], world: World
) -> None:
    with app_login() as conn:
        _assert_every_direct_write_is_refused(conn)
        with pytest.raises(pg_errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM loyalty.customers")
        conn.rollback()
        _assert_the_api_works(conn, world)


@pytest.mark.both_modes
def test_no_function_is_executable_by_public(db: psycopg.Connection[Any], mode: str) -> None:
    count_public = (
        "SELECT count(*), count(*) FILTER (WHERE has_function_privilege('public', p.oid, 'EXECUTE'))"
        " FROM pg_proc AS p WHERE p.pronamespace = 'loyalty'::regnamespace"
    )
    row = db.execute(count_public).fetchone()
    assert row is not None
    assert row[0] > 10
    assert row[1] == 0
    if mode == "cluster":
        # On every worker too, where a delegated call is checked: Citus made the functions there
        # with PUBLIC's EXECUTE, which `distribute` revokes.
        on_workers = db.execute(
            "SELECT result FROM run_command_on_workers(%s)", (count_public.replace("count(*), count", "count"),)
        ).fetchall()
        db.commit()
        assert on_workers and all(result == "0" for (result,) in on_workers), on_workers


@pytest.mark.both_modes
def test_every_definer_function_pins_its_search_path(db: psycopg.Connection[Any]) -> None:
    rows = db.execute(
        "SELECT p.oid::regprocedure::text, p.prosecdef, p.proconfig FROM pg_proc AS p"
        " WHERE p.pronamespace = 'loyalty'::regnamespace"
        " AND (p.prosecdef OR has_function_privilege('loyalty_app', p.oid, 'EXECUTE'))"
    ).fetchall()
    assert len(rows) >= 5
    for name, definer, config in rows:
        assert definer, f"{name}: executable by loyalty_app but not SECURITY DEFINER"
        assert config and any(c.startswith("search_path=") for c in config), f"{name}: search_path not pinned"
        assert "pg_temp" in next(c for c in config if c.startswith("search_path=")).split(",")[-1]


@pytest.mark.both_modes
def test_every_object_is_owned_by_loyalty_owner(db: psycopg.Connection[Any]) -> None:
    owners = db.execute(
        "SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class AS c WHERE c.relnamespace = 'loyalty'::regnamespace"
        " UNION SELECT DISTINCT pg_get_userbyid(p.proowner) FROM pg_proc AS p"
        " WHERE p.pronamespace = 'loyalty'::regnamespace"
        " UNION SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'loyalty'"
    ).fetchall()
    assert owners == [("loyalty_owner",)]


def test_the_roles_cannot_log_in(db: psycopg.Connection[Any]) -> None:
    rows = db.execute(
        "SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname IN ('loyalty_owner','loyalty_app') ORDER BY 1"
    ).fetchall()
    assert rows == [("loyalty_app", False), ("loyalty_owner", False)]


@pytest.mark.both_modes
def test_new_functions_start_closed(db: psycopg.Connection[Any]) -> None:
    db.execute("SET ROLE loyalty_owner")
    db.execute("CREATE FUNCTION loyalty.added_later() RETURNS int LANGUAGE sql AS 'SELECT 1'")
    row = db.execute(
        "SELECT has_function_privilege('public', 'loyalty.added_later()', 'EXECUTE'),"
        " has_function_privilege('loyalty_app', 'loyalty.added_later()', 'EXECUTE')"
    ).fetchone()
    db.rollback()  # the function goes again (the cluster's database is shared by the run)
    assert row == (False, False)


def test_temp_tables_named_like_the_real_ones_change_no_result(
    db: psycopg.Connection[Any], connect: Callable[..., psycopg.Connection[Any]], world: World
) -> None:
    request_id = add_request(db, world.new_user, world.coffee_club)
    conn = _as_app(connect())
    for table in loyalty_tables(db):
        conn.execute(
            f"CREATE TEMP TABLE {table} (id bigint, user_id bigint, customer_id bigint, program_id bigint,"
            " business_id bigint, name text, email text, status text, card_number text)"
        )
    conn.execute("INSERT INTO pg_temp.users (id, name, email) VALUES (32, 'Mallory', 'evil@example.com')")
    conn.execute("CREATE TEMP VIEW card_details AS SELECT 1 AS id")
    conn.execute("SET search_path = pg_temp, loyalty, public")
    conn.commit()
    result = loyaltydb.approve_enrollment(conn, request_id)
    assert result.customer_created
    assert loyaltydb.ensure_customer(conn, 32).name == "John Smith"
    assert [card.program_name for card in loyaltydb.customer_cards(conn, 32)] == ["Coffee Club"]
    assert conn.execute("SELECT count(*) FROM pg_temp.customers").fetchone() == (0,)


@pytest.mark.both_modes
def test_a_business_cannot_decide_another_business_request(db: psycopg.Connection[Any], world: World) -> None:
    request_id = add_request(db, world.new_user, world.coffee_club)  # a program of business 7
    before = snapshot(db)
    for decide in (loyaltydb.approve_enrollment, loyaltydb.reject_enrollment):
        with pytest.raises(NotAuthorized, match="another business") as caught:
            decide(db, request_id, business_id=world.other_business_id)
        assert caught.value.sqlstate == "LY006"
    assert snapshot(db) == before
    result = loyaltydb.approve_enrollment(db, request_id, business_id=world.business_id)
    assert result.status == "APPROVED"
    with pytest.raises(NotAuthorized):  # not even a replay tells another business the outcome
        loyaltydb.approve_enrollment(db, request_id, business_id=world.other_business_id)


def test_a_second_database_migrates_cleanly_and_rollback_keeps_roles_it_uses(
    empty_dsn: str, db: psycopg.Connection[Any], world: World
) -> None:
    assert loyaltydb.migrate(empty_dsn)  # the roles exist already (the template database made them)
    loyaltydb.rollback(empty_dsn, steps=None)
    assert db.execute("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'loyalty\\_%'").fetchone() == (4,)
    db.execute("SET ROLE loyalty_app")
    assert loyaltydb.ensure_customer(db, world.new_user).created


def test_rollback_drops_the_roles_when_no_database_uses_them() -> None:
    with TempServer(settings=FAST_UNSAFE_SETTINGS) as server:
        first, second = server.conninfo("postgres"), server.conninfo("template1")
        loyaltydb.migrate(first)
        loyaltydb.migrate(second)
        loyaltydb.rollback(first, steps=None)
        with psycopg.connect(first) as conn:
            assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'loyalty\\_%'").fetchone() == (4,)
        loyaltydb.rollback(second, steps=None)
        with psycopg.connect(first) as conn:
            assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'loyalty\\_%'").fetchone() == (0,)
            assert loyaltydb.migrate(first)[0] == "0001_schema"  # and it all comes back
            assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'loyalty\\_%'").fetchone() == (4,)


@pytest.mark.both_modes
def test_unknown_uuid_as_app_is_request_not_found(connect: Callable[..., psycopg.Connection[Any]]) -> None:
    conn = _as_app(connect())
    with pytest.raises(loyaltydb.errors.RequestNotFound):
        loyaltydb.approve_enrollment(conn, uuid.uuid4())


@pytest.mark.both_modes
def test_the_api_is_what_has_no_leading_underscore(db: psycopg.Connection[Any]) -> None:
    """Internal helpers are named _x: loyalty_app may execute exactly the functions without one."""
    rows = db.execute(
        "SELECT p.proname, has_function_privilege('loyalty_app', p.oid, 'EXECUTE')"
        " FROM pg_proc AS p WHERE p.pronamespace = 'loyalty'::regnamespace"
    ).fetchall()
    db.commit()
    assert rows
    # Export and erasure are loyalty_privacy's alone (0041), not the service's.
    privacy = {"export_customer", "erase_customer"}
    assert dict(rows) == {name: not name.startswith("_") and name not in privacy for name, _ in rows}
    granted = db.execute(
        "SELECT p.proname FROM pg_proc AS p WHERE p.pronamespace = 'loyalty'::regnamespace"
        " AND has_function_privilege('loyalty_privacy', p.oid, 'EXECUTE') ORDER BY 1"
    ).fetchall()
    db.commit()
    assert {name for (name,) in granted} == privacy
