"""Is a resident's free text an emergency? One table and one function for every path that reads text (R20).

The fault form's first question, the free-text steps of every form, simple mode's typed text and the
outage-question check (core.questions) all ask this, and must answer it the same way. Only a gas leak is an
emergency in this service (the one fault filed as top priority, core.tickets); a burst pipe or a power cut is
an ordinary fault and is not reported here.

Text is compared after ``knowledge.normalize.clean`` (traditional -> simplified, 煤气/天然气 -> 燃气, lower case,
punctuation as spaces), with the table's phrases cleaned the same way. Chinese phrases match anywhere, English
ones on word boundaries. A doubtful case is answered the safe way: a leak or a smell with no supply named is
treated as gas, because safety advice given once too often costs a minute and withheld once costs much more.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum
from functools import cache

from knowledge.normalize import clean


class Emergency(StrEnum):
    gas_leak = "gas_leak"


class Role(StrEnum):
    cue = "cue"  # says it on its own: "I smell gas", "漏气"
    maybe = "maybe"  # a leak or a smell of something unnamed: the emergency unless something else is named
    subject = "subject"  # names the emergency's subject (gas, a gas appliance): a "maybe" beside it is a cue
    other = "other"  # names something else (water, power): a "maybe" beside it is not a cue
    not_cue = "not"  # looks like a cue but is not one ("轮胎漏气", a flat tyre); taken out before matching


# The one table: (emergency, role, phrases).
CUES: tuple[tuple[Emergency, Role, tuple[str, ...]], ...] = (
    (Emergency.gas_leak, Role.cue, (
        "漏气", "跑气", "燃气泄漏", "燃气泄露", "煤气泄漏", "煤气泄露", "天然气泄漏", "燃气味", "煤气味", "天然气味",
        "液化气味", "臭鸡蛋味",
        "gas leak", "gas leaks", "gas leaking", "gas is leaking", "leaking gas", "smell gas", "smell of gas",
        "smells of gas", "smell like gas", "smells like gas", "smelling gas", "gas smell", "rotten egg",
        "rotten eggs",
    )),
    (Emergency.gas_leak, Role.maybe, ("泄漏", "泄露", "气味", "leak", "leaks", "leaking", "leaked")),
    (Emergency.gas_leak, Role.subject, (
        "燃气", "煤气", "天然气", "液化气", "燃气灶", "热水器", "壁挂炉",
        "gas", "water heater", "boiler", "stove", "cooker",
    )),
    (Emergency.gas_leak, Role.other, (
        "漏水", "水管", "自来水", "水表", "水龙头", "水质", "水有", "水里", "下水", "马桶", "暖气", "屋顶",
        "漏电", "停电", "电线", "电表", "电闸", "电路", "供电", "插座",
        "water", "toilet", "tap", "faucet", "roof", "radiator", "power", "electric",
    )),
    (Emergency.gas_leak, Role.not_cue, (
        "轮胎漏气", "车胎漏气", "胎漏气", "燃气费", "煤气费", "gas bill", "gas bills", "gas fee",
    )),
)

# The knowledge topic that tells a resident what to do in each emergency (simple mode opens it).
TOPICS: dict[Emergency, str] = {Emergency.gas_leak: "gas.leak"}


def phrase_regex(phrases: Iterable[str]) -> re.Pattern[str]:
    """One pattern for phrases of cleaned text: Chinese anywhere, English on word boundaries ("tap" not in
    "tape"). Longest first, so a not-cue is removed whole."""
    parts = []
    for p in sorted(set(phrases), key=len, reverse=True):
        parts.append(re.escape(p) if re.search(r"[\u4e00-\u9fff]", p) else rf"\b{re.escape(p)}\b")
    return re.compile("|".join(parts) or r"(?!)")


@cache
def _patterns() -> tuple[tuple[Emergency, dict[Role, re.Pattern[str]]], ...]:
    # Built on first use (not at import): cleaning the phrases loads the normaliser's tables.
    out: list[tuple[Emergency, dict[Role, re.Pattern[str]]]] = []
    for emergency in Emergency:
        roles = {role: phrase_regex(clean(p, limit=len(p)) for e, r, phrases in CUES
                                    if e is emergency and r is role for p in phrases)
                 for role in Role}
        out.append((emergency, roles))
    return tuple(out)


def detect_emergency(text: str | None) -> Emergency | None:
    """The emergency a resident's text reports, or None. Pure: no I/O, no Telegram types."""
    if not text or not text.strip():
        return None
    norm = clean(text, limit=len(text))
    for emergency, rx in _patterns():
        norm_e = rx[Role.not_cue].sub(" ", norm)
        if rx[Role.cue].search(norm_e):
            return emergency
        if rx[Role.maybe].search(norm_e) and (rx[Role.subject].search(norm_e) or not rx[Role.other].search(norm_e)):
            return emergency
    return None
