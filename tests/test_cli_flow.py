"""The flow's subcommands through the real console script: invite, invitations, accept, decline,
notifications and expire, with --json and one-sentence errors."""

from __future__ import annotations

import json
from typing import Any

import psycopg
from test_cli import assert_user_error, run_cli

import loyaltydb
from helpers import World


def test_a_business_invites_and_the_customer_accepts_from_the_command_line(
    dsn: str, db: psycopg.Connection[Any], world: World
) -> None:
    invited = run_cli(
        "--dsn", dsn, "invite", "--business-id", "7", "--customer-id", "32", "--program-id", str(world.coffee_club),
        "--json",
    )  # fmt: skip
    assert invited.returncode == 0, invited.stderr
    invitation = json.loads(invited.stdout)["request_id"]
    listed = run_cli("--dsn", dsn, "invitations", "--customer-id", "32")
    assert invitation in listed.stdout and "'Bean There Coffee' program" in listed.stdout
    accepted = run_cli("--dsn", dsn, "accept", invitation, "--customer-id", "32", "--json")
    assert accepted.returncode == 0, accepted.stderr
    assert json.loads(accepted.stdout)["status"] == "APPROVED"
    feed = run_cli("--dsn", dsn, "notifications", "--business-id", "7", "--unread")
    assert "CUSTOMER_JOINED (unread)  John Smith has joined your Coffee Club loyalty program" in feed.stdout
    assert (
        "no pending invitations for customer 32" in run_cli("--dsn", dsn, "invitations", "--customer-id", "32").stdout
    )


def test_decline_and_the_wrong_side_say_one_sentence(dsn: str, db: psycopg.Connection[Any], world: World) -> None:
    invited = run_cli(
        "--dsn", dsn, "invite", "--business-id", "7", "--customer-id", "32", "--program-id", str(world.coffee_club)
    )  # fmt: skip
    invitation = invited.stdout.strip()
    assert_user_error(run_cli("--dsn", dsn, "approve", invitation, "--business-id", "7"), "it is an invitation")
    assert_user_error(run_cli("--dsn", dsn, "accept", invitation, "--customer-id", "40"), "another customer")
    assert_user_error(run_cli("--dsn", dsn, "accept", "not-a-uuid", "--customer-id", "32"), "ID must be a UUID")
    declined = run_cli("--dsn", dsn, "decline", invitation, "--customer-id", "32", "--reason", "Not for me")
    assert declined.returncode == 0 and "REJECTED" in declined.stdout, declined.stderr
    feed = json.loads(run_cli("--dsn", dsn, "notifications", "--business-id", "7", "--json").stdout)
    assert [note["type"] for note in feed] == ["INVITATION_DECLINED"]


def test_expire_marks_overdue_rows_and_says_how_many(dsn: str, db: psycopg.Connection[Any], world: World) -> None:
    for _ in range(3):
        db.execute(
            "INSERT INTO loyalty.customer_approval_requests (customer_id, program_id, business_id, expires_at)"
            " VALUES (32, %s, 7, now() - interval '1 minute')",
            (world.coffee_club,),
        )
    db.commit()
    swept = run_cli("--dsn", dsn, "expire")
    assert swept.returncode == 0, swept.stderr
    assert swept.stdout.strip() == "expired 3 overdue requests and invitations, and 0 overdue credits of points"
    assert json.loads(run_cli("--dsn", dsn, "expire", "--json").stdout) == {"expired": 0, "points_expired": 0}
    help_text = run_cli("expire", "--help").stdout
    assert "example:" in help_text and "cron" in help_text


def test_arguments_out_of_range_are_refused_by_name_before_connecting() -> None:
    """A number past bigint, or a page past 1,000, is argparse's error naming the argument; the
    DSN points nowhere, so a connection would have failed instead (issue 30)."""
    nowhere = "postgresql://nobody@127.0.0.1:1/none"
    big = run_cli("--dsn", nowhere, "pending", "--business-id", "99999999999999999999")
    assert big.returncode == 2 and "argument --business-id: want a whole number from" in big.stderr
    page = run_cli("--dsn", nowhere, "pending", "--business-id", "7", "--limit", "5000")
    assert page.returncode == 2 and "argument --limit: want a whole number from 1 to 1000" in page.stderr
    feed = run_cli("--dsn", nowhere, "notifications", "--customer-id", "32", "--limit", "1001")
    assert feed.returncode == 2 and "argument --limit" in feed.stderr


def test_a_feed_page_before_an_unknown_notification_names_no_python_keyword(dsn: str, world: World) -> None:
    unknown = "00000000-0000-4000-8000-000000000001"
    completed = run_cli("--dsn", dsn, "notifications", "--customer-id", "32", "--before", unknown)
    assert_user_error(completed, f"the page starts before notification {unknown}")
    assert "before=" not in completed.stderr


def test_mark_read_marks_its_own_notifications(db: psycopg.Connection[Any], dsn: str, world: World) -> None:
    invitation = loyaltydb.invite_customer(db, world.business_id, 32, world.coffee_club)
    (note,) = loyaltydb.customer_notifications(db, 32)
    assert not note.is_read and invitation
    other = run_cli("--dsn", dsn, "mark-read", str(note.id), "--customer-id", "40", "--json")
    assert json.loads(other.stdout) == {"marked": 0}  # another customer's id is left alone
    mine = run_cli("--dsn", dsn, "mark-read", str(note.id), "--customer-id", "32")
    assert mine.returncode == 0 and "marked 1 notification(s) read" in mine.stdout
    assert loyaltydb.customer_notifications(db, 32)[0].is_read
    assert_user_error(run_cli("--dsn", dsn, "mark-read", "nope", "--customer-id", "32"), "must be a UUID")


def test_status_check_says_up_to_date_in_one_line(dsn: str) -> None:
    checked = run_cli("--dsn", dsn, "status", "--check")
    assert checked.returncode == 0
    assert checked.stdout.strip().startswith("up to date: all ") and len(checked.stdout.strip().splitlines()) == 1
    assert "applied  0001_schema" in run_cli("--dsn", dsn, "status").stdout


def test_events_tail_and_prune_help_say_what_they_do_with_an_example() -> None:
    for action in ("tail", "prune"):
        shown = run_cli("events", action, "--help")
        assert shown.returncode == 0 and "example: loyaltydb events " + action in shown.stdout
