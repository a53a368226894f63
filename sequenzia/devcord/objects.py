"""Discord's JSON objects, rendered from devcord's internal state.

Shapes follow the OpenAPI document's response schemas (every required field present,
null where Discord sends null); tests validate each REST answer against them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sequenzia.devcord.snowflake import timestamp_iso

# channel types (channel.mdx)
GUILD_TEXT, GUILD_VOICE, GUILD_CATEGORY, GUILD_NEWS = 0, 2, 4, 5
PUBLIC_THREAD, PRIVATE_THREAD = 11, 12
THREAD_TYPES = (10, 11, 12)

# message flags / types
DEFAULT_MESSAGE = 0

ALL_PERMISSIONS = str((1 << 50) - 1)

Signer = Callable[[int, int, str], str]
"""(channel_id, attachment_id, filename) → a signed CDN URL."""


def user_json(user: dict[str, Any], *, private: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": str(user["id"]),
        "username": user["username"],
        "avatar": None,
        "discriminator": "0",
        "public_flags": 0,
        "flags": 0,
        "global_name": user.get("global_name"),
        "primary_guild": None,
        "bot": bool(user.get("bot")),
        "banner": None,
        "accent_color": None,
    }
    if private:
        out.update({"mfa_enabled": False, "locale": "en-US", "verified": True, "email": None})
    return out


def role_json(role: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(role["id"]),
        "name": role["name"],
        "permissions": str(role.get("permissions", "0")),
        "position": role.get("position", 0),
        "color": role.get("color", 0),
        "colors": {
            "primary_color": role.get("color", 0),
            "secondary_color": None,
            "tertiary_color": None,
        },
        "hoist": False,
        "managed": False,
        "mentionable": False,
        "icon": None,
        "unicode_emoji": None,
        "flags": 0,
    }


def channel_json(channel: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": str(channel["id"]),
        "type": channel["type"],
        "flags": 0,
        "guild_id": str(channel["guild_id"]),
        "name": channel["name"],
        "position": channel.get("position", 0),
        "parent_id": str(channel["parent_id"]) if channel.get("parent_id") else None,
        "permission_overwrites": [],
        "nsfw": bool(channel.get("nsfw")),
    }
    if channel["type"] in (GUILD_TEXT, GUILD_NEWS):
        out.update(
            {
                "topic": channel.get("topic"),
                "last_message_id": str(channel["last_message_id"])
                if channel.get("last_message_id")
                else None,
                "rate_limit_per_user": 0,
            }
        )
    if channel["type"] in THREAD_TYPES:
        out.update(
            {
                "owner_id": str(channel["owner_id"]),
                "thread_metadata": {
                    "archived": False,
                    "archive_timestamp": timestamp_iso(channel["id"]),
                    "auto_archive_duration": channel.get("auto_archive_duration", 1440),
                    "locked": False,
                    "create_timestamp": timestamp_iso(channel["id"]),
                },
                "message_count": channel.get("message_count", 0),
                "member_count": 1,
                "total_message_sent": channel.get("message_count", 0),
                "last_message_id": str(channel["last_message_id"])
                if channel.get("last_message_id")
                else None,
                "rate_limit_per_user": 0,
            }
        )
    return out


def member_json(member: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    return {
        "avatar": None,
        "banner": None,
        "communication_disabled_until": None,
        "flags": 0,
        "joined_at": member.get("joined_at") or timestamp_iso(user["id"]),
        "nick": member.get("nick"),
        "pending": False,
        "premium_since": None,
        "roles": [str(r) for r in member.get("roles", [])],
        "user": user_json(user),
        "mute": False,
        "deaf": False,
    }


def guild_json(guild: dict[str, Any], roles: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": str(guild["id"]),
        "name": guild["name"],
        "icon": None,
        "description": None,
        "home_header": None,
        "splash": None,
        "discovery_splash": None,
        "features": [],
        "banner": None,
        "owner_id": str(guild["owner_id"]),
        "application_id": None,
        "region": "deprecated",
        "afk_channel_id": None,
        "afk_timeout": 300,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "widget_enabled": False,
        "widget_channel_id": None,
        "verification_level": 0,
        "roles": [role_json(r) for r in roles],
        "default_message_notifications": 0,
        "mfa_level": 0,
        "explicit_content_filter": 0,
        "max_presences": None,
        "max_members": 500000,
        "max_stage_video_channel_users": 50,
        "max_video_channel_users": 25,
        "vanity_url_code": None,
        "premium_tier": guild.get("premium_tier", 0),
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "rules_channel_id": None,
        "safety_alerts_channel_id": None,
        "public_updates_channel_id": None,
        "premium_progress_bar_enabled": False,
        "nsfw": False,
        "nsfw_level": 0,
        "emojis": [],
        "stickers": [],
        "incidents_data": None,
    }


def attachment_json(
    a: dict[str, Any], channel_id: int, sign: Signer, media_base: str
) -> dict[str, Any]:
    url = sign(channel_id, a["id"], a["filename"])
    out: dict[str, Any] = {
        "id": str(a["id"]),
        "filename": a["filename"],
        "size": a["size"],
        "url": url,
        "proxy_url": media_base + url.split("/attachments/", 1)[1]
        if "/attachments/" in url
        else url,
    }
    if a.get("content_type"):
        out["content_type"] = a["content_type"]
    if a.get("width") is not None:
        out["width"], out["height"] = a["width"], a["height"]
    if a.get("description"):
        out["description"] = a["description"]
    return out


def message_json(
    message: dict[str, Any],
    author: dict[str, Any],
    sign: Signer,
    media_base: str,
    *,
    with_content: bool = True,
    me_id: int | None = None,
) -> dict[str, Any]:
    """A message; without the MESSAGE_CONTENT intent, content and attachments are empty."""
    out: dict[str, Any] = {
        "type": DEFAULT_MESSAGE,
        "content": message.get("content", "") if with_content else "",
        "mentions": [],
        "mention_roles": [],
        "attachments": [
            attachment_json(a, message["channel_id"], sign, media_base)
            for a in message.get("attachments", [])
        ]
        if with_content
        else [],
        "embeds": [],
        "timestamp": timestamp_iso(message["id"]),
        "edited_timestamp": message.get("edited_timestamp"),
        "flags": 0,
        "components": [],
        "id": str(message["id"]),
        "channel_id": str(message["channel_id"]),
        "author": user_json(author),
        "pinned": bool(message.get("pinned")),
        "mention_everyone": False,
        "tts": False,
    }
    if message.get("webhook_id"):
        out["webhook_id"] = str(message["webhook_id"])
    if message.get("nonce") is not None:
        out["nonce"] = message["nonce"]
    reactions = message.get("reactions") or {}
    if reactions:
        out["reactions"] = [
            {
                "emoji": {"id": None, "name": emoji},
                "count": len(users),
                "count_details": {"burst": 0, "normal": len(users)},
                "burst_colors": [],
                "me_burst": False,
                "me": me_id is not None and me_id in users,
            }
            for emoji, users in reactions.items()
            if users
        ]
    return out


def application_json(app: dict[str, Any], owner: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(app["id"]),
        "name": app["name"],
        "icon": None,
        "description": "devcord's bot application",
        "type": None,
        "verify_key": "0" * 64,
        "flags": 0,
        "flags_new": "0",
        "redirect_uris": app.get("redirect_uris", []),
        "interactions_endpoint_url": None,
        "role_connections_verification_url": None,
        "owner": user_json(owner),
        "approximate_guild_count": 1,
        "approximate_user_install_count": 0,
        "approximate_user_authorization_count": 0,
        "explicit_content_filter": 0,
        "team": None,
        "eligible_oauth2_scopes": ["bot", "identify", "guilds", "guilds.members.read"],
        "bot_public": True,
        "bot_require_code_grant": False,
        "bot": user_json(app["bot"]) if app.get("bot") else None,
    }


def webhook_json(hook: dict[str, Any], creator: dict[str, Any] | None) -> dict[str, Any]:
    out = {
        "application_id": None,
        "avatar": None,
        "channel_id": str(hook["channel_id"]),
        "guild_id": str(hook["guild_id"]),
        "id": str(hook["id"]),
        "name": hook["name"],
        "type": 1,
        "token": hook["token"],
        "url": hook.get("url"),
    }
    if creator is not None:
        out["user"] = user_json(creator)
    return out
