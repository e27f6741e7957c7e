"""Following a bulk change's role sync stops quietly when the bot shuts down (its HTTP
session is closed under it), and still logs a real failure."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any, cast

import pytest

from badges.service import Progress
from bot.roles.progress import follow


class Client:
    def __init__(self) -> None:
        self.closed = False

    def is_closed(self) -> bool:
        return self.closed


def interaction_whose_edit_fails(client: Client, *, closes: bool) -> Any:
    async def edit_original_response(**_: Any) -> None:
        client.closed = closes
        raise RuntimeError("Session is closed")

    return SimpleNamespace(client=client, edit_original_response=edit_original_response)


async def pending() -> Progress:
    return Progress(pending=3, failed=0)


async def test_a_shutdown_mid_follow_is_not_an_error(caplog: pytest.LogCaptureFixture) -> None:
    client = Client()
    interaction = interaction_whose_edit_fails(client, closes=True)
    worker = cast(Any, SimpleNamespace(busy=False))
    with caplog.at_level(logging.ERROR):
        await follow(interaction, worker, pending, 3, "Awarded")
    assert caplog.records == []


async def test_a_failure_while_running_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    client = Client()
    interaction = interaction_whose_edit_fails(client, closes=False)
    worker = cast(Any, SimpleNamespace(busy=False))
    with caplog.at_level(logging.ERROR):
        await follow(interaction, worker, pending, 3, "Awarded")
    assert "following the role sync of a bulk change failed" in caplog.text
