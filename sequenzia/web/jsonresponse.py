"""Writing JSON bodies on a twisted.web request."""

from __future__ import annotations

import json
from typing import Any

from twisted.web.server import Request


def write_json(request: Request, status: int, body: Any) -> bytes:
    """Set status and JSON headers; return the encoded body for the resource to return/write."""
    request.setResponseCode(status)
    request.setHeader(b"Content-Type", b"application/json")
    request.setHeader(b"Cache-Control", b"no-store")
    return json.dumps(body, separators=(",", ":")).encode() + b"\n"
