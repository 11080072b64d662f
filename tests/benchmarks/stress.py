"""``make stress``: many sessions running mixed operations at once, then the invariants checked.

Operations: request, approve, re-approve (must return the first result), reject, duplicate
requests approved together, one customer joining several programs, and requests for users
that do not exist. Sessions share the pending requests, so approvals and rejections race.
Afterwards SQL checks that every APPROVED request has its customer, ACTIVE enrollment and
card; no card lacks a customer; one card per (customer, program); one CARD_CREATED
notification per card; and that every approval a client saw commit is APPROVED.

Run as ``make stress``, or ``PYTHONPATH=tests python -m benchmarks.stress [--dsn DSN]
[--sessions 32] [--operations 20000]``; without a DSN it starts a throwaway server. With
``tolerate_disconnects`` (used by the restart test) sessions reconnect after the server goes
away instead of counting that as an error.
"""

from __future__ import annotations

import argparse
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg

from invariants import violations
from loyaltydb import api, distribution, retry
from loyaltydb._dsn import configured_conninfo
from loyaltydb.errors import ConnectionLost, LoyaltyError, RequestAlreadyDecided, UserNotFound
from loyaltydb.migrations import migrate
from loyaltydb.models import EnrollmentResult
from loyaltydb.testing import TempServer
from loyaltydb.testing._cluster import TempCluster

#: Operation name -> weight in the mix.
MIX = {"request": 25, "approve": 25, "reapprove": 10, "reject": 10, "duplicate": 12, "join_many": 12, "ghost": 6}
#: Errors that are a correct answer in a race or to bad input, by operation.
EXPECTED = {
    "approve": (RequestAlreadyDecided,),
    "reject": (RequestAlreadyDecided,),
    "ghost": (UserNotFound,),
}
FIRST_USER = 1_000_000
FIRST_BUSINESS = 900_000


@dataclass
class StressReport:
    """What a run did and found; ``ok`` when nothing unexpected happened."""

    sessions: int
    operations: Counter[str] = field(default_factory=Counter)
    expected_errors: Counter[str] = field(default_factory=Counter)
    unexpected_errors: list[str] = field(default_factory=list)
    disconnects: int = 0
    retries: int = 0
    seconds: float = 0.0
    approvals_seen_committed: int = 0
    violations: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.unexpected_errors and not any(self.violations.values())

    def lines(self) -> list[str]:
        total = sum(self.operations.values())
        rate = total / self.seconds if self.seconds else 0.0
        out = [f"{total} operations by {self.sessions} sessions in {self.seconds:.1f} s ({rate:.0f}/s)"]
        out += [f"  {name:<12} {count}" for name, count in sorted(self.operations.items())]
        out.append(f"expected errors: {dict(self.expected_errors) or 0}")
        out.append(f"unexpected errors: {len(self.unexpected_errors)}")
        out += [f"  {error}" for error in self.unexpected_errors[:10]]
        out.append(f"retries (40001/40P01): {self.retries}; disconnects: {self.disconnects}")
        out.append(f"approvals seen committed: {self.approvals_seen_committed}")
        out += [f"invariant '{name}': {count} violations" for name, count in self.violations.items()]
        out.append("OK" if self.ok else "FAILED")
        return out


@dataclass
class _Shared:
    """State the sessions share; every access holds the lock."""

    users: int
    programs: list[int]
    budget: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    pending: list[UUID] = field(default_factory=list)
    approved: dict[UUID, EnrollmentResult] = field(default_factory=dict)

    def take_budget(self) -> bool:
        with self.lock:
            self.budget -= 1
            return self.budget >= 0

    def pick_pending(self, rng: random.Random) -> UUID | None:
        with self.lock:
            return rng.choice(self.pending) if self.pending else None

    def pick_approved(self, rng: random.Random) -> tuple[UUID, EnrollmentResult] | None:
        with self.lock:
            if not self.approved:
                return None
            request_id = rng.choice(list(self.approved))
            return request_id, self.approved[request_id]

    def add_pending(self, request_id: UUID) -> None:
        with self.lock:
            self.pending.append(request_id)

    def decided(self, request_id: UUID, result: EnrollmentResult) -> None:
        with self.lock:
            if request_id in self.pending:
                self.pending.remove(request_id)
            if result.status == "APPROVED":
                self.approved.setdefault(request_id, result)


def seed(conn: psycopg.Connection[Any], users: int, programs: int) -> list[int]:
    """Users (a third already customers), businesses and ACTIVE programs; returns program ids."""
    conn.execute(
        "INSERT INTO loyalty.users (id, name, email)"
        " SELECT %(first)s + n, CASE WHEN n %% 2 = 0 THEN 'Member ' || n END, 'member.' || n || '@example.com'"
        " FROM generate_series(0, %(users)s - 1) AS n",
        {"first": FIRST_USER, "users": users},
    )
    conn.execute(
        "INSERT INTO loyalty.customers (id, user_id, name)"
        " SELECT id, id, 'Regular ' || id FROM loyalty.users WHERE id >= %(first)s AND id %% 3 = 0",
        {"first": FIRST_USER},
    )
    conn.execute(
        "INSERT INTO loyalty.users (id, name) SELECT %(first)s + n, 'Shop ' || n FROM generate_series(0, 9) AS n",
        {"first": FIRST_BUSINESS},
    )
    rows = conn.execute(
        "INSERT INTO loyalty.loyalty_programs (business_id, name)"
        " SELECT %(first)s + n %% 10, 'Program ' || n FROM generate_series(1, %(programs)s) AS n RETURNING id",
        {"first": FIRST_BUSINESS, "programs": programs},
    ).fetchall()
    conn.commit()
    return [row[0] for row in rows]


class _Session:
    """One client: a connection of its own and a random stream of operations."""

    def __init__(self, conninfo: str, shared: _Shared, report: StressReport, rng: random.Random,
                 tolerate_disconnects: bool) -> None:  # fmt: skip
        self.conninfo = conninfo
        self.shared = shared
        self.report = report
        self.rng = rng
        self.tolerate_disconnects = tolerate_disconnects
        self.conn: psycopg.Connection[Any] | None = None

    def run(self) -> None:
        operations = list(MIX)
        weights = list(MIX.values())
        while self.shared.take_budget():
            name = self.rng.choices(operations, weights)[0]
            try:
                getattr(self, f"_{name}")(self._connection())
                outcome = name
            except ConnectionLost as error:  # the API's word for a lost connection
                outcome = self._disconnected(name, error)
            except LoyaltyError as error:
                outcome = self._loyalty_error(name, error)
            except psycopg.OperationalError as error:  # a direct statement of the mix
                outcome = self._disconnected(name, error)
            except Exception as error:  # noqa: BLE001 - every other error is a finding
                outcome = self._unexpected(name, error)
            with self.shared.lock:
                self.report.operations[outcome] += 1
        if self.conn is not None:
            self.conn.close()

    def _connection(self) -> psycopg.Connection[Any]:
        if self.conn is None or self.conn.closed:
            deadline = time.monotonic() + 60
            while True:
                try:
                    self.conn = psycopg.connect(self.conninfo)
                    break
                except psycopg.OperationalError:
                    if not self.tolerate_disconnects or time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        return self.conn

    def _loyalty_error(self, name: str, error: LoyaltyError) -> str:
        if isinstance(error, EXPECTED.get(name, ())):
            with self.shared.lock:
                self.report.expected_errors[type(error).__name__] += 1
            return name
        return self._unexpected(name, error)

    def _disconnected(self, name: str, error: Exception) -> str:
        if self.conn is not None:
            self.conn.close()
        if not self.tolerate_disconnects:
            return self._unexpected(name, error)
        with self.shared.lock:
            self.report.disconnects += 1
        return f"{name} (disconnected)"

    def _unexpected(self, name: str, error: Exception) -> str:
        with self.shared.lock:
            self.report.unexpected_errors.append(f"{name}: {type(error).__name__}: {error}")
        return f"{name} (failed)"

    def _user(self) -> int:
        return FIRST_USER + self.rng.randrange(self.shared.users)

    def _approve_and_record(self, conn: psycopg.Connection[Any], request_id: UUID) -> EnrollmentResult:
        result = api.approve_enrollment(conn, request_id)
        self.shared.decided(request_id, result)
        return result

    def _request(self, conn: psycopg.Connection[Any]) -> None:
        self.shared.add_pending(api.request_enrollment(conn, self._user(), self.rng.choice(self.shared.programs)))

    def _approve(self, conn: psycopg.Connection[Any]) -> None:
        request_id = self.shared.pick_pending(self.rng)
        if request_id is not None:
            self._approve_and_record(conn, request_id)

    def _reject(self, conn: psycopg.Connection[Any]) -> None:
        request_id = self.shared.pick_pending(self.rng)
        if request_id is not None:
            self.shared.decided(request_id, api.reject_enrollment(conn, request_id, reason="stress"))

    def _reapprove(self, conn: psycopg.Connection[Any]) -> None:
        picked = self.shared.pick_approved(self.rng)
        if picked is not None:
            request_id, first = picked
            again = api.approve_enrollment(conn, request_id)
            if again != first:
                raise AssertionError(f"re-approval of {request_id} returned {again}, first {first}")

    def _duplicate(self, conn: psycopg.Connection[Any]) -> None:
        user, program = self._user(), self.rng.choice(self.shared.programs)
        requests = [api.request_enrollment(conn, user, program) for _ in range(2)]
        results = [self._approve_and_record(conn, request_id) for request_id in requests]
        if results[0].card_id != results[1].card_id:
            raise AssertionError(f"duplicate requests got two cards: {results}")

    def _join_many(self, conn: psycopg.Connection[Any]) -> None:
        user = self._user()
        for program in self.rng.sample(self.shared.programs, 3):
            self._approve_and_record(conn, api.request_enrollment(conn, user, program))

    def _ghost(self, conn: psycopg.Connection[Any]) -> None:
        api.request_enrollment(conn, FIRST_USER - 1 - self.rng.randrange(1000), self.rng.choice(self.shared.programs))


def check_invariants(conn: psycopg.Connection[Any], committed: dict[UUID, EnrollmentResult]) -> dict[str, int]:
    """Violations per invariant (all zero when the run was correct)."""
    found = violations(conn, first_user=FIRST_USER)
    approved = {
        row[0]
        for row in conn.execute(
            "SELECT id FROM loyalty.customer_approval_requests WHERE id = ANY(%s) AND status = 'APPROVED'",
            (list(committed),),
        )
    }
    found["approvals seen committed but not APPROVED"] = len(set(committed) - approved)
    conn.commit()
    return found


def run(
    conninfo: str,
    sessions: int = 32,
    operations: int = 20_000,
    seed_value: int = 20261124,
    tolerate_disconnects: bool = False,
    users: int | None = None,
    distribute: bool = False,
) -> StressReport:
    """Seed a migrated database (then distribute it, on a Citus coordinator), run the sessions to
    the operation budget, check invariants."""
    report = StressReport(sessions=sessions)
    users = users or max(200, sessions * 20)
    with psycopg.connect(conninfo) as conn:
        programs = seed(conn, users, programs=max(20, sessions))
    if distribute:  # the seed's businesses are in loyalty.businesses already (one server's triggers)
        distribution.distribute(conninfo)
    shared = _Shared(users=users, programs=programs, budget=operations)
    rng = random.Random(seed_value)
    workers = [
        _Session(conninfo, shared, report, random.Random(rng.random()), tolerate_disconnects) for _ in range(sessions)
    ]
    retries_before = retry.retries()
    started = time.monotonic()
    threads = [threading.Thread(target=worker.run, name=f"stress-{n}") for n, worker in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report.seconds = time.monotonic() - started
    report.retries = retry.retries() - retries_before
    report.approvals_seen_committed = len(shared.approved)
    with psycopg.connect(conninfo) as conn:
        report.violations = check_invariants(conn, shared.approved)
    return report


def main(argv: list[str] | None = None, say: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(prog="make stress", description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", help="a migrated database to use (default: a throwaway server)")
    parser.add_argument("--sessions", type=int, default=32)
    parser.add_argument("--operations", type=int, default=20_000)
    parser.add_argument("--cluster", action="store_true", help="on a throwaway Citus coordinator and 2 workers")
    args = parser.parse_args(argv)
    conninfo = configured_conninfo(args.dsn)
    if conninfo is not None:
        report = run(conninfo, args.sessions, args.operations)
    elif args.cluster:
        with TempCluster(workers=2) as cluster:
            dsn = cluster.create_database("stress")
            migrate(dsn)
            say(f"throwaway Citus cluster (coordinator port {cluster.coordinator.port}, 2 workers); "
                f"{args.sessions} sessions start")  # fmt: skip
            report = run(dsn, args.sessions, args.operations, distribute=True)
    else:
        with TempServer() as server:
            migrate(server.conninfo())
            say(f"throwaway server on port {server.port}, migrated; {args.sessions} sessions start")
            report = run(server.conninfo(), args.sessions, args.operations)
    for line in report.lines():
        say(line)
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
