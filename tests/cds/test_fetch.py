"""The CDN part fetcher: whole bodies, cut bodies, errors, no announced length."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from cds.fetch import fetch_blocking

BODY = bytes(range(256)) * 8192  # 2 MiB


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/whole?sig=1":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)
        elif self.path == "/cut":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY[:1000])  # then the connection closes
        elif self.path == "/unannounced":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(BODY)
        else:
            self.send_response(404)
            self.send_header("Content-Length", "9")
            self.end_headers()
            self.wfile.write(b"not found")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_bodies_arrive_whole_or_visibly_short(server: str) -> None:
    assert fetch_blocking(server + "/whole?sig=1") == (200, bytearray(BODY)), "query kept"
    status, body = fetch_blocking(server + "/cut")
    assert status == 200 and body == BODY[:1000], "short: the caller's length check sees it"
    assert fetch_blocking(server + "/unannounced") == (200, bytearray(BODY))
    assert fetch_blocking(server + "/gone") == (404, bytearray())
    with pytest.raises(ValueError, match="not an http"):
        fetch_blocking("file:///etc/passwd")
