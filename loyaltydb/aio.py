"""The asynchronous twin of :mod:`loyaltydb.api`, over ``psycopg.AsyncConnection``.

Same functions, same atomicity and retry rules, as coroutines.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any, LiteralString, TypeVar
from uuid import UUID

import psycopg
from psycopg import pq
from psycopg.rows import AsyncRowFactory, class_row, scalar_row

from . import queries
from .errors import TransactionConflict, translated_errors
from .models import Card, Customer, EnrollmentResult
from .notices import forward_notices
from .queries import RequestId
from .retry import MAX_ATTEMPTS, plain_transactions, record_retry

T = TypeVar("T")


async def _atomic(conn: psycopg.AsyncConnection[Any], work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` in a savepoint of the caller's transaction, or in a retried one of ours."""
    forward_notices(conn)
    owns_transaction = conn.info.transaction_status == pq.TransactionStatus.IDLE
    attempts = MAX_ATTEMPTS if owns_transaction else 1
    one_statement = owns_transaction and plain_transactions(conn)
    for attempt in range(1, attempts + 1):
        try:
            with translated_errors():
                if one_statement:  # its own transaction, one round trip (see loyaltydb.api)
                    async with _autocommit(conn):
                        return await work()
                async with conn.transaction():
                    return await work()
        except TransactionConflict as conflict:
            if attempt == attempts:
                raise
            await asyncio.sleep(record_retry(attempt, conflict))
    raise AssertionError("unreachable: the last attempt returns or raises")


@asynccontextmanager
async def _autocommit(conn: psycopg.AsyncConnection[Any]) -> AsyncIterator[None]:
    saved = conn.autocommit
    await conn.set_autocommit(True)
    try:
        yield
    finally:
        await conn.set_autocommit(saved)


async def _fetch_all(
    conn: psycopg.AsyncConnection[Any],
    query: LiteralString,
    params: Mapping[str, object],
    rows: AsyncRowFactory[T],
) -> list[T]:
    async def work() -> list[T]:
        async with conn.cursor(row_factory=rows) as cur:
            await cur.execute(query, params)
            return await cur.fetchall()

    return await _atomic(conn, work)


async def _fetch_one(
    conn: psycopg.AsyncConnection[Any],
    query: LiteralString,
    params: Mapping[str, object],
    rows: AsyncRowFactory[T],
) -> T:
    (row,) = await _fetch_all(conn, query, params, rows)  # each function called here returns one row
    return row


async def request_enrollment(conn: psycopg.AsyncConnection[Any], customer_id: int, program_id: int) -> UUID:
    """Record user ``customer_id``'s request to join ``program_id``; returns the request's id."""
    params = queries.request(customer_id, program_id)
    request_id: UUID = await _fetch_one(conn, queries.REQUEST, params, scalar_row)
    return request_id


async def approve_enrollment(
    conn: psycopg.AsyncConnection[Any], request_id: RequestId, *, business_id: int | None = None
) -> EnrollmentResult:
    """Approve a request: customer (created when missing), enrollment, card, notification.

    With ``business_id``, a request for another business's program raises NotAuthorized.
    """
    params = queries.decide(request_id, approved=True, reason=None, business_id=business_id)
    return await _fetch_one(conn, queries.DECIDE, params, class_row(EnrollmentResult))


async def reject_enrollment(
    conn: psycopg.AsyncConnection[Any],
    request_id: RequestId,
    reason: str | None = None,
    *,
    business_id: int | None = None,
) -> EnrollmentResult:
    """Reject a request; the result has no enrollment and no card. ``business_id``: as approve."""
    params = queries.decide(request_id, approved=False, reason=reason, business_id=business_id)
    return await _fetch_one(conn, queries.DECIDE, params, class_row(EnrollmentResult))


async def approve_enrollments(
    conn: psycopg.AsyncConnection[Any], request_ids: Iterable[RequestId], *, business_id: int | None = None
) -> list[EnrollmentResult]:
    """Approve many requests in one round trip and one transaction; results in the same order.

    The same results as approving one by one in that order (duplicates and already approved
    requests included). Atomic: the first request that cannot be approved raises its error
    and nothing is written.
    """
    params = queries.decide_many(request_ids, business_id=business_id)
    return await _fetch_all(conn, queries.DECIDE_MANY, params, class_row(EnrollmentResult))


async def ensure_customer(conn: psycopg.AsyncConnection[Any], user_id: int) -> Customer:
    """The customer for ``user_id``, created from its ``users`` row when missing."""
    return await _fetch_one(conn, queries.ENSURE_CUSTOMER, queries.user(user_id), class_row(Customer))


async def customer_cards(conn: psycopg.AsyncConnection[Any], customer_id: int) -> list[Card]:
    """The customer's cards, each with its program's and business's names."""
    return await _fetch_all(conn, queries.CUSTOMER_CARDS, queries.customer(customer_id), class_row(Card))
