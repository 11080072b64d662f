"""The SQL the API sends, shared by the sync and async modules.

Every function is called with named arguments so that a reordered parameter in the SQL
cannot silently swap two values; the casts let PostgreSQL reject malformed input (22P02).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, LiteralString
from uuid import UUID

DECIDE: Final[LiteralString] = (
    "SELECT * FROM loyalty.process_enrollment_approval("
    "p_request_id => %(request_id)s::uuid, p_approved => %(approved)s, p_reason => %(reason)s,"
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


def id_list(request_ids: Iterable[UUID | str]) -> list[str | None]:
    """Request ids as text for one uuid[] parameter (mixed UUID and str, bad ones left to the server)."""
    return [None if request_id is None else str(request_id) for request_id in request_ids]
