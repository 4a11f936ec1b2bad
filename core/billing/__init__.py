"""Billing integration: upsert accounts, readings, charges, payments and adjustments from the billing system.

One record format serves the REST API (JSON objects) and CSV files (one record per row, see README
"Billing CSV import"). Every record carries the billing system's ``external_id``; sending the same
record again updates it instead of adding a second one. A batch is validated completely first, and
written in one transaction only if every record is valid: a file with any bad row changes nothing,
and every bad row is reported with its line number.

A package (records, batch, importer); this file only re-exports their public names so callers keep
writing ``billing.import_csv``.
"""

from core.billing.importer import import_csv, recent_imports, upsert
from core.billing.records import (
    CHUNK,
    COLUMNS,
    EARLIEST,
    LEDGER_KINDS,
    MAX_AMOUNT_FEN,
    MAX_ERRORS_KEPT,
    MAX_ROWS,
    MAX_VOLUME_MILLI,
    PG_CHUNK,
    RECORD_TYPES,
    REQUIRED,
    AccountRecord,
    ImportReport,
    LedgerRecord,
    ReadingRecord,
    Record,
    RecordError,
    RowError,
    parse_record,
    read_csv,
)

__all__ = [
    "CHUNK", "COLUMNS", "EARLIEST", "LEDGER_KINDS", "MAX_AMOUNT_FEN", "MAX_ERRORS_KEPT", "MAX_ROWS",
    "MAX_VOLUME_MILLI", "PG_CHUNK", "RECORD_TYPES", "REQUIRED", "AccountRecord", "ImportReport", "LedgerRecord",
    "ReadingRecord", "Record", "RecordError", "RowError", "import_csv", "parse_record", "read_csv",
    "recent_imports", "upsert",
]
