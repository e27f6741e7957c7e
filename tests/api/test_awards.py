"""Awards through the REST API: award, revoke, bulk, holders, a member's badges, history."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from badges.permissions import Level
from badges.service import BadgeService
from tests.api.conftest import BASE, Tokens, bearer, error_of
from tests.conftest import ADMIN, GUILD, OTHER_GUILD, SUPER

ALICE, BOB = 80_351_110_224_678_912, 80_351_110_224_678_913


async def _badge(service: BadgeService, name: str = "Helper", **kw: Any) -> str:
    return (await service.catalog.create(ADMIN, GUILD, name=name, **kw)).id


async def _award(
    client: httpx.AsyncClient, auth: dict[str, str], badge: str, user: int, **extra: Any
) -> httpx.Response:
    body = {"badgeId": badge, "userId": str(user), **extra}
    return await client.post(f"{BASE}/badges/award", json=body, headers=auth)


async def test_award_answers_as_the_reference(
    client: httpx.AsyncClient, service: BadgeService, mod_auth: dict[str, str]
) -> None:
    badge = await _badge(service)
    response = await _award(client, mod_auth, badge, ALICE, reason="Helped a lot")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["message"] == "Badge awarded successfully"
    assert set(body["userBadge"]) == {"id", "userId", "badgeId", "awardedAt"}
    assert (body["userBadge"]["userId"], body["userBadge"]["badgeId"]) == (str(ALICE), badge)
    mine = (await client.get(f"{BASE}/badges/users/{ALICE}")).json()
    assert mine["nextCursor"] is None
    [held] = mine["badges"]
    assert held["id"] == badge
    assert held["awardedBy"] == {"id": str(SUPER.user_id), "username": "Loyalty app"}
    assert held["reason"] == "Helped a lot"
    assert held["awardedAt"] == body["userBadge"]["awardedAt"]
    count = (await client.get(f"{BASE}/badges/{badge}")).json()["awardedCount"]
    assert count == 1


async def test_award_refusals_keep_the_reference_messages(
    client: httpx.AsyncClient, service: BadgeService, mod_auth: dict[str, str]
) -> None:
    badge = await _badge(service)
    inactive = await _badge(service, "Old", is_active=False)
    assert (await _award(client, mod_auth, badge, ALICE)).status_code == 201
    again = await _award(client, mod_auth, badge, ALICE)
    assert again.status_code == 409
    assert error_of(again)["code"] == "already_awarded"
    assert error_of(again)["message"].startswith("User already has this badge")
    off = await _award(client, mod_auth, inactive, ALICE)
    assert off.status_code == 400
    assert error_of(off)["message"].startswith("Cannot award inactive badge")
    missing = await _award(client, mod_auth, "00000000-0000-0000-0000-000000000000", ALICE)
    assert missing.status_code == 404
    assert error_of(missing)["message"] == "Badge not found"
    for bad in ("abc", "0", "-5", "99999999999999999999", ""):
        response = await client.post(
            f"{BASE}/badges/award", json={"badgeId": badge, "userId": bad}, headers=mod_auth
        )
        assert response.status_code == 422, (bad, response.text)
        assert error_of(response)["details"][0]["field"] == "userId"
    long_reason = await _award(client, mod_auth, badge, BOB, reason="r" * 501)
    assert long_reason.status_code == 422
    assert error_of(long_reason)["details"][0]["field"] == "reason"
    assert (await service.awards.of_member(GUILD, BOB)).total == 0


async def test_anonymous_and_member_level_cannot_award(
    client: httpx.AsyncClient, service: BadgeService
) -> None:
    badge = await _badge(service)
    response = await client.post(
        f"{BASE}/badges/award", json={"badgeId": badge, "userId": str(ALICE)}
    )
    assert response.status_code == 401
    unknown = await _award(client, bearer("bbt_" + "x" * 43), badge, ALICE)
    assert unknown.status_code == 401
    malformed = await client.post(
        f"{BASE}/badges/award",
        json={"badgeId": badge, "userId": str(ALICE)},
        headers={"Authorization": "Token abc"},
    )
    assert malformed.status_code == 401
    assert (await service.awards.of_member(GUILD, ALICE)).total == 0


async def test_revoke(
    client: httpx.AsyncClient, service: BadgeService, mod_auth: dict[str, str]
) -> None:
    badge = await _badge(service)
    await _award(client, mod_auth, badge, ALICE)
    response = await client.delete(
        f"{BASE}/badges/{badge}/users/{ALICE}", params={"reason": "oops"}, headers=mod_auth
    )
    assert response.status_code == 200
    assert response.json() == {"message": "Badge revoked successfully"}
    again = await client.delete(f"{BASE}/badges/{badge}/users/{ALICE}", headers=mod_auth)
    assert again.status_code == 404
    assert error_of(again)["message"].startswith("User does not have this badge")
    anonymous = await client.delete(f"{BASE}/badges/{badge}/users/{ALICE}")
    assert anonymous.status_code == 401
    bad_user = await client.delete(f"{BASE}/badges/{badge}/users/nobody", headers=mod_auth)
    assert bad_user.status_code == 422


async def test_deleting_a_badge_takes_it_from_holders_and_history_keeps_it(
    client: httpx.AsyncClient, service: BadgeService, admin_auth: dict[str, str]
) -> None:
    badge = await _badge(service)
    await _award(client, admin_auth, badge, ALICE)
    await _award(client, admin_auth, badge, BOB)
    response = await client.delete(f"{BASE}/badges/{badge}", headers=admin_auth)
    assert response.json() == {"message": "Badge deleted successfully", "revokedFrom": 2}
    assert (await client.get(f"{BASE}/badges/users/{ALICE}")).json()["badges"] == []
    history = (await client.get(f"{BASE}/users/{ALICE}/history", headers=admin_auth)).json()
    assert [e["kind"] for e in history["events"]] == ["revoked", "awarded"]
    assert history["events"][0]["badgeName"] == "Helper"


async def test_history_needs_a_moderator_token(
    client: httpx.AsyncClient, service: BadgeService, mod_auth: dict[str, str]
) -> None:
    badge = await _badge(service)
    await _award(client, mod_auth, badge, ALICE)
    assert (await client.get(f"{BASE}/users/{ALICE}/history")).status_code == 401
    ok = await client.get(f"{BASE}/users/{ALICE}/history", headers=mod_auth)
    assert ok.status_code == 200
    [event] = ok.json()["events"]
    assert event["actor"] == {"id": str(SUPER.user_id), "username": "Loyalty app"}


async def test_holders(
    client: httpx.AsyncClient, service: BadgeService, mod_auth: dict[str, str]
) -> None:
    badge = await _badge(service)
    for user in (ALICE, BOB):
        await _award(client, mod_auth, badge, user)
    body = (await client.get(f"{BASE}/badges/{badge}/users")).json()
    assert [h["userId"] for h in body["holders"]] == [str(BOB), str(ALICE)]
    assert body["nextCursor"] is None
    assert (await client.get(f"{BASE}/badges/nope/users")).status_code == 404


async def test_bulk_award_reports_each_id(
    client: httpx.AsyncClient, service: BadgeService, mod_auth: dict[str, str]
) -> None:
    badge = await _badge(service)
    await _award(client, mod_auth, badge, ALICE)
    response = await client.post(
        f"{BASE}/badges/award/bulk",
        json={"badgeId": badge, "userIds": [str(ALICE), str(BOB), str(BOB), "x1"]},
        headers=mod_auth,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["awarded"] == [str(BOB)]
    assert body["alreadyHeld"] == [str(ALICE)]
    assert body["refused"] == [{"userId": "x1", "reason": "not a valid Discord id"}]
    assert body["awardedCount"] == 2
    too_many = await client.post(
        f"{BASE}/badges/award/bulk",
        json={"badgeId": badge, "userIds": [str(10**17 + i) for i in range(10_001)]},
        headers=mod_auth,
    )
    assert too_many.status_code == 422
    empty = await client.post(
        f"{BASE}/badges/award/bulk", json={"badgeId": badge, "userIds": []}, headers=mod_auth
    )
    assert empty.status_code == 422


async def test_bulk_award_echoes_bad_ids_safely_one_outcome_each(
    client: httpx.AsyncClient, service: BadgeService, mod_auth: dict[str, str]
) -> None:
    badge = await _badge(service)
    prefix = "x" * 45
    raw = (
        b'{"badgeId":"%s","userIds":["\\ud800","\\u0000","7",'
        b'"%sa","%sb","%sc"]}' % (badge.encode(), prefix.encode(), prefix.encode(), prefix.encode())
    ).replace(b"\\\\", b"\\")
    response = await client.post(
        f"{BASE}/badges/award/bulk",
        content=raw,
        headers={**mod_auth, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["awarded"] == ["7"]
    refused = [r["userId"] for r in body["refused"]]
    assert len(refused) == 5
    assert refused[:2] == ["\ufffd", "\ufffd"]
    assert all(len(r) <= 40 for r in refused)


async def test_a_token_of_another_guild_is_refused(
    client: httpx.AsyncClient, service: BadgeService, make_token: Tokens
) -> None:
    badge = await _badge(service)
    theirs = bearer(await make_token(Level.ADMIN, "theirs", OTHER_GUILD))
    response = await _award(client, theirs, badge, ALICE)
    assert response.status_code == 403
    assert error_of(response)["code"] == "wrong_guild"
    assert (await service.awards.of_member(GUILD, ALICE)).total == 0


async def test_rate_limit_per_token(
    client: httpx.AsyncClient, app: Any, service: BadgeService, make_token: Tokens
) -> None:
    badge = await _badge(service)
    app.state.api.buckets.rate, app.state.api.buckets.burst = 1.0, 3
    auth = bearer(await make_token(Level.MODERATOR, "burst"))
    other = bearer(await make_token(Level.MODERATOR, "calm"))
    answers = [await _award(client, auth, badge, 10**17 + i) for i in range(4)]
    assert [r.status_code for r in answers] == [201, 201, 201, 429]
    assert answers[0].headers["X-RateLimit-Limit"] == "3"
    assert answers[0].headers["X-RateLimit-Remaining"] == "2"
    limited = answers[3]
    assert int(limited.headers["Retry-After"]) >= 1
    assert error_of(limited)["code"] == "rate_limited"
    assert (await service.awards.of_member(GUILD, 10**17 + 3)).total == 0
    assert (await _award(client, other, badge, 10**17 + 3)).status_code == 201


async def test_oversized_bodies_are_413(
    client: httpx.AsyncClient, mod_auth: dict[str, str]
) -> None:
    big = b'{"badgeId": "x", "userIds": [' + b'"1",' * 400_000 + b'"1"]}'
    response = await client.post(
        f"{BASE}/badges/award/bulk",
        content=big,
        headers={**mod_auth, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b" " * 50_000

    chunked = await client.post(
        f"{BASE}/badges/award/bulk",
        content=chunks(),
        headers={**mod_auth, "Content-Type": "application/json"},
    )
    assert chunked.status_code == 413


async def test_a_crash_is_a_500_with_an_error_id_in_the_log(
    client: httpx.AsyncClient, service: BadgeService, caplog: Any, monkeypatch: Any
) -> None:
    async def broken(*_args: Any, **_kw: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(service.catalog, "list_after", broken)
    response = await client.get(f"{BASE}/badges")
    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "internal_error"
    assert "disk on fire" not in response.text
    assert error["details"]["errorId"] in caplog.text


async def test_concurrent_awards_of_one_member_award_once(
    client: httpx.AsyncClient, service: BadgeService, mod_auth: dict[str, str]
) -> None:
    badge = await _badge(service)
    answers = await asyncio.gather(*(_award(client, mod_auth, badge, ALICE) for _ in range(8)))
    assert sorted(r.status_code for r in answers) == [201] + [409] * 7
    assert (await service.catalog.get(GUILD, badge)).awarded_count == 1
