"""Personas and their private chats: blocking, files, messages in both directions and the chat page's log."""

from __future__ import annotations

import secrets
from typing import Any

from api.sandbox.entities import entities_to_html
from api.sandbox.media import extension_for, sniff_mime
from api.sandbox.personas import Persona
from api.sandbox.records import ChatState, FileRecord, SandboxError, StoredMessage, message_kind
from api.sandbox.updates import UpdateQueue


class Chats(UpdateQueue):
    """Chats as both sides see them: the Telegram objects the bot gets and the views the page draws."""

    # ------------------------------------------------------------------ personas

    def persona(self, user_id: int) -> Persona:
        try:
            return self.personas[user_id]
        except KeyError:
            raise SandboxError(404, f"persona {user_id} not found") from None

    def chat(self, user_id: int) -> ChatState:
        self.persona(user_id)
        return self.chats[user_id]

    def add_persona(self, persona: Persona) -> Persona:
        if persona.user_id in self.personas:
            raise SandboxError(409, f"persona {persona.user_id} already exists")
        self.personas[persona.user_id] = persona
        self.chats[persona.user_id] = ChatState(persona=persona)
        self.notify()
        return persona

    def next_persona_id(self) -> int:
        return max(self.personas, default=10000) + 1

    def set_blocked(self, user_id: int, blocked: bool | None = None) -> bool:
        """Block/unblock the bot as this persona (None toggles); the bot gets a my_chat_member update."""
        chat = self.chat(user_id)
        new = (not chat.blocked) if blocked is None else blocked
        if new != chat.blocked:
            chat.blocked = new
            old_status, new_status = ("member", "kicked") if new else ("kicked", "member")
            bot = self.bot_user()
            member_old: dict[str, Any] = {"status": old_status, "user": bot}
            member_new: dict[str, Any] = {"status": new_status, "user": bot}
            if new_status == "kicked":
                member_new["until_date"] = 0
            else:
                member_old["until_date"] = 0
            self.enqueue_update(
                "my_chat_member",
                {
                    "chat": chat.persona.chat_object(),
                    "from": chat.persona.user_object(),
                    "date": self.now(),
                    "old_chat_member": member_old,
                    "new_chat_member": member_new,
                },
            )
            self.notify()
        return chat.blocked

    def persona_view(self, persona: Persona) -> dict[str, Any]:
        chat = self.chats[persona.user_id]
        return {
            **persona.as_dict(),
            "blocked": chat.blocked,
            "bot_messages": chat.bot_entries,
            "last_seq": chat.entries[-1]["seq"] if chat.entries else 0,
        }

    # ------------------------------------------------------------------ files

    def store_file(
        self,
        data: bytes,
        *,
        kind: str,
        file_name: str | None = None,
        mime_type: str | None = None,
        url: str | None = None,
    ) -> FileRecord:
        mime = sniff_mime(data, file_name, mime_type) if data else (mime_type or "application/octet-stream")
        number = len(self.files) + 1
        ext = extension_for(mime, file_name)
        folder = {"photo": "photos", "voice": "voice", "document": "documents"}.get(kind, kind + "s")
        record = FileRecord(
            file_id=f"SBX{kind[:2].upper()}{secrets.token_urlsafe(18)}",
            file_unique_id=f"U{secrets.token_hex(6)}",
            data=data,
            mime_type=mime,
            file_name=file_name or f"file_{number}{ext}",
            file_path=f"{folder}/file_{number}{ext}",
            url=url,
        )
        self.files[record.file_id] = record
        self._files_by_path[record.file_path] = record
        return record

    def file_by_path(self, path: str) -> FileRecord | None:
        return self._files_by_path.get(path)

    # ------------------------------------------------------------------ messages + chat log

    def new_message(
        self,
        chat: ChatState,
        *,
        outgoing: bool,
        content: dict[str, Any],
        markup: dict[str, Any] | None = None,
        reply_to: StoredMessage | None = None,
        raw_text: str | None = None,
        parse_mode: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> StoredMessage:
        """Create, store and log a message in a private chat (ids are shared by both directions)."""
        message_id = chat.next_message_id
        chat.next_message_id += 1
        message: dict[str, Any] = {
            "message_id": message_id,
            "from": self.bot_user() if outgoing else chat.persona.user_object(),
            "chat": chat.persona.chat_object(),
            "date": self.now(),
        }
        if reply_to is not None:
            # Telegram does not nest reply_to_message further than one level.
            message["reply_to_message"] = {
                k: v for k, v in reply_to.message.items() if k != "reply_to_message"
            }
        message.update(content)
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup  # Message.reply_markup only ever carries inline keyboards
        stored = StoredMessage(
            message=message,
            outgoing=outgoing,
            markup=markup,
            raw_text=raw_text,
            parse_mode=parse_mode,
            extra=extra or {},
        )
        chat.messages[message_id] = stored
        if outgoing:
            chat.bot_entries += 1
            chat.action = None
            self._apply_keyboard(chat, markup, message_id)
        view = self.message_view(stored)
        self.add_entry(chat, {**view})
        return stored

    def _apply_keyboard(self, chat: ChatState, markup: dict[str, Any] | None, message_id: int) -> None:
        if not markup:
            return
        if "keyboard" in markup:
            chat.reply_keyboard = markup
            chat.force_reply = None
        elif markup.get("remove_keyboard"):
            chat.reply_keyboard = None
        elif markup.get("force_reply"):
            chat.force_reply = {**markup, "message_id": message_id}  # the page replies to this message

    def add_entry(self, chat: ChatState, entry: dict[str, Any]) -> dict[str, Any]:
        self.seq += 1
        entry["seq"] = self.seq
        entry.setdefault("date", self.now())
        chat.entries.append(entry)
        self.notify()
        return entry

    def message_view(self, stored: StoredMessage) -> dict[str, Any]:
        """What the chat page needs to draw one bubble (current state, after edits)."""
        msg = stored.message
        view: dict[str, Any] = {
            "kind": message_kind(msg),
            "from": "bot" if stored.outgoing else "user",
            "message_id": stored.message_id,
            "date": msg["date"],
            "text": msg.get("text"),
            "html": entities_to_html(msg["text"], msg.get("entities")) if "text" in msg else None,
            "caption": msg.get("caption"),
            "caption_html": (
                entities_to_html(msg["caption"], msg.get("caption_entities")) if "caption" in msg else None
            ),
            "raw_text": stored.raw_text,
            "parse_mode": stored.parse_mode,
            "reply_markup": stored.markup if stored.markup and "inline_keyboard" in stored.markup else None,
            "given_reply_markup": stored.markup,
            "reply_to_message_id": (msg.get("reply_to_message") or {}).get("message_id"),
            "media_group_id": msg.get("media_group_id"),
            "edited": "edit_date" in msg,
            "deleted": stored.deleted,
        }
        file_obj = None
        if msg.get("photo"):
            file_obj = msg["photo"][-1]
        else:
            for key in ("document", "voice", "audio", "video", "animation", "sticker"):
                if key in msg:
                    file_obj = msg[key]
                    break
        if file_obj is not None:
            record = self.files.get(file_obj["file_id"])
            view["file"] = {
                "file_id": file_obj["file_id"],
                "url": f"/sandbox/files/{file_obj['file_id']}",
                "name": record.file_name if record else file_obj.get("file_name"),
                "mime_type": record.mime_type if record else file_obj.get("mime_type"),
                "size": record.size if record else file_obj.get("file_size"),
                "duration": file_obj.get("duration"),
            }
        for key in ("location", "contact", "successful_payment"):
            if key in msg:
                view[key] = msg[key]
        if "invoice" in msg:
            view["invoice"] = {**msg["invoice"], "paid": bool(stored.extra.get("payment"))}
        return view

    def find_message(self, chat: ChatState, message_id: int) -> StoredMessage | None:
        stored = chat.messages.get(message_id)
        if stored is None or stored.deleted:
            return None
        return stored

    def message_edited(self, chat: ChatState, stored: StoredMessage) -> None:
        self.add_entry(
            chat,
            {
                "kind": "edit",
                "from": "bot",
                "message_id": stored.message_id,
                "message": self.message_view(stored),
            },
        )

    def message_deleted(self, chat: ChatState, stored: StoredMessage) -> None:
        stored.deleted = True
        self.add_entry(chat, {"kind": "delete", "from": "bot", "message_id": stored.message_id})

    def chat_view(self, user_id: int, after: int = 0) -> dict[str, Any]:
        chat = self.chat(user_id)
        entries = [e for e in chat.entries if e["seq"] > after]
        ids = {e["message_id"] for e in entries if "message_id" in e}
        action = None
        if chat.action and self.clock() - chat.action[1] < 5:
            action = chat.action[0]  # Telegram shows an action for up to 5 s
        return {
            "persona": self.persona_view(chat.persona),
            "entries": entries,
            "messages": {
                str(mid): self.message_view(chat.messages[mid]) for mid in sorted(ids) if mid in chat.messages
            },
            "reply_keyboard": chat.reply_keyboard,
            "force_reply": chat.force_reply,
            "chat_action": action,
            "last_seq": self.seq,
        }
