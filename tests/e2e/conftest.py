"""End-to-end fixtures: the real `onestop run` in sandbox mode as a subprocess on a free port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.running import ROOT, RunningApp, _cli, free_port


@pytest.fixture(scope="module")
def running_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    tmp = tmp_path_factory.mktemp("e2e")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ONESTOP_", "DATABASE_URL"))}
    env.update(DATABASE_URL=f"sqlite+aiosqlite:///{tmp}/e2e.db", ONESTOP_PORT=str(port),
               ONESTOP_SECRET_KEY="e2e-secret", PYTHONUNBUFFERED="1")
    env.pop("REDIS_URL", None)
    _cli("migrate", env=env)
    _cli("demo-data", "--no-history", env=env)  # the flows check exact figures made by their own steps
    log = tmp / "onestop.log"
    with log.open("w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "onestop.cli", "run"], cwd=ROOT, env=env, stdout=fh,
                                stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            pytest.fail(f"onestop run exited early:\n{log.read_text()}")
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail(f"onestop run did not serve /healthz within 60 s:\n{log.read_text()}")
    yield RunningApp(base, env, log)
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
