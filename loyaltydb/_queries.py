"""The SQL the API sends and the parameters it sends with it, shared by the sync and async modules.

Every function is called with named arguments so that a reordered parameter in the SQL
cannot silently swap two values; the casts let PostgreSQL reject malformed input (22P02).
Arguments are checked for their type here, before anything is sent: PostgreSQL would round
``79.6`` to customer 80 and read ``True`` as 1, so a float, a ``Decimal`` or a ``bool`` id is
refused with :class:`InvalidInput` rather than silently changed into another id.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Final, LiteralString
from uuid import UUID

from .errors import InvalidInput

APPROVE: Final[LiteralString] = (
    "SELECT * FROM loyalty.approve_enrollment(p_request_id => %(request_id)s::uuid,"
    " p_business_id => %(business_id)s::bigint)"
)
REJECT: Final[LiteralString] = (
    "SELECT * FROM loyalty.reject_enrollment(p_request_id => %(request_id)s::uuid, p_reason => %(reason)s::text,"
    " p_business_id => %(business_id)s::bigint)"
)
#: The call a Citus cluster delegates to the customer's worker (the customer comes from the id).
DECIDE_FOR_CUSTOMER: Final[LiteralString] = (
    "SELECT * FROM loyalty.decide_enrollment(p_customer_id => %(customer_id)s::bigint,"
    " p_request_id => %(request_id)s::uuid, p_approved => %(approved)s, p_reason => %(reason)s::text,"
    " p_business_id => %(business_id)s::bigint)"
)
DECIDE_MANY: Final[LiteralString] = (
    "SELECT * FROM loyalty.process_enrollment_approvals("
    "p_request_ids => %(request_ids)s::uuid[], p_business_id => %(business_id)s::bigint)"
)
REQUEST: Final[LiteralString] = (
    "SELECT loyalty.request_enrollment("
    "p_customer_id => %(customer_id)s::bigint, p_program_id => %(program_id)s::bigint)"
)
ENSURE_CUSTOMER: Final[LiteralString] = "SELECT * FROM loyalty.ensure_customer(p_user_id => %(user_id)s::bigint)"
CUSTOMER_CARDS: Final[LiteralString] = "SELECT * FROM loyalty.customer_cards(p_customer_id => %(customer_id)s::bigint)"
#: The consumer API of the events outbox (docs/events.md).
FETCH_EVENTS: Final[LiteralString] = (
    "SELECT * FROM loyalty.fetch_events(p_consumer => %(consumer)s::text, p_limit => %(limit)s::integer,"
    " p_visibility_timeout => %(visibility_timeout)s::double precision)"
)
ACK_EVENTS: Final[LiteralString] = (
    "SELECT loyalty.ack_events(p_consumer => %(consumer)s::text, p_event_ids => %(event_ids)s::bigint[])"
)
PRUNE_EVENTS: Final[LiteralString] = (
    "SELECT loyalty.prune_events(p_older_than => make_interval(secs => %(older_than)s::double precision))"
)
#: The points ledger (contract "Points"): four writers, a batch, a card's history, the check.
EARN_POINTS: Final[LiteralString] = (
    "SELECT * FROM loyalty.earn_points(p_customer_id => %(customer_id)s::bigint,"
    " p_program_id => %(program_id)s::bigint, p_points => %(points)s::integer,"
    " p_idempotency_key => %(idempotency_key)s::text,"
    " p_business_id => %(business_id)s::bigint, p_reference => %(reference)s::text)"
)
SPEND_POINTS: Final[LiteralString] = (
    "SELECT * FROM loyalty.spend_points(p_customer_id => %(customer_id)s::bigint,"
    " p_program_id => %(program_id)s::bigint, p_points => %(points)s::integer,"
    " p_idempotency_key => %(idempotency_key)s::text,"
    " p_business_id => %(business_id)s::bigint, p_reference => %(reference)s::text)"
)
ADJUST_POINTS: Final[LiteralString] = (
    "SELECT * FROM loyalty.adjust_points(p_customer_id => %(customer_id)s::bigint,"
    " p_program_id => %(program_id)s::bigint, p_points => %(points)s::integer,"
    " p_idempotency_key => %(idempotency_key)s::text, p_note => %(note)s::text,"
    " p_business_id => %(business_id)s::bigint)"
)
REVERSE_POINTS: Final[LiteralString] = (
    "SELECT * FROM loyalty.reverse_points(p_customer_id => %(customer_id)s::bigint,"
    " p_transaction_id => %(transaction_id)s::bigint, p_idempotency_key => %(idempotency_key)s::text,"
    " p_business_id => %(business_id)s::bigint)"
)
EARN_POINTS_BATCH: Final[LiteralString] = (
    "SELECT * FROM loyalty.earn_points_batch(p_customer_ids => %(customer_ids)s::bigint[],"
    " p_program_ids => %(program_ids)s::bigint[], p_points => %(points)s::integer[],"
    " p_idempotency_keys => %(idempotency_keys)s::text[], p_business_id => %(business_id)s::bigint)"
)
CARD_TRANSACTIONS: Final[LiteralString] = (
    "SELECT * FROM loyalty.card_transactions(p_customer_id => %(customer_id)s::bigint,"
    " p_program_id => %(program_id)s::bigint, p_limit => %(limit)s::integer, p_before => %(before)s::bigint)"
)
VERIFY_POINTS: Final[LiteralString] = "SELECT * FROM loyalty.verify_points()"
EXPIRE_POINTS: Final[LiteralString] = "SELECT loyalty.expire_points(p_limit => %(limit)s::integer)"
#: Deduction requests: the business asks, the customer answers.
REQUEST_DEDUCTION: Final[LiteralString] = (
    "SELECT loyalty.request_points_deduction(p_business_id => %(business_id)s::bigint,"
    " p_customer_id => %(customer_id)s::bigint, p_program_id => %(program_id)s::bigint,"
    " p_points => %(points)s::integer, p_reason => %(reason)s::text)"
)
ANSWER_DEDUCTION: Final[LiteralString] = (
    "SELECT * FROM loyalty.answer_points_deduction(p_request_id => %(request_id)s::uuid,"
    " p_customer_id => %(customer_id)s::bigint, p_approved => %(approved)s::boolean)"
)
#: Rewards and redemptions (contract "Rewards").
CREATE_REWARD: Final[LiteralString] = (
    "SELECT loyalty.create_reward(p_business_id => %(business_id)s::bigint, p_program_id => %(program_id)s::bigint,"
    " p_name => %(name)s::text, p_points_cost => %(points_cost)s::integer, p_stock => %(stock)s::integer)"
)
UPDATE_REWARD: Final[LiteralString] = (
    "SELECT * FROM loyalty.update_reward(p_business_id => %(business_id)s::bigint,"
    " p_reward_id => %(reward_id)s::bigint, p_status => %(status)s::text,"
    " p_points_cost => %(points_cost)s::integer, p_stock => %(stock)s::integer)"
)
PROGRAM_REWARDS: Final[LiteralString] = "SELECT * FROM loyalty.program_rewards(p_program_id => %(program_id)s::bigint)"
REDEEM_REWARD: Final[LiteralString] = (
    "SELECT * FROM loyalty.redeem_reward(p_customer_id => %(customer_id)s::bigint,"
    " p_reward_id => %(reward_id)s::bigint, p_idempotency_key => %(idempotency_key)s::text)"
)
FULFIL_REDEMPTION: Final[LiteralString] = (
    "SELECT * FROM loyalty.fulfil_redemption(p_business_id => %(business_id)s::bigint, p_code => %(code)s::text)"
)
CANCEL_REDEMPTION: Final[LiteralString] = (
    "SELECT * FROM loyalty.cancel_redemption(p_customer_id => %(customer_id)s::bigint,"
    " p_redemption_id => %(redemption_id)s::uuid, p_business_id => %(business_id)s::bigint)"
)
#: Personal data (contract "Personal data"): for the loyalty_privacy role.
EXPORT_CUSTOMER: Final[LiteralString] = "SELECT loyalty.export_customer(p_customer_id => %(customer_id)s::bigint)"
ERASE_CUSTOMER: Final[LiteralString] = (
    "SELECT * FROM loyalty.erase_customer(p_customer_id => %(customer_id)s::bigint,"
    " p_requested_by => %(requested_by)s::text)"
)
#: Who writes users and programs: a service's own login, through these.
UPSERT_USER: Final[LiteralString] = (
    "SELECT loyalty.upsert_user(p_id => %(id)s::bigint, p_name => %(name)s::text, p_email => %(email)s::text)"
)
CREATE_PROGRAM: Final[LiteralString] = (
    "SELECT loyalty.create_program(p_business_id => %(business_id)s::bigint, p_name => %(name)s::text,"
    " p_welcome_points => %(welcome_points)s::integer, p_request_ttl => %(request_ttl)s::interval,"
    " p_points_ttl => %(points_ttl)s::interval)"
)
SET_PROGRAM_STATUS: Final[LiteralString] = (
    "SELECT loyalty.set_program_status(p_business_id => %(business_id)s::bigint,"
    " p_program_id => %(program_id)s::bigint, p_status => %(status)s::text)"
)
#: The card lifecycle (contract "Card lifecycle"): each returns the card.
BLOCK_CARD: Final[LiteralString] = (
    "SELECT * FROM loyalty.block_card(p_customer_id => %(customer_id)s::bigint, p_program_id => %(program_id)s::bigint,"
    " p_reason => %(reason)s::text, p_business_id => %(business_id)s::bigint)"
)
UNBLOCK_CARD: Final[LiteralString] = (
    "SELECT * FROM loyalty.unblock_card(p_customer_id => %(customer_id)s::bigint,"
    " p_program_id => %(program_id)s::bigint, p_reason => %(reason)s::text, p_business_id => %(business_id)s::bigint)"
)
REPLACE_CARD: Final[LiteralString] = (
    "SELECT * FROM loyalty.replace_card(p_customer_id => %(customer_id)s::bigint,"
    " p_program_id => %(program_id)s::bigint, p_business_id => %(business_id)s::bigint)"
)
LEAVE_PROGRAM: Final[LiteralString] = (
    "SELECT * FROM loyalty.leave_program(p_customer_id => %(customer_id)s::bigint,"
    " p_program_id => %(program_id)s::bigint)"
)
#: Consumers: what each holds back from pruning, and removing one for good.
CONSUMER_STATUS: Final[LiteralString] = "SELECT * FROM loyalty.event_consumer_status()"
DROP_CONSUMER: Final[LiteralString] = "SELECT loyalty.drop_event_consumer(p_consumer => %(consumer)s::text)"
#: `events tail` as an observer: events since a position, each row with the next position.
TAIL_EVENTS: Final[LiteralString] = "SELECT * FROM loyalty.tail_events(p_position => %(position)s::text)"
LISTEN_EVENTS: Final[LiteralString] = "LISTEN loyalty_events"
#: Around a consumer's sleep on LISTEN: writers notify only between the two (docs/events.md).
BEGIN_EVENTS_WAIT: Final[LiteralString] = "SELECT loyalty.begin_events_wait(p_timeout => %(timeout)s::double precision)"
END_EVENTS_WAIT: Final[LiteralString] = "SELECT loyalty.end_events_wait()"
#: Whether this session listens already, and the server's process id (behind a pooler it is not
#: the one psycopg was told at connect time: the pooler sends its own).
LISTENING: Final[LiteralString] = (
    "SELECT 'loyalty_events' = ANY (ARRAY(SELECT pg_listening_channels())), pg_backend_pid()"
)
#: How often listen_events polls where no notification can reach it (a cluster, a pooler).
POLL_SECONDS: Final = 0.5
#: A card by its number, or by a number it carried in the replaced system (0 or 1 row).
FIND_CARD: Final[LiteralString] = "SELECT * FROM loyalty.find_card(p_card_number => %(card_number)s::text)"
PENDING: Final[LiteralString] = (
    "SELECT * FROM loyalty.pending_requests("
    "p_business_id => %(business_id)s::bigint, p_limit => %(limit)s::integer, p_after => %(after)s::uuid)"
)

INVITE: Final[LiteralString] = (
    "SELECT loyalty.invite_customer(p_business_id => %(business_id)s::bigint,"
    " p_customer_id => %(customer_id)s::bigint, p_program_id => %(program_id)s::bigint,"
    " p_message => %(message)s::text)"
)
#: Delegated on a cluster to the customer's worker, like DECIDE_FOR_CUSTOMER.
ACCEPT: Final[LiteralString] = (
    "SELECT * FROM loyalty.accept_invitation(p_request_id => %(request_id)s::uuid,"
    " p_customer_id => %(customer_id)s::bigint)"
)
DECLINE: Final[LiteralString] = (
    "SELECT * FROM loyalty.decline_invitation(p_request_id => %(request_id)s::uuid,"
    " p_customer_id => %(customer_id)s::bigint, p_reason => %(reason)s::text)"
)
INVITATIONS: Final[LiteralString] = (
    "SELECT * FROM loyalty.pending_invitations("
    "p_customer_id => %(customer_id)s::bigint, p_limit => %(limit)s::integer, p_after => %(after)s::uuid)"
)
CUSTOMER_FEED: Final[LiteralString] = (
    "SELECT * FROM loyalty.customer_notifications(p_customer_id => %(reader_id)s::bigint,"
    " p_unread_only => %(unread_only)s, p_limit => %(limit)s::integer, p_before => %(before)s::uuid)"
)
BUSINESS_FEED: Final[LiteralString] = (
    "SELECT * FROM loyalty.business_notifications(p_business_id => %(reader_id)s::bigint,"
    " p_unread_only => %(unread_only)s, p_limit => %(limit)s::integer, p_before => %(before)s::uuid)"
)
MARK_READ: Final[LiteralString] = (
    "SELECT loyalty.mark_notifications_read(p_notification_ids => %(ids)s::uuid[],"
    " p_customer_id => %(customer_id)s::bigint, p_business_id => %(business_id)s::bigint)"
)
EXPIRE: Final[LiteralString] = "SELECT loyalty.expire_requests(p_limit => %(limit)s::integer)"

RequestId = UUID | str
Params = dict[str, object]


def decide(
    request_id: RequestId, *, approved: bool, reason: str | None, business_id: int | None
) -> tuple[LiteralString, Params]:
    """The statement and parameters that decide a request: :data:`DECIDE_FOR_CUSTOMER` when the
    id carries its customer (one hop on a cluster), else :data:`APPROVE` or :data:`REJECT`."""
    params: Params = {
        "request_id": _request_id(request_id),
        "approved": approved,
        "reason": _optional_text("reason", reason),
        "business_id": _optional_id("business_id", business_id),
    }
    customer_id = request_customer(str(params["request_id"]))
    if customer_id is None:
        if approved:
            return APPROVE, {"request_id": params["request_id"], "business_id": params["business_id"]}
        return REJECT, {key: params[key] for key in ("request_id", "reason", "business_id")}
    return DECIDE_FOR_CUSTOMER, {**params, "customer_id": customer_id}


def request_customer(request_id: str) -> int | None:
    """The customer id a request id made by ``loyalty._request_id`` carries, else None.

    The same rule as the SQL function ``loyalty._request_customer``: a UUIDv8 whose hex digits
    1-12, 14-16 and 18 hold the customer id (two's complement), digit 19 the marker ``c``.
    """
    try:
        digits = UUID(request_id).hex
    except ValueError:
        return None  # malformed: the server says so (22P02)
    if digits[12] != "8" or digits[16] not in "89ab" or digits[18] != "c":
        return None
    value = int(digits[0:12] + digits[13:16] + digits[17], 16)
    return value - (1 << 64) if value >= 1 << 63 else value


def decide_many(request_ids: Iterable[RequestId], *, business_id: int | None) -> Params:
    """Parameters of :data:`DECIDE_MANY`: the ids as text, one ``uuid[]`` parameter."""
    if isinstance(request_ids, str | bytes | UUID):
        raise InvalidInput(f"request_ids must be a list of request ids, not a single {type(request_ids).__name__}")
    if not isinstance(request_ids, Iterable):
        raise InvalidInput(f"request_ids must be a list of request ids, not {type(request_ids).__name__}")
    return {
        "request_ids": [_request_id(request_id) for request_id in request_ids],
        "business_id": _optional_id("business_id", business_id),
    }


def request(customer_id: int, program_id: int) -> Params:
    """Parameters of :data:`REQUEST`."""
    return {"customer_id": _id("customer_id", customer_id), "program_id": _id("program_id", program_id)}


def user(user_id: int) -> Params:
    """Parameters of :data:`ENSURE_CUSTOMER`."""
    return {"user_id": _id("user_id", user_id)}


def customer(customer_id: int) -> Params:
    """Parameters of :data:`CUSTOMER_CARDS` and of the other calls that name a customer alone
    (:data:`EXPORT_CUSTOMER`)."""
    return {"customer_id": _id("customer_id", customer_id)}


def events_fetch(consumer: str, *, limit: int, visibility_timeout: float) -> Params:
    """Parameters of :data:`FETCH_EVENTS` (the ranges are checked by the server)."""
    return {
        "consumer": _consumer(consumer),
        "limit": _id("limit", limit),
        "visibility_timeout": _seconds("visibility_timeout", visibility_timeout),
    }


def events_ack(consumer: str, event_ids: Iterable[int]) -> Params:
    """Parameters of :data:`ACK_EVENTS`: the ids as a list (one round trip)."""
    if isinstance(event_ids, str | bytes | int):
        raise InvalidInput(f"event_ids must be a list of event ids, not {type(event_ids).__name__}")
    return {"consumer": _consumer(consumer), "event_ids": [_id("event id", i) for i in event_ids]}


#: The longest retention prune_events takes, in seconds (100 years): past it an interval overflows.
MAX_OLDER_THAN: Final = 100 * 365.25 * 86400


def events_prune(older_than: float) -> Params:
    """Parameters of :data:`PRUNE_EVENTS`: seconds, from 0 to :data:`MAX_OLDER_THAN`."""
    seconds = _seconds("older_than", older_than)
    if not 0 <= seconds <= MAX_OLDER_THAN:
        raise InvalidInput(f"older_than must be from 0 to {MAX_OLDER_THAN:,.0f} seconds (100 years), not {older_than}")
    return {"older_than": seconds}


def listen_timeout(timeout: object) -> float:
    """``listen_events``' timeout: a number of seconds (its range is checked by the server)."""
    return _seconds("timeout", timeout)


def events_consumer(consumer: str) -> Params:
    """Parameters of :data:`DROP_CONSUMER`."""
    return {"consumer": _consumer(consumer)}


def _seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{name} must be a number of seconds, not {type(value).__name__}")
    return float(value)


def _consumer(name: object) -> str:
    if not isinstance(name, str):
        raise InvalidInput(f"consumer must be a name (a string), not {type(name).__name__}")
    return name


def card_number(number: str) -> Params:
    """Parameters of :data:`FIND_CARD`: the number as given (compared exactly, spaces and all)."""
    if not isinstance(number, str):
        raise InvalidInput(f"card_number must be a string, not {type(number).__name__}")
    return {"card_number": _optional_text("card_number", number)}


def pending(business_id: int, *, limit: int, after: RequestId | None) -> Params:
    """Parameters of :data:`PENDING` (the limit's range, 1 to 1000, is checked by the server)."""
    return {
        "business_id": _id("business_id", business_id),
        "limit": _id("limit", limit),
        "after": None if after is None else _request_id(after),
    }


def invite(business_id: int, customer_id: int, program_id: int, *, message: str | None) -> Params:
    """Parameters of :data:`INVITE`."""
    return {
        "business_id": _id("business_id", business_id),
        "customer_id": _id("customer_id", customer_id),
        "program_id": _id("program_id", program_id),
        "message": _optional_text("message", message),
    }


def answer(request_id: RequestId, *, customer_id: int, reason: str | None = None) -> Params:
    """Parameters of :data:`ACCEPT` and :data:`DECLINE`."""
    return {
        "request_id": _request_id(request_id),
        "customer_id": _id("customer_id", customer_id),
        "reason": _optional_text("reason", reason),
    }


def invitations(customer_id: int, *, limit: int, after: RequestId | None) -> Params:
    """Parameters of :data:`INVITATIONS`."""
    return {
        "customer_id": _id("customer_id", customer_id),
        "limit": _id("limit", limit),
        "after": None if after is None else _request_id(after),
    }


def feed(reader_id: int, *, reader: str, unread_only: bool, limit: int, before: RequestId | None) -> Params:
    """Parameters of :data:`CUSTOMER_FEED` and :data:`BUSINESS_FEED` (``reader``: the id's name)."""
    if not isinstance(unread_only, bool):
        raise InvalidInput(f"unread_only must be True or False, not {type(unread_only).__name__}")
    return {
        "reader_id": _id(reader, reader_id),
        "unread_only": unread_only,
        "limit": _id("limit", limit),
        "before": None if before is None else _uuid("before", before),
    }


def mark_read(notification_ids: Iterable[RequestId], *, customer_id: int | None, business_id: int | None) -> Params:
    """Parameters of :data:`MARK_READ` (that exactly one reader is given, the function checks: 22023)."""
    if isinstance(notification_ids, str | bytes | UUID) or not isinstance(notification_ids, Iterable):
        raise InvalidInput(f"notification_ids must be a list of ids, not {type(notification_ids).__name__}")
    return {
        "ids": [_uuid("notification id", value) for value in notification_ids],
        "customer_id": _optional_id("customer_id", customer_id),
        "business_id": _optional_id("business_id", business_id),
    }


def expire(limit: int) -> Params:
    """Parameters of :data:`EXPIRE`."""
    return {"limit": _id("limit", limit)}


def _id(name: str, value: object) -> int:
    """An integer id (range is checked by the server: 22003); never a bool, float or Decimal."""
    if value is None:
        raise InvalidInput(f"{name} must not be None")
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be an integer, not {type(value).__name__}")
    return value


def _optional_id(name: str, value: object) -> int | None:
    return None if value is None else _id(name, value)


def _optional_text(name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string or None, not {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate (from a bad decode) is no text to store
        raise InvalidInput(f"{name} is not valid text: it has a lone surrogate at character {exc.start}") from exc
    return value


def _request_id(value: object) -> str:
    """A request id as text (a malformed string is left to the server: 22P02)."""
    return _uuid("request id", value)


def _uuid(name: str, value: object) -> str:
    """A UUID as text (a malformed string is left to the server: 22P02)."""
    if value is None:
        raise InvalidInput(f"{name} must not be None")
    if not isinstance(value, UUID | str):
        raise InvalidInput(f"{name} must be a UUID or a string, not {type(value).__name__}")
    return str(value)


def points_change(
    customer_id: int,
    program_id: int,
    points: int,
    *,
    idempotency_key: str,
    business_id: int | None,
    reference: str | None = None,
    note: str | None = None,
) -> Params:
    """Parameters of the writers that name a card by (customer, program): EARN_POINTS,
    SPEND_POINTS (with ``reference``) and ADJUST_POINTS (with ``note``); their ranges are the
    server's to check (22023, LY0xx)."""
    return {
        "customer_id": _id("customer_id", customer_id),
        "program_id": _id("program_id", program_id),
        "points": _id("points", points),
        "idempotency_key": _key(idempotency_key),
        "business_id": _optional_id("business_id", business_id),
        "reference": _optional_text("reference", reference),
        "note": _optional_text("note", note),
    }


def points_reversal(customer_id: int, transaction_id: int, *, idempotency_key: str, business_id: int | None) -> Params:
    """Parameters of :data:`REVERSE_POINTS`."""
    return {
        "customer_id": _id("customer_id", customer_id),
        "transaction_id": _id("transaction_id", transaction_id),
        "idempotency_key": _key(idempotency_key),
        "business_id": _optional_id("business_id", business_id),
    }


def points_batch(entries: Iterable[tuple[int, int, int, str]], *, business_id: int | None) -> Params:
    """Parameters of :data:`EARN_POINTS_BATCH`: the entries' four columns as four arrays."""
    if entries is None or isinstance(entries, str | bytes):
        raise InvalidInput("entries must be an iterable of (customer_id, program_id, points, idempotency_key)")
    columns: tuple[list[int], list[int], list[int], list[str]] = ([], [], [], [])
    for position, entry in enumerate(entries, start=1):
        if not isinstance(entry, tuple | list) or len(entry) != 4:
            raise InvalidInput(f"entry {position} must be (customer_id, program_id, points, idempotency_key)")
        customer_id, program_id, points, key = entry
        columns[0].append(_id(f"entry {position}: customer_id", customer_id))
        columns[1].append(_id(f"entry {position}: program_id", program_id))
        columns[2].append(_id(f"entry {position}: points", points))
        columns[3].append(_key(key, f"entry {position}: idempotency_key"))
    return {
        "customer_ids": columns[0],
        "program_ids": columns[1],
        "points": columns[2],
        "idempotency_keys": columns[3],
        "business_id": _optional_id("business_id", business_id),
    }


def card_history(customer_id: int, program_id: int, *, limit: int, before: int | None) -> Params:
    """Parameters of :data:`CARD_TRANSACTIONS`."""
    return {
        "customer_id": _id("customer_id", customer_id),
        "program_id": _id("program_id", program_id),
        "limit": _id("limit", limit),
        "before": _optional_id("before", before),
    }


def _key(value: object, name: str = "idempotency_key") -> str:
    """An idempotency key: a string (its length, 1 to 200, is the server's to check)."""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string, not {type(value).__name__}")
    return _optional_text(name, value) or ""


def card_change(
    customer_id: int, program_id: int, *, reason: str | None = None, business_id: int | None = None
) -> Params:
    """Parameters of the card lifecycle's calls (each uses those it names)."""
    return {
        "customer_id": _id("customer_id", customer_id),
        "program_id": _id("program_id", program_id),
        "reason": _optional_text("reason", reason),
        "business_id": _optional_id("business_id", business_id),
    }


def deduction_request(business_id: int, customer_id: int, program_id: int, points: int, *, reason: str) -> Params:
    """Parameters of :data:`REQUEST_DEDUCTION`."""
    if not isinstance(reason, str):
        raise InvalidInput(f"reason must be a string, not {type(reason).__name__}")
    return {
        "business_id": _id("business_id", business_id),
        "customer_id": _id("customer_id", customer_id),
        "program_id": _id("program_id", program_id),
        "points": _id("points", points),
        "reason": _optional_text("reason", reason),
    }


def deduction_answer(request_id: RequestId, *, customer_id: int, approved: bool) -> Params:
    """Parameters of :data:`ANSWER_DEDUCTION`: ``approved`` a real bool (a string would be read
    by PostgreSQL, 'no' as false and 'false ' as an error)."""
    if not isinstance(approved, bool):
        raise InvalidInput(f"approved must be True or False, not {type(approved).__name__}")
    return {
        "request_id": _request_id(request_id),
        "customer_id": _id("customer_id", customer_id),
        "approved": approved,
    }


def user_row(user_id: int, name: str | None, email: str | None) -> Params:
    """Parameters of :data:`UPSERT_USER`."""
    return {"id": _id("id", user_id), "name": _optional_text("name", name), "email": _optional_text("email", email)}


def program(
    business_id: int, name: str, *, welcome_points: int, request_ttl: timedelta | None, points_ttl: timedelta | None
) -> Params:
    """Parameters of :data:`CREATE_PROGRAM`: the TTLs as ``timedelta`` (None: never)."""
    for label, ttl in (("request_ttl", request_ttl), ("points_ttl", points_ttl)):
        if ttl is not None and not isinstance(ttl, timedelta):
            raise InvalidInput(f"{label} must be a timedelta or None, not {type(ttl).__name__}")
    return {
        "business_id": _id("business_id", business_id),
        "name": _optional_text("name", name),
        "welcome_points": _id("welcome_points", welcome_points),
        "request_ttl": request_ttl,
        "points_ttl": points_ttl,
    }


def program_status(business_id: int, program_id: int, status: str) -> Params:
    """Parameters of :data:`SET_PROGRAM_STATUS` (the server checks the value)."""
    return {
        "business_id": _id("business_id", business_id),
        "program_id": _id("program_id", program_id),
        "status": _optional_text("status", status),
    }


def reward(business_id: int, program_id: int, name: str, points_cost: int, *, stock: int | None) -> Params:
    """Parameters of :data:`CREATE_REWARD` (the server checks the values)."""
    if not isinstance(name, str):
        raise InvalidInput(f"name must be a string, not {type(name).__name__}")
    return {
        "business_id": _id("business_id", business_id),
        "program_id": _id("program_id", program_id),
        "name": _optional_text("name", name),
        "points_cost": _id("points_cost", points_cost),
        "stock": _optional_id("stock", stock),
    }


def reward_change(
    business_id: int, reward_id: int, *, status: str | None, points_cost: int | None, stock: int | None
) -> Params:
    """Parameters of :data:`UPDATE_REWARD` (None: unchanged)."""
    return {
        "business_id": _id("business_id", business_id),
        "reward_id": _id("reward_id", reward_id),
        "status": _optional_text("status", status),
        "points_cost": _optional_id("points_cost", points_cost),
        "stock": _optional_id("stock", stock),
    }


def catalogue(program_id: int) -> Params:
    """Parameters of :data:`PROGRAM_REWARDS`."""
    return {"program_id": _id("program_id", program_id)}


def redemption(customer_id: int, reward_id: int, *, idempotency_key: str) -> Params:
    """Parameters of :data:`REDEEM_REWARD`."""
    return {
        "customer_id": _id("customer_id", customer_id),
        "reward_id": _id("reward_id", reward_id),
        "idempotency_key": _key(idempotency_key),
    }


def fulfilment(business_id: int, code: str) -> Params:
    """Parameters of :data:`FULFIL_REDEMPTION`."""
    if not isinstance(code, str):
        raise InvalidInput(f"code must be a string, not {type(code).__name__}")
    return {"business_id": _id("business_id", business_id), "code": _optional_text("code", code)}


def cancellation(customer_id: int, redemption_id: UUID | str, *, business_id: int | None) -> Params:
    """Parameters of :data:`CANCEL_REDEMPTION`."""
    return {
        "customer_id": _id("customer_id", customer_id),
        "redemption_id": _uuid("redemption_id", redemption_id),
        "business_id": _optional_id("business_id", business_id),
    }


def erasure(customer_id: int, *, requested_by: str) -> Params:
    """Parameters of :data:`ERASE_CUSTOMER` (the server checks ``requested_by``'s length)."""
    if not isinstance(requested_by, str):
        raise InvalidInput(f"requested_by must be a string, not {type(requested_by).__name__}")
    return {
        "customer_id": _id("customer_id", customer_id),
        "requested_by": _optional_text("requested_by", requested_by),
    }
