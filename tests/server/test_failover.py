"""Two io processes on one database: one writes, the other stands by and takes over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sequenzia.db.direct import run_interaction
from sequenzia.db.url import DatabaseURL
from sequenzia.discordio import journal
from tests.server.test_crash import _history, _wait
from tests.server.twistd_process import Twistd, url_string

FAILOVER_S = 3
UPLOADS = 40


def _start_devcord(directory: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "sequenzia", "devcord", "--listen", "tcp:0:interface=127.0.0.1"]
        + ["--data", str(directory)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _io(config: Path, data: Path, cwd: Path) -> Twistd:
    return Twistd(["--role", "io", "--config", str(config), "--data", str(data)], cwd=cwd)


def _logged(process: Twistd, text: str) -> bool:
    return any(text in line for line in list(process.lines))


def test_a_standby_takes_over_after_kill_9_and_nothing_is_written_twice(
    tmp_path: Path, db_url: DatabaseURL
) -> None:
    devcord_dir = tmp_path / "devcord"
    devcord = _start_devcord(devcord_dir)
    first = second = None
    try:
        info = _wait(
            lambda: (
                (devcord_dir / "devcord.json").exists()
                and json.loads((devcord_dir / "devcord.json").read_text())
            ),
            30,
            "devcord up",
        )
        config = tmp_path / "sequenzia.toml"
        config.write_text(
            f'[database]\nurl = "{url_string(db_url)}"\n'
            f'[discord]\ntoken = "{info["bot_token"]}"\napi_base = "{info["api_base"]}"\n'
            f"failover_seconds = {FAILOVER_S}\n"
        )
        first = _io(config, tmp_path / "a", tmp_path)
        _wait(lambda: _logged(first, "Discord I/O active"), 30, "the first io process active")
        second = _io(config, tmp_path / "b", tmp_path)
        time.sleep(FAILOVER_S + 1)  # long enough to take the lease, were it free
        assert not _logged(second, "Discord I/O active"), "two writers at once"

        def pool(txn):  # type: ignore[no-untyped-def]
            txn.execute("SELECT id FROM channels WHERE is_data = 1 ORDER BY id")
            return [int(r[0]) for r in txn.fetchall()]

        data_channels = run_interaction(db_url, pool)
        assert len(data_channels) == 4
        staged = tmp_path / "staged"
        staged.mkdir()
        for n in range(UPLOADS):
            (staged / f"{n}.bin").write_bytes(os.urandom(2000))
            payload = {
                "channel_ids": data_channels,
                "content": f"part {n}",
                "files": [{"path": str(staged / f"{n}.bin"), "filename": f"{n}.bin"}],
            }
            run_interaction(db_url, journal.enqueue, "post", payload, idempotency_key=f"p{n}")
        _wait(lambda: run_interaction(db_url, journal.counts)["done"] >= 5, 30, "some done")
        first.proc.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        first.finish()
        assert run_interaction(db_url, journal.counts)["done"] < UPLOADS, "killed too late"

        _wait(lambda: _logged(second, "Discord I/O active"), 30, "the standby takes over")
        took = time.monotonic() - killed_at
        assert took < FAILOVER_S + 10, f"takeover took {took:.1f}s"
        _wait(
            lambda: run_interaction(db_url, journal.counts)["done"] == UPLOADS,
            90,
            f"all {UPLOADS} done after the takeover",
        )
        contents = [m["content"] for c in data_channels for m in _history(info, c)]
        for n in range(UPLOADS):
            assert contents.count(f"part {n}") == 1, (
                f"part {n} landed {contents.count(f'part {n}')} times"
            )
        assert run_interaction(db_url, journal.counts)["failed"] == 0
        assert second.stop() == 0
    finally:
        for process in (first, second):
            if process is not None and process.proc.poll() is None:
                process.proc.kill()
                process.finish()
        devcord.terminate()
        devcord.wait(10)
