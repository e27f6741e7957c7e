"""Badge definitions through the service, on the configured backend."""

from __future__ import annotations

import asyncio

import pytest

from badges.errors import BadgeNotFound, Forbidden, InvalidInput, NameTaken, SlugTaken
from badges.model import EventKind
from badges.service import BadgeService
from db.database import Database
from tests.conftest import ADMIN, GUILD, MEMBER, MOD, OTHER_GUILD, SUPER
from tests.db.helpers import snapshot


async def test_create_badge_stores_normalised_fields(service: BadgeService) -> None:
    badge = await service.catalog.create(
        ADMIN,
        GUILD,
        name="  Early  Adopter ",
        description="Joined in beta",
        icon="🌱",
        color="4caf50",
    )
    assert (badge.name, badge.slug, badge.color, badge.icon) == (
        "Early Adopter",
        "early-adopter",
        "#4CAF50",
        "🌱",
    )
    assert badge.is_active
    assert badge.awarded_count == 0
    assert badge.created_by == ADMIN.user_id
    stored = await service.catalog.get(GUILD, badge.id)
    assert stored == badge
    assert stored.created_at.tzinfo is not None


async def test_generated_slug_avoids_taken_ones(service: BadgeService) -> None:
    await service.catalog.create(ADMIN, GUILD, name="Helper", slug="helper")
    await service.catalog.create(ADMIN, GUILD, name="Other", slug="helper-2")
    third = await service.catalog.create(ADMIN, GUILD, name="HELPER!")
    assert third.slug == "helper-3"


async def test_given_slug_taken_is_refused(service: BadgeService, database: Database) -> None:
    await service.catalog.create(ADMIN, GUILD, name="Helper", slug="helper")
    before = await snapshot(database)
    with pytest.raises(SlugTaken, match="slug already exists"):
        await service.catalog.create(ADMIN, GUILD, name="Another", slug="helper")
    assert await snapshot(database) == before


async def test_duplicate_name_in_another_case_is_refused(
    service: BadgeService, database: Database
) -> None:
    await service.catalog.create(ADMIN, GUILD, name="Helper")
    before = await snapshot(database)
    with pytest.raises(NameTaken, match="'HELPER' already exists"):
        await service.catalog.create(ADMIN, GUILD, name="HELPER", slug="other")
    assert await snapshot(database) == before


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "x" * 101}, "name"),
        ({"name": "ok", "color": "#GGG"}, "color"),
        ({"name": "ok", "slug": "Bad Slug"}, "slug"),
        ({"name": "ok", "icon": "not an icon"}, "icon"),
        ({"name": "ok", "description": "d" * 1001}, "description"),
    ],
)
async def test_create_badge_bad_input_changes_nothing(
    service: BadgeService, database: Database, fields: dict[str, str], field: str
) -> None:
    before = await snapshot(database)
    with pytest.raises(InvalidInput) as err:
        await service.catalog.create(ADMIN, GUILD, **fields)  # type: ignore[arg-type]
    assert err.value.field == field
    assert await snapshot(database) == before


@pytest.mark.parametrize("actor", [MEMBER, MOD])
async def test_create_badge_needs_admin(
    service: BadgeService, database: Database, actor: object
) -> None:
    before = await snapshot(database)
    with pytest.raises(Forbidden, match="Admin level to create badges"):
        await service.catalog.create(actor, GUILD, name="Nope")  # type: ignore[arg-type]
    assert await snapshot(database) == before


async def test_update_badge_changes_only_given_fields(service: BadgeService) -> None:
    badge = await service.catalog.create(ADMIN, GUILD, name="Helper", color="#111111", icon="🤝")
    updated = await service.catalog.update(ADMIN, GUILD, badge.id, name="Top Helper", icon=None)
    assert updated.name == "Top Helper"
    assert updated.slug == "helper"  # renaming keeps the slug
    assert updated.icon is None
    assert updated.color == "#111111"
    assert updated.updated_at >= badge.updated_at
    assert await service.catalog.get(GUILD, badge.id) == updated


async def test_update_badge_with_new_slug(service: BadgeService) -> None:
    badge = await service.catalog.create(ADMIN, GUILD, name="Helper")
    updated = await service.catalog.update(ADMIN, GUILD, badge.id, slug="top-helper")
    assert (await service.catalog.get_by_slug(GUILD, "top-helper")).id == updated.id


async def test_update_badge_refusals_change_nothing(
    service: BadgeService, database: Database
) -> None:
    a = await service.catalog.create(ADMIN, GUILD, name="Alpha")
    await service.catalog.create(ADMIN, GUILD, name="Beta")
    before = await snapshot(database)
    with pytest.raises(NameTaken):
        await service.catalog.update(ADMIN, GUILD, a.id, name="beta")
    with pytest.raises(SlugTaken):
        await service.catalog.update(ADMIN, GUILD, a.id, slug="beta")
    with pytest.raises(InvalidInput):
        await service.catalog.update(ADMIN, GUILD, a.id, color="nope")
    with pytest.raises(Forbidden):
        await service.catalog.update(MOD, GUILD, a.id, name="Gamma")
    with pytest.raises(BadgeNotFound):
        await service.catalog.update(ADMIN, GUILD, "no-such-id", name="Gamma")
    assert await snapshot(database) == before


async def test_renaming_to_own_name_in_other_case_is_allowed(service: BadgeService) -> None:
    badge = await service.catalog.create(ADMIN, GUILD, name="helper")
    assert (await service.catalog.update(ADMIN, GUILD, badge.id, name="Helper")).name == "Helper"


async def test_update_is_audited_with_before_and_after(
    service: BadgeService, database: Database
) -> None:
    badge = await service.catalog.create(ADMIN, GUILD, name="Helper", color="#111111")
    seen = []

    async def listener(events):  # type: ignore[no-untyped-def]
        seen.extend(events)

    service.subscribe(listener)
    await service.catalog.update(ADMIN, GUILD, badge.id, color="#222222", is_active=False)
    (event,) = seen
    assert event.kind is EventKind.BADGE_UPDATED
    assert event.before == {"color": "#111111", "is_active": True}
    assert event.after == {"color": "#222222", "is_active": False}


async def test_delete_badge_ends_awards_and_keeps_history(service: BadgeService) -> None:
    badge = await service.catalog.create(ADMIN, GUILD, name="Helper", role_id=555)
    await service.awards.award(MOD, GUILD, badge.id, 11, reason="helped")
    await service.awards.award(MOD, GUILD, badge.id, 12)
    deleted = await service.catalog.delete(ADMIN, GUILD, badge.id)
    assert sorted(deleted.holder_ids) == [11, 12]
    assert deleted.role_id == 555
    with pytest.raises(BadgeNotFound):
        await service.catalog.get(GUILD, badge.id)
    assert (await service.awards.of_member(GUILD, 11)).total == 0
    history = await service.awards.history(MOD, GUILD, 11)
    assert [e.kind for e in history.items] == [EventKind.REVOKED, EventKind.AWARDED]
    assert history.items[0].reason == "Badge 'Helper' was deleted"
    assert history.items[0].badge_name == "Helper"


async def test_delete_badge_needs_admin(service: BadgeService, database: Database) -> None:
    badge = await service.catalog.create(ADMIN, GUILD, name="Helper")
    await service.awards.award(MOD, GUILD, badge.id, 11)
    before = await snapshot(database)
    with pytest.raises(Forbidden):
        await service.catalog.delete(MOD, GUILD, badge.id)
    with pytest.raises(BadgeNotFound):
        await service.catalog.delete(ADMIN, GUILD, "missing")
    assert await snapshot(database) == before


async def test_find_badge_by_slug_name_or_id_in_any_case(service: BadgeService) -> None:
    badge = await service.catalog.create(ADMIN, GUILD, name="Top Helper", slug="helper")
    for query in ("helper", "HELPER", "top helper", "  Top   HELPER ", badge.id):
        assert (await service.catalog.find(GUILD, query)).id == badge.id


async def test_find_badge_suggests_the_closest_name(service: BadgeService) -> None:
    await service.catalog.create(ADMIN, GUILD, name="helper")
    with pytest.raises(BadgeNotFound) as err:
        await service.catalog.find(GUILD, "helpr")
    assert err.value.message == "No badge named 'helpr' in this server. Did you mean 'helper'?"
    with pytest.raises(BadgeNotFound) as err:
        await service.catalog.find(GUILD, "zzzzzz")
    assert err.value.suggestion is None


async def test_list_badges_filters_and_paginates(service: BadgeService) -> None:
    for i in range(7):
        await service.catalog.create(ADMIN, GUILD, name=f"Badge {i}", is_active=i % 2 == 0)
    page = await service.catalog.list(GUILD, offset=0, limit=3)
    assert [b.name for b in page.items] == ["Badge 0", "Badge 1", "Badge 2"]
    assert page.total == 7
    assert page.has_next
    last = await service.catalog.list(GUILD, offset=6, limit=3)
    assert [b.name for b in last.items] == ["Badge 6"]
    assert not last.has_next
    active = await service.catalog.list(GUILD, active=True, limit=100)
    assert active.total == 4
    assert all(b.is_active for b in active.items)
    inactive = await service.catalog.list(GUILD, active=False, limit=100)
    assert inactive.total == 3


@pytest.mark.parametrize(("offset", "limit"), [(-1, 10), (0, 0), (0, 1001)])
async def test_list_badges_bad_page_is_refused(
    service: BadgeService, offset: int, limit: int
) -> None:
    with pytest.raises(InvalidInput):
        await service.catalog.list(GUILD, offset=offset, limit=limit)


async def test_guilds_are_isolated(service: BadgeService, database: Database) -> None:
    mine = await service.catalog.create(ADMIN, GUILD, name="Helper")
    await service.awards.award(MOD, GUILD, mine.id, 11)
    # the same name and slug are free in another guild
    theirs = await service.catalog.create(ADMIN, OTHER_GUILD, name="Helper")
    assert theirs.slug == "helper"
    assert theirs.id != mine.id
    assert (await service.catalog.list(OTHER_GUILD)).total == 1
    assert (await service.awards.of_member(OTHER_GUILD, 11)).total == 0
    before = await snapshot(database)
    for attempt in (
        service.catalog.get(OTHER_GUILD, mine.id),
        service.catalog.update(ADMIN, OTHER_GUILD, mine.id, name="Stolen"),
        service.catalog.delete(SUPER, OTHER_GUILD, mine.id),
        service.awards.award(MOD, OTHER_GUILD, mine.id, 12),
        service.awards.revoke(MOD, OTHER_GUILD, mine.id, 11),
        service.awards.holders(OTHER_GUILD, mine.id),
    ):
        with pytest.raises(BadgeNotFound):
            await attempt
    assert await snapshot(database) == before


async def test_concurrent_creates_of_one_name_give_one_badge(service: BadgeService) -> None:
    results = await asyncio.gather(
        *(service.catalog.create(ADMIN, GUILD, name="Helper", slug=f"s-{i}") for i in range(10)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert sum(isinstance(r, NameTaken) for r in results) == 9
    assert (await service.catalog.list(GUILD)).total == 1
