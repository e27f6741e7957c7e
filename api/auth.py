"""Who is calling: a bearer token (checked against the database on every request, so a
revocation takes effect on the next one) or nobody; and each token's rate limit."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from starlette.requests import Request

from api.errors import ApiError
from badges.model import ApiToken
from badges.permissions import Actor, Level
from badges.service import BadgeService

ANONYMOUS = Actor(0, "anonymous", Level.MEMBER)


@dataclass(frozen=True, slots=True)
class Caller:
    """The token behind a request (None for an anonymous read) and the actor it acts as."""

    token: ApiToken | None
    actor: Actor


class TokenBuckets:
    """A token bucket per API token: ``rate`` requests per second, ``burst`` at once.
    Kept in memory: with several workers each enforces it on the requests it serves."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[int, tuple[float, float]] = {}

    def take(self, key: int, now: float | None = None) -> tuple[bool, float, float]:
        """(allowed, tokens left, seconds until one more is available)."""
        now = time.monotonic() if now is None else now
        level, last = self._buckets.get(key, (float(self.burst), now))
        level = min(float(self.burst), level + (now - last) * self.rate)
        if level >= 1.0:
            level -= 1.0
            self._buckets[key] = (level, now)
            return True, level, 0.0 if level >= 1.0 else (1.0 - level) / self.rate
        self._buckets[key] = (level, now)
        return False, level, (1.0 - level) / self.rate

    def headers(self, left: float, wait: float) -> dict[str, str]:
        full = (self.burst - left) / self.rate
        return {
            "X-RateLimit-Limit": str(self.burst),
            "X-RateLimit-Remaining": str(int(left)),
            "X-RateLimit-Reset": f"{full:.3f}",
            "X-RateLimit-Reset-After": f"{wait:.3f}",
        }


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(
            401,
            "unauthorized",
            "The Authorization header must be 'Bearer <token>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return secret.strip()


async def identify(
    request: Request, service: BadgeService, buckets: TokenBuckets, guild_id: int
) -> Caller | None:
    """The caller of a request, or None if it carries no token. A token that is unknown,
    revoked or of another guild is refused (401, 403); one over its rate limit gets 429."""
    secret = _bearer(request)
    if secret is None:
        return None
    token = await service.tokens.authenticate(secret)
    if token is None:
        raise ApiError(
            401,
            "unauthorized",
            "The API token is unknown or revoked: make one with /badge api-token create.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    if token.guild_id != guild_id:
        raise ApiError(403, "wrong_guild", "This API token belongs to another server.")
    allowed, left, wait = buckets.take(token.id)
    headers = buckets.headers(left, wait)
    if not allowed:
        headers["Retry-After"] = str(max(1, math.ceil(wait)))
        raise ApiError(
            429,
            "rate_limited",
            f"Too many requests for this token: at most {buckets.rate:g} per second "
            f"(bursts of {buckets.burst}). Retry after {wait:.2f} s.",
            details={"retryAfter": round(wait, 3)},
            headers=headers,
        )
    request.state.rate_headers = headers
    return Caller(token=token, actor=service.tokens.actor(token))


def need_token(caller: Caller | None) -> Caller:
    if caller is None:
        raise ApiError(
            401,
            "unauthorized",
            "This route needs an API token: send 'Authorization: Bearer <token>' "
            "(make one with /badge api-token create).",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return caller
