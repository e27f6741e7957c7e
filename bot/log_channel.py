"""Posts every badge change to the guild's log channel, off the command's path.

The service calls ``on_events`` after a commit; posting happens in a background task so a slow
or failing log channel never delays or breaks the command that made the change.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Sequence

import discord

from badges.model import EventKind, NewEvent
from bot import embeds
from bot.caches import SettingsCache

log = logging.getLogger(__name__)

SUMMARY_OVER = 5  # more awards than this in one change are posted as one summary
_EMBEDS_PER_MESSAGE = 10  # Discord's limit
_SUMMARISED = {EventKind.AWARDED, EventKind.REVOKED, EventKind.ROLE_SYNC_FAILED}


class LogChannelPoster:
    """Posts in the order changes happened: each batch waits for the one before it."""

    def __init__(self, client: discord.Client, settings: SettingsCache) -> None:
        self._client = client
        self._settings = settings
        self._tail: asyncio.Task[None] | None = None

    async def on_events(self, events: Sequence[NewEvent]) -> None:
        self._tail = asyncio.create_task(self._post_after(self._tail, events))

    async def drain(self) -> None:
        """Wait until everything handed over so far is posted (used on shutdown)."""
        while self._tail is not None and not self._tail.done():
            await asyncio.gather(self._tail, return_exceptions=True)

    async def _post_after(
        self, previous: asyncio.Task[None] | None, events: Sequence[NewEvent]
    ) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        try:
            await self._post(events)
        except Exception:
            log.exception("posting to a log channel failed")

    async def _post(self, events: Sequence[NewEvent]) -> None:
        for guild_id, group in itertools.groupby(events, key=lambda e: e.guild_id):
            settings = await self._settings.get(guild_id)
            if settings.log_channel_id is None:
                continue
            channel = self._client.get_channel(settings.log_channel_id)
            if not isinstance(channel, discord.abc.Messageable):
                log.warning("log channel %s of guild %s is gone", settings.log_channel_id, guild_id)
                continue
            rendered = _render(list(group))
            for start in range(0, len(rendered), _EMBEDS_PER_MESSAGE):
                try:
                    await channel.send(embeds=rendered[start : start + _EMBEDS_PER_MESSAGE])
                except discord.HTTPException as exc:
                    log.warning("cannot post to log channel %s: %s", channel.id, exc)
                    break


def _render(events: list[NewEvent]) -> list[discord.Embed]:
    """One embed per event, except that a burst of the same change becomes one summary."""
    out: list[discord.Embed] = []
    for (kind, _badge), same in itertools.groupby(events, key=lambda e: (e.kind, e.badge_id)):
        batch = list(same)
        if kind in _SUMMARISED and len(batch) > SUMMARY_OVER:
            out.append(embeds.log_summary(batch))
        else:
            out.extend(embeds.log_entry(e) for e in batch)
    return out
