"""twisted.logger observers that write one line per event.

`text`: `2026-11-25T04:00:00.123Z info [namespace] message key=value ...`, with a
traceback (if any) indented on the lines that follow.
`json`: one JSON object per line: `ts`, `level`, `ns`, `msg`, the event's own fields,
and `failure` (the traceback as one string) when there is one.
"""

from __future__ import annotations

import json
import time
from typing import IO, Any

from twisted.logger import (
    FilteringLogObserver,
    ILogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    formatEvent,
)
from zope.interface import implementer

_LEVELS = {
    "debug": LogLevel.debug,
    "info": LogLevel.info,
    "warn": LogLevel.warn,
    "error": LogLevel.error,
}


def _timestamp(event: dict[str, Any]) -> str:
    t = event.get("log_time") or time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def _fields(event: dict[str, Any]) -> dict[str, Any]:
    """The event's own structured fields: everything not internal to twisted.logger."""
    return {
        k: v
        for k, v in event.items()
        if not k.startswith("log_")
        and k not in ("format", "message", "isError", "system", "time", "why", "failure")
    }


def _message(event: dict[str, Any]) -> str:
    text = formatEvent(event)
    if not text and event.get("message"):
        text = " ".join(str(m) for m in event["message"])
    why = event.get("why")
    if why and why not in text:
        text = f"{text} {why}".strip()
    return text


def _failure_text(event: dict[str, Any]) -> str | None:
    failure = event.get("log_failure") or event.get("failure")
    if failure is None:
        return None
    try:
        return failure.getTraceback()
    except Exception:  # a broken failure must not break logging
        return repr(failure)


def _level(event: dict[str, Any]) -> str:
    level = event.get("log_level")
    if level is None:
        return "error" if event.get("isError") else "info"
    return level.name


def _namespace(event: dict[str, Any]) -> str:
    return str(event.get("log_namespace") or event.get("system") or "-")


@implementer(ILogObserver)
class TextLineObserver:
    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def __call__(self, event: dict[str, Any]) -> None:
        line = f"{_timestamp(event)} {_level(event)} [{_namespace(event)}] {_message(event)}"
        failure = _failure_text(event)
        if failure:
            line += "\n" + "\n".join("    " + x for x in failure.rstrip().splitlines())
        self._stream.write(line + "\n")
        self._stream.flush()


@implementer(ILogObserver)
class JSONLineObserver:
    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def __call__(self, event: dict[str, Any]) -> None:
        record: dict[str, Any] = {
            "ts": _timestamp(event),
            "level": _level(event),
            "ns": _namespace(event),
            "msg": _message(event),
        }
        for k, v in _fields(event).items():
            record.setdefault(k, v)
        failure = _failure_text(event)
        if failure:
            record["failure"] = failure
        self._stream.write(json.dumps(record, default=repr, ensure_ascii=False) + "\n")
        self._stream.flush()


def make_observer(stream: IO[str], fmt: str = "text", level: str = "info") -> ILogObserver:
    """An observer writing `fmt` ('text' or 'json') lines of events at `level` or above."""
    inner = JSONLineObserver(stream) if fmt == "json" else TextLineObserver(stream)
    predicate = LogLevelFilterPredicate(defaultLogLevel=_LEVELS[level])
    return FilteringLogObserver(inner, [predicate])
