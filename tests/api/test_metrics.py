"""GET /metrics on the API: Prometheus' text format, every request timed by its route's
template, and a token when the operator set one."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from api import create_app
from badges.service import BadgeService
from db.database import Database
from tests.api.conftest import BASE, api_settings


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (s.labels, s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    ]


async def test_requests_are_counted_by_route_template_and_status(
    client: httpx.AsyncClient,
) -> None:
    for _ in range(3):
        assert (await client.get(f"{BASE}/badges")).status_code == 200
    assert (await client.get(f"{BASE}/badges/nope")).status_code == 404
    scraped = await client.get("/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    counts = {
        (labels["route"], labels["status"]): value
        for labels, value in samples(scraped.text, "badgebot_api_request_seconds_count")
        if labels["method"] == "GET"
    }
    route = "/api/v1/guilds/{guildId}/badges"
    assert counts[(route, "200")] >= 3
    assert counts[(route + "/{badgeId}", "404")] >= 1
    assert not any(str(BASE) in r for r, _ in counts), "raw paths would explode cardinality"
    assert "process_resident_memory_bytes" in scraped.text


@pytest.fixture
async def guarded(database_url: str, service: BadgeService, database: Database) -> FastAPI:
    settings = api_settings(database_url, metrics_token="scrape-secret")
    return create_app(settings, service=service, database=database)


async def test_a_metrics_token_keeps_other_scrapers_out(guarded: FastAPI) -> None:
    transport = httpx.ASGITransport(app=guarded)
    async with (
        guarded.router.lifespan_context(guarded),
        httpx.AsyncClient(transport=transport, base_url="http://api.test") as client,
    ):
        assert (await client.get("/metrics")).status_code == 401
        wrong = {"Authorization": "Bearer guess"}
        assert (await client.get("/metrics", headers=wrong)).status_code == 401
        right = {"Authorization": "Bearer scrape-secret"}
        scraped = await client.get("/metrics", headers=right)
        assert scraped.status_code == 200
        assert "badgebot_api_request_seconds" in scraped.text


async def test_metrics_are_not_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert "/metrics" not in schema["paths"]
