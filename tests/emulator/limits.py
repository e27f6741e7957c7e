"""Discord's rate limits as the emulator applies them, and JSON responses as Discord sends them.

Buckets are fixed windows: at most ``limit`` requests from a window's first request until
``window`` seconds later, then the whole bucket refills (discord.py refills it so at reset).
Every answer carries the ``X-RateLimit-*`` headers discord.py paces itself by (without them it
sends one request at a time per bucket); a 429 carries ``Via`` (without it discord.py assumes a
Cloudflare ban and gives up) and ``retry_after`` in its body. JSON bodies are sent with
Content-Type exactly ``application/json``: discord.py ignores a body with a charset.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response with Content-Type exactly ``application/json``."""
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(status=status, body=json.dumps(body).encode(), headers=all_headers)


def error(
    status: int, code: int, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    """A Discord error body: ``{"code": ..., "message": ...}``."""
    return json_response(status, {"code": code, "message": message}, headers)


def too_many(retry_after: float, headers: dict[str, str], *, scope: str = "user") -> web.Response:
    """A 429 as Discord sends it."""
    extra = {
        "Retry-After": str(max(1, math.ceil(retry_after))),
        "X-RateLimit-Scope": scope,
        "Via": "1.1 google",
    }
    if scope == "global":
        extra["X-RateLimit-Global"] = "true"
    body = {
        "message": "You are being rate limited.",
        "retry_after": round(retry_after, 3),
        "global": scope == "global",
        "code": 0,
    }
    return json_response(429, body, headers | extra)


@dataclass
class Bucket:
    """One fixed window. ``route`` names it: like Discord, one route's buckets share a hash
    in every guild (discord.py tells them apart by the major parameter in the URL)."""

    route: str
    limit: int
    window: float
    opened: float = -math.inf
    used: int = 0
    windows: list[tuple[float, int]] = field(default_factory=list)  # (opened at, requests)

    @property
    def hash(self) -> str:
        return hashlib.sha1(self.route.encode()).hexdigest()[:32]

    def take(self, now: float) -> bool:
        """Count a request at ``now``; False if the window is used up (answer 429)."""
        if now >= self.opened + self.window:
            self.opened, self.used = now, 0
            self.windows.append((now, 0))
        if self.used >= self.limit:
            return False
        self.used += 1
        self.windows[-1] = (self.opened, self.used)
        return True

    def reset_after(self, now: float) -> float:
        # rounded up to Discord's millisecond precision: never wake a client early
        return max(0.0, math.ceil((self.opened + self.window - now) * 1000) / 1000)

    def headers(self, now: float) -> dict[str, str]:
        reset_after = self.reset_after(now)
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - self.used)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": self.hash,
        }


@dataclass
class RouteLimit:
    """The bucket size of a route: ``limit`` requests per ``window`` seconds, per major id."""

    limit: int
    window: float = 1.0


# Close to what Discord announces for bots; tests and benchmarks override them.
DEFAULT_LIMITS: dict[str, RouteLimit] = {
    "member role add": RouteLimit(10, 1.0),
    "member role remove": RouteLimit(10, 1.0),
    "roles": RouteLimit(250, 48 * 3600.0),
    "channel permissions": RouteLimit(10, 10.0),
    "messages": RouteLimit(5, 5.0),
    "members": RouteLimit(10, 10.0),
    "commands": RouteLimit(200, 24 * 3600.0),
    "interaction callback": RouteLimit(1000, 1.0),
    "webhook": RouteLimit(5, 2.0),
    "other": RouteLimit(50, 1.0),
}
