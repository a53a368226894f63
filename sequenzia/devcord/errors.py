"""Discord's error answers: HTTP status, JSON error code, message, and field errors.

Codes and messages from opcodes-and-status-codes.mdx. Every failure inside devcord becomes
one of these, never a 500: discord.py retries 5xx for about 25 s, which looks like a hang.
"""

from __future__ import annotations

from typing import Any

UNKNOWN_ACCOUNT = 10001
UNKNOWN_APPLICATION = 10002
UNKNOWN_CHANNEL = 10003
UNKNOWN_GUILD = 10004
UNKNOWN_MEMBER = 10007
UNKNOWN_MESSAGE = 10008
UNKNOWN_WEBHOOK = 10015
UNKNOWN_USER = 10013
UNKNOWN_EMOJI = 10014
MISSING_ACCESS = 50001
CANNOT_SEND_EMPTY = 50006
INVALID_FORM_BODY = 50035
MISSING_PERMISSIONS = 50013
TOO_OLD_TO_BULK_DELETE = 50034
INVALID_WEBHOOK_TOKEN = 50027
REQUEST_TOO_LARGE = 40005
UNAUTHORIZED = 0


class DiscordError(Exception):
    """An answer Discord would give: status + `{"code", "message", "errors"?}`."""

    def __init__(
        self, status: int, code: int, message: str, errors: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


def field_error(path: str, code: str, message: str) -> dict[str, Any]:
    """The nested `errors` object of a 50035 answer for one field (`a.b.0`)."""
    tree: dict[str, Any] = {"_errors": [{"code": code, "message": message}]}
    for part in reversed(path.split(".")):
        tree = {part: tree}
    return tree


def invalid_form(path: str, code: str, message: str) -> DiscordError:
    return DiscordError(
        400, INVALID_FORM_BODY, "Invalid Form Body", field_error(path, code, message)
    )


def unknown(what: str, code: int) -> DiscordError:
    return DiscordError(404, code, f"Unknown {what}")


def unauthorized() -> DiscordError:
    return DiscordError(401, UNAUTHORIZED, "401: Unauthorized")


def missing_access() -> DiscordError:
    return DiscordError(403, MISSING_ACCESS, "Missing Access")


def too_large() -> DiscordError:
    return DiscordError(413, REQUEST_TOO_LARGE, "Request entity too large")
