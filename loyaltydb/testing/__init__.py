"""A testing kit for services that call loyaltydb: test your code against the real procedures.

- ``TempServer``: a throwaway PostgreSQL server (``initdb`` in a temporary directory, on a
  free loopback port; as the ``postgres`` OS user when run as root, since PostgreSQL refuses root).
- ``loyaltydb.testing.databases``: a database with every migration applied, to clone
  from, and clones of it (needs pytest-postgresql).
- A pytest plugin (``loyaltydb.testing.plugin``, registered under ``pytest11``), off unless
  asked for (``--loyaltydb``, or ``loyaltydb = true`` in the pytest ini): fixtures
  ``loyaltydb_dsn`` and ``loyaltydb_conn`` give each test its own migrated database, cloned from
  a template migrated once per run.

Needs the ``testing`` extra (``pip install 'loyaltydb[testing]'``: pytest, pytest-postgresql)
and PostgreSQL's server binaries (found on PATH, in ``/usr/lib/postgresql/*/bin`` or in
``$LOYALTYDB_PG_BINDIR``).
"""

from __future__ import annotations

from ._server import FAST_UNSAFE_SETTINGS, ServerError, TempServer

__all__ = ["FAST_UNSAFE_SETTINGS", "ServerError", "TempServer"]
