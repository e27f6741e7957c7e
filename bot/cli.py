"""The `badgebot` command: run the bot, upgrade the database, try it in the sandbox."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

import discord
from pydantic import ValidationError

from bot.app import DatabaseBehind, create_bot
from bot.config import Settings
from bot.sandbox import command as sandbox
from db import migrate
from db.database import Database


def _fail(message: str) -> int:
    print(f"badgebot: {message}", file=sys.stderr)
    return 2


def _settings() -> Settings:
    return Settings()


async def _run(settings: Settings) -> int:
    bot = create_bot(settings)
    async with bot:
        try:
            await bot.start(settings.discord_token.get_secret_value().strip())
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
    commands.add_parser("run", help="connect to Discord and serve the slash commands")
    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply pending migrations")
    sandbox.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "sandbox":  # its own settings: nothing from the environment or .env
        return sandbox.run(args)
    try:
        settings = _settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        return _fail(f"setting {field!r} is invalid: {first['msg']} (check .env)")
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.command == "db":
        return asyncio.run(_upgrade(settings))
    problem = settings.token_problem()
    if problem:
        return _fail(problem)
    try:
        return asyncio.run(_run(settings))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
