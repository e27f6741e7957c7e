"""Schemathesis over the OpenAPI document, against `badgebot api` serving on 127.0.0.1: no
5xx for anything a client can send, and every response matches the schema. Bounded: a few
dozen generated requests per operation.

Left out: schemathesis's "schema-valid request accepted" check. Some rules cannot be said in
a JSON schema (an opaque cursor, a name's look-alikes, a colour code); they answer 422 with
the field and the rule, which is what the other checks hold us to."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy import text

from badges.permissions import Level
from badges.service import BadgeService
from db import migrate
from db.database import Database
from db.tables import Base
from tests.conftest import ADMIN, BACKEND, GUILD, MOD, SUPER, TEST_DATABASE_URL

EXAMPLES = 40
"""Generated requests per operation: bounded, so the suite stays fast."""


@dataclass(frozen=True)
class Server:
    url: str
    token: str


async def _seed(url: str) -> str:
    database = Database(url)
    try:
        await migrate.upgrade(database.engine)
        if database.dialect == "postgresql":
            tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
            async with database.engine.begin() as conn:
                await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        service = BadgeService(database)
        badge = await service.catalog.create(ADMIN, GUILD, name="Seeded", slug="seeded")
        await service.awards.award(MOD, GUILD, badge.id, 80_351_110_224_678_912)
        return (await service.tokens.create(SUPER, GUILD, Level.ADMIN, "schemathesis")).secret
    finally:
        await database.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if BACKEND == "postgresql":
        url = TEST_DATABASE_URL
    else:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('schema') / 'api.db'}"
    token = asyncio.run(_seed(url))
    port = _free_port()
    env = {
        **os.environ,
        "BADGEBOT_DATABASE_URL": url,
        "BADGEBOT_API_RATE_LIMIT": "100000",
        "BADGEBOT_API_RATE_BURST": "100000",
        "BADGEBOT_LOG_LEVEL": "WARNING",
    }
    env.pop("BADGEBOT_API_DEFAULT_GUILD", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "api", "--port", str(port)],
        env=env,
        cwd=Path(tmp_path_factory.getbasetemp()),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/openapi.json", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        yield Server(base, token)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_no_server_errors_and_answers_match_the_schema(api_server: Server) -> None:
    schema = schemathesis.openapi.from_url(f"{api_server.url}/openapi.json")
    auth = {"Authorization": f"Bearer {api_server.token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 18

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: schemathesis.Case) -> None:
            if "guildId" in (case.path_parameters or {}):
                case.path_parameters["guildId"] = str(GUILD)
            case.call_and_validate(
                base_url=api_server.url, headers=auth, excluded_checks=[positive_data_acceptance]
            )

        check()
