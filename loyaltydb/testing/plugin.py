"""pytest plugin: a migrated loyaltydb database for every test, cloned from a template.

Registered under ``pytest11``, and off unless asked for: pass ``--loyaltydb`` or set
``loyaltydb = true`` in your pytest configuration. Then these fixtures exist:

- ``loyaltydb_server`` (session): a throwaway PostgreSQL server (:class:`TempServer`), started
  for the run, fast and unsafe (fsync off), as the ``postgres`` OS user when run as root.
- ``loyaltydb_template`` (session): the name of a database migrated once, to clone from.
- ``loyaltydb_dsn``: the connection string of this test's own migrated database.
- ``loyaltydb_conn``: a ``psycopg.Connection`` to it, closed after the test.
- ``loyaltydb_app_dsn`` / ``loyaltydb_app_conn``: the same database as a LOGIN role granted
  ``loyalty_app`` (``loyaltydb_app_role``), so a service's tests meet the 42501 its production
  login meets when it writes a table directly.
- ``loyaltydb_aconn`` / ``loyaltydb_app_aconn``: the same two as ``psycopg.AsyncConnection``,
  for ``@pytest.mark.asyncio`` tests (they need pytest-asyncio, which the testing extra brings).

While the plugin is off, each of these names is a fixture that fails saying how to switch it on.
"""

from __future__ import annotations

import pytest

_HELP = "give each test a migrated loyaltydb database (fixtures loyaltydb_dsn, loyaltydb_conn)"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--loyaltydb", action="store_true", default=False, help=_HELP)
    parser.addini("loyaltydb", type="bool", default=False, help=_HELP)


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("loyaltydb") or config.getini("loyaltydb"):
        # The fixtures (and pytest-postgresql behind them) load only when asked for.
        config.pluginmanager.import_plugin("loyaltydb.testing.fixtures")
        config.pluginmanager.import_plugin(f"loyaltydb.testing.{'_async' if _has_pytest_asyncio() else '_no_async'}")
    else:
        config.pluginmanager.import_plugin("loyaltydb.testing._off")


def _has_pytest_asyncio() -> bool:
    """Whether pytest-asyncio, which runs the async fixtures, can be imported."""
    try:
        import pytest_asyncio  # noqa: F401
    except ImportError:
        return False
    return True
