"""Who writes users and programs (contract "Deployment: ... roles"): a service's loyalty_app login
writes its users and programs through upsert_user, create_program and set_program_status, with no
table privilege, on one server and on a Citus cluster, and the rest of the API works with them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest

import loyaltydb
from loyaltydb.errors import InvalidInput, NotAuthorized, ProgramNotActive, ProgramNotFound, UserNotFound


@pytest.fixture
def service(db: psycopg.Connection[Any], dsn: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection as a LOGIN role granted loyalty_app only, as a service would hold."""
    db.execute("DO $$ BEGIN CREATE ROLE programs_service LOGIN; EXCEPTION WHEN duplicate_object THEN END $$")
    db.execute("GRANT loyalty_app TO programs_service")
    db.commit()
    with psycopg.connect(psycopg.conninfo.make_conninfo(dsn, user="programs_service")) as conn:
        yield conn


@pytest.mark.both_modes
def test_a_service_login_writes_its_users_and_programs(service: psycopg.Connection[Any]) -> None:
    assert loyaltydb.upsert_user(service, 7, "Bean There Coffee", "hello@beanthere.example") == 7
    loyaltydb.upsert_user(service, 32, None, "john.smith@example.com")
    club = loyaltydb.create_program(service, 7, "Coffee Club", welcome_points=25, points_ttl=timedelta(days=365))
    request = loyaltydb.request_enrollment(service, 32, club)
    result = loyaltydb.approve_enrollment(service, request, business_id=7)
    (card,) = loyaltydb.customer_cards(service, 32)
    assert (card.program_name, card.business_name, card.points_balance) == ("Coffee Club", "Bean There Coffee", 25)
    assert result.customer_created
    # A renamed business is renamed everywhere it is shown (its businesses row follows).
    loyaltydb.upsert_user(service, 7, "Bean There Coffee & Tea", "hello@beanthere.example")
    assert loyaltydb.customer_cards(service, 32)[0].business_name == "Bean There Coffee & Tea"
    assert loyaltydb.set_program_status(service, 7, club, "INACTIVE") == "INACTIVE"
    with pytest.raises(ProgramNotActive):
        loyaltydb.request_enrollment(service, 32, club)
    loyaltydb.set_program_status(service, 7, club, "ACTIVE")
    assert loyaltydb.earn_points(service, 32, club, 5, idempotency_key="k").balance_after == 30


@pytest.mark.both_modes
def test_a_business_display_name_is_kept_by_the_database(
    db: psycopg.Connection[Any], service: psycopg.Connection[Any]
) -> None:
    """0044: businesses.display_name is a generated column, so every path that names a business
    (a batch's notifications, a single approval's, the invitations list) reads the name the
    database keeps, and it follows the user's name and email at once."""

    def shown() -> tuple[Any, ...] | None:
        db.commit()
        return db.execute("SELECT display_name FROM loyalty.businesses WHERE id = 7").fetchone()

    loyaltydb.upsert_user(service, 7, None, "mary.jones@shop.example")
    club = loyaltydb.create_program(service, 7, "Tea Club")
    assert shown() == ("Mary Jones",)
    for user in (32, 33, 34):
        loyaltydb.upsert_user(service, user, f"Customer {user}", f"c{user}@example.com")
    loyaltydb.approve_enrollments(service, [loyaltydb.request_enrollment(service, 32, club)])
    loyaltydb.upsert_user(service, 7, "  ", "tea.house@shop.example")  # a blank name: the email's
    assert shown() == ("Tea House",)
    loyaltydb.approve_enrollment(service, loyaltydb.request_enrollment(service, 33, club))
    loyaltydb.invite_customer(service, 7, 34, club)
    assert [i.business_name for i in loyaltydb.pending_invitations(service, 34)] == ["Tea House"]
    names = db.execute(
        "SELECT customer_id, data ->> 'business_name' FROM loyalty.customer_notifications"
        " WHERE type = 'CARD_CREATED' ORDER BY customer_id"
    ).fetchall()
    assert names == [(32, "Mary Jones"), (33, "Tea House")]
    loyaltydb.upsert_user(service, 7, None, None)
    assert shown() == ("Business 7",)


@pytest.mark.both_modes
def test_users_and_programs_refuse_by_name(service: psycopg.Connection[Any]) -> None:
    loyaltydb.upsert_user(service, 7, "Bean There Coffee", None)
    loyaltydb.upsert_user(service, 8, "Crumbs", None)
    club = loyaltydb.create_program(service, 7, "Coffee Club")
    with pytest.raises(UserNotFound):
        loyaltydb.create_program(service, 99, "Nobody's Club")
    with pytest.raises(InvalidInput, match="needs a name"):
        loyaltydb.create_program(service, 7, "  ")
    with pytest.raises(InvalidInput, match="welcome_points must be 0 or more"):
        loyaltydb.create_program(service, 7, "Club", welcome_points=-1)
    with pytest.raises(InvalidInput, match="a TTL is positive"):
        loyaltydb.create_program(service, 7, "Club", points_ttl=timedelta(0))
    with pytest.raises(NotAuthorized):
        loyaltydb.set_program_status(service, 8, club, "INACTIVE")
    with pytest.raises(ProgramNotFound):
        loyaltydb.set_program_status(service, 7, 10**9, "INACTIVE")
    with pytest.raises(InvalidInput, match="ACTIVE or INACTIVE"):
        loyaltydb.set_program_status(service, 7, club, "active")
    with pytest.raises(InvalidInput):
        loyaltydb.upsert_user(service, None, "x", None)  # type: ignore[arg-type]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):  # still no table write for the service
        service.execute("INSERT INTO loyalty.users (id, name) VALUES (9, 'Mallory')")
