"""The role-sync worker: applies the queued role changes of each guild in Discord.

One drain runs per guild at a time and applies changes in order, one request after another,
so discord.py's rate limiter paces it to the guild's role bucket. Temporary failures (429,
5xx) are retried later with backoff; permanent ones (missing permission, hierarchy, unknown
role) are recorded for admins and never retried in a loop. A change is marked applied only
after Discord accepted it; a crash in between replays it, which is harmless because adding
or removing a role is idempotent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

import discord
from discord.ext import tasks

from badges.model import RoleAction, RoleChange

if TYPE_CHECKING:
    from bot.app import BadgeBot

log = logging.getLogger(__name__)

BATCH = 50
ECHO_WINDOW = 60.0  # seconds during which a member update may echo our own role change
MAX_BACKOFF = 600.0
# Discord error codes after which a change can never succeed as asked.
UNKNOWN_GUILD, UNKNOWN_MEMBER, UNKNOWN_ROLE = 10004, 10007, 10011
MISSING_ACCESS, MISSING_PERMISSIONS = 50001, 50013


def backoff(attempts: int) -> float:
    """Seconds to wait before retry number ``attempts + 1``: 5, 10, 20, ... up to 10 min."""
    return float(min(MAX_BACKOFF, 5.0 * 2.0**attempts))


class RoleSyncWorker:
    def __init__(self, bot: BadgeBot) -> None:
        self.bot = bot
        self.service = bot.service
        self._drains: dict[int, asyncio.Task[None]] = {}
        self._again: set[int] = set()
        self.paused = False
        self.paused_guilds: set[int] = set()
        self._recent: dict[tuple[int, int], dict[tuple[int, RoleAction], float]] = {}

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Resume what the queue holds (after a restart too) and retry on a schedule."""
        self.paused = False
        if not self.sweep.is_running():
            self.sweep.start()

    async def stop(self) -> None:
        self.paused = True
        self.sweep.cancel()
        drains = list(self._drains.values())
        for task in drains:
            task.cancel()
        await asyncio.gather(*drains, return_exceptions=True)

    @tasks.loop(seconds=30)
    async def sweep(self) -> None:
        """Pick up changes whose retry time has come, and anything a crash left behind."""
        try:
            due = await self.service.queue.guilds_due()
        except Exception:  # a database hiccup must not end the loop for good
            log.exception("role sync sweep failed; trying again at the next one")
            return
        for guild_id in due:
            if self.bot.get_guild(guild_id) is not None:
                self.kick(guild_id)

    def kick(self, guild_id: int) -> None:
        """Make sure the guild's queue is being drained."""
        if self.paused:
            return
        if guild_id in self._drains:
            self._again.add(guild_id)
            return
        task = asyncio.create_task(self._drain(guild_id), name=f"role-sync-{guild_id}")
        self._drains[guild_id] = task

    def echoes(self, guild_id: int, user_id: int, role_ids: set[int]) -> frozenset[int]:
        """Roles whose state in a member update is what this worker itself set in the last
        minute: the event is our own echo, not a hand edit (a hand edit in the other
        direction still counts)."""
        now = time.monotonic()
        recent = self._recent.get((guild_id, user_id), {})
        return frozenset(
            role_id
            for (role_id, action), at in recent.items()
            if now - at < ECHO_WINDOW and (role_id in role_ids) == (action is RoleAction.ADD)
        )

    def _remember(self, change: RoleChange) -> None:
        if change.user_id is None:
            return
        now = time.monotonic()
        if len(self._recent) > 10_000:  # forget old entries now and then
            self._recent = {
                key: actions
                for key, actions in self._recent.items()
                if any(now - at < ECHO_WINDOW for at in actions.values())
            }
        actions = self._recent.setdefault((change.guild_id, change.user_id), {})
        actions[(change.role_id, change.action)] = now

    @property
    def busy(self) -> bool:
        return bool(self._drains)

    async def wait_idle(self) -> None:
        """Wait until no drain runs (tests, shutdown, progress reports)."""
        while self._drains:
            await asyncio.gather(*self._drains.values(), return_exceptions=True)

    # -- draining ------------------------------------------------------------------------

    async def _drain(self, guild_id: int) -> None:
        self.paused_guilds.discard(guild_id)
        try:
            while not self.paused and guild_id not in self.paused_guilds:
                self._again.discard(guild_id)
                changes = await self.service.queue.due(guild_id, limit=BATCH)
                if not changes:
                    if guild_id in self._again:
                        continue
                    return
                await self._apply_batch(guild_id, changes)
        except Exception:
            log.exception("role sync of guild %s stopped; the sweep will resume it", guild_id)
        finally:
            self._drains.pop(guild_id, None)

    async def _apply_batch(self, guild_id: int, changes: list[RoleChange]) -> None:
        """Apply a batch in order. Before the first change of each role and action the
        service says whether it may be applied at all (hierarchy, permission, a role that
        gained power): a refused role fails together, one log entry per batch, and Discord
        is not asked for what it would refuse."""
        guild = self.bot.get_guild(guild_id)
        if guild is None:
            # not available yet (starting up, an outage): its GUILD_CREATE kicks us again;
            # a guild the bot leaves has its queue dropped (on_guild_remove)
            self.paused_guilds.add(guild_id)
            return
        checked: dict[tuple[int, RoleAction], bool] = {}
        for change in changes:
            if self.paused:
                break
            key = (change.role_id, change.action)
            if key not in checked:
                problem = await self.service.queue.problem(change)
                if problem is not None:
                    # a role that gained power is only kept from being given out
                    only = problem.reason == "gained_power"
                    actions = (change.action,) if only else tuple(RoleAction)
                    await self.service.queue.blocked(
                        guild_id, change.role_id, problem.message, actions
                    )
                checked[key] = problem is None
            if checked[key] and not await self._apply(change):
                checked[key] = False

    async def _apply(self, change: RoleChange) -> bool:
        """Apply one change; False when Discord refused in a way that blocks its role."""
        http = self.bot.http
        reason = f"badgebot: {change.reason}" if change.reason else "badgebot"
        try:
            if change.action is RoleAction.ADD:
                assert change.user_id is not None
                await http.add_role(change.guild_id, change.user_id, change.role_id, reason=reason)
            elif change.action is RoleAction.REMOVE:
                assert change.user_id is not None
                await http.remove_role(
                    change.guild_id, change.user_id, change.role_id, reason=reason
                )
            else:
                await http.delete_role(change.guild_id, change.role_id, reason=reason)
        except discord.HTTPException as exc:
            return await self._handle_failure(change, exc)
        self._remember(change)
        await self.service.queue.applied(change)
        return True

    async def _handle_failure(self, change: RoleChange, exc: discord.HTTPException) -> bool:
        if exc.status == 429 or exc.status >= 500:
            delay = backoff(change.attempts)
            log.warning("role change %s: %s; retrying in %.0fs", change.id, exc, delay)
            await self.service.queue.retry(change, f"{exc.status} {exc.text}", delay)
            return True
        if exc.code == UNKNOWN_MEMBER or (
            exc.code == UNKNOWN_ROLE and change.action is not RoleAction.ADD
        ):
            # the member left (a rejoin restores their roles) or the role is already gone
            await self.service.queue.applied(change)
            return True
        if exc.status in (401, 403) or exc.code == UNKNOWN_ROLE:
            # refusals count toward Discord's invalid-request ban: stop the whole role
            await self.service.queue.blocked(change.guild_id, change.role_id, _explain(exc))
            return False
        await self.service.queue.failed([change], _explain(exc))
        return True


def _explain(exc: discord.HTTPException) -> str:
    if exc.code == MISSING_PERMISSIONS:
        return "Discord refused: missing permissions (50013). Check my role's position."
    if exc.code == MISSING_ACCESS:
        return "Discord refused: missing access (50001)."
    if exc.code == UNKNOWN_ROLE:
        return "The role does not exist any more (10011)."
    if exc.code == UNKNOWN_GUILD:
        return "I am not in this server any more (10004)."
    return f"Discord refused the change: {exc.status} {exc.text} ({exc.code})."
