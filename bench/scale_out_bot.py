"""``tests.e2e.bot_process`` (the bot as shipped, ``badgebot run`` with its settings from the
environment, pointed at the emulator) plus two listeners that only print, for
bench/scale_out.py: ``SHARD_READY <shard> <time.time()>`` and, once discord.py's on_ready has
fired (every shard of the process identified and its guilds received),
``READY <time.time()> <guilds> <unavailable guilds>``.

    python -m bench.scale_out_bot --rest URL --gateway URL --database URL
"""

from __future__ import annotations

import sys
import time
from typing import Any

import bot.cli
from tests.e2e import bot_process

_create_bot = bot.cli.create_bot


def _observed(settings: Any) -> Any:
    client = _create_bot(settings)

    async def on_shard_ready(shard_id: int) -> None:
        print(f"SHARD_READY {shard_id} {time.time():.3f}", file=sys.stderr, flush=True)

    async def on_ready() -> None:
        guilds = client.guilds
        unavailable = sum(1 for g in guilds if g.unavailable)
        print(f"READY {time.time():.3f} {len(guilds)} {unavailable}", file=sys.stderr, flush=True)

    client.add_listener(on_shard_ready, "on_shard_ready")
    client.add_listener(on_ready, "on_ready")
    return client


bot.cli.create_bot = _observed  # type: ignore[assignment]

if __name__ == "__main__":
    sys.exit(bot_process.main())
