"""loyaltydb on a Citus cluster (a coordinator and 2 workers started by the tests): migrations,
distribution, delegation, card numbers across workers, a killed worker backend, and migrations
applied after distribution."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, LiteralString

import psycopg
import pytest
from test_cli import assert_user_error, run_cli

import loyaltydb
from helpers import add_program, add_user, loyalty_tables, luhn_valid
from loyaltydb import distribution, migrations
from loyaltydb.testing._cluster import TempCluster
from loyaltydb.testing._server import TempServer


def test_migrations_apply_on_a_citus_coordinator_with_an_owner_that_reaches_the_workers(
    citus_cluster: TempCluster,
) -> None:
    dsn = citus_cluster.create_database("migrate_on_cluster")
    applied = loyaltydb.migrate(dsn)
    assert applied and applied[-1] == loyaltydb.status(dsn)[-1].id
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'loyalty_owner'").fetchone() == (True,)
        assert conn.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'loyalty_app'").fetchone() == (False,)
    for worker in citus_cluster.workers:  # Citus propagated the roles and the schema
        with psycopg.connect(worker.conninfo("migrate_on_cluster")) as conn:
            assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'loyalty_%'").fetchone() == (4,)
            assert conn.execute("SELECT to_regnamespace('loyalty') IS NOT NULL").fetchone() == (True,)


def test_an_approval_works_on_the_coordinator_before_distribution(citus_cluster: TempCluster) -> None:
    dsn = citus_cluster.create_database("approve_on_coordinator")
    loyaltydb.migrate(dsn)
    with psycopg.connect(dsn) as conn:
        add_user(conn, 7, "Bean There Coffee", None)
        add_user(conn, 32, None, "john.smith@example.com")
        program = add_program(conn, 7, "Coffee Club")
        conn.commit()
        result = loyaltydb.approve_enrollment(conn, loyaltydb.request_enrollment(conn, 32, program))
        assert (result.status, result.customer_created) == ("APPROVED", True)
        assert [card.business_name for card in loyaltydb.customer_cards(conn, 32)] == ["Bean There Coffee"]


def test_the_single_server_keeps_its_roles_nologin(db: psycopg.Connection[object]) -> None:
    assert db.execute(
        "SELECT bool_or(rolcanlogin) FROM pg_roles WHERE rolname IN ('loyalty_owner', 'loyalty_app')"
    ).fetchone() == (False,)


def _distributed_database(cluster: TempCluster, name: str) -> str:
    dsn = cluster.create_database(name)
    loyaltydb.migrate(dsn)
    with psycopg.connect(dsn) as conn:
        add_user(conn, 7, "Bean There Coffee", None)
        add_user(conn, 8, None, "owner@crumbs.example")
        conn.commit()
    distribution.distribute(dsn)
    with psycopg.connect(dsn) as conn:
        for business in (7, 8):
            conn.execute("SELECT loyalty.register_business(%s)", (business,))
        conn.commit()
    return dsn


def test_distribute_makes_distributed_and_reference_tables_and_is_idempotent(citus_cluster: TempCluster) -> None:
    dsn = _distributed_database(citus_cluster, "distribute_twice")
    distribution.distribute(dsn)  # again: nothing to do, no error
    with psycopg.connect(dsn) as conn:
        kinds: dict[str, str] = dict(
            conn.execute(
                "SELECT logicalrelid::regclass::text, partmethod FROM pg_dist_partition"
                " WHERE logicalrelid::regclass::text LIKE 'loyalty.%'"
            ).fetchall()
        )
        colocation = conn.execute(
            "SELECT count(DISTINCT colocationid) FROM pg_dist_partition WHERE partmethod = 'h'"
            " AND logicalrelid::regclass::text LIKE 'loyalty.%'"
        ).fetchone()
    assert kinds == {
        "loyalty.businesses": "n",
        "loyalty.loyalty_programs": "n",
        "loyalty.rewards": "n",
        **dict.fromkeys(
            ["loyalty.users", "loyalty.customers", "loyalty.program_enrollments", "loyalty.loyalty_cards",
             "loyalty.customer_business_relationships", "loyalty.customer_notifications",
             "loyalty.customer_approval_requests", "loyalty.point_transactions", "loyalty.card_aliases",
             "loyalty.events", "loyalty.points_deductions", "loyalty.redemptions", "loyalty.erased_customers"],
            "h",
        ),
    }  # fmt: skip
    assert colocation == (1,)


def test_an_approval_is_pushed_down_to_the_customers_worker(citus_cluster: TempCluster) -> None:
    dsn = _distributed_database(citus_cluster, "delegation")
    with psycopg.connect(dsn) as conn:
        add_user(conn, 32, None, "john.smith@example.com")
        program = add_program(conn, 7, "Coffee Club")
        conn.commit()
        request_id = loyaltydb.request_enrollment(conn, 32, program)
        messages: list[str] = []
        conn.add_notice_handler(lambda diag: messages.append(diag.message_primary or ""))
        conn.execute("SET client_min_messages = debug1")
        conn.commit()
        result = loyaltydb.approve_enrollment(conn, request_id)
        conn.execute("RESET client_min_messages")
        conn.commit()
    assert "pushing down the function call" in messages
    assert (result.status, result.customer_created, result.card_number[:15]) == (  # type: ignore[index]
        "APPROVED",
        True,
        "900000000320001",
    )
    with psycopg.connect(dsn) as conn:  # the contract's psql call works on the cluster too
        replay = conn.execute(
            "SELECT status, card_number FROM loyalty.process_enrollment_approval(%s::uuid, true)", (request_id,)
        ).fetchone()
        names = [card.business_name for card in loyaltydb.customer_cards(conn, 32)]
    assert replay == ("APPROVED", result.card_number)
    assert names == ["Bean There Coffee"]


def test_an_invitation_is_made_and_answered_on_the_customers_worker(citus_cluster: TempCluster) -> None:
    """invite_customer and accept_invitation are delegated (one hop each), and the business's
    CUSTOMER_JOINED is written on the customer's worker, so accepting is no cross-worker write."""
    dsn = _distributed_database(citus_cluster, "invitation_hops")
    with psycopg.connect(dsn) as conn:
        add_user(conn, 32, None, "john.smith@example.com")
        program = add_program(conn, 7, "Coffee Club")
        conn.execute("UPDATE loyalty.loyalty_programs SET welcome_points = 20 WHERE id = %s", (program,))
        conn.commit()
        messages: list[str] = []
        conn.add_notice_handler(lambda diag: messages.append(diag.message_primary or ""))
        conn.execute("SET client_min_messages = debug1")
        conn.commit()
        invitation = loyaltydb.invite_customer(conn, 7, 32, program)
        assert messages.count("pushing down the function call") == 1
        result = loyaltydb.accept_invitation(conn, invitation, customer_id=32)
        assert messages.count("pushing down the function call") == 2
        conn.execute("RESET client_min_messages")
        conn.commit()
        assert (result.status, result.customer_created) == ("APPROVED", True)
        (joined,) = loyaltydb.business_notifications(conn, 7)
        assert joined.message == "John Smith has joined your Coffee Club loyalty program"
        shards = conn.execute(
            "SELECT DISTINCT nodeport FROM citus_shards WHERE citus_table_type = 'distributed' AND shardid IN ("
            " get_shard_id_for_distribution_column('loyalty.customer_notifications', 32),"
            " get_shard_id_for_distribution_column('loyalty.point_transactions', 32),"
            " get_shard_id_for_distribution_column('loyalty.loyalty_cards', 32))"
        ).fetchall()
        assert len(shards) == 1
        assert conn.execute("SELECT sum(points) FROM loyalty.point_transactions").fetchone() == (20,)


def test_card_numbers_are_unique_with_customers_on_every_worker(citus_cluster: TempCluster) -> None:
    dsn = _distributed_database(citus_cluster, "cards_everywhere")
    users = list(range(100, 140))
    with psycopg.connect(dsn) as conn:
        for user in users:
            add_user(conn, user, None, f"customer.{user}@example.com")
        programs = [add_program(conn, 7, "Coffee Club"), add_program(conn, 8, "Bakery Club")]
        conn.commit()
        requests = [loyaltydb.request_enrollment(conn, user, program) for user in users for program in programs]
        results = [loyaltydb.approve_enrollment(conn, request_id) for request_id in requests]
        batch = [loyaltydb.request_enrollment(conn, user, programs[0]) for user in users[:10]]
        replays = loyaltydb.approve_enrollments(conn, batch)
        placements = conn.execute(
            "SELECT count(DISTINCT s.nodeport) FROM loyalty.customers AS c"
            " JOIN citus_shards AS s ON s.shardid = get_shard_id_for_distribution_column('loyalty.customers', c.id)"
        ).fetchone()
    numbers = [r.card_number for r in results]
    assert placements == (2,)  # customers on both workers
    assert len(set(numbers)) == len(numbers) == 80
    assert all(n is not None and luhn_valid(n) for n in numbers)
    assert [r.card_number for r in replays] == [r.card_number for r in results[::2][:10]]


def _a_request_and_its_worker(
    cluster: TempCluster, conn: psycopg.Connection[tuple[Any, ...]], *, invitation: bool = False
) -> tuple[uuid.UUID, TempServer]:
    """A pending request of a new customer 32 in Coffee Club (or Bean There's invitation, with
    welcome points), and the worker that holds 32's rows."""
    add_user(conn, 32, None, "john.smith@example.com")
    program = add_program(conn, 7, "Coffee Club")
    conn.execute("UPDATE loyalty.loyalty_programs SET welcome_points = 15 WHERE id = %s", (program,))
    conn.commit()
    if invitation:
        request_id = loyaltydb.invite_customer(conn, 7, 32, program)
    else:
        request_id = loyaltydb.request_enrollment(conn, 32, program)
    port = conn.execute(
        "SELECT nodeport FROM citus_shards"
        " WHERE shardid = get_shard_id_for_distribution_column('loyalty.customers', 32)"
    ).fetchone()
    return request_id, next(w for w in cluster.workers if port and w.port == port[0])


@pytest.mark.parametrize("path", ["approve", "accept"])
def test_a_worker_backend_killed_mid_approval_leaves_nothing_partial(citus_cluster: TempCluster, path: str) -> None:
    """The approval (or a customer's acceptance of an invitation, with welcome points) runs on
    the customer's worker; it is blocked there (another transaction is creating the same
    customer), its backend is killed, and nothing of it remains. Calling again succeeds."""
    dsn = _distributed_database(citus_cluster, f"worker_kill_{path}")
    with psycopg.connect(dsn) as conn:
        request_id, worker = _a_request_and_its_worker(citus_cluster, conn, invitation=path == "accept")

    def decide(conn: psycopg.Connection[Any]) -> loyaltydb.EnrollmentResult:
        if path == "approve":
            return loyaltydb.approve_enrollment(conn, request_id)
        return loyaltydb.accept_invitation(conn, request_id, customer_id=32)

    outcome: list[BaseException | object] = []
    with psycopg.connect(dsn) as blocker:
        blocker.execute("INSERT INTO loyalty.customers (id, user_id, name) VALUES (32, 32, 'Blocker')")

        def approve() -> None:
            try:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    outcome.append(decide(conn))
            except BaseException as exc:  # noqa: BLE001 - inspected below
                outcome.append(exc)

        thread = threading.Thread(target=approve)
        thread.start()
        with psycopg.connect(worker.conninfo(f"worker_kill_{path}"), autocommit=True) as on_worker:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                killed = on_worker.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = %s AND wait_event_type = 'Lock'",
                    (f"worker_kill_{path}",),
                ).fetchone()
                if killed and killed[0]:
                    break
                time.sleep(0.05)
            else:
                raise AssertionError("the approval never blocked on the worker")
        thread.join(60)
        blocker.rollback()
    assert len(outcome) == 1 and isinstance(outcome[0], psycopg.Error | loyaltydb.LoyaltyError), outcome
    with psycopg.connect(dsn) as conn:
        left = conn.execute(
            "SELECT (SELECT count(*) FROM loyalty.customers WHERE id = 32),"
            " (SELECT count(*) FROM loyalty.program_enrollments WHERE customer_id = 32),"
            " (SELECT count(*) FROM loyalty.loyalty_cards WHERE customer_id = 32),"
            " (SELECT count(*) FROM loyalty.customer_business_relationships WHERE customer_id = 32),"
            " (SELECT status FROM loyalty.customer_approval_requests WHERE customer_id = 32)"
        ).fetchone()
        assert left == (0, 0, 0, 0, "PENDING")
        conn.commit()
        nothing_else = conn.execute(
            "SELECT (SELECT count(*) FROM loyalty.point_transactions),"
            " (SELECT count(*) FROM loyalty.customer_notifications WHERE type = 'CUSTOMER_JOINED')"
        ).fetchone()
        assert nothing_else == (0, 0)
        conn.commit()
        again = decide(conn)
        points = conn.execute("SELECT sum(points) FROM loyalty.point_transactions").fetchone()
    assert (again.status, again.customer_created) == ("APPROVED", True)
    assert points == (15,)


def test_migrations_after_distribution_keep_working(citus_cluster: TempCluster) -> None:
    """README "Scaling out": distribute at 0012, then `migrate` (0013 and 0014 add functions, a type
    and an index; 0030 changes columns to domains) and `distribute` again; the new API works on
    the cluster, and the workers refuse what the domains refuse."""
    dsn = citus_cluster.create_database("migrate_after_distribute")
    with migrations._backend(dsn) as backend, backend.lock():
        everything = migrations._all_migrations()
        migrations._prepare_cluster(backend)
        backend.apply_migrations(everything.__class__([m for m in everything if m.id <= "0012_distribution_keys"]))
    with psycopg.connect(dsn) as conn:
        add_user(conn, 7, "Bean There Coffee", None)
        add_user(conn, 32, None, "john.smith@example.com")
        conn.commit()
        # What `distribute` ran for a database at 0012 (it refuses a database with migrations pending).
        conn.execute((migrations.sql_dir() / "cluster" / "distribute.sql").read_text())
        conn.commit()
    later = loyaltydb.migrate(dsn)
    assert later[0] == "0013_faster_approval" and later[-1] == loyaltydb.status(dsn)[-1].id
    distribution.distribute(dsn)
    with psycopg.connect(dsn) as conn:
        conn.execute("SELECT loyalty.register_business(7)")
        conn.commit()
        program = add_program(conn, 7, "Coffee Club")
        conn.commit()
        request_id = loyaltydb.request_enrollment(conn, 32, program)
        assert [p.request_id for p in loyaltydb.pending_requests(conn, 7)] == [request_id]
        result = loyaltydb.approve_enrollment(conn, request_id)
        assert (result.status, result.customer_created) == ("APPROVED", True)
        card = conn.execute(
            "SELECT loyalty.process_enrollment_approval(32, %s::integer, %s)", (program, request_id)
        ).fetchone()
        assert card == (result.card_id,)
        index = conn.execute("SELECT to_regclass('loyalty.customer_approval_requests_pending_idx')").fetchone()
        conn.commit()
        # 0030's and 0032's domains reached the workers' shards, their CHECKs too (added after
        # the ALTERs).
        with pytest.raises(psycopg.errors.CheckViolation) as caught:
            conn.execute("UPDATE loyalty.loyalty_cards SET status = 'active' WHERE customer_id = 32")
        # (Citus relays a router query's error as its text: the constraint is named there.)
        assert 'violates check constraint "card_status_check"' in str(caught.value)
        assert "while executing command on" in str(caught.value)  # refused by the worker
        conn.rollback()
        # 0039 made each worker's copy of the redemption numbers' sequence, in its own range: a
        # redemption on a worker gets a code of that worker's node group.
        loyaltydb.earn_points(conn, 32, program, 10, idempotency_key="start")
        reward = loyaltydb.create_reward(conn, 7, program, "Sticker", 5, stock=3)
        redeemed = loyaltydb.redeem_reward(conn, 32, reward, idempotency_key="r")
        number = conn.execute("SELECT number FROM loyalty.redemptions").fetchone()
        assert number is not None and number[0] >> 48 >= 1  # a worker's group, not the coordinator's 0
        assert loyaltydb.fulfil_redemption(conn, 7, redeemed.code).status == "FULFILLED"
        # 0044's generated display name, added to the reference table after distribution, is
        # computed by every node's own copy of the row.
        conn.commit()
        loyaltydb.upsert_user(conn, 7, None, "bean.there@shop.example")
        conn.commit()
        shown = conn.execute(
            "SELECT result FROM run_command_on_workers($$SELECT display_name FROM loyalty.businesses WHERE id = 7$$)"
        ).fetchall()
        assert shown == [("Bean There",)] * len(citus_cluster.workers)
        assert conn.execute("SELECT display_name FROM loyalty.businesses WHERE id = 7").fetchone() == ("Bean There",)
    assert index is not None and index[0] is not None


def test_selfcheck_and_demo_on_a_distributed_database_say_they_run_on_one_server(citus_cluster: TempCluster) -> None:
    dsn = _distributed_database(citus_cluster, "selfcheck_on_cluster")
    for command in ("selfcheck", "demo"):
        assert_user_error(run_cli("--dsn", dsn, command), f"{command} runs on one server only", "Citus")


def test_a_set_based_upsert_is_no_router_query_on_a_cluster(cluster_dsn: str) -> None:
    """Why single approval keeps its own one-row upserts rather than running bulk approval's
    set-based statements as a batch of one (docs/design.md): on a cluster the VALUES form goes
    to the customer's shard in one task, the INSERT … SELECT FROM unnest form is pulled to the
    coordinator, which would cost the delegated approval its one hop."""
    upsert = (
        "EXPLAIN INSERT INTO loyalty.program_enrollments AS e (customer_id, program_id) {rows}"
        " ON CONFLICT (customer_id, program_id) DO UPDATE SET status = 'ACTIVE' RETURNING e.id"
    )
    with psycopg.connect(cluster_dsn, autocommit=True) as conn:
        single = "\n".join(row[0] for row in conn.execute(upsert.format(rows="VALUES (32, 1)")))
        batch = "\n".join(
            row[0]
            for row in conn.execute(
                upsert.format(rows="SELECT f.c, f.p FROM unnest(ARRAY[32::bigint], ARRAY[1::bigint]) AS f (c, p)")
            )
        )
    assert "Task Count: 1" in single and "pull to coordinator" not in single
    assert "pull to coordinator" in batch


def test_rollback_on_a_distributed_database_is_refused_before_anything(cluster_dsn: str) -> None:
    before = migrations.status(cluster_dsn)
    for args in (["rollback", "--yes"], ["rollback", "--all", "--yes"]):
        assert_user_error(run_cli("--dsn", cluster_dsn, *args), "distributed", "nothing was rolled back")
    assert migrations.status(cluster_dsn) == before


def test_distribute_warns_while_the_owner_logs_in_without_a_password(cluster_dsn: str) -> None:
    completed = run_cli("--dsn", cluster_dsn, "distribute")
    assert completed.returncode == 0, completed.stderr
    assert "warning: loyalty_owner can log in and has no password" in completed.stderr
    with psycopg.connect(cluster_dsn, autocommit=True) as conn:
        conn.execute("ALTER ROLE loyalty_owner PASSWORD 'not-for-production'")
        try:
            assert distribution.distribute(cluster_dsn) == []
        finally:
            conn.execute("ALTER ROLE loyalty_owner PASSWORD NULL")


@contextmanager
def _a_locked_request(cluster_dsn: str) -> Iterator[tuple[uuid.UUID, str]]:
    """A pending request of customer 32 (with a non-v8 twin, as imported rows have, of customer
    33), both locked FOR UPDATE by another session for the block, which is also creating customer
    32; the requests' ids. Starts from empty
    tables (the run's shared cluster database) and makes the login role timed_app, whose own
    lock_timeout is 300ms."""
    with psycopg.connect(cluster_dsn, autocommit=True) as admin:
        admin.execute(f"TRUNCATE {', '.join(f'loyalty.{table}' for table in loyalty_tables(admin))} CASCADE")
        admin.execute("DO $$ BEGIN CREATE ROLE timed_app LOGIN; EXCEPTION WHEN duplicate_object THEN END $$")
        admin.execute("GRANT loyalty_app TO timed_app")
        admin.execute("ALTER ROLE timed_app SET lock_timeout = '300ms'")
        # A backstop: without the fix a call waits for the lock until this cancels it (not 55P03).
        admin.execute("ALTER ROLE timed_app SET statement_timeout = '15s'")
    with psycopg.connect(cluster_dsn) as conn:
        add_user(conn, 7, "Bean There Coffee", None)
        add_user(conn, 32, None, "john.smith@example.com")
        add_user(conn, 33, "Zoë", None)
        program = add_program(conn, 7, "Coffee Club")
        conn.commit()
        request_id = loyaltydb.request_enrollment(conn, 32, program)
        imported = uuid.uuid4()
        conn.execute(
            "INSERT INTO loyalty.customer_approval_requests (id, customer_id, program_id, business_id)"
            " VALUES (%s, 33, %s, 7)",
            (imported, program),
        )
        conn.commit()
    blocker = psycopg.connect(cluster_dsn)
    try:
        for customer in (32, 33):  # one customer a statement: FOR UPDATE is routed to one shard
            blocker.execute(
                "SELECT FROM loyalty.customer_approval_requests WHERE customer_id = %s FOR UPDATE", (customer,)
            )
        # And customer 32 being created: ensure_customer(32) waits for it.
        blocker.execute("INSERT INTO loyalty.customers (id, user_id, name) VALUES (32, 32, 'Blocker')")
        yield request_id, str(imported)
    finally:
        blocker.rollback()
        blocker.close()


def _sql_call(conn: psycopg.Connection[object], sql: LiteralString, *args: object) -> object:
    """A call of the SQL API as psql or node make it, its error mapped as Python's would be."""
    with loyaltydb.errors.translated_errors():
        return conn.execute(sql, args).fetchall()


def _times_out(call: Callable[[], object]) -> None:
    started = time.monotonic()
    with pytest.raises(loyaltydb.errors.LockTimeout) as timeout:
        call()
    assert timeout.value.sqlstate == "55P03" and time.monotonic() - started < 10


def test_a_role_s_lock_timeout_reaches_every_call_on_a_cluster(cluster_dsn: str) -> None:
    """A login role's lock_timeout: Citus propagates ALTER ROLE … SET and opens a delegated
    call's worker connection as that role; what runs on the coordinator (bulk, an id that names
    no customer) passes it on with SET LOCAL (0019). docs/scaling.md."""
    app_dsn = psycopg.conninfo.make_conninfo(cluster_dsn, user="timed_app")
    with _a_locked_request(cluster_dsn) as (request_id, imported), psycopg.connect(app_dsn) as app:
        _times_out(lambda: loyaltydb.approve_enrollment(app, request_id))  # delegated, one hop
        _times_out(lambda: loyaltydb.approve_enrollments(app, [request_id]))
        _times_out(lambda: loyaltydb.approve_enrollment(app, imported))
        _times_out(lambda: loyaltydb.ensure_customer(app, 32))  # delegated by its user id


def test_a_session_s_lock_timeout_reaches_what_runs_on_the_coordinator(cluster_dsn: str) -> None:
    """SET lock_timeout in the session: bulk, the SQL API called by id (as psql or node call it),
    and any call inside the caller's transaction run on the coordinator and pass it on. Only the
    one-hop call Python makes on an idle connection runs in the worker's own session, which a
    session's SET cannot reach (Citus ships the call, and even current_setting() is evaluated on
    the worker); for that path the role's setting is the way (documented)."""
    with _a_locked_request(cluster_dsn) as (request_id, imported), psycopg.connect(cluster_dsn) as conn:
        conn.execute("SET lock_timeout = '300ms'")
        conn.execute("SET statement_timeout = '15s'")  # the backstop, as for timed_app
        conn.commit()
        _times_out(lambda: loyaltydb.approve_enrollments(conn, [request_id]))
        _times_out(lambda: loyaltydb.approve_enrollment(conn, imported))
        _times_out(lambda: _sql_call(conn, "SELECT * FROM loyalty.approve_enrollment(%s)", request_id))
        conn.rollback()
        with conn.transaction():  # the caller's own transaction: not delegated
            conn.execute("SELECT 1")
            _times_out(lambda: loyaltydb.approve_enrollment(conn, request_id))
            _times_out(lambda: loyaltydb.ensure_customer(conn, 32))
            raise psycopg.Rollback


def test_a_worker_that_is_down_gives_cluster_unavailable_and_the_call_works_once_it_is_back(
    citus_cluster: TempCluster,
) -> None:
    """The customer's worker stopped: the approval fails with ClusterUnavailable, in one line,
    chained from psycopg's error, and writes nothing; the connection stays usable, and once the
    worker is back the same call approves."""
    dsn = _distributed_database(citus_cluster, "worker_down")
    with psycopg.connect(dsn) as conn:
        request_id, worker = _a_request_and_its_worker(citus_cluster, conn)
        with worker.stopped():
            with pytest.raises(loyaltydb.errors.ClusterUnavailable) as down:
                loyaltydb.approve_enrollment(conn, request_id)
            assert "\n" not in str(down.value) and isinstance(down.value.__cause__, psycopg.Error)
            assert conn.execute("SELECT 1").fetchone() == (1,)  # the coordinator's session lives on
            conn.rollback()
        pending = conn.execute(
            "SELECT status FROM loyalty.customer_approval_requests WHERE customer_id = 32 AND id = %s",
            (request_id,),
        ).fetchone()
        assert pending == ("PENDING",)
        assert conn.execute("SELECT count(*) FROM loyalty.loyalty_cards WHERE customer_id = 32").fetchone() == (0,)
        conn.commit()
        again = loyaltydb.approve_enrollment(conn, request_id)
    assert (again.status, again.customer_created) == ("APPROVED", True)


def test_a_worker_lost_mid_call_is_cluster_unavailable_for_events_and_writers(citus_cluster: TempCluster) -> None:
    """A worker stopped, or its backends terminated while the caller's transaction holds their
    connections: events.fetch and a writer raise ClusterUnavailable (psycopg's ConnectionLost
    and raw XX000 errors before), and the coordinator's session stays usable."""
    dsn = _distributed_database(citus_cluster, "worker_lost")
    with psycopg.connect(dsn) as conn:
        request_id, worker = _a_request_and_its_worker(citus_cluster, conn)
        loyaltydb.events.fetch(conn, "c")
        with worker.stopped():
            with pytest.raises(loyaltydb.errors.ClusterUnavailable):
                loyaltydb.events.fetch(conn, "c")
            conn.rollback()
        calls: list[Callable[[], object]] = [
            lambda: loyaltydb.events.fetch(conn, "c"),
            lambda: loyaltydb.approve_enrollment(conn, request_id),
        ]
        for call in calls:
            conn.execute("SELECT count(*) FROM loyalty.events")  # this transaction now holds a connection a worker
            for node in citus_cluster.workers:
                with psycopg.connect(node.conninfo("worker_lost"), autocommit=True) as admin:
                    admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = 'worker_lost' AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
                    )
            with pytest.raises(loyaltydb.errors.ClusterUnavailable) as lost:
                call()
            assert "\n" not in str(lost.value)
            conn.rollback()
            assert conn.execute("SELECT 1").fetchone() == (1,)
            conn.rollback()
        assert loyaltydb.approve_enrollment(conn, request_id).status == "APPROVED"


def test_each_ledger_call_is_one_hop_to_the_customers_worker(citus_cluster: TempCluster) -> None:
    """earn, spend, adjust, reverse, the card's history and the card lifecycle are delegated by
    the customer (one hop each): Citus says it pushes each call down; the invariants hold."""
    dsn = _distributed_database(citus_cluster, "ledger_hops")
    with psycopg.connect(dsn) as conn:
        request_id, _ = _a_request_and_its_worker(citus_cluster, conn)
        program = loyaltydb.approve_enrollment(conn, request_id).program_id
        messages: list[str] = []
        conn.add_notice_handler(lambda diag: messages.append(diag.message_primary or ""))
        conn.execute("SET client_min_messages = debug1")
        conn.commit()
        earned = loyaltydb.earn_points(conn, 32, program, 40, idempotency_key="h1")
        loyaltydb.spend_points(conn, 32, program, 5, idempotency_key="h2")
        loyaltydb.adjust_points(conn, 32, program, 1, idempotency_key="h3", note="n")
        loyaltydb.reverse_points(conn, 32, earned.transaction_id, idempotency_key="h4")
        history = loyaltydb.card_transactions(conn, 32, program)
        assert messages.count("pushing down the function call") == 5
        # The card lifecycle (0033) too.
        loyaltydb.block_card(conn, 32, program, "lost")
        loyaltydb.unblock_card(conn, 32, program, None)
        loyaltydb.replace_card(conn, 32, program)
        loyaltydb.leave_program(conn, 32, program)
        assert messages.count("pushing down the function call") == 9
        conn.execute("RESET client_min_messages")
        conn.commit()
        assert [row.reason for row in history] == ["REVERSAL", "ADJUST", "SPEND", "EARN", "WELCOME"]
        assert loyaltydb.verify_points(conn) == []
