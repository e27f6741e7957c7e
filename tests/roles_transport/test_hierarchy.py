"""Role sync when Discord refuses a role mid-run (the bot's role was moved below it)."""

from __future__ import annotations

import logging
from collections import Counter

import pytest

from tests.roles_transport.conftest import GUILD, Transport

pytestmark = pytest.mark.timeout(60)


async def test_a_role_broken_mid_run_fails_once_with_one_report_and_others_proceed(
    transport: Transport, caplog: pytest.LogCaptureFixture
) -> None:
    broken, fine = transport.roles
    broken_badge = await transport.link_badge("Broken", broken)
    fine_badge = await transport.link_badge("Fine", fine)
    # discord.py's cache still shows the old hierarchy (no GUILD_ROLE_UPDATE yet), so the
    # worker's pre-check passes and only Discord's answer tells it
    transport.emu.break_hierarchy(broken, after=5)
    transport.bot.role_sync.paused = True  # queue both badges' changes, then let it run
    await transport.award_all(broken_badge)
    await transport.award_all(fine_badge)
    with caplog.at_level(logging.WARNING, logger="bot"):
        transport.bot.role_sync.paused = False
        transport.bot.role_sync.kick(GUILD)
        assert await transport.drained() == (0, 15)

    assert transport.holders_in_discord(fine) == set(transport.members)
    assert len(transport.holders_in_discord(broken)) == 5
    refusals = transport.emu.role_calls(403)
    assert [c.role_id for c in refusals] == [broken]  # asked once, not once per member
    accepted = Counter(
        (c.user_id, c.role_id) for c in transport.emu.role_calls() if 200 <= c.status < 300
    )
    assert set(accepted.values()) == {1}
    (report,) = transport.sync_failures()
    assert report.after == {"role_id": broken, "changes": 15}
    assert report.reason == (
        "Discord refused: missing permissions (50013). Check my role's position."
    )
    lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(lines) == 1
    assert f"role {broken} refused, 15 pending change(s) failed" in lines[0]
    _, _, failures = await transport.bot.service.queue.status(GUILD)
    assert {f.role_id for f in failures} == {broken}
