"""Moving in from the replaced system (docs/legacy.md): ``import_legacy()`` copies its
database into loyaltydb, merging the duplicates its races made, creating the customers its bug
never created, and keeping every card number a customer holds (``loyaltydb.find_card`` answers
to them). The report says what was read, written, merged and skipped, row by row."""

from ._import import Progress, import_legacy
from ._report import ImportReport, ReportRow, TableCounts

__all__ = ["ImportReport", "Progress", "ReportRow", "TableCounts", "import_legacy"]
