"""The bot as shipped, in a process of its own, pointed at a Discord emulator: `badgebot run`
(bot.cli.main) with its settings from the environment, plus only the two discord.py seams.

    python -m tests.e2e.bot_process --rest http://127.0.0.1:PORT/api/v10 \\
        --gateway ws://127.0.0.1:PORT/ --database sqlite+aiosqlite:///path.db

The caller sets DISCORD_TOKEN (the emulator's token) and BADGEBOT_MEMBERS_INTENT; --database
sets BADGEBOT_DATABASE_URL. For tests that must kill the process inside one transaction,
``--pause-after-sql TEXT`` makes the first SQL statement starting with TEXT (any case) hold
its connection for ``--pause-seconds`` after it ran, and prints ``PAUSED`` on stderr first:
the transaction is open and part-written while it waits. Nothing else differs from the
product.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from typing import Any


def _pause_after(prefix: str, seconds: float) -> None:
    """Hold the first statement starting with ``prefix`` for ``seconds`` after it ran."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    wanted = prefix.strip().lower()
    done = False

    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        nonlocal done
        if done or not statement.lstrip().lower().startswith(wanted):
            return
        done = True
        print("PAUSED", file=sys.stderr, flush=True)
        time.sleep(seconds)  # blocks the event loop too: a slow disk, as far as the bot knows

    event.listen(Engine, "after_cursor_execute", after)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bot_process")
    parser.add_argument("--rest", required=True, help="the emulator's REST base (.../api/v10)")
    parser.add_argument("--gateway", required=True, help="the emulator's gateway (ws://...)")
    parser.add_argument("--database", help="BADGEBOT_DATABASE_URL for the bot")
    parser.add_argument("--pause-after-sql", help="hold the first statement starting so")
    parser.add_argument("--pause-seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    if args.database:
        os.environ["BADGEBOT_DATABASE_URL"] = args.database
    if args.pause_after_sql:
        _pause_after(args.pause_after_sql, args.pause_seconds)

    from bot import cli
    from tests.emulator.seams import set_seams

    set_seams(args.rest, args.gateway)
    return cli.main(["run"])


if __name__ == "__main__":
    sys.exit(main())
