"""``make bench``'s legacy import figures (issue 18): a generated legacy database (legacy_source's
``fill_generated``) imported into a fresh migrated database, against a plain ``INSERT … SELECT``
copy of the same source rows into unconstrained tables on the same server, alternating the two
(copy, import, copy, import) in one run. The import runs in a process of its own, so its peak
memory (maximum resident set) is its own; at two source sizes it shows whether memory grows
with the source. Each import is then run again into the same target (a re-run, which writes
nothing): issue 27 asked that it cost no more than the first."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import legacy_source
import psycopg
from psycopg import sql

from loyaltydb.testing import TempServer
from loyaltydb.testing.databases import clone_database, drop_database, migrated_template

Say = Callable[[str], None]

#: The import as a child process prints its own duration and peak memory.
_CHILD = """
import json, resource, sys, time
from loyaltydb.legacy import import_legacy
started = time.perf_counter()
report = import_legacy(sys.argv[1], sys.argv[2])
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "imported": report.imported}))
"""


def plain_copy(conninfo: str) -> float:
    """Seconds to copy every legacy table into a table LIKE it (no key, no index, no check) with
    ``INSERT … SELECT``, committed; the copies are dropped after."""
    with psycopg.connect(conninfo) as conn:
        started = time.perf_counter()
        for table in legacy_source.LEGACY_TABLES:
            copy = sql.Identifier(f"plain_{table}")
            conn.execute(sql.SQL("CREATE TABLE {} (LIKE {})").format(copy, sql.Identifier(table)))
            conn.execute(sql.SQL("INSERT INTO {} SELECT * FROM {}").format(copy, sql.Identifier(table)))
        conn.commit()
        seconds = time.perf_counter() - started
        for table in legacy_source.LEGACY_TABLES:
            conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(f"plain_{table}")))
        conn.commit()
    return seconds


def imported(source: str, target: str) -> dict[str, Any]:
    """One import in a child process: its seconds, peak memory and rows written."""
    completed = subprocess.run(
        [sys.executable, "-c", _CHILD, source, target], capture_output=True, text=True, check=True, timeout=3600
    )
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


def run(server: TempServer, sizes: Sequence[int], rounds: int, say: Say) -> list[dict[str, Any]]:
    """The figures at each source size (customers), ``rounds`` copies and imports alternating."""
    template = migrated_template(server, "legacy_import_template")
    results = []
    for customers in sizes:
        source_name = f"legacy_{customers}"
        source = clone_database(server, "template1", source_name)
        with psycopg.connect(source) as conn:
            legacy_source.create_legacy_tables(conn)
            legacy_source.fill_generated(conn, customers)
            rows = 0
            for table in legacy_source.LEGACY_TABLES:
                counted = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
                rows += int(counted[0]) if counted else 0
            conn.commit()
        copies, imports, reruns = [], [], []
        for round_number in range(rounds):
            copies.append(plain_copy(source))
            target = f"legacy_target_{customers}_{round_number}"
            target_dsn = clone_database(server, template, target)
            imports.append(imported(source, target_dsn))
            reruns.append(imported(source, target_dsn))
            drop_database(server, target)
            say(
                f"legacy import, {customers:,} customers, round {round_number + 1}: plain copy {copies[-1]:.2f} s,"
                f" import {imports[-1]['seconds']:.2f} s, again {reruns[-1]['seconds']:.2f} s"
            )
        drop_database(server, source_name)
        copy_s = statistics.median(copies)
        import_s = statistics.median(i["seconds"] for i in imports)
        rerun_s = statistics.median(i["seconds"] for i in reruns)
        results.append(
            {
                "customers": customers,
                "source_rows": rows,
                "plain_copy_s": round(copy_s, 3),
                "plain_copy_s_all": [round(c, 3) for c in copies],
                "import_s": round(import_s, 3),
                "import_s_all": [round(i["seconds"], 3) for i in imports],
                "import_over_copy": round(import_s / copy_s, 2),
                "rows_per_s": round(rows / import_s),
                "rows_written": imports[0]["imported"],
                "rerun_s": round(rerun_s, 3),
                "rerun_s_all": [round(i["seconds"], 3) for i in reruns],
                "rerun_over_first": round(rerun_s / import_s, 2),
                "rerun_rows_written": reruns[0]["imported"],
                "peak_rss_mb": round(max(i["peak_rss_mb"] for i in imports), 1),
            }
        )
    return results


def print_figures(results: list[dict[str, Any]], say: Say) -> None:
    for row in results:
        say(
            f"legacy import {row['customers']:,} customers ({row['source_rows']:,} source rows):"
            f" {row['import_s']} s, {row['rows_per_s']:,} rows/s, peak memory {row['peak_rss_mb']} MB,"
            f" {row['import_over_copy']} x a plain copy ({row['plain_copy_s']} s); run again {row['rerun_s']} s"
            f" ({row['rerun_over_first']} x the first, {row['rerun_rows_written']} rows written)"
        )
