"""Behind pgbouncer (Debian's 1.18), started here, in transaction and session pooling modes with
more clients than server connections (contract "Deployment"): the sync API from threads, the
async API, the CLI (``events tail`` included), ``events.listen`` (a poll behind a pooler, nothing
left held on a pooled server connection), and a pooler's prepared-statement error as a typed
error naming the setting. Needs pgbouncer (``.ci/run`` installs it); under CI a missing one
fails, locally it skips."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from test_cli import _console_script, run_cli

import loyaltydb
from helpers import World, count
from loyaltydb import aio, events
from loyaltydb.errors import PoolerPreparedStatement
from loyaltydb.testing import TempServer
from loyaltydb.testing._pgbouncer import TempPgbouncer, pgbouncer_binary

CLIENTS = 8
POOL = 4


def _require_pgbouncer() -> None:
    if pgbouncer_binary() is None:
        message = "pgbouncer is not installed: apt-get install pgbouncer"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module", params=["transaction", "session"])
def bouncer(request: pytest.FixtureRequest, pg_server: TempServer) -> Iterator[TempPgbouncer]:
    """pgbouncer in each pooling mode, a pool of 4 server connections a database."""
    _require_pgbouncer()
    with TempPgbouncer(pg_server, request.param, pool_size=POOL) as pooler:
        yield pooler


def _pooled(bouncer: TempPgbouncer, dsn: str) -> str:
    return bouncer.conninfo(str(psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]))


def _with_cards(db: psycopg.Connection[Any], world: World, customers: list[int]) -> None:
    for customer in customers:
        db.execute("INSERT INTO loyalty.users (id, name) VALUES (%s, %s)", (customer, f"Customer {customer}"))
    db.commit()
    loyaltydb.approve_enrollments(db, [loyaltydb.request_enrollment(db, c, world.coffee_club) for c in customers])


def test_the_sync_api_from_8_threads_through_a_pool_of_4(
    db: psycopg.Connection[Any], dsn: str, world: World, bouncer: TempPgbouncer
) -> None:
    customers = list(range(200, 200 + CLIENTS))
    _with_cards(db, world, customers)
    failures: list[BaseException] = []

    def client(customer: int) -> None:
        # What a service sets behind a pooler in transaction mode (docs/poolers.md).
        with psycopg.connect(_pooled(bouncer, dsn), prepare_threshold=None) as conn:
            try:
                for n in range(15):
                    loyaltydb.earn_points(conn, customer, world.coffee_club, 2, idempotency_key=f"t{n}")
                    loyaltydb.customer_cards(conn, customer)
                loyaltydb.spend_points(conn, customer, world.coffee_club, 10, idempotency_key="spend")
            except BaseException as exc:  # noqa: BLE001 - every client's outcome is checked
                failures.append(exc)

    threads = [threading.Thread(target=client, args=(customer,)) for customer in customers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert {card.points_balance for c in customers for card in loyaltydb.customer_cards(db, c)} == {20}
    assert loyaltydb.verify_points(db) == []


def test_the_async_api_through_a_pool_of_4(
    db: psycopg.Connection[Any], dsn: str, world: World, bouncer: TempPgbouncer
) -> None:
    customers = list(range(300, 300 + CLIENTS))
    _with_cards(db, world, customers)

    async def client(customer: int) -> None:
        conn = await psycopg.AsyncConnection.connect(_pooled(bouncer, dsn), prepare_threshold=None)
        async with conn:
            for n in range(10):
                await aio.earn_points(conn, customer, world.coffee_club, 3, idempotency_key=f"a{n}")
            assert (await aio.customer_cards(conn, customer))[0].points_balance == 30

    async def scenario() -> None:
        await asyncio.gather(*(client(customer) for customer in customers))

    asyncio.run(scenario())
    assert loyaltydb.verify_points(db) == []


def test_a_prepared_statement_the_pooler_lost_is_a_typed_error_naming_the_setting(
    db: psycopg.Connection[Any], dsn: str, world: World, pg_server: TempServer
) -> None:
    """Two clients left with psycopg's default (statements prepared after 5 runs) share one
    server connection in transaction mode: the second prepares the first's name again."""
    _require_pgbouncer()
    _with_cards(db, world, [400])
    with TempPgbouncer(pg_server, "transaction", pool_size=1) as pooler:
        first = psycopg.connect(_pooled(pooler, dsn))
        second = psycopg.connect(_pooled(pooler, dsn))
        with first, second:
            for _ in range(6):
                loyaltydb.customer_cards(first, 400)
            for _ in range(5):  # psycopg prepares on the 5th run, under the name the first used
                loyaltydb.customer_cards(second, 400)
            with pytest.raises(PoolerPreparedStatement, match="prepare_threshold=None") as caught:
                loyaltydb.customer_cards(second, 400)
            assert caught.value.sqlstate in ("42P05", "26000")
            second.prepare_threshold = None  # the fix the message names: the connection is usable
            assert loyaltydb.customer_cards(second, 400)[0].customer_id == 400


def test_listen_polls_behind_a_pooler_and_leaves_nothing_held(
    db: psycopg.Connection[Any], dsn: str, world: World, bouncer: TempPgbouncer
) -> None:
    with psycopg.connect(_pooled(bouncer, dsn), autocommit=True, prepare_threshold=None) as conn:
        started = time.monotonic()
        woke = [events.listen(conn, timeout=5) for _ in range(3)]
        elapsed = time.monotonic() - started
        assert woke == [True, True, True] and 0.9 < elapsed < 4  # three half-second polls
        assert events.listen(conn, timeout=0.2) is False  # shorter than a poll: says nothing came
        loyaltydb.request_enrollment(conn, world.new_user, world.coffee_club)
        assert [e.type for e in events.fetch(conn, "pooled")] == []  # registers at the head
    # Nothing of a listener stayed with a pooled server connection: no wake-up lock, so writers
    # do not notify, and a direct consumer is woken as before.
    assert count(db, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == 0
    with psycopg.connect(dsn, autocommit=True) as direct:
        assert events.listen(direct, timeout=1) is True  # the first call starts listening
        writer = threading.Timer(0.3, lambda: loyaltydb.request_enrollment(db, world.existing_customer,
                                                                          world.coffee_club))  # fmt: skip
        writer.start()
        started = time.monotonic()
        assert events.listen(direct, timeout=10) is True
        assert time.monotonic() - started < 5
        writer.join()


def test_the_cli_through_the_pooler(
    db: psycopg.Connection[Any], dsn: str, world: World, bouncer: TempPgbouncer
) -> None:
    """Every command opens its connection with prepare_threshold=None: a run of them, several
    at once, through a pool of 4, and `events tail` following while a change commits."""
    _with_cards(db, world, [500])
    pooled = _pooled(bouncer, dsn)
    card = ["--customer-id", "500", "--program-id", str(world.coffee_club)]
    runs = [run_cli("--dsn", pooled, "status", "--check")]
    for n in range(6):
        earned = run_cli("--dsn", pooled, "points", "earn", *card, "--points", "5", "--key", f"cli-{n}")
        assert earned.returncode == 0, earned.stderr
    runs.append(run_cli("--dsn", pooled, "points", "history", *card))
    runs.append(run_cli("--dsn", pooled, "notifications", "--customer-id", "500"))
    assert all(run.returncode == 0 for run in runs), [run.stderr for run in runs]
    assert loyaltydb.customer_cards(db, 500)[0].points_balance == 30
    tail = subprocess.Popen(
        [_console_script(), "--dsn", pooled, "events", "tail", "--json", "--limit", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)  # it is following
    loyaltydb.earn_points(db, 500, world.coffee_club, 1, idempotency_key="seen-by-tail")
    out, err = tail.communicate(timeout=30)
    assert tail.returncode == 0, err
    assert '"points.earned"' in out


def test_psql_and_node_postgres_through_the_pooler(
    db: psycopg.Connection[Any], dsn: str, pg_server: TempServer, bouncer: TempPgbouncer
) -> None:
    """psql pastes the README's block through the pooler, and node-postgres (untyped parameters,
    no server-side prepared statements unless a query is named) runs calls through it as a
    loyalty_app login, more times than psycopg's threshold for preparing."""
    from test_node_client import ROLE, _call, _node
    from test_node_client import _run as run_node

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = readme.split("<!-- psql block: tests/test_operators.py runs it -->\n```sql\n", 1)[1].split("```", 1)[0]
    psql = shutil.which("psql") or str(pg_server.bindir / "psql")
    pasted = subprocess.run(
        [psql, "-X", "-v", "ON_ERROR_STOP=1", _pooled(bouncer, dsn)], input=block, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert pasted.returncode == 0, pasted.stderr
    _node()
    db.execute(f"DO $$ BEGIN CREATE ROLE {ROLE} LOGIN; EXCEPTION WHEN duplicate_object THEN END $$")
    db.execute(f"GRANT loyalty_app TO {ROLE}")
    program = count(db, "SELECT id FROM loyalty.loyalty_programs WHERE name = 'Coffee Club'")
    with TempPgbouncer(pg_server, bouncer.pool_mode, pool_size=2, users=("postgres", ROLE)) as pooler:
        earn = "SELECT * FROM loyalty.earn_points($1, $2, $3, $4)"
        calls = [_call(f"earn {n}", earn, 32, program, 1, f"node-{n}") for n in range(8)]
        out = run_node(_pooled(pooler, dsn), [*calls, _call("cards", "SELECT * FROM loyalty.customer_cards($1)", 32)])
    assert all("rows" in outcome for outcome in out.values()), out
    assert out["cards"]["rows"][0]["points_balance"] == 10 + 8  # the README's 10, then these
