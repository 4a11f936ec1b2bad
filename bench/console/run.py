"""Staff console under load: queue, ticket list and ticket detail pages, and chat relay latency.

    .venv/bin/python -m bench.console.run [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/test]
                                          [--tickets 100000] [--conversations 20000] [--duration 60]

1. creates a scratch PostgreSQL database (dropped at the end), builds the schema of the current models and
   bulk-loads a year of history with COPY (``bench/console/seed.py``);
2. starts the real server, ``onestop run`` (console + API, the bot on the offline Telegram sandbox, the outbox
   sender and the scheduler, one process), on a loopback port;
3. runs the load generator in a second process (``bench/console/load.py``): 50 logged-in agents, live streams
   open, pages with think time while sandbox residents chat with their agents, then each page with no think
   time (saturation);
4. prints the figures as Markdown tables (p50/p99 in ms) for ``bench/console/README.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

PAGE_TARGET_MS = 100.0
RELAY_TARGET_MS = 1000.0


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))] if values else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _admin(dsn: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _schema(url: str) -> None:
    """The schema of the current models, stamped as migrated so that `onestop run` finds it up to date."""
    from alembic import command

    import db.models  # noqa: F401  (registers the tables)
    from db.base import Base
    from db.migrate import alembic_config
    from db.session import make_engine

    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await engine.dispose()
    await asyncio.to_thread(command.stamp, alembic_config(url), "head")


def start_server(url: str, port: int, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ONESTOP_", "DATABASE_URL"))}
    env.pop("REDIS_URL", None)
    env.update(DATABASE_URL=url, ONESTOP_PORT=str(port), ONESTOP_HOST="127.0.0.1",
               ONESTOP_SECRET_KEY="bench-console-secret", PYTHONUNBUFFERED="1")
    with log.open("w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "onestop.cli", "run"], cwd=ROOT, env=env, stdout=fh,
                                stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"onestop run did not start:\n{log.read_text()[-3000:]}")


def row(name: str, ms: list[float], seconds: float | None = None, target: float | None = None,
        cpu: dict[str, float] | None = None) -> str:
    p99 = pct(ms, 0.99)
    rate = f"{len(ms) / seconds:.0f}" if seconds else "-"
    ok = "-" if target is None else ("yes" if p99 <= target else "**no**")
    per = f"{cpu['cpu_ms_per_request']:.1f}" if cpu else "-"
    return (f"| {name} | {len(ms)} | {rate} | {statistics.median(ms):.1f} | {pct(ms, 0.95):.1f} | {p99:.1f} | "
            f"{max(ms):.1f} | {ok} | {per} |")


def cpu_note(cpu: dict[str, float]) -> str:
    return (f"Server process: {cpu['server_cpu_s']:.1f} s CPU in {cpu['seconds']:.0f} s "
            f"({cpu['server_cores_used']:.2f} cores), {cpu['cpu_ms_per_request']:.1f} ms CPU per page; "
            f"the load generator used {cpu['client_cores_used']:.2f} cores; "
            f"machine load average {cpu['load_start']:.1f} → {cpu['load_end']:.1f} on {os.cpu_count()} cores.")


def report(res: dict[str, Any], meta: dict[str, Any]) -> str:
    head = ("| | requests | per s | p50 ms | p95 ms | p99 ms | max ms | p99 within target | server CPU ms/page |\n"
            "|---|---|---|---|---|---|---|---|---|")
    w = res["work"]
    lines = [f"### {meta['label']}", "",
             f"Data: {meta['counts']}; bulk load {meta['load_s']:.1f} s.", "",
             f"**Agents at work** — {meta['agents']} agents, live streams open, each opening a page every "
             f"{meta['think'] / 2:g}–{meta['think'] * 1.5:g} s, "
             f"for {w['seconds']:.0f} s, while {meta['relay']} residents chat with their agents:", "", head]
    everything: list[float] = []
    for name in ("queue", "ticket list", "ticket detail"):
        ms = w["pages"].get(name, [])
        everything += ms
        if ms:
            lines.append(row(f"{name} page", ms, w["seconds"], PAGE_TARGET_MS))
    lines.append(row("all pages", everything, w["seconds"], PAGE_TARGET_MS, w["cpu"]))
    for name, ms in w["relay"].items():
        lines.append(row(name, ms, None, RELAY_TARGET_MS))
    lines += ["", cpu_note(w["cpu"])]
    lines += ["", "**One agent alone**, one request at a time (the cost of a page without queueing):", "", head]
    for name, ms in res["alone"].items():
        lines.append(row(f"{name} page", ms, None, PAGE_TARGET_MS, res["alone_cpu"][name]))
    lines += ["", f"**Saturation** — the same {meta['agents']} agents, one page type at a time, no think time "
              "(every agent clicks again the moment a page arrives):", "", head]
    for name, s in res["saturation"].items():
        lines.append(row(f"{name} page", s["ms"], s["seconds"], None, s["cpu"]))
    sat = list(res["saturation"].values())
    lines += ["", "Server cores used while saturated: " + ", ".join(
        f"{n} {s['cpu']['server_cores_used']:.2f}" for n, s in zip(res["saturation"], sat, strict=True))
        + f"; load average {sat[0]['cpu']['load_start']:.1f} → {sat[-1]['cpu']['load_end']:.1f}."]
    errors = res.get("errors") or []
    lines += ["", f"Errors: {len(errors)}" + (f" (first: {errors[:5]})" if errors else "")]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test",
                        help="PostgreSQL server URL (a scratch database is created beside it and dropped)")
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--conversations", type=int, default=20_000)
    parser.add_argument("--residents", type=int, default=20_000)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of the agents-at-work phase")
    parser.add_argument("--saturation", type=float, default=15.0, help="seconds per page in the saturation phase")
    parser.add_argument("--alone", type=float, default=5.0, help="seconds per page for one agent alone")
    parser.add_argument("--relay", type=int, default=10, help="residents chatting during the work phase")
    parser.add_argument("--think", type=float, default=1.0,
                        help="mean seconds an agent spends on a page before opening the next (uniform ±50 %%)")
    parser.add_argument("--keep", action="store_true", help="keep the database (for EXPLAIN)")
    parser.add_argument("--seed-only", action="store_true", help="load the data, keep the database, stop")
    args = parser.parse_args()

    from bench.console import seed

    name = f"bench_console_{uuid.uuid4().hex[:8]}"
    server_dsn = args.pg.replace("postgresql+asyncpg://", "postgresql://")
    url = args.pg.rsplit("/", 1)[0] + f"/{name}"
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    tmp = Path(tempfile.mkdtemp(prefix="bench-console-"))
    asyncio.run(_admin(server_dsn, f'CREATE DATABASE "{name}"'))
    proc = None
    try:
        asyncio.run(_schema(url))
        t0 = time.perf_counter()
        data = asyncio.run(seed.seed(dsn, now=datetime.now(UTC), tickets=args.tickets,
                                     conversations=args.conversations, residents=args.residents, relay=args.relay))
        load_s = time.perf_counter() - t0
        print(f"loaded {data['counts']} in {load_s:.1f} s", file=sys.stderr)
        if args.seed_only:
            args.keep = True
            (tmp / "seed.json").write_text(json.dumps(data))
            print(f"seed data: {tmp / 'seed.json'}", file=sys.stderr)
            return
        port = free_port()
        proc = start_server(url, port, tmp / "onestop.log")
        cfg = {"base": f"http://127.0.0.1:{port}", "dsn": dsn, "agents": data["agents"], "password": data["password"],
               "ticket_numbers": data["ticket_numbers"], "open_numbers": data["open_numbers"],
               "relay_residents": data["relay_residents"], "duration": args.duration,
               "saturation": args.saturation, "alone": args.alone, "server_pid": proc.pid, "think": args.think}
        (tmp / "config.json").write_text(json.dumps(cfg))
        subprocess.run([sys.executable, "-m", "bench.console.load", str(tmp / "config.json"),
                        str(tmp / "results.json")], cwd=ROOT, check=True)
        res = json.loads((tmp / "results.json").read_text())
        label = f"PostgreSQL, {args.tickets:,} tickets, {args.conversations:,} conversations"
        label += f", think time {args.think:g} s"
        meta = {"label": label,
                "counts": ", ".join(f"{k} {v:,}" for k, v in data["counts"].items()), "load_s": load_s,
                "agents": len(data["agents"]), "relay": args.relay, "think": args.think}
        print(report(res, meta))
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
            errors = [ln for ln in (tmp / "onestop.log").read_text().splitlines() if " ERROR " in ln]
            if errors:
                print(f"server log: {len(errors)} ERROR lines, e.g. {errors[:3]}", file=sys.stderr)
        if not args.keep:
            asyncio.run(_admin(server_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        else:
            print(f"kept database {name}", file=sys.stderr)


if __name__ == "__main__":
    main()
