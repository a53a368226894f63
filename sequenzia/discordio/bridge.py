"""discord.py on its own asyncio loop in a daemon thread, bridged to the Twisted reactor.

The rest of Sequenzia never sees an asyncio object: `call()` runs a coroutine function on
the loop and hands back a Deferred that fires on the reactor thread with plain data, and
gateway events reach `on_event(name, data)` on the reactor thread, in the order discord.py
dispatched them (`callFromThread` keeps order).

Lifecycle (NOTES.md: MultiService stops children concurrently, so the owner orders it):
`start()` → login and connect → fires once `on_ready` came; `stop()` → close the client →
stop the loop → join the thread (off the reactor thread).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import discord
import yarl
from twisted.internet import defer, threads
from twisted.logger import Logger

from sequenzia.discordio.events import install_event_tap

T = TypeVar("T")

EventSink = Callable[[str, dict[str, Any]], None]


class BridgeNotRunning(Exception):
    """A Discord operation was asked for while the bridge is not connected."""


def point_discord_py_at(api_base: str, gateway_url: str) -> None:
    """Aim discord.py's REST and gateway at `api_base` (Discord or devcord).

    These are the two process-wide settings discord.py reads (NOTES.md); one Discord I/O
    runs per process, so setting them here is safe.
    """
    discord.http.Route.BASE = api_base.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


def default_intents() -> discord.Intents:
    intents = discord.Intents.default()
    intents.message_content = True  # reindexing other bots' captions needs it (NOTES.md)
    intents.members = True  # roles → permissions for AuthWare
    return intents


class DiscordBridge:
    """One discord.py Client, its loop and its thread."""

    log = Logger()

    def __init__(
        self,
        reactor: Any,
        *,
        token: str,
        on_event: EventSink,
        intents: discord.Intents | None = None,
        guild_ready_timeout: float = 2.0,
        heartbeat_timeout: float = 60.0,
    ) -> None:
        self._reactor = reactor
        self._token = token
        self._on_event = on_event
        self._intents = intents or default_intents()
        self._guild_ready_timeout = guild_ready_timeout
        # with no heartbeat ACK for this long, discord.py drops a zombie connection and resumes
        self._heartbeat_timeout = heartbeat_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: discord.Client | None = None
        self._ready: defer.Deferred[None] | None = None
        self._closed: defer.Deferred[None] | None = None
        self.connected = False
        self.guild_ids: list[int] = []

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> defer.Deferred[None]:
        """Start the thread and the client; fires when discord.py says it is ready.

        Fails with the login error (a bad token, Discord unreachable) if it never gets there.
        """
        if self._thread is not None:
            raise RuntimeError("the Discord bridge is already started")
        self._ready = defer.Deferred()
        self._closed = defer.Deferred()
        loop = asyncio.new_event_loop()
        self._loop = loop
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            self._client = self._make_client()
            started.set()
            try:
                loop.run_until_complete(self._run_client())
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="discord-io", daemon=True)
        self._thread.start()
        started.wait()
        return self._ready

    def _make_client(self) -> discord.Client:
        client = discord.Client(
            intents=self._intents,
            guild_ready_timeout=self._guild_ready_timeout,
            heartbeat_timeout=self._heartbeat_timeout,
            max_messages=None,  # we mirror into the database; no message cache needed
            enable_debug_events=True,  # raw gateway frames: see events.py
        )
        install_event_tap(client, self._emit)

        @client.event
        async def on_ready() -> None:
            guild_ids = [g.id for g in client.guilds]
            self._reactor.callFromThread(self._set_ready, guild_ids)

        @client.event
        async def on_disconnect() -> None:
            self._reactor.callFromThread(self._set_connected, False)

        @client.event
        async def on_resumed() -> None:
            self._reactor.callFromThread(self._set_connected, True)

        return client

    async def _run_client(self) -> None:
        assert self._client is not None
        error: BaseException | None = None
        try:
            await self._client.start(self._token, reconnect=True)
        except BaseException as e:  # reported to the reactor, never lost in the thread
            error = e
        finally:
            if not self._client.is_closed():
                await self._client.close()
        self._reactor.callFromThread(self._finished, error)

    def _set_ready(self, guild_ids: list[int]) -> None:
        # GUILD_CREATE frames (channels, roles, members) have been emitted before this.
        self.connected = True
        self.guild_ids = guild_ids
        self.log.info("Discord gateway ready with {n} guild(s)", n=len(guild_ids))
        self._emit_now("SEQUENZIA_READY", {"guild_ids": guild_ids})
        if self._ready is not None and not self._ready.called:
            self._ready.callback(None)

    def _set_connected(self, connected: bool) -> None:
        if self.connected != connected:
            self.log.info(
                "Discord gateway {state}", state="connected" if connected else "disconnected"
            )
        self.connected = connected

    def _finished(self, error: BaseException | None) -> None:
        self.connected = False
        if error is not None and not isinstance(error, asyncio.CancelledError):
            self.log.error("discord.py stopped: {error!r}", error=error)
            if self._ready is not None and not self._ready.called:
                self._ready.errback(error)
        elif self._ready is not None and not self._ready.called:
            self._ready.errback(BridgeNotRunning("the Discord client closed before it was ready"))
        if self._closed is not None and not self._closed.called:
            self._closed.callback(None)

    async def _stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        closed = self._closed
        if self._client is not None and not self._loop.is_closed():
            # Ask for the close; don't wait on its future: when client.start() returns,
            # the loop ends and may never resolve it. `_finished` says when all is done.
            self._loop.call_soon_threadsafe(self._loop.create_task, self._client.close())
        if closed is not None and not closed.called:
            try:
                await closed.addTimeout(30, self._reactor)
            except defer.TimeoutError:
                self.log.warn("the Discord client did not close within 30 s")
        await threads.deferToThreadPool(
            self._reactor, self._reactor.getThreadPool(), self._thread.join, 30
        )
        self._thread = None
        self.connected = False

    def stop(self) -> defer.Deferred[None]:
        """Close the client, stop its loop and join its thread."""
        return defer.ensureDeferred(self._stop())

    # -- calls -------------------------------------------------------------------------

    def call(
        self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any, **kwargs: Any
    ) -> defer.Deferred[T]:
        """Run `await fn(client, *args, **kwargs)` on the loop; the Deferred fires on the reactor.

        `fn` must return plain data (ids, dicts, bytes), never discord.py objects.
        """
        loop, client = self._loop, self._client
        if loop is None or client is None or loop.is_closed():
            return defer.fail(BridgeNotRunning("the Discord bridge is not running"))
        result: defer.Deferred[T] = defer.Deferred()

        def done(future: Any) -> None:
            try:
                value = future.result()
            except BaseException as e:
                self._reactor.callFromThread(result.errback, e)
            else:
                self._reactor.callFromThread(result.callback, value)

        future: Any = asyncio.run_coroutine_threadsafe(fn(client, *args, **kwargs), loop)
        future.add_done_callback(done)
        return result

    # -- events ------------------------------------------------------------------------

    def _emit(self, name: str, data: dict[str, Any]) -> None:
        """From the loop thread: deliver an event on the reactor thread, in order."""
        self._reactor.callFromThread(self._emit_now, name, data)

    def _emit_now(self, name: str, data: dict[str, Any]) -> None:
        try:
            self._on_event(name, data)
        except Exception:
            self.log.failure("handling Discord event {name} failed", name=name)
