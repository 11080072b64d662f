"""``make bench``'s erasure figures (issue 31): how long ``erase_customer`` takes for a customer
with 10,000 events, 1,000 notifications and 1,000 ledger rows (one transaction each), and the
rate of other customers' approvals from 4 Python threads with and without erasures running
beside them, the two cells alternating (A B, B A) for ``rounds`` rounds. The heavy customers'
events and notifications are written straight into their tables (a fixture), their ledger rows
through ``earn_points_batch``; ``verify_points`` checks the ledger after the run.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg

from benchmarks.bench import Measurement, RequestPool, python_threads
from loyaltydb import api
from loyaltydb.migrations import migrate
from loyaltydb.testing import TempServer

Say = Callable[[str], None]
HEAVY_EVENTS = 10_000
HEAVY_NOTIFICATIONS = 1_000
HEAVY_LEDGER = 1_000
#: Heavy customers are ids 1..heavy; the approvals' customers come after them.
FIRST_OTHER = 1_000


def load(conninfo: str, heavy: int, others: int, say: Say) -> None:
    """``heavy`` customers each with a card, 1,000 ledger rows, 1,000 notifications and 10,000
    events naming them; ``others`` users with a PENDING request each (bench.queue, in order)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("INSERT INTO loyalty.users (id, name) VALUES (999999, 'Bench Coffee')")
        program = api.create_program(conn, 999999, "Bench Club")
        conn.execute(
            "INSERT INTO loyalty.users (id, name, email)"
            " SELECT n, 'Heavy Customer ' || n, 'heavy.' || n || '@example.com' FROM generate_series(1, %s) AS n",
            (heavy,),
        )
        api.approve_enrollments(conn, [api.request_enrollment(conn, n, program) for n in range(1, heavy + 1)])
        for customer in range(1, heavy + 1):
            for first in range(0, HEAVY_LEDGER, 500):
                api.earn_points_batch(
                    conn, [(customer, program, 1, f"h{n}") for n in range(first, min(first + 500, HEAVY_LEDGER))]
                )
        conn.execute(
            "INSERT INTO loyalty.customer_notifications (customer_id, business_id, type, title, message, data)"
            " SELECT c.id, 999999, 'BENCH', 'Hello ' || c.name, 'A message for ' || c.name || ' <' || c.email || '>',"
            "        jsonb_build_object('customer_name', c.name, 'points', n)"
            "   FROM loyalty.customers AS c, generate_series(1, %s) AS n WHERE c.id <= %s",
            (HEAVY_NOTIFICATIONS - 2, heavy),
        )
        conn.execute(
            "INSERT INTO loyalty.events (customer_id, business_id, type, payload)"
            " SELECT c.id, 999999, 'bench.event', jsonb_build_object('customer_name', c.name, 'email', c.email, 'n', n)"
            "   FROM loyalty.customers AS c, generate_series(1, %s) AS n WHERE c.id <= %s",
            (HEAVY_EVENTS, heavy),
        )
        conn.execute(
            "INSERT INTO loyalty.users (id, name) SELECT %s + n, 'Other ' || n FROM generate_series(1, %s) AS n",
            (FIRST_OTHER, others),
        )
        conn.execute("CREATE SCHEMA bench")
        conn.execute("CREATE TABLE bench.queue (n bigint PRIMARY KEY, request_id uuid NOT NULL)")
        conn.execute(
            "INSERT INTO bench.queue (n, request_id)"
            " SELECT n, loyalty.request_enrollment(%s + n, %s) FROM generate_series(1, %s) AS n",
            (FIRST_OTHER, program, others),
        )
        conn.execute("VACUUM ANALYZE")
    say(f"erasure: {heavy} heavy customers ({HEAVY_EVENTS:,} events, {HEAVY_NOTIFICATIONS:,} notifications,"
        f" {HEAVY_LEDGER:,} ledger rows each), {others:,} requests queued")  # fmt: skip


def run(server: TempServer, heavy: int, seconds: float, rounds: int, say: Say) -> dict[str, Any]:
    """The figures on a database of its own ("erasure")."""
    with psycopg.connect(server.conninfo(), autocommit=True) as admin:
        admin.execute("CREATE DATABASE erasure")
    conninfo = server.conninfo("erasure")
    migrate(conninfo)
    load(conninfo, heavy, 60_000, say)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        pool = RequestPool(conn)
    to_erase = list(range(1, heavy + 1))
    erase_ms: list[float] = []
    alone: list[Measurement] = []
    beside: list[Measurement] = []
    for number in range(1, rounds + 1):
        for cell in ["alone", "beside"] if number % 2 == 1 else ["beside", "alone"]:
            if cell == "alone":
                alone.append(python_threads(conninfo, pool, 4, seconds, batch=1))
                say(f"  round {number}: approvals alone {alone[-1].rate:7.0f}/s")
                continue
            stop = threading.Event()

            def eraser(stop: threading.Event) -> None:
                with psycopg.connect(conninfo, autocommit=True) as conn:
                    while to_erase and not stop.is_set():
                        started = time.monotonic()
                        api.erase_customer(conn, to_erase.pop(0), requested_by="bench")
                        erase_ms.append((time.monotonic() - started) * 1000)
                        stop.wait(0.25)

            thread = threading.Thread(target=eraser, args=(stop,))
            thread.start()
            beside.append(python_threads(conninfo, pool, 4, seconds, batch=1))
            stop.set()
            thread.join()
            say(f"  round {number}: approvals beside erasures {beside[-1].rate:7.0f}/s; erasures so far:"
                f" {', '.join(f'{ms:,.0f}' for ms in erase_ms)} ms")  # fmt: skip
    with psycopg.connect(conninfo, autocommit=True) as conn:
        problems = api.verify_points(conn)
    return {
        "heavy_customer": {"events": HEAVY_EVENTS, "notifications": HEAVY_NOTIFICATIONS, "ledger": HEAVY_LEDGER},
        "erase_ms": [round(ms, 1) for ms in erase_ms],
        "erase_ms_median": round(statistics.median(erase_ms), 1) if erase_ms else None,
        "approvals_alone_median": round(statistics.median(m.rate for m in alone), 1),
        "approvals_beside_median": round(statistics.median(m.rate for m in beside), 1),
        "beside_over_alone_per_round": [round(b.rate / a.rate, 3) for a, b in zip(alone, beside, strict=True)],
        "verify_points_problems": len(problems),
    }


def print_figures(report: dict[str, Any], say: Say) -> None:
    heavy = report["heavy_customer"]
    say(f"erasure of a customer with {heavy['events']:,} events, {heavy['notifications']:,} notifications,"
        f" {heavy['ledger']:,} ledger rows: median {report['erase_ms_median']} ms")  # fmt: skip
    say(f"erasure: each took {report['erase_ms']} ms")
    say(
        f"erasure: approvals from 4 threads alone {report['approvals_alone_median']:,.0f}/s, beside erasures"
        f" {report['approvals_beside_median']:,.0f}/s (per round: {report['beside_over_alone_per_round']});"
        f" verify_points problems after: {report['verify_points_problems']}"
    )
