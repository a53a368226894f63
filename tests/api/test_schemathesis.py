"""Schemathesis against /api/v1/openapi.json of a running server: no input gets a 500."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.server.test_upload_crash import start


def test_no_generated_request_gets_a_server_error(tmp_path: Path) -> None:
    server, base, key = start(tmp_path, tmp_path / "data", _config(tmp_path))
    try:
        runner = (
            shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
        )
        done = subprocess.run(
            [
                runner, "run", f"{base}/api/v1/openapi.json",
                "--checks", "not_a_server_error",
                "--header", f"Authorization: Bearer {key}",
                "--max-examples", "10", "--request-timeout", "30", "--seed", "1",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,  # it keeps a cache in its working directory
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
        assert " passed" in done.stdout and "failed" not in done.stdout.split("SUMMARY")[-1]
        assert server.stop() == 0
        assert not [line for line in server.lines + server.errors if "Traceback" in line]
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
            server.finish()


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "sequenzia.toml"
    config.write_text("[spans]\npart_size_mib = 1\n")
    return config
