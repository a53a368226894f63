"""Running devcord: a Twisted service that listens, and writes DIR/devcord.json.

    service = DevcordService(Path("data/devcord"), "tcp:0:interface=127.0.0.1")
    service.startService()
    info = await service.when_listening()   # devcord.json's content: api_base, tokens, ids

Used in-process by the embedded setup (no bot token configured) and by tests, and
standalone by `sequenzia devcord`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from autobahn.twisted.resource import WebSocketResource
from twisted.application.service import Service
from twisted.internet import defer
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IListeningPort
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import Site

from sequenzia.devcord.cdn import CDN
from sequenzia.devcord.faults import AdminFaults, Faults
from sequenzia.devcord.gateway import GatewayHub, gateway_factory
from sequenzia.devcord.oauth2 import Authorize
from sequenzia.devcord.ratelimit import InvalidRequestCounter, RateLimitConfig, RateLimiter
from sequenzia.devcord.rest import RestAPI
from sequenzia.devcord.store import Store
from sequenzia.devcord.uploads import UploadRequest
from sequenzia.devcord.world import Limits, World


@dataclass
class DevcordOptions:
    limits: Limits = field(default_factory=Limits)
    rate_limits: RateLimitConfig = field(default_factory=RateLimitConfig)
    heartbeat_ms: int = 41250


class DevcordService(Service):
    name = "devcord"
    log = Logger()

    def __init__(
        self,
        data_dir: Path,
        endpoint: str,
        reactor: Any = None,
        options: DevcordOptions | None = None,
    ) -> None:
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor
        self.data_dir = Path(data_dir)
        self.endpoint = endpoint
        self.reactor = reactor
        self.options = options or DevcordOptions()
        self.port: IListeningPort | None = None
        self.info: dict[str, Any] = {}
        self._waiters: list[defer.Deferred[dict[str, Any]]] = []
        self.world: World | None = None
        self.faults = Faults(clock=reactor.seconds)
        self.limiter = RateLimiter(self.options.rate_limits, clock=reactor.seconds)
        self.invalid_requests = InvalidRequestCounter(clock=reactor.seconds)
        self.hub: GatewayHub | None = None

    def when_listening(self) -> defer.Deferred[dict[str, Any]]:
        """Fires with devcord.json's content once devcord listens."""
        if self.info:
            return defer.succeed(self.info)
        d: defer.Deferred[dict[str, Any]] = defer.Deferred()
        self._waiters.append(d)
        return d

    @property
    def base_url(self) -> str:
        assert self.port is not None
        return f"http://127.0.0.1:{self.port.getHost().port}"  # type: ignore[attr-defined]

    def startService(self) -> None:
        super().startService()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        store = Store(self.data_dir)
        self.world = world = World(
            store=store, base_url="", limits=self.options.limits, now=self.reactor.seconds
        )
        self.hub = hub = GatewayHub(
            world,
            url=lambda: self.base_url.replace("http", "ws", 1) + "/gateway",
            heartbeat_ms=self.options.heartbeat_ms,
            clock=self.reactor.seconds,
        )
        world.dispatch = hub.dispatch
        self.faults.on_drop_gateway = hub.drop_all
        self.faults.on_stall_gateway = hub.stall
        self.faults.on_storm = lambda seconds: setattr(
            self.limiter, "storm_until", self.reactor.seconds() + seconds
        )

        root = Resource()
        api = RestAPI(
            world, self.limiter, self.faults, self.invalid_requests, gateway_url=lambda: hub.url()
        )
        root.putChild(b"api", api)
        root.putChild(b"attachments", CDN(world, self.faults, self.reactor))
        media = Resource()
        media.putChild(b"attachments", CDN(world, self.faults, self.reactor, media=True))
        root.putChild(b"media", media)
        root.putChild(b"gateway", WebSocketResource(gateway_factory(hub)))
        oauth = Resource()
        oauth.putChild(b"authorize", Authorize(world))
        root.putChild(b"oauth2", oauth)
        admin = Resource()
        admin.putChild(b"faults", AdminFaults(world.admin_token, self.apply_fault))
        root.putChild(b"_devcord", admin)
        site = Site(
            root,
            # multipart bodies are parsed while they arrive, straight into attachment files
            requestFactory=partial(
                UploadRequest, upload_dir=store.directory / "uploads", limits=world.limits
            ),
            parsePOSTFormSubmission=False,
        )
        site.displayTracebacks = False
        site.noisy = False
        d = serverFromString(self.reactor, self.endpoint).listen(site)
        d.addCallbacks(self._started, self._failed)

    def _started(self, port: IListeningPort) -> None:
        self.port = port
        assert self.world is not None
        self.world.base_url = self.base_url
        boot = self.world.bootstrap()
        self.info = {
            "api_base": self.base_url + "/api/v10",
            "gateway_url": self.base_url.replace("http", "ws", 1) + "/gateway",
            "bot_token": boot["bot_token"],
            "guild_id": str(boot["guild_id"]),
            "owner_user_id": str(boot["owner_user_id"]),
            "owner_token": boot["owner_token"],
            "other_user_id": str(boot["other_user_id"]),
            "other_token": boot["other_token"],
            "client_id": str(boot["client_id"]),
            "client_secret": boot["client_secret"],
            "admin_token": self.world.admin_token,
            "admin_role_id": str(boot["admin_role_id"]),
        }
        path = self.data_dir / "devcord.json"
        tmp = path.with_suffix(".json.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(self.info, f, indent=2)
        os.replace(tmp, path)
        self.log.info("devcord listening at {url}", url=self.info["api_base"])
        waiters, self._waiters = self._waiters, []
        for d in waiters:
            d.callback(self.info)

    def _failed(self, failure: Any) -> None:
        self.log.error(
            "devcord cannot listen on {endpoint}: {error}",
            endpoint=self.endpoint,
            error=failure.getErrorMessage(),
        )
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.errback(failure)

    async def _stop(self) -> None:
        if self.hub is not None:
            self.hub.drop_all()
        if self.port is not None:
            await defer.maybeDeferred(self.port.stopListening)
            self.port = None
        if self.world is not None:
            self.world.store.close()

    def stopService(self) -> defer.Deferred[None]:
        super().stopService()
        return defer.ensureDeferred(self._stop())

    def apply_fault(self, body: dict[str, Any]) -> dict[str, Any]:
        """The admin endpoint's switchboard (the same switches tests call directly)."""
        f, name = self.faults, body["fault"]
        world = self.world
        assert world is not None
        if name == "route_5xx":
            f.fail_route(
                str(body["pattern"]),
                int(body.get("status", 500)),
                int(body.get("count", 1)),
                body.get("method"),
            )
        elif name == "storm_429":
            f.storm(float(body.get("seconds", 5)))
        elif name == "drop_gateway":
            f.drop_gateway()
        elif name == "stall_gateway":
            f.stall_gateway(float(body.get("seconds", 5)))
        elif name == "slow_cdn":
            f.slow_cdn(float(body.get("seconds", 1)), int(body.get("reads", 1)))
        elif name == "truncate_cdn":
            f.truncate_cdn(int(body["at_bytes"]), int(body.get("reads", 1)))
        elif name == "alter_attachment":
            self.alter_attachment(int(body["attachment_id"]))
        elif name == "delete_attachment":
            world.store.attachment_path(int(body["attachment_id"])).unlink(missing_ok=True)
        elif name == "delete_message":
            world.delete_message(int(body["channel_id"]), int(body["message_id"]), None)
        elif name == "upload_limit":
            guild = world.store.get("guild", int(body["guild_id"]))
            if guild is None:
                raise ValueError("unknown guild")
            guild["upload_limit"] = int(body["bytes"])
            world.store.put("guild", guild["id"], guild)
        elif name == "rate_limits":
            self.limiter.config.enabled = bool(body["enabled"])
        else:
            raise ValueError(f"unknown fault {name!r}")
        return {"fault": name}

    def alter_attachment(self, attachment_id: int) -> None:
        """Flip a byte in the middle of an attachment: corruption behind our back."""
        assert self.world is not None
        path = self.world.store.attachment_path(attachment_id)
        data = bytearray(path.read_bytes())
        if not data:
            data = bytearray(b"\x00")
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
