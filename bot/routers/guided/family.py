"""Guided mode: applying for a relative (R16), one question per message.

The same service as the normal bot's proxy form (bot/routers/proxy.py, core/proxy.py): the applicant's relation
to the owner, then each of the four documents in turn; the application is recorded and the assisted-service
checklist says at once what is still missing (R1), in short messages. Then the relative's account is linked on
the existing family screen.
"""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __

from bot.guided.engine import G, Page, page
from bot.guided.ids import BALANCE, HOME_ID
from bot.guided.ui import MAX_TEXT, Option, Screen
from bot.routers.guided.account import FAMILY, FAMILY_RELATION
from core import proxy

RELATION, DOCUMENT = FAMILY_RELATION, "balance.family.document"

# Short button labels (the full labels of core.proxy are too long for a big button).
RELATION_BUTTONS = {
    proxy.Relation.spouse: __("💑 Husband or wife"),
    proxy.Relation.child: __("👦 Son or daughter"),
    proxy.Relation.parent: __("👴 Father or mother"),
    proxy.Relation.relative: __("👪 Other relative"),
    proxy.Relation.other: __("🤝 Not family"),
}


def checklist_messages(relation: str, documents: list[str]) -> list[str]:
    """The assisted-service checklist (R16) as short messages: what is missing, then where to get help."""
    missing = proxy.missing(documents)
    lines = [_("📋 <b>Your checklist for applying on the owner's behalf</b>")]
    lines += [f"❌ {_(proxy.document_label(doc, relation))}" for doc in missing]
    if missing:
        closing = _("Still missing: {count}. Please bring them; the assisted-service desk at any service hall "
                    "checks your papers and helps you complete them, free of charge.").format(count=len(missing))
    else:
        closing = _("You have everything. At the service hall the assisted-service desk checks the originals "
                    "and takes you straight to the counter.")
    messages: list[str] = []
    for line in lines:
        if messages and len(messages[-1]) + 1 + len(line) <= MAX_TEXT:
            messages[-1] += "\n" + line
        else:
            messages.append(line)
    return [*messages, closing]


@page
class Relation(Page):
    id = RELATION

    async def render(self, g: G) -> Screen:
        return Screen(_("Who is the account owner to you?"),
                      [Option(rel.value, str(label)) for rel, label in RELATION_BUTTONS.items()])

    async def choose(self, g: G, key: str) -> None:
        g.data["proxy_rel"] = proxy.Relation(key).value
        g.data["proxy_docs"] = {}
        g.stack.append({"id": DOCUMENT, "doc": 0})


@page
class Document(Page):
    id = DOCUMENT

    async def render(self, g: G) -> Screen:
        doc = proxy.DOCUMENTS[g.top.get("doc", 0)]
        label = _(proxy.document_label(doc, g.data.get("proxy_rel")))
        return Screen(_("Document {n} of {total}. Do you have it?\n{document}").format(
            n=g.top.get("doc", 0) + 1, total=len(proxy.DOCUMENTS), document=label),
            [Option("yes", _("✅ I have it")), Option("no", _("❌ No, not yet"))])

    async def choose(self, g: G, key: str) -> None:
        index = g.top.get("doc", 0)
        answers = g.data.setdefault("proxy_docs", {})  # Back to an earlier document keeps the other answers
        answers[proxy.DOCUMENTS[index].value] = key == "yes"
        if index + 1 < len(proxy.DOCUMENTS):
            g.stack.append({"id": DOCUMENT, "doc": index + 1})
            return
        relation = g.data.get("proxy_rel") or ""
        have = [doc for doc, yes in answers.items() if yes]
        app = await proxy.record(g.session, resident_id=g.resident.id, relation=relation, documents=have,
                                 now=g.ctx.clock.now())
        for text in checklist_messages(app.relation, app.documents):
            await g.say(text)
        g.forget("proxy_rel", "proxy_docs")
        g.data["link_for"] = "relative"
        # The form is recorded: Back from the link screen goes to the balance menu, never into the form again.
        g.stack = [{"id": HOME_ID}, {"id": BALANCE}, {"id": FAMILY}]
