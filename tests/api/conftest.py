"""The REST API over httpx's ASGI transport, on the test database (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api import create_app
from badges.permissions import Level
from badges.service import BadgeService
from bot.config import Settings
from db.database import Database
from tests.conftest import GUILD, OTHER_GUILD, SUPER

BASE = f"/api/v1/guilds/{GUILD}"
OTHER_BASE = f"/api/v1/guilds/{OTHER_GUILD}"


def api_settings(database_url: str, **overrides: Any) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=database_url, api_default_guild=GUILD, **overrides
    )


@pytest.fixture
def settings(database_url: str) -> Settings:
    return api_settings(database_url)


@pytest.fixture
async def app(
    settings: Settings, service: BadgeService, database: Database
) -> AsyncIterator[FastAPI]:
    app = create_app(settings, service=service, database=database)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        yield client


Tokens = Callable[..., Any]


@pytest.fixture
def make_token(service: BadgeService) -> Tokens:
    """``await make_token(level, name, guild)``: the secret of a new token."""

    async def make(level: Level = Level.ADMIN, name: str | None = None, guild: int = GUILD) -> str:
        issued = await service.tokens.create(SUPER, guild, level, name or f"{level.name} app")
        return issued.secret

    return make


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
async def admin_auth(make_token: Tokens) -> dict[str, str]:
    return bearer(await make_token(Level.ADMIN, "Admin app"))


@pytest.fixture
async def mod_auth(make_token: Tokens) -> dict[str, str]:
    return bearer(await make_token(Level.MODERATOR, "Loyalty app"))


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message"} <= set(body["error"]), body
    return body["error"]  # type: ignore[no-any-return]
