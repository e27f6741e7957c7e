"""Discord unreachable while role changes are draining."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.roles_transport.conftest import Transport, lines_with, until

pytestmark = pytest.mark.timeout(60)


async def test_role_sync_waits_out_discord_going_away_and_lands_everything(
    transport: Transport, caplog: pytest.LogCaptureFixture
) -> None:
    emu, role = transport.emu, transport.roles[0]
    badge = await transport.link_badge("Outage", role)
    await emu.go_down()
    with caplog.at_level(logging.WARNING, logger="bot"):
        await transport.award_all(badge)
        await until(lambda: lines_with(caplog, "unreachable"))
        await asyncio.sleep(0.3)  # the outage goes on for a while
        await emu.come_back()
        assert await transport.drained() == (0, 0)

    assert transport.holders_in_discord(role) == set(transport.members)
    assert len(lines_with(caplog, "Discord is unreachable")) == 1
    assert len(lines_with(caplog, "Discord is reachable again")) == 1
    # discord.py's own gateway reconnects log errors while Discord is away; the bot's must not
    bot_records = [r for r in caplog.records if not r.name.startswith("discord")]
    assert not [r for r in bot_records if r.levelno >= logging.ERROR or r.exc_info]
