"""R1 written one-time notice (《一次性告知单》): build the PDF and keep one copy on file.

The PDF carries the complete notice of a business topic (basis, time limit, steps, every
document with whether the resident already has it, what to rectify, what is not accepted, fees,
where to apply), a GZ reference number and the date. Chinese needs a CJK font; without one we
refuse (``NoticeUnavailable``) rather than print empty boxes.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import string
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.dates import format_date
from fontTools import subset as ft_subset  # fpdf loads it anyway: nothing to gain by deferring it
from fontTools.ttLib import TTCollection, TTFont
from fpdf import FPDF
from fpdf.enums import WrapMode, XPos, YPos
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import local
from core.numbers import next_number
from db.models import ChecklistNotice, Resident
from knowledge.catalogue import Catalogue, as_lang
from knowledge.models import Lang, Topic
from knowledge.render import HEADINGS, document_text

log = logging.getLogger(__name__)

REFERENCE_PREFIX = "GZ"  # 告知
REUSE_WITHIN = timedelta(minutes=10)  # a double tap must not issue two numbers for one paper
FONT_CANDIDATES: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"),
)
STRONG_RGB = (20, 60, 130)
HAVE_MARK = "✔"
MISSING_MARK = "□"


def N_(s: str) -> str:
    """Mark a literal for extraction; translated later with the resident's language."""
    return s


LABELS = {
    "title": N_("One-time notification"),
    "reference": N_("Reference"),
    "date": N_("Date"),
    "business": N_("Business"),
    "legend": N_("✔ = you said you have it   □ = still missing"),
    "conditional": N_("A document with a case in brackets is needed only in that case."),
    "missing_summary": N_("Still missing ({count}):"),
    "complete": N_("You have every document on the list. Bring the originals with you."),
    "have_word": N_("have"),
    "missing_word": N_("missing"),
    "footer": N_("We tell you everything needed for this business at once (one-time notification, R1). "
                 "A copy of this notice is kept on file under reference {reference}. Questions: {hotline}."),
    "page": N_("Page {page} of {pages}"),
}


class NoticeUnavailable(RuntimeError):
    """No CJK font is installed, or the topic has no one-time notice."""


@dataclass(frozen=True)
class NoticeContent:
    """Everything printed on one notice, already in the resident's language."""

    reference: str
    issued_at: datetime
    lang: Lang
    topic: Topic
    have: frozenset[str]
    company: str
    hotline: str


def find_cjk_font(candidates: Iterable[Path] | None = None) -> Path | None:
    for path in FONT_CANDIDATES if candidates is None else candidates:
        if path.is_file():
            return path
    return None


@lru_cache(maxsize=4)
def _glyphs(font: Path) -> frozenset[int]:
    ttf = TTCollection(str(font)).fonts[0] if font.suffix.lower() == ".ttc" else TTFont(str(font))
    return frozenset(ttf.getBestCmap())


def missing_glyphs(text: str, font: Path) -> set[str]:
    """Characters of ``text`` the font cannot draw (they would print as empty boxes)."""
    cmap = _glyphs(font)
    return {ch for ch in text if not ch.isspace() and ord(ch) not in cmap}


def split_documents(topic: Topic, have: Iterable[str]) -> tuple[list[str], list[str]]:
    """(have, missing) document ids in file order; unknown ids are dropped."""
    if topic.notice is None:
        return [], []
    ticked = set(have)
    ids = [d.id for d in topic.notice.documents]
    return [i for i in ids if i in ticked], [i for i in ids if i not in ticked]


# --- layout ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Line:
    """One block of the notice; the whole notice is laid out first so its characters are known
    before a font is chosen (see _subset_font)."""

    kind: str  # para | heading | title | rule
    text: str = ""
    size: float = 10.5
    indent: float = 0
    strong: bool = False
    gap: float = 1.2


def layout(content: NoticeContent, gettext: Callable[[str], str]) -> tuple[list[_Line], dict[str, str]]:
    """The notice as a list of blocks in reading order, plus the translated labels."""
    topic, lang = content.topic, content.lang
    notice = topic.notice
    if notice is None:
        raise NoticeUnavailable(f"topic {topic.slug} has no one-time notice")
    t = {k: gettext(v) for k, v in LABELS.items()}
    h = {k: v[lang] for k, v in HEADINGS.items()}
    out: list[_Line] = []

    def para(text: str, size: float = 10.5, *, indent: float = 0, strong: bool = False, gap: float = 1.2) -> None:
        out.append(_Line("para", text, size, indent, strong, gap))

    def heading(key: str) -> None:
        out.append(_Line("heading", h[key], 12, strong=True, gap=0.8))

    def items(lines: Sequence[str], numbered: bool = False) -> None:
        for i, line in enumerate(lines, 1):
            para(f"{i}. {line}" if numbered else f"• {line}", indent=3, gap=0.6)

    day = format_date(local(content.issued_at).date(), format="long", locale="zh_Hans_CN" if lang == "zh" else "en")
    para(content.company, 10, gap=0.5)
    out.append(_Line("title", t["title"], 20))
    para(f"{t['reference']}: {content.reference}      {t['date']}: {day}", 10, gap=0.5)
    para(f"{t['business']}: {topic.title.get(lang)}", 12, strong=True, gap=1)
    out.append(_Line("rule"))
    para(topic.summary.get(lang))
    heading("basis")
    para(notice.basis.get(lang))
    heading("time_limit")
    para(notice.time_limit.get(lang))
    heading("steps")
    items([s.get(lang) for s in notice.steps], numbered=True)

    heading("documents")
    para(t["legend"], 9, gap=0.3)
    para(t["conditional"], 9, gap=1)
    have_ids, missing_ids = split_documents(topic, content.have)
    for doc in notice.documents:
        ok = doc.id in have_ids
        mark, word = (HAVE_MARK, t["have_word"]) if ok else (MISSING_MARK, t["missing_word"])
        para(f"{mark} [{word}] {document_text(doc, lang)}", indent=3, gap=0.6)
    if missing_ids:
        para(t["missing_summary"].format(count=len(missing_ids)), 11, strong=True, gap=0.6)
        by_id = {d.id: d for d in notice.documents}
        items([document_text(by_id[i], lang) for i in missing_ids], numbered=True)
    else:
        para(t["complete"], 11, strong=True)

    heading("rectify")
    items([x.get(lang) for x in notice.rectify])
    heading("not_accepted")
    items([x.get(lang) for x in notice.not_accepted])
    heading("fees")
    para(notice.fees.get(lang))
    heading("where")
    para(notice.where.get(lang))
    para(t["footer"].format(reference=content.reference, hotline=content.hotline), 9, gap=0)
    return out, t


# --- fonts -----------------------------------------------------------------------------------------

# Parsing the full CJK font (30,000 glyphs) costs most of a second per PDF; a subset with the
# characters notices actually use is parsed about four times faster. Subsets are cached in memory
# and on disk; a text needing a character the subset lacks gets a new, larger subset.
_SUBSETS: dict[Path, tuple[frozenset[str], Path]] = {}
_SUBSET_LOCK = threading.Lock()
_BASE_CHARS = frozenset(string.printable) | set("年月日：，。（）《》“”‘’、；…–—•✔□¥")
_CATALOGUE_CHARS: weakref.WeakKeyDictionary[Catalogue, frozenset[str]] = weakref.WeakKeyDictionary()


def _strings(node: Any) -> Iterable[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list | tuple):
        for value in node:
            yield from _strings(value)


def catalogue_chars(catalogue: Catalogue) -> frozenset[str]:
    """Every character of every topic and site value: what notices can print."""
    chars = _CATALOGUE_CHARS.get(catalogue)
    if chars is None:
        found: set[str] = set()
        for topic in catalogue:
            for text in _strings(topic.model_dump()):
                found.update(text)
        for text in _strings(catalogue.site):
            found.update(text)
        chars = _CATALOGUE_CHARS[catalogue] = frozenset(found)
    return chars


def _write_subset(font: Path, chars: frozenset[str]) -> Path:
    key = hashlib.sha1(f"{font}|{font.stat().st_mtime_ns}|{''.join(sorted(chars))}".encode()).hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / "onestop-fonts" / f"{key}.ttf"
    if target.is_file():
        return target
    ttf = TTCollection(str(font)).fonts[0] if font.suffix.lower() == ".ttc" else TTFont(str(font))
    options = ft_subset.Options()
    options.layout_features = []  # Chinese and English need no shaping here
    options.name_IDs = ["*"]
    options.notdef_outline = True
    logging.getLogger("fontTools.subset").setLevel(logging.ERROR)  # "FFTM NOT subset" is harmless
    subsetter = ft_subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(ch) for ch in chars])
    subsetter.subset(ttf)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    ttf.save(str(tmp))
    os.replace(tmp, target)  # atomic: another process may write the same subset
    return target


def _subset_font(font: Path, needed: Iterable[str], warm: Iterable[str] = ()) -> Path:
    needed = set(needed)
    with _SUBSET_LOCK:
        cached = _SUBSETS.get(font)
        if cached is not None and needed <= cached[0] and cached[1].is_file():  # a tmp cleaner may remove it
            return cached[1]
        chars = frozenset(needed) | _BASE_CHARS | frozenset(warm) | (cached[0] if cached else frozenset())
        try:
            path = _write_subset(font, chars)
        except Exception:  # any font the subsetter cannot handle is still usable whole
            log.warning("could not subset %s; using the full font", font, exc_info=True)
            return font
        _SUBSETS[font] = (chars, path)
        return path


# --- rendering --------------------------------------------------------------------------------------

class _NoticePDF(FPDF):
    page_label = ""

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font("cjk", size=8)
        self.set_text_color(110)
        self.cell(0, 5, self.page_label.format(page=self.page_no(), pages="{nb}"), align="C")
        self.set_text_color(0)


def build_pdf(content: NoticeContent, gettext: Callable[[str], str], *, font: Path | None = None,
              subset: bool = True, warm: Iterable[str] = ()) -> bytes:
    """Render the notice as PDF bytes. Raises NoticeUnavailable without a CJK font or a notice.

    ``warm``: more characters to put in the font subset now (e.g. the whole catalogue), so later
    notices reuse it.
    """
    lines, t = layout(content, gettext)
    font = font or find_cjk_font()
    if font is None:
        raise NoticeUnavailable("no CJK font installed (Debian: apt-get install fonts-wqy-microhei)")
    if subset:
        font = _subset_font(font, "".join(line.text for line in lines) + t["page"], warm)
    # Chinese has no spaces: wrap at any character. English wraps at words.
    wrap = WrapMode.CHAR if content.lang == "zh" else WrapMode.WORD

    pdf = _NoticePDF(format="A4", unit="mm")
    pdf.page_label = t["page"]
    pdf.set_margins(18, 16, 18)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_font("cjk", "", str(font))
    pdf.set_title(f"{t['title']} {content.reference}")
    pdf.set_subject(content.topic.slug)
    pdf.set_keywords(f"{content.reference} {content.topic.slug}")
    pdf.set_author(content.company)
    pdf.set_creator("Onestop")
    pdf.set_creation_date(content.issued_at)
    pdf.add_page()
    width = pdf.epw
    for line in lines:
        if line.kind == "rule":
            pdf.set_draw_color(150)
            pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + width, pdf.get_y())
            pdf.set_draw_color(0)
            pdf.ln(2)
            continue
        if line.kind == "title":
            pdf.set_font("cjk", size=line.size)
            pdf.cell(width, 12, line.text, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            continue
        if line.kind == "heading":
            pdf.ln(1.5)
            if pdf.will_page_break(16):  # keep a heading with the first lines of its block
                pdf.add_page()
        # The CJK font has no bold face (and faked bold renders unevenly): emphasis is colour.
        pdf.set_font("cjk", size=line.size)
        pdf.set_text_color(*(STRONG_RGB if line.strong else (0, 0, 0)))
        pdf.set_x(pdf.l_margin + line.indent)
        pdf.multi_cell(width - line.indent, line.size * 0.5, line.text, wrapmode=wrap, align="L",
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_text_color(0)
        pdf.ln(line.gap)
    return bytes(pdf.output())


def notice_filename(reference: str, lang: str) -> str:
    return f"一次性告知单-{reference}.pdf" if as_lang(lang) == "zh" else f"one-time-notification-{reference}.pdf"


async def issue_notice(
    session: AsyncSession,
    *,
    catalogue: Catalogue,
    gettext: Callable[[str], str],
    resident: Resident,
    slug: str,
    have: Iterable[str],
    language: str,
    now: datetime,
    font: Path | None = None,
    reuse_within: timedelta | None = REUSE_WITHIN,
) -> ChecklistNotice:
    """Number, build and file the written notice (R1: one copy on file); commits and returns the row.

    Asking again for the same notice (same topic, ticks and language) within ``reuse_within``
    returns the notice already issued instead of a second number for the same paper.
    """
    topic = catalogue.get(slug)
    if topic is None or topic.notice is None:
        raise NoticeUnavailable(f"topic {slug!r} has no one-time notice")
    have_ids, missing_ids = split_documents(topic, have)
    if reuse_within is not None:
        q = (select(ChecklistNotice)
             .where(ChecklistNotice.resident_id == resident.id, ChecklistNotice.topic == slug,
                    ChecklistNotice.language == language, ChecklistNotice.created_at >= now - reuse_within)
             .order_by(ChecklistNotice.id.desc()).limit(1))
        recent = (await session.execute(q)).scalar_one_or_none()
        if recent is not None and list(recent.have) == have_ids and recent.pdf:
            return recent
    font = font or find_cjk_font()
    if font is None:
        raise NoticeUnavailable("no CJK font installed (Debian: apt-get install fonts-wqy-microhei)")
    lang = as_lang(language)
    reference = await next_number(session, REFERENCE_PREFIX, now)
    # Commit the number before the slow PDF build so the day's counter row is not held locked
    # (a failed build leaves a gap in the sequence, never a duplicate).
    await session.commit()
    content = NoticeContent(
        reference=reference, issued_at=now, lang=lang, topic=topic, have=frozenset(have_ids),
        company=catalogue.value("company", lang), hotline=catalogue.value("hotline", lang),
    )
    # Font parsing and subsetting take most of a second: keep them off the event loop.
    pdf = await asyncio.to_thread(build_pdf, content, gettext, font=font, warm=catalogue_chars(catalogue))
    row = ChecklistNotice(
        reference=reference, resident_id=resident.id, topic=slug, language=language,
        have=have_ids, missing=missing_ids, pdf=pdf, created_at=now,
    )
    session.add(row)
    await session.commit()
    return row


async def notices_of(session: AsyncSession, resident_id: int, limit: int = 20) -> list[ChecklistNotice]:
    """The resident's written notices, newest first (for the handoff context and the console)."""
    q = (select(ChecklistNotice).where(ChecklistNotice.resident_id == resident_id)
         .order_by(ChecklistNotice.id.desc()).limit(limit))
    return list((await session.execute(q)).scalars())


async def get_notice(session: AsyncSession, reference: str) -> ChecklistNotice | None:
    q = select(ChecklistNotice).where(ChecklistNotice.reference == reference)
    return (await session.execute(q)).scalar_one_or_none()


async def recent_notices(session: AsyncSession, *, search: str = "", limit: int = 100,
                         ) -> list[tuple[ChecklistNotice, Resident | None]]:
    """Notices on file for the console, newest first, with their resident (if still known).

    ``search`` is a reference (or its start, e.g. "GZ-20261123"), a resident's Telegram id or a
    topic slug; anything else matches nothing rather than everything.
    """
    q = (select(ChecklistNotice, Resident).outerjoin(Resident, Resident.id == ChecklistNotice.resident_id)
         .order_by(ChecklistNotice.id.desc()).limit(limit))
    search = search.strip()[:64]
    if search:
        if search.isdigit():
            q = q.where(ChecklistNotice.resident_id == int(search))
        elif search.upper().startswith(REFERENCE_PREFIX + "-"):
            q = q.where(ChecklistNotice.reference.startswith(search.upper(), autoescape=True))
        else:
            q = q.where(ChecklistNotice.topic == search)
    return [(n, r) for n, r in (await session.execute(q)).all()]
