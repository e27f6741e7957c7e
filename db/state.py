"""Key-value facts the bot keeps between runs, outside the badge domain."""

from __future__ import annotations

from sqlalchemy import select

from db.database import Database
from db.repositories import dialect_insert
from db.tables import BotStateRow


async def get_value(database: Database, key: str) -> str | None:
    async with database.engine.connect() as conn:
        value: str | None = (
            await conn.execute(select(BotStateRow.value).where(BotStateRow.key == key))
        ).scalar_one_or_none()
    return value


async def set_value(database: Database, key: str, value: str) -> None:
    stmt = dialect_insert(database.dialect, BotStateRow.__table__).values(key=key, value=value)
    async with database.engine.begin() as conn:
        await conn.execute(
            stmt.on_conflict_do_update(index_elements=["key"], set_={"value": value})
        )
