"""kill -9 in the middle of a batch of uploads loses nothing and posts nothing twice."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from pathlib import Path

from sequenzia.db.direct import run_interaction
from sequenzia.db.url import parse_database_url
from sequenzia.discordio import journal
from tests.server.twistd_process import Twistd

LOOPBACK = "tcp:0:interface=127.0.0.1"


def _history(info: dict, channel_id: int) -> list[dict]:
    url = f"{info['api_base']}/channels/{channel_id}/messages?limit=100"
    request = urllib.request.Request(url, headers={"Authorization": f"Bot {info['bot_token']}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _wait(predicate, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached within {timeout}s")


def test_kill_9_mid_batch_then_every_upload_lands_exactly_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    url = parse_database_url(f"sqlite:///{data}/sequenzia.sqlite3")
    server = Twistd(["--listen", LOOPBACK, "--data", str(data)], cwd=tmp_path)
    try:
        server.wait_for_url()
        info = _wait(
            lambda: (
                (data / "devcord" / "devcord.json").exists()
                and json.loads((data / "devcord" / "devcord.json").read_text())
            ),
            20,
            "devcord up",
        )

        def channel() -> int | None:
            def find(txn):  # type: ignore[no-untyped-def]
                txn.execute("SELECT id FROM channels WHERE kind = 'text' ORDER BY id")
                row = txn.fetchone()
                return int(row[0]) if row else None

            return run_interaction(url, find)

        channel_id = _wait(channel, 20, "guild mirrored")
        staged = tmp_path / "staged"
        staged.mkdir()
        for n in range(50):
            (staged / f"{n}.bin").write_bytes(n.to_bytes(2, "big") * 100)
            payload = {
                "channel_id": channel_id,
                "content": f"upload {n}",
                "files": [{"path": str(staged / f"{n}.bin"), "filename": f"{n}.bin"}],
            }
            run_interaction(url, journal.enqueue, "post", payload, idempotency_key=f"upload-{n}")
        _wait(lambda: run_interaction(url, journal.counts)["done"] >= 5, 30, "some uploads done")
    finally:
        server.proc.send_signal(signal.SIGKILL)
        server.finish()
    interrupted = run_interaction(url, journal.counts)
    assert interrupted["done"] < 50, f"the kill came too late to test anything: {interrupted}"

    server = Twistd(["--listen", LOOPBACK, "--data", str(data)], cwd=tmp_path)
    try:
        server.wait_for_url()
        _wait(
            lambda: run_interaction(url, journal.counts)["done"] == 50,
            90,
            "all 50 done after the restart",
        )
        info = json.loads((data / "devcord" / "devcord.json").read_text())
        contents = [m["content"] for m in _history(info, channel_id)]
        for n in range(50):
            assert contents.count(f"upload {n}") == 1, (
                f"upload {n} landed {contents.count(f'upload {n}')} times"
            )
        assert run_interaction(url, journal.counts)["failed"] == 0

        def records(txn):  # type: ignore[no-untyped-def]
            txn.execute(
                "SELECT COUNT(*) FROM records WHERE channel_id = ? AND content LIKE 'upload %'",
                (channel_id,),
            )
            return int(txn.fetchone()[0])

        assert run_interaction(url, records) == 50
    finally:
        assert server.stop() == 0
