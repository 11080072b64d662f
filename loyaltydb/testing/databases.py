"""Databases for tests: one migrated template per run, a clone of it per test.

Cloning (``CREATE DATABASE … TEMPLATE``) copies files, so a test gets a fully migrated
database in milliseconds instead of running every migration again. pytest-postgresql's
``DatabaseJanitor`` does the creating, cloning and dropping.
"""

from __future__ import annotations

from pytest_postgresql.janitor import DatabaseJanitor

from ..migrations import migrate
from ._server import TempServer


def _janitor(
    server: TempServer, dbname: str, template: str | None = None, *, as_template: bool = False
) -> DatabaseJanitor:
    return DatabaseJanitor(
        user=server.user,
        host=server.host,
        port=server.port,
        dbname=dbname,
        template_dbname=template,
        as_template=as_template,
    )


def migrated_template(server: TempServer, dbname: str = "loyaltydb_template") -> str:
    """Create ``dbname`` on ``server``, apply every migration to it and mark it a template."""
    janitor = _janitor(server, dbname, as_template=True)
    janitor.init()
    migrate(server.conninfo(dbname))
    return dbname


def clone_database(server: TempServer, template: str, dbname: str) -> str:
    """A new database ``dbname``, a copy of ``template``; returns its connection string."""
    _janitor(server, dbname, template).init()
    return server.conninfo(dbname)


def drop_database(server: TempServer, dbname: str) -> None:
    """Drop ``dbname``, ending any session still connected to it."""
    _janitor(server, dbname).drop()
