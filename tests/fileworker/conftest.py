"""A real server (twistd with its embedded devcord) and the `sequenzia` command run against it.

One server serves the whole package: starting one takes seconds, and every test works in
its own files and cache directory. Parts are 1 MiB so multi-part files stay small.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.server.twistd_process import Twistd

MiB = 1024 * 1024
SEQUENZIA = str(Path(sys.executable).with_name("sequenzia"))
LOOPBACK = "tcp:0:interface=127.0.0.1"


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached within {timeout}s")


@dataclass
class Server:
    url: str  # no trailing slash
    key: str
    data: Path
    devcord: dict[str, Any]
    twistd: Twistd

    def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """A JSON API call with the owner key."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.url}/api/v1{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def devcord_call(self, method: str, path: str, body: Any, auth: str) -> Any:
        """A call to devcord itself (its Discord API or its fault switch)."""
        request = urllib.request.Request(
            path if path.startswith("http") else self.devcord["api_base"] + path,
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Authorization": auth, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def fault(self, body: dict[str, Any]) -> None:
        """Switch on a devcord fault (DESIGN §7): the real misbehaviour, not a mock."""
        base = self.devcord["api_base"].split("/api/")[0]
        self.devcord_call(
            "POST", f"{base}/_devcord/faults", body, f"Bearer {self.devcord['admin_token']}"
        )

    def channel_id(self, name: str) -> str:
        def find() -> str | None:
            _, body = self.api("GET", f"/channels?name={name}")
            found = [c["id"] for c in body["channels"] if c["kind"] == "text"]
            return found[0] if found else None

        return str(wait_for(find, 20, f"channel #{name}"))

    def create_channel(self, name: str) -> str:
        """A new text channel in devcord's guild, once the server has mirrored it."""
        self.devcord_call(
            "POST",
            f"/guilds/{self.devcord['guild_id']}/channels",
            {"name": name, "type": 0},
            f"Bot {self.devcord['bot_token']}",
        )
        return self.channel_id(name)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("fileworker-server")
    data = root / "data"
    config = root / "sequenzia.toml"
    config.write_text("[spans]\npart_size_mib = 1\n")
    twistd = Twistd(
        ["--config", str(config), "--listen", LOOPBACK, "--data", str(data)],
        cwd=root,
    )
    try:
        url = twistd.wait_for_url().rstrip("/")
        wait_for(lambda: (data / "server.url").exists(), 20, "server.url written")
        key = wait_for(
            lambda: (data / "owner.key").exists() and (data / "owner.key").read_text().strip(),
            20,
            "owner.key written",
        )
        info = json.loads((data / "devcord" / "devcord.json").read_text())
        found = Server(url, key, data, info, twistd)

        def data_channels() -> bool:
            status, body = found.api("GET", "/channels")  # 401 until the key is committed
            names = {c["name"] for c in body.get("channels", []) if c["is_data"]}
            return {"data-0", "data-1", "data-2", "data-3"} <= names

        wait_for(data_channels, 30, "data channels data-0..3")
        found.channel_id("general")
        yield found
    finally:
        twistd.stop()


@dataclass
class Cli:
    """Runs `sequenzia ...` as a subprocess, as a user would, against the test server."""

    server: Server
    cwd: Path
    env: dict[str, str]

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [SEQUENZIA, *args],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [SEQUENZIA, *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def json_lines(self, result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
        assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
        return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture
def cli(server: Server, tmp_path: Path) -> Cli:
    """The command in a fresh working directory and cache, finding the server by --data."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEQUENZIA_")}
    env["SEQUENZIA_DATA"] = str(server.data)  # the local-server way: server.url, owner.key
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    work = tmp_path / "work"
    work.mkdir()
    return Cli(server, work, env)
