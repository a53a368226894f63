"""Reading Discord's message JSON into what JuneFS stores.

One function for the live mirror (gateway events, answers to our own writes) and for
reindexing (channel history), so the two can never disagree about what a message means.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sequenzia.spans.captions import (
    CaptionError,
    HeaderCaption,
    PartCaption,
    parse_header,
    parse_part,
)

DISCORD_EPOCH_MS = 1420070400000


def snowflake_ms(snowflake: int | str) -> int:
    """The creation time (ms since the Unix epoch) encoded in a Discord id."""
    return (int(snowflake) >> 22) + DISCORD_EPOCH_MS


def iso_ms(value: str | None) -> int | None:
    """Discord's ISO 8601 timestamps to ms since the epoch."""
    if not value:
        return None
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


def url_expiry_ms(url: str) -> int | None:
    """The expiry of a signed CDN URL (`ex`, hex seconds), or None when it is unsigned."""
    ex = parse_qs(urlsplit(url).query).get("ex")
    if not ex:
        return None
    try:
        return int(ex[0], 16) * 1000
    except ValueError:
        return None


@dataclass(frozen=True)
class Attachment:
    id: int
    filename: str
    size: int
    content_type: str | None
    width: int | None
    height: int | None
    url: str
    url_expires_ts: int | None


@dataclass(frozen=True)
class MessageView:
    """A Discord message as JuneFS sees it."""

    message_id: int
    channel_id: int
    guild_id: int | None
    author_id: int | None
    posted_ts: int
    edited_ts: int | None
    content: str
    pinned: bool
    attachments: list[Attachment] = field(default_factory=list)
    part: PartCaption | None = None
    header: HeaderCaption | None = None
    caption_error: str | None = None
    nonce: str | None = None  # ours (sq<job id>) on messages Sequenzia posted

    @property
    def attachment(self) -> Attachment | None:
        return self.attachments[0] if self.attachments else None


def _int_or_none(value: Any) -> int | None:
    return int(value) if value is not None else None


def read_message(msg: dict[str, Any]) -> MessageView:
    """Interpret a Discord message object (REST or gateway shape)."""
    attachments = [
        Attachment(
            id=int(a["id"]),
            filename=str(a.get("filename") or "file"),
            size=int(a.get("size") or 0),
            content_type=a.get("content_type"),
            width=_int_or_none(a.get("width")),
            height=_int_or_none(a.get("height")),
            url=str(a.get("url") or ""),
            url_expires_ts=url_expiry_ms(str(a.get("url") or "")),
        )
        for a in msg.get("attachments") or []
    ]
    content = str(msg.get("content") or "")
    part = header = None
    caption_error = None
    try:
        part = parse_part(content)
        if part is None:
            header = parse_header(content)
    except CaptionError as e:
        caption_error = str(e)
    author = msg.get("author") or {}
    message_id = int(msg["id"])
    return MessageView(
        message_id=message_id,
        channel_id=int(msg["channel_id"]),
        guild_id=_int_or_none(msg.get("guild_id")),
        author_id=_int_or_none(author.get("id")),
        posted_ts=iso_ms(msg.get("timestamp")) or snowflake_ms(message_id),
        edited_ts=iso_ms(msg.get("edited_timestamp")),
        content=content,
        pinned=bool(msg.get("pinned")),
        attachments=attachments,
        part=part,
        header=header,
        caption_error=caption_error,
        nonce=str(msg["nonce"])[:64] if msg.get("nonce") is not None else None,
    )
