"""A service on Django 5 (the PostgreSQL backend on psycopg 3) passes ``django.db.connection``:
inside ``transaction.atomic()`` the call joins Django's transaction, even as the block's first
statement, so an exception later in the block undoes it; outside ``atomic()`` the call commits
(contract "Deployment": Django)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

import loyaltydb
from helpers import World
from loyaltydb.errors import RequestNotFound

django = pytest.importorskip("django")
from django.conf import settings  # noqa: E402  (after the skip: Django is a dev dependency)
from django.db import connection, connections, transaction  # noqa: E402


class Boom(Exception):
    pass


@pytest.fixture
def django_db(dsn: str) -> Iterator[Any]:
    """Django's default database pointed at this test's database (configured once a process)."""
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    database = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": params["dbname"],
        "HOST": params["host"],
        "PORT": params["port"],
        "USER": params["user"],
    }
    if not settings.configured:
        settings.configure(DATABASES={"default": database}, USE_TZ=True)
        django.setup()
    connection.close()
    connection.settings_dict.update(database)
    yield connection
    connection.close()


def _status(db: psycopg.Connection[Any], request_id: object) -> str:
    row = db.execute("SELECT status FROM loyalty.customer_approval_requests WHERE id = %s", (request_id,)).fetchone()
    db.commit()
    assert row is not None
    return str(row[0])


def _cards(db: psycopg.Connection[Any]) -> int:
    row = db.execute("SELECT count(*) FROM loyalty.loyalty_cards").fetchone()
    db.commit()
    assert row is not None
    return int(row[0])


def test_an_exception_in_atomic_undoes_an_approval_that_was_the_blocks_first_statement(
    db: psycopg.Connection[Any], django_db: Any, world: World
) -> None:
    request_id = loyaltydb.request_enrollment(db, world.new_user, world.coffee_club)

    def approve_then_fail() -> None:
        with transaction.atomic():
            assert loyaltydb.approve_enrollment(django_db, request_id).status == "APPROVED"
            raise Boom

    with pytest.raises(Boom):
        approve_then_fail()
    assert _status(db, request_id) == "PENDING"
    assert _cards(db) == 0


def test_atomic_commits_the_call_with_the_block(db: psycopg.Connection[Any], django_db: Any, world: World) -> None:
    request_id = loyaltydb.request_enrollment(db, world.new_user, world.coffee_club)
    with transaction.atomic():
        loyaltydb.approve_enrollment(django_db, request_id)
        assert _status(db, request_id) == "PENDING"  # not committed before the block ends
    assert _status(db, request_id) == "APPROVED"


def test_outside_atomic_the_call_commits(db: psycopg.Connection[Any], django_db: Any, world: World) -> None:
    request_id = loyaltydb.request_enrollment(django_db, world.new_user, world.coffee_club)
    loyaltydb.approve_enrollment(connections["default"], request_id)  # the wrapper, not the proxy
    assert _status(db, request_id) == "APPROVED"
    assert _cards(db) == 1


def test_a_refused_call_leaves_the_atomic_block_usable(
    db: psycopg.Connection[Any], django_db: Any, world: World
) -> None:
    request_id = loyaltydb.request_enrollment(db, world.new_user, world.coffee_club)
    with transaction.atomic():
        with pytest.raises(RequestNotFound):
            loyaltydb.approve_enrollment(django_db, "00000000-0000-0000-0000-000000000001")
        loyaltydb.approve_enrollment(django_db, request_id)  # the block goes on: the call had a savepoint
    assert _status(db, request_id) == "APPROVED"


def test_anything_else_from_django_is_refused_by_name(django_db: Any) -> None:
    with pytest.raises(TypeError, match=r"django\.db\.connection"):
        loyaltydb.customer_cards(transaction, 32)
