"""The benchmarks' REST emulator (bench/discord_emulator.py) with the faults these tests need:
a storm of 429s on the role routes, a role whose hierarchy breaks after some requests (403,
code 50013), a fixed port (to start it where the bot already failed to connect), and command
echoes that discord.py can parse (context-menu commands carry no description)."""

from __future__ import annotations

import math
import time
from collections import Counter
from typing import Any

from aiohttp import web

from bench.discord_emulator import (
    APP_ID,
    BOT_ID,
    Call,
    DiscordEmulator,
    _json,
    guild_create_payload,
)

__all__ = ["BOT_ID", "FaultyDiscord", "guild_payload"]


class FaultyDiscord(DiscordEmulator):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.storm_left = 0
        self.storm_retry_after = 0.0
        self.refuse_after: dict[int, int] = {}  # role id -> accepted requests before 50013
        self.accepted: Counter[int] = Counter()  # role id -> 2xx requests so far

    def storm(self, requests: int, retry_after: float) -> None:
        """Answer 429 (``retry_after`` seconds) to the next ``requests`` role requests."""
        self.storm_left, self.storm_retry_after = requests, retry_after

    def break_hierarchy(self, role_id: int, *, after: int) -> None:
        """After ``after`` accepted requests of the role, refuse it: the bot's role was moved
        below it (403, code 50013)."""
        self.refuse_after[role_id] = after

    def role_calls(self, status: int | None = None) -> list[Call]:
        return [c for c in self.calls if status is None or c.status == status]

    async def start(self, port: int = 0) -> str:  # type: ignore[override]
        """Listen on ``port`` of 127.0.0.1 (0: a free one); returns the API base URL."""
        app = web.Application()
        app.router.add_get("/api/v10/users/@me", self._me)
        app.router.add_get("/api/v10/oauth2/applications/@me", self._application)
        app.router.add_put("/api/v10/applications/{app}/commands", self._commands)
        app.router.add_put("/api/v10/applications/{app}/guilds/{g}/commands", self._commands)
        role_route = "/api/v10/guilds/{g}/members/{u}/roles/{r}"
        app.router.add_put(role_route, self._faulty_role)
        app.router.add_delete(role_route, self._faulty_role)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/api/v10"
        return self.base_url

    async def _commands(self, request: web.Request) -> web.Response:
        payload = await request.json()
        commands = [
            {"description": "", **c, "id": str(APP_ID + 1 + i), "application_id": str(APP_ID)}
            | {"version": "1"}
            for i, c in enumerate(payload)
        ]
        return self._plain_route(request, "commands", commands)

    async def _faulty_role(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        guild_id, user_id, role_id = (int(request.match_info[k]) for k in ("g", "u", "r"))
        refused: web.Response | None = None
        if self.storm_left > 0:
            self.storm_left -= 1
            refused = self._storm_429(guild_id)
        elif role_id in self.refuse_after and self.accepted[role_id] >= self.refuse_after[role_id]:
            refused = _json(403, {"message": "Missing Permissions", "code": 50013})
        if refused is None:
            response = await self._member_role(request)
            if 200 <= response.status < 300:
                self.accepted[role_id] += 1
            return response
        self.calls.append(Call(arrived, request.method, guild_id, user_id, role_id, refused.status))
        return refused

    def _storm_429(self, guild_id: int) -> web.Response:
        """A route 429 as Discord sends it: the bucket's headers, retry_after in the body,
        ``Via`` (without it discord.py takes it for a Cloudflare ban)."""
        wait = self.storm_retry_after
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset-After": f"{wait:.3f}",
            "X-RateLimit-Bucket": self.role_bucket(guild_id).hash,
            "X-RateLimit-Scope": "user",
            "Retry-After": str(math.ceil(wait)),
            "Via": "1.1 google",
        }
        body = {"message": "You are being rate limited.", "retry_after": wait, "global": False}
        return _json(429, body, headers)


def guild_payload(guild_id: int, bot_role_id: int, badge_role_ids: list[int]) -> dict[str, Any]:
    """A GUILD_CREATE-shaped guild with the bot's role on top and these badge roles below."""
    payload = guild_create_payload(guild_id, badge_role_ids[0], bot_role_id=bot_role_id)
    template = next(r for r in payload["roles"] if r["id"] == str(badge_role_ids[0]))
    for position, role_id in enumerate(badge_role_ids[1:], start=2):
        payload["roles"].append(template | {"id": str(role_id), "name": f"badge role {position}"})
    bot_role = next(r for r in payload["roles"] if r["id"] == str(bot_role_id))
    bot_role["position"] = len(badge_role_ids) + 1
    return payload
