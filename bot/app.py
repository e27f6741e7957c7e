"""The bot: built from settings without connecting, so tests and tools can drive it."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging

import discord
from discord.ext import commands

from badges.permissions import Actor, Operation, authorize
from badges.service import BadgeService
from bot.caches import BadgeCatalog, SettingsCache
from bot.config import Settings
from bot.levels import level_of
from bot.log_channel import LogChannelPoster
from bot.replies import UserFacingError
from bot.role_sync import RoleSyncWorker
from bot.tree import BadgeTree, tree_hash
from db import migrate, state
from db.database import Database

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.badges", "cogs.member_badges", "cogs.role_events")


class DatabaseBehind(RuntimeError):
    """The database schema is older than this code and may not be upgraded automatically."""


class BadgeBot(commands.Bot):
    """discord.py's Bot with the badge service, caches and workers attached."""

    tree: BadgeTree

    def __init__(self, settings: Settings, database: Database, *, owns_database: bool) -> None:
        intents = discord.Intents.default()
        intents.members = settings.members_intent
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=BadgeTree,
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        self.settings = settings
        self.database = database
        self._owns_database = owns_database
        self.service = BadgeService(database)
        self.catalog = BadgeCatalog(self.service)
        self.guild_settings = SettingsCache(self.service)
        self.log_channel = LogChannelPoster(self, self.guild_settings)
        self.role_sync = RoleSyncWorker(self)
        for listener in (
            self.catalog.on_events,
            self.guild_settings.on_events,
            self.log_channel.on_events,
        ):
            self.service.subscribe(listener)
        self.service.watch_role_queue(self.role_sync.kick)

    async def setup_hook(self) -> None:
        await prepare_database(self.database)
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        await self.sync_commands()
        # Everything loaded so far lives as long as the process: keep it out of the garbage
        # collector's full passes, which otherwise add tens of ms to some commands.
        gc.collect()
        gc.freeze()

    async def sync_commands(self) -> bool:
        """Push the command tree to Discord if it changed since the last push (Discord limits
        command registrations per day). Returns whether it synced."""
        guild = discord.Object(self.settings.dev_guild_id) if self.settings.dev_guild_id else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        key = f"command_tree_hash:{guild.id if guild else 'global'}"
        current = tree_hash(self.tree, guild)
        if await state.get_value(self.database, key) == current:
            log.info("command tree unchanged; not syncing")
            return False
        await self.tree.sync(guild=guild)
        await state.set_value(self.database, key, current)
        log.info("command tree synced (%s)", f"guild {guild.id}" if guild else "global")
        return True

    async def close(self) -> None:
        await self.role_sync.stop()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.log_channel.drain(), timeout=5)
        await super().close()
        if self._owns_database:
            await self.database.dispose()

    async def actor(
        self, interaction: discord.Interaction, operation: Operation | None = None
    ) -> Actor:
        """The badge-system actor behind an interaction, with the level of its member.
        With ``operation``, refuse at once (before any deferral) if the level is too low."""
        member = interaction.user
        if interaction.guild_id is None or not isinstance(member, discord.Member):
            raise UserFacingError("Badges belong to a server: use this command in a server.")
        config = await self.guild_settings.get(interaction.guild_id)
        actor = Actor(member.id, member.display_name, level_of(member, config))
        if operation is not None:
            authorize(actor, operation)
        return actor


async def prepare_database(database: Database) -> None:
    """Upgrade an SQLite database in place; refuse a PostgreSQL one that is behind."""
    if database.dialect == "sqlite":
        await migrate.upgrade(database.engine)
        return
    current = await migrate.current_revision(database.engine)
    if current != migrate.head_revision():
        raise DatabaseBehind(
            f"The database is at revision {current or 'empty'}, this code needs "
            f"{migrate.head_revision()}: run `badgebot db upgrade` first."
        )


def create_bot(settings: Settings, *, database: Database | None = None) -> BadgeBot:
    """Build the bot without connecting. Pass ``database`` to share one (tests, tools)."""
    owns = database is None
    return BadgeBot(settings, database or Database(settings.database_url), owns_database=owns)
