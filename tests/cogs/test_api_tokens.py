"""/badge api-token and /badge config api-public-reads, and what the API does with them:
an award made through the API arrives as the Discord role, in the bot's process at once and
from another process through the change feed."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from api import create_app
from badges.service import BadgeService
from db.database import Database
from tests.api.conftest import api_settings
from tests.cogs.conftest import World, role_ids, text_of
from tests.conftest import SUPER

SECRET = re.compile(r"```\n(bbt_[A-Za-z0-9_-]+)\n```")


async def _client(service: BadgeService, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    settings = api_settings(database.url.render_as_string(hide_password=False))
    app = create_app(settings, service=service, database=database)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            yield client


@pytest.fixture
async def bot_api(world: World) -> AsyncIterator[httpx.AsyncClient]:
    """The API in the bot's own process: the bot's service and database."""
    async for client in _client(world.bot.service, world.bot.database):
        yield client


@pytest.fixture
async def other_process_api(world: World) -> AsyncIterator[httpx.AsyncClient]:
    """The API as another process runs it: its own engine and service on the same database."""
    database = Database(world.bot.database.url.render_as_string(hide_password=False))
    try:
        async for client in _client(BadgeService(database), database):
            yield client
    finally:
        await database.dispose()


async def _token(world: World, level: str = "moderator", name: str = "Loyalty app") -> str:
    res = await world.admin.slash(world.general, "badge api-token create", level=level, name=name)
    assert res.ephemeral
    match = SECRET.search(text_of(res))
    assert match, text_of(res)
    return match.group(1)


async def _linked_badge(world: World) -> str:
    await world.admin.slash(world.general, "badge create", name="Helper", role=world.helpers)
    return (await world.bot.service.catalog.find(world.guild.id, "helper")).id


async def _award(client: httpx.AsyncClient, world: World, badge: str, secret: str) -> None:
    response = await client.post(
        f"/api/v1/guilds/{world.guild.id}/badges/award",
        json={"badgeId": badge, "userId": str(world.alice.id), "reason": "Top poster"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 201, response.text


async def test_a_token_shown_once_awards_through_the_api_and_the_role_follows(
    world: World, bot_api: httpx.AsyncClient
) -> None:
    await world.admin.slash(world.general, "badge config log-channel", channel=world.logs)
    badge = await _linked_badge(world)
    secret = await _token(world)
    await _award(bot_api, world, badge, secret)
    await world.bot.role_sync.wait_idle()  # kicked by the award itself: no sweep, no wait
    await world.env.settle()
    assert world.helpers.id in await role_ids(world, world.alice)
    history = await world.bot.service.awards.history(SUPER, world.guild.id, world.alice.id)
    assert (history.items[0].actor_name, history.items[0].actor_id) == (
        "Loyalty app",
        world.admin.id,
    )
    posted = world.logs.history()[-1].embeds[0]
    assert posted.title == "Badge awarded"
    assert "Loyalty app" in {f.name: f.value for f in posted.fields}["By"]
    listed = text_of(await world.admin.slash(world.general, "badge api-token list"))
    assert "Loyalty app" in listed
    assert "Moderator" in listed
    assert secret not in listed


async def test_an_award_from_another_process_reaches_the_role_within_seconds(
    world: World, other_process_api: httpx.AsyncClient
) -> None:
    badge = await _linked_badge(world)
    secret = await _token(world)
    await _award(other_process_api, world, badge, secret)
    await world.env.advance_time(3)  # the bot follows the change feed every second
    await world.bot.role_sync.wait_idle()
    await world.env.settle()
    assert world.helpers.id in await role_ids(world, world.alice)


async def test_revoking_a_token_refuses_its_next_request(
    world: World, bot_api: httpx.AsyncClient
) -> None:
    badge = await _linked_badge(world)
    secret = await _token(world)
    choices = await world.admin.autocomplete(world.general, "badge api-token revoke", "token", "")
    assert [c["name"] for c in choices] == ["Loyalty app (Moderator)"]
    res = await world.admin.slash(
        world.general, "badge api-token revoke", token=choices[0]["value"]
    )
    assert "revoked" in text_of(res)
    response = await bot_api.post(
        f"/api/v1/guilds/{world.guild.id}/badges/award",
        json={"badgeId": badge, "userId": str(world.alice.id)},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


async def test_members_and_moderators_cannot_manage_tokens(world: World) -> None:
    for who in (world.alice, world.mod):
        res = await who.slash(
            world.general, "badge api-token create", level="moderator", name="sneaky"
        )
        assert res.ephemeral
        assert "Admin level" in text_of(res)
        assert (
            await world.mod.autocomplete(world.general, "badge api-token revoke", "token", "") == []
        )
    assert await world.bot.service.tokens.list(SUPER, world.guild.id) == []


async def test_only_a_super_admin_makes_an_admin_token(world: World) -> None:
    res = await world.admin.slash(
        world.general, "badge api-token create", level="admin", name="Ops"
    )
    assert "Super Admin level" in text_of(res)
    assert SECRET.search(text_of(res)) is None
    res = await world.owner.slash(
        world.general, "badge api-token create", level="admin", name="Ops"
    )
    assert SECRET.search(text_of(res))


async def test_bad_token_names_and_picks_are_refused(world: World) -> None:
    res = await world.admin.slash(
        world.general, "badge api-token create", level="moderator", name="\u200b\u200b"
    )
    assert res.ephemeral
    assert "no visible characters" in text_of(res)
    await _token(world, name="Loyalty app")
    again = await world.admin.slash(
        world.general, "badge api-token create", level="moderator", name="LOYALTY APP"
    )
    assert "already exists" in text_of(again)
    pick = await world.admin.slash(world.general, "badge api-token revoke", token="abc")
    assert "Pick the token from the list" in text_of(pick)
    gone = await world.admin.slash(world.general, "badge api-token revoke", token="999")
    assert "No such API token" in text_of(gone)


async def test_public_reads_off_makes_reads_token_only(
    world: World, bot_api: httpx.AsyncClient
) -> None:
    base = f"/api/v1/guilds/{world.guild.id}"
    assert (await bot_api.get(f"{base}/badges")).status_code == 200
    res = await world.admin.slash(world.general, "badge config api-public-reads", mode="off")
    assert "needs an API token" in text_of(res)
    assert (await bot_api.get(f"{base}/badges")).status_code == 401
    secret = await _token(world)
    ok = await bot_api.get(f"{base}/badges", headers={"Authorization": f"Bearer {secret}"})
    assert ok.status_code == 200
    denied = await world.mod.slash(world.general, "badge config api-public-reads", mode="on")
    assert "Admin level" in text_of(denied)
    assert (await bot_api.get(f"{base}/badges")).status_code == 401


async def test_webhook_commands(world: World) -> None:
    async def public(host: str, port: int) -> list[str]:
        return ["93.184.215.14"]

    world.bot.service.core.resolve = public
    res = await world.admin.slash(
        world.general, "badge webhook add", url="https://hooks.example.com/badges"
    )
    assert res.ephemeral
    assert re.search(r"```\nwhsec_[A-Za-z0-9_-]+\n```", text_of(res)), text_of(res)
    listed = text_of(await world.admin.slash(world.general, "badge webhook list"))
    assert "https://hooks.example.com/badges" in listed
    assert "whsec_" not in listed
    refused = await world.admin.slash(
        world.general, "badge webhook add", url="https://127.0.0.1/steal"
    )
    assert "private network" in text_of(refused)
    denied = await world.mod.slash(world.general, "badge webhook add", url="https://x.example/")
    assert "Admin level" in text_of(denied)
    assert await world.mod.autocomplete(world.general, "badge webhook remove", "webhook", "") == []
    [choice] = await world.admin.autocomplete(world.general, "badge webhook remove", "webhook", "")
    res = await world.admin.slash(world.general, "badge webhook remove", webhook=choice["value"])
    assert "no longer go" in text_of(res)
    assert await world.bot.service.webhooks.list(SUPER, world.guild.id) == []
