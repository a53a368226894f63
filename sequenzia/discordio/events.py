"""Gateway events as Discord's own JSON, tapped from discord.py's raw socket stream.

discord.py parses each gateway frame into its object model; we want plain data in
Discord's documented shape (gateway-events.mdx) so that the mirror reads one format
whether a message came from the gateway or from a REST answer. With
`enable_debug_events=True` discord.py dispatches `socket_raw_receive` with every decoded
frame before handling it, in order; the tap keeps the DISPATCH frames (op 0).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import discord

DISPATCH = 0

Emit = Callable[[str, dict[str, Any]], None]


def install_event_tap(client: discord.Client, emit: Emit) -> None:
    """Call `emit(event_name, data)` (on the loop thread) for every gateway dispatch."""

    async def on_socket_raw_receive(raw: str | bytes) -> None:
        try:
            frame = json.loads(raw)
        except ValueError:
            return  # discord.py itself reports frames it cannot read
        if frame.get("op") == DISPATCH and frame.get("t"):
            emit(frame["t"], frame.get("d") or {})

    client.event(on_socket_raw_receive)
