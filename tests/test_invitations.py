"""The replaced system's own flow (contract: "Invitations, expiry, and both sides told" and
"Welcome points"): a business invites, the customer answers, the other side is told by name,
requests and invitations expire, each side reads its own feed, and a new card starts with the
program's welcome points, credited once. On one server and on the Citus cluster."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

import loyaltydb
from helpers import World, count, race, snapshot
from loyaltydb.errors import (
    InvalidInput,
    MessageTooLong,
    NotAuthorized,
    ProgramNotFound,
    ReasonTooLong,
    RequestAlreadyDecided,
    RequestExpired,
    RequestNotFound,
    UserNotFound,
)

pytestmark = pytest.mark.both_modes

JOHN = 32  # a user who is not a customer yet: "john.smith@example.com" gives "John Smith"


def _overdue(conn: psycopg.Connection[Any], request_id: uuid.UUID) -> None:
    """Move a request's expiry into the past (as time passing would)."""
    conn.execute(
        "UPDATE loyalty.customer_approval_requests SET expires_at = now() - interval '1 second' WHERE id = %s",
        (request_id,),
    )
    conn.commit()


def _welcome_points(conn: psycopg.Connection[Any], program_id: int, points: int) -> None:
    conn.execute("UPDATE loyalty.loyalty_programs SET welcome_points = %s WHERE id = %s", (points, program_id))
    conn.commit()


def test_an_invitation_is_announced_to_the_customer_by_name(db: psycopg.Connection[Any], world: World) -> None:
    invitation = loyaltydb.invite_customer(db, world.business_id, JOHN, world.coffee_club, message="Free coffee!")
    (pending,) = loyaltydb.pending_invitations(db, JOHN)
    assert (pending.request_id, pending.business_name, pending.program_name) == (
        invitation,
        "Bean There Coffee",
        "Coffee Club",
    )
    assert pending.expires_at is not None
    lifetime = pending.expires_at - pending.requested_at
    assert lifetime.days == 7 and lifetime.seconds < 5
    (note,) = loyaltydb.customer_notifications(db, JOHN)
    assert note.type == "ENROLLMENT_INVITATION" and note.requires_action and not note.action_taken
    assert note.message == "Bean There Coffee would like to enroll you in Coffee Club. Would you like to join?"
    assert note.data["request_id"] == str(invitation) and note.data["message"] == "Free coffee!"
    # Not the business's to read or decide: its feed and its inbox do not hold it.
    assert loyaltydb.business_notifications(db, world.business_id) == []
    assert loyaltydb.pending_requests(db, world.business_id) == []


def test_accepting_creates_everything_and_tells_the_business(db: psycopg.Connection[Any], world: World) -> None:
    invitation = loyaltydb.invite_customer(db, world.business_id, JOHN, world.coffee_club)
    result = loyaltydb.accept_invitation(db, invitation, customer_id=JOHN)
    assert (result.status, result.customer_created, result.customer_id) == ("APPROVED", True, JOHN)
    assert [card.program_name for card in loyaltydb.customer_cards(db, JOHN)] == ["Coffee Club"]
    (joined,) = loyaltydb.business_notifications(db, world.business_id)
    assert joined.type == "CUSTOMER_JOINED"
    assert joined.message == "John Smith has joined your Coffee Club loyalty program"
    assert joined.data["customer_name"] == "John Smith" and joined.data["request_id"] == str(invitation)
    feed = {note.type: note for note in loyaltydb.customer_notifications(db, JOHN)}
    assert feed.keys() == {"ENROLLMENT_INVITATION", "CARD_CREATED"}
    assert feed["ENROLLMENT_INVITATION"].action_taken and feed["CARD_CREATED"].id == result.notification_id
    assert loyaltydb.pending_invitations(db, JOHN) == []
    # A replay changes nothing and returns the same result; the business is told once.
    before = snapshot(db)
    assert loyaltydb.accept_invitation(db, invitation, customer_id=JOHN) == result
    assert snapshot(db) == before


def test_declining_tells_the_business_with_the_reason(db: psycopg.Connection[Any], world: World) -> None:
    invitation = loyaltydb.invite_customer(db, world.business_id, JOHN, world.coffee_club)
    result = loyaltydb.decline_invitation(db, invitation, "not a coffee drinker", customer_id=JOHN)
    assert (result.status, result.card_id) == ("REJECTED", None)
    (declined,) = loyaltydb.business_notifications(db, world.business_id)
    assert declined.type == "INVITATION_DECLINED" and declined.id == result.notification_id
    assert declined.message == (
        "John Smith has declined to join your Coffee Club loyalty program. Reason: not a coffee drinker"
    )
    assert loyaltydb.customer_cards(db, JOHN) == []
    with pytest.raises(RequestAlreadyDecided):
        loyaltydb.accept_invitation(db, invitation, customer_id=JOHN)


def test_each_side_decides_only_its_own_rows(db: psycopg.Connection[Any], world: World) -> None:
    invitation = loyaltydb.invite_customer(db, world.business_id, JOHN, world.coffee_club)
    request = loyaltydb.request_enrollment(db, world.existing_customer, world.tea_club)
    before = snapshot(db)
    refused: list[Callable[[], object]] = [
        lambda: loyaltydb.approve_enrollment(db, invitation, business_id=world.business_id),
        lambda: loyaltydb.reject_enrollment(db, invitation, business_id=world.business_id),
        lambda: loyaltydb.approve_enrollments(db, [invitation], business_id=world.business_id),
        lambda: loyaltydb.accept_invitation(db, request, customer_id=world.existing_customer),
        lambda: loyaltydb.decline_invitation(db, request, customer_id=world.existing_customer),
        lambda: loyaltydb.accept_invitation(db, invitation, customer_id=world.existing_customer),
        lambda: loyaltydb.invite_customer(db, world.other_business_id, JOHN, world.coffee_club),
    ]
    for call in refused:
        with pytest.raises(NotAuthorized) as caught:
            call()
        assert caught.value.sqlstate == "LY006" and "\n" not in str(caught.value)
    assert snapshot(db) == before
    with pytest.raises(UserNotFound):
        loyaltydb.invite_customer(db, world.business_id, 999, world.coffee_club)
    with pytest.raises(ProgramNotFound):
        loyaltydb.invite_customer(db, world.business_id, JOHN, 424242)
    # A trusted caller (no business_id=, no customer_id=) may decide it: the customer's yes.
    assert loyaltydb.approve_enrollment(db, invitation).status == "APPROVED"
    told = [n.type for n in loyaltydb.business_notifications(db, world.business_id)]
    assert told == ["CUSTOMER_JOINED", "ENROLLMENT_REQUEST"]  # newest first


def test_the_replaced_systems_call_accepts_an_invitation(db: psycopg.Connection[Any], world: World) -> None:
    _welcome_points(db, world.coffee_club, 40)
    invitation = loyaltydb.invite_customer(db, world.business_id, JOHN, world.coffee_club)
    legacy = "SELECT loyalty.process_enrollment_approval(%s::integer, %s::integer, %s)"
    rows = [db.execute(legacy, (JOHN, world.coffee_club, invitation)).fetchone() for _ in range(2)]  # and a replay
    db.commit()
    (card,) = loyaltydb.customer_cards(db, JOHN)
    assert rows == [(card.id,), (card.id,)] and card.points_balance == 40
    assert count(db, "SELECT count(*) FROM loyalty.point_transactions") == 1
    assert [n.type for n in loyaltydb.business_notifications(db, world.business_id)] == ["CUSTOMER_JOINED"]


def test_inviting_again_returns_the_pending_invitation_and_a_new_one_once_it_expired(
    db: psycopg.Connection[Any], world: World
) -> None:
    first = loyaltydb.invite_customer(db, world.business_id, JOHN, world.coffee_club)
    assert loyaltydb.invite_customer(db, world.business_id, JOHN, world.coffee_club) == first
    assert count(db, "SELECT count(*) FROM loyalty.customer_approval_requests WHERE kind = 'INVITATION'") == 1
    _overdue(db, first)
    second = loyaltydb.invite_customer(db, world.business_id, JOHN, world.coffee_club)
    assert second != first
    statuses = db.execute(
        "SELECT id, status FROM loyalty.customer_approval_requests WHERE customer_id = %s ORDER BY requested_at",
        (JOHN,),
    ).fetchall()
    db.commit()
    assert statuses == [(first, "EXPIRED"), (second, "PENDING")]


def test_invite_racing_invite_makes_one_invitation(dsn: str, db: psycopg.Connection[Any], world: World) -> None:
    outcomes = race(dsn, [lambda c: loyaltydb.invite_customer(c, world.business_id, JOHN, world.coffee_club)] * 8)
    assert all(isinstance(outcome, uuid.UUID) for outcome in outcomes), outcomes
    assert len(set(outcomes)) == 1
    assert count(db, "SELECT count(*) FROM loyalty.customer_approval_requests WHERE kind = 'INVITATION'") == 1
    assert count(db, "SELECT count(*) FROM loyalty.customer_notifications WHERE type = 'ENROLLMENT_INVITATION'") == 1


def test_an_overdue_request_or_invitation_cannot_be_decided_and_shows_in_no_inbox(
    db: psycopg.Connection[Any], world: World
) -> None:
    request = loyaltydb.request_enrollment(db, JOHN, world.coffee_club)
    invitation = loyaltydb.invite_customer(db, world.business_id, world.existing_customer, world.tea_club)
    _overdue(db, request)
    _overdue(db, invitation)
    assert loyaltydb.pending_requests(db, world.business_id) == []
    assert loyaltydb.pending_invitations(db, world.existing_customer) == []
    before = snapshot(db)
    for call in (
        lambda: loyaltydb.approve_enrollment(db, request),
        lambda: loyaltydb.reject_enrollment(db, request, business_id=world.business_id),
        lambda: loyaltydb.approve_enrollments(db, [request]),
        lambda: loyaltydb.accept_invitation(db, invitation, customer_id=world.existing_customer),
        lambda: loyaltydb.decline_invitation(db, invitation, customer_id=world.existing_customer),
    ):
        with pytest.raises(RequestExpired) as caught:
            call()
        assert caught.value.sqlstate == "LY009"
    assert snapshot(db) == before
    # The sweep marks both, and deciding an EXPIRED row says the same.
    assert loyaltydb.expire_requests(db) == 2
    assert loyaltydb.expire_requests(db) == 0
    with pytest.raises(RequestExpired):
        loyaltydb.approve_enrollment(db, request)


def test_a_decision_made_in_time_still_replays_after_the_expiry(db: psycopg.Connection[Any], world: World) -> None:
    request = loyaltydb.request_enrollment(db, JOHN, world.coffee_club)
    result = loyaltydb.approve_enrollment(db, request)
    _overdue(db, request)
    assert loyaltydb.approve_enrollment(db, request) == result
    assert loyaltydb.expire_requests(db) == 0


def test_a_program_without_a_lifetime_makes_requests_that_never_expire(
    db: psycopg.Connection[Any], world: World
) -> None:
    db.execute("UPDATE loyalty.loyalty_programs SET request_ttl = NULL WHERE id = %s", (world.coffee_club,))
    db.commit()
    request = loyaltydb.request_enrollment(db, JOHN, world.coffee_club)
    expires = db.execute("SELECT expires_at FROM loyalty.customer_approval_requests WHERE id = %s", (request,))
    assert expires.fetchone() == (None,)
    db.commit()


def test_the_sweep_works_in_bounded_batches(db: psycopg.Connection[Any], world: World) -> None:
    made = [loyaltydb.request_enrollment(db, JOHN, world.coffee_club) for _ in range(5)]
    for request in made:
        _overdue(db, request)
    assert [loyaltydb.expire_requests(db, limit=2) for _ in range(4)] == [2, 2, 1, 0]
    with pytest.raises(InvalidInput):
        loyaltydb.expire_requests(db, limit=0)


def test_a_request_to_join_is_the_businesss_to_read(db: psycopg.Connection[Any], world: World) -> None:
    loyaltydb.request_enrollment(db, JOHN, world.coffee_club)
    (note,) = loyaltydb.business_notifications(db, world.business_id)
    assert note.type == "ENROLLMENT_REQUEST" and note.requires_action
    assert loyaltydb.customer_notifications(db, JOHN) == []


def test_welcome_points_are_credited_once_per_created_card(db: psycopg.Connection[Any], world: World) -> None:
    _welcome_points(db, world.coffee_club, 50)
    first = loyaltydb.request_enrollment(db, JOHN, world.coffee_club)
    duplicate = loyaltydb.request_enrollment(db, JOHN, world.coffee_club)
    result = loyaltydb.approve_enrollment(db, first)
    assert loyaltydb.approve_enrollment(db, first) == result  # replay
    again = loyaltydb.approve_enrollment(db, duplicate)  # the same card, reused
    assert again.card_id == result.card_id
    (card,) = loyaltydb.customer_cards(db, JOHN)
    assert card.points_balance == 50
    ledger = db.execute(
        "SELECT card_id, program_id, points, reason, request_id FROM loyalty.point_transactions WHERE customer_id = %s",
        (JOHN,),
    ).fetchall()
    db.commit()
    assert ledger == [(result.card_id, world.coffee_club, 50, "WELCOME", first)]
    (created,) = [n for n in loyaltydb.customer_notifications(db, JOHN) if n.type == "CARD_CREATED"]
    assert created.message.endswith("It starts with 50 welcome points.") and created.data["welcome_points"] == 50


def test_an_accepted_invitation_and_a_batch_credit_welcome_points_once(
    db: psycopg.Connection[Any], world: World
) -> None:
    _welcome_points(db, world.coffee_club, 25)
    _welcome_points(db, world.tea_club, 10)
    invitation = loyaltydb.invite_customer(db, world.business_id, JOHN, world.coffee_club)
    assert loyaltydb.accept_invitation(db, invitation, customer_id=JOHN).status == "APPROVED"
    batch = [loyaltydb.request_enrollment(db, world.existing_customer, world.tea_club) for _ in range(3)]
    loyaltydb.approve_enrollments(db, [*batch, batch[0]])
    points = db.execute(
        "SELECT customer_id, sum(points), count(*) FROM loyalty.point_transactions GROUP BY 1 ORDER BY 1"
    ).fetchall()
    db.commit()
    assert points == [(JOHN, 25, 1), (world.existing_customer, 10, 1)]
    balances = {card.customer_id: card.points_balance for card in loyaltydb.customer_cards(db, world.existing_customer)}
    assert balances == {world.existing_customer: 10}


def test_no_welcome_points_writes_no_ledger_row(db: psycopg.Connection[Any], world: World) -> None:
    result = loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, JOHN, world.coffee_club))
    assert count(db, "SELECT count(*) FROM loyalty.point_transactions") == 0
    (created,) = [n for n in loyaltydb.customer_notifications(db, JOHN) if n.id == result.notification_id]
    assert "welcome points" not in created.message and created.data["welcome_points"] == 0


def test_a_batch_decides_invitations_like_one_by_one(db: psycopg.Connection[Any], world: World) -> None:
    invitations = [
        loyaltydb.invite_customer(db, world.business_id, JOHN, world.coffee_club),
        loyaltydb.invite_customer(db, world.business_id, world.existing_customer, world.tea_club),
    ]
    results = loyaltydb.approve_enrollments(db, invitations)
    assert [r.status for r in results] == ["APPROVED", "APPROVED"]
    joined = sorted(n.message for n in loyaltydb.business_notifications(db, world.business_id))
    assert joined == [
        "Ada L. has joined your Tea Club loyalty program",
        "John Smith has joined your Coffee Club loyalty program",
    ]


def test_feeds_are_keyset_pages_and_read_marks_belong_to_their_reader(
    db: psycopg.Connection[Any], world: World
) -> None:
    for program in (world.coffee_club, world.tea_club):
        request = loyaltydb.request_enrollment(db, JOHN, program)
        loyaltydb.approve_enrollment(db, request)
    feed = loyaltydb.customer_notifications(db, JOHN)
    assert len(feed) == 2 and feed[0].created_at >= feed[1].created_at
    (first,) = loyaltydb.customer_notifications(db, JOHN, limit=1)
    assert loyaltydb.customer_notifications(db, JOHN, limit=1, before=first.id) == feed[1:]
    business_feed = loyaltydb.business_notifications(db, world.business_id)
    # Another reader's ids are left alone; the reader's own are marked once.
    assert loyaltydb.mark_notifications_read(db, [n.id for n in business_feed], customer_id=JOHN) == 0
    assert loyaltydb.mark_notifications_read(db, [first.id], business_id=world.business_id) == 0
    assert loyaltydb.mark_notifications_read(db, [first.id], customer_id=JOHN) == 1
    assert loyaltydb.mark_notifications_read(db, [first.id], customer_id=JOHN) == 0
    assert [n.id for n in loyaltydb.customer_notifications(db, JOHN, unread_only=True)] == [feed[1].id]
    assert loyaltydb.mark_notifications_read(db, [n.id for n in business_feed], business_id=world.business_id) == 2
    assert loyaltydb.business_notifications(db, world.business_id, unread_only=True) == []


def test_bad_input_is_refused_in_one_line_and_the_connection_stays_usable(
    db: psycopg.Connection[Any], world: World
) -> None:
    invitation = loyaltydb.invite_customer(db, world.business_id, JOHN, world.coffee_club)
    before = snapshot(db)
    bad: list[tuple[type[Exception], Any]] = [
        (MessageTooLong, lambda: loyaltydb.invite_customer(db, 7, JOHN, world.tea_club, message="x" * 1001)),
        (ReasonTooLong, lambda: loyaltydb.decline_invitation(db, invitation, "x" * 1001, customer_id=JOHN)),
        (InvalidInput, lambda: loyaltydb.accept_invitation(db, "not-a-uuid", customer_id=JOHN)),
        (InvalidInput, lambda: loyaltydb.accept_invitation(db, invitation, customer_id=True)),
        (InvalidInput, lambda: loyaltydb.invite_customer(db, 7, JOHN, world.tea_club, message="\ud800")),
        (InvalidInput, lambda: loyaltydb.pending_invitations(db, JOHN, limit=0)),
        (InvalidInput, lambda: loyaltydb.customer_notifications(db, JOHN, limit=1001)),
        (InvalidInput, lambda: loyaltydb.customer_notifications(db, JOHN, before=uuid.uuid4())),
        (InvalidInput, lambda: loyaltydb.customer_notifications(db, JOHN, unread_only="yes")),  # type: ignore[arg-type]
        (InvalidInput, lambda: loyaltydb.mark_notifications_read(db, [invitation])),
        (InvalidInput, lambda: loyaltydb.mark_notifications_read(db, [invitation], customer_id=1, business_id=7)),
        (InvalidInput, lambda: loyaltydb.mark_notifications_read(db, "abc", customer_id=JOHN)),
        (RequestNotFound, lambda: loyaltydb.pending_invitations(db, JOHN, after=uuid.uuid4())),
        (RequestNotFound, lambda: loyaltydb.accept_invitation(db, uuid.uuid4(), customer_id=JOHN)),
    ]
    for error, call in bad:
        with pytest.raises(error) as caught:
            call()
        assert "\n" not in str(caught.value)
        assert db.execute("SELECT 1").fetchone() == (1,)
        db.commit()
    assert snapshot(db) == before


def test_accept_racing_accept_and_decline_has_one_outcome(dsn: str, db: psycopg.Connection[Any], world: World) -> None:
    _welcome_points(db, world.coffee_club, 5)
    invitation = loyaltydb.invite_customer(db, world.business_id, JOHN, world.coffee_club)
    outcomes = race(
        dsn,
        [lambda c: loyaltydb.accept_invitation(c, invitation, customer_id=JOHN)] * 6
        + [lambda c: loyaltydb.decline_invitation(c, invitation, customer_id=JOHN)] * 2,
    )
    results = [o for o in outcomes if isinstance(o, loyaltydb.EnrollmentResult)]
    errors = [o for o in outcomes if not isinstance(o, loyaltydb.EnrollmentResult)]
    assert all(isinstance(e, RequestAlreadyDecided) for e in errors), errors
    assert len({r.status for r in results}) == 1 and results
    if results[0].status == "APPROVED":
        assert len(results) == 6 and len(errors) == 2
        assert count(db, "SELECT count(*) FROM loyalty.point_transactions") == 1
    else:
        assert len(results) == 2 and len(errors) == 6
        assert count(db, "SELECT count(*) FROM loyalty.loyalty_cards") == 0
    told = count(db, "SELECT count(*) FROM loyalty.customer_notifications WHERE audience = 'BUSINESS'")
    assert told == 1


def test_accept_racing_the_sweep_has_one_outcome(dsn: str, db: psycopg.Connection[Any], world: World) -> None:
    """The invitation is overdue: acceptances say RequestExpired whether or not the sweep came
    first, and the sweep marks it once however many run."""
    invitation = loyaltydb.invite_customer(db, world.business_id, JOHN, world.coffee_club)
    _overdue(db, invitation)
    outcomes = race(
        dsn,
        [lambda c: loyaltydb.accept_invitation(c, invitation, customer_id=JOHN)] * 4
        + [lambda c: loyaltydb.expire_requests(c)] * 4,
    )
    accepted = outcomes[:4]
    swept = outcomes[4:]
    assert all(isinstance(o, RequestExpired) for o in accepted), accepted
    # One server's sweep skips a row being decided (SKIP LOCKED): a later sweep marks it then.
    assert sum(s for s in swept if isinstance(s, int)) + loyaltydb.expire_requests(db) == 1, swept
    assert count(db, "SELECT count(*) FROM loyalty.loyalty_cards") == 0
