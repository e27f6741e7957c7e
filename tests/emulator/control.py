"""Control routes under ``/_emulator/``, for driving an emulator that runs in its own process
(``python -m tests.emulator``): build a guild, invoke commands on a schedule, read what happened.

The schedule runs inside the emulator's process, so a load generator's timing is not distorted by
the round trip to whoever asked for it; every time reported is the emulator's own
``time.monotonic()``. Routes (JSON in, JSON out):

- ``GET /_emulator/status``: sessions (and whether a socket is attached), synced command names.
- ``POST /_emulator/guilds``: a guild with named roles, named members and ``plain`` members.
- ``POST /_emulator/invoke``: one command, waited for; its record with the reply's text.
- ``POST /_emulator/run``: many commands at given offsets, then wait (``drain`` s at most) and
  answer one row per interaction.
- ``POST /_emulator/reset``: forget sessions without a socket (a bot that exited), recorded
  interactions, calls and buckets; optionally take roles back from every member.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from typing import Any

from aiohttp import web

from tests.emulator import interactions as ix
from tests.emulator.limits import json_response
from tests.emulator.server import DiscordEmulator, Handler


def add_control_routes(emu: DiscordEmulator) -> None:
    """Register the ``/_emulator/`` routes on ``emu`` (before it starts)."""
    control = _Control(emu)
    routes: list[tuple[str, str, Handler]] = [
        ("GET", "/_emulator/status", control.status),
        ("POST", "/_emulator/guilds", control.create_guild),
        ("POST", "/_emulator/invoke", control.invoke),
        ("POST", "/_emulator/run", control.run),
        ("POST", "/_emulator/reset", control.reset),
    ]
    emu.add_routes(routes)


def summary(record: ix.Interaction) -> dict[str, Any]:
    """What a caller needs to know about one interaction (times relative to ``sent_at``)."""
    return {
        "id": str(record.id),
        "name": record.name,
        "ack": record.ack_latency,
        "completion": record.completion_latency,
        "ack_type": record.ack_type,
        "ephemeral": record.ephemeral,
        "refused": record.refused,
        "text": record.text,
    }


class _Control:
    def __init__(self, emu: DiscordEmulator) -> None:
        self.emu = emu

    async def status(self, request: web.Request) -> web.Response:
        sessions = [
            {"id": s.id, "connected": s.socket is not None}
            for s in self.emu.gateway.sessions.values()
        ]
        commands = [c["name"] for c in self.emu.synced(None)]
        return json_response(200, {"sessions": sessions, "commands": commands})

    async def create_guild(self, request: web.Request) -> web.Response:
        """Body: ``{"name", "roles": {name: permissions}, "members": {name: [role names]},
        "plain": count}``. Members are added without GUILD_MEMBER_ADD (create the guild before
        a bot connects)."""
        body = await request.json()
        guild = self.emu.create_guild(body.get("name", "Emulated"))
        roles = {
            name: guild.add_role(name, permissions=int(perms)).id
            for name, perms in (body.get("roles") or {}).items()
        }
        members = {
            name: guild.add_member(
                self.emu.create_user(name), {roles[r] for r in role_names}
            ).user.id
            for name, role_names in (body.get("members") or {}).items()
        }
        plain = [
            guild.add_member(self.emu.create_user(f"member{i}")).user.id
            for i in range(int(body.get("plain") or 0))
        ]
        answer = {"guild": str(guild.id), "roles": roles, "members": members, "plain": plain}
        return json_response(200, answer)

    async def invoke(self, request: web.Request) -> web.Response:
        """Body: ``{"guild", "user", "command", "options", "within"}``."""
        body = await request.json()
        guild = self.emu.guilds[int(body["guild"])]
        record = await self.emu.invoke(
            guild, int(body["user"]), body["command"], **(body.get("options") or {})
        )
        with contextlib.suppress(TimeoutError):
            await record.wait(float(body.get("within", 10.0)))
        return json_response(200, summary(record))

    async def run(self, request: web.Request) -> web.Response:
        """Body: ``{"guild", "items": [[offset s, user, command, options], ...], "drain"}``,
        items in order of offset. Each is invoked at start + offset (late if the emulator
        falls behind: ``late`` says by how much); then the emulator waits up to ``drain`` s
        after the last one for every reply. Rows: ``[offset, late, ack, completion, ack type,
        ephemeral, refused codes]``, latencies from INTERACTION_CREATE (None: never)."""
        body = await request.json()
        guild = self.emu.guilds[int(body["guild"])]
        items: list[list[Any]] = body["items"]
        loop = asyncio.get_running_loop()
        start = ix.now() + 0.2
        records: list[tuple[float, float, ix.Interaction]] = []
        for offset, user, command, options in items:
            delay = start + offset - ix.now()
            if delay > 0.0005:
                await asyncio.sleep(delay)
            record = await self.emu.invoke(guild, int(user), command, **options)
            records.append((offset, record.sent_at - (start + offset), record))
        last_sent = ix.now()
        waiting = [r.done.wait() for _, _, r in records if not r.done.is_set()]
        if waiting:
            tasks = [loop.create_task(w) for w in waiting]
            _, pending = await asyncio.wait(tasks, timeout=float(body.get("drain", 15.0)))
            for task in pending:
                task.cancel()
        rows = [
            [
                offset,
                max(0.0, late),
                r.ack_latency,
                r.completion_latency,
                r.ack_type,
                r.ephemeral,
                r.refused,
            ]
            for offset, late, r in records
        ]
        answer = {"rows": rows, "sent_seconds": last_sent - start, "waited": ix.now() - last_sent}
        return json_response(200, answer)

    async def reset(self, request: web.Request) -> web.Response:
        """Body: ``{"strip_roles": [role ids]}`` (optional)."""
        body = await request.json() if request.can_read_body else {}
        gateway = self.emu.gateway
        gone = [sid for sid, s in gateway.sessions.items() if s.socket is None]
        for sid in gone:
            del gateway.sessions[sid]
        self.emu.interactions.clear()
        self.emu._by_token.clear()
        self.emu.calls.clear()
        self.emu.buckets.clear()
        self.emu.global_bucket.opened = -math.inf
        strip = {int(r) for r in body.get("strip_roles") or ()}
        if strip:
            for guild in self.emu.guilds.values():
                for member in guild.members.values():
                    member.roles -= strip
        return json_response(200, {"forgotten_sessions": len(gone)})
