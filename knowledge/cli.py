"""`onestop ask "问题" [--lang zh|en] [--json]`: what the matcher makes of a question."""

from __future__ import annotations

import json

from knowledge.catalogue import Catalogue, as_lang
from knowledge.loader import load_catalogue
from knowledge.matcher import Matcher


def ask(question: str, lang: str | None = None, as_json: bool = False, *,
        catalogue: Catalogue | None = None, matcher: Matcher | None = None) -> str:
    """Text the `ask` command prints: outcome, topic, score and alternatives.

    With as_json, exactly one JSON object: {"outcome": "answer" | "choice" | "off_topic",
    "topic": slug or null, "score": ..., "confidence": ..., "alternatives": [{"topic", "score"}],
    "small_talk": null or the kind of small talk an off_topic message is ("thanks", "greeting"…)}.
    The same decision as the bot (Matcher.match); paraphrases learnt in the console live in the
    database and are added by core.knowledge.resolve, which this offline command does not read.
    """
    if matcher is None:
        catalogue = catalogue or load_catalogue()
        matcher = Matcher(catalogue)
    result = matcher.match(question, lang)
    if as_json:
        return json.dumps(result.as_dict(), ensure_ascii=False)

    def label(slug: str) -> str:
        topic = catalogue.get(slug) if catalogue is not None else None
        return f"{slug} ({topic.title.get(as_lang(lang))})" if topic else slug

    lines = [
        f"outcome: {result.outcome}",
        f"topic: {label(result.topic) if result.topic else '-'}",
        f"score: {result.score:.1f}",
        "alternatives: " + (", ".join(f"{label(s)} {v:.1f}" for s, v in result.alternatives) or "-"),
    ]
    if result.small_talk:
        lines.append(f"small talk: {result.small_talk}")
    return "\n".join(lines)
