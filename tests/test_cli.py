"""The `badgebot` command as a user runs it: clear one-line errors, no tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from db import migrate


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BADGEBOT_", "DISCORD_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        env={**clean, **env, "PYTHONPATH": str(Path(__file__).parents[1])},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_run_without_token_says_what_to_set(tmp_path: Path) -> None:
    result = _run(["run"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "badgebot: DISCORD_TOKEN is not set: put DISCORD_TOKEN=<your bot token> in .env "
        "(Discord developer portal > your application > Bot > Reset Token)."
    ]


def test_run_with_malformed_token_in_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DISCORD_TOKEN=hello\n")
    result = _run(["run"], tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert "does not look like a bot token" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_setting_is_named(tmp_path: Path) -> None:
    result = _run(["run"], tmp_path, BADGEBOT_LOG_LEVEL="LOUD")
    assert result.returncode == 2
    assert result.stderr.startswith("badgebot: setting 'log_level' is invalid")


def test_db_upgrade_creates_the_sqlite_schema(tmp_path: Path) -> None:
    result = _run(["db", "upgrade"], tmp_path)
    assert result.returncode == 0, result.stderr
    expected = f"database sqlite+aiosqlite:///badgebot.db is at {migrate.head_revision()}"
    assert result.stdout.strip() == expected
    assert (tmp_path / "badgebot.db").exists()


@pytest.mark.parametrize("args", [[], ["fly"]])
def test_unknown_command_shows_usage(tmp_path: Path, args: list[str]) -> None:
    result = _run(args, tmp_path)
    assert result.returncode == 2
    assert "usage: badgebot" in result.stderr


async def test_unreachable_discord_gives_one_line_per_outage_and_backs_off(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    from bot.app import create_bot
    from bot.cli import log_in
    from bot.config import Settings
    from tests.emulator import point_at

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path / 'b.db'}"
    )
    bot = create_bot(settings)
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    nowhere = ("http://127.0.0.1:9/api/v10", "ws://127.0.0.1:9/")
    with point_at(nowhere), caplog.at_level("WARNING", "badgebot"):
        async with bot:
            assert not await log_in(bot, "a.b.c", attempts=5, sleep=no_wait, max_delay=4)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "badgebot"]
    assert line.startswith("Discord is unreachable (")
    assert line.endswith("while logging in; retrying with backoff")
    assert waits == [1, 2, 4, 4]


def test_api_tokens_from_the_command_line(tmp_path: Path) -> None:
    db = {"BADGEBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'b.db'}"}
    made = _run(
        ["api-token", "create", "--guild", "123", "--level", "moderator", "--name", "Shop"],
        tmp_path,
        **db,
    )
    assert made.returncode == 0, made.stderr
    lines = made.stdout.splitlines()
    assert lines[0] == "token 1 (Moderator, Shop):"
    assert lines[1].startswith("bbt_")
    listed = _run(["api-token", "list", "--guild", "123"], tmp_path, **db)
    assert listed.stdout.split("\t")[:3] == ["1", "Moderator", "Shop"]
    assert lines[1] not in listed.stdout
    empty = _run(
        ["api-token", "create", "--guild", "123", "--level", "admin", "--name", " "],
        tmp_path,
        **db,
    )
    assert empty.returncode == 2
    assert empty.stderr.strip().endswith("badgebot: The token name cannot be empty.")
    revoked = _run(["api-token", "revoke", "--guild", "123", "--id", "1"], tmp_path, **db)
    assert revoked.stdout.strip() == "revoked token 1 (Shop)"
    gone = _run(["api-token", "revoke", "--guild", "123", "--id", "1"], tmp_path, **db)
    assert gone.returncode == 2
    assert "No such API token" in gone.stderr
