"""``Idempotency-Key``: a retried POST gets the first answer, and nothing is done twice.

The first request with a key claims it, is served, and its answer (status and body, errors
included) is kept for a day; a retry, or a twin arriving at the same time, gets that answer.
The same key with a different request is refused (422).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from starlette.responses import Response

from api.errors import ApiError, badge_error_response, field_error
from badges.errors import BadgeError
from db.idempotency import IdempotencyStore

KEEP = timedelta(hours=24)
STALE = timedelta(seconds=60)
"""A claim unanswered for this long belongs to a process that died: a retry takes it over."""
WAIT = 15.0
"""Seconds a twin request waits for the first one's answer."""
KEY_MAX = 255
REPLAYED = "Idempotent-Replayed"
_KEPT_HEADERS = ("etag", "location")
"""Headers of the first answer that a replay repeats."""


def request_hash(method: str, path: str, body: Any) -> str:
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _check(key: str) -> str:
    if not 1 <= len(key) <= KEY_MAX or not key.isprintable() or not key.isascii():
        raise ApiError(
            422,
            "invalid_input",
            f"Idempotency-Key: 1 to {KEY_MAX} printable ASCII characters.",
            details=field_error("Idempotency-Key", "1 to 255 printable ASCII characters"),
        )
    return key


async def once(
    store: IdempotencyStore,
    clock: Callable[[], datetime],
    token_id: int,
    key: str | None,
    fingerprint: str,
    serve: Callable[[], Awaitable[Response]],
) -> Response:
    """Serve the request once per key: run ``serve`` or replay the answer it gave."""
    if key is None:
        return await serve()
    key = _check(key)
    now = clock()
    stored = await store.claim(token_id, key, fingerprint, now, now - STALE)
    if stored is None:
        try:
            response = await serve()
        except BadgeError as exc:  # a refusal is an answer too: a retry gets the same one
            response = badge_error_response(exc)
        except BaseException:
            await asyncio.shield(store.release(token_id, key))
            raise
        if response.status_code >= 500:
            await store.release(token_id, key)
        else:
            kept = {h: response.headers[h] for h in _KEPT_HEADERS if h in response.headers}
            answer = json.dumps({"headers": kept, "body": bytes(response.body).decode()})
            await store.finish(token_id, key, response.status_code, answer)
        return response
    if stored.request_hash != fingerprint:
        raise ApiError(
            422,
            "idempotency_key_reused",
            "This Idempotency-Key was used for a different request: use a new key.",
            details=field_error("Idempotency-Key", "used for a different request", "reused"),
        )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while stored is not None and stored.status is None and loop.time() < deadline:
        await asyncio.sleep(0.02)
        stored = await store.get(token_id, key)
    if stored is None or stored.status is None or stored.body is None:
        raise ApiError(
            409,
            "idempotency_in_progress",
            "A request with this Idempotency-Key is still being served: retry in a moment.",
        )
    answer = json.loads(stored.body)
    return Response(
        answer["body"],
        status_code=stored.status,
        media_type="application/json",
        headers={**answer["headers"], REPLAYED: "true"},
    )
