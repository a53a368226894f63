"""`GET /f/<eid>/<name>` end to end: uploads stored through devcord, read back through Nginx."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest_twisted
import treq
from twisted.internet import defer, reactor, task, tcp
from twisted.internet.protocol import ClientCreator, Protocol
from twisted.web.client import ResponseFailed

from cds.site import build_cds
from sequenzia.api.site import build_api
from sequenzia.authware import keys
from sequenzia.bus import LocalBus
from sequenzia.config import load_config
from sequenzia.db.pool import Database
from sequenzia.spans import store as spans
from sequenzia.spans.hashing import xxh3_128_hex
from sequenzia.web.site import build_site
from tests.api.test_uploads import Client
from tests.devcord.conftest import Devcord
from tests.discordio.test_jobs import run_io
from tests.nginx import Nginx

MiB = 1024 * 1024


class Library:
    def __init__(self, client: Client, base: str, files: Any, cache_root: Path, port: int) -> None:
        self.client, self.base, self.files, self.cache_root, self.port = (
            client,
            base,
            files,
            cache_root,
            port,
        )

    async def get(
        self,
        path: str,
        headers: dict[str, str] | None = None,
        method: str = "GET",
        base: str | None = None,
    ) -> tuple[Any, bytes]:
        sent = {"Authorization": f"Bearer {self.client.key}", **(headers or {})}
        response = await treq.request(
            method,
            (base or self.base) + path,
            headers=sent,
            persistent=False,
            allow_redirects=False,
        )
        return response, await treq.content(response)


@asynccontextmanager
async def library(
    tmp_path: Path, database: Database, bus: LocalBus, cache_root: Path, accel: bool
) -> AsyncIterator[Library]:
    config = load_config(env={}, cwd=tmp_path)
    config = dataclasses.replace(
        config,
        spans=dataclasses.replace(config.spans, part_size_mib=1),
        cds=dataclasses.replace(config.cds, cache_dir=str(cache_root), accel=accel),
    )
    key_path = await keys.install_owner_key(database, tmp_path)
    files, _ = build_cds(database, bus, reactor, config)
    site = build_site({}, reactor, build_api(database, bus, reactor, config), files)
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    base = f"http://127.0.0.1:{port.getHost().port}"
    try:
        yield Library(
            Client(base + "/api/v1", key_path.read_text().strip()),
            base,
            files,
            cache_root,
            port.getHost().port,
        )
    finally:
        await port.stopListening()


@asynccontextmanager
async def running(
    tmp_path: Path, database: Database, devcord: Devcord, cache_root: Path, *, accel: bool
) -> AsyncIterator[Library]:
    """The io role against devcord, and the web site (API and /f/) beside it."""
    bus = LocalBus()
    io = await run_io(tmp_path, database, devcord, bus)
    try:
        async with library(tmp_path, database, bus, cache_root, accel) as lib:
            yield lib
    finally:
        await io.stopService()


def header(response: Any, name: str) -> str | None:
    values = response.headers.getRawHeaders(name)
    return values[0] if values else None


async def upload(lib: Library, devcord: Devcord, name: str, data: bytes) -> dict[str, Any]:
    body = await lib.client.upload(name, data, devcord.text_channel_id())
    status, shown = await lib.client.call("GET", f"/records/{body['upload']['eid']}")
    return shown["record"]


def count_fetches(lib: Library) -> list[str]:
    """The URLs the CDS's assembler fetches from now on, in order."""
    assembler = lib.files._assembler
    fetched: list[str] = []
    real = assembler._fetch

    async def counting(url: str) -> tuple[int, bytes]:
        fetched.append(url)
        return await real(url)  # type: ignore[no-any-return]

    assembler._fetch = counting
    return fetched


def audit(database: Database) -> Any:
    def rows(txn: Any) -> list[tuple[Any, ...]]:
        txn.execute("SELECT action, eid, bytes, cache_hit FROM audit_log ORDER BY id")
        return [tuple(r) for r in txn.fetchall()]

    return database.runInteraction("audit", rows)


@pytest_twisted.ensureDeferred
async def test_cold_then_warm_reads_through_nginx(
    tmp_path,
    database: Database,
    devcord: Devcord,
    nginx_dir: Path,
    run_nginx: Callable[[int, Path], Nginx],
) -> None:
    async with running(tmp_path, database, devcord, nginx_dir / "cache", accel=True) as lib:
        nginx = run_nginx(lib.port, lib.cache_root)
        lib.client = Client(nginx.url + "/api/v1", lib.client.key)  # uploads through Nginx too
        data = os.urandom(3 * MiB + 4321)
        record = await upload(lib, devcord, "holiday film.mkv", data)
        link = record["file"]["url"]
        assert link == f"/f/{record['eid']}/holiday%20film.mkv"

        response, body = await lib.get(link, base=nginx.url)  # cold: assembled and streamed
        assert response.code == 200 and body == data
        assert response.length == len(data), "Content-Length"
        assert header(response, "Content-Disposition") == (
            "inline; filename=\"holiday film.mkv\"; filename*=UTF-8''holiday%20film.mkv"
        )
        assert header(response, "Content-Type") == "video/x-matroska"
        cached = list(lib.cache_root.rglob("*"))
        assert [p.stat().st_size for p in cached if p.is_file()] == [len(data)]

        response, body = await lib.get(link, base=nginx.url)  # warm: Nginx sends the file
        assert (
            response.code == 200 and body == data and header(response, "X-Accel-Redirect") is None
        )
        etag = header(response, "ETag")
        response, body = await lib.get(link)  # the node's own answer, which Nginx acts on
        assert header(response, "X-Accel-Redirect") and body == b""
        assert response.length == 0 and header(response, "Transfer-Encoding") is None, (
            "a body of known length 0, so Nginx keeps the upstream connection alive"
        )
        for asked, expected in [
            ("bytes=0-", data),
            ("bytes=1000-1999", data[1000:2000]),
            ("bytes=-100", data[-100:]),
        ]:
            response, body = await lib.get(link, {"Range": asked}, base=nginx.url)
            assert response.code == 206 and body == expected, asked
        response, body = await lib.get(link, method="HEAD", base=nginx.url)
        assert (
            response.code == 200
            and body == b""
            and header(response, "Content-Length") == str(len(data))
        )
        response, body = await lib.get(link, {"If-None-Match": etag or ""}, base=nginx.url)
        assert response.code == 304
        response, body = await lib.get(link + "?download=1", base=nginx.url)
        assert header(
            response,
            "Content-Disposition",
        ).startswith("attachment;")

        response, body = await lib.get(
            link, base=nginx.url, headers={"Authorization": "Bearer nope"}
        )
        assert response.code == 401
        response, body = await lib.get("/f/999999/x", base=nginx.url)
        assert response.code == 404
        rows = await audit(database)
        assert rows[0] == ("read", record["eid"], len(data), 0)
        assert {r[3] for r in rows[1:]} == {1}, "later reads hit the cache"


@pytest_twisted.ensureDeferred
async def test_concurrent_cold_reads_share_one_assembly_and_ranges_work_without_nginx(
    tmp_path, database: Database, devcord: Devcord
) -> None:
    # the io role's configuration puts the cache here too: a delete must reach it
    async with running(
        tmp_path, database, devcord, tmp_path / "data" / "cache", accel=False
    ) as lib:
        data = os.urandom(4 * MiB + 1)
        record = await upload(lib, devcord, "a.bin", data)
        fetched = count_fetches(lib)
        link = record["file"]["url"]
        results = await defer.gatherResults(
            [defer.ensureDeferred(lib.get(link)) for _ in range(3)]
            + [defer.ensureDeferred(lib.get(link, {"Range": "bytes=10-19"}))]
        )
        assert [body for _, body in results[:3]] == [data] * 3
        assert results[3][0].code == 206 and results[3][1] == data[10:20]
        assert len(fetched) == 5, "five parts, fetched once for four readers"
        response, body = await lib.get(link, {"Range": "bytes=-5"})
        assert response.code == 206 and body == data[-5:]
        cached = lib.cache_root / record["file_id"][:2] / record["file_id"]
        assert cached.is_file()
        status, body = await lib.client.call("DELETE", f"/records/{record['eid']}?wait=30")
        assert body["job"]["state"] == "done", body
        assert not cached.exists(), "deleting a spanned file removes its cache file"
        response, body = await lib.get(link)
        assert response.code == 404


@pytest_twisted.ensureDeferred
async def test_a_reader_late_for_an_ended_assembly_takes_the_published_file(
    tmp_path, database: Database, devcord: Devcord
) -> None:
    """A cache miss, then the assembly it missed ends: the next one fetches nothing."""
    async with running(tmp_path, database, devcord, tmp_path / "cache", accel=False) as lib:
        data = os.urandom(3 * MiB + 7)
        record = await upload(lib, devcord, "late.bin", data)
        response, body = await lib.get(record["file"]["url"])  # cold: assembled, published
        assert response.code == 200 and body == data
        assembler = lib.files._assembler
        # The client has every byte before the server's assembly has ended: wait for its end.
        while assembler._running:
            await task.deferLater(reactor, 0.01, lambda: None)
        fetched = count_fetches(lib)
        header = await database.runInteraction("f", spans.spanned_file, record["file_id"])
        assembly = assembler.assemble(header)  # as a reader whose lookup came just before
        while not assembly.finished:
            await assembly.wait_beyond(assembly.size)
        assert assembly.error is None and fetched == []
        assert assembly.result == lib.cache_root / record["file_id"][:2] / record["file_id"]
        assert assembly.ready == len(data)


@pytest_twisted.ensureDeferred
async def test_a_corrupted_or_expired_part_is_handled(
    tmp_path, database: Database, devcord: Devcord
) -> None:
    async with running(tmp_path, database, devcord, tmp_path / "cache", accel=False) as lib:
        data = os.urandom(3 * MiB)
        record = await upload(lib, devcord, "a.bin", data)

        def attachments(txn: Any, file_id: str) -> list[int]:
            txn.execute(
                "SELECT attachment_id FROM file_parts WHERE file_id = ? ORDER BY idx",
                (file_id,),
            )
            return [int(r[0]) for r in txn.fetchall()]

        def expire(txn: Any, file_id: str) -> None:
            # a URL that no longer works (expired) and the index knowing it
            txn.execute(
                "UPDATE file_parts SET url = REPLACE(url, 'hm=', 'hm=0'), url_expires_ts = 0 WHERE file_id = ?",
                (file_id,),
            )

        await database.runInteraction("x", expire, record["file_id"])
        response, body = await lib.get(record["file"]["url"])
        assert response.code == 200 and body == data, "expired URLs are renewed during the read"

        second = await upload(lib, devcord, "b.bin", data[::-1])
        first_part, second_part, _ = await database.runInteraction(
            "a", attachments, second["file_id"]
        )
        devcord.service.alter_attachment(first_part)
        response, body = await lib.get(second["file"]["url"])
        assert response.code == 502
        assert f"part 1 of 3 of file {second['file_id']} does not match its hash" in body.decode()

        third = await upload(lib, devcord, "c.bin", os.urandom(3 * MiB))
        _, middle, _ = await database.runInteraction("a", attachments, third["file_id"])
        devcord.service.alter_attachment(middle)
        try:
            response, body = await lib.get(third["file"]["url"])
        except ResponseFailed:
            pass  # the stream was cut short: the client knows it did not get the file
        else:
            # or the damage was found before the first byte went out
            assert response.code == 502, f"a corrupted part was served: {response.code}"
            assert f"part 2 of 3 of file {third['file_id']}" in body.decode()
        assert not [
            p
            for p in (tmp_path / "cache").rglob("*")
            if p.is_file() and third["file_id"] in p.name and not p.name.startswith(".")
        ], "nothing corrupt is published in the cache"


@pytest_twisted.ensureDeferred
async def test_small_files_redirect_to_a_fresh_cdn_url(
    tmp_path, database: Database, devcord: Devcord
) -> None:
    async with running(tmp_path, database, devcord, tmp_path / "cache", accel=False) as lib:
        data = os.urandom(5000)
        record = await upload(lib, devcord, "small.bin", data)
        assert record["kind"] == "file" and record["file"]["xxh3_128"] == xxh3_128_hex(data)

        def expire(txn: Any, eid: int) -> None:
            txn.execute("UPDATE records SET url_expires_ts = 0 WHERE eid = ?", (eid,))

        await database.runInteraction("x", expire, record["eid"])
        response, _ = await lib.get(record["file"]["url"])
        assert response.code == 302
        location = header(response, "Location")
        assert location and "ex=" in location
        fetched = await treq.get(location)
        assert await treq.content(fetched) == data
        response, body = await lib.get(record["file"]["url"], headers={"Authorization": ""})
        assert response.code == 401 and b"Bearer" in body


class SlowReader(Protocol):
    """A client that sends one GET, then stops reading until told to go on."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.received = bytearray()
        self.done: defer.Deferred[bytes] = defer.Deferred()

    def connectionMade(self) -> None:
        self.transport.write(self.request)

    def dataReceived(self, data: bytes) -> None:
        if not self.received:
            self.transport.pauseProducing()  # the first bytes are in: stop reading
        self.received += data

    def connectionLost(self, reason: Any) -> None:
        self.done.callback(bytes(self.received))


def held_for(port: int) -> int:
    """Bytes the server's transports on `port` hold in their write buffers."""
    held = 0
    for selectable in {*reactor.getReaders(), *reactor.getWriters()}:
        if isinstance(selectable, tcp.Server) and selectable.getHost().port == port:
            held += len(selectable.dataBuffer) - selectable.offset + selectable._tempDataLen
    return held


@pytest_twisted.ensureDeferred
async def test_a_cold_read_follows_a_slow_client_and_completes_when_it_resumes(
    tmp_path, database: Database, devcord: Devcord
) -> None:
    async with running(tmp_path, database, devcord, tmp_path / "cache", accel=False) as lib:
        # larger than what the kernel's socket buffers take on loopback (about 4 MiB)
        data = os.urandom(16 * MiB + 3)
        record = await upload(lib, devcord, "big.bin", data)
        request = (
            f"GET {record['file']['url']} HTTP/1.1\r\nHost: localhost\r\n"
            f"Authorization: Bearer {lib.client.key}\r\nConnection: close\r\n\r\n"
        ).encode()
        reader = SlowReader(request)
        await ClientCreator(reactor, lambda: reader).connectTCP("127.0.0.1", lib.port)
        while lib.files._cache.lookup(str(record["file_id"])) is None:
            await task.deferLater(reactor, 0.05, lambda: None)  # assembled: all could be sent
        await task.deferLater(reactor, 0.5, lambda: None)
        held = held_for(lib.port)
        assert held < 1 * MiB, f"the server holds {held} bytes for a client that reads nothing"
        reader.transport.resumeProducing()
        response = await reader.done
        head, _, body = response.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and body == data


@pytest_twisted.ensureDeferred
async def test_the_first_part_is_fetched_alone_then_parts_in_parallel(
    tmp_path, database: Database, devcord: Devcord
) -> None:
    async with running(tmp_path, database, devcord, tmp_path / "cache", accel=False) as lib:
        data = os.urandom(6 * MiB + 5)
        record = await upload(lib, devcord, "a.bin", data)

        def urls(txn: Any) -> list[str]:
            txn.execute("SELECT url FROM file_parts ORDER BY idx")
            return [str(row[0]) for row in txn.fetchall()]

        index = {url: n for n, url in enumerate(await database.runInteraction("urls", urls))}
        assembler = lib.files._assembler
        real = assembler._fetch
        events: list[str] = []
        in_flight, most = [0], [0]

        async def watched(url: str) -> tuple[int, bytes]:
            events.append(f"start {index[url]}")
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
            try:
                return await real(url)
            finally:
                in_flight[0] -= 1
                events.append(f"end {index[url]}")

        assembler._fetch = watched
        response, body = await lib.get(record["file"]["url"])
        assert response.code == 200 and body == data
        # the first byte waits for part 0 only: nothing shares its bandwidth
        assert events[:2] == ["start 0", "end 0"], events
        assert most[0] == assembler._parallel, "then parallel fetches, no more"
        assert sorted(e for e in events if e.startswith("start")) == [
            f"start {n}" for n in range(7)
        ]
