"""The loyaltydb command, run as a real subprocess (the installed console script): commands,
psql, and user errors."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

import loyaltydb
from helpers import RESULT_FIELDS, World, add_request, count, snapshot
from loyaltydb._dsn import configured_conninfo
from loyaltydb.migrations import MigrationState, migrate, migrations_dir, status
from loyaltydb.testing import TempServer


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("LOYALTYDB_DSN", "DATABASE_URL")}
    environment.update(env or {})
    return subprocess.run(
        [_console_script(), *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def assert_user_error(completed: subprocess.CompletedProcess[str], *words: str) -> None:
    assert completed.returncode == 1, completed
    assert "Traceback" not in completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    for word in words:
        assert word in lines[0]


def test_migrate_status_rollback(empty_dsn: str) -> None:
    ids = [state.id for state in status_of_files()]
    assert f"pending  {ids[0]}" in run_cli("--dsn", empty_dsn, "status").stdout
    migrated = run_cli("--dsn", empty_dsn, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert f"applied {len(ids)} migration(s)" in migrated.stdout
    assert f"applied  {ids[-1]}" in run_cli("--dsn", empty_dsn, "status").stdout
    assert f"rolled back 1 migration(s): {ids[-1]}" in run_cli("--dsn", empty_dsn, "rollback", "--yes").stdout
    assert f"rolled back {len(ids) - 1}" in run_cli("--dsn", empty_dsn, "rollback", "--all", "--yes").stdout
    assert f"applied {len(ids)} migration(s)" in run_cli("--dsn", empty_dsn, "migrate").stdout


def status_of_files() -> list[MigrationState]:
    forward = sorted(p for p in migrations_dir().glob("*.sql") if not p.name.endswith(".rollback.sql"))
    return [MigrationState(path.stem, applied=False) for path in forward]


def test_approve_and_reject_print_the_result(db: psycopg.Connection[Any], dsn: str, world: World) -> None:
    request_id = add_request(db, world.new_user, world.coffee_club)
    approved = run_cli("--dsn", dsn, "approve", str(request_id))
    assert approved.returncode == 0, approved.stderr
    assert "customer_created  True" in approved.stdout and "status            APPROVED" in approved.stdout
    assert "a replay" not in approved.stdout
    again = run_cli("--dsn", dsn, "approve", str(request_id))  # the same decision again: said to be a replay
    assert f"(a replay: request {request_id} was approved already: its stored result, nothing written)" in again.stdout
    as_json = json.loads(run_cli("--dsn", dsn, "approve", str(request_id), "--json").stdout)
    assert as_json["request_id"] == str(request_id) and as_json["customer_id"] == 32
    other = add_request(db, world.new_user, world.tea_club)
    rejected = run_cli("--dsn", dsn, "reject", str(other), "--reason", "full", "--json")
    assert json.loads(rejected.stdout)["status"] == "REJECTED"


def test_the_dsn_comes_from_the_flag_then_loyaltydb_dsn_then_database_url_then_libpq(
    dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert configured_conninfo() == "postgresql://u@h/db"
    monkeypatch.setenv("LOYALTYDB_DSN", "dbname=from_env")
    assert configured_conninfo() == "dbname=from_env"
    assert configured_conninfo("dbname=flag") == "dbname=flag"
    bad = "host=127.0.0.1 port=1 connect_timeout=2"
    assert run_cli("status", env={"LOYALTYDB_DSN": dsn, "DATABASE_URL": bad}).returncode == 0
    assert run_cli("status", env={"DATABASE_URL": dsn}).returncode == 0
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    libpq_only = {
        "PGHOST": str(params["host"]),
        "PGPORT": str(params["port"]),
        "PGUSER": str(params["user"]),
        "PGDATABASE": str(params["dbname"]),
    }
    assert run_cli("status", env=libpq_only).returncode == 0
    assert run_cli("--dsn", dsn, "status", env={"LOYALTYDB_DSN": bad}).returncode == 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--dsn", "nonsense===", "migrate"], ["invalid connection option"]),
        (["--dsn", f"host=127.0.0.1 port={_free_port()} connect_timeout=3", "status"], ["cannot connect"]),
        (["--dsn", "postgresql://nobody@127.0.0.1:1/x", "approve", str(uuid.uuid4())], ["cannot connect"]),
    ],
)
def test_connection_errors_are_one_sentence(args: list[str], words: list[str]) -> None:
    assert_user_error(run_cli(*args), *words)


def test_bad_ids_and_unknown_requests_are_one_sentence(dsn: str, world: World) -> None:
    assert_user_error(run_cli("--dsn", dsn, "approve", "not-a-uuid"), "ID must be a UUID", "'not-a-uuid'")
    assert_user_error(run_cli("--dsn", dsn, "approve", "two\nlines"), "ID must be a UUID", "'two\\nlines'")
    assert_user_error(run_cli("--dsn", dsn, "pending", "--business-id", "7", "--after", "x"), "--after must be")
    assert_user_error(run_cli("--dsn", dsn, "reject", str(uuid.uuid4())), "Enrollment request not found")


def test_a_bad_rollback_count_is_a_usage_error_not_a_traceback(empty_dsn: str) -> None:
    completed = run_cli("--dsn", empty_dsn, "rollback", "--steps", "-1")
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr and "at least 1" in completed.stderr


def test_an_unmigrated_database_is_one_sentence(empty_dsn: str) -> None:
    assert_user_error(run_cli("--dsn", empty_dsn, "approve", str(uuid.uuid4())), "not migrated")
    assert_user_error(run_cli("--dsn", empty_dsn, "selfcheck"), "not migrated")


def test_selfcheck_passes_and_leaves_no_trace(db: psycopg.Connection[Any], dsn: str, world: World) -> None:
    before = snapshot(db)
    completed = run_cli("--dsn", dsn, "selfcheck")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "selfcheck: 6 passed, 0 failed" in completed.stdout
    assert "customer auto-created" in completed.stdout
    assert snapshot(db) == before


def test_demo_with_a_dsn_plays_the_story_and_rolls_it_back(db: psycopg.Connection[Any], dsn: str) -> None:
    before = snapshot(db)
    completed = run_cli("--dsn", dsn, "demo")
    assert completed.returncode == 0, completed.stderr
    assert "'John Smith'" in completed.stdout and "(auto-created: True)" in completed.stdout
    assert snapshot(db) == before


def test_demo_without_a_dsn_runs_on_its_own_throwaway_server() -> None:
    completed = run_cli("demo")
    assert completed.returncode == 0, completed.stderr
    out = completed.stdout
    assert "User 32 <john.smith@example.com> has no name and no customer row: customer row exists = False" in out
    assert "customer      32 'John Smith' <john.smith@example.com> (auto-created: True)" in out
    assert "for Coffee Club at Bean There Coffee, ACTIVE" in out
    assert "[CARD_CREATED]" in out and "Server stopped and deleted." in out


def test_psql_users_call_the_procedure_and_see_the_same_errors(
    db: psycopg.Connection[Any], dsn: str, world: World, pg_server: TempServer
) -> None:
    psql = shutil.which("psql") or str(pg_server.bindir / "psql")
    request_id = add_request(db, world.new_user, world.coffee_club)
    query = f"SELECT * FROM loyalty.process_enrollment_approval('{request_id}', true)"
    shown = subprocess.run(
        [psql, dsn, "-X", "-A", "-F", "|", "-v", "ON_ERROR_STOP=1", "-c", query],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    header, row = shown.splitlines()[:2]
    assert header.split("|") == RESULT_FIELDS
    assert row.split("|")[:3] == [str(request_id), "APPROVED", "32"]
    missing = f"SELECT * FROM loyalty.process_enrollment_approval('{uuid.uuid4()}')"
    failed = subprocess.run([psql, dsn, "-X", "-v", "VERBOSITY=verbose", "-c", missing], capture_output=True, text=True)
    assert "LY001" in failed.stderr and "Enrollment request not found" in failed.stderr


def test_distribute_without_citus_is_one_sentence(dsn: str) -> None:
    assert_user_error(run_cli("--dsn", dsn, "distribute"), "has no Citus")


def test_distribute_on_an_unmigrated_database_says_migrate_first(empty_dsn: str) -> None:
    assert_user_error(run_cli("--dsn", empty_dsn, "distribute"), "not migrated")


def _console_script() -> str:
    return str(Path(sys.executable).with_name("loyaltydb"))


def test_version_from_the_console_script_and_the_package() -> None:
    import loyaltydb

    completed = subprocess.run([_console_script(), "--version"], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0
    assert completed.stdout.strip() == f"loyaltydb {loyaltydb.__version__}"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", loyaltydb.__version__)


@pytest.mark.parametrize("command", ["status", "approve"])
def test_a_closed_pipe_ends_quietly(dsn: str, db: psycopg.Connection[Any], world: World, command: str) -> None:
    """`loyaltydb approve ID | true`: the approval commits, and no traceback is printed."""
    args = (
        ["--dsn", dsn, "status"]
        if command == "status"
        else ["--dsn", dsn, "approve", str(add_request(db, 32, world.coffee_club)), "--json"]
    )
    for _ in range(3):
        process = subprocess.Popen(
            [_console_script(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()  # the reader goes away before the command writes
        stderr = process.stderr.read()
        process.wait(timeout=60)
        assert "Traceback" not in stderr and process.returncode == 0, stderr
    if command == "approve":
        assert count(db, "SELECT count(*) FROM loyalty.customer_approval_requests WHERE status = 'APPROVED'") == 1


def test_a_full_disk_on_stdout_is_one_sentence(dsn: str) -> None:
    with open("/dev/full", "w") as full:
        completed = subprocess.run(
            [_console_script(), "--dsn", dsn, "status"], stdout=full, stderr=subprocess.PIPE, text=True, timeout=60
        )
    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr
    assert completed.stderr.strip().splitlines() == ["loyaltydb: cannot write the output: No space left on device"]


def test_dsn_goes_before_or_after_the_command_and_may_not_be_empty(dsn: str) -> None:
    after = run_cli("status", "--dsn", dsn)
    assert after.returncode == 0, after.stderr
    assert after.stdout == run_cli("--dsn", dsn, "status").stdout
    empty = run_cli("--dsn", "", "status", env={"LOYALTYDB_DSN": dsn})
    assert empty.returncode == 2 and "is empty" in empty.stderr and "Traceback" not in empty.stderr


def test_no_dsn_at_all_names_where_a_dsn_comes_from() -> None:
    completed = run_cli("status", env={"PGHOST": "127.0.0.1", "PGPORT": str(_free_port()), "PGCONNECT_TIMEOUT": "2"})
    assert_user_error(completed, "cannot connect", "--dsn", "LOYALTYDB_DSN", "DATABASE_URL")


def test_an_error_is_prefixed_once(empty_dsn: str) -> None:
    completed = run_cli("--dsn", empty_dsn, "approve", str(uuid.uuid4()))
    assert completed.stderr.startswith("loyaltydb: this database is not migrated")


def test_make_migrate_takes_dsn(empty_dsn: str) -> None:
    """`make migrate DSN=…` migrates that database (it used to be ignored)."""
    root = Path(__file__).resolve().parent.parent
    make = shutil.which("make")
    assert make is not None
    completed = subprocess.run(
        [make, "-s", "-C", str(root), "migrate", f"DSN={empty_dsn}", f"BIN={Path(sys.executable).parent}",
         "STAMP="],  # no venv step: the test runs in this venv already
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert "applied" in completed.stdout
    assert run_cli("--dsn", empty_dsn, "status").stdout.count("applied") >= 12


def test_rollback_refuses_a_migration_it_does_not_know(empty_dsn: str) -> None:
    """A newer version (or plain yoyo with newer files) applied 0099_future: an older loyaltydb
    must not roll back from under it. Its row is what yoyo writes for an applied migration."""
    migrate(empty_dsn)
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO _yoyo_migration (migration_hash, migration_id, applied_at_utc)"
            " VALUES (encode(sha256('0099_future'), 'hex'), '0099_future', now() AT TIME ZONE 'UTC')"
        )
    for args in (["rollback", "--yes"], ["rollback", "--all", "--yes"]):
        assert_user_error(run_cli("--dsn", empty_dsn, *args), "0099_future", "nothing was rolled back")
    assert all(state.applied for state in status(empty_dsn))


@pytest.mark.parametrize(
    ("args", "env", "words"),
    [
        (["approve", "\udcff"], {}, "argument 2 is not valid UTF-8"),
        (["reject", "00000000-0000-0000-0000-000000000000", "--reason", "\udcff"], {}, "argument 4 is not"),
        (["--dsn", "host=\udcff", "status"], {}, "argument 2 is not valid UTF-8"),
        (["status"], {"LOYALTYDB_DSN": "host=\udcff"}, "LOYALTYDB_DSN is not valid UTF-8"),
    ],
)
def test_invalid_utf8_in_an_argument_or_the_dsn_is_one_sentence(
    args: list[str], env: dict[str, str], words: str
) -> None:
    """Bytes that are not UTF-8 ($'\\xff' in a shell) reach Python as lone surrogates."""
    completed = run_cli(*args, env=env)
    assert completed.returncode == 2 and "Traceback" not in completed.stderr
    (line,) = completed.stderr.strip().splitlines()
    assert line.startswith("loyaltydb: ") and words in line


def test_a_name_an_ascii_stdout_cannot_show_is_escaped(db: psycopg.Connection[Any], dsn: str, world: World) -> None:
    db.execute("UPDATE loyalty.users SET name = 'Zoë 李' WHERE id = %s", (world.new_user,))
    db.commit()
    request_id = loyaltydb.request_enrollment(db, world.new_user, world.coffee_club)
    completed = run_cli(
        "--dsn", dsn, "pending", "--business-id", str(world.business_id), env={"PYTHONIOENCODING": "ascii"}
    )
    assert completed.returncode == 0 and "Traceback" not in completed.stderr, completed.stderr
    assert "Zo\\xeb \\u674e" in completed.stdout and str(request_id) in completed.stdout


def test_a_wrong_pg_bindir_is_one_sentence(tmp_path: Path) -> None:
    assert_user_error(run_cli("demo", env={"LOYALTYDB_PG_BINDIR": str(tmp_path)}), "LOYALTYDB_PG_BINDIR", "initdb")


SUBCOMMANDS = ["migrate", "rollback", "status", "migrations-dir", "approve", "reject", "pending", "selfcheck"]


@pytest.mark.parametrize("name", [*SUBCOMMANDS, "distribute", "demo"])
def test_every_subcommand_s_help_says_what_it_does_with_an_example(name: str) -> None:
    completed = run_cli(name, "--help")
    assert completed.returncode == 0, completed.stderr
    text = completed.stdout
    description = text.split("\n\n")[1]
    assert description[0].isupper() and description.rstrip().endswith(".")
    assert "example:\n  loyaltydb " in text or "example:\n  yoyo " in text
    assert "seed" not in run_cli("--help").stdout + text


def test_points_earn_spend_adjust_reverse_history_through_the_console_script(
    db: psycopg.Connection[Any], dsn: str, world: World
) -> None:
    """`loyaltydb points …`: each action, a replay said as one, --json, and a refusal in one line."""
    loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, 32, world.coffee_club))
    card = ["--customer-id", "32", "--program-id", str(world.coffee_club)]
    earned = run_cli("--dsn", dsn, "points", "earn", *card, "--points", "50", "--key", "o-1", "--json")
    assert earned.returncode == 0, earned.stderr
    transaction = json.loads(earned.stdout)
    assert (transaction["points"], transaction["balance_after"], transaction["replayed"]) == (50, 50, False)
    again = run_cli("--dsn", dsn, "points", "earn", *card, "--points", "50", "--key", "o-1")
    assert "EARN +50 points" in again.stdout and "a replay" in again.stdout
    spent = run_cli("--dsn", dsn, "points", "spend", *card, "--points", "20", "--key", "o-2", "--reference", "R-2")
    assert "SPEND -20 points" in spent.stdout and "balance 30" in spent.stdout
    fixed = run_cli("--dsn", dsn, "points", "adjust", *card, "--points", "-5", "--key", "f", "--note", "double")
    assert "balance 25" in fixed.stdout, fixed.stderr
    target = str(transaction["transaction_id"])
    undone = run_cli("--dsn", dsn, "points", "reverse", "--customer-id", "32", "--transaction-id", target, "--key", "u")
    assert undone.returncode == 1 and "Insufficient points" in undone.stderr  # 25 left, 50 to undo
    history = run_cli("--dsn", dsn, "points", "history", *card)
    assert [line.split()[3] for line in history.stdout.splitlines()] == ["ADJUST", "SPEND", "EARN"]
    assert "ref R-2" in history.stdout and "double" in history.stdout
    assert_user_error(run_cli("--dsn", dsn, "points", "spend", *card, "--points", "999", "--key", "x"), "has 25 points")
    refused = run_cli("--dsn", dsn, "points", "earn", *card, "--points", "0", "--key", "x")
    assert refused.returncode == 2 and "at least 1" in refused.stderr  # argparse, before connecting


def test_card_block_unblock_replace_leave_through_the_console_script(
    db: psycopg.Connection[Any], dsn: str, world: World
) -> None:
    loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, 32, world.coffee_club))
    card = ["--customer-id", "32", "--program-id", str(world.coffee_club)]
    blocked = run_cli("--dsn", dsn, "card", "block", *card, "--reason", "lost", "--json")
    assert blocked.returncode == 0, blocked.stderr
    assert json.loads(blocked.stdout)["status"] == "BLOCKED"
    assert "ACTIVE" in run_cli("--dsn", dsn, "card", "unblock", *card).stdout
    replaced = run_cli("--dsn", dsn, "card", "replace", *card, "--json")
    assert json.loads(replaced.stdout)["card_number"] != json.loads(blocked.stdout)["card_number"]
    assert "INACTIVE" in run_cli("--dsn", dsn, "card", "leave", *card).stdout
    assert_user_error(run_cli("--dsn", dsn, "card", "block", "--customer-id", "32", "--program-id", "999"), "no card")


def test_rewards_create_list_redeem_fulfil_cancel_through_the_console_script(
    db: psycopg.Connection[Any], dsn: str, world: World
) -> None:
    """`loyaltydb rewards …`: the catalogue, a redemption and its code, a replay said as one,
    fulfilling by the code as typed, cancelling, and refusals in one line."""
    loyaltydb.approve_enrollment(db, loyaltydb.request_enrollment(db, 32, world.coffee_club))
    loyaltydb.earn_points(db, 32, world.coffee_club, 100, idempotency_key="start")
    business = ["--business-id", str(world.business_id)]
    made = run_cli(
        "--dsn", dsn, "rewards", "create", *business, "--program-id", str(world.coffee_club),
        "--name", "Free coffee", "--points-cost", "40", "--stock", "2", "--json",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    reward = str(json.loads(made.stdout)["reward_id"])
    listed = run_cli("--dsn", dsn, "rewards", "list", "--program-id", str(world.coffee_club))
    assert listed.stdout.strip() == f"{reward}  Free coffee: 40 points, 2 left, ACTIVE"
    redeem = ["--dsn", dsn, "rewards", "redeem", "--customer-id", "32", "--reward-id", reward]
    first = run_cli(*redeem, "--key", "r-1", "--json")
    assert first.returncode == 0, first.stderr
    done = json.loads(first.stdout)
    assert (done["points"], done["balance_after"], done["status"]) == (40, 60, "PENDING")
    assert "a replay" in run_cli(*redeem, "--key", "r-1").stdout
    code = done["code"]
    fulfilled = run_cli("--dsn", dsn, "rewards", "fulfil", code.lower(), *business)
    assert fulfilled.stdout.strip().endswith("FULFILLED"), fulfilled.stderr
    assert_user_error(
        run_cli("--dsn", dsn, "rewards", "cancel", done["redemption_id"], "--customer-id", "32"), "was fulfilled"
    )
    second = json.loads(run_cli(*redeem, "--key", "r-2", "--json").stdout)
    cancelled = run_cli("--dsn", dsn, "rewards", "cancel", second["redemption_id"], "--customer-id", "32", *business)
    assert cancelled.stdout.strip().endswith("CANCELLED"), cancelled.stderr
    assert_user_error(run_cli("--dsn", dsn, "rewards", "fulfil", "ZZZZZZZZ", *business), "No redemption with code")
    emptied = run_cli("--dsn", dsn, "rewards", "update", *business, "--reward-id", reward, "--stock", "0", "--json")
    assert json.loads(emptied.stdout)["stock"] == 0
    assert_user_error(run_cli(*redeem, "--key", "r-3"), "out of stock")
    assert_user_error(run_cli("--dsn", dsn, "rewards", "cancel", "nope", "--customer-id", "32"), "must be a UUID")
    empty = run_cli("--dsn", dsn, "rewards", "list", "--program-id", str(world.coffee_club))
    assert "no rewards to redeem" in empty.stdout
