"""The bot as shipped (tests.e2e.bot_process) with SQL timing, for the wire benchmarks; and the
helpers those benchmarks use to start it and read its process from /proc.

    python -m bench.bot_profile --sql-log FILE [--cprofile FILE] -- \\
        --rest URL --gateway URL --database URL

Everything after ``--`` goes to tests.e2e.bot_process unchanged (``badgebot run`` plus the two
discord.py seams). Before that this module listens to SQLAlchemy's engine events (no product
code changes): every transaction that lasts ``--slow-ms`` or more is written to ``--sql-log``
as one JSON line (wall time from BEGIN to COMMIT/ROLLBACK, time inside statements, statement
count, rows sent, and the costliest statement kinds); at exit a last line holds the totals per
statement kind. ``--cprofile`` runs cProfile over the whole process and dumps it at exit.
With ``--gc-report FILE``, SIGUSR1 makes the process append one JSON line to FILE: live objects
by type (top 25), and the sizes of discord.py's caches (messages, views, users, members).
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import cProfile
import json
import os
import re
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_KIND = re.compile(
    r"^\s*(SELECT .*? FROM \S+|INSERT INTO \S+|UPDATE \S+|DELETE FROM \S+|\S+)", re.S
)


def statement_kind(statement: str) -> str:
    """``INSERT INTO awards``, ``SELECT ... FROM badges``, ``COMMIT``: what a statement is."""
    match = _KIND.match(statement)
    kind = match.group(1) if match else statement[:40]
    if kind.startswith("SELECT"):
        kind = "SELECT FROM " + kind.rsplit(" FROM ", 1)[-1]
    return kind.replace('"', "")[:60]


class SqlTimer:
    """Engine-event listeners: per-transaction and per-kind statement timing."""

    def __init__(self, sink: Path, slow_ms: float) -> None:
        self.sink = sink.open("a", buffering=1)
        self.slow = slow_ms / 1000
        self.kinds: dict[str, list[float]] = {}  # kind: [count, seconds, rows]

    def install(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.listen(Engine, "begin", self._begin)
        event.listen(Engine, "commit", lambda conn: self._end(conn, "commit"))
        event.listen(Engine, "rollback", lambda conn: self._end(conn, "rollback"))
        event.listen(Engine, "before_cursor_execute", self._before)
        event.listen(Engine, "after_cursor_execute", self._after)
        atexit.register(self.dump)

    def _begin(self, conn: Any) -> None:
        conn.info["bench_tx"] = {"start": time.perf_counter(), "sql": 0.0, "n": 0, "rows": 0}
        conn.info["bench_tx_kinds"] = {}

    def _before(self, conn: Any, cursor: Any, statement: str, params: Any, *rest: Any) -> None:
        conn.info["bench_t0"] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, params: Any, *rest: Any) -> None:
        took = time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())
        rows = (
            len(params)
            if isinstance(params, list | tuple)
            and params
            and (isinstance(params[0], dict | list | tuple))
            else 1
        )
        kind = statement_kind(statement)
        total = self.kinds.setdefault(kind, [0, 0.0, 0])
        total[0] += 1
        total[1] += took
        total[2] += rows
        tx = conn.info.get("bench_tx")
        if tx is not None:
            tx["sql"] += took
            tx["n"] += 1
            tx["rows"] += rows
            mine = conn.info["bench_tx_kinds"].setdefault(kind, [0, 0.0, 0])
            mine[0] += 1
            mine[1] += took
            mine[2] += rows

    def _end(self, conn: Any, how: str) -> None:
        tx = conn.info.pop("bench_tx", None)
        kinds = conn.info.pop("bench_tx_kinds", {})
        if tx is None:
            return
        wall = time.perf_counter() - tx["start"]
        if wall < self.slow:
            return
        top = sorted(kinds.items(), key=lambda kv: -kv[1][1])[:8]
        record = {
            "tx": how,
            "at": time.time(),
            "wall_s": round(wall, 4),
            "sql_s": round(tx["sql"], 4),
            "statements": tx["n"],
            "rows": tx["rows"],
            "kinds": [[k, int(v[0]), round(v[1], 4), int(v[2])] for k, v in top],
        }
        self.sink.write(json.dumps(record) + "\n")

    def dump(self) -> None:
        kinds = sorted(self.kinds.items(), key=lambda kv: -kv[1][1])
        totals = [[k, int(v[0]), round(v[1], 4), int(v[2])] for k, v in kinds]
        self.sink.write(json.dumps({"totals": totals}) + "\n")
        self.sink.flush()


def gc_report(sink: Path) -> None:
    """Append what the process holds: objects by type, discord.py's caches."""
    import gc
    from collections import Counter

    import discord

    gc.collect()
    # the bot freezes what it loaded at start (gc.freeze): get_objects() sees the rest only
    objects = gc.get_objects()
    by_type = Counter(type(o).__name__ for o in objects)
    caches: dict[str, int] = {}
    clients = {
        id(value): value
        for task in asyncio.all_tasks(asyncio.get_event_loop())
        if (frame := getattr(task.get_coro(), "cr_frame", None)) is not None
        for value in frame.f_locals.values()
        if isinstance(value, discord.Client)
    }
    for client in clients.values():
        state = client._connection
        store = state._view_store
        caches = {
            "messages": len(state._messages or ()),
            "views (items)": sum(len(v) for v in store._views.values()),
            "message views": len(store._synced_message_views),
            "users": len(state._users),
            "guild members": sum(len(g._members) for g in state._guilds.values()),
            "guilds": len(state._guilds),
            "tasks": len(asyncio.all_tasks(client.loop)),
        }
    caches["Paginator views"] = by_type.get("Paginator", 0)
    caches["Interaction objects"] = by_type.get("Interaction", 0)
    record = {
        "at": time.time(),
        "objects": len(objects),
        "frozen": gc.get_freeze_count(),
        "caches": caches,
    }
    record["types"] = by_type.most_common(25)
    del objects
    with sink.open("a") as out:
        out.write(json.dumps(record) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser(prog="bench.bot_profile")
    parser.add_argument("--sql-log", type=Path, required=True)
    parser.add_argument("--slow-ms", type=float, default=50.0)
    parser.add_argument("--cprofile", type=Path)
    parser.add_argument("--gc-report", type=Path)
    args = parser.parse_args(argv[:split])
    if args.gc_report is not None:
        report = args.gc_report
        signal.signal(signal.SIGUSR1, lambda signum, frame: gc_report(report))
    SqlTimer(args.sql_log, args.slow_ms).install()
    if args.cprofile is not None:
        profiler = cProfile.Profile()
        profiler.enable()

        def dump() -> None:
            profiler.disable()
            profiler.dump_stats(args.cprofile)

        atexit.register(dump)
    from tests.e2e import bot_process

    return bot_process.main(argv[split + 1 :])


# -- the driving side -----------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (/proc/PID/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MiB, from /proc/PID/status."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


@dataclass
class BotRun:
    """The bot's process, started by ``start_bot``; its output goes to ``log``."""

    proc: asyncio.subprocess.Process
    log: Path
    sql_log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def transactions(self) -> list[dict[str, Any]]:
        if not self.sql_log.exists():
            return []
        lines = self.sql_log.read_text().splitlines()
        return [r for r in map(json.loads, lines) if "tx" in r]

    def totals(self) -> list[list[Any]]:
        if not self.sql_log.exists():
            return []
        for line in reversed(self.sql_log.read_text().splitlines()):
            record = json.loads(line)
            if "totals" in record:
                return list(record["totals"])
        return []

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                async with asyncio.timeout(20):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


def _prepare(out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    log, sql_log = out / "bot.log", out / "sql.jsonl"
    sql_log.unlink(missing_ok=True)
    return log, sql_log


async def start_bot(
    rest: str,
    gateway: str,
    database_url: str,
    out: Path,
    *,
    members_intent: bool,
    cprofile: Path | None = None,
    gc_report: Path | None = None,
) -> BotRun:
    """Start ``python -m bench.bot_profile`` (the shipped bot) pointed at an emulator."""
    log, sql_log = _prepare(out)
    env = os.environ | {
        "DISCORD_TOKEN": "MTAwMDAwMDAwMDAwMDAwMDAx.GbEmul.emulator-token-not-a-real-one-000",
        "BADGEBOT_MEMBERS_INTENT": "true" if members_intent else "false",
        "BADGEBOT_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("BADGEBOT_DATABASE_URL", None)
    extra = ["--cprofile", str(cprofile)] if cprofile else []
    extra += ["--gc-report", str(gc_report)] if gc_report else []
    argv = ["-m", "bench.bot_profile", "--sql-log", str(sql_log), *extra, "--"]
    argv += ["--rest", rest, "--gateway", gateway, "--database", database_url]
    with log.open("wb") as sink:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *argv,
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
        )
    return BotRun(proc, log, sql_log)


def migrate(database_url: str) -> None:
    """``badgebot db upgrade`` on ``database_url`` (as an operator would)."""
    import subprocess

    env = os.environ | {"BADGEBOT_DATABASE_URL": database_url, "DISCORD_TOKEN": ""}
    badgebot = Path(sys.executable).parent / "badgebot"
    subprocess.run([str(badgebot), "db", "upgrade"], cwd=ROOT, env=env, check=True)


if __name__ == "__main__":
    sys.exit(main())
