"""The routes beyond the reference for badges members earn by themselves: rules, the award
policy, and a member's progress. Every route calls the service; the rules live there."""

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query
from pydantic.alias_generators import to_camel
from starlette.responses import Response

from api import present, schemas
from api.responses import JSONBody
from api.routing import BADGE_ID, Ctx, IdemKey, UserId, parse_badge_id, parse_user_id
from badges.automation import RuleDraft, Weights
from badges.errors import InvalidInput

RuleId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The rule's id.")]

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
    if required is not None and not BADGE_ID.fullmatch(required):
        raise InvalidInput("required_badge_id", "The required badge does not exist.")
    w = body.weights
    return RuleDraft(
        kind=body.kind,
        threshold=body.threshold,
        window_days=body.window_days,
        excluded_channel_ids=frozenset(
            parse_user_id(c, "excludedChannelIds") for c in body.excluded_channel_ids
        ),
        cooldown=body.cooldown,
        weights=Weights() if w is None else Weights(w.messages, w.reactions, w.voice_minutes),
        required_badge_id=required,
        replaces=body.replaces,
    )


def add_automatic_routes(router: APIRouter, context: Callable[..., Awaitable[Ctx]]) -> None:
    """Add the routes to ``router``, each request's context made by ``context``."""
    C = Annotated[Ctx, Depends(context)]

    @router.get("/badges/{badgeId}/rules", response_model=schemas.RuleList, tags=["automatic"])
    async def rules(ctx: C, badgeId: str) -> Response:
        """The rules that award the badge by themselves (a member who meets all of them gets
        it), and who may award it."""
        await ctx.readable()
        automation = ctx.state.service.rules
        badge, found = await automation.of_badge(ctx.guild_id, parse_badge_id(badgeId))
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
                added = await automation.add(
                    actor, ctx.guild_id, parse_badge_id(badgeId), _draft(body)
                )
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
        removed = await automation.remove(ctx.actor, ctx.guild_id, parse_badge_id(badgeId), ruleId)
        names = await automation.names(ctx.guild_id)
        return JSONBody({"message": "Rule removed", "rule": present.rule(removed, names)})

    @router.get("/badges/{badgeId}/policy", response_model=schemas.Policy, tags=["automatic"])
    async def policy(ctx: C, badgeId: str) -> Response:
        """Who may award the badge, and what its rules do when a member no longer meets
        them."""
        await ctx.readable()
        _, found = await ctx.state.service.rules.policy(ctx.guild_id, parse_badge_id(badgeId))
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
            changes["role_id"] = None if role is None else parse_user_id(role, "roleId")
        with _api_fields():
            after = await ctx.state.service.rules.set_policy(
                actor, ctx.guild_id, parse_badge_id(badgeId), **changes
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
        user_id = parse_user_id(userId)
        automation = ctx.state.service.rules
        found = await automation.progress(
            ctx.guild_id, user_id, None if badge_id is None else parse_badge_id(badge_id)
        )
        names = await automation.names(ctx.guild_id)
        return JSONBody(present.progress(user_id, found, names))
