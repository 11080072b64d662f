"""``make bench``'s points expiry figure (issue 29): on a database holding ``credits`` credits
(``cards`` cards, the same number each), 10% of them overdue, how many credits ``expire_points``
(batches of 1,000, one session) writes off a second while ``pgbench`` earns on random cards
with 8 clients beside it; and the earns' rate with the sweep beside them and without, the two
cells alternating (A B, B A) for ``rounds`` rounds. Each sweep round gets its own fresh 10%:
the credits are made overdue by moving their ``created_at`` back past the program's TTL.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.bench import Measurement, pgbench, seq_scans
from benchmarks.points_bench import EARN_SCRIPT, FIRST_CUSTOMER
from loyaltydb import api
from loyaltydb.migrations import migrate
from loyaltydb.testing import TempServer

Say = Callable[[str], None]
TTL_DAYS = 365


def load(conninfo: str, cards: int, credits: int, say: Say) -> int:
    """A program with a points TTL, ``cards`` cards made by bulk approval, then ``credits`` EARN
    rows spread evenly over them written straight into the ledger set-based (a fixture: the
    cards' balances, enrollments and credits are set to agree, and verify_points says so)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("INSERT INTO loyalty.users (id, name) VALUES (1, 'Bench Coffee')")
        program = api.create_program(conn, 1, "Bench Club")
        conn.execute(f"UPDATE loyalty.loyalty_programs SET points_ttl = '{TTL_DAYS} days'")
        conn.execute(
            "INSERT INTO loyalty.users (id, name) SELECT 100000 + n, 'Customer ' || n FROM generate_series(1, %s) AS n",
            (cards,),
        )
        conn.execute("CREATE SEQUENCE bench_keys")
        for start in range(0, cards, 1000):
            batch = range(start, min(start + 1000, cards))
            ids = [api.request_enrollment(conn, FIRST_CUSTOMER + n, program) for n in batch]
            api.approve_enrollments(conn, ids)
        say(f"expiry: {cards:,} cards; writing {credits:,} credits")
        each = credits // cards
        conn.execute(
            "INSERT INTO loyalty.point_transactions (customer_id, card_id, program_id, business_id, points, reason,"
            " idempotency_key, balance_after, created_at)"
            " SELECT k.customer_id, k.id, k.program_id, k.business_id, 10, 'EARN', 'load-' || n, 10 * n,"
            "        now() - interval '300 days' + n * interval '1 minute'"
            "   FROM loyalty.loyalty_cards AS k, generate_series(1, %s) AS n",
            (each,),
        )
        conn.execute("UPDATE loyalty.loyalty_cards SET points_balance = 10 * %s", (each,))
        conn.execute("UPDATE loyalty.program_enrollments SET current_points = 10 * %s", (each,))
        conn.execute("VACUUM ANALYZE")
        problems = api.verify_points(conn)
        assert not problems, problems[:3]
    say(f"expiry: {cards * each:,} credits loaded, ledger verified")
    return program


def make_overdue(conninfo: str, share: float) -> int:
    """Move ``share`` of the credits with points left (the oldest of each card first) past the
    TTL; returns how many."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute(
            "WITH open AS (SELECT customer_id, id, row_number() OVER (PARTITION BY customer_id ORDER BY id) AS r,"
            "                     count(*) OVER (PARTITION BY customer_id) AS n"
            "                FROM loyalty.point_transactions WHERE points > consumed AND reason = 'EARN'"
            "                 AND created_at > now() - %s * interval '1 day')"
            " UPDATE loyalty.point_transactions AS t"
            "    SET created_at = now() - (%s + 1) * interval '1 day' - o.r * interval '1 second'"
            "   FROM open AS o WHERE t.customer_id = o.customer_id AND t.id = o.id AND o.r <= ceil(o.n * %s)",
            (TTL_DAYS, TTL_DAYS, share),
        )
        moved = row.rowcount
        conn.execute("VACUUM ANALYZE loyalty.point_transactions")
    return moved


def sweep_beside(server: TempServer, conninfo: str, cards: int, program: int, seconds: float,
                 script: str) -> tuple[Measurement, int, float]:  # fmt: skip
    """pgbench earning for ``seconds`` while one session sweeps in batches of 1,000; the earns'
    measurement, how many credits the sweep expired, and for how long it had work (the window, or
    less when it ran out of overdue credits)."""
    expired = [0]
    busy = [0.0]
    stop = threading.Event()

    def sweeper() -> None:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            start = time.monotonic()
            while not stop.is_set():
                done = api.expire_points(conn, limit=1000)
                expired[0] += done
                if done:
                    busy[0] = time.monotonic() - start
                else:
                    time.sleep(0.05)

    thread = threading.Thread(target=sweeper)
    thread.start()
    try:
        measured = pgbench(server, "expiry", 8, seconds, "earns beside the sweep", ["-f", script])
    finally:
        stop.set()
        thread.join()
    return measured, expired[0], busy[0]


def run(server: TempServer, cards: int, credits: int, seconds: float, rounds: int, say: Say) -> dict[str, Any]:
    """The figure on a database of its own ("expiry")."""
    with psycopg.connect(server.conninfo(), autocommit=True) as admin:
        admin.execute("CREATE DATABASE expiry")
    conninfo = server.conninfo("expiry")
    migrate(conninfo)
    program = load(conninfo, cards, credits, say)
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(EARN_SCRIPT.format(cards=cards, program=program))
    alone: list[Measurement] = []
    beside: list[tuple[Measurement, int, int, float]] = []
    scans: dict[str, int] = {}
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for number in range(1, rounds + 1):
            cells = ["alone", "beside"] if number % 2 == 1 else ["beside", "alone"]
            for cell in cells:
                conn.execute("CHECKPOINT")
                if cell == "alone":
                    alone.append(pgbench(server, "expiry", 8, seconds, "earns alone", ["-f", script.name]))
                    say(f"  round {number}: earns alone {alone[-1].rate:9.0f}/s")
                else:
                    overdue = make_overdue(conninfo, 0.10)  # (its own scans are not counted)
                    time.sleep(0.6)  # the statistics collector's delay
                    before = seq_scans(conn)
                    measured, expired, busy = sweep_beside(server, conninfo, cards, program, seconds, script.name)
                    time.sleep(0.6)
                    after = seq_scans(conn)
                    for table in before:
                        scans[table] = scans.get(table, 0) + after.get(table, 0) - before[table]
                    beside.append((measured, expired, overdue, busy))
                    say(f"  round {number}: earns beside the sweep {measured.rate:9.0f}/s; the sweep expired"
                        f" {expired:,} of {overdue:,} overdue credits in {busy:.1f} s,"
                        f" {expired / max(busy, 0.001):,.0f}/s")  # fmt: skip
        problems = api.verify_points(conn)
    Path(script.name).unlink()
    ratios = [round(b[0].rate / a.rate, 3) for a, b in zip(alone, beside, strict=True)]
    return {
        "cards": cards,
        "credits": credits,
        "rounds": rounds,
        "earns_alone_median": round(statistics.median(m.rate for m in alone), 1),
        "earns_beside_sweep_median": round(statistics.median(b[0].rate for b in beside), 1),
        "beside_over_alone_per_round": ratios,
        "expired_per_second_median": round(statistics.median(b[1] / max(b[3], 0.001) for b in beside), 1),
        "sweep_busy_seconds": [round(b[3], 1) for b in beside],
        "window_seconds": seconds,
        "overdue_per_round": [b[2] for b in beside],
        "verify_points_problems": len(problems),
        "seq_scans_during_sweeps": scans,
    }


def print_figures(report: dict[str, Any], say: Say) -> None:
    say(f"expiry: {report['credits']:,} credits on {report['cards']:,} cards, 10% overdue each sweep round")
    say(f"expiry sweep: {report['expired_per_second_median']:,.0f} credits expired/s beside 8 earning clients")
    say(
        f"expiry earns at 8 clients: alone {report['earns_alone_median']:,.0f}/s, beside the sweep"
        f" {report['earns_beside_sweep_median']:,.0f}/s (per round: {report['beside_over_alone_per_round']})"
    )
    scans = {table: n for table, n in report["seq_scans_during_sweeps"].items() if n}
    say(f"expiry seq scans on loyalty tables while sweeping: {scans or 'none'}; verify_points problems after: "
        f"{report['verify_points_problems']}")  # fmt: skip
