"""Automatic badges and award policies through the REST API: rules, policies, progress."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jsonschema
import pytest
from fastapi import FastAPI

from badges.activity import ActivityTally
from badges.automation import AUTOMATIC_ID, AUTOMATIC_NAME, MemberRecord
from badges.service import BadgeService
from tests.api.conftest import BASE, error_of
from tests.conftest import ADMIN, GUILD, SUPER

ALICE, BOB, CAROL = 80_351_110_224_678_912, 80_351_110_224_678_913, 80_351_110_224_678_914
CHAT, SPAM = 80_351_110_224_679_001, 80_351_110_224_679_002
UNKNOWN_BADGE = "00000000-0000-0000-0000-000000000000"


async def _badge(service: BadgeService, name: str = "Regular") -> str:
    return (await service.catalog.create(ADMIN, GUILD, name=name)).id


async def _messages(service: BadgeService, counts: dict[int, int], channel: int = CHAT) -> None:
    """Members (who joined 100 days ago) sent messages yesterday, a minute apart each."""
    at = datetime.now(UTC) - timedelta(days=1)
    tally = ActivityTally()
    for uid, n in counts.items():
        tally.member(MemberRecord(GUILD, uid, at - timedelta(days=99), None))
        for i in range(n):
            tally.message(GUILD, uid, channel, at + timedelta(minutes=i))
    await service.activity.record(*tally.take(at))


async def _add(
    client: httpx.AsyncClient, auth: dict[str, str], badge: str, **body: Any
) -> httpx.Response:
    return await client.post(f"{BASE}/badges/{badge}/rules", json=body, headers=auth)


Conforms = Callable[[httpx.Response, str], Any]


@pytest.fixture
def conforms(app: FastAPI) -> Conforms:
    """``conforms(response, "Rule")``: the body, checked against the OpenAPI document."""
    components = app.openapi()["components"]

    def check(response: httpx.Response, name: str) -> Any:
        assert response.is_success, response.text
        schema = {"$ref": f"#/components/schemas/{name}", "components": components}
        jsonschema.Draft202012Validator(schema).validate(response.json())
        return response.json()

    return check


def _field(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    error = error_of(response)
    assert error["code"] == "invalid_input"
    return str(error["details"][0]["field"])


async def test_add_list_and_remove_a_rule(
    client: httpx.AsyncClient,
    service: BadgeService,
    admin_auth: dict[str, str],
    conforms: Conforms,
) -> None:
    badge = await _badge(service)
    added = await _add(
        client,
        admin_auth,
        badge,
        kind="messages",
        threshold=500,
        windowDays=30,
        cooldown=True,
        excludedChannelIds=[str(SPAM)],
    )
    assert added.status_code == 201, added.text
    body = conforms(added, "RuleAdded")
    assert body["message"] == "Rule added"
    assert body["evaluation"] == {"awarded": 0, "revoked": 0, "refused": []}
    rule = body["rule"]
    assert set(rule) == {
        "id",
        "kind",
        "threshold",
        "windowDays",
        "excludedChannelIds",
        "cooldown",
        "weights",
        "requiredBadgeId",
        "replaces",
        "description",
        "createdAt",
    }
    assert (rule["kind"], rule["threshold"], rule["windowDays"]) == ("messages", 500, 30)
    assert rule["excludedChannelIds"] == [str(SPAM)]
    assert rule["cooldown"] is True
    assert rule["weights"] == {"messages": 1.0, "reactions": 0.0, "voiceMinutes": 0.0}
    assert rule["requiredBadgeId"] is None
    assert rule["replaces"] is False
    assert rule["description"].startswith("500 messages in 30 days")
    assert rule["createdAt"].endswith("Z")
    assert isinstance(rule["id"], str)

    listed = await client.get(f"{BASE}/badges/{badge}/rules")
    assert conforms(listed, "RuleList") == {
        "badgeId": badge,
        "rules": [rule],
        "policy": {
            "badgeId": badge,
            "awarders": "moderators",
            "roleId": None,
            "perDay": None,
            "selfAward": False,
            "autoRevoke": False,
            "rotationHours": 24,
        },
    }
    # the default guild's root routes are the same routes
    assert (await client.get(f"/badges/{badge}/rules")).json() == listed.json()

    removed = await client.delete(f"{BASE}/badges/{badge}/rules/{rule['id']}", headers=admin_auth)
    assert removed.status_code == 200, removed.text
    assert conforms(removed, "RuleRemoved") == {"message": "Rule removed", "rule": rule}
    assert (await client.get(f"{BASE}/badges/{badge}/rules")).json()["rules"] == []
    again = await client.delete(f"{BASE}/badges/{badge}/rules/{rule['id']}", headers=admin_auth)
    assert again.status_code == 404
    assert error_of(again)["code"] == "rule_not_found"


async def test_a_retried_rule_is_added_once(
    client: httpx.AsyncClient, service: BadgeService, admin_auth: dict[str, str]
) -> None:
    badge = await _badge(service)
    other = await _badge(service, "Other")
    body = {"kind": "messages", "threshold": 50}
    auth = {**admin_auth, "Idempotency-Key": "rule-50-messages"}
    first = await client.post(f"{BASE}/badges/{badge}/rules", json=body, headers=auth)
    again = await client.post(f"{BASE}/badges/{badge}/rules", json=body, headers=auth)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    assert len((await service.rules.of_badge(GUILD, badge))[1]) == 1
    # the same key for another badge is another request
    elsewhere = await client.post(f"{BASE}/badges/{other}/rules", json=body, headers=auth)
    assert elsewhere.status_code == 422
    assert (await service.rules.of_badge(GUILD, other))[1] == []


async def test_a_chain_rule_names_the_badge_it_requires(
    client: httpx.AsyncClient, service: BadgeService, admin_auth: dict[str, str]
) -> None:
    bronze = await _badge(service, "Bronze")
    silver = await _badge(service, "Silver")
    response = await _add(
        client, admin_auth, silver, kind="holds_badge", threshold=1, requiredBadgeId=bronze
    )
    assert response.status_code == 201, response.text
    rule = response.json()["rule"]
    assert rule["requiredBadgeId"] == bronze
    assert rule["description"] == "holds Bronze"
    assert rule["weights"] == {"messages": 0.0, "reactions": 0.0, "voiceMinutes": 0.0}
    loop = await _add(
        client, admin_auth, bronze, kind="holds_badge", threshold=1, requiredBadgeId=silver
    )
    assert _field(loop) == "requiredBadgeId"


async def test_a_new_rule_is_retroactive_and_its_awards_are_visible(
    client: httpx.AsyncClient,
    service: BadgeService,
    admin_auth: dict[str, str],
    conforms: Conforms,
) -> None:
    await _messages(service, {ALICE: 12, BOB: 9, CAROL: 10})
    badge = await _badge(service)
    assert (await client.get(f"{BASE}/badges")).json()["badges"][0]["awardedCount"] == 0
    response = await _add(client, admin_auth, badge, kind="messages", threshold=10)
    assert conforms(response, "RuleAdded")["evaluation"] == {
        "awarded": 2,
        "revoked": 0,
        "refused": [],
    }
    [held] = (await client.get(f"{BASE}/badges/users/{ALICE}")).json()["badges"]
    assert held["id"] == badge
    assert held["awardedBy"] == {"id": str(AUTOMATIC_ID), "username": AUTOMATIC_NAME}
    assert held["reason"].startswith("Automatic: 10 messages")
    assert (await client.get(f"{BASE}/badges/users/{BOB}")).json()["badges"] == []
    holders = (await client.get(f"{BASE}/badges/{badge}/users")).json()["holders"]
    assert {h["userId"] for h in holders} == {str(ALICE), str(CAROL)}
    # the cached list of badges saw the awards
    assert (await client.get(f"{BASE}/badges")).json()["badges"][0]["awardedCount"] == 2


async def test_only_admin_tokens_change_rules_and_policies(
    client: httpx.AsyncClient,
    service: BadgeService,
    admin_auth: dict[str, str],
    mod_auth: dict[str, str],
) -> None:
    badge = await _badge(service)
    rule = (await _add(client, admin_auth, badge, kind="tenure_days", threshold=30)).json()
    rule_id = rule["rule"]["id"]
    refused = await _add(client, mod_auth, badge, kind="messages", threshold=10)
    assert refused.status_code == 403
    assert error_of(refused)["code"] == "forbidden"
    assert error_of(refused)["details"] == {"required": "admin"}
    removal = await client.delete(f"{BASE}/badges/{badge}/rules/{rule_id}", headers=mod_auth)
    assert removal.status_code == 403
    put = await client.put(
        f"{BASE}/badges/{badge}/policy", json={"autoRevoke": True}, headers=mod_auth
    )
    assert put.status_code == 403
    anonymous = [
        await client.post(
            f"{BASE}/badges/{badge}/rules", json={"kind": "messages", "threshold": 1}
        ),
        await client.delete(f"{BASE}/badges/{badge}/rules/{rule_id}"),
        await client.put(f"{BASE}/badges/{badge}/policy", json={"autoRevoke": True}),
    ]
    assert [r.status_code for r in anonymous] == [401, 401, 401]
    _, rules = await service.rules.of_badge(GUILD, badge)
    assert [str(r.id) for r in rules] == [rule_id]
    assert not (await service.rules.policy(GUILD, badge))[1].auto_revoke
    # reads are public, and with public reads off they need a token (any level)
    reads = (
        f"{BASE}/badges/{badge}/rules",
        f"{BASE}/badges/{badge}/policy",
        f"{BASE}/users/{ALICE}/progress",
    )
    for url in reads:
        assert (await client.get(url)).status_code == 200, url
    await service.config.set_api_public_reads(ADMIN, GUILD, False)
    for url in reads:
        closed = await client.get(url)
        assert closed.status_code == 401, url
        assert error_of(closed)["code"] == "unauthorized"
        assert (await client.get(url, headers=mod_auth)).status_code == 200, url


async def test_bad_rules_are_refused_naming_the_field(
    client: httpx.AsyncClient, service: BadgeService, admin_auth: dict[str, str]
) -> None:
    badge = await _badge(service)
    other = await _badge(service, "Other")

    async def field(**body: Any) -> str:
        return _field(await _add(client, admin_auth, badge, **body))

    assert await field(kind="messages", threshold=0) == "threshold"
    assert await field(kind="messages", threshold=10_000_001) == "threshold"
    assert await field(kind="messages") == "threshold"
    assert await field(kind="tenure_days", threshold=20_000) == "threshold"
    assert await field(kind="top_active", threshold=101) == "threshold"
    assert await field(kind="likes", threshold=5) == "kind"
    assert await field(kind="tenure_days", threshold=30, windowDays=7) == "windowDays"
    assert await field(kind="messages", threshold=5, windowDays=366) == "windowDays"
    assert (
        await field(kind="tenure_days", threshold=30, excludedChannelIds=[str(CHAT)])
        == "excludedChannelIds"
    )
    assert (
        await field(kind="messages", threshold=5, excludedChannelIds=["general"])
        == "excludedChannelIds.0"
    )
    assert (
        await field(kind="messages", threshold=5, excludedChannelIds=["99999999999999999999"])
        == "excludedChannelIds"
    )
    assert await field(kind="reactions", threshold=5, cooldown=True) == "cooldown"
    assert await field(kind="messages", threshold=5, weights={"reactions": 1.0}) == "weights"
    assert await field(kind="top_active", threshold=5, weights={"messages": 0}) == "weights"
    assert (
        await field(kind="top_active", threshold=5, weights={"messages": 101}) == "weights.messages"
    )
    assert await field(kind="holds_badge", threshold=1) == "requiredBadgeId"
    assert await field(kind="holds_badge", threshold=1, requiredBadgeId=badge) == "requiredBadgeId"
    assert (
        await field(kind="holds_badge", threshold=1, requiredBadgeId=UNKNOWN_BADGE)
        == "requiredBadgeId"
    )
    assert (
        await field(kind="holds_badge", threshold=1, requiredBadgeId="no such badge!")
        == "requiredBadgeId"
    )
    assert await field(kind="messages", threshold=5, requiredBadgeId=other) == "requiredBadgeId"
    assert await field(kind="messages", threshold=5, colour="red") == "colour"
    nan = await client.post(
        f"{BASE}/badges/{badge}/rules",
        content=b'{"kind": "top_active", "threshold": 3, "weights": {"messages": NaN}}',
        headers={**admin_auth, "Content-Type": "application/json"},
    )
    assert _field(nan) == "weights.messages"
    for _ in range(10):
        assert (await _add(client, admin_auth, badge, kind="messages", threshold=5)).is_success
    assert await field(kind="messages", threshold=6) == "rule"
    _, rules = await service.rules.of_badge(GUILD, badge)
    assert len(rules) == 10

    missing = await _add(client, admin_auth, UNKNOWN_BADGE, kind="messages", threshold=5)
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "badge_not_found"
    for url in (f"{BASE}/badges/{UNKNOWN_BADGE}/rules", f"{BASE}/badges/{UNKNOWN_BADGE}/policy"):
        gone = await client.get(url)
        assert gone.status_code == 404
        assert error_of(gone)["code"] == "badge_not_found"
    no_rule = await client.delete(f"{BASE}/badges/{badge}/rules/999999", headers=admin_auth)
    assert no_rule.status_code == 404
    assert error_of(no_rule)["code"] == "rule_not_found"
    other_rule = (await _add(client, admin_auth, other, kind="messages", threshold=5)).json()
    crossed = await client.delete(
        f"{BASE}/badges/{badge}/rules/{other_rule['rule']['id']}", headers=admin_auth
    )
    assert crossed.status_code == 404  # a rule of another badge is not this badge's
    assert (
        _field(await client.delete(f"{BASE}/badges/{badge}/rules/abc", headers=admin_auth))
        == "ruleId"
    )
    assert (
        _field(await client.delete(f"{BASE}/badges/{badge}/rules/{2**63}", headers=admin_auth))
        == "ruleId"
    )


async def test_policy_round_trip(
    client: httpx.AsyncClient,
    service: BadgeService,
    admin_auth: dict[str, str],
    conforms: Conforms,
) -> None:
    badge = await _badge(service)
    url = f"{BASE}/badges/{badge}/policy"
    role = "80351110224679100"

    async def put(**body: Any) -> httpx.Response:
        return await client.put(url, json=body, headers=admin_auth)

    start = conforms(await client.get(url), "Policy")
    assert start["awarders"] == "moderators"
    assert start["roleId"] is None
    made = await put(awarders="role", roleId=role, perDay=3)
    assert conforms(made, "Policy") == {
        "badgeId": badge,
        "awarders": "role",
        "roleId": role,
        "perDay": 3,
        "selfAward": False,
        "autoRevoke": False,
        "rotationHours": 24,
    }
    assert (await client.get(url)).json() == made.json()
    kept = (await put(autoRevoke=True, rotationHours=48)).json()
    assert (kept["awarders"], kept["roleId"], kept["perDay"]) == ("role", role, 3)
    assert (kept["autoRevoke"], kept["rotationHours"]) == (True, 48)
    cleared = (await put(perDay=None)).json()
    assert cleared["perDay"] is None
    assert cleared["roleId"] == role
    assert (await client.get(f"{BASE}/badges/{badge}/rules")).json()["policy"] == cleared

    assert _field(await put(roleId=None)) == "roleId"  # awarders role needs one
    assert _field(await put(autoRevoke=None)) == "autoRevoke"
    assert _field(await put(awarders="everyone")) == "awarders"
    assert _field(await put(perDay=0)) == "perDay"
    assert _field(await put(rotationHours=24 * 90 + 1)) == "rotationHours"
    assert _field(await put(roleId="not-a-role")) == "roleId"
    assert _field(await put(roleId="99999999999999999999")) == "roleId"
    assert _field(await put(color="red")) == "color"
    assert (await client.get(url)).json() == cleared

    members = conforms(await put(awarders="members", perDay=5), "Policy")
    assert members["awarders"] == "members"
    assert members["roleId"] is None  # only awarders role keeps a role
    assert members["perDay"] == 5
    assert _field(await put(selfAward=True)) == "selfAward"
    assert _field(await put(roleId=role)) == "roleId"
    back = (await put(awarders="moderators", roleId=None, perDay=None)).json()
    assert (back["awarders"], back["roleId"], back["perDay"]) == ("moderators", None, None)
    missing = await client.put(
        f"{BASE}/badges/{UNKNOWN_BADGE}/policy", json={"autoRevoke": True}, headers=admin_auth
    )
    assert missing.status_code == 404


async def test_a_members_badge_given_by_token_is_a_gift(
    client: httpx.AsyncClient,
    service: BadgeService,
    admin_auth: dict[str, str],
    mod_auth: dict[str, str],
) -> None:
    badge = await _badge(service, "Thanks")
    response = await client.put(
        f"{BASE}/badges/{badge}/policy", json={"awarders": "members"}, headers=admin_auth
    )
    assert response.status_code == 200

    async def give(user: int) -> httpx.Response:
        body = {"badgeId": badge, "userId": str(user), "reason": "Great help"}
        return await client.post(f"{BASE}/badges/award", json=body, headers=mod_auth)

    gift = await give(ALICE)
    assert gift.status_code == 201, gift.text
    assert gift.json()["userBadge"]["userId"] == str(ALICE)
    [held] = (await client.get(f"{BASE}/badges/users/{ALICE}")).json()["badges"]
    # tokens act as their creator, under their own name
    assert held["awardedBy"] == {"id": str(SUPER.user_id), "username": "Loyalty app"}
    assert held["reason"] == "Great help"
    again = await give(ALICE)
    assert again.status_code == 409
    assert error_of(again)["code"] == "already_given"
    to_self = await give(SUPER.user_id)  # the token's creator
    assert to_self.status_code == 403
    assert error_of(to_self)["code"] == "forbidden"
    assert (await client.get(f"{BASE}/badges/{badge}")).json()["awardedCount"] == 1


async def test_progress_towards_automatic_badges(
    client: httpx.AsyncClient,
    service: BadgeService,
    admin_auth: dict[str, str],
    conforms: Conforms,
) -> None:
    await _messages(service, {ALICE: 4, BOB: 7})
    regular = await _badge(service)
    top = await _badge(service, "Top")
    veteran = await _badge(service, "Veteran")
    await _add(client, admin_auth, regular, kind="messages", threshold=10)
    await _add(client, admin_auth, top, kind="top_active", threshold=1)
    await _add(client, admin_auth, veteran, kind="tenure_days", threshold=90)
    response = await client.get(f"{BASE}/users/{ALICE}/progress")
    body = conforms(response, "Progress")
    assert body["userId"] == str(ALICE)
    by_id = {b["badgeId"]: b for b in body["badges"]}
    assert set(by_id) == {regular, top, veteran}
    mine = by_id[regular]
    assert (mine["badgeName"], mine["held"]) == ("Regular", False)
    [item] = mine["rules"]
    assert (item["value"], item["target"], item["met"], item["rank"]) == (4.0, 10.0, False, None)
    assert item["rule"]["kind"] == "messages"
    [ranked] = by_id[top]["rules"]
    assert by_id[top]["held"] is False
    assert (ranked["met"], ranked["rank"], ranked["target"]) == (False, 2, 7.0)
    assert ranked["rule"]["windowDays"] == 30  # top_active's default window
    [days] = by_id[veteran]["rules"]
    assert by_id[veteran]["held"] is True
    assert (days["value"], days["target"], days["met"]) == (100.0, 90.0, True)

    bob = conforms(
        await client.get(f"{BASE}/users/{BOB}/progress", params={"badgeId": top}), "Progress"
    )
    [only] = bob["badges"]
    assert (only["badgeId"], only["held"]) == (top, True)
    assert (only["rules"][0]["met"], only["rules"][0]["rank"]) == (True, 1)
    nobody = (await client.get(f"{BASE}/users/{CAROL}/progress")).json()
    assert all(r["value"] == 0 for b in nobody["badges"] for r in b["rules"])

    missing = await client.get(f"{BASE}/users/{ALICE}/progress", params={"badgeId": UNKNOWN_BADGE})
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "badge_not_found"
    assert (await client.get(f"{BASE}/users/nobody/progress")).status_code == 422
