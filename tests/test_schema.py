"""The tables of the contract: minimum columns, keys, and card numbers with a check digit."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg import errors

import loyaltydb
from helpers import World, count, luhn_valid


def test_inserts_naming_only_the_contract_columns_work(db: psycopg.Connection[Any]) -> None:
    db.execute("INSERT INTO loyalty.users (id, name, email) VALUES (1, NULL, NULL), (2, 'Shop', 's@x')")
    db.execute(
        "INSERT INTO loyalty.customers (id, user_id, name, email, notification_preferences, regional_settings,"
        " joined_at, created_at, updated_at) VALUES (1, 1, 'One', NULL, '{}', '{}', now(), now(), now())"
    )
    db.execute("INSERT INTO loyalty.loyalty_programs (id, business_id, name, status) VALUES (5, 2, 'P', 'ACTIVE')")
    db.execute(
        "INSERT INTO loyalty.customer_approval_requests (id, customer_id, program_id, business_id, status,"
        " notification_id, requested_at, response_at)"
        " VALUES ('00000000-0000-0000-0000-000000000001', 1, 5, 2, 'PENDING', NULL, now(), NULL)"
    )
    db.execute(
        "INSERT INTO loyalty.program_enrollments (id, customer_id, program_id, status, current_points, enrolled_at)"
        " VALUES (1, 1, 5, 'ACTIVE', 0, now())"
    )
    db.execute(
        "INSERT INTO loyalty.loyalty_cards (id, customer_id, program_id, business_id, card_number, status)"
        " VALUES (1, 1, 5, 2, '79927398713', 'ACTIVE')"
    )
    db.execute(
        "INSERT INTO loyalty.customer_business_relationships (customer_id, business_id, status) VALUES (1, 2, 'ACTIVE')"
    )
    db.execute(
        "INSERT INTO loyalty.customer_notifications (id, customer_id, business_id, type, title, message, data,"
        " requires_action, action_taken, is_read, created_at)"
        " VALUES (gen_random_uuid(), 1, 2, 'INFO', 't', 'm', '{}', false, false, false, now())"
    )
    db.commit()


def test_a_card_for_a_missing_customer_is_refused_by_the_named_foreign_key(
    db: psycopg.Connection[Any], world: World
) -> None:
    with pytest.raises(errors.ForeignKeyViolation) as caught:
        db.execute(
            "INSERT INTO loyalty.loyalty_cards (customer_id, program_id, business_id) VALUES (32, %s, 7)",
            (world.coffee_club,),
        )
    assert caught.value.diag.constraint_name == "loyalty_cards_customer_id_fkey"


def test_a_customer_id_must_equal_its_user_id(db: psycopg.Connection[Any], world: World) -> None:
    with pytest.raises(errors.CheckViolation):
        db.execute("INSERT INTO loyalty.customers (id, user_id, name) VALUES (33, 32, 'x')")


def test_one_customer_per_user_is_enforced(db: psycopg.Connection[Any], world: World) -> None:
    """The primary key on id with CHECK (id = user_id): a second row for a user is refused either
    way (a cluster needs every unique key to hold the distribution column, id)."""
    with pytest.raises(errors.UniqueViolation):
        db.execute("INSERT INTO loyalty.customers (id, user_id, name) VALUES (40, 40, 'Ada again')")
    db.rollback()
    with pytest.raises(errors.CheckViolation):
        db.execute("INSERT INTO loyalty.customers (id, user_id, name) VALUES (41, 40, 'Ada again')")
    db.rollback()


@pytest.mark.parametrize(
    ("table", "columns"),
    [
        ("program_enrollments", "(customer_id, program_id)"),
        ("loyalty_cards", "(customer_id, program_id)"),
        ("customer_business_relationships", "(customer_id, business_id)"),
    ],
)
def test_one_row_per_pair_is_a_unique_key(db: psycopg.Connection[Any], table: str, columns: str) -> None:
    row = db.execute(
        "SELECT count(*) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'u'"
        " AND pg_get_constraintdef(oid) = %s",
        (f"loyalty.{table}", f"UNIQUE {columns}"),
    ).fetchone()
    assert row == (1,)


def test_generated_card_numbers_are_unique_16_digit_luhn_numbers(db: psycopg.Connection[Any]) -> None:
    numbers = [row[0] for row in db.execute("SELECT loyalty._next_card_number() FROM generate_series(1, 2000)")]
    assert len(set(numbers)) == len(numbers)
    assert all(len(number) == 16 and luhn_valid(number) for number in numbers)


@pytest.mark.parametrize(("number", "valid"), [("79927398713", True), ("79927398710", False), ("12a4", False)])
def test_the_sql_check_digit_agrees_with_an_independent_luhn(
    db: psycopg.Connection[Any], number: str, valid: bool
) -> None:
    assert db.execute("SELECT loyalty._card_number_is_valid(%s)", (number,)).fetchone() == (valid,)
    assert luhn_valid(number) is valid


def test_the_table_refuses_a_wrong_check_digit_and_a_duplicate(db: psycopg.Connection[Any], world: World) -> None:
    db.execute("INSERT INTO loyalty.customers (id, user_id, name) VALUES (32, 32, 'John')")
    insert = (
        "INSERT INTO loyalty.loyalty_cards (customer_id, program_id, business_id, card_number) VALUES (32, %s, %s, %s)"
    )
    with pytest.raises(errors.CheckViolation):
        db.execute(insert, (world.coffee_club, 7, "79927398710"))
    db.rollback()
    db.execute("INSERT INTO loyalty.customers (id, user_id, name) VALUES (32, 32, 'John')")
    db.execute(insert, (world.coffee_club, 7, "79927398713"))
    with pytest.raises(errors.UniqueViolation):
        db.execute(insert, (world.tea_club, 7, "79927398713"))


def test_a_card_business_must_be_its_program_business(db: psycopg.Connection[Any], world: World) -> None:
    db.execute("INSERT INTO loyalty.customers (id, user_id, name) VALUES (32, 32, 'John')")
    with pytest.raises(errors.ForeignKeyViolation):
        db.execute(
            "INSERT INTO loyalty.loyalty_cards (customer_id, program_id, business_id) VALUES (32, %s, 8)",
            (world.coffee_club,),
        )
    db.rollback()
    assert count(db, "SELECT count(*) FROM loyalty.loyalty_cards") == 0


#: The enumerated columns (0030: domains over text, in place of the tables' CHECKs; 0032: a
#: card's own, which adds BLOCKED), their domains, and each domain's values.
_ENUMERATIONS = [
    ("loyalty_programs", "status", "active_status", ["ACTIVE", "INACTIVE"]),
    ("program_enrollments", "status", "active_status", ["ACTIVE", "INACTIVE"]),
    ("loyalty_cards", "status", "card_status", ["ACTIVE", "INACTIVE", "BLOCKED"]),
    ("customer_business_relationships", "status", "active_status", ["ACTIVE", "INACTIVE"]),
    ("customer_approval_requests", "status", "request_status", ["PENDING", "APPROVED", "REJECTED", "EXPIRED"]),
    ("customer_approval_requests", "kind", "request_kind", ["REQUEST", "INVITATION"]),
    ("customer_notifications", "audience", "notification_audience", ["CUSTOMER", "BUSINESS"]),
]


@pytest.mark.both_modes
@pytest.mark.parametrize(
    ("table", "column", "domain", "values"),
    _ENUMERATIONS,
    ids=[f"{table}.{column}" for table, column, *_ in _ENUMERATIONS],
)
def test_an_enumerated_column_takes_its_values_refuses_others_and_reads_as_text(
    db: psycopg.Connection[Any], world: World, table: str, column: str, domain: str, values: list[str]
) -> None:
    """docs/design.md "Enumerations": a value outside the set is refused (23514, naming the
    domain's constraint) wherever the row is written, on one server and on a cluster's workers,
    and clients still receive text (PostgreSQL sends a domain's base type)."""
    request_id = loyaltydb.request_enrollment(db, world.new_user, world.coffee_club)
    loyaltydb.approve_enrollment(db, request_id)
    db.commit()
    assert count(db, f"SELECT count(*) FROM loyalty.{table}") >= 1
    declared = db.execute(
        "SELECT domain_schema, domain_name, data_type FROM information_schema.columns"
        " WHERE table_schema = 'loyalty' AND table_name = %s AND column_name = %s",
        (table, column),
    ).fetchone()
    assert declared == ("loyalty", domain, "text")
    for value in values:  # every value of the set is taken (rolled back)
        db.execute(f"UPDATE loyalty.{table} SET {column} = %s", (value,))
    db.rollback()
    with pytest.raises(errors.CheckViolation) as caught:
        db.execute(f"UPDATE loyalty.{table} SET {column} = %s", (values[0].lower(),))
    assert caught.value.diag.constraint_name == f"{domain}_check"
    db.rollback()
    cursor = db.execute(f"SELECT {column} FROM loyalty.{table} LIMIT 1")
    assert cursor.description is not None and cursor.description[0].type_code == 25  # text's oid
    assert isinstance(cursor.fetchone()[0], str)  # type: ignore[index]
