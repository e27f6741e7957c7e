"""What every group of routes shares: the request context, the parameters, the parsing of
ids and the shape of a page. The routes themselves are in api.routes and api.automatic_routes."""

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Header, Path, Query, Request
from starlette.responses import Response

from api import schemas
from api.auth import Caller, need_token
from api.errors import ApiError
from api.idempotency import once, request_hash
from api.pagination import LIMIT_MAX, encode
from api.responses import JSONBody
from api.state import ApiState
from badges.errors import BadgeNotFound, InvalidInput
from badges.model import Slice
from badges.permissions import Actor

BADGE_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
SNOWFLAKE = re.compile(schemas.SNOWFLAKE)

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

ERRORS: dict[int | str, dict[str, Any]] = {
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
"""The error answers every route documents."""


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


def echo(raw: str) -> str:
    """Client text sent back: printable, clipped, never anything that cannot be encoded."""
    safe = "".join(
        ch if ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF else "\ufffd" for ch in raw
    )
    return safe if len(safe) <= 40 else safe[:39] + "…"


def parse_badge_id(value: str) -> str:
    if not BADGE_ID.fullmatch(value):
        raise BadgeNotFound()
    return value


def parse_user_id(value: str, field: str = "userId") -> int:
    if not SNOWFLAKE.fullmatch(value) or int(value) >= 2**63:
        raise InvalidInput(field, f"{field} must be a Discord id (a positive 64-bit integer).")
    return int(value)


def page_reply(field: str, items: list[dict[str, Any]], walk: str, page: Slice[Any]) -> Response:
    """One page of a list: its items under ``field`` and the cursor of the next page."""
    return JSONBody({field: items, "nextCursor": encode(walk, page.next_key)})
