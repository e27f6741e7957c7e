"""Scale-out over the wire: two bot processes with two shards each, on one PostgreSQL, and
the REST API in a process of its own. Awards in every guild land as roles exactly once; a
process killed with -9 mid-run is replaced and everything converges, with no role change
ever applied by two processes at once; a change made through the API reaches both bot
processes' caches within a second."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from badges.permissions import Level
from badges.service import BadgeService
from db.database import Database
from tests.conftest import BACKEND, SUPER
from tests.e2e.conftest import until
from tests.e2e.processes import ROOT, BotProcess, spawn
from tests.emulator import DiscordEmulator, Guild, Member
from tests.emulator.limits import RouteLimit

pytestmark = pytest.mark.skipif(
    BACKEND != "postgresql", reason="several processes share PostgreSQL; SQLite is for one"
)

SHARDS = 4
PLAN = {"a": "0,1", "b": "2,3"}
GUILDS_PER_SHARD = 2
MEMBERS = 40
LEASE = 3.0


@dataclass
class Fleet:
    emu: DiscordEmulator
    guilds: list[Guild]
    members: dict[int, list[Member]]
    roles: dict[int, int]
    database_url: str
    tmp: Path
    runs: list[BotProcess] = field(default_factory=list)

    async def start(self, name: str, shards: str) -> BotProcess:
        env = {
            "BADGEBOT_MEMBERS_INTENT": "true",
            "BADGEBOT_SHARD_COUNT": str(SHARDS),
            "BADGEBOT_SHARD_IDS": shards,
            "BADGEBOT_ROLE_LEASE_SECONDS": str(LEASE),
        }
        log = self.tmp / f"bot-{name}-{len(self.runs)}.log"
        run = await spawn(self.emu, self.database_url, log, env)
        self.runs.append(run)
        return run

    def accepted_puts(self) -> Counter[str]:
        return Counter(c.path for c in self.emu.calls if c.method == "PUT" and c.status == 204)

    def everyone_has_the_role(self) -> bool:
        return all(self.roles[g.id] in m.roles for g in self.guilds for m in self.members[g.id])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def fleet(database_url: str, database: Database, tmp_path: Path) -> AsyncIterator[Fleet]:
    limits = {"member role add": RouteLimit(10, 1.0)}
    async with DiscordEmulator(limits=limits, global_limit=0) as emu:
        emu.latency("member role add", 0.02)
        guilds = [
            emu.create_guild(f"guild {n}", shard=(n % SHARDS, SHARDS))
            for n in range(SHARDS * GUILDS_PER_SHARD)
        ]
        roles = {g.id: g.add_role("Regular").id for g in guilds}
        members = {
            g.id: [g.add_member(emu.create_user(f"m{g.id % 1000}-{i}")) for i in range(MEMBERS)]
            for g in guilds
        }
        world = Fleet(emu, guilds, members, roles, database_url, tmp_path)
        try:
            yield world
        finally:
            for run in world.runs:
                await run.stop()
            for number, run in enumerate(world.runs):
                assert "Traceback" not in run.stderr, f"run {number}:\n{run.stderr}"


async def test_two_processes_kill_one_replace_it_every_role_lands_once(fleet: Fleet) -> None:
    emu = fleet.emu
    a = await fleet.start("a", PLAN["a"])
    b = await fleet.start("b", PLAN["b"])
    await until(lambda: len(emu.gateway.sessions) == SHARDS, within=40)
    shards = sorted(s.shard[0] for s in emu.gateway.sessions.values())
    assert shards == [0, 1, 2, 3]
    for guild in fleet.guilds:
        created = await emu.invoke(
            guild, guild.owner_id, "badge create", name="Regular", role=fleet.roles[guild.id]
        )
        assert "Regular" in (await created.wait(within=15)).text
    # every member gets it: 8 guilds x 40 members, each guild's role bucket at 10/s
    for guild in fleet.guilds:
        members = " ".join(f"<@{m.user.id}>" for m in fleet.members[guild.id])
        await emu.invoke(
            guild, guild.owner_id, "badge award-many", badge="Regular", members=members
        )
    await until(lambda: sum(fleet.accepted_puts().values()) >= 60, within=30)
    a.kill()
    await a.proc.wait()
    killed_at = time.monotonic()
    replacement = await fleet.start("a2", PLAN["a"])
    await until(fleet.everyone_has_the_role, within=60)
    converged = time.monotonic() - killed_at

    puts = fleet.accepted_puts()
    expected = {
        f"/api/v10/guilds/{g.id}/members/{m.user.id}/roles/{fleet.roles[g.id]}"
        for g in fleet.guilds
        for m in fleet.members[g.id]
    }
    assert set(puts) == expected
    repeated = [p for p, n in puts.items() if n > 1]
    # only what the killed process had in flight (one change per guild it was draining) may
    # be sent once more, and never at the same time as another request for it
    killed_guilds = {g.id for g in fleet.guilds if (g.id >> 22) % SHARDS in (0, 1)}
    detail = [
        (
            p.split("/")[4][-4:],
            int(p.split("/")[4]) in killed_guilds,
            [(round(c.at - killed_at, 2), c.status) for c in emu.calls if c.path == p],
        )
        for p in repeated
    ]
    assert len(repeated) <= len(killed_guilds), detail
    assert {int(p.split("/")[4]) for p in repeated} <= killed_guilds
    assert all(puts[p] == 2 for p in repeated)
    assert emu.overlaps == []
    assert replacement.proc.returncode is None
    assert b.proc.returncode is None
    print(f"\nconverged {converged:.1f} s after the kill; repeated PUTs: {len(repeated)}")


async def test_an_api_change_reaches_both_bot_processes_caches(
    fleet: Fleet, database: Database
) -> None:
    emu = fleet.emu
    for name, shards in PLAN.items():
        await fleet.start(name, shards)
    await until(lambda: len(emu.gateway.sessions) == SHARDS, within=40)
    one_of_a = fleet.guilds[0]  # shard 0
    one_of_b = fleet.guilds[2]  # shard 2
    service = BadgeService(database)
    port = free_port()
    env = os.environ | {"BADGEBOT_DATABASE_URL": fleet.database_url, "PYTHONUNBUFFERED": "1"}
    log = fleet.tmp / "api.log"
    with log.open("wb") as sink:
        api = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "api", "--port", str(port),
            cwd=ROOT, env=env, stdout=sink, stderr=sink,
        )  # fmt: skip
    fleet.runs.append(BotProcess(api, log))
    async with aiohttp.ClientSession() as http:

        async def api_up() -> bool:
            try:
                async with http.get(f"http://127.0.0.1:{port}/openapi.json") as r:
                    return r.status == 200
            except aiohttp.ClientError:
                return False

        await until(api_up, within=20)
        log_channels = {}
        for guild in (one_of_a, one_of_b):
            log_channels[guild.id] = guild.add_channel("badge-log").id
            await emu.gateway.dispatch(
                "CHANNEL_CREATE",
                guild.channels[log_channels[guild.id]].payload(),
                guild_id=guild.id,
            )
            chosen = await emu.invoke(
                guild, guild.owner_id, "badge config log-channel", channel=log_channels[guild.id]
            )
            await chosen.wait(within=10)
        for guild in (one_of_a, one_of_b):
            token = (await service.tokens.create(SUPER, guild.id, Level.ADMIN, "e2e")).secret
            # the bot processes have served this guild's autocomplete before (cache warm)
            before = await emu.autocomplete(guild, guild.owner_id, "badge award", "badge", badge="")
            assert [c["name"] for c in (await before.wait()).choices] == []
            async with http.post(
                f"http://127.0.0.1:{port}/api/v1/guilds/{guild.id}/badges",
                json={"name": "From the API"},
                headers={"Authorization": f"Bearer {token}"},
            ) as created:
                assert created.status == 201, await created.text()
            made = time.monotonic()

            async def shown(guild: Guild = guild) -> bool:
                hint = await emu.autocomplete(
                    guild, guild.owner_id, "badge award", "badge", badge=""
                )
                return [c["name"] for c in (await hint.wait()).choices] == ["From the API"]

            await until(shown, within=5)
            assert time.monotonic() - made < 1.5
        # each change is posted once, by the process that owns the guild
        await until(lambda: all(emu.channel_messages.get(c) for c in log_channels.values()))
        await asyncio.sleep(1.0)
        for channel_id in log_channels.values():
            titles = [e.get("title") for r in emu.channel_messages[channel_id] for e in r.embeds]
            assert titles.count("Badge created") == 1, titles
        for run in fleet.runs:
            assert "is gone" not in run.stderr
