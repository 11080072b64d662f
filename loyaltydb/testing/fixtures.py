"""The fixtures of the loyaltydb pytest plugin (see ``loyaltydb.testing.plugin``), loaded
only when the plugin is switched on."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from ._server import FAST_UNSAFE_SETTINGS, TempServer
from .databases import clone_database, drop_database, migrated_template

_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def loyaltydb_server() -> Iterator[TempServer]:
    """A throwaway PostgreSQL server for the run (fsync off: fast, and never for data you keep)."""
    with TempServer(settings=FAST_UNSAFE_SETTINGS) as server:
        yield server


@pytest.fixture(scope="session")
def loyaltydb_template(loyaltydb_server: TempServer) -> str:
    """The name of a database migrated once for the run, to clone from."""
    return migrated_template(loyaltydb_server)


@pytest.fixture
def loyaltydb_dsn(loyaltydb_server: TempServer, loyaltydb_template: str) -> Iterator[str]:
    """The connection string of this test's own migrated database, dropped after the test."""
    dbname = f"loyaltydb_test_{next(_numbers)}"
    conninfo = clone_database(loyaltydb_server, loyaltydb_template, dbname)
    try:
        yield conninfo
    finally:
        drop_database(loyaltydb_server, dbname)


@pytest.fixture
def loyaltydb_conn(loyaltydb_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection to this test's database, closed after the test (as the server's superuser)."""
    with psycopg.connect(loyaltydb_dsn) as conn:
        yield conn


#: The LOGIN role the app fixtures connect as: granted loyalty_app and nothing else.
APP_ROLE = "loyaltydb_test_app"


@pytest.fixture(scope="session")
def loyaltydb_app_role(loyaltydb_server: TempServer, loyaltydb_template: str) -> str:
    """A LOGIN role granted ``loyalty_app``, as a service's production login is (roles belong to
    the server, so one for the run; loyalty_app exists once the template is migrated)."""
    with psycopg.connect(loyaltydb_server.conninfo(loyaltydb_template), autocommit=True) as conn:
        conn.execute(f"DO $$ BEGIN CREATE ROLE {APP_ROLE} LOGIN; EXCEPTION WHEN duplicate_object THEN END $$")
        conn.execute(f"GRANT loyalty_app TO {APP_ROLE}")
    return APP_ROLE


@pytest.fixture
def loyaltydb_app_dsn(loyaltydb_dsn: str, loyaltydb_app_role: str) -> str:
    """This test's database, as the app role: the API works, a direct write fails with 42501.
    For async tests: ``await psycopg.AsyncConnection.connect(loyaltydb_app_dsn)``."""
    return psycopg.conninfo.make_conninfo(loyaltydb_dsn, user=loyaltydb_app_role)


@pytest.fixture
def loyaltydb_app_conn(loyaltydb_app_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection to this test's database as the app role, closed after the test."""
    with psycopg.connect(loyaltydb_app_dsn) as conn:
        yield conn
