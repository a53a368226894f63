"""Reaching the real services tests need, and what to do when one is missing.

On a developer's machine a missing service skips the test with the reason; in CI
(`CI=true`) it fails it, so a skip can never hide a failure there.
"""

from __future__ import annotations

import os
import shutil
import socket

import pytest

MYSQL_URL_ENV = "SEQUENZIA_TEST_MYSQL_URL"
DEFAULT_MYSQL_SERVER = "mysql://root@127.0.0.1:3306/"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(service: str, reason: str) -> None:
    """Skip (developer machine) or fail (CI) because `service` is not there."""
    message = f"{service} is not available: {reason}"
    if in_ci():
        pytest.fail(f"{message} (CI=true: required services must be present)", pytrace=False)
    pytest.skip(message)


def tcp_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_program(name: str, service: str | None = None) -> str:
    """The path of an executable, or skip/fail when it is not installed."""
    path = shutil.which(name) or (
        f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None
    )
    if path is None:
        missing(service or name, f"'{name}' is not on PATH (apt-get install {name})")
    assert path is not None
    return path


def require_rabbitmq(host: str = "127.0.0.1", port: int = 5672) -> None:
    if not tcp_open(host, port):
        missing("RabbitMQ", f"nothing listens on {host}:{port}")
