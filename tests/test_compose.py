"""compose.yaml stays true to the CLI: every command in it parses, the bot processes cover
every shard exactly once, and every process shares the one PostgreSQL database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.cli import _parser
from bot.config import Settings

COMPOSE = Path(__file__).parents[1] / "compose.yaml"


def services() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded["services"]


def test_every_command_parses_with_the_real_cli() -> None:
    for name, service in services().items():
        command = service.get("command")
        if name == "postgres":
            continue
        assert command[0] == "badgebot", name
        _parser().parse_args(command[1:])  # exits on a flag the CLI does not know


def test_bot_processes_run_every_shard_once_on_postgresql() -> None:
    shards: list[int] = []
    counts = set()
    for name, service in services().items():
        command = service["command"]
        if command[:2] != ["badgebot", "run"]:
            continue
        args = _parser().parse_args(command[1:])
        env = service["environment"]
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            database_url=env["BADGEBOT_DATABASE_URL"],
            shard_count=args.shard_count,
            shard_ids=args.shard_ids,
        )
        assert settings.multi_process_problem() is None, name
        assert settings.database_url.startswith("postgresql+asyncpg://"), name
        counts.add(settings.shard_count)
        shards += list(settings.shards or ())
    assert len(counts) == 1
    (count,) = counts
    assert sorted(shards) == list(range(count)), "each shard in exactly one process"
    assert len(shards) >= 2


def test_the_api_runs_several_workers_on_the_same_database() -> None:
    api = services()["api"]
    args = _parser().parse_args(api["command"][1:])
    assert args.workers >= 2
    assert api["environment"]["BADGEBOT_DATABASE_URL"].startswith("postgresql")
