"""Idempotency-Key: a retry gets the first answer and nothing is done twice."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx

from badges.service import BadgeService
from db.database import Database
from db.idempotency import IdempotencyStore
from tests.api.conftest import BASE, error_of
from tests.conftest import ADMIN, GUILD

ALICE = 80_351_110_224_678_912


async def _badge(service: BadgeService) -> str:
    return (await service.catalog.create(ADMIN, GUILD, name="Helper")).id


async def test_a_retried_award_gets_the_first_answer(
    client: httpx.AsyncClient, service: BadgeService, mod_auth: dict[str, str]
) -> None:
    badge = await _badge(service)
    headers = {**mod_auth, "Idempotency-Key": "award-alice-1"}
    body = {"badgeId": badge, "userId": str(ALICE)}
    first = await client.post(f"{BASE}/badges/award", json=body, headers=headers)
    retry = await client.post(f"{BASE}/badges/award", json=body, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    history = await service.awards.history(ADMIN, GUILD, ALICE)
    assert history.total == 1
    without_key = await client.post(f"{BASE}/badges/award", json=body, headers=mod_auth)
    assert without_key.status_code == 409
    at_the_root = await client.post("/badges/award", json=body, headers=headers)
    assert at_the_root.status_code == 201
    assert at_the_root.json() == first.json()


async def test_two_identical_requests_at_once_do_it_once(
    client: httpx.AsyncClient, service: BadgeService, admin_auth: dict[str, str]
) -> None:
    headers = {**admin_auth, "Idempotency-Key": "create-1"}
    answers = await asyncio.gather(
        *(client.post(f"{BASE}/badges", json={"name": "Twin"}, headers=headers) for _ in range(5))
    )
    assert [a.status_code for a in answers] == [201] * 5
    assert len({a.json()["id"] for a in answers}) == 1
    assert len({a.headers["ETag"] for a in answers}) == 1, "a replay carries the ETag too"
    assert (await service.catalog.list(GUILD)).total == 1


async def test_a_refusal_is_replayed_too(
    client: httpx.AsyncClient, service: BadgeService, mod_auth: dict[str, str]
) -> None:
    missing = {"badgeId": "no-such-badge", "userId": str(ALICE)}
    headers = {**mod_auth, "Idempotency-Key": "k"}
    first = await client.post(f"{BASE}/badges/award", json=missing, headers=headers)
    retry = await client.post(f"{BASE}/badges/award", json=missing, headers=headers)
    assert first.status_code == retry.status_code == 404
    assert retry.json() == first.json()


async def test_a_key_reused_for_another_request_is_422(
    client: httpx.AsyncClient, service: BadgeService, mod_auth: dict[str, str]
) -> None:
    badge = await _badge(service)
    headers = {**mod_auth, "Idempotency-Key": "same"}
    await client.post(
        f"{BASE}/badges/award", json={"badgeId": badge, "userId": str(ALICE)}, headers=headers
    )
    other = await client.post(
        f"{BASE}/badges/award", json={"badgeId": badge, "userId": str(ALICE + 1)}, headers=headers
    )
    assert other.status_code == 422
    assert error_of(other)["code"] == "idempotency_key_reused"
    assert (await service.awards.of_member(GUILD, ALICE + 1)).total == 0
    bad_key = await client.post(
        f"{BASE}/badges/award",
        json={"badgeId": badge, "userId": str(ALICE + 2)},
        headers={**mod_auth, "Idempotency-Key": "x" * 256},
    )
    assert bad_key.status_code == 422


async def test_keys_are_per_token(
    client: httpx.AsyncClient,
    service: BadgeService,
    mod_auth: dict[str, str],
    admin_auth: dict[str, str],
) -> None:
    badge = await _badge(service)
    body = {"badgeId": badge, "userId": str(ALICE)}
    first = await client.post(
        f"{BASE}/badges/award", json=body, headers={**mod_auth, "Idempotency-Key": "k"}
    )
    second = await client.post(
        f"{BASE}/badges/award", json=body, headers={**admin_auth, "Idempotency-Key": "k"}
    )
    assert (first.status_code, second.status_code) == (201, 409)


async def test_old_keys_are_purged_and_abandoned_claims_taken_over(
    database: Database, service: BadgeService
) -> None:
    store = IdempotencyStore(database)
    now = service.core.clock()
    assert await store.claim(1, "dead", "h", now - timedelta(minutes=5), now) is None
    # the process that claimed it died: a retry a while later takes the claim over
    assert await store.claim(1, "dead", "h", now, now - timedelta(seconds=60)) is None
    await store.finish(1, "dead", 201, "{}")
    stored = await store.claim(1, "dead", "h", now, now - timedelta(seconds=60))
    assert stored is not None
    assert (stored.status, stored.body) == (201, "{}")
    assert await store.purge(now + timedelta(seconds=1)) == 1
    assert await store.get(1, "dead") is None
