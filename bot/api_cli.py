"""`badgebot api` (serve the REST API alone) and `badgebot api-token` (tokens, for operators
and the sandbox)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from typing import Any

import uvicorn

from badges.errors import BadgeError
from badges.permissions import Actor, Level
from badges.service import BadgeService
from bot.config import Settings
from db.database import Database
from db.migrate import DatabaseBehind, prepare_database

OPERATOR = Actor(0, "operator", Level.SUPER_ADMIN)
"""Whoever runs `badgebot api-token` on the server: they hold the database already."""


def add_parsers(commands: Any) -> None:
    api = commands.add_parser("api", help="serve the REST API alone (uvicorn)")
    api.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    api.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    api.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    tokens = commands.add_parser("api-token", help="REST API tokens")
    actions = tokens.add_subparsers(dest="token_command", required=True)
    create = actions.add_parser("create", help="make a token; prints its secret once")
    create.add_argument("--guild", type=int, required=True, help="server id")
    create.add_argument("--level", choices=["moderator", "admin"], required=True)
    create.add_argument("--name", required=True, help="shown as the actor in history")
    listing = actions.add_parser("list", help="the server's tokens")
    listing.add_argument("--guild", type=int, required=True)
    revoke = actions.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("--guild", type=int, required=True)
    revoke.add_argument("--id", type=int, required=True, dest="token_id")


def serve(settings: Settings, args: argparse.Namespace) -> int:
    if not 1 <= args.workers <= 64:
        print("badgebot: --workers must be between 1 and 64", file=sys.stderr)
        return 2
    if args.workers > 1 and settings.uses_sqlite:
        print(
            "badgebot: --workers runs several processes on one database, and SQLite is for "
            "one process: set BADGEBOT_DATABASE_URL to PostgreSQL (postgresql+asyncpg://...) "
            "or serve with one worker.",
            file=sys.stderr,
        )
        return 2
    if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # each worker writes its metrics there; a scrape of any worker sums them all
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="badgebot-metrics-")
    try:
        asyncio.run(_prepare(settings))  # once, before the workers start
    except DatabaseBehind as exc:
        print(f"badgebot: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(
        "api.app:app_from_environment",
        factory=True,
        host=args.host or settings.api_host,
        port=args.port,
        workers=args.workers,
        log_level=settings.log_level.lower(),
        access_log=False,
    )
    return 0


async def _prepare(settings: Settings) -> None:
    database = Database(settings.database_url)
    try:
        await prepare_database(database)
    finally:
        await database.dispose()


def tokens(settings: Settings, args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_tokens(settings, args))
    except (BadgeError, DatabaseBehind) as exc:
        print(f"badgebot: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 2


async def _tokens(settings: Settings, args: argparse.Namespace) -> int:
    database = Database(settings.database_url)
    try:
        await prepare_database(database)
        service = BadgeService(database)
        if args.token_command == "create":
            issued = await service.tokens.create(
                OPERATOR, args.guild, Level[args.level.upper()], args.name
            )
            print(f"token {issued.token.id} ({issued.token.level.label}, {issued.token.name}):")
            print(issued.secret)
            print("Keep it secret: it is shown only now.")
        elif args.token_command == "list":
            for token in await service.tokens.list(OPERATOR, args.guild):
                print(
                    f"{token.id}\t{token.level.label}\t{token.name}\t"
                    f"made {token.created_at:%Y-%m-%d} by {token.created_by_name}"
                )
        else:
            token = await service.tokens.revoke(OPERATOR, args.guild, args.token_id)
            print(f"revoked token {token.id} ({token.name})")
    finally:
        await database.dispose()
    return 0
