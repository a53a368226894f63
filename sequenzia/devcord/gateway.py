"""Gateway v10 over WebSocket (gateway.mdx), on autobahn.

A session outlives its connection: every dispatch gets the session's next sequence number
and goes into a replay buffer, so a client that lost its connection RESUMEs and receives
exactly what it missed. Intents decide what a session receives; without MESSAGE_CONTENT,
messages by others arrive with empty content and attachments, as on Discord.
"""

from __future__ import annotations

import json
import secrets
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from twisted.logger import Logger

from sequenzia.devcord.errors import DiscordError
from sequenzia.devcord.world import GUILD_MEMBERS, MESSAGE_CONTENT, World

DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE, RESUME, REQUEST_MEMBERS, INVALID_SESSION, HELLO, ACK = (
    0,
    1,
    2,
    3,
    6,
    8,
    9,
    10,
    11,
)
REPLAY_BUFFER = 5000
SESSION_KEEP_S = 300.0


@dataclass
class Session:
    id: str
    user: dict[str, Any]
    token: str
    intents: int
    seq: int = 0
    buffer: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=REPLAY_BUFFER))
    connection: GatewayProtocol | None = None
    detached_at: float = 0.0

    def wants(self, intent: int) -> bool:
        return intent == 0 or bool(self.intents & intent)


class GatewayHub:
    """All sessions; the world's `dispatch` lands here."""

    log = Logger()

    def __init__(
        self,
        world: World,
        url: Callable[[], str],
        heartbeat_ms: int = 41250,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.world = world
        self.url = url
        self.heartbeat_ms = heartbeat_ms
        self.clock = clock
        self.sessions: dict[str, Session] = {}
        self.connections: set[GatewayProtocol] = set()

    def dispatch(self, name: str, data: dict[str, Any], intent: int, author_id: int | None) -> None:
        for session in list(self.sessions.values()):
            if not session.wants(intent):
                continue
            payload = data
            if (
                name in ("MESSAGE_CREATE", "MESSAGE_UPDATE")
                and author_id != session.user["id"]
                and not session.wants(MESSAGE_CONTENT)
            ):
                payload = {**data, "content": "", "attachments": [], "embeds": [], "components": []}
            self.send(session, name, payload)

    def send(self, session: Session, name: str, data: dict[str, Any]) -> None:
        session.seq += 1
        frame = {"op": DISPATCH, "t": name, "s": session.seq, "d": data}
        session.buffer.append(frame)
        if session.connection is not None and not session.connection.stalled():
            session.connection.send_frame(frame)

    def expire(self) -> None:
        """Forget sessions whose client has been gone too long to resume."""
        now = self.clock()
        for sid, s in list(self.sessions.items()):
            if s.connection is None and now - s.detached_at > SESSION_KEEP_S:
                del self.sessions[sid]

    def stall(self, seconds: float) -> None:
        """The connections open now go silent (a zombie connection); new ones are fine."""
        until = self.clock() + seconds
        for conn in self.connections:
            conn.stalled_until = until

    def drop_all(self) -> None:
        for conn in list(self.connections):
            conn.dropConnection(abort=True)


class GatewayProtocol(WebSocketServerProtocol):
    log = Logger()
    hub: GatewayHub
    stalled_until = 0.0

    def stalled(self) -> bool:
        return self.hub.clock() < self.stalled_until

    def onConnect(self, request: Any) -> None:
        compress = request.params.get("compress", [""])[0]
        self._deflate = zlib.compressobj() if compress == "zlib-stream" else None
        self.session: Session | None = None

    def onOpen(self) -> None:
        self.hub.connections.add(self)
        self.send_frame(
            {"op": HELLO, "d": {"heartbeat_interval": self.hub.heartbeat_ms}, "s": None, "t": None}
        )

    def send_frame(self, frame: dict[str, Any]) -> None:
        raw = json.dumps(frame, separators=(",", ":")).encode()
        if self._deflate is not None:
            self.sendMessage(
                self._deflate.compress(raw) + self._deflate.flush(zlib.Z_SYNC_FLUSH), isBinary=True
            )
        else:
            self.sendMessage(raw, isBinary=False)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        try:
            frame = json.loads(payload)
            op = frame.get("op")
            data = frame.get("d")
        except (ValueError, AttributeError):
            self.sendClose(4002, "Error while decoding payload.")
            return
        if op == HEARTBEAT:
            if not self.stalled():
                self.send_frame({"op": ACK, "d": None, "s": None, "t": None})
        elif op == IDENTIFY:
            self._identify(data or {})
        elif op == RESUME:
            self._resume(data or {})
        elif op == REQUEST_MEMBERS:
            self._members(data or {})
        elif op == PRESENCE:
            pass
        else:
            self.sendClose(4001, "Unknown opcode.")

    def _user(self, token: str) -> dict[str, Any] | None:
        token = token.removeprefix("Bot ").strip()
        try:
            return self.hub.world.user_for_token(token)
        except DiscordError:
            return None

    def _identify(self, data: dict[str, Any]) -> None:
        if self.session is not None:
            self.sendClose(4005, "Already authenticated.")
            return
        user = self._user(str(data.get("token", "")))
        if user is None:
            self.sendClose(4004, "Authentication failed.")
            return
        intents = data.get("intents")
        if not isinstance(intents, int):
            self.sendClose(4013, "Invalid intent(s).")
            return
        session = Session(
            id=secrets.token_hex(16),
            user=user,
            token=str(data["token"]),
            intents=intents,
            connection=self,
        )
        self.session = session
        self.hub.sessions[session.id] = session
        world = self.hub.world
        guilds = world.guilds_of(user["id"])
        app = world.store.get("meta", "application") or {}
        self.hub.send(
            session,
            "READY",
            {
                "v": 10,
                "user": world.user_json(user, private=True),
                "guilds": [{"id": str(g["id"]), "unavailable": True} for g in guilds],
                "session_id": session.id,
                "session_type": "normal",
                "resume_gateway_url": self.hub.url(),
                "application": {"id": str(app.get("id", user["id"])), "flags": 0},
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "shard": [0, 1],
            },
        )
        for g in guilds:
            self.hub.send(
                session,
                "GUILD_CREATE",
                world.guild_create_payload(g["id"], with_members=session.wants(GUILD_MEMBERS)),
            )

    def _resume(self, data: dict[str, Any]) -> None:
        session = self.hub.sessions.get(str(data.get("session_id", "")))
        seq = data.get("seq")
        if (
            session is None
            or session.token != str(data.get("token", ""))
            or not isinstance(seq, int)
        ):
            self.send_frame({"op": INVALID_SESSION, "d": False, "s": None, "t": None})
            return
        oldest = session.buffer[0]["s"] if session.buffer else session.seq + 1
        if seq < oldest - 1:
            self.send_frame({"op": INVALID_SESSION, "d": False, "s": None, "t": None})
            return
        if session.connection is not None and session.connection is not self:
            session.connection.dropConnection(abort=True)
        session.connection = self
        self.session = session
        for frame in list(session.buffer):
            if frame["s"] > seq:
                self.send_frame(frame)
        self.hub.send(session, "RESUMED", {})

    def _members(self, data: dict[str, Any]) -> None:
        if self.session is None:
            self.sendClose(4003, "Not authenticated.")
            return
        world = self.hub.world
        guild_id = int(data.get("guild_id", 0))
        members = world.members(guild_id)
        from sequenzia.devcord.objects import member_json

        self.hub.send(
            self.session,
            "GUILD_MEMBERS_CHUNK",
            {
                "guild_id": str(guild_id),
                "members": [member_json(m, u) for m, u in members],
                "chunk_index": 0,
                "chunk_count": 1,
                "nonce": data.get("nonce"),
            },
        )

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        self.hub.connections.discard(self)
        session = getattr(self, "session", None)
        if session is not None and session.connection is self:
            session.connection = None
            session.detached_at = self.hub.clock()
        self.hub.expire()


def gateway_factory(hub: GatewayHub) -> WebSocketServerFactory:
    factory = WebSocketServerFactory()
    factory.protocol = type("BoundGatewayProtocol", (GatewayProtocol,), {"hub": hub})  # type: ignore[assignment]
    # discord.py does not negotiate per-message deflate; big READY payloads need room
    factory.setProtocolOptions(maxMessagePayloadSize=16 * 1024 * 1024, autoPingInterval=0)
    return factory
