"""The import's driver: the source's tables streamed into temporary tables of the target, then the
mapping of ``steps.sql``, all in ONE transaction of the target. So a run killed at any point
leaves nothing behind (the next run starts from the same state), ``dry_run`` is the same work
rolled back, and a second run finds every row in place and writes none."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql

from .._dsn import connect
from ..errors import InvalidInput, LegacySourceError, LoyaltyError, PermissionDenied, one_line
from ._report import ImportReport, ReportRow, TableCounts
from ._source import TABLES, copy_table, open_snapshot

#: Called with a line saying what the import is doing (for a progress display).
Progress = Callable[[str], None]

#: The loyaltydb tables the report counts, in its order ("card_numbers": the aliases).
REPORTED = (
    "users",
    "customers",
    "loyalty_programs",
    "program_enrollments",
    "loyalty_cards",
    "card_numbers",
    "customer_business_relationships",
    "customer_notifications",
    "customer_approval_requests",
    "points_deductions",
)

#: Where a source table's rows are counted as read.
_READ_AS = {
    "users": "users",
    "customers": "customers",
    "loyalty_programs": "loyalty_programs",
    "program_enrollments": "program_enrollments",
    "loyalty_cards": "loyalty_cards",
    "customer_business_relationships": "customer_business_relationships",
    "customer_notifications": "customer_notifications",
    "customer_approval_requests": "customer_approval_requests",
}

#: Tables whose ids come from a sequence, and the staging table of their source rows: the sequence
#: ends past every id of both (a row skipped now and imported later keeps its id free).
_SEQUENCED = {
    "loyalty_programs": "legacy_programs",
    "program_enrollments": "legacy_enrollments",
    "loyalty_cards": "legacy_cards",
    "customer_business_relationships": "legacy_relationships",
}

_INSERT = re.compile(r"^INSERT INTO loyalty\.(\w+)", re.MULTILINE)
_CREATED = re.compile(r"^CREATE TEMP TABLE (\w+)", re.MULTILINE)
#: The target session's application_name (pg_stat_activity shows a running import by it).
APPLICATION = "loyaltydb import-legacy"
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('loyaltydb.import_legacy'))"


def import_legacy(
    source_conninfo: str,
    conninfo: str | None = None,
    *,
    schema: str = "public",
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Import the replaced system's database at ``source_conninfo`` (its tables in ``schema``)
    into the loyaltydb database at ``conninfo`` (the usual DSN rules when None). The source is
    only read. Raises ``LegacySourceError`` when the source cannot be read
    as the replaced system's, with nothing written."""
    say = progress or (lambda line: None)
    _check_schema_name(schema)
    with _source_connection(source_conninfo) as source, connect(conninfo, application_name=APPLICATION) as target:
        _prepare_target(target)
        open_snapshot(source, schema)
        read: dict[str, int] = {}
        for table in TABLES:
            say(f"copying {schema}.{table.name}")
            read[_READ_AS[table.name]] = copy_table(
                source, target, schema, table, lambda name, rows: say(f"copying {schema}.{name}: {rows:,} rows")
            )
        source.rollback()  # the snapshot is done with: the source is not held while we map
        imported: Counter[str] = Counter()
        created = 0
        steps = list(_steps())
        for number, (name, statements) in enumerate(steps, start=1):
            say(f"step {number}/{len(steps)}: {name}")
            for statement in statements:
                written = _INSERT.search(statement)
                if written is None:
                    target.execute(statement)
                    for made in _CREATED.findall(statement):
                        target.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(made)))
                    continue
                rows = _count_written(target, statement)
                if name == "customers_created":
                    created += rows
                else:
                    imported[_reported_name(written.group(1))] += rows
        report = _report(target, read, imported, created, dry_run)
        if dry_run:
            target.rollback()
        else:
            say("moving sequences past the imported ids")
            _advance_sequences(target)
            target.commit()
    return report


def _check_schema_name(schema: object) -> None:
    """The source schema's name, refused in one sentence before anything connects: PostgreSQL
    names hold no NUL byte, and one is never empty."""
    if not isinstance(schema, str) or not schema or "\x00" in schema:
        shown = one_line(repr(schema))
        raise InvalidInput(f"schema must name the legacy tables' schema (non-empty, no NUL byte), not {shown}")


def _source_connection(conninfo: str) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(conninfo, application_name=APPLICATION)
    except psycopg.Error as exc:
        raise LegacySourceError(f"cannot connect to the legacy source: {one_line(exc, fold_lines=True)}") from exc


def _prepare_target(target: psycopg.Connection[Any]) -> None:
    """Check the target is migrated, take the import's lock, and set the transaction up."""
    if target.execute("SELECT to_regclass('loyalty.card_aliases')").fetchone() in (None, (None,)):
        raise LoyaltyError("the target database has no loyaltydb schema at migration 0024: run `loyaltydb migrate`")
    # The import writes loyaltydb's tables itself (a dry run too, then rolls back): a service's
    # login (loyalty_app) may not, and is told so before anything is read.
    allowed = target.execute(
        "SELECT current_user, has_table_privilege('loyalty.loyalty_cards', 'INSERT')"
        " AND has_function_privilege('loyalty._distributed()', 'EXECUTE')"
    ).fetchone()
    if allowed is None or not allowed[1]:
        who = allowed[0] if allowed else "this login"
        raise PermissionDenied(
            f"import-legacy writes loyaltydb's tables directly, which {who} may not: connect as the role"
            " that migrated the database (a superuser or a member of loyalty_owner), --dry-run included"
        )
    # One import at a time: a second waits here for the first to commit or roll back.
    target.execute(_LOCK)
    # A backend whose client was killed stops within a second instead of finishing the statement.
    target.execute("SET LOCAL client_connection_check_interval = '1s'")
    # Whole-table statements: sorts and hashes of a few hundred thousand rows in memory, and no
    # JIT compilation (which costs more than it saves on statements of a second).
    target.execute("SET LOCAL work_mem = '64MB'")
    target.execute("SET LOCAL jit = off")
    row = target.execute("SELECT loyalty._distributed()").fetchone()
    if row and row[0]:
        # Citus: the reference tables (programs, businesses) are written before the distributed
        # ones that point to them, which one connection a worker allows in one transaction.
        target.execute("SET LOCAL citus.multi_shard_modify_mode = 'sequential'")


def _steps() -> Iterator[tuple[str, list[str]]]:
    """The named steps of ``steps.sql``, each as its statements (split at a ';' that ends a line
    outside a $$ body)."""
    text = resources.files(__package__).joinpath("steps.sql").read_text(encoding="utf-8")
    for section in re.split(r"^-- name: ", text, flags=re.MULTILINE)[1:]:
        name, _, body = section.partition("\n")
        statements, current, in_body = [], [], False
        for line in body.splitlines():
            current.append(line)
            in_body ^= line.count("$$") % 2 == 1
            if not in_body and line.rstrip().endswith(";"):
                statements.append("\n".join(current))
                current = []
        yield name.strip(), statements


def _count_written(target: psycopg.Connection[Any], insert: str) -> int:
    """Run an INSERT … ON CONFLICT DO NOTHING and count the rows it wrote, by their RETURNING
    rows counted on the server (Citus reports every row offered as the rowcount of an INSERT …
    SELECT through the coordinator, written or not)."""
    counted = target.execute(
        f"WITH written AS ({insert.rstrip().removesuffix(';')}\n RETURNING 1) SELECT count(*) FROM written"
    ).fetchone()
    return int(counted[0]) if counted else 0


def _reported_name(table: str) -> str:
    return "card_numbers" if table == "card_aliases" else table


def _report(
    target: psycopg.Connection[Any], read: dict[str, int], imported: Counter[str], created: int, dry_run: bool
) -> ImportReport:
    actions: Counter[tuple[str, str]] = Counter()
    for table, action, count in target.execute(
        "SELECT table_name, action, count(*) FROM legacy_report GROUP BY 1, 2"
    ).fetchall():
        actions[table, action] = count
    left_out = target.execute("SELECT count(*) FROM legacy_requests_resolved WHERE NOT enrollment").fetchone()
    numbers = target.execute("SELECT count(*) FROM legacy_numbers").fetchone()
    deductions = target.execute("SELECT count(*) FROM legacy_deductions_resolved").fetchone()
    read = {
        **read,
        "card_numbers": int(numbers[0]) if numbers else 0,
        "points_deductions": int(deductions[0]) if deductions else 0,
    }
    tables = [
        TableCounts(
            table=name,
            read=read.get(name, 0),
            imported=imported[name],
            merged=actions[name, "merged"],
            skipped=actions[name, "skipped"],
            created=created if name == "customers" else 0,
            left_out=int(left_out[0]) if left_out and name == "customer_approval_requests" else 0,
        )
        for name in REPORTED
    ]
    # Through a server-side cursor: the client holds the report, never a second copy of it.
    with target.cursor(name="legacy_report") as cur:
        cur.itersize = 2000
        cur.execute(
            "SELECT table_name, legacy_id, action, reason FROM legacy_report"
            " ORDER BY table_name, action, length(legacy_id), legacy_id"
        )
        rows = [ReportRow(*row) for row in cur]
    return ImportReport(dry_run=dry_run, tables=tables, rows=rows)


#: On a Citus cluster each worker issues ids from a range of its own, group g from g * 2^48 on;
#: the coordinator (group 0) issues the ids below 2^48 (docs/scaling.md).
_NODE_ID_RANGE = 1 << 48


def _advance_sequences(target: psycopg.Connection[Any]) -> None:
    """Each id sequence past the largest id its table or its source rows hold (never back). On a
    cluster, past the largest of the coordinator's own range only: an id a worker issued lies in
    that worker's range, and moving the coordinator's sequence there would make it issue the
    worker's next ids (duplicates)."""
    row = target.execute("SELECT loyalty._distributed()").fetchone()
    ours = sql.SQL(" WHERE id < {}").format(sql.Literal(_NODE_ID_RANGE)) if row and row[0] else sql.SQL("")
    for table, stage in _SEQUENCED.items():
        target.execute(
            sql.SQL(
                "SELECT setval(s.seq, m.top) FROM (SELECT pg_get_serial_sequence({name}, 'id')::regclass AS seq) AS s,"
                " (SELECT greatest((SELECT max(id) FROM loyalty.{table}{ours}),"
                " (SELECT max(id) FROM {stage}{ours})) AS top) AS m"
                " WHERE m.top > coalesce(pg_sequence_last_value(s.seq), 0)"
            ).format(
                name=sql.Literal(f"loyalty.{table}"),
                table=sql.Identifier(table),
                stage=sql.Identifier(stage),
                ours=ours,
            )
        )
