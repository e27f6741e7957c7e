"""The product's bot in a process of its own, connected to an emulator in another
(bench/interactions.py starts it; the bot's CPU is then not shared with the emulator's loop).

    python -c "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], \
        run_name='__main__')" bench/bot_process.py --rest URL --gateway URL --database URL

Run through ``runpy`` with the working directory (and PYTHONPATH) at the copy of the product to
measure: this file imports ``bot``, ``db`` and ``tests.emulator.seams`` from there, so a
committed revision can be measured while the work tree holds others' unfinished edits.

What it does: ``tests.emulator.seams.set_seams(rest, gateway)``, then ``bot.app.create_bot``
with ``Settings(discord_token=TOKEN, database_url=...)``, ``login`` (its ``setup_hook``
migrates the database and syncs the commands) and ``connect``; prints ``READY`` once discord.py
is ready, and closes the bot on SIGTERM. With ``BENCH_PROFILE=<path>`` it runs cProfile from
READY until SIGTERM and writes the stats to ``<path>``, and the CPU seconds of the main
thread and of the other threads (SQLite's) to ``<path>.threads``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import logging
import os
import signal
from pathlib import Path


def thread_cpu() -> dict[str, float]:
    """CPU seconds of this process's main thread and of all its other threads (aiosqlite runs
    SQLite in threads of its own, where cProfile does not look)."""
    tick = os.sysconf("SC_CLK_TCK")
    times = {"main thread": 0.0, "other threads": 0.0}
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(OSError):
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            key = "main thread" if int(task.name) == os.getpid() else "other threads"
            times[key] += (int(fields[11]) + int(fields[12])) / tick
    return times


async def run(rest: str, gateway: str, database_url: str) -> None:
    from bot.app import create_bot
    from bot.config import Settings
    from tests.emulator.seams import set_seams
    from tests.emulator.state import TOKEN

    set_seams(rest, gateway)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, discord_token=TOKEN, database_url=database_url
    )
    bot = create_bot(settings)
    bot._connection.guild_ready_timeout = 0.3  # discord.py waits 2 s for late guilds
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    profile_path = os.environ.get("BENCH_PROFILE")
    profiler = cProfile.Profile() if profile_path else None
    cpu_at_ready: dict[str, float] = {}
    await bot.login(TOKEN)
    task = asyncio.create_task(bot.connect(reconnect=True), name="bot-connect")
    try:
        async with asyncio.timeout(60):
            await bot.wait_until_ready()
        if profiler is not None:
            profiler.enable()
        cpu_at_ready = thread_cpu()
        print("READY", flush=True)
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({stopped, task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if profiler is not None and profile_path:
            profiler.disable()
            profiler.dump_stats(profile_path)
            used = {k: v - cpu_at_ready.get(k, 0.0) for k, v in thread_cpu().items()}
            Path(profile_path + ".threads").write_text(repr(used))  # noqa: ASYNC240
        await bot.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def main() -> None:
    parser = argparse.ArgumentParser(description="badgebot, pointed at an emulator")
    parser.add_argument("--rest", required=True, help="http://127.0.0.1:PORT/api/v10")
    parser.add_argument("--gateway", required=True, help="ws://127.0.0.1:PORT/")
    parser.add_argument("--database", required=True, help="SQLAlchemy URL")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(run(args.rest, args.gateway, args.database))


if __name__ == "__main__":
    main()
