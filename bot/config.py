"""Settings of the bot process: environment variables and `.env`, loaded once in main()."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# A bot token is three base64url parts joined by dots.
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}")


class Settings(BaseSettings):
    """Every setting, its environment variable (BADGEBOT_<NAME> unless noted) and default."""

    model_config = SettingsConfigDict(
        env_prefix="BADGEBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    discord_token: SecretStr = Field(
        default=SecretStr(""),
        validation_alias=AliasChoices("DISCORD_TOKEN", "BADGEBOT_DISCORD_TOKEN"),
        description="The bot token from the Discord developer portal (env DISCORD_TOKEN).",
    )
    database_url: str = Field(
        default="sqlite+aiosqlite:///badgebot.db",
        description="SQLAlchemy URL; SQLite by default, postgresql+asyncpg://... for scale.",
    )
    role_lease_seconds: float = Field(
        default=30.0,
        ge=2,
        le=600,
        description="A process holds the role changes it claimed this long (renewing while it "
        "works); after a crash, another process takes them over once it ran out.",
    )
    database_pool_size: int = Field(
        default=10,
        ge=1,
        le=200,
        description="PostgreSQL connections each process keeps (as many again on bursts).",
    )
    log_level: str = Field(default="INFO", description="Python logging level.")
    dev_guild_id: int | None = Field(
        default=None, description="Sync commands to this guild only, instantly (development)."
    )
    members_intent: bool = Field(
        default=False,
        description="Ask for the privileged Server Members intent (enable it in the portal too).",
    )

    api_host: str = Field(
        default="127.0.0.1", description="Address the REST API listens on (loopback by default)."
    )
    api_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Serve the REST API in the bot's process on this port (`badgebot run`).",
    )
    api_default_guild: int | None = Field(
        default=None,
        description="One-server deployments: the reference's routes also answer at the root "
        "(/badges, /badges/award, ...) for this guild.",
    )
    api_rate_limit: float = Field(
        default=10.0, gt=0, description="Requests per second each API token may make."
    )
    api_rate_burst: int = Field(
        default=50, ge=1, description="Requests an API token may make at once before waiting."
    )
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Serve Prometheus metrics at /metrics on this port (`badgebot run`); the "
        "REST API serves them at its own /metrics.",
    )
    metrics_host: str = Field(
        default="127.0.0.1", description="Address the bot's metrics listen on (loopback)."
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="If set, /metrics asks for `Authorization: Bearer <this>` (the API's "
        "/metrics is on the API's public port).",
    )

    activity_flush_seconds: float = Field(
        default=5.0,
        ge=0.5,
        le=300,
        description="Activity counts are written this often; a crash loses at most this much.",
    )
    evaluation_minutes: float = Field(
        default=60.0,
        ge=1,
        description="How often every automatic badge is evaluated for every member.",
    )

    shard_count: int | None = Field(
        default=None,
        ge=1,
        le=4096,
        description="Total shards of the bot across all its processes (with shard_ids); "
        "unset: one process, Discord's default.",
    )
    shard_ids: Annotated[tuple[int, ...] | None, NoDecode] = Field(
        default=None,
        description="The shards this process runs, e.g. 0,1 (needs shard_count); unset: all.",
    )

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",") if p.strip()]
            try:
                return tuple(int(p) for p in parts) or None
            except ValueError:
                raise ValueError("shard_ids must be shard numbers separated by commas") from None
        return value

    @model_validator(mode="after")
    def _shards_fit(self) -> Settings:
        if self.shard_ids is None:
            return self
        if self.shard_count is None:
            raise ValueError("shard_ids needs shard_count (the total over all processes)")
        outside = [i for i in self.shard_ids if not 0 <= i < self.shard_count]
        if outside:
            raise ValueError(
                f"shard_ids {outside} are outside 0..{self.shard_count - 1} (shard_count is "
                f"{self.shard_count})"
            )
        if len(set(self.shard_ids)) != len(self.shard_ids):
            raise ValueError("shard_ids lists a shard twice")
        return self

    @property
    def shards(self) -> tuple[int, ...] | None:
        """The shards of this process (None: unsharded, one process runs everything)."""
        if self.shard_count is None:
            return None
        return self.shard_ids if self.shard_ids is not None else tuple(range(self.shard_count))

    @property
    def share_of_the_bot(self) -> float:
        """This process's part of the whole bot: its shards over all shards (1 unsharded).
        Discord's global rate limit is the bot's, shared by all its processes."""
        shards = self.shards
        if shards is None or self.shard_count is None:
            return 1.0
        return len(shards) / self.shard_count

    @property
    def runs_every_shard(self) -> bool:
        shards = self.shards
        return shards is None or len(shards) == self.shard_count

    @property
    def uses_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def multi_process_problem(self) -> str | None:
        """Why this process cannot share the database with the other shards' processes."""
        if self.runs_every_shard or not self.uses_sqlite:
            return None
        return (
            "running only some shards means several bot processes share one database, and "
            "SQLite is for one process: set BADGEBOT_DATABASE_URL to PostgreSQL "
            "(postgresql+asyncpg://...), or run every shard in this process."
        )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("log_level must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return upper

    def token_problem(self) -> str | None:
        """Why the token cannot work, in one line, or None if it looks like a token."""
        token = self.discord_token.get_secret_value().strip()
        if not token:
            return (
                "DISCORD_TOKEN is not set: put DISCORD_TOKEN=<your bot token> in .env "
                "(Discord developer portal > your application > Bot > Reset Token)."
            )
        if not _TOKEN_RE.fullmatch(token):
            return (
                "DISCORD_TOKEN does not look like a bot token (three parts separated by dots): "
                "copy it again from the developer portal (Bot > Reset Token) into .env."
            )
        return None
