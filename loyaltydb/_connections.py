"""Which connections the API takes: psycopg's own, or (sync API) a SQLAlchemy ``Connection`` or
``Session`` on the psycopg driver, or Django's connection (``django.db.connection``, the
PostgreSQL backend on psycopg 3), whose transaction a call then joins.

SQLAlchemy and Django begin their transactions lazily: inside ``with engine.begin() as c:`` or
``with transaction.atomic():`` the psycopg connection stays idle until the first statement, so a
call that looked only at psycopg would commit on its own and a later exception in the block
could not undo it. When the framework has a transaction open, we let psycopg open its own
transaction first (a statement that reads nothing), and the call joins it through a savepoint
like any caller's transaction. Outside one (Django's autocommit), the call commits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

import psycopg
from psycopg.pq import TransactionStatus

if TYPE_CHECKING:
    import sqlalchemy.engine
    import sqlalchemy.orm

#: What the synchronous API takes as ``conn``.
Connectable: TypeAlias = "psycopg.Connection[Any] | sqlalchemy.engine.Connection | sqlalchemy.orm.Session"
#: What the asynchronous API takes as ``conn``.
AsyncConnectable: TypeAlias = "psycopg.AsyncConnection[Any]"

_ACCEPTED = (
    "a psycopg.Connection, a SQLAlchemy Connection or Session using the psycopg driver, or Django's"
    " connection (django.db.connection) on its PostgreSQL backend"
)


def sync_connection(conn: object) -> psycopg.Connection[Any]:
    """The psycopg connection behind ``conn``, joined to SQLAlchemy's open transaction if any."""
    if isinstance(conn, psycopg.Connection):
        return conn
    if isinstance(conn, psycopg.AsyncConnection):
        raise TypeError("conn is a psycopg.AsyncConnection: call loyaltydb.aio's functions with it")
    if type(conn).__module__.startswith("sqlalchemy."):
        return _from_sqlalchemy(conn)
    if type(conn).__module__.startswith("django."):
        return _from_django(conn)
    raise TypeError(f"conn must be {_ACCEPTED}, not {type(conn).__name__}")


def async_connection(conn: object) -> psycopg.AsyncConnection[Any]:
    """``conn`` itself when it is a psycopg.AsyncConnection; else TypeError naming what is taken."""
    if isinstance(conn, psycopg.AsyncConnection):
        return conn
    raise TypeError(f"conn must be a psycopg.AsyncConnection, not {type(conn).__name__}")


def _from_sqlalchemy(conn: Any) -> psycopg.Connection[Any]:
    from sqlalchemy.engine import Connection
    from sqlalchemy.orm import Session

    if isinstance(conn, Session):
        conn = conn.connection()  # the Connection of the session's transaction (begun if need be)
    if not isinstance(conn, Connection):
        raise TypeError(f"conn must be {_ACCEPTED}, not {type(conn).__name__}")
    driver = conn.connection.driver_connection
    if not isinstance(driver, psycopg.Connection):
        raise TypeError(
            f"conn is a SQLAlchemy Connection on {type(driver).__module__}; loyaltydb needs the psycopg driver"
            " (a postgresql+psycopg:// URL)"
        )
    if conn.in_transaction() and driver.info.transaction_status == TransactionStatus.IDLE:
        driver.execute("SELECT")  # psycopg opens the transaction SQLAlchemy has begun, so the call joins it
    return driver


def _from_django(conn: Any) -> psycopg.Connection[Any]:
    """The psycopg connection of Django's ``connection`` (the proxy, or a ``connections[alias]``
    wrapper), opened if need be, and inside ``transaction.atomic()`` with its transaction begun."""
    if not hasattr(conn, "ensure_connection") or getattr(conn, "vendor", None) != "postgresql":
        raise TypeError(f"conn must be {_ACCEPTED}, not {type(conn).__name__}")
    conn.ensure_connection()
    driver = conn.connection
    if not isinstance(driver, psycopg.Connection):
        raise TypeError(
            f"conn is Django's connection on {type(driver).__module__}; loyaltydb needs Django's PostgreSQL"
            " backend on psycopg 3 (pip install 'psycopg>=3')"
        )
    if conn.in_atomic_block and driver.info.transaction_status == TransactionStatus.IDLE:
        driver.execute("SELECT")  # psycopg opens the transaction atomic() has begun, so the call joins it
    return driver
