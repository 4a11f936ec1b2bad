"""Issue 13 "Done when": real `onestop run` processes against a stand-in Telegram (tests/e2e/standin.py).

* webhook mode: the stand-in reaches the bot over HTTP with the secret, forged requests are refused, 40
  residents write at once, the process is SIGKILLed mid-stream and started again, and every resident
  gets the answer;
* the same in polling mode;
* SIGTERM (in the webhook test): updates in hand are finished or handed back, exit 0 without a traceback;
* two processes on one PostgreSQL and Redis behind a load balancer: every update handled once, every
  notification sent once, scheduled jobs led by one process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text

from core import outbox
from core.clock import SystemClock
from core.scheduler import LEADER_LOCK
from db.models import InboundUpdate
from db.session import make_engine, make_sessionmaker
from tests.e2e.standin import TOKEN, StandInTelegram
from tests.support.running import ROOT, free_port

pytestmark = pytest.mark.e2e
SECRET = "e2e-Webhook_secret-42"
HOOK = "/tg/hook-e2e"


@pytest.fixture
def standin() -> Iterator[StandInTelegram]:
    s = StandInTelegram().start()
    yield s
    s.stop()


def _env(standin: StandInTelegram, port: int, database_url: str, *, webhook: bool, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TELEGRAM_", "ONESTOP_", "DATABASE_URL", "REDIS_URL"))}
    env.update(DATABASE_URL=database_url, ONESTOP_PORT=str(port), ONESTOP_SECRET_KEY="e2e-secret-key",
               TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE=standin.base, PYTHONUNBUFFERED="1",
               ONESTOP_INBOX__LEASE_SECONDS="2", ONESTOP_INBOX__POLL_INTERVAL="0.1", **extra)
    if webhook:
        env.update(TELEGRAM_WEBHOOK_URL=f"http://127.0.0.1:{port}{HOOK}", TELEGRAM_WEBHOOK_SECRET=SECRET)
    return env


_started: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_process_left_behind() -> Iterator[None]:
    yield
    while _started:  # a failed assertion must not leave a bot running
        p = _started.pop()
        if p.poll() is None:
            p.kill()
            p.wait(10)


class Proc:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = int(env["ONESTOP_PORT"])
        self.log = log
        with log.open("a") as fh:
            self.p = subprocess.Popen([sys.executable, "-m", "onestop.cli", "run"], cwd=ROOT, env=env, stdout=fh,
                                      stderr=subprocess.STDOUT)
        _started.append(self.p)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.p.poll() is not None:
                pytest.fail(f"onestop run exited early:\n{log.read_text()}")
            time.sleep(0.1)
        self.p.kill()
        pytest.fail(f"onestop run not up within 60 s:\n{log.read_text()}")

    def kill(self) -> None:
        self.p.send_signal(signal.SIGKILL)
        self.p.wait(10)

    def terminate(self, timeout: float = 30) -> int:
        self.p.send_signal(signal.SIGTERM)
        return self.p.wait(timeout)


def _sqlite_statuses(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return dict(db.execute("SELECT status, count(*) FROM inbound_update GROUP BY status").fetchall())


def _settled(db: Path, expected: dict[str, int]) -> None:
    """The reply leaves before the row is marked done: give the last commit a moment."""
    deadline = time.monotonic() + 10
    while _sqlite_statuses(db) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _sqlite_statuses(db) == expected


def _residents(n: int) -> list[int]:
    base = 7_000_000_000 + (uuid.uuid4().int % 1_000_000) * 1000  # fresh chats: Redis FSM keys never collide
    return [base + i for i in range(n)]


def _everyone_answered(standin: StandInTelegram, residents: list[int]) -> bool:
    return all(standin.replies_to(r) for r in residents)


def test_webhook_mode_survives_sigkill_mid_stream(tmp_path: Path, standin: StandInTelegram) -> None:
    db = tmp_path / "hook.db"
    port = free_port()
    env = _env(standin, port, f"sqlite+aiosqlite:///{db}", webhook=True)
    log = tmp_path / "onestop.log"
    proc = Proc(env, log)
    standin.wait(lambda: standin.webhook.get("url"), 20, "setWebhook at start-up")
    assert standin.webhook == {"url": f"http://127.0.0.1:{port}{HOOK}", "secret": SECRET}
    # allowed_updates is what the Dispatcher's routers use (payments included), not Telegram's default
    assert {"message", "callback_query", "pre_checkout_query"} <= set(standin.allowed_updates or [])

    forged_chat = 6_999_999_999
    forged = {"update_id": 10**9, "message": {"message_id": 1, "date": 1, "text": "/start",
                                              "chat": {"id": forged_chat, "type": "private"},
                                              "from": {"id": forged_chat, "is_bot": False, "first_name": "F"}}}
    for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "guess"}):
        r = httpx.post(f"http://127.0.0.1:{port}{HOOK}", json=forged, headers=headers)
        assert r.status_code == 401

    residents = _residents(40)
    for r in residents:
        standin.push_text(r, "/start")
    standin.wait(lambda: len(standin.acknowledged) >= 10, 30, "the first acknowledgements")
    proc.kill()
    stranded = {k: v for k, v in _sqlite_statuses(db).items() if k != "done"}
    assert stranded, "the kill came too late to leave acknowledged updates unhandled"

    proc = Proc(env, log)
    standin.wait(lambda: _everyone_answered(standin, residents), 40, "an answer for each of the 40 residents")
    assert all("choose your language" in standin.replies_to(r)[0] for r in residents)
    assert standin.replies_to(forged_chat) == []
    _settled(db, {"done": 40})

    # Graceful stop: SIGTERM while 30 more residents write; what is in hand is finished or handed back.
    more = _residents(30)
    acked = len(standin.acknowledged)
    for r in more:
        standin.push_text(r, "/start")
    standin.wait(lambda: len(standin.acknowledged) >= acked + 5, 30, "the next acknowledgements")
    started = time.monotonic()
    assert proc.terminate(timeout=30) == 0
    assert time.monotonic() - started < 10 + 10  # the default grace, plus closing down
    assert "working" not in _sqlite_statuses(db)
    out = log.read_text()
    assert "Traceback" not in out and "onestop.runner: stopped" in out

    proc = Proc(env, log)
    standin.wait(lambda: _everyone_answered(standin, more), 40, "the rest answered after the restart")
    _settled(db, {"done": 70})
    assert proc.terminate() == 0
    assert "Traceback" not in log.read_text()


def test_polling_mode_survives_sigkill_after_the_offset_confirmed(tmp_path: Path, standin: StandInTelegram) -> None:
    db = tmp_path / "poll.db"
    env = _env(standin, free_port(), f"sqlite+aiosqlite:///{db}", webhook=False)
    log = tmp_path / "onestop.log"
    proc = Proc(env, log)
    standin.wait(lambda: standin.calls["getUpdates"] >= 1, 20, "the first getUpdates")
    assert standin.calls["deleteWebhook"] >= 1  # switching back from webhook mode is automatic

    residents = _residents(40)
    for r in residents:
        standin.push_text(r, "/start")
    # Telegram forgets an update once a later getUpdates names a higher offset: kill right after that.
    standin.wait(lambda: len(standin.acknowledged) >= 10, 30, "getUpdates confirming the first updates")
    proc.kill()
    confirmed = set(standin.acknowledged)
    with sqlite3.connect(db) as conn:
        stored = {row[0] for row in conn.execute("SELECT update_id FROM inbound_update")}
    assert confirmed <= stored  # nothing is confirmed before it is stored
    assert {k: v for k, v in _sqlite_statuses(db).items() if k != "done"}, "kill came too late"

    proc = Proc(env, log)
    standin.wait(lambda: _everyone_answered(standin, residents), 40, "an answer for each of the 40 residents")
    _settled(db, {"done": 40})
    assert proc.terminate() == 0


async def _add_notifications(url: str, chats: list[int]) -> None:
    engine = make_engine(url)
    now = SystemClock().now()
    async with make_sessionmaker(engine)() as s:
        for chat in chats:
            outbox.enqueue(s, resident_id=chat, kind="test", payload=outbox.message_payload(f"notice {chat}"),
                           now=now)
        await s.commit()
    await engine.dispose()


async def _pg_facts(url: str) -> tuple[dict[str, int], int]:
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as s:
        statuses = dict((await s.execute(select(InboundUpdate.status, func.count())
                                         .group_by(InboundUpdate.status))).all())
        # Only this database's scheduler lock: other databases on the server (other test runs) have their own.
        leaders = await s.scalar(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = :hi AND objid = :lo"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
            {"hi": LEADER_LOCK >> 32, "lo": LEADER_LOCK & 0xFFFFFFFF})
    await engine.dispose()
    return statuses, leaders


@pytest.mark.postgres
@pytest.mark.redis
def test_two_processes_share_one_database_without_doing_anything_twice(
        tmp_path: Path, standin: StandInTelegram, pg_url: str, redis_url: str) -> None:
    ports = [free_port(), free_port()]
    envs = [_env(standin, p, pg_url, webhook=True, REDIS_URL=redis_url) for p in ports]
    subprocess.run([sys.executable, "-m", "onestop.cli", "migrate"], cwd=ROOT, env=envs[0], check=True,
                   capture_output=True, timeout=120)
    notified = _residents(40)
    asyncio.run(_add_notifications(pg_url, notified))
    standin.backends = [f"http://127.0.0.1:{p}" for p in ports]  # a load balancer in front of both
    procs = [Proc(env, tmp_path / f"onestop-{i}.log") for i, env in enumerate(envs)]
    standin.wait(lambda: standin.webhook.get("url"), 20, "setWebhook")

    residents = _residents(40)
    for r in residents:
        standin.push_text(r, "/start")
    standin.wait(lambda: _everyone_answered(standin, residents), 40, "an answer for each resident")
    standin.wait(lambda: _everyone_answered(standin, notified), 40, "every notification")
    time.sleep(1.0)  # a duplicate would show up now
    assert all(len(standin.replies_to(r)) == 1 for r in residents), "an update was handled twice"
    assert all(standin.replies_to(n) == [f"notice {n}"] for n in notified), "a notification was sent twice"
    assert all(standin.forwarded[b] > 0 for b in standin.backends)  # both processes took traffic
    deadline = time.monotonic() + 10
    statuses, leaders = asyncio.run(_pg_facts(pg_url))
    while statuses != {"done": 40} and time.monotonic() < deadline:  # the last "done" commits after the reply
        time.sleep(0.1)
        statuses, leaders = asyncio.run(_pg_facts(pg_url))
    assert statuses == {"done": 40}
    assert leaders == 1  # one scheduler across both processes
    assert all(p.terminate() == 0 for p in procs)
