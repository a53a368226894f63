"""Round trips through Nginx in front of a real `twistd sequenzia`, as a user has them.

The FileWorker client and the upload API reach the server only through Nginx
(nginx/test.conf.in): uploads at the edges of the part size and of 100 MiB go in, and come
back out through `sequenzia download` and through `GET /f/` (cold: the CDS assembles and
streams; warm: Nginx sends the cache file after X-Accel-Redirect).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from sequenzia.spans.hashing import xxh3_128_hex
from tests.nginx import Nginx, start_nginx, worker_reachable_dir
from tests.server.test_upload_crash import call, provisioned_channels, start
from tests.server.twistd_process import Twistd

MiB = 1024 * 1024
PART_MIB = 5
PART = PART_MIB * MiB
SEQUENZIA = str(Path(sys.executable).with_name("sequenzia"))


@dataclass
class Stack:
    twistd: Twistd
    nginx: Nginx
    key: str
    cache: Path
    work: Path

    @property
    def api(self) -> str:
        return self.nginx.url + "/api/v1"

    def cli(self, *args: str) -> list[dict[str, Any]]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEQUENZIA_")}
        env |= {
            "SEQUENZIA_URL": self.nginx.url,
            "SEQUENZIA_KEY": self.key,
            "XDG_CACHE_HOME": str(self.work / "client-cache"),
        }
        result = subprocess.run(
            [SEQUENZIA, *args, "--json"],
            cwd=self.work,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return [json.loads(line) for line in result.stdout.splitlines()]

    def get(self, link: str) -> tuple[dict[str, str], str, int]:
        """GET `link` through Nginx: (headers, sha256 of the body, its length), streamed."""
        request = urllib.request.Request(
            self.nginx.url + link, headers={"Authorization": f"Bearer {self.key}"}
        )
        digest, length = hashlib.sha256(), 0
        with urllib.request.urlopen(request, timeout=120) as response:
            assert response.status == 200
            while chunk := response.read(MiB):
                digest.update(chunk)
                length += len(chunk)
            return dict(response.headers.items()), digest.hexdigest(), length


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with worker_reachable_dir() as root:
        cache, data, work = root / "cache", root / "data", root / "work"
        work.mkdir()
        config = root / "sequenzia.toml"
        config.write_text(
            f'[spans]\npart_size_mib = {PART_MIB}\n[cds]\naccel = true\ncache_dir = "{cache}"\n'
        )
        twistd, url, key = start(root, data, config)
        try:
            provisioned_channels(url + "/api/v1", key)
            nginx = start_nginx(root, int(urlsplit(url).port or 80), cache)
            try:
                yield Stack(twistd, nginx, key, cache, work)
            finally:
                nginx.stop()
        finally:
            twistd.stop()


# The bytes are checked with sha256, not the project's own xxh3-128 (spans.hashing.hash_file),
# so a fault in that hashing cannot hide a wrong byte from this test.


def random_file(path: Path, size: int) -> str:
    """Write `size` random bytes to `path`; their sha256."""
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, 4 * MiB))
            digest.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 * MiB):
            digest.update(chunk)
    return digest.hexdigest()


SIZES = [0, 1, PART - 1, PART, PART + 1, 100 * MiB]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s}B")
def test_the_cli_round_trip_through_nginx(stack: Stack, size: int) -> None:
    original = stack.work / f"original-{size}.bin"
    digest = random_file(original, size)
    (stored,) = stack.cli("upload", "--quiet", "--to", "general", str(original))
    assert stored["size"] == size and stored["name"] == original.name
    link = urlsplit(stored["url"]).path
    assert link == f"/f/{stored['eid']}/{original.name}"

    copy = stack.work / f"copy-{size}.bin"
    (shown,) = stack.cli("download", str(stored["eid"]), "-o", str(copy))
    assert shown["verified"] is True and shown["xxh3_128"] == stored["xxh3_128"]
    assert sha256_of(copy) == digest
    copy.unlink()

    if size > PART:  # spanned: read through the CDS, cold then warm
        for cached in stack.cache.glob("*/*"):  # the download above filled the cache
            cached.unlink()
        cold, got, length = stack.get(link)
        assert (got, length) == (digest, size)
        warm, got, length = stack.get(link)
        assert (got, length) == (digest, size)
        # The cold read was streamed by the CDS as it assembled the parts; the warm one came
        # from Nginx's cache location, which adds its own validators.
        assert "ETag" not in cold, cold
        assert "ETag" in warm and "Last-Modified" in warm, warm
        assert warm["Accept-Ranges"] == "bytes"
    original.unlink()


def test_the_api_round_trip_of_100_mib_with_parts_in_parallel(stack: Stack) -> None:
    data = os.urandom(100 * MiB)
    channels = call(stack.api, stack.key, "GET", "/channels")[1]["channels"]
    general = next(c["id"] for c in channels if c["name"] == "general")
    status, body = call(
        stack.api,
        stack.key,
        "POST",
        "/uploads",
        {
            "name": "api.bin",
            "size": len(data),
            "xxh3_128": xxh3_128_hex(data),
            "channel_id": general,
        },
    )
    assert status == 201, body
    upload = body["upload"]
    size, count = upload["part_size"], upload["part_count"]
    assert size == PART and count == 20

    def put(n: int) -> tuple[int, Any]:
        part = data[n * size : (n + 1) * size]
        return call(
            stack.api,
            stack.key,
            "PUT",
            f"/uploads/{upload['id']}/parts/{n}",
            raw=part,
            headers={"X-Xxh3-128": xxh3_128_hex(part)},
        )

    with ThreadPoolExecutor(4) as pool:  # four at a time, last part first
        answers = list(pool.map(put, reversed(range(count))))
    assert all(status == 200 for status, _ in answers), answers
    status, body = call(stack.api, stack.key, "POST", f"/uploads/{upload['id']}/complete?wait=60")
    assert status == 200 and body["job"]["state"] == "done", body
    eid = body["upload"]["eid"]
    _, got, length = stack.get(f"/f/{eid}/api.bin")
    assert (got, length) == (hashlib.sha256(data).hexdigest(), len(data))
