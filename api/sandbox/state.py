"""In-memory world of the sandbox: personas, their private chats with the bot, the update queue, files.

Everything lives in one `SandboxState` object that the app factory creates and puts at
`app.state.sandbox`. All mutation happens on the event loop; long polls (getUpdates, the
chat page, a payment waiting for answerPreCheckoutQuery) wait on `_Notifier`.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import dataclasses
import secrets
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException

from api.sandbox.entities import entities_to_html, utf16_len
from api.sandbox.media import extension_for, fake_voice, image_size, sniff_mime
from api.sandbox.personas import DEFAULT_PERSONAS, Persona

BOT_USERNAME = "onestop_sandbox_bot"
BOT_FIRST_NAME = "Onestop"

# Update types Telegram leaves out when allowed_updates is empty / never set.
_OPT_IN_UPDATES = {"chat_member", "message_reaction", "message_reaction_count"}


class BotApiError(Exception):
    """An error answer of the Bot API, shaped exactly like Telegram's."""

    def __init__(self, error_code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.error_code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(detail: str) -> BotApiError:
    return BotApiError(400, f"Bad Request: {detail}")


class SandboxError(HTTPException):
    """A resident-side request the sandbox refuses; FastAPI turns it into {"detail": ...}."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(status_code=status, detail=detail)


class _Notifier:
    """Wakes every waiter on any change; waiters re-check their own condition."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[None]] = set()

    def notify(self) -> None:
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for fut in list(self._waiters):
            loop = fut.get_loop()
            if loop is running:
                _resolve(fut)
            elif not loop.is_closed():
                # Mutated from another thread (e.g. a test driving the state directly).
                loop.call_soon_threadsafe(_resolve, fut)
        self._waiters.clear()

    async def wait(self, seconds: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(fut)
        try:
            await asyncio.wait_for(fut, seconds)
        except TimeoutError:
            pass
        finally:
            self._waiters.discard(fut)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


@dataclass
class FileRecord:
    file_id: str
    file_unique_id: str
    data: bytes
    mime_type: str
    file_name: str
    file_path: str
    url: str | None = None  # a file the bot "sent" by HTTP URL: we never fetch it (no network)

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class StoredMessage:
    message: dict[str, Any]  # the Telegram Message object, as the bot sees it
    outgoing: bool  # sent by the bot
    markup: dict[str, Any] | None = None  # reply_markup exactly as given (any keyboard type)
    raw_text: str | None = None  # text/caption before parse_mode was applied
    parse_mode: str | None = None
    deleted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # invoice terms, payment state...

    @property
    def message_id(self) -> int:
        return int(self.message["message_id"])


@dataclass
class ChatState:
    persona: Persona
    next_message_id: int = 1
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    entries: list[dict[str, Any]] = field(default_factory=list)
    reply_keyboard: dict[str, Any] | None = None
    force_reply: dict[str, Any] | None = None
    blocked: bool = False
    bot_entries: int = 0  # bot-sent bubbles, for unread counters on the page
    action: tuple[str, float] | None = None  # last sendChatAction and when


@dataclass
class InjectedError:
    remaining: int
    error: BotApiError
    methods: frozenset[str] | None  # lower-case method names; None = every method except getUpdates
    chat_id: int | None = None

    def matches(self, method: str, chat_id: int | None) -> bool:
        if self.methods is None:
            if method == "getupdates":
                return False
        elif method not in self.methods:
            return False
        return self.chat_id is None or self.chat_id == chat_id


@dataclass
class ApiCall:
    at: float
    method: str
    chat_id: int | None
    status: int


class SandboxState:
    """The whole offline Telegram: personas, chats, updates, files, bot settings."""

    def __init__(
        self,
        personas: list[Persona] | None = None,
        *,
        pay_timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        token: str | None = None,
    ) -> None:
        # F10: the emulated Bot API answers only this token (the in-process bot is built with it).
        self.token = token or f"1000000001:SANDBOX-{secrets.token_urlsafe(24)}"
        self.pay_timeout = pay_timeout
        self.clock = clock
        self._initial_personas = [
            dataclasses.replace(p) for p in (DEFAULT_PERSONAS if personas is None else personas)
        ]
        self._notifier = _Notifier()
        self.closed = False
        # These only grow, even across reset(), so a page polling with an old cursor never stalls.
        self.revision = 0  # bumped on every change
        self.seq = 0  # last chat entry number
        self._next_update_id = 1  # a polling bot's offset must stay valid after reset()
        self.reset()

    # ------------------------------------------------------------------ lifecycle

    def reset(self) -> None:
        """Forget every chat, update and file; keep the personas."""
        if not hasattr(self, "personas"):
            self.personas: dict[int, Persona] = {p.user_id: p for p in self._initial_personas}
        self.chats: dict[int, ChatState] = {uid: ChatState(persona=p) for uid, p in self.personas.items()}
        self.updates: list[dict[str, Any]] = []
        self.files: dict[str, FileRecord] = {}
        self._files_by_path: dict[str, FileRecord] = {}
        self.bot_id = 0
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.menu_buttons: dict[int | None, dict[str, Any]] = {}
        self.bot_texts: dict[str, dict[str, str]] = {}  # name/description/short_description per language
        self.webhook: dict[str, Any] = {}
        self.allowed_updates: list[str] = []
        self.callback_queries: dict[str, dict[str, Any]] = {}
        self.pre_checkout_queries: dict[str, dict[str, Any]] = {}
        self.calls: deque[ApiCall] = deque(maxlen=10_000)
        self._injected: list[InjectedError] = []
        self.notify()

    def close(self) -> None:
        """Release every long poll (call on app shutdown so the server can stop promptly)."""
        self.closed = True
        self.notify()

    @property
    def waiting(self) -> int:
        """How many long polls are waiting right now."""
        return len(self._notifier._waiters)

    def notify(self) -> None:
        self.revision += 1
        self._notifier.notify()

    async def wait_for(self, predicate: Callable[[], bool], seconds: float) -> bool:
        """Wait until predicate() is true (re-checked after every change) or `seconds` pass; returns it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(seconds, 0)
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0 or self.closed:
                return predicate()
            await self._notifier.wait(remaining)
        return True

    def now(self) -> int:
        return int(self.clock())

    # ------------------------------------------------------------------ bot identity

    def bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id or 1,
            "is_bot": True,
            "first_name": BOT_FIRST_NAME,
            "username": BOT_USERNAME,
        }

    # ------------------------------------------------------------------ error injection + call log

    def inject_errors(
        self,
        count: int = 1,
        *,
        error_code: int = 429,
        retry_after: int = 1,
        description: str | None = None,
        methods: Iterable[str] | None = None,
        chat_id: int | None = None,
    ) -> None:
        """Make the next `count` matching Bot API calls fail.

        Default: 429 "Too Many Requests: retry after N" with parameters.retry_after = N.
        `methods` limits it to those methods (case-insensitive); by default every method
        except getUpdates matches, so a polling bot does not swallow the errors meant for
        a sender. `chat_id` limits it to calls addressed to that chat.
        """
        parameters = None
        if error_code == 429:
            description = description or f"Too Many Requests: retry after {retry_after}"
            parameters = {"retry_after": retry_after}
        else:
            defaults = {
                400: "Bad Request",
                403: "Forbidden: bot was blocked by the user",
                500: "Internal Server Error",
                502: "Bad Gateway",
            }
            description = description or defaults.get(error_code, "Error")
        self._injected.append(
            InjectedError(
                remaining=count,
                error=BotApiError(error_code, description, parameters),
                methods=frozenset(m.lower() for m in methods) if methods is not None else None,
                chat_id=chat_id,
            )
        )

    def take_injected_error(self, method: str, chat_id: int | None) -> BotApiError | None:
        for injected in self._injected:
            if injected.remaining > 0 and injected.matches(method.lower(), chat_id):
                injected.remaining -= 1
                self._injected = [i for i in self._injected if i.remaining > 0]
                return injected.error
        return None

    def record_call(self, method: str, chat_id: int | None, status: int) -> None:
        self.calls.append(ApiCall(at=self.clock(), method=method, chat_id=chat_id, status=status))

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

    # ------------------------------------------------------------------ updates

    def enqueue_update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        # A snapshot: later edits of the message must not change an update already queued.
        update = {"update_id": self._next_update_id, kind: copy.deepcopy(payload)}
        self._next_update_id += 1
        self.updates.append(update)
        self.notify()
        return update

    def confirm_updates(self, offset: int) -> None:
        if offset > 0:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        elif offset < 0:
            self.updates = self.updates[offset:]

    def _update_allowed(self, update: dict[str, Any]) -> bool:
        kind = next(k for k in update if k != "update_id")
        if self.allowed_updates:
            return kind in self.allowed_updates
        return kind not in _OPT_IN_UPDATES

    def deliverable_updates(self, limit: int) -> list[dict[str, Any]]:
        # Telegram drops updates of types the bot did not ask for instead of keeping them.
        self.updates = [u for u in self.updates if self._update_allowed(u)]
        return self.updates[:limit]

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


def message_kind(msg: dict[str, Any]) -> str:
    if "successful_payment" in msg:
        return "payment"
    for key in (
        "invoice",
        "photo",
        "document",
        "voice",
        "audio",
        "video",
        "animation",
        "sticker",
        "location",
        "contact",
    ):
        if key in msg:
            return key
    return "text" if "text" in msg else "other"


def photo_size(record: FileRecord, size: tuple[int, int]) -> dict[str, Any]:
    return {
        "file_id": record.file_id,
        "file_unique_id": record.file_unique_id,
        "width": size[0],
        "height": size[1],
        "file_size": record.size,
    }


def document_object(record: FileRecord) -> dict[str, Any]:
    return {
        "file_id": record.file_id,
        "file_unique_id": record.file_unique_id,
        "file_name": record.file_name,
        "mime_type": record.mime_type,
        "file_size": record.size,
    }


def decode_base64(value: str) -> bytes:
    """Accept plain base64 or a data: URL (what FileReader.readAsDataURL gives the page)."""
    if value.startswith("data:") and "," in value:
        value = value.split(",", 1)[1]
    try:
        return base64.b64decode(value, validate=False)
    except ValueError as e:
        raise SandboxError(400, "invalid base64 data") from e
