"""Nginx serving the span cache through X-Accel-Redirect, as `GET /f/<eid>/<name>` will use it.

A real Nginx (nginx/test.conf.in) in front of a small Twisted web server that answers
`/f/<key>` the way the CDS does on a cache hit: after a lookup in the cache (in a thread),
an empty response with `X-Accel-Redirect` and the headers the client must get.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import pytest
import pytest_twisted
import treq
from twisted.internet import reactor, threads
from twisted.internet.address import IPv4Address
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from cds.cache import CacheKeyError, SpanCache
from sequenzia.web.jsonresponse import write_json
from tests.nginx import PRODUCTION, TEMPLATE, Nginx, free_port
from tests.services import require_program

MiB = 1024 * 1024
KEY = "span_0123456789"
NAME = "café ☕ report.bin"
DISPOSITION = f"attachment; filename*=UTF-8''{quote(NAME, safe='')}"
CONTENT_TYPE = "video/mp4"  # not what Nginx would pick for a name without an extension
CACHE_CONTROL = "private, max-age=3600"


class AcceleratedFiles(Resource):
    """`/f/<key>`: hand a cached file to Nginx, or 404 JSON."""

    isLeaf = True

    def __init__(self, cache: SpanCache) -> None:
        super().__init__()
        self.cache = cache

    def render_GET(self, request: Request) -> Any:
        key = b"/".join(request.postpath or []).decode()
        d = threads.deferToThread(self.cache.lookup, key)

        def answer(path: Path | None) -> None:
            if path is None:
                request.write(write_json(request, 404, {"error": f"no such file: {key}"}))
            else:
                request.setHeader(b"X-Accel-Redirect", self.cache.internal_path(key).encode())
                request.setHeader(b"Content-Type", CONTENT_TYPE.encode())
                request.setHeader(b"Content-Disposition", DISPOSITION.encode())
                request.setHeader(b"Cache-Control", CACHE_CONTROL.encode())
            request.finish()

        def refuse(failure: Any) -> None:
            failure.trap(CacheKeyError)
            request.write(write_json(request, 404, {"error": "no such file"}))
            request.finish()

        d.addCallbacks(answer, refuse)
        return NOT_DONE_YET


@pytest.fixture
def cache(nginx_dir: Path) -> SpanCache:
    return SpanCache(nginx_dir / "cache", budget_bytes=64 * MiB)


@pytest.fixture
def data(cache: SpanCache) -> bytes:
    """A few MiB of random bytes, published in the cache under KEY."""
    payload = os.urandom(3 * MiB + 12345)
    with cache.writer(KEY) as w:
        for i in range(0, len(payload), MiB):
            w.write(payload[i : i + MiB])
        w.publish()
    return payload


@pytest.fixture
def upstream(cache: SpanCache) -> Iterator[int]:
    root = Resource()
    root.putChild(b"f", AcceleratedFiles(cache))
    endpoint = TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1")
    port = pytest_twisted.blockon(endpoint.listen(Site(root)))
    yield cast(IPv4Address, port.getHost()).port
    pytest_twisted.blockon(port.stopListening())


@pytest.fixture
def nginx(run_nginx: Callable[[int, Path], Nginx], upstream: int, cache: SpanCache) -> Nginx:
    return run_nginx(upstream, cache.root)


async def get(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> Any:
    """(response, body) over a fresh connection."""
    sent: dict[bytes | str, bytes | str] = {k: v for k, v in (headers or {}).items()}
    response = await treq.request(
        method, url, headers=sent, persistent=False, allow_redirects=False
    )
    return response, await treq.content(response)


def header(response: Any, name: str) -> str | None:
    values = response.headers.getRawHeaders(name)
    return values[0] if values else None


@pytest_twisted.ensureDeferred
async def test_a_full_get_is_byte_exact_with_the_upstreams_headers(
    nginx: Nginx, data: bytes
) -> None:
    response, body = await get(f"{nginx.url}/f/{KEY}")
    assert response.code == 200
    assert body == data
    assert response.length == len(data), "Content-Length"
    assert header(response, "Content-Type") == CONTENT_TYPE
    assert header(response, "Content-Disposition") == DISPOSITION
    assert header(response, "Cache-Control") == CACHE_CONTROL
    assert header(response, "Accept-Ranges") == "bytes"
    assert header(response, "ETag") and header(response, "Last-Modified")
    assert header(response, "X-Accel-Redirect") is None, "internal detail kept from clients"


@pytest_twisted.ensureDeferred
async def test_head_gives_the_headers_without_the_body(nginx: Nginx, data: bytes) -> None:
    response, body = await get(f"{nginx.url}/f/{KEY}", method="HEAD")
    assert response.code == 200
    assert body == b""
    assert header(response, "Content-Length") == str(len(data))
    assert header(response, "Content-Type") == CONTENT_TYPE
    assert header(response, "Content-Disposition") == DISPOSITION


@pytest.mark.parametrize(
    ("spec", "start", "end"),
    [
        ("bytes=0-", 0, None),
        ("bytes=1000000-1999999", 1_000_000, 2_000_000),
        ("bytes=-100", -100, None),
        ("bytes=3000000-", 3_000_000, None),
    ],
)
@pytest_twisted.ensureDeferred
async def test_a_single_range_is_partial_content(
    nginx: Nginx, data: bytes, spec: str, start: int, end: int | None
) -> None:
    response, body = await get(f"{nginx.url}/f/{KEY}", {"Range": spec})
    expected = data[start:end]
    first = start % len(data)
    assert response.code == 206
    assert body == expected
    assert header(response, "Content-Range") == (
        f"bytes {first}-{first + len(expected) - 1}/{len(data)}"
    )
    assert header(response, "Content-Type") == CONTENT_TYPE
    assert header(response, "Content-Disposition") == DISPOSITION


@pytest_twisted.ensureDeferred
async def test_a_range_past_the_end_is_unsatisfiable(nginx: Nginx, data: bytes) -> None:
    response, body = await get(f"{nginx.url}/f/{KEY}", {"Range": f"bytes={len(data)}-"})
    assert response.code == 416
    assert header(response, "Content-Range") == f"bytes */{len(data)}"
    assert data[:100] not in body


@pytest_twisted.ensureDeferred
async def test_several_ranges_get_the_whole_file(nginx: Nginx, data: bytes) -> None:
    """max_ranges 1: a multi-range request is answered as if it had no Range (see the conf)."""
    response, body = await get(f"{nginx.url}/f/{KEY}", {"Range": "bytes=0-9,100-109"})
    assert response.code == 200
    assert body == data
    assert header(response, "Content-Range") is None
    assert not (header(response, "Content-Type") or "").startswith("multipart/")


@pytest_twisted.ensureDeferred
async def test_conditional_gets_are_answered_not_modified(nginx: Nginx, data: bytes) -> None:
    first, _ = await get(f"{nginx.url}/f/{KEY}", method="HEAD")
    etag, last_modified = header(first, "ETag"), header(first, "Last-Modified")
    assert etag and last_modified

    for conditions in ({"If-None-Match": etag}, {"If-Modified-Since": last_modified}):
        response, body = await get(f"{nginx.url}/f/{KEY}", conditions)
        assert response.code == 304, conditions
        assert body == b""
        assert header(response, "ETag") == etag
        assert header(response, "Last-Modified") == last_modified

    response, body = await get(f"{nginx.url}/f/{KEY}", {"If-None-Match": '"another"'})
    assert response.code == 200 and body == data


@pytest_twisted.ensureDeferred
async def test_an_unknown_file_gets_the_upstreams_json_404(nginx: Nginx, data: bytes) -> None:
    for key in ("not_cached", "not.a.key"):
        response, body = await get(f"{nginx.url}/f/{key}")
        assert response.code == 404
        assert header(response, "Content-Type") == "application/json"
        assert "error" in json.loads(body)


@pytest_twisted.ensureDeferred
async def test_the_cache_cannot_be_requested_directly(
    nginx: Nginx, cache: SpanCache, data: bytes
) -> None:
    for path in (cache.internal_path(KEY), "/_sequenzia_cache/", "/_sequenzia_cache/sp/"):
        response, body = await get(nginx.url + path)
        assert response.code == 404, path
        assert data[:100] not in body
    # Through the application, the same file is there.
    response, _ = await get(f"{nginx.url}/f/{KEY}", method="HEAD")
    assert response.code == 200


def directives(conf: str, block: str) -> list[str]:
    """The directives inside `block { ... }` of an Nginx file, comments stripped, sorted."""
    text = re.sub(r"#[^\n]*", "", conf)
    match = re.search(re.escape(block) + r"\s*\{([^{}]*)\}", text)
    assert match, f"no {block} block"
    return sorted(" ".join(d.split()) for d in match.group(1).split(";") if d.strip())


def test_the_tested_config_matches_the_production_template() -> None:
    """The test runs nginx/test.conf.in: its server and locations are the production ones."""
    test, production = TEMPLATE.read_text(), PRODUCTION.read_text()
    for block in (
        "location /",
        "location /_sequenzia_cache/",
        "map $http_upgrade $connection_upgrade",
    ):
        ours, theirs = directives(test, block), directives(production, block)
        ours = [d for d in ours if not d.startswith("alias ")]
        theirs = [d for d in theirs if not d.startswith("alias ")]
        assert ours == theirs, block


def server_level(conf: str) -> list[str]:
    """The directives of an Nginx file's `server { ... }` block itself, not of its locations."""
    text = re.sub(r"#[^\n]*", "", conf)
    server = text[text.index("server {") + len("server {") :]
    while (inner := re.sub(r"[^{};]*\{[^{}]*\}", ";", server)) != server:
        server = inner  # drop nested blocks, innermost first
    body = server[: server.index("}")]
    return [" ".join(d.split()) for d in body.split(";") if d.strip()]


@pytest.mark.parametrize("conf", [TEMPLATE, PRODUCTION], ids=lambda p: p.name)
def test_redirected_reads_may_be_corked(conf: Path) -> None:
    """sendfile and tcp_nopush hold for the whole server, not only the cache location.

    Nginx fixes at the first location a request matches (`location /` for /f/) whether
    its connection may use TCP_CORK, and keeps that through the X-Accel-Redirect: set in the
    cache location alone, redirected reads were never corked and ran at 0.7 to 0.85 of a
    static location in bench/spanned.py.
    """
    text = conf.read_text()
    server = server_level(text)
    assert "sendfile on" in server
    assert "tcp_nopush on" in server
    for block in ("location /", "location /_sequenzia_cache/"):
        inside = directives(text, block)
        assert "sendfile off" not in inside and "tcp_nopush off" not in inside, block


def test_the_production_template_is_valid_nginx(nginx_dir: Path) -> None:
    """`nginx -t` on nginx/sequenzia.conf, included where Debian includes it (http context)."""
    program = require_program("nginx", "Nginx")
    prefix = nginx_dir / "check"
    prefix.mkdir()
    # What an installer replaces anyway; port 80 cannot be bound here (`nginx -t` binds).
    site = re.sub(r"listen [^;]*80;", "", PRODUCTION.read_text())
    site = site.replace("server_name ", f"listen 127.0.0.1:{free_port()};\n    server_name ", 1)
    (prefix / "sequenzia.conf").write_text(site)
    (prefix / "nginx.conf").write_text(
        f"""
        pid "{prefix}/nginx.pid";
        error_log "{prefix}/error.log";
        events {{}}
        http {{
            access_log off;
            client_body_temp_path "{prefix}/client_body_temp";
            proxy_temp_path "{prefix}/proxy_temp";
            fastcgi_temp_path "{prefix}/fastcgi_temp";
            uwsgi_temp_path "{prefix}/uwsgi_temp";
            scgi_temp_path "{prefix}/scgi_temp";
            include "{prefix}/sequenzia.conf";
        }}
        """
    )
    result = subprocess.run(
        [program, "-t", "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
