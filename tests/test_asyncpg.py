"""asyncpg, a client teams use from async Python without psycopg, calls the SQL API with its own
typed parameters: ids as Python ints and UUIDs work; an id given as a string is refused by
asyncpg itself, before anything is sent (the trap docs/sql.md names), and the connection stays
usable."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest

import loyaltydb
from helpers import World

asyncpg = pytest.importorskip("asyncpg")


def test_asyncpg_calls_the_api_with_ints_and_refuses_string_ids_itself(
    db: psycopg.Connection[Any], dsn: str, world: World
) -> None:
    request_id = loyaltydb.request_enrollment(db, 32, world.coffee_club)
    params = psycopg.conninfo.conninfo_to_dict(dsn)

    async def scenario() -> tuple[str, str, int]:
        conn = await asyncpg.connect(
            host=params["host"], port=int(str(params["port"])), user=params["user"], database=params["dbname"]
        )
        try:
            approved = await conn.fetchrow(
                "SELECT status FROM loyalty.process_enrollment_approval($1, $2)", request_id, True
            )
            with pytest.raises(asyncpg.exceptions.DataError) as refused:
                await conn.fetch("SELECT * FROM loyalty.customer_cards($1)", "32")  # a string id
            cards = await conn.fetch("SELECT * FROM loyalty.customer_cards($1)", 32)
            return str(approved["status"]), str(refused.value), len(cards)
        finally:
            await conn.close()

    status, refusal, cards = asyncio.run(scenario())
    assert status == "APPROVED"
    assert "invalid input for query argument $1" in refusal and "'str'" in refusal
    assert cards == 1
