"""Accounts benchmark (issue 4 "Measure"): the balance view at scale, and billing CSV import throughput.

    .venv/bin/python -m bench.accounts.run --pg postgresql+asyncpg://postgres@127.0.0.1:5432/test
        [--accounts 100000] [--ledger 5000000] [--lookups 2000] [--import-rows 100000] [--keep | --reuse]

Creates its own database ``onestop_bench_accounts`` next to the one in ``--pg`` (dropped first if a previous
run left it, and dropped at the end unless ``--keep``); the database named in the URL is never touched.

1. Bulk load: ``--accounts`` accounts, one linked resident each, ``--ledger`` ledger rows (1 % of
   accounts are heavy, with 500 entries each; the rest share the remainder) and 24 monthly readings per
   account: accounts, residents and links with COPY, ledger rows and readings generated inside PostgreSQL
   (``generate_series``). The non-unique indexes are dropped during the load and rebuilt after it, foreign-key
   triggers are skipped for the load (``session_replication_role = replica``), then VACUUM ANALYZE.
2. Balance view: for random accounts, what the bot does when a resident opens one — a fresh session,
   ``accounts.get_link`` (the ownership check) and ``accounts.account_summary`` (ledger balance, last payment,
   recent charges, 12 months of readings, average daily use, estimated days of credit left). p50/p99 per
   lookup, for ordinary and for heavy accounts.
3. Import: a 100,000-row billing CSV (a monthly run: account records — half new, half updates — readings,
   charges and payments of existing accounts) through ``billing.import_csv``, the function behind
   ``onestop import`` and the console upload; then the same file again through the real ``onestop import``
   command in a subprocess (every row is now an update: idempotent on external ids).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import db.models  # noqa: E402, F401  (registers the tables on Base.metadata)
from core import account_numbers, accounts, billing  # noqa: E402
from core.clock import LOCAL_TZ  # noqa: E402
from core.context import AppContext  # noqa: E402
from core.settings import Settings  # noqa: E402
from db.base import Base  # noqa: E402
from db.enums import AccountState, LinkMethod, MeterType, Utility  # noqa: E402

DB_NAME = "onestop_bench_accounts"
UTILITIES = (Utility.gas, Utility.water, Utility.power)
HEAVY_SHARE = 100  # every 100th account is heavy
HEAVY_ROWS = 500
READINGS = 24
DISTRICTS = ("城东区", "城西区", "城南区", "城北区")
SERIAL_BASE = 1_000_000
CHUNK_ACCOUNTS = 5000


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


# --- database lifecycle --------------------------------------------------------------------------------------


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def create_db(base: str) -> str:
    import asyncpg

    admin = await asyncpg.connect(_dsn(base))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{DB_NAME}"')
    finally:
        await admin.close()
    return base.rsplit("/", 1)[0] + f"/{DB_NAME}"


async def drop_db(base: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(_dsn(base))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    finally:
        await admin.close()


# --- bulk load -----------------------------------------------------------------------------------------------


def ledger_counts(n_accounts: int, n_rows: int) -> list[int]:
    """Rows per account: heavy accounts get HEAVY_ROWS, the rest share the remainder evenly."""
    heavy = [i % HEAVY_SHARE == 0 for i in range(n_accounts)]
    n_heavy = sum(heavy)
    rest = max(0, n_rows - n_heavy * HEAVY_ROWS)
    n_light = n_accounts - n_heavy
    base, extra = divmod(rest, max(1, n_light))
    counts, given = [], 0
    for is_heavy in heavy:
        if is_heavy:
            counts.append(HEAVY_ROWS)
        else:
            counts.append(base + (1 if given < extra else 0))
            given += 1
    return counts


LEDGER_SQL = """
INSERT INTO ledger_entry (account_id, kind, amount_fen, posted_at, period, source)
SELECT c.account_id,
       CASE WHEN k % 2 = 0 THEN 'charge' ELSE 'payment' END,
       CASE WHEN k % 2 = 0 THEN -base.fen
            -- ordinary meters pay each bill (one in ten pays only 90 %: arrears); prepaid meters top up ahead
            WHEN c.account_id % 3 = 2 AND c.account_id % 30 <> 0 THEN base.fen
            WHEN c.account_id % 3 = 2 THEN base.fen * 9 / 10
            ELSE base.fen * 11 / 10 END,
       t.at,
       CASE WHEN k % 2 = 0 THEN to_char(t.at + interval '8 hours', 'YYYY-MM') END,
       'billing'
FROM unnest($1::bigint[], $2::int[]) AS c(account_id, n)
CROSS JOIN LATERAL generate_series(0, c.n - 1) AS k
CROSS JOIN LATERAL (SELECT 300 + ((c.account_id * 7919 + (k / 2) * 104729) % 6000) AS fen) AS base
CROSS JOIN LATERAL (SELECT $3::timestamp - (c.n - k) * (interval '730 days' / c.n)
                           + ((c.account_id + k) % 600) * interval '1 minute' AS at) AS t
"""
READINGS_SQL = """
INSERT INTO meter_reading (account_id, read_on, value_milli, usage_milli, source)
SELECT a, (date_trunc('month', $3::date) - m * interval '1 month' + interval '14 days')::date,
       100000 + (a % 5000) * 1000 + (24 - m) * 40000 + u.usage, u.usage, 'billing'
FROM generate_series($1::bigint, $2::bigint) AS a
CROSS JOIN generate_series(1, 24) AS m
CROSS JOIN LATERAL (SELECT 5000 + ((a * 31 + m * 977) % 55000) AS usage) AS u
"""


async def bulk_load(url: str, n_accounts: int, n_rows: int, now: datetime) -> dict[str, Any]:
    """Accounts, residents and links with COPY; ledger rows and readings generated inside PostgreSQL."""
    import asyncpg

    conn = await asyncpg.connect(_dsn(url))
    t0 = time.perf_counter()
    # Non-unique secondary indexes are rebuilt after the load (much faster than maintaining them row by row).
    rebuild = await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
        "AND tablename IN ('ledger_entry', 'meter_reading', 'account_link') "
        "AND indexname NOT IN (SELECT conname FROM pg_constraint)")
    for row in rebuild:
        await conn.execute(f'DROP INDEX "{row["indexname"]}"')
    # The generated rows are consistent by construction: skip the per-row foreign-key triggers while loading.
    await conn.execute("SET session_replication_role = replica")
    counts = ledger_counts(n_accounts, n_rows)
    today = now.astimezone(LOCAL_TZ).date()
    created = naive_utc(now)
    acc_rows, res_rows, link_rows = [], [], []
    for acc_id in range(1, n_accounts + 1):
        i = acc_id - 1
        utility = UTILITIES[i % 3]
        number = account_numbers.make(utility, SERIAL_BASE + acc_id)
        meter = MeterType.smart if i % 3 != 1 else (MeterType.ordinary if i % 2 else MeterType.ic_card)
        acc_rows.append((acc_id, number, f"B-{number}", utility.value, "张三", DISTRICTS[i % 4], "人民路",
                         str(i % 50 + 1), "1", "101", f"139{acc_id:08d}", None, meter.value,
                         AccountState.connected.value, 2 + i % 5, None, created, created))
        res_rows.append((acc_id, "居民", "zh_Hans", False, False, 0, 0, created))
        link_rows.append((acc_id, acc_id, acc_id, created, LinkMethod.contact.value, "self", i % 2 == 0))
    await conn.copy_records_to_table("utility_account", records=acc_rows, columns=[
        "id", "number", "external_id", "utility", "holder_name", "district", "street", "building", "unit",
        "room", "phone", "bill_code_hash", "meter_type", "state", "household_size", "low_credit_threshold_fen",
        "created_at", "updated_at"])
    await conn.copy_records_to_table("resident", records=res_rows, columns=[
        "id", "first_name", "language", "guided_mode", "blocked", "link_failures", "misses", "created_at"])
    await conn.copy_records_to_table("account_link", records=link_rows, columns=[
        "id", "resident_id", "account_id", "verified_at", "method", "relation", "alerts_enabled"])
    t_accounts = time.perf_counter() - t0
    ledger_total = readings_total = 0
    for start in range(0, n_accounts, CHUNK_ACCOUNTS * 4):
        ids = list(range(start + 1, min(n_accounts, start + CHUNK_ACCOUNTS * 4) + 1))
        status = await conn.execute(LEDGER_SQL, ids, [counts[i - 1] for i in ids], created)
        ledger_total += int(status.split()[-1])
        status = await conn.execute(READINGS_SQL, ids[0], ids[-1], today)
        readings_total += int(status.split()[-1])
    loaded = time.perf_counter() - t0
    await conn.execute("SET session_replication_role = DEFAULT")
    for row in rebuild:
        await conn.execute(row["indexdef"])
    for table in ("utility_account", "account_link"):
        await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {n_accounts})")
    await conn.execute("VACUUM ANALYZE")
    await conn.close()
    return {"accounts": n_accounts, "ledger": ledger_total, "readings": readings_total, "accounts_s": t_accounts,
            "load_s": loaded, "total_s": time.perf_counter() - t0,
            "indexes_rebuilt": [r["indexname"] for r in rebuild]}


# --- balance view --------------------------------------------------------------------------------------------


async def balance_lookups(ctx: AppContext, n_accounts: int, lookups: int, now: datetime) -> dict[str, Any]:
    from sqlalchemy import event, text

    rng = random.Random(7)
    statements = [0]

    @event.listens_for(ctx.engine.sync_engine, "before_cursor_execute")
    def _count(*_args: Any) -> None:
        statements[0] += 1

    cpu: list[float] = []

    async def one(account_id: int) -> float:
        t, c = time.perf_counter(), time.process_time()
        async with ctx.sessionmaker() as session:
            link = await accounts.get_link(session, account_id, account_id)  # resident id = account id here
            summary = await accounts.account_summary(session, link.account, now=now)
        elapsed = (time.perf_counter() - t) * 1000
        cpu.append((time.process_time() - c) * 1000)
        assert len(summary.months) == 12 and summary.avg_daily_use_milli
        return elapsed

    for _ in range(100):  # warm the pool and the caches
        await one(rng.randint(1, n_accounts))
    cpu.clear()
    statements[0] = 0
    light, heavy = [], []
    ids = [rng.randint(1, n_accounts) for _ in range(lookups)]
    heavy_ids = [i for i in range(1, n_accounts + 1, HEAVY_SHARE)]
    for account_id in ids:
        (heavy if (account_id - 1) % HEAVY_SHARE == 0 else light).append(await one(account_id))
    per_lookup = statements[0] / lookups
    client_cpu = list(cpu)
    # The same accounts again: their pages are now in PostgreSQL's shared buffers (a resident who opens the
    # balance view usually comes back to it, and an active account's rows stay cached).
    warm = [await one(account_id) for account_id in ids]
    heavy_only = [await one(rng.choice(heavy_ids)) for _ in range(min(500, lookups))]
    everything = light + heavy

    async def floor() -> float:
        """The same session and 3 round trips doing nothing (SELECT 1): what the machine itself costs."""
        t = time.perf_counter()
        async with ctx.sessionmaker() as session:
            for _ in range(3):
                await session.execute(text("SELECT 1"))
        return (time.perf_counter() - t) * 1000

    floors = [await floor() for _ in range(min(1000, lookups))]
    return {
        "n": len(everything), "p50": statistics.median(everything), "p99": pct(everything, 0.99),
        "max": max(everything), "heavy_n": len(heavy_only), "heavy_p50": statistics.median(heavy_only),
        "heavy_p99": pct(heavy_only, 0.99), "statements": per_lookup,
        "cpu_p50": statistics.median(client_cpu), "cpu_p99": pct(client_cpu, 0.99),
        "warm_n": len(warm), "warm_p50": statistics.median(warm), "warm_p99": pct(warm, 0.99),
        "warm_max": max(warm),
        "floor_n": len(floors), "floor_p50": statistics.median(floors), "floor_p99": pct(floors, 0.99),
    }


async def explain_summary(url: str, account_id: int) -> list[str]:
    """The plans of the summary's queries (to show they are index scans)."""
    import asyncpg

    conn = await asyncpg.connect(_dsn(url))
    plans = []
    try:
        for sql in (
            "SELECT sum(amount_fen) FROM ledger_entry WHERE account_id = $1",
            "SELECT amount_fen, posted_at FROM ledger_entry WHERE account_id = $1 AND kind = 'payment' "
            "ORDER BY posted_at DESC, id DESC LIMIT 1",
            "SELECT read_on, value_milli, usage_milli FROM meter_reading WHERE account_id = $1 "
            "AND read_on >= now() - interval '1 year' ORDER BY read_on, id",
        ):
            rows = await conn.fetch("EXPLAIN " + sql, account_id)
            plans.append(" / ".join(r[0].strip().split("  (cost")[0] for r in rows if "Scan" in r[0]))
    finally:
        await conn.close()
    return plans


# --- import --------------------------------------------------------------------------------------------------


def import_csv_text(n_rows: int, n_accounts: int, now: datetime) -> str:
    """A monthly billing file: 10 % account records (half new), 30 % readings, 60 % charges and payments."""
    rng = random.Random(11)
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(billing.COLUMNS)
    blank = dict.fromkeys(billing.COLUMNS, "")
    today = now.astimezone(LOCAL_TZ).date()
    n_acc = n_rows // 10
    n_read = n_rows * 3 // 10
    n_ledger = n_rows - n_acc - n_read

    updated: set[int] = set()

    def row(**values: str) -> list[str]:
        return [values.get(c, blank[c]) for c in billing.COLUMNS]

    for k in range(n_acc):
        if k % 2 == 0:  # a new account
            serial = SERIAL_BASE + n_accounts + 1 + k
        else:  # an update of an existing one (matched by external_id)
            serial = SERIAL_BASE + rng.randint(1, n_accounts)
            while serial in updated:
                serial = SERIAL_BASE + rng.randint(1, n_accounts)
            updated.add(serial)
        utility = UTILITIES[(serial - SERIAL_BASE - 1) % 3]
        number = account_numbers.make(utility, serial)
        w.writerow(row(type="account", external_id=f"B-{number}", account=number, utility=utility.value,
                       holder_name="李四", district=DISTRICTS[k % 4], street="解放路", building=str(k % 40 + 1),
                       unit="2", room="302", phone=f"137{k:08d}", bill_code=f"{k % 10**6:06d}",
                       meter_type="smart", state="connected", household_size=str(1 + k % 6)))
    for k in range(n_read):
        acc = rng.randint(1, n_accounts)
        number = account_numbers.make(UTILITIES[(acc - 1) % 3], SERIAL_BASE + acc)
        w.writerow(row(type="reading", external_id=f"R-{today:%Y%m}-{k}", account=number,
                       date=today.isoformat(), value=f"{rng.randint(1000, 90000)}.{rng.randint(0, 999):03d}",
                       usage=f"{rng.randint(5, 60)}.{rng.randint(0, 999):03d}"))
    for k in range(n_ledger):
        acc = rng.randint(1, n_accounts)
        number = account_numbers.make(UTILITIES[(acc - 1) % 3], SERIAL_BASE + acc)
        kind = "charge" if k % 2 == 0 else "payment"
        w.writerow(row(type=kind, external_id=f"L-{today:%Y%m}-{k}", account=number,
                       date=(today - timedelta(days=rng.randint(0, 20))).isoformat(),
                       amount=f"{rng.randint(10, 400)}.{rng.randint(0, 99):02d}",
                       description="月度费用" if kind == "charge" else "银行代扣"))
    return out.getvalue()


async def import_inprocess(ctx: AppContext, data: bytes, now: datetime) -> tuple[billing.ImportReport, float]:
    t = time.perf_counter()
    async with ctx.sessionmaker() as session:
        report = await billing.import_csv(session, data, now=now, actor="bench")
    return report, time.perf_counter() - t


def import_cli(url: str, path: Path) -> tuple[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ONESTOP_", "DATABASE_URL", "TELEGRAM_"))}
    env["DATABASE_URL"] = url
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "onestop.cli", "import", str(path)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=1800)
    elapsed = time.perf_counter() - t
    if out.returncode != 0:
        raise RuntimeError(f"onestop import failed:\n{out.stdout}\n{out.stderr[-3000:]}")
    return out.stdout.strip(), elapsed


# --- command line --------------------------------------------------------------------------------------------


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", required=True, help="PostgreSQL URL; the bench uses its own database beside it")
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--ledger", type=int, default=5_000_000)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--import-rows", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true",
                        help="use the database a --keep run left (skip the load), only time the balance view, "
                             "then drop it (unless --keep)")
    args = parser.parse_args()

    now = datetime.now(UTC)
    url = args.pg.rsplit("/", 1)[0] + f"/{DB_NAME}" if args.reuse else await create_db(args.pg)
    try:
        settings = Settings()
        settings.database_url = url
        ctx = AppContext.create(settings)
        if not args.reuse:
            async with ctx.engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
            load = await bulk_load(url, args.accounts, args.ledger, now)
            print(f"loaded {load['accounts']:,} accounts, {load['ledger']:,} ledger rows, {load['readings']:,} "
                  f"readings in {load['total_s']:.1f} s (accounts, residents, links by COPY "
                  f"{load['accounts_s']:.1f} s; all rows {load['load_s']:.1f} s; then rebuilt "
                  f"{', '.join(load['indexes_rebuilt'])} and VACUUM ANALYZE)")
        for plan in await explain_summary(url, 2):
            print("  plan:", plan)

        view = await balance_lookups(ctx, args.accounts, args.lookups, now)
        print("| balance view (get_link + account_summary), PostgreSQL | lookups | p50 ms | p99 ms | max ms |")
        print("|---|---|---|---|---|")
        print(f"| random accounts, first visit ({args.ledger // args.accounts} ledger rows on average) | {view['n']} | "
              f"{view['p50']:.2f} | {view['p99']:.2f} | {view['max']:.2f} |")
        print(f"| the same accounts again (cached) | {view['warm_n']} | {view['warm_p50']:.2f} | "
              f"{view['warm_p99']:.2f} | {view['warm_max']:.2f} |")
        print(f"| heavy accounts only ({HEAVY_ROWS} ledger rows) | {view['heavy_n']} | {view['heavy_p50']:.2f} | "
              f"{view['heavy_p99']:.2f} | - |")
        print(f"| floor: the same session with 3 × `SELECT 1` | {view['floor_n']} | {view['floor_p50']:.2f} | "
              f"{view['floor_p99']:.2f} | - |")
        print(f"  {view['statements']:.1f} SQL statements per lookup; CPU (user + kernel) of this process p50 "
              f"{view['cpu_p50']:.2f} ms, p99 {view['cpu_p99']:.2f} ms; load average "
              f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
        if args.reuse:
            await ctx.close()
            return

        text = import_csv_text(args.import_rows, args.accounts, now)
        data = text.encode()
        report, seconds = await import_inprocess(ctx, data, now)
        assert report.ok and report.applied, report.as_dict()
        await ctx.close()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "billing.csv"
            path.write_bytes(data)
            cli_out, cli_seconds = import_cli(url, path)
        print(f"| import (PostgreSQL, {load['ledger']:,} ledger rows in place) | rows | seconds | rows/s |")
        print("|---|---|---|---|")
        print(f"| `billing.import_csv` (what `onestop import` runs), first time: created "
              f"{sum(report.created.values()):,}, updated {sum(report.updated.values()):,} | {report.rows:,} | "
              f"{seconds:.1f} | {report.rows / seconds:,.0f} |")
        print(f"| same file again via `onestop import` subprocess (all updates; incl. start-up) | {report.rows:,} | "
              f"{cli_seconds:.1f} | {report.rows / cli_seconds:,.0f} |")
        print(f"  cli: {cli_out}")
    finally:
        if not args.keep:
            await drop_db(args.pg)


if __name__ == "__main__":
    asyncio.run(main())
