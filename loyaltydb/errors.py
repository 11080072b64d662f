"""Exceptions of loyaltydb, and the one place that turns SQLSTATEs into them.

The SQL functions raise stable SQLSTATEs (class ``LY`` for loyaltydb's own errors), so a psql
user sees the same error the Python user does; ``translated_errors()`` maps them here.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import psycopg

#: SQLSTATE -> the class that stands for it; each class registers itself where it is defined.
_BY_SQLSTATE: dict[str, type[LoyaltyError]] = {}


class LoyaltyError(Exception):
    """Base class of every error loyaltydb raises on purpose."""

    #: The SQLSTATEs this class stands for (empty: raised by Python code only).
    sqlstates: ClassVar[tuple[str, ...]] = ()

    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate

    def __init_subclass__(cls, **kwargs: object) -> None:
        """Register the subclass's own SQLSTATEs; one class per SQLSTATE, checked at import."""
        super().__init_subclass__(**kwargs)
        for sqlstate in cls.__dict__.get("sqlstates", ()):
            if sqlstate in _BY_SQLSTATE:
                raise TypeError(f"SQLSTATE {sqlstate} is registered to {_BY_SQLSTATE[sqlstate].__name__} already")
            _BY_SQLSTATE[sqlstate] = cls


class InvalidInput(LoyaltyError, ValueError):
    """An argument is NULL, malformed (a bad UUID, say) or out of range."""

    sqlstates: ClassVar[tuple[str, ...]] = ("22004", "22P02", "22003", "22023", "42846")


class ReasonTooLong(InvalidInput):
    """SQLSTATE LY008: a rejection reason of more than 1,000 characters (checked by the database,
    which stores the reason and sends it to the customer)."""

    sqlstates = ("LY008",)


class MessageTooLong(InvalidInput):
    """SQLSTATE LY010: a request's message of more than 1,000 characters (checked by the
    database, which stores it and shows it to the business)."""

    sqlstates = ("LY010",)


class RequestNotFound(LoyaltyError, LookupError):
    """No enrollment request has the given id."""

    sqlstates = ("LY001",)


class RequestAlreadyDecided(LoyaltyError):
    """The request was decided the other way already (approve a REJECTED one, say)."""

    sqlstates = ("LY002",)


class UserNotFound(LoyaltyError, LookupError):
    """The user behind a request or customer does not exist."""

    sqlstates = ("LY003",)


class ProgramNotFound(LoyaltyError, LookupError):
    """No loyalty program has the given id."""

    sqlstates = ("LY004",)


class ProgramNotActive(LoyaltyError):
    """The program exists but is not ACTIVE, so nobody can join it."""

    sqlstates = ("LY005",)


class NotAuthorized(LoyaltyError):
    """A business tried to decide a request for another business's program."""

    sqlstates = ("LY006",)


class RequestExpired(LoyaltyError):
    """SQLSTATE LY009: the request or invitation expired (its ``expires_at`` passed, or the sweep
    marked it EXPIRED) before it was decided; nothing was written."""

    sqlstates = ("LY009",)


class InsufficientPoints(LoyaltyError):
    """SQLSTATE LY011: a spend, deduction, redemption, negative adjustment or reversal would make
    the card's balance negative (the message names the balance); nothing was written."""

    sqlstates = ("LY011",)


class CardNotFound(LoyaltyError, LookupError):
    """SQLSTATE LY012: the (customer, program) pair has no card."""

    sqlstates = ("LY012",)


class CardNotActive(LoyaltyError):
    """SQLSTATE LY013: earning on or spending from a card, enrollment or program that is not
    ACTIVE (BLOCKED or INACTIVE); adjustments and reversals are allowed there."""

    sqlstates = ("LY013",)


class IdempotencyKeyReused(LoyaltyError):
    """SQLSTATE LY014: a key the card has seen, with another operation or other arguments; the
    same call again would replay the stored row instead."""

    sqlstates = ("LY014",)


class PointsOutOfRange(LoyaltyError):
    """SQLSTATE LY015: the card's balance would pass 2,147,483,647; nothing was written."""

    sqlstates = ("LY015",)


class AlreadyReversed(LoyaltyError):
    """SQLSTATE LY016: the transaction was reversed already (by another key)."""

    sqlstates = ("LY016",)


class TransactionNotFound(LoyaltyError, LookupError):
    """SQLSTATE LY020: the transaction id to reverse is not one of that customer's."""

    sqlstates = ("LY020",)


class RewardUnavailable(LoyaltyError):
    """SQLSTATE LY017: the reward does not exist, is INACTIVE, or has no stock left; nothing was
    written (no points spent, no stock taken)."""

    sqlstates = ("LY017",)


class RedemptionNotPending(LoyaltyError):
    """SQLSTATE LY018: fulfilling a cancelled redemption, or cancelling a fulfilled one."""

    sqlstates = ("LY018",)


class RedemptionNotFound(LoyaltyError, LookupError):
    """SQLSTATE LY021: a redemption id unknown to that customer, or a code unknown to that
    business's programs."""

    sqlstates = ("LY021",)


class CustomerErased(LoyaltyError):
    """SQLSTATE LY019: the customer was erased (``erase_customer``): nothing is written for that
    id again, by any call or import; nothing was written."""

    sqlstates = ("LY019",)


class TransactionConflict(LoyaltyError):
    """The transaction lost a race with another one; running it again will succeed."""


class SerializationFailure(TransactionConflict):
    """SQLSTATE 40001: REPEATABLE READ or SERIALIZABLE saw a concurrent change."""

    sqlstates = ("40001",)


class DeadlockDetected(TransactionConflict):
    """SQLSTATE 40P01: PostgreSQL broke a deadlock by cancelling this transaction."""

    sqlstates = ("40P01",)


class LockTimeout(LoyaltyError):
    """SQLSTATE 55P03: the caller's ``lock_timeout`` expired; nothing was written."""

    sqlstates = ("55P03",)


class Cancelled(LoyaltyError):
    """SQLSTATE 57014: the statement was cancelled (``statement_timeout``, or a cancel request
    such as ``pg_cancel_backend``); the call's transaction or savepoint was rolled back."""

    sqlstates = ("57014",)


class NotMigrated(LoyaltyError):
    """The loyalty schema or one of its functions is missing: run ``loyaltydb migrate``."""

    sqlstates = ("3F000", "42P01", "42883", "42704")


class CardNumberUnavailable(LoyaltyError):
    """SQLSTATE LY007: on a cluster, card numbers need customer ids from 0 to 9,999,999,999 and at
    most 9,999 cards a customer (one server falls back to a sequence)."""

    sqlstates = ("LY007",)


class ClusterUnavailable(LoyaltyError):
    """The Citus cluster cannot serve the call: a worker is unreachable (the coordinator's error
    names the remote node), or ``loyaltydb distribute`` ran on a database without Citus. Nothing
    was written; try again when the worker is back."""


class ConnectionLost(LoyaltyError):
    """The connection to the server broke or was closed during the call (its backend was
    terminated, the server restarted, an idle-in-transaction timeout, or the connection was
    already closed). The call's transaction was not committed; reconnect and retry."""

    sqlstates = ("08000", "08003", "08006", "57P01", "57P02", "57P03", "25P03")


class InvalidTransactionState(LoyaltyError):
    """The caller's transaction cannot run the call: it is already aborted (25P02: roll it back
    first), or Citus refuses the mix of statements in it (25001)."""

    sqlstates: ClassVar[tuple[str, ...]] = ("25001", "25P02")


class ReadOnly(InvalidTransactionState):
    """SQLSTATE 25006: the session is read-only (a standby, or ``default_transaction_read_only``);
    connect to the primary."""

    sqlstates = ("25006",)


class SingleServerOnly(LoyaltyError):
    """``selfcheck`` or ``demo --dsn`` aimed at a distributed database: they play in one
    rolled-back transaction that mixes direct inserts with API calls, which Citus refuses."""


class PoolerPreparedStatement(LoyaltyError):
    """SQLSTATE 26000 or 42P05: psycopg prepared a statement on one server connection and a
    connection pooler in transaction mode (pgbouncer) sent a later transaction to another, where
    it is missing (or already there). Open the connection with ``prepare_threshold=None``
    (docs/poolers.md); the connection stays usable."""

    sqlstates = ("26000", "42P05")


class ConnectionFailed(LoyaltyError):
    """The database could not be reached (bad DSN, server down, authentication failed)."""


class LegacySourceError(LoyaltyError):
    """``import-legacy``'s source cannot be read as the replaced system's database: unreachable,
    without its tables (in the schema named), or with a column or row the import cannot read."""


class PermissionDenied(LoyaltyError):
    """The connected role may not do what a call or a command needs (SQLSTATE 42501 from the
    server: a login role not granted ``loyalty_app``, say; or found by a command before anything
    is written: migrations need a superuser or a CREATEROLE member of loyalty_owner;
    ``selfcheck`` and ``demo --dsn`` write tables directly, which ``loyalty_app`` may not)."""

    sqlstates = ("42501",)


def lookup(sqlstate: str) -> type[LoyaltyError] | None:
    """The loyaltydb error class that stands for ``sqlstate``, or None."""
    return _BY_SQLSTATE.get(sqlstate)


#: What Citus's errors say when a worker is unreachable or went away mid-call: its own words
#: ("connection to the remote node …"), or libpq's about the worker's connection, passed on with
#: SQLSTATE XX000. The server a client is connected to never reports these of itself.
_WORKER_GONE = (
    "remote node",
    "server closed the connection unexpectedly",
    "connection not open",
    "could not connect to server",
    "terminating connection",
    "lost connection",
    "failed to connect to",
    "could not read the transaction snapshot of every node",
)


def translate(exc: psycopg.Error) -> LoyaltyError | None:
    """The loyaltydb error that ``exc`` stands for, or None when it is not one of ours."""
    sqlstate = exc.sqlstate
    cls = lookup(sqlstate or "")
    primary = exc.diag.message_primary or str(exc)
    if sqlstate in ("XX000", "08006") and any(sign in primary for sign in _WORKER_GONE):
        cls = ClusterUnavailable  # Citus: a worker did not answer (libpq's message, several lines)
    elif cls is None and isinstance(exc, psycopg.DataError):
        cls = InvalidInput  # e.g. a NUL byte psycopg refuses before sending
    elif cls is None and sqlstate is None and isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        cls = ConnectionLost  # the client saw the connection go (no server error to read)
    if cls is None:
        return None
    message = one_line(primary, fold_lines=cls in (ClusterUnavailable, ConnectionLost))
    if cls is NotMigrated:
        message = f"this database is not migrated (run 'loyaltydb migrate'): {message}"
    elif cls is PoolerPreparedStatement:
        message = (
            f"{message}: a connection pooler in transaction mode (pgbouncer) moved this session to another server"
            " connection; open the connection with prepare_threshold=None (psycopg), see docs/poolers.md"
        )
    return cls(message, sqlstate)


def one_line(text: object, *, fold_lines: bool = False) -> str:
    """``text`` as one printable line. Control characters (which the server echoes from bad
    input, or a user's name may carry) are shown escaped, never obeyed: a newline cannot forge
    a log line. ``fold_lines`` joins a multi-line message of our own tools (libpq's) with spaces."""
    text = str(text).strip()
    if fold_lines:
        text = " ".join(line.strip() for line in text.splitlines() if line.strip())
    if not text.isprintable():  # the common case is, checked in C
        text = "".join(char.encode("unicode_escape").decode("ascii") if _unsafe(char) else char for char in text)
    return shorten(text, MAX_MESSAGE)


def _unsafe(char: str) -> bool:
    """Control and format characters, and the line and paragraph separators (U+2028, U+2029:
    tools that honour them would start a new log line)."""
    category = unicodedata.category(char)
    return category[0] == "C" or category in ("Zl", "Zp")


#: The longest message one_line() renders: PostgreSQL echoes bad input whole (a 10 KB "uuid").
MAX_MESSAGE = 500


def shorten(text: str, limit: int) -> str:
    """``text`` cut to about ``limit`` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters in all)"


@contextmanager
def translated_errors(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any] | None = None) -> Iterator[None]:
    """Re-raise psycopg errors that carry one of our SQLSTATEs as loyaltydb errors. Given the
    call's connection: a "connection lost" error (57P01, 08006, ...) while that connection is
    still open came from a node behind it (a Citus worker whose backend was terminated or
    restarted mid-call), and is ``ClusterUnavailable``: the caller's session is fine."""
    try:
        yield
    except psycopg.Error as exc:
        mapped = translate(exc)
        if mapped is None:
            raise
        if type(mapped) is ConnectionLost and conn is not None and not (conn.closed or conn.broken):
            mapped = ClusterUnavailable(f"a node of the cluster lost its connection: {mapped}", mapped.sqlstate)
        raise mapped from exc
