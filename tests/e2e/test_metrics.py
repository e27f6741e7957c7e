"""The bot's /metrics over the wire: what an operator's Prometheus scrapes while the bot
serves commands and drains its role queue."""

from __future__ import annotations

import socket
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from badges.permissions import Actor, Level
from db.database import Database
from tests.e2e.conftest import connected, populate, until
from tests.emulator import DiscordEmulator
from tests.emulator.limits import RouteLimit

OWNER = Actor(2, "e2e owner", Level.SUPER_ADMIN, manages_roles=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def scrape(
    port: int, token: str | None = None
) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics", headers=headers) as response,
    ):
        assert response.status == 200, await response.text()
        text = await response.text()
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


async def test_queue_depth_interactions_and_gateway_latency(
    emu: DiscordEmulator, database: Database
) -> None:
    guild, _people, helpers = await populate(emu)
    members = [await emu.add_member(guild, f"member{i}") for i in range(6)]
    emu.limits["member role add"] = RouteLimit(2, 1.0)  # a slow drain to watch
    port = free_port()
    async with connected(emu, database, metrics_port=port) as (bot, _task):
        before = await scrape(port)  # the registry is the process's: count from here
        created = await emu.invoke(
            guild, guild.owner_id, "badge create", name="Helper", role=helpers
        )
        await created.wait()
        badge = (await bot.service.catalog.list(guild.id)).items[0]
        await bot.service.awards.bulk_award(OWNER, guild.id, badge.id, [m.user.id for m in members])
        during = await scrape(port)
        key = (("guild", str(guild.id)),)
        assert during["badgebot_role_queue_pending"][key] >= 1
        assert during["badgebot_role_queue_oldest_seconds"][key] >= 0
        assert during["badgebot_interactions_total"][(("kind", "application_command"),)] >= 1

        def acked(found: dict[str, Any], name: str, key: tuple[Any, ...] = ()) -> float:
            return found.get(f"badgebot_interaction_ack_seconds_{name}", {}).get(key, 0.0)

        acks = acked(during, "count") - acked(before, "count")
        in_time = acked(during, "bucket", (("le", "3.0"),)) - acked(
            before, "bucket", (("le", "3.0"),)
        )
        assert acks >= 1
        assert in_time == acks
        assert (("shard", "0"),) in during["badgebot_gateway_latency_seconds"]
        await until(lambda: all(helpers in m.roles for m in members), within=15)
        await bot.role_sync.wait_idle()
        after = await scrape(port)
        assert key not in after.get("badgebot_role_queue_pending", {})
        applied = after["badgebot_role_changes_applied_total"][(("action", "add"),)]
        assert applied >= len(members)


async def test_a_metrics_token_is_required_when_set(
    emu: DiscordEmulator, database: Database
) -> None:
    await populate(emu)
    port = free_port()
    async with (
        connected(emu, database, metrics_port=port, metrics_token="s3cret"),
        aiohttp.ClientSession() as session,
    ):
        async with session.get(f"http://127.0.0.1:{port}/metrics") as refused:
            assert refused.status == 401
        assert "process_resident_memory_bytes" in await scrape(port, "s3cret")
