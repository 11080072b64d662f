"""Personal data (contract "Personal data: export and erasure"): export_customer returns everything
held about a customer; erase_customer leaves no copy of their name, email or card numbers in any
row of the schema (a scan of every text and jsonb column of every table, so that a table added
later cannot keep a copy unnoticed; on a cluster, of every shard too), keeps ids and amounts,
and makes every later call for that id CustomerErased (LY019). The roles: loyalty_privacy for
these two, loyalty_events for consumers. Both kinds of database where it applies."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg import sql
from test_cli import assert_user_error, run_cli

import loyaltydb
from helpers import World, count
from loyaltydb import events
from loyaltydb.errors import CustomerErased, PermissionDenied, UserNotFound

JOHN = 32  # a user with no name: "John Smith", from john.smith@example.com
ADA = 40


def _johns_life(db: psycopg.Connection[Any], world: World) -> dict[str, Any]:
    """Everything that copies John's name, email or card number somewhere: a card (replaced, so
    two numbers), points, a redemption, a deduction request, an invitation declined with a reason,
    a request with a message, notifications of both feeds and their events."""
    events.fetch(db, "mailer")  # a consumer that has not acknowledged anything since
    approved = loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, JOHN, world.coffee_club))
    first_number = approved.card_number
    loyaltydb.earn_points(db, JOHN, world.coffee_club, 100, idempotency_key="k1", reference="order for John Smith")
    replaced = loyaltydb.replace_card(db, JOHN, world.coffee_club)
    reward = loyaltydb.create_reward(db, world.business_id, world.coffee_club, "Free coffee", 30)
    loyaltydb.redeem_reward(db, JOHN, reward, idempotency_key="r1")
    loyaltydb.request_points_deduction(
        db, world.business_id, JOHN, world.coffee_club, 5, reason="John Smith returned a mug"
    )
    invited = loyaltydb.invite_customer(db, world.business_id, JOHN, world.tea_club, message="Hello John Smith!")
    loyaltydb.decline_invitation(db, invited, "not now, John Smith", customer_id=JOHN)
    db.execute("UPDATE loyalty.customers SET phone = '+1 555 0100' WHERE id = %s", (JOHN,))
    db.commit()
    return {"numbers": [first_number, replaced.card_number], "strings": ["John Smith", "john.smith@example.com"]}


def _copies(db: psycopg.Connection[Any], needles: list[str]) -> list[str]:
    """Every (table, column) of the loyalty schema whose text holds one of ``needles``: each
    text-like and jsonb column of each table, read from the catalog (a table added later is
    scanned too)."""
    columns = db.execute(
        "SELECT c.table_name, c.column_name FROM information_schema.columns AS c"
        " JOIN information_schema.tables AS t USING (table_schema, table_name)"
        " WHERE c.table_schema = 'loyalty' AND t.table_type = 'BASE TABLE'"
        "   AND (c.data_type IN ('text', 'jsonb', 'json', 'character varying', 'character')"
        "        OR c.domain_name IS NOT NULL)"
        " ORDER BY 1, 2"
    ).fetchall()
    patterns = [f"%{needle}%" for needle in needles]
    found = []
    for table, column in columns:
        query = sql.SQL("SELECT count(*) FROM loyalty.{} WHERE {}::text ILIKE ANY (%s)").format(
            sql.Identifier(table), sql.Identifier(column)
        )
        if count(db, query.as_string(db), patterns):
            found.append(f"{table}.{column}")
    db.commit()
    return found


def _shard_copies(db: psycopg.Connection[Any], needles: list[str]) -> list[str]:
    """On a cluster, the same scan shard by shard on the workers (run_command_on_shards), for
    every distributed table's text-like and jsonb columns."""
    tables = [row[0] for row in db.execute(
        "SELECT logicalrelid::regclass::text FROM pg_dist_partition WHERE logicalrelid::regclass::text LIKE 'loyalty.%'"
    )]  # fmt: skip
    found = []
    for table in tables:
        columns = [row[0] for row in db.execute(
            "SELECT a.attname FROM pg_attribute AS a WHERE a.attrelid = %s::regclass AND a.attnum > 0"
            " AND NOT a.attisdropped AND (a.atttypid IN ('text'::regtype, 'jsonb'::regtype)"
            "      OR (SELECT t.typbasetype FROM pg_type AS t WHERE t.oid = a.atttypid) = 'text'::regtype)",
            (table,),
        )]  # fmt: skip
        for column in columns:
            # (run_command_on_shards puts the shard's name in with format(): a % is written %%.)
            condition = " OR ".join(f"{column}::text ILIKE '%%{needle}%%'" for needle in needles)
            rows = db.execute(
                "SELECT result FROM run_command_on_shards(%s, %s)",
                (table, f"SELECT count(*) FROM %s WHERE {condition}"),
            ).fetchall()
            if any(int(row[0]) for row in rows):
                found.append(f"{table}.{column}")
    db.commit()
    return found


@pytest.mark.both_modes
def test_export_is_everything_held_about_the_customer(db: psycopg.Connection[Any], world: World) -> None:
    life = _johns_life(db, world)
    document = loyaltydb.export_customer(db, JOHN)
    assert document["customer_id"] == JOHN
    assert document["user"]["email"] == "john.smith@example.com"
    assert (document["customer"]["name"], document["customer"]["phone"]) == ("John Smith", "+1 555 0100")
    assert [card["card_number"] for card in document["cards"]] == [life["numbers"][1]]
    assert [e["program_id"] for e in document["enrollments"]] == [world.coffee_club]
    assert [t["reason"] for t in document["ledger"]] == ["EARN", "REDEEM"]
    assert document["ledger"][0]["reference"] == "order for John Smith"
    assert len(document["redemptions"]) == 1 and len(document["deduction_requests"]) == 1
    assert {r["kind"] for r in document["requests"]} == {"REQUEST", "INVITATION"}
    assert "Hello John Smith!" in json.dumps(document["requests"])
    assert {n["audience"] for n in document["notifications"]} == {"CUSTOMER", "BUSINESS"}
    types = [e["type"] for e in document["events"]]
    assert "customer.created" in types and "reward.redeemed" in types and "card.replaced" in types
    assert document["erased"] is None
    # Nobody else's rows: Ada's customer row is not in it, and her id has her own document.
    assert "Ada" not in json.dumps(document)
    with pytest.raises(UserNotFound):
        loyaltydb.export_customer(db, 987654)


@pytest.mark.both_modes
def test_erasure_leaves_no_copy_in_any_row_and_keeps_the_accounts(
    db: psycopg.Connection[Any], world: World, mode: str
) -> None:
    life = _johns_life(db, world)
    loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, ADA, world.coffee_club))
    needles = [*life["strings"], *life["numbers"], "+1 555 0100", "returned a mug", "not now"]
    assert len(_copies(db, needles)) >= 8  # the scan sees the copies before the erasure
    ledger_before = db.execute(
        "SELECT id, points, balance_after, created_at FROM loyalty.point_transactions"
        " WHERE customer_id = %s ORDER BY id",
        (JOHN,),
    ).fetchall()
    events_before = count(db, "SELECT count(*) FROM loyalty.events WHERE customer_id = %s", JOHN)
    ada_before = db.execute("SELECT name, email FROM loyalty.customers WHERE id = %s", (ADA,)).fetchone()
    db.commit()

    changed = loyaltydb.erase_customer(db, JOHN, requested_by="ticket 4711")
    assert changed["customers"] == 1 and changed["erased_customers"] == 1
    assert changed["events"] == events_before and changed["loyalty_cards"] == 1
    assert _copies(db, needles) == []
    if mode == "cluster":
        assert _shard_copies(db, needles) == []
    # What accounting needs stays: the ledger's ids, amounts, balances and dates.
    ledger_after = db.execute(
        "SELECT id, points, balance_after, created_at FROM loyalty.point_transactions"
        " WHERE customer_id = %s ORDER BY id",
        (JOHN,),
    ).fetchall()
    assert ledger_after == ledger_before
    assert loyaltydb.verify_points(db) == []
    assert db.execute("SELECT name, email FROM loyalty.customers WHERE id = %s", (ADA,)).fetchone() == ada_before
    customer = db.execute("SELECT name, email, phone FROM loyalty.customers WHERE id = %s", (JOHN,)).fetchone()
    assert customer == ("Erased customer", None, None)
    for number in life["numbers"]:
        assert loyaltydb.find_card(db, number) is None
    erased = [e for e in events.fetch(db, "mailer") if e.type == "customer.erased"]
    assert [e.payload for e in erased] == [{"customer_id": JOHN}]
    tombstone = db.execute(
        "SELECT requested_by, erased_at IS NOT NULL FROM loyalty.erased_customers WHERE customer_id = %s", (JOHN,)
    ).fetchone()
    assert tombstone == ("ticket 4711", True)
    db.commit()
    # Again: nothing changes, every count is zero.
    again = loyaltydb.erase_customer(db, JOHN, requested_by="ticket 4712")
    assert set(again) == set(changed) and not any(again.values())


@pytest.mark.both_modes
def test_every_later_call_for_an_erased_customer_is_refused(db: psycopg.Connection[Any], world: World) -> None:
    loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, JOHN, world.coffee_club))
    loyaltydb.earn_points(db, JOHN, world.coffee_club, 50, idempotency_key="k1")
    pending = loyaltydb.request_enrollment(db, JOHN, world.tea_club)
    reward = loyaltydb.create_reward(db, world.business_id, world.coffee_club, "Free coffee", 10)
    loyaltydb.erase_customer(db, JOHN, requested_by="ticket 1")
    refused: list[Callable[[], object]] = [
        lambda: loyaltydb.approve_enrollment(db, pending),
        lambda: loyaltydb.approve_enrollments(db, [pending]),
        lambda: loyaltydb.request_enrollment(db, JOHN, world.tea_club),
        lambda: loyaltydb.invite_customer(db, world.business_id, JOHN, world.tea_club),
        lambda: loyaltydb.ensure_customer(db, JOHN),
        lambda: loyaltydb.earn_points(db, JOHN, world.coffee_club, 5, idempotency_key="k2"),
        lambda: loyaltydb.adjust_points(db, JOHN, world.coffee_club, -5, idempotency_key="k3", note="fix"),
        lambda: loyaltydb.earn_points_batch(db, [(JOHN, world.coffee_club, 5, "k4")]),
        lambda: loyaltydb.redeem_reward(db, JOHN, reward, idempotency_key="r"),
        lambda: loyaltydb.request_points_deduction(db, world.business_id, JOHN, world.coffee_club, 5, reason="x"),
        lambda: loyaltydb.block_card(db, JOHN, world.coffee_club, None),
    ]
    for call in refused:
        with pytest.raises(CustomerErased, match="was erased"):
            call()
    assert count(db, "SELECT count(*) FROM loyalty.customer_notifications WHERE customer_id = %s AND title <> 'Erased'",
                 JOHN) == 0  # fmt: skip
    # The sweep passes an erased customer's points by (they would otherwise stop it every time).
    db.execute("UPDATE loyalty.loyalty_programs SET points_ttl = '1 day' WHERE id = %s", (world.coffee_club,))
    db.execute("UPDATE loyalty.point_transactions SET created_at = now() - interval '2 days'")
    db.commit()
    assert loyaltydb.expire_points(db) == 0
    # Everyone else goes on.
    assert loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, ADA, world.tea_club)).status == "APPROVED"


@pytest.mark.both_modes
def test_the_privacy_and_events_roles(db: psycopg.Connection[Any], world: World, connect: Any) -> None:
    loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, JOHN, world.coffee_club))
    app = connect()
    app.execute("SET ROLE loyalty_app")
    with pytest.raises(PermissionDenied):
        loyaltydb.export_customer(app, JOHN)
    with pytest.raises(PermissionDenied):
        loyaltydb.erase_customer(app, JOHN, requested_by="ticket 2")
    mailer = connect()
    mailer.execute("SET ROLE loyalty_events")
    assert [e.type for e in events.fetch(mailer, "mailer")] == []  # registers; may fetch and ack
    with pytest.raises(PermissionDenied):
        loyaltydb.request_enrollment(mailer, ADA, world.coffee_club)
    privacy = connect()
    privacy.execute("SET ROLE loyalty_privacy")
    assert loyaltydb.export_customer(privacy, JOHN)["customer"]["name"] == "John Smith"
    with pytest.raises(PermissionDenied):
        loyaltydb.approve_enrollment(privacy, loyaltydb.request_enrollment(db, ADA, world.coffee_club))
    assert loyaltydb.erase_customer(privacy, JOHN, requested_by="ticket 3")["customers"] == 1


def test_customer_export_and_erase_through_the_console_script(
    db: psycopg.Connection[Any], dsn: str, world: World
) -> None:
    loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, JOHN, world.coffee_club))
    exported = run_cli("--dsn", dsn, "customer", "export", str(JOHN))
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["customer"]["name"] == "John Smith"
    refused = run_cli("--dsn", dsn, "customer", "erase", str(JOHN), "--requested-by", "ticket 9")
    assert refused.returncode == 2 and "--yes" in refused.stderr  # not on a terminal
    assert count(db, "SELECT count(*) FROM loyalty.erased_customers") == 0
    erased = run_cli("--dsn", dsn, "customer", "erase", str(JOHN), "--requested-by", "ticket 9", "--yes", "--json")
    assert erased.returncode == 0, erased.stderr
    assert json.loads(erased.stdout)["customers"] == 1
    again = run_cli("--dsn", dsn, "customer", "erase", str(JOHN), "--requested-by", "ticket 9", "--yes")
    assert "erased already" in again.stdout
    assert_user_error(run_cli("--dsn", dsn, "customer", "export", "987654"), "No user or customer 987654")
    assert_user_error(
        run_cli("--dsn", dsn, "points", "earn", "--customer-id", str(JOHN), "--program-id", str(world.coffee_club),
                "--points", "5", "--key", "k"),
        "was erased",
    )  # fmt: skip
