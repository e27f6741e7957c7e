"""The bot as shipped, in processes of its own (tests.e2e.bot_process), for the crash and
scale-out tests: starting one against an emulator, reading its log, killing or stopping it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.emulator import DiscordEmulator

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class BotProcess:
    """One run of the bot's process; its stderr goes to ``log``."""

    proc: asyncio.subprocess.Process
    log: Path

    @property
    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        if self.proc.returncode is None:
            os.kill(self.proc.pid, signal.SIGKILL)

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                async with asyncio.timeout(10):
                    await self.proc.wait()
            except TimeoutError:
                self.kill()
                await self.proc.wait()


async def spawn(
    emu: DiscordEmulator,
    database_url: str,
    log: Path,
    env: Mapping[str, str],
    *extra: str,
) -> BotProcess:
    """Start `badgebot run` pointed at ``emu`` on ``database_url``, with ``env`` on top of
    this process's environment (the emulator's token is set) and ``extra`` launcher flags."""
    environment = os.environ | {
        "DISCORD_TOKEN": emu.token,
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    environment.pop("BADGEBOT_DATABASE_URL", None)
    with log.open("wb") as sink:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.e2e.bot_process",
            "--rest",
            emu.base_url,
            "--gateway",
            emu.gateway_url,
            "--database",
            database_url,
            *extra,
            cwd=ROOT,
            env=environment,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
        )
    return BotProcess(proc, log)
