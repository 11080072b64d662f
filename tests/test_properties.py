"""Property tests over hostile input: names and emails (Unicode, control characters, 10,000
characters, SQL metacharacters, white space only) and ids (negative, huge, NULL, malformed).

Derived names follow the contract's rule, errors are typed and clear, the connection stays
usable and nothing partial remains.
"""

from __future__ import annotations

import itertools
import unicodedata
import uuid
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import loyaltydb
from helpers import World, add_request, luhn_valid, snapshot
from loyaltydb.errors import InvalidInput, LoyaltyError, ReasonTooLong, RequestNotFound, UserNotFound

# PostgreSQL's [[:space:]] in ASCII. Other white space (U+00A0, U+2003, ...) is left out of the
# generated text: its class membership depends on the server's locale, not on our rule.
PG_SPACE = " \t\n\v\f\r"
NASTY = ["'; DROP TABLE loyalty.users; --", "%s %(x)s", "$$ $body$", "\\", "\u202e\u0301", "😀 emoji"]
TEXT = st.text(
    alphabet=st.characters(
        blacklist_categories=("Zs", "Zl", "Zp", "Cs", "Cn"), blacklist_characters="\x00\x1c\x1d\x1e\x1f\x85"
    )
    | st.sampled_from(PG_SPACE),
    max_size=60,
)
LONG = st.builds(lambda char, n: char * n, st.sampled_from(["a", "é", " ", "'", "x."]), st.integers(9_990, 10_010))
NAMES = st.none() | TEXT | LONG | st.sampled_from([*NASTY, "", "   ", "\t\n"])
ASCII_EMAILS = st.none() | st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
PROFILE = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

_ids = itertools.count(10_000)


def _initcap(text: str) -> str:
    """The rule, written independently of the SQL: in each run of letters and digits (Unicode
    categories L and Nd) the first character upper-cased, the rest lower-cased."""
    runs = itertools.groupby(
        text, key=lambda char: unicodedata.category(char)[0] == "L" or unicodedata.category(char) == "Nd"
    )
    return "".join(
        run[0].upper() + run[1:].lower() if word else run for word, run in ((w, "".join(r)) for w, r in runs)
    )


def expected_name(user_id: int, name: str | None, email: str | None) -> str:
    """The contract's rule, written independently of the SQL."""
    if name is not None and name.strip(PG_SPACE):
        return name.strip(PG_SPACE)
    if email is not None and "@" in email:
        local = _initcap(email.rpartition("@")[0].replace(".", " ")).strip(PG_SPACE)
        if local:
            return local
    return f"Customer {user_id}"


def _create(db: psycopg.Connection[Any], name: str | None, email: str | None) -> tuple[int, str]:
    user_id = next(_ids)
    db.execute("INSERT INTO loyalty.users (id, name, email) VALUES (%s, %s, %s)", (user_id, name, email))
    db.commit()
    return user_id, loyaltydb.ensure_customer(db, user_id).name


@PROFILE
@given(name=NAMES, email=ASCII_EMAILS)
@example(name=None, email="john.smith@example.com")
@example(name=None, email="a@b@example.com")
@example(name="\t", email="..@example.com")
def test_derived_names_follow_the_rule(db: psycopg.Connection[Any], name: str | None, email: str | None) -> None:
    user_id, derived = _create(db, name, email)
    assert derived == expected_name(user_id, name, email)


@PROFILE
@given(local=TEXT | LONG, domain=st.sampled_from(["example.com", "", "ü.example"]))
def test_unicode_email_local_parts_give_a_trimmed_non_blank_name(
    db: psycopg.Connection[Any], local: str, domain: str
) -> None:
    user_id, derived = _create(db, None, f"{local}@{domain}")
    assert derived
    assert derived == derived.strip(PG_SPACE)
    assert derived == expected_name(user_id, None, f"{local}@{domain}")


def _assert_clean_failure(db: psycopg.Connection[Any], before: dict[str, str], error: LoyaltyError) -> None:
    assert str(error).strip(), "an error needs a message"
    assert "\n" not in str(error)
    assert db.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert db.execute("SELECT 1").fetchone() == (1,)
    db.commit()
    assert snapshot(db) == before


@PROFILE
@given(user_id=st.none() | st.integers(min_value=-(2**70), max_value=2**70))
@example(user_id=-1)
@example(user_id=2**63)
@example(user_id=0)
def test_ids_of_any_size_or_none_get_typed_errors(
    db: psycopg.Connection[Any], world: World, user_id: int | None
) -> None:
    assume(user_id not in (7, 8, 32, 40))  # the world's users: no error is right for them
    before = snapshot(db)
    with pytest.raises(LoyaltyError) as caught:
        loyaltydb.ensure_customer(db, user_id)  # type: ignore[arg-type]
    if user_id is None or not -(2**63) <= user_id < 2**63:
        assert isinstance(caught.value, InvalidInput)
    else:
        assert isinstance(caught.value, UserNotFound)
        assert str(caught.value) == f"User not found for customer_id: {user_id}. Cannot create customer record."
    _assert_clean_failure(db, before, caught.value)


@PROFILE
@given(request_id=st.text(max_size=50) | st.uuids().map(str))
@example(request_id="")
@example(request_id="00000000-0000-0000-0000-00000000000g")
@example(request_id="'; DELETE FROM loyalty.users; --")
@example(request_id="a\x00b")
def test_malformed_or_unknown_request_ids_get_typed_errors(
    db: psycopg.Connection[Any], world: World, request_id: str
) -> None:
    before = snapshot(db)
    try:
        uuid.UUID(request_id)
        parseable = "\x00" not in request_id
    except ValueError:
        parseable = False
    with pytest.raises(LoyaltyError) as caught:
        loyaltydb.approve_enrollment(db, request_id)
    assert isinstance(caught.value, RequestNotFound if parseable else InvalidInput), caught.value
    _assert_clean_failure(db, before, caught.value)


@PROFILE
@given(reason=st.none() | TEXT | LONG | st.sampled_from(NASTY))
def test_any_rejection_reason_is_stored_verbatim(db: psycopg.Connection[Any], world: World, reason: str | None) -> None:
    """Up to the cap (1,000 characters); a longer one is refused with nothing written."""
    request_id = add_request(db, world.new_user, world.coffee_club)
    if reason is not None and len(reason) > 1000:
        before = snapshot(db)
        with pytest.raises(ReasonTooLong) as caught:
            loyaltydb.reject_enrollment(db, request_id, reason=reason)
        _assert_clean_failure(db, before, caught.value)
        return
    loyaltydb.reject_enrollment(db, request_id, reason=reason)
    row = db.execute("SELECT rejection_reason FROM loyalty.customer_approval_requests WHERE id = %s", (request_id,))
    assert row.fetchone() == (reason,)
    db.commit()


def test_a_nul_byte_is_invalid_input_and_nothing_is_written(db: psycopg.Connection[Any], world: World) -> None:
    request_id = add_request(db, world.new_user, world.coffee_club)
    before = snapshot(db)
    with pytest.raises(InvalidInput, match="NUL"):
        loyaltydb.reject_enrollment(db, request_id, reason="a\x00b")
    _assert_clean_failure(db, before, InvalidInput("NUL"))


@PROFILE
@given(payload=st.text(alphabet="0123456789", min_size=1, max_size=40))
@example(payload="9" + "0000000032" + "0001")
@example(payload="0")
@example(payload="9" * 18)
@example(payload="9" * 19)
@example(payload="1" + "0" * 36)
def test_the_luhn_check_digit_completes_a_valid_number(db: psycopg.Connection[Any], payload: str) -> None:
    """_luhn_check_digit (arithmetic since 0028, 18 digits at a time) against an independent check."""
    row = db.execute(
        "SELECT loyalty._luhn_check_digit(%s), loyalty._card_number_is_valid(%s)", (payload, payload)
    ).fetchone()
    assert row is not None
    digit, payload_valid = row
    assert luhn_valid(payload + str(digit))
    assert [luhn_valid(payload + str(d)) for d in range(10)].count(True) == 1
    assert payload_valid == (len(payload) >= 2 and luhn_valid(payload))


def test_the_luhn_check_digit_refuses_what_is_not_digits(db: psycopg.Connection[Any]) -> None:
    for payload in ("12a4", "", " 12", "١٢"):
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="not a string of digits"):
            db.execute("SELECT loyalty._luhn_check_digit(%s)", (payload,))
        db.rollback()
