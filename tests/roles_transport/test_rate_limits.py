"""Role sync under Discord's rate limits, over the wire: a storm of 429s on the role routes."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

import pytest

from bot.roles.worker import backoff, retry_delay
from tests.roles_transport.conftest import Transport

pytestmark = pytest.mark.timeout(60)


async def test_a_429_storm_lands_every_role_change_once_without_waiting_for_the_sweep(
    transport: Transport, caplog: pytest.LogCaptureFixture
) -> None:
    role = transport.roles[0]
    badge = await transport.link_badge("Storm", role)
    # 20 refusals in a row: discord.py retries each request 5 times, so 4 changes give up
    # with a 429 and must be retried when Discord said, woken by the worker's timer (the
    # 30 s sweep is beyond the drain's bound, a blind 5 s backoff per change nearly so)
    transport.emu.storm(20, retry_after=0.2)
    with caplog.at_level(logging.WARNING, logger="bot"):
        await transport.award_all(badge)
        assert await transport.drained() == (0, 0)

    assert transport.holders_in_discord(role) == set(transport.members)
    accepted = Counter(
        c.user_id for c in transport.emu.role_calls() if 200 <= c.status < 300 and c.role_id == role
    )
    assert accepted == dict.fromkeys(transport.members, 1)
    assert len(transport.emu.role_calls(429)) == 20
    assert transport.sync_failures() == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    waits = [r.getMessage() for r in caplog.records if "rate limited" in r.getMessage()]
    assert len(waits) == 4
    assert all(w.endswith("resuming in 0.20 s") for w in waits)


async def test_a_rate_limited_guild_rests_until_discord_says_then_resumes(
    transport: Transport,
) -> None:
    role = transport.roles[0]
    badge = await transport.link_badge("Patience", role)
    transport.emu.storm(5, retry_after=0.3)  # exactly one change gives up
    await transport.award_all(badge)
    assert await transport.drained() == (0, 0)
    calls = transport.emu.role_calls()
    last_refusal = max(i for i, c in enumerate(calls) if c.status == 429)
    resumed = calls[last_refusal + 1]
    # no request of the guild in the rest Discord asked for after the fifth 429
    assert resumed.at - calls[last_refusal].at >= 0.3
    assert resumed.status == 204
    assert transport.holders_in_discord(role) == set(transport.members)


async def test_stop_while_resting_sends_nothing_more_and_start_resumes(
    transport: Transport,
) -> None:
    role = transport.roles[0]
    badge = await transport.link_badge("Resumed", role)
    transport.emu.storm(5, retry_after=0.2)
    await transport.award_all(badge)
    for _ in range(500):  # bounded: until the first change gave up and the guild rests
        if len(transport.emu.role_calls(429)) == 5 and not transport.bot.role_sync.busy:
            break
        await asyncio.sleep(0.01)
    await transport.bot.role_sync.stop()
    seen = len(transport.emu.calls)
    await asyncio.sleep(0.5)  # past the retry time: a timer left behind would fire now
    assert len(transport.emu.calls) == seen
    assert transport.holders_in_discord(role) != set(transport.members)

    transport.bot.role_sync.start()
    assert await transport.drained() == (0, 0)
    assert transport.holders_in_discord(role) == set(transport.members)
    accepted = Counter(c.user_id for c in transport.emu.role_calls(204))
    assert accepted == dict.fromkeys(transport.members, 1)


def test_retry_delay_takes_discords_word_then_backs_off_too() -> None:
    assert [retry_delay(n, 0.2) for n in range(5)] == [0.2, 0.2, 0.2, 5.0, 10.0]
    assert retry_delay(4, 30.0) == 30.0
    assert retry_delay(0, None) == backoff(0) == 5.0
