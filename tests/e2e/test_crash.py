"""kill -9 in the middle of a 2,000-member bulk award, then a restart: everything converges.

The bot runs as shipped in its own process (tests.e2e.bot_process) against the emulator in
this one, on the test database. A change Discord accepted but the bot had not yet marked
applied when it died is sent once more after the restart (adding a role is idempotent);
every other member gets exactly one accepted PUT, and nothing is ever removed. (The
reconciliation at start, racing the drain, once sent a member's role a second time: see
tests/db/test_reconcile_race.py.)
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import text

from db.database import Database
from tests.e2e.processes import BotProcess, spawn
from tests.emulator import DiscordEmulator, Guild, Member
from tests.emulator.limits import RouteLimit
from tests.emulator.state import OWNER_ID

MEMBERS = 2_000
ROLE_RATE = 200  # the emulator's member-role bucket per second (the bot paces itself lower)
START_TIMEOUT = 20.0
DRAIN_TIMEOUT = 80.0


@dataclass
class Crash:
    emu: DiscordEmulator
    guild: Guild
    everyone: list[Member]
    members_role: int
    badge_role: int
    database_url: str
    database: Database
    tmp: Path
    runs: list[BotProcess] = field(default_factory=list)

    async def start_bot(self, *extra: str) -> BotProcess:
        """Start the bot's process and wait until it identified on the gateway."""
        identified = self.emu.gateway.identifies
        env = {"BADGEBOT_MEMBERS_INTENT": "true", "BADGEBOT_LOG_LEVEL": "INFO"}
        log = self.tmp / f"bot-{len(self.runs) + 1}.log"
        run = await spawn(self.emu, self.database_url, log, env, *extra)
        self.runs.append(run)
        await self.until(
            lambda: self.emu.gateway.identifies > identified, START_TIMEOUT, run, "identify"
        )
        return run

    async def until(
        self,
        condition: Callable[[], bool | Awaitable[bool]],
        within: float,
        run: BotProcess | None = None,
        what: str = "",
    ) -> None:
        """Wait (bounded) for ``condition``; fail at once if the bot's process died."""
        deadline = time.monotonic() + within
        while True:
            result = condition()
            if result if isinstance(result, bool) else await result:
                return
            if run is not None and run.proc.returncode is not None:
                pytest.fail(f"the bot exited ({run.proc.returncode}) before {what}:\n{run.stderr}")
            if time.monotonic() > deadline:
                tail = run.stderr[-3000:] if run is not None else ""
                pytest.fail(f"timed out after {within} s waiting for {what}\n{tail}")
            await asyncio.sleep(0.02)

    async def count(self, table: str) -> int:
        async with self.database.engine.connect() as conn:
            return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())

    async def queue_is_empty(self) -> bool:
        return await self.count("role_changes") == 0

    async def queued_users(self) -> set[int]:
        async with self.database.engine.connect() as conn:
            rows = await conn.execute(text("SELECT user_id FROM role_changes"))
            return {int(r[0]) for r in rows}

    def role_path(self, member: Member) -> str:
        return f"/api/v10/guilds/{self.guild.id}/members/{member.user.id}/roles/{self.badge_role}"

    def accepted_puts(self) -> Counter[int]:
        """Accepted role PUTs (204) per member id."""
        prefix = f"/api/v10/guilds/{self.guild.id}/members/"
        suffix = f"/roles/{self.badge_role}"
        counts: Counter[int] = Counter()
        for c in self.emu.calls:
            if c.method == "PUT" and c.status == 204 and c.path.endswith(suffix):
                counts[int(c.path.removeprefix(prefix).split("/", 1)[0])] += 1
        return counts

    def explain(self, users: set[int], kills: list[float]) -> str:
        """When each of ``users`` got its PUTs, relative to the kills."""
        lines = [f"kills at {[round(k, 3) for k in kills]}"]
        by_id = {m.user.id: m for m in self.everyone}
        for uid in sorted(users):
            path = self.role_path(by_id[uid])
            seen = [(round(c.at, 3), c.status) for c in self.emu.calls if c.path == path]
            lines.append(f"{uid}: {seen}")
        return "\n".join(lines)

    def role_deletes(self) -> int:
        return sum(1 for c in self.emu.calls if c.method == "DELETE" and "/members/" in c.path)

    async def create_badge(self, run: BotProcess) -> None:
        created = await self.emu.invoke(
            self.guild, OWNER_ID, "badge create", name="Veteran", role=self.badge_role
        )
        async with asyncio.timeout(START_TIMEOUT):
            await created.wait()
        assert "Veteran" in created.text, created.text + run.stderr[-3000:]

    async def award_role(self) -> None:
        """/badge award-role to everyone with "Members" (the reply is not awaited)."""
        await self.emu.invoke(
            self.guild, OWNER_ID, "badge award-role", badge="Veteran", role=self.members_role
        )

    def assert_no_traceback(self) -> None:
        for number, run in enumerate(self.runs, 1):
            assert "Traceback" not in run.stderr, f"run {number}:\n{run.stderr}"


@pytest.fixture
async def crash(database_url: str, database: Database, tmp_path: Path) -> AsyncIterator[Crash]:
    limits = {"member role add": RouteLimit(ROLE_RATE, 1.0)}
    async with DiscordEmulator(limits=limits, global_limit=0) as emu:
        guild = emu.create_guild("Crash Guild")
        members_role = guild.add_role("Members")
        badge_role = guild.add_role("Veteran")
        everyone = [
            guild.add_member(emu.create_user(f"member{i:04}"), {members_role.id})
            for i in range(MEMBERS)
        ]
        world = Crash(
            emu, guild, everyone, members_role.id, badge_role.id, database_url, database, tmp_path
        )
        try:
            yield world
        finally:
            for run in world.runs:
                await run.stop()


async def test_kill_9_during_the_drain_and_between_accept_and_applied_converges(
    crash: Crash,
) -> None:
    started = time.monotonic()
    first = await crash.start_bot()
    await crash.create_badge(first)
    await crash.award_role()
    await crash.until(lambda: len(crash.accepted_puts()) >= 800, DRAIN_TIMEOUT, first, "800 PUTs")
    first.kill()
    kills = [time.monotonic()]
    await first.proc.wait()
    assert await crash.count("awards") == MEMBERS  # the award committed before any PUT
    # in flight at the kill: Discord accepted, the bot had not marked it applied
    in_flight = set(crash.accepted_puts()) & await crash.queued_users()

    # the second run dies inside Discord's answer to its 400th accepted PUT
    victim: list[int] = []
    seen = Counter[str]()

    def kill_at_400th(method: str, guild: Guild, member: Member, role_id: int) -> None:
        seen[method] += 1
        if method == "PUT" and seen[method] == 400:
            victim.append(member.user.id)
            second.kill()
            kills.append(time.monotonic())

    crash.emu.on_role_change = kill_at_400th
    second = await crash.start_bot()
    await crash.until(lambda: bool(victim), DRAIN_TIMEOUT, second, "the 400th PUT of run 2")
    await second.proc.wait()
    crash.emu.on_role_change = None
    assert victim[0] in await crash.queued_users(), "killed before it was marked applied"
    in_flight.add(victim[0])

    third = await crash.start_bot()
    everyone = crash.everyone
    await crash.until(
        lambda: all(crash.badge_role in m.roles for m in everyone),
        DRAIN_TIMEOUT,
        third,
        "every member to hold the role",
    )
    await crash.until(crash.queue_is_empty, 10, third, "the queue to empty")
    elapsed = time.monotonic() - started

    assert await crash.count("awards") == MEMBERS
    puts = crash.accepted_puts()
    assert set(puts) == {m.user.id for m in everyone}
    repeated = {uid for uid, n in puts.items() if n > 1}
    assert repeated == in_flight, crash.explain(repeated ^ in_flight, kills)
    assert all(puts[uid] == 2 for uid in repeated)
    assert crash.role_deletes() == 0
    crash.assert_no_traceback()
    refused = sum(1 for c in crash.emu.calls if c.status == 429)
    print(f"\nconverged in {elapsed:.1f} s; repeated PUTs: {len(repeated)}; 429s: {refused}")


async def test_kill_9_inside_the_bulk_award_transaction_is_all_or_nothing(crash: Crash) -> None:
    first = await crash.start_bot("--pause-after-sql", "INSERT INTO awards", "--pause-seconds=30")
    await crash.create_badge(first)
    await crash.award_role()
    await crash.until(lambda: "PAUSED" in first.stderr, START_TIMEOUT, first, "the award INSERT")
    first.kill()
    await first.proc.wait()

    second = await crash.start_bot()
    awards = await crash.count("awards")
    assert awards in (0, MEMBERS), f"a partial bulk award: {awards}"
    assert awards == 0  # the kill came before the commit
    assert await crash.count("role_changes") == 0  # the queue matches the awards
    # the bot serves the guild again, and the award can simply be given once more
    await crash.award_role()
    await crash.until(lambda: len(crash.accepted_puts()) >= 100, DRAIN_TIMEOUT, second, "PUTs")
    assert await crash.count("awards") == MEMBERS
    queued = await crash.queued_users()
    applied = set(crash.accepted_puts())
    assert queued | applied == {m.user.id for m in crash.everyone}
    assert crash.role_deletes() == 0
    crash.assert_no_traceback()
