"""Bulk award to 10,000 members end to end, over the real transport (issue 11).

    .venv/bin/python -m bench.bulk_award --backend sqlite postgresql --runs 2

The Discord emulator (tests.emulator) runs in this process with one guild: the owner, the bot,
roles ``Members`` and ``Veteran`` and ``--members`` members holding ``Members``. The bot runs as
shipped in its own process (bench.bot_profile around tests.e2e.bot_process, with the members
intent, which /badge award-role needs) on a fresh migrated database. The owner runs
``/badge create name:Veteran role:@Veteran``, then ``/badge award-role badge:Veteran
role:@Members``: 10,000 awards in one transaction and 10,000 queued role changes.

Times are from INTERACTION_CREATE (the emulator's clock): *ack* = the first callback, *reply* =
the first reply with content (the bot sends it after the awards committed), *all roles* = the
moment every member holds the Veteran role in the emulator, *queue empty* = the role_changes
table is empty (polled every 0.1 s). The member-role bucket is ``--role-rate`` per second (the
default 10/s would take ~1,000 s for 10,000 changes); the global 50/s limit is off, or it would
bind first. *bulk tx* = the transaction that inserted the awards, from BEGIN to COMMIT, timed in
the bot's process by SQLAlchemy engine events (bench/bot_profile.py). *bot CPU* = user + system
seconds of the bot's process (/proc/PID/stat) over each phase.

``--probe-seconds N`` also runs once with the default 10/s bucket and watches the first N
seconds of the drain, to show the rate the bot reaches there.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.bot_profile import BotRun, cpu_seconds, memory_mib, migrate, start_bot
from tests.emulator import DiscordEmulator, Guild
from tests.emulator.limits import RouteLimit
from tests.emulator.state import OWNER_ID

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "bulk_award"
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/bench")
START_TIMEOUT = 60.0


@dataclass
class Result:
    backend: str
    role_rate: int
    members: int
    ack: float = float("nan")
    reply: float = float("nan")
    first_put: float = float("nan")
    all_roles: float = float("nan")
    queue_empty: float = float("nan")
    requests: int = 0
    puts: int = 0
    status_429: int = 0
    repeated: int = 0
    members_missing: int = 0
    awards: int = 0
    bulk_tx: dict[str, Any] = field(default_factory=dict)
    cpu_to_reply: float = 0.0
    cpu_drain: float = 0.0
    driver_cpu: float = 0.0
    rss_mib: float = 0.0
    hwm_mib: float = 0.0
    reply_text: str = ""
    routes: Counter[str] = field(default_factory=Counter)
    observed_rate: float = float("nan")


def database_url(backend: str) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{OUT / 'bulk.db'}"
    return PG_URL


def remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def fresh_database(backend: str) -> str:
    url = database_url(backend)
    if backend == "sqlite":
        remove_sqlite(OUT / "bulk.db")
    else:
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
    await asyncio.to_thread(migrate, url)
    return url


async def until(condition: Any, within: float, run: BotRun, what: str, step: float = 0.1) -> float:
    """Poll ``condition`` (sync or async) until true; the monotonic time it became true."""
    deadline = time.monotonic() + within
    while True:
        result = condition()
        if result if isinstance(result, bool) else await result:
            return time.monotonic()
        if run.proc.returncode is not None:
            raise SystemExit(f"the bot exited before {what}:\n{run.output()[-3000:]}")
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}:\n{run.output()[-3000:]}")
        await asyncio.sleep(step)


def populate(emu: DiscordEmulator, members: int) -> tuple[Guild, int, int]:
    guild = emu.create_guild("Bulk Guild")
    members_role = guild.add_role("Members")
    badge_role = guild.add_role("Veteran")
    for i in range(members):
        guild.add_member(emu.create_user(f"member{i:05}"), {members_role.id})
    return guild, members_role.id, badge_role.id


async def measure(
    backend: str,
    members: int,
    role_rate: int,
    observe: float | None = None,
    cprofile: bool = False,
) -> Result:
    url = await fresh_database(backend)
    result = Result(backend, role_rate, members)
    limits = {"member role add": RouteLimit(role_rate, 1.0)}
    async with DiscordEmulator(limits=limits, global_limit=0) as emu:
        guild, members_role, badge_role = populate(emu, members)
        everyone = [m for m in guild.members.values() if members_role in m.roles]
        out = OUT / f"{backend}-{role_rate}"
        profile = out / "bot.prof" if cprofile else None
        run = await start_bot(
            emu.base_url, emu.gateway_url, url, out, members_intent=True, cprofile=profile
        )
        engine = create_async_engine(url)
        try:
            await until(lambda: emu.gateway.identifies > 0, START_TIMEOUT, run, "identify")
            await until(lambda: bool(emu.synced(guild.id)), START_TIMEOUT, run, "command sync")
            created = await emu.invoke(
                guild, OWNER_ID, "badge create", name="Veteran", role=badge_role
            )
            await created.wait(START_TIMEOUT)
            assert "Veteran" in created.text, created.text
            await asyncio.sleep(1.0)  # let the bot settle (member chunks, caches)

            async def queue_empty() -> bool:
                async with engine.connect() as conn:
                    count = await conn.execute(text("SELECT count(*) FROM role_changes"))
                    return int(count.scalar_one()) == 0

            first_call = len(emu.calls)
            cpu0, driver0 = cpu_seconds(run.pid), time.process_time()
            award = await emu.invoke(
                guild, OWNER_ID, "badge award-role", badge="Veteran", role=members_role
            )
            sent = award.sent_at
            await award.wait(600)
            cpu1 = cpu_seconds(run.pid)
            result.ack = (award.acked_at or float("nan")) - sent
            result.reply = (award.completed_at or float("nan")) - sent
            result.reply_text = award.text.splitlines()[0] if award.text else ""
            result.cpu_to_reply = cpu1 - cpu0

            def held() -> bool:
                return all(badge_role in m.roles for m in everyone)

            if observe is not None:
                await asyncio.sleep(observe)
                puts = [c for c in emu.calls[first_call:] if c.method == "PUT" and c.status == 204]
                if len(puts) > 1:
                    result.observed_rate = (len(puts) - 1) / (puts[-1].at - puts[0].at)
                result.first_put = (puts[0].at - sent) if puts else float("nan")
            else:
                done = await until(held, 3600, run, "every member to hold the role", 0.05)
                result.all_roles = done - sent
                emptied = await until(queue_empty, 120, run, "the queue to empty")
                result.queue_empty = emptied - sent
            result.cpu_drain = cpu_seconds(run.pid) - cpu1
            result.driver_cpu = time.process_time() - driver0
            result.rss_mib, result.hwm_mib = memory_mib(run.pid)
            calls = emu.calls[first_call:]
            result.requests = len(calls)
            result.routes = Counter(c.route for c in calls)
            result.status_429 = sum(1 for c in calls if c.status == 429)
            accepted = Counter(
                c.path
                for c in calls
                if c.method == "PUT" and c.status == 204 and "/roles/" in c.path
            )
            result.puts = sum(accepted.values())
            result.repeated = sum(1 for n in accepted.values() if n > 1)
            puts_at = [c.at for c in calls if c.method == "PUT" and "/roles/" in c.path]
            if puts_at and observe is None:
                result.first_put = puts_at[0] - sent
            result.members_missing = sum(1 for m in everyone if badge_role not in m.roles)
            async with engine.connect() as conn:
                awards = await conn.execute(text("SELECT count(*) FROM awards"))
                result.awards = int(awards.scalar_one())
        finally:
            await engine.dispose()
            await run.stop()
        for tx in run.transactions():
            if any(k[0] == "INSERT INTO awards" for k in tx["kinds"]):
                result.bulk_tx = tx
        if "Traceback" in run.output():
            print(f"!! traceback in the bot's output ({run.log})")
    return result


def show(results: list[Result]) -> None:
    print(
        "| backend | members | role bucket/s | ack ms | reply s | first PUT s | all roles s "
        "| queue empty s | drain rate/s | requests | role PUTs | 429s | repeated PUTs | awards "
        "| bulk tx s (in SQL) | bot CPU to reply s | bot CPU drain s | bot RSS/HWM MiB |"
    )
    print("|---|" + "---:|" * 17)
    for r in results:
        drain = r.all_roles - r.first_put
        rate = r.members / drain if drain == drain and drain > 0 else r.observed_rate
        tx = r.bulk_tx
        tx_text = f"{tx['wall_s']:.2f} ({tx['sql_s']:.2f})" if tx else "-"
        print(
            f"| {r.backend} | {r.members:,} | {r.role_rate} | {r.ack * 1000:.0f} | {r.reply:.2f} "
            f"| {r.first_put:.2f} | {r.all_roles:.1f} | {r.queue_empty:.1f} | {rate:.1f} "
            f"| {r.requests:,} | {r.puts:,} | {r.status_429} | {r.repeated} | {r.awards:,} "
            f"| {tx_text} | {r.cpu_to_reply:.2f} | {r.cpu_drain:.2f} "
            f"| {r.rss_mib:.0f}/{r.hwm_mib:.0f} |"
        )
    for r in results:
        tx = r.bulk_tx
        print(f"\n{r.backend} @ {r.role_rate}/s: reply {r.reply_text!r}")
        print(f"  requests by route: {dict(r.routes)}; driver (emulator) CPU {r.driver_cpu:.1f} s")
        if r.members_missing:
            print(f"  !! {r.members_missing} members never got the role")
        if tx:
            print(
                f"  bulk tx: {tx['wall_s']} s wall, {tx['sql_s']} s in {tx['statements']} "
                f"statements ({tx['rows']} rows)"
            )
            for kind, n, seconds, rows in tx["kinds"]:
                print(f"    {kind}: {n} statements, {seconds:.3f} s, {rows} rows")


async def amain(args: argparse.Namespace) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    results = []
    for run in range(1, args.runs + 1):
        for backend in args.backend:
            print(f"# run {run}, {backend}, {args.members} members, {args.role_rate}/s", flush=True)
            results.append(
                await measure(backend, args.members, args.role_rate, cprofile=args.cprofile)
            )
            show(results[-1:])
    if args.probe_seconds:
        print(f"# probe: default 10/s bucket, first {args.probe_seconds} s of the drain")
        results.append(await measure("sqlite", args.members, 10, observe=args.probe_seconds))
        show(results[-1:])
    print("\n# all runs")
    show(results)
    if not args.keep:
        shutil.rmtree(OUT, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--role-rate", type=int, default=200)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--probe-seconds", type=float, default=0.0)
    parser.add_argument("--keep", action="store_true", help="keep bench/out/bulk_award")
    parser.add_argument("--cprofile", action="store_true", help="bench/out/bulk_award/*/bot.prof")
    asyncio.run(amain(parser.parse_args()))


if __name__ == "__main__":
    main()
