"""The synchronous API: thin, typed wrappers over the ``loyalty`` SQL functions.

Every call is atomic. Inside the caller's open transaction it joins it through a savepoint
(an error rolls back only the call; the caller's transaction stays usable); otherwise it
runs in a transaction of its own, committed on return and retried a bounded number of times
when it loses a race (SQLSTATE 40001 or 40P01).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, LiteralString, TypeVar
from uuid import UUID

import psycopg
from psycopg import pq
from psycopg.rows import RowFactory, class_row, scalar_row

from . import queries
from .errors import TransactionConflict, translated_errors
from .models import Card, Customer, EnrollmentResult
from .notices import forward_notices
from .queries import RequestId
from .retry import MAX_ATTEMPTS, plain_transactions, record_retry

T = TypeVar("T")


def _atomic(conn: psycopg.Connection[Any], work: Callable[[], T]) -> T:
    """Run ``work`` in a savepoint of the caller's transaction, or in a retried one of ours.

    ``work`` sends one statement. When we own the transaction and the caller asked for no
    special transaction mode, that statement runs in autocommit: it is its own transaction,
    and one round trip instead of three (BEGIN, the call, COMMIT).
    """
    forward_notices(conn)
    owns_transaction = conn.info.transaction_status == pq.TransactionStatus.IDLE
    attempts = MAX_ATTEMPTS if owns_transaction else 1
    one_statement = owns_transaction and plain_transactions(conn)
    for attempt in range(1, attempts + 1):
        try:
            if one_statement:
                with translated_errors(), _autocommit(conn):
                    return work()
            with translated_errors(), conn.transaction():
                return work()
        except TransactionConflict as conflict:
            if attempt == attempts:
                raise
            time.sleep(record_retry(attempt, conflict))
    raise AssertionError("unreachable: the last attempt returns or raises")


@contextmanager
def _autocommit(conn: psycopg.Connection[Any]) -> Iterator[None]:
    saved = conn.autocommit
    conn.autocommit = True
    try:
        yield
    finally:
        conn.autocommit = saved


def _fetch_all(
    conn: psycopg.Connection[Any], query: LiteralString, params: Mapping[str, object], rows: RowFactory[T]
) -> list[T]:
    def work() -> list[T]:
        with conn.cursor(row_factory=rows) as cur:
            return cur.execute(query, params).fetchall()

    return _atomic(conn, work)


def _fetch_one(
    conn: psycopg.Connection[Any], query: LiteralString, params: Mapping[str, object], rows: RowFactory[T]
) -> T:
    (row,) = _fetch_all(conn, query, params, rows)  # each function called here returns one row
    return row


def request_enrollment(conn: psycopg.Connection[Any], customer_id: int, program_id: int) -> UUID:
    """Record user ``customer_id``'s request to join ``program_id``; returns the request's id."""
    params = queries.request(customer_id, program_id)
    request_id: UUID = _fetch_one(conn, queries.REQUEST, params, scalar_row)
    return request_id


def approve_enrollment(
    conn: psycopg.Connection[Any], request_id: RequestId, *, business_id: int | None = None
) -> EnrollmentResult:
    """Approve a request: customer (created when missing), enrollment, card, notification.

    With ``business_id``, a request for another business's program raises NotAuthorized.
    """
    params = queries.decide(request_id, approved=True, reason=None, business_id=business_id)
    return _fetch_one(conn, queries.DECIDE, params, class_row(EnrollmentResult))


def reject_enrollment(
    conn: psycopg.Connection[Any],
    request_id: RequestId,
    reason: str | None = None,
    *,
    business_id: int | None = None,
) -> EnrollmentResult:
    """Reject a request; the result has no enrollment and no card. ``business_id``: as approve."""
    params = queries.decide(request_id, approved=False, reason=reason, business_id=business_id)
    return _fetch_one(conn, queries.DECIDE, params, class_row(EnrollmentResult))


def approve_enrollments(
    conn: psycopg.Connection[Any], request_ids: Iterable[RequestId], *, business_id: int | None = None
) -> list[EnrollmentResult]:
    """Approve many requests in one round trip and one transaction; results in the same order.

    The same results as approving one by one in that order (duplicates and already approved
    requests included). Atomic: the first request that cannot be approved raises its error
    and nothing is written.
    """
    params = queries.decide_many(request_ids, business_id=business_id)
    return _fetch_all(conn, queries.DECIDE_MANY, params, class_row(EnrollmentResult))


def ensure_customer(conn: psycopg.Connection[Any], user_id: int) -> Customer:
    """The customer for ``user_id``, created from its ``users`` row when missing."""
    return _fetch_one(conn, queries.ENSURE_CUSTOMER, queries.user(user_id), class_row(Customer))


def customer_cards(conn: psycopg.Connection[Any], customer_id: int) -> list[Card]:
    """The customer's cards, each with its program's and business's names."""
    return _fetch_all(conn, queries.CUSTOMER_CARDS, queries.customer(customer_id), class_row(Card))
