"""``make bench``'s batch section (issue 32): approvals in batches of 100 and 1,000 against
single approvals, at 1 client, in each shape of ``bench.SHAPES`` (make bench's own, launch
day, fresh pairs, returning pairs), so a batch is never measured only on the shape that suits it.

Each shape is loaded once into a template database; every cell then runs ``pgbench`` for
``seconds`` on a fresh copy of it after a CHECKPOINT, so single approvals and batches approve
the same first requests of the same rows, and no cell inherits another's dirty pages. The
cells of a round alternate their order (single, x100, x1000, then backwards); a ratio is
taken within a round, and the median of the rounds is reported with its range.
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.bench import PROCEDURE_SCRIPT, SHAPES, Say, load, most_requests, pgbench
from loyaltydb.migrations import migrate
from loyaltydb.testing import TempServer

#: A batch of ``n`` approvals a pgbench transaction: the next n queued requests.
BULK_SCRIPT = (
    "WITH s AS MATERIALIZED (SELECT nextval('bench.cursor') AS v)"
    " SELECT count(*) FROM s, loyalty.process_enrollment_approvals("
    "(SELECT array_agg(q.request_id ORDER BY q.n) FROM bench.queue AS q"
    " WHERE q.n BETWEEN (s.v - 1) * {n} + 1 AND s.v * {n}));\n"
)
#: The shapes measured here, each against its own single approvals.
MEASURED = list(SHAPES)
#: Batch sizes, against single approvals (0).
SIZES = [0, 100, 1000]


def _label(size: int) -> str:
    return f"x{size}" if size else "single"


def run(
    server: TempServer, scale: int, pending: int, seconds: float, rounds: int, say: Say,
    shapes: Sequence[str] = MEASURED,
) -> dict[str, Any]:  # fmt: skip
    """Approvals a second of single approvals and batches in each shape; ``pending`` (make
    bench's ``--batch-requests``) must cover the fastest cell, about 7,000 approvals a second in
    batches of 1,000 on 2 cores."""
    rates: dict[str, dict[str, list[float]]] = {shape: {_label(size): [] for size in SIZES} for shape in shapes}
    with tempfile.TemporaryDirectory() as scratch, psycopg.connect(server.conninfo(), autocommit=True) as admin:
        scripts = {size: Path(scratch) / f"{_label(size)}.sql" for size in SIZES}
        for size, script in scripts.items():
            script.write_text(BULK_SCRIPT.format(n=size) if size else PROCEDURE_SCRIPT)
        # (at a small --scale a shape may hold fewer requests than asked for)
        queued = {shape: min(pending, most_requests(shape, scale)) for shape in shapes}
        for shape in shapes:
            admin.execute(f"CREATE DATABASE batch_{shape}")
            migrate(server.conninfo(f"batch_{shape}"))
            say(f"batches: loading the {shape} shape ({scale:,} users, {queued[shape]:,} requests) ...")
            load(server.conninfo(f"batch_{shape}"), scale, queued[shape], lambda _: None,
                 businesses=25 if shape == "launch" else None, shape=shape)  # fmt: skip
        for number in range(1, rounds + 1):
            for shape in shapes:
                for size in SIZES if number % 2 == 1 else SIZES[::-1]:
                    rate = _cell(server, admin, shape, size, scripts[size], seconds, queued[shape])
                    rates[shape][_label(size)].append(rate)
                    say(f"  round {number} {shape} {_label(size)}: {rate:,.0f} approvals/s")
        admin.execute("DROP DATABASE IF EXISTS batch_cell")
        for shape in shapes:
            admin.execute(f"DROP DATABASE batch_{shape}")
    return {"scale": scale, "seconds": seconds, "rounds": rounds, "shapes": {s: SHAPES[s] for s in shapes},
            "per_second": rates, "ratios": _ratios(rates)}  # fmt: skip


def _cell(
    server: TempServer, admin: psycopg.Connection[Any], shape: str, size: int, script: Path, seconds: float,
    pending: int,
) -> float:  # fmt: skip
    """Approvals a second of one cell: ``script`` through pgbench at 1 client on a fresh copy of
    the shape's template, after a CHECKPOINT (no cell pays for another's dirty pages)."""
    admin.execute("DROP DATABASE IF EXISTS batch_cell")
    admin.execute(f"CREATE DATABASE batch_cell TEMPLATE batch_{shape}")
    admin.execute("CHECKPOINT")
    try:
        cell = pgbench(server, "batch_cell", 1, seconds, _label(size), ["-f", str(script)])
    finally:  # a cell past the last request fails (a batch of none): say so, not pgbench's error
        with psycopg.connect(server.conninfo("batch_cell")) as conn:
            used = conn.execute("SELECT last_value * %s FROM bench.cursor", (size or 1,)).fetchone()
        if used is None or used[0] > pending:
            raise RuntimeError(
                f"batches: the {pending:,} requests of the {shape} shape ran out: raise --batch-requests"
                " (a shape holds at most --scale requests, a launch day half as many)"
            )
    return cell.rate * (size or 1)


def _ratios(rates: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, Any]]:
    """Each shape's x100 / single and x1000 / single: per round, then median and range."""
    out: dict[str, dict[str, Any]] = {}
    for shape, cells in rates.items():
        for size in SIZES[1:]:
            per_round = [b / s for b, s in zip(cells[_label(size)], cells["single"], strict=True)]
            out.setdefault(shape, {})[f"{_label(size)}/single"] = {
                "median": round(statistics.median(per_round), 2),
                "rounds": [round(r, 2) for r in per_round],
            }
    return out


def print_figures(figures: dict[str, Any], say: Say) -> None:
    """One line a shape: the cells' medians, then the ratios (targets: x100 ≥ 5, x1000 ≥ 6)."""
    for shape, cells in figures["per_second"].items():
        medians = ", ".join(f"{label} {statistics.median(values):,.0f}/s" for label, values in cells.items())
        ratios = ", ".join(
            f"{label} {ratio['median']} ({', '.join(map(str, ratio['rounds']))})"
            for label, ratio in figures["ratios"][shape].items()
        )
        say(f"batches, {shape}: {medians}; {ratios}")
