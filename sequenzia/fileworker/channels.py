"""Finding the channel a user means by its id or its name (`--to`, watch sub-folders)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sequenzia.fileworker.client import ApiClient
from sequenzia.fileworker.errors import Misuse

# the kinds the server takes uploads into (its discordio POSTABLE); categories and voice not
POSTABLE = ("text", "news", "thread")
SHOWN = 12


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    server_id: str
    kind: str
    is_data: bool

    @classmethod
    def from_api(cls, row: dict[str, Any]) -> Channel:
        return cls(
            str(row["id"]),
            str(row.get("name") or ""),
            str(row.get("server_id") or ""),
            str(row.get("kind") or ""),
            bool(row.get("is_data")),
        )

    def __str__(self) -> str:
        return f"#{self.name} ({self.id})"


def _listing(channels: list[Channel]) -> str:
    shown = ", ".join(str(c) for c in channels[:SHOWN])
    return shown + (f" and {len(channels) - SHOWN} more" if len(channels) > SHOWN else "")


class ChannelDirectory:
    """The server's channels, fetched once (`refresh` fetches again)."""

    def __init__(self, client: ApiClient) -> None:
        self._client = client
        self._channels: list[Channel] | None = None

    def refresh(self) -> None:
        _, body = self._client.call("GET", "/channels")
        self._channels = [Channel.from_api(row) for row in body.get("channels", [])]

    def _all(self) -> list[Channel]:
        if self._channels is None:
            self.refresh()
        assert self._channels is not None
        return self._channels

    def find(self, spec: str) -> Channel | None:
        """The channel `spec` names (an id, a name, or #name), None if none; Misuse if several.

        Data channels (the pool of spanned-file parts) are never matched by name: a file
        belongs in a channel people read.
        """
        spec = spec.strip()
        postable = [c for c in self._all() if c.kind in POSTABLE]
        if spec.isdigit():
            for channel in postable:
                if channel.id == spec:
                    return channel
        name = spec.removeprefix("#")
        readable = [c for c in postable if not c.is_data]
        found = [c for c in readable if c.name == name]
        if not found:  # Discord lowercases text channel names; people may not
            found = [c for c in readable if c.name.lower() == name.lower()]
        if len(found) > 1:
            raise Misuse(
                f"{spec!r} names {len(found)} channels: {_listing(found)}; give the id instead"
            )
        return found[0] if found else None

    def resolve(self, spec: str) -> Channel:
        """The channel `spec` names, or Misuse naming the channels there are."""
        channel = self.find(spec)
        if channel is None:
            readable = [c for c in self._all() if c.kind in POSTABLE and not c.is_data]
            known = _listing(readable) if readable else "none"
            raise Misuse(f"there is no channel {spec!r} to upload to; channels: {known}")
        return channel
