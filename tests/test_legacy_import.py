"""Moving in from the replaced system (contract: "Moving in from the replaced system"): the
mapping of every quirk, merges that lose no card number and no point, the old bug repaired,
imported cards that keep working, and an import that is safe to run again, to interrupt and to
try (``--dry-run``). The sources are real databases built from the project's own fixture,
``tests/fixtures/legacy_schema.sql``, on the suite's server; the target is one server or the
Citus cluster (another server then)."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import signal
import subprocess
import threading
import time
from typing import Any

import legacy_source
import psycopg
import pytest
from legacy_source import LEGACY_TABLES, uuid
from test_cli import _console_script, assert_user_error, run_cli

import helpers
import loyaltydb
from loyaltydb import aio
from loyaltydb.errors import LegacySourceError, LoyaltyError
from loyaltydb.legacy import ImportReport, import_legacy
from loyaltydb.testing import TempServer
from loyaltydb.testing.databases import clone_database, drop_database

#: The tables an import writes (the state two runs compare by).
TARGET_TABLES = (
    "users",
    "customers",
    "businesses",
    "loyalty_programs",
    "program_enrollments",
    "loyalty_cards",
    "card_aliases",
    "customer_business_relationships",
    "customer_notifications",
    "customer_approval_requests",
)


def _state(dsn: str) -> dict[str, list[Any]]:
    with psycopg.connect(dsn) as conn:
        return legacy_source.table_rows(conn, "loyalty", TARGET_TABLES)


def _one(conn: psycopg.Connection[Any], query: str, *params: object) -> Any:
    row = conn.execute(query, params).fetchone()
    conn.commit()
    return row


@pytest.mark.both_modes
def test_every_quirk_is_mapped_as_documented(db: psycopg.Connection[Any], dsn: str, quirks: str) -> None:
    report = import_legacy(quirks, dsn)
    # Users keep ids; a business user's display name is its business_name.
    assert _one(db, "SELECT name FROM loyalty.users WHERE id = 1") == ("Bean There Coffee",)
    assert _one(db, "SELECT name FROM loyalty.businesses WHERE id = 2") == ("Bob's Books",)
    # Customers under their user's id: by user_id (500 -> 11), by email (600 -> 12); settings over
    # the defaults; the duplicate 700 merged into 14; 800 (no user) skipped; 13 created (the bug).
    customers = {
        row[0]: row[1:]
        for row in db.execute(
            "SELECT id, name, notification_preferences ->> 'sms', regional_settings ->> 'currency'"
            " FROM loyalty.customers ORDER BY id"
        )
    }
    assert customers == {
        10: ("John Smith", "true", "USD"),
        11: ("Mary Jones", "false", "EUR"),
        12: ("Pat Kim", "false", "USD"),
        13: ("Ann Lee", "false", "USD"),
        14: ("Sam Duplicate", "false", "USD"),
    }
    # Programs: ids, normalised status (lower case; is_active false), welcome points (never < 0).
    programs = db.execute("SELECT id, status, welcome_points FROM loyalty.loyalty_programs ORDER BY id").fetchall()
    assert programs == [(100, "ACTIVE", 50), (101, "INACTIVE", 0), (102, "INACTIVE", 0)]
    # Enrollments: one a (customer, program); with a card, its card's balance (the ledger's
    # invariant: the card is the truth); without one (13), the duplicates' largest points.
    enrollments = db.execute(
        "SELECT id, customer_id, program_id, status, current_points FROM loyalty.program_enrollments ORDER BY id"
    ).fetchall()
    assert enrollments == [
        (1, 10, 100, "ACTIVE", 130),
        (3, 11, 100, "ACTIVE", 10),
        (4, 12, 102, "ACTIVE", 1),
        (5, 13, 100, "ACTIVE", 0),
        (6, 14, 100, "ACTIVE", 12),
    ]
    # Cards: one a (customer, program), balances = larger column, duplicates' balances summed.
    cards = db.execute(
        "SELECT id, customer_id, program_id, status, points_balance, loyalty._card_number_is_valid(card_number)"
        " FROM loyalty.loyalty_cards ORDER BY id"
    ).fetchall()
    assert cards == [
        (1, 10, 100, "ACTIVE", 130, True),
        (3, 11, 100, "ACTIVE", 10, True),
        (4, 14, 100, "ACTIVE", 12, True),
        (6, 12, 102, "ACTIVE", 1, True),
        (8, 10, 101, "INACTIVE", 3, True),
    ]
    # Every imported card's balance is one IMPORT row of the ledger; the invariants hold.
    imports = db.execute(
        "SELECT card_id, points FROM loyalty.point_transactions WHERE reason = 'IMPORT' ORDER BY card_id"
    ).fetchall()
    assert imports == [(1, 130), (3, 10), (4, 12), (6, 1), (8, 3)]
    assert loyaltydb.verify_points(db) == []
    # Relationships: text ids with spaces parsed, user 14's two merged, garbage skipped.
    relationships = db.execute(
        "SELECT customer_id, business_id, status FROM loyalty.customer_business_relationships ORDER BY 1, 2"
    ).fetchall()
    assert relationships == [
        (10, 1, "ACTIVE"),
        (10, 2, "ACTIVE"),
        (11, 1, "ACTIVE"),
        (13, 1, "ACTIVE"),
        (14, 1, "ACTIVE"),
    ]
    # Requests keep their ids: invitations; pending (the latest of two), overdue -> EXPIRED,
    # decided ones as history; the POINTS_DEDUCTION left out.
    requests = db.execute(
        "SELECT id::text, customer_id, program_id, kind, status, card_id, notification_id::text, message,"
        " rejection_reason FROM loyalty.customer_approval_requests ORDER BY id"
    ).fetchall()
    assert requests == [
        (uuid(101), 15, 100, "INVITATION", "PENDING", None, uuid(1), "Free coffee!", None),
        (uuid(102), 13, 101, "INVITATION", "EXPIRED", None, None, None, None),
        (uuid(103), 10, 100, "INVITATION", "APPROVED", 1, None, None, None),
        (uuid(104), 11, 102, "INVITATION", "REJECTED", None, None, None, "Not now"),
        (uuid(109), 14, 100, "INVITATION", "APPROVED", 4, None, None, None),
    ]
    notifications = db.execute("SELECT id::text, customer_id FROM loyalty.customer_notifications ORDER BY id")
    assert notifications.fetchall() == [(uuid(1), 15), (uuid(2), 10), (uuid(4), 15)]
    db.commit()
    # The report: counts and every row skipped, merged or created, with its reason.
    assert (report.table("customers").read, report.table("customers").imported) == (6, 4)
    assert (report.table("customers").merged, report.table("customers").skipped) == (1, 1)
    assert report.table("customers").created == 1
    assert report.table("customer_approval_requests").left_out == 1
    rows = {(row.table, row.legacy_id, row.action): row.reason for row in report.rows}
    assert "no single user has email ghost@example.com" in rows["customers", "800", "skipped"]
    assert "merged into customer 14" in rows["customers", "700", "merged"]
    assert "created from user 13" in rows["customers", "13", "created"]
    assert "'abc' is not a number" in rows["program_enrollments", "10", "skipped"]
    assert "neither a customer nor a user" in rows["program_enrollments", "9", "skipped"]
    assert "program 103 was not imported" in rows["program_enrollments", "11", "skipped"]
    assert "business 9999 is no user" in rows["loyalty_programs", "103", "skipped"]
    assert "30 points are in the kept card's 130" in rows["loyalty_cards", "2", "merged"]
    assert "also carried by legacy card 1" in rows["card_numbers", "6", "skipped"]
    assert "'garbage' is not a program id" in rows["customer_approval_requests", uuid(107), "skipped"]
    assert "latest pending one" in rows["customer_approval_requests", uuid(106), "merged"]
    for counts in report.tables:  # every source row is accounted for
        assert counts.read == counts.imported + counts.existing + counts.merged + counts.skipped + counts.left_out


@pytest.mark.both_modes
def test_a_created_customer_is_the_one_an_approval_would_make(
    db: psycopg.Connection[Any], dsn: str, quirks: str
) -> None:
    """User 13 had enrollments but no customers row: imported, it equals what ensure_customer
    makes from an identical user (name from the email, email, defaults)."""
    import_legacy(quirks, dsn)
    helpers.add_user(db, 9013, "", "ann.lee@example.com")
    db.commit()
    made = loyaltydb.ensure_customer(db, 9013)
    columns = "name, email, phone, notification_preferences, regional_settings"
    imported = _one(db, f"SELECT {columns} FROM loyalty.customers WHERE id = 13")
    approved = _one(db, f"SELECT {columns} FROM loyalty.customers WHERE id = %s", made.id)
    assert imported == approved
    assert imported[0] == "Ann Lee"


@pytest.mark.both_modes
def test_every_number_a_card_carried_finds_it(db: psycopg.Connection[Any], dsn: str, quirks: str) -> None:
    import_legacy(quirks, dsn)
    # The three formats, compared exactly; a merged duplicate's number finds the kept card.
    for number, card in (
        ("GC-240101-120000-42", 1),  # the stored procedure's
        ("GC-a1b2c3-C", 1),  # the wrapper's, on the duplicate merged into card 1
        ("1234-5678-00042", 3),  # the card service's
        ("GC-240102-130000-7", 4),
        ("5555-6666-00001", 8),
    ):
        found = loyaltydb.find_card(db, number)
        assert found is not None, number
        assert found.id == card, number
    # Its loyaltydb number finds it too; nearly the same number does not.
    own = loyaltydb.find_card(db, "GC-a1b2c3-C")
    assert own is not None
    assert loyaltydb.find_card(db, own.card_number) == own
    assert own.program_name == "Coffee Club"
    assert own.business_name == "Bean There Coffee"
    assert own.points_balance == 130
    for near in ("gc-a1b2c3-c", " GC-a1b2c3-C", "GC-a1b2c3", "", "GC-ffffff-C"):
        assert loyaltydb.find_card(db, near) is None, near
    # A SQL caller, as the service's role.
    db.execute("SET ROLE loyalty_app")
    assert _one(db, "SELECT id, customer_id FROM loyalty.find_card('1234-5678-00042')") == (3, 11)
    db.execute("RESET ROLE")


def test_find_card_async(dsn: str, quirks: str) -> None:
    import_legacy(quirks, dsn)

    async def scenario() -> None:
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            card = await aio.find_card(conn, "GC-240102-130000-7")
            assert card is not None
            assert (card.id, card.customer_id) == (4, 14)
            assert await aio.find_card(conn, "nope") is None

    asyncio.run(scenario())


def test_find_card_refuses_what_is_no_number(db: psycopg.Connection[Any]) -> None:
    with pytest.raises(LoyaltyError, match="card_number must be a string"):
        loyaltydb.find_card(db, 42)  # type: ignore[arg-type]
    assert loyaltydb.find_card(db, "x") is None  # the connection stays usable


@pytest.mark.both_modes
def test_imported_customers_and_cards_keep_working(db: psycopg.Connection[Any], dsn: str, quirks: str) -> None:
    import_legacy(quirks, dsn)
    numbers_before = {row[0] for row in db.execute("SELECT card_number FROM loyalty.loyalty_cards")}
    db.commit()
    # The pending invitation is accepted by its (not yet customer) user: card with welcome points.
    accepted = loyaltydb.accept_invitation(db, uuid(101), customer_id=15)
    assert accepted.customer_created
    assert accepted.card_number is not None
    (card,) = loyaltydb.customer_cards(db, 15)
    assert card.points_balance == 50
    # An imported customer joins a new program: a new card, whose number no imported card has.
    # The new program's id follows every legacy one (103 too, which was skipped).
    program = helpers.add_program(db, 1, "New Program")
    assert program > 103
    db.commit()  # on a cluster the delegated call reads the program from another connection
    request = loyaltydb.request_enrollment(db, 10, program)
    approved = loyaltydb.approve_enrollment(db, request)
    assert approved.card_number not in numbers_before
    assert approved.card_id is not None
    assert approved.card_id > 8  # the sequences end past every imported id
    assert [c.id for c in loyaltydb.customer_cards(db, 10)] == [1, 8, approved.card_id]
    # The imported APPROVED request replays its stored result: the customer's card.
    replay = loyaltydb.approve_enrollment(db, uuid(103))
    assert (replay.status, replay.card_id) == ("APPROVED", 1)
    # The invariants approvals keep hold for what approvals made since.
    assert (
        _one(db, "SELECT count(*) FROM loyalty.loyalty_cards GROUP BY customer_id, program_id ORDER BY 1 DESC")[0] == 1
    )


@pytest.mark.both_modes
def test_a_second_run_changes_nothing_and_reports_no_new_rows(dsn: str, quirks: str) -> None:
    first = import_legacy(quirks, dsn)
    state = _state(dsn)
    second = import_legacy(quirks, dsn)
    assert first.imported > 40
    assert second.imported == 0
    assert all(counts.imported == 0 for counts in second.tables)
    assert _state(dsn) == state
    # The same merges and skips are reported, and the rest is "existing".
    assert second.rows == first.rows
    assert second.table("loyalty_cards").existing == first.table("loyalty_cards").imported


@pytest.mark.both_modes
def test_a_dry_run_writes_nothing_and_reports_the_same_counts(dsn: str, quirks: str) -> None:
    before = _state(dsn)
    dry = import_legacy(quirks, dsn, dry_run=True)
    assert _state(dsn) == before
    real = import_legacy(quirks, dsn)
    assert dry.dry_run
    assert not real.dry_run
    assert dry.tables == real.tables
    assert dry.rows == real.rows


def test_the_source_is_only_read_and_may_be_another_schema_of_the_same_database(
    new_source: Any, dsn: str, pg_server: TempServer
) -> None:
    source = new_source(schema="old_app")
    with psycopg.connect(source) as conn:
        before = legacy_source.table_rows(conn, "old_app", LEGACY_TABLES)
        # A role that may only read the source: the import needs nothing more.
        conn.execute("DROP ROLE IF EXISTS legacy_reader")
        conn.execute("CREATE ROLE legacy_reader LOGIN")
        conn.execute("GRANT USAGE ON SCHEMA old_app TO legacy_reader")
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA old_app TO legacy_reader")
        conn.commit()
    reader = source.replace(f"user={pg_server.user}", "user=legacy_reader")
    try:
        report = import_legacy(reader, dsn, schema="old_app")
        assert report.table("loyalty_cards").imported == 5
        with psycopg.connect(source) as conn:
            assert legacy_source.table_rows(conn, "old_app", LEGACY_TABLES) == before
    finally:
        with psycopg.connect(source, autocommit=True) as conn:
            conn.execute("DROP OWNED BY legacy_reader")
            conn.execute("DROP ROLE legacy_reader")


def test_the_same_database_in_another_schema(new_source: Any, dsn: str) -> None:
    """The replaced system's tables beside loyaltydb's, in one database (--schema)."""
    with psycopg.connect(dsn) as conn:
        legacy_source.create_legacy_tables(conn, "legacy_app")
        legacy_source.fill_quirks(conn, "legacy_app")
    report = import_legacy(dsn, dsn, schema="legacy_app")
    assert report.table("customers").imported == 4
    assert report.table("loyalty_cards").imported == 5


def test_the_integer_id_variant_imports_the_same_way(new_source: Any, dsn: str) -> None:
    """Databases whose later script made the text ids INTEGER (and added the unique key)."""
    source = new_source(integer_ids=True)
    report = import_legacy(source, dsn)
    assert report.table("program_enrollments").imported == 5
    assert report.table("customer_business_relationships").imported == 5
    assert not [row for row in report.rows if "not a number" in row.reason]


def test_a_bad_source_is_one_sentence_and_writes_nothing(dsn: str, empty_dsn: str, new_source: Any) -> None:
    before = _state(dsn)
    with pytest.raises(LegacySourceError, match=r"no legacy table public\.users, public\.customers"):
        import_legacy(empty_dsn, dsn)
    with pytest.raises(LegacySourceError, match="cannot connect to the legacy source"):
        import_legacy("host=127.0.0.1 port=1 connect_timeout=2", dsn)
    quirks = new_source()
    with pytest.raises(LegacySourceError, match=r"no legacy table elsewhere\.users"):
        import_legacy(quirks, dsn, schema="elsewhere")
    with psycopg.connect(quirks) as conn:  # a column the replaced system always had, gone
        conn.execute("ALTER TABLE loyalty_cards DROP COLUMN points_balance")
        conn.commit()
    with pytest.raises(LegacySourceError, match="not the replaced system's"):
        import_legacy(quirks, dsn)
    assert _state(dsn) == before


def test_an_unmigrated_target_is_one_sentence(quirks: str, empty_dsn: str) -> None:
    with pytest.raises(LoyaltyError, match="run `loyaltydb migrate`"):
        import_legacy(quirks, empty_dsn)


def test_the_command_prints_the_report_and_json(dsn: str, quirks: str) -> None:
    dry = run_cli("--dsn", dsn, "import-legacy", "--from", quirks, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stderr == ""  # no progress off a terminal
    assert "dry run: nothing was written; 44 rows would be written" in dry.stdout
    assert "skipped customers 800: customer 800 has no user" in dry.stdout
    done = run_cli("--dsn", dsn, "import-legacy", "--from", quirks, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["imported"] == 44
    cards = next(t for t in report["tables"] if t["table"] == "loyalty_cards")
    assert (cards["read"], cards["imported"], cards["merged"], cards["skipped"]) == (8, 5, 2, 1)
    assert {"table": "customers", "legacy_id": "13", "action": "created"}.items() <= next(
        r for r in report["rows"] if r["action"] == "created"
    ).items()
    again = json.loads(run_cli("--dsn", dsn, "import-legacy", "--from", quirks, "--json").stdout)
    assert again["imported"] == 0


def test_the_command_says_what_is_wrong_in_one_sentence(dsn: str, empty_dsn: str) -> None:
    assert_user_error(run_cli("--dsn", dsn, "import-legacy", "--from", empty_dsn), "no legacy table")
    assert_user_error(
        run_cli("--dsn", dsn, "import-legacy", "--from", "host=127.0.0.1 port=1 connect_timeout=2"),
        "cannot connect to the legacy source",
    )
    usage = run_cli("--dsn", dsn, "import-legacy")
    assert usage.returncode == 2
    assert "--from" in usage.stderr


def test_progress_shows_on_a_terminal(dsn: str, new_source: Any) -> None:
    source = new_source(fill="generated", customers=3000)
    controller, terminal = pty.openpty()
    completed = subprocess.run(
        [_console_script(), "--dsn", dsn, "import-legacy", "--from", source],
        stderr=terminal,
        stdout=subprocess.PIPE,
        text=True,
        timeout=300,
    )
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    assert completed.returncode == 0
    assert b"copying public.loyalty_cards" in shown
    assert b"step " in shown
    assert "users" in completed.stdout  # the report, on stdout


def test_a_run_killed_anywhere_then_run_again_ends_as_one_run(
    new_source: Any, dsn: str, pg_server: TempServer, loyaltydb_template: str, request: pytest.FixtureRequest
) -> None:
    """SIGKILL the console script at several points of its run (copying, mapping, writing);
    each kill leaves the target as it was, or, when it landed after the commit (the report was
    printing), exactly as one whole run leaves it; the run after the last equals one run that
    was never interrupted (into a database of its own)."""
    source = new_source(fill="generated", customers=6000)
    reference = "reference_" + helpers.slug(request.node.name)[-30:]
    reference_dsn = clone_database(pg_server, loyaltydb_template, reference)
    command = [_console_script(), "import-legacy", "--from", source]
    try:
        # The uninterrupted run, through the same console script: how long a whole run takes.
        started = time.monotonic()
        subprocess.run([*command, "--dsn", reference_dsn], check=True, capture_output=True, timeout=300)
        duration = time.monotonic() - started
        empty, whole = _state(dsn), _state(reference_dsn)
        before_commit = 0
        for fraction in (0.1, 0.25, 0.4, 0.55, 0.7):
            process = subprocess.Popen([*command, "--dsn", dsn], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(duration * fraction)
            process.send_signal(signal.SIGKILL)
            assert process.wait() == -signal.SIGKILL, f"the run ended before the kill at {fraction:.0%}"
            _wait_for_the_killed_backend(dsn)
            left = _state(dsn)
            assert left in (empty, whole), f"a kill at {fraction:.0%} left part of a run behind"
            before_commit += left == empty
            if left == whole:
                break
        assert before_commit >= 2, "too few kills landed inside the run to show anything"
        import_legacy(source, dsn)
        assert _state(dsn) == whole
        with psycopg.connect(dsn) as conn:
            assert helpers.count(conn, "SELECT count(*) FROM loyalty.loyalty_cards") > 8000
    finally:
        drop_database(pg_server, reference)


def _wait_for_the_killed_backend(dsn: str) -> None:
    """The killed client's server session ends within a second or so (its transaction rolls
    back): wait for it, at most 30 s."""
    deadline = time.monotonic() + 30
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            busy = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'loyaltydb import-legacy'"
            ).fetchone()
            if busy == (0,):
                return
            time.sleep(0.1)
    raise AssertionError("the killed import's session did not end")


def test_a_report_is_a_plain_record(quirks: str, dsn: str) -> None:
    report = import_legacy(quirks, dsn, dry_run=True)
    assert isinstance(report, ImportReport)
    assert json.loads(json.dumps(report.as_json()))["dry_run"] is True
    header = report.lines()[0].split()
    assert header == ["table", "read", "imported", "existing", "merged", "skipped", "created", "left", "out"]


def test_an_id_loyaltydb_gave_another_customer_is_skipped_not_renumbered(
    db: psycopg.Connection[Any], dsn: str, quirks: str, world: helpers.World
) -> None:
    """Ids stay unique across customers: a legacy card or enrollment whose id a loyaltydb row of
    another customer has is reported, and the rest imports."""
    approved = loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, world.new_user, world.coffee_club))
    assert (approved.card_id, approved.enrollment_id) == (1, 1)  # the ids legacy card 1 and enrollment 1 have
    report = import_legacy(quirks, dsn)
    rows = {(row.table, row.legacy_id, row.action): row.reason for row in report.rows}
    assert rows["loyalty_cards", "1", "skipped"] == "id 1 is another customer's card in loyaltydb"
    assert rows["program_enrollments", "1", "skipped"] == "id 1 is another customer's enrollment in loyaltydb"
    # The duplicate card 2 of the same customer and program is kept instead, with its own id.
    found = loyaltydb.find_card(db, "GC-a1b2c3-C")
    assert found is not None
    assert (found.id, found.customer_id, found.points_balance) == (2, 10, 30)
    assert helpers.count(db, "SELECT count(*) FROM loyalty.loyalty_cards WHERE id = 1") == 1


def test_a_dry_run_leaves_the_sequences_where_they_were(db: psycopg.Connection[Any], dsn: str, quirks: str) -> None:
    import_legacy(quirks, dsn, dry_run=True)
    assert helpers.add_program(db, _business(db), "First") == 1  # the sequence never moved


def _business(conn: psycopg.Connection[Any]) -> int:
    helpers.add_user(conn, 77, "A Business", "b@example.com")
    conn.commit()
    return 77


def test_one_import_at_a_time(dsn: str, quirks: str, connect: Any) -> None:
    """A second import waits for the first (its advisory lock), then finds everything in place."""
    holder = connect()
    holder.execute("SELECT pg_advisory_xact_lock(hashtext('loyaltydb.import_legacy'))")
    results: list[ImportReport] = []
    worker = threading.Thread(target=lambda: results.append(import_legacy(quirks, dsn)))
    worker.start()
    time.sleep(1.5)
    assert worker.is_alive(), "the import did not wait for the lock"
    holder.rollback()
    worker.join(timeout=60)
    assert results
    assert results[0].imported == 44
