"""The role-sync worker: applies the queued role changes of each guild in Discord.

One drain runs per guild at a time and applies changes in order, one request after another,
so discord.py's rate limiter paces it to the guild's role bucket; a pacer shared by all
drains keeps the bot as a whole under Discord's global limit. Temporary failures (429, 5xx,
Discord unreachable) are retried later, at the time a 429 names or with backoff, and a timer
per guild wakes its drain when the earliest retry is due; until then the guild's drain rests
(its role routes share one bucket, so the next change would only be refused as well).
Permanent ones (missing permission, hierarchy, unknown role) are recorded for admins, once
per role, and never retried in a loop. A change is marked applied only after Discord
accepted it; a crash in between replays it, which is harmless because adding or removing a
role is idempotent.

Several processes may share one queue (shards on PostgreSQL): a drain claims its batch with a
lease (``SyncQueue.claim``) and renews it while it works, so no change is applied by two
processes at once, and the changes of a process that died are taken over when its lease
runs out. A process only drains the guilds of its own shards.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Coroutine, Set
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
from discord.ext import tasks

from badges.model import RoleAction, RoleChange
from badges.service.sync_queue import LEASE
from bot import metrics
from bot.roles.pacer import Pacer

if TYPE_CHECKING:
    from bot.app import BadgeBot

log = logging.getLogger(__name__)

BATCH = 50
ECHO_WINDOW = 60.0  # seconds during which a member update may echo our own role change
MAX_BACKOFF = 600.0
MAX_UNREACHABLE_BACKOFF = 60.0
TRUST_RETRY_AFTER = 3  # attempts that wait just what a 429 says; later ones back off too
MIN_WAKE = 0.05  # seconds: the earliest a retry timer fires (no busy loop on clock skew)
# Discord error codes after which a change can never succeed as asked.
UNKNOWN_GUILD, UNKNOWN_MEMBER, UNKNOWN_ROLE = 10004, 10007, 10011
MISSING_ACCESS, MISSING_PERMISSIONS = 50001, 50013


def backoff(attempts: int) -> float:
    """Seconds to wait before retry number ``attempts + 1``: 5, 10, 20, ... up to 10 min."""
    return float(min(MAX_BACKOFF, 5.0 * 2.0**attempts))


def unreachable_backoff(attempts: int) -> float:
    """Seconds before retrying a change Discord did not answer: 1, 2, 4, ... up to 1 min (a
    refused connection is no request to Discord, so trying again soon costs nothing)."""
    return float(min(MAX_UNREACHABLE_BACKOFF, 2.0**attempts))


def retry_delay(attempts: int, retry_after: float | None) -> float:
    """Seconds before retrying a change that failed ``attempts`` times before. Discord's own
    word (a 429's retry-after) is taken as it is for the first few attempts; a change that
    keeps failing backs off as well, so a lasting storm does not turn into a stream of
    refused requests (they count toward Discord's invalid-request ban)."""
    if retry_after is None:
        return backoff(attempts)
    if attempts < TRUST_RETRY_AFTER:
        return retry_after
    return max(retry_after, backoff(attempts - TRUST_RETRY_AFTER))


def retry_after(exc: discord.HTTPException | discord.RateLimited) -> float | None:
    """The wait a 429 asked for, in seconds, or None if it named none. discord.py keeps
    only the response of its last try, so the headers are read (the precise
    ``X-RateLimit-Reset-After`` first, then ``Retry-After``, whole seconds)."""
    if isinstance(exc, discord.RateLimited):
        return exc.retry_after
    if exc.status != 429:
        return None
    headers = getattr(exc.response, "headers", None) or {}
    for name in ("X-RateLimit-Reset-After", "Retry-After"):
        try:
            value = float(headers.get(name, ""))
        except ValueError:
            continue
        if value >= 0:
            return value
    return None


class Outcome(enum.Enum):
    """What one change's attempt means for the rest of the batch."""

    DONE = "done"  # applied, dropped, failed or rescheduled: go on with the next one
    ROLE_REFUSED = "role refused"  # Discord refuses this role: skip its other changes
    REST = "rest"  # the guild's bucket is empty or Discord is unreachable: stop for now


_UNREACHABLE = (aiohttp.ClientError, OSError, TimeoutError)
_Timer = tasks.Loop[Callable[[int, Any], Coroutine[Any, Any, None]]]


class RoleSyncWorker:
    def __init__(self, bot: BadgeBot, *, pacer: Pacer | None = None, lease: float = LEASE) -> None:
        self.bot = bot
        self.service = bot.service
        self.pacer = pacer or Pacer()
        self._drains: dict[int, asyncio.Task[None]] = {}
        self._again: set[int] = set()
        self._timers: dict[int, tuple[float, _Timer]] = {}  # guild -> (loop time, timer)
        self._resting: dict[int, float] = {}  # guild -> loop time its drain may run again
        self._unreachable = False  # Discord did not answer; logged once until it does
        self.paused = False
        self.paused_guilds: set[int] = set()
        self._recent: dict[tuple[int, int], dict[tuple[int, RoleAction], float]] = {}
        self.holder = f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"
        """Who this process is, on the leases of the changes it claims."""
        self.lease = lease

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Resume what the queue holds (after a restart too) and retry on a schedule."""
        self.paused = False
        if not self.sweep.is_running():
            self.sweep.start()

    async def stop(self) -> None:
        """Stop draining; the queue keeps everything, and start() resumes it."""
        self.paused = True
        sweep = self.sweep.get_task()
        self.sweep.cancel()
        timers = [timer for _, timer in self._timers.values()]
        self._timers.clear()
        self._resting.clear()
        for timer in timers:
            timer.cancel()
        drains = list(self._drains.values())
        drains += [t for timer in timers if (t := timer.get_task()) is not None]
        for task in drains:
            task.cancel()
        if sweep is not None and sweep is not asyncio.current_task():
            drains.append(sweep)  # finished, so that start() right after starts it again
        await asyncio.gather(*drains, return_exceptions=True)
        try:
            await self.service.queue.release(self.holder)  # the next process needs no wait
        except Exception:  # stopping anyway: the leases run out on their own
            log.exception("releasing this process's role-change claims failed")

    @tasks.loop(seconds=30)
    async def sweep(self) -> None:
        """Pick up changes whose retry time has come, and anything a crash left behind; set
        the timers of retries still to come (after a restart too)."""
        try:
            upcoming = await self.service.queue.next_attempts()
        except Exception:  # a database hiccup must not end the loop for good
            log.exception("role sync sweep failed; trying again at the next one")
            return
        for guild_id, seconds in upcoming.items():
            if self.bot.get_guild(guild_id) is None:
                continue
            if seconds <= 0:
                self.kick(guild_id)
            else:
                self._wake_in(guild_id, seconds)

    def kick(self, guild_id: int) -> None:
        """Make sure the guild's queue is being drained (or will be, once its rest ends)."""
        if self.paused:
            return
        if guild_id in self._drains:
            self._again.add(guild_id)
            return
        until = self._resting.get(guild_id)
        if until is not None:
            rest = until - asyncio.get_running_loop().time()
            if rest > 0:
                self._wake_in(guild_id, rest)
                return
            del self._resting[guild_id]
        task = asyncio.create_task(self._drain(guild_id), name=f"role-sync-{guild_id}")
        self._drains[guild_id] = task

    def _wake_in(self, guild_id: int, seconds: float) -> None:
        """Kick the guild's drain in ``seconds``. One timer per guild, the earliest wins: a
        later wake-up is left to the drain, which sets the next timer when it runs out of
        due changes. The timer is a two-round ``tasks.Loop`` (the first round at once, the
        second after the interval), the shape of timed wait discord.py tooling knows."""
        if self.paused:
            return
        loop = asyncio.get_running_loop()
        delay = max(MIN_WAKE, seconds)
        at = loop.time() + delay
        current = self._timers.get(guild_id)
        if current is not None:
            if current[0] <= at:
                return
            current[1].cancel()
        timer: _Timer = tasks.loop(
            seconds=delay, count=2, reconnect=False, name=f"role-sync-wake-{guild_id}"
        )(self._timer_round)
        self._timers[guild_id] = (at, timer)
        timer.start(guild_id, timer)

    async def _timer_round(self, guild_id: int, timer: _Timer) -> None:
        if timer.current_loop == 0:
            return  # the first round runs at once; the wake-up is the second
        current = self._timers.get(guild_id)
        if current is not None and current[1] is timer:
            del self._timers[guild_id]
        self.kick(guild_id)

    def _rest(self, guild_id: int, seconds: float) -> None:
        """No request of this guild before ``seconds`` from now; then its drain wakes."""
        until = asyncio.get_running_loop().time() + seconds
        self._resting[guild_id] = max(until, self._resting.get(guild_id, until))
        self._wake_in(guild_id, seconds)

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

    def just_changed(self, guild_id: int, role_id: int) -> Callable[[Set[int]], Set[int]]:
        """Who among some members had ``role_id`` set by this worker lately, either way: a
        member list read from the cache may predate it (a reconciliation or /badge sync
        runs while the queue drains), so their difference is no drift."""

        def ask(user_ids: Set[int]) -> Set[int]:
            return {
                uid
                for uid in user_ids
                if role_id
                in self.echoes(guild_id, uid, {role_id}) | self.echoes(guild_id, uid, set())
            }

        return ask

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
                if guild_id in self._resting:
                    return  # its timer kicks it again
                self._again.discard(guild_id)
                if not self.bot.owns(guild_id) or self.bot.get_guild(guild_id) is None:
                    # another process's shard, or not available yet (starting up, an
                    # outage): claim nothing; its GUILD_CREATE kicks us again; a guild the
                    # bot leaves has its queue dropped (on_guild_remove)
                    self.paused_guilds.add(guild_id)
                    return
                changes = await self.service.queue.claim(
                    guild_id, self.holder, limit=BATCH, lease=self.lease
                )
                if not changes:
                    if guild_id in self._again:
                        continue
                    await self._wake_for_retries(guild_id)
                    return
                await self._apply_batch(guild_id, changes)
        except Exception:
            log.exception("role sync of guild %s stopped; the sweep will resume it", guild_id)
        finally:
            self._drains.pop(guild_id, None)

    async def _wake_for_retries(self, guild_id: int) -> None:
        """Nothing is due now: wake the drain when the earliest retry is."""
        upcoming = await self.service.queue.next_attempts(guild_id)
        if guild_id in upcoming:
            self._wake_in(guild_id, upcoming[guild_id])

    async def _apply_batch(self, guild_id: int, changes: list[RoleChange]) -> None:
        """Apply a batch in order. Before the first change of each role and action the
        service says whether it may be applied at all (hierarchy, permission, a role that
        gained power): a refused role fails together, one log entry per batch, and Discord
        is not asked for what it would refuse. A role Discord itself refuses (its hierarchy
        changed since the check) fails the same way, after one request."""
        guild = self.bot.get_guild(guild_id)
        if guild is None:
            # not available yet (starting up, an outage): its GUILD_CREATE kicks us again;
            # a guild the bot leaves has its queue dropped (on_guild_remove)
            self.paused_guilds.add(guild_id)
            return
        checked: dict[tuple[int, RoleAction], bool] = {}
        renewed = time.monotonic()
        for change in changes:
            if self.paused:
                break
            held_for = time.monotonic() - renewed
            if held_for >= self.lease * 0.9:
                return  # the lease may have passed to another process: claim afresh
            if held_for >= self.lease / 2:
                await self.service.queue.renew(guild_id, self.holder, lease=self.lease)
                renewed = time.monotonic()
            key = (change.role_id, change.action)
            if key not in checked:
                problem = await self.service.queue.problem(change)
                if problem is not None:
                    # a role that gained power is only kept from being given out
                    only = problem.reason == "gained_power"
                    actions = (change.action,) if only else tuple(RoleAction)
                    failed = await self.service.queue.blocked(
                        guild_id, change.role_id, problem.message, actions
                    )
                    _log_blocked(guild_id, change.role_id, problem.message, failed)
                    for action in actions:
                        checked[(change.role_id, action)] = False
                checked.setdefault(key, problem is None)
            if not checked[key]:
                continue
            outcome = await self._apply(change)
            if outcome is Outcome.REST:
                return
            if outcome is Outcome.ROLE_REFUSED:
                # blocked() failed every pending change of the role, whatever its action
                for action in RoleAction:
                    checked[(change.role_id, action)] = False

    async def _apply(self, change: RoleChange) -> Outcome:
        """Apply one change and record what became of it."""
        http = self.bot.http
        reason = f"badgebot: {change.reason}" if change.reason else "badgebot"
        await self.pacer.wait()
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
        except (discord.HTTPException, discord.RateLimited) as exc:
            return await self._handle_failure(change, exc)
        except _UNREACHABLE as exc:
            return await self._unreachable_now(change, exc)
        if self._unreachable:
            self._unreachable = False
            log.warning("role sync: Discord is reachable again; resuming")
        self._remember(change)
        await self.service.queue.applied(change)
        metrics.ROLE_CHANGES_APPLIED.labels(change.action.value).inc()
        return Outcome.DONE

    async def _handle_failure(
        self, change: RoleChange, exc: discord.HTTPException | discord.RateLimited
    ) -> Outcome:
        if isinstance(exc, discord.RateLimited) or exc.status == 429:
            # discord.py waited and retried already: the guild's role bucket (or the
            # global limit) is exhausted for longer, so the whole drain rests until then
            delay = retry_delay(change.attempts, retry_after(exc))
            log.warning(
                "role sync of guild %s is rate limited (%s); resuming in %.2f s",
                change.guild_id,
                exc,
                delay,
            )
            await self.service.queue.retry(change, f"429 {exc}", delay)
            metrics.ROLE_CHANGES_RETRIED.inc()
            self._rest(change.guild_id, delay)
            return Outcome.REST
        if exc.status >= 500:
            delay = backoff(change.attempts)
            log.warning("role change %s: %s; retrying in %.0f s", change.id, exc, delay)
            await self.service.queue.retry(change, f"{exc.status} {exc.text}", delay)
            metrics.ROLE_CHANGES_RETRIED.inc()
            self._wake_in(change.guild_id, delay)
            return Outcome.DONE
        if exc.code == UNKNOWN_MEMBER or (
            exc.code == UNKNOWN_ROLE and change.action is not RoleAction.ADD
        ):
            # the member left (a rejoin restores their roles) or the role is already gone
            await self.service.queue.applied(change)
            return Outcome.DONE
        if exc.status in (401, 403) or exc.code == UNKNOWN_ROLE:
            # refusals count toward Discord's invalid-request ban: stop the whole role
            failed = await self.service.queue.blocked(
                change.guild_id, change.role_id, _explain(exc)
            )
            _log_blocked(change.guild_id, change.role_id, _explain(exc), failed)
            return Outcome.ROLE_REFUSED
        await self.service.queue.failed([change], _explain(exc))
        metrics.ROLE_CHANGES_FAILED.inc()
        return Outcome.DONE

    async def _unreachable_now(self, change: RoleChange, exc: BaseException) -> Outcome:
        """No answer from Discord (refused connection, DNS, timeout): retry the change with
        backoff and rest the guild; one log line for the whole outage, not one per change."""
        delay = unreachable_backoff(change.attempts)
        if not self._unreachable:
            self._unreachable = True
            log.warning(
                "role sync: Discord is unreachable (%s: %s); retrying with backoff",
                type(exc).__name__,
                exc,
            )
        await self.service.queue.retry(change, f"unreachable: {type(exc).__name__}", delay)
        metrics.ROLE_CHANGES_RETRIED.inc()
        self._rest(change.guild_id, delay)
        return Outcome.REST


def _log_blocked(guild_id: int, role_id: int, why: str, failed: int) -> None:
    """One line per refused role (not per change); the audit trail and log channel get
    one entry too (SyncQueue.blocked)."""
    metrics.ROLE_CHANGES_FAILED.inc(failed)
    if failed:
        log.warning(
            "role sync of guild %s: role %s refused, %d pending change(s) failed: %s",
            guild_id,
            role_id,
            failed,
            why,
        )


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
