"""What makes the schema ready for a Citus cluster, on one server: request ids that carry their
customer, card numbers unique by construction, businesses as reference data kept in step."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import loyaltydb
from helpers import World, add_program, add_request, add_user, count, luhn_valid
from loyaltydb import _queries
from loyaltydb.errors import RequestNotFound

BIGINT = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(customer_id=BIGINT)
def test_a_request_id_carries_its_customer_in_sql_and_python_alike(
    db: psycopg.Connection[Any], customer_id: int
) -> None:
    row = db.execute(
        "SELECT loyalty._request_id(%s), loyalty._request_customer(loyalty._request_id(%s))", (customer_id, customer_id)
    ).fetchone()
    db.commit()
    assert row is not None
    request_id, decoded = row
    assert isinstance(request_id, UUID) and request_id.version == 8
    assert decoded == customer_id == _queries.request_customer(str(request_id))


def test_other_uuids_carry_no_customer(db: psycopg.Connection[Any]) -> None:
    for other in (uuid4(), UUID(int=0), UUID(int=2**128 - 1)):
        assert _queries.request_customer(str(other)) is None
        assert db.execute("SELECT loyalty._request_customer(%s)", (other,)).fetchone() == (None,)
    assert _queries.request_customer("not-a-uuid") is None
    db.commit()


def test_requests_made_by_the_api_carry_their_customer(db: psycopg.Connection[Any], world: World) -> None:
    request_id = loyaltydb.request_enrollment(db, world.new_user, world.coffee_club)
    assert _queries.request_customer(str(request_id)) == world.new_user
    query, params = _queries.decide(request_id, approved=True, reason=None, business_id=None)
    assert query == _queries.DECIDE_FOR_CUSTOMER and params["customer_id"] == world.new_user
    assert loyaltydb.approve_enrollment(db, request_id).status == "APPROVED"


def test_the_customer_overload_decides_and_refuses_another_customers_request(
    db: psycopg.Connection[Any], world: World
) -> None:
    request_id = loyaltydb.request_enrollment(db, world.new_user, world.coffee_club)
    with pytest.raises(psycopg.Error, match="not found") as caught:
        db.execute("SELECT * FROM loyalty.decide_enrollment(40, %s::uuid)", (request_id,))
    assert caught.value.sqlstate == "LY001"
    db.rollback()
    row = db.execute("SELECT status FROM loyalty.decide_enrollment(32, %s::uuid)", (request_id,)).fetchone()
    db.commit()
    assert row == ("APPROVED",)
    other = str(request_id)[:-1] + ("1" if str(request_id).endswith("0") else "0")
    with pytest.raises(RequestNotFound):  # the same customer in the id, but no such request
        loyaltydb.approve_enrollment(db, other)


def test_card_numbers_carry_the_customer_and_a_per_customer_ordinal(db: psycopg.Connection[Any], world: World) -> None:
    first = loyaltydb.approve_enrollment(db, add_request(db, world.new_user, world.coffee_club))
    second = loyaltydb.approve_enrollment(db, add_request(db, world.new_user, world.tea_club))
    assert [first.card_number, second.card_number] == [
        "900000000320001" + first.card_number[-1],  # type: ignore[index]
        "900000000320002" + second.card_number[-1],  # type: ignore[index]
    ]
    assert all(luhn_valid(r.card_number or "") for r in (first, second))
    # A replay and a returning customer's card make no new number.
    assert loyaltydb.approve_enrollment(db, add_request(db, world.new_user, world.coffee_club)).card_number == (
        first.card_number
    )
    assert count(db, "SELECT count(*) FROM loyalty.loyalty_cards WHERE customer_id = 32") == 2


def test_customer_ids_outside_the_card_range_still_get_cards_on_one_server(db: psycopg.Connection[Any]) -> None:
    add_user(db, 7, "Shop", None)
    add_user(db, -5, "Negative", None)
    add_user(db, 10**10, "Huge", None)
    program = add_program(db, 7, "Club")
    db.commit()
    numbers = [loyaltydb.approve_enrollment(db, add_request(db, user, program)).card_number for user in (-5, 10**10)]
    assert all(n is not None and len(n) == 16 and luhn_valid(n) and not n.startswith("9") for n in numbers)
    assert len(set(numbers)) == 2


def test_businesses_follow_their_users_on_one_server(db: psycopg.Connection[Any], world: World) -> None:
    assert count(db, "SELECT count(*) FROM loyalty.businesses WHERE id IN (7, 8)") == 2
    db.execute("UPDATE loyalty.users SET name = 'Bean Here Coffee' WHERE id = 7")
    db.commit()
    result = loyaltydb.approve_enrollment(db, add_request(db, world.new_user, world.coffee_club))
    message = db.execute("SELECT message FROM loyalty.customer_notifications WHERE id = %s", (result.notification_id,))
    assert "Bean Here Coffee" in message.fetchone()[0]  # type: ignore[index]
    db.commit()
    with pytest.raises(psycopg.errors.ForeignKeyViolation) as caught:  # a business that is no user
        db.execute("INSERT INTO loyalty.loyalty_programs (business_id, name) VALUES (999, 'Ghost Club')")
    assert caught.value.diag.constraint_name == "loyalty_programs_business_id_fkey"
    db.rollback()


def test_register_business_copies_a_user_and_names_a_missing_one(db: psycopg.Connection[Any], world: World) -> None:
    add_user(db, 70, "Late Bakery", None)
    db.commit()
    db.execute("SELECT loyalty.register_business(70)")
    assert db.execute("SELECT name FROM loyalty.businesses WHERE id = 70").fetchone() == ("Late Bakery",)
    db.commit()
    with pytest.raises(psycopg.Error, match="User not found for business_id: 71") as caught:
        db.execute("SELECT loyalty.register_business(71)")
    assert caught.value.sqlstate == "LY003"
    db.rollback()


def test_the_documented_fix_for_rows_written_before_0018_works(db: psycopg.Connection[Any], world: World) -> None:
    """docs/operations.md (one server; on a cluster Citus refuses the volatile id in an UPDATE):
    find the rows, give them ids of their own, validate the constraint; the row can then be
    decided singly."""
    constraint = "customer_approval_requests_id_carries_its_customer"
    carrying_40 = loyaltydb.request_enrollment(db, world.existing_customer, world.tea_club)
    bad_id = str(carrying_40)[:-4] + "ffff"
    # A row as it could be written before 0018 (the constraint is NOT VALID for such rows).
    db.execute(f"ALTER TABLE loyalty.customer_approval_requests DROP CONSTRAINT {constraint}")
    db.execute(
        "INSERT INTO loyalty.customer_approval_requests (id, customer_id, program_id, business_id)"
        " VALUES (%s::uuid, 32, %s, 7)",
        (bad_id, world.coffee_club),
    )
    db.execute(
        f"ALTER TABLE loyalty.customer_approval_requests ADD CONSTRAINT {constraint}"
        " CHECK (loyalty._request_customer(id) IS NULL OR loyalty._request_customer(id) = customer_id) NOT VALID"
    )
    db.commit()
    with pytest.raises(RequestNotFound):
        loyaltydb.approve_enrollment(db, bad_id)
    docs = (Path(__file__).resolve().parent.parent / "docs" / "operations.md").read_text(encoding="utf-8")
    block = docs.split("<!-- fix block: tests/test_distribution_keys.py runs it -->\n```sql\n", 1)[1].split("```", 1)[0]
    db.execute(block)
    db.commit()
    (fixed,) = db.execute("SELECT id FROM loyalty.customer_approval_requests WHERE customer_id = 32").fetchone()  # type: ignore[misc]
    assert loyaltydb.approve_enrollment(db, fixed).status == "APPROVED"
