"""Issue 12 F9: every CSV export neutralises formula cells (= + - @ TAB CR) in one helper."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from core.csv_export import FORMULA_STARTS, neutralise, to_csv
from db.enums import QuestionOutcome
from db.models import QuestionLog
from tests.api.console.test_reports import seeded  # noqa: F401  (fixture)

cells = st.one_of(st.text(), st.sampled_from(FORMULA_STARTS).flatmap(lambda c: st.text().map(lambda t: c + t)),
                  st.integers(), st.floats(allow_nan=False), st.none())


def _parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


@given(st.lists(cells, min_size=1, max_size=6), st.lists(st.lists(cells, min_size=1, max_size=6), max_size=5))
def test_no_cell_of_an_export_can_start_a_formula(head, rows) -> None:
    parsed = _parse(to_csv(head, rows))
    assert len(parsed) == 1 + len(rows)
    for original_row, out_row in zip([head, *rows], parsed, strict=True):
        for original, out in zip(original_row, out_row, strict=True):
            if isinstance(original, str):
                assert not out.startswith(FORMULA_STARTS)
                # Nothing is lost: the quote is the only change, and only for dangerous cells.
                assert out == ("'" + original if original.startswith(FORMULA_STARTS) else original)
            elif original is None:
                assert out == ""
            else:
                assert out == str(original)  # numbers stay numbers (a negative balance is not a formula)


def test_each_dangerous_start() -> None:
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert neutralise(f"{start}1+1") == f"'{start}1+1"
    assert neutralise(-5) == -5 and neutralise("5-1") == "5-1" and neutralise(None) == ""


async def test_report_export_neutralises_tab_and_cr(ctx, seeded, make_client, staff_users) -> None:  # noqa: F811
    async with ctx.sessionmaker() as s:
        for text in ("\t=HYPERLINK(\"http://evil\")", "\r@SUM(A1)"):
            s.add(QuestionLog(resident_id=10001, text=text, language="zh_Hans", outcome=QuestionOutcome.no_match,
                              score=0.0, alternatives=[], created_at=ctx.clock.now() - timedelta(hours=1)))
        await s.commit()
    sup = await make_client("supervisor")
    r = await sup.get("/console/reports/export.csv", params={"section": "unanswered"})
    assert r.status_code == 200
    cells_out = [c for row in _parse(r.text) for c in row]
    assert "'\t=HYPERLINK(\"http://evil\")" in cells_out and "'\r@SUM(A1)" in cells_out
    assert not any(c.startswith(FORMULA_STARTS) for c in cells_out)
