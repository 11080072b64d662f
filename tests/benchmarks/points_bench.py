"""``make bench``'s points ledger figures (issue 28), side by side in one run, every cell
``rounds`` times with the order reversed every other round (A B, B A):

- a: ``pgbench -N``, the ceiling; e: ``pgbench`` calling ``loyalty.earn_points`` on a random
  card of ``cards`` (each call its own key), at 1 and 8 clients: e/a;
- p: Python ``earn_points`` from threads (one connection each), at 1 and 8 clients: p/e;
- r: ``pgbench`` calling ``loyalty.redeem_reward`` (an unlimited reward of 1 point) on a random
  card, at 1 and 8 clients: r/a (issue 29: >= 0.5 at 8);
- batch: ``earn_points_batch`` in batches of 100 from one thread, against p at 1 client;
- hot: 8 sessions earning and spending on ONE card (no lost update: balance = ledger after);
- the sequential scans on loyalty tables across the run (0 expected).
"""

from __future__ import annotations

import contextlib
import itertools
import random
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.bench import Measurement, pgbench, seq_scans
from loyaltydb import api
from loyaltydb.errors import InsufficientPoints
from loyaltydb.migrations import migrate
from loyaltydb.testing import TempServer

Say = Callable[[str], None]
EARN_SCRIPT = (
    "\\set c random(1, {cards})\n"
    "SELECT balance_after FROM loyalty.earn_points(p_customer_id => 100000 + :c, p_program_id => {program},"
    " p_points => 1, p_idempotency_key => 'pgb-' || nextval('bench_keys'));\n"
)
REDEEM_SCRIPT = (
    "\\set c random(1, {cards})\n"
    "SELECT balance_after FROM loyalty.redeem_reward(p_customer_id => 100000 + :c, p_reward_id => {reward},"
    " p_idempotency_key => 'pgr-' || nextval('bench_keys'));\n"
)
FIRST_CUSTOMER = 100001
#: Every card starts with these (welcome points), so that redemptions never run out.
STARTING_POINTS = 10_000_000
#: Every Python call's key is new (a key seen before would replay: a read, not a write).
_KEYS = itertools.count()


def load(conninfo: str, cards: int, say: Say) -> int:
    """A business with one program and ``cards`` customers with a card in it, made by bulk
    approvals (so every invariant holds from the start); returns the program's id."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("INSERT INTO loyalty.users (id, name) VALUES (1, 'Bench Coffee')")
        conn.execute("SELECT loyalty.register_business(1)")
        row = conn.execute(
            "INSERT INTO loyalty.loyalty_programs (business_id, name, welcome_points) VALUES (1, 'Bench Club', %s)"
            " RETURNING id",
            (STARTING_POINTS,),
        ).fetchone()
        assert row is not None
        program = int(row[0])
        conn.execute(
            "INSERT INTO loyalty.users (id, name) SELECT 100000 + n, 'Customer ' || n FROM generate_series(1, %s) AS n",
            (cards,),
        )
        conn.execute("CREATE SEQUENCE bench_keys")
        for start in range(0, cards, 1000):
            ids = [
                api.request_enrollment(conn, FIRST_CUSTOMER + n, program)
                for n in range(start, min(start + 1000, cards))
            ]
            api.approve_enrollments(conn, ids)
        conn.execute("VACUUM ANALYZE")
    say(f"points: {cards:,} cards loaded")
    return program


def python_earns(conninfo: str, program: int, cards: int, clients: int, seconds: float, batch: int) -> Measurement:
    """``clients`` threads earning on random cards until the deadline: one ``earn_points`` a call,
    or ``earn_points_batch`` of ``batch`` entries."""
    keys = _KEYS
    latencies: list[float] = []
    done = [0] * clients
    barrier = threading.Barrier(clients + 1)
    deadline = [0.0]

    def worker(index: int) -> None:
        chooser = random.Random(index)
        with psycopg.connect(conninfo) as conn:
            barrier.wait()
            own: list[float] = []
            while time.monotonic() < deadline[0]:
                started = time.perf_counter()
                if batch == 1:
                    customer = FIRST_CUSTOMER + chooser.randrange(cards)
                    api.earn_points(conn, customer, program, 1, idempotency_key=f"py-{next(keys)}")
                else:
                    entries = [
                        (FIRST_CUSTOMER + chooser.randrange(cards), program, 1, f"py-{next(keys)}")
                        for _ in range(batch)
                    ]
                    api.earn_points_batch(conn, entries)
                own.append((time.perf_counter() - started) * 1000)
                done[index] += batch
            latencies.extend(own)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    deadline[0] = time.monotonic() + seconds
    started = time.monotonic()
    barrier.wait()
    for thread in threads:
        thread.join()
    method = "p: python earn_points" if batch == 1 else f"batch: earn_points_batch x{batch}"
    return Measurement(method, clients, sum(done), time.monotonic() - started, latencies)


def hot_card(conninfo: str, program: int, sessions: int, seconds: float) -> dict[str, Any]:
    """``sessions`` threads earning 3 and spending 2 on one card: the rate, and whether balance,
    ledger and the sum of the successful results agree after."""
    customer = FIRST_CUSTOMER
    with psycopg.connect(conninfo) as conn:
        start = api.card_transactions(conn, customer, program, limit=1)[0].balance_after or 0
    keys = _KEYS
    results: list[int] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker() -> None:
        with psycopg.connect(conninfo) as conn:
            own = []
            while time.monotonic() < deadline:
                n = next(keys)
                key = f"hot-{n}"
                change = api.spend_points if n % 3 == 0 else api.earn_points
                with contextlib.suppress(InsufficientPoints):  # a refused spend changes nothing
                    own.append(change(conn, customer, program, 2 if change is api.spend_points else 3,
                                      idempotency_key=key).points)  # fmt: skip
            with lock:
                results.extend(own)

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(
            "SELECT k.points_balance, (SELECT sum(t.points) FROM loyalty.point_transactions AS t"
            " WHERE t.customer_id = k.customer_id AND t.card_id = k.id) FROM loyalty.loyalty_cards AS k"
            " WHERE k.customer_id = %s AND k.program_id = %s",
            (customer, program),
        ).fetchone()
    assert row is not None
    return {
        "sessions": sessions,
        "changes": len(results),
        "per_second": round(len(results) / elapsed, 1),
        "balance": int(row[0]),
        "ledger_sum": int(row[1]),
        "expected": start + sum(results),
        "no_lost_update": int(row[0]) == int(row[1]) == start + sum(results),
    }


def run(server: TempServer, cards: int, clients: list[int], seconds: float, rounds: int, say: Say) -> dict[str, Any]:
    """Every cell ``rounds`` times, alternating; medians and the issue's ratios per client count.
    On a database of its own ("points"), beside pgbench's ("pgbench", made when missing)."""
    with psycopg.connect(server.conninfo(), autocommit=True) as admin:
        admin.execute("CREATE DATABASE points")
        if admin.execute("SELECT FROM pg_database WHERE datname = 'pgbench'").fetchone() is None:
            admin.execute("CREATE DATABASE pgbench")
            initialise = [str(server.bindir / "pgbench"), "-i", "-q", "-s", "10", "-h", server.host]
            initialise += ["-p", str(server.port), "-U", server.user, "pgbench"]
            subprocess.run(initialise, capture_output=True, check=True)
    conninfo = server.conninfo("points")
    migrate(conninfo)
    program = load(conninfo, cards, say)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        reward = api.create_reward(conn, 1, program, "Bench sticker", 1)
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(EARN_SCRIPT.format(cards=cards, program=program))
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as redeem_script:
        redeem_script.write(REDEEM_SCRIPT.format(cards=cards, reward=reward))
    measurements: list[Measurement] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        scans_before = seq_scans(conn)
        for number in range(1, rounds + 1):
            for count in clients:
                methods: list[Callable[[int], Measurement]] = [
                    lambda n: pgbench(server, "pgbench", n, seconds, "a: pgbench -N", ["-N"]),
                    lambda n: pgbench(server, "points", n, seconds, "e: earn_points", ["-f", script.name]),
                    lambda n: pgbench(server, "points", n, seconds, "r: redeem_reward", ["-f", redeem_script.name]),
                    lambda n: python_earns(conninfo, program, cards, n, seconds, batch=1),
                ]
                if count == 1:
                    methods.append(lambda n: python_earns(conninfo, program, cards, n, seconds, batch=100))
                for method in methods if number % 2 == 1 else methods[::-1]:
                    conn.execute("CHECKPOINT")
                    measured = method(count)
                    measured.round = number
                    measurements.append(measured)
                    say(f"  round {number}, {count} client(s): {measured.method:<30} {measured.rate:9.0f}/s"
                        f"  p99 {measured.percentile(0.99):7.2f} ms")  # fmt: skip
        hot = hot_card(conninfo, program, 8, seconds)
        time.sleep(0.6)
        scans_after = seq_scans(conn)
    Path(script.name).unlink()
    Path(redeem_script.name).unlink()

    def median(method: str, count: int) -> float:
        return statistics.median(m.rate for m in measurements if m.method == method and m.clients == count)

    def per_round(top: str, bottom: str, count: int, bottom_count: int | None = None) -> list[float]:
        return [
            round(a.rate / b.rate, 3)
            for a in measurements
            for b in measurements
            if a.method == top and a.clients == count and b.method == bottom
            and b.clients == (bottom_count or count) and a.round == b.round and b.rate
        ]  # fmt: skip

    ratios = {}
    for count in clients:
        ratios[f"e/a at {count}"] = per_round("e: earn_points", "a: pgbench -N", count)
        ratios[f"p/e at {count}"] = per_round("p: python earn_points", "e: earn_points", count)
        ratios[f"r/a at {count}"] = per_round("r: redeem_reward", "a: pgbench -N", count)
    ratios["batch x100 / p at 1"] = per_round("batch: earn_points_batch x100", "p: python earn_points", 1)
    return {
        "cards": cards,
        "rounds": rounds,
        "medians": {
            f"{m} at {c}": round(median(m, c), 1) for m, c in sorted({(m.method, m.clients) for m in measurements})
        },
        "ratios_per_round": ratios,
        "ratio_medians": {name: statistics.median(values) for name, values in ratios.items() if values},
        "hot_card": hot,
        "measurements": [m.summary() for m in measurements],
        "seq_scans_during": {t: scans_after.get(t, 0) - scans_before.get(t, 0) for t in scans_before},
    }


def print_figures(report: dict[str, Any], say: Say) -> None:
    for name, value in report["medians"].items():
        say(f"points {name}: {value:,.0f}/s")
    for name, value in report["ratio_medians"].items():
        say(f"points ratio {name}: {value} (rounds: {report['ratios_per_round'][name]})")
    hot = report["hot_card"]
    say(
        f"points hot card, {hot['sessions']} sessions: {hot['per_second']:,}/s, no lost update: {hot['no_lost_update']}"
    )
    scans = {table: n for table, n in report["seq_scans_during"].items() if n}
    say(f"points seq scans on loyalty tables: {scans or 'none'}")
