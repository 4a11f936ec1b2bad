"""Builders for real aiogram Update objects, as Telegram would send them."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from aiogram.types import CallbackQuery, Chat, Contact, Message, MessageEntity, Update, User, Voice

_update_ids = itertools.count(1)
_message_ids = itertools.count(1)

RESIDENT = 10001


def user(user_id: int = RESIDENT, language_code: str = "zh-hans", first_name: str = "王建国") -> User:
    return User(id=user_id, is_bot=False, first_name=first_name, language_code=language_code)


def _message(user_id: int, **kw: object) -> Message:
    return Message(message_id=next(_message_ids), date=datetime.now(UTC), chat=Chat(id=user_id, type="private"),
                   from_user=kw.pop("from_user", None) or user(user_id), **kw)


def text(value: str, user_id: int = RESIDENT, **kw: object) -> Update:
    entities = None
    if value.startswith("/"):
        entities = [MessageEntity(type="bot_command", offset=0, length=len(value.split()[0]))]
    return Update(update_id=next(_update_ids), message=_message(user_id, text=value, entities=entities, **kw))


def contact(phone: str, user_id: int = RESIDENT, contact_user_id: int | None = None) -> Update:
    c = Contact(phone_number=phone, first_name="X", user_id=user_id if contact_user_id is None else contact_user_id)
    return Update(update_id=next(_update_ids), message=_message(user_id, contact=c))


def voice(user_id: int = RESIDENT) -> Update:
    v = Voice(file_id="voice-file", file_unique_id="vu", duration=3)
    return Update(update_id=next(_update_ids), message=_message(user_id, voice=v))


def sticker_like(user_id: int = RESIDENT) -> Update:
    """A message type the bot does not handle (a dice roll)."""
    from aiogram.types import Dice

    return Update(update_id=next(_update_ids), message=_message(user_id, dice=Dice(emoji="🎲", value=3)))


def callback(data: str, user_id: int = RESIDENT, message_id: int = 1, message_text: str = "…") -> Update:
    msg = Message(message_id=message_id, date=datetime.now(UTC), chat=Chat(id=user_id, type="private"),
                  from_user=User(id=1000000001, is_bot=True, first_name="Onestop"), text=message_text)
    q = CallbackQuery(id=str(next(_update_ids)), from_user=user(user_id), chat_instance="ci", data=data, message=msg)
    return Update(update_id=next(_update_ids), callback_query=q)
