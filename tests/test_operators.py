"""What DBAs and deploy scripts run, through the installed console script in a subprocess:
privileges, a read-only status, confirmations, JSON, the inbox, plain yoyo, and short errors."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from test_cli import _console_script, assert_user_error, run_cli

import loyaltydb
from helpers import World, add_request, count
from loyaltydb import migrations
from loyaltydb.testing import TempServer


def _public_tables(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]


@pytest.fixture
def login(db: psycopg.Connection[Any], dsn: str) -> Callable[..., str]:
    """A DSN for a new LOGIN role with these attributes, granted ``member_of`` when given."""

    def make(name: str, member_of: str = "") -> str:
        db.execute(f"DO $$ BEGIN CREATE ROLE {name} LOGIN; EXCEPTION WHEN duplicate_object THEN END $$")
        if member_of:
            db.execute(f"GRANT {member_of} TO {name}")
        db.commit()
        return psycopg.conninfo.make_conninfo(dsn, user=name)

    return make


def test_migrate_without_the_privilege_says_which_and_leaves_nothing(empty_dsn: str, login: Callable[..., str]) -> None:
    weak = psycopg.conninfo.make_conninfo(empty_dsn, user=psycopg.conninfo.conninfo_to_dict(login("weak_dba"))["user"])
    completed = run_cli("--dsn", weak, "migrate")
    assert_user_error(completed, "role weak_dba may not run migrations", "superuser", "CREATEROLE", "loyalty_owner")
    assert _public_tables(empty_dsn) == []
    with psycopg.connect(empty_dsn) as conn:
        assert conn.execute("SELECT to_regnamespace('loyalty')").fetchone() == (None,)


def test_status_only_reads_and_works_as_the_app(empty_dsn: str, dsn: str, login: Callable[..., str]) -> None:
    unmigrated = run_cli("--dsn", empty_dsn, "status", "--json")
    assert unmigrated.returncode == 0, unmigrated.stderr
    states = json.loads(unmigrated.stdout)
    assert states and all(state == {"id": state["id"], "applied": False} for state in states)
    assert _public_tables(empty_dsn) == []  # yoyo's tables are not created by a status
    nothing = run_cli("--dsn", empty_dsn, "rollback", "--yes")
    assert nothing.stdout.strip() == "nothing to roll back: no migration is applied"
    assert _public_tables(empty_dsn) == []  # nor by a rollback with nothing to do

    check = run_cli("--dsn", empty_dsn, "status", "--check")
    assert check.returncode == 3 and f"{len(states)} migration(s) pending" in check.stderr

    app = login("app_reader", "loyalty_app")
    as_app = run_cli("--dsn", app, "status", "--check")
    assert as_app.returncode == 0, as_app.stderr
    assert as_app.stdout.strip() == f"up to date: all {len(states)} migrations applied"


def test_migrate_says_up_to_date_and_prints_json(empty_dsn: str) -> None:
    first = json.loads(run_cli("--dsn", empty_dsn, "migrate", "--json").stdout)
    assert first["applied"][0] == "0001_schema" and len(first["applied"]) >= 14
    again = run_cli("--dsn", empty_dsn, "migrate")
    assert again.returncode == 0 and again.stdout.strip() == "up to date: no migration to apply"
    assert json.loads(run_cli("--dsn", empty_dsn, "migrate", "--json").stdout) == {"applied": []}


def test_rollback_says_what_it_drops_and_wants_yes_off_a_terminal(empty_dsn: str) -> None:
    loyaltydb.migrate(empty_dsn)
    with psycopg.connect(empty_dsn) as conn:
        conn.execute("INSERT INTO loyalty.users (id, name) VALUES (1, 'A'), (2, 'B')")
    applied = sum(state.applied for state in loyaltydb.status(empty_dsn))

    refused = run_cli("--dsn", empty_dsn, "rollback", "--all")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "pass --yes to confirm" in refused.stderr
    assert "0002_people: drops table loyalty.customers (0 rows), table loyalty.users (2 rows)" in refused.stderr
    assert "0001_schema: drops schema loyalty\n" in refused.stderr
    # When other databases of the server use the roles, the plan says 0008's rollback keeps them.
    kept = r"(?: \(kept: database [^)]*\))?"
    assert re.search(rf"0008_roles: drops role loyalty_app{kept}, role loyalty_owner{kept}\n", refused.stderr)
    assert sum(state.applied for state in loyaltydb.status(empty_dsn)) == applied  # nothing rolled back

    done = run_cli("--dsn", empty_dsn, "rollback", "--yes", "--json")
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["rolled_back"]) == 1


@pytest.mark.parametrize(("answer", "rolled_back"), [("n\n", False), ("y\n", True), ("\x04", False)])
def test_rollback_asks_on_a_terminal(empty_dsn: str, answer: str, rolled_back: bool) -> None:
    loyaltydb.migrate(empty_dsn)
    before = sum(state.applied for state in loyaltydb.status(empty_dsn))
    primary, secondary = os.openpty()
    try:
        os.write(primary, answer.encode())
        completed = subprocess.run(
            [_console_script(), "--dsn", empty_dsn, "rollback"],
            stdin=secondary, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        os.close(primary)
        os.close(secondary)
    assert "Roll back? This cannot be undone. [y/N]" in completed.stdout
    assert completed.returncode == (0 if rolled_back else 1), completed.stderr
    assert "Traceback" not in completed.stderr  # Ctrl-D (end of input) answers no
    after = sum(state.applied for state in loyaltydb.status(empty_dsn))
    assert after == before - (1 if rolled_back else 0)


def test_plain_yoyo_applies_the_packaged_migrations(empty_dsn: str) -> None:
    printed = run_cli("migrations-dir")
    assert printed.returncode == 0
    directory = Path(printed.stdout.strip())
    assert (directory / "0001_schema.sql").is_file() and (directory / "0001_schema.rollback.sql").is_file()
    parts = psycopg.conninfo.conninfo_to_dict(empty_dsn)
    url = f"postgresql+psycopg://{parts['user']}@{parts['host']}:{parts['port']}/{parts['dbname']}"
    yoyo = Path(sys.executable).with_name("yoyo")
    applied = subprocess.run(
        [str(yoyo), "apply", "--batch", "--no-config-file", "--database", url, str(directory)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert applied.returncode == 0, applied.stderr
    assert run_cli("--dsn", empty_dsn, "status", "--check").returncode == 0


def test_demo_and_selfcheck_say_what_they_need(empty_dsn: str, login: Callable[..., str]) -> None:
    assert_user_error(run_cli("--dsn", empty_dsn, "demo"), "not migrated", "loyaltydb migrate")
    app = login("app_checker", "loyalty_app")
    for command in ("selfcheck", "demo"):
        assert_user_error(run_cli("--dsn", app, command), f"{command} inserts", "role app_checker", "loyalty_owner")


def test_long_arguments_are_not_echoed_whole(dsn: str, db: psycopg.Connection[Any], world: World) -> None:
    huge = "x" * 10_240
    bad_id = run_cli("--dsn", dsn, "approve", huge)
    assert_user_error(bad_id, "ID must be a UUID", "characters in all")  # refused before connecting
    assert len(bad_id.stderr) < 700
    usage = run_cli("--dsn", dsn, "pending", "--business-id", huge)
    assert usage.returncode == 2 and len(usage.stderr) < 1500 and "want a whole number" in usage.stderr
    request_id = add_request(db, world.new_user, world.coffee_club)
    reason = run_cli("--dsn", dsn, "reject", str(request_id), "--reason", "r" * 100_000)
    assert_user_error(reason, "at most 1000 characters; this one has 100000")
    assert count(db, "SELECT count(*) FROM loyalty.customer_approval_requests WHERE status = 'PENDING'") == 1


def test_the_inbox_and_business_checks_from_the_command_line(
    dsn: str, db: psycopg.Connection[Any], world: World
) -> None:
    first = loyaltydb.request_enrollment(db, world.new_user, world.coffee_club)
    second = loyaltydb.request_enrollment(db, world.existing_customer, world.tea_club)
    db.commit()
    text = run_cli("--dsn", dsn, "pending", "--business-id", str(world.business_id), "--limit", "1")
    assert text.returncode == 0, text.stderr
    assert f"{first}" in text.stdout and "'John Smith'" in text.stdout and "'Coffee Club'" in text.stdout
    assert f"more may follow: --after {first}" in text.stdout
    page = run_cli("--dsn", dsn, "pending", "--business-id", "7", "--after", str(first), "--json")
    (only,) = json.loads(page.stdout)
    assert only["request_id"] == str(second) and only["customer_name"] == "Ada L."

    refused = run_cli("--dsn", dsn, "approve", str(first), "--business-id", str(world.other_business_id))
    assert_user_error(refused, "Business 8 may not decide request")
    approved = run_cli("--dsn", dsn, "approve", str(first), "--business-id", "7", "--json")
    assert json.loads(approved.stdout)["status"] == "APPROVED"
    rejected = run_cli("--dsn", dsn, "reject", str(second), "--business-id", "7", "--json")
    assert json.loads(rejected.stdout)["status"] == "REJECTED"
    empty = run_cli("--dsn", dsn, "pending", "--business-id", "7")
    assert empty.stdout.strip() == "no pending requests for business 7"


def test_the_package_metadata_names_its_license_and_urls() -> None:
    from importlib.metadata import metadata

    meta = metadata("loyaltydb")
    urls = dict(entry.split(", ", 1) for entry in meta.get_all("Project-URL") or [])
    assert {"Homepage", "Changelog", "Issues"} <= set(urls)
    assert meta["License-Expression"] == "MIT"
    root = Path(__file__).resolve().parent.parent
    assert "MIT License" in (root / "LICENSE").read_text()
    assert f"## {loyaltydb.__version__}" in (root / "CHANGELOG.md").read_text()


def test_an_unknown_after_is_one_sentence(dsn: str, world: World) -> None:
    completed = run_cli("--dsn", dsn, "pending", "--business-id", "7", "--after", str(uuid.uuid4()))
    assert_user_error(completed, "Enrollment request not found")


def test_a_rollback_whose_plan_changed_rolls_back_nothing(empty_dsn: str) -> None:
    loyaltydb.migrate(empty_dsn)
    (step,) = migrations.rollback_plan(empty_dsn, 1)
    with pytest.raises(migrations.RollbackChanged):
        migrations.rollback(empty_dsn, 2, expected=[step.id])
    assert all(state.applied for state in loyaltydb.status(empty_dsn))
    assert migrations.rollback(empty_dsn, 1, expected=[step.id]) == [step.id]


def test_the_readmes_psql_block_runs_when_pasted(dsn: str, pg_server: TempServer) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = readme.split("<!-- psql block: tests/test_operators.py runs it -->\n```sql\n", 1)[1].split("```", 1)[0]
    psql = shutil.which("psql") or str(pg_server.bindir / "psql")
    completed = subprocess.run(
        [psql, "-X", "-v", "ON_ERROR_STOP=1", dsn], input=block, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    assert "APPROVED" in completed.stdout and "REJECTED" in completed.stdout
    assert "John Smith" in completed.stdout and "Coffee Club" in completed.stdout


def test_the_readme_links_nothing_outside_the_repository() -> None:
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    assert "../" not in readme
    targets = re.findall(r"\]\(([^)]+)\)", readme)
    assert targets, "the README links its docs"
    for target in targets:
        assert not re.match(r"[a-z]+:", target), target
        assert (root / target.split("#")[0]).exists(), target


def test_migrate_without_create_on_the_database_says_so_and_leaves_nothing(
    empty_dsn: str, db: psycopg.Connection[Any]
) -> None:
    """A role with everything the docs asked for before (CREATEROLE, loyalty_owner, CREATE in
    public) still needs CREATE on the database for the loyalty schema: said before anything."""
    db.execute("DO $$ BEGIN CREATE ROLE almost_dba LOGIN CREATEROLE; EXCEPTION WHEN duplicate_object THEN END $$")
    db.execute("GRANT loyalty_owner TO almost_dba")
    db.commit()
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        conn.execute("GRANT CREATE ON SCHEMA public TO almost_dba")
    completed = run_cli("--dsn", psycopg.conninfo.make_conninfo(empty_dsn, user="almost_dba"), "migrate")
    assert_user_error(completed, "role almost_dba may not run migrations", "CREATE on this database")
    assert _public_tables(empty_dsn) == []


def test_migrate_in_a_read_only_session_says_read_only_at_once(empty_dsn: str) -> None:
    read_only = psycopg.conninfo.make_conninfo(empty_dsn, options="-c default_transaction_read_only=on")
    started = time.monotonic()
    completed = run_cli("--dsn", read_only, "migrate")
    assert_user_error(completed, "read-only", "primary")
    assert time.monotonic() - started < 8  # not yoyo's 10 s lock wait
    assert _public_tables(empty_dsn) == []


def test_the_rollback_plan_names_functions_types_indexes_and_the_roles_it_keeps(
    empty_dsn: str, pg_server: TempServer
) -> None:
    loyaltydb.migrate(empty_dsn)
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS plan_other")
        admin.execute("CREATE DATABASE plan_other")
    try:
        loyaltydb.migrate(pg_server.conninfo("plan_other"))  # another database that uses the roles
        plan = {step.id: step.drops for step in migrations.rollback_plan(empty_dsn, None)}
    finally:
        with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
            admin.execute("DROP DATABASE plan_other WITH (FORCE)")
    assert "function loyalty.decide_enrollment(bigint,uuid,boolean,text,bigint)" in plan["0017_untyped_calls"]
    assert {
        "function loyalty.process_enrollment_approval(integer, integer, uuid)",
        "function loyalty.pending_requests(bigint, integer, uuid)",
        "type loyalty.pending_request",
        "index loyalty.customer_approval_requests_pending_idx",
    } <= set(plan["0014_inbox_and_legacy_call"])
    # 0030's rollback drops its four domains (the plan once said it dropped nothing).
    assert {"domain loyalty.active_status", "domain loyalty.request_status", "domain loyalty.request_kind",
            "domain loyalty.notification_audience"} <= set(plan["0030_status_domains"])  # fmt: skip
    assert {"table loyalty.erased_customers (0 rows)", "function loyalty.erase_customer(bigint,text)"} <= set(
        plan["0041_personal_data"]
    )
    kept = [drop for drop in plan["0008_roles"] if drop.startswith("role ")]
    assert kept and all("(kept: database " in drop and "plan_other" in drop for drop in kept), kept


def test_a_rollback_that_fails_midway_says_what_was_undone_and_what_is_applied(empty_dsn: str) -> None:
    """A DBA's view on our table stops 0002's rollback (DROP TABLE): the newer migrations were
    undone, each in its own transaction; the output says which, which failed, and what is applied."""
    loyaltydb.migrate(empty_dsn)
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        conn.execute("CREATE VIEW public.dba_report AS SELECT id, name FROM loyalty.users")
    completed = run_cli("--dsn", empty_dsn, "rollback", "--all", "--yes", "--json")
    assert completed.returncode == 1 and "Traceback" not in completed.stderr, completed.stderr
    outcome = json.loads(completed.stdout)
    applied = [state.id for state in loyaltydb.status(empty_dsn) if state.applied]
    assert outcome["applied"] == list(reversed(applied)) and outcome["failed"]["id"] == applied[-1]
    assert "dba_report" in outcome["failed"]["error"]
    assert outcome["rolled_back"] and outcome["failed"]["id"] not in outcome["rolled_back"]
    last_line = completed.stderr.strip().splitlines()[-1]
    assert last_line.startswith(f"loyaltydb: rolling back {outcome['failed']['id']} failed")
    undone = outcome["rolled_back"]
    assert f"rolled back before it: {len(undone)} ({undone[0]} to {undone[-1]});" in last_line


def test_every_example_of_the_sql_reference_runs_as_pasted(dsn: str, pg_server: TempServer) -> None:
    """Every example of docs/sql.md, in order, pasted into psql after the README's quickstart
    block: each runs (no placeholder, no ``$1``), and John's card ends as they say."""
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    quickstart = readme.split("<!-- psql block: tests/test_operators.py runs it -->\n```sql\n", 1)[1].split("```", 1)[0]
    reference = (root / "docs" / "sql.md").read_text()
    # Every example of the page, from its first section on, in order (issue 30: all run as pasted).
    blocks = re.findall(r"```sql\n(.*?)```", reference.split("\n## Enrollment\n", 1)[1], flags=re.DOTALL)
    assert len(blocks) >= 50
    psql = shutil.which("psql") or str(pg_server.bindir / "psql")
    completed = subprocess.run(
        [psql, "-X", "-v", "ON_ERROR_STOP=1", dsn],
        input=quickstart + "".join(blocks),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    with psycopg.connect(dsn) as conn:
        (card,) = loyaltydb.customer_cards(conn, 32)
        # The README's 10, then these (a redemption fulfilled, another cancelled and refunded).
        assert card.points_balance == 10 + 50 - 20 - 5 + 20 + 5 + 7 - 15 - 20
        assert card.status == "INACTIVE"  # it left the program last
        assert loyaltydb.verify_points(conn) == []
