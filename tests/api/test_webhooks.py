"""Webhooks: refused addresses, the outbox written with each change, signed deliveries to a
local receiver, retries with backoff, a receiver that is down, and giving up after a day."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web

from api.webhook_sender import WebhookSender, sender_for
from badges.errors import AlreadyAwarded, Forbidden, InvalidInput
from badges.service import BadgeService
from badges.webhooks import UrlPolicy, resolve
from db.database import Database
from db.webhooks import WebhookOutbox
from tests.conftest import ADMIN, GUILD, MEMBER, MOD, OTHER_GUILD

LOCAL = UrlPolicy(allow_http=True, allow_private=True)
ALICE = 80_351_110_224_678_912


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Receiver:
    url: str
    answers: list[int] = field(default_factory=list)
    """Statuses to answer with, in order; 200 once they run out."""
    got: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    box = Receiver(url="")

    async def hook(request: web.Request) -> web.Response:
        box.got.append((dict(request.headers), await request.read()))
        return web.Response(status=box.answers.pop(0) if box.answers else 200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    box.url = f"http://127.0.0.1:{port}/hook"
    yield box
    await runner.cleanup()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def local_service(database: Database, clock: Clock) -> BadgeService:
    """A service whose webhooks may go to this machine (the local receiver)."""
    return BadgeService(database, clock=clock, url_policy=LOCAL)


@pytest.fixture
async def sender(database: Database, clock: Clock) -> AsyncIterator[WebhookSender]:
    sender = WebhookSender(WebhookOutbox(database), clock, policy=LOCAL)
    yield sender
    await sender.stop()


async def test_refused_urls(service: BadgeService) -> None:
    async def public(host: str, port: int) -> list[str]:
        return {"rebind.example": ["10.1.2.3"], "ok.example": ["93.184.215.14"]}.get(host, [])

    service.core.resolve = public
    refused = [
        "http://ok.example/hook",
        "ftp://ok.example/hook",
        "https://127.0.0.1/hook",
        "https://10.0.0.5/hook",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://localhost/hook",
        "https://printer.local/hook",
        "https://rebind.example/hook",
        "https://nowhere.example/hook",
        "https://user:pw@ok.example/hook",
        "https://ok.example/ho ok",
        "https://ok.example/" + "x" * 600,
        "https://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
        "https://[64:ff9b::a00:5]/",
        "https://[::127.0.0.1]/",
        "https://[::ffff:0:7f00:1]/",
        "https://[fec0::1]/",
        "https://ok.example:22/",
    ]
    for url in refused:
        with pytest.raises(InvalidInput) as caught:
            await service.webhooks.add(ADMIN, GUILD, url)
        assert caught.value.field == "url", url
    issued = await service.webhooks.add(ADMIN, GUILD, "https://ok.example/hook")
    assert issued.secret.startswith("whsec_")
    assert [w.url for w in await service.webhooks.list(ADMIN, GUILD)] == ["https://ok.example/hook"]


async def test_only_admins_manage_webhooks(service: BadgeService) -> None:
    for actor in (MOD, MEMBER):
        with pytest.raises(Forbidden):
            await service.webhooks.add(actor, GUILD, "https://93.184.215.14/hook")
        with pytest.raises(Forbidden):
            await service.webhooks.list(actor, GUILD)


async def test_deliveries_are_written_with_the_change_and_numbered(
    local_service: BadgeService, database: Database, receiver: Receiver
) -> None:
    await local_service.webhooks.add(ADMIN, GUILD, receiver.url)
    badge = await local_service.catalog.create(ADMIN, GUILD, name="Helper")
    await local_service.awards.award(MOD, GUILD, badge.id, ALICE)
    with pytest.raises(AlreadyAwarded):
        await local_service.awards.award(MOD, GUILD, badge.id, ALICE)
    await local_service.catalog.create(ADMIN, OTHER_GUILD, name="Elsewhere")
    outbox = WebhookOutbox(database)
    assert [s for s, _, _ in await outbox.states()] == ["pending", "pending"]


async def test_signed_delivery_to_a_local_receiver(
    local_service: BadgeService, sender: WebhookSender, receiver: Receiver, clock: Clock
) -> None:
    issued = await local_service.webhooks.add(ADMIN, GUILD, receiver.url)
    badge = await local_service.catalog.create(ADMIN, GUILD, name="Helper")
    await local_service.awards.award(MOD, GUILD, badge.id, ALICE, reason="kind")
    await local_service.awards.revoke(MOD, GUILD, badge.id, ALICE)
    assert await sender.round() == 3
    assert await sender.round() == 0
    bodies = [json.loads(body) for _, body in receiver.got]
    assert [b["type"] for b in bodies] == ["badge.created", "award.created", "award.revoked"]
    assert [b["sequence"] for b in bodies] == [1, 2, 3]
    award = bodies[1]
    assert award["guildId"] == str(GUILD)
    assert award["data"]["userId"] == str(ALICE)
    assert award["data"]["reason"] == "kind"
    assert award["data"]["badgeId"] == badge.id
    headers, raw = receiver.got[1]
    assert headers["Badgebot-Event"] == "award.created"
    assert headers["Badgebot-Delivery"] == award["id"]
    stamp, mac = (p.split("=", 1)[1] for p in headers["Badgebot-Signature"].split(","))
    assert int(stamp) == int(clock.now.timestamp())
    expected = hmac.new(
        issued.secret.encode(), f"{stamp}.".encode() + raw, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(mac, expected)


async def test_failures_are_retried_with_backoff(
    local_service: BadgeService,
    sender: WebhookSender,
    receiver: Receiver,
    clock: Clock,
    database: Database,
) -> None:
    await local_service.webhooks.add(ADMIN, GUILD, receiver.url)
    receiver.answers = [500, 503]
    await local_service.catalog.create(ADMIN, GUILD, name="Helper")
    assert await sender.round() == 1
    assert await sender.round() == 0  # not due yet: the first retry waits 10 s
    clock.advance(seconds=10)
    assert await sender.round() == 1
    clock.advance(seconds=19)
    assert await sender.round() == 0  # the second waits 20 s
    clock.advance(seconds=1)
    assert await sender.round() == 1
    assert await WebhookOutbox(database).states() == [("delivered", 3, None)]
    assert len(receiver.got) == 3
    assert len({json.loads(b)["id"] for _, b in receiver.got}) == 1


async def test_a_receiver_that_is_down_is_retried_for_a_day_then_given_up(
    local_service: BadgeService, sender: WebhookSender, clock: Clock, database: Database
) -> None:
    with socket.socket() as probe:  # a port nobody listens on once this closes
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    await local_service.webhooks.add(ADMIN, GUILD, f"http://127.0.0.1:{closed}/closed")
    await local_service.catalog.create(ADMIN, GUILD, name="Helper")
    assert await sender.round() == 1
    [(status, attempts, error)] = await WebhookOutbox(database).states()
    assert (status, attempts) == ("pending", 1)
    assert error
    tries = 1
    while (await WebhookOutbox(database).states())[0][0] == "pending":
        clock.advance(hours=1)
        tries += await sender.round()
        assert tries < 40
    [(status, _, error)] = await WebhookOutbox(database).states()
    assert status == "failed"
    assert error is not None
    assert error.startswith("gave up after a day")


async def test_an_address_refused_at_delivery_is_never_contacted(
    service: BadgeService, database: Database, receiver: Receiver, clock: Clock
) -> None:
    # added while it looked public; by delivery time it points at this machine
    async def public(host: str, port: int) -> list[str]:
        return ["93.184.215.14"]

    host = socket.gethostname()  # this machine's name: the system resolver says loopback
    if not any(ipaddress.ip_address(a).is_loopback for a in await resolve(host, 443)):
        pytest.skip(f"{host} does not resolve to loopback here")
    service.core.resolve = public
    await service.webhooks.add(ADMIN, GUILD, f"https://{host}:{_port(receiver)}/hook")
    await service.catalog.create(ADMIN, GUILD, name="Helper")
    strict = WebhookSender(WebhookOutbox(database), service.core.clock)
    try:
        assert await strict.round() == 1
    finally:
        await strict.stop()
    [(status, _, error)] = await WebhookOutbox(database).states()
    assert status == "failed"
    assert error is not None
    assert error.startswith("refused")
    assert receiver.got == []


def _port(receiver: Receiver) -> int:
    return int(receiver.url.rsplit(":", 1)[1].split("/", 1)[0])


async def test_removing_a_webhook_drops_what_it_had_to_receive(
    local_service: BadgeService, database: Database, receiver: Receiver
) -> None:
    issued = await local_service.webhooks.add(ADMIN, GUILD, receiver.url)
    await local_service.catalog.create(ADMIN, GUILD, name="Helper")
    await local_service.webhooks.remove(ADMIN, GUILD, issued.webhook.id)
    assert await WebhookOutbox(database).states() == []
    assert await local_service.webhooks.list(ADMIN, GUILD) == []


async def test_stop_returns_even_when_woken_as_it_is_cancelled(
    database: Database, clock: Clock
) -> None:
    for _ in range(20):
        sender = WebhookSender(WebhookOutbox(database), clock, policy=LOCAL)
        sender.start()
        await asyncio.sleep(0)
        sender.kick()
        await asyncio.wait_for(sender.stop(), timeout=5)


async def test_the_sender_is_woken_only_by_changes_that_queued_deliveries(
    local_service: BadgeService, database: Database, receiver: Receiver
) -> None:
    sender = sender_for(local_service, database)
    kicks: list[str] = []
    sender.on_kick = lambda: kicks.append("kick")
    badge = await local_service.catalog.create(ADMIN, OTHER_GUILD, name="Quiet")
    await local_service.awards.award(MOD, OTHER_GUILD, badge.id, 42)
    assert kicks == []  # no webhooks in that guild: nothing queued, no round
    await local_service.webhooks.add(ADMIN, GUILD, receiver.url)
    badge = await local_service.catalog.create(ADMIN, GUILD, name="Loud")
    await local_service.awards.award(MOD, GUILD, badge.id, 42)
    assert kicks == ["kick", "kick"]
