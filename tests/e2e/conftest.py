"""Start the real `onestop run` in sandbox mode as a subprocess on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningApp:
    base: str
    env: dict[str, str]
    log: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=30)


def _cli(*args: str, env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-m", "onestop.cli", *args], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120, check=True)
    return out.stdout


def cli_secret(*args: str, env: dict[str, str]) -> str:
    """Run a command that creates a password or token and return it. Stdout is not a terminal here, so the
    secret goes to the 0600 file beside the database, never to the output (issue 12 F9)."""
    out = _cli(*args, env=env)
    db = Path(env["DATABASE_URL"].split("///", 1)[1])
    secret = (db.parent / "onestop-credentials.txt").read_text().strip().splitlines()[-1].rsplit(": ", 1)[1]
    assert secret not in out
    return secret


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


class Resident:
    """Plays one sandbox persona over the resident API."""

    def __init__(self, client: httpx.Client, user_id: int) -> None:
        self.c = client
        self.id = user_id
        self.seq = self.c.get(f"/sandbox/api/personas/{user_id}/chat").json()["last_seq"]

    def send(self, **body: object) -> None:
        r = self.c.post(f"/sandbox/api/personas/{self.id}/send", json=body)
        r.raise_for_status()

    def tap(self, message_id: int, data: str) -> None:
        r = self.c.post(f"/sandbox/api/personas/{self.id}/callback", json={"message_id": message_id, "data": data})
        r.raise_for_status()

    def wait_for(self, predicate, timeout: float = 20.0) -> list[dict]:
        """Bot entries since the last call, until one satisfies ``predicate``."""
        seen: list[dict] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.c.get(f"/sandbox/api/personas/{self.id}/chat", params={"after": self.seq, "wait": 2})
            data = r.json()
            for entry in data["entries"]:
                self.seq = max(self.seq, entry["seq"])
                if entry.get("from") == "bot":
                    seen.append(entry)
                    if predicate(entry):
                        return seen
        raise AssertionError(f"no matching bot message within {timeout}s; got {[e.get('text') for e in seen]}")

    def reply_keyboard(self) -> list[str]:
        kb = self.c.get(f"/sandbox/api/personas/{self.id}/chat").json().get("reply_keyboard") or {}
        return [b["text"] for row in kb.get("keyboard", []) for b in row]


def inline_buttons(entry: dict) -> list[dict]:
    markup = entry.get("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]
