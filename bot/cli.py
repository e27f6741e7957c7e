"""The `badgebot` command: run the bot, upgrade the database, try it in the sandbox."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Sequence

import aiohttp
import discord
from discord.ext import commands
from pydantic import ValidationError

from bot import api_cli
from bot.app import DatabaseBehind, create_bot
from bot.config import Settings
from bot.sandbox import command as sandbox
from db import migrate
from db.database import Database


def _fail(message: str) -> int:
    print(f"badgebot: {message}", file=sys.stderr)
    return 2


def _settings(args: argparse.Namespace) -> Settings:
    """Settings from the environment and .env; `run`'s shard flags take precedence."""
    overrides: dict[str, object] = {}
    if getattr(args, "shard_count", None) is not None:
        overrides["shard_count"] = args.shard_count
    if getattr(args, "shard_ids", None) is not None:
        overrides["shard_ids"] = args.shard_ids
    return Settings(**overrides)  # type: ignore[arg-type]


log = logging.getLogger("badgebot")


class Outage:
    """One log line when Discord stops answering and one when it answers again, however
    many tries lie between (a traceback or a line per try would bury everything else)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.since: float | None = None

    def failed(self, exc: BaseException, what: str) -> bool:
        """Note a failed try; True if it began a new outage (and was logged)."""
        if self.since is not None:
            return False
        self.since = self._clock()
        log.warning(
            "Discord is unreachable (%s: %s) while %s; retrying with backoff",
            type(exc).__name__,
            exc,
            what,
        )
        return True

    def recovered(self, what: str) -> None:
        if self.since is None:
            return
        log.warning("Discord is reachable again after %.0f s; %s", self._clock() - self.since, what)
        self.since = None


class _OneLinePerOutage(logging.Filter):
    """discord.py logs every failed gateway reconnect with a full traceback: keep the first
    as one line of the outage and drop the rest until the bot is connected again."""

    def __init__(self, outage: Outage) -> None:
        super().__init__()
        self.outage = outage

    def filter(self, record: logging.LogRecord) -> bool:
        if not (record.exc_info and record.getMessage().startswith("Attempting a reconnect")):
            return True
        error = record.exc_info[1]
        if error is not None:
            self.outage.failed(error, "connecting to the gateway")
        return False


async def log_in(
    bot: discord.Client,
    token: str,
    *,
    outage: Outage | None = None,
    first_delay: float = 1.0,
    max_delay: float = 60.0,
    attempts: int | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> bool:
    """Log in, waiting out an unreachable Discord (refused connection, no DNS, an outage):
    discord.py does not retry a login. Tries again after ``first_delay`` seconds, doubling
    up to ``max_delay``; logs one line when the outage starts and one when it ends. False
    if ``attempts`` ran out."""
    outage = outage or Outage()
    delay = first_delay
    tried = 0
    while True:
        try:
            await bot.login(token)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            tried += 1
            outage.failed(exc, "logging in")
            if attempts is not None and tried >= attempts:
                return False
            await _fresh_session(bot)
            await sleep(delay)
            delay = min(max_delay, delay * 2)
            continue
        outage.recovered("logged in")
        return True


async def connect(
    bot: discord.Client,
    *,
    outage: Outage | None = None,
    first_delay: float = 1.0,
    max_delay: float = 60.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Stay connected to the gateway until the bot closes. discord.py's
    ``connect(reconnect=True)`` retries a lost connection itself, but if the very first one
    fails (Discord down right after the login) it raises AttributeError while reading the
    sequence of a websocket it never had: that first connection is retried here, with the
    same backoff and one log line per outage as the login."""
    outage = outage or Outage()
    delay = first_delay
    while not bot.is_closed():
        try:
            await bot.connect(reconnect=True)
            return
        except AttributeError as exc:
            cause = exc.__context__
            if bot.ws is not None or not isinstance(cause, _CONNECT_ERRORS):
                raise
            outage.failed(cause, "connecting to the gateway")
        await sleep(delay)
        delay = min(max_delay, delay * 2)


async def run_client(
    bot: commands.Bot,
    token: str,
    *,
    first_delay: float = 1.0,
    max_delay: float = 60.0,
) -> None:
    """Log in and stay connected, waiting out outages of Discord (what ``badgebot run``
    does): one log line when an outage starts, at login or later, and one when the login
    or the gateway connection succeeds again. Returns when the bot is closed."""
    outage = Outage()
    quiet = _OneLinePerOutage(outage)
    discord_log = logging.getLogger("discord.client")

    async def connected() -> None:
        outage.recovered("connected to the gateway")

    discord_log.addFilter(quiet)
    bot.add_listener(connected, "on_ready")
    bot.add_listener(connected, "on_resumed")
    try:
        await log_in(bot, token, outage=outage, first_delay=first_delay, max_delay=max_delay)
        await connect(bot, outage=outage, first_delay=first_delay, max_delay=max_delay)
    finally:
        discord_log.removeFilter(quiet)
        bot.remove_listener(connected, "on_ready")
        bot.remove_listener(connected, "on_resumed")


_CONNECT_ERRORS = (
    OSError,
    aiohttp.ClientError,
    TimeoutError,
    discord.HTTPException,
    discord.GatewayNotFound,
    discord.ConnectionClosed,
)


async def _fresh_session(bot: discord.Client) -> None:
    """Close the HTTP session a failed login opened (each login opens its own; one left
    open is logged as unclosed when collected), so the next try starts clean."""
    await bot.http.close()
    bot.http.connector = discord.utils.MISSING


async def _run(settings: Settings) -> int:
    bot = create_bot(settings)
    async with bot:
        try:
            await run_client(bot, settings.discord_token.get_secret_value().strip())
        except discord.LoginFailure:
            return _fail(
                "Discord refused the token (401): reset it in the developer portal "
                "(Bot > Reset Token) and put the new one in .env as DISCORD_TOKEN."
            )
        except discord.PrivilegedIntentsRequired:
            return _fail(
                "BADGEBOT_MEMBERS_INTENT is on but the Server Members intent is off in the "
                "developer portal (Bot > Privileged Gateway Intents): enable it or unset the "
                "setting."
            )
        except DatabaseBehind as exc:
            return _fail(str(exc))
    return 0


async def _upgrade(settings: Settings) -> int:
    database = Database(settings.database_url)
    try:
        await migrate.upgrade(database.engine)
        revision = await migrate.current_revision(database.engine)
    finally:
        await database.dispose()
    print(f"database {database.url.render_as_string(hide_password=True)} is at {revision}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="badgebot", description="A badge system for Discord.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="connect to Discord and serve the slash commands")
    run.add_argument(
        "--shard-count",
        type=int,
        default=None,
        help="total shards over all bot processes (default: one process, unsharded)",
    )
    run.add_argument(
        "--shard-ids",
        default=None,
        help="the shards this process runs, e.g. 0,1 (default: all of --shard-count)",
    )
    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply pending migrations")
    api_cli.add_parsers(commands)
    sandbox.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "sandbox":  # its own settings: nothing from the environment or .env
        return sandbox.run(args)
    try:
        settings = _settings(args)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        what = f"setting {field!r} is invalid" if field else "the settings do not fit together"
        return _fail(f"{what}: {first['msg'].removeprefix('Value error, ')} (check .env)")
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.command == "db":
        return asyncio.run(_upgrade(settings))
    if args.command == "api":
        return api_cli.serve(settings, args)
    if args.command == "api-token":
        return api_cli.tokens(settings, args)
    problem = settings.token_problem() or settings.multi_process_problem()
    if problem:
        return _fail(problem)
    try:
        return asyncio.run(_run(settings))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
