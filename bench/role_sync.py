"""Role-sync throughput of the real bot against the paced Discord emulator (tests/emulator).

    .venv/bin/python -m bench.role_sync [--changes 300] [--limit 10] [--window 1.0]
        [--guilds 1] [--global-limit 50] [--revoke] [--naive] [--timeout SECONDS]

Builds the bot with create_bot() on a fresh SQLite file and connects it to the emulator on
127.0.0.1 over REST and the gateway, as tests/e2e/conftest.py ``connected()`` does
(``point_at``, ``login``, ``connect``, ``wait_until_ready``): each guild arrives as GUILD_CREATE
(members by chunk), so the worker's pre-checks run on discord.py's own cache. Then, per guild,
an admin links a badge to a role and bulk-awards it to N members through the BadgeService (N
queued role changes) while the worker is paused; the worker is released and timed until every
queue is empty. ``--revoke`` then revokes every award and times the removals the same way.

``--naive`` adds, in the same run, a baseline on a second, identical set of guilds (no badge
linked there): the same N role additions per guild made as a naive bot would, one
``await bot.http.add_role(...)`` after another, round-robin over the guilds (member 1 in every
guild, then member 2, ...), no pacer: only discord.py's own rate limiter. The global 429s of the
two are in the same table.

Rate: the emulator's buckets are fixed windows that open at their first request, one per guild
and action for the member-role routes (``member role add`` and ``member role remove``, each
``--limit`` per ``--window``) plus a global one. "achieved" is measured on the buckets that bind
(each guild's, or the global one when it is lower): the requests of every window but the last,
over the time from the first window's opening to the last one's (the last, partial window needs
no wait, so counting it would flatter the result); "wall" is all changes over the whole drain.
Under the table: this process's CPU time per applied change and as a share of the drain's wall
time. With limits far above the worker's ceiling the rate is bound by the CPU this one process
gets, so on a shared machine it moves with whatever else runs there.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import itertools
import logging
import os
import re
import resource
import statistics
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from aiohttp import web
from pydantic import SecretStr

from badges.model import RoleAction
from badges.permissions import Actor, Level
from bot.app import BadgeBot, create_bot
from bot.config import Settings
from db import migrate
from db.database import Database
from tests.emulator import DiscordEmulator, Guild
from tests.emulator.client import connected_client
from tests.emulator.limits import Bucket, RouteLimit
from tests.emulator.server import Call
from tests.emulator.state import User

OUT = Path(__file__).parent / "out"
ADMIN = Actor(901, "bench admin", Level.SUPER_ADMIN)
READY_TIMEOUT = 60.0
ROLE_PATH = re.compile(r"/guilds/(\d+)/members/(\d+)/roles/(\d+)$")
ROUTES = {"award": "member role add", "revoke": "member role remove", "naive": "member role add"}


class BenchDiscord(DiscordEmulator):
    """The emulator, noting which 429s were global ones (its call log does not say)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.global_refusals: set[tuple[float, str]] = set()  # (arrived at, path)

    async def __aenter__(self) -> BenchDiscord:
        await self.start()
        return self

    def _limit(self, request: web.Request, route: str, now: float) -> web.Response | None:
        refused = super()._limit(request, route, now)
        if refused is not None and refused.headers.get("X-RateLimit-Global") == "true":
            self.global_refusals.add((now, request.path))
        return refused


@dataclass(frozen=True)
class BenchGuild:
    """A benchmark guild: the emulator's guild, the badge's role and the badge (if linked)."""

    guild: Guild
    role_id: int
    badge_id: str = ""

    @property
    def guild_id(self) -> int:
        return self.guild.id


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
    throttled: int  # 429s sent by the emulator to role requests
    global_throttled: int  # of which global ones
    per_member: tuple[int, int]  # min and max 2xx requests per (guild, member)
    lost: int
    repeated: int
    overlaps: int  # role requests for a (member, role) while another one was in flight
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


def make_guilds(emu: DiscordEmulator, count: int, users: list[User], tag: str) -> list[Guild]:
    """``count`` guilds in the emulator, each with a badge role just above @everyone (below
    the bot's) and every user as a member; they reach the bot when it identifies."""
    guilds = []
    for i in range(count):
        guild = emu.create_guild(f"{tag} {i}")
        guild.add_role("badge role")
        for user in users:
            guild.add_member(user)
        guilds.append(guild)
    return guilds


def badge_role(guild: Guild) -> int:
    return next(r.id for r in guild.roles.values() if r.name == "badge role")


async def link_badge(bot: BadgeBot, guild: Guild, index: int) -> BenchGuild:
    """Check that discord.py sees the guild ready for role sync, and link a badge."""
    role_id = badge_role(guild)
    cached = bot.get_guild(guild.id)
    if cached is None or cached.get_role(role_id) is None:
        raise SystemExit(f"guild {guild.id} is not in discord.py's cache")
    found = await bot.service.roles.change_problem(None, guild.id, role_id, RoleAction.ADD)
    if found is not None:
        raise SystemExit(f"guild {guild.id} is not ready for role sync: {found.message}")
    badge = await bot.service.catalog.create(ADMIN, guild.id, name=f"Bench {index}")
    _, queued = await bot.service.roles.link(ADMIN, guild.id, badge.id, role_id)
    assert queued == 0, queued
    return BenchGuild(guild, role_id, badge.id)


@contextlib.asynccontextmanager
async def connected(emu: DiscordEmulator, database: Database, url: str) -> AsyncIterator[BadgeBot]:
    """The bot logged in and connected to ``emu`` (READY seen, guilds chunked); closed after."""
    # _env_file=None: a developer's .env must not change the benchmark
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, discord_token=SecretStr(emu.token), database_url=url, members_intent=True
    )
    bot = create_bot(settings, database=database)
    async with connected_client(bot, emu, ready_within=READY_TIMEOUT):
        yield bot


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


@contextlib.contextmanager
def timed() -> Iterator[dict[str, float]]:
    """Yields a dict filled on exit with start, wall, cpu_s and preempted."""
    out: dict[str, float] = {}
    before = resource.getrusage(resource.RUSAGE_SELF)
    out["start"] = time.monotonic()
    try:
        yield out
    finally:
        out["wall"] = time.monotonic() - out["start"]
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        out["cpu_s"], out["preempted"] = cpu, after.ru_nivcsw - before.ru_nivcsw


async def timed_drain(
    bot: BadgeBot,
    emu: BenchDiscord,
    phase: str,
    guilds: list[BenchGuild],
    members: list[int],
    args: argparse.Namespace,
) -> Result:
    """Release the paused worker on every guild and measure until the queues are empty."""
    first_call, first_overlap = len(emu.calls), len(emu.overlaps)
    with timed() as t:
        bot.role_sync.paused = False
        for g in guilds:
            bot.role_sync.kick(g.guild_id)
        try:
            wait = drain_budget(args)
            left = await asyncio.wait_for(drained(bot, [g.guild_id for g in guilds]), wait)
        except TimeoutError:
            left = -1  # reported as such; the measurement below shows how far it got
    bot.role_sync.paused = True
    overlaps = len(emu.overlaps) - first_overlap
    result = measure(emu, phase, guilds, members, emu.calls[first_call:], t, left, args)
    return replace(result, overlaps=overlaps)


async def naive_drain(
    bot: BadgeBot,
    emu: BenchDiscord,
    guilds: list[BenchGuild],
    members: list[int],
    args: argparse.Namespace,
) -> Result:
    """The same additions as a naive bot makes them: one awaited REST call after another,
    round-robin over the guilds, no pacer (discord.py's own limiter only)."""
    first_call, first_overlap = len(emu.calls), len(emu.overlaps)
    left = 0
    with timed() as t:
        for member in members:
            for g in guilds:
                try:
                    await bot.http.add_role(g.guild_id, member, g.role_id)
                except Exception as exc:  # a naive bot logs it and goes on
                    logging.getLogger("bench.naive").warning("add_role failed: %r", exc)
                    left += 1
    overlaps = len(emu.overlaps) - first_overlap
    result = measure(emu, "naive", guilds, members, emu.calls[first_call:], t, left, args)
    return replace(result, overlaps=overlaps)


def role_target(call: Call) -> tuple[int, int] | None:
    """(guild id, member id) of a member-role call."""
    found = ROLE_PATH.search(call.path) if call.route.startswith("member role") else None
    return (int(found[1]), int(found[2])) if found else None


def guild_of(call: Call) -> int | None:
    target = role_target(call)
    return target[0] if target else None


def measure(
    emu: BenchDiscord,
    phase: str,
    guilds: list[BenchGuild],
    members: list[int],
    calls: list[Call],
    t: dict[str, float],
    left: int,
    args: argparse.Namespace,
) -> Result:
    """Check the phase's calls and the emulator's end state, and compute the rates."""
    route = ROUTES[phase]
    role_calls = [c for c in calls if role_target(c) is not None]
    ok = [c for c in role_calls if 200 <= c.status < 300]
    per_member = Counter(role_target(c) for c in ok if c.route == route)
    held = {(g.guild_id, m): g.role_id in g.guild.members[m].roles for g in guilds for m in members}
    counts = [per_member.get(member, 0) for member in held]
    throttled = [c for c in role_calls if c.status == 429]
    global_429 = sum(1 for c in throttled if (c.at, c.path) in emu.global_refusals)
    achieved, gap, spacing = pacing(emu, guilds, role_calls, t["start"], route, args)
    return Result(
        phase=phase,
        guilds=len(guilds),
        changes=len(held),
        allowed=allowed_rate(len(guilds), args.limit, args.window, args.global_limit),
        achieved=achieved,
        wall_s=t["wall"],
        applied=len(ok),
        throttled=len(throttled),
        global_throttled=global_429,
        per_member=(min(counts, default=0), max(counts, default=0)),
        lost=sum(1 for n in counts if n == 0),
        repeated=sum(1 for n in counts if n > 1),
        overlaps=0,
        end_state_ok=not any(held.values()) if phase == "revoke" else all(held.values()),
        left_in_queue=left,
        idle_gap_ms=1000 * gap,
        spacing_ms=1000 * spacing,
        cpu_s=t["cpu_s"],
        preempted=int(t["preempted"]),
    )


def allowed_rate(guilds: int, limit: int, window: float, global_limit: int) -> float:
    """Requests per second Discord would allow: the guild buckets, capped by the global one."""
    rate = guilds * limit / window
    return min(rate, global_limit) if global_limit else rate


def pacing(
    emu: BenchDiscord,
    guilds: list[BenchGuild],
    calls: list[Call],
    start: float,
    route: str,
    args: argparse.Namespace,
) -> tuple[float, float, float]:
    """On the buckets that bind (each guild's, or the global one when it is lower): (steady
    rate, summed; mean idle time from a window's end to the next window's first request;
    mean time between two requests of one window), in seconds."""
    guild_rate = len(guilds) * args.limit / args.window
    action = route.removeprefix("member role ")
    binding: list[tuple[Bucket, list[float]]]
    if args.global_limit and args.global_limit < guild_rate:
        binding = [(emu.global_bucket, [c.at for c in calls])]
    else:
        binding = [
            (
                emu.role_bucket(g.guild_id, action),
                [c.at for c in calls if c.route == route and guild_of(c) == g.guild_id],
            )
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
    limit = RouteLimit(args.limit, args.window)
    try:
        emulator = BenchDiscord(
            limits={"member role add": limit, "member role remove": limit},
            global_limit=args.global_limit,
        )
        async with emulator as emu:
            users = [emu.create_user(f"member{j}") for j in range(args.changes)]
            ours = make_guilds(emu, args.guilds, users, "Bench")
            naive = make_guilds(emu, args.guilds, users, "Naive") if args.naive else []
            await migrate.upgrade(database.engine)
            async with connected(emu, database, f"sqlite+aiosqlite:///{path}") as bot:
                return await phases(bot, emu, args, ours, naive, [u.id for u in users])
    finally:
        await database.dispose()
        remove_database(path)


async def phases(
    bot: BadgeBot,
    emu: BenchDiscord,
    args: argparse.Namespace,
    ours: list[Guild],
    naive: list[Guild],
    members: list[int],
) -> list[Result]:
    """Award N members per guild and time the drain; with --revoke, the same for removals;
    with --naive, the naive bot's additions on their own guilds."""
    bot.role_sync.paused = True  # queue everything first, then release the worker
    guilds = [await link_badge(bot, g, i) for i, g in enumerate(ours)]
    for g in guilds:
        result = await bot.service.awards.bulk_award(ADMIN, g.guild_id, g.badge_id, members)
        assert len(result.awarded) == args.changes, result
    results = [await timed_drain(bot, emu, "award", guilds, members, args)]
    if args.revoke:
        for g in guilds:
            for m in members:
                await bot.service.awards.revoke(ADMIN, g.guild_id, g.badge_id, m)
        results.append(await timed_drain(bot, emu, "revoke", guilds, members, args))
    if naive:
        plain = [BenchGuild(g, badge_role(g)) for g in naive]
        await asyncio.sleep(max(1.0, args.window))  # let the last windows close first
        results.append(await naive_drain(bot, emu, plain, members, args))
    return results


def drain_budget(args: argparse.Namespace) -> float:
    """Seconds one drain may take: three times the ideal, plus 30 s (then it is reported)."""
    rate = allowed_rate(args.guilds, args.limit, args.window, args.global_limit)
    return float(3 * args.guilds * args.changes / rate + 30)


def table(results: list[Result], limit: int, window: float, global_limit: int) -> str:
    """The results as a markdown table, with the emulated limits above it."""
    lines = [
        f"Emulated: {limit} role requests per {window:g} s window, one bucket per guild and "
        f"action (add, remove); global limit {f'{global_limit}/s' if global_limit else 'off'}.",
        "",
        "| guilds | phase | changes | allowed/s | achieved/s | % of allowed | 429s | global 429s "
        "| 2xx calls per member | lost | repeated | overlapping | end state | wall s "
        "| wall rate/s | idle gap per window | spacing in window |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in results:
        end = "correct" if r.end_state_ok and r.left_in_queue == 0 else "WRONG"
        if r.left_in_queue:
            what = "errors" if r.phase == "naive" else "failed"
            end += f" ({'timed out' if r.left_in_queue < 0 else f'{r.left_in_queue} {what}'})"
        lines.append(
            f"| {r.guilds} | {r.phase} | {r.changes} | {r.allowed:.1f} | {r.achieved:.2f} "
            f"| {r.percent:.1f} % | {r.throttled} | {r.global_throttled} "
            f"| {r.per_member[0]}-{r.per_member[1]} | {r.lost} | {r.repeated} | {r.overlaps} "
            f"| {end} | {r.wall_s:.2f} | {r.applied / r.wall_s:.2f} | {r.idle_gap_ms:.1f} ms "
            f"| {r.spacing_ms:.1f} ms |"
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
    lines.append(f"Load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}.")
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
    parser.add_argument(
        "--naive", action="store_true", help="also time a naive bot's additions (baseline)"
    )
    parser.add_argument("--timeout", type=float, default=0.0, help="whole run; 0: computed")
    args = parser.parse_args()
    if not 1 <= args.changes <= 10_000 or args.limit < 1 or args.window <= 0 or args.guilds < 1:
        parser.error("need 1 <= --changes <= 10000, --limit >= 1, --window > 0, --guilds >= 1")
    if args.global_limit < 0:
        parser.error("--global-limit must be 0 (off) or more")
    drains = 1 + args.revoke + args.naive
    timeout = args.timeout or drains * drain_budget(args) + 90
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("discord.client").setLevel(logging.ERROR)  # "voice not supported"
    logging.getLogger("discord.http").setLevel(logging.ERROR)  # the naive bot's 429 warnings
    results = asyncio.run(asyncio.wait_for(run(args), timeout))
    print(table(results, args.limit, args.window, args.global_limit))
    bad = [r for r in results if r.lost or r.repeated or not r.end_state_ok or r.left_in_queue]
    if bad:
        raise SystemExit("lost, repeated or left changes: see the table")


if __name__ == "__main__":
    main()
