"""A service on SQLAlchemy 2 (psycopg dialect) passes its own Connection or Session: the call
joins SQLAlchemy's transaction, so SQLAlchemy's rollback undoes it; anything that is not a
connection is a TypeError that says what is taken."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import sqlalchemy
from sqlalchemy.orm import Session

import loyaltydb
from helpers import World
from loyaltydb import aio


@pytest.fixture
def engine(dsn: str) -> Iterator[sqlalchemy.Engine]:
    engine = sqlalchemy.create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(dsn))
    yield engine
    engine.dispose()


def _status(db: psycopg.Connection[Any], request_id: object) -> str:
    row = db.execute("SELECT status FROM loyalty.customer_approval_requests WHERE id = %s", (request_id,)).fetchone()
    db.commit()
    assert row is not None
    return str(row[0])


class Boom(Exception):
    pass


def test_an_exception_in_engine_begin_undoes_the_call(db: psycopg.Connection[Any], engine: Any, world: World) -> None:
    request_id = loyaltydb.request_enrollment(db, world.new_user, world.coffee_club)

    def approve_then_fail() -> None:
        with engine.begin() as conn:
            assert loyaltydb.approve_enrollment(conn, request_id).status == "APPROVED"
            raise Boom

    with pytest.raises(Boom):
        approve_then_fail()
    assert _status(db, request_id) == "PENDING"
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("SELECT 1"))
        result = loyaltydb.approve_enrollment(conn, request_id)
    assert result.status == "APPROVED" and _status(db, request_id) == "APPROVED"


def test_a_session_s_rollback_undoes_the_call(db: psycopg.Connection[Any], engine: Any, world: World) -> None:
    request_id = loyaltydb.request_enrollment(db, world.new_user, world.coffee_club)
    with Session(engine) as session:
        assert loyaltydb.approve_enrollment(session, request_id).card_number
        assert [card.program_name for card in loyaltydb.customer_cards(session, world.new_user)] == ["Coffee Club"]
        session.rollback()
    assert _status(db, request_id) == "PENDING"
    with Session(engine) as session, session.begin():
        loyaltydb.approve_enrollment(session, request_id)
    assert _status(db, request_id) == "APPROVED"


@pytest.mark.parametrize("conn", [{}, "postgresql://db/loyalty", None])
def test_anything_else_is_a_type_error_naming_what_is_taken(conn: Any) -> None:
    with pytest.raises(TypeError, match=re.escape("psycopg.Connection, a SQLAlchemy Connection or Session")):
        loyaltydb.customer_cards(conn, 40)


def test_the_async_api_takes_an_async_connection_only(db: psycopg.Connection[Any]) -> None:
    with pytest.raises(TypeError, match=re.escape("must be a psycopg.AsyncConnection, not Connection")):
        asyncio.run(aio.customer_cards(db, 40))  # type: ignore[arg-type]
