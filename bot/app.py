"""The bot: built from settings without connecting, so tests and tools can drive it."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from aiohttp import web
from discord.ext import commands, tasks

from api.webhook_sender import sender_for
from badges.change_feed import ChangeFeed
from badges.model import GuildSettings
from badges.permissions import Actor, Operation, authorize
from badges.service import BadgeService
from badges.service.core import utcnow
from bot import metrics
from bot.activity import ActivityCounter
from bot.api_server import EmbeddedApi
from bot.caches import BadgeCatalog, GateCache, MemberPages, PolicyCache, SettingsCache
from bot.config import Settings
from bot.directory import DiscordDirectory
from bot.levels import level_of
from bot.log_channel import LogChannelPoster
from bot.roles.pacer import RATE as PACED_RATE
from bot.roles.pacer import Pacer
from bot.roles.worker import RoleSyncWorker
from bot.tree import BadgeTree, tree_hash
from bot.ui.replies import UserFacingError, acknowledge
from db import notifications, state
from db.database import Database
from db.migrate import DatabaseBehind, prepare_database

log = logging.getLogger(__name__)

__all__ = ["BadgeBot", "DatabaseBehind", "create_bot"]

EXTENSIONS = (
    "cogs.badges",  # owns the /badge group: first
    "cogs.awards",
    "cogs.role_links",
    "cogs.gates",
    "cogs.config",
    "cogs.api_tokens",
    "cogs.webhooks",
    "cogs.member_badges",
    "cogs.role_events",
    "cogs.automation",
    "cogs.giving",
    "cogs.activity",
)


class BadgeBot(commands.Bot):
    """discord.py's Bot with the badge service, caches and workers attached."""

    tree: BadgeTree

    def __init__(
        self,
        settings: Settings,
        database: Database,
        *,
        owns_database: bool,
        **client_options: Any,
    ) -> None:
        # no voice is used: discord.py's warnings about voice libraries are noise
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        intents = discord.Intents.default()
        intents.members = settings.members_intent
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=BadgeTree,
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
            **client_options,
        )
        self.settings = settings
        self.database = database
        self._owns_database = owns_database
        self.directory = DiscordDirectory(self)
        self.service = BadgeService(database, directory=self.directory)
        self.catalog = BadgeCatalog(self.service)
        self.guild_settings = SettingsCache(self.service)
        self.gate_cache = GateCache(self.service)
        self.policy_cache = PolicyCache(self.service)
        self.member_pages = MemberPages(self.service.awards.of_member)
        self.counter = ActivityCounter(self, flush_seconds=settings.activity_flush_seconds)
        self.log_channel = LogChannelPoster(self, self.guild_settings, owns=self.owns)
        # Discord's global limit is the whole bot's: each process paces to its shards' share
        pacer = Pacer(max(1.0, PACED_RATE * settings.share_of_the_bot))
        self.role_sync = RoleSyncWorker(self, pacer=pacer, lease=settings.role_lease_seconds)
        self.changes = ChangeFeed(self.service.core)
        self._stop_listening: Callable[[], Awaitable[None]] | None = None
        self._feed_lock = asyncio.Lock()
        self._webhook_lock = asyncio.Lock()
        self._background: set[asyncio.Task[None]] = set()
        self._to_warm: deque[int] = deque()
        self._warmer: asyncio.Task[None] | None = None
        self.api: EmbeddedApi | None = None
        self._metrics: web.AppRunner | None = None
        self.webhooks = sender_for(self.service, database)
        self.webhooks.on_kick = self._webhooks_wake
        for listener in (
            # first: it only drops pages from memory, the others read the database again
            self.member_pages.on_events,
            self.catalog.on_events,
            self.guild_settings.on_events,
            self.gate_cache.on_events,
            self.policy_cache.on_events,
            self.log_channel.on_events,
        ):
            self.service.subscribe(listener)
        self.service.watch_role_queue(self.role_sync.kick)

    async def setup_hook(self) -> None:
        """Runs inside each login. A login that fails after it (Discord gone between the
        login and the command sync) is tried again, so every step may run twice."""
        await prepare_database(self.database)
        if self._stop_listening is None:
            # changes made by other processes (the REST API, another bot process) arrive here
            await self.changes.start()
            self._stop_listening = await notifications.listen(self.database, self._feed_wake)
        if not self.follow_changes.is_running():
            self.follow_changes.start()
        for extension in EXTENSIONS:
            if extension not in self.extensions:
                await self.load_extension(extension)
        await self.sync_commands()
        if not self.send_webhooks.is_running():
            self.send_webhooks.start()
        if self.settings.api_port is not None and self.api is None:
            self.api = EmbeddedApi(self, self.settings.api_port)
            self.api.start()
        if self.settings.metrics_port is not None and self._metrics is None:
            token = self.settings.metrics_token
            self._metrics = await metrics.metrics_server(
                self.settings.metrics_host,
                self.settings.metrics_port,
                self.refresh_metrics,
                token.get_secret_value() if token else None,
            )
        # Everything loaded so far lives as long as the process: keep it out of the garbage
        # collector's full passes, which otherwise add tens of ms to some commands.
        gc.collect()
        gc.freeze()

    @tasks.loop(seconds=1)
    async def follow_changes(self) -> None:
        """Changes committed by other processes reach caches, log channel and role sync."""
        async with self._feed_lock:
            try:
                await self.changes.drain()
            except Exception:  # a database hiccup: the next round tries again
                log.exception("following the change feed failed")

    @tasks.loop(seconds=1)
    async def send_webhooks(self) -> None:
        """Deliver the webhook outbox (any process may; leases keep them apart)."""
        async with self._webhook_lock:
            try:
                while await self.webhooks.round():
                    pass
            except Exception:  # a database hiccup: the next round tries again
                log.exception("sending webhooks failed")

    async def on_guild_available(self, guild: discord.Guild) -> None:
        self.warm_caches(guild.id)

    async def on_guild_join(self, guild: discord.Guild) -> None:
        self.warm_caches(guild.id)

    def warm_caches(self, guild_id: int) -> None:
        """Load what commands decide from before they acknowledge (settings, badges,
        policies, gates) ahead of the guild's first command, in the background: one guild at
        a time, so a start with thousands of guilds does not crowd the database."""
        self._to_warm.append(guild_id)
        if self._warmer is None or self._warmer.done():
            self._warmer = asyncio.create_task(self._warm_caches())

    async def _warm_caches(self) -> None:
        while self._to_warm:
            guild_id = self._to_warm.popleft()
            for cache in (self.guild_settings, self.catalog, self.policy_cache, self.gate_cache):
                try:
                    await cache.get(guild_id)
                except Exception:  # the guild's first command loads it, after acknowledging
                    log.warning("could not load the caches of guild %s", guild_id, exc_info=True)

    def _webhooks_wake(self) -> None:
        if self.send_webhooks.is_running() and not self._webhook_lock.locked():
            task = asyncio.create_task(self.send_webhooks.coro(self))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    def _feed_wake(self) -> None:
        """PostgreSQL NOTIFY: another process committed; follow now, not at the next tick."""
        if self.follow_changes.is_running() and not self._feed_lock.locked():
            task = asyncio.create_task(self.follow_changes.coro(self))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

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

    async def refresh_metrics(self) -> None:
        """The gauges read at scrape time: this process's guilds' role queues, and the
        gateway latency of each of its shards."""
        backlog = [b for b in await self.service.queue.backlog() if self.owns(b.guild_id)]
        now = utcnow()
        for gauge in (metrics.QUEUE_PENDING, metrics.QUEUE_OLDEST, metrics.QUEUE_FAILED):
            gauge.clear()
        for guild in backlog:
            label = str(guild.guild_id)
            metrics.QUEUE_PENDING.labels(label).set(guild.pending)
            metrics.QUEUE_FAILED.labels(label).set(guild.failed)
            oldest = guild.oldest_pending
            metrics.QUEUE_OLDEST.labels(label).set(
                (now - oldest).total_seconds() if oldest else 0.0
            )
        metrics.GATEWAY_LATENCY.clear()
        for shard_id, latency in self.shard_latencies():
            if math.isfinite(latency):
                metrics.GATEWAY_LATENCY.labels(str(shard_id)).set(latency)

    def shard_latencies(self) -> list[tuple[int, float]]:
        return [(0, self.latency)]

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        metrics.INTERACTIONS.labels(interaction.type.name).inc()

    async def close(self) -> None:
        if self._metrics is not None:
            await self._metrics.cleanup()
            self._metrics = None
        if self.api is not None:
            await self.api.stop()
        await _finish(self.send_webhooks, self._webhook_lock)
        await self.webhooks.stop()
        await self.role_sync.stop()
        await _finish(self.follow_changes, self._feed_lock)
        if self._stop_listening is not None:
            await self._stop_listening()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.log_channel.drain(), timeout=5)
        await self.log_channel.close()
        if self._warmer is not None:
            self._warmer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._warmer
        for cache in (self.catalog, self.guild_settings, self.gate_cache, self.policy_cache):
            await cache.close()
        await super().close()
        if self._owns_database:
            await self.database.dispose()

    def owns(self, guild_id: int) -> bool:
        """Whether this process runs the shard of ``guild_id`` (every guild when unsharded):
        Discord's rule, shard = (guild_id >> 22) % shard_count."""
        shards = self.settings.shards
        if shards is None or self.settings.shard_count is None:
            return True
        return (guild_id >> 22) % self.settings.shard_count in shards

    async def guild_config(self, interaction: discord.Interaction) -> GuildSettings:
        """The settings of the interaction's guild, from memory; if they are not there,
        acknowledge first (with the command's privacy), then read them."""
        assert interaction.guild_id is not None
        config = self.guild_settings.peek(interaction.guild_id)
        if config is None:
            await acknowledge(interaction)
            # a guild's first command since start: its next ones are decided from memory
            for cache in (self.catalog, self.policy_cache, self.gate_cache):
                cache.warm(interaction.guild_id)
            config = await self.guild_settings.get(interaction.guild_id)
        return config

    async def actor(
        self, interaction: discord.Interaction, operation: Operation | None = None
    ) -> Actor:
        """The badge-system actor behind an interaction, with the level of its member, from
        memory. With ``operation``, refuse at once (before any deferral) if the level is too
        low. If the guild's settings are not in memory, acknowledge first, then read them."""
        member = interaction.user
        if interaction.guild_id is None or not isinstance(member, discord.Member):
            raise UserFacingError("Badges belong to a server: use this command in a server.")
        config = await self.guild_config(interaction)
        self.directory.remember(member)
        perms = member.guild_permissions
        actor = Actor(
            member.id,
            member.display_name,
            level_of(member, config),
            manages_roles=perms.manage_roles or perms.administrator,
            role_ids=frozenset(role.id for role in member.roles),
        )
        if operation is not None:
            authorize(actor, operation)
        return actor


async def _finish(loop: tasks.Loop[Any], busy: asyncio.Lock, within: float = 5.0) -> None:
    """Stop a loop. Between rounds it is cancelled at once; a round under way (``busy``
    held) may finish first, since cancelling it inside a query leaves its connection to be
    rolled back with an error in the log. After ``within`` seconds it is cancelled anyway."""
    if busy.locked():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                async with busy:
                    pass
    loop.cancel()


class ShardedBadgeBot(BadgeBot, commands.AutoShardedBot):
    """The bot running some (or all) of ``shard_count`` shards in this process; the other
    shards run in other processes on the same PostgreSQL database."""

    def shard_latencies(self) -> list[tuple[int, float]]:
        return list(self.latencies)


def create_bot(settings: Settings, *, database: Database | None = None) -> BadgeBot:
    """Build the bot without connecting. Pass ``database`` to share one (tests, tools).
    With ``shard_count`` set it runs the shards ``shard_ids`` (all by default)."""
    owns = database is None
    database = database or Database(settings.database_url, pool_size=settings.database_pool_size)
    if settings.shard_count is None:
        return BadgeBot(settings, database, owns_database=owns)
    return ShardedBadgeBot(
        settings,
        database,
        owns_database=owns,
        shard_count=settings.shard_count,
        shard_ids=list(settings.shards or ()),
    )
