"""``make bench-ab REF=<commit>``: the single approval path of the working tree against another
commit's, side by side on one server, cells alternating (A B, B A, …), medians and spread.

Both databases hold the same rows, byte for byte (one is loaded with ``bench.load``, the other
is a copy of it migrated on); each is then a template, and every cell runs on a fresh copy of
its template after a CHECKPOINT, so neither side inherits the other's history or dirty pages.
A cell is ``pgbench`` calling ``loyalty.process_enrollment_approval`` (the
``make bench`` b script) for ``--seconds`` at each client count. The other commit's migrations
come from ``git archive`` (``sql/migrations/``, or ``sql/`` as 0.2.0 kept them).

``--instructions N`` counts instead of timing: the CPU instructions an approval costs on each
side (valgrind's callgrind on a single-user backend, N approvals against none, in one
transaction rolled back). Deterministic to a few parts in ten thousand, so a 1% change shows on a
machine whose timings wander by 30%; it leaves out waits and locks, which the pgbench cells keep.

``--hot`` compares two loads of the working tree: A with 2,000 programs (1,000 businesses), B
with 10 (5 businesses), so that concurrent approvals share a few program rows (each takes its
program ``FOR SHARE``). The rows are loaded twice, not copied: an A/A run of two loads differed
by up to 13%.

``--python`` makes every cell ``make bench``'s c method instead of pgbench: Python threads, one
connection each, calling ``loyaltydb.approve_enrollment`` (with ``--hot``: the outside benchmark of
issue 16, the Python client at 8 threads with 10 programs).

``--earn`` makes every cell an earn instead of an approval (issue 28): ``loyalty.earn_points``
of 1 point on a random card of ``--cards`` (made by bulk approvals of the first queued requests),
each call its own key; with ``--instructions``, the instructions an earn costs.

``--acceptance`` compares two paths of the working tree instead: A approves requests of
programs without welcome points, B accepts invitations (the same rows, made invitations) of
programs with 50 welcome points, so the cost of an acceptance with its ledger row and the
business's notification shows against the approval it is.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path
from typing import Any

import psycopg
from yoyo import read_migrations

from benchmarks.batch_bench import BULK_SCRIPT
from benchmarks.bench import PROCEDURE_SCRIPT, SHAPES, Measurement, RequestPool, load, pgbench, python_threads
from loyaltydb.migrations import _backend, migrations_dir
from loyaltydb.testing import TempServer

ROOT = Path(__file__).resolve().parents[2]


def _migrations_of(ref: str, into: Path) -> Path:
    """The migrations directory of commit ``ref``, extracted under ``into``."""
    git = shutil.which("git") or "git"
    archive = subprocess.run([git, "archive", ref, "sql"], cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    nested = into / "sql" / "migrations"
    return nested if nested.is_dir() else into / "sql"


def _migrate_from(conninfo: str, directory: Path) -> None:
    with _backend(conninfo) as backend, backend.lock():
        backend.apply_migrations(backend.to_apply(read_migrations(str(directory))))


def _prepare(server: TempServer, sides: dict[str, Path], names: list[str], scale: int, pending: int) -> None:
    """One database per side with the same rows, byte for byte: the first side's is loaded, the
    second is a copy of it migrated on with its own newer migrations. Loading each separately
    made the second one about 13% slower in an A/A run (same code on both sides)."""
    (first, first_dir), (second, second_dir) = sides.items()
    first_ids = {path.stem for path in first_dir.glob("*.sql")}
    second_ids = {path.stem for path in second_dir.glob("*.sql")}
    with psycopg.connect(server.conninfo(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {names[0]}")
        _migrate_from(server.conninfo(names[0]), first_dir)
        print(f"loading {first}", file=sys.stderr)
        load(server.conninfo(names[0]), scale, pending, lambda line: None, **_LOAD_SHAPE)
        if first_ids <= second_ids:
            admin.execute(f"CREATE DATABASE {names[1]} TEMPLATE {names[0]}")
            _migrate_from(server.conninfo(names[1]), second_dir)
        else:  # the other commit has migrations this tree does not: load the rows again
            print(f"{first} has migrations {second} lacks: loading {second} on its own", file=sys.stderr)
            admin.execute(f"CREATE DATABASE {names[1]}")
            _migrate_from(server.conninfo(names[1]), second_dir)
            load(server.conninfo(names[1]), scale, pending, lambda line: None, **_LOAD_SHAPE)
        # A migration that rewrites rows (0020 moves the request notifications to the business's
        # feed) leaves dead tuples that autovacuum would clear in service: both sides are
        # measured vacuumed, in their steady state.
        for name in names:
            with psycopg.connect(server.conninfo(name), autocommit=True) as conn:
                conn.execute("VACUUM (ANALYZE)")
        admin.execute("CHECKPOINT")


def _prepare_hot(server: TempServer, names: list[str], scale: int, pending: int) -> None:
    """The working tree's rows twice: with 1,000 businesses (2,000 programs), then with 5 (10)."""
    with psycopg.connect(server.conninfo(), autocommit=True) as admin:
        for name, businesses in zip(names, [1000, 5], strict=True):
            admin.execute(f"CREATE DATABASE {name}")
            _migrate_from(server.conninfo(name), migrations_dir())
            print(f"loading {name} with {2 * businesses:,} programs", file=sys.stderr)
            load(server.conninfo(name), scale, pending, lambda line: None, businesses=businesses)
        admin.execute("CHECKPOINT")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench-ab", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ref", default="HEAD", help="the commit to compare with (default HEAD)")
    parser.add_argument("--clients", default="1,8")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scale", type=int, default=20_000)
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument(
        "--acceptance",
        action="store_true",
        help="A: approvals with no welcome points; B: acceptances of invitations with 50 (both the working tree)",
    )
    parser.add_argument(
        "--loop",
        type=int,
        default=0,
        help="instead of pgbench: N approvals in one transaction, rolled back (the procedure's CPU cost, no commit)",
    )
    parser.add_argument("--hot", action="store_true", help="A: 2,000 programs; B: 10 programs (both the working tree)")
    parser.add_argument(
        "--instructions",
        type=int,
        default=0,
        help="instead of pgbench: instructions an approval, from N approvals under valgrind (needs valgrind)",
    )
    parser.add_argument("--batch", type=int, default=1, help="with --instructions: approve in batches of this many")
    parser.add_argument(
        "--earn", action="store_true", help="cells (and --instructions) earn points instead of approving"
    )
    parser.add_argument("--cards", type=int, default=5000, help="with --earn: cards made to earn on")
    parser.add_argument(
        "--bulk",
        type=int,
        default=0,
        help="each side also runs cells approving in batches of N (process_enrollment_approvals): bulk/single per side",
    )
    parser.add_argument(
        "--shape",
        choices=list(SHAPES),
        default="bench",
        help="the rows' shape (issue 32; bench.SHAPES): bench (make bench's own), launch, fresh, returning",
    )
    parser.add_argument(
        "--python",
        action="store_true",
        help="cells are loyaltydb.approve_enrollment from Python threads, one connection each, not pgbench",
    )
    args = parser.parse_args(argv)
    _LOAD_SHAPE.update(shape=args.shape, businesses=25 if args.shape == "launch" else None)
    if args.instructions:
        return _instructions(args)
    if args.loop:
        return _loop(args)
    clients = [int(part) for part in args.clients.split(",")]
    rates: dict[tuple[str, int], list[float]] = {}
    with TempServer() as server, tempfile.TemporaryDirectory() as scratch:
        if args.acceptance:
            sides = {"A (approval, 0 points)": migrations_dir(), "B (acceptance, 50 points)": migrations_dir()}
        elif args.hot:
            sides = {"A (2,000 programs)": migrations_dir(), "B (10 programs)": migrations_dir()}
        else:
            sides = {f"A ({args.ref})": _migrations_of(args.ref, Path(scratch)), "B (working tree)": migrations_dir()}
        templates = dict(zip(sides, ["ab_template_0", "ab_template_1"], strict=True))
        if args.hot:
            _prepare_hot(server, list(templates.values()), args.scale, args.pending)
        else:
            _prepare(server, sides, list(templates.values()), args.scale, args.pending)
        scripts = dict.fromkeys(sides, PROCEDURE_SCRIPT)
        if args.earn:
            _make_cards(server, list(templates.values()), args.cards)
            scripts = dict.fromkeys(sides, _EARN.format(cards=args.cards))
        if args.acceptance:
            scripts = _as_acceptance(server, list(templates.values()), list(sides))
        # With --bulk, each side runs single approvals and batches: cells (side, kind).
        kinds = ["", f" bulk x{args.bulk}"] if args.bulk else [""]
        cells = {side + kind: (template, kind) for side, template in templates.items() for kind in kinds}
        with psycopg.connect(server.conninfo(), autocommit=True) as admin:
            for side, text in scripts.items():
                (Path(scratch) / f"{list(sides).index(side)}.sql").write_text(text)
                (Path(scratch) / f"{list(sides).index(side)} bulk x{args.bulk}.sql").write_text(
                    BULK_SCRIPT.format(n=args.bulk)
                )
            for round_ in range(args.rounds):
                for count in clients:
                    # A B, then B A: neither side always runs first after a checkpoint.
                    order = [(name, template, kind) for name, (template, kind) in cells.items()]
                    for side, template, kind in order if round_ % 2 == 0 else reversed(order):
                        admin.execute("DROP DATABASE IF EXISTS ab_cell")
                        admin.execute(f"CREATE DATABASE ab_cell TEMPLATE {template}")
                        admin.execute("CHECKPOINT")
                        script = Path(scratch) / f"{list(templates.values()).index(template)}{kind}.sql"
                        cell = (
                            _python_cell(server.conninfo("ab_cell"), count, args.seconds, side)
                            if args.python
                            else pgbench(server, "ab_cell", count, args.seconds, side, ["-f", str(script)])
                        )
                        rate = cell.rate * (args.bulk if kind else 1)  # approvals a second
                        rates.setdefault((side, count), []).append(rate)
                        print(f"round {round_ + 1} {side} at {count}: {rate:,.0f}/s", file=sys.stderr)
            admin.execute("DROP DATABASE IF EXISTS ab_cell")
    if args.bulk:
        return _print_bulk(cells, clients, rates)
    print(f"| clients | {' | '.join(sides)} | B/A |\n|---:|---:|---:|---:|")
    for count in clients:
        a, b = (rates[(side, count)] for side in sides)
        print(
            f"| {count} | {statistics.median(a):,.0f} ({min(a):,.0f}-{max(a):,.0f})"
            f" | {statistics.median(b):,.0f} ({min(b):,.0f}-{max(b):,.0f})"
            f" | {statistics.median(b) / statistics.median(a):.3f} |"
        )
    return 0


def _print_bulk(
    cells: dict[str, tuple[str, str]], clients: list[int], rates: dict[tuple[str, int], list[float]]
) -> int:
    """Approvals a second of each cell (medians, range), and each side's bulk / single per round."""
    print("| cell | clients | approvals/s (median, range) |\n|---|---:|---:|")
    for cell in cells:
        for count in clients:
            values = rates[(cell, count)]
            print(f"| {cell} | {count} | {statistics.median(values):,.0f} ({min(values):,.0f}-{max(values):,.0f}) |")
    singles = [cell for cell, (_, kind) in cells.items() if not kind]
    for single in singles:
        bulk = next(cell for cell in cells if cell != single and cell.startswith(single))
        for count in clients:
            ratios = [b / s for b, s in zip(rates[(bulk, count)], rates[(single, count)], strict=True)]
            print(f"{bulk} / {single} at {count}: median {statistics.median(ratios):.2f}"
                  f" (rounds: {', '.join(f'{r:.2f}' for r in ratios)})")  # fmt: skip
    return 0


def _python_cell(conninfo: str, clients: int, seconds: float, side: str) -> Measurement:
    """A cell of ``--python``: the ``make bench`` c method (threads calling
    ``loyaltydb.approve_enrollment``) on the cell's fresh copy, its queue read in order."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        pool = RequestPool(conn)
    cell = python_threads(conninfo, pool, clients, seconds, batch=1)
    cell.method = side
    return cell


#: Both sides of --acceptance find the row's customer the same way (the acceptance needs it).
_APPROVAL_BY_ROW = (
    "SELECT d.status FROM bench.queue AS q JOIN loyalty.customer_approval_requests AS r ON r.id = q.request_id,"
    " LATERAL loyalty.process_enrollment_approval(p_request_id => r.id) AS d"
    " WHERE q.n = (SELECT nextval('bench.cursor'));\n"
)
_ACCEPTANCE = (
    "SELECT d.status FROM bench.queue AS q JOIN loyalty.customer_approval_requests AS r ON r.id = q.request_id,"
    " LATERAL loyalty.accept_invitation(p_request_id => r.id, p_customer_id => r.customer_id) AS d"
    " WHERE q.n = (SELECT nextval('bench.cursor'));\n"
)


#: An earn of 1 point on a random card of bench.cards, its key new every call.
_EARN = (
    "\\set n random(1, {cards})\n"
    "SELECT e.balance_after FROM bench.cards AS c,"
    " LATERAL loyalty.earn_points(c.customer_id, c.program_id, 1, 'ab-' || nextval('bench.keys')) AS e"
    " WHERE c.n = :n;\n"
)
#: The earns counted by --instructions --earn: one on each card numbered lo to hi.
_EARNS = (
    "SELECT count(e.balance_after) FROM bench.cards AS c,"
    " LATERAL loyalty.earn_points(c.customer_id, c.program_id, 1, 'count-' || c.n) AS e"
    " WHERE c.n BETWEEN {lo} AND {hi};\n"
)


def _make_cards(server: TempServer, names: list[str], cards: int) -> None:
    """Cards to earn on in each template: the first ``cards`` queued requests approved in bulk
    (so the ledger's invariants hold from the start), numbered in bench.cards, and a sequence
    of keys. The same statements on both sides."""
    for name in names:
        with psycopg.connect(server.conninfo(name), autocommit=True) as conn:
            for first in range(1, cards + 1, 1000):
                conn.execute(
                    "SELECT count(*) FROM loyalty.process_enrollment_approvals((SELECT array_agg(q.request_id"
                    " ORDER BY q.n) FROM bench.queue AS q WHERE q.n BETWEEN %s AND %s))",
                    (first, min(cards, first + 999)),
                )
            conn.execute(
                "CREATE TABLE bench.cards AS SELECT row_number() OVER (ORDER BY k.customer_id, k.id) AS n,"
                " k.customer_id, k.program_id FROM loyalty.loyalty_cards AS k"
            )
            conn.execute("ALTER TABLE bench.cards ADD PRIMARY KEY (n)")
            conn.execute("CREATE SEQUENCE bench.keys")
            conn.execute("VACUUM (ANALYZE)")
    with psycopg.connect(server.conninfo(), autocommit=True) as admin:
        admin.execute("CHECKPOINT")


def _as_acceptance(server: TempServer, names: list[str], sides: list[str]) -> dict[str, str]:
    """Make the second template's pending requests invitations of programs with 50 welcome
    points; the first's rows get the same updates with their values unchanged, so both carry
    the same dead tuples. A customer has one pending invitation to a program, so both queues
    keep the first request of each (customer, program), renumbered. Returns each side's
    pgbench script."""
    for name, kind, points in zip(names, ["REQUEST", "INVITATION"], [0, 50], strict=True):
        with psycopg.connect(server.conninfo(name), autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE bench.first_of_pair AS SELECT row_number() OVER (ORDER BY f.n) AS n, f.request_id"
                " FROM (SELECT DISTINCT ON (r.customer_id, r.program_id) q.n, q.request_id FROM bench.queue AS q"
                "       JOIN loyalty.customer_approval_requests AS r ON r.id = q.request_id"
                "      ORDER BY r.customer_id, r.program_id, q.n) AS f"
            )
            conn.execute("DROP TABLE bench.queue")
            conn.execute("ALTER TABLE bench.first_of_pair RENAME TO queue")
            conn.execute("ALTER TABLE bench.queue ADD PRIMARY KEY (n)")
            conn.execute(
                "UPDATE loyalty.customer_approval_requests SET kind = %s"
                " WHERE id IN (SELECT request_id FROM bench.queue)",
                (kind,),
            )
            conn.execute("UPDATE loyalty.loyalty_programs SET welcome_points = %s", (points,))
            conn.execute("VACUUM (ANALYZE)")
    with psycopg.connect(server.conninfo(), autocommit=True) as admin:
        admin.execute("CHECKPOINT")
    return dict(zip(sides, [_APPROVAL_BY_ROW, _ACCEPTANCE], strict=True))


def _loop(args: argparse.Namespace) -> int:
    """Each cell approves ``--loop`` requests in one session and one transaction, then rolls
    back: what the procedure costs without a commit's fsync, on identical data every time."""
    timings: dict[str, list[float]] = {}
    statement = (
        "SELECT count(r.status) FROM bench.queue AS q,"
        " LATERAL loyalty.process_enrollment_approval(p_request_id => q.request_id) AS r WHERE q.n <= %s"
    )
    with TempServer() as server, tempfile.TemporaryDirectory() as scratch:
        sides = {f"A ({args.ref})": _migrations_of(args.ref, Path(scratch)), "B (working tree)": migrations_dir()}
        names = ["ab_loop_0", "ab_loop_1"]
        _prepare(server, sides, names, args.scale, args.loop)
        conninfos = {side: server.conninfo(name) for side, name in zip(sides, names, strict=True)}
        for round_ in range(args.rounds):
            order = list(conninfos.items())
            for side, conninfo in order if round_ % 2 == 0 else reversed(order):
                with psycopg.connect(conninfo) as conn:
                    started = time.perf_counter()
                    conn.execute(statement, (args.loop,))
                    elapsed = time.perf_counter() - started
                    conn.rollback()
                timings.setdefault(side, []).append(elapsed / args.loop * 1e6)
                print(f"round {round_ + 1} {side}: {timings[side][-1]:.1f} us an approval", file=sys.stderr)
    a, b = timings.values()
    print(f"| µs an approval, no commit | {' | '.join(sides)} | B/A |\n|---|---:|---:|---:|")
    ratio = statistics.median(b) / statistics.median(a)
    print(
        f"| {args.loop:,} in one transaction | {statistics.median(a):.1f} ({min(a):.1f}-{max(a):.1f})"
        f" | {statistics.median(b):.1f} ({min(b):.1f}-{max(b):.1f}) | {ratio:.3f} |"
    )
    return 0


#: The approvals counted by --instructions: those of bench.queue numbered lo to hi.
_APPROVALS = (
    "SELECT count(r.status) FROM bench.queue AS q,"
    " LATERAL loyalty.process_enrollment_approval(p_request_id => q.request_id) AS r WHERE q.n BETWEEN {lo} AND {hi};\n"
)
#: The same approvals in batches (``--batch``): one process_enrollment_approvals call a batch.
_BATCH = (
    "SELECT count(*) FROM loyalty.process_enrollment_approvals("
    "(SELECT array_agg(q.request_id ORDER BY q.n) FROM bench.queue AS q WHERE q.n BETWEEN {lo} AND {hi}));\n"
)
#: How bench.load shapes both sides' rows (``--shape``).
_LOAD_SHAPE: dict[str, Any] = {}
#: Approvals made first in every count, so that plans and caches are warm in both.
_WARM_UP = 40


def _approvals(lo: int, hi: int, batch: int, earn: bool = False) -> str:
    """The script approving queue rows lo..hi: one statement, or one batch statement per ``batch``;
    with ``earn``, earning on cards lo..hi instead."""
    if earn:
        return _EARNS.format(lo=lo, hi=hi)
    if batch <= 1:
        return _APPROVALS.format(lo=lo, hi=hi)
    return "".join(_BATCH.format(lo=first, hi=min(hi, first + batch - 1)) for first in range(lo, hi + 1, batch))


def _instructions_of(server: TempServer, dbname: str, approvals: int, batch: int = 1, earn: bool = False) -> int:
    """Instructions of a single-user backend that warms up, makes ``approvals`` approvals (in
    batches of ``batch`` when more than 1) and rolls back (the server must be stopped: single-user
    mode owns the data directory)."""
    warm_up = max(_WARM_UP, 2 * batch)
    script = f"BEGIN;\n{_approvals(1, warm_up, batch, earn)}"
    if approvals:
        script += _approvals(warm_up + 1, warm_up + approvals, batch, earn)
    script += "ROLLBACK;\n"
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("make bench-ab: --instructions needs valgrind (apt-get install valgrind)")
    command = [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", str(server.bindir / "postgres"),
               "--single", "-D", str(server.data_dir), dbname]  # fmt: skip
    if os.geteuid() == 0:  # the data directory belongs to the postgres OS user
        command = ["runuser", "-u", "postgres", "--", *command]
    done = subprocess.run(command, input=script, capture_output=True, text=True, cwd="/", check=False)
    collected = re.search(r"Collected : (\d+)", done.stderr)
    if collected is None or "ERROR" in done.stdout:
        raise SystemExit(f"make bench-ab: the counted backend failed:\n{done.stdout[-1500:]}{done.stderr[-1500:]}")
    return int(collected.group(1))


def _instructions(args: argparse.Namespace) -> int:
    """Instructions an approval on each side: (warm-up and N approvals) minus (warm-up alone)."""
    counts: dict[str, float] = {}
    with TempServer() as server, tempfile.TemporaryDirectory() as scratch:
        sides = {f"A ({args.ref})": _migrations_of(args.ref, Path(scratch)), "B (working tree)": migrations_dir()}
        names = ["ab_count_0", "ab_count_1"]
        warm_up = max(_WARM_UP, 2 * args.batch)
        _prepare(server, sides, names, args.scale, max(args.pending, warm_up + args.instructions))
        if args.earn:
            _make_cards(server, names, max(args.cards, warm_up + args.instructions))
        what = "an earn" if args.earn else "an approval"
        with server.stopped():
            for side, name in zip(sides, names, strict=True):
                total = _instructions_of(server, name, args.instructions, args.batch, args.earn) - _instructions_of(
                    server, name, 0, args.batch, args.earn
                )
                counts[side] = total / args.instructions
                print(f"{side}: {counts[side] / 1000:,.1f} k instructions {what}", file=sys.stderr)
    a, b = counts.values()
    print(f"| instructions {what} | {' | '.join(sides)} | B/A |\n|---|---:|---:|---:|")
    how = f" in batches of {args.batch:,}" if args.batch > 1 else ""
    made = "earns" if args.earn else "approvals"
    print(f"| {args.instructions:,} {made}{how}, valgrind | {a / 1000:,.1f} k | {b / 1000:,.1f} k | {b / a:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
