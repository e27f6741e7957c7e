"""A compact JSON response: the API's bodies are built as dicts and serialised once."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import JSONResponse


class JSONBody(JSONResponse):
    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate echoed back: escape it, never fail
            return json.dumps(content, separators=(",", ":")).encode("ascii")
