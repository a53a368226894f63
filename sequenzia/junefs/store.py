"""JuneFS's tables: servers, channels, records, and the roles and members AuthWare reads.

Functions take a transaction (`txn`, inside `Database.runInteraction`) and Discord's JSON
or a `MessageView`. Writes are upserts keyed by Discord ids, so applying the same event
twice (a gateway replay, our own write echoed back) changes nothing.
"""

from __future__ import annotations

import random
import time
from typing import Any

from sequenzia.junefs.messages import MessageView, iso_ms

CHANNEL_KINDS = {
    0: "text",
    2: "voice",
    4: "category",
    5: "news",
    10: "thread",
    11: "thread",
    12: "thread",
    15: "forum",
    16: "media",
}


def _now() -> int:
    return int(time.time() * 1000)


def upsert_server(txn: Any, guild: dict[str, Any]) -> None:
    now = _now()
    txn.execute(
        txn.engine.upsert("servers", ["id"], ["name", "icon", "created_ts", "updated_ts"]),
        (int(guild["id"]), guild.get("name") or str(guild["id"]), guild.get("icon"), now, now),
    )


def upsert_channel(txn: Any, channel: dict[str, Any], server_id: int | None = None) -> None:
    now = _now()
    server = int(channel.get("guild_id") or server_id or 0)
    parent = channel.get("parent_id")
    txn.execute(
        txn.engine.upsert(
            "channels",
            ["id"],
            [
                "server_id",
                "parent_id",
                "kind",
                "name",
                "topic",
                "position",
                "nsfw",
                "deleted",
                "created_ts",
                "updated_ts",
            ],
        ),
        (
            int(channel["id"]),
            server,
            int(parent) if parent else None,
            CHANNEL_KINDS.get(int(channel.get("type", 0)), "text"),
            str(channel.get("name") or channel["id"])[:100],
            channel.get("topic"),
            int(channel.get("position") or 0),
            1 if channel.get("nsfw") else 0,
            0,
            now,
            now,
        ),
    )


def delete_channel(txn: Any, channel_id: int) -> None:
    """A channel deleted in Discord: kept as deleted (its records are gone with it)."""
    txn.execute(
        "UPDATE channels SET deleted = 1, updated_ts = ? WHERE id = ?", (_now(), channel_id)
    )
    txn.execute("DELETE FROM records WHERE channel_id = ?", (channel_id,))


def upsert_user(txn: Any, user: dict[str, Any]) -> None:
    txn.execute(
        txn.engine.upsert("users", ["id"], ["username", "global_name", "avatar", "created_ts"]),
        (
            int(user["id"]),
            str(user.get("username") or user["id"])[:100],
            user.get("global_name"),
            user.get("avatar"),
            _now(),
        ),
    )


def upsert_roles(txn: Any, server_id: int, roles: list[dict[str, Any]]) -> None:
    for role in roles:
        txn.execute(
            txn.engine.upsert("roles", ["id"], ["server_id", "name", "position", "color"]),
            (
                int(role["id"]),
                server_id,
                str(role.get("name", ""))[:100],
                int(role.get("position") or 0),
                int(role.get("color") or 0),
            ),
        )


def set_member_roles(txn: Any, server_id: int, user_id: int, role_ids: list[int]) -> None:
    """A member's roles in a server. The server's @everyone role (its id is the server's)
    is always among them: it is how AuthWare knows the user is a member at all."""
    txn.execute("DELETE FROM user_roles WHERE user_id = ? AND server_id = ?", (user_id, server_id))
    for role_id in sorted({*role_ids, server_id}):
        txn.execute(
            "INSERT INTO user_roles (user_id, role_id, server_id) VALUES (?, ?, ?)",
            (user_id, role_id, server_id),
        )


def member_role_ids(txn: Any, server_id: int, user_id: int) -> list[int]:
    """A member's roles, without the @everyone every member has."""
    txn.execute(
        "SELECT role_id FROM user_roles WHERE server_id = ? AND user_id = ? AND role_id <> ?"
        " ORDER BY role_id",
        (server_id, user_id, server_id),
    )
    return [int(r[0]) for r in txn.fetchall()]


def remove_member(txn: Any, server_id: int, user_id: int) -> None:
    """The user left (or was removed from) the server: no roles there, no access."""
    txn.execute("DELETE FROM user_roles WHERE user_id = ? AND server_id = ?", (user_id, server_id))


def delete_role(txn: Any, role_id: int) -> None:
    txn.execute("DELETE FROM user_roles WHERE role_id = ?", (role_id,))
    txn.execute("DELETE FROM role_permissions WHERE role_id = ?", (role_id,))
    txn.execute("DELETE FROM roles WHERE id = ?", (role_id,))


def apply_guild(txn: Any, guild: dict[str, Any]) -> None:
    """GUILD_CREATE (or a guild fetched over REST): the server, its channels, roles, members."""
    server_id = int(guild["id"])
    upsert_server(txn, guild)
    upsert_roles(txn, server_id, guild.get("roles") or [])
    for channel in (guild.get("channels") or []) + (guild.get("threads") or []):
        upsert_channel(txn, channel, server_id)
    for member in guild.get("members") or []:
        user = member.get("user") or {}
        if user.get("id"):
            upsert_user(txn, user)
            set_member_roles(
                txn, server_id, int(user["id"]), [int(r) for r in member.get("roles") or []]
            )


def kind_of(view: MessageView) -> str:
    if view.part is not None:
        return "part"
    if view.header is not None:
        return "spanned"
    return "file" if view.attachments else "message"


RECORD_COLUMNS = (
    "channel_id", "server_id", "author_id", "posted_ts", "edited_ts", "kind", "content", "pinned",
    "attachment_id", "attachment_name", "attachment_size", "content_type", "width", "height",
    "url", "url_expires_ts", "file_id",
)  # fmt: skip


def _record_values(view: MessageView, server_id: int | None) -> tuple[Any, ...]:
    """The RECORD_COLUMNS of a message, in order."""
    a = view.attachment
    return (
        view.channel_id,
        int(view.guild_id or server_id or 0),
        view.author_id,
        view.posted_ts,
        view.edited_ts,
        kind_of(view),
        view.content,
        1 if view.pinned else 0,
        a.id if a else None,
        a.filename[:255] if a else None,
        a.size if a else None,
        a.content_type if a else None,
        a.width if a else None,
        a.height if a else None,
        a.url if a else None,
        a.url_expires_ts if a else None,
        view.header.file_id if view.header else (view.part.file_id if view.part else None),
    )


def upsert_record(txn: Any, view: MessageView, server_id: int | None = None) -> int:
    """Record a message (new or changed); returns its stable eid.

    One upsert statement: the live mirror and a job's own commit may index the same
    message at the same moment, and only one of them may insert it.
    """
    txn.execute(
        txn.engine.upsert(
            "records",
            ["message_id"],
            RECORD_COLUMNS,
            # history pages carry no nonce: a reindex must not erase the one we recorded
            insert_only=["indexed_ts", "rand_key", "nonce"],
        ),
        (
            view.message_id,
            *_record_values(view, server_id),
            _now(),
            random.randrange(2**31),
            view.nonce,
        ),
    )
    txn.execute("SELECT eid FROM records WHERE message_id = ?", (view.message_id,))
    return int(txn.fetchone()[0])


def repoint_record(txn: Any, eid: int, view: MessageView, server_id: int) -> None:
    """Make record `eid` describe a new message (a move or re-upload keeps the eid).

    The mirror may already have indexed the new message as a record of its own (the
    gateway echo can beat our commit): that copy goes, the stable eid stays.
    """
    txn.execute("DELETE FROM records WHERE message_id = ? AND eid <> ?", (view.message_id, eid))
    sets = ", ".join(f"{c} = ?" for c in ("message_id", *RECORD_COLUMNS))
    txn.execute(
        f"UPDATE records SET {sets} WHERE eid = ?",  # noqa: S608 (fixed column names)
        (view.message_id, *_record_values(view, server_id), eid),
    )


RECORD_FIELDS = (
    "eid", "message_id", "channel_id", "server_id", "kind", "content", "attachment_name",
    "attachment_size", "content_type", "file_id", "pinned", "xxh3_128",
)  # fmt: skip


def message_by_nonce(txn: Any, nonce: str) -> tuple[int, int] | None:
    """(channel, message) of the message we posted with this nonce, if it was recorded."""
    txn.execute("SELECT channel_id, message_id FROM records WHERE nonce = ?", (nonce,))
    row = txn.fetchone()
    return (int(row[0]), int(row[1])) if row else None


def set_record_hash(txn: Any, eid: int, xxh3_128: str) -> None:
    """The whole-file hash of a record's attachment, known when we uploaded it."""
    txn.execute("UPDATE records SET xxh3_128 = ? WHERE eid = ?", (xxh3_128, eid))


def set_average_colour(txn: Any, eid: int, colour: int) -> None:
    """An image's average colour (0xRRGGBB): for the similar-colour and dark/light filters."""
    txn.execute("UPDATE records SET avg_color = ? WHERE eid = ?", (colour, eid))


def record_by_eid(txn: Any, eid: int) -> dict[str, Any] | None:
    txn.execute(
        f"SELECT {', '.join(RECORD_FIELDS)} FROM records WHERE eid = ?",  # noqa: S608
        (eid,),
    )
    row = txn.fetchone()
    return dict(zip(RECORD_FIELDS, row, strict=True)) if row else None


def list_channels(txn: Any, name: str | None = None) -> list[dict[str, Any]]:
    """Channels that are not deleted, by server and position; optionally one name."""
    keys = ("id", "server_id", "parent_id", "kind", "name", "nsfw", "is_data")
    sql = f"SELECT {', '.join(keys)} FROM channels WHERE deleted = 0"  # noqa: S608
    args: tuple[Any, ...] = ()
    if name is not None:
        sql += " AND name = ?"
        args = (name,)
    txn.execute(sql + " ORDER BY server_id, position, id", args)
    return [dict(zip(keys, row, strict=True)) for row in txn.fetchall()]


def server_row(txn: Any, server_id: int) -> dict[str, Any] | None:
    keys = ("id", "name", "archive_channel_id", "data_category_id", "upload_limit")
    txn.execute(f"SELECT {', '.join(keys)} FROM servers WHERE id = ?", (server_id,))  # noqa: S608
    row = txn.fetchone()
    return dict(zip(keys, row, strict=True)) if row else None


def data_channels(txn: Any, server_id: int) -> list[int]:
    """The server's pool of data channels for spanned-file parts."""
    txn.execute(
        "SELECT id FROM channels WHERE server_id = ? AND is_data = 1 AND deleted = 0 ORDER BY name",
        (server_id,),
    )
    return [int(r[0]) for r in txn.fetchall()]


def set_server_channels(
    txn: Any, server_id: int, archive_channel_id: int, data_category_id: int, data_ids: list[int]
) -> None:
    """Remember a server's archive channel and data pool (provisioned at start)."""
    txn.execute(
        "UPDATE servers SET archive_channel_id = ?, data_category_id = ?, updated_ts = ? WHERE id = ?",
        (archive_channel_id, data_category_id, _now(), server_id),
    )
    txn.execute("UPDATE channels SET is_data = 0 WHERE server_id = ? AND is_data = 1", (server_id,))
    for channel_id in data_ids:
        txn.execute("UPDATE channels SET is_data = 1 WHERE id = ?", (channel_id,))


def update_record_fields(txn: Any, message: dict[str, Any]) -> bool:
    """MESSAGE_UPDATE may carry only what changed: apply the fields present."""
    sets, args = [], []
    if "content" in message:
        sets.append("content = ?")
        args.append(message.get("content") or "")
    if message.get("edited_timestamp"):
        sets.append("edited_ts = ?")
        args.append(iso_ms(message["edited_timestamp"]))
    if "pinned" in message:
        sets.append("pinned = ?")
        args.append(1 if message["pinned"] else 0)
    if not sets:
        return False
    sql = f"UPDATE records SET {', '.join(sets)} WHERE message_id = ?"  # noqa: S608 (fixed column names)
    txn.execute(sql, (*args, int(message["id"])))
    return bool(txn.rowcount)


def delete_records(txn: Any, message_ids: list[int]) -> int:
    deleted = 0
    for mid in message_ids:
        txn.execute("DELETE FROM records WHERE message_id = ?", (mid,))
        deleted += txn.rowcount
    return deleted


def record_by_message(txn: Any, message_id: int) -> dict[str, Any] | None:
    txn.execute(
        "SELECT eid, message_id, channel_id, kind, content, attachment_name, attachment_size, pinned"
        " FROM records WHERE message_id = ?",
        (message_id,),
    )
    row = txn.fetchone()
    if row is None:
        return None
    keys = (
        "eid",
        "message_id",
        "channel_id",
        "kind",
        "content",
        "attachment_name",
        "attachment_size",
        "pinned",
    )
    return dict(zip(keys, row, strict=True))


def count_records(txn: Any, channel_id: int | None = None) -> int:
    if channel_id is None:
        txn.execute("SELECT COUNT(*) FROM records")
    else:
        txn.execute("SELECT COUNT(*) FROM records WHERE channel_id = ?", (channel_id,))
    return int(txn.fetchone()[0])


def channel_row(txn: Any, channel_id: int) -> dict[str, Any] | None:
    txn.execute(
        "SELECT id, server_id, parent_id, kind, name, deleted FROM channels WHERE id = ?",
        (channel_id,),
    )
    row = txn.fetchone()
    if row is None:
        return None
    return dict(zip(("id", "server_id", "parent_id", "kind", "name", "deleted"), row, strict=True))
