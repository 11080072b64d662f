"""Customers created from users: name derivation, defaults, ensure_customer(_exists)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

import loyaltydb
from helpers import World, add_user, count, snapshot
from loyaltydb.errors import InvalidInput, UserNotFound

# Every behaviour here holds on one server and on a Citus cluster.
pytestmark = pytest.mark.both_modes

NAME_CASES = [
    # (users.name, users.email, derived customers.name)
    ("Jane Doe", "jane@example.com", "Jane Doe"),
    ("  Jane Doe \t\n", None, "Jane Doe"),
    (None, "john.smith@example.com", "John Smith"),
    ("   ", "mary.ann.lee@example.org", "Mary Ann Lee"),
    ("", "JOHN.SMITH@example.com", "John Smith"),
    ("\t", "alice@example.com", "Alice"),
    ("\x0bViv Vance\x0b", None, "Viv Vance"),  # vertical tab trimmed, the letter v kept
    (None, "vivian.v@example.com", "Vivian V"),
    (None, "no-at-sign.example.com", "Customer 41"),
    (None, None, "Customer 41"),
    (None, "@example.com", "Customer 41"),
    (" ", ".@example.com", "Customer 41"),
]


@pytest.mark.parametrize(("name", "email", "expected"), NAME_CASES)
def test_a_created_customer_gets_a_real_display_name(
    db: psycopg.Connection[Any], name: str | None, email: str | None, expected: str
) -> None:
    add_user(db, 41, name, email)
    db.commit()
    customer = loyaltydb.ensure_customer(db, 41)
    assert customer == loyaltydb.Customer(id=41, user_id=41, name=expected, email=email, created=True)
    assert db.execute("SELECT name, email FROM loyalty.customers WHERE id = 41").fetchone() == (expected, email)


def test_a_created_customer_has_the_contract_defaults(db: psycopg.Connection[Any], world: World) -> None:
    loyaltydb.ensure_customer(db, world.new_user)
    prefs, regional = db.execute(
        "SELECT notification_preferences, regional_settings FROM loyalty.customers WHERE id = %s", (world.new_user,)
    ).fetchone() or (None, None)
    assert prefs == {"email": True, "push": True, "promotions": True, "rewards": True, "system": True, "sms": False}
    assert regional == {"language": "en", "country": "United States", "currency": "USD", "timezone": "UTC"}


def test_ensure_customer_returns_the_existing_customer_untouched(db: psycopg.Connection[Any], world: World) -> None:
    before = snapshot(db)
    customer = loyaltydb.ensure_customer(db, world.existing_customer)
    assert customer == loyaltydb.Customer(id=40, user_id=40, name="Ada L.", email="ada@example.com", created=False)
    assert snapshot(db) == before


def test_ensure_customer_is_idempotent(db: psycopg.Connection[Any], world: World) -> None:
    first = loyaltydb.ensure_customer(db, world.new_user)
    second = loyaltydb.ensure_customer(db, world.new_user)
    assert (first.created, second.created) == (True, False)
    assert first.id == second.id == world.new_user
    assert count(db, "SELECT count(*) FROM loyalty.customers WHERE user_id = %s", world.new_user) == 1


def test_sql_ensure_customer_exists_returns_the_id(db: psycopg.Connection[Any], world: World) -> None:
    row = db.execute("SELECT loyalty.ensure_customer_exists(32)").fetchone()
    assert row == (32,)
    assert db.execute("SELECT loyalty.ensure_customer_exists(32)").fetchone() == (32,)
    db.commit()  # on a cluster, rows the API wrote as loyalty_owner are read in a new transaction
    assert count(db, "SELECT count(*) FROM loyalty.customers WHERE id = 32") == 1


def test_a_missing_user_raises_user_not_found_with_the_contract_message(
    db: psycopg.Connection[Any], world: World
) -> None:
    before = snapshot(db)
    with pytest.raises(UserNotFound) as caught:
        loyaltydb.ensure_customer(db, 999)
    assert str(caught.value) == "User not found for customer_id: 999. Cannot create customer record."
    assert caught.value.sqlstate == "LY003"
    assert snapshot(db) == before


def test_a_null_user_id_is_invalid_input(db: psycopg.Connection[Any]) -> None:
    with pytest.raises(InvalidInput, match="user_id must not be None"):
        loyaltydb.ensure_customer(db, None)  # type: ignore[arg-type]
    with pytest.raises(psycopg.errors.NullValueNotAllowed, match="must not be NULL"):  # psql users: 22004
        db.execute("SELECT loyalty.ensure_customer_exists(NULL)")
    db.rollback()


LOCALE_CASES = [
    ("élodie.durand@x.example", "Élodie Durand"),
    ("şükrü.öz@x.example", "Şükrü Öz"),
    ("ÅSA.ÖBERG@x.example", "Åsa Öberg"),
    ("john.smith@example.com", "John Smith"),
]
DATABASE_LOCALES = {
    "c": "LOCALE 'C'",
    "c_utf8": "LOCALE 'C.UTF-8'",
    "icu": "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'",
}


@pytest.mark.parametrize("locale", sorted(DATABASE_LOCALES))
def test_names_are_derived_the_same_in_every_database_locale(pg_server: Any, locale: str) -> None:
    """initcap under the ICU root collation: Unicode-correct whatever the database's locale."""
    name = f"locale_{locale}"
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' {DATABASE_LOCALES[locale]}")
    try:
        loyaltydb.migrate(pg_server.conninfo(name))
        with psycopg.connect(pg_server.conninfo(name)) as conn:
            for user_id, (email, _) in enumerate(LOCALE_CASES, start=1):
                add_user(conn, user_id, None, email)
            conn.commit()
            derived = [loyaltydb.ensure_customer(conn, user_id).name for user_id in range(1, len(LOCALE_CASES) + 1)]
        assert derived == [expected for _, expected in LOCALE_CASES]
    finally:
        with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
