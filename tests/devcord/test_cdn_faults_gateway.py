"""CDN signing and Range, the media proxy, fault switches, gateway resume, persistence, OAuth2."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import pytest_twisted
import treq
from PIL import Image
from twisted.internet import reactor, task
from twisted.web.client import ResponseFailed

from sequenzia.discordio import operations
from tests.devcord.conftest import Devcord, quiet_options, start_devcord
from tests.devcord.test_rest_rules import post_files


async def upload(dc: Devcord, data: bytes, name: str = "f.bin") -> dict:
    r = await post_files(dc, dc.text_channel_id(), [(name, data)])
    assert r.code == 200
    return json.loads(await r.content())


@pytest_twisted.ensureDeferred
async def test_signed_urls_range_and_expiry(tmp_path: Path) -> None:
    dc = await start_devcord(tmp_path / "dc", quiet_options(url_lifetime_s=1))
    try:
        data = bytes(range(256)) * 40
        message = await upload(dc, data)
        url = message["attachments"][0]["url"]
        query = parse_qs(urlsplit(url).query)
        assert (
            set(query) == {"ex", "is", "hm"}
            and int(query["ex"][0], 16) - int(query["is"][0], 16) == 1
        )
        assert await (await treq.get(url)).content() == data
        r = await treq.get(url, headers={"Range": "bytes=10-19"})
        assert r.code == 206 and await r.content() == data[10:20]
        assert r.headers.getRawHeaders("content-range") == [f"bytes 10-19/{len(data)}"]
        r = await treq.get(url, headers={"Range": "bytes=-5"})
        assert r.code == 206 and await r.content() == data[-5:]
        r = await treq.get(url, headers={"Range": f"bytes={len(data) + 10}-"})
        assert r.code == 416
        await r.content()
        r = await treq.head(url)
        assert r.code == 200 and r.headers.getRawHeaders("content-length") == [str(len(data))]
        forged = url.replace(query["hm"][0], "0" * 64)
        r = await treq.get(forged)
        assert r.code == 404 and b"no longer available" in await r.content()
        await task.deferLater(reactor, 2.1, lambda: None)
        r = await treq.get(url)
        assert r.code == 404, "expired"
        await r.content()
        r = await treq.post(
            f"{dc.api}/attachments/refresh-urls",
            json={"attachment_urls": [url, "https://elsewhere/x"]},
            headers=dc.bot_headers(),
        )
        refreshed = json.loads(await r.content())["refreshed_urls"]
        assert [x["original"] for x in refreshed] == [url]
        assert await (await treq.get(refreshed[0]["refreshed"])).content() == data
        r = await treq.post(
            f"{dc.api}/attachments/refresh-urls",
            json={"attachment_urls": []},
            headers=dc.bot_headers(),
        )
        assert r.code == 400
        await r.content()
    finally:
        await dc.service.stopService()
    assert not dc.checker.problems, dc.checker.problems


@pytest_twisted.ensureDeferred
async def test_media_proxy_resizes_images(devcord: Devcord) -> None:
    image = io.BytesIO()
    Image.new("RGB", (400, 200), (200, 30, 30)).save(image, format="PNG")
    message = await upload(devcord, image.getvalue(), "red.png")
    attachment = message["attachments"][0]
    assert (attachment["width"], attachment["height"]) == (400, 200)
    r = await treq.get(attachment["proxy_url"] + "width=100")
    assert r.code == 200
    thumb = Image.open(io.BytesIO(await r.content()))
    assert thumb.size == (100, 50)
    r = await treq.get(attachment["proxy_url"] + "width=-3")
    assert r.code == 400
    await r.content()


@pytest_twisted.ensureDeferred
async def test_cdn_faults_slow_truncated_altered_deleted(devcord: Devcord) -> None:
    data = os.urandom(100_000)
    message = await upload(devcord, data)
    url, aid = message["attachments"][0]["url"], int(message["attachments"][0]["id"])
    devcord.service.faults.slow_cdn(0.3)
    started = time.monotonic()
    assert await (await treq.get(url)).content() == data
    assert time.monotonic() - started >= 0.3
    devcord.service.faults.truncate_cdn(1000)
    r = await treq.get(url)
    with pytest.raises(ResponseFailed):
        await r.content()
    assert await (await treq.get(url)).content() == data, (
        "faults are bounded: the next read is whole"
    )
    devcord.service.apply_fault({"fault": "alter_attachment", "attachment_id": aid})
    altered = await (await treq.get(url)).content()
    assert len(altered) == len(data) and altered != data
    devcord.service.apply_fault({"fault": "delete_attachment", "attachment_id": aid})
    r = await treq.get(url)
    assert r.code == 404
    await r.content()


@pytest_twisted.ensureDeferred
async def test_admin_fault_endpoint(devcord: Devcord) -> None:
    url = devcord.api.replace("/api/v10", "/_devcord/faults")
    r = await treq.post(url, json={"fault": "route_5xx", "pattern": "/users/@me$", "status": 502})
    assert r.code == 401
    await r.content()
    auth = {"Authorization": f"Bearer {devcord.info['admin_token']}"}
    r = await treq.post(url, json={"fault": "no-such-fault"}, headers=auth)
    assert r.code == 400 and b"unknown fault" in await r.content()
    r = await treq.post(
        url, json={"fault": "route_5xx", "pattern": "/users/@me$", "status": 502}, headers=auth
    )
    assert r.code == 200
    await r.content()
    r = await treq.get(f"{devcord.api}/users/@me", headers=devcord.bot_headers())
    assert r.code == 502
    await r.content()
    r = await treq.get(f"{devcord.api}/users/@me", headers=devcord.bot_headers())
    assert r.code == 200, "one-shot"
    await r.content()


@pytest_twisted.ensureDeferred
async def test_discord_py_rides_out_5xx_and_429_storms(devcord: Devcord, bot) -> None:
    bridge, events = bot
    channel_id = devcord.text_channel_id()
    devcord.service.faults.fail_route(r"/messages$", status=502, count=1, method="POST")
    sent = await bridge.call(operations.send_message, channel_id, "after a 502")
    assert sent["content"] == "after a 502"
    devcord.service.faults.storm(1.0)
    sent = await bridge.call(operations.send_message, channel_id, "after a storm")
    assert sent["content"] == "after a storm"
    assert devcord.service.faults.received_429 >= 1


@pytest_twisted.ensureDeferred
async def test_gateway_resume_after_a_drop_loses_no_event(devcord: Devcord, bot) -> None:
    bridge, events = bot
    channel_id = devcord.text_channel_id()
    devcord.service.faults.drop_gateway()
    posted = []
    for n in range(5):  # while the bot is disconnected, a person posts
        r = await treq.post(
            f"{devcord.api}/channels/{channel_id}/messages",
            json={"content": f"missed {n}"},
            headers=devcord.other_headers(),
        )
        posted.append(json.loads(await r.content())["id"])
    await events.wait_for("RESUMED", timeout=20)
    for mid in posted:
        await events.wait_for("MESSAGE_CREATE", lambda d, mid=mid: d["id"] == mid)
    seen = [d["id"] for n, d in events.seen if n == "MESSAGE_CREATE"]
    assert seen == posted, "each exactly once, in order"
    assert bridge.connected


@pytest_twisted.ensureDeferred
async def test_stalled_gateway_and_message_deleted_by_another_user(devcord: Devcord, bot) -> None:
    bridge, events = bot
    channel_id = devcord.text_channel_id()
    sent = await bridge.call(operations.send_message, channel_id, "doomed")
    devcord.service.apply_fault(
        {"fault": "delete_message", "channel_id": channel_id, "message_id": int(sent["id"])}
    )
    await events.wait_for("MESSAGE_DELETE", lambda d: d["id"] == sent["id"])
    devcord.service.faults.stall_gateway(3.0)  # heartbeat ACKs stop: discord.py reconnects
    r = await treq.post(
        f"{devcord.api}/channels/{channel_id}/messages",
        json={"content": "during the stall"},
        headers=devcord.other_headers(),
    )
    mid = json.loads(await r.content())["id"]
    await events.wait_for("MESSAGE_CREATE", lambda d: d["id"] == mid, timeout=20)
    await events.wait_for("RESUMED", timeout=10)
    assert bridge.connected, "the new connection is not stalled: RESUMED came through"


@pytest_twisted.ensureDeferred
async def test_state_survives_a_restart(tmp_path: Path) -> None:
    dc = await start_devcord(tmp_path / "dc", quiet_options())
    message = await upload(dc, b"persist me")
    info = dc.info
    await dc.service.stopService()
    written = json.loads((tmp_path / "dc" / "devcord.json").read_text())
    for key in ("api_base", "bot_token", "guild_id", "owner_user_id", "client_id", "client_secret"):
        assert written[key]
    assert oct((tmp_path / "dc" / "devcord.json").stat().st_mode & 0o777) == "0o600"
    again = await start_devcord(tmp_path / "dc", quiet_options())
    try:
        assert (
            again.info["guild_id"] == info["guild_id"]
            and again.info["bot_token"] == info["bot_token"]
        )
        r = await treq.get(
            f"{again.api}/channels/{message['channel_id']}/messages/{message['id']}",
            headers=again.bot_headers(),
        )
        fetched = json.loads(await r.content())
        assert fetched["content"] == "x"
        assert await (await treq.get(fetched["attachments"][0]["url"])).content() == b"persist me"
        newer = await upload(again, b"new")
        assert int(newer["id"]) > int(message["id"]), "ids keep growing after a restart"
    finally:
        await again.service.stopService()


@pytest_twisted.ensureDeferred
async def test_oauth2_login_flow(devcord: Devcord) -> None:
    redirect = "http://127.0.0.1:9/callback"
    query = urlencode(
        {
            "client_id": devcord.info["client_id"],
            "redirect_uri": redirect,
            "response_type": "code",
            "scope": "identify guilds guilds.members.read",
            "state": "s1",
            "devcord_user": devcord.info["other_user_id"],
        }
    )
    authorize = devcord.api.replace("/api/v10", "/oauth2/authorize?") + query
    r = await treq.get(authorize, allow_redirects=False)
    assert r.code == 302
    location = r.headers.getRawHeaders("location")[0]
    params = parse_qs(urlsplit(location).query)
    assert location.startswith(redirect) and params["state"] == ["s1"]
    form = {
        "grant_type": "authorization_code",
        "code": params["code"][0],
        "redirect_uri": redirect,
        "client_id": devcord.info["client_id"],
        "client_secret": devcord.info["client_secret"],
    }
    r = await treq.post(f"{devcord.api}/oauth2/token", data=form)
    tokens = json.loads(await r.content())
    assert r.code == 200 and tokens["token_type"] == "Bearer"
    r = await treq.post(f"{devcord.api}/oauth2/token", data=form)
    assert r.code == 400 and json.loads(await r.content())["error"] == "invalid_grant", (
        "a code works once"
    )
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    me = json.loads(await (await treq.get(f"{devcord.api}/users/@me", headers=bearer)).content())
    assert me["id"] == devcord.info["other_user_id"]
    guilds = json.loads(
        await (await treq.get(f"{devcord.api}/users/@me/guilds", headers=bearer)).content()
    )
    assert [g["id"] for g in guilds] == [devcord.info["guild_id"]]
    member = json.loads(
        await (
            await treq.get(
                f"{devcord.api}/users/@me/guilds/{devcord.info['guild_id']}/member", headers=bearer
            )
        ).content()
    )
    assert member["roles"] == [] and member["user"]["id"] == me["id"]
    r = await treq.post(
        f"{devcord.api}/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": devcord.info["client_id"],
            "client_secret": devcord.info["client_secret"],
        },
    )
    fresh = json.loads(await r.content())
    assert r.code == 200 and fresh["access_token"] != tokens["access_token"]
    r = await treq.get(f"{devcord.api}/users/@me", headers=bearer)
    assert r.code == 401, "the old access token is gone"
    await r.content()
    r = await treq.post(f"{devcord.api}/oauth2/token", data={**form, "client_secret": "wrong"})
    assert r.code == 401
    await r.content()
    r = await treq.get(
        authorize.replace("response_type=code", "response_type=token"), allow_redirects=False
    )
    assert r.code == 400
    await r.content()


def test_standalone_command_runs_and_stops_on_sigterm(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sequenzia",
            "devcord",
            "--listen",
            f"tcp:{port}:interface=127.0.0.1",
            "--data",
            str(tmp_path / "dc"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        info_path = tmp_path / "dc" / "devcord.json"
        while not info_path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        info = json.loads(info_path.read_text())
        assert info["api_base"] == f"http://127.0.0.1:{port}/api/v10"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Traceback" not in out + err
    bad = subprocess.run(
        [sys.executable, "-m", "sequenzia", "devcord", "--listen", "nonsense:1"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 2 and "--listen must be a Twisted endpoint string" in bad.stderr


def _raw_gateway(url: str, frames: list[dict]) -> list[dict]:
    """Speak the gateway by hand (plain JSON text frames): send `frames`, collect answers."""
    import asyncio

    import aiohttp

    async def talk() -> list[dict]:
        got = []
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(url + "?v=10&encoding=json") as ws,
        ):
            got.append(json.loads((await ws.receive(timeout=5)).data))
            for frame in frames:
                await ws.send_str(json.dumps(frame))
            while True:
                msg = await ws.receive(timeout=5)
                if msg.type != aiohttp.WSMsgType.TEXT:
                    got.append({"closed": ws.close_code})
                    return got
                got.append(json.loads(msg.data))
                if got[-1].get("op") == 9 or got[-1].get("t") == "GUILD_CREATE":
                    return got

    return asyncio.run(talk())


@pytest_twisted.ensureDeferred
async def test_gateway_hello_identify_invalid_session_and_bad_token(devcord: Devcord) -> None:
    from twisted.internet import threads

    url = devcord.info["gateway_url"]
    frames = await threads.deferToThread(
        _raw_gateway,
        url,
        [
            {
                "op": 2,
                "d": {"token": devcord.info["bot_token"], "intents": 1 | 512, "properties": {}},
            }
        ],
    )
    assert frames[0]["op"] == 10 and frames[0]["d"]["heartbeat_interval"] > 0
    ready = frames[1]
    assert ready["t"] == "READY" and ready["s"] == 1 and ready["d"]["resume_gateway_url"] == url
    assert frames[2]["t"] == "GUILD_CREATE" and frames[2]["s"] == 2
    assert frames[2]["d"]["members"] == [], "no members without the GUILD_MEMBERS intent"
    frames = await threads.deferToThread(
        _raw_gateway,
        url,
        [{"op": 6, "d": {"token": devcord.info["bot_token"], "session_id": "nope", "seq": 3}}],
    )
    assert frames[1] == {"op": 9, "d": False, "s": None, "t": None}
    frames = await threads.deferToThread(
        _raw_gateway,
        url,
        [{"op": 6, "d": {"token": "Bot.wrong", "session_id": ready["d"]["session_id"], "seq": 1}}],
    )
    assert frames[1]["op"] == 9, "a session resumes only with its own token"
    frames = await threads.deferToThread(
        _raw_gateway, url, [{"op": 2, "d": {"token": "wrong", "intents": 1}}]
    )
    assert frames[-1] == {"closed": 4004}
