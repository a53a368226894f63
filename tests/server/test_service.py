"""The service tree per role, and /readyz reporting a failing dependency (in-process)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import treq
from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ServerEndpoint

from sequenzia.config import load_config
from sequenzia.service import build_service_tree, make_service
from sequenzia.web.site import build_site


@pytest.mark.parametrize(
    ("role", "children"),
    [
        ("all", ["database", "web", "io", "backup"]),
        ("web", ["database", "web"]),
        ("io", ["database", "io"]),
        ("backup", ["database", "backup"]),
    ],
)
def test_service_tree_per_role(tmp_path: Path, role: str, children: list[str]) -> None:
    config = load_config(env={}, cwd=tmp_path, overrides={"server.role": role})
    tree = build_service_tree(config, reactor)
    assert [s.name for s in tree] == children
    if "io" in children:
        assert [s.name for s in tree.getServiceNamed("io")] == ["devcord", "discordio"], (
            "no token: embedded devcord"
        )


def test_a_bot_token_replaces_the_embedded_devcord(tmp_path: Path) -> None:
    config = load_config(env={"SEQUENZIA_DISCORD_TOKEN": "a-real-token"}, cwd=tmp_path)
    assert config.discord.token == "a-real-token"
    tree = build_service_tree(config, reactor)
    assert [s.name for s in tree.getServiceNamed("io")] == ["discordio"]


def test_make_service_applies_migrations_before_anything_starts(tmp_path: Path) -> None:
    tree = make_service({"data": str(tmp_path / "d"), "listen": "tcp:0:interface=127.0.0.1"})
    assert not tree.running
    from sequenzia.db import migrations
    from sequenzia.db.url import parse_database_url

    status = migrations.status(parse_database_url(f"sqlite:///{tmp_path}/d/sequenzia.sqlite3"))
    assert status.current == status.latest and not status.pending


def test_make_service_refuses_an_old_schema_without_auto_upgrade(tmp_path: Path, capfd) -> None:
    (tmp_path / "s.toml").write_text("[database]\nauto_upgrade = false\n")
    with pytest.raises(SystemExit) as info:
        make_service({"config": str(tmp_path / "s.toml"), "data": str(tmp_path / "d")})
    assert info.value.code == 1
    err = capfd.readouterr().err
    assert "pending" in err and "sequenzia db upgrade" in err


@pytest_twisted.ensureDeferred
async def test_readyz_names_the_failing_check() -> None:
    def broken() -> defer.Deferred:
        return defer.fail(ConnectionRefusedError("database refused the connection"))

    def hanging() -> defer.Deferred:
        return defer.Deferred()

    site = build_site(
        {"database": broken, "bus": hanging, "ok": lambda: defer.succeed(None)}, reactor
    )
    site.resource.children[b"readyz"]._timeout = 0.2
    port = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(site)
    try:
        base = f"http://127.0.0.1:{port.getHost().port}"
        response = await treq.get(base + "/readyz")
        assert response.code == 503
        assert response.headers.getRawHeaders("content-type") == ["application/json"]
        body = json.loads(await response.content())
        checks = {c["name"]: c for c in body["checks"]}
        assert body["status"] == "not ready"
        assert "refused" in checks["database"]["error"] and not checks["database"]["ok"]
        assert "no answer within" in checks["bus"]["error"]
        assert checks["ok"]["ok"]
        response = await treq.get(base + "/healthz")
        assert response.code == 200
        response = await treq.get(base + "/no/such/page")
        assert response.code == 404
    finally:
        await port.stopListening()


def test_the_listening_line_waits_for_the_running_reactor(tmp_path: Path) -> None:
    """twistd starts services before reactor.run installs its SIGTERM handler: a supervisor
    that stops the server as soon as it reads the line must find the handler in place."""
    from twisted.internet.testing import MemoryReactor
    from twisted.logger import capturedLogs

    from sequenzia.service import WebService

    class NotYetRunning(MemoryReactor):
        def __init__(self) -> None:
            super().__init__()
            self.when_running: list[Any] = []

        def callWhenRunning(self, f: Any, *args: Any, **kwargs: Any) -> None:
            self.when_running.append(lambda: f(*args, **kwargs))

    config = load_config(env={}, cwd=tmp_path, overrides={"server.data_dir": str(tmp_path / "d")})
    (tmp_path / "d").mkdir()
    fake = NotYetRunning()
    service = WebService(config, fake, {}, None, None)  # type: ignore[arg-type]
    port = fake.listenTCP(0, None)  # type: ignore[arg-type]
    with capturedLogs() as events:
        service._listening(port)
        assert not [e for e in events if "listening" in e.get("log_format", "")], "too early"
        for call in fake.when_running:
            call()
    assert [e for e in events if e.get("log_format", "").startswith("Sequenzia is listening")]
