"""Telegram text formatting: HTML parse_mode -> (text, entities) and entities -> safe HTML.

The emulator parses HTML the way Telegram does, so a bot that forgets to escape
user input ("a < b") gets the same 400 it would get from the real API, and the
Message it receives back carries plain text plus entities.
"""

from __future__ import annotations

import html
import re
from typing import Any

# Telegram's HTML tags and the entity type each one produces.
_TAG_ENTITY = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",  # only with class="tg-spoiler"
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}

_TAG_RE = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)"
    r"((?:\s+[a-zA-Z_:-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>\"']+))?)*)\s*>"
)
_ATTR_RE = re.compile(r"([a-zA-Z_:-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>\"']+)))?")
_CHARREF_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|lt|gt|amp|quot);")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class EntityParseError(ValueError):
    """The text is not valid Telegram HTML; str(e) is Telegram's description tail."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram uses for entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram-flavoured HTML into plain text and MessageEntity dicts."""
    out: list[str] = []
    pos16 = 0
    entities: list[dict[str, Any]] = []
    stack: list[tuple[str, dict[str, Any] | None, int]] = []  # (tag, entity or None, start offset)
    i = 0
    n = len(source)

    def byte_offset(index: int) -> int:
        return len(source[:index].encode("utf-8"))

    def emit(chunk: str) -> None:
        nonlocal pos16
        out.append(chunk)
        pos16 += utf16_len(chunk)

    while i < n:
        ch = source[i]
        if ch == "<":
            m = _TAG_RE.match(source, i)
            if m is None:
                name = re.match(r"</?([^\s>]*)", source[i:])
                shown = name.group(1) if name else ""
                raise EntityParseError(f'Unsupported start tag "{shown}" at byte offset {byte_offset(i)}')
            closing, tag, raw_attrs = m.group(1) == "/", m.group(2).lower(), m.group(3) or ""
            if tag not in _TAG_ENTITY:
                kind = "end" if closing else "start"
                raise EntityParseError(f'Unsupported {kind} tag "{tag}" at byte offset {byte_offset(i)}')
            if closing:
                if not stack:
                    raise EntityParseError(f"Unexpected end tag at byte offset {byte_offset(i)}")
                open_tag, entity, start = stack.pop()
                if open_tag != tag:
                    raise EntityParseError(
                        f"Unmatched end tag at byte offset {byte_offset(i)}, "
                        f'expected "</{open_tag}>", found "</{tag}>"'
                    )
                if entity is not None and pos16 > start:
                    entity["offset"] = start
                    entity["length"] = pos16 - start
                    entities.append(entity)
            else:
                attrs = {
                    a.group(1).lower(): html.unescape(a.group(2) or a.group(3) or a.group(4) or "")
                    for a in _ATTR_RE.finditer(raw_attrs)
                }
                entity = _entity_for(tag, attrs, stack, byte_offset(i))
                stack.append((tag, entity, pos16))
            i = m.end()
        elif ch == "&":
            m = _CHARREF_RE.match(source, i)
            if m is None:
                emit("&")  # Telegram tolerates a bare ampersand
                i += 1
                continue
            ref = m.group(1)
            if ref.startswith("#"):
                code = int(ref[2:], 16) if ref[1:2] in ("x", "X") else int(ref[1:])
                try:
                    emit(chr(code))
                except (ValueError, OverflowError):
                    emit(m.group(0))
            else:
                emit(_NAMED[ref])
            i = m.end()
        else:
            j = i
            while j < n and source[j] not in "<&":
                j += 1
            emit(source[i:j])
            i = j
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return "".join(out), sort_entities(entities)


def _entity_for(
    tag: str, attrs: dict[str, str], stack: list[tuple[str, dict[str, Any] | None, int]], at: int
) -> dict[str, Any] | None:
    kind = _TAG_ENTITY[tag]
    if tag == "span":
        if attrs.get("class") != "tg-spoiler":
            raise EntityParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {at}')
        return {"type": "spoiler"}
    if tag == "a":
        href = attrs.get("href", "")
        if not href:
            return None  # Telegram keeps the text and drops the link
        return {"type": "text_link", "url": href}
    if tag == "blockquote":
        return {"type": "expandable_blockquote" if "expandable" in attrs else "blockquote"}
    if tag == "tg-emoji":
        return {"type": "custom_emoji", "custom_emoji_id": attrs.get("emoji-id", "")}
    if tag == "code" and stack and stack[-1][0] == "pre":
        pre = stack[-1][1]
        lang = attrs.get("class", "")
        if pre is not None and lang.startswith("language-"):
            pre["language"] = lang.removeprefix("language-")
        return None  # <pre><code> is a single pre entity
    return {"type": kind}


def sort_entities(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def strip_text(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Trim surrounding whitespace like Telegram does, keeping entity offsets right."""
    lead = len(text) - len(text.lstrip())
    stripped = text.strip()
    shift = utf16_len(text[:lead])
    end = utf16_len(stripped)
    result = []
    for e in entities:
        start = max(e["offset"] - shift, 0)
        stop = min(e["offset"] + e["length"] - shift, end)
        if stop > start:
            result.append({**e, "offset": start, "length": stop - start})
    return stripped, result


_SAFE_SCHEMES = ("http://", "https://", "tg://", "mailto:")


def _open_tag(entity: dict[str, Any]) -> tuple[str, str]:
    kind = entity.get("type")
    simple = {"bold": "b", "italic": "i", "underline": "u", "strikethrough": "s", "code": "code"}
    if kind in simple:
        return f"<{simple[kind]}>", f"</{simple[kind]}>"
    if kind == "pre":
        return "<pre>", "</pre>"
    if kind == "spoiler":
        return '<span class="tg-spoiler">', "</span>"
    if kind in ("blockquote", "expandable_blockquote"):
        return "<blockquote>", "</blockquote>"
    if kind in ("text_link", "url"):
        url = entity.get("url", "")
        if url.lower().startswith(_SAFE_SCHEMES):
            return (
                f'<a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener noreferrer">',
                "</a>",
            )
        return "", ""
    if kind == "bot_command":
        return '<span class="bot-command">', "</span>"
    return "", ""


def entities_to_html(text: str, entities: list[dict[str, Any]] | None) -> str:
    """Render text + entities as HTML where only Telegram's formatting tags exist; all text is escaped."""
    if not text:
        return ""
    units = text.encode("utf-16-le")
    # Map each UTF-16 offset back to a str index (astral characters take two units).
    boundaries: dict[int, int] = {}
    pos16 = 0
    for idx, ch in enumerate(text):
        boundaries[pos16] = idx
        pos16 += 2 if ord(ch) > 0xFFFF else 1
    boundaries[pos16] = len(text)
    total16 = len(units) // 2

    events: list[tuple[int, int, int, dict[str, Any]]] = []  # (pos, order, -len, entity)
    for e in entities or []:
        start, length = int(e.get("offset", 0)), int(e.get("length", 0))
        if length <= 0 or start < 0 or start >= total16:
            continue
        end = min(start + length, total16)
        if start not in boundaries or end not in boundaries:
            continue
        events.append((start, 1, -(end - start), {**e, "_end": end}))
    events.sort(key=lambda ev: (ev[0], ev[2]))

    parts: list[str] = []
    stack: list[dict[str, Any]] = []
    cursor = 0
    points = sorted({ev[0] for ev in events} | {e["_end"] for *_, e in events} | {total16})
    ev_index = 0
    for point in points:
        parts.append(html.escape(text[boundaries[cursor] : boundaries[point]], quote=False))
        cursor = point
        # Close entities ending here; reopen any that were closed only to keep nesting valid.
        reopen: list[dict[str, Any]] = []
        while any(e["_end"] == point for e in stack):
            top = stack.pop()
            parts.append(_open_tag(top)[1])
            if top["_end"] != point:
                reopen.append(top)
        for e in reversed(reopen):
            parts.append(_open_tag(e)[0])
            stack.append(e)
        while ev_index < len(events) and events[ev_index][0] == point:
            entity = events[ev_index][3]
            parts.append(_open_tag(entity)[0])
            stack.append(entity)
            ev_index += 1
    while stack:
        parts.append(_open_tag(stack.pop())[1])
    return "".join(parts)
