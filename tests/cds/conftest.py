"""Fixtures for the CDS tests: a directory Nginx's workers can reach, and Nginx itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.nginx import Nginx, start_nginx, worker_reachable_dir


@pytest.fixture
def nginx_dir() -> Iterator[Path]:
    """A fresh directory for Nginx's prefix and the cache it serves (see tests/nginx.py)."""
    with worker_reachable_dir() as path:
        yield path


@pytest.fixture
def run_nginx(nginx_dir: Path) -> Iterator[Callable[[int, Path], Nginx]]:
    """`run_nginx(upstream_port, cache_root)` starts Nginx; it is stopped after the test."""
    with ExitStack() as stopping:

        def run(upstream_port: int, cache_root: Path) -> Nginx:
            nginx = start_nginx(nginx_dir, upstream_port, cache_root)
            stopping.callback(nginx.stop)
            return nginx

        yield run


from tests.devcord.conftest import devcord  # noqa: E402, F401 (a fixture)
