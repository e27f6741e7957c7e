"""The app itself: its lifespan, its documents, and the API inside `badgebot run`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api import create_app
from tests.api.conftest import BASE, api_settings
from tests.conftest import BACKEND


@pytest.mark.skipif(BACKEND != "sqlite", reason="a fresh file is an SQLite case")
async def test_own_database_is_upgraded_on_start(tmp_path: Path) -> None:
    app = create_app(api_settings(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get(f"{BASE}/badges")
    assert response.json() == {"badges": [], "nextCursor": None}


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, methods in schema["paths"].items()
        for method, op in methods.items()
    ]


async def test_openapi_documents_every_route_with_examples(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert (await client.get("/docs")).status_code == 200
    routes = {(p.removeprefix("/api/v1/guilds/{guildId}"), m) for p, m, _ in _operations(schema)}
    assert routes == {
        ("/badges", "get"),
        ("/badges", "post"),
        ("/badges/{badgeId}", "get"),
        ("/badges/{badgeId}", "patch"),
        ("/badges/{badgeId}", "delete"),
        ("/badges/slug/{slug}", "get"),
        ("/badges/users/{userId}", "get"),
        ("/badges/{badgeId}/users", "get"),
        ("/badges/award", "post"),
        ("/badges/award/bulk", "post"),
        ("/badges/{badgeId}/users/{userId}", "delete"),
        ("/users/{userId}/history", "get"),
        ("/badges/{badgeId}/rules", "get"),
        ("/badges/{badgeId}/rules", "post"),
        ("/badges/{badgeId}/rules/{ruleId}", "delete"),
        ("/badges/{badgeId}/policy", "get"),
        ("/badges/{badgeId}/policy", "put"),
        ("/users/{userId}/progress", "get"),
    }
    components = schema["components"]["schemas"]
    for path, method, op in _operations(schema):
        for status, answer in op["responses"].items():
            content = answer.get("content", {}).get("application/json")
            if content is None:
                continue
            ref = content["schema"].get("$ref", "")
            name = ref.rsplit("/", 1)[-1]
            if name:
                assert components[name].get("examples"), (path, method, status, name)
        body = op.get("requestBody")
        if body:
            ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
            assert components[ref].get("examples"), (path, method, ref)
