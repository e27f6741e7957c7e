"""The Discord emulator of tests/emulator with the faults these tests need on the member-role
routes: a storm of 429s with a chosen ``retry_after`` (the emulator's own ``storm`` always
says 0.05 s), a role whose hierarchy breaks after some accepted requests (403, code 50013),
and the role requests of the call log read back as (guild, member, role)."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.emulator import BOT_ID, DiscordEmulator, Guild, Member
from tests.emulator.limits import json_response
from tests.emulator.state import OWNER_ID, Role, User, new_guild

__all__ = ["BOT_ID", "FaultyDiscord", "RoleCall"]
ROLE_PATH = re.compile(r"/guilds/(\d+)/members/(\d+)/roles/(\d+)$")


@dataclass(frozen=True)
class RoleCall:
    """One member-role request, as the emulator answered it."""

    at: float
    method: str
    guild_id: int
    user_id: int
    role_id: int
    status: int


class FaultyDiscord(DiscordEmulator):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.storm_left = 0
        self.storm_retry_after = 0.0
        self.refuse_after: dict[int, int] = {}  # role id -> accepted requests before 50013
        self.accepted: Counter[int] = Counter()  # role id -> accepted requests so far
        self.on_role_change = self._accepted

    async def __aenter__(self) -> FaultyDiscord:
        await self.start()
        return self

    def add_guild(self, guild_id: int, role_ids: list[int], member_ids: list[int]) -> Guild:
        """A guild with a fixed id: the bot's role on top, ``role_ids`` below it and these
        members (besides the bot and the owner); it reaches the bot when it identifies."""
        owner = self.users.setdefault(OWNER_ID, User(OWNER_ID, "owner"))
        guild = new_guild(f"guild {guild_id}", owner=owner, guild_id=guild_id)
        guild.bot_role.position = len(role_ids) + 1
        for position, role_id in enumerate(role_ids, start=1):
            guild.roles[role_id] = Role(role_id, f"badge role {position}", position)
        for member_id in member_ids:
            user = self.users.setdefault(member_id, User(member_id, f"member{member_id}"))
            guild.add_member(user)
        self.guilds[guild_id] = guild
        return guild

    def storm(self, requests: int, retry_after: float) -> None:  # type: ignore[override]
        """Answer 429 (``retry_after`` seconds) to the next ``requests`` role requests."""
        self.storm_left, self.storm_retry_after = requests, retry_after

    def break_hierarchy(self, role_id: int, *, after: int) -> None:
        """After ``after`` accepted requests of the role, refuse it: the bot's role was moved
        below it (403, code 50013)."""
        self.refuse_after[role_id] = after
        if self.accepted[role_id] >= after:
            self.refused_roles.add(role_id)

    def _accepted(self, method: str, guild: Guild, member: Member, role_id: int) -> None:
        self.accepted[role_id] += 1
        if role_id in self.refuse_after and self.accepted[role_id] >= self.refuse_after[role_id]:
            self.refused_roles.add(role_id)

    def role_calls(self, status: int | None = None) -> list[RoleCall]:
        """The member-role requests of the call log, in order (``status``: only those)."""
        found = []
        for c in self.calls:
            match = ROLE_PATH.search(c.path) if c.route.startswith("member role") else None
            if match and (status is None or c.status == status):
                g, u, r = (int(x) for x in match.groups())
                found.append(RoleCall(c.at, c.method, g, u, r, c.status))
        return found

    def _limit(self, request: web.Request, route: str, now: float) -> web.Response | None:
        if route.startswith("member role") and self.storm_left > 0:
            self.storm_left -= 1
            return self._storm_429(request, route)
        return super()._limit(request, route, now)

    def _storm_429(self, request: web.Request, route: str) -> web.Response:
        """A route 429 as Discord sends it: the bucket's headers, retry_after in the body,
        ``Via`` (without it discord.py takes it for a Cloudflare ban)."""
        wait = self.storm_retry_after
        bucket = self._bucket(request, route)
        headers = {
            "X-RateLimit-Limit": str(bucket.limit),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset-After": f"{wait:.3f}",
            "X-RateLimit-Bucket": bucket.hash,
            "X-RateLimit-Scope": "user",
            "Retry-After": str(math.ceil(wait)),
            "Via": "1.1 google",
        }
        body = {"message": "You are being rate limited.", "retry_after": wait, "global": False}
        return json_response(429, body, headers)
