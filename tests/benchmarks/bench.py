"""``make bench``: approvals measured against the server's own ceiling, in one run.

On a throwaway server (default settings, fsync on) loaded at ``--scale`` users, at each client
count it measures (a) ``pgbench -N``, the ceiling; (b) ``pgbench`` calling
``loyalty.process_enrollment_approval`` on fresh PENDING requests; (c) ``approve_enrollment``
from threads and from ``loyaltydb.aio`` tasks, one connection each, and, as the floor of any Python client, the
same statement sent by bare psycopg from threads (c0); (d) ``approve_enrollments``
in batches of 100 and 1,000. For each: approvals/s and p50/p95/p99 latency, and the ratios
b/a and c/b. Then batches against single approvals in each shape of ``SHAPES`` (batch_bench),
and the cost of one approval at 10,000 and at 1,000,000 existing customers.
Results go to ``results/bench-*.json`` and a PNG chart; a table is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from benchmarks import events_drain, legacy_import
from loyaltydb import _queries as queries
from loyaltydb import aio, api
from loyaltydb.distribution import distribute
from loyaltydb.migrations import migrate
from loyaltydb.testing import TempServer
from loyaltydb.testing._cluster import TempCluster

Say = Callable[[str], None]
PROCEDURE_SCRIPT = (
    "SELECT r.status FROM bench.queue AS q,"
    " LATERAL loyalty.process_enrollment_approval(p_request_id => q.request_id) AS r"
    " WHERE q.n = (SELECT nextval('bench.cursor'));\n"
)


@dataclass
class Measurement:
    """One method at one client count."""

    method: str
    clients: int
    approvals: int
    seconds: float
    latencies_ms: list[float] = field(repr=False)
    round: int = 1

    @property
    def rate(self) -> float:
        return self.approvals / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    def summary(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "clients": self.clients,
            "approvals": self.approvals,
            "seconds": round(self.seconds, 3),
            "per_second": round(self.rate, 1),
            "p50_ms": round(self.percentile(0.50), 3),
            "p95_ms": round(self.percentile(0.95), 3),
            "p99_ms": round(self.percentile(0.99), 3),
            "round": self.round,
        }


#: The shapes of the rows ``load`` makes (issue 32): who asks, and who has a name.
SHAPES = {
    "bench": "make bench's own: half the requests a customer's, half a user's who is not one yet (all with names);"
    " (customer, program) pairs repeat after `scale` requests, re-activating cards",
    "launch": "a program's launch day: every request a distinct user's who is not a customer yet; businesses unnamed",
    "fresh": "a fresh (customer, program) pair every request: as make bench's own, but a customer's program is never"
    " its card's, half the users who are not customers yet have no name, nor have half the businesses",
    "returning": "every request of a pair approved before (the card re-activated, no new customer, card or"
    " notification): make bench's shape past its first `scale` approvals",
}


def most_requests(shape: str, scale: int) -> int:
    """How many requests ``load`` can queue in ``shape`` at ``scale`` users: a launch day's are
    the users who are not customers (half), fresh and returning pairs one a user."""
    return scale // 2 if shape == "launch" else scale


def load(
    conninfo: str, scale: int, pending: int, say: Say, businesses: int | None = None, shape: str = "bench"
) -> None:
    """Users, businesses (2 programs each; one a hundred users unless given), customers with a
    card for half the users (the even ones), and ``pending`` PENDING requests (each with its
    notification) queued in ``bench.queue`` for the measurements, shaped as ``SHAPES[shape]``
    says. ``launch``: at most ``scale // 2`` requests; ``fresh``: at most ``scale``;
    ``returning``: the first ``pending`` of twice as many requests are approved here, and the
    queue holds their twins."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}: one of {', '.join(SHAPES)}")
    if shape != "bench" and pending > most_requests(shape, scale):
        raise ValueError(f"the {shape} shape has at most {most_requests(shape, scale):,} requests at {scale:,} users")
    businesses = businesses or max(10, scale // 100)
    programs = 2 * businesses
    chunk = 100_000
    with psycopg.connect(conninfo, autocommit=True) as conn:

        def chunked(what: str, total: int, sql: str, **params: int | str) -> None:
            started = time.monotonic()
            for first in range(0, total, chunk):
                last = min(total, first + chunk)
                conn.execute(sql, {"first": first + 1, "last": last, "shape": shape, **params})
                say(f"  {what}: {last:,}/{total:,} ({time.monotonic() - started:.0f} s)")

        # Odd users have a name (in "fresh", one in two of them); even users are customers.
        chunked(
            "users",
            scale,
            "INSERT INTO loyalty.users (id, name, email)"
            " SELECT n, CASE WHEN n %% (CASE WHEN %(shape)s = 'fresh' THEN 4 ELSE 2 END) = 1 THEN 'User ' || n END,"
            " 'user.' || n || '@example.com' FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS n",
        )
        conn.execute(
            "INSERT INTO loyalty.users (id, name, email) SELECT %(base)s + n,"
            " CASE WHEN %(shape)s IN ('bench', 'returning') OR (%(shape)s = 'fresh' AND n %% 2 = 1)"
            "      THEN 'Business ' || n END, 'owner.' || n || '@shop.example'"
            " FROM generate_series(1, %(b)s) AS n",
            {"base": scale, "b": businesses, "shape": shape},
        )
        conn.execute(
            "INSERT INTO loyalty.loyalty_programs (id, business_id, name)"
            " SELECT n, %(base)s + 1 + (n - 1) / 2, 'Program ' || n FROM generate_series(1, %(p)s) AS n",
            {"base": scale, "p": programs},
        )
        conn.execute("SELECT setval(pg_get_serial_sequence('loyalty.loyalty_programs', 'id'), %s)", (programs,))
        chunked(
            "customers with a card",
            scale // 2,
            "WITH c AS (INSERT INTO loyalty.customers (id, user_id, name, email)"
            "  SELECT 2 * n, 2 * n, 'Customer ' || 2 * n, 'user.' || 2 * n || '@example.com'"
            "  FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS n RETURNING id),"
            " e AS (INSERT INTO loyalty.program_enrollments (customer_id, program_id)"
            "  SELECT c.id, 1 + (c.id * 7919) %% %(programs)s FROM c RETURNING customer_id, program_id)"
            " INSERT INTO loyalty.loyalty_cards (customer_id, program_id, business_id)"
            " SELECT e.customer_id, e.program_id, p.business_id FROM e JOIN loyalty.loyalty_programs AS p"
            " ON p.id = e.program_id",
            programs=programs,
        )
        conn.execute("CREATE SCHEMA bench")
        conn.execute("CREATE TABLE bench.queue (n bigint PRIMARY KEY, request_id uuid NOT NULL)")
        conn.execute("CREATE SEQUENCE bench.cursor")
        # Requests are made the way a service makes them: loyalty.request_enrollment. Request n
        # asks for pair k (k = n, but "returning" asks for pairs 1..pending twice): user c, a
        # random one but on launch day; in "fresh", a customer's program is another than its card's.
        chunked(
            "pending requests",
            2 * pending if shape == "returning" else pending,
            "INSERT INTO bench.queue (n, request_id)"
            " SELECT n, loyalty.request_enrollment("
            "   p_customer_id => c,"
            "   p_program_id => CASE WHEN %(shape)s = 'fresh' THEN 1 + (c * 7919 + 1) %% %(programs)s"
            "                   ELSE 1 + (k * 7907) %% %(programs)s END)"
            " FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS n,"
            " LATERAL (SELECT CASE WHEN %(shape)s = 'returning' THEN 1 + (n - 1) %% %(pending)s ELSE n END AS k) AS k,"
            " LATERAL (SELECT CASE WHEN %(shape)s = 'launch' THEN 2 * k - 1"
            "                  ELSE 1 + (k * 104729) %% %(scale)s END AS c) AS c",
            scale=scale,
            programs=programs,
            pending=pending,
        )
        if shape == "returning":
            say("  approving the first of each pair")
            for first in range(1, pending + 1, 1000):
                conn.execute(
                    "SELECT count(*) FROM loyalty.process_enrollment_approvals((SELECT array_agg(q.request_id"
                    " ORDER BY q.n) FROM bench.queue AS q WHERE q.n BETWEEN %s AND %s))",
                    (first, min(pending, first + 999)),
                )
            conn.execute("DELETE FROM bench.queue WHERE n <= %s", (pending,))
            conn.execute("UPDATE bench.queue SET n = n - %s", (pending,))
        say("  vacuum analyze")
        conn.execute("VACUUM ANALYZE")


class RequestPool:
    """Fresh request ids for every method, never one twice: Python takes them from memory,
    pgbench through the bench.cursor sequence; the position is handed over between phases."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.ids = [row[0] for row in conn.execute("SELECT request_id FROM bench.queue ORDER BY n")]
        self.position = 0
        self.lock = threading.Lock()

    def take(self, count: int = 1) -> list[Any]:
        with self.lock:
            taken = self.ids[self.position : self.position + count]
            self.position += len(taken)
            return taken

    def before_pgbench(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute("SELECT setval('bench.cursor', %s, false)", (self.position + 1,))

    def after_pgbench(self, conn: psycopg.Connection[Any]) -> None:
        row = conn.execute(
            "SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM bench.cursor"
        ).fetchone()
        assert row is not None
        self.position = int(row[0])


def pgbench(server: TempServer, dbname: str, clients: int, seconds: float, method: str,
            extra: Sequence[str]) -> Measurement:  # fmt: skip
    """Run pgbench with per-transaction logs; latencies from the logs (microseconds, field 3)."""
    with tempfile.TemporaryDirectory() as logs:
        args = [str(server.bindir / "pgbench"), "-h", server.host, "-p", str(server.port), "-U", server.user,
                "-c", str(clients), "-j", str(min(clients, 4)), "-T", str(int(seconds)), "-l", "-n", *extra,
                dbname]  # fmt: skip
        completed = subprocess.run(args, cwd=logs, capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            raise RuntimeError(f"pgbench failed: {completed.stderr.strip()[-500:]}")
        latencies = [
            int(line.split()[2]) / 1000
            for log in Path(logs).glob("pgbench_log.*")
            for line in log.read_text().splitlines()
        ]
    return Measurement(method, clients, len(latencies), seconds, latencies)


def python_threads(
    conninfo: str, pool: RequestPool, clients: int, seconds: float, batch: int, *, bare: bool = False
) -> Measurement:
    """``clients`` threads, each with its own connection, approving until the deadline. ``bare``:
    the statement ``approve_enrollment`` sends, by psycopg alone in autocommit (no loyaltydb
    wrapper: what any Python client costs on this machine, the floor of c/b)."""
    latencies: list[float] = []
    approved = [0] * clients
    barrier = threading.Barrier(clients + 1)
    deadline = [0.0]

    def worker(index: int) -> None:
        with psycopg.connect(conninfo, autocommit=bare) as conn:
            barrier.wait()
            own: list[float] = []
            while time.monotonic() < deadline[0]:
                ids = pool.take(batch)
                if not ids:
                    break
                started = time.perf_counter()
                if bare:
                    query, params = queries.decide(ids[0], approved=True, reason=None, business_id=None)
                    conn.execute(query, params).fetchone()
                elif batch == 1:
                    api.approve_enrollment(conn, ids[0])
                else:
                    api.approve_enrollments(conn, ids)
                own.append((time.perf_counter() - started) * 1000)
                approved[index] += len(ids)
            latencies.extend(own)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    deadline[0] = time.monotonic() + seconds
    started = time.monotonic()
    barrier.wait()
    for thread in threads:
        thread.join()
    method = "c0: bare psycopg" if bare else "c: python threads" if batch == 1 else f"d: bulk x{batch}"
    return Measurement(method, clients, sum(approved), time.monotonic() - started, latencies)


def python_async(conninfo: str, pool: RequestPool, clients: int, seconds: float) -> Measurement:
    """``clients`` asyncio tasks, each with its own AsyncConnection."""

    async def main() -> Measurement:
        connections = [await psycopg.AsyncConnection.connect(conninfo) for _ in range(clients)]
        latencies: list[float] = []
        deadline = time.monotonic() + seconds

        async def worker(conn: psycopg.AsyncConnection[Any]) -> int:
            count = 0
            while time.monotonic() < deadline and (ids := pool.take()):
                started = time.perf_counter()
                await aio.approve_enrollment(conn, ids[0])
                latencies.append((time.perf_counter() - started) * 1000)
                count += 1
            return count

        started = time.monotonic()
        counts = await asyncio.gather(*(worker(conn) for conn in connections))
        elapsed = time.monotonic() - started
        for conn in connections:
            await conn.close()
        return Measurement("c: python aio", clients, sum(counts), elapsed, latencies)

    return asyncio.run(main())


def seq_scans(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """Sequential scans so far on each loyalty table (statistics as last flushed)."""
    conn.execute("SELECT pg_stat_clear_snapshot()")
    rows = conn.execute(
        "SELECT relname, seq_scan FROM pg_stat_user_tables WHERE schemaname = 'loyalty' ORDER BY relname"
    ).fetchall()
    return {name: int(count) for name, count in rows}


def measure(server: TempServer, scale: int, pending: int, clients: Sequence[int], seconds: float,
            say: Say, rounds: int = 1) -> dict[str, Any]:  # fmt: skip
    """The main run: every method at every client count on one loaded database, ``rounds``
    times, the methods in reverse order every other round (A B C, C B A: neither the start nor
    the end of a round favours one method, as the machine drifts)."""
    conninfo = server.conninfo("loyalty")
    say(f"loading scale {scale:,} users, {pending:,} pending requests ...")
    started = time.monotonic()
    load(conninfo, scale, pending, say)
    load_seconds = time.monotonic() - started
    subprocess.run([str(server.bindir / "pgbench"), "-i", "-q", "-s", "10", "-h", server.host, "-p", str(server.port),
                    "-U", server.user, "pgbench"], capture_output=True, check=True)  # fmt: skip
    measurements: list[Measurement] = []
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(PROCEDURE_SCRIPT)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        pool = RequestPool(conn)

        def pgbench_a(count: int) -> Measurement:
            return pgbench(server, "pgbench", count, seconds, "a: pgbench -N", ["-N"])

        def pgbench_b(count: int) -> Measurement:
            pool.before_pgbench(conn)
            measured = pgbench(server, "loyalty", count, seconds, "b: procedure", ["-f", script.name])
            pool.after_pgbench(conn)
            return measured

        methods: list[Callable[[int], Measurement]] = [
            pgbench_a,
            pgbench_b,
            lambda count: python_threads(conninfo, pool, count, seconds, batch=1),
            lambda count: python_threads(conninfo, pool, count, seconds, batch=1, bare=True),
            lambda count: python_async(conninfo, pool, count, seconds),
            lambda count: python_threads(conninfo, pool, count, seconds, batch=100),
            lambda count: python_threads(conninfo, pool, count, seconds, batch=1000),
        ]
        scans_before = seq_scans(conn)
        for number in range(1, rounds + 1):
            for count in clients:
                say(f"{count} client(s)" + (f", round {number} of {rounds}:" if rounds > 1 else ":"))
                cell: list[Measurement] = []
                for method in methods if number % 2 == 1 else methods[::-1]:
                    # Each cell starts from a checkpoint: the dirty pages and full-page writes of
                    # the cell before (a bulk cell writes a lot) are not paid for by the next one.
                    conn.execute("CHECKPOINT")
                    cell.append(method(count))
                    cell[-1].round = number
                if pool.position >= len(pool.ids):
                    raise RuntimeError(f"the {len(pool.ids):,} pending requests ran out: pass a larger --pending")
                for m in sorted(cell, key=lambda m: m.method):
                    say(f"  {m.method:<18} {m.rate:9.0f}/s  p50 {m.percentile(0.5):6.2f} ms"
                        f"  p99 {m.percentile(0.99):7.2f} ms")  # fmt: skip
                measurements.extend(cell)
        time.sleep(0.6)  # stats are flushed to shared memory at most once a second per backend
        scans_after = seq_scans(conn)
    Path(script.name).unlink()
    return {
        "scale": scale,
        "rounds": rounds,
        "load_seconds": round(load_seconds, 1),
        "requests_used": pool.position,
        "requests_loaded": len(pool.ids),
        "measurements": [m.summary() for m in measurements],
        "seq_scans_during_measurements": {t: scans_after.get(t, 0) - scans_before.get(t, 0) for t in scans_before},
    }


def medians(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row a method and client count: the median of its rounds (rate and percentiles)."""
    out = []
    for key in dict.fromkeys((m["method"], m["clients"]) for m in results):
        cells = [m for m in results if (m["method"], m["clients"]) == key]
        row: dict[str, Any] = {"method": key[0], "clients": key[1], "rounds": len(cells)}
        for name in ("per_second", "p50_ms", "p95_ms", "p99_ms"):
            row[name] = round(statistics.median(m[name] for m in cells), 3)
        row["per_second_range"] = [min(m["per_second"] for m in cells), max(m["per_second"] for m in cells)]
        out.append(row)
    return sorted(out, key=lambda row: (row["clients"], row["method"]))


def ratios(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ratios of each round (b/a, c/b, bulk/single), then their median and range: a ratio
    of two cells of one round, minutes apart, not of two medians."""
    by = {(m["method"], m["clients"], m.get("round", 1)): m["per_second"] for m in results}
    out = []
    for clients in sorted({m["clients"] for m in results}):
        per_round: dict[str, list[float]] = {}
        for number in sorted({m.get("round", 1) for m in results}):
            b = by[("b: procedure", clients, number)]
            wanted = {
                "b/a": ("b: procedure", "a: pgbench -N"),
                "c_threads/b": ("c: python threads", "b: procedure"),
                "c_aio/b": ("c: python aio", "b: procedure"),
                "c0_bare/b": ("c0: bare psycopg", "b: procedure"),
            }
            if clients == 1:
                wanted["bulk100/single"] = ("d: bulk x100", "b: procedure")
                wanted["bulk1000/single"] = ("d: bulk x1000", "b: procedure")
            for label, (top, bottom) in wanted.items():
                if (top, clients, number) in by and b:
                    per_round.setdefault(label, []).append(by[(top, clients, number)] / by[(bottom, clients, number)])
        row: dict[str, Any] = {"clients": clients}
        for label, values in per_round.items():
            row[label] = round(statistics.median(values), 3)
            if len(values) > 1:
                row[label + " range"] = [round(min(values), 3), round(max(values), 3)]
        out.append(row)
    return out


def scale_check(server: TempServer, sizes: Sequence[int], seconds: float, say: Say) -> list[dict[str, Any]]:
    """The procedure's cost per approval (1 client, pgbench) on databases of different sizes."""
    out = []
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(PROCEDURE_SCRIPT)
    for size in sizes:
        dbname = f"scale_{size}"
        with psycopg.connect(server.conninfo(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{dbname}"')
        migrate(server.conninfo(dbname))
        say(f"scale check: loading {size:,} users")
        load(server.conninfo(dbname), size, 20_000, lambda line: None)
        rates = {}
        for clients in (1, 8):
            m = pgbench(server, dbname, clients, seconds, "b: procedure", ["-f", script.name])
            rates[clients] = m
        out.append({"users": size, "customers": size // 2,
                    "cost_ms_1_client": round(1000 / rates[1].rate, 3),
                    "per_second_1_client": round(rates[1].rate, 1),
                    "per_second_8_clients": round(rates[8].rate, 1)})  # fmt: skip
        say(f"  {size:,} users: {out[-1]['cost_ms_1_client']} ms per approval at 1 client")
    Path(script.name).unlink()
    return out


PROFILE_SETTINGS = {
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "all",  # the statements inside the functions too
    "track_functions": "all",
}


def profile(conninfo: str) -> list[dict[str, Any]]:
    """The costliest statements of the run, nested ones included (needs PROFILE_SETTINGS)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        rows = conn.execute(
            "SELECT calls, round((total_exec_time / calls * 1000)::numeric, 1),"
            " left(regexp_replace(query, '\\s+', ' ', 'g'), 100) FROM pg_stat_statements"
            " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND calls > 1000"
            " ORDER BY total_exec_time DESC LIMIT 16"
        ).fetchall()
    return [{"calls": calls, "us_per_call": float(us), "statement": text} for calls, us, text in rows]


def chart(report: dict[str, Any], path: Path) -> bool:
    """Throughput against clients for every method; False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, axes = plt.subplots(figsize=(8, 5))
    for method in dict.fromkeys(m["method"] for m in report["medians"]):
        points = [(m["clients"], m["per_second"]) for m in report["medians"] if m["method"] == method]
        axes.plot(*zip(*points, strict=True), marker="o", label=method)
    axes.set_xscale("log", base=2)
    counts = sorted({m["clients"] for m in report["medians"]})
    axes.set_xticks(counts, [str(count) for count in counts])
    axes.set_xlabel("clients")
    axes.set_ylabel("approvals (pgbench -N: transactions) per second")
    axes.set_title(f"loyaltydb at {report['scale']:,} users, 2 cores, fsync on")
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return True


def cluster_run(scale: int, pending: int, clients: Sequence[int], seconds: float, say: Say) -> dict[str, Any]:
    """The same approvals through a Citus coordinator with 2 workers, against a single server,
    on this machine; and how many statements each approval sends a worker (pg_stat_statements
    on the workers: the delegated call is one round trip from the coordinator)."""
    settings = {"shared_preload_libraries": "citus,pg_stat_statements", "pg_stat_statements.track": "top"}
    rates: dict[str, dict[int, float]] = {"single": {}, "cluster": {}}
    with TempServer(settings={"max_connections": "100"}) as server:
        with psycopg.connect(server.conninfo(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE loyalty")
        migrate(server.conninfo("loyalty"))
        load(server.conninfo("loyalty"), scale, pending, lambda _: None)
        with psycopg.connect(server.conninfo("loyalty"), autocommit=True) as conn:
            pool = RequestPool(conn)
        for count in clients:
            rates["single"][count] = python_threads(server.conninfo("loyalty"), pool, count, seconds, batch=1).rate
    with TempCluster(workers=2, settings=settings) as cluster:
        dsn = cluster.create_database("loyalty")
        migrate(dsn)
        say(f"cluster: loading {scale:,} users and {pending:,} requests, then distributing ...")
        load(dsn, scale, pending, lambda _: None)
        distribute(dsn)
        with psycopg.connect(dsn, autocommit=True) as conn:  # Citus creates it on the workers too
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        for worker in cluster.workers:
            with psycopg.connect(worker.conninfo("loyalty"), autocommit=True) as conn:
                conn.execute("SELECT pg_stat_statements_reset()")
        with psycopg.connect(dsn, autocommit=True) as conn:
            pool = RequestPool(conn)
        approved = 0
        for count in clients:
            measured = python_threads(dsn, pool, count, seconds, batch=1)
            rates["cluster"][count] = measured.rate
            approved += measured.approvals
        statements = 0
        for worker in cluster.workers:
            with psycopg.connect(worker.conninfo("loyalty"), autocommit=True) as conn:
                row = conn.execute(
                    "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements"
                    " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'loyalty')"
                    " AND query ILIKE '%process_enrollment_approval%'"
                ).fetchone()
                statements += int(row[0]) if row else 0
    ratio = {c: round(rates["cluster"][c] / rates["single"][c], 3) for c in clients}
    out: dict[str, Any] = {
        "clients": list(clients),
        "single_per_second": {c: round(r, 1) for c, r in rates["single"].items()},
        "cluster_per_second": {c: round(r, 1) for c, r in rates["cluster"].items()},
        "cluster/single": ratio,
        "approvals_through_cluster": approved,
        "approval_calls_received_by_workers": statements,
    }
    for c in clients:
        say(f"cluster {c} client(s): {rates['cluster'][c]:.0f}/s against {rates['single'][c]:.0f}/s on one server"
            f" ({ratio[c]})")  # fmt: skip
    say(f"cluster: {statements} delegated calls reached the workers for {approved} approvals")
    return out


def _write_only(out: Path, name: str, report: dict[str, Any], say: Say) -> int:
    """Write a one-part run's report as ``out/bench-NAME-<time>.json``; the exit status."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"bench-{name}-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(report, indent=2))
    say(f"written: {path}")
    return 0


def main(argv: list[str] | None = None, say: Say = print) -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=100_000, help="users loaded (default 100,000)")
    parser.add_argument("--pending", type=int, default=400_000, help="fresh requests to approve")
    parser.add_argument("--clients", default="1,2,4,8,16")
    parser.add_argument("--seconds", type=float, default=4.0, help="per method and client count")
    parser.add_argument("--rounds", type=int, default=1, help="every cell this many times, alternating the order")
    parser.add_argument("--scale-check", default="10000,1000000", help="user counts to compare; '' to skip")
    parser.add_argument("--out", type=Path, default=Path("results"))
    parser.add_argument("--profile", action="store_true", help="also report the procedure's costliest statements")
    parser.add_argument("--cluster", action="store_true", help="also: the same approvals on a Citus cluster")
    parser.add_argument("--cluster-only", action="store_true", help="only the cluster comparison")
    parser.add_argument("--legacy", default="20000,100000", help="legacy import: customers generated; '' to skip")
    parser.add_argument("--legacy-rounds", type=int, default=2, help="plain copies and imports, alternating")
    parser.add_argument("--legacy-only", action="store_true", help="only the legacy import figures")
    parser.add_argument("--events-only", action="store_true", help="only the events figures (publish and drain)")
    parser.add_argument("--points-cards", type=int, default=20_000, help="points: cards to earn on; 0 to skip")
    parser.add_argument("--points-only", action="store_true", help="only the points ledger figures")
    parser.add_argument("--expiry-credits", type=int, default=1_000_000, help="expiry: credits loaded; 0 to skip")
    parser.add_argument("--expiry-only", action="store_true", help="only the points expiry sweep figure")
    parser.add_argument("--erasure-only", action="store_true", help="only the erasure figures (issue 31)")
    parser.add_argument(
        "--batch-requests", type=int, default=45_000, help="batches: requests a shape; 0 to skip the section"
    )
    parser.add_argument("--batches-only", action="store_true", help="only batches against single approvals, by shape")
    args = parser.parse_args(argv)
    from benchmarks import batch_bench, erasure_bench, expiry_bench, points_bench  # they import this module

    clients = [int(c) for c in args.clients.split(",")]
    legacy_sizes = [int(s) for s in args.legacy.split(",") if s]
    if args.events_only:
        with TempServer(settings={"max_connections": "100"}) as server:
            events_drain.run(server, say)
        return 0
    if args.points_only:
        with TempServer(settings={"max_connections": "100"}) as server:
            ledger = points_bench.run(server, args.points_cards, [1, 8], args.seconds, max(args.rounds, 2), say)
        points_bench.print_figures(ledger, say)
        return _write_only(args.out, "points", {"points": ledger}, say)
    if args.expiry_only:
        with TempServer(settings={"max_connections": "100"}) as server:
            sweep = expiry_bench.run(server, 20_000, args.expiry_credits, args.seconds * 5, max(args.rounds, 2), say)
        expiry_bench.print_figures(sweep, say)
        return _write_only(args.out, "expiry", {"expiry": sweep}, say)
    if args.erasure_only:
        with TempServer(settings={"max_connections": "100"}) as server:
            erasing = erasure_bench.run(server, 40, args.seconds * 2, max(args.rounds, 2), say)
        erasure_bench.print_figures(erasing, say)
        return _write_only(args.out, "erasure", {"erasure": erasing}, say)
    if args.batches_only:
        with TempServer(settings={"max_connections": "100"}) as server:
            batches = batch_bench.run(server, args.scale, args.batch_requests, args.seconds, max(args.rounds, 2), say)
        batch_bench.print_figures(batches, say)
        return _write_only(args.out, "batches", {"batches": batches}, say)
    if args.legacy_only:
        with TempServer() as server:
            figures = legacy_import.run(server, legacy_sizes, args.legacy_rounds, say)
        legacy_import.print_figures(figures, say)
        return _write_only(args.out, "legacy", {"legacy_import": figures}, say)
    if args.cluster_only:
        only = {"cluster": cluster_run(args.scale, args.pending, clients, args.seconds, say)}
        return _write_only(args.out, "cluster", only, say)
    settings = {"max_connections": "100"}
    if args.profile:
        settings.update(PROFILE_SETTINGS)
    with TempServer(settings=settings) as server:
        with psycopg.connect(server.conninfo(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE loyalty")
            admin.execute("CREATE DATABASE pgbench")
        migrate(server.conninfo("loyalty"))
        report = measure(server, args.scale, args.pending, clients, args.seconds, say, args.rounds)
        report["medians"] = medians(report["measurements"])
        report["ratios"] = ratios(report["measurements"])
        if args.profile:
            report["profile"] = profile(server.conninfo("loyalty"))
        if args.batch_requests:
            report["batches"] = batch_bench.run(
                server, args.scale, args.batch_requests, args.seconds, max(args.rounds, 2), say
            )
        sizes = [int(s) for s in args.scale_check.split(",") if s]
        report["scale_check"] = scale_check(server, sizes, args.seconds, say) if sizes else []
        report["legacy_import"] = legacy_import.run(server, legacy_sizes, args.legacy_rounds, say)
        report["events"] = events_drain.run(server, say)
        if args.points_cards:
            report["points"] = points_bench.run(
                server, args.points_cards, [1, 8], args.seconds, max(args.rounds, 2), say
            )
        if args.expiry_credits:
            report["expiry"] = expiry_bench.run(
                server, 20_000, args.expiry_credits, args.seconds * 5, max(args.rounds, 2), say
            )
    if args.cluster:
        report["cluster"] = cluster_run(min(args.scale, 100_000), 60_000, [1, 8], args.seconds, say)
    report["when"] = datetime.now(UTC).isoformat(timespec="seconds")
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"bench-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2))
    drawn = chart(report, stem.with_suffix(".png"))
    say("")
    say(f"{'method':<18} {'clients':>7} {'per s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
        + ("   (medians of the rounds; range of per s)" if args.rounds > 1 else ""))  # fmt: skip
    for m in report["medians"]:
        spread = f"   {m['per_second_range'][0]:.0f}-{m['per_second_range'][1]:.0f}" if args.rounds > 1 else ""
        say(f"{m['method']:<18} {m['clients']:>7} {m['per_second']:>9.0f} {m['p50_ms']:>8.2f}"
            f" {m['p95_ms']:>8.2f} {m['p99_ms']:>8.2f}{spread}")  # fmt: skip
    for row in report["ratios"]:
        say("ratios " + ", ".join(f"{k} {v}" for k, v in row.items()))
    for row in report["scale_check"]:
        say(f"scale {row['users']:,} users: {row['cost_ms_1_client']} ms per approval (1 client)")
    if len(report["scale_check"]) == 2:
        small, large = report["scale_check"]
        say(f"cost ratio {large['users']:,} / {small['users']:,}: "
            f"{large['cost_ms_1_client'] / small['cost_ms_1_client']:.2f}")  # fmt: skip
    for row in report.get("profile", []):
        say(f"profile {row['us_per_call']:>7} us x {row['calls']:>7}  {row['statement']}")
    if "batches" in report:
        batch_bench.print_figures(report["batches"], say)
    legacy_import.print_figures(report["legacy_import"], say)
    if "points" in report:
        points_bench.print_figures(report["points"], say)
    if "expiry" in report:
        expiry_bench.print_figures(report["expiry"], say)
    say(f"seq scans on loyalty tables during the measurements: {report['seq_scans_during_measurements']}")
    say(f"written: {stem.with_suffix('.json')}" + (f", {stem.with_suffix('.png')}" if drawn else " (no matplotlib)"))
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except (RuntimeError, ValueError) as failed:  # a run that cannot go on: one sentence, no traceback
        raise SystemExit(f"make bench: {failed}") from None
