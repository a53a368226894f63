"""`twistd -n sequenzia` as a user runs it: start, health, logs, clean stop, refusals."""

from __future__ import annotations

import json
import signal
import socket
from pathlib import Path

import pytest

from tests.server.twistd_process import Twistd, get_json, url_string

LOOPBACK = "tcp:0:interface=127.0.0.1"


def wait_ready(url: str, timeout: float = 30.0) -> dict:
    """/readyz answers 503 until every dependency answers (Discord connects last)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        status, body = get_json(url + "readyz")
        if status == 200 or time.monotonic() > deadline:
            assert status == 200, body
            return body
        assert status == 503 and body["status"] == "not ready"
        time.sleep(0.1)


def config_file(tmp_path: Path, db_url) -> Path:
    path = tmp_path / "sequenzia.toml"
    path.write_text(f'[database]\nurl = "{url_string(db_url)}"\n')
    return path


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_starts_serves_health_and_stops_cleanly(tmp_path: Path, db_url, sig: int) -> None:
    server = Twistd(
        ["--config", str(config_file(tmp_path, db_url)), "--listen", LOOPBACK, "--data", "store"],
        cwd=tmp_path,
    )
    try:
        url = server.wait_for_url()
        status, body = get_json(url + "healthz")
        assert status == 200 and body["status"] == "ok"
        body = wait_ready(url)
        assert [c["name"] for c in body["checks"]] == ["database", "bus", "discord"]
        assert all(c["ok"] for c in body["checks"]), (
            "the embedded devcord connects: Discord I/O is ready"
        )
        status, _ = get_json(url + "healthz")
    finally:
        code = server.stop(sig)
    output = "\n".join(server.lines + server.errors)
    assert code == 0, output
    assert "Traceback" not in output
    assert any("stopped cleanly" in line for line in server.lines), output
    assert (tmp_path / "store").is_dir()


def test_embedded_defaults_use_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    server = Twistd(
        ["--listen", LOOPBACK], cwd=tmp_path, env={"SEQUENZIA_DATA": str(tmp_path / "d")}
    )
    try:
        url = server.wait_for_url()
        wait_ready(url)
    finally:
        assert server.stop() == 0
    assert (tmp_path / "d" / "sequenzia.sqlite3").is_file()
    devcord = json.loads((tmp_path / "d" / "devcord" / "devcord.json").read_text())
    assert devcord["api_base"].startswith("http://127.0.0.1:"), "no token: devcord runs embedded"


def test_json_log_format_is_one_object_per_line(tmp_path: Path) -> None:
    server = Twistd(["--listen", LOOPBACK, "--data", "d", "--log-format", "json"], cwd=tmp_path)
    try:
        server.wait_for_url()
    finally:
        assert server.stop() == 0
    assert server.lines
    records = [json.loads(line) for line in server.lines]
    assert {"ts", "level", "ns", "msg"} <= set(records[0])
    listening = [r for r in records if r["msg"].startswith("Sequenzia is listening at")]
    assert listening and listening[0]["url"].startswith("http://127.0.0.1:")


@pytest.mark.parametrize(
    ("args", "config", "expected"),
    [
        (["--role", "gateway"], None, "--role must be one of all, web, io, backup"),
        (["--listen", "bogus:1"], None, "'server.listen' must be a Twisted endpoint string"),
        ([], "[server]\nlisen = 1\n", "unknown key 'server.lisen'"),
        ([], '[database]\nurl = "oracle://x"\n', "'database.url' must be a usable database URL"),
        (["--log-format", "xml"], None, "'logging.format' must be one of 'text', 'json'"),
    ],
)
def test_bad_configuration_refused_with_one_line(tmp_path: Path, args, config, expected) -> None:
    if config is not None:
        (tmp_path / "sequenzia.toml").write_text(config)
    server = Twistd([*args, "--data", "d"], cwd=tmp_path)
    assert server.finish() == 2
    assert server.errors == [server.errors[0]] and expected in server.errors[0], server.errors
    assert "Traceback" not in "\n".join(server.lines)
    assert not (tmp_path / "d").exists() or not any((tmp_path / "d").iterdir()), (
        "nothing half-started"
    )


def test_port_in_use_refused(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        server = Twistd(
            ["--listen", f"tcp:{port}:interface=127.0.0.1", "--data", "d"], cwd=tmp_path
        )
        assert server.finish() == 1
    assert any(f"cannot listen on tcp:{port}" in e for e in server.errors), server.errors
    assert "Traceback" not in "\n".join(server.lines + server.errors)


def test_unreachable_database_refused(tmp_path: Path) -> None:
    (tmp_path / "sequenzia.toml").write_text(
        '[database]\nurl = "mysql://root@127.0.0.1:1/nothing"\n'
    )
    server = Twistd(["--listen", LOOPBACK, "--data", "d"], cwd=tmp_path)
    assert server.finish() == 1
    assert len(server.errors) == 1 and "127.0.0.1:1" in server.errors[0], server.errors


def test_plugin_found_from_any_directory(tmp_path: Path) -> None:
    import subprocess

    from tests.server.twistd_process import TWISTD

    out = subprocess.run(
        [TWISTD, "--help"], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert "sequenzia" in out.stdout
    out = subprocess.run(
        [TWISTD, "sequenzia", "--help"], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    for option in ("--config", "--role", "--listen", "--data", "--log-format"):
        assert option in out.stdout
