"""Typed, frozen rows returned by the API (built by psycopg's ``class_row``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID


@dataclass(frozen=True, slots=True)
class EnrollmentResult:
    """The outcome of deciding a join request (a ``loyalty.enrollment_result`` row)."""

    request_id: UUID
    status: str
    customer_id: int
    program_id: int
    enrollment_id: int | None
    card_id: int | None
    card_number: str | None
    customer_created: bool
    notification_id: UUID | None


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer row; ``created`` tells whether this call created it."""

    id: int
    user_id: int
    name: str
    email: str | None
    created: bool


@dataclass(frozen=True, slots=True)
class Card:
    """A loyalty card with its program's and business's names (``loyalty.card_details``)."""

    id: int
    customer_id: int
    program_id: int
    program_name: str
    business_id: int
    business_name: str
    card_number: str
    status: str
    points_balance: int
    issued_at: datetime


@dataclass(frozen=True, slots=True)
class PendingRequest:
    """A request waiting in a business's inbox (a ``loyalty.pending_request`` row)."""

    request_id: UUID
    customer_id: int
    customer_name: str
    program_id: int
    program_name: str
    requested_at: datetime


@dataclass(frozen=True, slots=True)
class PendingInvitation:
    """An invitation waiting for its customer's answer (a ``loyalty.pending_invitation`` row)."""

    request_id: UUID
    business_id: int
    business_name: str
    program_id: int
    program_name: str
    requested_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class Notification:
    """One notification of a customer's or a business's feed (a ``loyalty.notification`` row)."""

    id: UUID
    type: str
    title: str
    message: str
    data: dict[str, Any]
    requires_action: bool
    action_taken: bool
    is_read: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Event:
    """A change, as ``loyaltydb.events.fetch`` returns it (a ``loyalty.event`` row): ``type`` one
    of docs/events.md's list, ``payload`` naming people and programs by name, with the ids and,
    for an event that notifies a customer, ``channels``."""

    id: int
    type: str
    customer_id: int
    business_id: int | None
    occurred_at: datetime
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ConsumerStatus:
    """A registered events consumer, as ``loyaltydb.events.consumers`` returns it: when it last
    fetched, how many events it holds unacknowledged (the oldest's time), and since when it keeps
    events from being pruned (the older of the two; None only for a consumer with no fetch, which
    cannot be). ``loyaltydb status`` prints these; ``events.drop_consumer`` removes one."""

    consumer: str
    registered_at: datetime
    last_fetch_at: datetime
    unacked: int
    oldest_unacked_at: datetime | None
    holds_back_since: datetime | None


@dataclass(frozen=True, slots=True)
class PointResult:
    """One row of the points ledger as a writer returns it (``loyalty.point_result``): ``points``
    signed, the card's ``balance_after``, and ``replayed`` when the idempotency key had been seen
    (the stored row, nothing written)."""

    transaction_id: int
    customer_id: int
    program_id: int
    card_id: int
    points: int
    balance_after: int
    reason: str
    created_at: datetime
    replayed: bool


@dataclass(frozen=True, slots=True)
class CardTransaction:
    """A row of a card's ledger, as ``card_transactions`` returns them (newest first);
    ``balance_after`` is None for rows written before migration 0032."""

    transaction_id: int
    points: int
    balance_after: int | None
    reason: str
    reference: str | None
    note: str | None
    reverses_id: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PointsProblem:
    """A card that breaks a ledger invariant, as ``verify_points`` returns them (none on a
    healthy database)."""

    customer_id: int
    program_id: int
    card_id: int
    points_balance: int
    ledger_sum: int
    enrollment_points: int | None
    problem: str


@dataclass(frozen=True, slots=True)
class Reward:
    """A reward of a program's catalogue (``loyalty.reward_details``): its cost in points and
    the stock left (None: unlimited). ``program_rewards`` returns the ACTIVE ones with stock."""

    reward_id: int
    program_id: int
    name: str
    points_cost: int
    status: str
    stock: int | None


@dataclass(frozen=True, slots=True)
class RedemptionResult:
    """What ``redeem_reward`` returns (``loyalty.redemption_result``): the redemption, the code
    the business types at the counter, the points spent and the card's balance after;
    ``replayed`` when the idempotency key had redeemed this reward already (nothing written)."""

    redemption_id: UUID
    code: str
    status: str
    reward_id: int
    points: int
    balance_after: int
    replayed: bool


@dataclass(frozen=True, slots=True)
class Redemption:
    """A redemption as ``fulfil_redemption`` and ``cancel_redemption`` return it
    (``loyalty.redemption_details``): PENDING, FULFILLED or CANCELLED, with its reward's name."""

    redemption_id: UUID
    customer_id: int
    reward_id: int
    reward_name: str
    program_id: int
    card_id: int
    points: int
    code: str
    status: str
    created_at: datetime
    decided_at: datetime | None
