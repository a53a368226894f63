"""Running `twistd -n sequenzia` as a real subprocess and talking to it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

TWISTD = str(Path(sys.executable).with_name("twistd"))
LISTENING = re.compile(r"Sequenzia is listening at (http://\S+/)")


def url_string(url) -> str:  # a DatabaseURL, with its password
    if url.dialect == "sqlite":
        return f"sqlite:///{url.database}"
    auth = f"{url.user}:{url.password}@" if url.password else f"{url.user}@"
    return f"mysql://{auth}{url.host}:{url.port}/{url.database}"


class Twistd:
    """A running twistd; its output is collected line by line on a thread."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        full_env = {**os.environ, **(env or {})}
        full_env.pop("SEQUENZIA_CONFIG", None)
        self.proc = subprocess.Popen(
            [TWISTD, "--nodaemon", "--pidfile=", "sequenzia", *args],
            cwd=cwd,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.errors: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.lines), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.errors), daemon=True),
        ]
        for t in self._readers:
            t.start()

    @staticmethod
    def _read(stream, into: list[str]) -> None:
        for line in stream:
            into.append(line.rstrip("\n"))

    def wait_for_url(self, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                m = LISTENING.search(line)
                if m:
                    return m.group(1)
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"twistd did not listen; stdout={self.lines} stderr={self.errors}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        for t in self._readers:
            t.join(5)
        return code

    def finish(self, timeout: float = 30.0) -> int:
        code = self.proc.wait(timeout)
        for t in self._readers:
            t.join(5)
        return code


def get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.headers["Content-Type"] == "application/json"
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        assert e.headers["Content-Type"] == "application/json"
        return e.code, json.loads(e.read())
