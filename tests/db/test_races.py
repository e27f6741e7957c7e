"""Concurrent writes on real transactions: awards, revocations and bulk awards racing role
links, unlinks, edits and deletions. Every repository call first sleeps a random moment, so
the transactions interleave in many orders. On PostgreSQL they run truly at once (SQLite
serialises writers, where these pass trivially; CI runs both).

After each round the queued role changes are applied to a model of Discord's roles, and
roles, counts and history must agree with the awards."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

import pytest

from badges.errors import BadgeError
from badges.model import EventKind, RoleAction
from badges.service import BadgeService
from db.database import Database
from db.unit_of_work import SqlUnitOfWork
from tests.conftest import ADMIN, GUILD, MOD
from tests.fakes import FakeDiscord

ROUNDS = 12
ROLE = 5_000_000_000_000_001


class _Slow:
    def __init__(self, inner: Any, rng: random.Random) -> None:
        self._inner, self._rng = inner, rng

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(self._rng.random() * 0.004)
            return await target(*args, **kwargs)

        return call


class _JitteryUnitOfWork:
    def __init__(self, inner: Any, rng: random.Random) -> None:
        self._inner, self._rng = inner, rng

    async def __aenter__(self) -> _JitteryUnitOfWork:
        await self._inner.__aenter__()
        for name in SqlUnitOfWork.__annotations__:  # every repository of the unit of work
            setattr(self, name, _Slow(getattr(self._inner, name), self._rng))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._inner.__aexit__(exc_type, exc, tb)

    async def commit(self) -> None:
        await asyncio.sleep(self._rng.random() * 0.004)
        await self._inner.commit()

    async def lock(self, key: int) -> None:
        await self._inner.lock(key)

    async def announce(self) -> None:
        await self._inner.announce()


def _jittery(database: Database, rng: random.Random) -> Callable[..., Any]:
    def factory(*, write: bool) -> _JitteryUnitOfWork:
        return _JitteryUnitOfWork(database(write=write), rng)

    return factory


class RoleModel:
    """Discord's side: who has which role, after applying the queue in order."""

    def __init__(self) -> None:
        self.members: dict[int, set[int]] = {}

    async def apply(self, service: BadgeService) -> None:
        while changes := await service.queue.due(GUILD, limit=100):
            for change in changes:
                held = self.members.setdefault(change.role_id, set())
                if change.action is RoleAction.ADD:
                    assert change.user_id is not None
                    held.add(change.user_id)
                elif change.action is RoleAction.REMOVE:
                    held.discard(change.user_id or 0)
                else:
                    held.clear()
                await service.queue.applied(change)


async def _check(service: BadgeService, model: RoleModel, roles: set[int]) -> None:
    """Roles, counts and history agree with the awards."""
    await model.apply(service)
    linked = {b.role_id: b for b in await service.roles.linked_badges(GUILD)}
    for role_id in roles:
        badge = linked.get(role_id)
        holders = set()
        if badge is not None:
            page = await service.awards.holders(GUILD, badge.id, limit=100)
            holders = {a.user_id for a in page.items}
            assert badge.awarded_count == len(holders)
        assert model.members.get(role_id, set()) == holders, (role_id, badge)
    for uid in (10, 11, 12, 13):
        events = (await service.awards.history(ADMIN, GUILD, uid, limit=100)).items
        held = {b.badge.id for b in (await service.awards.of_member(GUILD, uid)).items}
        balance: dict[str, int] = {}
        for event in events:
            assert event.badge_id is not None
            step = 1 if event.kind is EventKind.AWARDED else -1
            balance[event.badge_id] = balance.get(event.badge_id, 0) + step
        assert {b for b, n in balance.items() if n == 1} == held, uid
        assert all(n in (0, 1) for n in balance.values()), balance


async def _ignore_refusal(work: Awaitable[Any]) -> None:
    with contextlib.suppress(BadgeError):  # losing a race is a clean refusal
        await work


WRITERS: dict[str, Callable[[BadgeService, str], Awaitable[Any]]] = {
    "award": lambda s, b: s.awards.award(MOD, GUILD, b, 11),
    "revoke": lambda s, b: s.awards.revoke(MOD, GUILD, b, 10),
    "bulk": lambda s, b: s.awards.bulk_award(MOD, GUILD, b, [12, 13]),
}
ROLE_CHANGES: dict[str, Callable[[BadgeService, str, int], Awaitable[Any]]] = {
    "link": lambda s, b, r: s.roles.link(ADMIN, GUILD, b, r),
    "unlink": lambda s, b, r: s.roles.unlink(ADMIN, GUILD, b, remove_from_holders=True),
    "edit": lambda s, b, r: s.catalog.update(ADMIN, GUILD, b, name=f"Renamed {r}"),
    "relink": lambda s, b, r: s.catalog.update(ADMIN, GUILD, b, role_id=r + 1),
    "delete": lambda s, b, r: s.catalog.delete(ADMIN, GUILD, b),
}


@pytest.mark.parametrize("writer", sorted(WRITERS))
@pytest.mark.parametrize("change", sorted(ROLE_CHANGES))
async def test_awards_racing_role_changes_keep_roles_counts_and_history_in_step(
    database: Database, discord_facts: FakeDiscord, writer: str, change: str
) -> None:
    rng = random.Random(f"{writer}-{change}")
    service = BadgeService(_jittery(database, rng), directory=discord_facts)
    model = RoleModel()
    roles: set[int] = set()
    for round_ in range(ROUNDS):
        role = ROLE + 10 * round_
        roles |= {role, role + 1}
        badge = await service.catalog.create(ADMIN, GUILD, name=f"Round {round_}")
        await service.awards.award(MOD, GUILD, badge.id, 10)
        if change != "link":
            await service.roles.link(ADMIN, GUILD, badge.id, role)
        await model.apply(service)
        await asyncio.gather(
            _ignore_refusal(WRITERS[writer](service, badge.id)),
            _ignore_refusal(ROLE_CHANGES[change](service, badge.id, role)),
        )
        await _check(service, model, roles)


async def test_two_ungates_of_one_channel_leave_exactly_one_to_reopen_it(
    database: Database, discord_facts: FakeDiscord
) -> None:
    rng = random.Random("ungate")
    service = BadgeService(_jittery(database, rng), directory=discord_facts)
    for round_ in range(ROUNDS):
        channel = 7_000 + round_
        first = await service.catalog.create(ADMIN, GUILD, name=f"First {round_}")
        second = await service.catalog.create(ADMIN, GUILD, name=f"Second {round_}")
        await service.roles.link(ADMIN, GUILD, first.id, ROLE + 2 * round_)
        await service.roles.link(ADMIN, GUILD, second.id, ROLE + 2 * round_ + 1)
        for badge in (first, second):
            await service.gates.add(
                ADMIN, GUILD, badge.id, channel, everyone_before=None, role_before=None
            )
        results = await asyncio.gather(
            service.gates.remove(ADMIN, GUILD, first.id, channel),
            service.gates.remove(ADMIN, GUILD, second.id, channel),
        )
        left = sorted(len(remaining) for _, remaining in results)
        assert left == [0, 1]  # one of them saw the channel's last gate go, and reopens it
