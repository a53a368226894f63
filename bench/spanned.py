"""Spanned files end to end (upload, cold read, warm read, memory) against plain baselines.

One run starts devcord on its own (`sequenzia devcord --no-rate-limits`), a real `twistd -n
sequenzia` whose io role posts to it (`cds.accel` on, part size from the default limits:
20 MiB), and Nginx in front (nginx/test.conf.in, plus a plain static location on the
cache directory for the baseline). It writes a random file of --size-mib MiB under a
temporary directory in /tmp (removed at the end) and measures, each figure against a
baseline measured in the same run on the same bytes:

1. upload: `sequenzia upload --json` as a subprocess, timed from its start to its exit,
   that is until the record is stored: the client hashing the file and sending the parts
   (4 in flight) to the upload API, which checks and stages each (fsync), the server's
   whole-file hash, and Discord I/O posting every part and the header to devcord.
   Baseline: the same bytes POSTed once over loopback HTTP to a plain server (Python's
   http.server, another process) that writes them to a file and fsyncs it. Ratio of rates.
2. cold read, first byte: GET /f/<eid>/<name> through Nginx with the cache empty, time
   from the request to the first body byte, against the median time of GETting one whole
   part from devcord's CDN with a plain client. Goal <= 2x. (An API call just before
   has the server check the key: its bcrypt, once a minute per key, is not the read's.)
3. cold read, throughput: that whole read (the CDS fetching the parts, verifying each and
   the whole, writing the cache file and streaming it), against a plain client fetching
   every part from the CDN `cds.fetch_parallel` (4) at a time and discarding them.
4. warm read: GET /f/ through Nginx (the CDS authorises and answers X-Accel-Redirect,
   Nginx sends the cached file) against Nginx sending the same file from a plain static
   location; medians of --warm-reads each, taking turns. Goal >= 0.9.
5. peak RSS: of the upload client (its own rusage) and of the server (VmHWM, reset through
   /proc/PID/clear_refs before each phase) during the upload and during the cold read,
   for a second file of --small-mib MiB (default a quarter) uploaded and read the same
   way, each just before the large file's. Goal: bounded, so the rows of the two sizes
   are about equal. (The cold-read figure includes the fetcher's reusable part buffers,
   `cds.fetch_parallel` of them, kept for a minute after a read.)

Reads use one Python client (http.client, 1 MiB reads into one buffer) for every figure.
The machine's other load moves the figures; run full-size runs alone (flock).

    .venv/bin/python bench/spanned.py [--size-mib N] [--small-mib M] [--warm-reads K]
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import json
import multiprocessing
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the test helpers that start twistd and Nginx

from tests.nginx import Nginx, start_nginx  # noqa: E402
from tests.server.test_upload_crash import provisioned_channels, start  # noqa: E402
from tests.server.twistd_process import Twistd  # noqa: E402

MiB = 1024 * 1024
READ = MiB
PARALLEL = 4  # cds.fetch_parallel's default, and the upload client's --parallel
SEQUENZIA = str(Path(sys.executable).with_name("sequenzia"))
STATIC = "/_bench_static/"


# -- processes and their memory


def vm_hwm_kib(pid: int) -> int:
    """A live process's peak resident set (VmHWM) in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no VmHWM")


def reset_peak(pid: int) -> bool:
    """Start a new VmHWM period for `pid` (clear_refs 5); False where the kernel refuses."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def run_measured(argv: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Run a command to its end: (seconds, its peak RSS in KiB, stdout)."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out: list[bytes] = []
    err: list[bytes] = []
    readers = [
        threading.Thread(target=lambda: out.append(proc.stdout.read())),  # type: ignore[union-attr]
        threading.Thread(target=lambda: err.append(proc.stderr.read())),  # type: ignore[union-attr]
    ]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join()
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} {argv[1]} failed ({proc.returncode}): {err[0].decode()}")
    return elapsed, usage.ru_maxrss, out[0].decode()


def start_devcord(directory: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    proc = subprocess.Popen(
        [SEQUENZIA, "devcord", "--no-rate-limits", "--listen", "tcp:0:interface=127.0.0.1",
         "--data", str(directory)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    info = directory / "devcord.json"
    while time.monotonic() < deadline and proc.poll() is None:
        if info.exists():
            try:
                return proc, json.loads(info.read_text())
            except ValueError:
                pass  # being written
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("devcord did not start")


# -- the upload baseline: a plain HTTP server writing the body to a file


class _Sink(http.server.BaseHTTPRequestHandler):
    target = Path()

    def do_POST(self) -> None:
        left = int(self.headers["Content-Length"])
        with open(self.target, "wb") as f:
            while left:
                chunk = self.rfile.read(min(READ, left))
                if not chunk:
                    break
                f.write(chunk)
                left -= len(chunk)
            f.flush()
            os.fsync(f.fileno())
        self.send_response(200 if not left else 400)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _serve_sink(target: Path, ready: Any) -> None:
    _Sink.target = target
    server = http.server.HTTPServer(("127.0.0.1", 0), _Sink)
    ready.send(server.server_address[1])
    server.serve_forever()


def chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(READ):
            yield chunk


def plain_upload(path: Path, target: Path) -> float:
    """Seconds to POST the file over loopback to a plain server that stores it."""
    receive, send = multiprocessing.Pipe(duplex=False)
    sink = multiprocessing.Process(target=_serve_sink, args=(target, send), daemon=True)
    sink.start()
    try:
        port = receive.recv()
        started = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        conn.request(
            "POST", "/", body=chunks(path), headers={"Content-Length": str(path.stat().st_size)}
        )
        response = conn.getresponse()
        response.read()
        elapsed = time.perf_counter() - started
        conn.close()
        if response.status != 200:
            raise SystemExit(f"the plain upload answered {response.status}")
        return elapsed
    finally:
        sink.kill()
        sink.join()
        target.unlink(missing_ok=True)


# -- reads


def timed_get(url: str, headers: dict[str, str] | None = None) -> tuple[float, float, int]:
    """GET `url` to the end, discarding the body: (first byte s, total s, bytes)."""
    parts = urlsplit(url)
    buffer = bytearray(READ)
    view = memoryview(buffer)
    started = time.perf_counter()
    conn = http.client.HTTPConnection(parts.netloc, timeout=600)
    conn.request(
        "GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers or {}
    )
    response = conn.getresponse()
    if response.status != 200:
        raise SystemExit(f"GET {parts.path} answered {response.status}: {response.read(500)!r}")
    # the first byte: one read of the socket (readinto waits until the buffer is full)
    head = response.read1(READ)
    first = time.perf_counter() - started if head else None
    received = len(head)
    while n := response.readinto(view):
        received += n
    total = time.perf_counter() - started
    conn.close()
    expected = response.getheader("Content-Length")
    if expected is not None and int(expected) != received:
        raise SystemExit(f"GET {parts.path}: {received} bytes of {expected}")
    return first or total, total, received


def part_urls(data_dir: Path, eid: int) -> tuple[str, list[str], int]:
    """The record's spanned file id, its parts' CDN URLs and the part size, from the database."""
    db = sqlite3.connect(f"file:{data_dir / 'sequenzia.sqlite3'}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT file_id FROM records WHERE eid = ?", (eid,)).fetchone()
        if row is None or not row[0]:
            raise SystemExit(f"record {eid} is not a spanned file")
        urls = [
            str(r[0])
            for r in db.execute(
                "SELECT url FROM file_parts WHERE file_id = ? ORDER BY idx", (row[0],)
            )
        ]
        (part_size,) = db.execute(
            "SELECT MAX(size) FROM file_parts WHERE file_id = ?", (row[0],)
        ).fetchone()
        return str(row[0]), urls, int(part_size)
    finally:
        db.close()


def parallel_fetch(urls: list[str]) -> float:
    """Seconds to GET every URL, PARALLEL at a time, discarding the bodies."""
    started = time.perf_counter()
    with ThreadPoolExecutor(PARALLEL) as pool:
        list(pool.map(timed_get, urls))
    return time.perf_counter() - started


# -- one file through the system


class Bench:
    def __init__(self, root: Path, server: Twistd, url: str, key: str, nginx: Nginx) -> None:
        self.root, self.server, self.url, self.key, self.nginx = root, server, url, key, nginx
        self.auth = {"Authorization": f"Bearer {key}"}
        self.env = {
            **os.environ,
            "XDG_CACHE_HOME": str(root / "client-cache"),  # the client's resume state
            "SEQUENZIA_URL": url,
            "SEQUENZIA_KEY": key,
        }
        self.server_peaks_reset = True

    def server_phase_start(self) -> None:
        self.server_peaks_reset = reset_peak(self.server.proc.pid) and self.server_peaks_reset

    def server_peak_mib(self) -> float:
        return vm_hwm_kib(self.server.proc.pid) / 1024

    def upload(self, path: Path, channel: str) -> dict[str, Any]:
        self.server_phase_start()
        seconds, client_kib, out = run_measured(
            [SEQUENZIA, "upload", "--json", "--quiet", "--to", channel, str(path)], self.env
        )
        stored = json.loads(out.strip().splitlines()[-1])
        return {
            "seconds": seconds,
            "client_mib": client_kib / 1024,
            "server_mib": self.server_peak_mib(),
            "eid": int(stored["eid"]),
            "link": urlsplit(stored["url"]).path,
        }

    def cold_read(self, link: str) -> dict[str, Any]:
        self.server_phase_start()
        # the key's bcrypt check, once a minute per key, is not the read path's: done before
        timed_get(self.nginx.url + "/api/v1/me", self.auth)
        first, total, received = timed_get(self.nginx.url + link, self.auth)
        return {
            "first": first,
            "seconds": total,
            "bytes": received,
            "server_mib": self.server_peak_mib(),
        }


def make_file(path: Path, mib: int) -> None:
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(MiB))


def rate(size: int, seconds: float) -> str:
    return f"{size / MiB / seconds:7.1f} MiB/s ({seconds:.2f} s)"


def main(size_mib: int, small_mib: int, warm_reads: int) -> None:
    if multiprocessing.get_start_method(allow_none=True) is None:
        multiprocessing.set_start_method("fork")
    root = Path(tempfile.mkdtemp(prefix="sequenzia-bench-spanned-", dir="/tmp"))
    root.chmod(0o755)  # Nginx's workers (nobody, under root) serve the cache from here
    processes: list[Any] = []
    try:
        cache = root / "cache"
        devcord, info = start_devcord(root / "devcord")
        processes.append(devcord)
        config = root / "sequenzia.toml"
        config.write_text(
            f'[discord]\ntoken = "{info["bot_token"]}"\napi_base = "{info["api_base"]}"\n'
            f'[cds]\naccel = true\ncache_dir = "{cache}"\n'
        )
        data_dir = root / "data"
        server, url, key = start(root, data_dir, config)
        processes.append(server)
        api = url + "/api/v1"
        channels = provisioned_channels(api, key)
        general = next(c for c in channels if c["name"] == "general")["id"]
        nginx = start_nginx(
            root,
            int(urlsplit(url).port or 80),
            cache,
            f'        location {STATIC} {{\n            alias "{cache}/";\n'
            "            sendfile on;\n            tcp_nopush on;\n            gzip off;\n        }",
        )
        processes.append(nginx)
        bench = Bench(root, server, url, key, nginx)

        # Memory at both sizes, each phase from the same state: the small file's upload, then
        # the large one's; its cold read, then the large one's. (A cold read keeps its part
        # buffers for a minute, for the next one: an upload measured after a read would count
        # them too.)
        small = root / "small.bin"
        make_file(small, small_mib)
        small_up = bench.upload(small, general)
        small.unlink()

        big = root / "big.bin"
        make_file(big, size_mib)
        size = big.stat().st_size
        plain_up = plain_upload(big, root / "plain-copy.bin")
        up = bench.upload(big, general)
        big.unlink()
        small_read = bench.cold_read(small_up["link"])

        file_id, urls, part_size = part_urls(data_dir, up["eid"])
        part_times = [timed_get(u)[1] for u in urls[: min(5, len(urls) - 1)]]
        one_part = statistics.median(part_times)
        plain_fetch = parallel_fetch(urls)
        cold = bench.cold_read(up["link"])
        if cold["bytes"] != size:
            raise SystemExit(f"the cold read gave {cold['bytes']} bytes of {size}")

        static_url = f"{nginx.url}{STATIC}{file_id[:2]}/{file_id}"
        # The cold read left the whole file dirty in the page cache: let its writeback finish
        # first, or it competes with whichever warm reads it overlaps.
        os.sync()
        accel, static = [], []
        for n in range(warm_reads):
            pair = [
                ("accel", lambda: timed_get(nginx.url + up["link"], bench.auth)[1]),
                ("static", lambda: timed_get(static_url)[1]),
            ]
            for name, read in pair if n % 2 == 0 else reversed(pair):
                (accel if name == "accel" else static).append(read())
        warm, plain_static = statistics.median(accel), statistics.median(static)
        # Reads on a loopback of two cores vary by +-30 % from one to the next (the client and
        # Nginx each keep a core busy; anything else that runs takes from one of them), so the
        # figure is the median of the ratios of reads taken side by side.
        paired = statistics.median(s / a for a, s in zip(accel, static, strict=True))
        devcord_mib = vm_hwm_kib(devcord.pid) / 1024
    finally:
        for process in reversed(processes):
            if isinstance(process, Twistd):
                process.stop()
            elif isinstance(process, Nginx):
                process.stop()
            else:
                process.terminate()
                process.wait(10)
        shutil.rmtree(root, ignore_errors=True)

    parts = len(urls)
    print(
        f"file: {size_mib} MiB of random bytes in {parts} parts of "
        f"{part_size / MiB:g} MiB; devcord rate limits off; loopback; one client"
    )
    print("1. upload (`sequenzia upload`, until the record is stored)")
    print(f"   sequenzia:        {rate(size, up['seconds'])}")
    print(f"   plain HTTP copy:  {rate(size, plain_up)}")
    print(f"   ratio sequenzia/plain: {plain_up / up['seconds']:.2f}")
    print("2. cold read, time to first byte (through Nginx, cache empty)")
    print(f"   first byte:       {cold['first'] * 1000:7.0f} ms")
    print(
        f"   one part's fetch: {one_part * 1000:7.0f} ms (median of {len(part_times)}, plain client)"
    )
    print(f"   ratio first byte/one part: {cold['first'] / one_part:.2f}  (goal <= 2)")
    print("3. cold read, throughput")
    print(f"   cold read:        {rate(size, cold['seconds'])}")
    print(
        f"   parts, {PARALLEL} at once: {rate(size, plain_fetch)} (plain client, bytes discarded)"
    )
    print(f"   ratio cold/parallel parts: {plain_fetch / cold['seconds']:.2f}")
    print(f"4. warm read (median of {warm_reads} each, taking turns)")
    for name, median, times in (
        ("X-Accel-Redirect", warm, accel),
        ("Nginx static:    ", plain_static, static),
    ):
        fastest, slowest = size / MiB / min(times), size / MiB / max(times)
        print(f"   {name} {rate(size, median)}  (range {slowest:.0f} to {fastest:.0f} MiB/s)")
    print(f"   ratio accel/static: {paired:.2f}, median of {warm_reads} pairs  (goal >= 0.90)")
    since = "per phase" if bench.server_peaks_reset else "since start (clear_refs refused)"
    print(f"5. peak RSS (MiB; server VmHWM {since}; goal: bounded, the same at both sizes)")
    print("   file size   upload client   server, upload   server, cold read")
    for mib, u, r in ((small_mib, small_up, small_read), (size_mib, up, cold)):
        print(
            f"   {mib:6d} MiB   {u['client_mib']:13.0f}   {u['server_mib']:14.0f}"
            f"   {r['server_mib']:17.0f}"
        )
    print(f"   devcord (whole run): {devcord_mib:.0f}")


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number is needed, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=positive, default=1024, metavar="N")
    parser.add_argument(
        "--small-mib", type=positive, metavar="M", help="the second size (default: a quarter)"
    )
    parser.add_argument("--warm-reads", type=positive, default=31, metavar="K")
    args = parser.parse_args()
    small_mib = args.small_mib or max(24, args.size_mib // 4)
    # a spanned file needs more than one 20 MiB part, and the first-byte baseline a second
    if args.size_mib <= 40 or small_mib <= 20:
        parser.error("--size-mib must be above 40 and --small-mib above 20 (20 MiB parts)")
    main(args.size_mib, small_mib, args.warm_reads)
