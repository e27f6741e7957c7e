"""The reconciliation diff, as a table: holders, role members, queue, mode -> changes."""

from __future__ import annotations

import pytest

from badges.model import RoleDrift
from badges.reconcile import RoleDiff, plan

R, A = RoleDrift.REVERT, RoleDrift.ADOPT


@pytest.mark.parametrize(
    ("holders", "role", "adding", "removing", "drift", "expected"),
    [
        # in step: nothing to do, in either mode
        ({1, 2}, {1, 2}, set(), set(), R, RoleDiff()),
        ({1, 2}, {1, 2}, set(), set(), A, RoleDiff()),
        # a holder without the role gets it; a member with it but no badge loses it
        ({1, 2}, {2, 3}, set(), set(), R, RoleDiff(grant=frozenset({1}), remove=frozenset({3}))),
        # adopt: a hand-given role is an award, a hand-removed role a revocation
        ({1, 2}, {2, 3}, set(), set(), A, RoleDiff(award=frozenset({3}), revoke=frozenset({1}))),
        # changes already queued are in flight, not drift
        ({1, 2}, {2, 3}, {1}, {3}, R, RoleDiff()),
        ({1, 2}, {2, 3}, {1}, {3}, A, RoleDiff()),
        # a queued add for someone who is not a holder any more does not hide drift elsewhere
        ({1}, set(), {9}, set(), R, RoleDiff(grant=frozenset({1}))),
        # nobody holds it, nobody has it
        (set(), set(), set(), set(), R, RoleDiff()),
        # the role given to everyone by hand, no holders
        (set(), {1, 2, 3}, set(), set(), R, RoleDiff(remove=frozenset({1, 2, 3}))),
        (set(), {1, 2, 3}, set(), set(), A, RoleDiff(award=frozenset({1, 2, 3}))),
    ],
)
def test_plan(
    holders: set[int],
    role: set[int],
    adding: set[int],
    removing: set[int],
    drift: RoleDrift,
    expected: RoleDiff,
) -> None:
    assert plan(holders, role, drift, adding=adding, removing=removing) == expected


def test_diff_size_and_emptiness() -> None:
    diff = RoleDiff(grant=frozenset({1}), remove=frozenset({2, 3}))
    assert diff.size == 3
    assert not diff.empty
    assert RoleDiff().empty


def test_plan_scales_to_large_guilds() -> None:
    holders = set(range(0, 100_000))
    role = set(range(50_000, 150_000))
    diff = plan(holders, role, R)
    assert len(diff.grant) == 50_000
    assert len(diff.remove) == 50_000
