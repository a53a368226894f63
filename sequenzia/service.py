"""Composing the running server: the one place where services are built and wired.

`make_service(options)` is what `twistd sequenzia` calls. It runs before the reactor and
before twistd starts logging, so it does its checks synchronously and refuses to start with
one clear line (and a non-zero exit) rather than half-starting:

1. configuration (exit 2 on a bad key or value),
2. the data directory and the schema (migrations applied, or refused; exit 1),
3. then the service tree for the chosen role: the database pool, and per role the web
   site, the Discord I/O role and the backup role (the later ones are filled in by their
   components).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from twisted.application.service import IService, MultiService, Service
from twisted.internet import defer, task, threads
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IListeningPort, IReactorCore, IReactorTime
from twisted.logger import ILogObserver, Logger
from twisted.python.components import Componentized

from cds.cache import SpanCache
from cds.site import build_cds
from sequenzia.api.site import build_api
from sequenzia.api.uploads import expire_uploads
from sequenzia.authware.access import Authenticator
from sequenzia.authware.keys import KeyVerifier, install_owner_key
from sequenzia.authware.login import login_resources
from sequenzia.bus import Bus, LocalBus
from sequenzia.config import Config, ConfigError, load_config
from sequenzia.db import migrations
from sequenzia.db.pool import Database
from sequenzia.db.url import parse_database_url
from sequenzia.gallery.pages import GalleryPages
from sequenzia.logging import make_observer
from sequenzia.web.site import build_site

ROLES = ("all", "web", "io", "backup")


class StartupRefused(SystemExit):
    """Start-up stops here; the message has been printed already."""


def _refuse(message: str, code: int) -> StartupRefused:
    # The real stderr: once twistd has started logging, sys.stderr feeds the log instead.
    print(f"sequenzia: {message}", file=sys.__stderr__, flush=True)
    return StartupRefused(code)


class DatabaseService(Service):
    """Owns the connection pool: opened on start, closed last on stop."""

    name = "database"

    def __init__(self, config: Config, reactor: Any) -> None:
        self._config = config
        self._reactor = reactor
        self.database: Database | None = None

    def startService(self) -> None:
        super().startService()
        self.database = Database.from_url(
            parse_database_url(self._config.database.url),
            pool_size=self._config.database.pool_size,
            retries=self._config.database.retries,
            reactor=self._reactor,
        )

    def stopService(self) -> None:
        super().stopService()
        if self.database is not None:
            self.database.close()
            self.database = None

    def ping(self) -> defer.Deferred[Any]:
        if self.database is None:
            return defer.fail(RuntimeError("the database pool is not open"))
        return self.database.ping()


class WebService(Service):
    """Listens on the configured endpoint and serves the site; logs the URL it serves."""

    name = "web"
    log = Logger()

    def __init__(
        self,
        config: Config,
        reactor: Any,
        checks: Mapping[str, Any],
        database: DatabaseService,
        bus: Bus,
    ) -> None:
        self._config = config
        self._reactor = reactor
        self._checks = checks
        self._database = database
        self._bus = bus
        self.port: IListeningPort | None = None
        self._sweeper: task.LoopingCall | None = None
        self._cache: SpanCache | None = None

    def startService(self) -> None:
        super().startService()
        database = self._database.database
        assert database is not None, "the database service starts before the web role"
        # one authenticator for every route: a key's bcrypt check is paid once a minute,
        # not once per part of the site (a first /f/ read after an upload waited ~60 ms)
        authenticator = Authenticator(database, KeyVerifier(database, self._reactor), self._reactor)
        files, self._cache = build_cds(
            database, self._bus, self._reactor, self._config, authenticator
        )
        pages = GalleryPages(database, authenticator, cache=self._cache)
        # the sidebar's counts read a whole index: start now, not on the first page view
        defer.ensureDeferred(pages.counts()).addErrback(
            lambda f: self.log.failure("cannot count the records of each channel", f)
        )
        site = build_site(
            self._checks,
            self._reactor,
            build_api(database, self._bus, self._reactor, self._config, self._cache, authenticator),
            files,
            {
                **login_resources(self._config, database, self._reactor),
                **pages.resources(),
            },
        )
        defer.ensureDeferred(install_owner_key(database, self._config.data_dir)).addCallbacks(
            lambda path: self.log.info("owner key (scope admin) in {path}", path=str(path)),
            lambda f: self.log.failure("cannot write the owner key", f),
        )
        self._sweeper = task.LoopingCall(self._maintain)
        self._sweeper.clock = self._reactor
        self._sweeper.start(60, now=False)
        endpoint = serverFromString(self._reactor, self._config.server.listen)
        listening = endpoint.listen(site)
        failure: list[Any] = []
        listening.addCallbacks(self._listening, failure.append)
        if failure:
            # TCP and UNIX endpoints answer at once: a port in use stops start-up cleanly.
            self.running = False
            raise _refuse(
                f"cannot listen on {self._config.server.listen}: {failure[0].getErrorMessage()}", 1
            )

    def _listening(self, port: IListeningPort) -> None:
        self.port = port
        # where local clients (sequenzia upload ...) find this server, with owner.key beside it
        try:
            (self._config.data_dir / "server.url").write_text(self.url + "\n")
        except OSError as e:
            self.log.warn("cannot write server.url: {error}", error=e)
        # Announce only once the reactor runs: twistd installs its SIGTERM handler then, and a
        # supervisor that stops us right after this line must get a clean shutdown, not a kill.
        self._reactor.callWhenRunning(self._announce)

    def _announce(self) -> None:
        self.log.info(
            "Sequenzia is listening at {url} (log in: {url}login)",
            url=self.url,
            listen=self._config.server.listen,
        )

    @property
    def url(self) -> str:
        if self._config.server.public_url:
            return self._config.server.public_url
        if self.port is None:
            return ""
        address = self.port.getHost()
        host = getattr(address, "host", "127.0.0.1")
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{getattr(address, 'port', '')}/"

    def _maintain(self) -> defer.Deferred[Any]:
        """Every minute: expire abandoned uploads, evict the cache past its budget."""

        def evicted(keys: list[str]) -> None:
            if keys:
                self.log.info("evicted {n} file(s) from the span cache", n=len(keys))

        evicting = threads.deferToThread(self._cache.evict) if self._cache else defer.succeed([])
        evicting.addCallback(evicted)
        evicting.addErrback(lambda f: self.log.failure("cache eviction failed", f))
        return defer.gatherResults([self._sweep_uploads(), evicting])

    def _sweep_uploads(self) -> defer.Deferred[None]:
        database = self._database.database
        staging_dir = self._config.data_dir / "staging" / "uploads"

        def swept(count: int) -> None:
            if count:
                self.log.info("{count} abandoned upload(s) expired", count=count)

        d = defer.ensureDeferred(expire_uploads(database, staging_dir)).addCallback(swept)
        return d.addErrback(lambda f: self.log.failure("expiring uploads failed", f))

    async def _stop(self) -> None:
        if self._sweeper is not None and self._sweeper.running:
            self._sweeper.stop()
        if self.port is not None:
            await defer.maybeDeferred(self.port.stopListening)
            self.port = None

    def stopService(self) -> defer.Deferred[None]:
        super().stopService()
        return defer.ensureDeferred(self._stop())


class RoleService(MultiService):
    """A role's services. The io and backup roles are filled in by their components."""

    def __init__(self, role: str) -> None:
        super().__init__()
        self.setName(role)


class SequenziaService(MultiService):
    """The root: starts the database first, stops it last, and logs as configured."""

    log = Logger()

    def __init__(
        self,
        config: Config,
        reactor: Any,
        database: DatabaseService,
        bus: Bus,
        roles: list[Service],
    ) -> None:
        super().__init__()
        self.config = config
        self.bus = bus
        self._reactor = reactor
        self._observer = make_observer(sys.stdout, config.logging.format, config.logging.level)
        database.setServiceParent(self)
        self.database = database
        self.roles = roles
        for role in roles:
            role.setServiceParent(self)

    def setServiceParent(self, parent: Any) -> None:
        # twistd starts logging after makeService, taking the application's ILogObserver
        # component when there is one: that is how --log-format reaches twistd.
        if isinstance(parent, Componentized):
            parent.setComponent(ILogObserver, self._observer)
        super().setServiceParent(parent)

    def startService(self) -> None:
        self.log.info(
            "starting roles {roles} (config: {source}, data: {data}, database: {db})",
            roles=[r.name for r in self.roles],
            source=self.config.source,
            data=self.config.server.data_dir,
            db=parse_database_url(self.config.database.url).redacted(),
        )
        super().startService()

    async def _stop(self) -> None:
        # MultiService would stop every child at once; the database must outlive the roles.
        for role in reversed(self.roles):
            await defer.maybeDeferred(role.stopService)
        await defer.maybeDeferred(self.database.stopService)
        # twistd re-raises SIGTERM/SIGINT after a clean shutdown (exit status 143/130);
        # a requested, clean stop is a success, so clear the recorded signal.
        if hasattr(self._reactor, "_exitSignal"):
            self._reactor._exitSignal = None
        self.log.info("stopped cleanly")

    def stopService(self) -> defer.Deferred[None]:
        Service.stopService(self)
        return defer.ensureDeferred(self._stop())


def build_service_tree(
    config: Config, reactor: IReactorCore | IReactorTime | Any
) -> SequenziaService:
    """The service tree for `config.server.role`, not yet started."""
    role = config.server.role
    database = DatabaseService(config, reactor)
    bus = LocalBus()
    checks: dict[str, Any] = {"database": database.ping, "bus": bus.ping}
    roles: list[Service] = []
    if role in ("all", "io"):
        from sequenzia.discordio.service import DiscordIOService

        io = RoleService("io")
        devcord = None
        if not config.discord.token:
            # No Discord configured: the embedded emulator stands in (DESIGN §2).
            from sequenzia.devcord.service import DevcordService

            devcord = DevcordService(config.data_dir / "devcord", config.devcord.listen, reactor)
            devcord.setServiceParent(io)
        discordio = DiscordIOService(config, database, reactor, devcord, bus=bus)
        discordio.setServiceParent(io)
        checks["discord"] = discordio.ready
        roles.append(io)
    if role in ("all", "web"):
        roles.insert(0, WebService(config, reactor, checks, database, bus))
    if role in ("all", "backup"):
        roles.append(RoleService("backup"))
    return SequenziaService(config, reactor, database, bus, roles)


def prepare_database(config: Config) -> None:
    """Make sure the schema is current before anything starts (synchronously)."""
    url = parse_database_url(config.database.url)
    try:
        if config.database.auto_upgrade:
            migrations.upgrade(url)
        else:
            status = migrations.status(url)
            if status.current > status.latest:
                raise migrations.SchemaTooNewError(
                    f"the database schema is version {status.current}, newer than this code "
                    f"({status.latest}): upgrade Sequenzia"
                )
            if status.pending:
                raise migrations.MigrationError(
                    f"the database schema is version {status.current} and {len(status.pending)} "
                    "migration(s) are pending; run 'sequenzia db upgrade' "
                    "(or set database.auto_upgrade = true)"
                )
    except migrations.MigrationError as e:
        raise _refuse(str(e), 1) from None


def make_service(options: Mapping[str, Any], reactor: Any = None) -> IService:
    """Build the service tree from twistd options: config, data dir, schema, roles."""
    if reactor is None:
        from twisted.internet import reactor as global_reactor

        reactor = global_reactor
    if options.get("role") is not None and options["role"] not in ROLES:
        raise _refuse(f"--role must be one of {', '.join(ROLES)}, not {options['role']!r}", 2)
    from sequenzia.memory.allocator import return_large_buffers

    return_large_buffers()  # parts freed go back to the system (see the module)
    try:
        config = load_config(
            options.get("config"),
            overrides={
                "server.role": options.get("role"),
                "server.listen": options.get("listen"),
                "server.data_dir": options.get("data"),
                "logging.format": options.get("log-format"),
            },
        )
    except ConfigError as e:
        raise _refuse(str(e), 2) from None
    try:
        config.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _refuse(
            f"cannot create the data directory {config.data_dir}: {e.strerror}", 1
        ) from None
    prepare_database(config)
    return build_service_tree(config, reactor)
