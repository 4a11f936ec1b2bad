"""Gas-leak advice in the forms (R20), and the warning a free-text step gives when core.safety sees an emergency.

Whatever a resident types into a form — the fault description, a complaint, an address — is read by the same
detector as the fault form's first question and simple mode (core.safety.detect_emergency). If it reports a
gas leak, the advice and the emergency line come first; the step then goes on as usual.
"""

from __future__ import annotations

import logging

from aiogram.utils.i18n import gettext as _

from bot.forms.base import Turn
from bot.guided.ui import split_text
from core import tickets
from core.context import AppContext
from core.safety import TOPICS, Emergency, detect_emergency
from knowledge.loader import load_site
from knowledge.models import Lang

log = logging.getLogger(__name__)
LEAK_TOPIC = TOPICS[Emergency.gas_leak]


def content_lang(lang: str | None) -> Lang:
    return "en" if lang == "en" else "zh"


def gas_hotline(ctx: AppContext, lang: str | None) -> str:
    """The 24-hour gas emergency number from the knowledge base ("" if it cannot be read)."""
    content = content_lang(lang)
    try:
        return ctx.catalogue.value("gas_emergency", content) or ""
    except Exception:  # a broken knowledge file must never hold back safety advice
        try:
            return load_site(ctx.settings.knowledge_dir / "site.yaml")[content]["gas_emergency"]
        except Exception:
            return ""


def fallback_steps() -> list[str]:
    """What to do about a leak when the knowledge base cannot be read."""
    return [_("No flames, no smoking, and do not touch any electrical switch or plug."),
            _("Open doors and windows; close the valve before the gas meter if you safely can."),
            _("Leave the building and warn your neighbours by knocking, not ringing."),
            _("Call the gas emergency line from outside.")]


def heading() -> str:
    return _("🚨 <b>Gas leak: do this first</b>")


def hotline_line(hotline: str) -> str:
    return _("☎️ Gas emergency line, 24 hours: <b>{hotline}</b>. Call it from outside.").format(
        hotline=tickets.esc(hotline))


def safety_text(ctx: AppContext, lang: str | None) -> str:
    """R20: the leak safety steps and the emergency number, from the knowledge base (content is data)."""
    content = content_lang(lang)
    steps: list[str] = []
    try:
        topic = ctx.catalogue.get(LEAK_TOPIC)
        steps = [t.get(content) for t in topic.safety] if topic is not None else []
    except Exception:  # a broken knowledge file must never hold back safety advice
        log.exception("gas leak safety steps unavailable")
    hotline = gas_hotline(ctx, lang)
    lines = "\n".join(f"{i}. {tickets.esc(s)}" for i, s in enumerate(steps or fallback_steps(), 1))
    call = hotline_line(hotline) if hotline else _("☎️ Call the gas emergency line from outside.")
    return (heading() + "\n" + lines + "\n\n" + call + "\n\n"
            + _("When you are safe, answer two quick questions here and we send the repair crew as top priority."))


def safety_messages(ctx: AppContext, lang: str | None, limit: int) -> list[str]:
    """R20 for simple mode: the gas.leak topic's summary and the emergency line, in messages of ``limit``
    characters at most (one short read each)."""
    summary = ""
    try:
        topic = ctx.catalogue.get(LEAK_TOPIC)
        summary = topic.summary.get(content_lang(lang)) if topic is not None else ""
    except Exception:  # a broken knowledge file must never hold back safety advice
        log.exception("gas leak safety text unavailable")
    head = heading()
    chunks = split_text(summary or " ".join(fallback_steps()), limit - len(head) - 20)
    messages = [f"{head}\n{tickets.esc(chunks[0])}", *(tickets.esc(c) for c in chunks[1:])]
    hotline = gas_hotline(ctx, lang)
    if hotline:
        call = hotline_line(hotline)
        if len(messages[-1]) + len(call) + 1 <= limit:
            messages[-1] += "\n" + call
        else:
            messages.append(call)
    return messages


def gas_warning(ctx: AppContext, lang: str | None) -> str:
    """One line: what to do about a gas smell, with the emergency number."""
    hotline = gas_hotline(ctx, lang)
    if hotline:
        return _("🚨 If you smell gas: no flames, no switches, open the windows, leave, and call <b>{hotline}</b> "
                 "(24 hours) from outside.").format(hotline=tickets.esc(hotline))
    return _("🚨 If you smell gas: no flames, no switches, open the windows, leave, and call the gas emergency line "
             "from outside.")


async def warn_if_emergency(turn: Turn, text: str | None) -> bool:
    """Send the gas warning first when ``text`` reports an emergency; True if it did."""
    if detect_emergency(text) is None:
        return False
    await turn.message.answer(gas_warning(turn.ctx, turn.lang))
    return True
