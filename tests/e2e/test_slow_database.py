"""A slow database (every query waits 2 s): every interaction is still acknowledged within
Discord's 3 seconds (deferred when it has to wait for the database) and its reply arrives; a
deferral that fails leaves nothing committed behind the user's back."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.util import await_only

from db.database import Database
from tests.e2e.conftest import Live
from tests.e2e.test_commands import create_linked_badge
from tests.emulator.interactions import DEADLINE, Interaction

QUERY_DELAY = 2.0


@contextmanager
def slow_queries(database: Database, delay: float = QUERY_DELAY) -> Iterator[list[str]]:
    """Every statement waits ``delay`` seconds first (without blocking the event loop: the
    async engine runs statements in a greenlet, where ``await_only`` may await)."""
    seen: list[str] = []

    def wait(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)
        await_only(asyncio.sleep(delay))

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", wait)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", wait)


def assert_in_time(record: Interaction) -> None:
    assert record.refused == [], f"{record.name}: Discord refused the response: {record.refused}"
    assert record.ack_latency is not None, f"{record.name}: never acknowledged"
    assert record.ack_latency < DEADLINE, (
        f"{record.name}: acknowledged after {record.ack_latency:.2f} s"
    )


async def test_every_command_is_acknowledged_in_time_and_answered(live: Live) -> None:
    await create_linked_badge(live)
    channel = live.guild.add_channel("helpers-lounge")
    guild = live.bot.get_guild(live.guild.id)
    assert guild is not None
    owner = live.guild.owner_id
    staff = live.guild.add_role("Staff").id
    set_role = await live.emu.invoke(
        live.guild, owner, "badge config set-role", level="moderator", role=staff
    )
    assert "Staff" in (await set_role.wait()).text or set_role.text
    with slow_queries(live.bot.database):
        invoke = live.emu.invoke
        records = [
            await invoke(live.guild, live.bob.user.id, "badges", member=live.alice.user.id),
            await invoke(live.guild, live.bob.user.id, "badge info", badge="Helper"),
            await invoke(live.guild, live.bob.user.id, "badge list"),
            await invoke(live.guild, owner, "badge config show"),
            await invoke(
                live.guild,
                live.mod.user.id,
                "badge award",
                badge="Helper",
                member=live.alice.user.id,
            ),
            await invoke(live.guild, owner, "badge gate", badge="Helper", channel=channel.id),
            await invoke(live.guild, owner, "badge config unset-role", role=staff),
        ]
        suggestions = await live.emu.autocomplete(
            live.guild, live.mod.user.id, "badge award", "badge", badge="Hel"
        )
        await asyncio.gather(*(r.wait(within=90) for r in [*records, suggestions]))
    for record in records:
        assert_in_time(record)
        assert record.text, f"{record.name}: no reply"
    assert_in_time(suggestions)
    assert [c["name"] for c in suggestions.choices][:1] == ["Helper"]


async def test_a_failed_deferral_commits_nothing(live: Live) -> None:
    await create_linked_badge(live)
    live.emu.latency("interaction callback", DEADLINE + 0.5)  # every response arrives late
    award = await live.emu.invoke(
        live.guild, live.mod.user.id, "badge award", badge="Helper", member=live.alice.user.id
    )
    await live.until(lambda: 10062 in award.refused, within=15)
    await asyncio.sleep(1.0)  # anything the bot would still do after the refusal
    live.emu.latency("interaction callback", 0.0)
    holders = await live.bot.service.awards.of_member(live.guild.id, live.alice.user.id)
    assert holders == [] or getattr(holders, "items", None) == []
    assert live.helpers not in live.alice.roles
