"""Shard settings and the refusal of SQLite when several processes would share it, as an
operator meets them: `badgebot run --shard-ids ... --shard-count ...` and the environment."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.app import BadgeBot, ShardedBadgeBot, create_bot
from bot.config import Settings
from db.database import Database
from tests.test_cli import _run

TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAx.GbEmul.emulator-token-not-a-real-one-000"
PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/unused"


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, discord_token=TOKEN, **values)  # type: ignore[arg-type]


def test_without_shard_settings_the_bot_is_unsharded_and_owns_every_guild() -> None:
    bot = create_bot(settings())
    assert type(bot) is BadgeBot
    assert bot.owns(1 << 22)
    assert bot.owns(12345 << 22)


def test_shard_ids_pick_the_guilds_of_this_process() -> None:
    bot = create_bot(settings(shard_count=4, shard_ids="1,3", database_url=PG))
    assert isinstance(bot, ShardedBadgeBot)
    assert (bot.shard_count, bot.shard_ids) == (4, [1, 3])
    owned = [n for n in range(8) if bot.owns(n << 22)]
    assert owned == [1, 3, 5, 7]


def test_shard_count_alone_runs_every_shard_here() -> None:
    config = settings(shard_count=2)
    assert config.shards == (0, 1)
    assert config.multi_process_problem() is None  # one process: SQLite is fine


def test_some_shards_on_sqlite_are_refused_with_what_to_do() -> None:
    problem = settings(shard_count=4, shard_ids="0,1").multi_process_problem()
    assert problem is not None
    assert "PostgreSQL" in problem
    assert settings(shard_count=4, shard_ids="0,1", database_url=PG).multi_process_problem() is None


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"shard_ids": "0,1"}, "shard_ids needs shard_count"),
        ({"shard_ids": "0,4", "shard_count": 4}, "outside 0..3"),
        ({"shard_ids": "1,1", "shard_count": 4}, "twice"),
        ({"shard_ids": "one", "shard_count": 4}, "separated by commas"),
    ],
)
def test_bad_shard_settings_say_what_is_wrong(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        settings(**values)


def test_run_refuses_some_shards_on_sqlite_in_one_line(tmp_path: Path) -> None:
    result = _run(
        ["run", "--shard-count", "4", "--shard-ids", "0,1"], tmp_path, DISCORD_TOKEN=TOKEN
    )
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "SQLite is for one process" in result.stderr


def test_run_names_a_bad_shard_flag(tmp_path: Path) -> None:
    result = _run(
        ["run", "--shard-count", "2", "--shard-ids", "0,2"], tmp_path, DISCORD_TOKEN=TOKEN
    )
    assert result.returncode == 2
    assert "outside 0..1" in result.stderr
    assert "Traceback" not in result.stderr


def test_api_workers_refuse_sqlite(tmp_path: Path) -> None:
    result = _run(["api", "--workers", "2"], tmp_path)
    assert result.returncode == 2
    assert "SQLite is for one process" in result.stderr


async def test_each_process_reports_only_its_own_unclean_stop(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """Two processes of one bot: one that starts while the other runs does not claim the
    other crashed; a process that really stopped without writing its counts says so."""
    url = str(database.url.render_as_string(hide_password=False))

    def process(shards: str) -> BadgeBot:
        return create_bot(
            settings(shard_count=4, shard_ids=shards, database_url=url), database=database
        )

    first, second = process("0,1"), process("2,3")
    with caplog.at_level(logging.WARNING, logger="bot.activity"):
        await first.counter.started()
        await second.counter.started()  # the first still runs: not a crash
        assert "without a clean shutdown" not in caplog.text
        await first.counter.stopped()
        await process("0,1").counter.started()  # after a clean stop
        assert "without a clean shutdown" not in caplog.text
        await process("2,3").counter.started()  # the second never stopped
        assert caplog.text.count("without a clean shutdown") == 1


def test_each_process_paces_role_sync_to_its_share_of_the_global_limit() -> None:
    """Discord's 50 requests/s are the whole bot's: two processes with half the shards each
    pace their role sync at half the rate, together what one process alone would send."""
    whole = create_bot(settings())
    half = create_bot(settings(shard_count=4, shard_ids="0,1", database_url=PG))
    quarter = create_bot(settings(shard_count=4, shard_ids="3", database_url=PG))
    rate = 1 / whole.role_sync.pacer.interval
    assert rate == pytest.approx(45)
    assert 1 / half.role_sync.pacer.interval == pytest.approx(rate / 2)
    assert 1 / quarter.role_sync.pacer.interval == pytest.approx(rate / 4)
