"""CSV exports that a spreadsheet cannot turn into formulas (issue 12 F9).

Residents' questions, names and addresses end up in exports. A cell starting with ``=``, ``+``, ``-``, ``@``,
TAB or CR is read by Excel/LibreOffice as a formula (``=HYPERLINK(...)``, DDE), so every text cell that starts
with one gets a leading ``'``, which spreadsheets show as text. Every CSV export goes through ``to_csv``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """One cell: None becomes empty, dangerous text gets a leading quote, numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(head: Iterable[object], rows: Iterable[Iterable[object]], *, bom: bool = True) -> str:
    """The whole file; the UTF-8 BOM makes Excel read Chinese text correctly."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([neutralise(v) for v in head])
    writer.writerows([[neutralise(v) for v in row] for row in rows])
    return ("\ufeff" if bom else "") + buf.getvalue()
