"""The REST API served inside the bot's process (``BADGEBOT_API_PORT``): same service, so an
award made through it reaches the role sync at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

import uvicorn

from api import create_app

if TYPE_CHECKING:
    from bot.app import BadgeBot

log = logging.getLogger(__name__)


class QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers: the process around it handles Ctrl+C itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class EmbeddedApi:
    def __init__(self, bot: BadgeBot, port: int) -> None:
        app = create_app(bot.settings, service=bot.service, database=bot.database)
        config = uvicorn.Config(
            app, host=bot.settings.api_host, port=port, log_level="warning", lifespan="on"
        )
        self.server = QuietServer(config)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.server.serve(), name="badgebot-api")
        log.info(
            "REST API on http://%s:%d (docs at /docs)",
            self.server.config.host,
            self.server.config.port,
        )

    async def stop(self) -> None:
        if self._task is None:
            return
        self.server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(self._task, timeout=10)
        self._task = None
