"""Server-sent events for the console: the queue and open conversations update without reloading.

Events come from ``ctx.live`` (in-process, or Redis pub/sub across processes) and carry ids only;
the page fetches the HTML it needs. The stream authenticates from the session cookie with a short
database session of its own, so an open stream never holds a database connection.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import StreamingResponse

from api.templating import N_
from core import handoff
from core.context import AppContext
from core.staff import owns
from db.models import StaffUser

router = APIRouter(include_in_schema=False)

PING_SECONDS = 15.0
TOPICS = {"queue", "conversation", "tickets", "survey"}


async def staff_from_cookie(request: Request) -> StaffUser:
    """The logged-in staff member, loaded with a session that is closed before returning."""
    sess = getattr(request.state, "session", None)
    if sess is None or sess.staff_id is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, N_("login required"))
    ctx: AppContext = request.app.state.ctx
    async with ctx.sessionmaker() as session:
        user = await session.get(StaffUser, sess.staff_id)
    if user is None or not user.active:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, N_("login required"))
    request.state.staff = user
    return user


def _wanted(event: dict[str, Any], topics: set[str], conversation_id: int | None, staff: StaffUser) -> bool:
    topic = event.get("topic")
    if topic not in topics:
        return False
    if topic == "conversation":
        if conversation_id is not None:
            return event.get("conversation_id") == conversation_id
        return owns(event.get("owner_id"), staff)  # "my chats" on the queue page
    return True


@router.get("/console/live")
async def live(request: Request, topics: str = "queue", conversation: int | None = None) -> StreamingResponse:
    """``text/event-stream`` of live events: ``?topics=queue,conversation[&conversation=ID]``."""
    user = await staff_from_cookie(request)
    ctx: AppContext = request.app.state.ctx
    wanted = {t for t in topics.split(",") if t in TOPICS} or {"queue"}
    if conversation is not None:
        async with ctx.sessionmaker() as session:
            conv = await handoff.get_conversation(session, conversation)
        if conv is None or not handoff.can_view(user, conv):
            raise HTTPException(status.HTTP_404_NOT_FOUND, N_("no such conversation"))
        wanted.add("conversation")

    stopping: asyncio.Event = request.app.state.stopping

    async def stream() -> AsyncIterator[str]:
        async with ctx.live.subscribe() as queue:
            yield "retry: 2000\n\n: connected\n\n"
            # The stream ends when the process stops (the browser reconnects, to another process behind the
            # proxy), instead of being cancelled by the server's graceful timeout.
            stop = asyncio.ensure_future(stopping.wait())
            try:
                while not stopping.is_set():
                    get = asyncio.ensure_future(queue.get())
                    done, _ = await asyncio.wait({get, stop}, timeout=PING_SECONDS,
                                                 return_when=asyncio.FIRST_COMPLETED)
                    if get not in done:
                        get.cancel()
                        if stop not in done:
                            yield ": ping\n\n"  # keeps proxies from closing an idle stream
                        continue
                    event = get.result()
                    if _wanted(event, wanted, conversation, user):
                        yield f"event: {event['topic']}\ndata: {json.dumps(event, default=str)}\n\n"
            finally:
                stop.cancel()

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
