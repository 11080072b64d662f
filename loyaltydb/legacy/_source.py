"""The replaced system's tables as the import reads them: which columns, as which types, and the
COPY that streams them from the source's connection into temporary tables of the target's.

The source is read in one READ ONLY, REPEATABLE READ transaction (one snapshot of all eight
tables, and nothing can be written). Ids whose type varies between the replaced system's
databases (VARCHAR in some, INTEGER in others) are read as text and parsed by the mapping
(``steps.sql``), which reports the ones that are no number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from ..errors import LegacySourceError, one_line


@dataclass(frozen=True, slots=True)
class LegacyTable:
    """A source table: its name there, the temporary table it lands in, and its columns as
    (name, the type they are read as)."""

    name: str
    stage: str
    columns: tuple[tuple[str, str], ...]


#: The replaced system's tables (``shared/legacy/schema.sql``), in the order they are copied.
TABLES: tuple[LegacyTable, ...] = (
    LegacyTable(
        "users",
        "legacy_users",
        (
            ("id", "bigint"),
            ("name", "text"),
            ("email", "text"),
            ("business_name", "text"),
            ("created_at", "timestamptz"),
        ),
    ),
    LegacyTable(
        "customers",
        "legacy_customers",
        (
            ("id", "bigint"),
            ("user_id", "bigint"),
            ("name", "text"),
            ("email", "text"),
            ("phone", "text"),
            ("notification_preferences", "jsonb"),
            ("regional_settings", "jsonb"),
            ("joined_at", "timestamptz"),
            ("created_at", "timestamptz"),
            ("updated_at", "timestamptz"),
        ),
    ),
    LegacyTable(
        "loyalty_programs",
        "legacy_programs",
        (
            ("id", "bigint"),
            ("business_id", "bigint"),
            ("name", "text"),
            ("description", "text"),
            ("status", "text"),
            ("is_active", "boolean"),
            ("welcome_points", "integer"),
            ("created_at", "timestamptz"),
            ("updated_at", "timestamptz"),
        ),
    ),
    LegacyTable(
        "customer_notifications",
        "legacy_notifications",
        (
            ("id", "uuid"),
            ("customer_id", "bigint"),
            ("business_id", "bigint"),
            ("type", "text"),
            ("title", "text"),
            ("message", "text"),
            ("data", "jsonb"),
            ("requires_action", "boolean"),
            ("action_taken", "boolean"),
            ("is_read", "boolean"),
            ("created_at", "timestamptz"),
        ),
    ),
    LegacyTable(
        "customer_approval_requests",
        "legacy_requests",
        (
            ("id", "uuid"),
            ("notification_id", "uuid"),
            ("customer_id", "bigint"),
            ("business_id", "bigint"),
            ("request_type", "text"),
            ("entity_id", "text"),
            ("status", "text"),
            ("data", "jsonb"),
            ("requested_at", "timestamptz"),
            ("response_at", "timestamptz"),
            ("expires_at", "timestamptz"),
        ),
    ),
    LegacyTable(
        "program_enrollments",
        "legacy_enrollments",
        (
            ("id", "bigint"),
            ("customer_id", "text"),
            ("program_id", "bigint"),
            ("status", "text"),
            ("current_points", "integer"),
            ("last_activity", "timestamptz"),
            ("enrolled_at", "timestamptz"),
        ),
    ),
    LegacyTable(
        "loyalty_cards",
        "legacy_cards",
        (
            ("id", "bigint"),
            ("customer_id", "bigint"),
            ("business_id", "bigint"),
            ("program_id", "bigint"),
            ("card_number", "text"),
            ("status", "text"),
            ("is_active", "boolean"),
            ("points", "integer"),
            ("points_balance", "integer"),
            ("created_at", "timestamptz"),
            ("updated_at", "timestamptz"),
        ),
    ),
    LegacyTable(
        "customer_business_relationships",
        "legacy_relationships",
        (
            ("id", "bigint"),
            ("customer_id", "text"),
            ("business_id", "text"),
            ("status", "text"),
            ("created_at", "timestamptz"),
            ("updated_at", "timestamptz"),
        ),
    ),
)

#: Bytes gathered from the source before they are sent on: the memory a copy holds.
COPY_BATCH = 1 << 20

#: Called with (table, rows so far) while a table streams in.
CopyProgress = Callable[[str, int], None]


def open_snapshot(source: psycopg.Connection[Any], schema: str) -> None:
    """Start the source's one read-only snapshot and check that every table is there: a missing
    one is ``LegacySourceError``, in one sentence, before anything is copied."""
    source.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    # A zone-less legacy time (users' TIMESTAMP columns) is read as UTC, whatever the importing
    # client's PGTZ or the source's TimeZone: no session setting may shift an imported time.
    source.execute("SET LOCAL TimeZone = 'UTC'")
    missing = source.execute(
        "SELECT t.name FROM unnest(%s::text[]) AS t(name)"
        " WHERE to_regclass(format('%%I.%%I', %s::text, t.name)) IS NULL",
        ([table.name for table in TABLES], schema),
    ).fetchall()
    if missing:
        names = ", ".join(f"{schema}.{row[0]}" for row in missing)
        raise LegacySourceError(
            f"the source has no legacy table {names} (is it the replaced system's database, with its"
            f" tables in schema {schema!r}? --schema names another)"
        )


def copy_table(
    source: psycopg.Connection[Any],
    target: psycopg.Connection[Any],
    schema: str,
    table: LegacyTable,
    progress: CopyProgress | None = None,
) -> int:
    """Stream ``table`` from the source into its temporary table on the target, block by block
    (memory stays one block whatever the table's size); returns how many rows came."""
    definition = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind))  # kinds: the constants above
        for name, kind in table.columns
    )
    target.execute(sql.SQL("CREATE TEMP TABLE {} ({})").format(sql.Identifier(table.stage), definition))
    # Timestamps leave the source with their offset (zone-less ones read as UTC, open_snapshot),
    # so no session setting can shift them; every other column leaves as text and is parsed by
    # the target's COPY.
    selected = sql.SQL(", ").join(
        sql.SQL("{}::timestamptz").format(sql.Identifier(name))
        if kind == "timestamptz"
        else sql.SQL("{}::text").format(sql.Identifier(name))
        for name, kind in table.columns
    )
    out = sql.SQL("COPY (SELECT {} FROM {}.{}) TO STDOUT").format(
        selected, sql.Identifier(schema), sql.Identifier(table.name)
    )
    into = sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(table.stage))
    try:
        with source.cursor().copy(out) as reader, target.cursor().copy(into) as writer:
            rows, buffer = 0, bytearray()
            for block in reader:  # a row at a time, as libpq hands them over: sent on in batches
                buffer += block
                if len(buffer) >= COPY_BATCH:
                    rows += buffer.count(b"\n")  # one line a row: COPY's text format escapes newlines
                    writer.write(buffer)
                    buffer.clear()
                    if progress is not None:
                        progress(table.name, rows)
            writer.write(buffer)
    except psycopg.errors.UndefinedColumn as exc:
        raise LegacySourceError(
            f"the source's {schema}.{table.name} is not the replaced system's: {one_line(exc)}"
        ) from exc
    except psycopg.errors.DataException as exc:
        raise LegacySourceError(f"a row of {schema}.{table.name} cannot be read: {one_line(exc)}") from exc
    target.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table.stage)))
    count = target.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table.stage))).fetchone()
    return int(count[0]) if count else 0
