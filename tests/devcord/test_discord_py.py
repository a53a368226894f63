"""discord.py, unmodified, against devcord: every operation Sequenzia uses, and its events."""

from __future__ import annotations

import io

import discord
import pytest_twisted
import treq

from sequenzia.discordio import operations
from tests.devcord.conftest import Devcord


@pytest_twisted.ensureDeferred
async def test_ready_with_the_guild_and_its_channels(devcord: Devcord, bot) -> None:
    bridge, events = bot
    assert bridge.connected
    assert events.names()[:2] == ["READY", "GUILD_CREATE"]
    guild = events.seen[1][1]
    assert guild["id"] == devcord.info["guild_id"]
    assert {c["name"] for c in guild["channels"]} >= {"Text Channels", "general"}
    assert len(guild["members"]) == 3, "the members intent brings the member list"

    async def who(client: discord.Client) -> tuple[str, list[str]]:
        return str(client.user.id), [g.name for g in client.guilds]

    me, guilds = await bridge.call(who)
    assert guilds == ["devcord"] and me != devcord.info["owner_user_id"]


@pytest_twisted.ensureDeferred
async def test_messages_files_history_edit_delete_and_their_events(devcord: Devcord, bot) -> None:
    bridge, events = bot
    channel_id = devcord.text_channel_id()

    async def send_files(client: discord.Client, count: int) -> dict:
        ch = client.get_channel(channel_id)
        files = [
            discord.File(io.BytesIO(bytes([n]) * (n + 1)), filename=f"f{n} ç.bin")
            for n in range(count)
        ]
        m = await ch.send(f"{count} files", files=files)
        return {
            "id": m.id,
            "names": [a.filename for a in m.attachments],
            "sizes": [a.size for a in m.attachments],
            "url": m.attachments[0].url,
        }

    one = await bridge.call(send_files, 1)
    ten = await bridge.call(send_files, 10)
    assert one["names"] == ["f0 ç.bin"] and ten["sizes"] == list(range(1, 11))
    created = await events.wait_for("MESSAGE_CREATE", lambda d: d["id"] == str(ten["id"]))
    assert len(created["attachments"]) == 10 and created["content"] == "10 files"
    body = await (await treq.get(one["url"])).content()
    assert body == b"\x00"

    ids = [one["id"], ten["id"]]
    for n in range(5):
        sent = await bridge.call(operations.send_message, channel_id, f"text {n}")
        ids.append(int(sent["id"]))
    fetched = await bridge.call(operations.get_message, channel_id, ids[2])
    assert fetched["content"] == "text 0"
    page = await bridge.call(operations.history, channel_id, limit=3)
    assert [int(m["id"]) for m in page] == ids[-1:-4:-1], "newest first"
    older = await bridge.call(operations.history, channel_id, limit=3, before=ids[-3])
    assert [int(m["id"]) for m in older] == [ids[3], ids[2], ids[1]]
    newer = await bridge.call(operations.history, channel_id, limit=2, after=ids[1])
    assert sorted(int(m["id"]) for m in newer) == [ids[2], ids[3]]

    edited = await bridge.call(operations.edit_content, channel_id, ids[2], "changed")
    assert edited["content"] == "changed" and edited["edited_timestamp"]
    await events.wait_for(
        "MESSAGE_UPDATE", lambda d: d["id"] == str(ids[2]) and d["content"] == "changed"
    )

    await bridge.call(operations.delete_message, channel_id, ids[2])
    await events.wait_for("MESSAGE_DELETE", lambda d: d["id"] == str(ids[2]))
    assert await bridge.call(operations.get_message, channel_id, ids[2]) is None
    await bridge.call(operations.delete_messages, channel_id, ids[3:5])
    bulk = await events.wait_for("MESSAGE_DELETE_BULK")
    assert sorted(bulk["ids"]) == sorted(str(i) for i in ids[3:5])
    await bridge.call(operations.delete_message, channel_id, ids[2])  # already gone: fine


@pytest_twisted.ensureDeferred
async def test_reactions_pins_channels_threads_webhooks(devcord: Devcord, bot) -> None:
    bridge, events = bot
    channel_id = devcord.text_channel_id()
    guild_id = int(devcord.info["guild_id"])
    sent = await bridge.call(operations.send_message, channel_id, "react to me")
    mid = int(sent["id"])

    async def react(client: discord.Client) -> list[tuple[str, int]]:
        ch = client.get_channel(channel_id)
        m = await ch.fetch_message(mid)
        await m.add_reaction("👍")
        await m.add_reaction("🧩")
        await m.remove_reaction("🧩", client.user)
        m = await ch.fetch_message(mid)
        return [(str(r.emoji), r.count) for r in m.reactions]

    assert await bridge.call(react) == [("👍", 1)]
    await events.wait_for("MESSAGE_REACTION_ADD", lambda d: d["emoji"]["name"] == "👍")
    await events.wait_for("MESSAGE_REACTION_REMOVE", lambda d: d["emoji"]["name"] == "🧩")

    await bridge.call(operations.pin, channel_id, mid, True)
    assert (await bridge.call(operations.get_message, channel_id, mid))["pinned"] is True
    await bridge.call(operations.pin, channel_id, mid, False)
    assert (await bridge.call(operations.get_message, channel_id, mid))["pinned"] is False

    category = await bridge.call(operations.create_channel, guild_id, "Sequenzia Data", kind=4)
    data = await bridge.call(
        operations.create_channel, guild_id, "seq data 1", parent_id=int(category["id"])
    )
    assert data["parent_id"] == category["id"] and data["name"] == "seq-data-1"
    await events.wait_for("CHANNEL_CREATE", lambda d: d["id"] == data["id"])
    names = [c["name"] for c in await bridge.call(operations.guild_channels, guild_id)]
    assert "seq-data-1" in names and "Sequenzia Data" in names

    async def thread_and_webhook(client: discord.Client) -> tuple[int, int, str]:
        ch = client.get_channel(channel_id)
        thread = await ch.create_thread(name="a thread", type=discord.ChannelType.public_thread)
        await thread.send("in the thread")
        hook = await ch.create_webhook(name="feeder")
        posted = await hook.send(
            "via webhook", wait=True, files=[discord.File(io.BytesIO(b"w" * 5), filename="w.txt")]
        )
        return thread.id, posted.id, posted.attachments[0].filename

    thread_id, hook_message, name = await bridge.call(thread_and_webhook)
    assert name == "w.txt"
    await events.wait_for("THREAD_CREATE", lambda d: d["id"] == str(thread_id))
    await events.wait_for(
        "MESSAGE_CREATE", lambda d: d["id"] == str(hook_message) and d.get("webhook_id")
    )

    async def rename_and_delete(client: discord.Client) -> None:
        ch = client.get_channel(int(data["id"]))
        await ch.edit(name="renamed")
        await ch.delete()

    await bridge.call(rename_and_delete)
    await events.wait_for("CHANNEL_UPDATE", lambda d: d["name"] == "renamed")
    await events.wait_for("CHANNEL_DELETE", lambda d: d["id"] == data["id"])


@pytest_twisted.ensureDeferred
async def test_changes_by_other_clients_arrive_as_events(devcord: Devcord, bot) -> None:
    bridge, events = bot
    channel_id = devcord.text_channel_id()
    sent = await bridge.call(operations.send_message, channel_id, "mine")
    # another user (a person in Discord) deletes it
    r = await treq.delete(
        f"{devcord.api}/channels/{channel_id}/messages/{sent['id']}",
        headers={"Authorization": f"User {devcord.info['owner_token']}"},
    )
    assert r.code == 204
    await events.wait_for("MESSAGE_DELETE", lambda d: d["id"] == sent["id"])
    # another user posts: without being its author, the bot still sees the content (intent on)
    r = await treq.post(
        f"{devcord.api}/channels/{channel_id}/messages",
        json={"content": "from a person"},
        headers=devcord.other_headers(),
    )
    assert r.code == 200
    await events.wait_for("MESSAGE_CREATE", lambda d: d["content"] == "from a person")
    # an admin gives a member a role
    guild_id = devcord.info["guild_id"]
    role = devcord.info["admin_role_id"]
    r = await treq.put(
        f"{devcord.api}/guilds/{guild_id}/members/{devcord.info['other_user_id']}/roles/{role}",
        headers=devcord.bot_headers(),
    )
    assert r.code == 204
    update = await events.wait_for("GUILD_MEMBER_UPDATE")
    assert update["roles"] == [role] and update["user"]["id"] == devcord.info["other_user_id"]
