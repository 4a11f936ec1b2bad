"""The written one-time notice (R1): PDF content, glyphs, numbering and the copy kept on file."""

from __future__ import annotations

import asyncio
import io

import pytest
from sqlalchemy import select

from core import notices
from core.i18n import Translator
from core.settings import ROOT
from db.models import ChecklistNotice
from tests.support.context import NOW
from tests.support.knowledge_bot import make_resident

pytestmark = pytest.mark.usefixtures("shared_knowledge")

FONT = notices.find_cjk_font()
needs_font = pytest.mark.skipif(FONT is None, reason="no CJK font installed (apt-get install fonts-wqy-microhei)")


def _gettext(locale: str):
    tr = Translator(ROOT / "bot" / "locales")
    return lambda s: tr.gettext(locale, s)


def _text(pdf: bytes) -> str:
    pypdf = pytest.importorskip("pypdf")
    return "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def _content(ctx, slug: str, lang: str, have: set[str]) -> notices.NoticeContent:
    return notices.NoticeContent(
        reference="GZ-20261123-0042", issued_at=NOW, lang=lang, topic=ctx.catalogue[slug], have=frozenset(have),
        company=ctx.catalogue.value("company", lang), hotline=ctx.catalogue.value("hotline", lang))


@needs_font
@pytest.mark.parametrize("lang,locale", [("zh", "zh_Hans"), ("en", "en")])
def test_pdf_holds_the_complete_r1_notice(ctx, lang, locale) -> None:
    topic = ctx.catalogue["water.tiered-household"]
    have = {topic.notice.documents[0].id}
    pdf = notices.build_pdf(_content(ctx, topic.slug, lang, have), _gettext(locale))
    assert pdf.startswith(b"%PDF-") and b"GZ-20261123-0042" in pdf  # the reference is in the metadata too
    text = " ".join(_text(pdf).split())
    n = topic.notice
    expected = [topic.title.get(lang), n.fees.get(lang), ctx.catalogue.value("hotline", lang)]
    expected += [s.get(lang) for s in n.steps] + [x.get(lang) for x in n.not_accepted + n.rectify]
    for part in expected:
        # Compare without whitespace: the PDF wraps lines anywhere in Chinese.
        assert "".join(part.split())[:30] in "".join(text.split()), part
    for doc in n.documents:
        assert "".join(doc.get(lang).split())[:20] in "".join(text.split()), doc.id
    heading = "一次性告知单" if lang == "zh" else "One-time notification"
    assert heading in text and "GZ-20261123-0042" in text
    assert ("日期: 2026年11月23日" if lang == "zh" else "Date: November 23, 2026") in text
    missing = len(n.documents) - 1
    assert (f"尚缺材料（{missing} 项）" if lang == "zh" else f"Still missing ({missing}):") in text


@needs_font
def test_every_character_the_notices_can_print_has_a_glyph(ctx) -> None:
    """No empty boxes: the font draws every character of every notice, labels included, in both languages."""
    from knowledge.render import HEADINGS, document_text

    texts: list[str] = []
    for locale in ("zh_Hans", "en"):
        gettext = _gettext(locale)
        texts += [gettext(v) for v in notices.LABELS.values()]
    texts += [h for k, v in HEADINGS.items() if k != "safety" for h in v.values()]  # the PDF has no safety block
    texts += [notices.HAVE_MARK, notices.MISSING_MARK, "0123456789-:年月日 ,"]
    for topic in ctx.catalogue:
        if topic.notice is None:
            continue
        n = topic.notice
        for lang in ("zh", "en"):
            texts += [topic.title.get(lang), topic.summary.get(lang), n.basis.get(lang), n.time_limit.get(lang),
                      n.fees.get(lang), n.where.get(lang)]
            texts += [x.get(lang) for x in n.steps + n.rectify + n.not_accepted]
            texts += [document_text(d, lang) for d in n.documents]
    missing = notices.missing_glyphs("".join(texts), FONT)
    assert not missing, f"characters the font cannot draw: {sorted(missing)}"


def test_topic_without_a_notice_or_without_a_font_is_refused(ctx, monkeypatch) -> None:
    with pytest.raises(notices.NoticeUnavailable):
        notices.build_pdf(_content(ctx, "gas.leak", "zh", set()), lambda s: s)
    assert notices.find_cjk_font([ROOT / "no-such-font.ttc"]) is None
    monkeypatch.setattr(notices, "FONT_CANDIDATES", ())
    with pytest.raises(notices.NoticeUnavailable, match="fonts-wqy-microhei"):
        notices.build_pdf(_content(ctx, "gas.transfer", "zh", set()), lambda s: s)


def test_split_documents_keeps_file_order_and_drops_unknown_ids(ctx) -> None:
    topic = ctx.catalogue["gas.transfer"]
    have, missing = notices.split_documents(topic, ["agent-id", "new-owner-id", "forged-id"])
    assert have == ["new-owner-id", "agent-id"]
    assert missing == ["property-doc", "old-card", "account-no", "relation-proof", "company-docs"]


@needs_font
async def test_issue_notice_files_one_copy_and_numbers_per_day(ctx, session) -> None:
    resident = await make_resident(session)
    first = await notices.issue_notice(session, catalogue=ctx.catalogue, gettext=_gettext("zh_Hans"),
                                       resident=resident, slug="gas.transfer", have=["old-card"],
                                       language="zh_Hans", now=NOW)
    second = await notices.issue_notice(session, catalogue=ctx.catalogue, gettext=_gettext("en"),
                                        resident=resident, slug="water.transfer", have=[], language="en", now=NOW)
    assert (first.reference, second.reference) == ("GZ-20261123-0001", "GZ-20261123-0002")
    rows = (await session.execute(select(ChecklistNotice).order_by(ChecklistNotice.id))).scalars().all()
    assert [r.reference for r in rows] == [first.reference, second.reference]
    assert rows[0].pdf.startswith(b"%PDF-") and rows[0].have == ["old-card"]
    assert [n.reference for n in await notices.notices_of(session, resident.id)] == [second.reference,
                                                                                      first.reference]
    assert (await notices.get_notice(session, first.reference)).topic == "gas.transfer"
    with pytest.raises(notices.NoticeUnavailable):
        await notices.issue_notice(session, catalogue=ctx.catalogue, gettext=_gettext("en"), resident=resident,
                                   slug="gas.leak", have=[], language="en", now=NOW)


@needs_font
@pytest.mark.postgres
async def test_concurrent_notices_get_distinct_numbers_on_postgresql(pg_ctx, knowledge) -> None:
    pg_ctx.__dict__["catalogue"] = knowledge[0]
    async with pg_ctx.sessionmaker() as s:
        await make_resident(s, user_id=1)
        await make_resident(s, user_id=2)

    async def one(user_id: int) -> str:
        async with pg_ctx.sessionmaker() as s:
            from db.models import Resident

            resident = await s.get(Resident, user_id)
            row = await notices.issue_notice(s, catalogue=pg_ctx.catalogue, gettext=lambda m: m, resident=resident,
                                             slug="gas.transfer", have=[], language="zh_Hans", now=NOW)
            return row.reference

    refs = await asyncio.gather(one(1), one(2))
    assert sorted(refs) == ["GZ-20261123-0001", "GZ-20261123-0002"]
    async with pg_ctx.sessionmaker() as s:
        rows = (await s.execute(select(ChecklistNotice))).scalars().all()
        assert len(rows) == 2 and all(r.pdf.startswith(b"%PDF-") for r in rows)


@needs_font
def test_font_subset_covers_the_notice_and_survives_a_tmp_cleaner(ctx, tmp_path, monkeypatch) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(notices, "_SUBSETS", {})
    content = _content(ctx, "gas.transfer", "zh", set())
    lines, labels = notices.layout(content, _gettext("zh_Hans"))
    text = "".join(line.text for line in lines) + labels["page"]
    subset = notices._subset_font(FONT, text, notices.catalogue_chars(ctx.catalogue))
    assert subset != FONT and subset.parent == tmp_path / "onestop-fonts"
    assert subset.stat().st_size < FONT.stat().st_size / 10
    notices._glyphs.cache_clear()
    assert notices.missing_glyphs(text, subset) == set()
    subset.unlink()  # e.g. a tmp cleaner: the next notice writes it again instead of failing
    assert notices.build_pdf(content, _gettext("zh_Hans")).startswith(b"%PDF-")
    assert subset.is_file()
