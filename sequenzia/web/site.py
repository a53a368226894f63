"""The root resource and the Site of the web role."""

from __future__ import annotations

import time
from collections.abc import Mapping

from twisted.internet.interfaces import IReactorTime
from twisted.web.resource import IResource, Resource
from twisted.web.server import Request, Site

from sequenzia import __version__
from sequenzia.web.health import Healthz, ReadinessCheck, Readyz

_HOME = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sequenzia</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40em; margin: 4em auto; padding: 0 1em">
<h1>Sequenzia</h1>
<p>Sequenzia {version} is running. The gallery arrives with a later release;
<a href="/readyz">/readyz</a> shows whether the database and services answer.</p>
</body></html>
"""


class Home(Resource):
    isLeaf = True

    def render_GET(self, request: Request) -> bytes:
        if request.postpath not in ([], [b""]):
            request.setResponseCode(404)
            request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
            return b"There is nothing at this address."
        request.setHeader(b"Content-Type", b"text/html; charset=utf-8")
        return _HOME.format(version=__version__).encode()


def build_site(
    checks: Mapping[str, ReadinessCheck],
    clock: IReactorTime,
    api: IResource | None = None,
    files: IResource | None = None,
    children: Mapping[bytes, IResource] | None = None,
) -> Site:
    """The web role's Site: health endpoints, the JSON API, /f/ links and a home page."""
    root = Resource()
    root.putChild(b"", Home())  # until the gallery's pages are given
    if files is not None:
        root.putChild(b"f", files)
    for name, child in (children or {}).items():
        root.putChild(name, child)
    if api is not None:
        versions = Resource()
        versions.putChild(b"v1", api)
        root.putChild(b"api", versions)
    root.putChild(b"healthz", Healthz(started=time.time()))
    root.putChild(b"readyz", Readyz(checks, clock))
    site = Site(root)
    site.displayTracebacks = False
    return site
