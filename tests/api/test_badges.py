"""Badges through the REST API: the reference's routes, fields and messages."""

from __future__ import annotations

import re
from typing import Any

import httpx

from badges.permissions import Level
from badges.service import BadgeService
from tests.api.conftest import BASE, OTHER_BASE, Tokens, bearer, error_of
from tests.conftest import ADMIN, GUILD, OTHER_GUILD

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


async def _create(client: httpx.AsyncClient, auth: dict[str, str], **body: Any) -> Any:
    response = await client.post(f"{BASE}/badges", json=body, headers=auth)
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_then_read_by_id_and_slug(
    client: httpx.AsyncClient, admin_auth: dict[str, str]
) -> None:
    made = await _create(
        client,
        admin_auth,
        name="Contributor",
        slug="contributor",
        description="Contributed code to the project",
        iconUrl="https://cdn.example.com/c.png",
        color="#4caf50",
        isActive=True,
    )
    assert made["name"] == "Contributor"
    assert made["slug"] == "contributor"
    assert made["iconUrl"] == "https://cdn.example.com/c.png"
    assert made["color"] == "#4CAF50"
    assert made["awardedCount"] == 0
    assert ISO_Z.match(made["createdAt"])
    by_id = await client.get(f"{BASE}/badges/{made['id']}")
    assert by_id.status_code == 200
    assert by_id.json() == made
    by_slug = await client.get(f"{BASE}/badges/slug/contributor")
    assert by_slug.json() == made
    listed = (await client.get(f"{BASE}/badges")).json()
    assert listed == {"badges": [made], "nextCursor": None}


async def test_reads_are_public_and_writes_need_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.get(f"{BASE}/badges")).status_code == 200
    response = await client.post(f"{BASE}/badges", json={"name": "X"})
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_moderator_token_cannot_create_badges(
    client: httpx.AsyncClient, mod_auth: dict[str, str]
) -> None:
    response = await client.post(f"{BASE}/badges", json={"name": "X"}, headers=mod_auth)
    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "forbidden"
    assert error["message"] == "You need the Admin level to create badges."
    assert error["details"] == {"required": "admin"}
    assert (await client.get(f"{BASE}/badges")).json()["badges"] == []


async def test_bad_input_names_the_field_and_rule(
    client: httpx.AsyncClient, admin_auth: dict[str, str]
) -> None:
    cases = [
        ({"name": "   "}, "name"),
        ({"name": "Ok", "color": "purple"}, "color"),
        ({"name": "Ok", "slug": "Not A Slug"}, "slug"),
        ({"name": "Ok", "iconUrl": "http://insecure.example/x.png"}, "iconUrl"),
        ({"name": "Ok", "icon": "not an emoji"}, "icon"),
        ({"name": "x" * 101}, "name"),
    ]
    for body, field in cases:
        response = await client.post(f"{BASE}/badges", json=body, headers=admin_auth)
        assert response.status_code == 422, (body, response.text)
        error = error_of(response)
        assert error["code"] == "invalid_input"
        assert error["details"][0]["field"] == field, error
    missing = await client.post(f"{BASE}/badges", json={}, headers=admin_auth)
    assert missing.status_code == 422
    assert error_of(missing)["details"][0] == {
        "field": "name",
        "rule": "missing",
        "message": "Field required",
    }
    unknown = await client.post(
        f"{BASE}/badges", json={"name": "Ok", "colour": "#fff"}, headers=admin_auth
    )
    assert unknown.status_code == 422
    assert error_of(unknown)["details"][0]["field"] == "colour"
    not_json = await client.post(
        f"{BASE}/badges",
        content=b"{nope",
        headers={**admin_auth, "Content-Type": "application/json"},
    )
    assert not_json.status_code == 422
    assert (await client.get(f"{BASE}/badges")).json()["badges"] == []


async def test_slug_and_name_conflicts_are_409(
    client: httpx.AsyncClient, admin_auth: dict[str, str]
) -> None:
    await _create(client, admin_auth, name="Helper", slug="helper")
    taken = await client.post(
        f"{BASE}/badges", json={"name": "Other", "slug": "helper"}, headers=admin_auth
    )
    assert taken.status_code == 409
    assert error_of(taken)["code"] == "slug_taken"
    assert error_of(taken)["message"].startswith("Badge with this slug already exists")
    look_alike = await client.post(f"{BASE}/badges", json={"name": "HELPER"}, headers=admin_auth)
    assert look_alike.status_code == 409
    assert error_of(look_alike)["code"] == "name_taken"


async def test_unknown_badges_are_404(
    client: httpx.AsyncClient, admin_auth: dict[str, str]
) -> None:
    for path in ("/badges/nope", "/badges/slug/nope", "/badges/%00x", "/badges/" + "z" * 300):
        response = await client.get(BASE + path)
        assert response.status_code == 404, (path, response.text)
        assert error_of(response)["message"] == "Badge not found"
    patch = await client.patch(f"{BASE}/badges/nope", json={"name": "X"}, headers=admin_auth)
    assert patch.status_code == 404
    route = await client.get(f"{BASE}/nothing-here")
    assert route.status_code == 404
    assert error_of(route)["code"] == "not_found"


async def test_patch_changes_only_given_fields_and_null_clears(
    client: httpx.AsyncClient, admin_auth: dict[str, str]
) -> None:
    made = await _create(client, admin_auth, name="Old", description="d", color="#112233")
    response = await client.patch(
        f"{BASE}/badges/{made['id']}",
        json={"name": "Updated Name", "color": None, "isActive": False},
        headers=admin_auth,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["description"], body["color"], body["isActive"]) == (
        "Updated Name",
        "d",
        None,
        False,
    )
    assert body["slug"] == made["slug"]
    null_name = await client.patch(
        f"{BASE}/badges/{made['id']}", json={"name": None}, headers=admin_auth
    )
    assert null_name.status_code == 422
    assert error_of(null_name)["details"][0]["field"] == "name"


async def test_etag_if_none_match_and_if_match(
    client: httpx.AsyncClient, admin_auth: dict[str, str]
) -> None:
    made = await _create(client, admin_auth, name="Tagged")
    first = await client.get(f"{BASE}/badges/{made['id']}")
    etag = first.headers["ETag"]
    unchanged = await client.get(f"{BASE}/badges/{made['id']}", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    edited = await client.patch(
        f"{BASE}/badges/{made['id']}",
        json={"description": "new"},
        headers={**admin_auth, "If-Match": etag},
    )
    assert edited.status_code == 200
    assert edited.headers["ETag"] != etag
    stale = await client.patch(
        f"{BASE}/badges/{made['id']}",
        json={"description": "lost update"},
        headers={**admin_auth, "If-Match": etag},
    )
    assert stale.status_code == 412
    assert error_of(stale)["code"] == "precondition_failed"
    stale_delete = await client.delete(
        f"{BASE}/badges/{made['id']}", headers={**admin_auth, "If-Match": etag}
    )
    assert stale_delete.status_code == 412
    current = await client.get(f"{BASE}/badges/{made['id']}")
    assert current.json()["description"] == "new"
    fresh = current.headers["ETag"]
    for header, status in (
        (f'"stale1", {fresh}, "stale2"', 200),  # any strong tag may match
        (f"W/{fresh}", 412),  # If-Match compares strongly: a weak tag never matches
        (",", 412),
        ('""', 412),
    ):
        response = await client.patch(
            f"{BASE}/badges/{made['id']}",
            json={"description": f"via {header}"},
            headers={**admin_auth, "If-Match": header},
        )
        assert response.status_code == status, (header, response.text)
        if status == 200:
            fresh = response.headers["ETag"]


async def test_no_redirects_for_trailing_slashes(
    client: httpx.AsyncClient, admin_auth: dict[str, str]
) -> None:
    response = await client.post(
        f"{BASE}/badges/", json={"name": "x"}, headers={**admin_auth, "Host": "evil.example"}
    )
    assert response.status_code == 404
    assert "location" not in response.headers


async def test_custom_emoji_icon_becomes_its_cdn_image(
    client: httpx.AsyncClient, admin_auth: dict[str, str]
) -> None:
    made = await _create(client, admin_auth, name="Party", icon="<a:party:123456789012345678>")
    assert made["icon"] == "<a:party:123456789012345678>"
    assert made["iconUrl"] == "https://cdn.discordapp.com/emojis/123456789012345678.gif"
    plain = await _create(client, admin_auth, name="Cup", icon="🏆")
    assert (plain["icon"], plain["iconUrl"]) == ("🏆", None)


async def test_filter_by_active(client: httpx.AsyncClient, admin_auth: dict[str, str]) -> None:
    await _create(client, admin_auth, name="On")
    await _create(client, admin_auth, name="Off", isActive=False)
    on = (await client.get(f"{BASE}/badges", params={"isActive": "true"})).json()["badges"]
    off = (await client.get(f"{BASE}/badges", params={"isActive": "false"})).json()["badges"]
    assert [b["name"] for b in on] == ["On"]
    assert [b["name"] for b in off] == ["Off"]
    bad = await client.get(f"{BASE}/badges", params={"isActive": "maybe"})
    assert bad.status_code == 422
    assert error_of(bad)["details"][0]["field"] == "isActive"


async def test_guilds_are_isolated(
    client: httpx.AsyncClient, service: BadgeService, make_token: Tokens
) -> None:
    theirs = await service.catalog.create(ADMIN, OTHER_GUILD, name="Theirs")
    mine = bearer(await make_token(Level.ADMIN, "mine", GUILD))
    assert (await client.get(f"{BASE}/badges/{theirs.id}")).status_code == 404
    assert (await client.get(f"{OTHER_BASE}/badges/{theirs.id}")).status_code == 200
    cross = await client.patch(
        f"{OTHER_BASE}/badges/{theirs.id}", json={"name": "Mine now"}, headers=mine
    )
    assert cross.status_code == 403
    assert error_of(cross)["code"] == "wrong_guild"
    via_mine = await client.delete(f"{BASE}/badges/{theirs.id}", headers=mine)
    assert via_mine.status_code == 404
    assert (await service.catalog.get(OTHER_GUILD, theirs.id)).name == "Theirs"


async def test_default_guild_answers_at_the_root(
    client: httpx.AsyncClient, admin_auth: dict[str, str]
) -> None:
    made = (await client.post("/badges", json={"name": "Root"}, headers=admin_auth)).json()
    assert (await client.get("/badges")).json()["badges"][0]["id"] == made["id"]
    assert (await client.get(f"{BASE}/badges/{made['id']}")).json()["name"] == "Root"


async def test_delete_badge(client: httpx.AsyncClient, admin_auth: dict[str, str]) -> None:
    made = await _create(client, admin_auth, name="Gone")
    response = await client.delete(f"{BASE}/badges/{made['id']}", headers=admin_auth)
    assert response.status_code == 200
    assert response.json() == {"message": "Badge deleted successfully", "revokedFrom": 0}
    assert (await client.get(f"{BASE}/badges/{made['id']}")).status_code == 404


async def test_public_reads_can_be_turned_off(
    client: httpx.AsyncClient, service: BadgeService, mod_auth: dict[str, str]
) -> None:
    await service.config.set_api_public_reads(ADMIN, GUILD, False)
    anonymous = await client.get(f"{BASE}/badges")
    assert anonymous.status_code == 401
    assert "API token" in error_of(anonymous)["message"]
    assert (await client.get(f"{BASE}/badges", headers=mod_auth)).status_code == 200
    assert (await client.get(f"{OTHER_BASE}/badges")).status_code == 200
