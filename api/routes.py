"""The routes of the badges reference, and the ones beyond it, for one guild.

``build_router`` makes them once under ``/api/v1/guilds/{guildId}`` and, for a one-server
deployment, once more at the root for the default guild, so a client written for the
reference works unchanged. Every route calls the service; the rules live there.
"""

import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request
from pydantic.alias_generators import to_camel
from starlette.responses import Response

from api import present, schemas
from api.auth import Caller, identify, need_token
from api.errors import ApiError
from api.idempotency import once, request_hash
from api.pagination import LIMIT_DEFAULT, LIMIT_MAX, decode, encode
from api.responses import JSONBody
from api.state import ApiState
from badges.automation import RuleDraft, Weights
from badges.errors import BadgeNotFound, InvalidInput
from badges.model import Badge, Slice
from badges.permissions import Actor
from badges.service.catalog import UNSET

_BADGE_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
_SNOWFLAKE = re.compile(schemas.SNOWFLAKE)

Limit = Annotated[int, Query(ge=1, le=LIMIT_MAX, description="Items per page (1-100).")]
Cursor = Annotated[
    str | None,
    Query(max_length=512, description="The nextCursor of the previous page; omit for the first."),
]
IdemKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Retries with the same key get the first answer; kept 24 h.",
    ),
]
IfMatch = Annotated[str | None, Header(alias="If-Match", description="The badge's ETag.")]
IfNoneMatch = Annotated[str | None, Header(alias="If-None-Match")]
Reason = Annotated[str | None, Query(max_length=10_000, description="Why (kept in history).")]
UserId = Annotated[str, Path(pattern=schemas.SNOWFLAKE, description="A Discord user id.")]
RuleId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The rule's id.")]

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": schemas.ErrorResponse, "description": text}
    for code, text in (
        (400, "Bad request (a bad cursor, an inactive badge)"),
        (401, "Missing, unknown or revoked token"),
        (403, "The token's level is too low, or it belongs to another server"),
        (404, "Not found"),
        (409, "Conflict (slug or name taken, already awarded)"),
        (412, "If-Match does not match the badge's ETag"),
        (413, "Body too large"),
        (422, "Invalid input: the field and the rule"),
        (429, "Rate limited: see Retry-After"),
        (500, "Our fault: details.errorId is in our log"),
    )
}
_NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified (If-None-Match matched the ETag)"}
}


@dataclass(slots=True)
class Ctx:
    """One request: the app's state, the guild and the caller (None when anonymous)."""

    state: ApiState
    guild_id: int
    caller: Caller | None
    request: Request

    @property
    def actor(self) -> Actor:
        return need_token(self.caller).actor

    async def readable(self) -> None:
        """Reads are public unless the guild made them token-only."""
        if self.caller is None and not await self.state.public_reads(self.guild_id):
            raise ApiError(
                401,
                "unauthorized",
                "This server's badges are readable with an API token only.",
                headers={"WWW-Authenticate": "Bearer"},
            )

    async def idempotent(
        self, key: str | None, body: Any, serve: Callable[[], Awaitable[Response]]
    ) -> Response:
        token = need_token(self.caller).token
        assert token is not None
        # the route and guild, not the URL: the root routes and the prefixed ones are one
        route = getattr(self.request.scope.get("route"), "name", self.request.url.path)
        fingerprint = request_hash(self.request.method, f"{self.guild_id}:{route}", body)
        return await once(
            self.state.idempotency, self.state.clock, token.id, key, fingerprint, serve
        )


def _echo(raw: str) -> str:
    """Client text sent back: printable, clipped, never anything that cannot be encoded."""
    safe = "".join(
        ch if ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF else "\ufffd" for ch in raw
    )
    return safe if len(safe) <= 40 else safe[:39] + "…"


def _badge_id(value: str) -> str:
    if not _BADGE_ID.fullmatch(value):
        raise BadgeNotFound()
    return value


def _user_id(value: str, field: str = "userId") -> int:
    if not _SNOWFLAKE.fullmatch(value) or int(value) >= 2**63:
        raise InvalidInput(field, f"{field} must be a Discord id (a positive 64-bit integer).")
    return int(value)


_API_FIELDS = {
    "excluded_channels": "excluded_channel_ids",
    "required_badge": "required_badge_id",
    "role": "role_id",
}
"""The service's names for fields the API calls otherwise."""


@contextmanager
def _api_fields() -> Iterator[None]:
    """A refusal of the service names the field as this API's body does."""
    try:
        yield
    except InvalidInput as error:
        field = _API_FIELDS.get(error.field)
        if field is None:
            raise
        raise InvalidInput(field, error.message) from error


def _draft(body: schemas.RuleCreate) -> RuleDraft:
    required = body.required_badge_id
    if required is not None and not _BADGE_ID.fullmatch(required):
        raise InvalidInput("required_badge_id", "The required badge does not exist.")
    w = body.weights
    return RuleDraft(
        kind=body.kind,
        threshold=body.threshold,
        window_days=body.window_days,
        excluded_channel_ids=frozenset(
            _user_id(c, "excludedChannelIds") for c in body.excluded_channel_ids
        ),
        cooldown=body.cooldown,
        weights=Weights() if w is None else Weights(w.messages, w.reactions, w.voice_minutes),
        required_badge_id=required,
        replaces=body.replaces,
    )


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
    router = APIRouter(include_in_schema=include_in_schema, responses=_ERRORS)

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
        answer = _page("badges", [present.badge(b) for b in page.items], "badges", page)
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
            ctx.guild_id, _user_id(userId), key=decode("member", cursor), limit=limit
        )
        return _page("badges", [present.member_badge(m) for m in page.items], "member", page)

    @router.get(
        "/badges/{badgeId}", response_model=schemas.Badge, tags=["badges"], responses=_NOT_MODIFIED
    )
    async def get_badge(ctx: C, badgeId: str, if_none_match: IfNoneMatch = None) -> Response:
        """One badge by id. Sends an ETag; If-None-Match answers 304 when unchanged."""
        await ctx.readable()
        badge = await ctx.state.service.catalog.get(ctx.guild_id, _badge_id(badgeId))
        return _conditional(badge, if_none_match)

    @router.get("/badges/{badgeId}/users", response_model=schemas.HolderList, tags=["members"])
    async def holders(
        ctx: C, badgeId: str, limit: Limit = LIMIT_DEFAULT, cursor: Cursor = None
    ) -> Response:
        """Members holding the badge, newest award first."""
        await ctx.readable()
        page = await ctx.state.service.awards.holders_after(
            ctx.guild_id, _badge_id(badgeId), key=decode("holders", cursor), limit=limit
        )
        return _page("holders", [present.holder(a) for a in page.items], "holders", page)

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
            _badge_id(badgeId),
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
            _badge_id(badgeId),
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
                _badge_id(body.badge_id),
                _user_id(body.user_id),
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
            if _SNOWFLAKE.fullmatch(raw) and int(raw) < 2**63:
                ids.append(int(raw))
            else:
                malformed.append(_echo(raw))

        async def serve() -> Response:
            result = await ctx.state.service.awards.bulk_award(
                actor, ctx.guild_id, _badge_id(body.badge_id), ids, reason=body.reason
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
            ctx.actor, ctx.guild_id, _badge_id(badgeId), _user_id(userId), reason=reason
        )
        return JSONBody({"message": "Badge revoked successfully"})

    @router.get("/users/{userId}/history", response_model=schemas.History, tags=["members"])
    async def history(
        ctx: C, userId: UserId, limit: Limit = LIMIT_DEFAULT, cursor: Cursor = None
    ) -> Response:
        """A member's awards and revocations, newest first, including those of deleted
        badges (Moderator token)."""
        page = await ctx.state.service.awards.history_before(
            ctx.actor, ctx.guild_id, _user_id(userId), key=decode("history", cursor), limit=limit
        )
        return _page("events", [present.event(e) for e in page.items], "history", page)

    @router.get("/badges/{badgeId}/rules", response_model=schemas.RuleList, tags=["automatic"])
    async def rules(ctx: C, badgeId: str) -> Response:
        """The rules that award the badge by themselves (a member who meets all of them gets
        it), and who may award it."""
        await ctx.readable()
        automation = ctx.state.service.rules
        badge, found = await automation.of_badge(ctx.guild_id, _badge_id(badgeId))
        _, policy = await automation.policy(ctx.guild_id, badge.id)
        names = await automation.names(ctx.guild_id)
        return JSONBody(
            {
                "badgeId": badge.id,
                "rules": [present.rule(r, names) for r in found],
                "policy": present.policy(policy),
            }
        )

    @router.post(
        "/badges/{badgeId}/rules",
        status_code=201,
        response_model=schemas.RuleAdded,
        tags=["automatic"],
    )
    async def add_rule(
        ctx: C, badgeId: str, body: Annotated[schemas.RuleCreate, Body()], key: IdemKey = None
    ) -> Response:
        """Add a rule (Admin token). It is checked at once over everything counted so far:
        members who already qualify get the badge now (``evaluation``)."""
        actor = ctx.actor

        async def serve() -> Response:
            automation = ctx.state.service.rules
            with _api_fields():
                added = await automation.add(actor, ctx.guild_id, _badge_id(badgeId), _draft(body))
            names = await automation.names(ctx.guild_id)
            return JSONBody(
                {
                    "message": "Rule added",
                    "rule": present.rule(added.rule, names),
                    "evaluation": present.evaluation(added.report),
                },
                status_code=201,
            )

        fingerprint = {"badgeId": badgeId, **body.model_dump(mode="json")}
        return await ctx.idempotent(key, fingerprint, serve)

    @router.delete(
        "/badges/{badgeId}/rules/{ruleId}",
        response_model=schemas.RuleRemoved,
        tags=["automatic"],
    )
    async def remove_rule(ctx: C, badgeId: str, ruleId: RuleId) -> Response:
        """Remove a rule (Admin token). Members who got the badge from it keep it."""
        automation = ctx.state.service.rules
        removed = await automation.remove(ctx.actor, ctx.guild_id, _badge_id(badgeId), ruleId)
        names = await automation.names(ctx.guild_id)
        return JSONBody({"message": "Rule removed", "rule": present.rule(removed, names)})

    @router.get("/badges/{badgeId}/policy", response_model=schemas.Policy, tags=["automatic"])
    async def policy(ctx: C, badgeId: str) -> Response:
        """Who may award the badge, and what its rules do when a member no longer meets
        them."""
        await ctx.readable()
        _, found = await ctx.state.service.rules.policy(ctx.guild_id, _badge_id(badgeId))
        return JSONBody(present.policy(found))

    @router.put("/badges/{badgeId}/policy", response_model=schemas.Policy, tags=["automatic"])
    async def set_policy(
        ctx: C, badgeId: str, body: Annotated[schemas.PolicyUpdate, Body()]
    ) -> Response:
        """Change any of the fields (Admin token); what is left out keeps its value, null
        clears roleId and perDay."""
        actor = ctx.actor
        given = body.model_fields_set
        changes: dict[str, Any] = {}
        for field in ("awarders", "self_award", "auto_revoke", "rotation_hours"):
            if field in given:
                value = getattr(body, field)
                if value is None:
                    raise InvalidInput(field, f"{to_camel(field)} cannot be null.")
                changes[field] = value
        if "per_day" in given:
            changes["per_day"] = body.per_day
        if "role_id" in given:
            role = body.role_id
            changes["role_id"] = None if role is None else _user_id(role, "roleId")
        with _api_fields():
            after = await ctx.state.service.rules.set_policy(
                actor, ctx.guild_id, _badge_id(badgeId), **changes
            )
        return JSONBody(present.policy(after))

    @router.get("/users/{userId}/progress", response_model=schemas.Progress, tags=["members"])
    async def progress(
        ctx: C,
        userId: UserId,
        badge_id: Annotated[
            str | None, Query(alias="badgeId", max_length=200, description="Only this badge.")
        ] = None,
    ) -> Response:
        """How far a member is from each automatic badge (or one): where they are on each
        rule, what meets it, and whether it is met."""
        await ctx.readable()
        user_id = _user_id(userId)
        automation = ctx.state.service.rules
        found = await automation.progress(
            ctx.guild_id, user_id, None if badge_id is None else _badge_id(badge_id)
        )
        names = await automation.names(ctx.guild_id)
        return JSONBody(present.progress(user_id, found, names))

    return router


def _page(field: str, items: list[dict[str, Any]], walk: str, page: Slice[Any]) -> Response:
    """One page of a list: its items under ``field`` and the cursor of the next page."""
    return JSONBody({field: items, "nextCursor": encode(walk, page.next_key)})


def _conditional(badge: Badge, if_none_match: str | None) -> Response:
    etag = _etag(badge)
    if if_none_match is not None and (
        if_none_match.strip() == "*" or badge.revision in _tags(if_none_match)
    ):
        return Response(status_code=304, headers={"ETag": etag})
    return _badge_reply(badge)
