"""The events a bulk change publishes carry the ids their rows got (the change feed and the
webhook outbox follow them), on SQLite too, where they are written in batches."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text

from badges.model import AuditEvent, EventKind
from badges.service import BadgeService
from db.database import Database
from tests.conftest import ADMIN, GUILD, MOD


async def test_published_ids_are_the_rows_ids(service: BadgeService, database: Database) -> None:
    published: list[AuditEvent] = []

    async def listen(events: Sequence[AuditEvent]) -> None:
        published.extend(events)

    service.subscribe(listen)
    badge = await service.catalog.create(ADMIN, GUILD, name="Helper")
    await service.awards.bulk_award(MOD, GUILD, badge.id, range(1, 1_201))  # 3 chunks
    await service.awards.award(MOD, GUILD, badge.id, 5_000)
    awarded = {e.id: e.user_id for e in published if e.kind is EventKind.AWARDED}
    async with database.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT id, user_id FROM audit_events WHERE kind = :kind"),
            {"kind": EventKind.AWARDED.value},
        )
        stored = {int(i): int(u) for i, u in rows.all()}
    assert len(awarded) == 1_201
    assert awarded == stored
