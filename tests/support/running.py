"""Helpers for the running `onestop run` (a subprocess on a free port): the CLI, the app's address and a sandbox
persona played over the resident API."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]  # tests/support/running.py -> the repository


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


@contextlib.contextmanager
def serve(env: dict[str, str], port: int, log: Path) -> Iterator[str]:
    """`onestop run` as a subprocess until the block ends; yields its base URL once /healthz answers."""
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
    try:
        yield base
    finally:
        # SIGTERM stops it cleanly (issue 13): exit 0 within the graceful timeouts, no traceback, even with a
        # long poll (the sandbox's own bot) or a console live stream still open.
        started = time.monotonic()
        proc.terminate()
        try:
            code = proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = None
        took = time.monotonic() - started
        text = log.read_text(errors="replace")
        assert code == 0 and "Traceback" not in text and took < 12, (code, round(took, 1), text[-3000:])


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
