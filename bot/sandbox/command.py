"""The `badgebot sandbox` sub-command. Importable without the sandbox extra installed."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
from pathlib import Path

from bot.sandbox.ports import port_in_use, port_is_free

DEFAULT_DATABASE = Path("badgebot-sandbox.db")
EXTRA_MODULES = ("simcord", "aiohttp", "markdown_it", "linkify_it", "regex", "PIL")
"""What `pip install -e '.[sandbox]'` brings: SimCord and its preview page's runtime."""
EXTRA_MISSING = (
    "the sandbox needs the 'sandbox' extra: pip install -e '.[sandbox]' "
    "(SimCord's simulated Discord and its preview page)"
)


def _fail(message: str) -> int:
    print(f"badgebot: {message}", file=sys.stderr)
    return 2


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)")
    return port


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `sandbox` and its options on the `badgebot` parser."""
    sandbox = commands.add_parser(
        "sandbox",
        help="try the bot without Discord: a simulated server on a local page",
        description=(
            "Run the real bot against SimCord's simulated Discord, with a demo server, and "
            "serve a Discord-like page on 127.0.0.1 where you pick a member and type slash "
            "commands, and the bot's REST API for the demo server (a token is printed). "
            "Needs the 'sandbox' extra. Ignores BADGEBOT_DATABASE_URL and .env."
        ),
    )
    sandbox.add_argument(
        "--port",
        type=_port,
        default=None,
        help="port of the page on 127.0.0.1 (default: a free one)",
    )
    sandbox.add_argument(
        "--api-port",
        type=_port,
        default=None,
        metavar="PORT",
        help="port of the REST API on 127.0.0.1 (default: a free one)",
    )
    sandbox.add_argument(
        "--database",
        type=Path,
        default=DEFAULT_DATABASE,
        metavar="PATH",
        help=f"SQLite file that keeps the sandbox's badges (default: {DEFAULT_DATABASE})",
    )
    sandbox.add_argument("--fresh", action="store_true", help="start over: delete that file first")


def extra_installed() -> bool:
    """Whether SimCord and the runtime of its preview page can be imported."""
    try:
        for module in EXTRA_MODULES:
            importlib.import_module(module)
    except ImportError:
        return False
    return True


def _delete(database: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)


def run(args: argparse.Namespace) -> int:
    """`badgebot sandbox`: check what can be checked up front, then serve until stopped."""
    if not extra_installed():
        return _fail(EXTRA_MISSING)
    if args.port is not None and not port_is_free(args.port):
        return _fail(port_in_use(args.port))
    if args.api_port is not None:
        if args.api_port == args.port:
            return _fail("--port and --api-port must differ: the page and the API each need one")
        if not port_is_free(args.api_port):
            return _fail(port_in_use(args.api_port, "--api-port"))
    if args.fresh:
        _delete(args.database)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from bot.sandbox.session import SandboxError, serve

    try:
        asyncio.run(serve(args.database, args.port, sys.stdout, args.api_port))
    except SandboxError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        pass
    print("badgebot sandbox stopped.", file=sys.stderr)
    return 0
