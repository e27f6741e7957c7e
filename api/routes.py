"""The routes of the badges reference, and the ones beyond it, for one guild.

``build_router`` makes them once under ``/api/v1/guilds/{guildId}`` and, for a one-server
deployment, once more at the root for the default guild, so a client written for the
reference works unchanged. Every route calls the service; the rules live there. The routes of
automatic badges are in api.automatic_routes, what they share in api.routing.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from pydantic.alias_generators import to_camel
from starlette.responses import Response

from api import present, schemas
from api.auth import identify
from api.automatic_routes import add_automatic_routes
from api.pagination import LIMIT_DEFAULT, decode
from api.responses import JSONBody
from api.routing import (
    ERRORS,
    SNOWFLAKE,
    Ctx,
    Cursor,
    IdemKey,
    IfMatch,
    IfNoneMatch,
    Limit,
    Reason,
    UserId,
    echo,
    page_reply,
    parse_badge_id,
    parse_user_id,
)
from api.state import ApiState
from badges.errors import InvalidInput
from badges.model import Badge
from badges.service.catalog import UNSET

_NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified (If-None-Match matched the ETag)"}
}


def _etag(badge: Badge) -> str:
    return f'"{badge.revision}"'


def _tags(header: str) -> set[str]:
    return {t.strip().removeprefix("W/").strip('"') for t in header.split(",") if t.strip()}


def _if_match(header: str | None) -> set[str] | None:
    """The revisions a change may find (RFC 9110: strong comparison), or None for no
    condition (no If-Match, or ``*``). Weak or empty lists match nothing: a 412."""
    if header is None or header.strip() == "*":
        return None
    return {
        t.strip('"')
        for t in (part.strip() for part in header.split(","))
        if len(t) > 2 and t.startswith('"') and t.endswith('"')
    }


def _badge_reply(badge: Badge, status: int = 200) -> Response:
    return JSONBody(present.badge(badge), status_code=status, headers={"ETag": _etag(badge)})


def _icon(body: schemas.BadgeCreate | schemas.BadgeUpdate) -> str | None:
    """One icon from ``icon`` and the reference's ``iconUrl`` (which must be a URL)."""
    url = body.icon_url
    if url is not None and url.strip() and not url.strip().startswith("https://"):
        raise InvalidInput("icon_url", "iconUrl must be an https:// URL; put an emoji in icon.")
    if body.icon is not None and url is not None and body.icon.strip() != url.strip():
        raise InvalidInput("icon_url", "Give icon or iconUrl, not two different icons.")
    return body.icon if body.icon is not None else url


def build_router(
    guild: Callable[..., Awaitable[int]] | Callable[..., int], *, include_in_schema: bool
) -> APIRouter:
    """The routes, with ``guild`` telling which guild a request is about."""
    router = APIRouter(include_in_schema=include_in_schema, responses=ERRORS)

    async def context(request: Request, guild_id: Annotated[int, Depends(guild)]) -> Ctx:
        state: ApiState = request.app.state.api
        caller = await identify(request, state.service, state.buckets, guild_id)
        return Ctx(state, guild_id, caller, request)

    C = Annotated[Ctx, Depends(context)]

    @router.get("/badges", response_model=schemas.BadgeList, tags=["badges"])
    async def list_badges(
        ctx: C,
        is_active: Annotated[bool | None, Query(alias="isActive")] = None,
        limit: Limit = LIMIT_DEFAULT,
        cursor: Cursor = None,
    ) -> Response:
        """All badges of the server, in creation order, with their holder counts."""
        await ctx.readable()
        pages, key = ctx.state.pages, (is_active, cursor or None, limit)
        cached = pages.get(ctx.guild_id, key)
        if cached is not None:
            return Response(cached, media_type="application/json")
        version = pages.version(ctx.guild_id)
        page = await ctx.state.service.catalog.list_after(
            ctx.guild_id, active=is_active, key=decode("badges", cursor), limit=limit
        )
        answer = page_reply("badges", [present.badge(b) for b in page.items], "badges", page)
        pages.put(ctx.guild_id, key, version, bytes(answer.body))
        return answer

    @router.get(
        "/badges/slug/{slug}",
        response_model=schemas.Badge,
        tags=["badges"],
        responses=_NOT_MODIFIED,
    )
    async def badge_by_slug(
        ctx: C,
        slug: Annotated[str, Path(max_length=200)],
        if_none_match: IfNoneMatch = None,
    ) -> Response:
        """One badge by its slug."""
        await ctx.readable()
        badge = await ctx.state.service.catalog.get_by_slug(ctx.guild_id, slug[:100])
        return _conditional(badge, if_none_match)

    @router.get("/badges/users/{userId}", response_model=schemas.MemberBadgeList, tags=["members"])
    async def member_badges(
        ctx: C, userId: UserId, limit: Limit = LIMIT_DEFAULT, cursor: Cursor = None
    ) -> Response:
        """A member's badges, newest award first, with who awarded each and why."""
        await ctx.readable()
        page = await ctx.state.service.awards.of_member_after(
            ctx.guild_id, parse_user_id(userId), key=decode("member", cursor), limit=limit
        )
        return page_reply("badges", [present.member_badge(m) for m in page.items], "member", page)

    @router.get(
        "/badges/{badgeId}", response_model=schemas.Badge, tags=["badges"], responses=_NOT_MODIFIED
    )
    async def get_badge(ctx: C, badgeId: str, if_none_match: IfNoneMatch = None) -> Response:
        """One badge by id. Sends an ETag; If-None-Match answers 304 when unchanged."""
        await ctx.readable()
        badge = await ctx.state.service.catalog.get(ctx.guild_id, parse_badge_id(badgeId))
        return _conditional(badge, if_none_match)

    @router.get("/badges/{badgeId}/users", response_model=schemas.HolderList, tags=["members"])
    async def holders(
        ctx: C, badgeId: str, limit: Limit = LIMIT_DEFAULT, cursor: Cursor = None
    ) -> Response:
        """Members holding the badge, newest award first."""
        await ctx.readable()
        page = await ctx.state.service.awards.holders_after(
            ctx.guild_id, parse_badge_id(badgeId), key=decode("holders", cursor), limit=limit
        )
        return page_reply("holders", [present.holder(a) for a in page.items], "holders", page)

    @router.post("/badges", status_code=201, response_model=schemas.Badge, tags=["badges"])
    async def create_badge(
        ctx: C, body: Annotated[schemas.BadgeCreate, Body()], key: IdemKey = None
    ) -> Response:
        """Create a badge (Admin token)."""
        actor = ctx.actor

        async def serve() -> Response:
            badge = await ctx.state.service.catalog.create(
                actor,
                ctx.guild_id,
                name=body.name,
                slug=body.slug,
                description=body.description,
                icon=_icon(body),
                color=body.color,
                is_active=body.is_active,
            )
            return _badge_reply(badge, 201)

        return await ctx.idempotent(key, body.model_dump(mode="json"), serve)

    @router.patch("/badges/{badgeId}", response_model=schemas.Badge, tags=["badges"])
    async def update_badge(
        ctx: C,
        badgeId: str,
        body: Annotated[schemas.BadgeUpdate, Body()],
        if_match: IfMatch = None,
    ) -> Response:
        """Change any of the fields (Admin token); null clears description, icon and color.
        With If-Match, a badge changed since it was read answers 412."""
        actor = ctx.actor
        given = body.model_fields_set
        changes: dict[str, Any] = {}
        for field in ("name", "slug", "is_active"):
            if field in given:
                value = getattr(body, field)
                if value is None:
                    raise InvalidInput(field, f"{to_camel(field)} cannot be null.")
                changes[field] = value
        for field in ("description", "color"):
            if field in given:
                changes[field] = getattr(body, field)
        if given & {"icon", "icon_url"}:
            changes["icon"] = _icon(body)
        badge = await ctx.state.service.catalog.update(
            actor,
            ctx.guild_id,
            parse_badge_id(badgeId),
            name=changes.get("name", UNSET),
            slug=changes.get("slug", UNSET),
            description=changes.get("description", UNSET),
            icon=changes.get("icon", UNSET),
            color=changes.get("color", UNSET),
            is_active=changes.get("is_active", UNSET),
            if_revision=_if_match(if_match),
        )
        return _badge_reply(badge)

    @router.delete("/badges/{badgeId}", response_model=schemas.BadgeDeleted, tags=["badges"])
    async def delete_badge(
        ctx: C, badgeId: str, reason: Reason = None, if_match: IfMatch = None
    ) -> Response:
        """Delete a badge (Admin token): its holders lose it and its role; their history
        keeps the awards."""
        deleted = await ctx.state.service.catalog.delete(
            ctx.actor,
            ctx.guild_id,
            parse_badge_id(badgeId),
            reason=reason,
            if_revision=_if_match(if_match),
        )
        return JSONBody(
            {
                "message": "Badge deleted successfully",
                "revokedFrom": len(deleted.holder_ids),
            }
        )

    @router.post(
        "/badges/award", status_code=201, response_model=schemas.AwardResponse, tags=["awards"]
    )
    async def award(
        ctx: C, body: Annotated[schemas.AwardRequest, Body()], key: IdemKey = None
    ) -> Response:
        """Award a badge to a member (Moderator token)."""
        actor = ctx.actor

        async def serve() -> Response:
            result = await ctx.state.service.awards.award(
                actor,
                ctx.guild_id,
                parse_badge_id(body.badge_id),
                parse_user_id(body.user_id),
                reason=body.reason,
            )
            return JSONBody(
                {
                    "message": "Badge awarded successfully",
                    "userBadge": present.user_badge(result.award),
                },
                status_code=201,
            )

        return await ctx.idempotent(key, body.model_dump(mode="json"), serve)

    @router.post("/badges/award/bulk", response_model=schemas.BulkAwardResponse, tags=["awards"])
    async def bulk_award(
        ctx: C, body: Annotated[schemas.BulkAwardRequest, Body()], key: IdemKey = None
    ) -> Response:
        """Award one badge to up to 10,000 members at once; each id gets its outcome."""
        actor = ctx.actor
        ids: list[int] = []
        malformed: list[str] = []
        for raw in dict.fromkeys(body.user_ids):  # each id once, in the order given
            if SNOWFLAKE.fullmatch(raw) and int(raw) < 2**63:
                ids.append(int(raw))
            else:
                malformed.append(echo(raw))

        async def serve() -> Response:
            result = await ctx.state.service.awards.bulk_award(
                actor, ctx.guild_id, parse_badge_id(body.badge_id), ids, reason=body.reason
            )
            out = present.bulk(result)
            out["refused"] += [{"userId": u, "reason": "not a valid Discord id"} for u in malformed]
            return JSONBody(out)

        return await ctx.idempotent(key, body.model_dump(mode="json"), serve)

    @router.delete(
        "/badges/{badgeId}/users/{userId}", response_model=schemas.Message, tags=["awards"]
    )
    async def revoke(ctx: C, badgeId: str, userId: UserId, reason: Reason = None) -> Response:
        """Take a badge from a member (Moderator token)."""
        await ctx.state.service.awards.revoke(
            ctx.actor, ctx.guild_id, parse_badge_id(badgeId), parse_user_id(userId), reason=reason
        )
        return JSONBody({"message": "Badge revoked successfully"})

    @router.get("/users/{userId}/history", response_model=schemas.History, tags=["members"])
    async def history(
        ctx: C, userId: UserId, limit: Limit = LIMIT_DEFAULT, cursor: Cursor = None
    ) -> Response:
        """A member's awards and revocations, newest first, including those of deleted
        badges (Moderator token)."""
        page = await ctx.state.service.awards.history_before(
            ctx.actor,
            ctx.guild_id,
            parse_user_id(userId),
            key=decode("history", cursor),
            limit=limit,
        )
        return page_reply("events", [present.event(e) for e in page.items], "history", page)

    add_automatic_routes(router, context)
    return router


def _conditional(badge: Badge, if_none_match: str | None) -> Response:
    etag = _etag(badge)
    if if_none_match is not None and (
        if_none_match.strip() == "*" or badge.revision in _tags(if_none_match)
    ):
        return Response(status_code=304, headers={"ETag": etag})
    return _badge_reply(badge)
