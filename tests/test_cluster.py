"""loyaltydb on a Citus cluster (a coordinator and 2 workers started by the tests): the first
steps of the scale-out (issue 9). Distribution itself is not done yet: see the README."""

from __future__ import annotations

import psycopg

import loyaltydb
from helpers import add_program, add_user
from loyaltydb.testing._cluster import TempCluster


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
            assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'loyalty_%'").fetchone() == (2,)
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
