"""The BadgeService: every adapter (slash commands, REST API, automatic rules) calls it.

It is split by area, one module each, sharing one transaction helper (``core.ServiceCore``):
each operation checks the actor's level itself, validates its input before touching storage,
locks the rows its outcome depends on, writes, records what it did in the audit trail and
queues the role changes it implies, all in one transaction; after the commit the recorded
events go to subscribers (log channel, caches, role sync).

    service.catalog   badges: define, edit, delete, find, list
    service.awards    award, revoke, bulk awards, holders, a member's badges and history
    service.config    guild settings: level roles, log channel, role drift
    service.roles     role links and the rules about which roles a badge may hand out
    service.gates     channels only a badge's holders see
    service.reconcile roles in Discord against awards in the database
    service.queue     the role-sync queue, as the worker sees it
    service.tokens    REST API tokens: made, listed, revoked, checked
    service.webhooks  URLs that receive the guild's changes
    service.rules     automatic badges (rules, evaluation, progress) and who may give a badge
    service.activity  activity counts written in batches, and the leaderboard
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from badges.ports import Directory, UnitOfWorkFactory
from badges.service.activity import Activity
from badges.service.api_tokens import ApiTokens
from badges.service.automation import Automation
from badges.service.awards import BULK_MAX, Awards
from badges.service.catalog import UNSET, Catalog
from badges.service.config import GuildConfig
from badges.service.core import DISCORD, Listener, ServiceCore, utcnow
from badges.service.gates import Gates
from badges.service.reconciliation import Reconciliation
from badges.service.role_links import RoleLinks
from badges.service.sync_queue import Progress, SyncQueue
from badges.service.webhooks import Webhooks
from badges.webhooks import STRICT, UrlPolicy


class BadgeService:
    """Badges, awards, settings, role links and gates, with every rule enforced here."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        *,
        directory: Directory | None = None,
        clock: Callable[[], datetime] = utcnow,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        url_policy: UrlPolicy = STRICT,
    ) -> None:
        self.core = ServiceCore(
            uow, directory=directory, clock=clock, new_id=new_id, url_policy=url_policy
        )
        self.roles = RoleLinks(self.core)
        self.catalog = Catalog(self.core, self.roles)
        self.awards = Awards(self.core, self.roles)
        self.config = GuildConfig(self.core, self.roles)
        self.gates = Gates(self.core)
        self.reconcile = Reconciliation(self.core)
        self.queue = SyncQueue(self.core, self.roles)
        self.tokens = ApiTokens(self.core)
        self.webhooks = Webhooks(self.core)
        self.rules = Automation(self.core, self.awards, self.roles)
        self.activity = Activity(self.core)

    def use_directory(self, directory: Directory) -> None:
        """Tell the service what Discord knows (the bot sets it once it is built)."""
        self.core.directory = directory

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` with the events of every committed change."""
        self.core.listeners.append(listener)

    def watch_role_queue(self, watcher: Callable[[int], None]) -> None:
        """Call ``watcher`` with a guild id whenever a commit queued role changes there."""
        self.core.queue_watchers.append(watcher)

    def watch_outbox(self, watcher: Callable[[], None]) -> None:
        """Call ``watcher`` whenever a commit queued webhook deliveries."""
        self.core.outbox_watchers.append(watcher)


__all__ = ["BULK_MAX", "DISCORD", "UNSET", "BadgeService", "Listener", "Progress"]
