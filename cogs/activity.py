"""Activity counting: gateway events feed ``bot.activity``; loops flush the counts and run
the periodic evaluation of automatic badges."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord.ext import commands, tasks

if TYPE_CHECKING:
    from bot.app import BadgeBot

log = logging.getLogger(__name__)


class ActivityListeners(commands.Cog):
    def __init__(self, bot: BadgeBot) -> None:
        self.bot = bot
        self.counter = bot.counter

    async def cog_load(self) -> None:
        await self.counter.started()
        self.flush.change_interval(seconds=self.counter.flush_seconds)
        self.flush.start()
        self.evaluate.change_interval(minutes=self.bot.settings.evaluation_minutes)
        self.evaluate.start()

    async def cog_unload(self) -> None:
        self.flush.cancel()  # a flush cut short keeps its counts in memory: written below
        self.evaluate.cancel()
        await self.counter.stopped()

    @tasks.loop(seconds=5)
    async def flush(self) -> None:
        try:
            await self.counter.flush()
        except Exception:  # never let the loop die: the next round tries again
            log.exception("flushing activity counts failed")

    @tasks.loop(minutes=60)
    async def evaluate(self) -> None:
        try:
            await self.counter.full_pass()
        except Exception:
            log.exception("the periodic evaluation of automatic badges failed")

    @evaluate.before_loop
    async def _ready(self) -> None:
        await self.bot.wait_until_ready()

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        self.counter.message(message)

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        self.counter.reaction(payload)

    @commands.Cog.listener()
    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        self.counter.voice(member, before, after)

    @commands.Cog.listener()
    async def on_member_join(self, member: discord.Member) -> None:
        self.counter.member(member)

    @commands.Cog.listener()
    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        if before.premium_since != after.premium_since:
            self.counter.member(after)

    @commands.Cog.listener()
    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        await self.counter.left(payload.guild_id, payload.user.id)

    @commands.Cog.listener()
    async def on_guild_available(self, guild: discord.Guild) -> None:
        self.counter.seed_voice(guild)

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        self.counter.voice_clock.forget_guild(guild.id)


async def setup(bot: BadgeBot) -> None:
    await bot.add_cog(ActivityListeners(bot))
