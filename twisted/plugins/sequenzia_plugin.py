"""`twistd sequenzia`: the service maker. Imports stay lazy so twistd starts quickly."""

from __future__ import annotations

from typing import Any

from twisted.application.service import IServiceMaker
from twisted.plugin import IPlugin
from twisted.python import usage
from zope.interface import implementer


class Options(usage.Options):
    synopsis = "[--config FILE] [--role all|web|io|backup] [--listen ENDPOINT] [--data DIR] [--log-format text|json]"
    longdesc = "Run Sequenzia: the whole system on one machine (role all), or one role of a multi-server setup."
    optParameters = [
        [
            "config",
            "c",
            None,
            "TOML configuration file (default: $SEQUENZIA_CONFIG, else ./sequenzia.toml)",
        ],
        [
            "role",
            "r",
            None,
            "which roles to run: all, web, io or backup (default: server.role, all)",
        ],
        [
            "listen",
            "l",
            None,
            "Twisted endpoint string to listen on (default: tcp:8080:interface=127.0.0.1)",
        ],
        ["data", "d", None, "data directory (default: $SEQUENZIA_DATA, else ./data)"],
        ["log-format", None, None, "text or json (default: logging.format, text)"],
    ]

    def postOptions(self) -> None:
        # Checked in makeService, which refuses with one line instead of twistd's full usage text.
        pass


@implementer(IServiceMaker, IPlugin)
class SequenziaServiceMaker:
    tapname = "sequenzia"
    description = (
        "Sequenzia: a self-hosted image and file library that uses Discord as its filesystem."
    )
    options = Options

    def makeService(self, options: Any) -> Any:
        from sequenzia.service import make_service

        return make_service(options)


serviceMaker = SequenziaServiceMaker()
