"""The `badgebot` command: run the bot, upgrade the database, try it in the sandbox."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence

import aiohttp
import discord
from discord.backoff import ExponentialBackoff
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


class _OneLineReconnects(logging.Filter):
    """discord.py logs every failed reconnect with a full traceback: keep one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.getMessage().startswith("Attempting a reconnect"):
            record.msg = f"Discord unreachable ({record.exc_info[1]!r}); {record.getMessage()}"
            record.args = ()
            record.exc_info = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


async def log_in(
    bot: discord.Client,
    token: str,
    *,
    attempts: int | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> bool:
    """Log in, waiting out an unreachable Discord (no DNS, an outage) with backoff and one
    line per try instead of a traceback. False if ``attempts`` ran out."""
    backoff = ExponentialBackoff(base=2)
    tried = 0
    while True:
        try:
            await bot.login(token)
            return True
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            tried += 1
            if attempts is not None and tried >= attempts:
                return False
            delay = min(300.0, backoff.delay())
            print(
                f"badgebot: cannot reach Discord ({type(exc).__name__}: {exc}); "
                f"trying again in {delay:.0f} s",
                file=sys.stderr,
            )
            await sleep(delay)


async def _run(settings: Settings) -> int:
    logging.getLogger("discord.client").addFilter(_OneLineReconnects())
    bot = create_bot(settings)
    async with bot:
        try:
            await log_in(bot, settings.discord_token.get_secret_value().strip())
            await bot.connect(reconnect=True)
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
