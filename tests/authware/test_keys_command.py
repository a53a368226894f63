"""`sequenzia keys`: keys shown once, stored as hashes, listed without secrets, revoked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sequenzia.authware import keys
from sequenzia.db.direct import run_interaction
from sequenzia.db.url import parse_database_url


def test_create_list_revoke(tmp_path: Path) -> None:
    data = tmp_path / "d"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sequenzia", "keys", *args, "--data", str(data)],
            capture_output=True,
            text=True,
            timeout=60,
        )

    subprocess.run(
        [sys.executable, "-m", "sequenzia", "db", "upgrade", "--data", str(data)],
        check=True,
        capture_output=True,
    )
    url = parse_database_url(f"sqlite:///{data}/sequenzia.sqlite3")
    made = cli("create", "--name", "living-room frame")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    grant = run_interaction(url, keys.lookup, key)
    assert grant is not None and grant.scope == "read" and grant.kind == "static"
    writer = cli("create", "--name", "script", "--scope", "write", "--kind", "api").stdout.strip()
    assert run_interaction(url, keys.lookup, writer).scope == "write"

    listed = cli("list")
    assert "living-room frame" in listed.stdout and key[:12] in listed.stdout
    assert key not in listed.stdout, "the secret is never shown again"

    assert cli("create", "--name", "x", "--scope", "admin").returncode == 2
    assert cli("create", "--name", "x", "--user", "me").returncode == 2
    short = cli("revoke", "sqk_")
    assert short.returncode == 2 and "first 12 characters" in short.stderr
    revoked = cli("revoke", key[:12])
    assert revoked.returncode == 0, revoked.stderr
    assert run_interaction(url, keys.lookup, key) is None
    again = cli("revoke", key[:12])
    assert again.returncode == 1 and "no active key" in again.stderr
    assert "Traceback" not in again.stderr + short.stderr
