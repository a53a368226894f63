"""kill -9 of the server in the middle of an upload: the parts it acknowledged survive."""

from __future__ import annotations

import json
import os
import signal
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from sequenzia.spans.hashing import xxh3_128_hex
from tests.server.test_crash import _wait
from tests.server.twistd_process import Twistd

MiB = 1024 * 1024


def call(
    base: str,
    key: str,
    method: str,
    path: str,
    body: Any = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(
        base + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {key}", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=90) as response:
            content = response.read()
            return response.status, json.loads(
                content
            ) if response.headers.get_content_type() == "application/json" else content
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def put_parts(api: str, key: str, upload: dict[str, Any], payload: bytes, indexes: range) -> None:
    for n in indexes:
        part = payload[n * MiB : (n + 1) * MiB]
        headers = {"X-Xxh3-128": xxh3_128_hex(part)}
        status, body = call(
            api, key, "PUT", f"/uploads/{upload['id']}/parts/{n}", raw=part, headers=headers
        )
        assert status == 200, body


def provisioned_channels(api: str, key: str) -> list[dict[str, Any]]:
    """The server's channels once its data pool and archive exist (created at start)."""
    return _wait(  # type: ignore[no-any-return]
        lambda: (lambda c: c if len(c) >= 5 else None)(
            call(api, key, "GET", "/channels")[1].get("channels", [])
        ),
        30,
        "channels provisioned",
    )


def start(tmp_path: Path, data: Path, config: Path) -> tuple[Twistd, str, str]:
    server = Twistd(
        ["--listen", "tcp:0:interface=127.0.0.1", "--data", str(data), "--config", str(config)],
        cwd=tmp_path,
    )
    url = server.wait_for_url().rstrip("/")
    key = _wait(
        lambda: (data / "owner.key").exists() and (data / "owner.key").read_text().strip(),
        20,
        "owner key",
    )
    return server, url, key


def test_kill_9_mid_upload_then_the_upload_resumes(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    config = tmp_path / "sequenzia.toml"
    config.write_text("[spans]\npart_size_mib = 1\n")
    payload = os.urandom(5 * MiB + 77)
    server, base, key = start(tmp_path, data_dir, config)
    try:
        api = base + "/api/v1"
        channels = provisioned_channels(api, key)
        general = next(c for c in channels if c["name"] == "general")
        status, body = call(
            api, key, "POST", "/uploads",
            {"name": "big.bin", "size": len(payload), "xxh3_128": xxh3_128_hex(payload), "channel_id": general["id"]},
        )  # fmt: skip
        assert status == 201, body
        upload = body["upload"]
        put_parts(api, key, upload, payload, range(3))
    finally:
        server.proc.send_signal(signal.SIGKILL)
        server.finish()

    server, base, key = start(tmp_path, data_dir, config)
    try:
        api = base + "/api/v1"
        status, body = call(api, key, "GET", f"/uploads/{upload['id']}")
        assert body["upload"]["received"] == [0, 1, 2], "acknowledged parts survive the crash"
        put_parts(api, key, upload, payload, range(3, upload["part_count"]))
        status, body = call(api, key, "POST", f"/uploads/{upload['id']}/complete?wait=60")
        assert status == 200 and body["upload"]["state"] == "stored", body
        eid = body["upload"]["eid"]
        status, shown = call(api, key, "GET", f"/records/{eid}")
        status, content = call(base, key, "GET", shown["record"]["file"]["url"])
        assert status == 200 and content == payload
        assert server.stop() == 0
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
            server.finish()
