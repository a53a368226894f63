"""The emulated Discord: what exists, who may do what, and the events each change sends.

HTTP parsing lives in `rest.py`; this module takes plain arguments, checks them as Discord
does (limits, permissions, error codes), changes the store and hands gateway events to the
hub. It never blocks for long: attachment bytes arrive already on disk.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sequenzia.devcord import errors
from sequenzia.devcord.errors import DiscordError
from sequenzia.devcord.objects import (
    GUILD_CATEGORY,
    GUILD_NEWS,
    GUILD_TEXT,
    GUILD_VOICE,
    PUBLIC_THREAD,
    THREAD_TYPES,
    channel_json,
    member_json,
    message_json,
    role_json,
    user_json,
)
from sequenzia.devcord.snowflake import Snowflakes, timestamp_iso
from sequenzia.devcord.store import Store

MiB = 1024 * 1024

# intents (gateway.mdx)
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_MESSAGES = 1 << 9
GUILD_MESSAGE_REACTIONS = 1 << 10
MESSAGE_CONTENT = 1 << 15

Dispatch = Callable[[str, dict[str, Any], int, int | None], None]
"""(event name, data, intent needed, author id for MESSAGE_CONTENT filtering)."""


@dataclass
class Limits:
    """Discord's limits as devcord enforces them (reference README), all configurable."""

    file_bytes: int = 20 * MiB  # per attachment, per guild unless the guild says otherwise
    request_bytes: int = 25 * MiB  # a whole message request
    attachments: int = 10
    content_chars: int = 2000
    url_lifetime_s: int = 24 * 3600
    bulk_delete_min: int = 2
    bulk_delete_max: int = 100
    history_max: int = 100


@dataclass
class IncomingFile:
    """An uploaded file, already written to a temporary path by the HTTP layer."""

    filename: str
    path: Path
    size: int
    content_type: str | None = None
    description: str | None = None


@dataclass
class World:
    store: Store
    base_url: str  # http://host:port (REST is base_url + /api/v10, CDN base_url + /attachments)
    limits: Limits = field(default_factory=Limits)
    now: Callable[[], float] = time.time
    dispatch: Dispatch = lambda *a: None

    def __post_init__(self) -> None:
        self.ids = Snowflakes()
        self.ids.seen(self.store.max_id())
        meta = self.store.get("meta", "secrets")
        if meta is None:
            meta = self.store.put(
                "meta",
                "secrets",
                {"cdn_key": secrets.token_hex(32), "admin_token": secrets.token_urlsafe(24)},
            )
        self._cdn_key = bytes.fromhex(meta["cdn_key"])
        self.admin_token: str = meta["admin_token"]

    # -- bootstrap -----------------------------------------------------------------

    def bootstrap(self) -> dict[str, Any]:
        """Make sure the guild, the bot, the owner and a second user exist; their details."""
        info = self.store.get("meta", "bootstrap")
        if info is not None:
            return info
        bot = self._new_user("devcord-bot", bot=True)
        owner = self._new_user("owner")
        other = self._new_user("someone-else")
        guild_id = self.ids.next()
        self.store.put(
            "guild", guild_id, {"id": guild_id, "name": "devcord", "owner_id": owner["id"]}
        )
        everyone: dict[str, Any] = {
            "id": guild_id,
            "guild_id": guild_id,
            "name": "@everyone",
            "permissions": "104324673",
            "position": 0,
        }
        self.store.put("role", guild_id, everyone)
        admin_role: dict[str, Any] = {
            "id": self.ids.next(),
            "guild_id": guild_id,
            "name": "admin",
            "permissions": "8",
            "position": 1,
        }
        self.store.put("role", admin_role["id"], admin_role)
        grants: list[tuple[dict[str, Any], list[int]]] = [
            (bot, []),
            (owner, [admin_role["id"]]),
            (other, []),
        ]
        for user, roles in grants:
            self._put_member(guild_id, user["id"], roles)
        category = self._new_channel(guild_id, "Text Channels", GUILD_CATEGORY, None)
        self._new_channel(guild_id, "general", GUILD_TEXT, category["id"])
        client_id = self.ids.next()
        app = {
            "id": client_id,
            "name": "devcord",
            "bot_id": bot["id"],
            "owner_id": owner["id"],
            "client_secret": secrets.token_urlsafe(24),
            "redirect_uris": [],
        }
        self.store.put("meta", "application", app)
        info = {
            "guild_id": guild_id,
            "bot_token": bot["token"],
            "bot_user_id": bot["id"],
            "owner_user_id": owner["id"],
            "owner_token": owner["token"],
            "other_user_id": other["id"],
            "other_token": other["token"],
            "client_id": client_id,
            "client_secret": app["client_secret"],
            "admin_role_id": admin_role["id"],
        }
        self.store.put("meta", "bootstrap", info)
        return info

    def add_guild(self, name: str) -> dict[str, Any]:
        """Another server with the bootstrap's bot, owner and other user as members.

        Clients that connect afterwards see it in READY (as when a bot is invited).
        """
        info = self.bootstrap()
        guild_id = self.ids.next()
        guild = self.store.put(
            "guild", guild_id, {"id": guild_id, "name": name, "owner_id": info["owner_user_id"]}
        )
        self.store.put(
            "role",
            guild_id,
            {
                "id": guild_id,
                "guild_id": guild_id,
                "name": "@everyone",
                "permissions": "104324673",
                "position": 0,
            },
        )
        for user_id in (info["bot_user_id"], info["owner_user_id"], info["other_user_id"]):
            self._put_member(guild_id, user_id, [])
        category = self._new_channel(guild_id, "Text Channels", GUILD_CATEGORY, None)
        self._new_channel(guild_id, "general", GUILD_TEXT, category["id"])
        return guild

    def _new_user(self, username: str, *, bot: bool = False) -> dict[str, Any]:
        uid = self.ids.next()
        prefix = "Bot" if bot else "User"
        user = {
            "id": uid,
            "username": username,
            "global_name": username,
            "bot": bot,
            "token": f"{prefix}.{uid}.{secrets.token_urlsafe(24)}",
        }
        self.store.put("user", uid, user)
        self.store.put("token", user["token"], {"user_id": uid, "kind": "bot" if bot else "user"})
        return user

    def _put_member(self, guild_id: int, user_id: int, roles: list[int]) -> dict[str, Any]:
        member = {
            "guild_id": guild_id,
            "user_id": user_id,
            "roles": roles,
            "joined_at": timestamp_iso(self.ids.next()),
        }
        return self.store.put("member", f"{guild_id}:{user_id}", member)

    def _new_channel(
        self, guild_id: int, name: str, kind: int, parent_id: int | None, **extra: Any
    ) -> dict[str, Any]:
        cid = self.ids.next()
        siblings = [c for c in self.store.all("channel") if c["guild_id"] == guild_id]
        channel = {
            "id": cid,
            "guild_id": guild_id,
            "name": name,
            "type": kind,
            "parent_id": parent_id,
            "position": len(siblings),
            **extra,
        }
        return self.store.put("channel", cid, channel)

    # -- identity ------------------------------------------------------------------

    def user_for_token(self, token: str) -> dict[str, Any]:
        entry = self.store.get("token", token)
        if entry is None:
            raise errors.unauthorized()
        user = self.store.get("user", entry["user_id"])
        if user is None:
            raise errors.unauthorized()
        return user

    def guilds_of(self, user_id: int) -> list[dict[str, Any]]:
        return [
            g for g in self.store.all("guild") if self.store.get("member", f"{g['id']}:{user_id}")
        ]

    def guild(self, guild_id: int, user: dict[str, Any]) -> dict[str, Any]:
        guild = self.store.get("guild", guild_id)
        if guild is None:
            raise errors.unknown("Guild", errors.UNKNOWN_GUILD)
        if not self.store.get("member", f"{guild_id}:{user['id']}"):
            raise errors.missing_access()
        return guild

    def roles(self, guild_id: int) -> list[dict[str, Any]]:
        return sorted(
            (r for r in self.store.all("role") if r["guild_id"] == guild_id),
            key=lambda r: r["position"],
        )

    def channels(self, guild_id: int) -> list[dict[str, Any]]:
        return sorted(
            (
                c
                for c in self.store.all("channel")
                if c["guild_id"] == guild_id and c["type"] not in THREAD_TYPES
            ),
            key=lambda c: (c["position"], c["id"]),
        )

    def channel(self, channel_id: int, user: dict[str, Any]) -> dict[str, Any]:
        channel = self.store.get("channel", channel_id)
        if channel is None:
            raise errors.unknown("Channel", errors.UNKNOWN_CHANNEL)
        self.guild(channel["guild_id"], user)
        return channel

    def members(self, guild_id: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        out = []
        for m in self.store.all("member"):
            if m["guild_id"] == guild_id:
                user = self.store.get("user", m["user_id"])
                if user is not None:
                    out.append((m, user))
        return out

    # -- CDN -----------------------------------------------------------------------

    def _signature(self, path: str, ex: int, issued: int) -> str:
        return hmac.new(
            self._cdn_key, f"{path}:{ex:x}:{issued:x}".encode(), hashlib.sha256
        ).hexdigest()

    def sign(self, channel_id: int, attachment_id: int, filename: str) -> str:
        """A signed attachment URL valid for `limits.url_lifetime_s` (reference.mdx)."""
        issued = int(self.now())
        ex = issued + self.limits.url_lifetime_s
        path = f"{channel_id}/{attachment_id}/{quote(filename)}"
        return f"{self.base_url}/attachments/{path}?ex={ex:x}&is={issued:x}&hm={self._signature(path, ex, issued)}&"

    def check_signature(self, path: str, ex: str, issued: str, hm: str) -> bool:
        try:
            ex_i, is_i = int(ex, 16), int(issued, 16)
        except ValueError:
            return False
        if not hmac.compare_digest(self._signature(path, ex_i, is_i), hm):
            return False
        return self.now() <= ex_i

    def refresh(self, urls: list[str]) -> list[dict[str, str]]:
        """`POST /attachments/refresh-urls`: a freshly signed URL for each known attachment."""
        out = []
        for url in urls:
            path = url.split("/attachments/", 1)[-1].split("?", 1)[0]
            parts = path.split("/")
            found = None
            if len(parts) == 3 and parts[1].isdigit():
                found = self.store.find_attachment(int(parts[1]))
            if found is None:
                continue
            message, a = found
            out.append(
                {
                    "original": url,
                    "refreshed": self.sign(message["channel_id"], a["id"], a["filename"]),
                }
            )
        return out

    def render_message(
        self, message: dict[str, Any], viewer_id: int | None = None, *, with_content: bool = True
    ) -> dict[str, Any]:
        author = self.store.get("user", message["author_id"]) or {
            "id": message["author_id"],
            "username": "deleted-user",
        }
        out = message_json(
            message,
            author,
            self.sign,
            self.base_url + "/media/attachments/",
            with_content=with_content,
            me_id=viewer_id,
        )
        channel = self.store.get("channel", message["channel_id"])
        if channel is not None:
            out["guild_id"] = str(channel["guild_id"])
        return out

    # -- messages ------------------------------------------------------------------

    def upload_limit(self, guild_id: int) -> int:
        guild = self.store.get("guild", guild_id) or {}
        return int(guild.get("upload_limit") or self.limits.file_bytes)

    def create_message(
        self,
        channel_id: int,
        author: dict[str, Any],
        *,
        content: str,
        files: list[IncomingFile],
        nonce: str | int | None = None,
        enforce_nonce: bool = False,
        webhook_id: int | None = None,
        attachment_meta: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        channel = self.store.get("channel", channel_id)
        if channel is None:
            raise errors.unknown("Channel", errors.UNKNOWN_CHANNEL)
        if webhook_id is None:
            self.guild(channel["guild_id"], author)
        if channel["type"] in (GUILD_CATEGORY, GUILD_VOICE):
            raise DiscordError(400, 50008, "Cannot send messages in a non-text channel")
        if not isinstance(content, str):
            raise errors.invalid_form(
                "content", "STRING_TYPE_CONVERT", "Could not interpret the value as string."
            )
        if len(content) > self.limits.content_chars:
            raise errors.invalid_form(
                "content",
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {self.limits.content_chars} or fewer in length.",
            )
        if len(files) > self.limits.attachments:
            raise errors.invalid_form(
                "attachments",
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {self.limits.attachments} or fewer in length.",
            )
        if not content and not files:
            raise DiscordError(400, errors.CANNOT_SEND_EMPTY, "Cannot send an empty message")
        limit = self.upload_limit(channel["guild_id"])
        if (
            any(f.size > limit for f in files)
            or sum(f.size for f in files) > self.limits.request_bytes
        ):
            raise errors.too_large()
        if enforce_nonce and nonce is not None:
            for mid in self.store.channel_message_ids(channel_id, limit=100):
                m = self.store.get("message", mid)
                if (
                    m
                    and m.get("nonce") == nonce
                    and m["author_id"] == author["id"]
                    and self.now() - m["created"] < 600
                ):
                    return m  # Discord: the same nonce from the same author → that message
        message_id = self.ids.next()
        attachments = []
        for n, f in enumerate(files):
            aid = self.ids.next()
            shutil.move(str(f.path), self.store.attachment_path(aid))
            meta = (
                (attachment_meta or [{}] * len(files))[n]
                if attachment_meta and n < len(attachment_meta)
                else {}
            )
            width, height = _image_size(self.store.attachment_path(aid), f.content_type)
            attachments.append(
                {
                    "id": aid,
                    "filename": f.filename,
                    "size": f.size,
                    "content_type": f.content_type,
                    "width": width,
                    "height": height,
                    "description": meta.get("description") or f.description,
                }
            )
        message = {
            "id": message_id,
            "channel_id": channel_id,
            "author_id": author["id"],
            "content": content,
            "attachments": attachments,
            "pinned": False,
            "nonce": nonce,
            "webhook_id": webhook_id,
            "created": self.now(),
            "reactions": {},
        }
        self.store.add_message(message)
        channel["last_message_id"] = message_id
        if channel["type"] in THREAD_TYPES:
            channel["message_count"] = channel.get("message_count", 0) + 1
        self.store.put("channel", channel_id, channel)
        self._message_event("MESSAGE_CREATE", message)
        return message

    def _message_event(self, name: str, message: dict[str, Any]) -> None:
        channel = self.store.get("channel", message["channel_id"]) or {}
        data = self.render_message(message)
        data["guild_id"] = str(channel.get("guild_id", ""))
        member = self.store.get("member", f"{channel.get('guild_id')}:{message['author_id']}")
        if member is not None:
            data["member"] = {
                k: v
                for k, v in member_json(
                    member, self.store.get("user", message["author_id"]) or {}
                ).items()
                if k != "user"
            }
        self.dispatch(name, data, GUILD_MESSAGES, message["author_id"])

    def message(self, channel_id: int, message_id: int, user: dict[str, Any]) -> dict[str, Any]:
        self.channel(channel_id, user)
        message = self.store.get("message", message_id)
        if message is None or message["channel_id"] != channel_id:
            raise errors.unknown("Message", errors.UNKNOWN_MESSAGE)
        return message

    def history(
        self,
        channel_id: int,
        user: dict[str, Any],
        *,
        limit: int,
        before: int | None,
        after: int | None,
        around: int | None,
    ) -> list[dict[str, Any]]:
        self.channel(channel_id, user)
        if not 1 <= limit <= self.limits.history_max:
            raise errors.invalid_form(
                "limit",
                "NUMBER_TYPE_MAX",
                f"int value should be less than or equal to {self.limits.history_max}.",
            )
        if around is not None:
            newer = self.store.channel_message_ids(
                channel_id, after=around - 1, limit=limit // 2 + 1
            )
            older = self.store.channel_message_ids(
                channel_id, before=around, limit=limit - len(newer)
            )
            ids = newer + older
        else:
            ids = self.store.channel_message_ids(
                channel_id, before=before, after=after, limit=limit
            )
        return [m for m in (self.store.get("message", i) for i in ids) if m is not None]

    def edit_message(
        self,
        channel_id: int,
        message_id: int,
        user: dict[str, Any],
        *,
        content: str | None,
        keep_attachment_ids: list[int] | None,
    ) -> dict[str, Any]:
        message = self.message(channel_id, message_id, user)
        if message["author_id"] != user["id"]:
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        if content is not None:
            if not isinstance(content, str) or len(content) > self.limits.content_chars:
                raise errors.invalid_form(
                    "content",
                    "BASE_TYPE_MAX_LENGTH",
                    f"Must be {self.limits.content_chars} or fewer in length.",
                )
            message["content"] = content
        if keep_attachment_ids is not None:
            kept = [a for a in message["attachments"] if a["id"] in keep_attachment_ids]
            for a in message["attachments"]:
                if a not in kept:
                    self.store.attachment_path(a["id"]).unlink(missing_ok=True)
            message["attachments"] = kept
        message["edited_timestamp"] = timestamp_iso(self.ids.next())
        self.store.add_message(message)
        self._message_event("MESSAGE_UPDATE", message)
        return message

    def delete_message(self, channel_id: int, message_id: int, user: dict[str, Any] | None) -> None:
        """Delete; `user` None is devcord itself (a fault: "another user" deleted it)."""
        if user is not None:
            message = self.message(channel_id, message_id, user)
            if message["author_id"] != user["id"] and not self._is_admin(user["id"], channel_id):
                raise DiscordError(403, errors.MISSING_PERMISSIONS, "Missing Permissions")
        removed = self.store.remove_message(message_id)
        if removed is None:
            raise errors.unknown("Message", errors.UNKNOWN_MESSAGE)
        for a in removed.get("attachments", []):
            self.store.attachment_path(a["id"]).unlink(missing_ok=True)
        channel = self.store.get("channel", channel_id) or {}
        self.dispatch(
            "MESSAGE_DELETE",
            {
                "id": str(message_id),
                "channel_id": str(channel_id),
                "guild_id": str(channel.get("guild_id")),
            },
            GUILD_MESSAGES,
            None,
        )

    def bulk_delete(self, channel_id: int, user: dict[str, Any], ids: Any) -> None:
        self.channel(channel_id, user)
        if (
            not isinstance(ids, list)
            or not self.limits.bulk_delete_min <= len(ids) <= self.limits.bulk_delete_max
        ):
            raise errors.invalid_form(
                "messages",
                "BASE_TYPE_BAD_LENGTH",
                f"Must be between {self.limits.bulk_delete_min} and {self.limits.bulk_delete_max} in length.",
            )
        try:
            wanted = [int(i) for i in ids]
        except (TypeError, ValueError):
            raise errors.invalid_form(
                "messages", "NUMBER_TYPE_COERCE", "Value is not snowflake."
            ) from None
        two_weeks_ago = self.now() - 14 * 24 * 3600
        messages = []
        for mid in wanted:
            m = self.store.get("message", mid)
            if m is None or m["channel_id"] != channel_id:
                raise errors.unknown("Message", errors.UNKNOWN_MESSAGE)
            if ((mid >> 22) + 1420070400000) / 1000 < two_weeks_ago:
                raise DiscordError(
                    400,
                    errors.TOO_OLD_TO_BULK_DELETE,
                    "You can only bulk delete messages that are under 14 days old.",
                )
            messages.append(m)
        for m in messages:
            self.store.remove_message(m["id"])
            for a in m.get("attachments", []):
                self.store.attachment_path(a["id"]).unlink(missing_ok=True)
        channel = self.store.get("channel", channel_id) or {}
        self.dispatch(
            "MESSAGE_DELETE_BULK",
            {
                "ids": [str(i) for i in wanted],
                "channel_id": str(channel_id),
                "guild_id": str(channel.get("guild_id")),
            },
            GUILD_MESSAGES,
            None,
        )

    def set_pinned(
        self, channel_id: int, message_id: int, user: dict[str, Any], pinned: bool
    ) -> None:
        message = self.message(channel_id, message_id, user)
        message["pinned"] = pinned
        self.store.add_message(message)
        self._message_event("MESSAGE_UPDATE", message)

    def react(
        self, channel_id: int, message_id: int, user: dict[str, Any], emoji: str, add: bool
    ) -> None:
        message = self.message(channel_id, message_id, user)
        if not emoji or ":" in emoji and not emoji.split(":")[-1].isdigit():
            raise DiscordError(400, errors.UNKNOWN_EMOJI, "Unknown Emoji")
        users: list[int] = message.setdefault("reactions", {}).setdefault(emoji, [])
        changed = (user["id"] not in users) if add else (user["id"] in users)
        if not changed:
            return
        users.append(user["id"]) if add else users.remove(user["id"])
        self.store.add_message(message)
        channel = self.store.get("channel", channel_id) or {}
        data = {
            "user_id": str(user["id"]),
            "channel_id": str(channel_id),
            "message_id": str(message_id),
            "guild_id": str(channel.get("guild_id")),
            "emoji": {"id": None, "name": emoji},
            "burst": False,
            "type": 0,
        }
        self.dispatch(
            "MESSAGE_REACTION_ADD" if add else "MESSAGE_REACTION_REMOVE",
            data,
            GUILD_MESSAGE_REACTIONS,
            None,
        )

    def _is_admin(self, user_id: int, channel_id: int) -> bool:
        channel = self.store.get("channel", channel_id) or {}
        guild = self.store.get("guild", channel.get("guild_id", 0)) or {}
        if guild.get("owner_id") == user_id:
            return True
        member = self.store.get("member", f"{guild.get('id')}:{user_id}") or {}
        return any(
            int((self.store.get("role", r) or {}).get("permissions", "0")) & 8
            for r in member.get("roles", [])
        )

    # -- channels, threads ---------------------------------------------------------

    def create_channel(
        self, guild_id: int, user: dict[str, Any], body: dict[str, Any]
    ) -> dict[str, Any]:
        self.guild(guild_id, user)
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            raise errors.invalid_form(
                "name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
            )
        kind = body.get("type", GUILD_TEXT)
        if kind not in (GUILD_TEXT, GUILD_VOICE, GUILD_CATEGORY, GUILD_NEWS):
            raise errors.invalid_form(
                "type", "BASE_TYPE_CHOICES", "Value must be one of {0, 2, 4, 5}."
            )
        parent = body.get("parent_id")
        if parent is not None:
            p = self.store.get("channel", int(parent))
            if p is None or p["type"] != GUILD_CATEGORY or p["guild_id"] != guild_id:
                raise errors.invalid_form(
                    "parent_id", "CHANNEL_PARENT_INVALID", "Category does not exist."
                )
            parent = int(parent)
        channel = self._new_channel(
            guild_id,
            name if kind == GUILD_CATEGORY else name.lower().replace(" ", "-"),
            kind,
            parent,
            topic=body.get("topic"),
            nsfw=bool(body.get("nsfw")),
        )
        self.dispatch("CHANNEL_CREATE", channel_json(channel), GUILDS, None)
        return channel

    def update_channel(
        self, channel_id: int, user: dict[str, Any], body: dict[str, Any]
    ) -> dict[str, Any]:
        channel = self.channel(channel_id, user)
        for key in ("name", "topic", "nsfw", "position", "parent_id"):
            if key in body:
                channel[key] = (
                    int(body[key]) if key == "parent_id" and body[key] is not None else body[key]
                )
        self.store.put("channel", channel_id, channel)
        self.dispatch(
            "THREAD_UPDATE" if channel["type"] in THREAD_TYPES else "CHANNEL_UPDATE",
            channel_json(channel),
            GUILDS,
            None,
        )
        return channel

    def delete_channel(self, channel_id: int, user: dict[str, Any]) -> dict[str, Any]:
        channel = self.channel(channel_id, user)
        for mid in self.store.channel_message_ids(channel_id, limit=10**9):
            m = self.store.remove_message(mid)
            for a in (m or {}).get("attachments", []):
                self.store.attachment_path(a["id"]).unlink(missing_ok=True)
        self.store.delete("channel", channel_id)
        self.dispatch(
            "THREAD_DELETE" if channel["type"] in THREAD_TYPES else "CHANNEL_DELETE",
            channel_json(channel),
            GUILDS,
            None,
        )
        return channel

    def create_thread(
        self,
        channel_id: int,
        user: dict[str, Any],
        body: dict[str, Any],
        message_id: int | None = None,
    ) -> dict[str, Any]:
        parent = self.channel(channel_id, user)
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            raise errors.invalid_form(
                "name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
            )
        if message_id is not None:
            self.message(channel_id, message_id, user)
        kind = body.get("type", PUBLIC_THREAD)
        thread = {
            "id": message_id or self.ids.next(),
            "guild_id": parent["guild_id"],
            "name": name,
            "type": kind,
            "parent_id": channel_id,
            "owner_id": user["id"],
            "position": 0,
            "message_count": 0,
            "auto_archive_duration": body.get("auto_archive_duration", 1440),
        }
        self.store.put("channel", thread["id"], thread)
        event = channel_json(thread)
        event["newly_created"] = True
        self.dispatch("THREAD_CREATE", event, GUILDS, None)
        return thread

    # -- webhooks ------------------------------------------------------------------

    def create_webhook(self, channel_id: int, user: dict[str, Any], name: Any) -> dict[str, Any]:
        channel = self.channel(channel_id, user)
        if not isinstance(name, str) or not 1 <= len(name) <= 80:
            raise errors.invalid_form(
                "name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 80 in length."
            )
        hook_id = self.ids.next()
        token = secrets.token_urlsafe(48)
        hook = {
            "id": hook_id,
            "token": token,
            "channel_id": channel_id,
            "guild_id": channel["guild_id"],
            "name": name,
            "user_id": user["id"],
            "url": f"{self.base_url}/api/webhooks/{hook_id}/{token}",
        }
        return self.store.put("webhook", hook_id, hook)

    def webhook(self, hook_id: int, token: str) -> dict[str, Any]:
        hook = self.store.get("webhook", hook_id)
        if hook is None:
            raise errors.unknown("Webhook", errors.UNKNOWN_WEBHOOK)
        if not hmac.compare_digest(hook["token"], token):
            raise DiscordError(401, errors.INVALID_WEBHOOK_TOKEN, "Invalid Webhook Token")
        return hook

    def webhook_author(self, hook: dict[str, Any], username: str | None) -> dict[str, Any]:
        author = {
            "id": hook["id"],
            "username": username or hook["name"],
            "global_name": None,
            "bot": True,
        }
        if self.store.get("user", hook["id"]) is None:
            self.store.put("user", hook["id"], author)
        return author

    # -- members and roles (what AuthWare reads) -----------------------------------

    def set_member_roles(self, guild_id: int, user_id: int, role_ids: list[int]) -> dict[str, Any]:
        member = self.store.get("member", f"{guild_id}:{user_id}")
        user = self.store.get("user", user_id)
        if member is None or user is None:
            raise errors.unknown("Member", errors.UNKNOWN_MEMBER)
        for r in role_ids:
            if self.store.get("role", r) is None:
                raise errors.invalid_form("roles", "UNKNOWN_ROLE", f"Unknown role {r}")
        member["roles"] = list(role_ids)
        self.store.put("member", f"{guild_id}:{user_id}", member)
        data = member_json(member, user)
        data["guild_id"] = str(guild_id)
        self.dispatch("GUILD_MEMBER_UPDATE", data, GUILD_MEMBERS, None)
        return member

    def create_role(self, guild_id: int, name: str, permissions: str = "0") -> dict[str, Any]:
        role = {
            "id": self.ids.next(),
            "guild_id": guild_id,
            "name": name,
            "permissions": permissions,
            "position": len(self.roles(guild_id)),
        }
        self.store.put("role", role["id"], role)
        self.dispatch(
            "GUILD_ROLE_CREATE", {"guild_id": str(guild_id), "role": role_json(role)}, GUILDS, None
        )
        return role

    def guild_create_payload(self, guild_id: int, *, with_members: bool) -> dict[str, Any]:
        """GUILD_CREATE: the guild with its channels, threads, roles and (with the intent) members."""
        from sequenzia.devcord.objects import guild_json

        guild = self.store.get("guild", guild_id) or {}
        data = guild_json(guild, self.roles(guild_id))
        channels = [c for c in self.store.all("channel") if c["guild_id"] == guild_id]
        data.update(
            {
                "channels": [channel_json(c) for c in channels if c["type"] not in THREAD_TYPES],
                "threads": [channel_json(c) for c in channels if c["type"] in THREAD_TYPES],
                "members": [member_json(m, u) for m, u in self.members(guild_id)]
                if with_members
                else [],
                "member_count": len(self.members(guild_id)),
                "joined_at": timestamp_iso(guild_id),
                "large": False,
                "unavailable": False,
                "voice_states": [],
                "presences": [],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
            }
        )
        return data

    def user_json(self, user: dict[str, Any], private: bool = False) -> dict[str, Any]:
        return user_json(user, private=private)


def _image_size(path: Path, content_type: str | None) -> tuple[int | None, int | None]:
    """Width and height of an image attachment (Pillow reads only the header)."""
    if not content_type or not content_type.startswith("image/"):
        return None, None
    try:
        from PIL import Image

        with Image.open(path) as image:
            return image.size
    except Exception:  # not an image after all: Discord then omits the dimensions
        return None, None
