"""Running a real Nginx in front of a test's web server, from nginx/test.conf.in.

Nginx runs unprivileged with everything under its prefix (`nginx -p PREFIX -c CONF`,
`daemon off`), in its own process group so that stopping it takes its workers too.

Started as root, Nginx runs its workers as `nobody`, as production runs them as www-data:
a user other than the one that wrote the cache. The test keeps it that way, so a cache
file Nginx's workers cannot read fails the test as it would fail in production; nothing
here loosens the permissions of the cache's own files. What `nobody` also needs is to
traverse every directory above the prefix and the cache, and pytest's `tmp_path` sits
under `/tmp/pytest-of-<user>`, which pytest keeps at 0700 (and resets to 0700 when any
other pytest session starts, so opening it up for a test would be undone under it).
`worker_reachable_dir` makes a directory beside it instead, in the system temp directory.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.services import require_program, tcp_open

TEMPLATE = Path(__file__).resolve().parent.parent / "nginx" / "test.conf.in"
PRODUCTION = Path(__file__).resolve().parent.parent / "nginx" / "sequenzia.conf"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
PLACEHOLDER = re.compile(r"@[A-Z_]+@")


class Nginx:
    """A running Nginx: `.port`, `.url`, `.stop()`."""

    def __init__(self, proc: subprocess.Popen[bytes], prefix: Path, port: int) -> None:
        self.proc = proc
        self.prefix = prefix
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def error_log(self) -> str:
        try:
            return (self.prefix / "error.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        """Stop Nginx and its workers; safe to call twice."""
        if self.proc.poll() is not None:
            return
        # To the whole group (it is ours alone): the master stops its workers, then itself.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(STOP_TIMEOUT)


def free_port() -> int:
    """A loopback port nothing listens on right now (Nginx binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def render(template: str, prefix: Path, listen: int, upstream: int, cache_root: Path) -> str:
    """The template with its @PREFIX@, @LISTEN@, @UPSTREAM@ and @CACHE@ filled in."""
    for path in (prefix, cache_root):
        if '"' in str(path) or "\\" in str(path):
            raise ValueError(f"path unusable in a quoted Nginx string: {path}")
    text = (
        template.replace("@PREFIX@", str(prefix))
        .replace("@LISTEN@", str(listen))
        .replace("@UPSTREAM@", str(upstream))
        .replace("@CACHE@", str(cache_root).rstrip("/"))
    )
    leftover = PLACEHOLDER.findall(text)
    if leftover:
        raise ValueError(f"unfilled placeholders in the Nginx template: {leftover}")
    return text


@contextmanager
def worker_reachable_dir() -> Iterator[Path]:
    """A fresh directory that Nginx's workers (`nobody` under root) can traverse; removed after."""
    path = Path(tempfile.mkdtemp(prefix="sequenzia-nginx-"))
    try:
        path.chmod(0o755)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def check_reachable_by_workers(path: Path) -> None:
    """Fail clearly, when running as root, if `nobody` cannot traverse down to `path`."""
    if os.geteuid() != 0:
        return  # the workers run as this very user
    for directory in [path, *path.parents]:
        if directory.exists() and not directory.stat().st_mode & stat.S_IXOTH:
            raise AssertionError(
                f"Nginx's workers run as nobody and cannot enter {directory} (mode "
                f"{stat.filemode(directory.stat().st_mode)}), above {path}: use "
                "tests.nginx.worker_reachable_dir() rather than pytest's tmp_path"
            )


CACHE_LOCATION = "        location /_sequenzia_cache/ {"


def start_nginx(
    tmp_path: Path, upstream_port: int, cache_root: Path, extra_locations: str = ""
) -> Nginx:
    """Start Nginx on a free loopback port in front of `upstream_port`, serving `cache_root`.

    Its prefix (config, logs, temp files) is `tmp_path / "nginx"`. Returns once Nginx
    accepts connections. Skips (or fails under CI=true) when nginx is not installed.
    `extra_locations` (Nginx `location` blocks) go into the server block, as a benchmark's
    baseline needs.
    """
    program = require_program("nginx", "Nginx")
    prefix = tmp_path / "nginx"
    prefix.mkdir(mode=0o755, exist_ok=True)
    check_reachable_by_workers(prefix)
    check_reachable_by_workers(cache_root)
    template = TEMPLATE.read_text()
    last_log = ""
    # Another process may take the port between free_port() and Nginx's bind: try again.
    for _attempt in range(3):
        port = free_port()
        conf = prefix / "nginx.conf"
        text = render(template, prefix, port, upstream_port, cache_root)
        if extra_locations:
            if CACHE_LOCATION not in text:
                raise ValueError("the Nginx template has no cache location to put others beside")
            text = text.replace(CACHE_LOCATION, extra_locations + "\n" + CACHE_LOCATION, 1)
        conf.write_text(text)
        for old in ("error.log", "nginx.pid"):
            (prefix / old).unlink(missing_ok=True)
        with open(prefix / "stderr.log", "wb") as stderr:
            proc = subprocess.Popen(
                [program, "-p", str(prefix), "-c", str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                start_new_session=True,
            )
        nginx = Nginx(proc, prefix, port)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None:
            # The pid file is written once the listening socket is bound: a connection
            # accepted before that could be another process's on the same port.
            if (prefix / "nginx.pid").exists() and tcp_open("127.0.0.1", port, timeout=0.2):
                # Should pytest end without its teardown (an internal error), Nginx still stops.
                atexit.register(nginx.stop)
                return nginx
            time.sleep(0.05)
        nginx.stop()
        last_log = (prefix / "stderr.log").read_text(errors="replace") + nginx.error_log()
        if "Address already in use" not in last_log:
            break
    raise AssertionError(f"Nginx did not start:\n{last_log}")
