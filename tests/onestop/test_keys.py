"""Issue 12 F4 (secret key) and F9 (keyed bill-code hashes, passwords never in logs)."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from api.app import create_app
from core import keys, staff
from core.context import AppContext
from core.demo import hash_bill_code
from core.settings import Settings
from db.base import Base
from db.enums import StaffRole
from onestop.runner import ensure_admin
from tests.support.console import PASSWORD, login


def _settings(tmp_path: Path, **kw) -> Settings:
    return Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/demo.db", **kw)


def test_production_refuses_to_start_without_a_key_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ONESTOP_", "TELEGRAM_"))}
    env.update(TELEGRAM_BOT_TOKEN="123456:real-looking-token", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/p.db")
    r = subprocess.run([sys.executable, "-m", "onestop.cli", "api"], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=120, check=False)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "ONESTOP_SECRET_KEY" in lines[0] and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "p.db").exists()  # refused before any work


def test_production_with_a_key_uses_it(tmp_path: Path) -> None:
    s = _settings(tmp_path, telegram_bot_token=SecretStr("1:x"), secret_key=SecretStr("k" * 40))
    assert keys.resolve_secret_key(s) == "k" * 40
    with pytest.raises(keys.SecretKeyMissing):
        keys.resolve_secret_key(_settings(tmp_path, telegram_bot_token=SecretStr("1:x")))


def test_demo_key_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = keys.resolve_secret_key(_settings(tmp_path))
    path = tmp_path / ("demo.db" + keys.KEY_FILE_SUFFIX)
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keys.resolve_secret_key(_settings(tmp_path)) == first  # a restart: same key, logins survive
    assert len(first) >= 40


async def test_demo_sessions_survive_a_restart(tmp_path: Path, clock) -> None:
    """Two app instances on one demo database (a restart) accept each other's cookies."""
    cookies = None
    for round_ in range(2):
        ctx = AppContext.create(_settings(tmp_path), clock=clock)
        try:
            if round_ == 0:
                async with ctx.engine.begin() as conn:
                    await conn.run_sync(Base.metadata.create_all)
                async with ctx.sessionmaker() as s:
                    await staff.create_staff(s, username="ann", display_name="Ann", role=StaffRole.agent,
                                             password=PASSWORD, now=ctx.clock.now())
                    await s.commit()
            app = create_app(ctx)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                                         cookies=cookies) as c:
                if round_ == 0:
                    assert (await login(c, "ann")).status_code == 303
                    cookies = dict(c.cookies)
                else:
                    assert (await c.get("/console/queue", follow_redirects=False)).status_code == 200
        finally:
            await ctx.close()


def test_bill_codes_are_keyed_hmac_not_plain_sha256(ctx) -> None:
    digest = hash_bill_code("123456")
    assert digest != keys.legacy_bill_code_hash("123456")
    # Without the key, a table of all 10^6 codes is useless; with another key the digest differs.
    assert digest == keys.bill_code_hmac(keys.bill_code_key("test-secret"), "123456")
    assert digest != keys.bill_code_hmac(keys.bill_code_key("another-secret"), "123456")


def test_passwords_go_to_a_private_file_when_stdout_is_not_a_tty(tmp_path: Path) -> None:
    out = io.StringIO()  # not a TTY: a log collector, a service manager
    printed = keys.reveal(["admin password: s3cret-value"], _settings(tmp_path), stream=out)
    assert "s3cret-value" not in out.getvalue() and "s3cret-value" not in printed
    path = keys.credentials_file(_settings(tmp_path))
    assert str(path) in out.getvalue()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and "s3cret-value" in path.read_text()


def test_passwords_are_printed_at_a_terminal(tmp_path: Path) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    keys.reveal(["admin password: s3cret-value"], _settings(tmp_path), stream=out)
    assert "s3cret-value" in out.getvalue()
    assert not keys.credentials_file(_settings(tmp_path)).exists()


async def test_first_run_admin_password_is_not_logged(tmp_path: Path, clock, caplog, capsys) -> None:

    ctx = AppContext.create(_settings(tmp_path), clock=clock)
    try:
        async with ctx.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        await ensure_admin(ctx)
    finally:
        await ctx.close()
    captured = capsys.readouterr().out  # pytest's capture is not a TTY
    text = keys.credentials_file(_settings(tmp_path)).read_text()
    password = text.split("password: ")[1].split()[0]
    assert password not in captured and password not in caplog.text
    assert "onestop-credentials.txt" in captured
