"""The worker tells its own role changes, echoed back by Discord, from hand edits."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

from badges.model import RoleAction, RoleChange
from bot.roles.worker import RoleSyncWorker, backoff


def _change(action: RoleAction, role_id: int = 7) -> RoleChange:
    return RoleChange(
        id=1, guild_id=1, role_id=role_id, action=action, user_id=42, badge_id="b",
        reason=None, attempts=0, error=None, created_at=datetime.now(UTC),
    )  # fmt: skip


def _worker() -> RoleSyncWorker:
    return RoleSyncWorker(SimpleNamespace(service=None))  # type: ignore[arg-type]


def test_an_update_showing_what_we_just_did_is_our_echo() -> None:
    worker = _worker()
    worker._remember(_change(RoleAction.REMOVE))
    worker._remember(_change(RoleAction.ADD))
    # the late echo of the removal: role absent; and of the add: role present
    assert worker.echoes(1, 42, set()) == {7}
    assert worker.echoes(1, 42, {7}) == {7}


def test_a_hand_edit_against_what_we_did_is_not_an_echo() -> None:
    worker = _worker()
    worker._remember(_change(RoleAction.ADD))
    assert worker.echoes(1, 42, set()) == frozenset()  # someone took the role we gave
    assert worker.echoes(1, 43, {7}) == frozenset()  # another member


def test_backoff_grows_and_is_capped() -> None:
    assert [backoff(n) for n in range(4)] == [5.0, 10.0, 20.0, 40.0]
    assert backoff(30) == 600.0


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[int, set[int]]] = []

    async def member(self, guild_id: int, user_id: int, roles: set[int], **_: Any) -> list[Any]:
        self.calls.append((user_id, roles))
        return []


def _member(role_ids: set[int]) -> Any:
    return SimpleNamespace(
        id=42, guild=SimpleNamespace(id=1), roles=[SimpleNamespace(id=r) for r in role_ids]
    )


async def test_the_echo_of_our_own_change_reads_nothing_a_hand_edit_is_reconciled() -> None:
    from cogs.role_events import RoleEventsCog

    worker = _worker()
    reconcile = _Recorder()
    cog = RoleEventsCog(
        cast(Any, SimpleNamespace(role_sync=worker, service=SimpleNamespace(reconcile=reconcile)))
    )
    worker._remember(_change(RoleAction.ADD))  # member 42 got role 7 from us
    await cog.on_member_update(_member(set()), _member({7}))  # our echo
    assert reconcile.calls == []
    await cog.on_member_update(_member({7}), _member({7, 8}))  # by hand
    assert reconcile.calls == [(42, {7, 8})]
