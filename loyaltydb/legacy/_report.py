"""What an import did: counts per table and every row it skipped, merged or created, with why."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One source row the import did not copy as it was: ``action`` is ``skipped`` (not
    imported), ``merged`` (a duplicate folded into the kept row its reason names) or ``created``
    (a customer made from its user, which the replaced system never created)."""

    table: str
    legacy_id: str
    action: str
    reason: str


@dataclass(frozen=True, slots=True)
class TableCounts:
    """One table's figures. ``read``: rows in the source; ``imported``: rows this run wrote;
    ``merged`` and ``skipped``: as in ``ReportRow``; ``created``: customers made from users;
    ``left_out``: rows that are not loyaltydb's to hold (requests that are no enrollment);
    ``existing``: the rest, already in loyaltydb from an earlier run (or made there since)."""

    table: str
    read: int
    imported: int
    merged: int = 0
    skipped: int = 0
    created: int = 0
    left_out: int = 0

    @property
    def existing(self) -> int:
        return max(self.read - self.imported - self.merged - self.skipped - self.left_out, 0)


@dataclass(frozen=True, slots=True)
class ImportReport:
    """An import's outcome (``import_legacy()``). ``dry_run``: nothing was
    written (the transaction was rolled back after the same work)."""

    dry_run: bool
    tables: list[TableCounts]
    rows: list[ReportRow] = field(default_factory=list)

    @property
    def imported(self) -> int:
        """Rows written, all tables together: 0 on a second run."""
        return sum(counts.imported + counts.created for counts in self.tables)

    def table(self, name: str) -> TableCounts:
        """The counts of one table (its loyaltydb name, or ``card_numbers``)."""
        for counts in self.tables:
            if counts.table == name:
                return counts
        raise KeyError(name)

    def as_json(self) -> dict[str, Any]:
        """The report as ``--json`` prints it."""
        return {
            "dry_run": self.dry_run,
            "imported": self.imported,
            "tables": [{**asdict(counts), "existing": counts.existing} for counts in self.tables],
            "rows": [asdict(row) for row in self.rows],
        }

    def lines(self) -> list[str]:
        """The report for a person: a table of counts, then every row skipped, merged or created."""
        header = ("table", "read", "imported", "existing", "merged", "skipped", "created", "left out")
        body = [
            (
                c.table,
                *(f"{n:,}" for n in (c.read, c.imported, c.existing, c.merged, c.skipped, c.created, c.left_out)),
            )
            for c in self.tables
        ]
        widths = [max(len(row[i]) for row in (header, *body)) for i in range(len(header))]
        out = [
            "  ".join(cell.ljust(widths[0]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row))
            for row in (header, *body)
        ]
        out.append(
            ("dry run: nothing was written; " if self.dry_run else "")
            + f"{self.imported:,} rows {'would be ' if self.dry_run else ''}written"
        )
        out.extend(f"{row.action} {row.table} {row.legacy_id}: {row.reason}" for row in self.rows)
        return out
