"""Follow the role sync of a bulk change until it is done: a bar and an estimate."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

import discord

from badges.service import Progress
from bot.roles.worker import RoleSyncWorker
from bot.ui.text import cut, inert

log = logging.getLogger(__name__)

BAR = 20
UPDATE_EVERY = 2.0  # seconds between edits of the reply: well under Discord's limits
GIVE_UP_AFTER = 14 * 60.0  # an interaction token lasts 15 minutes


def bar(done: int, total: int) -> str:
    """``▰▰▰▱▱ 60% (3/5)``."""
    if total <= 0:
        return "▰" * BAR + " 100%"
    filled = round(BAR * done / total)
    return f"{'▰' * filled}{'▱' * (BAR - filled)} {100 * done // total}% ({done}/{total})"


def eta(remaining: int, rate: float) -> str:
    if remaining <= 0:
        return "done"
    if rate <= 0:
        return "estimating…"
    seconds = remaining / rate
    return f"about {seconds:.0f} s left" if seconds < 120 else f"about {seconds / 60:.0f} min left"


def status_line(progress: Progress, total: int, rate: float) -> str:
    """The line under a bulk change's summary: the bar while roles are given, then the end:
    all given, or how many failed, why, and what fixes it."""
    left = progress.pending
    if left > 0:
        done = max(0, total - left - progress.failed)
        return f"Roles: {bar(done, total)}, {eta(left, rate)}"
    if progress.failed:
        given = max(0, total - progress.failed)
        why = inert(cut(progress.error or "Discord refused", 300))
        return (
            f"Roles: {given} of {total} given; {progress.failed} failed: {why} Fix the cause "
            "(see /badge doctor), then run /badge sync to give them."
        )
    return "Roles: all given."


async def follow(
    interaction: discord.Interaction,
    worker: RoleSyncWorker,
    progress: Callable[[], Awaitable[Progress]],
    total: int,
    summary: str,
) -> None:
    """Edit the reply with the sync's progress until nothing of it is pending, or the bot
    stops. The change it reports on is done already: a failure here is logged, never
    reported as the command's."""
    started = time.monotonic()
    try:
        while not interaction.client.is_closed():
            now = await progress()
            elapsed = time.monotonic() - started
            done = total - now.pending - now.failed
            rate = done / elapsed if elapsed > 0 else 0.0
            with contextlib.suppress(discord.HTTPException):
                await interaction.edit_original_response(
                    content=cut(f"{summary}\n{status_line(now, total, rate)}", 2000)
                )
            if now.pending <= 0 or elapsed > GIVE_UP_AFTER:
                return
            if worker.busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(worker.wait_idle()), UPDATE_EVERY)
            else:  # waiting for a retry: look again later
                await asyncio.sleep(UPDATE_EVERY)
    except Exception:
        if interaction.client.is_closed():
            return  # shutting down: the HTTP session is gone, and so is the need to report
        log.exception("following the role sync of a bulk change failed")
