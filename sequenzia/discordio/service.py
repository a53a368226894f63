"""The Discord I/O role: the single writer, connected only while it holds the lease.

    standby ──lease acquired──▶ connecting ──on_ready──▶ connected (mirroring)
       ▲                                                      │
       └──────────── lease lost or service stopped ◀─────────┘

While connected it mirrors gateway events into JuneFS. Without a configured token it
talks to the embedded devcord. A process that loses the lease closes its Discord client
at once, so it never writes after a standby may have started.
"""

from __future__ import annotations

import os
import socket
from typing import Any

import treq
from twisted.application.service import Service
from twisted.internet import defer
from twisted.logger import Logger

from sequenzia.config import Config
from sequenzia.discordio import journal
from sequenzia.discordio.bridge import DiscordBridge, point_discord_py_at
from sequenzia.discordio.colours import ColourSampler
from sequenzia.discordio.executor import JobExecutor
from sequenzia.discordio.journal import Job
from sequenzia.discordio.lease import Lease
from sequenzia.discordio.mirror import Mirror
from sequenzia.discordio.provision import ServerChannels, managed_guilds, provision_server
from sequenzia.discordio.refresher import UrlRefresher
from sequenzia.discordio.submit import JOBS_TOPIC, SETTLED_TOPIC


class NotConnected(Exception):
    """Readiness: this process's Discord client is not connected (and why)."""


class DiscordIOService(Service):
    name = "discordio"
    log = Logger()

    def __init__(
        self,
        config: Config,
        database_service: Any,
        reactor: Any,
        devcord: Any = None,
        holder: str | None = None,
        bus: Any = None,
    ) -> None:
        self._config = config
        self._database_service = database_service
        self._reactor = reactor
        self._devcord = devcord
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.state = "stopped"
        self.bridge: DiscordBridge | None = None
        self.mirror: Mirror | None = None
        self._lease: Lease | None = None
        self._connecting: defer.Deferred[None] | None = None
        self.executor: JobExecutor | None = None
        self.refresher: UrlRefresher | None = None
        self.colours: ColourSampler | None = None
        self._bus = bus
        self._subscription: Any = None
        self.servers: dict[int, ServerChannels] = {}

    @property
    def database(self) -> Any:
        return self._database_service.database

    def startService(self) -> None:
        super().startService()
        self.state = "standby"
        self._lease = Lease(
            self.database,
            self._reactor,
            holder=self.holder,
            on_acquired=self._acquired,
            on_lost=self._lost,
            failover_s=self._config.discord.failover_seconds,
        )
        self._lease.start()
        if self._bus is not None:
            self._subscription = self._bus.subscribe(JOBS_TOPIC, lambda topic, message: self.wake())

    def wake(self) -> None:
        """New work was journalled: look for it now rather than at the next poll."""
        if self.executor is not None:
            self.executor.wake()

    def _acquired(self) -> None:
        self.state = "connecting"
        self._connecting = defer.ensureDeferred(self._connect())
        self._connecting.addErrback(self._connect_failed)

    async def _discord_address(self) -> tuple[str, str, str]:
        """(token, api_base, gateway_url): Discord's, or the embedded devcord's."""
        if self._config.discord.token:
            api = self._config.discord.api_base.rstrip("/")
            response = await treq.get(api + "/gateway")
            gateway = (await response.json())["url"]
            return self._config.discord.token, api, gateway
        info = await self._devcord.when_listening()
        return info["bot_token"], info["api_base"], info["gateway_url"]

    async def _connect(self) -> None:
        recovered = await self.database.runInteraction(
            "journal.requeue_interrupted", journal.requeue_interrupted
        )
        if recovered:
            self.log.warn("requeued {n} job(s) a previous writer left running", n=recovered)
        token, api, gateway = await self._discord_address()
        point_discord_py_at(api, gateway)
        self.mirror = Mirror(self.database)
        self.bridge = DiscordBridge(self._reactor, token=token, on_event=self.mirror)
        await self.bridge.start()
        await self.mirror.idle()  # the servers' rows exist before their channels are provisioned
        await self._provision(self.bridge)
        lease, bridge = self._lease, self.bridge
        if lease is not None and lease.held:
            self.state = "connected"
            # Two jobs per data channel: discord.py hands back the post that spends a
            # bucket only when the bucket resets; the channel's next post should be
            # claimed and waiting by then, not claimed after that job's commit.
            data_channels = sum(len(s.data_channel_ids) for s in self.servers.values())
            self.executor = JobExecutor(
                self.database,
                bridge,
                self._reactor,
                holder=self.holder,
                concurrency=max(4, 2 * data_channels),
                may_write=lambda: lease.held and bridge.connected,
                staging_dir=self._config.data_dir / "staging" / "io",
                cache_dir=self._config.cache_dir,
                on_settled=self._announce,
            )
            self.executor.start()
            self.refresher = UrlRefresher(self.database, bridge, self._reactor)
            self.refresher.start()
            self.colours = ColourSampler(self.database, bridge, self._reactor)
            self.colours.start()
            self.log.info("Discord I/O active as {holder} ({api})", holder=self.holder, api=api)

    async def _provision(self, bridge: DiscordBridge) -> None:
        """Every managed server's data pool and archive channel (created when missing)."""
        discord = self._config.discord
        self.servers = {}
        for guild_id in managed_guilds(bridge.guild_ids, discord.guild_ids):
            try:
                self.servers[guild_id] = await provision_server(
                    bridge,
                    self.database,
                    guild_id,
                    data_channels=discord.data_channels,
                    data_category=discord.data_category,
                    archive_channel=discord.archive_channel,
                )
            except Exception as e:
                # a server where the bot may not create channels still mirrors and reads
                self.log.error(
                    "server {guild}: cannot set up data and archive channels: {error}",
                    guild=guild_id,
                    error=getattr(e, "text", None) or str(e),
                )

    def _announce(self, job: Job, state: str) -> None:
        """Tell every role a job ended (pages showing its progress, waiting clients)."""
        if self._bus is None:
            return
        d = self._bus.publish(SETTLED_TOPIC, {"job_id": job.id, "kind": job.kind, "state": state})
        d.addErrback(lambda f: self.log.warn("bus: {error}", error=f.getErrorMessage()))

    def _connect_failed(self, failure: Any) -> None:
        self.log.error("cannot connect to Discord: {error}", error=failure.getErrorMessage())
        self.state = "failed"
        if self._lease is not None:
            # give the lease up so another process (or our next try) can take over
            self._reactor.callLater(0, self._retry_later)

    def _retry_later(self) -> None:
        async def restart() -> None:
            await self._disconnect()
            if self._lease is not None:
                await self._lease.stop()
                if self.running:
                    self.state = "standby"
                    self._lease.start()

        defer.ensureDeferred(restart()).addErrback(
            lambda f: self.log.failure("Discord I/O restart failed", f)
        )

    def _lost(self, why: str) -> None:
        self.state = "standby"
        defer.ensureDeferred(self._disconnect()).addErrback(
            lambda f: self.log.failure("closing Discord failed", f)
        )

    async def _disconnect(self) -> None:
        refresher, self.refresher = self.refresher, None
        if refresher is not None:
            refresher.stop()
        colours, self.colours = self.colours, None
        if colours is not None:
            colours.stop()
        executor, self.executor = self.executor, None
        if executor is not None:
            await executor.stop()  # in-flight jobs end in the journal: done, retry or parked
        bridge, self.bridge = self.bridge, None
        if bridge is not None:
            await bridge.stop()

    async def _stop(self) -> None:
        if self._subscription is not None:
            self._subscription.stop()
            self._subscription = None
        if self._lease is not None:
            lease, self._lease = self._lease, None
            await self._disconnect()
            await lease.stop()
        self.state = "stopped"

    def stopService(self) -> defer.Deferred[None]:
        super().stopService()
        return defer.ensureDeferred(self._stop())

    def ready(self) -> defer.Deferred[None]:
        """Readiness: the gateway is connected (or why not)."""
        if self.state == "connected" and self.bridge is not None and self.bridge.connected:
            return defer.succeed(None)
        reason = {"standby": "standing by: another process holds the Discord I/O lease"}.get(
            self.state, f"Discord gateway {self.state}"
        )
        return defer.fail(NotConnected(reason))
