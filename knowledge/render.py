"""Resident-facing text of a topic as Telegram HTML, split into self-contained chunks."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from knowledge.models import Document, Kind, Lang, Text, Topic

# Telegram allows 4096 characters per message after entity parsing; staying at 3500 of *markup*
# leaves room for a footer or keyboard hint added by the bot.
MAX_CHUNK = 3500

HEADINGS: dict[str, dict[Lang, str]] = {
    "safety": {"zh": "⚠️ 请立即这样做", "en": "⚠️ Do this now"},
    "basis": {"zh": "依据", "en": "Basis"},
    "time_limit": {"zh": "办理时限", "en": "Time limit"},
    "steps": {"zh": "办理流程", "en": "Steps"},
    "documents": {"zh": "所需材料", "en": "Documents"},
    "rectify": {"zh": "不合格需整改", "en": "If inspection fails"},
    "not_accepted": {"zh": "不予受理", "en": "Not accepted"},
    "fees": {"zh": "收费", "en": "Fees"},
    "where": {"zh": "办理地点", "en": "Where to apply"},
}
CONTINUED: dict[Lang, str] = {"zh": "（续）", "en": " (continued)"}


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def document_text(doc: Document, lang: Lang) -> str:
    """Document name with its condition, e.g. 'Owner's ID card (if the owner applies in person)'."""
    text = doc.get(lang)
    if doc.when is None:
        return text
    cond = doc.when.get(lang)
    return f"{text}（{cond}）" if lang == "zh" else f"{text} ({cond})"


def checklist_items(topic: Topic, lang: Lang) -> list[tuple[str, str]]:
    """(document id, text with condition) for the one-time-notice checklist; [] if no notice."""
    if topic.notice is None:
        return []
    return [(doc.id, document_text(doc, lang)) for doc in topic.notice.documents]


@dataclass
class _Block:
    heading: str | None  # plain text, escaped and bolded when packed
    lines: list[str] = field(default_factory=list)  # plain text lines (prefix included)


def _numbered(items: list[Text], lang: Lang) -> list[str]:
    return [f"{i}. {t.get(lang)}" for i, t in enumerate(items, 1)]


def _bulleted(items: list[str]) -> list[str]:
    return [f"• {t}" for t in items]


def _blocks(topic: Topic, lang: Lang) -> list[_Block]:
    h = {k: v[lang] for k, v in HEADINGS.items()}
    blocks = [_Block(topic.title.get(lang), [topic.summary.get(lang)])]
    if topic.kind is Kind.emergency and topic.safety:
        # Safety first: in an emergency the resident must see what to do before anything else.
        blocks.insert(1, _Block(h["safety"], _numbered(topic.safety, lang)))
    if topic.body:
        blocks.append(_Block(None, [t.get(lang) for t in topic.body]))
    n = topic.notice
    if n is not None:
        blocks += [
            _Block(h["basis"], [n.basis.get(lang)]),
            _Block(h["time_limit"], [n.time_limit.get(lang)]),
            _Block(h["steps"], _numbered(n.steps, lang)),
            _Block(h["documents"], _bulleted([document_text(d, lang) for d in n.documents])),
            _Block(h["rectify"], _bulleted([t.get(lang) for t in n.rectify])),
            _Block(h["not_accepted"], _bulleted([t.get(lang) for t in n.not_accepted])),
            _Block(h["fees"], [n.fees.get(lang)]),
            _Block(h["where"], [n.where.get(lang)]),
        ]
    return blocks


def _split_line(line: str, limit: int) -> list[str]:
    """Escape a line, cutting the *plain* text so no entity (&amp;) is ever split."""
    out: list[str] = []
    rest = line
    while rest:
        size = min(len(rest), limit)
        while len(_esc(rest[:size])) > limit:
            size -= 1
        out.append(_esc(rest[:size]))
        rest = rest[size:]
    return out


def pack(blocks: list[_Block], title: str, lang: Lang, limit: int = MAX_CHUNK) -> list[str]:
    """Join blocks into chunks <= limit, breaking only between blocks or lines.

    Every chunk after the first starts with the topic title marked as continued, and a block
    that is cut repeats its heading, so each message can be read on its own.
    """
    cont_title = f"<b>{_esc(title)}</b>{_esc(CONTINUED[lang])}"
    chunks: list[str] = []
    cur: list[str] = []  # lines of the chunk being built

    def size(lines: list[str]) -> int:
        return len("\n".join(lines))

    def flush() -> None:
        nonlocal cur
        if cur:
            chunks.append("\n".join(cur).strip("\n"))
        cur = [cont_title]

    for block in blocks:
        head = [f"<b>{_esc(block.heading)}</b>"] if block.heading else []
        body = [_esc(line) for line in block.lines]
        sep = [""] if cur else []  # blank line between blocks
        if size([*cur, *sep, *head, *body]) <= limit:
            cur = [*cur, *sep, *head, *body]
            continue
        # Does the block fit as a whole in a fresh chunk? Then do not cut it.
        if cur and size([cont_title, "", *head, *body]) <= limit:
            flush()
            cur = [*cur, "", *head, *body]
            continue
        # Cut the block at line boundaries, repeating its heading in each chunk.
        if cur and size([*cur, *sep, *head]) > limit - 200:
            flush()
            sep = [""]
        cur = [*cur, *sep, *head]
        for raw in block.lines:
            for piece in _split_line(raw, limit - size([cont_title, "", *head]) - 20):
                if size([*cur, piece]) > limit:
                    flush()
                    cont_head = [f"<b>{_esc(block.heading)}</b>{_esc(CONTINUED[lang])}"] if block.heading else []
                    cur = [*cur, "", *cont_head]
                cur.append(piece)
    if cur and cur != [cont_title]:
        chunks.append("\n".join(cur).strip("\n"))
    return chunks


def render(topic: Topic, lang: Lang, limit: int = MAX_CHUNK) -> list[str]:
    """Title, summary and the full notice/safety/body as Telegram HTML chunks of <= limit chars."""
    return pack(_blocks(topic, lang), topic.title.get(lang), lang, limit)
