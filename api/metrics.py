"""The API's side of the metrics: every request timed by method, route and status, and
``GET /metrics`` (Prometheus' text format; with ``metrics_token`` set, only for a scraper
that sends it)."""

from __future__ import annotations

import time

from fastapi import FastAPI, Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot import metrics
from bot.config import Settings

GUILD_PREFIX = "/api/v1/guilds/{guildId}"


class TimedRequests:
    """ASGI middleware: observe each request in ``badgebot_api_request_seconds``, labelled
    with its route's template (``/api/v1/guilds/{guildId}/badges``), never the raw path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sent(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sent)
        finally:
            metrics.API_REQUESTS.labels(scope["method"], _template(scope), str(status)).observe(
                time.perf_counter() - started
            )


def _template(scope: Scope) -> str:
    """The matched route's template; the router under the guild prefix reports its own path
    without the prefix."""
    found = getattr(scope.get("route"), "path", None)
    if found is None:
        return "unmatched"
    path = str(found)
    if "guildId" in scope.get("path_params", {}) and "{guildId}" not in path:
        return GUILD_PREFIX + path
    return path


def install(app: FastAPI, settings: Settings) -> None:
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None

    @app.get("/metrics", include_in_schema=False)
    async def scrape(request: Request) -> Response:
        if not metrics.authorized(request.headers.get("Authorization"), token):
            return Response("a metrics token is needed\n", status_code=401)
        return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)

    app.add_middleware(TimedRequests)
