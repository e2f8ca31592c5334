"""The first-watch rule of the mailboxes without UIDs (Exchange, Graph): one check run against each fake.

What a folder held before the agent first watched it is history, told by the time a message was
received (agent/mailboxes/polling.py): an hour before is history, a minute before is within the
clocks' margin and acted on, and a restart keeps the first watch's time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from agent.store.models import Message
from tests.conftest import Harness
from tests.conftest import client_email as email


def statuses(h: Harness) -> list[tuple[str, str]]:
    """(subject, status) of each message the agent recorded, oldest first."""
    with h.agent.sessions.begin() as s:
        return [(m.subject, m.status) for m in s.scalars(select(Message).order_by(Message.id))]


def check_history_by_time(
    h: Harness, restarted: Callable[[], Harness], deliver: Callable[..., object]
) -> None:
    """`deliver(message, received=...)` puts a message in the fake's inbox; `restarted()` is a new agent."""
    deal = h.add_deal()
    deliver(email("Answered by people an hour ago"), received=datetime.now(UTC) - timedelta(hours=1))
    deliver(email("A minute before the first watch"), received=datetime.now(UTC) - timedelta(minutes=1))
    assert h.run().messages == 2
    deliver(email("After the first watch"))
    assert restarted().run().messages == 1  # a restart keeps the first watch's time
    assert statuses(h) == [
        ("Answered by people an hour ago", "history"),  # recorded on its deal, not forwarded
        ("A minute before the first watch", "matched"),  # within the clocks' 5 minutes: acted on
        ("After the first watch", "matched"),
    ]
    assert [e["template"] for e in h.show(deal)["emails"]].count("client-reply") == 2
