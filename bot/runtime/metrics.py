"""feedbot's Prometheus metrics, defined once, on a registry per runtime (never the global default,
so two runtimes in one process, as in tests, keep their own counts).

    feedbot_updates_received_total{platform}        updates an adapter handed to the engine
    feedbot_updates_handled_total{platform}         ... committed, so the platform may be told
    feedbot_updates_dead_lettered_total{platform}   ... given up on (unreadable, or failing for good)
    feedbot_deliveries_total{platform,status}       outbox outcomes, status in DELIVERY_STATUSES
    feedbot_send_latency_seconds{platform}          one platform send, from call to answer
    feedbot_rate_limited_total{platform}            429 answers from the platform
    feedbot_outbox_depth                            deliveries pending or being sent (read at scrape time)
    feedbot_answers_stored_total                    answers committed
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# sent: the platform took it; retry: a passing failure, tried again later; failed: refused for good
# (blocked, DMs closed); gave_up: max_attempts reached; held: waiting for the end of quiet hours.
DELIVERY_STATUSES = ("sent", "retry", "failed", "gave_up", "held")
SEND_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.updates_received = Counter(
            "feedbot_updates_received", "Platform updates handed to the engine.", ["platform"], registry=r
        )
        self.updates_handled = Counter(
            "feedbot_updates_handled",
            "Platform updates committed (the platform may be told).",
            ["platform"],
            registry=r,
        )
        self.updates_dead_lettered = Counter(
            "feedbot_updates_dead_lettered", "Platform updates given up on.", ["platform"], registry=r
        )
        self.deliveries = Counter(
            "feedbot_deliveries", "Outbox deliveries by outcome.", ["platform", "status"], registry=r
        )
        self.send_latency = Histogram(
            "feedbot_send_latency_seconds",
            "Duration of one platform send.",
            ["platform"],
            buckets=SEND_BUCKETS,
            registry=r,
        )
        self.rate_limited = Counter(
            "feedbot_rate_limited", "HTTP 429 answers from the platform.", ["platform"], registry=r
        )
        self.outbox_depth = Gauge("feedbot_outbox_depth", "Deliveries pending or being sent.", registry=r)
        self.answers_stored = Counter("feedbot_answers_stored", "Answers committed.", registry=r)

    def know_platforms(self, platforms: Iterable[str]) -> None:
        """Create each platform's series at zero, so dashboards and rate() see them before the first event."""
        for platform in platforms:
            for metric in (self.updates_received, self.updates_handled, self.updates_dead_lettered, self.rate_limited):
                metric.labels(platform=platform)
            self.send_latency.labels(platform=platform)
            for status in DELIVERY_STATUSES:
                self.deliveries.labels(platform=platform, status=status)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
