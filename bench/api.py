"""REST API under wrk: `badgebot api` (uvicorn) on the seeded big guild of bench/core.py,
loaded on loopback by `wrk -t2 -c32 -d30s --latency` with random ids per request.

    .venv/bin/python -m bench.api --backend sqlite|postgresql --workers 1|2 \
        [--duration 30] [--reuse] [--scenarios member,badge,list,walk,award]
    .venv/bin/python -m bench.api --backend sqlite|postgresql --reuse \
        --profile member|badge|list|walk|award [--requests 2000]
    .venv/bin/python -m bench.api --summarize bench/out/api_*_run*.json

Seeding reuses bench/core.py (1,000 badges, 100,000 members, 1,000,000 awards, in a child
process); ``--reuse`` keeps a database seeded with the same sizes (SQLite: bench/out/
api_bench.db; PostgreSQL: the ``bench`` database, BENCH_PG_URL). The awards a run makes go
to user ids outside the seeded range and are deleted afterwards, so every run starts from the
same 1,000,000 awards. ``--profile`` serves one route in-process (httpx.ASGITransport) under
cProfile and says where the time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import fcntl
import json
import os
import pstats
import random
import re
import resource
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import delete, func, select, update

from badges.permissions import Actor, Level
from badges.service import BadgeService
from bench import core
from db.database import Database
from db.tables import (
    API_TOKENS,
    AUDIT_EVENTS,
    AWARDS,
    BADGES,
    IDEMPOTENCY_KEYS,
    ROLE_CHANGES,
    BotStateRow,
)

ROOT = Path(__file__).resolve().parent.parent
WRK = Path(__file__).resolve().parent / "wrk"
OUT = core.OUT
SQLITE_FILE = OUT / "api_bench.db"
GUILD = core.GUILD
BASE = f"/api/v1/guilds/{GUILD}"
OPERATOR = Actor(0, "bench operator", Level.SUPER_ADMIN)
TOKEN_PREFIX = "wrk bench"
SEED_MARK = "bench.api.seed"
# award users: "7" + nonce (6 digits) + thread (2) + counter (9), see bench/wrk/award.lua
AWARD_LO = 700_000_000_000_000_000
AWARD_HI = 800_000_000_000_000_000
WRK_ARGS = ["-t2", "-c32", "--latency"]
CLK = os.sysconf("SC_CLK_TCK")

TARGETS: dict[str, dict[str, Any]] = {
    # scenario: the reference's numbers (same data, same command) and the issue's targets
    "member": {"ref": "495 req/s, p99 114 ms", "target": ">= 2,000 req/s, p99 < 50 ms"},
    "badge": {"ref": "573 req/s", "target": "—"},
    "list": {"ref": "11 req/s, p99 10 s (list with counts)", "target": ">= 1,500 req/s"},
    "walk": {"ref": "—", "target": ">= 150 walks/s"},
    "award": {"ref": "94 req/s, p99 472 ms", "target": ">= 500 req/s, p99 < 100 ms"},
}
TITLES = {
    "member": "a member's badges  GET /badges/users/{id}",
    "badge": "one badge  GET /badges/{id}",
    "list": "GET /badges?limit=100",
    "walk": "walk all badges (limit=100, follow nextCursor)",
    "award": "award  POST /badges/award",
}
SCENARIOS = list(TITLES)


class BenchConfig(core.Config):
    """bench/core.py's sizes, on this benchmark's own SQLite file (not bench/out/bench.db,
    which bench/core.py recreates) or on the same PostgreSQL ``bench`` database."""

    @property
    def url(self) -> str:
        return f"sqlite+aiosqlite:///{SQLITE_FILE}" if self.backend == "sqlite" else core.PG_URL


def config(args: argparse.Namespace) -> BenchConfig:
    return BenchConfig(args.backend, args.members, args.badges, args.awards, args.seed)


@contextlib.contextmanager
def exclusive() -> Any:
    """One run at a time on this machine: two would share the databases (and one's cleanup
    would remove the other's token and awards) and load the same CPUs."""
    OUT.mkdir(exist_ok=True)
    with (OUT / "api_bench.lock").open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("waiting for another bench.api run to finish ...", flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


# -- seeding --------------------------------------------------------------------------------


def _mark(cfg: core.Config) -> str:
    return json.dumps([cfg.members, cfg.badges, cfg.awards, cfg.seed])


def seed_process(backend: str, members: int, badges: int, awards: int, seed: int) -> float:
    """Child-process entry point: recreate and seed the database; seconds it took."""
    cfg = BenchConfig(backend, members, badges, awards, seed)
    started = time.perf_counter()
    if backend == "sqlite":
        OUT.mkdir(exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{SQLITE_FILE}{suffix}").unlink(missing_ok=True)
    asyncio.run(_seed(cfg))
    return time.perf_counter() - started


async def _seed(cfg: BenchConfig) -> None:
    await core.seed(cfg)
    database = Database(cfg.url)
    try:
        async with database.engine.begin() as conn:
            await conn.execute(
                BotStateRow.__table__.insert(), {"key": SEED_MARK, "value": _mark(cfg)}
            )
    finally:
        await database.dispose()


async def seeded(cfg: BenchConfig) -> bool:
    """Whether the database holds this benchmark's seed (same sizes), as --reuse needs."""
    if cfg.backend == "sqlite" and not SQLITE_FILE.exists():
        return False
    database = Database(cfg.url)
    try:
        async with database.engine.connect() as conn:
            mark = (
                await conn.execute(select(BotStateRow.value).where(BotStateRow.key == SEED_MARK))
            ).scalar_one_or_none()
            if mark != _mark(cfg):
                return False
            n_badges = (
                await conn.execute(
                    select(func.count()).select_from(BADGES).where(BADGES.c.guild_id == GUILD)
                )
            ).scalar_one()
            return bool(n_badges == cfg.badges)
    except Exception:  # no tables, no database: seed it
        return False
    finally:
        await database.dispose()


def ensure_seeded(cfg: BenchConfig, reuse: bool) -> str:
    if reuse and asyncio.run(seeded(cfg)):
        return "reused the seeded database"
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        seconds = pool.submit(
            seed_process, cfg.backend, cfg.members, cfg.badges, cfg.awards, cfg.seed
        ).result()
    return f"seeded in {seconds:.0f} s"


async def cleanup(cfg: BenchConfig) -> int:
    """Remove what runs added (awards to bench users, events, role changes, bench tokens and
    their idempotency keys) and restore the badges' counts; the number of awards removed."""
    database = Database(cfg.url)
    a, b = AWARDS.c, BADGES.c
    try:
        async with database.engine.begin() as conn:
            removed = (
                await conn.execute(
                    delete(AWARDS).where(
                        a.guild_id == GUILD, a.user_id >= AWARD_LO, a.user_id < AWARD_HI
                    )
                )
            ).rowcount
            if removed:
                held = (
                    select(func.count())
                    .select_from(AWARDS)
                    .where(a.badge_id == b.id)
                    .scalar_subquery()
                )
                await conn.execute(
                    update(BADGES).where(b.guild_id == GUILD).values(awarded_count=held)
                )
            await conn.execute(delete(AUDIT_EVENTS).where(AUDIT_EVENTS.c.guild_id == GUILD))
            await conn.execute(delete(ROLE_CHANGES).where(ROLE_CHANGES.c.guild_id == GUILD))
            bench_tokens = select(API_TOKENS.c.id).where(
                API_TOKENS.c.guild_id == GUILD, API_TOKENS.c.name.startswith(TOKEN_PREFIX)
            )
            await conn.execute(
                delete(IDEMPOTENCY_KEYS).where(IDEMPOTENCY_KEYS.c.token_id.in_(bench_tokens))
            )
            await conn.execute(
                delete(API_TOKENS).where(
                    API_TOKENS.c.guild_id == GUILD, API_TOKENS.c.name.startswith(TOKEN_PREFIX)
                )
            )
        if removed and cfg.backend == "postgresql":
            async with database.engine.connect() as conn:
                auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await auto.exec_driver_sql("VACUUM ANALYZE awards, badges, audit_events")
        elif removed:
            async with database.engine.begin() as conn:
                await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return int(removed or 0)
    finally:
        await database.dispose()


@dataclass
class Fixtures:
    badge_ids: list[str]
    members_file: Path
    badges_file: Path
    token: str


async def fixtures(cfg: BenchConfig) -> Fixtures:
    """The id files the wrk scripts read, and a Moderator token for the awards."""
    database = Database(cfg.url)
    try:
        async with database.engine.connect() as conn:
            ids = list(
                (
                    await conn.execute(
                        select(BADGES.c.id)
                        .where(BADGES.c.guild_id == GUILD)
                        .order_by(BADGES.c.created_at, BADGES.c.id)
                    )
                ).scalars()
            )
        service = BadgeService(database)
        name = f"{TOKEN_PREFIX} {os.getpid()} {random.randrange(10**6)}"
        issued = await service.tokens.create(OPERATOR, GUILD, Level.MODERATOR, name)
    finally:
        await database.dispose()
    OUT.mkdir(exist_ok=True)
    members_file = OUT / f"wrk_members_{cfg.backend}.txt"
    badges_file = OUT / f"wrk_badges_{cfg.backend}.txt"
    members_file.write_text(
        "".join(f"{core.MEMBER_BASE + i}\n" for i in range(cfg.members)), encoding="ascii"
    )
    badges_file.write_text("".join(f"{b}\n" for b in ids), encoding="ascii")
    return Fixtures(ids, members_file, badges_file, issued.secret)


async def awards_between(cfg: BenchConfig, lo: int, hi: int) -> int:
    database = Database(cfg.url)
    a = AWARDS.c
    try:
        async with database.engine.connect() as conn:
            stmt = (
                select(func.count())
                .select_from(AWARDS)
                .where(a.guild_id == GUILD, a.user_id >= lo, a.user_id < hi)
            )
            return int((await conn.execute(stmt)).scalar_one())
    finally:
        await database.dispose()


async def consistent(cfg: BenchConfig) -> bool:
    database = Database(cfg.url)
    try:
        return await core.counts_consistent(database)
    finally:
        await database.dispose()


def nonce_range(nonce: int) -> tuple[int, int]:
    lo = int(f"7{nonce:06d}" + "0" * 11)
    return lo, lo + 10**11


def award_user(nonce: int, thread: int, n: int) -> str:
    return f"7{nonce:06d}{thread:02d}{n:09d}"  # as bench/wrk/award.lua makes them


# -- the server -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`badgebot api` as a child process (its own session), stopped by its pid."""

    def __init__(self, cfg: BenchConfig, workers: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = OUT / f"api_server_{cfg.backend}_{workers}w.log"
        env = dict(os.environ)
        env.update(
            BADGEBOT_DATABASE_URL=cfg.url,
            BADGEBOT_API_RATE_LIMIT="1000000",
            BADGEBOT_API_RATE_BURST="1000000",
            BADGEBOT_LOG_LEVEL="WARNING",
            # this checkout's code, also when the venv's editable install points elsewhere
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        )
        self.command = [
            str(Path(sys.executable).parent / "badgebot"),
            "api",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(workers),
        ]
        self._log = self.log.open("w")
        self.proc = subprocess.Popen(
            self.command,
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, probe: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.url, timeout=5) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise SystemExit(
                        f"badgebot api exited ({self.proc.returncode}): see {self.log}"
                    )
                try:
                    if client.get(probe).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.25)
        raise SystemExit(f"badgebot api did not answer in {timeout:.0f} s: see {self.log}")

    def pids(self) -> list[int]:
        """The server's process and its children (uvicorn's workers)."""
        out = [self.proc.pid]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid:
                out.append(int(stat.parent.name))
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: uvicorn's supervisor stops its workers
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


# -- CPU accounting -------------------------------------------------------------------------


def _cpu_of(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK  # utime, stime


def _postgres_pids() -> list[int]:
    out = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "postgres":
                out.append(int(comm.parent.name))
        except OSError:
            continue
    return out


def _machine() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / CLK, sum(values) / CLK


@dataclass
class CpuSample:
    server: dict[int, float]
    postgres: dict[int, float]
    wrk: float
    machine: tuple[float, float]
    at: float

    @staticmethod
    def take(server: Server) -> CpuSample:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return CpuSample(
            {p: _cpu_of(p) for p in server.pids()},
            {p: _cpu_of(p) for p in _postgres_pids()},
            children.ru_utime + children.ru_stime,  # finished children: the wrk runs
            _machine(),
            time.monotonic(),
        )


def cpu_use(before: CpuSample, after: CpuSample) -> dict[str, float]:
    """Cores used during a run, by server, PostgreSQL (all of it), wrk and the rest."""
    wall = after.at - before.at

    def delta(a: dict[int, float], b: dict[int, float]) -> float:
        return sum(v - a.get(p, 0.0) for p, v in b.items())

    server = delta(before.server, after.server) / wall
    pg = delta(before.postgres, after.postgres) / wall
    wrk = (after.wrk - before.wrk) / wall
    busy = (after.machine[0] - before.machine[0]) / wall
    workers = sorted(
        (after.server[p] - before.server.get(p, 0.0)) / wall
        for p in after.server
        if p in before.server
    )
    return {
        "server_by_process": [round(w, 2) for w in reversed(workers)],
        "server": server,
        "postgres": pg,
        "wrk": wrk,
        "other": max(0.0, busy - server - pg - wrk),
        "machine": busy,
    }


# -- wrk ------------------------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _ms(value: str, unit: str) -> float:
    return float(value) * _UNITS[unit]


@dataclass
class WrkResult:
    scenario: str
    command: str
    uptime: str
    rps: float = 0.0
    requests: int = 0
    seconds: float = 0.0
    avg_ms: float = 0.0
    max_ms: float = 0.0
    pct_ms: dict[str, float] = field(default_factory=dict)
    non_2xx: int = 0
    socket_errors: dict[str, int] = field(default_factory=dict)
    extra: dict[str, int] = field(default_factory=dict)  # from the script's done()
    cpu: dict[str, float] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)
    raw: str = ""

    @property
    def walks_per_s(self) -> float:
        return self.extra.get("walks", 0) / self.seconds if self.seconds else 0.0


def parse_wrk(result: WrkResult, output: str) -> WrkResult:
    result.raw = output
    m = re.search(r"Requests/sec:\s+([\d.]+)", output)
    result.rps = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h)", output)
    if m:
        result.requests = int(m.group(1))
        result.seconds = _ms(m.group(2), m.group(3)) / 1000
    m = re.search(
        r"Latency\s+([\d.]+)(us|ms|s|m|h)\s+([\d.]+)(us|ms|s|m|h)\s+([\d.]+)(us|ms|s|m|h)", output
    )
    if m:
        result.avg_ms = _ms(m.group(1), m.group(2))
        result.max_ms = _ms(m.group(5), m.group(6))
    for pct, value, unit in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.M):
        result.pct_ms[pct] = _ms(value, unit)
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    result.non_2xx = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if m:
        result.socket_errors = dict(
            zip(("connect", "read", "write", "timeout"), map(int, m.groups()), strict=True)
        )
    for line in re.findall(r"^(?:walk|award): (.*)$", output, re.M):
        for k, v in re.findall(r"(\w+)=(\d+)", line):
            result.extra[k] = int(v)
    return result


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def wrk_command(scenario: str, url: str, duration: int, fx: Fixtures, nonce: int) -> list[str]:
    args = {
        "member": ("member_badges.lua", [BASE, str(fx.members_file)]),
        "badge": ("one_badge.lua", [BASE, str(fx.badges_file)]),
        "list": ("badge_page.lua", [BASE, "100"]),
        "walk": ("badge_walk.lua", [BASE, "100"]),
        "award": ("award.lua", [BASE, str(fx.badges_file), fx.token, str(nonce)]),
    }
    script, script_args = args[scenario]
    return [
        "wrk",
        *WRK_ARGS,
        f"-d{duration}s",
        "-s",
        str((WRK / script).relative_to(ROOT)),
        url,
        "--",
        *script_args,
    ]


def run_wrk(scenario: str, server: Server, duration: int, fx: Fixtures, nonce: int) -> WrkResult:
    command = wrk_command(scenario, server.url, duration, fx, nonce)
    shown = " ".join(fx.token[:4] + "…" if c == fx.token else c for c in command)
    result = WrkResult(scenario, shown, uptime())
    before = CpuSample.take(server)
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    after = CpuSample.take(server)
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    parse_wrk(result, done.stdout + done.stderr)
    result.cpu = cpu_use(before, after)
    return result


# -- checks of every response class before the load ------------------------------------------


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"check failed: {what[:500]}")


def preflight(server: Server, fx: Fixtures, cfg: BenchConfig, rng: random.Random) -> list[str]:
    """A few requests of every scenario, answers checked in full; what was checked."""
    notes = []
    auth = {"Authorization": f"Bearer {fx.token}"}
    with httpx.Client(base_url=server.url, timeout=30) as client:
        held = 0
        for _ in range(50):
            user = core.MEMBER_BASE + rng.randrange(cfg.members)
            r = client.get(f"{BASE}/badges/users/{user}")
            expect(r.status_code == 200, r.text)
            body = r.json()
            expect(set(body) == {"badges", "nextCursor"}, str(body))
            held += len(body["badges"])
        expect(held > 0, "50 random members hold no badge: is the seed there?")
        notes.append(f"member: 50 random members -> 200, {held / 50:.1f} badges each on average")
        for badge_id in rng.sample(fx.badge_ids, 50):
            r = client.get(f"{BASE}/badges/{badge_id}")
            expect(r.status_code == 200, r.text)
            expect(r.json()["id"] == badge_id, r.text)
            expect(bool(r.headers.get("etag")), str(r.headers))
        notes.append("badge: 50 random badges -> 200 with their id and an ETag")
        r = client.get(f"{BASE}/badges?limit=100")
        body = r.json()
        expect(r.status_code == 200, r.text)
        expect(len(body["badges"]) == 100 and body["nextCursor"] is not None, "a page of 100")
        expect(all(isinstance(b["awardedCount"], int) for b in body["badges"]), "counts")
        notes.append("list: 200, 100 badges with awardedCount, a nextCursor")
        seen: list[str] = []
        cursor, pages = None, 0
        while True:
            params = {"limit": "100"} | ({"cursor": cursor} if cursor else {})
            r = client.get(f"{BASE}/badges", params=params)
            expect(r.status_code == 200, r.text)
            body = r.json()
            pages += 1
            seen += [b["id"] for b in body["badges"]]
            cursor = body["nextCursor"]
            if cursor is None:
                break
        expect(sorted(seen) == sorted(fx.badge_ids), "the walk saw every badge once")
        notes.append(f"walk: {pages} pages, all {len(seen)} badges once each, then null")
        nonce = 999_999
        payload = {"badgeId": fx.badge_ids[0], "userId": award_user(nonce, 99, 1), "reason": "x"}
        r = client.post(f"{BASE}/badges/award", json=payload, headers=auth)
        expect(r.status_code == 201, r.text)
        r = client.post(f"{BASE}/badges/award", json=payload, headers=auth)
        expect(r.status_code == 409, r.text)
        r = client.post(f"{BASE}/badges/award", json=payload)
        expect(r.status_code == 401, r.text)
        notes.append("award: 201 for a new pair, 409 for the same pair again, 401 without token")
    return notes


# -- one benchmark run ------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    cfg = config(args)
    print(
        f"## {cfg.backend}, {args.workers} worker(s): {cfg.badges:,} badges, "
        f"{cfg.members:,} members, {cfg.awards:,} awards",
        flush=True,
    )
    seeding = ensure_seeded(cfg, args.reuse)
    print(seeding, flush=True)
    removed = asyncio.run(cleanup(cfg))
    if removed:
        print(f"removed {removed} awards left by an earlier run", flush=True)
    fx = asyncio.run(fixtures(cfg))
    rng = random.Random(args.seed + 7)
    scenarios = args.scenarios
    server = Server(cfg, args.workers)
    results: list[WrkResult] = []
    report: dict[str, Any] = {
        "backend": cfg.backend,
        "workers": args.workers,
        "duration": args.duration,
        "seeding": seeding,
        "server": " ".join(server.command),
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }
    try:
        server.wait_ready(f"{BASE}/badges/{fx.badge_ids[0]}")
        time.sleep(3 if args.workers > 1 else 1)  # every worker up
        report["preflight"] = preflight(server, fx, cfg, rng)
        for note in report["preflight"]:
            print("  check", note, flush=True)
        if args.warmup:
            for scenario in scenarios:
                w = run_wrk(scenario, server, args.warmup, fx, rng.randrange(10**6))
                print(f"  warm-up {scenario}: {w.rps:.0f} req/s", flush=True)
        for scenario in scenarios:
            nonce = random.randrange(10**6)  # not from rng: a rerun must not reuse the user ids
            result = run_wrk(scenario, server, args.duration, fx, nonce)
            if scenario == "award":
                lo, hi = nonce_range(nonce)
                made = asyncio.run(awards_between(cfg, lo, hi))
                s201 = result.extra.get("s201", 0)
                result.checks.append(
                    f"awards in the database from this run: {made} (wrk counted {s201} x 201, "
                    f"{result.extra.get('s409', 0)} x 409, {result.extra.get('other', 0)} other; "
                    "requests still in flight when wrk stops are served but not counted)"
                )
            if scenario == "walk":
                result.checks.append(
                    f"walks completed {result.extra.get('walks', 0)}, pages "
                    f"{result.extra.get('pages', 0)}, errors {result.extra.get('errors', 0)}"
                )
            results.append(result)
            print(
                f"  {scenario}: {result.rps:.0f} req/s, p99 {result.pct_ms.get('99', 0):.1f} ms"
                f", non-2xx {result.non_2xx}, cpu {fmt_cpu(result.cpu)}",
                flush=True,
            )
    finally:
        server.stop()
    if "award" in scenarios:
        report["counts_consistent"] = asyncio.run(consistent(cfg))
    report["removed_awards"] = asyncio.run(cleanup(cfg))
    report["results"] = [asdict(r) | {"walks_per_s": r.walks_per_s} for r in results]
    return report


def fmt_cpu(cpu: dict[str, float]) -> str:
    return (
        f"server {cpu['server']:.2f} (by process {cpu['server_by_process']}), "
        f"postgres {cpu['postgres']:.2f}, wrk {cpu['wrk']:.2f}, "
        f"other {cpu['other']:.2f} cores"
    )


def table(report: dict[str, Any]) -> str:
    lines = [
        "| scenario | req/s | p50 ms | p99 ms | max ms | non-2xx | socket errors | "
        "CPU cores: server / PostgreSQL / wrk / other | reference | target |",
        "|---|---:|---:|---:|---:|---:|---|---|---|---|",
    ]
    for r in report["results"]:
        s = r["scenario"]
        rps = f"{r['rps']:,.0f}"
        if s == "walk":
            rps = f"{r['walks_per_s']:,.1f} walks/s ({r['rps']:,.0f} pages/s)"
        errors = ", ".join(f"{k} {v}" for k, v in r["socket_errors"].items() if v) or "0"
        cpu = r["cpu"]
        lines.append(
            f"| {TITLES[s]} | {rps} | {r['pct_ms'].get('50', 0):.1f} | "
            f"{r['pct_ms'].get('99', 0):.1f} | {r['max_ms']:.0f} | {r['non_2xx']} | {errors} | "
            f"{cpu['server']:.2f} / {cpu['postgres']:.2f} / {cpu['wrk']:.2f} / "
            f"{cpu['other']:.2f} | {TARGETS[s]['ref']} | {TARGETS[s]['target']} |"
        )
    return "\n".join(lines)


def _met(scenario: str, value: float, p99: float) -> str:
    """Whether a result meets the issue's target (value: req/s, or walks/s for the walk)."""
    goal = {
        "member": (2000, 50.0),
        "list": (1500, None),
        "walk": (150, None),
        "award": (500, 100.0),
    }
    if scenario not in goal:
        return "—"
    least, p99_under = goal[scenario]
    ok = value >= least and (p99_under is None or p99 < p99_under)
    return "yes" if ok else "**no**"


def summarize(paths: list[Path]) -> str:
    """Tables from saved reports: per backend and worker count, per scenario the median run
    (by req/s, or walks/s) with the range of all runs; its p50 and p99."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for path in paths:
        report = json.loads(path.read_text())
        groups[(report["backend"], report["workers"])].append(report)
    out = []
    for (backend, workers), reports in sorted(groups.items()):
        out.append(f"#### {backend}, {workers} worker{'s' if workers > 1 else ''}")
        out.append("")
        out.append(
            "| scenario | req/s, median of runs [range] | p50 ms | p99 ms | non-2xx | "
            "socket errors | other processes' CPU (cores) | reference | target | met? |"
        )
        out.append("|---|---:|---:|---:|---:|---|---|---|---|---|")
        for scenario in SCENARIOS:
            runs = [r for rep in reports for r in rep["results"] if r["scenario"] == scenario]
            if not runs:
                continue

            def value(r: dict[str, Any]) -> float:
                return float(r["walks_per_s"] if r["scenario"] == "walk" else r["rps"])

            runs.sort(key=value)
            mid = runs[(len(runs) - 1) // 2]
            lo, hi = value(runs[0]), value(runs[-1])
            unit = " walks/s" if scenario == "walk" else ""
            shown = f"{value(mid):,.0f}{unit} [{lo:,.0f}–{hi:,.0f}]"
            if scenario == "walk":
                shown = (
                    f"{value(mid):,.1f} walks/s [{lo:,.1f}–{hi:,.1f}] ({mid['rps']:,.0f} pages/s)"
                )
            errors: dict[str, int] = defaultdict(int)
            for r in runs:
                for k, v in r["socket_errors"].items():
                    errors[k] += v
            err = ", ".join(f"{k} {v}" for k, v in errors.items() if v) or "0"
            others = sorted(r["cpu"]["other"] for r in runs)
            p99 = mid["pct_ms"].get("99", 0.0)
            out.append(
                f"| {TITLES[scenario]} | {shown} | {mid['pct_ms'].get('50', 0):.1f} | "
                f"{p99:.1f} | {sum(r['non_2xx'] for r in runs)} | {err} | "
                f"{others[0]:.2f}–{others[-1]:.2f} | {TARGETS[scenario]['ref']} | "
                f"{TARGETS[scenario]['target']} | {_met(scenario, value(mid), p99)} |"
            )
        out.append("")
    return "\n".join(out)


# -- profile of one route, in process -------------------------------------------------------

_CATEGORIES = (
    ("/fastapi/", "FastAPI"),
    ("/starlette/", "Starlette"),
    ("/pydantic_core/", "pydantic"),
    ("/pydantic/", "pydantic"),
    ("/sqlalchemy/", "SQLAlchemy"),
    ("/asyncpg/", "asyncpg (driver)"),
    ("asyncpg.", "asyncpg (driver)"),
    ("/aiosqlite/", "aiosqlite (driver)"),
    ("sqlite3", "aiosqlite (driver)"),
    ("/httpx/", "httpx client + ASGITransport (bench side)"),
    ("/httpcore/", "httpx client + ASGITransport (bench side)"),
    ("/anyio/", "anyio"),
    ("/asyncio/", "asyncio"),
    ("/json/", "json"),
)
WAIT = "event-loop poll (waiting: DB thread, sockets)"
_CLIENT_STDLIB = ("/http/cookiejar.py", "/urllib/", "/email/")


def _category(key: tuple[str, int, str]) -> str | None:
    filename, _, name = key
    if filename == "~":
        if "poll" in name or "select." in name:
            return WAIT
        if "asyncpg" in name:
            return "asyncpg (driver)"
        return None  # a C function: counted where it is called from
    path = filename.replace("\\", "/")
    if "importlib" in path or any(m in path for m in _CLIENT_STDLIB):
        # httpx's ASGITransport tries an import on every request (is_running_trio), and
        # its cookie handling uses the stdlib's cookiejar/urllib: the client's cost
        return "httpx client + ASGITransport (bench side)"
    if path.endswith("/selectors.py"):
        return WAIT
    if path.startswith(str(ROOT)) and "/.venv/" not in path:
        part = Path(path).relative_to(ROOT).parts[0]
        return f"ours: {part}/"
    for needle, label in _CATEGORIES:
        if needle in path:
            return label
    if "/site-packages/" in path:
        return path.split("/site-packages/")[1].split("/")[0]
    return "Python stdlib (other)"


def self_time_by_category(stats: pstats.Stats) -> dict[str, float]:
    """Self time per category; a C function's time goes to the categories of its callers."""
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    out: dict[str, float] = defaultdict(float)
    for key, (_cc, _nc, tt, _ct, callers) in raw.items():
        cat = _category(key)
        if cat is not None:
            out[cat] += tt
            continue
        shares = {c: v[2] for c, v in callers.items()}
        total = sum(shares.values())
        if not total:
            out["C functions (caller unknown)"] += tt
            continue
        for caller, share in shares.items():
            out[_category(caller) or "C functions (caller unknown)"] += tt * share / total
    return dict(out)


async def _profile(args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy import event

    from api import create_app
    from bot.config import Settings

    cfg = config(args)
    fx = await fixtures(cfg)
    rng = random.Random(args.seed + 3)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=cfg.url,
        api_rate_limit=1_000_000,
        api_rate_burst=1_000_000,
        log_level="WARNING",
    )
    app = create_app(settings)
    nonce = random.randrange(10**6)  # not from rng: a rerun must not reuse the user ids
    counter = iter(range(1, 10**9))
    cursors: list[str | None] = [None]
    statements: list[str] = []

    def request_for(client: httpx.AsyncClient) -> Callable[[], Awaitable[httpx.Response]]:
        route = args.profile
        if route == "member":
            return lambda: client.get(
                f"{BASE}/badges/users/{core.MEMBER_BASE + rng.randrange(cfg.members)}"
            )
        if route == "badge":
            return lambda: client.get(f"{BASE}/badges/{rng.choice(fx.badge_ids)}")
        if route == "list":
            return lambda: client.get(f"{BASE}/badges", params={"limit": "100"})
        if route == "walk":  # one page of a walk: a random one of the 10
            return lambda: client.get(
                f"{BASE}/badges",
                params={"limit": "100"} | ({"cursor": c} if (c := rng.choice(cursors)) else {}),
            )
        auth = {"Authorization": f"Bearer {fx.token}"}
        return lambda: client.post(
            f"{BASE}/badges/award",
            json={
                "badgeId": rng.choice(fx.badge_ids),
                "userId": award_user(nonce, 1, next(counter)),
                "reason": "wrk bench",
            },
            headers=auth,
        )

    ok = 201 if args.profile == "award" else 200
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            if args.profile == "walk":
                cursor: str | None = None
                while True:
                    params = {"limit": "100"} | ({"cursor": cursor} if cursor else {})
                    cursor = (await client.get(f"{BASE}/badges", params=params)).json()[
                        "nextCursor"
                    ]
                    if cursor is None:
                        break
                    cursors.append(cursor)
            send = request_for(client)
            for _ in range(200):  # warm: caches, pool, statement caches
                r = await send()
                expect(r.status_code == ok, r.text)

            def on_statement(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
                statements.append(" ".join(statement.split())[:160])

            engine = app.state.api.database.engine.sync_engine
            event.listen(engine, "before_cursor_execute", on_statement)
            await send()
            event.remove(engine, "before_cursor_execute", on_statement)
            n = args.requests
            started = time.perf_counter()
            for _ in range(n):
                await send()
            plain = time.perf_counter() - started
            profiler = cProfile.Profile()
            started = time.perf_counter()
            profiler.enable()
            for _ in range(n):
                r = await send()
            profiler.disable()
            profiled = time.perf_counter() - started
            expect(r.status_code == ok, r.text)
            # let the webhook sender finish the round the last award woke: stopping it in
            # the same instant can hang the lifespan's exit on Python 3.11 (asyncio.wait_for
            # swallows a cancel that races with the event it waits for)
            await asyncio.sleep(1.5)
    stats = pstats.Stats(profiler)
    by_cat = self_time_by_category(stats)
    return {
        "backend": cfg.backend,
        "route": args.profile,
        "requests": n,
        "plain_ms": plain / n * 1000,
        "profiled_ms": profiled / n * 1000,
        "statements": statements,
        "categories": by_cat,
        "stats": stats,
    }


def profile(args: argparse.Namespace) -> None:
    cfg = config(args)
    if not asyncio.run(seeded(cfg)):
        print(ensure_seeded(cfg, reuse=False))
    asyncio.run(cleanup(cfg))
    try:
        result = asyncio.run(_profile(args))
    finally:
        asyncio.run(cleanup(cfg))
    print(
        f"## profile: {result['route']} on {result['backend']}, {result['requests']} sequential "
        "requests in process (httpx.ASGITransport, asyncio loop)"
    )
    print(
        f"per request: {result['plain_ms']:.2f} ms without the profiler "
        f"({1000 / result['plain_ms']:.0f} req/s on one core, client included), "
        f"{result['profiled_ms']:.2f} ms under cProfile"
    )
    print("SQL statements of one request (as SQLAlchemy sends them):")
    for s in result["statements"]:
        print("   ", s)
    cats = result["categories"]
    total = sum(cats.values())
    client = sum(v for k, v in cats.items() if "bench side" in k)
    print(f"\nself time by package ({total:.2f} s profiled; C functions charged to their callers)")
    print("| package | s | % of all | % of server side |")
    print("|---|---:|---:|---:|")
    for name, secs in sorted(cats.items(), key=lambda kv: -kv[1]):
        server_share = "—" if "bench side" in name else f"{100 * secs / (total - client):.1f}"
        print(f"| {name} | {secs:.2f} | {100 * secs / total:.1f} | {server_share} |")
    print("\ntop entries by cumulative time:")
    result["stats"].sort_stats("cumulative").print_stats(args.top)
    print("top entries by self time:")
    result["stats"].sort_stats("tottime").print_stats(args.top)


# -- main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--duration", type=int, default=30, help="seconds per wrk run")
    parser.add_argument("--warmup", type=int, default=5, help="seconds of wrk per scenario first")
    parser.add_argument("--reuse", action="store_true", help="keep a database seeded earlier")
    parser.add_argument(
        "--scenarios",
        type=lambda s: [x for x in s.split(",") if x],
        default=SCENARIOS,
        help="comma-separated: " + ",".join(SCENARIOS),
    )
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--badges", type=int, default=1_000)
    parser.add_argument("--awards", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--profile", choices=SCENARIOS, help="profile one route in process")
    parser.add_argument("--requests", type=int, default=2000, help="requests to profile")
    parser.add_argument("--top", type=int, default=35, help="profile entries to print")
    parser.add_argument("--json", type=Path, help="write the run's report here")
    parser.add_argument(
        "--summarize", type=Path, nargs="+", metavar="REPORT", help="tables from saved reports"
    )
    args = parser.parse_args()
    if args.summarize:
        print(summarize(args.summarize))
        return
    if args.backend is None:
        parser.error("--backend is required")
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    if args.profile:
        with exclusive():
            profile(args)
        return
    with exclusive():
        report = run(args)
    print()
    print(table(report))
    for r in report["results"]:
        for check in r["checks"]:
            print(f"- {r['scenario']}: {check}")
    if "counts_consistent" in report:
        print(f"- awarded_count matches the award rows: {report['counts_consistent']}")
    print(f"- awards made by the run, deleted afterwards: {report['removed_awards']}")
    path = args.json or OUT / f"api_{report['backend']}_{report['workers']}w.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"report: {path}")


if __name__ == "__main__":
    main()
