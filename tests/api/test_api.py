"""/api/v1: keys, record actions carried out as Discord I/O jobs, jobs, and bad input."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import AsyncIterator
from typing import Any

import pytest_twisted
import treq
from twisted.internet import reactor
from twisted.web.server import Site

from sequenzia.api.site import build_api
from sequenzia.authware import keys
from sequenzia.bus import LocalBus
from sequenzia.config import load_config
from sequenzia.db.pool import Database
from sequenzia.discordio import journal
from sequenzia.discordio.submit import SETTLED_TOPIC
from sequenzia.junefs import store
from sequenzia.web.site import build_site
from tests.devcord.conftest import Devcord
from tests.discordio.test_jobs import channel_messages, run_io


class Api:
    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.key = key

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        key: str | None = "owner",
        raw: bytes | None = None,
    ) -> tuple[int, Any, Any]:
        headers = {}
        if key is not None:
            headers["Authorization"] = f"Bearer {self.key if key == 'owner' else key}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        response = await treq.request(method, self.url + path, data=data, headers=headers)
        text = await response.content()
        return response.code, json.loads(text) if text else None, response.headers


async def serve(tmp_path, database: Database, bus: LocalBus) -> AsyncIterator[Api]:  # type: ignore[misc]
    path = await keys.install_owner_key(database, tmp_path)
    site = build_site(
        {}, reactor, build_api(database, bus, reactor, load_config(env={}, cwd=tmp_path))
    )
    assert isinstance(site, Site)
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    try:
        yield Api(f"http://127.0.0.1:{port.getHost().port}/api/v1", path.read_text().strip())
    finally:
        await port.stopListening()


def add_text_channel(txn: Any) -> None:
    """Server 1 with text channel 2, as the mirror would have recorded them."""
    txn.execute("INSERT INTO servers (id, name, created_ts, updated_ts) VALUES (1, 's', 0, 0)")
    txn.execute(
        "INSERT INTO channels (id, server_id, kind, name, created_ts, updated_ts)"
        " VALUES (2, 1, 'text', 'c', 0, 0)"
    )


@pytest_twisted.ensureDeferred
async def test_the_owner_key_is_written_once_and_kept_in_step_with_the_database(
    tmp_path, database: Database
) -> None:
    path = await keys.install_owner_key(database, tmp_path)
    key = path.read_text().strip()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and key.startswith("sqk_")
    assert (await database.runInteraction("l", keys.lookup, key)).scope == "admin"
    await keys.install_owner_key(database, tmp_path)
    assert path.read_text().strip() == key

    def stored(txn: Any) -> list[str]:
        txn.execute("SELECT key_hash FROM static_keys")
        return [r[0] for r in txn.fetchall()]

    [digest] = await database.runInteraction("s", stored)
    assert key not in digest and digest.startswith("$2")  # only the bcrypt hash is kept
    altered = key[:10] + ("B" if key[10] != "B" else "C") + key[11:]
    assert await database.runInteraction("l", keys.lookup, altered) is None


@pytest_twisted.ensureDeferred
async def test_keys_are_required_and_scoped(tmp_path, database: Database) -> None:
    async for api in serve(tmp_path, database, LocalBus()):
        status, body, headers = await api.call("GET", "/jobs", key=None)
        assert status == 401 and "Bearer" in body["error"]["message"]
        assert headers.getRawHeaders("WWW-Authenticate")
        status, body, _ = await api.call("GET", "/jobs", key="sqk_not-a-real-key")
        assert status == 401 and "not valid" in body["error"]["message"]
        reader = keys.new_key()
        await database.runInteraction(
            "k", keys.register_key, reader, user_id=1, kind="static", name="frame", scope="read"
        )
        status, body, _ = await api.call("DELETE", "/records/1", key=reader)
        assert status == 403 and "'read'" in body["error"]["message"]
        status, body, _ = await api.call("GET", "/jobs")
        assert status == 200 and body["counts"]["queued"] == 0
        status, document, _ = await api.call("GET", "/openapi.json", key=None)
        assert status == 200 and "/api/v1/records/{eid}/move" in document["paths"]
        assert document["paths"]["/api/v1/records/{eid}/move"]["post"]["x-scope"] == "write"


@pytest_twisted.ensureDeferred
async def test_record_actions_through_the_api(
    tmp_path, database: Database, devcord: Devcord
) -> None:
    bus = LocalBus()
    settled: list[dict[str, Any]] = []
    bus.subscribe(SETTLED_TOPIC, lambda topic, message: settled.append(message))
    io = await run_io(tmp_path, database, devcord, bus)
    try:
        async for api in serve(tmp_path, database, bus):
            channel = devcord.text_channel_id()
            status, body, headers = await api.call(
                "POST", f"/channels/{channel}/messages?wait=20", {"content": "hello"}
            )
            assert status == 200 and body["job"]["state"] == "done", body
            job_id = body["job"]["id"]
            assert headers.getRawHeaders("Location") == [f"/api/v1/jobs/{job_id}"]
            status, body, _ = await api.call("GET", f"/jobs/{job_id}")
            message_id = body["job"]["result"]["message_id"]

            record = await database.runInteraction("e", store.record_by_message, int(message_id))
            eid = record["eid"]
            status, body, _ = await api.call("PATCH", f"/records/{eid}?wait=20", {"content": "hi"})
            assert status == 200 and body["job"]["state"] == "done", body
            status, body, _ = await api.call("POST", f"/records/{eid}/pin?wait=20")
            assert body["job"]["state"] == "done", body
            status, body, _ = await api.call("GET", f"/records/{eid}")
            assert body["record"]["content"] == "hi" and body["record"]["pinned"] is True
            assert body["record"]["channel_id"] == str(channel)

            archive = io.servers[int(devcord.info["guild_id"])].archive_channel_id
            status, body, _ = await api.call(
                "POST", f"/records/{eid}/move?wait=20", {"channel_id": str(archive)}
            )
            assert body["job"]["state"] == "done", body
            status, body, _ = await api.call("GET", f"/records/{eid}")
            assert body["record"]["channel_id"] == str(archive)  # the same eid, elsewhere
            assert [m["content"] for m in await channel_messages(devcord, archive)] == ["hi"]

            status, body, _ = await api.call("DELETE", f"/records/{eid}?wait=20")
            assert body["job"]["state"] == "done", body
            status, body, _ = await api.call("GET", f"/records/{eid}")
            assert status == 404
            assert await channel_messages(devcord, archive) == []
            assert [(m["kind"], m["state"]) for m in settled] == [
                (kind, "done") for kind in ("post", "edit", "pin", "move", "delete")
            ]
    finally:
        await io.stopService()


@pytest_twisted.ensureDeferred
async def test_bad_input_is_refused_before_anything_is_journalled(
    tmp_path, database: Database
) -> None:
    async for api in serve(tmp_path, database, LocalBus()):

        def add_record(txn: Any) -> int:
            add_text_channel(txn)
            txn.execute(
                "INSERT INTO records (message_id, channel_id, server_id, posted_ts, indexed_ts,"
                " kind, attachment_name, content_type, rand_key)"
                " VALUES (3, 2, 1, 0, 0, 'file', 'a.txt', 'text/plain', 1)"
            )
            return int(txn.lastrowid)

        eid = await database.runInteraction("r", add_record)
        cases = [
            ("POST", f"/records/{eid}/move", {"channel_id": "999"}, 404, "no text channel 999"),
            ("POST", f"/records/{eid}/move", {"channel_id": "general"}, 400, "'channel_id'"),
            ("POST", f"/records/{eid}/move", {}, 400, "'channel_id'"),
            ("POST", f"/records/{eid}/rename", {"name": "../../etc/passwd"}, 400, "one file name"),
            ("POST", f"/records/{eid}/rotate", {"degrees": 90}, 400, "not an image"),
            ("POST", f"/records/{eid}/rotate", {"degrees": 45}, 400, "'degrees'"),
            ("PATCH", f"/records/{eid}", {"content": "x" * 2001}, 400, "Discord allows 2000"),
            ("PATCH", f"/records/{eid}", {"content": 5}, 400, "'content' must be text"),
            ("POST", "/records/424242/archive", None, 404, "no record 424242"),
            ("POST", "/records/abc/archive", None, 400, "'eid' in the path"),
            ("POST", "/channels/2/messages", {"content": ""}, 400, "must not be empty"),
            ("GET", "/jobs?state=lost", None, 400, "'state'"),
            ("GET", "/jobs?limit=0", None, 400, "'limit'"),
            ("POST", f"/records/{eid}/move?wait=600", {"channel_id": "2"}, 400, "'wait'"),
            ("GET", "/nothing/here", None, 404, "no such API endpoint"),
            ("PUT", f"/records/{eid}", None, 405, "not allowed"),
            ("POST", "/jobs/77/retry", None, 404, "no job 77"),
        ]
        for method, path, body, status, expected in cases:
            got, answer, _ = await api.call(method, path, body)
            assert got == status and expected in answer["error"]["message"], (path, body, answer)
        got, answer, _ = await api.call("PATCH", f"/records/{eid}", raw=b"{nope")
        assert got == 400 and "not valid JSON" in answer["error"]["message"]
        got, answer, _ = await api.call("PATCH", f"/records/{eid}", raw=b"[1]")
        assert got == 400 and "JSON object" in answer["error"]["message"]
        counts = await database.runInteraction("c", journal.counts)
        assert sum(counts.values()) == 0, "bad input must not journal a job"


@pytest_twisted.ensureDeferred
async def test_failed_jobs_are_listed_and_an_admin_can_retry_them(
    tmp_path, database: Database
) -> None:
    async for api in serve(tmp_path, database, LocalBus()):
        job_id = await database.runInteraction("e", journal.enqueue, "post", {"channel_id": 1})
        await database.runInteraction(
            "f", journal.fail, job_id, "Discord answered 404", permanent=True
        )
        status, body, _ = await api.call("GET", "/jobs?state=failed")
        assert [j["id"] for j in body["jobs"]] == [job_id]
        assert body["jobs"][0]["last_error"] == "Discord answered 404"
        status, body, _ = await api.call("POST", f"/jobs/{job_id}/retry")
        assert status == 200 and body["job"]["state"] == "queued" and body["job"]["attempts"] == 0
        status, body, _ = await api.call("POST", f"/jobs/{job_id}/retry")
        assert status == 409 and "only a failed job" in body["error"]["message"]
