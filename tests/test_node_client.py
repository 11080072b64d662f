"""A real client no one here wrote: node-postgres, as a login role granted loyalty_app, runs every
documented SQL call with untyped parameters ($1, $2, ... as node-postgres sends them) and sees
the errors' SQLSTATEs. Needs node and ``npm ci --prefix tests/node`` (``.ci/run`` does both);
under CI a missing one fails the test, locally it skips."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

import loyaltydb
from helpers import World, add_program, add_user

NODE_DIR = Path(__file__).resolve().parent / "node"
ROLE = "node_service"


def _node() -> str:
    node = shutil.which("node")
    if node and (NODE_DIR / "node_modules" / "pg").is_dir():
        return node
    message = "node and node-postgres are needed: install Node.js, then `npm ci --prefix tests/node`"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _run(dsn: str, calls: list[dict[str, Any]], role: str = ROLE) -> dict[str, dict[str, Any]]:
    """Run ``calls`` through node-postgres as ``role``; the outcome of each, by name."""
    completed = subprocess.run(
        [_node(), str(NODE_DIR / "run_calls.mjs")],
        input=json.dumps(calls),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "LOYALTYDB_TEST_DSN": _url(dsn, role)},
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    outcomes = [json.loads(line) for line in completed.stdout.splitlines()]
    assert [outcome["name"] for outcome in outcomes] == [call["name"] for call in calls]
    return {outcome["name"]: outcome for outcome in outcomes}


def _url(dsn: str, role: str = ROLE) -> str:
    """The DSN as a URL for node-postgres (it reads no libpq keywords), as ``role`` (by default
    the service's)."""
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    return f"postgresql://{role}@{params['host']}:{params['port']}/{params['dbname']}"


def _call(name: str, sql: str, *params: object) -> dict[str, Any]:
    return {"name": name, "sql": sql, "params": [str(p) if isinstance(p, uuid.UUID) else p for p in params]}


@pytest.mark.both_modes
def test_node_postgres_runs_every_documented_call_with_untyped_parameters(
    db: psycopg.Connection[Any], dsn: str, world: World, mode: str
) -> None:
    db.execute(f"DO $$ BEGIN CREATE ROLE {ROLE} LOGIN; EXCEPTION WHEN duplicate_object THEN END $$")
    db.execute(f"GRANT loyalty_app TO {ROLE}")
    db.commit()
    add_user(db, 41, "Grace Hopper", None)
    add_user(db, 42, None, "alan.turing@example.com")
    closed = add_program(db, world.business_id, "Closed Club", status="INACTIVE")
    db.commit()
    # Requests made beforehand (as the service's superuser would not: they go through the API).
    approve, replay, reject, legacy, decide, bulk_a, bulk_b, rejected, other = (
        loyaltydb.request_enrollment(db, customer, program)
        for customer, program in [
            (41, world.coffee_club),
            (41, world.tea_club),
            (32, world.tea_club),
            (42, world.coffee_club),
            (42, world.tea_club),
            (40, world.coffee_club),
            (40, world.tea_club),
            (41, world.bakery_club),
            (32, world.bakery_club),
        ]
    )
    loyaltydb.reject_enrollment(db, rejected)
    calls = [
        _call("request", "SELECT loyalty.request_enrollment($1, $2) AS id", 32, world.coffee_club),
        _call("with message", "SELECT loyalty.request_enrollment($1, $2, $3) AS id", 42, world.bakery_club, "Hi!"),
        _call("inbox", "SELECT * FROM loyalty.pending_requests($1)", world.business_id),
        _call("inbox page", "SELECT * FROM loyalty.pending_requests($1, $2, $3)", world.business_id, 2, None),
        _call("approve", "SELECT * FROM loyalty.process_enrollment_approval($1)", approve),
        _call("replay", "SELECT * FROM loyalty.process_enrollment_approval($1, $2)", approve, True),
        _call("approve as business", "SELECT * FROM loyalty.approve_enrollment($1, $2)", replay, world.business_id),
        _call("reject", "SELECT * FROM loyalty.reject_enrollment($1, $2, $3)", reject, "Full", world.business_id),
        _call("legacy", "SELECT loyalty.process_enrollment_approval($1, $2, $3) AS c", 42, world.coffee_club, legacy),
        _call("decide", "SELECT * FROM loyalty.decide_enrollment($1, $2, $3, $4, $5)", 42, decide, True, None, None),
        _call("bulk", "SELECT * FROM loyalty.process_enrollment_approvals($1)", [str(bulk_a), str(bulk_b)]),
        _call("bulk as business", "SELECT * FROM loyalty.process_enrollment_approvals($1, $2)", [str(bulk_a)], 7),
        _call("cards", "SELECT * FROM loyalty.customer_cards($1)", 41),
        _call("ensure", "SELECT * FROM loyalty.ensure_customer($1)", 32),
        _call("ensure exists", "SELECT loyalty.ensure_customer_exists($1) AS id", 32),
        _call("LY001", "SELECT * FROM loyalty.process_enrollment_approval($1)", uuid.uuid4()),
        _call("LY002", "SELECT * FROM loyalty.approve_enrollment($1)", rejected),
        _call("LY003", "SELECT loyalty.request_enrollment($1, $2)", 999, world.coffee_club),
        _call("LY004", "SELECT loyalty.request_enrollment($1, $2)", 32, 999),
        _call("LY005", "SELECT loyalty.request_enrollment($1, $2)", 32, closed),
        _call("LY006", "SELECT * FROM loyalty.approve_enrollment($1, $2)", other, world.business_id),
        _call("LY008", "SELECT * FROM loyalty.reject_enrollment($1, $2)", other, "x" * 1001),
        _call("22P02", "SELECT * FROM loyalty.process_enrollment_approval($1)", "not-a-uuid"),
        _call("42501", "INSERT INTO loyalty.users (id, name) VALUES ($1, $2)", 99, "Mallory"),
        _call("still usable", "SELECT count(*) AS n FROM loyalty.customer_cards($1)", 42),
    ]
    if mode == "cluster":
        add_user(db, 10**11, "Too Big", None)
        db.commit()
        big = loyaltydb.request_enrollment(db, 10**11, world.coffee_club)
        calls.append(_call("LY007", "SELECT * FROM loyalty.process_enrollment_approval($1)", big))
    out = _run(dsn, calls)

    assert uuid.UUID(out["request"]["rows"][0]["id"])
    assert uuid.UUID(out["with message"]["rows"][0]["id"])
    approved = out["approve"]["rows"][0]
    assert approved["status"] == "APPROVED" and approved["customer_created"] is True
    assert approved["customer_id"] == "41"  # bigint ids reach node as strings
    assert out["replay"]["rows"] == out["approve"]["rows"]
    assert out["approve as business"]["rows"][0]["status"] == "APPROVED"
    assert out["reject"]["rows"][0]["status"] == "REJECTED" and out["reject"]["rows"][0]["card_id"] is None
    assert int(out["legacy"]["rows"][0]["c"]) > 0
    assert out["decide"]["rows"][0]["status"] == "APPROVED"
    assert [row["request_id"] for row in out["bulk"]["rows"]] == [str(bulk_a), str(bulk_b)]
    assert out["bulk as business"]["rows"][0] == out["bulk"]["rows"][0]
    assert {row["program_name"] for row in out["cards"]["rows"]} == {"Coffee Club", "Tea Club"}
    assert out["ensure"]["rows"][0]["name"] == "John Smith"
    assert out["ensure exists"]["rows"][0]["id"] == "32"
    inbox = out["inbox"]["rows"]
    assert inbox and all(row["request_id"] and row["customer_name"] for row in inbox)
    assert out["inbox page"]["rows"] == inbox[:2]
    for code in ["LY001", "LY002", "LY003", "LY004", "LY005", "LY006", "LY008", "22P02", "42501"]:
        assert out[code].get("error", {}).get("code") == code, (code, out[code])
    assert "Closed Club" in out["LY005"]["error"]["message"]
    assert out["still usable"]["rows"] == [{"n": "2"}]
    if mode == "cluster":
        assert out["LY007"]["error"]["code"] == "LY007"
    # Nothing half-done by the errors: the rejected request and the other business's are as they were.
    with psycopg.connect(dsn) as conn:
        statuses: dict[str, str] = dict(
            conn.execute(
                "SELECT id::text, status FROM loyalty.customer_approval_requests WHERE id = ANY(%s)",
                ([rejected, other],),
            ).fetchall()
        )
    assert statuses == {str(rejected): "REJECTED", str(other): "PENDING"}


@pytest.mark.both_modes
def test_node_postgres_runs_the_invitation_flow_with_untyped_parameters(
    db: psycopg.Connection[Any], dsn: str, world: World
) -> None:
    """The flow's SQL functions (0021) as a node service calls them: every one with untyped
    parameters, as a login granted loyalty_app, and their errors by SQLSTATE."""
    db.execute(f"DO $$ BEGIN CREATE ROLE {ROLE} LOGIN; EXCEPTION WHEN duplicate_object THEN END $$")
    db.execute(f"GRANT loyalty_app TO {ROLE}")
    db.execute("UPDATE loyalty.loyalty_programs SET welcome_points = 30 WHERE id = %s", (world.coffee_club,))
    db.commit()
    accept = loyaltydb.invite_customer(db, world.business_id, 32, world.coffee_club)
    decline = loyaltydb.invite_customer(db, world.business_id, 40, world.tea_club)
    overdue = loyaltydb.invite_customer(db, world.business_id, 40, world.coffee_club)
    db.execute(
        "UPDATE loyalty.customer_approval_requests SET expires_at = now() - interval '1 s' WHERE id = %s", (overdue,)
    )
    db.commit()
    calls = [
        _call("invite", "SELECT loyalty.invite_customer($1, $2, $3) AS id", world.business_id, 32, world.tea_club),
        _call("invite again", "SELECT loyalty.invite_customer($1, $2, $3, $4) AS id", 7, 32, world.tea_club, "Hi"),
        _call("invitations", "SELECT * FROM loyalty.pending_invitations($1)", 32),
        _call("invitations page", "SELECT * FROM loyalty.pending_invitations($1, $2, $3)", 32, 1, None),
        _call("accept", "SELECT * FROM loyalty.accept_invitation($1, $2)", accept, 32),
        _call("decline", "SELECT * FROM loyalty.decline_invitation($1, $2, $3)", decline, 40, "No thanks"),
        _call("customer feed", "SELECT * FROM loyalty.customer_notifications($1)", 32),
        _call("customer unread", "SELECT * FROM loyalty.customer_notifications($1, $2, $3, $4)", 32, True, 10, None),
        _call("business feed", "SELECT * FROM loyalty.business_notifications($1)", world.business_id),
        _call("LY009", "SELECT * FROM loyalty.accept_invitation($1, $2)", overdue, 40),
        _call("LY006", "SELECT * FROM loyalty.approve_enrollment($1, $2)", accept, world.business_id),
        _call("LY010", "SELECT loyalty.invite_customer($1, $2, $3, $4)", 7, 40, world.tea_club, "x" * 1001),
        _call("22023", "SELECT loyalty.mark_notifications_read($1)", []),
        _call("expire", "SELECT loyalty.expire_requests() AS n"),
        _call("expire batch", "SELECT loyalty.expire_requests($1) AS n", 10),
    ]
    out = _run(dsn, calls)
    assert out["invite"]["rows"] == out["invite again"]["rows"]
    assert {row["program_name"] for row in out["invitations"]["rows"]} == {"Coffee Club", "Tea Club"}
    assert len(out["invitations page"]["rows"]) == 1
    assert out["accept"]["rows"][0]["status"] == "APPROVED" and out["accept"]["rows"][0]["customer_id"] == "32"
    assert out["decline"]["rows"][0]["status"] == "REJECTED"
    feed = out["customer feed"]["rows"]
    assert {row["type"] for row in feed} == {"ENROLLMENT_INVITATION", "CARD_CREATED"}
    card_note = next(row for row in feed if row["type"] == "CARD_CREATED")
    assert card_note["data"]["welcome_points"] == 30  # jsonb reaches node parsed
    assert len(out["customer unread"]["rows"]) == len(feed)
    told = {row["type"] for row in out["business feed"]["rows"]}
    assert told == {"CUSTOMER_JOINED", "INVITATION_DECLINED"}
    for code in ["LY009", "LY006", "LY010", "22023"]:
        assert out[code].get("error", {}).get("code") == code, (code, out[code])
    assert out["expire"]["rows"] == [{"n": 1}] and out["expire batch"]["rows"] == [{"n": 0}]
    # Marking read, with the ids node got back as strings.
    ids = [row["id"] for row in feed]
    marked = _run(dsn, [_call("mark", "SELECT loyalty.mark_notifications_read($1, $2) AS n", ids, 32)])
    assert marked["mark"]["rows"] == [{"n": len(ids)}] and len(ids) == 3  # two invitations and a card


@pytest.mark.both_modes
def test_node_postgres_finds_cards_and_consumes_events_with_untyped_parameters(
    db: psycopg.Connection[Any], dsn: str, world: World, mode: str
) -> None:
    """find_card (0024) and the events functions (0026, 0027) as a node service calls them, as a login
    granted loyalty_app: untyped parameters, an array of ids; on both kinds of database."""
    db.execute(f"DO $$ BEGIN CREATE ROLE {ROLE} LOGIN; EXCEPTION WHEN duplicate_object THEN END $$")
    db.execute(f"GRANT loyalty_app TO {ROLE}")
    db.commit()
    card = loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, 32, world.coffee_club))
    first = _run(dsn, [_call("register", "SELECT * FROM loyalty.fetch_events($1)", "node-mailer")])
    assert first["register"]["rows"] == []
    loyaltydb.request_enrollment(db, 32, world.tea_club)
    out = _run(
        dsn,
        [
            _call("find", "SELECT id, program_name FROM loyalty.find_card($1)", card.card_number),
            _call("find none", "SELECT * FROM loyalty.find_card($1)", "GC-000000-C"),
            _call("fetch", "SELECT * FROM loyalty.fetch_events($1, $2, $3)", "node-mailer", 10, 30),
            _call("prune", "SELECT loyalty.prune_events($1) AS n", "0 seconds"),
            # Around a LISTEN sleep: how long to wait (0: events came since the session's last wait).
            _call("wait new", "SELECT loyalty.begin_events_wait($1) AS w", 0.5),
            _call("wait none", "SELECT loyalty.begin_events_wait($1) AS w", 0.5),
            _call("end", "SELECT loyalty.end_events_wait()"),
        ],
    )
    assert out["find"]["rows"] == [{"id": str(card.card_id), "program_name": "Coffee Club"}]
    assert out["find none"]["rows"] == []
    fetched = out["fetch"]["rows"]
    assert [row["type"] for row in fetched] == ["enrollment.requested"]
    acked = _run(dsn, [_call("ack", "SELECT loyalty.ack_events($1, $2) AS n", "node-mailer", [fetched[0]["id"]])])
    assert acked["ack"]["rows"] == [{"n": 1}]
    # The approval's 4 events came before node-mailer registered: acked by every consumer
    # there is. The request it fetched was still held then, so it stayed.
    assert out["prune"]["rows"] == [{"n": 4}]
    # One server: sleep on a NOTIFY for the whole timeout; a cluster polls every half second.
    expected = ([{"w": 0}], [{"w": 0.5}]) if mode == "single" else ([{"w": 0.5}], [{"w": 0.5}])
    assert (out["wait new"]["rows"], out["wait none"]["rows"]) == expected


@pytest.mark.both_modes
def test_node_postgres_runs_the_points_ledger_with_untyped_parameters(
    db: psycopg.Connection[Any], dsn: str, world: World
) -> None:
    """The ledger's SQL functions (0032) as a node service calls them, untyped, as a login
    granted loyalty_app: the writers, a replay, the batch (arrays), the history and the check,
    and every refusal by its SQLSTATE."""
    db.execute(f"DO $$ BEGIN CREATE ROLE {ROLE} LOGIN; EXCEPTION WHEN duplicate_object THEN END $$")
    db.execute(f"GRANT loyalty_app TO {ROLE}")
    db.commit()
    loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, 32, world.coffee_club))
    club = world.coffee_club
    calls = [
        _call("earn", "SELECT * FROM loyalty.earn_points($1, $2, $3, $4)", 32, club, 50, "n-1"),
        _call("earn full", "SELECT * FROM loyalty.earn_points($1, $2, $3, $4, $5, $6)", 32, club, 5, "n-2", 7, "R-9"),
        _call("replay", "SELECT * FROM loyalty.earn_points($1, $2, $3, $4)", 32, club, 50, "n-1"),
        _call("spend", "SELECT * FROM loyalty.spend_points($1, $2, $3, $4)", 32, club, 20, "n-3"),
        _call("adjust", "SELECT * FROM loyalty.adjust_points($1, $2, $3, $4, $5)", 32, club, -1, "n-4", "fix"),
        _call("batch", "SELECT * FROM loyalty.earn_points_batch($1, $2, $3, $4)", [32, 32], [club, club], [1, 2],
              ["n-5", "n-6"]),
        _call("history", "SELECT * FROM loyalty.card_transactions($1, $2)", 32, club),
        _call("history page", "SELECT * FROM loyalty.card_transactions($1, $2, $3, $4)", 32, club, 2, None),
        _call("verify", "SELECT * FROM loyalty.verify_points()"),
        _call("LY011", "SELECT * FROM loyalty.spend_points($1, $2, $3, $4)", 32, club, 10**6, "n-7"),
        _call("LY012", "SELECT * FROM loyalty.earn_points($1, $2, $3, $4)", 32, world.tea_club, 1, "n-8"),
        _call("LY014", "SELECT * FROM loyalty.earn_points($1, $2, $3, $4)", 32, club, 51, "n-1"),
        _call("LY020", "SELECT * FROM loyalty.reverse_points($1, $2, $3)", 40, 1, "n-9"),
        _call("LY006", "SELECT * FROM loyalty.earn_points($1, $2, $3, $4, $5)", 32, club, 1, "n-10", 8),
        _call("22023", "SELECT * FROM loyalty.earn_points($1, $2, $3, $4)", 32, club, 0, "n-11"),
    ]  # fmt: skip
    out = _run(dsn, calls)
    earned = out["earn"]["rows"][0]
    assert (earned["points"], earned["balance_after"], earned["replayed"]) == (50, 50, False)
    assert out["replay"]["rows"][0] == {**earned, "replayed": True}
    assert out["spend"]["rows"][0]["balance_after"] == 35
    assert [row["balance_after"] for row in out["batch"]["rows"]] == [35, 37]
    undo = _run(dsn, [_call("reverse", "SELECT * FROM loyalty.reverse_points($1, $2, $3)", 32,
                            out["spend"]["rows"][0]["transaction_id"], "n-12")])  # fmt: skip
    assert undo["reverse"]["rows"][0]["balance_after"] == 57
    assert [row["reason"] for row in out["history"]["rows"]][:2] == ["EARN", "EARN"]
    assert len(out["history page"]["rows"]) == 2
    assert out["verify"]["rows"] == []
    for state in ("LY011", "LY012", "LY014", "LY020", "LY006", "22023"):
        assert out[state]["error"]["code"] == state, out[state]


@pytest.mark.both_modes
def test_node_postgres_runs_the_card_lifecycle_with_untyped_parameters(
    db: psycopg.Connection[Any], dsn: str, world: World
) -> None:
    db.execute(f"DO $$ BEGIN CREATE ROLE {ROLE} LOGIN; EXCEPTION WHEN duplicate_object THEN END $$")
    db.execute(f"GRANT loyalty_app TO {ROLE}")
    db.commit()
    loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, 32, world.coffee_club))
    club = world.coffee_club
    out = _run(
        dsn,
        [
            _call("block", "SELECT * FROM loyalty.block_card($1, $2, $3)", 32, club, "lost"),
            _call("block as business", "SELECT * FROM loyalty.block_card($1, $2, $3, $4)", 32, club, None, 7),
            _call("unblock", "SELECT * FROM loyalty.unblock_card($1, $2, $3)", 32, club, None),
            _call("replace", "SELECT * FROM loyalty.replace_card($1, $2)", 32, club),
            _call("replace as business", "SELECT * FROM loyalty.replace_card($1, $2, $3)", 32, club, 7),
            _call("leave", "SELECT * FROM loyalty.leave_program($1, $2)", 32, club),
            _call("LY012", "SELECT * FROM loyalty.leave_program($1, $2)", 32, world.tea_club),
            _call("LY006", "SELECT * FROM loyalty.replace_card($1, $2, $3)", 32, club, 8),
        ],
    )
    assert out["block"]["rows"][0]["status"] == "BLOCKED"
    assert out["unblock"]["rows"][0]["status"] == "ACTIVE"
    assert out["replace"]["rows"][0]["card_number"] != out["block"]["rows"][0]["card_number"]
    assert out["leave"]["rows"][0]["status"] == "INACTIVE"
    for state in ("LY012", "LY006"):
        assert out[state]["error"]["code"] == state, out[state]


@pytest.mark.both_modes
def test_node_postgres_asks_and_answers_deductions_with_untyped_parameters(
    db: psycopg.Connection[Any], dsn: str, world: World
) -> None:
    db.execute(f"DO $$ BEGIN CREATE ROLE {ROLE} LOGIN; EXCEPTION WHEN duplicate_object THEN END $$")
    db.execute(f"GRANT loyalty_app TO {ROLE}")
    db.commit()
    loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, 32, world.coffee_club))
    loyaltydb.earn_points(db, 32, world.coffee_club, 50, idempotency_key="start")
    asked = _run(dsn, [_call("ask", "SELECT loyalty.request_points_deduction($1, $2, $3, $4, $5) AS id", 7, 32,
                             world.coffee_club, 20, "a refund")])["ask"]["rows"][0]["id"]  # fmt: skip
    out = _run(
        dsn,
        [
            _call("yes", "SELECT * FROM loyalty.answer_points_deduction($1, $2, $3)", asked, 32, True),
            _call("again", "SELECT * FROM loyalty.answer_points_deduction($1, $2, $3)", asked, 32, "true"),
            _call("LY002", "SELECT * FROM loyalty.answer_points_deduction($1, $2, $3)", asked, 32, False),
            _call("LY006", "SELECT * FROM loyalty.answer_points_deduction($1, $2, $3)", asked, 40, True),
        ],
    )
    assert (out["yes"]["rows"][0]["points"], out["yes"]["rows"][0]["balance_after"]) == (-20, 30)
    assert out["again"]["rows"][0]["replayed"] is True
    for state in ("LY002", "LY006"):
        assert out[state]["error"]["code"] == state, out[state]


@pytest.mark.both_modes
def test_node_postgres_writes_users_and_programs_and_sweeps_points_with_untyped_parameters(
    db: psycopg.Connection[Any], dsn: str
) -> None:
    """A node service's login writes its users and programs (0037) and runs the points sweep
    (0036) with untyped parameters; intervals travel as text."""
    db.execute(f"DO $$ BEGIN CREATE ROLE {ROLE} LOGIN; EXCEPTION WHEN duplicate_object THEN END $$")
    db.execute(f"GRANT loyalty_app TO {ROLE}")
    db.commit()
    made = _run(
        dsn,
        [
            _call("business", "SELECT loyalty.upsert_user($1, $2, $3) AS id", 7, "Bean There Coffee", None),
            _call("user", "SELECT loyalty.upsert_user($1, $2, $3) AS id", 32, None, "john.smith@example.com"),
            _call("program", "SELECT loyalty.create_program($1, $2) AS id", 7, "Coffee Club"),
            _call("program ttl", "SELECT loyalty.create_program($1, $2, $3, $4, $5) AS id", 7, "Tea Time", 5,
                  "3 days", "365 days"),
            _call("LY003", "SELECT loyalty.create_program($1, $2) AS id", 99, "Nobody's"),
        ],
    )  # fmt: skip
    program = made["program ttl"]["rows"][0]["id"]
    out = _run(
        dsn,
        [
            _call("status", "SELECT loyalty.set_program_status($1, $2, $3) AS s", 7, program, "INACTIVE"),
            _call("LY006", "SELECT loyalty.set_program_status($1, $2, $3) AS s", 32, program, "ACTIVE"),
            _call("sweep", "SELECT loyalty.expire_points() AS n"),
            _call("sweep batch", "SELECT loyalty.expire_points($1) AS n", 10),
        ],
    )
    assert made["user"]["rows"][0]["id"] == "32" and made["LY003"]["error"]["code"] == "LY003"
    assert out["status"]["rows"] == [{"s": "INACTIVE"}] and out["LY006"]["error"]["code"] == "LY006"
    assert out["sweep"]["rows"] == [{"n": 0}] and out["sweep batch"]["rows"] == [{"n": 0}]
    ttl = db.execute("SELECT points_ttl FROM loyalty.loyalty_programs WHERE id = %s", (program,)).fetchone()
    db.commit()
    assert ttl is not None and str(ttl[0]) == "365 days, 0:00:00"


@pytest.mark.both_modes
def test_node_postgres_follows_and_manages_consumers_with_untyped_parameters(
    db: psycopg.Connection[Any], dsn: str, world: World
) -> None:
    """0031's calls as a node service makes them: tail_events (an observer), event_consumer_status,
    drop_event_consumer."""
    db.execute(f"DO $$ BEGIN CREATE ROLE {ROLE} LOGIN; EXCEPTION WHEN duplicate_object THEN END $$")
    db.execute(f"GRANT loyalty_app TO {ROLE}")
    db.commit()
    start = _run(dsn, [_call("position", "SELECT next_position FROM loyalty.tail_events($1)", None),
                       _call("register", "SELECT count(*) AS n FROM loyalty.fetch_events($1)", "mailr")])  # fmt: skip
    position = start["position"]["rows"][0]["next_position"]
    loyaltydb.request_enrollment(db, 32, world.coffee_club)
    out = _run(
        dsn,
        [
            _call("tail", "SELECT type FROM loyalty.tail_events($1) WHERE id IS NOT NULL", position),
            _call("status", "SELECT consumer FROM loyalty.event_consumer_status()"),
            _call("drop", "SELECT loyalty.drop_event_consumer($1) AS dropped", "mailr"),
            _call("again", "SELECT loyalty.drop_event_consumer($1) AS dropped", "mailr"),
        ],
    )
    assert [row["type"] for row in out["tail"]["rows"]] == ["enrollment.requested"]
    assert out["status"]["rows"] == [{"consumer": "mailr"}]
    assert (out["drop"]["rows"], out["again"]["rows"]) == ([{"dropped": True}], [{"dropped": False}])


@pytest.mark.both_modes
def test_node_postgres_redeems_fulfils_and_cancels_with_untyped_parameters(
    db: psycopg.Connection[Any], dsn: str, world: World
) -> None:
    db.execute(f"DO $$ BEGIN CREATE ROLE {ROLE} LOGIN; EXCEPTION WHEN duplicate_object THEN END $$")
    db.execute(f"GRANT loyalty_app TO {ROLE}")
    db.commit()
    loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, 32, world.coffee_club))
    loyaltydb.earn_points(db, 32, world.coffee_club, 100, idempotency_key="start")
    made = _run(
        dsn,
        [
            _call("create", "SELECT loyalty.create_reward($1, $2, $3, $4, $5) AS id", 7, world.coffee_club,
                  "Free coffee", 30, 2),
            _call("list", "SELECT * FROM loyalty.program_rewards($1)", world.coffee_club),
        ],
    )  # fmt: skip
    reward = made["create"]["rows"][0]["id"]
    assert [(r["name"], r["stock"]) for r in made["list"]["rows"]] == [("Free coffee", 2)]
    redeem = "SELECT * FROM loyalty.redeem_reward($1, $2, $3)"
    first = _run(dsn, [_call("redeem", redeem, 32, reward, "r-1")])["redeem"]["rows"][0]
    second = _run(dsn, [_call("redeem", redeem, 32, reward, "r-2")])["redeem"]["rows"][0]
    out = _run(
        dsn,
        [
            _call("again", redeem, 32, reward, "r-1"),
            _call("LY017", redeem, 32, reward, "r-3"),  # two in stock, both taken
            _call("fulfil", "SELECT * FROM loyalty.fulfil_redemption($1, $2)", 7, first["code"].lower()),
            _call("cancel", "SELECT * FROM loyalty.cancel_redemption($1, $2, $3)", 32, second["redemption_id"], None),
            _call("LY018", "SELECT * FROM loyalty.cancel_redemption($1, $2)", 32, first["redemption_id"]),
            _call("LY021", "SELECT * FROM loyalty.fulfil_redemption($1, $2)", 8, first["code"]),
            _call("update", "SELECT * FROM loyalty.update_reward($1, $2, $3, $4, $5)", 7, reward, "INACTIVE",
                  None, None),
        ],
    )  # fmt: skip
    assert (first["points"], first["balance_after"], second["balance_after"]) == (30, 70, 40)
    assert out["again"]["rows"][0]["replayed"] is True
    assert out["fulfil"]["rows"][0]["status"] == "FULFILLED"
    assert out["cancel"]["rows"][0]["status"] == "CANCELLED"
    assert (out["update"]["rows"][0]["status"], out["update"]["rows"][0]["stock"]) == ("INACTIVE", 1)
    for state in ("LY017", "LY018", "LY021"):
        assert out[state]["error"]["code"] == state, out[state]
    assert loyaltydb.customer_cards(db, 32)[0].points_balance == 70


def test_postgres_js_runs_the_flow_and_its_two_traps_are_as_documented(
    db: psycopg.Connection[Any], dsn: str, world: World
) -> None:
    """postgres.js 3 (the replaced system's `sql` tagged template) as a loyalty_app login:
    booleans and ids as JS values work; the two traps docs/sql.md warns about are real: the
    string 'true' for a boolean is sent as false (an approval becomes a rejection), and
    sql.array() sends text[], which no function takes (42883) until cast."""
    _node()
    if not (NODE_DIR / "node_modules" / "postgres").is_dir():
        message = "postgres.js is needed: `npm ci --prefix tests/node`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    db.execute(f"DO $$ BEGIN CREATE ROLE {ROLE} LOGIN; EXCEPTION WHEN duplicate_object THEN END $$")
    db.execute(f"GRANT loyalty_app TO {ROLE}")
    users = {"approve": 32, "string_true": 60, "string_as_text": 61}
    for user in (60, 61, 62, 63):
        add_user(db, user, f"User {user}", None)
    db.commit()
    requests: dict[str, Any] = {
        name: str(loyaltydb.request_enrollment(db, user, world.coffee_club)) for name, user in users.items()
    }
    requests["batch"] = [str(loyaltydb.request_enrollment(db, user, world.coffee_club)) for user in (62, 63)]
    completed = subprocess.run(
        [_node(), str(NODE_DIR / "run_postgres_js.mjs")],
        input=json.dumps({"program": world.coffee_club, "requests": requests}),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "LOYALTYDB_TEST_DSN": _url(dsn)},
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    out = {line["name"]: line for line in map(json.loads, completed.stdout.splitlines())}
    assert out["approve"]["rows"] == [{"status": "APPROVED"}]
    assert out["string_true"]["rows"] == [{"status": "REJECTED"}]  # the trap: 'true' went as false
    assert out["string_as_text"]["rows"] == [{"status": "APPROVED"}]
    assert out["array_untyped"]["error"]["code"] == "42883"
    assert out["array_cast"]["rows"] == [{"status": "APPROVED"}, {"status": "APPROVED"}]
    assert out["earn"]["rows"] == [{"points": 10, "balance_after": 10}]
    assert [row["program_name"] for row in out["cards"]["rows"]] == ["Coffee Club"]


@pytest.mark.both_modes
def test_node_postgres_exports_and_erases_as_a_privacy_login_with_untyped_parameters(
    db: psycopg.Connection[Any], dsn: str, world: World
) -> None:
    """The privacy calls from node-postgres (untyped parameters) as a login granted
    loyalty_privacy; the service's loyalty_app login is refused them (42501)."""
    db.execute("DO $$ BEGIN CREATE ROLE node_privacy LOGIN; EXCEPTION WHEN duplicate_object THEN END $$")
    db.execute("GRANT loyalty_privacy TO node_privacy")
    db.execute(f"DO $$ BEGIN CREATE ROLE {ROLE} LOGIN; EXCEPTION WHEN duplicate_object THEN END $$")
    db.execute(f"GRANT loyalty_app TO {ROLE}")
    db.commit()
    loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, 32, world.coffee_club))
    refused = _run(dsn, [_call("42501", "SELECT loyalty.export_customer($1) AS doc", 32)])
    assert refused["42501"]["error"]["code"] == "42501"
    out = _run(
        dsn,
        [
            _call("export", "SELECT loyalty.export_customer($1) AS doc", 32),
            _call("erase", "SELECT * FROM loyalty.erase_customer($1, $2)", 32, "ticket 5"),
            _call("again", "SELECT * FROM loyalty.erase_customer($1, $2)", "32", "ticket 5"),
        ],
        role="node_privacy",
    )
    assert out["export"]["rows"][0]["doc"]["customer"]["name"] == "John Smith"
    erased = {row["table_name"]: row["rows_changed"] for row in out["erase"]["rows"]}
    assert erased["customers"] == 1 and erased["erased_customers"] == 1
    assert not any(row["rows_changed"] for row in out["again"]["rows"])
