# Generated from loyaltydb/aio.py by tools/async_to_sync.py: edit aio.py, then run `make generate`.
"""The synchronous API, over ``psycopg.Connection``: thin, typed wrappers over the
``loyalty`` SQL functions.

This module is generated from ``loyaltydb.aio``, its asynchronous twin, by
``tools/async_to_sync.py`` (``make generate``; ``make test`` checks that the
two agree). What to send and how to check the arguments, and whether a call owns its
transaction, are decided once for both, in the package's private modules.

Every call is atomic. Inside the caller's open transaction it joins it through a savepoint
(an error rolls back only the call; the caller's transaction stays usable); otherwise it
runs in a transaction of its own, committed on return and retried a bounded number of times
when it loses a race (SQLSTATE 40001 or 40P01).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from time import monotonic
from typing import Any, LiteralString, TypeVar
from uuid import UUID

import psycopg
from psycopg.rows import RowFactory, class_row, scalar_row, tuple_row

from . import _queries as queries
from ._connections import Connectable, sync_connection
from ._notices import forward_notices
from ._queries import RequestId
from ._transactions import TransactionPlan, record_retry
from .errors import ConnectionLost, InvalidInput, TransactionConflict, translated_errors
from .models import (
    Card,
    CardTransaction,
    ConsumerStatus,
    Customer,
    EnrollmentResult,
    Event,
    Notification,
    PendingInvitation,
    PendingRequest,
    PointResult,
    PointsProblem,
    Redemption,
    RedemptionResult,
    Reward,
)

__all__ = [
    "accept_invitation",
    "ack_events",
    "adjust_points",
    "answer_points_deduction",
    "approve_enrollment",
    "approve_enrollments",
    "block_card",
    "business_notifications",
    "cancel_redemption",
    "card_transactions",
    "create_program",
    "create_reward",
    "customer_cards",
    "customer_notifications",
    "decline_invitation",
    "drop_event_consumer",
    "earn_points",
    "earn_points_batch",
    "ensure_customer",
    "erase_customer",
    "event_consumer_status",
    "expire_points",
    "expire_requests",
    "export_customer",
    "fetch_events",
    "find_card",
    "fulfil_redemption",
    "invite_customer",
    "leave_program",
    "listen_events",
    "mark_notifications_read",
    "pending_invitations",
    "pending_requests",
    "program_rewards",
    "prune_events",
    "redeem_reward",
    "reject_enrollment",
    "replace_card",
    "request_enrollment",
    "request_points_deduction",
    "reverse_points",
    "set_program_status",
    "spend_points",
    "unblock_card",
    "update_reward",
    "upsert_user",
    "verify_points",
]

T = TypeVar("T")


def _atomic(conn: psycopg.Connection[Any], work: Callable[[], T]) -> T:
    """Run ``work`` in a savepoint of the caller's transaction, or in a retried one of ours."""
    forward_notices(conn)
    plan = TransactionPlan.for_connection(conn)
    for attempt in range(1, plan.attempts + 1):
        try:
            with translated_errors(conn):
                if plan.one_statement:
                    with _autocommit(conn):
                        return work()
                with conn.transaction():
                    return work()
        except TransactionConflict as conflict:
            if attempt == plan.attempts:
                raise
            time.sleep(record_retry(attempt, conflict))
    raise AssertionError("unreachable: the last attempt returns or raises")


@contextmanager
def _autocommit(conn: psycopg.Connection[Any]) -> Iterator[None]:
    """The one statement of ``work`` as its own transaction: one round trip, not three."""
    saved = conn.autocommit
    conn.autocommit = True
    try:
        yield
    finally:
        if not conn.closed:  # a connection lost mid-call has no mode to restore (and says so)
            conn.autocommit = saved


def _fetch_all(
    conn: Connectable,
    query: LiteralString,
    params: Mapping[str, object],
    rows: RowFactory[T],
) -> list[T]:
    pg = sync_connection(conn)  # TypeError for anything else, before anything is sent

    def work() -> list[T]:
        # A cursor of our own class, not conn.cursor(): a connection whose cursor_factory is
        # RawCursor (``$1`` placeholders) or a ClientCursor must not change how we send.
        with psycopg.Cursor(pg, row_factory=rows) as cur:
            cur.execute(query, params)
            return cur.fetchall()

    return _atomic(pg, work)


def _fetch_one(
    conn: Connectable,
    query: LiteralString,
    params: Mapping[str, object],
    rows: RowFactory[T],
) -> T:
    (row,) = _fetch_all(conn, query, params, rows)  # each function called here returns one row
    return row


def request_enrollment(conn: Connectable, customer_id: int, program_id: int) -> UUID:
    """Record user ``customer_id``'s request to join ``program_id``; returns the request's id."""
    params = queries.request(customer_id, program_id)
    request_id: UUID = _fetch_one(conn, queries.REQUEST, params, scalar_row)
    return request_id


def approve_enrollment(conn: Connectable, request_id: RequestId, *, business_id: int | None = None) -> EnrollmentResult:
    """Approve a request: customer (created when missing), enrollment, card, notification.

    With ``business_id``, a request for another business's program raises NotAuthorized.
    """
    query, params = queries.decide(request_id, approved=True, reason=None, business_id=business_id)
    return _fetch_one(conn, query, params, class_row(EnrollmentResult))


def reject_enrollment(
    conn: Connectable,
    request_id: RequestId,
    reason: str | None = None,
    *,
    business_id: int | None = None,
) -> EnrollmentResult:
    """Reject a request; the result has no enrollment and no card. ``business_id``: as approve."""
    query, params = queries.decide(request_id, approved=False, reason=reason, business_id=business_id)
    return _fetch_one(conn, query, params, class_row(EnrollmentResult))


def approve_enrollments(
    conn: Connectable, request_ids: Iterable[RequestId], *, business_id: int | None = None
) -> list[EnrollmentResult]:
    """Approve many requests in one round trip and one transaction; results in the same order.

    Exactly the results of approving them one by one in that order (duplicates, repeated ids
    and requests approved before included), set-based in the database. Atomic: the first
    request, in this order, that cannot be approved raises its error and nothing is written.
    """
    params = queries.decide_many(request_ids, business_id=business_id)
    return _fetch_all(conn, queries.DECIDE_MANY, params, class_row(EnrollmentResult))


def ensure_customer(conn: Connectable, user_id: int) -> Customer:
    """The customer for ``user_id``, created from its ``users`` row when missing."""
    return _fetch_one(conn, queries.ENSURE_CUSTOMER, queries.user(user_id), class_row(Customer))


def customer_cards(conn: Connectable, customer_id: int) -> list[Card]:
    """The customer's cards, each with its program's and business's names."""
    return _fetch_all(conn, queries.CUSTOMER_CARDS, queries.customer(customer_id), class_row(Card))


def find_card(conn: Connectable, card_number: str) -> Card | None:
    """The card with this number: its loyaltydb number, or any number it carried in the replaced
    system (imported by ``loyaltydb import-legacy``); None when no card has it."""
    cards = _fetch_all(conn, queries.FIND_CARD, queries.card_number(card_number), class_row(Card))
    return cards[0] if cards else None


def pending_requests(
    conn: Connectable, business_id: int, *, limit: int = 50, after: RequestId | None = None
) -> list[PendingRequest]:
    """A business's inbox: its PENDING requests, oldest first, ``limit`` (1 to 1000) at a time.

    Keyset pages: pass the last ``request_id`` of a page as ``after`` to get the next one.
    """
    params = queries.pending(business_id, limit=limit, after=after)
    return _fetch_all(conn, queries.PENDING, params, class_row(PendingRequest))


def invite_customer(
    conn: Connectable, business_id: int, customer_id: int, program_id: int, *, message: str | None = None
) -> UUID:
    """Invite user ``customer_id`` (a customer or not yet) to the business's ``program_id``.

    Returns the invitation's id; while an invitation of that customer to that program is
    pending and in time, inviting again returns it. NotAuthorized when the program is another
    business's, UserNotFound when no such user exists.
    """
    params = queries.invite(business_id, customer_id, program_id, message=message)
    invitation_id: UUID = _fetch_one(conn, queries.INVITE, params, scalar_row)
    return invitation_id


def accept_invitation(conn: Connectable, request_id: RequestId, *, customer_id: int) -> EnrollmentResult:
    """The customer's yes: exactly an approval (customer, enrollment, card, welcome points), and
    the business hears CUSTOMER_JOINED. Only that customer's invitation: NotAuthorized otherwise."""
    params = queries.answer(request_id, customer_id=customer_id)
    return _fetch_one(conn, queries.ACCEPT, params, class_row(EnrollmentResult))


def decline_invitation(
    conn: Connectable, request_id: RequestId, reason: str | None = None, *, customer_id: int
) -> EnrollmentResult:
    """The customer's no; the business hears INVITATION_DECLINED (with the reason, if given)."""
    params = queries.answer(request_id, customer_id=customer_id, reason=reason)
    return _fetch_one(conn, queries.DECLINE, params, class_row(EnrollmentResult))


def pending_invitations(
    conn: Connectable, customer_id: int, *, limit: int = 50, after: RequestId | None = None
) -> list[PendingInvitation]:
    """A customer's PENDING invitations still in time, oldest first, ``limit`` (1 to 1000) at a
    time; pass the last ``request_id`` of a page as ``after`` to get the next one."""
    params = queries.invitations(customer_id, limit=limit, after=after)
    return _fetch_all(conn, queries.INVITATIONS, params, class_row(PendingInvitation))


def customer_notifications(
    conn: Connectable,
    customer_id: int,
    *,
    unread_only: bool = False,
    limit: int = 50,
    before: RequestId | None = None,
) -> list[Notification]:
    """A customer's feed, newest first; pass the last ``id`` of a page as ``before`` for the next."""
    params = queries.feed(customer_id, reader="customer_id", unread_only=unread_only, limit=limit, before=before)
    return _fetch_all(conn, queries.CUSTOMER_FEED, params, class_row(Notification))


def business_notifications(
    conn: Connectable,
    business_id: int,
    *,
    unread_only: bool = False,
    limit: int = 50,
    before: RequestId | None = None,
) -> list[Notification]:
    """A business's feed (requests to act on, CUSTOMER_JOINED, INVITATION_DECLINED), newest first."""
    params = queries.feed(business_id, reader="business_id", unread_only=unread_only, limit=limit, before=before)
    return _fetch_all(conn, queries.BUSINESS_FEED, params, class_row(Notification))


def mark_notifications_read(
    conn: Connectable,
    notification_ids: Iterable[RequestId],
    *,
    customer_id: int | None = None,
    business_id: int | None = None,
) -> int:
    """Mark notifications read for exactly one reader; ids that are not that reader's are left
    alone. Returns how many were marked (ones already read are not counted)."""
    params = queries.mark_read(notification_ids, customer_id=customer_id, business_id=business_id)
    marked: int = _fetch_one(conn, queries.MARK_READ, params, scalar_row)
    return marked


def expire_requests(conn: Connectable, *, limit: int = 1000) -> int:
    """Mark at most ``limit`` overdue PENDING requests and invitations EXPIRED, in one transaction;
    returns how many. Call again until it returns less than ``limit``."""
    expired: int = _fetch_one(conn, queries.EXPIRE, queries.expire(limit), scalar_row)
    return expired


def _point_result(conn: Connectable, query: LiteralString, params: Mapping[str, object]) -> PointResult:
    """One ledger writer's row (every writer returns a ``loyalty.point_result``)."""
    return _fetch_one(conn, query, params, class_row(PointResult))


def earn_points(
    conn: Connectable,
    customer_id: int,
    program_id: int,
    points: int,
    *,
    idempotency_key: str,
    business_id: int | None = None,
    reference: str | None = None,
) -> PointResult:
    """Credit ``points`` (a positive integer) to the customer's card in the program. A key the card
    has seen replays the stored row (``replayed``) for the same call, and raises
    ``IdempotencyKeyReused`` for another; ``business_id=`` refuses another business's card."""
    params = queries.points_change(
        customer_id, program_id, points, idempotency_key=idempotency_key, business_id=business_id, reference=reference
    )
    return _point_result(conn, queries.EARN_POINTS, params)


def spend_points(
    conn: Connectable,
    customer_id: int,
    program_id: int,
    points: int,
    *,
    idempotency_key: str,
    business_id: int | None = None,
    reference: str | None = None,
) -> PointResult:
    """Take ``points`` (a positive integer) from the card: ``InsufficientPoints`` rather than a
    negative balance, under any concurrency; keys as ``earn_points()``."""
    params = queries.points_change(
        customer_id, program_id, points, idempotency_key=idempotency_key, business_id=business_id, reference=reference
    )
    return _point_result(conn, queries.SPEND_POINTS, params)


def adjust_points(
    conn: Connectable,
    customer_id: int,
    program_id: int,
    points: int,
    *,
    idempotency_key: str,
    note: str,
    business_id: int | None = None,
) -> PointResult:
    """A correction of ``points`` (positive or negative, not zero) with a ``note`` saying why;
    allowed on an inactive or blocked card."""
    params = queries.points_change(
        customer_id, program_id, points, idempotency_key=idempotency_key, business_id=business_id, note=note
    )
    return _point_result(conn, queries.ADJUST_POINTS, params)


def reverse_points(
    conn: Connectable,
    customer_id: int,
    transaction_id: int,
    *,
    idempotency_key: str,
    business_id: int | None = None,
) -> PointResult:
    """Undo one EARN, SPEND or ADJUST of the customer, once (``AlreadyReversed`` after)."""
    params = queries.points_reversal(
        customer_id, transaction_id, idempotency_key=idempotency_key, business_id=business_id
    )
    return _point_result(conn, queries.REVERSE_POINTS, params)


def earn_points_batch(
    conn: Connectable, entries: Iterable[tuple[int, int, int, str]], *, business_id: int | None = None
) -> list[PointResult]:
    """Many earns in one round trip and one transaction, entries being ``(customer_id,
    program_id, points, idempotency_key)``; one result per entry, in order. An error in any
    entry names it, and nothing of the batch is written."""
    params = queries.points_batch(entries, business_id=business_id)
    return _fetch_all(conn, queries.EARN_POINTS_BATCH, params, class_row(PointResult))


def card_transactions(
    conn: Connectable, customer_id: int, program_id: int, *, limit: int = 50, before: int | None = None
) -> list[CardTransaction]:
    """The card's ledger, newest first: ``limit`` rows (1 to 1,000) before transaction ``before``."""
    params = queries.card_history(customer_id, program_id, limit=limit, before=before)
    return _fetch_all(conn, queries.CARD_TRANSACTIONS, params, class_row(CardTransaction))


def expire_points(conn: Connectable, *, limit: int = 1000) -> int:
    """Write off what is left of at most ``limit`` overdue credits (oldest first), one ``EXPIRE``
    row each, in one transaction; returns how many. Call it until it returns less than ``limit``
    (``loyaltydb expire`` does). A point spent meanwhile is never expired."""
    expired: int = _fetch_one(conn, queries.EXPIRE_POINTS, queries.expire(limit), scalar_row)
    return expired


def verify_points(conn: Connectable) -> list[PointsProblem]:
    """Every card whose balance is not its ledger's sum, or whose enrollment disagrees: none on a
    healthy database (``loyaltydb status --check`` fails otherwise)."""
    return _fetch_all(conn, queries.VERIFY_POINTS, {}, class_row(PointsProblem))


def request_points_deduction(
    conn: Connectable, business_id: int, customer_id: int, program_id: int, points: int, *, reason: str
) -> UUID:
    """The business asks to deduct ``points`` from the customer's card in its program; the
    customer is told by name and answers with ``answer_points_deduction()`` before the
    program's ``request_ttl`` runs out. Returns the request's id; nothing is deducted yet."""
    params = queries.deduction_request(business_id, customer_id, program_id, points, reason=reason)
    made: UUID = _fetch_one(conn, queries.REQUEST_DEDUCTION, params, scalar_row)
    return made


def answer_points_deduction(
    conn: Connectable, request_id: RequestId, *, customer_id: int, approved: bool
) -> PointResult | None:
    """The customer's answer: yes deducts the points (the ``DEDUCTION`` row, or
    ``InsufficientPoints`` with the request left PENDING), no returns None. Only that customer
    may answer; the same answer again replays; an overdue request is ``RequestExpired``."""
    params = queries.deduction_answer(request_id, customer_id=customer_id, approved=approved)
    result = _point_result(conn, queries.ANSWER_DEDUCTION, params)
    return None if result.transaction_id is None else result


def create_reward(
    conn: Connectable, business_id: int, program_id: int, name: str, points_cost: int, *, stock: int | None = None
) -> int:
    """A reward in one of the business's programs, costing ``points_cost``; ``stock`` how many
    there are (None: unlimited). Returns its id."""
    params = queries.reward(business_id, program_id, name, points_cost, stock=stock)
    made: int = _fetch_one(conn, queries.CREATE_REWARD, params, scalar_row)
    return made


def update_reward(
    conn: Connectable,
    business_id: int,
    reward_id: int,
    *,
    status: str | None = None,
    points_cost: int | None = None,
    stock: int | None = None,
) -> Reward:
    """Change one of the business's rewards (None leaves a field as it is: a limited stock stays
    limited); returns it. Redemptions made before keep what they paid."""
    params = queries.reward_change(business_id, reward_id, status=status, points_cost=points_cost, stock=stock)
    return _fetch_one(conn, queries.UPDATE_REWARD, params, class_row(Reward))


def program_rewards(conn: Connectable, program_id: int) -> list[Reward]:
    """What a customer of the program can redeem now: ACTIVE rewards with stock left, cheapest first."""
    return _fetch_all(conn, queries.PROGRAM_REWARDS, queries.catalogue(program_id), class_row(Reward))


def redeem_reward(conn: Connectable, customer_id: int, reward_id: int, *, idempotency_key: str) -> RedemptionResult:
    """Spend the reward's cost from the customer's card in its program (a ``REDEEM`` row), take
    one from its stock and record the redemption with its counter code, in one transaction;
    ``RewardUnavailable`` (inactive, out of stock), ``InsufficientPoints``; a retry with the same
    key returns the same redemption, ``replayed``."""
    params = queries.redemption(customer_id, reward_id, idempotency_key=idempotency_key)
    return _fetch_one(conn, queries.REDEEM_REWARD, params, class_row(RedemptionResult))


def fulfil_redemption(conn: Connectable, business_id: int, code: str) -> Redemption:
    """The business hands the reward over for the code the customer shows (case, spaces and
    dashes ignored); again returns it; ``RedemptionNotPending`` if cancelled,
    ``RedemptionNotFound`` for a code none of its programs issued."""
    params = queries.fulfilment(business_id, code)
    return _fetch_one(conn, queries.FULFIL_REDEMPTION, params, class_row(Redemption))


def cancel_redemption(
    conn: Connectable, customer_id: int, redemption_id: UUID | str, *, business_id: int | None = None
) -> Redemption:
    """Cancel a PENDING redemption (the customer's own, or with ``business_id`` one of that
    business's): its points come back once as a ``REFUND`` row and a limited stock gets its
    item back; again returns it; ``RedemptionNotPending`` if fulfilled."""
    params = queries.cancellation(customer_id, redemption_id, business_id=business_id)
    return _fetch_one(conn, queries.CANCEL_REDEMPTION, params, class_row(Redemption))


def export_customer(conn: Connectable, customer_id: int) -> dict[str, Any]:
    """Everything loyaltydb holds about the customer, as one document (what a customer asking
    for their data receives): user and customer rows, enrollments, cards and aliases, the
    ledger, redemptions, requests, deduction requests, notifications and events. Needs the
    ``loyalty_privacy`` role; ``UserNotFound`` for an id that is no user and no customer."""
    document: dict[str, Any] = _fetch_one(conn, queries.EXPORT_CUSTOMER, queries.customer(customer_id), scalar_row)
    return document


def erase_customer(conn: Connectable, customer_id: int, *, requested_by: str) -> dict[str, int]:
    """Forget the customer in one transaction: no copy of their name, email or card numbers
    stays in any row; ids, amounts and dates stay; every later call for that id raises
    ``CustomerErased``. ``requested_by`` says who asked (a ticket, not the person's name).
    Returns how many rows each table changed; erasing again returns zeros. Needs the
    ``loyalty_privacy`` role."""
    params = queries.erasure(customer_id, requested_by=requested_by)
    rows = _fetch_all(conn, queries.ERASE_CUSTOMER, params, tuple_row)
    return {str(table): int(changed) for table, changed in rows}


def upsert_user(conn: Connectable, user_id: int, name: str | None, email: str | None) -> int:
    """Make or update the user ``user_id`` as the application knows it (its business's copy
    follows); a ``loyalty_app`` login needs no table privilege for it. Returns the id."""
    written: int = _fetch_one(conn, queries.UPSERT_USER, queries.user_row(user_id, name, email), scalar_row)
    return written


def create_program(
    conn: Connectable,
    business_id: int,
    name: str,
    *,
    welcome_points: int = 0,
    request_ttl: timedelta | None = timedelta(days=7),
    points_ttl: timedelta | None = None,
) -> int:
    """A new program of the business (a user: ``UserNotFound`` otherwise), registered as a
    business if it was not; returns the program's id. ``None`` TTLs: never."""
    params = queries.program(
        business_id, name, welcome_points=welcome_points, request_ttl=request_ttl, points_ttl=points_ttl
    )
    made: int = _fetch_one(conn, queries.CREATE_PROGRAM, params, scalar_row)
    return made


def set_program_status(conn: Connectable, business_id: int, program_id: int, status: str) -> str:
    """``'ACTIVE'`` or ``'INACTIVE'`` for one of the business's programs (``NotAuthorized`` for
    another's, ``ProgramNotFound`` for none); returns the status."""
    params = queries.program_status(business_id, program_id, status)
    done: str = _fetch_one(conn, queries.SET_PROGRAM_STATUS, params, scalar_row)
    return done


def block_card(
    conn: Connectable, customer_id: int, program_id: int, reason: str | None, *, business_id: int | None = None
) -> Card:
    """Block the customer's card in the program (lost, stolen): it earns and spends nothing
    (``CardNotActive``) until ``unblock_card()``; blocking a blocked card changes nothing."""
    params = queries.card_change(customer_id, program_id, reason=reason, business_id=business_id)
    return _fetch_one(conn, queries.BLOCK_CARD, params, class_row(Card))


def unblock_card(
    conn: Connectable, customer_id: int, program_id: int, reason: str | None, *, business_id: int | None = None
) -> Card:
    """Unblock a blocked card (ACTIVE again while its enrollment is); any other changes nothing."""
    params = queries.card_change(customer_id, program_id, reason=reason, business_id=business_id)
    return _fetch_one(conn, queries.UNBLOCK_CARD, params, class_row(Card))


def replace_card(conn: Connectable, customer_id: int, program_id: int, *, business_id: int | None = None) -> Card:
    """The same card (id, balance, ledger) under a new number; the old number finds nothing from
    then on and is never issued again."""
    params = queries.card_change(customer_id, program_id, business_id=business_id)
    return _fetch_one(conn, queries.REPLACE_CARD, params, class_row(Card))


def leave_program(conn: Connectable, customer_id: int, program_id: int) -> Card:
    """The customer leaves the program: enrollment and card INACTIVE (the relationship too with
    the business's last program); joining again re-activates the same card with its balance."""
    params = queries.card_change(customer_id, program_id)
    return _fetch_one(conn, queries.LEAVE_PROGRAM, params, class_row(Card))


def fetch_events(
    conn: Connectable, consumer: str, *, limit: int = 100, visibility_timeout: float = 30.0
) -> list[Event]:
    """Up to ``limit`` events ``consumer`` has not acknowledged and no other worker of it holds,
    oldest first, each held for ``visibility_timeout`` seconds (then given again unless acked:
    at least once). The first fetch registers the consumer; it then receives every event
    committed after that, whatever order the transactions commit in."""
    params = queries.events_fetch(consumer, limit=limit, visibility_timeout=visibility_timeout)
    return _fetch_all(conn, queries.FETCH_EVENTS, params, class_row(Event))


def ack_events(conn: Connectable, consumer: str, event_ids: Iterable[int]) -> int:
    """Acknowledge events ``consumer`` has handled; returns how many were its to acknowledge."""
    acked: int = _fetch_one(conn, queries.ACK_EVENTS, queries.events_ack(consumer, event_ids), scalar_row)
    return acked


def prune_events(conn: Connectable, *, older_than: float = 7 * 86400.0) -> int:
    """Delete events older than ``older_than`` seconds (default 7 days) that every registered
    consumer has acknowledged; returns how many. An event a consumer has not acked is kept."""
    pruned: int = _fetch_one(conn, queries.PRUNE_EVENTS, queries.events_prune(older_than), scalar_row)
    return pruned


def event_consumer_status(conn: Connectable) -> list[ConsumerStatus]:
    """Every registered consumer: its last fetch, its unacknowledged events, and since when it
    holds back pruning (a consumer that is gone for good holds it back forever: drop it)."""
    return _fetch_all(conn, queries.CONSUMER_STATUS, {}, class_row(ConsumerStatus))


def drop_event_consumer(conn: Connectable, consumer: str) -> bool:
    """Remove ``consumer`` and the events queued for it, so it no longer holds back pruning;
    returns whether it existed. A later fetch under that name registers it afresh."""
    dropped: bool = _fetch_one(conn, queries.DROP_CONSUMER, queries.events_consumer(consumer), scalar_row)
    return dropped


def listen_events(conn: Connectable, *, timeout: float) -> bool:
    """Return when new events may be waiting: True on a notification (sent at the commit of a
    change that wrote events), when events committed since the last call returned, or at once on
    the connection's first call, which starts listening (so nothing committed before it is
    missed); False after ``timeout`` seconds without one. The connection must have no
    transaction open: notifications arrive between transactions.

    Writers notify only while a consumer waits (``loyalty.begin_events_wait`` to
    ``loyalty.end_events_wait``; docs/events.md): PostgreSQL commits notifying transactions one
    at a time, and a busy consumer does not need to be woken. On a Citus cluster, where no NOTIFY
    reaches the coordinator, it returns True every half second (a poll); so it does behind a
    connection pooler (pgbouncer), where LISTEN and the wake-up lock would stay with a server
    connection the pooler hands to another client: nothing is taken or left there
    (docs/poolers.md)."""
    pg = sync_connection(conn)
    seconds = queries.listen_timeout(timeout)
    if pg.closed or pg.broken:
        raise ConnectionLost("listen_events: the connection is closed (its server session ended): reconnect")
    if pg.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise InvalidInput("listen_events needs a connection with no transaction open (commit or roll back first)")
    with translated_errors(pg):  # a bad timeout, or a connection lost while listening: one sentence
        return _listen(pg, seconds)


def _listen(pg: psycopg.Connection[Any], timeout: float) -> bool:
    """listen_events' wait, on a checked connection, in autocommit (NOTIFY arrives between
    transactions)."""
    deadline = monotonic() + max(timeout, 0.0)
    with _autocommit(pg):
        listening = (pg.execute(queries.LISTENING)).fetchone()
        if listening is not None and listening[1] != pg.info.backend_pid:
            # A pooler answers: poll, as on a cluster, and hold nothing on its server connection.
            poll = min(max(deadline - monotonic(), 0.0), queries.POLL_SECONDS)
            time.sleep(poll)
            return poll >= queries.POLL_SECONDS  # a whole poll: events may be waiting; else the timeout
        if not (listening and listening[0]):
            pg.execute(queries.LISTEN_EVENTS)
            pg.execute(queries.END_EVENTS_WAIT)
            return True
        begun = (pg.execute(queries.BEGIN_EVENTS_WAIT, {"timeout": timeout})).fetchone()
        wait = begun[0] if begun else None
        if wait is None:
            return False  # nothing within the timeout (or a writer's transaction stayed open past it)
        if wait == 0:
            return True  # committed since the last call: fetch, no sleep
        try:
            for _ in pg.notifies(timeout=min(wait, max(deadline - monotonic(), 0.0)), stop_after=1):
                return True
        finally:
            if not pg.closed:
                pg.execute(queries.END_EVENTS_WAIT)
        return bool(wait < timeout)  # a cluster's poll (no NOTIFY reaches it): events may be waiting


class events:  # noqa: N801  (a namespace: loyaltydb.aio.events.fetch, as loyaltydb.events.fetch)
    """The consumer API of the events outbox under the contract's names (docs/events.md)."""

    fetch = staticmethod(fetch_events)
    ack = staticmethod(ack_events)
    listen = staticmethod(listen_events)
    prune = staticmethod(prune_events)
    consumers = staticmethod(event_consumer_status)
    drop_consumer = staticmethod(drop_event_consumer)
