"""devcord in-process on the test's reactor, and discord.py against it through the bridge."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import defer, reactor, task

from sequenzia.devcord.service import DevcordOptions, DevcordService
from sequenzia.discordio.bridge import DiscordBridge, point_discord_py_at
from tests.devcord.openapi_check import SPEC, ResponseChecker
from tests.services import missing


class Devcord:
    """A running devcord plus what tests need from it."""

    def __init__(
        self, service: DevcordService, info: dict[str, Any], checker: ResponseChecker
    ) -> None:
        self.service = service
        self.info = info
        self.checker = checker

    @property
    def api(self) -> str:
        return self.info["api_base"]

    def bot_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bot {self.info['bot_token']}"}

    def other_headers(self) -> dict[str, str]:
        return {"Authorization": f"User {self.info['other_token']}"}

    def text_channel_id(self) -> int:
        world = self.service.world
        assert world is not None
        return next(c["id"] for c in world.channels(int(self.info["guild_id"])) if c["type"] == 0)


async def start_devcord(directory: Path, options: DevcordOptions | None = None) -> Devcord:
    if not SPEC.is_file():
        missing(
            "Discord's OpenAPI document", f"{SPEC} is not there (shared/ beside the repository)"
        )
    service = DevcordService(directory, "tcp:0:interface=127.0.0.1", reactor, options)
    waiting = service.when_listening()
    service.startService()
    info = await waiting
    checker = ResponseChecker()
    service_api = service.port.factory.resource.children[b"api"]  # type: ignore[union-attr]
    service_api.observers.append(checker)
    return Devcord(service, info, checker)


def quiet_options(**limits: Any) -> DevcordOptions:
    options = DevcordOptions(heartbeat_ms=1000)
    options.rate_limits.enabled = False
    for k, v in limits.items():
        setattr(options.limits, k, v)
    return options


@pytest.fixture
def devcord(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Devcord]:
    """devcord with rate limits off (tests that study them turn them on)."""
    marker = request.node.get_closest_marker("devcord_limits")
    options = quiet_options(**(marker.kwargs if marker else {}))
    dc = pytest_twisted.blockon(defer.ensureDeferred(start_devcord(tmp_path / "devcord", options)))
    yield dc
    pytest_twisted.blockon(dc.service.stopService())
    assert not dc.checker.problems, (
        "devcord answers that differ from Discord's document:\n" + "\n".join(dc.checker.problems)
    )


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, name: str, data: dict[str, Any]) -> None:
        self.seen.append((name, data))

    def names(self) -> list[str]:
        return [n for n, _ in self.seen]

    async def wait_for(
        self, name: str, predicate: Any = lambda d: True, timeout: float = 10.0
    ) -> dict[str, Any]:
        deadline = reactor.seconds() + timeout
        while reactor.seconds() < deadline:
            for n, d in self.seen:
                if n == name and predicate(d):
                    return d
            await task.deferLater(reactor, 0.02, lambda: None)
        raise AssertionError(f"no {name} event within {timeout}s; saw {self.names()}")


@pytest.fixture
def bot(devcord: Devcord) -> Iterator[tuple[DiscordBridge, Events]]:
    """discord.py, logged in to devcord as the bot, its gateway events collected."""
    point_discord_py_at(devcord.api, devcord.info["gateway_url"])
    events = Events()
    bridge = DiscordBridge(
        reactor,
        token=devcord.info["bot_token"],
        on_event=events,
        guild_ready_timeout=0.05,
        heartbeat_timeout=2.5,  # notice a stalled gateway quickly
    )
    pytest_twisted.blockon(bridge.start())
    yield bridge, events
    pytest_twisted.blockon(bridge.stop())
