"""A one-line progress bar on a terminal: bytes done, speed, time left, files done.

Threads report with `advance`; drawing is throttled and happens on whichever thread
reports. Off (silent) when the stream is not a terminal, so logs and pipes stay clean.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TextIO

REDRAW_S = 0.2
WINDOW_S = 5.0  # speed is measured over the last few seconds, not since the start


def human_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def human_duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    """Progress of a transfer of `total` bytes in `files` files."""

    def __init__(
        self,
        stream: TextIO,
        total: int = 0,
        files: int = 0,
        *,
        enabled: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self.enabled = stream.isatty() if enabled is None else enabled
        self.total = total
        self.files = files
        self.done = 0
        self.files_done = 0
        self.label = ""
        self._clock = clock
        self._samples: deque[tuple[float, int]] = deque([(clock(), 0)])
        self._drawn_at = 0.0
        self._shown = False
        self._lock = threading.Lock()

    def add(self, size: int, files: int = 1) -> None:
        """More work found (watch adds files as they settle)."""
        with self._lock:
            self.total += size
            self.files += files

    def advance(self, n: int, label: str | None = None) -> None:
        """`n` more bytes done (negative: a failed attempt's bytes to send again)."""
        with self._lock:
            self.done += n
            if label is not None:
                self.label = label
            self._draw(force=False)

    def restart_at(self, done: int) -> None:
        """The transfer continues from `done` bytes (a resumed or restarted download)."""
        with self._lock:
            self.done = done
            self._samples.clear()
            self._samples.append((self._clock(), done))

    def file_done(self) -> None:
        with self._lock:
            self.files_done += 1
            self._draw(force=True)

    def speed(self) -> float | None:
        """Bytes per second over the last few seconds; None until there is a measure."""
        now = self._clock()
        self._samples.append((now, self.done))
        while len(self._samples) > 2 and now - self._samples[1][0] > WINDOW_S:
            self._samples.popleft()
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        return (d1 - d0) / (t1 - t0) if t1 - t0 >= 0.5 else None

    def line(self, width: int) -> str:
        """The bar as text, fitted to `width` columns."""
        fraction = min(1.0, self.done / self.total) if self.total else 1.0
        speed = self.speed()
        eta = ""
        if speed and speed > 0 and self.total > self.done:
            eta = f"  ETA {human_duration((self.total - self.done) / speed)}"
        rate = f"  {human_size(speed)}/s" if speed is not None else ""
        files = f"  {self.files_done}/{self.files} files" if self.files > 1 else ""
        text = (
            f" {fraction * 100:3.0f}%  {human_size(self.done)}/{human_size(self.total)}"
            f"{rate}{eta}{files}"
        )
        room = width - len(text) - 3
        label = f"  {self.label}" if self.label and room > 30 else ""
        bar_width = max(0, min(30, room - len(label)))
        filled = int(bar_width * fraction)
        bar = f"[{'#' * filled}{'.' * (bar_width - filled)}]" if bar_width >= 10 else ""
        return (bar + text + label)[: width - 1]

    def _draw(self, force: bool) -> None:
        if not self.enabled:
            return
        now = self._clock()
        if not force and now - self._drawn_at < REDRAW_S:
            return
        self._drawn_at = now
        width = shutil.get_terminal_size((80, 24)).columns
        self._stream.write("\r\x1b[K" + self.line(width))
        self._stream.flush()
        self._shown = True

    def clear(self) -> bool:
        """Take the bar off the screen (before printing a line, or at the end); was it shown?"""
        with self._lock:
            if not self._shown:
                return False
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._shown = False
            return True

    def redraw(self) -> None:
        with self._lock:
            self._draw(force=True)
