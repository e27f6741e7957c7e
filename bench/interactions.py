"""Interaction speed over a real transport (issue 11), our bot side by side with a naive one.

    .venv/bin/python -m bench.interactions --runs 2

Three processes: the Discord emulator (``python -m tests.emulator``, REST and gateway on
127.0.0.1), the bot under test, and this one, which only tells the emulator what to do through
its ``/_emulator/`` routes (tests.emulator.control). The schedule of commands runs inside the
emulator's process, and every time is the emulator's own clock: ``ack`` = INTERACTION_CREATE
sent to the first callback received, ``completion`` = to the first reply with content.

Bots: ``ours`` (bench/bot_process.py: ``bot.app.create_bot`` of the revision given by ``--code``,
on a fresh migrated SQLite file) and ``naive`` (bench/naive_bot.py: plain discord.py, one session
per command, the role added inline). Each (run, command, bot, scenario) gets a fresh bot process
and a fresh database, so no backlog carries over; only one bot is connected at a time.

Guild: an admin, a moderator (Manage Roles), a role ``Helpers`` and ``--members`` plain members.
Before each scenario the bot gets badges ``First``..``Fifth`` (ours: /badge create; the naive
bot: rows at start) and ``Helper`` linked to ``Helpers``; the moderator awards the five to one
member, ``alice``; then a warm-up of 10 commands at 20/s.

Commands: ``/badges member:alice``, each invoked by a different plain member (our bot allows a
member 3 public replies per 15 s); ``badges-own``: ``/badges`` with no member, each member
asking about their own (none), so no page is read twice (our bot's page cache never hits);
``/badge award badge:Helper member:<a different plain member each time>``, invoked by the
moderator; the member-role bucket is 10 per second (``--role-limit``).

Scenarios: ``paced`` (100/s for 10 s), ``burst`` (500 at once), ``ramp`` (50, 100, 200, 400,
800, 1600/s, 5 s each, one after another). After the last command the emulator waits
``--drain`` s at most for replies. *sustained* = the highest ramp step whose ack p99 is under
1 s, counting only steps reached without failing one (an unacknowledged interaction counts as
infinitely late).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "interactions"
MANAGE_GUILD, MANAGE_ROLES = 1 << 5, 1 << 28
BADGES = ("First", "Second", "Third", "Fourth", "Fifth")
RAMP = (50, 100, 200, 400, 800, 1600)
NAMES = {"badges": "/badges", "badges-own": "/badges (own)", "award": "/badge award"}
RUNPY = (
    "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
)


# -- the emulator and the bots, each a process -------------------------------------------------


class Process:
    """A child process that prints a line (``LISTENING``/``READY``) once it is up."""

    def __init__(self, name: str, argv: list[str], *, cwd: Path, env: dict[str, str]) -> None:
        self.name = name
        self.argv, self.cwd, self.env = argv, cwd, env
        self.proc: asyncio.subprocess.Process | None = None
        self.log = OUT / f"{name}.log"

    async def start(self, expect: str, within: float = 90.0) -> str:
        stderr = self.log.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv,
            cwd=self.cwd,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
        stderr.close()
        assert self.proc.stdout is not None
        async with asyncio.timeout(within):
            while True:
                line = (await self.proc.stdout.readline()).decode()
                if not line:
                    raise RuntimeError(f"{self.name} exited before {expect}; see {self.log}")
                if line.startswith(expect):
                    return line.strip()

    def cpu_seconds(self) -> float:
        """User + system CPU time so far (from /proc)."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(30):
                await self.proc.wait()
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


class Emulator:
    """The emulator process and its control routes."""

    def __init__(self, role_limit: int) -> None:
        argv = [
            sys.executable,
            "-m",
            "tests.emulator",
            "--limit",
            f"member role add={role_limit}/1",
            "--limit",
            "commands=100000/86400",  # every bot start syncs its commands
        ]
        self.process = Process("emulator", argv, cwd=ROOT, env=dict(os.environ))
        self.port = 0
        self.http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self.port = int((await self.process.start("LISTENING")).split()[1])
        timeout = aiohttp.ClientTimeout(total=None)
        self.http = aiohttp.ClientSession(f"http://127.0.0.1:{self.port}", timeout=timeout)

    @property
    def rest(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    async def call(self, method: str, route: str, body: Any = None) -> Any:
        assert self.http is not None
        async with self.http.request(method, f"/_emulator/{route}", json=body) as response:
            response.raise_for_status()
            return await response.json()

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.close()
        await self.process.stop()


@dataclass
class Guild:
    id: str
    admin: int
    mod: int
    alice: int
    helpers: int
    plain: list[int]


async def make_guild(emu: Emulator, members: int) -> Guild:
    body = {
        "name": "Bench",
        "roles": {"Admins": MANAGE_GUILD | MANAGE_ROLES, "Mods": MANAGE_ROLES, "Helpers": 0},
        "members": {"admin": ["Admins"], "mod": ["Mods"], "alice": []},
        "plain": members,
    }
    made = await emu.call("POST", "guilds", body)
    m = made["members"]
    return Guild(
        made["guild"], m["admin"], m["mod"], m["alice"], made["roles"]["Helpers"], made["plain"]
    )


def code_dir(code: str) -> tuple[Path, str]:
    """The copy of the product our bot runs from: the work tree, or a committed revision
    extracted with ``git archive`` (others' unfinished edits in the tree are then left out)."""
    if code == "worktree":
        return ROOT, "work tree"
    sha = subprocess.run(
        ["git", "rev-parse", "--short", code], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()
    target = OUT / f"code-{sha}"
    if not target.exists():
        target.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", sha], cwd=ROOT, check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target, sha


def bot_process(
    which: str, emu: Emulator, guild: Guild, database: Path, args: argparse.Namespace, tag: str
) -> Process:
    url = f"sqlite+aiosqlite:///{database}"
    env = dict(os.environ)
    if which == "ours":
        code, _ = code_dir(args.code)
        env["PYTHONPATH"] = str(code)
        if args.profile:
            env["BENCH_PROFILE"] = str(OUT / f"profile-{tag}.prof")
        script = str(ROOT / "bench" / "bot_process.py")
        argv = [sys.executable, "-c", RUNPY, script, "--rest", emu.rest, "--gateway", emu.gateway]
        return Process(f"ours-{tag}", [*argv, "--database", url], cwd=code, env=env)
    seeds = [f"{guild.id}:{name}" for name in BADGES] + [f"{guild.id}:Helper:{guild.helpers}"]
    argv = [sys.executable, "-m", "bench.naive_bot", "--rest", emu.rest, "--gateway", emu.gateway]
    argv += ["--database", url, "--defer", args.naive_defer]
    for seed in seeds:
        argv += ["--badge", seed]
    return Process(f"naive-{tag}", argv, cwd=ROOT, env=env)


async def seed(emu: Emulator, guild: Guild, which: str) -> None:
    """Badges (our bot: by command), the five awarded to alice."""

    async def invoke(user: int, command: str, expect: str, **options: Any) -> None:
        body = {"guild": guild.id, "user": user, "command": command, "options": options}
        done = await emu.call("POST", "invoke", body)
        if done["completion"] is None or expect not in done["text"]:
            raise RuntimeError(f"seeding /{command} {options} failed: {done}")

    if which == "ours":
        await invoke(guild.admin, "badge create", "Created", name="Helper", role=guild.helpers)
        for name in BADGES:
            await invoke(guild.admin, "badge create", "Created", name=name)
    for name in BADGES:
        await invoke(guild.mod, "badge award", name, badge=name, member=guild.alice)


# -- scenarios -------------------------------------------------------------------------------


def offsets(scenario: str) -> tuple[list[float], list[int]]:
    """Send times (s from start) and, for the ramp, the rate of each one's step."""
    if scenario == "paced":
        return [i / 100 for i in range(1000)], [100] * 1000
    if scenario == "burst":
        return [0.0] * 500, [0] * 500
    times: list[float] = []
    rates: list[int] = []
    for step, rate in enumerate(RAMP):
        count = rate * 5
        times += [step * 5 + i / rate for i in range(count)]
        rates += [rate] * count
    return times, rates


def items(command: str, guild: Guild, times: Sequence[float], users: Sequence[int]) -> list[Any]:
    if command == "badges":
        return [
            [t, u, "badges", {"member": guild.alice}] for t, u in zip(times, users, strict=True)
        ]
    if command == "badges-own":  # every member asks about themselves: no page read twice
        return [[t, u, "badges", {}] for t, u in zip(times, users, strict=True)]
    return [
        [t, guild.mod, "badge award", {"badge": "Helper", "member": u}]
        for t, u in zip(times, users, strict=True)
    ]


# -- numbers ---------------------------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile; inf (never) sorts last."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)] if ordered else math.nan


def ms(value: float) -> str:
    if math.isinf(value):
        return "never"
    return f"{value * 1000:,.0f}" if value >= 0.0995 else f"{value * 1000:.1f}"


@dataclass
class Stats:
    rows: list[list[Any]]
    n: int = 0
    ack: list[float] = field(default_factory=list)
    done: list[float] = field(default_factory=list)
    expired: int = 0
    unacked: int = 0
    unanswered: int = 0
    errors: int = 0
    late_max: float = 0.0

    def __post_init__(self) -> None:
        self.n = len(self.rows)
        for _, late, ack, done, _type, ephemeral, refused in self.rows:
            self.ack.append(math.inf if ack is None else ack)
            self.done.append(math.inf if done is None else done)
            self.expired += 10062 in refused
            self.unacked += ack is None
            self.unanswered += done is None
            self.errors += bool(ephemeral) and done is not None
            self.late_max = max(self.late_max, late)


Step = tuple[int, float, float, int]  # rate, ack p99, completion p99, unanswered


def sustained(rows: list[list[Any]], rates: list[int]) -> tuple[int, int, list[Step]]:
    """Highest ramp rates whose step has ack p99 < 1 s, and whose step also has every reply
    in and completion p99 < 3 s (each without failing a lower step)."""
    steps: list[Step] = []
    best_ack = best_answered = 0
    failed_ack = failed_answered = False
    for rate in RAMP:
        step = Stats([r for r, s in zip(rows, rates, strict=True) if s == rate])
        ack, done = pct(step.ack, 99), pct(step.done, 99)
        steps.append((rate, ack, done, step.unanswered))
        failed_ack = failed_ack or ack >= 1.0
        failed_answered = failed_answered or failed_ack or done >= 3.0 or step.unanswered > 0
        best_ack = rate if not failed_ack else best_ack
        best_answered = rate if not failed_answered else best_answered
    return best_ack, best_answered, steps


@dataclass
class Result:
    bot: str
    command: str
    scenario: str
    run: int
    stats: Stats
    bot_cpu: float
    emu_cpu: float
    seconds: float
    load: float = 0.0
    best: int = 0
    best_answered: int = 0
    steps: list[Step] = field(default_factory=list)


HEADER = (
    "| bot | command | scenario | run | sent | ack p50 ms | ack p99 ms | ack max ms "
    "| completion p50 ms | completion p99 ms | 10062 | not acked | no reply | error replies "
    "| emulator late max ms | bot CPU % | emulator CPU % | load |\n"
    "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def table_row(r: Result) -> str:
    s = r.stats
    cells = [
        r.bot,
        NAMES[r.command],
        r.scenario,
        str(r.run),
        f"{s.n:,}",
        ms(pct(s.ack, 50)),
        ms(pct(s.ack, 99)),
        ms(max(s.ack)),
        ms(pct(s.done, 50)),
        ms(pct(s.done, 99)),
        str(s.expired),
        str(s.unacked),
        str(s.unanswered),
        str(s.errors),
        ms(s.late_max),
        f"{100 * r.bot_cpu / r.seconds:.0f}",
        f"{100 * r.emu_cpu / r.seconds:.0f}",
        f"{r.load:.1f}",
    ]
    return "| " + " | ".join(cells) + " |"


def rate(best: int) -> str:
    return f"{best}/s" if best else f"< {RAMP[0]}/s"


def ramp_row(r: Result) -> str:
    steps = ", ".join(
        f"{rate}/s: {ms(ack)} / {ms(done)}" + (f" ({lost} unanswered)" if lost else "")
        for rate, ack, done, lost in r.steps
    )
    best = f"{rate(r.best)} | {rate(r.best_answered)}"
    return f"| {r.bot} | {NAMES[r.command]} | {r.run} | {best} | {steps} |"


# -- the whole run ---------------------------------------------------------------------------


async def one(
    emu: Emulator,
    guild: Guild,
    args: argparse.Namespace,
    which: str,
    command: str,
    scenario: str,
    run: int,
) -> Result:
    tag = f"{run}-{command}-{scenario}"
    await emu.call("POST", "reset", {"strip_roles": [guild.helpers]})
    database = OUT / f"{which}-{tag}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)  # noqa: ASYNC240 (between runs)
    bot = bot_process(which, emu, guild, database, args, tag)
    await bot.start("READY")
    try:
        status = await emu.call("GET", "status")
        if not {"badges", "badge"} <= set(status["commands"]):
            raise RuntimeError(f"commands not synced: {status}")
        await seed(emu, guild, which)
        times, rates = offsets(scenario)
        users = guild.plain[: len(times)]
        warm = items(command, guild, [i / 20 for i in range(10)], guild.plain[-10:])
        await emu.call("POST", "run", {"guild": guild.id, "items": warm, "drain": 10})
        await asyncio.sleep(2.0)  # the warm-up's role changes go out (10/s)
        body = {
            "guild": guild.id,
            "items": items(command, guild, times, users),
            "drain": args.drain,
        }
        cpu_bot, cpu_emu, started = bot.cpu_seconds(), emu.process.cpu_seconds(), time.monotonic()
        answer = await emu.call("POST", "run", body)
        seconds = time.monotonic() - started
        cpu_bot, cpu_emu = bot.cpu_seconds() - cpu_bot, emu.process.cpu_seconds() - cpu_emu
    finally:
        await bot.stop()
    rows = answer["rows"]
    result = Result(which, command, scenario, run, Stats(rows), cpu_bot, cpu_emu, seconds)
    result.load = os.getloadavg()[0]  # 1-minute load average, at the end of the scenario
    if scenario == "ramp":
        result.best, result.best_answered, result.steps = sustained(rows, rates)
    saved = OUT / f"rows-{which}-{tag}.json"
    saved.write_text(json.dumps({"rates": rates, "rows": rows}))
    print(table_row(result), flush=True)
    return result


def ratio(ours: int, naive: int) -> str:
    if naive:
        return f"ours {rate(ours)} / naive {rate(naive)} = {ours / naive:.2g}x"
    return f"ours {rate(ours)} / naive {rate(naive)}"


def report(results: list[Result], header: str) -> str:
    lines = [header, "", HEADER, *(table_row(r) for r in results)]
    ramps = [r for r in results if r.scenario == "ramp"]
    if ramps:
        lines += [
            "",
            "| bot | command | run | sustained: ack p99 < 1 s | sustained: also answered, "
            "completion p99 < 3 s | per ramp step: ack p99 / completion p99 ms |",
            "|---|---|---:|---:|---:|---|",
            *(ramp_row(r) for r in ramps),
            "",
        ]
        for command in sorted({r.command for r in ramps}):
            for run in sorted({r.run for r in ramps}):
                pair = {r.bot: r for r in ramps if r.command == command and r.run == run}
                if "ours" in pair and "naive" in pair:
                    ours, naive = pair["ours"], pair["naive"]
                    lines.append(
                        f"- {command}, run {run}: ack criterion {ratio(ours.best, naive.best)}, "
                        f"answered criterion {ratio(ours.best_answered, naive.best_answered)}"
                    )
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    _, code = code_dir(args.code) if "ours" in args.bots else (None, "-")
    args.code = code if code != "work tree" else "worktree"  # one revision for the whole run
    emu = Emulator(args.role_limit)
    await emu.start()
    results: list[Result] = []
    try:
        guild = await make_guild(emu, args.members)
        print(HEADER, flush=True)
        for run in range(1, args.runs + 1):
            for command in args.commands:
                for which in args.bots:
                    for scenario in args.scenarios:
                        results.append(await one(emu, guild, args, which, command, scenario, run))
    finally:
        await emu.stop()
    header = (
        f"our bot: {code}; naive bot defers: {args.naive_defer}; {args.members:,} members; "
        f"role bucket {args.role_limit}/s; drain {args.drain} s; nproc {os.cpu_count()}; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    print()
    print(report(results, header))
    if not args.keep:
        for path in OUT.glob("*.db*"):
            path.unlink()
        for path in OUT.glob("code-*"):
            shutil.rmtree(path, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.interactions", description=__doc__)
    parser.add_argument("--bots", nargs="+", choices=("ours", "naive"), default=["ours", "naive"])
    parser.add_argument("--commands", nargs="+", choices=tuple(NAMES), default=["badges", "award"])
    parser.add_argument(
        "--scenarios",
        nargs="+",
        choices=("paced", "burst", "ramp"),
        default=["paced", "burst", "ramp"],
    )
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--role-limit", type=int, default=10, help="member role adds per second")
    parser.add_argument("--drain", type=float, default=15.0, help="s to wait for replies")
    parser.add_argument("--code", default="HEAD", help="git revision of our bot, or 'worktree'")
    parser.add_argument("--naive-defer", choices=("award", "always", "never"), default="award")
    parser.add_argument("--profile", action="store_true", help="cProfile our bot (slower)")
    parser.add_argument("--keep", action="store_true", help="keep databases and code copies")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
