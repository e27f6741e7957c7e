"""One sandbox run: the real bot in SimCord, the demo server, its REST API and the page until
stopped."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import discord
import simcord
from pydantic import SecretStr

from bot.app import create_bot
from bot.config import Settings
from bot.sandbox.api import SandboxApi, serve_api
from bot.sandbox.avatars import default_avatars
from bot.sandbox.guide import channel_welcome, terminal_guide
from bot.sandbox.ports import PortInUse, port_in_use
from bot.sandbox.seed import seed
from bot.sandbox.world import DemoWorld, build_world
from db import state
from db.database import Database

IDS_KEY = "sandbox:ids"
BOT_NAME = "badgebot"


class SandboxError(Exception):
    """A problem the visitor can fix, told in one line."""


def sandbox_settings(database_path: Path) -> Settings:
    """Settings from nothing but the sandbox's own file: the environment and `.env` (the
    database, the development guild of `badgebot run`) must not leak in."""
    return Settings.model_construct(
        discord_token=SecretStr("simcord-needs-no-token"),
        database_url=f"sqlite+aiosqlite:///{database_path.resolve()}",
    )


async def check_ids(database: Database, world: DemoWorld) -> None:
    """Refuse a database whose awards point at other simulated ids than this world's (an
    entity that is gone or renamed is no reason to refuse)."""
    current = world.ids()
    stored: dict[str, int] = json.loads(await state.get_value(database, IDS_KEY) or "{}")
    moved = sorted(name for name, id_ in stored.items() if current.get(name, id_) != id_)
    if moved:
        raise SandboxError(
            f"this sandbox database was made for other simulated ids ({', '.join(moved[:3])}): "
            "start over with --fresh, or pick another file with --database"
        )
    await state.set_value(database, IDS_KEY, json.dumps({**stored, **current}, sort_keys=True))


async def _welcome(bot: discord.Client, world: DemoWorld) -> None:
    channel = bot.get_channel(world.general.id)
    assert isinstance(channel, discord.TextChannel)
    await channel.send(channel_welcome(world))


def _stop_on_signals() -> asyncio.Event:
    """Ctrl-C and SIGTERM end the run cleanly (a background job ignores SIGINT otherwise)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _until(stop: asyncio.Event, preview: simcord.Preview) -> None:
    """Wait for a signal, or for the page's "End preview session"."""
    waits = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(preview.wait_closed())}
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


@asynccontextmanager
async def open_sandbox(database_path: Path) -> AsyncIterator[DemoWorld]:
    """The real bot running in SimCord on the sandbox's database, with the demo server built
    and seeded."""
    database_path.parent.mkdir(parents=True, exist_ok=True)
    settings = sandbox_settings(database_path)
    database = Database(settings.database_url)
    try:
        bot = create_bot(settings, database=database)
        # A visitor's refusals are errors to SimCord; the bot answers them: do not re-raise.
        async with simcord.run(bot, check_errors=False) as env:
            # The simulated Discord starts empty: register the commands even when the bot
            # skipped it because the database remembers an earlier registration.
            await bot.tree.sync()
            assert bot.user is not None
            await bot.user.edit(username=BOT_NAME)
            world = await build_world(env)
            await check_ids(database, world)
            await seed(bot.service, database, world)
            yield world
    finally:
        await database.dispose()


@asynccontextmanager
async def _page(world: DemoWorld, port: int | None) -> AsyncIterator[simcord.Preview]:
    """SimCord's preview page of the channel, on 127.0.0.1, as any of the demo people."""
    page = world.env.preview(
        world.general,
        viewers=list(world.people),
        layout="channel",
        assets=default_avatars(),
        port=port,
    )
    try:
        preview = await page.__aenter__()
    except simcord.SetupError as exc:
        if port is not None and "bind" in str(exc):
            raise SandboxError(port_in_use(port)) from exc
        raise
    try:
        yield preview
    finally:
        await preview.close()


@dataclass(frozen=True)
class Sandbox:
    """A running sandbox: the demo server, the page, the API, and what the terminal says."""

    world: DemoWorld
    preview: simcord.Preview
    api: SandboxApi
    guide: str


@asynccontextmanager
async def start_sandbox(
    database_path: Path, port: int | None = None, api_port: int | None = None
) -> AsyncIterator[Sandbox]:
    """Everything `badgebot sandbox` serves, up until the block ends (ports None: free ones)."""
    async with open_sandbox(database_path) as world, AsyncExitStack() as stack:
        await _welcome(world.env.bot, world)
        # The API only now: the database is ready and the demo server seeded.
        try:
            api = await stack.enter_async_context(serve_api(world, api_port))
        except PortInUse as exc:
            raise SandboxError(port_in_use(exc.port, "--api-port")) from exc
        preview = await stack.enter_async_context(_page(world, port))
        yield Sandbox(world, preview, api, terminal_guide(preview.url, world, database_path, api))


async def serve(
    database_path: Path, port: int | None, out: TextIO, api_port: int | None = None
) -> None:
    """Run the sandbox on ``database_path`` until Ctrl-C, SIGTERM or the page ends it."""
    stop = _stop_on_signals()
    async with start_sandbox(database_path, port, api_port) as sandbox:
        print(sandbox.guide, file=out, flush=True)
        await _until(stop, sandbox.preview)
