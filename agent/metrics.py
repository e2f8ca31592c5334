"""`GET /metrics`: the figures of `status` in the Prometheus format, with prometheus_client.

Each server has a registry of its own (not prometheus_client's global one): two agents in one
process, as in the tests, do not collide, and nothing a library registers globally leaks in.
The names are stable (docs/deployment.md lists them): dashboards and alerts are built on them.

The figures are read from the store at each scrape, so that every worker of a shared store
reports the same totals and a restart loses nothing; only the error counter is this process's
own (a part's record in the store keeps its last error, not how many there were).
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client import generate_latest as _exposition
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from agent.outbox.status import Status
from agent.store.repo import Repo

log = logging.getLogger(__name__)

PARTS = ("mailbox", "calendar", "outbox", "chat")  # chat: only with [[chat.channels]]
DIRECTIONS = ("inbound", "outbound", "internal", "bcc")  # agent.store.models.Message.direction
# Arrival to action, in seconds: most answers go within a pass (seconds), a due timer within
# a minute; the hours are an outage or a postponed send.
LATENCY_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 24 * 3600.0)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def part_records(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(part, its record) of every source and sink in `status_data`, the [[teams]] ones as mailbox:emea."""
    found = [(p, data[p]) for p in PARTS if p in data]
    for team, parts in sorted(data.get("teams", {}).items()):
        found += [(f"{kind}:{team}", parts[kind]) for kind in ("mailbox", "calendar")]
    return found


def families(
    data: dict[str, Any], errors: dict[str, int] | None = None, latency: Metric | None = None
) -> Iterator[Metric]:
    """The agent's metrics from `status_data` (and this process's error counts, and the latency histogram)."""
    yield GaugeMetricFamily("csm_agent_deals", "Deals in the store.", value=data["deals"])
    emails = GaugeMetricFamily(
        "csm_agent_emails", "Emails in the outbox by status (every status, 0 included).", labels=["status"]
    )
    for status in sorted(Status):  # a status with no email is 0, not missing: alerts on it stay defined
        emails.add_metric([str(status)], data["emails"].get(str(status), 0))
    yield emails
    messages = GaugeMetricFamily(
        "csm_agent_messages",
        "Messages read, by how they were matched (a gauge: a held message becomes matched).",
        labels=["status"],
    )
    for status, count in sorted(data["messages"].items()):
        messages.add_metric([status], count)
    yield messages
    if "directions" in data:
        recorded = CounterMetricFamily(
            "csm_agent_messages_recorded",
            "Messages recorded in the store, by direction (never deleted, so a counter).",
            labels=["direction"],
        )
        for direction in sorted({*DIRECTIONS, *data["directions"]}):
            recorded.add_metric([direction], data["directions"].get(direction, 0))
        yield recorded
    for name, help_ in (
        ("quarantined", "Inputs kept aside with an error."),
        ("unmatched", "Messages waiting for a person to tell their deal."),
        ("timers_pending", "Timers not yet fired."),
    ):
        yield GaugeMetricFamily(f"csm_agent_{name}", help_, value=data[name])
    window = data["latency"]
    quantiles = GaugeMetricFamily(
        "csm_agent_action_latency_seconds",
        "From an input's arrival (a message reaching the mailbox, a call ending, a delayed email coming "
        "due) to the email it caused being sent; last 24 h.",
        labels=["quantile"],
    )
    for q, key in (("0.5", "p50"), ("0.95", "p95"), ("1", "max")):
        if window[key] is not None:
            quantiles.add_metric([q], window[key])
    yield quantiles
    yield GaugeMetricFamily(
        "csm_agent_actions_24h",
        "Emails sent in the last 24 h that the latency is measured over.",
        value=window["count"],
    )
    if latency is not None:
        yield latency
    up = GaugeMetricFamily(
        "csm_agent_part_up", "1 when the part's last attempt worked.", labels=["part", "backend"]
    )
    for part, record in part_records(data):
        up.add_metric([part, record["backend"]], 0 if record.get("last_error") else 1)
    yield up
    if "ready" in data:
        yield GaugeMetricFamily("csm_agent_ready", "1 when /readyz answers 200.", value=int(data["ready"]))
    if errors is not None:
        parts = [p for p, _ in part_records(data)] + ["store"]
        yield error_counter(errors, parts)


def error_counter(errors: dict[str, int], parts: Iterable[str]) -> Metric:
    counter = CounterMetricFamily(
        "csm_agent_part_errors",
        "Failed attempts of a part (the store's own included) since the daemon started.",
        labels=["part"],
    )
    for part in sorted({*parts, *errors}):
        counter.add_metric([part], errors.get(part, 0))
    return counter


class LatencyHistogram:
    """Arrival to action (an email's `ready_at` to its `sent_at`) of every email sent, as a histogram.

    Read again only when more emails were sent since the last scrape: a sent email stays sent,
    so the count of sent emails tells whether anything changed.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self.sent = -1
        self.seconds: list[float] = []

    def family(self, sent: int) -> Metric:
        if sent != self.sent:
            with self.sessions.begin() as s:
                self.seconds = Repo(s).reaction_seconds(EPOCH)  # sorted
            self.sent = sent
        buckets = [(_le(b), bisect.bisect_right(self.seconds, b)) for b in LATENCY_BUCKETS]
        return HistogramMetricFamily(
            "csm_agent_arrival_to_action_seconds",
            "From an input's arrival to the email it caused being sent (ready_at to sent_at), every email sent.",
            buckets=[*buckets, ("+Inf", len(self.seconds))],
            sum_value=sum(self.seconds),
        )


def _le(bound: float) -> str:
    return str(int(bound)) if bound.is_integer() else str(bound)


def directions(sessions: sessionmaker[Session]) -> dict[str, int]:
    """Messages recorded by direction (the store's query)."""
    with sessions.begin() as s:
        return Repo(s).messages_by_direction()


class AgentCollector(Collector):
    """The agent's metrics, read at each scrape; with the store down, what is known without it."""

    def __init__(
        self,
        data: Callable[[], dict[str, Any]],
        sessions: sessionmaker[Session],
        errors: Callable[[], dict[str, int]],
    ) -> None:
        self.data = data
        self.sessions = sessions
        self.errors = errors
        self.latency = LatencyHistogram(sessions)

    def collect(self) -> Iterator[Metric]:
        try:
            current = {**self.data(), "directions": directions(self.sessions)}
            latency = self.latency.family(current["emails"].get("sent", 0))
        except Exception as exc:  # a scrape still answers (process metrics, errors): the store is the news
            log.warning("metrics: the store cannot be read: %s", exc)
            yield GaugeMetricFamily("csm_agent_ready", "1 when /readyz answers 200.", value=0)
            yield error_counter(self.errors(), ["store"])
            return
        yield from families(current, self.errors(), latency)


def registry(collector: Collector) -> CollectorRegistry:
    """A registry of its own: the agent's metrics and the process's (CPU, memory, open files, GC)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    return _exposition(registry)


def metrics_text(data: dict[str, Any]) -> str:
    """The agent's figures of one `status_data` in the Prometheus text format (no process metrics)."""

    class Fixed(Collector):
        def collect(self) -> Iterator[Metric]:
            return families(data)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Fixed())
    return _exposition(registry).decode()
