"""Files in and out: photos, documents, voice, audio, video, animations, media groups, getFile."""

from __future__ import annotations

import secrets
from typing import Any

from api.sandbox.media import image_size
from api.sandbox.methods.common import caption_content, resolve_reply, send_common, writable_chat
from api.sandbox.methods.params import Params
from api.sandbox.methods.table import MethodTable
from api.sandbox.records import FileRecord, bad_request, document_object, photo_size
from api.sandbox.state import SandboxState

table = MethodTable()
method = table.method


def resolve_input_file(state: SandboxState, params: Params, name: str, kind: str) -> FileRecord:
    """A file given as an upload (directly or attach://), a known file_id, or an HTTP URL."""
    if name in params.uploads:
        upload = params.uploads[name]
        return state.store_file(
            upload.data, kind=kind, file_name=upload.filename, mime_type=upload.content_type
        )
    value = params.get_str(name)
    if not value:
        raise bad_request(f"there is no {name} in the request")
    return _file_from_string(state, params, value, kind)


def _file_from_string(state: SandboxState, params: Params, value: str, kind: str) -> FileRecord:
    if value.startswith("attach://"):
        upload = params.uploads.get(value.removeprefix("attach://"))
        if upload is None:
            raise bad_request("wrong HTTP URL specified")  # Telegram's answer to a dangling attach://
        return state.store_file(
            upload.data, kind=kind, file_name=upload.filename, mime_type=upload.content_type
        )
    if value.startswith(("http://", "https://")):
        name = value.rsplit("/", 1)[-1].split("?", 1)[0] or None
        return state.store_file(b"", kind=kind, file_name=name, url=value)
    record = state.files.get(value)
    if record is None:
        raise bad_request("wrong file identifier/HTTP URL specified")
    return record


def media_content(
    state: SandboxState, record: FileRecord, kind: str, params: Params | None
) -> dict[str, Any]:
    if kind == "photo":
        size = (0, 0) if record.url else image_size(record.data)
        if size is None:
            raise bad_request("IMAGE_PROCESS_FAILED")
        return {"photo": [photo_size(record, size)]}
    if kind == "voice":
        duration = (params.get_int("duration") if params else None) or 0
        return {
            "voice": {
                "file_id": record.file_id,
                "file_unique_id": record.file_unique_id,
                "duration": duration,
                "mime_type": record.mime_type,
                "file_size": record.size,
            }
        }
    obj = document_object(record)
    if kind in ("audio", "video", "animation"):
        obj["duration"] = (params.get_int("duration") if params else None) or 0
        if kind != "audio":
            obj["width"] = (params.get_int("width") if params else None) or 0
            obj["height"] = (params.get_int("height") if params else None) or 0
    return {kind: obj}


async def _send_media(state: SandboxState, params: Params, kind: str) -> Any:
    chat = writable_chat(state, params)
    record = resolve_input_file(state, params, kind, kind)
    content = {**media_content(state, record, kind, params), **caption_content(params)}
    return send_common(state, chat, params, content, raw_text=params.get_str("caption"))


@method("sendPhoto")
async def send_photo(state: SandboxState, params: Params) -> Any:
    return await _send_media(state, params, "photo")


@method("sendDocument")
async def send_document(state: SandboxState, params: Params) -> Any:
    return await _send_media(state, params, "document")


@method("sendVoice")
async def send_voice(state: SandboxState, params: Params) -> Any:
    return await _send_media(state, params, "voice")


@method("sendAudio")
async def send_audio(state: SandboxState, params: Params) -> Any:
    return await _send_media(state, params, "audio")


@method("sendVideo")
async def send_video(state: SandboxState, params: Params) -> Any:
    return await _send_media(state, params, "video")


@method("sendAnimation")
async def send_animation(state: SandboxState, params: Params) -> Any:
    return await _send_media(state, params, "animation")


@method("sendMediaGroup")
async def send_media_group(state: SandboxState, params: Params) -> Any:
    chat = writable_chat(state, params)
    media = params.get_json("media")
    if not isinstance(media, list) or not 2 <= len(media) <= 10:
        raise bad_request("wrong number of media items; must be between 2 and 10")
    group_id = str(secrets.randbits(60))
    reply_to = resolve_reply(state, chat, params)
    prepared = []
    for item in media:
        if not isinstance(item, dict) or item.get("type") not in ("photo", "document", "audio", "video"):
            raise bad_request("can't parse InputMedia: unsupported media type")
        kind = item["type"]
        ref = str(item.get("media") or "")
        if not ref:
            raise bad_request("there is no media in the request")
        record = _file_from_string(state, params, ref, kind)
        content = media_content(state, record, kind, None)
        if item.get("caption"):
            caption_params = Params(
                {
                    "caption": item["caption"],
                    "parse_mode": item.get("parse_mode"),
                    "caption_entities": item.get("caption_entities"),
                }
            )
            content.update(caption_content(caption_params))
        prepared.append((content, item.get("caption"), item.get("parse_mode")))
    messages = []
    for content, raw, parse_mode in prepared:
        stored = state.new_message(
            chat,
            outgoing=True,
            content={**content, "media_group_id": group_id},
            reply_to=reply_to,
            raw_text=raw,
            parse_mode=parse_mode,
        )
        messages.append(stored.message)
    return messages


@method("getFile")
async def get_file(state: SandboxState, params: Params) -> Any:
    file_id = params.get_str("file_id", required="file_id is empty")
    record = state.files.get(file_id or "")
    if record is None:
        raise bad_request("invalid file_id")
    if record.size > 20 * 1024 * 1024:
        raise bad_request("file is too big")
    return {
        "file_id": record.file_id,
        "file_unique_id": record.file_unique_id,
        "file_size": record.size,
        "file_path": record.file_path,
    }
