"""One error envelope for every failure: ``{"error": {"code", "message", "details"?}}``.

Domain refusals keep their stable codes and the reference's messages; request validation
names the field and the rule; anything unexpected is a 500 with an error id that is in the
log, never a traceback.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from api.responses import JSONBody
from badges.errors import BadgeError, Busy, Forbidden, InvalidInput

log = logging.getLogger("api")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
}


class ApiError(Exception):
    """A refusal decided by the HTTP adapter itself (auth, limits, a bad cursor, ...)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = dict(headers or {})


def field_error(field: str, message: str, rule: str = "invalid") -> list[dict[str, str]]:
    """``details`` of a bad input: which field, which rule, what to do (one shape for all)."""
    return [{"field": field, "rule": rule, "message": message}]


def envelope(code: str, message: str, details: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    return JSONBody(envelope(code, message, details), status_code=status, headers=headers)


def badge_error_response(exc: BadgeError) -> Response:
    details: Any = None
    if isinstance(exc, InvalidInput):
        details = field_error(_camel(exc.field), exc.message)
    elif isinstance(exc, Forbidden) and exc.required is not None:
        required = exc.required
        details = {"required": getattr(required, "name", str(required)).lower()}
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Busy) else None
    return error_response(exc.status, exc.code, exc.message, details, headers)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        if err.get("type") == "json_invalid":
            loc = []
        out.append(
            {
                "field": ".".join(loc) or "body",
                "rule": err.get("type", "invalid"),
                "message": err.get("msg", "invalid"),
            }
        )
    return out


def install(app: FastAPI) -> None:
    """Route every failure through the envelope."""

    @app.exception_handler(BadgeError)
    async def on_badge_error(_request: Request, exc: BadgeError) -> Response:
        return badge_error_response(exc)

    @app.exception_handler(ApiError)
    async def on_api_error(_request: Request, exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(_request: Request, exc: RequestValidationError) -> Response:
        details = _validation_details(exc)
        first = details[0] if details else {"field": "body", "message": "invalid"}
        message = f"{first['field']}: {first['message']}"
        return error_response(422, "invalid_input", message, details)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(_request: Request, exc: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        if exc.status_code == 404 and message == "Not Found":
            message = "No such route: see /docs for the API's routes."
        return error_response(exc.status_code, code, message, headers=exc.headers)

    @app.exception_handler(Exception)
    async def on_crash(request: Request, exc: Exception) -> Response:
        error_id = secrets.token_hex(6)
        log.error("error %s on %s %s", error_id, request.method, request.url.path, exc_info=exc)
        return error_response(
            500,
            "internal_error",
            f"Something went wrong on our side (error id {error_id}); it has been logged.",
            {"errorId": error_id},
        )
