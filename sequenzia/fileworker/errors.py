"""What goes wrong in the client, split by whose fault it is (the exit code follows)."""


class FileWorkerError(Exception):
    """Base of the client's errors; the message is one sentence for the user."""


class Misuse(FileWorkerError):
    """The command cannot work as given: no key, a wrong key, an unknown channel (exit 2)."""


class TransferFailed(FileWorkerError):
    """The work was attempted and failed: unreachable server, refusal, lost data (exit 1)."""


class Refused(TransferFailed):
    """The server answered with an error status and a message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class IntegrityFailed(TransferFailed):
    """Bytes that do not match what the record says (size or xxh3-128): never kept."""


class Cancelled(FileWorkerError):
    """The user interrupted (Ctrl-C); worker threads stop with this."""
