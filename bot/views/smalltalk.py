"""What the bot says to small talk (knowledge/smalltalk.py): the chat and simple mode say the same."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _

from knowledge.smalltalk import SmallTalk


def small_talk_reply(kind: SmallTalk) -> str:
    if kind == "bot":
        return _("I am the service assistant, an automatic helper available day and night. If you would rather "
                 "talk to a person, tap below.")
    if kind == "goodbye":
        return _("Goodbye, and thank you for getting in touch. Write to me any time.")
    if kind == "thanks":
        return _("You are welcome! If there is anything else, just ask.")
    if kind == "greeting":
        return _("Hello! Ask me in a few words, for example “transfer gas account” or “water meter check”, "
                 "or pick a guide below.")
    return _("All right. If there is anything else, just ask.")
