"""The message bus between roles: one small interface, an in-process implementation now,
RabbitMQ (pika) for several processes later (roadmap 8).

Topics are dotted words (`record.created`, `jobs.discordio`); subscriptions may use `*`
(one word) and `#` (zero or more words), as in AMQP topic exchanges. Messages are JSON-able
dicts; bytes never travel on the bus (they are staged on shared storage and referenced).
Durable work does not live here either: the Discord I/O job journal is a database table,
and a bus message only says "there is work" so the consumer need not wait for its poll.
"""

from sequenzia.bus.base import Bus, Handler, Subscription, topic_matches
from sequenzia.bus.local import LocalBus

__all__ = ["Bus", "Handler", "LocalBus", "Subscription", "topic_matches"]
