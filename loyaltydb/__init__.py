"""loyaltydb: database-first enrollment for PostgreSQL loyalty programs.

Approving a join request creates, in one transaction, everything the customer needs: the
customer row (from its user, when missing), the enrollment, the card, the customer-business
relationship and a notification. The logic lives in plpgsql (``loyalty`` schema); this
package applies the migrations and wraps the functions. ``loyaltydb.aio`` is the async twin.
"""

from importlib.metadata import PackageNotFoundError, version

try:  # one source of truth: the version in pyproject.toml, as installed
    __version__ = version("loyaltydb")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

from . import errors, events
from .api import (
    accept_invitation,
    ack_events,
    adjust_points,
    answer_points_deduction,
    approve_enrollment,
    approve_enrollments,
    block_card,
    business_notifications,
    card_transactions,
    customer_cards,
    customer_notifications,
    decline_invitation,
    drop_event_consumer,
    earn_points,
    earn_points_batch,
    ensure_customer,
    event_consumer_status,
    expire_points,
    expire_requests,
    fetch_events,
    find_card,
    invite_customer,
    leave_program,
    listen_events,
    mark_notifications_read,
    pending_invitations,
    pending_requests,
    prune_events,
    reject_enrollment,
    replace_card,
    request_enrollment,
    request_points_deduction,
    reverse_points,
    spend_points,
    unblock_card,
    verify_points,
)
from .errors import LoyaltyError
from .migrations import MigrationState, migrate, rollback, status
from .models import (
    Card,
    CardTransaction,
    ConsumerStatus,
    Customer,
    EnrollmentResult,
    Notification,
    PendingInvitation,
    PendingRequest,
    PointResult,
    PointsProblem,
)

__all__ = [
    "Card",
    "CardTransaction",
    "ConsumerStatus",
    "Customer",
    "EnrollmentResult",
    "LoyaltyError",
    "MigrationState",
    "Notification",
    "PendingInvitation",
    "PendingRequest",
    "PointResult",
    "PointsProblem",
    "__version__",
    "accept_invitation",
    "ack_events",
    "adjust_points",
    "answer_points_deduction",
    "approve_enrollment",
    "approve_enrollments",
    "block_card",
    "business_notifications",
    "card_transactions",
    "customer_cards",
    "customer_notifications",
    "decline_invitation",
    "drop_event_consumer",
    "earn_points",
    "earn_points_batch",
    "ensure_customer",
    "errors",
    "event_consumer_status",
    "events",
    "expire_points",
    "expire_requests",
    "fetch_events",
    "find_card",
    "invite_customer",
    "leave_program",
    "listen_events",
    "mark_notifications_read",
    "migrate",
    "pending_invitations",
    "pending_requests",
    "prune_events",
    "reject_enrollment",
    "replace_card",
    "request_enrollment",
    "request_points_deduction",
    "reverse_points",
    "rollback",
    "spend_points",
    "status",
    "unblock_card",
    "verify_points",
]
