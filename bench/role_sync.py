"""Role-sync throughput of the real bot against a paced fake Discord (bench/discord_emulator).

    .venv/bin/python -m bench.role_sync [--changes 300] [--limit 10] [--window 1.0]
        [--guilds 1] [--global-limit 50] [--revoke] [--timeout SECONDS]

Builds the bot with create_bot() on a fresh SQLite file, logs it in against the emulator on
127.0.0.1 (REST only, no gateway) and puts each guild in discord.py's cache from a
GUILD_CREATE-shaped payload, so the worker's pre-checks run on real discord.py objects. Then,
per guild, an admin links a badge to a role and bulk-awards it to N members through the
BadgeService (N queued role changes); the worker is released and timed until every queue is
empty. ``--revoke`` then revokes every award and times the removals the same way.

Rate: the emulator's buckets are fixed windows that open at their first request, one per guild
for the role routes plus a global one. "achieved" is measured on the buckets that bind (each
guild's, or the global one when it is lower): the requests of every window but the last, over
the time from the first window's opening to the last one's (the last, partial window needs no
wait, so counting it would flatter the result); "wall" is all changes over the whole drain.
Under the table: this process's CPU time per applied change and as a share of the drain's wall
time. With limits far above the worker's ceiling the rate is bound by the CPU this one process
gets, so on a shared machine it moves with whatever else runs there.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import logging
import os
import resource
import statistics
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from badges.model import RoleAction
from badges.permissions import Actor, Level
from bench.discord_emulator import (
    BOT_ID,
    Call,
    DiscordEmulator,
    guild_create_payload,
    use_emulator,
)
from bot.app import BadgeBot, create_bot
from bot.config import Settings
from db import migrate
from db.database import Database

OUT = Path(__file__).parent / "out"
ADMIN = Actor(901, "bench admin", Level.SUPER_ADMIN)
GUILD_BASE = 1_100_000_000_000_000_000  # guild i: GUILD_BASE + 10 * i; its roles: +1, +2
MEMBER_BASE = 1_200_000_000_000_000_000  # member j: MEMBER_BASE + j (the same in every guild)
LOGIN_TIMEOUT = 30.0


@dataclass(frozen=True)
class BenchGuild:
    """A benchmark guild: its id, the bot's role, the badge's role and the badge."""

    guild_id: int
    bot_role_id: int
    role_id: int
    badge_id: str


@dataclass(frozen=True)
class Result:
    """One timed drain: every guild's queue, from release to empty."""

    phase: str
    guilds: int
    changes: int
    allowed: float  # requests per second, all guilds
    achieved: float  # steady-state requests per second, all guilds
    wall_s: float
    applied: int  # 2xx role requests seen by the emulator
    throttled: int  # 429s sent by the emulator
    per_member: tuple[int, int]  # min and max 2xx requests per (guild, member)
    lost: int
    repeated: int
    end_state_ok: bool
    left_in_queue: int  # pending + failed rows after the drain
    idle_gap_ms: float  # mean time from a window's end to the next window's first request
    spacing_ms: float  # mean time between requests inside a window
    cpu_s: float = 0.0  # CPU time of this process (all threads, emulator included) in the drain
    preempted: int = 0  # involuntary context switches of this process in the drain

    @property
    def percent(self) -> float:
        return 100.0 * self.achieved / self.allowed


# -- setup ----------------------------------------------------------------------------------


def fresh_database() -> tuple[Database, Path]:
    OUT.mkdir(exist_ok=True)
    path = OUT / f"role_sync_{os.getpid()}.db"
    remove_database(path)
    return Database(f"sqlite+aiosqlite:///{path}"), path


def remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def add_guild(
    bot: BadgeBot, emu: DiscordEmulator, index: int, members: list[int]
) -> BenchGuild:
    """Create guild ``index`` in the emulator and in discord.py's cache, and link a badge."""
    guild_id = GUILD_BASE + 10 * index
    bot_role_id, role_id = guild_id + 1, guild_id + 2
    emu.add_guild(guild_id, {guild_id, bot_role_id, role_id}, [BOT_ID, *members])
    payload = guild_create_payload(guild_id, role_id, bot_role_id=bot_role_id)
    bot._connection._add_guild_from_data(payload)  # type: ignore[arg-type]
    guild = bot.get_guild(guild_id)
    role = guild.get_role(role_id) if guild else None
    found = await bot.service.roles.change_problem(None, guild_id, role_id, RoleAction.ADD)
    problem = found.message if found else None if guild and role else "not in discord.py's cache"
    if problem is not None:
        raise SystemExit(f"guild {guild_id} is not ready for role sync: {problem}")
    badge = await bot.service.catalog.create(ADMIN, guild_id, name=f"Bench {index}")
    _, queued = await bot.service.roles.link(ADMIN, guild_id, badge.id, role_id)
    assert queued == 0, queued
    return BenchGuild(guild_id, bot_role_id, role_id, badge.id)


# -- measuring ------------------------------------------------------------------------------


async def drained(bot: BadgeBot, guild_ids: list[int]) -> int:
    """Wait until no guild has a pending change; returns the rows left (failed ones)."""
    while True:
        await bot.role_sync.wait_idle()
        statuses = [await bot.service.queue.status(g, failures=0) for g in guild_ids]
        pending = sum(p for p, _, _ in statuses)
        failed = sum(f for _, f, _ in statuses)
        if pending == 0:
            return failed
        await asyncio.sleep(0.1)  # a change waits for its retry time; the sweep resumes it


async def timed_drain(
    bot: BadgeBot, emu: DiscordEmulator, phase: str, guilds: list[BenchGuild], max_wait: float
) -> Result:
    """Release the paused worker on every guild and measure until the queues are empty."""
    first_call = len(emu.calls)
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.monotonic()
    bot.role_sync.paused = False
    for g in guilds:
        bot.role_sync.kick(g.guild_id)
    try:
        left = await asyncio.wait_for(drained(bot, [g.guild_id for g in guilds]), max_wait)
    except TimeoutError:
        left = -1  # reported as such; the measurement below shows how far it got
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    bot.role_sync.paused = True
    result = measure(emu, phase, guilds, emu.calls[first_call:], start, wall, left)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return replace(result, cpu_s=cpu, preempted=after.ru_nivcsw - before.ru_nivcsw)


def measure(
    emu: DiscordEmulator,
    phase: str,
    guilds: list[BenchGuild],
    calls: list[Call],
    start: float,
    wall: float,
    left: int,
) -> Result:
    """Check the phase's calls and the emulator's end state, and compute the rates."""
    method = "PUT" if phase == "award" else "DELETE"
    ok = [c for c in calls if 200 <= c.status < 300]
    per_member = Counter((c.guild_id, c.user_id) for c in ok if c.method == method)
    held = {
        (g.guild_id, m): g.role_id in roles
        for g in guilds
        for m, roles in emu.guilds[g.guild_id].members.items()
        if m != BOT_ID
    }
    counts = [per_member.get(member, 0) for member in held]
    achieved, gap, spacing = pacing(emu, guilds, calls, start)
    return Result(
        phase=phase,
        guilds=len(guilds),
        changes=len(held),
        allowed=allowed_rate(len(guilds), emu.limit, emu.window, emu.global_limit),
        achieved=achieved,
        wall_s=wall,
        applied=len(ok),
        throttled=sum(1 for c in calls if c.status == 429),
        per_member=(min(counts, default=0), max(counts, default=0)),
        lost=sum(1 for n in counts if n == 0),
        repeated=sum(1 for n in counts if n > 1),
        end_state_ok=all(held.values()) if phase == "award" else not any(held.values()),
        left_in_queue=left,
        idle_gap_ms=1000 * gap,
        spacing_ms=1000 * spacing,
    )


def allowed_rate(guilds: int, limit: int, window: float, global_limit: int) -> float:
    """Requests per second Discord would allow: the guild buckets, capped by the global one."""
    rate = guilds * limit / window
    return min(rate, global_limit) if global_limit else rate


def pacing(
    emu: DiscordEmulator, guilds: list[BenchGuild], calls: list[Call], start: float
) -> tuple[float, float, float]:
    """On the buckets that bind (each guild's, or the global one when it is lower): (steady
    rate, summed; mean idle time from a window's end to the next window's first request;
    mean time between two requests of one window), in seconds."""
    guild_rate = len(guilds) * emu.limit / emu.window
    if emu.global_limit and emu.global_limit < guild_rate:
        binding = [(emu.global_bucket, [c.at for c in calls])]
    else:
        binding = [
            (emu.role_bucket(g.guild_id), [c.at for c in calls if c.guild_id == g.guild_id])
            for g in guilds
        ]
    achieved, gaps, spacings = 0.0, [], []
    for bucket, times in binding:
        windows = [(t, n) for t, n in bucket.windows if t >= start]
        opens = [t for t, _ in windows]
        if len(windows) >= 2:
            achieved += sum(n for _, n in windows[:-1]) / (opens[-1] - opens[0])
        gaps += [b - (a + bucket.window) for a, b in itertools.pairwise(opens)]
        spacings += [
            b - a
            for a, b in itertools.pairwise(sorted(times))
            if bisect.bisect_right(opens, a) == bisect.bisect_right(opens, b)  # same window
        ]
    mean = statistics.fmean
    return achieved, mean(gaps) if gaps else 0.0, mean(spacings) if spacings else 0.0


# -- the run --------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> list[Result]:
    """Set up the emulator, the database and the bot, run the phases, tear it all down."""
    database, path = fresh_database()
    try:
        emulator = DiscordEmulator(
            limit=args.limit, window=args.window, global_limit=args.global_limit
        )
        async with emulator as emu:
            with use_emulator(emu.base_url):
                # _env_file=None: a developer's .env must not change the benchmark
                url = f"sqlite+aiosqlite:///{path}"
                settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
                bot = create_bot(settings, database=database)
                try:
                    await migrate.upgrade(database.engine)
                    await asyncio.wait_for(bot.login(emu.token), LOGIN_TIMEOUT)
                    return await phases(bot, emu, args)
                finally:
                    await bot.close()
    finally:
        await database.dispose()
        remove_database(path)


async def phases(bot: BadgeBot, emu: DiscordEmulator, args: argparse.Namespace) -> list[Result]:
    """Award N members per guild and time the drain; with --revoke, the same for removals."""
    members = [MEMBER_BASE + j for j in range(args.changes)]
    max_wait = drain_budget(args)
    guilds = [await add_guild(bot, emu, i, members) for i in range(args.guilds)]
    bot.role_sync.paused = True  # queue everything first, then release the worker
    for g in guilds:
        result = await bot.service.awards.bulk_award(ADMIN, g.guild_id, g.badge_id, members)
        assert len(result.awarded) == args.changes, result
    results = [await timed_drain(bot, emu, "award", guilds, max_wait)]
    if args.revoke:
        for g in guilds:
            for m in members:
                await bot.service.awards.revoke(ADMIN, g.guild_id, g.badge_id, m)
        results.append(await timed_drain(bot, emu, "revoke", guilds, max_wait))
    return results


def drain_budget(args: argparse.Namespace) -> float:
    """Seconds one drain may take: three times the ideal, plus 30 s (then it is reported)."""
    rate = allowed_rate(args.guilds, args.limit, args.window, args.global_limit)
    return float(3 * args.guilds * args.changes / rate + 30)


def table(results: list[Result], limit: int, window: float, global_limit: int) -> str:
    """The results as a markdown table, with the emulated limits above it."""
    lines = [
        f"Emulated: {limit} role requests per {window:g} s window, one bucket per guild; "
        f"global limit {f'{global_limit}/s' if global_limit else 'off'}.",
        "",
        "| guilds | phase | changes | allowed/s | achieved/s | % of allowed | 429s "
        "| 2xx calls per member | lost | repeated | end state | wall s | wall rate/s "
        "| idle gap per window | spacing in window |",
        "|---:|---|---:|---:|---:|---:|---:|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in results:
        end = "correct" if r.end_state_ok and r.left_in_queue == 0 else "WRONG"
        if r.left_in_queue:
            end += f" ({'timed out' if r.left_in_queue < 0 else f'{r.left_in_queue} failed'})"
        lines.append(
            f"| {r.guilds} | {r.phase} | {r.changes} | {r.allowed:.1f} | {r.achieved:.2f} "
            f"| {r.percent:.1f} % | {r.throttled} | {r.per_member[0]}-{r.per_member[1]} "
            f"| {r.lost} | {r.repeated} | {end} | {r.wall_s:.2f} "
            f"| {r.applied / r.wall_s:.2f} | {r.idle_gap_ms:.1f} ms | {r.spacing_ms:.1f} ms |"
        )
    # the ceiling (limits far above it) is set by the CPU this one process gets: on a shared
    # machine other processes take some of it, which these lines show
    lines.append("")
    for r in results:
        lines.append(
            f"CPU of this process (bot and emulator, all threads) in the {r.phase} drain: "
            f"{1000 * r.cpu_s / max(r.applied, 1):.2f} ms per applied change, "
            f"{100 * r.cpu_s / r.wall_s:.0f} % of wall; "
            f"{r.preempted / max(r.applied, 1):.2f} involuntary context switches per change."
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=300, help="members awarded per guild")
    parser.add_argument("--limit", type=int, default=10, help="role requests per window")
    parser.add_argument("--window", type=float, default=1.0, help="window length, seconds")
    parser.add_argument("--guilds", type=int, default=1)
    parser.add_argument(
        "--global-limit", type=int, default=50, help="requests per second, all routes; 0: off"
    )
    parser.add_argument("--revoke", action="store_true", help="also time revoking them all")
    parser.add_argument("--timeout", type=float, default=0.0, help="whole run; 0: computed")
    args = parser.parse_args()
    if not 1 <= args.changes <= 10_000 or args.limit < 1 or args.window <= 0 or args.guilds < 1:
        parser.error("need 1 <= --changes <= 10000, --limit >= 1, --window > 0, --guilds >= 1")
    if args.global_limit < 0:
        parser.error("--global-limit must be 0 (off) or more")
    timeout = args.timeout or (2 if args.revoke else 1) * drain_budget(args) + 60
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("discord.client").setLevel(logging.ERROR)  # "voice not supported"
    results = asyncio.run(asyncio.wait_for(run(args), timeout))
    print(table(results, args.limit, args.window, args.global_limit))
    bad = [r for r in results if r.lost or r.repeated or not r.end_state_ok or r.left_in_queue]
    if bad:
        raise SystemExit("role sync lost, repeated or left changes: see the table")


if __name__ == "__main__":
    main()
