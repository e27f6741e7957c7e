"""The bot's memory with 1,000,000 awards and 100,000 members, at start and after an hour of
traffic compressed into minutes, over the real transport (issue 11).

    .venv/bin/python -m bench.memory --backend sqlite postgresql --runs 2

Data: bench.core's seed (1,000 badges, 100,000 members, 1,000,000 awards in one guild, Zipf
popularity, 3 badges linked to roles; bulk inserts, ANALYZE), seeded once per backend and
reused by later runs (``--reseed`` to start over). The emulator (in this process) has that
guild with the same ids: 100,000 members, the 3 linked roles held by exactly the members whose
awards say so, and the owner. The bot runs as shipped in its own process (bench.bot_profile
around tests.e2e.bot_process) without the members intent (the default): its GUILD_CREATE
carries only the bot's own member.

Phases: *ready* = 5 s after the commands were synced and a first /badges answered; then the
traffic: ``--interactions`` ``/badges member:<random member>`` (36,000 = 10/s for an hour),
each by a different member (a member may get 3 public replies per 15 s), ``--concurrency`` in
flight, as fast as the bot answers; every ``--award-every``-th is instead ``/badge award`` of a
badge ``Wire <run>`` (created over the wire, linked to a role: each award queues a role PUT).
RSS and HWM (VmRSS, VmHWM of /proc/PID/status) at ready, at every tenth of the traffic, at the
end, and again after ``--idle`` s of rest. At ready and at the end the bot also reports (SIGUSR1,
bench.bot_profile --gc-report) its live objects by type and discord.py's cache sizes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import signal
import statistics
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench import core
from bench.bot_profile import BotRun, cpu_seconds, memory_mib, start_bot
from tests.emulator import DiscordEmulator
from tests.emulator.interactions import Interaction
from tests.emulator.state import OWNER_ID, User, new_guild

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "memory"
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/bench")
MEMBERS, BADGES, AWARDS = 100_000, 1_000, 1_000_000
START_TIMEOUT = 90.0


@dataclass(frozen=True)
class SeedConfig(core.Config):
    """bench.core's seed, into a database of this benchmark's own."""

    database_url: str = ""

    @property
    def url(self) -> str:
        return self.database_url


def database_url(backend: str) -> str:
    return f"sqlite+aiosqlite:///{OUT / 'memory.db'}" if backend == "sqlite" else PG_URL


def seed_child(cfg: SeedConfig) -> float:
    started = time.perf_counter()
    if cfg.backend == "sqlite":
        OUT.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{OUT / 'memory.db'}{suffix}").unlink(missing_ok=True)
    asyncio.run(core.seed(cfg))
    return time.perf_counter() - started


async def seeded(url: str) -> int:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            found = await conn.execute(
                text("SELECT count(*) FROM awards WHERE guild_id = :g"), {"g": core.GUILD}
            )
            return int(found.scalar_one())
    except Exception:
        return 0
    finally:
        await engine.dispose()


async def ensure_seed(backend: str, reseed: bool) -> float | None:
    url = database_url(backend)
    if not reseed and await seeded(url) >= AWARDS:
        return None
    cfg = SeedConfig(backend, MEMBERS, BADGES, AWARDS, 42, database_url=url)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return await asyncio.get_running_loop().run_in_executor(pool, seed_child, cfg)


async def forget_synced_commands(url: str) -> None:
    """Each run's emulator is new: make the bot sync its commands again (it syncs only when
    the stored hash of its command set changed)."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM bot_state"))
    finally:
        await engine.dispose()


async def linked_holders(url: str) -> dict[int, list[int]]:
    """Role id -> members whose awards say they hold it."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT b.role_id, a.user_id FROM awards a JOIN badges b ON b.id = a.badge_id "
                    "WHERE b.guild_id = :g AND b.role_id IS NOT NULL"
                ),
                {"g": core.GUILD},
            )
            holders: dict[int, list[int]] = {}
            for role_id, user_id in rows:
                holders.setdefault(int(role_id), []).append(int(user_id))
            return holders
    finally:
        await engine.dispose()


@dataclass
class Sample:
    label: str
    rss: float
    hwm: float
    cpu: float
    report: dict[str, Any] = field(default_factory=dict)


@dataclass
class Result:
    backend: str
    run: int
    samples: list[Sample] = field(default_factory=list)
    ack: list[float] = field(default_factory=list)
    completion: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    awards: int = 0
    traffic_s: float = 0.0
    seed_s: float | None = None


def _lines(sink: Path) -> list[str]:
    return sink.read_text().splitlines() if sink.exists() else []


async def report(run: BotRun, sink: Path) -> dict[str, Any]:
    """Ask the bot for a gc report (SIGUSR1) and read the line it appends."""
    before = len(_lines(sink))
    os.kill(run.pid, signal.SIGUSR1)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        lines = _lines(sink)
        if len(lines) > before:
            return dict(json.loads(lines[-1]))
        await asyncio.sleep(0.2)
    return {}


async def measure(args: argparse.Namespace, backend: str, number: int) -> Result:
    result = Result(backend, number)
    result.seed_s = await ensure_seed(backend, args.reseed and number == args.first_run)
    url = database_url(backend)
    holders = await linked_holders(url)
    await forget_synced_commands(url)
    rng = random.Random(number)
    async with DiscordEmulator(global_limit=0) as emu:
        owner_id = OWNER_ID
        emu.users[owner_id] = owner = User(owner_id, "owner")
        guild = new_guild("Memory Guild", owner=owner, guild_id=core.GUILD)
        emu.guilds[guild.id] = guild
        for role_id in sorted(holders):
            role = guild.add_role(f"Linked {role_id}")
            del guild.roles[role.id]
            role.id = role_id
            guild.roles[role_id] = role
        wire_role = guild.add_role(f"Wire {number}")
        ids = [core.MEMBER_BASE + i for i in range(MEMBERS)]
        for uid in ids:
            user = User(uid, f"m{uid - core.MEMBER_BASE}")
            emu.users[uid] = user
            guild.add_member(user)
        for role_id, users in holders.items():
            for uid in users:
                guild.members[uid].roles.add(role_id)
        out = OUT / f"{backend}-{number}"
        gc_sink = out / "gc.jsonl"
        gc_sink.unlink(missing_ok=True)
        run = await start_bot(
            emu.base_url,
            emu.gateway_url,
            url,
            out,
            members_intent=False,
            gc_report=gc_sink,
            cprofile=out / "bot.prof" if args.cprofile else None,
        )
        try:
            await until(lambda: emu.gateway.identifies > 0, run, "identify")
            await until(lambda: bool(emu.synced(guild.id) or emu.synced()), run, "command sync")
            for attempt in range(30):  # until the guild is ready in the bot
                first = await emu.invoke(guild, ids[attempt], "badges", member=ids[1])
                try:
                    await first.wait(5)
                    break
                except TimeoutError:
                    continue
            else:
                raise SystemExit(f"no answer to /badges:\n{run.output()[-3000:]}")
            await asyncio.sleep(5)

            async def sample(label: str, with_report: bool = False) -> None:
                rss, hwm = memory_mib(run.pid)
                extra = await report(run, gc_sink) if with_report else {}
                result.samples.append(Sample(label, rss, hwm, cpu_seconds(run.pid), extra))
                print(f"  {label}: RSS {rss:.0f} MiB, HWM {hwm:.0f} MiB", flush=True)

            await sample("ready", with_report=True)
            created = await emu.invoke(
                guild, owner_id, "badge create", name=f"Wire {number}", role=wire_role.id
            )
            await created.wait(30)
            n = args.interactions
            tenth = max(1, n // 10)
            queue: asyncio.Queue[int] = asyncio.Queue()
            for i in range(n):
                queue.put_nowait(i)
            started = time.monotonic()
            done_count = 0

            async def one(i: int) -> None:
                nonlocal done_count
                record: Interaction
                if args.award_every and i % args.award_every == args.award_every - 1:
                    target = rng.choice(ids)
                    record = await emu.invoke(
                        guild, owner_id, "badge award", badge=f"Wire {number}", member=target
                    )
                    result.awards += 1
                else:
                    invoker = ids[(i * 7919 + number) % MEMBERS]
                    record = await emu.invoke(guild, invoker, "badges", member=rng.choice(ids))
                with contextlib.suppress(TimeoutError):
                    await record.wait(20)
                kind = "award" if record.name == "badge award" else "badges"
                if record.refused:
                    result.failures[f"{kind}: refused {record.refused}"] += 1
                elif record.ack_latency is None:
                    result.failures[f"{kind}: never acknowledged"] += 1
                elif record.completed_at is None:
                    result.failures[f"{kind}: no reply within 20 s"] += 1
                else:
                    result.ack.append(record.ack_latency)
                    result.completion.append(record.completion_latency or 0.0)
                done_count += 1

            async def worker() -> None:
                while not queue.empty():
                    await one(queue.get_nowait())

            workers = [asyncio.create_task(worker()) for _ in range(args.concurrency)]
            next_mark = tenth
            while not all(w.done() for w in workers):
                await asyncio.sleep(0.2)
                if run.proc.returncode is not None:
                    raise SystemExit(f"the bot exited:\n{run.output()[-3000:]}")
                if done_count >= next_mark and next_mark < n:
                    await sample(f"{next_mark:,} done")
                    next_mark += tenth
            await asyncio.gather(*workers)
            result.traffic_s = time.monotonic() - started
            emu.interactions.clear()  # the emulator's own records, not the bot's
            emu._by_token.clear()
            await sample("after traffic", with_report=True)
            await asyncio.sleep(args.idle)
            await sample(f"after {args.idle:.0f} s idle", with_report=True)
        finally:
            await run.stop()
        if "Traceback" in run.output():
            print(f"!! traceback in the bot's output ({run.log})")
    return result


async def until(condition: Any, run: BotRun, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not condition():
        if run.proc.returncode is not None:
            raise SystemExit(f"the bot exited before {what}:\n{run.output()[-3000:]}")
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}:\n{run.output()[-3000:]}")
        await asyncio.sleep(0.1)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def show(results: list[Result]) -> None:
    print(
        "| backend | run | interactions | of which awards | failed | traffic s | rate/s "
        "| ack p50/p99 ms | reply p50/p99 ms | RSS ready MiB | RSS after MiB | RSS idle MiB "
        "| HWM MiB | bot CPU s |"
    )
    print("|---|---:|" + "---:|" * 12)
    for r in results:
        ready, after, idle = r.samples[0], r.samples[-2], r.samples[-1]
        failed = sum(r.failures.values())
        count = len(r.ack) + failed
        rate = count / r.traffic_s if r.traffic_s else float("nan")
        print(
            f"| {r.backend} | {r.run} | {count:,} | {r.awards} | {failed} | {r.traffic_s:.0f} "
            f"| {rate:.0f} | {pct(r.ack, 0.5) * 1000:.1f}/{pct(r.ack, 0.99) * 1000:.1f} "
            f"| {pct(r.completion, 0.5) * 1000:.1f}/{pct(r.completion, 0.99) * 1000:.1f} "
            f"| {ready.rss:.0f} | {after.rss:.0f} | {idle.rss:.0f} | {idle.hwm:.0f} "
            f"| {after.cpu - ready.cpu:.0f} |"
        )
    for r in results:
        print(f"\n{r.backend} run {r.run}" + (f" (seeded in {r.seed_s:.0f} s)" if r.seed_s else ""))
        print(
            "  RSS over the traffic (MiB): "
            + ", ".join(f"{s.label} {s.rss:.0f}" for s in r.samples)
        )
        for s in r.samples:
            if s.report:
                caches = s.report.get("caches", {})
                top = ", ".join(f"{name} {count:,}" for name, count in s.report["types"][:8])
                print(f"  {s.label}: {s.report['objects']:,} objects; caches {caches}")
                print(f"    top types: {top}")
        if r.failures:
            print(f"  failures: {dict(r.failures)}")
        if r.completion:
            print(f"  mean reply {statistics.mean(r.completion) * 1000:.1f} ms")


async def amain(args: argparse.Namespace) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    results = []
    for number in range(args.first_run, args.first_run + args.runs):
        for backend in args.backend:
            print(f"# run {number}, {backend}", flush=True)
            results.append(await measure(args, backend, number))
            show(results[-1:])
    print("\n# all runs")
    show(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--first-run", type=int, default=1, help="numbers the runs' badges")
    parser.add_argument("--interactions", type=int, default=36_000)
    parser.add_argument("--award-every", type=int, default=120, help="0: no awards")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--idle", type=float, default=30.0)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--cprofile", action="store_true", help="bench/out/memory/*/bot.prof")
    asyncio.run(amain(parser.parse_args()))


if __name__ == "__main__":
    main()
