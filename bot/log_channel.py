"""Posts every badge change to the guild's log channel, off the command's path.

Each guild has its own bounded backlog and its own poster task, so a slow or rate-limited
log channel delays only its own guild. When a backlog overflows, the oldest changes are
dropped and summarised in one line (the audit trail keeps them all).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import Callable, Sequence

import discord

from badges.model import AuditEvent, EventKind
from bot.caches import SettingsCache
from bot.ui import embeds

log = logging.getLogger(__name__)

SUMMARY_OVER = 5  # more awards than this in one change are posted as one summary
BACKLOG = 500  # events kept per guild while its log channel is slow
_EMBEDS_PER_MESSAGE = 10  # Discord's limit
_SUMMARISED = {EventKind.AWARDED, EventKind.REVOKED, EventKind.ROLE_SYNC_FAILED}


class _GuildLog:
    def __init__(self) -> None:
        self.backlog: deque[list[AuditEvent]] = deque()
        self.size = 0
        self.dropped = 0
        self.task: asyncio.Task[None] | None = None


class LogChannelPoster:
    """Posts each guild's changes in the order they happened."""

    def __init__(
        self,
        client: discord.Client,
        settings: SettingsCache,
        *,
        backlog: int = BACKLOG,
        owns: Callable[[int], bool] = lambda guild_id: True,
    ) -> None:
        self._client = client
        self._settings = settings
        self._limit = backlog
        self._owns = owns
        self._guilds: dict[int, _GuildLog] = {}

    async def on_events(self, events: Sequence[AuditEvent]) -> None:
        """Changes of this process's guilds; another process posts those of its shards."""
        for guild_id, group in itertools.groupby(events, key=lambda e: e.guild_id):
            if self._owns(guild_id):
                self._enqueue(guild_id, list(group))

    def _enqueue(self, guild_id: int, batch: list[AuditEvent]) -> None:
        state = self._guilds.setdefault(guild_id, _GuildLog())
        state.backlog.append(batch)
        state.size += len(batch)
        while state.size > self._limit and len(state.backlog) > 1:
            dropped = state.backlog.popleft()
            state.size -= len(dropped)
            state.dropped += len(dropped)
        if state.task is None or state.task.done():
            state.task = asyncio.create_task(self._run(guild_id, state), name=f"log-{guild_id}")

    async def notice(self, guild_id: int, text: str) -> None:
        """A note for the admins that is not a recorded change (what the bot could not fix)."""
        settings = await self._settings.get(guild_id)
        channel = self._client.get_channel(settings.log_channel_id or 0)
        if isinstance(channel, discord.abc.Messageable):
            with contextlib.suppress(discord.HTTPException):
                await channel.send(embed=embeds.log_notice(text))

    async def drain(self) -> None:
        """Wait until everything handed over so far is posted (used on shutdown)."""
        while tasks := [s.task for s in self._guilds.values() if s.task and not s.task.done()]:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, guild_id: int, state: _GuildLog) -> None:
        while state.backlog:
            batch = state.backlog.popleft()
            state.size -= len(batch)
            dropped, state.dropped = state.dropped, 0
            try:
                await self._post(guild_id, batch, dropped)
            except Exception:
                log.exception("posting to the log channel of guild %s failed", guild_id)

    async def _post(self, guild_id: int, events: list[AuditEvent], dropped: int) -> None:
        settings = await self._settings.get(guild_id)
        if settings.log_channel_id is None:
            return
        channel = self._client.get_channel(settings.log_channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            log.warning("log channel %s of guild %s is gone", settings.log_channel_id, guild_id)
            return
        rendered = _render(events)
        if dropped:
            rendered.insert(0, embeds.log_overflow(dropped))
        for start in range(0, len(rendered), _EMBEDS_PER_MESSAGE):
            try:
                await channel.send(embeds=rendered[start : start + _EMBEDS_PER_MESSAGE])
            except discord.HTTPException as exc:
                log.warning("cannot post to log channel %s: %s", channel.id, exc)
                break

    async def close(self) -> None:
        for state in self._guilds.values():
            if state.task is not None:
                state.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await state.task


def _render(events: list[AuditEvent]) -> list[discord.Embed]:
    """One embed per event, except that a burst of the same change becomes one summary."""
    out: list[discord.Embed] = []
    for (kind, _badge), same in itertools.groupby(events, key=lambda e: (e.kind, e.badge_id)):
        batch = list(same)
        if kind in _SUMMARISED and len(batch) > SUMMARY_OVER:
            out.append(embeds.log_summary(batch))
        else:
            out.extend(embeds.log_entry(e) for e in batch)
    return out
