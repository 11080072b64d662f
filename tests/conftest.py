"""Test harness: loyaltydb's own pytest plugin (``loyaltydb.testing.plugin``, switched on in
pyproject.toml) starts one throwaway PostgreSQL per run, migrates a template database once and
clones it for every test; these fixtures give its parts the short names the tests use."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import legacy_source
import psycopg
import pytest
from pytest_postgresql.janitor import DatabaseJanitor

import helpers
from loyaltydb.distribution import distribute
from loyaltydb.migrations import migrate
from loyaltydb.testing import TempServer
from loyaltydb.testing._cluster import TempCluster, citus_available


@pytest.fixture(scope="session")
def pg_server(loyaltydb_server: TempServer) -> TempServer:
    """The run's PostgreSQL server (as the postgres OS user when we are root)."""
    return loyaltydb_server


@pytest.fixture(scope="session")
def citus_cluster(pg_server: TempServer) -> Iterator[TempCluster]:
    """A Citus coordinator and 2 workers on loopback. Without Citus: skipped locally with the
    way to install it, a failure under CI (which installs it)."""
    if not citus_available(pg_server.bindir):
        message = "Citus is not installed: run ../shared/citus/install.sh (as root), or install Citus's packages"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    # 8 shards (4 a worker) rather than Citus's 32: the same routing, and a quarter of the shard
    # work each test's TRUNCATE does.
    with TempCluster(workers=2, settings={"citus.shard_count": "8"}) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def cluster_dsn(citus_cluster: TempCluster) -> str:
    """A migrated and distributed database on the cluster, shared by the run (CREATE DATABASE
    … TEMPLATE does not reach the workers): tests on it start from empty tables."""
    dsn = citus_cluster.create_database("loyalty_suite")
    migrate(dsn)
    distribute(dsn)
    return dsn


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked ``both_modes`` run on one server and on the Citus cluster (parametrised)."""
    if metafunc.definition.get_closest_marker("both_modes") and "mode" in metafunc.fixturenames:
        metafunc.parametrize("mode", ["single", "cluster"], indirect=True)


@pytest.fixture
def mode(request: pytest.FixtureRequest) -> str:
    """Where the test runs: "single" unless the test is marked both_modes (then each in turn)."""
    return str(getattr(request, "param", "single"))


@pytest.fixture
def dsn(mode: str, request: pytest.FixtureRequest) -> str:
    """Connection string of this test's migrated database (portable: psql 15 reads it too)."""
    if mode == "cluster":
        cluster: str = request.getfixturevalue("cluster_dsn")
        with psycopg.connect(cluster, autocommit=True) as conn:
            tables = ", ".join(f"loyalty.{table}" for table in helpers.loyalty_tables(conn))
            conn.execute(f"TRUNCATE {tables} CASCADE")
        return cluster
    loyaltydb_dsn: str = request.getfixturevalue("loyaltydb_dsn")
    return loyaltydb_dsn


@pytest.fixture
def db(dsn: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection to this test's migrated database."""
    with psycopg.connect(dsn) as conn:
        yield conn


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


@pytest.fixture
def new_source(pg_server: TempServer, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Make legacy databases on the suite's server: ``new_source(fill=..., schema=..., ...)``
    returns one's DSN; all are dropped at teardown."""
    made: list[DatabaseJanitor] = []

    def make(fill: str = "quirks", schema: str = "public", integer_ids: bool = False, customers: int = 0) -> str:
        name = f"legacy{len(made)}_" + helpers.slug(request.node.name)[-30:]
        janitor = DatabaseJanitor(user=pg_server.user, host=pg_server.host, port=pg_server.port, dbname=name)
        janitor.init()
        made.append(janitor)
        dsn = pg_server.conninfo(name)
        with psycopg.connect(dsn) as conn:
            legacy_source.create_legacy_tables(conn, schema, integer_ids=integer_ids)
            if fill == "quirks":
                legacy_source.fill_quirks(conn, schema, text_garbage=not integer_ids)
            elif fill == "generated":
                legacy_source.fill_generated(conn, customers, schema)
        return dsn

    yield make
    for janitor in made:
        janitor.drop()


@pytest.fixture
def quirks(new_source: Any) -> str:
    """A legacy database with every quirk (legacy_source.fill_quirks)."""
    dsn: str = new_source()
    return dsn


@pytest.fixture(autouse=True)
def _no_dsn_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests say which database they use; a developer's LOYALTYDB_DSN must not leak in."""
    for name in ("LOYALTYDB_DSN", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def pytest_report_header() -> str:
    return f"loyaltydb tests as uid {os.geteuid()} (server runs as {'postgres' if os.geteuid() == 0 else 'us'})"
