"""The flow's subcommands through the real console script: invite, invitations, accept, decline,
notifications and expire, with --json and one-sentence errors."""

from __future__ import annotations

import json
from typing import Any

import psycopg
from test_cli import assert_user_error, run_cli

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
    assert_user_error(run_cli("--dsn", dsn, "accept", "not-a-uuid", "--customer-id", "32"), "ID must be a request id")
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
    assert swept.stdout.strip() == "expired 3 overdue requests and invitations"
    assert json.loads(run_cli("--dsn", dsn, "expire", "--json").stdout) == {"expired": 0}
    help_text = run_cli("expire", "--help").stdout
    assert "example:" in help_text and "cron" in help_text
