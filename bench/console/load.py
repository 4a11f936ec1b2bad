"""The load generator of bench/console (a process of its own; loopback HTTP only).

    .venv/bin/python -m bench.console.load CONFIG.json RESULTS.json

50 agents log in to the console and keep the live queue stream (SSE) open like the queue page does. Then:

* **work** — every agent loops: open a page (queue 40 %, ticket list with a typical filter 35 %, ticket
  detail 25 %), read the whole body, think ``think`` s ±50 %. Meanwhile ``relay`` sandbox residents chat with their
  agent: resident → agent is timed from the resident's send until the agent's live stream announces the message
  (and until the agent's message fragment shows it); agent → resident from the agent's POST until the resident's
  chat (sandbox long-poll) shows the reply, i.e. through the bot, the outbox and the sender.
* **saturation** — for each page alone, the same 50 agents with no think time (closed loop): the most the
  server does on this machine, and the latency when every agent clicks at once, all the time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

CSRF = re.compile(r'"X-CSRF-Token": "([0-9a-f]+)"')
MENU_HUMAN_ZH = "👩‍💼 人工服务"
LIST_FILTERS = ("", "?open=1", "?overdue=1", "?owner=me&open=1", "?kind=fault&status=new", "?kind=complaint",
                "?district=城东区&utility=water", "?sort=newest", "?status=in_progress&sort=newest", "?owner=none",
                "?q=漏水")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Meter:
    """Server CPU seconds and the machine's load average over one phase."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.cpu0, self.wall0, self.load0 = cpu_seconds(pid), time.perf_counter(), os.getloadavg()[0]
        self.own0 = time.process_time()

    def done(self, requests: int) -> dict[str, float]:
        cpu, wall = cpu_seconds(self.pid) - self.cpu0, time.perf_counter() - self.wall0
        return {"server_cpu_s": cpu, "seconds": wall, "requests": requests,
                "cpu_ms_per_request": cpu * 1000 / max(1, requests), "server_cores_used": cpu / wall,
                "load_start": self.load0, "load_end": os.getloadavg()[0],
                "client_cores_used": (time.process_time() - self.own0) / wall}


class Agent:
    def __init__(self, base: str, username: str) -> None:
        self.base, self.username = base, username
        self.http = aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True),
                                          connector=aiohttp.TCPConnector(limit=4))
        self.token = ""

    async def login(self, password: str) -> None:
        async with self.http.get("/login") as r:
            page = await r.text()
        m = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
        data = {"username": self.username, "password": password, "next": "/console/queue"}
        if m:
            data["csrf_token"] = m.group(1)
        async with self.http.post("/login", data=data, allow_redirects=False) as r:
            if r.status != 303:
                raise RuntimeError(f"login {self.username}: {r.status} {(await r.text())[:300]}")
        async with self.http.get("/console/queue") as r:
            m = CSRF.search(await r.text())
        if not m:
            raise RuntimeError("no CSRF token on the queue page")
        self.token = m.group(1)

    async def timed_get(self, path: str) -> tuple[float, int, str]:
        t0 = time.perf_counter()
        async with self.http.get(path, allow_redirects=False) as r:
            body = await r.text()
            status = r.status
        return (time.perf_counter() - t0) * 1000, status, body

    async def close(self) -> None:
        await self.http.close()


async def sse(agent: Agent, path: str, sink: asyncio.Queue | None, stop: asyncio.Event) -> None:
    """Hold a live stream open; events (with their arrival time) go to ``sink``."""
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with agent.http.get(path, timeout=timeout) as r:
        assert r.status == 200, r.status
        event: dict[str, Any] = {}
        while not stop.is_set():
            line = await r.content.readline()
            if not line:
                return
            text = line.decode().rstrip("\n")
            if text.startswith("data: "):
                event = json.loads(text[6:])
            elif text == "" and event:
                if sink is not None:
                    sink.put_nowait((time.perf_counter(), event))
                event = {}


def page_for(rnd: random.Random, cfg: dict[str, Any]) -> tuple[str, str]:
    x = rnd.random()
    if x < 0.40:
        return "queue", "/console/queue"
    if x < 0.75:
        return "ticket list", "/console/tickets" + rnd.choice(LIST_FILTERS)
    numbers = cfg["open_numbers"] if rnd.random() < 0.3 else cfg["ticket_numbers"]
    return "ticket detail", "/console/tickets/" + rnd.choice(numbers)


async def work(agent: Agent, cfg: dict[str, Any], until: float, out: dict[str, list[float]], errors: list[str],
               seed: int, think: float = 0.0, only: str | None = None) -> None:
    rnd = random.Random(seed)
    if think:
        await asyncio.sleep(rnd.uniform(0, 2 * think))  # agents do not all click in the same millisecond
    while time.perf_counter() < until:
        name, path = page_for(rnd, cfg)
        while only and name != only:
            name, path = page_for(rnd, cfg)
        ms, status, _ = await agent.timed_get(path)
        if status != 200:
            errors.append(f"{status} {path}")
        out[name].append(ms)
        if think:
            await asyncio.sleep(rnd.uniform(0.5 * think, 1.5 * think))


class Resident:
    def __init__(self, base: str, user_id: int) -> None:
        self.id = user_id
        self.http = aiohttp.ClientSession(base)
        self.seq = 0

    async def send(self, text: str) -> None:
        async with self.http.post(f"/sandbox/api/personas/{self.id}/send", json={"text": text}) as r:
            r.raise_for_status()

    async def wait_for(self, needle: str, timeout: float = 20.0) -> float:
        """Long-poll the resident's chat until a bot message contains ``needle``; returns the arrival time."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            async with self.http.get(f"/sandbox/api/personas/{self.id}/chat",
                                     params={"after": self.seq, "wait": 5}) as r:
                data = await r.json()
            seen = time.perf_counter()
            for entry in data["entries"]:
                self.seq = max(self.seq, entry["seq"])
                if entry.get("from") == "bot" and needle in ((entry.get("text") or "") + (entry.get("caption") or "")):
                    return seen
        raise TimeoutError(f"resident {self.id} never got {needle!r}")


async def relay(agent: Agent, resident: Resident, conv_id: int, until: float, out: dict[str, list[float]],
                errors: list[str], stop: asyncio.Event) -> None:
    events: asyncio.Queue = asyncio.Queue()
    stream = asyncio.create_task(sse(agent, f"/console/live?topics=conversation&conversation={conv_id}", events,
                                     stop))
    await asyncio.sleep(0.5)  # let the stream subscribe before the first timed message
    try:
        while time.perf_counter() < until:
            tag = uuid.uuid4().hex[:10]
            while not events.empty():
                events.get_nowait()
            t0 = time.perf_counter()
            await resident.send(f"请问 {tag} 怎么办")
            try:
                while True:
                    at, event = await asyncio.wait_for(events.get(), 10)
                    if event.get("action") == "message":
                        break
            except TimeoutError:
                errors.append(f"resident->agent {conv_id}: no live event within 10 s")
                continue
            out["resident → agent (live event)"].append((at - t0) * 1000)
            ms, status, body = await agent.timed_get(f"/console/conversations/{conv_id}/messages")
            if status != 200 or tag not in body:
                errors.append(f"resident->agent {conv_id}: message not in the fragment")
            out["resident → agent (shown on the agent's page)"].append((at - t0) * 1000 + ms)

            t0 = time.perf_counter()
            async with agent.http.post(f"/console/conversations/{conv_id}/reply", allow_redirects=False,
                                       data={"csrf_token": agent.token, "text": f"您好，{tag} 已为您查询。",
                                             "action": "send"}) as r:
                if r.status != 303:
                    errors.append(f"agent->resident {conv_id}: POST gave {r.status}")
                    continue
            try:
                seen = await resident.wait_for(tag, timeout=10)
            except TimeoutError as e:
                errors.append(str(e))
                continue
            out["agent → resident (in the resident's chat)"].append((seen - t0) * 1000)
            await asyncio.sleep(1.5)  # people type; and Telegram allows one message per second per chat
    finally:
        stream.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await stream


async def setup_relay(cfg: dict[str, Any], agents: list[Agent]) -> list[tuple[Agent, Resident, int]]:
    """Sandbox residents ask for a person through the real bot; agent i claims resident i's chat."""
    base = cfg["base"]
    pairs = []
    db = await asyncpg.connect(cfg["dsn"])
    try:
        for i, rid in enumerate(cfg["relay_residents"]):
            res = Resident(base, rid)
            async with res.http.post("/sandbox/api/personas", json={"first_name": f"测试{i}", "user_id": rid,
                                                                    "language_code": "zh-hans"}) as r:
                r.raise_for_status()
            await res.send(MENU_HUMAN_ZH)
            conv_id = None
            for _ in range(100):
                conv_id = await db.fetchval("SELECT id FROM conversation WHERE resident_id=$1 AND status='queued'",
                                            rid)
                if conv_id:
                    break
                await asyncio.sleep(0.1)
            if not conv_id:
                raise RuntimeError(f"resident {rid}: the bot did not queue a handoff")
            agent = agents[i]
            async with agent.http.post(f"/console/conversations/{conv_id}/claim", allow_redirects=False,
                                       data={"csrf_token": agent.token}) as r:
                if r.status != 303:
                    raise RuntimeError(f"claim {conv_id}: {r.status} {(await r.text())[:300]}")
            await res.wait_for(agent.username.replace("agent", "坐席"))  # "坐席07 is taking over"
            pairs.append((agent, res, conv_id))
    finally:
        await db.close()
    return pairs


async def main(cfg: dict[str, Any]) -> dict[str, Any]:
    base = cfg["base"]
    agents = [Agent(base, name) for name in cfg["agents"]]
    for a in agents:
        await a.login(cfg["password"])
    result: dict[str, Any] = {"errors": []}
    stop = asyncio.Event()
    streams = [asyncio.create_task(sse(a, "/console/live?topics=queue,conversation", None, stop)) for a in agents]
    pairs = await setup_relay(cfg, agents)

    warm: dict[str, list[float]] = defaultdict(list)
    await asyncio.gather(*(work(a, cfg, time.perf_counter() + 3, warm, [], i, think=1.0)
                           for i, a in enumerate(agents)))

    # One agent alone, one request at a time: what a page costs without any queueing.
    alone: dict[str, list[float]] = defaultdict(list)
    alone_cpu = {}
    for name in ("queue", "ticket list", "ticket detail"):
        meter = Meter(cfg["server_pid"])
        await work(agents[0], cfg, time.perf_counter() + cfg["alone"], alone, result["errors"], 900, think=0,
                   only=name)
        alone_cpu[name] = meter.done(len(alone[name]))
    result["alone"] = alone
    result["alone_cpu"] = alone_cpu

    pages: dict[str, list[float]] = defaultdict(list)
    relays: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    until = time.perf_counter() + cfg["duration"]
    t0 = time.perf_counter()
    meter = Meter(cfg["server_pid"])
    await asyncio.gather(
        *(work(a, cfg, until, pages, errors, 100 + i, think=cfg["think"]) for i, a in enumerate(agents)),
        *(relay(a, r, c, until, relays, errors, stop) for a, r, c in pairs),
    )
    result["work"] = {"seconds": time.perf_counter() - t0, "pages": pages, "relay": relays,
                      "cpu": meter.done(sum(len(v) for v in pages.values()))}
    result["errors"] += errors

    saturation = {}
    for name in ("queue", "ticket list", "ticket detail"):
        lat: dict[str, list[float]] = defaultdict(list)
        errs: list[str] = []
        t0 = time.perf_counter()
        until = t0 + cfg["saturation"]
        meter = Meter(cfg["server_pid"])
        await asyncio.gather(*(work(a, cfg, until, lat, errs, 500 + i, think=0, only=name)
                               for i, a in enumerate(agents)))
        saturation[name] = {"seconds": time.perf_counter() - t0, "ms": lat[name], "cpu": meter.done(len(lat[name]))}
        result["errors"] += errs
    result["saturation"] = saturation

    stop.set()
    for s in streams:
        s.cancel()
    await asyncio.gather(*streams, return_exceptions=True)
    for a in agents:
        await a.close()
    for _, r, _ in pairs:
        await r.http.close()
    return result


if __name__ == "__main__":
    config = json.loads(Path(sys.argv[1]).read_text())
    Path(sys.argv[2]).write_text(json.dumps(asyncio.run(main(config))))
