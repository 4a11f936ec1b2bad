"""What a persona does in the chat page or a test: type, share, send media, press buttons, pay invoices.

Each action stores the message like Telegram would and queues the update the bot then receives.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from typing import Any

from api.sandbox.chats import Chats
from api.sandbox.entities import utf16_len
from api.sandbox.media import fake_voice, image_size
from api.sandbox.records import ChatState, SandboxError, document_object, photo_size


class ResidentActions(Chats):
    """The resident's side of the private chats."""

    # ------------------------------------------------------------------ resident actions

    def _resident_chat(self, user_id: int) -> ChatState:
        chat = self.chat(user_id)
        if chat.blocked:
            # Like Telegram's "Restart bot": writing to a blocked bot unblocks it first.
            self.set_blocked(user_id, False)
        return chat

    def _resident_message(
        self,
        user_id: int,
        content: dict[str, Any],
        *,
        reply_to_message_id: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        chat = self._resident_chat(user_id)
        reply_to = None
        if reply_to_message_id is not None:
            reply_to = self.find_message(chat, reply_to_message_id)
            if reply_to is None:
                raise SandboxError(400, f"message {reply_to_message_id} not found in this chat")
        stored = self.new_message(chat, outgoing=False, content=content, reply_to=reply_to, extra=extra)
        if chat.force_reply is not None:
            chat.force_reply = None
        update = self.enqueue_update("message", stored.message)
        return {
            **self.message_view(stored),
            "update_id": update["update_id"],
            "telegram_message": stored.message,
        }

    def _keyboard_buttons(self, chat: ChatState) -> list[dict[str, Any]]:
        if not chat.reply_keyboard:
            return []
        return [
            b if isinstance(b, dict) else {"text": str(b)}
            for row in chat.reply_keyboard.get("keyboard", [])
            for b in row
        ]

    def _after_keyboard_tap(self, chat: ChatState, matches: Callable[[dict[str, Any]], bool]) -> None:
        keyboard = chat.reply_keyboard
        if keyboard and keyboard.get("one_time_keyboard") and any(map(matches, self._keyboard_buttons(chat))):
            chat.reply_keyboard = None

    def send_text(self, user_id: int, text: str, *, reply_to_message_id: int | None = None) -> dict[str, Any]:
        """The persona types `text` (a leading /command gets a bot_command entity)."""
        text = text.strip()
        if not text:
            raise SandboxError(400, "text is empty")
        if utf16_len(text) > 4096:
            raise SandboxError(400, "text is longer than 4096 characters")
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(command)}]
        chat = self.chat(user_id)
        self._after_keyboard_tap(chat, lambda b: b.get("text") == text)
        return self._resident_message(user_id, content, reply_to_message_id=reply_to_message_id)

    def send_contact(self, user_id: int, contact: dict[str, Any] | None = None) -> dict[str, Any]:
        """Share a contact: None = the persona's own (what a request_contact button sends)."""
        chat = self.chat(user_id)
        persona = chat.persona
        if contact is None:
            shared: dict[str, Any] = {"phone_number": persona.phone, "first_name": persona.first_name}
            if persona.last_name:
                shared["last_name"] = persona.last_name
            shared["user_id"] = persona.user_id
            self._after_keyboard_tap(chat, lambda b: bool(b.get("request_contact")))
        else:
            if not contact.get("phone_number") or not contact.get("first_name"):
                raise SandboxError(400, "contact needs phone_number and first_name")
            shared = {"phone_number": str(contact["phone_number"]), "first_name": str(contact["first_name"])}
            if contact.get("last_name"):
                shared["last_name"] = str(contact["last_name"])
            if contact.get("user_id") is not None:
                shared["user_id"] = int(contact["user_id"])
        return self._resident_message(user_id, {"contact": shared})

    def send_location(self, user_id: int, latitude: float, longitude: float) -> dict[str, Any]:
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise SandboxError(400, "latitude/longitude out of range")
        chat = self.chat(user_id)
        self._after_keyboard_tap(chat, lambda b: bool(b.get("request_location")))
        return self._resident_message(user_id, {"location": {"latitude": latitude, "longitude": longitude}})

    def send_photo(
        self, user_id: int, data: bytes, *, file_name: str | None = None, caption: str | None = None
    ) -> dict[str, Any]:
        size = image_size(data)
        if size is None:
            raise SandboxError(400, "photo is not an image")
        record = self.store_file(data, kind="photo", file_name=file_name)
        content: dict[str, Any] = {"photo": [photo_size(record, size)]}
        if caption:
            content["caption"] = caption
        return self._resident_message(user_id, content)

    def send_voice(self, user_id: int, data: bytes | None = None, *, duration: int = 3) -> dict[str, Any]:
        data = data or fake_voice(duration)
        record = self.store_file(data, kind="voice", mime_type="audio/ogg")
        voice = {
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
            "duration": int(duration),
            "mime_type": "audio/ogg",
            "file_size": record.size,
        }
        return self._resident_message(user_id, {"voice": voice})

    def send_document(
        self,
        user_id: int,
        data: bytes,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
        caption: str | None = None,
    ) -> dict[str, Any]:
        record = self.store_file(
            data, kind="document", file_name=file_name or "document.bin", mime_type=mime_type
        )
        content: dict[str, Any] = {"document": document_object(record)}
        if caption:
            content["caption"] = caption
        return self._resident_message(user_id, content)

    def press_button(
        self, user_id: int, message_id: int, data: str, *, force: bool = False
    ) -> dict[str, Any]:
        """Tap an inline button: queues a callback_query update; returns {callback_query_id, update_id}."""
        chat = self._resident_chat(user_id)
        stored = self.find_message(chat, message_id)
        if not force:
            if stored is None or not stored.outgoing:
                raise SandboxError(400, f"bot message {message_id} not found in this chat")
            markup = stored.message.get("reply_markup") or {}
            datas = {b.get("callback_data") for row in markup.get("inline_keyboard", []) for b in row}
            if data not in datas:
                raise SandboxError(400, f"message {message_id} has no button with callback_data {data!r}")
        query_id = str(secrets.randbits(62))
        query: dict[str, Any] = {
            "id": query_id,
            "from": chat.persona.user_object(),
            "chat_instance": str(user_id * 1_000_003 % 10**12),  # stable per chat, like Telegram's
            "data": data,
        }
        if stored is not None:
            query["message"] = stored.message
        self.callback_queries[query_id] = {
            "chat_id": user_id,
            "message_id": message_id,
            "data": data,
            "answered": False,
            "answer": None,
        }
        update = self.enqueue_update("callback_query", query)
        return {"callback_query_id": query_id, "update_id": update["update_id"]}

    async def wait_callback_answer(self, query_id: str, seconds: float) -> dict[str, Any] | None:
        record = self.callback_queries[query_id]
        await self.wait_for(lambda: bool(record["answered"]), seconds)
        return record["answer"] if record["answered"] else None

    async def pay(
        self, user_id: int, message_id: int, *, replay: bool = False, wait: float | None = None
    ) -> dict[str, Any]:
        """Pay an invoice: pre_checkout_query, wait for the bot's answer, then successful_payment."""
        chat = self._resident_chat(user_id)
        stored = self.find_message(chat, message_id)
        if stored is None or not stored.outgoing or "invoice" not in stored.message:
            raise SandboxError(400, f"invoice message {message_id} not found in this chat")
        paid = stored.extra.get("payment")
        if replay:
            if not paid:
                raise SandboxError(400, "this invoice has not been paid yet; nothing to replay")
            view = self._resident_message(user_id, {"successful_payment": dict(paid)})
            return {"ok": True, "replayed": True, "message": view, "successful_payment": paid}
        if paid:
            raise SandboxError(409, "this invoice is already paid (use replay to resend the payment)")
        terms = stored.extra["invoice"]
        query_id = str(secrets.randbits(62))
        query = {
            "id": query_id,
            "from": chat.persona.user_object(),
            "currency": terms["currency"],
            "total_amount": terms["total_amount"],
            "invoice_payload": terms["payload"],
        }
        record: dict[str, Any] = {"chat_id": user_id, "message_id": message_id, "answer": None}
        self.pre_checkout_queries[query_id] = record
        self.enqueue_update("pre_checkout_query", query)
        seconds = self.pay_timeout if wait is None else wait
        await self.wait_for(lambda: record["answer"] is not None, seconds)
        answer = record["answer"]
        if answer is None:
            record["expired"] = True
            return {
                "ok": False,
                "timeout": True,
                "error_message": "the bot did not answer pre_checkout_query",
            }
        if not answer["ok"]:
            self.add_entry(
                chat,
                {
                    "kind": "toast",
                    "from": "bot",
                    "message_id": message_id,
                    "text": answer["error_message"],
                    "show_alert": True,
                },
            )
            return {"ok": False, "error_message": answer["error_message"]}
        payment = {
            "currency": terms["currency"],
            "total_amount": terms["total_amount"],
            "invoice_payload": terms["payload"],
            "telegram_payment_charge_id": f"sandbox-{uuid.uuid4()}",
            "provider_payment_charge_id": f"sandbox-provider-{uuid.uuid4().hex[:16]}",
        }
        stored.extra["payment"] = payment
        self.message_edited(chat, stored)  # the invoice card now shows "paid"
        view = self._resident_message(user_id, {"successful_payment": payment})
        return {"ok": True, "message": view, "successful_payment": payment}
