"""A tiny Discord REST API v10 emulator for benchmarks: just what discord.py 2.7 needs to log
in, sync commands and add or remove members' roles, with Discord-style rate limits.

Role routes share one fixed-window bucket per guild (``limit`` requests per ``window``
seconds, the window opening at its first request); all routes together share a global limit
(``global_limit`` per second, Discord's 50 by default; 0 turns it off). Every response
carries the ``X-RateLimit-*`` headers discord.py paces itself by; an exceeded bucket answers
429 with a ``Via`` header (without it discord.py assumes a Cloudflare ban and does not retry). JSON
bodies are sent as exactly ``application/json``: discord.py ignores anything else.

    async with DiscordEmulator(limit=10, window=1.0) as emu, use_emulator(emu.base_url):
        ...  # a discord.py client logged in with emu.token talks to 127.0.0.1
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import discord.http
from aiohttp import web

TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAx.GbEnch.emulator-token-not-a-real-one-000"
BOT_ID = 1_000_000_000_000_000_001
APP_ID = BOT_ID
OWNER_ID = 1_000_000_000_000_000_002
MANAGE_ROLES = 1 << 28


@contextmanager
def use_emulator(base_url: str) -> Iterator[None]:
    """Point discord.py's REST calls at ``base_url`` (``http://127.0.0.1:PORT/api/v10``);
    restores the previous base on exit. Fails loudly if discord.py renamed the seam."""
    route = discord.http.Route
    if not isinstance(getattr(route, "BASE", None), str):
        raise RuntimeError("discord.http.Route.BASE is gone: discord.py changed its seam")
    old = route.BASE
    route.BASE = base_url
    try:
        yield
    finally:
        route.BASE = old


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response with Content-Type exactly ``application/json`` (no charset)."""
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(status=status, body=json.dumps(body).encode(), headers=all_headers)


def _too_many(retry_after: float, headers: dict[str, str], *, scope: str = "user") -> web.Response:
    """A 429 as Discord sends it; the ``Via`` header tells discord.py it is not a ban."""
    extra = {
        "Retry-After": str(math.ceil(retry_after)),
        "X-RateLimit-Scope": scope,
        "Via": "1.1 google",
    }
    body = {
        "message": "You are being rate limited.",
        "retry_after": retry_after,
        "global": scope == "global",
    }
    return _json(429, body, headers | extra)


@dataclass
class Bucket:
    """A fixed window: at most ``limit`` requests from the window's first request until
    ``window`` seconds later; then the whole bucket refills. ``route`` names the bucket's
    routes: like Discord, every guild's bucket of one route has the same hash (discord.py
    tells them apart by the guild id in the URL)."""

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
        """Count a request at ``now``; False if the bucket is empty (answer 429)."""
        if now >= self.opened + self.window:
            self.opened, self.used = now, 0
            self.windows.append((now, 0))
        if self.used >= self.limit:
            return False
        self.used += 1
        self.windows[-1] = (self.opened, self.used)
        return True

    def headers(self, now: float) -> dict[str, str]:
        # round the wait up to Discord's millisecond precision: never wake a client early
        reset_after = max(0.0, math.ceil((self.opened + self.window - now) * 1000) / 1000)
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - self.used)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": self.hash,
        }


@dataclass(frozen=True)
class Call:
    """One request to a role route, as the emulator saw it."""

    at: float  # time.monotonic() on arrival
    method: str
    guild_id: int
    user_id: int
    role_id: int
    status: int


@dataclass
class Guild:
    roles: set[int]
    members: dict[int, set[int]]  # member id -> role ids


class DiscordEmulator:
    """The REST emulator. ``calls`` logs every role request; ``guilds`` holds the state."""

    def __init__(
        self, *, limit: int = 10, window: float = 1.0, global_limit: int = 50, other_limit: int = 50
    ) -> None:
        self.limit = limit
        self.window = window
        self.global_limit = global_limit  # requests per second over all routes; 0: none
        self.global_bucket = Bucket("global", global_limit, 1.0)
        self.other_limit = other_limit
        self.token = TOKEN
        self.guilds: dict[int, Guild] = {}
        self.calls: list[Call] = []
        self.buckets: dict[tuple[str, int], Bucket] = {}
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    # -- setup ---------------------------------------------------------------------------

    def add_guild(self, guild_id: int, role_ids: set[int], member_ids: list[int]) -> None:
        self.guilds[guild_id] = Guild(set(role_ids), {m: set() for m in member_ids})

    def role_bucket(self, guild_id: int) -> Bucket:
        return self._bucket("member roles", guild_id, self.limit, self.window)

    async def start(self) -> str:
        """Listen on a free port of 127.0.0.1; returns the API base URL."""
        app = web.Application()
        app.router.add_get("/api/v10/users/@me", self._me)
        app.router.add_get("/api/v10/oauth2/applications/@me", self._application)
        app.router.add_put("/api/v10/applications/{app}/commands", self._commands)
        app.router.add_put("/api/v10/applications/{app}/guilds/{g}/commands", self._commands)
        role_route = "/api/v10/guilds/{g}/members/{u}/roles/{r}"
        app.router.add_put(role_route, self._member_role)
        app.router.add_delete(role_route, self._member_role)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/api/v10"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DiscordEmulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- plumbing ------------------------------------------------------------------------

    def _bucket(self, route: str, major: int, limit: int, window: float) -> Bucket:
        """The bucket of ``route`` for the major parameter ``major`` (a guild id, or 0)."""
        key = (route, major)
        if key not in self.buckets:
            self.buckets[key] = Bucket(route, limit, window)
        return self.buckets[key]

    def _limited(
        self, request: web.Request, bucket: Bucket, now: float
    ) -> tuple[dict[str, str], web.Response | None]:
        """(rate-limit headers, a refusal or None): 401 without our token, 429 when the
        global limit or the route's bucket is exhausted."""
        if request.headers.get("Authorization") != f"Bot {self.token}":
            return {}, _json(401, {"message": "401: Unauthorized", "code": 0})
        if self.global_limit and not self.global_bucket.take(now):
            wait = float(self.global_bucket.headers(now)["X-RateLimit-Reset-After"])
            return {}, _too_many(wait, {"X-RateLimit-Global": "true"}, scope="global")
        taken = bucket.take(now)
        headers = bucket.headers(now)
        if taken:
            return headers, None
        return headers, _too_many(float(headers["X-RateLimit-Reset-After"]), headers)

    def _plain_route(self, request: web.Request, name: str, body: Any) -> web.Response:
        bucket = self._bucket(name, 0, self.other_limit, 1.0)
        headers, refused = self._limited(request, bucket, time.monotonic())
        return refused or _json(200, body, headers)

    # -- routes --------------------------------------------------------------------------

    async def _me(self, request: web.Request) -> web.Response:
        user = {"id": str(BOT_ID), "username": "badgebot", "discriminator": "0", "avatar": None}
        return self._plain_route(request, "users/@me", user | {"bot": True, "global_name": None})

    async def _application(self, request: web.Request) -> web.Response:
        owner = {"id": str(OWNER_ID), "username": "owner", "discriminator": "0", "avatar": None}
        app = {
            "id": str(APP_ID),
            "name": "badgebot",
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": owner,
            "verify_key": "0" * 64,
            "flags": 0,
        }
        return self._plain_route(request, "applications/@me", app)

    async def _commands(self, request: web.Request) -> web.Response:
        """Bulk overwrite of commands: echo them back with ids, as Discord does."""
        payload = await request.json()
        commands = [
            {**c, "id": str(APP_ID + 1 + i), "application_id": str(APP_ID), "version": "1"}
            for i, c in enumerate(payload)
        ]
        return self._plain_route(request, "commands", commands)

    async def _member_role(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        guild_id, user_id, role_id = (int(request.match_info[k]) for k in ("g", "u", "r"))
        headers, refused = self._limited(request, self.role_bucket(guild_id), arrived)
        response: web.Response
        guild = self.guilds.get(guild_id)
        if refused is not None:
            response = refused
        elif guild is None:
            response = _json(404, {"message": "Unknown Guild", "code": 10004}, headers)
        elif role_id not in guild.roles:
            response = _json(404, {"message": "Unknown Role", "code": 10011}, headers)
        elif user_id not in guild.members:
            response = _json(404, {"message": "Unknown Member", "code": 10007}, headers)
        else:
            roles = guild.members[user_id]
            if request.method == "PUT":
                roles.add(role_id)
            else:
                roles.discard(role_id)
            response = web.Response(status=204, headers=headers)
        self.calls.append(
            Call(arrived, request.method, guild_id, user_id, role_id, response.status)
        )
        return response


def guild_create_payload(
    guild_id: int, badge_role_id: int, *, bot_role_id: int, name: str = "bench guild"
) -> dict[str, Any]:
    """A GUILD_CREATE-shaped guild: @everyone, the bot's role (Manage Roles, on top), the badge
    role below it, and the bot as a member. Feed it to discord.py's connection state."""

    def role(role_id: int, name: str, position: int, permissions: int) -> dict[str, Any]:
        return {
            "id": str(role_id),
            "name": name,
            "color": 0,
            "hoist": False,
            "position": position,
            "permissions": str(permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }

    bot_member = {
        "user": {"id": str(BOT_ID), "username": "badgebot", "discriminator": "0", "avatar": None},
        "roles": [str(bot_role_id)],
        "joined_at": "2026-01-01T00:00:00+00:00",
        "deaf": False,
        "mute": False,
        "flags": 0,
    }
    return {
        "id": str(guild_id),
        "name": name,
        "owner_id": str(OWNER_ID),
        "member_count": 2,
        "roles": [
            role(guild_id, "@everyone", 0, 0),
            role(badge_role_id, "badge role", 1, 0),
            role(bot_role_id, "badgebot", 2, MANAGE_ROLES),
        ],
        "members": [bot_member],
        "channels": [],
        "threads": [],
        "emojis": [],
        "stickers": [],
        "features": [],
        "unavailable": False,
    }
