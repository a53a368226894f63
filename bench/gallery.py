"""Gallery pages over a large library on MariaDB: server-side render time against raw SQL.

Generates `--records` records (default 1,000,000) in a fresh MariaDB database with the
Sequence engine (`seq_1_to_N`), spread like a real library: two servers, 20 channels (some
the viewer may not read, one NSFW), mostly image attachments, some other files, spanned
files, text-only messages and the parts of spanned files (which must never show), posted
over six years. Then it starts `twistd sequenzia --role web` on that database and, as a
user whose roles read only some channels (a session cookie, like a browser), requests each
page `--requests` times in a row over one keep-alive connection after `--warmup` requests,
and runs the same page's record query (the SELECT `list_records` sends, with the same
arguments) directly with pymysql as many times. Printed per page: median and p99 of the
full HTTP request and of the raw query, in ms, and the ratio of the medians. The goal
(DESIGN.md §8) is the gallery page: <= 30 ms median, <= 150 ms p99.

A cold sidebar (the per-channel record counts every page shows, remembered for 30 s per
readable set) is timed on its own: its query, run directly.

    .venv/bin/python bench/gallery.py [--records N] [--requests R] [--warmup W] [--keep]
        [--server mysql://root@127.0.0.1:3306] [--name sequenzia_bench_gallery]

`--keep` reuses the database when it already holds N generated records (and keeps it
afterwards); without it the database is made afresh and dropped at the end.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pymysql

from sequenzia.authware import sessions
from sequenzia.authware.access import channel_access
from sequenzia.authware.sessions import COOKIE
from sequenzia.db import migrations
from sequenzia.db.direct import run_interaction
from sequenzia.db.engines import engine_for
from sequenzia.db.pool import Txn
from sequenzia.db.url import DatabaseURL, parse_database_url
from sequenzia.gallery import pages as gallery_pages
from sequenzia.gallery import store as gallery_store
from sequenzia.gallery.query import build, match_folder

VIEWER = 5
START_MS = 1_546_300_800_000  # 2019-01-01
SPAN_MS = 6 * 365 * 86_400_000
# (id, server, category, name, perm_read, nsfw, weight in 100 slots): the viewer belongs to
# both servers and holds no permission, so 'secret' channels are hidden from them; the NSFW
# channel is hidden too (they have not enabled NSFW).
CHANNELS = [
    (101, 1, 50, "holidays", None, 0, 14),
    (102, 1, 50, "family", None, 0, 10),
    (103, 1, 50, "pets", None, 0, 8),
    (104, 1, 50, "sunsets", None, 0, 6),
    (105, 1, 50, "city", None, 0, 6),
    (106, 1, 51, "scans", None, 0, 5),
    (107, 1, 51, "documents", None, 0, 4),
    (108, 1, 51, "screenshots", None, 0, 7),
    (109, 1, 51, "memes", None, 0, 5),
    (110, 1, 51, "after-dark", None, 1, 3),
    (111, 1, 52, "drafts", "secret", 0, 5),
    (112, 1, 52, "private", "secret", 0, 4),
    (201, 2, 60, "designs", None, 0, 5),
    (202, 2, 60, "renders", None, 0, 4),
    (203, 2, 60, "reference", None, 0, 3),
    (204, 2, 60, "clients", None, 0, 2),
    (205, 2, 61, "videos", None, 0, 3),
    (206, 2, 61, "exports", None, 0, 2),
    (207, 2, 62, "contracts", "secret", 0, 2),
    (208, 2, 62, "payroll", "secret", 0, 2),
]
DATA_CHANNELS = [(190, 1), (290, 2)]
CATEGORIES = [
    (50, 1, "Photos"),
    (51, 1, "Archive"),
    (52, 1, "Staff"),
    (60, 2, "Work"),
    (61, 2, "Media"),
    (62, 2, "Office"),
]
IMAGE_SIZES = [(1920, 1080), (1080, 1920), (4032, 3024), (3024, 4032), (800, 800), (2560, 1440)]
IMAGE_TYPES = [("jpg", "image/jpeg"), ("png", "image/png"), ("webp", "image/webp")]


def _h(n: int, expr: str = "seq") -> str:
    """A well-spread 32-bit hash of the row number, different for each n."""
    return f"CRC32(CONCAT({expr}, ':{n}'))"


def generate(url: DatabaseURL, records: int) -> None:
    """Fill a migrated, empty database: folders, the viewer, and `records` records."""
    conn = engine_for(url).connect()
    cur = conn.cursor()
    cur.execute("SET SESSION unique_checks = 0, foreign_key_checks = 0")
    cur.execute("INSERT INTO servers (id, name, created_ts, updated_ts) VALUES (1, 'home', 0, 0)")
    cur.execute("INSERT INTO servers (id, name, created_ts, updated_ts) VALUES (2, 'work', 0, 0)")
    for cid, server, name in CATEGORIES:
        cur.execute(
            "INSERT INTO channels (id, server_id, kind, name, position, created_ts, updated_ts)"
            " VALUES (%s, %s, 'category', %s, %s, 0, 0)",
            (cid, server, name, cid),
        )
    for cid, server, parent, name, perm, nsfw, _ in CHANNELS:
        cur.execute(
            "INSERT INTO channels (id, server_id, parent_id, kind, name, position, perm_read, nsfw,"
            " created_ts, updated_ts) VALUES (%s, %s, %s, 'text', %s, %s, %s, %s, 0, 0)",
            (cid, server, parent, name, cid, perm, nsfw),
        )
    for cid, server in DATA_CHANNELS:
        cur.execute(
            "INSERT INTO channels (id, server_id, kind, name, position, is_data, created_ts,"
            " updated_ts) VALUES (%s, %s, 'text', 'data', %s, 1, 0, 0)",
            (cid, server, cid),
        )
    cur.execute("INSERT INTO users (id, username, created_ts) VALUES (%s, 'viewer', 0)", (VIEWER,))
    for role, server in ((1, 1), (2, 2)):  # @everyone of each server: membership
        cur.execute(
            "INSERT INTO roles (id, server_id, name) VALUES (%s, %s, '@everyone')", (role, server)
        )
        cur.execute(
            "INSERT INTO user_roles (user_id, role_id, server_id) VALUES (%s, %s, %s)",
            (VIEWER, role, server),
        )
    # the weighted channel choice: 100 slots
    cur.execute(
        "CREATE TEMPORARY TABLE bench_slots (slot INT PRIMARY KEY, channel_id BIGINT, server_id BIGINT)"
    )
    slot = 0
    for cid, server, *_, weight in CHANNELS:
        for _ in range(weight):
            cur.execute("INSERT INTO bench_slots VALUES (%s, %s, %s)", (slot, cid, server))
            slot += 1
    assert slot == 100, slot
    conn.commit()
    kind = (
        f"CASE WHEN {_h(1)} % 100 < 5 THEN 'part' WHEN {_h(1)} % 100 < 10 THEN 'message'"
        f" WHEN {_h(1)} % 100 < 13 THEN 'spanned' ELSE 'file' END"
    )
    # image (80 %), video, archive
    sort_of_file = f"CASE WHEN {_h(1)} % 100 < 20 THEN {_h(2)} % 2 + 1 ELSE 0 END"
    ext = f"ELT(1 + {_h(3)} % 3, 'jpg', 'png', 'webp')"
    names = (
        f"ELT(1 + {_h(4)} % 10, 'IMG_', 'IMG_', 'IMG_', 'DSC', 'PXL_', 'Screenshot ', 'sunset_',"
        " 'scan-', 'photo ', 'export_')"
    )
    step = max(1, records // 10)
    for low in range(1, records + 1, step):
        high = min(records, low + step - 1)
        t0 = time.monotonic()
        cur.execute(
            "INSERT INTO records (eid, message_id, channel_id, server_id, author_id, posted_ts,"  # noqa: S608 (numbers from this script)
            " indexed_ts, kind, content, attachment_id, attachment_name, attachment_size,"
            " content_type, width, height, avg_color, url, url_expires_ts, file_id, rand_key)"
            " SELECT g.seq, 100000000000000000 + g.seq, g.channel_id, g.server_id, 900 + g.seq % 7,"
            " g.posted_ts, g.posted_ts, g.kind,"
            " CASE WHEN g.kind = 'message' THEN CONCAT('note ', g.seq, ' about ', ELT(1 + g.h % 4,"
            "   'the beach', 'a meeting', 'dinner', 'the release'))"
            "   WHEN g.h % 5 = 0 THEN CONCAT('caption ', g.seq) ELSE NULL END,"
            " CASE WHEN g.kind IN ('file', 'part') THEN 200000000000000000 + g.seq END,"
            " CASE WHEN g.kind = 'part' THEN CONCAT(LOWER(HEX(g.h)), '.part')"
            "   WHEN g.kind = 'file' AND g.ft = 1 THEN CONCAT('clip_', g.seq, '.mp4')"
            "   WHEN g.kind = 'file' AND g.ft = 2 THEN CONCAT('archive_', g.seq, '.zip')"
            "   WHEN g.kind = 'file' THEN CONCAT(g.prefix, LPAD(g.seq, 7, '0'), '.', g.ext) END,"
            " CASE WHEN g.kind IN ('file', 'part') THEN 20000 + g.h % 9000000 END,"
            " CASE WHEN g.kind = 'part' THEN 'application/octet-stream'"
            "   WHEN g.kind = 'file' AND g.ft = 1 THEN 'video/mp4'"
            "   WHEN g.kind = 'file' AND g.ft = 2 THEN 'application/zip'"
            "   WHEN g.kind = 'file' THEN CONCAT('image/', IF(g.ext = 'jpg', 'jpeg', g.ext)) END,"
            " CASE WHEN g.kind = 'file' AND g.ft = 0 THEN ELT(1 + g.h2 % 6, 1920, 1080, 4032, 3024, 800, 2560) END,"
            " CASE WHEN g.kind = 'file' AND g.ft = 0 THEN ELT(1 + g.h2 % 6, 1080, 1920, 3024, 4032, 800, 1440) END,"
            " CASE WHEN g.kind = 'file' AND g.ft = 0 THEN g.h2 % 16777216 END,"
            " CASE WHEN g.kind IN ('file', 'part') THEN CONCAT('https://cdn.discordapp.com/attachments/',"
            "   g.channel_id, '/', 200000000000000000 + g.seq, '/f?ex=', HEX(g.h), '&is=', HEX(g.h2),"
            "   '&hm=', MD5(g.seq), '&') END,"
            " CASE WHEN g.kind IN ('file', 'part') THEN g.posted_ts + 86400000 END,"
            " CASE WHEN g.kind IN ('spanned', 'part') THEN MD5(IF(g.kind = 'part', g.h % 1000, g.seq)) END,"
            f" {_h(9)} & 2147483647"
            " FROM (SELECT k.seq, k.kind, k.ft, k.h, k.h2, k.prefix, k.ext,"
            "   IF(k.kind = 'part', 190 + 100 * (k.h2 % 2), b.channel_id) AS channel_id,"
            "   IF(k.kind = 'part', 1 + k.h2 % 2, b.server_id) AS server_id,"
            # mostly in posting order; one in ten is an older post indexed late
            f"   {START_MS} + k.seq * {SPAN_MS // records} - IF(k.h % 10 = 0, k.h2 % 31536000000, 0)"
            "     AS posted_ts"
            f"   FROM (SELECT seq, {kind} AS kind, {sort_of_file} AS ft, {_h(5)} AS h, {_h(6)} AS h2,"
            f"     {names} AS prefix, {ext} AS ext, {_h(7)} % 100 AS slot"
            f"     FROM seq_{low}_to_{high}) k"
            "   JOIN bench_slots b ON b.slot = k.slot) g"
        )
        conn.commit()
        print(
            f"  records {low:,}..{high:,} in {time.monotonic() - t0:.1f} s",
            file=sys.stderr,
            flush=True,
        )
    cur.execute(
        "INSERT INTO spanned_files (id, eid, server_id, channel_id, header_message_id, name, size,"
        " part_count, part_size, state, created_ts, updated_ts)"
        " SELECT file_id, eid, server_id, channel_id, message_id, CONCAT('movie_', eid, '.mkv'),"
        " 50000000 + eid, 3, 20971520, 'stored', posted_ts, posted_ts"
        " FROM records WHERE kind = 'spanned'"
    )
    conn.commit()
    cur.execute("ANALYZE TABLE records, spanned_files, channels")
    cur.fetchall()
    conn.close()


def prepare(server: str, name: str, records: int, keep: bool) -> DatabaseURL:
    base = parse_database_url(server.rstrip("/") + "/" + name)
    admin = pymysql.connect(host=base.host, port=base.port, user=base.user, password=base.password)
    with admin.cursor() as cur:
        if keep:
            cur.execute(
                "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = %s", (name,)
            )
            if cur.fetchone()[0]:
                cur.execute(f"SELECT COUNT(*), MAX(eid) FROM {name}.records")  # noqa: S608
                count, top = cur.fetchone()
                if top == records:
                    print(f"reusing {name} ({count:,} rows)", file=sys.stderr)
                    admin.close()
                    migrations.upgrade(base)  # new indexes, if any
                    return base
        cur.execute(f"DROP DATABASE IF EXISTS {name}")
        cur.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    admin.close()
    migrations.upgrade(base)
    t0 = time.monotonic()
    generate(base, records)
    print(f"generated {records:,} records in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    return base


def drop(url: DatabaseURL) -> None:
    admin = pymysql.connect(host=url.host, port=url.port, user=url.user, password=url.password)
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {url.database}")
    admin.close()


class Server:
    """`twistd -n sequenzia --role web` on the bench database, in a child process."""

    def __init__(self, url: DatabaseURL, data: Path) -> None:
        auth = f"{url.user}:{url.password}@" if url.password else f"{url.user}@"
        env = {
            **os.environ,
            "SEQUENZIA_DATABASE_URL": f"mysql://{auth}{url.host}:{url.port}/{url.database}",
        }
        env.pop("SEQUENZIA_CONFIG", None)
        twistd = str(Path(sys.executable).with_name("twistd"))
        self.proc = subprocess.Popen(
            [twistd, "--nodaemon", "--pidfile=", "sequenzia", "--role", "web",
             "--listen", "tcp:0:interface=127.0.0.1", "--data", str(data)],
            cwd=data, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self.address: tuple[str, int] | None = None
        found = threading.Event()

        def read() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                self.lines.append(line)
                m = re.search(r"Sequenzia is listening at http://([\d.]+):(\d+)/", line)
                if m:
                    self.address = (m[1], int(m[2]))
                    found.set()
            found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(60) or self.address is None:
            self.stop()
            raise SystemExit("twistd did not start:\n" + "".join(self.lines[-30:]))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return statistics.median(ordered), p99


def sample(run: Any, count: int, warmup: int, budget: float) -> list[float]:
    """`run()` (which returns its time in ms) `warmup` times, then `count` times timed.

    A slow page gets a quarter of `budget` seconds of warm-up (at least one run) and
    `budget` seconds of timed runs (at least five), so a full scan cannot stall the bench.
    """
    deadline = time.monotonic() + budget / 4
    for _ in range(warmup):
        run()
        if time.monotonic() > deadline:
            break
    deadline = time.monotonic() + budget
    samples: list[float] = []
    while len(samples) < count and (len(samples) < 5 or time.monotonic() < deadline):
        samples.append(run())
    return samples


def time_http(
    address: tuple[str, int], path: str, cookie: str, count: int, warmup: int, budget: float
) -> list[float]:
    """Sequential requests over one keep-alive connection, in ms."""
    conn = http.client.HTTPConnection(*address, timeout=120)
    headers = {"Cookie": f"{COOKIE}={cookie}"}

    def run() -> float:
        t0 = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - t0
        if response.status != 200 or b"data-eid=" not in body:
            raise SystemExit(f"GET {path}: {response.status} {body[:300]!r}")
        return elapsed * 1000

    try:
        return sample(run, count, warmup, budget)
    finally:
        conn.close()


class TimingTxn(Txn):
    """A Txn that remembers how long each statement took."""

    def __init__(self, cursor: Any, engine: Any) -> None:
        super().__init__(cursor, engine)
        self.times: list[float] = []
        self.fetched: list[Any] = []

    def execute(self, sql: str, args: Any = None) -> Any:
        t0 = time.perf_counter()
        result = super().execute(sql, args or ())
        self.fetched = list(self._cursor.fetchall())
        self.times.append((time.perf_counter() - t0) * 1000)
        return result

    def fetchall(self) -> Any:
        return list(self.fetched)

    def fetchone(self) -> Any:
        return self.fetched[0] if self.fetched else None


def page_params(path: str) -> dict[str, str]:
    """The parameters the gallery page passes to the records query for this address."""
    from urllib.parse import parse_qsl, urlsplit

    parts = urlsplit(path)
    params = dict(parse_qsl(parts.query))
    if parts.path == "/":
        return {"limit": "30"}
    if params.get("view", "gallery") == "gallery" and "media" not in params and "q" not in params:
        params["media"] = "image"
    return params


def time_sql(url: DatabaseURL, path: str, count: int, warmup: int, budget: float) -> list[float]:
    """The page's record query, run directly: the same SQL and arguments list_records sends."""
    engine = engine_for(url)
    conn = engine.connect()
    txn = TimingTxn(conn.cursor(), engine)
    channels = gallery_store.folders(txn)
    readable = channel_access(txn, VIEWER).readable
    query = build(
        page_params(path), lambda p: match_folder(p, channels), int(time.time() * 1000), VIEWER
    )

    def run() -> float:
        txn.times = []
        gallery_store.list_records(txn, query, readable)
        conn.commit()
        return sum(txn.times)  # a seeded random page may take two statements

    try:
        return sample(run, count, warmup, budget)
    finally:
        conn.close()


def time_sidebar(url: DatabaseURL, count: int, budget: float) -> list[float]:
    """A cold sidebar: the folders with their counts, as a page computes them."""
    engine = engine_for(url)
    conn = engine.connect()
    txn = TimingTxn(conn.cursor(), engine)
    readable = channel_access(txn, VIEWER).readable

    def run() -> float:
        t0 = time.perf_counter()
        counts = gallery_pages._counts(txn)
        gallery_pages._folders(txn, readable, counts)
        conn.commit()
        return (time.perf_counter() - t0) * 1000

    try:
        return sample(run, count, 0, budget)
    finally:
        conn.close()


def deep_cursor(url: DatabaseURL, records: int) -> str:
    """A `date` cursor about half-way down the list: the key and eid of a middle record."""

    def find(txn: Any) -> str:
        txn.execute(
            "SELECT posted_ts, eid FROM records WHERE eid >= ? ORDER BY eid LIMIT 1",
            (records // 2,),
        )
        ts, eid = txn.fetchone()
        return f"{ts}.{eid}"

    return run_interaction(url, find)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument(
        "--budget", type=float, default=30.0,
        help="seconds per page and side after which fewer requests are taken (at least 5)",
    )  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="reuse and keep the generated database")
    parser.add_argument("--server", default="mysql://root@127.0.0.1:3306")
    parser.add_argument("--name", default="sequenzia_bench_gallery")
    options = parser.parse_args()

    url = prepare(options.server, options.name, options.records, options.keep)
    cookie, _ = run_interaction(url, sessions.create, VIEWER, 1, "127.0.0.1", "bench")
    cursor = deep_cursor(url, options.records)
    random_next = None
    pages_to_time = [
        ("gallery, newest first", "/gallery"),
        ("gallery, deep cursor", f"/gallery?cursor={cursor}"),
        ("folder (channel:103)", "/gallery?q=channel:103"),
        ("folder (in:/home/Photos)", "/gallery?q=in:/home/Photos"),
        ("search name:sunset", "/gallery?q=name:sunset"),
        ("search name:^IMG_00012 (rare, old)", "/gallery?q=name:%5EIMG_00012"),
        ("random, seed 12345", "/gallery?sort=random&seed=12345"),
        ("random, seed 12345, page 2", None),
        ("home (sidebar + 30 newest)", "/"),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(url, Path(tmp))
        assert server.address is not None
        try:
            print(
                f"{options.records:,} records on MariaDB; the viewer reads"
                f" {len(channel_readable(url) & {c[0] for c in CHANNELS})} of {len(CHANNELS)} folders; {options.requests} sequential"
                f" requests per page after {options.warmup} warm-up; times in ms"
            )
            print(
                f"{'page':34} {'http median':>11} {'http p99':>9} {'sql median':>10} {'sql p99':>8}"
                f" {'http/sql':>8} {'n http':>6} {'n sql':>5}"
            )
            first = time_http(server.address, "/gallery", cookie, 1, 0, 0)[:1]
            print(f"{'first page after start (cold sidebar)':38} {first[0]:7.1f}")
            for label, path in pages_to_time:
                if path is None:
                    random_next = random_next or first_cursor(
                        url, "/gallery?sort=random&seed=12345"
                    )
                    path = f"/gallery?sort=random&seed=12345&cursor={random_next}"
                http_ms = time_http(
                    server.address, path, cookie, options.requests, options.warmup, options.budget
                )
                sql_ms = time_sql(url, path, options.requests, options.warmup, options.budget)
                hm, hp = percentiles(http_ms)
                sm, sp = percentiles(sql_ms)
                print(
                    f"{label:34} {hm:11.1f} {hp:9.1f} {sm:10.1f} {sp:8.1f} {hm / sm:8.1f}"
                    f" {len(http_ms):>5} {len(sql_ms):>5}",
                    flush=True,
                )
            sidebar = time_sidebar(url, 20, options.budget)
            sm, sp = percentiles(sidebar)
            print(
                f"{'sidebar counts, uncached (sql only)':34} {'':11} {'':9} {sm:10.1f} {sp:8.1f}"
                f" {'':8} {'':>6} {len(sidebar):>5}"
            )
        finally:
            server.stop()
    if not options.keep:
        drop(url)


def channel_readable(url: DatabaseURL) -> frozenset[int]:
    return run_interaction(url, channel_access, VIEWER).readable


def first_cursor(url: DatabaseURL, path: str) -> str:
    """The cursor of a page's next page, from the records query itself."""

    def find(txn: Any) -> str:
        channels = gallery_store.folders(txn)
        readable = channel_access(txn, VIEWER).readable
        query = build(page_params(path), lambda p: match_folder(p, channels), 0, VIEWER)
        _, following = gallery_store.list_records(txn, query, readable)
        assert following is not None
        return following

    return run_interaction(url, find)


if __name__ == "__main__":
    main()
