"""What the transfer commands print: results on stdout, notes on stderr, a progress bar.

The bar lives on stderr and only when stderr is a terminal (and not --quiet); every line
printed while it shows first takes it off the screen, then draws it again below.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any, TextIO

from sequenzia.fileworker.progress import Progress


class Console:
    def __init__(
        self,
        command: str,
        *,
        quiet: bool = False,
        out: TextIO | None = None,
        err: TextIO | None = None,
    ) -> None:
        self.command = command
        self.quiet = quiet
        self._out = out or sys.stdout
        self._err = err or sys.stderr
        self.progress = Progress(self._err, enabled=not quiet and self._err.isatty())
        self._lock = threading.Lock()

    def _line(self, stream: TextIO, text: str) -> None:
        with self._lock:
            shown = self.progress.clear()
            stream.write(text + "\n")
            stream.flush()
            if shown:
                self.progress.redraw()

    def result(self, text: str) -> None:
        """A result line on stdout."""
        self._line(self._out, text)

    def json(self, value: dict[str, Any]) -> None:
        """One JSON object on one line of stdout."""
        self._line(self._out, json.dumps(value, ensure_ascii=False))

    def note(self, text: str) -> None:
        """Something the user may want to know (not with --quiet), on stderr."""
        if not self.quiet:
            self._line(self._err, f"sequenzia {self.command}: {text}")

    def error(self, text: str) -> None:
        """Something that failed, on stderr, always."""
        self._line(self._err, f"sequenzia {self.command}: {text}")

    def finish(self) -> None:
        self.progress.clear()
