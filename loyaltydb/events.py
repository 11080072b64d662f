"""The events outbox's consumer API (docs/events.md), synchronous; ``loyaltydb.aio.events`` is
the same as coroutines.

Every change loyaltydb makes writes an event in its own transaction. A consumer is a name: each
receives every event committed after its first ``fetch()``, at least once (an event fetched
and not acknowledged within ``visibility_timeout`` seconds is given again), never two workers of
one consumer the same event at once, and never skipped, whatever order transactions commit in.

    while True:
        for event in events.fetch(conn, "mailer"):
            send(event)
            events.ack(conn, "mailer", [event.id])
        events.listen(conn, timeout=30)
"""

from .api import ack_events as ack
from .api import drop_event_consumer as drop_consumer
from .api import event_consumer_status as consumers
from .api import fetch_events as fetch
from .api import listen_events as listen
from .api import prune_events as prune
from .models import ConsumerStatus, Event

__all__ = ["ConsumerStatus", "Event", "ack", "consumers", "drop_consumer", "fetch", "listen", "prune"]
