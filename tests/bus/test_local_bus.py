"""The in-process bus: topic matching, fan-out, ordering, isolation of failing handlers."""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet import defer, reactor, task

from sequenzia.bus import LocalBus, topic_matches


@pytest.mark.parametrize(
    ("pattern", "topic", "expected"),
    [
        ("record.created", "record.created", True),
        ("record.*", "record.created", True),
        ("record.*", "record.created.big", False),
        ("record.#", "record", True),
        ("record.#", "record.created.big", True),
        ("#", "anything.at.all", True),
        ("#.deleted", "record.deleted", True),
        ("#.deleted", "deleted", True),
        ("a.#.z", "a.z", True),
        ("a.#.z", "a.b.c.z", True),
        ("a.#.z", "a.b.c", False),
        ("*.created", "record.created", True),
        ("*.created", "created", False),
        ("record.created", "record.deleted", False),
    ],
)
def test_topic_matching(pattern: str, topic: str, expected: bool) -> None:
    assert topic_matches(pattern, topic) is expected


def test_bad_topics_refused() -> None:
    bus = LocalBus()
    with pytest.raises(ValueError, match="bad bus topic"):
        bus.publish("record..created", {})
    with pytest.raises(ValueError, match="bad bus pattern"):
        bus.subscribe("record.cre ated", lambda t, m: None)


@pytest_twisted.ensureDeferred
async def test_fan_out_in_order_and_failures_isolated() -> None:
    bus = LocalBus()
    seen: list[tuple[str, str, int]] = []

    def broken(topic, message):
        raise RuntimeError("handler bug")

    async def slow(topic, message):
        await task.deferLater(reactor, 0.01, lambda: None)
        seen.append(("slow", topic, message["n"]))

    bus.subscribe("record.*", lambda t, m: seen.append(("a", t, m["n"])))
    bus.subscribe("record.deleted", lambda t, m: seen.append(("b", t, m["n"])))
    bus.subscribe("#", broken)
    bus.subscribe("record.#", lambda t, m: defer.ensureDeferred(slow(t, m)))
    for n in range(3):
        await bus.publish("record.created", {"n": n})
    await bus.publish("record.deleted", {"n": 9})
    assert [s for s in seen if s[0] == "a"] == [
        ("a", "record.created", 0),
        ("a", "record.created", 1),
        ("a", "record.created", 2),
        ("a", "record.deleted", 9),
    ]
    assert [s for s in seen if s[0] == "b"] == [("b", "record.deleted", 9)]
    assert [s[2] for s in seen if s[0] == "slow"] == [0, 1, 2, 9]


@pytest_twisted.ensureDeferred
async def test_stopped_subscription_gets_nothing() -> None:
    bus = LocalBus()
    seen = []
    sub = bus.subscribe("x", lambda t, m: seen.append(m))
    await bus.publish("x", {"v": 1})
    sub.stop()
    await bus.publish("x", {"v": 2})
    assert seen == [{"v": 1}]
