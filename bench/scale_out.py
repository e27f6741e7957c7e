"""Scale-out (issue 12): two bot processes with 2 of 4 shards each on one PostgreSQL database,
against the Discord emulator in a process of its own (bench/scale_out_emulator.py).

    .venv/bin/python -m bench.scale_out [--guilds 500 1000 2000] [--runs 2] [--members 500]
        [--badges 50] [--award 20] [--window 30] [--open-window 15]

Per configuration (a number of guilds, each with ``--members`` members and ``--badges``
badges; the bot without the members intent, its default, so Discord sends these large guilds
without member lists): a fresh emulator (member-role bucket 10/s per guild, global limit 50/s
for the bot token) and two fresh bot processes as shipped (bench/scale_out_bot.py =
tests.e2e.bot_process + two printing listeners), started at the same moment.

- start-up: process start (just before exec) to discord.py's on_ready in that process
  (every shard of it identified, its guilds received; discord.py waits 5 s between the
  identifies of one process), and to each shard's on_shard_ready;
- memory: VmRSS and VmHWM of each bot process from /proc/PID/status, 3 s after READY and
  after the role-sync run;
- role sync: the badges are inserted directly (one multi-row INSERT per chunk, rows as
  db/tables.py has them), badge 0 of each guild linked to its role "Regular"; then
  ``BadgeService.awards.bulk_award`` awards it to ``--award`` members in every guild (from this
  process, 8 at a time), which the bots pick up through NOTIFY and their sweep. Applied
  changes (PUTs the emulator accepted) are counted per process over ``--window`` seconds
  that start 2 s after the last award was queued, with the global limit at 50/s; then the
  emulator's global limit is lifted (0) and ``--open-window`` seconds are counted the same
  way (per-process capacity). Global 429s (``X-RateLimit-Global``) and route 429s are
  counted per process in each window.

Guild ids are fresh snowflakes each run; the rows of a run's guilds are deleted at its end
(the database ``bench`` is shared with other benchmarks: nothing else is touched).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import delete, insert

from badges import validation
from badges.permissions import Actor, Level
from badges.service import BadgeService
from db.database import Database
from db.tables import BadgeRow, Base
from tests.emulator import TOKEN

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).parent / "out" / "scale_out"
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/bench")
SHARDS = 4
PLAN = {"a": "0,1", "b": "2,3"}
ADMIN = Actor(903, "bench admin", Level.SUPER_ADMIN)


# -- processes ---------------------------------------------------------------------------


class Child:
    """A child process whose stderr and stdout go to a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0  # time.time() just before exec

    def start(self) -> None:
        sink = self.log.open("wb")
        self.started = time.time()
        self.proc = subprocess.Popen(
            self.argv, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink
        )
        sink.close()

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def lines(self, prefix: str) -> list[list[str]]:
        return [line.split()[1:] for line in self.text().splitlines() if line.startswith(prefix)]

    def status(self) -> dict[str, int]:
        """VmRSS and VmHWM in MiB."""
        assert self.proc is not None
        found = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = round(int(value.split()[0]) / 1024)
        return found

    def cpu(self) -> float:
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


async def wait_for(check: Any, within: float, what: str, step: float = 0.1) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(step)


# -- the database ------------------------------------------------------------------------


def prepare_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    assert name != "test", "never the test database"
    listed = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", "select datname from pg_database"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if name not in listed:
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", f"create database {name}"],
            check=True,
        )
    env = os.environ | {"BADGEBOT_DATABASE_URL": url}
    subprocess.run([str(ROOT / ".venv/bin/badgebot"), "db", "upgrade"], env=env, check=True)


async def seed_badges(database: Database, guilds: list[Guild], badges: int) -> float:
    """``badges`` badges per guild in multi-row INSERTs; badge 0 linked to the guild's role."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for guild in guilds:
        for n in range(badges):
            name = f"Badge {n}"
            badge_id = str(uuid.uuid4())
            if n == 0:
                guild.badge_id = badge_id
            rows.append(
                {
                    "id": badge_id,
                    "guild_id": guild.id,
                    "name": name,
                    "name_key": validation.name_key(name),
                    "slug": validation.slug_from_name(name),
                    "description": None,
                    "icon": None,
                    "color": None,
                    "is_active": True,
                    "role_id": guild.role_id if n == 0 else None,
                    "awarded_count": 0,
                    "created_at": now,
                    "updated_at": now,
                    "created_by": ADMIN.user_id,
                    "role_managed": False,
                    "role_power": 0,
                }
            )
    async with database.engine.begin() as conn:
        for i in range(0, len(rows), 5000):
            await conn.execute(insert(BadgeRow), rows[i : i + 5000])
    return time.perf_counter() - started


async def queue_awards(url: str, guilds: list[Guild], members: list[int], award: int) -> float:
    """bulk_award badge 0 to ``award`` members in every guild through the service."""
    database = Database(url)
    service = BadgeService(database)
    gate = asyncio.Semaphore(8)
    chosen = members[:award]

    async def one(guild: Guild) -> None:
        async with gate:
            result = await service.awards.bulk_award(ADMIN, guild.id, guild.badge_id, chosen)
            assert len(result.awarded) == award, result

    started = time.perf_counter()
    try:
        await asyncio.gather(*(one(g) for g in guilds))
    finally:
        await database.dispose()
    return time.perf_counter() - started


async def clean(database: Database, guilds: list[Guild]) -> None:
    """Delete the run's rows, except its audit events: deleting the newest audit rows leaves
    max(id) far below the sequence, and the next bots' change feed would see every id in
    between as a hole (found so: see RESULTS.md, issue 12)."""
    ids = [g.id for g in guilds]
    async with database.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            if "guild_id" in table.c and table.name != "audit_events":
                for i in range(0, len(ids), 1000):
                    await conn.execute(delete(table).where(table.c.guild_id.in_(ids[i : i + 1000])))


# -- one configuration -------------------------------------------------------------------


@dataclass
class Guild:
    id: int
    role_id: int
    shard: int
    badge_id: str = ""


@dataclass
class Window:
    seconds: float
    applied: dict[str, int] = field(default_factory=dict)
    global_429: dict[str, int] = field(default_factory=dict)
    route_429: dict[str, int] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    peak_global_rps: int = 0  # most requests under the global limit in one second

    def rate(self, who: str) -> float:
        return self.applied.get(who, 0) / self.seconds


@dataclass
class Result:
    guilds: int
    run: int
    load: tuple[float, float, float]
    ready: dict[str, float]
    shard_ready: dict[str, list[float]]
    guilds_seen: dict[str, int]
    memory_start: dict[str, dict[str, int]]
    memory_end: dict[str, dict[str, int]]
    emulator_memory: dict[str, int]
    build_s: float
    seed_s: float
    queue_s: float
    limited: Window
    open: Window
    before: dict[str, int]
    left: int
    other_calls: dict[str, int]
    errors: dict[str, int]


def owner(guild_id: int) -> str:
    if "b" not in PLAN:
        return "a"
    return "a" if (guild_id >> 22) % SHARDS in (0, 1) else "b"


def pair(values: dict[str, Any], fmt: str = "{}") -> str:
    """``a / b`` (``a / -`` with one process)."""
    return " / ".join(fmt.format(values[n]) if n in values else "-" for n in ("a", "b"))


def count(
    roles: list[list[Any]],
    every: list[float],
    start: float,
    end: float,
    cpu: dict[str, float],
    drained: bool = False,
) -> Window:
    window = Window(end - start, cpu=cpu)
    last = start
    for at, guild, status, is_global in roles:
        if not start <= at < end:
            continue
        who = owner(int(guild))
        if status == 204:
            last = max(last, at)
            window.applied[who] = window.applied.get(who, 0) + 1
        elif status == 429:
            into = window.global_429 if is_global else window.route_429
            into[who] = into.get(who, 0) + 1
    per_second: dict[int, int] = {}
    for at in every:
        if start <= at < end:
            per_second[int(at - start)] = per_second.get(int(at - start), 0) + 1
    window.peak_global_rps = max(per_second.values(), default=0)
    if drained and last > start:
        window.seconds = last - start  # the queue ran dry: count up to the last change
    return window


async def configuration(args: argparse.Namespace, n_guilds: int, run: int) -> Result:
    OUT.mkdir(parents=True, exist_ok=True)
    tag = f"{n_guilds}-{run}" if "b" in PLAN else f"one-{n_guilds}-{run}"
    env = dict(os.environ) | {"PYTHONUNBUFFERED": "1"}
    emulator = Child(
        "emulator",
        [
            sys.executable, "-m", "bench.scale_out_emulator", "--port", "0",
            "--limit", "member role add=10/1", "--global-limit", "50",
        ],
        env,
        OUT / f"emulator-{tag}.log",
    )  # fmt: skip
    emulator.start()
    await wait_for(lambda: "LISTENING" in emulator.text(), 30, "emulator")
    port = int(emulator.lines("LISTENING")[0][0])
    base = f"http://127.0.0.1:{port}"
    bots: dict[str, Child] = {}
    database = Database(PG_URL)
    guilds: list[Guild] = []
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as http:

            async def call(method: str, path: str, body: Any = None) -> Any:
                async with http.request(method, base + path, json=body) as response:
                    response.raise_for_status()
                    return await response.json()

            started = time.perf_counter()
            built = await call(
                "POST",
                "/_emulator/scale/build",
                {"guilds": n_guilds, "members": args.members, "shards": SHARDS},
            )
            build_s = time.perf_counter() - started
            guilds = [Guild(int(g), int(r), s) for g, r, s in built["guilds"]]
            members = [int(m) for m in built["members"]]
            emulator_memory = emulator.status()

            for name, shards in PLAN.items():
                bot_env = env | {
                    "DISCORD_TOKEN": TOKEN,
                    "BADGEBOT_SHARD_COUNT": str(SHARDS),
                    "BADGEBOT_SHARD_IDS": shards,
                    "BADGEBOT_LOG_LEVEL": "WARNING",
                }
                bot_env.pop("BADGEBOT_MEMBERS_INTENT", None)
                bots[name] = Child(
                    name,
                    [
                        sys.executable, "-m", "bench.scale_out_bot",
                        "--rest", f"{base}/api/v10", "--gateway", f"ws://127.0.0.1:{port}/",
                        "--database", PG_URL,
                    ],
                    bot_env,
                    OUT / f"bot-{name}-{tag}.log",
                )  # fmt: skip
            for bot in bots.values():
                bot.start()
            await wait_for(
                lambda: all(b.lines("READY") for b in bots.values()), 300, "bots READY", 0.05
            )
            ready = {n: float(b.lines("READY")[0][0]) - b.started for n, b in bots.items()}
            guilds_seen = {n: int(b.lines("READY")[0][1]) for n, b in bots.items()}
            shard_ready = {
                n: sorted(float(line[1]) - b.started for line in b.lines("SHARD_READY"))
                for n, b in bots.items()
            }
            await asyncio.sleep(3)
            memory_start = {n: b.status() for n, b in bots.items()}

            seed_s = await seed_badges(database, guilds, args.badges)
            queue_started = time.monotonic()
            queue_s = await queue_awards(PG_URL, guilds, members, args.award)
            start_1 = time.monotonic() + 2
            await asyncio.sleep(max(0.0, start_1 - time.monotonic()))
            cpu0 = {n: b.cpu() for n, b in bots.items()} | {"emulator": emulator.cpu()}
            await asyncio.sleep(args.window)
            end_1 = time.monotonic()
            cpu1 = {n: b.cpu() for n, b in bots.items()} | {"emulator": emulator.cpu()}
            await call("POST", "/_emulator/scale/global", {"limit": 0})
            start_2 = time.monotonic() + 1
            await asyncio.sleep(1 + args.open_window)
            end_2 = time.monotonic()
            cpu2 = {n: b.cpu() for n, b in bots.items()} | {"emulator": emulator.cpu()}
            memory_end = {n: b.status() for n, b in bots.items()}
            calls = await call("GET", "/_emulator/scale/calls")
            load = os.getloadavg()
    finally:
        for bot in bots.values():
            bot.stop()
        emulator.stop()
    roles, every = calls["roles"], calls["global"]
    applied_total = sum(1 for r in roles if r[2] == 204)
    drained = applied_total >= n_guilds * args.award
    limited = count(roles, every, start_1, end_1, {k: cpu1[k] - cpu0[k] for k in cpu0}, drained)
    opened = count(roles, every, start_2, end_2, {k: cpu2[k] - cpu1[k] for k in cpu1}, drained)
    before: dict[str, int] = {}
    for at, guild, status, _ in roles:
        if status == 204 and queue_started <= at < start_1:
            before[owner(int(guild))] = before.get(owner(int(guild)), 0) + 1
    other: dict[str, int] = {}
    for _, route, status in calls["other"]:
        key = f"{route} {status}"
        other[key] = other.get(key, 0) + 1
    errors = {n: b.text().count("Traceback") for n, b in bots.items()}
    await clean(database, guilds)
    await database.dispose()
    return Result(
        n_guilds, run, load, ready, shard_ready, guilds_seen, memory_start, memory_end,
        emulator_memory, build_s, seed_s, queue_s, limited, opened, before,
        n_guilds * args.award - applied_total, other, errors,
    )  # fmt: skip


# -- the report --------------------------------------------------------------------------


def tables(results: list[Result]) -> str:
    out = [
        "Start-up and memory (per process: a = shards 0,1, b = shards 2,3; MiB)",
        "",
        "| guilds | run | load 1/5 min | READY a / b (s) | shard ready a; b (s) | guilds a / b "
        "| RSS start a / b | RSS end a / b | HWM end a / b | emulator RSS |",
        "|---:|---:|---|---|---|---|---|---|---|---:|",
    ]
    for r in results:
        shards = "; ".join(", ".join(f"{t:.1f}" for t in r.shard_ready[n]) for n in r.ready)
        out.append(
            f"| {r.guilds:,} | {r.run} | {r.load[0]:.1f} / {r.load[1]:.1f} "
            f"| {pair(r.ready, '{:.1f}')} | {shards} | {pair(r.guilds_seen)} "
            f"| {pair({n: m['VmRSS'] for n, m in r.memory_start.items()})} "
            f"| {pair({n: m['VmRSS'] for n, m in r.memory_end.items()})} "
            f"| {pair({n: m['VmHWM'] for n, m in r.memory_end.items()})} "
            f"| {r.emulator_memory['VmRSS']} |"
        )
    out += [
        "",
        "Role sync (applied changes per second; 429s counted in the window; CPU s of a / b / "
        "emulator in the window)",
        "",
        "| guilds | run | global limit | window s | a /s | b /s | total /s | peak req/s under "
        "global | global 429 a / b | route 429 a / b | CPU a / b / emu |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for r in results:
        for label, w in (("50/s", r.limited), ("none", r.open)):
            total = w.rate("a") + w.rate("b")
            out.append(
                f"| {r.guilds:,} | {r.run} | {label} | {w.seconds:.0f} | {w.rate('a'):.1f} "
                f"| {w.rate('b'):.1f} | {total:.1f} | {w.peak_global_rps} "
                f"| {w.global_429.get('a', 0)} / {w.global_429.get('b', 0)} "
                f"| {w.route_429.get('a', 0)} / {w.route_429.get('b', 0)} "
                f"| {pair(w.cpu, '{:.1f}')} / {w.cpu['emulator']:.1f} |"
            )
    out += [
        "",
        "| guilds | run | build emulator s | seed badges s | queue awards s | applied a / b "
        "before window | left queued at end | other requests | Tracebacks a / b |",
        "|---:|---:|---:|---:|---:|---|---:|---|---|",
    ]
    for r in results:
        other = ", ".join(f"{k}: {v}" for k, v in sorted(r.other_calls.items()))
        out.append(
            f"| {r.guilds:,} | {r.run} | {r.build_s:.1f} | {r.seed_s:.1f} | {r.queue_s:.1f} "
            f"| {r.before.get('a', 0)} / {r.before.get('b', 0)} | {r.left} | {other} "
            f"| {pair(r.errors)} |"
        )
    return "\n".join(out)


async def main_async(args: argparse.Namespace) -> None:
    prepare_database(PG_URL)
    results: list[Result] = []
    for n_guilds in args.guilds:
        for run in range(1, args.runs + 1):
            result = await configuration(args, n_guilds, run)
            results.append(result)
            print(tables([result]), flush=True)
            with (OUT / "results.jsonl").open("a") as sink:
                sink.write(json.dumps(result, default=lambda o: o.__dict__) + "\n")
    print()
    print(tables(results))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale_out", description=__doc__)
    parser.add_argument("--guilds", type=int, nargs="+", default=[500, 1000, 2000])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--badges", type=int, default=50)
    parser.add_argument("--award", type=int, default=20)
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--open-window", type=float, default=15.0)
    parser.add_argument(
        "--one-process", action="store_true", help="control: one process with all 4 shards"
    )
    args = parser.parse_args()
    if args.one_process:
        PLAN.clear()
        PLAN["a"] = "0,1,2,3"
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
