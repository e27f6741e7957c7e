"""Activity counting in the bot: gateway events (non-privileged intents) become counts in
memory, written every few seconds in one transaction, after which the members whose counts
changed are evaluated against the automatic badges.

Only counts are kept: who, where (channel id), when (day) and how many. No message content
is read (the bot does not ask for that intent) or stored. Bots, webhooks and system
messages do not count, nor reactions members give their own messages.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

import discord

from badges.activity import ActivityTally, VoiceClock
from badges.automation import MemberRecord
from bot import metrics
from db import state

if TYPE_CHECKING:
    from bot.app import BadgeBot

log = logging.getLogger(__name__)

_RUNNING = "activity_counting:running"
"""Per shard plan: each process running some shards has its own (the whole bot: no suffix)."""
_REACTED_MAX = 200_000
"""(message, member) pairs remembered so a reaction toggled on and off counts once."""
_COUNTED_TYPES = {discord.MessageType.default, discord.MessageType.reply}


class ActivityCounter:
    """Counts activity per member, channel and day; flushes in batches."""

    def __init__(self, bot: BadgeBot, *, flush_seconds: float) -> None:
        self.bot = bot
        self.flush_seconds = flush_seconds
        self.clock: Callable[[], datetime] = bot.service.core.clock
        self.tally = ActivityTally()
        self.voice_clock = VoiceClock(self.tally)
        self._touched: dict[int, set[int]] = {}
        self._reacted: OrderedDict[tuple[int, int], None] = OrderedDict()
        self.flushes = 0
        self.rows_written = 0
        self.last_flush_seconds = 0.0

    # -- events ------------------------------------------------------------------------

    def message(self, message: discord.Message) -> None:
        guild = message.guild
        author = message.author
        if guild is None or author.bot or message.webhook_id is not None:
            return
        if message.type not in _COUNTED_TYPES:
            return  # joins, pins, boosts and other system messages
        now = self.clock()
        self.tally.message(guild.id, author.id, _counted_as(message.channel), now)
        metrics.EVENTS_COUNTED.labels("message").inc()
        if isinstance(author, discord.Member):
            self.member(author)
            self.bot.directory.remember(author)  # the event says they are a member
        self._touch(guild.id, author.id)

    def reaction(self, payload: discord.RawReactionActionEvent) -> None:
        """A reaction counts for the message's author once per member who reacts (adding
        and removing it again, or ten emojis, is one), never on one's own message or by a
        bot. Authors who are bots or webhooks are never ranked (only members the bot saw as
        people qualify), and are skipped here when the cache knows them."""
        if payload.guild_id is None or (payload.member is not None and payload.member.bot):
            return
        cached = self._cached(payload.message_id)
        if cached is not None and (cached.author.bot or cached.webhook_id is not None):
            return
        author_id = payload.message_author_id or (cached.author.id if cached else None)
        if author_id is None or author_id == payload.user_id:
            return
        guild = self.bot.get_guild(payload.guild_id)
        author = guild.get_member(author_id) if guild is not None else None
        if (author is not None and author.bot) or author_id == getattr(self.bot.user, "id", 0):
            return
        pair = (payload.message_id, payload.user_id)
        if pair in self._reacted:
            self._reacted.move_to_end(pair)
            return
        self._reacted[pair] = None
        if len(self._reacted) > _REACTED_MAX:
            self._reacted.popitem(last=False)
        channel = self.bot.get_channel(payload.channel_id)
        channel_id = _counted_as(channel) if channel is not None else payload.channel_id
        self.tally.reaction(payload.guild_id, author_id, channel_id, self.clock())
        metrics.EVENTS_COUNTED.labels("reaction").inc()
        if payload.member is not None:
            self.member(payload.member)
        self._touch(payload.guild_id, author_id)

    def _cached(self, message_id: int) -> discord.Message | None:
        """The reacted message, if discord.py's cache still holds it (recent ones first)."""
        for message in reversed(self.bot.cached_messages):
            if message.id == message_id:
                return message
        return None

    async def left(self, guild_id: int, user_id: int) -> None:
        """A member left: their voice session ends and they stop qualifying."""
        self.voice_clock.left(guild_id, user_id, self.clock())
        self.tally.forget_member(guild_id, user_id)
        try:
            await self.bot.service.activity.forget(guild_id, user_id)
        except Exception:
            log.exception("forgetting member %s of guild %s failed", user_id, guild_id)

    def voice(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        if member.bot:
            return
        now = self.clock()
        counted = self._counted_channel(member.guild, after.channel)
        listening = not (after.self_deaf or after.deaf)  # deafened time is not taking part
        was_counting = (
            before.channel is not None
            and self._counted_channel(member.guild, before.channel) is not None
            and not (before.self_deaf or before.deaf)
        )
        if counted is None or not listening:
            self.voice_clock.left(member.guild.id, member.id, now)
        elif not was_counting or before.channel is None or before.channel.id != counted:
            self.voice_clock.joined(member.guild.id, member.id, counted, now)
            metrics.EVENTS_COUNTED.labels("voice_join").inc()
        self.member(member)
        self._touch(member.guild.id, member.id)

    def member(self, member: discord.Member) -> None:
        """Remember when the member joined and since when they boost."""
        if member.bot:
            return
        self.tally.member(
            MemberRecord(member.guild.id, member.id, member.joined_at, member.premium_since)
        )

    def seed_voice(self, guild: discord.Guild) -> None:
        """Members already in voice when the bot (re)connects start counting from now."""
        self.voice_clock.forget_guild(guild.id)
        now = self.clock()
        for channel in guild.voice_channels + guild.stage_channels:
            if self._counted_channel(guild, channel) is None:
                continue
            for user_id, voice in channel.voice_states.items():
                member = guild.get_member(user_id)
                if member is not None and not member.bot and not (voice.self_deaf or voice.deaf):
                    self.voice_clock.joined(guild.id, user_id, channel.id, now)

    @staticmethod
    def _counted_channel(
        guild: discord.Guild, channel: discord.abc.Connectable | None
    ) -> int | None:
        if channel is None or not isinstance(channel, discord.abc.GuildChannel):
            return None
        if guild.afk_channel is not None and channel.id == guild.afk_channel.id:
            return None
        return channel.id

    def _touch(self, guild_id: int, user_id: int) -> None:
        self._touched.setdefault(guild_id, set()).add(user_id)

    # -- writing -----------------------------------------------------------------------

    async def flush(self, *, evaluate: bool = True) -> int:
        """Write what was counted in one transaction, then evaluate the members whose counts
        changed. On a database error the counts stay in memory for the next flush."""
        started = time.perf_counter()
        now = self.clock()
        self.voice_clock.tick(now)
        counts, members = self.tally.take(now)
        touched, self._touched = self._touched, {}
        if not counts and not members:
            return 0
        try:
            await self.bot.service.activity.record(counts, members)
        except BaseException as error:  # a cancelled flush (shutdown) keeps its counts too
            self.tally.restore(counts, members)
            for guild_id, users in touched.items():
                self._touched.setdefault(guild_id, set()).update(users)
            if not isinstance(error, Exception):
                raise
            log.exception("writing %d activity counts failed; kept for the next flush", len(counts))
            return 0
        self.flushes += 1
        self.rows_written += len(counts) + len(members)
        self.last_flush_seconds = time.perf_counter() - started
        if evaluate:
            await self.evaluate(touched)
        return len(counts)

    async def evaluate(self, touched: dict[int, set[int]]) -> None:
        """Incremental evaluation of the members whose counts changed."""
        guilds = set(await self.bot.service.rules.guilds())
        for guild_id, users in touched.items():
            if guild_id not in guilds:
                continue
            try:
                await self.bot.service.rules.evaluate(guild_id, members=users)
            except Exception:
                log.exception("evaluating automatic badges in guild %s failed", guild_id)

    async def full_pass(self) -> None:
        """Every guild of this process with automatic badges: retroactive evaluation, top-N
        rotation when due, and the roll-up of old daily counts."""
        for guild_id in await self.bot.service.rules.guilds():
            if self.bot.get_guild(guild_id) is None:
                continue  # another process (shard) owns it, or the bot left
            try:
                report = await self.bot.service.rules.evaluate(guild_id)
            except Exception:
                log.exception("evaluating automatic badges in guild %s failed", guild_id)
                continue
            if report.awarded or report.revoked:
                log.info(
                    "automatic badges in guild %s: %d awarded, %d revoked",
                    guild_id,
                    report.awarded,
                    report.revoked,
                )
        try:
            await self.bot.service.activity.roll_up()
        except Exception:
            log.exception("rolling up old activity counts failed")

    # -- start and stop ----------------------------------------------------------------

    @property
    def _running_key(self) -> str:
        """Whether counting runs: one flag per process of a sharded bot (its shards)."""
        shards = self.bot.settings.shards
        if shards is None or self.bot.settings.runs_every_shard:
            return _RUNNING
        plan = ",".join(map(str, sorted(shards)))
        return f"{_RUNNING}:{hashlib.sha1(plan.encode()).hexdigest()[:16]}"

    async def started(self) -> None:
        """Say in the log if the last run stopped without writing its counts."""
        if await state.get_value(self.bot.database, self._running_key) == "yes":
            log.warning(
                "the last run stopped without a clean shutdown: activity counted in its last "
                "%.0f seconds before it stopped was not written and is lost",
                self.flush_seconds,
            )
        await state.set_value(self.bot.database, self._running_key, "yes")

    async def stopped(self) -> None:
        """Write what is left (voice sessions are credited up to now)."""
        try:
            await self.flush(evaluate=False)
            await state.set_value(self.bot.database, self._running_key, "no")
        except Exception:
            log.exception("writing the last activity counts failed: they are lost")


def _counted_as(channel: object) -> int:
    """Threads count under their channel (so a rule that leaves a channel out leaves out
    its threads too)."""
    if isinstance(channel, discord.Thread) and channel.parent_id is not None:
        return channel.parent_id
    return int(getattr(channel, "id", 0))
