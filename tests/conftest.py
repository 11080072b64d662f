"""Test harness: one throwaway PostgreSQL per run, migrated once into a template database
(pytest-postgresql's noproc fixture, chained onto our server), cloned for every test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from pytest_postgresql import factories
from pytest_postgresql.janitor import DatabaseJanitor

import helpers
from loyaltydb.migrations import migrate
from loyaltydb.tempserver import FAST_UNSAFE_SETTINGS, TempServer


@dataclass(frozen=True)
class ServerEndpoint:
    """What pytest-postgresql's ``depends_on`` reads from the fixture it chains onto."""

    host: str
    port: int
    user: str
    password: str | None = None
    options: str = ""
    maintenance_dbname: str = "postgres"
    template_dbname: str | None = None


@pytest.fixture(scope="session")
def pg_server() -> Iterator[TempServer]:
    """A PostgreSQL server of this run's own (as the postgres OS user when we are root)."""
    with TempServer(settings=FAST_UNSAFE_SETTINGS) as server:
        yield server


@pytest.fixture(scope="session")
def pg_endpoint(pg_server: TempServer) -> ServerEndpoint:
    return ServerEndpoint(host=pg_server.host, port=pg_server.port, user=pg_server.user)


def _load_schema(host: str, port: int, user: str, dbname: str, password: str | None, **_: Any) -> None:
    migrate(make_conninfo(host=host, port=port, user=user, dbname=dbname, password=password))


loyalty_template = factories.postgresql_noproc(dbname="loyalty", depends_on="pg_endpoint", load=[_load_schema])
db = factories.postgresql("loyalty_template")


@pytest.fixture
def dsn(db: psycopg.Connection[Any]) -> str:
    """Connection string of this test's migrated database (portable: psql 15 reads it too)."""
    params = db.info.get_parameters()
    return make_conninfo(host=params["host"], port=params["port"], user=params["user"], dbname=params["dbname"])


@pytest.fixture
def connect(dsn: str) -> Iterator[Callable[..., psycopg.Connection[Any]]]:
    """Open extra connections to this test's database; all closed at teardown."""
    opened: list[psycopg.Connection[Any]] = []

    def open_connection(**kwargs: Any) -> psycopg.Connection[Any]:
        opened.append(psycopg.connect(dsn, **kwargs))
        return opened[-1]

    yield open_connection
    for conn in opened:
        conn.close()


@pytest.fixture
def empty_dsn(pg_server: TempServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """A database with nothing in it, not even loyaltydb's migrations."""
    name = "empty_" + helpers.slug(request.node.name)
    janitor = DatabaseJanitor(user=pg_server.user, host=pg_server.host, port=pg_server.port, dbname=name)
    with janitor:
        yield pg_server.conninfo(name)


@pytest.fixture
def world(db: psycopg.Connection[Any]) -> helpers.World:
    """The seed's world, committed: business 7 with two programs, a second business, user 32
    (no name, no customer row) and user 40 who is already a customer."""
    return helpers.build_world(db)


@pytest.fixture(autouse=True)
def _no_dsn_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests say which database they use; a developer's LOYALTYDB_DSN must not leak in."""
    for name in ("LOYALTYDB_DSN", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def pytest_report_header() -> str:
    return f"loyaltydb tests as uid {os.geteuid()} (server runs as {'postgres' if os.geteuid() == 0 else 'us'})"
