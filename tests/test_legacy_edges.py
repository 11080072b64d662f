"""The import's edges that adversarial testing found (issue 27): a legacy number loyaltydb could
issue, points of a card the target already has, balances past an integer, negative ids, card
numbers that dry and killed runs must not consume, zone-less times, ids on a cluster, and the
errors a bad schema name or a service's login get. Each test fails on the code before the fix."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from legacy_source import uuid as legacy_source_uuid
from test_cli import assert_user_error, run_cli

import helpers
import loyaltydb
from loyaltydb.errors import InvalidInput, PermissionDenied
from loyaltydb.legacy import ImportReport, import_legacy


def _source_rows(source: str, *statements: str) -> None:
    """Extra rows in a legacy source (its tables in schema public)."""
    with psycopg.connect(source) as conn:
        for statement in statements:
            conn.execute(statement)


def _reasons(report: ImportReport) -> dict[tuple[str, str, str], str]:
    return {(row.table, row.legacy_id, row.action): row.reason for row in report.rows}


def _card_number_for(conn: psycopg.Connection[Any], customer_id: int, ordinal: int) -> str:
    row = conn.execute("SELECT loyalty._card_number_for(%s, %s)", (customer_id, ordinal)).fetchone()
    conn.commit()
    assert row is not None
    return str(row[0])


@pytest.mark.both_modes
def test_a_legacy_number_loyaltydb_could_issue_is_reported_not_kept(
    db: psycopg.Connection[Any], dsn: str, quirks: str
) -> None:
    """A digits-only legacy number with a valid check digit is one loyaltydb may issue later (here:
    user 15's first card): it is not kept as an alias, so the card issued later is the only one
    that answers to it. A digits-only number with a wrong check digit can never be issued: kept."""
    future = _card_number_for(db, 15, 1)
    wrong_digit = future[:-1] + str((int(future[-1]) + 1) % 10)
    _source_rows(
        quirks,
        f"INSERT INTO loyalty_cards (id, customer_id, business_id, program_id, card_number, points, points_balance)"
        f" VALUES (20, 600, 1, 100, '{future}', 250, 250), (21, 500, 2, 102, '{wrong_digit}', 0, 0)",
    )
    reasons = _reasons(import_legacy(quirks, dsn))
    assert "is one loyaltydb issues" in reasons["card_numbers", "20", "skipped"]
    assert helpers.count(db, "SELECT count(*) FROM loyalty.card_aliases WHERE card_number = %s", future) == 0
    kept = loyaltydb.find_card(db, wrong_digit)
    assert kept is not None and kept.customer_id == 11
    # User 15 (invited in the source) accepts: the card it gets has that number and finds itself.
    (invitation,) = loyaltydb.pending_invitations(db, 15)
    issued = loyaltydb.accept_invitation(db, invitation.request_id, customer_id=15)
    assert issued.card_number == future
    found = loyaltydb.find_card(db, future)
    assert found is not None and (found.customer_id, found.points_balance) == (15, 50)
    # The legacy card itself kept its 250 points under its own loyaltydb number.
    (card,) = [c for c in loyaltydb.customer_cards(db, 12) if c.program_id == 100]
    assert card.points_balance == 250


@pytest.mark.both_modes
def test_points_of_a_card_the_target_already_made_are_reported_never_dropped(
    db: psycopg.Connection[Any], dsn: str, quirks: str
) -> None:
    """A second run after the target approved (customer 15, program 100): the legacy card of that
    pair is not imported over the target's card; the report names it and its 100 points, and
    its number finds the customer's card."""
    import_legacy(quirks, dsn)
    (invitation,) = loyaltydb.pending_invitations(db, 15)
    made = loyaltydb.accept_invitation(db, invitation.request_id, customer_id=15)
    _source_rows(
        quirks,
        "INSERT INTO customers (id, user_id, name, email) VALUES (15, 15, 'Invited Ida', 'ida@example.com')",
        "INSERT INTO loyalty_cards (id, customer_id, business_id, program_id, card_number, points, points_balance)"
        " VALUES (30, 15, 1, 100, 'GC-0a0b0c-C', 100, 100)",
    )
    report = import_legacy(quirks, dsn)
    reason = _reasons(report)["loyalty_cards", "30", "skipped"]
    assert f"already has card {made.card_id}" in reason and "100 points were not added" in reason
    counts = report.table("loyalty_cards")
    assert counts.read == counts.imported + counts.existing + counts.merged + counts.skipped
    found = loyaltydb.find_card(db, "GC-0a0b0c-C")
    assert found is not None and (found.id, found.points_balance) == (made.card_id, 50)
    # A third run reports the same, and writes nothing.
    assert _reasons(import_legacy(quirks, dsn))["loyalty_cards", "30", "skipped"] == reason


@pytest.mark.both_modes
def test_merged_balances_past_an_integer_are_reported_by_card(
    db: psycopg.Connection[Any], dsn: str, quirks: str
) -> None:
    """Two cards of one (customer, program) whose balances add up past 2,147,483,647: both are
    skipped, named together with their total; the rest of the import lands."""
    _source_rows(
        quirks,
        "INSERT INTO loyalty_cards (id, customer_id, business_id, program_id, card_number, points, points_balance)"
        " VALUES (40, 600, 2, 102, 'GC-big-1', 2147483647, 0)",
    )
    report = import_legacy(quirks, dsn)
    reasons = _reasons(report)
    for card in ("6", "40"):
        assert (
            "cards 6, 40 of customer 12 in program 102 hold 2147483648 points"
            in reasons["loyalty_cards", card, "skipped"]
        )
    assert helpers.count(db, "SELECT count(*) FROM loyalty.loyalty_cards WHERE customer_id = 12") == 0
    assert helpers.count(db, "SELECT count(*) FROM loyalty.loyalty_cards") == 4


@pytest.mark.both_modes
def test_a_customer_with_a_negative_id_imports_with_its_card_and_enrollment(
    db: psycopg.Connection[Any], dsn: str, quirks: str
) -> None:
    """User -5 (the card-number scheme has no place for it): its enrollment ('-5', a text id) and
    its card import, the card numbered from its own id ('8…', a valid check digit), on both kinds
    of database; the card then works with the API."""
    _source_rows(
        quirks,
        "INSERT INTO users (id, name, email) VALUES (-5, 'Minus Five', 'minus@example.com')",
        "INSERT INTO customers (id, user_id, name, email) VALUES (-5, -5, 'Minus Five', 'minus@example.com')",
        "INSERT INTO program_enrollments (id, customer_id, program_id, current_points) VALUES (60, '-5', 100, 9)",
        "INSERT INTO loyalty_cards (id, customer_id, business_id, program_id, card_number, points, points_balance)"
        " VALUES (61, -5, 1, 100, 'GC-minus-C', 9, 9)",
    )
    reasons = _reasons(import_legacy(quirks, dsn))
    assert not [key for key in reasons if key[1] in ("60", "61")], reasons
    (card,) = loyaltydb.customer_cards(db, -5)
    assert card.card_number == "800000000000061" + card.card_number[-1]
    assert helpers.luhn_valid(card.card_number)
    assert card.points_balance == 9
    assert helpers.count(db, "SELECT count(*) FROM loyalty.program_enrollments WHERE customer_id = -5") == 1
    found = loyaltydb.find_card(db, "GC-minus-C")
    assert found is not None and found.id == card.id


def test_dry_and_killed_runs_take_no_card_number(db: psycopg.Connection[Any], dsn: str, quirks: str) -> None:
    """Three dry runs, then a real one: card_number_seq has not moved and the numbers are the
    ones a single clean run gives (derived from the cards, not taken from the sequence)."""
    _source_rows(
        quirks,
        "INSERT INTO users (id, name, email) VALUES (-7, 'Minus Seven', 'minus7@example.com')",
        "INSERT INTO customers (id, user_id, name, email) VALUES (-7, -7, 'Minus Seven', 'minus7@example.com')",
        "INSERT INTO loyalty_cards (id, customer_id, business_id, program_id, card_number)"
        " VALUES (70, -7, 1, 100, 'x')",
    )
    before = db.execute("SELECT last_value, is_called FROM loyalty.card_number_seq").fetchone()
    db.commit()
    for _ in range(3):
        import_legacy(quirks, dsn, dry_run=True)
    import_legacy(quirks, dsn)
    assert db.execute("SELECT last_value, is_called FROM loyalty.card_number_seq").fetchone() == before
    (card,) = loyaltydb.customer_cards(db, -7)
    assert card.card_number.startswith("800000000000070")


def test_zone_less_legacy_times_are_read_as_utc_whatever_the_client_zone(
    db: psycopg.Connection[Any], dsn: str, quirks: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """users.created_at is TIMESTAMP in the replaced system: read as UTC (docs/legacy.md), not in
    the importing client's PGTZ."""
    monkeypatch.setenv("PGTZ", "Asia/Tokyo")
    import_legacy(quirks, dsn)
    row = db.execute("SELECT created_at = '2024-01-01 12:00:00+00' FROM loyalty.users WHERE id = 10").fetchone()
    assert row == (True,)


def test_a_bad_schema_name_is_one_sentence(dsn: str, quirks: str) -> None:
    for schema in ("a\x00b", ""):
        with pytest.raises(InvalidInput, match="schema must name the legacy"):
            import_legacy(quirks, dsn, schema=schema)


def test_a_service_login_is_told_which_role_imports(db: psycopg.Connection[Any], dsn: str, quirks: str) -> None:
    """As a loyalty_app login, a run and a dry run are PermissionDenied in one sentence, before
    anything is read; the CLI prints it without a traceback."""
    db.execute("DO $$ BEGIN CREATE ROLE legacy_app_login LOGIN; EXCEPTION WHEN duplicate_object THEN END $$")
    db.execute("GRANT loyalty_app TO legacy_app_login")
    db.commit()
    as_app = psycopg.conninfo.make_conninfo(dsn, user="legacy_app_login")
    for dry_run in (False, True):
        with pytest.raises(PermissionDenied, match="import-legacy writes loyaltydb's tables directly"):
            import_legacy(quirks, as_app, dry_run=dry_run)
    assert_user_error(run_cli("--dsn", as_app, "import-legacy", "--from", quirks, "--dry-run"), "loyalty_owner")


def test_cluster_ids_stay_unique_through_an_import(quirks: str, request: pytest.FixtureRequest) -> None:
    """On a cluster: one-hop approvals (ids from the workers' ranges), an import, approvals in
    bulk on the coordinator, one-hop approvals again: no id appears twice in any per-customer
    table (the import moved the coordinator's sequences into a worker's range)."""
    cluster = request.getfixturevalue("cluster_dsn")
    with psycopg.connect(cluster, autocommit=True) as conn:
        tables = ", ".join(f"loyalty.{table}" for table in helpers.loyalty_tables(conn))
        conn.execute(f"TRUNCATE {tables} CASCADE")
    with psycopg.connect(cluster) as db:
        business = 500
        helpers.add_user(db, business, "Cluster Cafe", "cafe@example.com")
        program = helpers.add_program(db, business, "Cluster Club")
        for user in range(1000, 1036):
            helpers.add_user(db, user, f"User {user}", f"u{user}@example.com")
        db.commit()

        def approve_singly(users: range) -> None:
            for user in users:
                loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, user, program))

        approve_singly(range(1000, 1012))
        import_legacy(quirks, cluster)
        requests = [loyaltydb.request_enrollment(db, user, program) for user in range(1012, 1024)]
        loyaltydb.approve_enrollments(db, requests)
        approve_singly(range(1024, 1036))
        for table in ("loyalty_cards", "program_enrollments", "customer_business_relationships"):
            twice = db.execute(f"SELECT id FROM loyalty.{table} GROUP BY id HAVING count(*) > 1").fetchall()
            db.commit()
            assert twice == [], f"{table}: ids held twice {twice}"
        assert helpers.count(db, "SELECT count(*) FROM loyalty.loyalty_cards WHERE customer_id >= 1000") == 36


@pytest.mark.both_modes
def test_pending_points_deductions_are_imported_from_their_data(
    db: psycopg.Connection[Any], dsn: str, quirks: str
) -> None:
    """A PENDING POINTS_DEDUCTION becomes a deduction request when its data names the points and
    its program is known (data.program_id, or the business's one program where the customer has a
    card); an overdue one is EXPIRED; one whose data names no points is reported (the fixture's);
    decided ones stay left out. The customer then answers an imported one as any other."""
    _source_rows(
        quirks,
        "INSERT INTO customer_approval_requests (id, customer_id, business_id, request_type, entity_id, status, data,"
        " requested_at, expires_at) VALUES"
        " ('00000000-0000-4000-8000-0000000000d1', 10, 1, 'POINTS_DEDUCTION', 'x', 'PENDING',"
        '  \'{"points": 20, "program_id": 100, "reason": "a damaged mug"}\', now(), now() + interval \'3 days\'),'
        " ('00000000-0000-4000-8000-0000000000d2', 600, 2, 'POINTS_DEDUCTION', 'x', 'pending',"
        "  '{\"points\": \"1\"}', now(), now() + interval '3 days'),"
        " ('00000000-0000-4000-8000-0000000000d3', 10, 1, 'POINTS_DEDUCTION', 'x', 'PENDING',"
        "  '{\"points\": 5, \"program_id\": 100}', now() - interval '9 days', now() - interval '2 days'),"
        " ('00000000-0000-4000-8000-0000000000d4', 10, 1, 'POINTS_DEDUCTION', 'x', 'APPROVED',"
        '  \'{"points": 5, "program_id": 100}\', now(), now())',
    )
    report = import_legacy(quirks, dsn)
    rows = db.execute(
        "SELECT id::text, customer_id, program_id, points, reason, status FROM loyalty.points_deductions ORDER BY id"
    ).fetchall()
    db.commit()
    told = "a points deduction asked for in the replaced system"  # when its data says no reason
    assert rows == [
        ("00000000-0000-4000-8000-0000000000d1", 10, 100, 20, "a damaged mug", "PENDING"),
        ("00000000-0000-4000-8000-0000000000d2", 12, 102, 1, told, "PENDING"),
        ("00000000-0000-4000-8000-0000000000d3", 10, 100, 5, told, "EXPIRED"),
    ]
    counts = report.table("points_deductions")
    assert (counts.read, counts.imported, counts.skipped) == (4, 3, 1)
    assert "names no points" in _reasons(report)["points_deductions", legacy_source_uuid(105), "skipped"]
    deducted = loyaltydb.answer_points_deduction(
        db, "00000000-0000-4000-8000-0000000000d1", customer_id=10, approved=True
    )
    assert deducted is not None and (deducted.points, deducted.balance_after) == (-20, 110)
    assert import_legacy(quirks, dsn).imported == 0  # a second run writes nothing


@pytest.mark.both_modes
def test_an_erased_customer_comes_back_from_no_source(db: psycopg.Connection[Any], dsn: str, quirks: str) -> None:
    """Erasure is for good (contract "Personal data"): a later import of the same source skips
    every row of the erased customer, reported as erased, and writes nothing for them."""
    import_legacy(quirks, dsn)
    erased = 11  # a customer of the fixture with a card, points and notifications
    assert helpers.count(db, "SELECT count(*) FROM loyalty.loyalty_cards WHERE customer_id = %s", erased) >= 1
    loyaltydb.erase_customer(db, erased, requested_by="ticket 77")
    before = helpers.snapshot(db)
    reasons = _reasons(import_legacy(quirks, dsn))
    assert "who was erased (CustomerErased, LY019)" in reasons["customers", str(erased), "skipped"]
    assert helpers.snapshot(db) == before  # nothing written for them, nor for anyone (a re-run)
    customer = db.execute("SELECT name, email FROM loyalty.customers WHERE id = %s", (erased,)).fetchone()
    assert customer == ("Erased customer", None)
