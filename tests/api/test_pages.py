"""Keyset pages: a walk sees every item once, also while items are added during it."""

from __future__ import annotations

import asyncio
import base64

import httpx

from badges.service import BadgeService
from tests.api.conftest import BASE, error_of
from tests.conftest import ADMIN, GUILD, MOD

MEMBER = 10**17


async def _walk(client: httpx.AsyncClient, path: str, key: str, limit: int) -> list[str]:
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = await client.get(path, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        items = body[key]
        assert len(items) <= limit
        seen += [i.get("id") or i["userId"] for i in items]
        cursor = body["nextCursor"]
        if cursor is None:
            return seen
        await asyncio.sleep(0)


async def test_walk_over_250_badges_sees_each_once(
    client: httpx.AsyncClient, service: BadgeService
) -> None:
    made = [
        (await service.catalog.create(ADMIN, GUILD, name=f"Badge {i:03}")).id for i in range(250)
    ]
    assert await _walk(client, f"{BASE}/badges", "badges", 100) == made
    assert await _walk(client, f"{BASE}/badges", "badges", 7) == made
    default = (await client.get(f"{BASE}/badges")).json()
    assert len(default["badges"]) == 50
    assert default["nextCursor"]


async def test_walk_over_300_holders_while_awards_are_added(
    client: httpx.AsyncClient, service: BadgeService
) -> None:
    badge = (await service.catalog.create(ADMIN, GUILD, name="Busy")).id
    await service.awards.bulk_award(MOD, GUILD, badge, [MEMBER + i for i in range(300)])
    before = {str(MEMBER + i) for i in range(300)}

    async def more_awards() -> None:
        for i in range(300, 360):
            await service.awards.award(MOD, GUILD, badge, MEMBER + i)
            await asyncio.sleep(0)

    adding = asyncio.create_task(more_awards())
    seen = await _walk(client, f"{BASE}/badges/{badge}/users", "holders", 20)
    await adding
    assert len(seen) == len(set(seen)), "a holder was seen twice"
    assert before <= set(seen), "a holder present for the whole walk was missed"
    assert set(seen) <= before | {str(MEMBER + i) for i in range(300, 360)}


async def test_walk_over_a_members_badges(client: httpx.AsyncClient, service: BadgeService) -> None:
    ids = [(await service.catalog.create(ADMIN, GUILD, name=f"B{i}")).id for i in range(12)]
    for badge in ids:
        await service.awards.award(MOD, GUILD, badge, MEMBER)
    seen = await _walk(client, f"{BASE}/badges/users/{MEMBER}", "badges", 5)
    assert seen == list(reversed(ids))


async def test_bad_limits_and_cursors(client: httpx.AsyncClient, service: BadgeService) -> None:
    await service.catalog.create(ADMIN, GUILD, name="One")
    for limit in ("0", "101", "x"):
        response = await client.get(f"{BASE}/badges", params={"limit": limit})
        assert response.status_code == 422
        assert error_of(response)["details"][0]["field"] == "limit"
    holders_cursor = base64.urlsafe_b64encode(b'["holders",[{"t":"2026-01-01T00:00:00+00:00"},1]]')
    for cursor in ("garbage!", "e30", holders_cursor.decode(), "W10", "x" * 600):
        response = await client.get(f"{BASE}/badges", params={"cursor": cursor})
        assert response.status_code == 422, (cursor, response.text)
        assert error_of(response)["details"][0]["field"] == "cursor"
    for at in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-01-01T00:00:00"):
        odd = base64.urlsafe_b64encode(f'["badges",[{{"t":"{at}"}},"x"]]'.encode()).decode()
        response = await client.get(f"{BASE}/badges", params={"cursor": odd})
        assert response.status_code == 422, (at, response.text)
    huge = base64.urlsafe_b64encode(b'["holders",[{"t":"2026-01-01T00:00:00+00:00"},1e400]]')
    response = await client.get(f"{BASE}/badges/x/users", params={"cursor": huge.decode()})
    assert response.status_code == 422
    assert error_of(response)["details"][0]["field"] == "cursor"
