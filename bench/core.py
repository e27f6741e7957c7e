"""Storage benchmark of the badge core: seed one big guild, then time BadgeService calls.

    .venv/bin/python -m bench.core --backend sqlite|postgresql \
        [--members 100000 --badges 1000 --awards 1000000]

Seeding runs in a child process with bulk Core inserts (asyncpg COPY on PostgreSQL), so the
measuring process's peak RSS reflects only the service calls, not the seed data.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import os
import random
import resource
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from badges.permissions import Actor, Level
from badges.service import BadgeService
from badges.validation import name_key
from db import migrate
from db.database import Database
from db.tables import AwardRow, BadgeRow

OUT = Path(__file__).parent / "out"
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/bench")
GUILD = 1_000_000_000_000_001
MEMBER_BASE = 100_000_000_000_000_000  # member i has Discord id MEMBER_BASE + i
MOD = Actor(902, "mod", Level.MODERATOR)
ZIPF_S = 0.8  # badge popularity ~ 1 / rank**s: the top badge of 1,000 gets ~6 % of awards
LINKED = 3  # the least held badges are linked to a Discord role (awards queue role changes)
ROLE_BASE = 900_000_000_000_000_000
BATCH = 50_000
AWARD_COLS = [c.name for c in AwardRow.__table__.columns]
NOW = datetime(2026, 11, 1, tzinfo=UTC)
SPAN = timedelta(days=730)


@dataclass(frozen=True)
class Config:
    backend: str
    members: int
    badges: int
    awards: int
    seed: int

    @property
    def url(self) -> str:
        return f"sqlite+aiosqlite:///{OUT / 'bench.db'}" if self.backend == "sqlite" else PG_URL


# -- seeding --------------------------------------------------------------------------------


def holder_counts(cfg: Config) -> list[int]:
    """Holders per badge: Zipf-skewed, at most one award per member, summing to ``awards``."""
    if cfg.awards > cfg.badges * cfg.members:
        raise SystemExit("more awards than badge/member pairs")
    weights = [1 / (rank + 1) ** ZIPF_S for rank in range(cfg.badges)]
    total = sum(weights)
    counts = [min(cfg.members, int(cfg.awards * w / total)) for w in weights]
    missing = cfg.awards - sum(counts)
    while missing:  # hand out the rounding remainder, least popular badges first
        for b in reversed(range(cfg.badges)):
            if missing and counts[b] < cfg.members:
                counts[b] += 1
                missing -= 1
    return counts


def award_batches(cfg: Config, badge_ids: Sequence[str]) -> Iterator[list[tuple[Any, ...]]]:
    """Award rows in time order (as a live table fills), badges interleaved at random."""
    rng = random.Random(cfg.seed)
    pairs = [
        b * cfg.members + m
        for b, n in enumerate(holder_counts(cfg))
        for m in rng.sample(range(cfg.members), n)
    ]
    rng.shuffle(pairs)
    step = SPAN / len(pairs)
    start = NOW - SPAN
    for lo in range(0, len(pairs), BATCH):
        yield [
            (
                str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                GUILD,
                badge_ids[p // cfg.members],
                MEMBER_BASE + p % cfg.members,
                MOD.user_id,
                MOD.display_name,
                None,
                start + step * i,
            )
            for i, p in enumerate(pairs[lo : lo + BATCH], lo)
        ]


def badge_rows(cfg: Config) -> list[dict[str, Any]]:
    counts = holder_counts(cfg)
    rows = []
    for i in range(cfg.badges):
        name = f"Badge {i:04d}"
        rows.append(
            {
                "id": str(uuid.UUID(int=random.Random(i).getrandbits(128), version=4)),
                "guild_id": GUILD,
                "name": name,
                "name_key": name_key(name),
                "slug": f"badge-{i:04d}",
                "description": f"Awarded for achievement number {i}.",
                "icon": None,
                "color": "#5865f2",
                "is_active": True,
                "role_id": ROLE_BASE + i if i >= cfg.badges - LINKED else None,
                "awarded_count": counts[i],
                "created_at": NOW - SPAN,
                "updated_at": NOW - SPAN,
                "created_by": MOD.user_id,
            }
        )
    return rows


async def _insert_awards(conn: AsyncConnection, rows: list[tuple[Any, ...]]) -> None:
    if conn.dialect.name == "postgresql":
        asyncpg_conn = (await conn.get_raw_connection()).driver_connection
        assert asyncpg_conn is not None
        await asyncpg_conn.copy_records_to_table("awards", records=rows, columns=AWARD_COLS)
    else:
        await conn.execute(insert(AwardRow), [dict(zip(AWARD_COLS, r, strict=True)) for r in rows])


async def seed(cfg: Config) -> None:
    """Recreate the database, migrate it, bulk-load badges and awards, then ANALYZE."""
    database = Database(cfg.url)
    engine = database.engine
    try:
        if cfg.backend == "postgresql":
            async with engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
        await migrate.upgrade(engine)
        badges = badge_rows(cfg)
        async with engine.connect() as conn:
            if cfg.backend == "sqlite":
                await conn.exec_driver_sql("PRAGMA cache_size=-524288")  # 512 MiB, seed only
                await conn.commit()
            async with conn.begin():
                await conn.execute(insert(BadgeRow), badges)
            for batch in award_batches(cfg, [b["id"] for b in badges]):
                async with conn.begin():
                    await _insert_awards(conn, batch)
        if cfg.backend == "postgresql":
            async with engine.connect() as conn:
                auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await auto.exec_driver_sql("VACUUM ANALYZE")  # what autovacuum soon does
        else:
            async with engine.begin() as conn:
                await conn.exec_driver_sql("ANALYZE")
            async with engine.begin() as conn:
                await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        await database.dispose()


def seed_process(cfg: Config) -> tuple[float, int]:
    """Child-process entry point: seconds spent seeding and the child's peak RSS in KiB."""
    started = time.perf_counter()
    if cfg.backend == "sqlite":
        OUT.mkdir(exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{OUT / 'bench.db'}{suffix}").unlink(missing_ok=True)
    asyncio.run(seed(cfg))
    return time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# -- measuring ------------------------------------------------------------------------------


@dataclass
class Result:
    operation: str
    samples: list[float]  # milliseconds
    target_ms: float | None

    def pct(self, q: float) -> float:
        ordered = sorted(self.samples)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

    def row(self) -> str:
        p50, p99 = self.pct(0.50), self.pct(0.99)
        target = "—" if self.target_ms is None else f"< {self.target_ms:g} ms"
        ok = "—" if self.target_ms is None else ("yes" if p99 < self.target_ms else "**no**")
        n = len(self.samples)
        return f"| {self.operation} | {n} | {p50:.2f} | {p99:.2f} | {target} | {ok} |"


async def timed(n: int, call: Callable[[int], Awaitable[object]]) -> list[float]:
    """Milliseconds of ``n`` sequential calls; ``call`` gets the call's index."""
    out = []
    for i in range(n):
        started = time.perf_counter()
        await call(i)
        out.append((time.perf_counter() - started) * 1000)
    return out


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Fixtures:
    """What the timed calls pick from, read before timing starts."""

    badges: list[tuple[str, int]]  # (id, awarded_count), most held first
    linked: list[str]  # badges linked to a role
    to_revoke: list[tuple[str, int]]  # held (badge, member) pairs
    to_award: list[tuple[str, int]]  # free (badge, member) pairs


async def _fixtures(database: Database, cfg: Config, rng: random.Random) -> Fixtures:
    """Badges by popularity, 500 held pairs to revoke and 500 free pairs to award."""
    async with database.engine.connect() as conn:
        ranked = (
            await conn.execute(
                select(BadgeRow.id, BadgeRow.awarded_count, BadgeRow.role_id).order_by(
                    BadgeRow.awarded_count.desc()
                )
            )
        ).all()
        badges = [(r.id, r.awarded_count) for r in ranked]
        linked = [r.id for r in ranked if r.role_id is not None]
        held = await conn.execute(
            select(AwardRow.badge_id, AwardRow.user_id).order_by(func.random()).limit(500)
        )
        to_revoke = [(r.badge_id, r.user_id) for r in held]
        to_award: list[tuple[str, int]] = []
        while len(to_award) < 500:
            pair = (rng.choice(badges)[0], MEMBER_BASE + rng.randrange(cfg.members))
            where = (AwardRow.badge_id == pair[0], AwardRow.user_id == pair[1])
            free = (await conn.execute(select(AwardRow.id).where(*where))).first() is None
            if free and pair not in to_award:
                to_award.append(pair)
    return Fixtures(badges, linked, to_revoke, to_award)


async def counts_consistent(database: Database) -> bool:
    """Whether every badge's awarded_count equals its number of award rows."""
    held = select(AwardRow.badge_id, func.count().label("n")).group_by(AwardRow.badge_id).subquery()
    wrong = (
        select(func.count())
        .select_from(BadgeRow)
        .outerjoin(held, held.c.badge_id == BadgeRow.id)
        .where(BadgeRow.awarded_count != func.coalesce(held.c.n, 0))
    )
    async with database.engine.connect() as conn:
        return (await conn.execute(wrong)).scalar_one() == 0


async def measure(cfg: Config) -> tuple[list[Result], float, float, bool]:
    """Time the service calls. Returns the results, the peak RSS (MiB) before and after,
    and whether the awarded counts still match the award rows."""
    rng = random.Random(cfg.seed + 1)
    database = Database(cfg.url)
    service = BadgeService(database)
    try:
        fx = await _fixtures(database, cfg, rng)
        ids = [b for b, _ in fx.badges]
        big = fx.badges[:10]
        least_held = [b for b in reversed(ids) if b not in fx.linked]
        bulk_n = min(10_000, cfg.members)

        def member() -> int:
            return MEMBER_BASE + rng.randrange(cfg.members)

        async def member_badges(_: int) -> None:
            await service.awards.of_member(GUILD, member())

        async def badge_page(_: int) -> None:
            await service.catalog.list(
                GUILD, offset=100 * rng.randrange(max(1, len(ids) // 100)), limit=100
            )

        async def whole_list(_: int) -> None:
            await service.catalog.list(GUILD, limit=len(ids))

        async def all_badges(_: int) -> None:
            for offset in range(0, len(ids), 100):
                await service.catalog.list(GUILD, offset=offset, limit=100)

        async def holders(_: int) -> None:
            await service.awards.holders(GUILD, rng.choice(big)[0])

        async def deep_holders(_: int) -> None:
            badge_id, count = rng.choice(big)
            offset = rng.randrange(max(1, count - 100))
            await service.awards.holders(GUILD, badge_id, offset=offset, limit=100)

        async def award(i: int) -> None:
            await service.awards.award(MOD, GUILD, *fx.to_award[i])

        async def revoke(i: int) -> None:
            await service.awards.revoke(MOD, GUILD, *fx.to_revoke[i])

        def bulk_into(targets: Sequence[str]) -> Callable[[int], Awaitable[None]]:
            async def bulk(i: int) -> None:  # into little held badges: nearly all are new
                members = [MEMBER_BASE + m for m in rng.sample(range(cfg.members), bulk_n)]
                await service.awards.bulk_award(MOD, GUILD, targets[i], members)

            return bulk

        for i in range(50):  # warm the pool, the statement caches and the database cache
            await member_badges(i)
            await holders(i)
            await all_badges(i)
        gc.collect()
        gc.freeze()  # as the bot does once started (bot/app.py)
        before = rss_mib()
        results = [
            Result("list_member_badges, page of 25", await timed(2000, member_badges), 5),
            Result("list_badges, one page of 100", await timed(500, badge_page), 20),
            Result(f"list_badges, all {len(ids)} in one call", await timed(200, whole_list), 20),
            Result(
                f"list_badges, all {len(ids)} (pages of 100)", await timed(50, all_badges), None
            ),
            Result("list_holders, top-10 badge, first page of 25", await timed(500, holders), None),
            Result(
                "list_holders, top-10 badge, deep page of 100", await timed(200, deep_holders), None
            ),
            Result("award (Moderator)", await timed(len(fx.to_award), award), None),
            Result("revoke (Moderator)", await timed(len(fx.to_revoke), revoke), None),
            Result(f"bulk_award {bulk_n:,} members", await timed(3, bulk_into(least_held)), 2000),
            Result(
                f"bulk_award {bulk_n:,} members, role-linked badge",
                await timed(len(fx.linked), bulk_into(fx.linked)),
                2000,
            ),
        ]
        after = rss_mib()
        return results, before, after, await counts_consistent(database)
    finally:
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], required=True)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--badges", type=int, default=1_000)
    parser.add_argument("--awards", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-seed", action="store_true", help="reuse the last seeded database")
    args = parser.parse_args()
    cfg = Config(args.backend, args.members, args.badges, args.awards, args.seed)
    print(
        f"## {cfg.backend}: {cfg.badges:,} badges, {cfg.members:,} members, {cfg.awards:,} awards"
    )
    if not args.no_seed:
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            seconds, seed_rss = pool.submit(seed_process, cfg).result()
        print(f"seeded in {seconds:.1f} s (seed process peak RSS {seed_rss / 1024:.0f} MiB)\n")
    load = os.getloadavg()[0]
    results, before, after, consistent = asyncio.run(measure(cfg))
    print("| operation | n | p50 ms | p99 ms | target | ok? |")
    print("|---|---:|---:|---:|---|---|")
    for result in results:
        print(result.row())
    print(
        f"\nmeasuring process peak RSS (ru_maxrss): {before:.1f} MiB before the timed calls, "
        f"{after:.1f} MiB after (+{after - before:.1f} MiB)"
    )
    print(f"awarded_count matches the award rows of every badge: {'yes' if consistent else 'NO'}")
    print(f"1-min load average: {load:.2f} before measuring, {os.getloadavg()[0]:.2f} after")


if __name__ == "__main__":
    main()
