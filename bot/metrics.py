"""Prometheus metrics of a badgebot process (prometheus-client), in its default registry with
the process collector (memory, CPU, open files). Counters and histograms are updated where
things happen; the role queue's gauges are read from the database when scraped.

Every bot process and the REST API serve ``/metrics`` in Prometheus' text format: the bot on
``BADGEBOT_METRICS_PORT`` (``metrics_server``), the API on its own port (``api.app``).
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

log = logging.getLogger(__name__)

ROLE_CHANGES_APPLIED = Counter(
    "badgebot_role_changes_applied",
    "Role changes Discord accepted (or found already done), by action.",
    ["action"],
)
ROLE_CHANGES_RETRIED = Counter(
    "badgebot_role_changes_retried",
    "Role changes Discord refused for now (429, 5xx), to be retried with backoff.",
)
ROLE_CHANGES_FAILED = Counter(
    "badgebot_role_changes_failed",
    "Role changes that failed permanently (missing permission, hierarchy, unknown role).",
)
QUEUE_PENDING = Gauge(
    "badgebot_role_queue_pending", "Role changes waiting to be applied, per guild.", ["guild"]
)
QUEUE_OLDEST = Gauge(
    "badgebot_role_queue_oldest_seconds",
    "Age of the oldest role change still waiting, per guild (0 when none).",
    ["guild"],
)
QUEUE_FAILED = Gauge(
    "badgebot_role_queue_failed",
    "Role changes that failed permanently and wait for an admin, per guild.",
    ["guild"],
)
INTERACTIONS = Counter(
    "badgebot_interactions", "Interactions received, by kind (command, component, ...).", ["kind"]
)
ACKNOWLEDGED = Histogram(
    "badgebot_interaction_ack_seconds",
    "From an interaction's creation (its id's timestamp) to the bot's first response; "
    "Discord's limit is 3 s.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0),
)
GATEWAY_LATENCY = Gauge(
    "badgebot_gateway_latency_seconds", "Heartbeat round trip per shard.", ["shard"]
)
EVENTS_COUNTED = Counter(
    "badgebot_activity_events_counted",
    "Gateway events counted toward automatic badges, by kind.",
    ["kind"],
)
WEBHOOK_DELIVERIES = Counter(
    "badgebot_webhook_deliveries",
    "Webhook delivery attempts, by outcome (delivered, retry, failed).",
    ["outcome"],
)

CONTENT_TYPE = CONTENT_TYPE_LATEST
_ACKED = "badgebot_acked"


def acknowledged(created_at: datetime, extras: dict[str, object]) -> None:
    """Record the first response to an interaction (later calls for it are ignored)."""
    if extras.get(_ACKED):
        return
    extras[_ACKED] = True
    ACKNOWLEDGED.observe(max(0.0, (datetime.now(UTC) - created_at).total_seconds()))


def render() -> bytes:
    """The metrics in Prometheus' text format. Under `badgebot api --workers N` each worker
    writes to PROMETHEUS_MULTIPROC_DIR and a scrape sums them all."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest()


async def metrics_server(
    host: str, port: int, refresh: Callable[[], Awaitable[None]], token: str | None = None
) -> web.AppRunner:
    """Serve ``GET /metrics`` on ``host:port``; ``refresh`` updates the gauges first."""

    async def metrics(request: web.Request) -> web.Response:
        if not authorized(request.headers.get("Authorization"), token):
            return web.Response(status=401, text="a metrics token is needed\n")
        try:
            await refresh()
        except Exception:  # a database hiccup must not hide the other metrics
            log.exception("refreshing metrics failed")
        return web.Response(body=render(), headers={"Content-Type": CONTENT_TYPE})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


API_REQUESTS = Histogram(
    "badgebot_api_request_seconds",
    "REST API requests by method, route and status, and how long they took.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)


def authorized(header: str | None, token: str | None) -> bool:
    """Whether a scrape may read the metrics: always without a token, else a matching one."""
    if not token:
        return True
    return hmac.compare_digest((header or "").encode(), f"Bearer {token}".encode())
