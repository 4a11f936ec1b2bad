"""End-to-end fixtures: the real `onestop run` in sandbox mode as a subprocess on a free port."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.running import RunningApp, _cli, free_port, serve


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
    with serve(env, port, log) as base:
        yield RunningApp(base, env, log)
