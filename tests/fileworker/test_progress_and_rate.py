"""The progress line and the rate limit, on a fake clock (no sleeping)."""

from __future__ import annotations

import io

import pytest

from sequenzia.fileworker.progress import Progress
from sequenzia.fileworker.throttle import RateLimit, parse_rate

MiB = 1024 * 1024


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_line_shows_share_speed_eta_and_files() -> None:
    clock = Clock()
    progress = Progress(io.StringIO(), 10 * MiB, 3, enabled=False, clock=clock)
    assert progress.line(100).startswith("[") and "0%  0 B/10.0 MiB" in progress.line(100)
    clock.now += 2
    progress.advance(4 * MiB, "a.bin")
    line = progress.line(120)
    assert "40%  4.0 MiB/10.0 MiB  2.0 MiB/s  ETA 0:03  0/3 files  a.bin" in line
    progress.file_done()
    assert "1/3 files" in progress.line(120)
    assert len(progress.line(40)) < 40  # fitted to a narrow terminal


def test_a_bar_is_drawn_only_on_a_terminal_and_cleared() -> None:
    quiet, shown = io.StringIO(), io.StringIO()
    Progress(quiet, 10, enabled=False).advance(5)
    assert quiet.getvalue() == ""
    progress = Progress(shown, 10, enabled=True)
    progress.advance(5)
    assert "50%" in shown.getvalue() and progress.clear() and shown.getvalue().endswith("\x1b[K")


def test_rates_are_read_like_curl_and_refused_when_unreadable() -> None:
    assert parse_rate("500k") == 500 * 1024
    assert parse_rate("2M") == 2 * MiB and parse_rate("1.5m") == int(1.5 * MiB)
    assert parse_rate("1048576") == MiB and parse_rate("2MiB/s") == 2 * MiB
    for bad in ("fast", "0", "-1k", ""):
        with pytest.raises(ValueError):
            parse_rate(bad)


def test_the_rate_limit_makes_senders_wait_for_their_share() -> None:
    clock = Clock()
    limit = RateLimit(MiB, clock=clock)
    assert limit.delay_for(MiB // 4) == 0  # the first quarter second is a burst
    assert limit.delay_for(MiB // 2) == pytest.approx(0.5)
    clock.now += 0.5
    assert limit.delay_for(MiB // 2) == pytest.approx(0.5)
