"""name keys by confusable skeleton

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 10:30:00

``badges.name_key`` becomes the UTS #39 confusable skeleton of the name (see
``badges.validation.name_key``): the column is widened to 400 characters and every stored key
is recomputed from the stored name.

Two badges of one guild whose names were distinct before may now share a key (say "Helper" and
a Cyrillic "Неlреr" made before this revision). The migration does not fail on them: the older
badge (by created_at, then id) keeps the plain key, and each newer one gets the key followed by
"#" and its own id, which is unique and which no name maps to by itself. Such a badge can still
be renamed; it is no longer found by typing its name until it is.

On SQLite the batch operation rebuilds ``badges`` (copy, DROP, rename). With foreign keys on,
as db.database sets them, that DROP deletes every row that references a badge with ON DELETE
CASCADE (all awards), so the rebuild runs with foreign keys off, as SQLite's documented way to
alter a table says, and foreign_key_check is run before they are turned back on.
"""

import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

from badges.validation import name_key

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_badges = sa.table(
    "badges",
    sa.column("id", sa.String),
    sa.column("guild_id", sa.BigInteger),
    sa.column("name", sa.String),
    sa.column("name_key", sa.String),
    sa.column("created_at", sa.DateTime),
)


def _recompute(key_of: Callable[[str], str], limit: int) -> None:
    """Set every badge's name_key to ``key_of(name)``, the older badge keeping a shared key and
    the newer ones getting "#<id>" after it; no key longer than ``limit``."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_badges.c.id, _badges.c.guild_id, _badges.c.name, _badges.c.name_key).order_by(
            _badges.c.guild_id, _badges.c.created_at, _badges.c.id
        )
    ).all()
    taken: set[tuple[int, str]] = set()
    changed: dict[str, str] = {}
    for badge_id, guild_id, badge_name, old_key in rows:
        key = key_of(badge_name)[:limit]
        if (guild_id, key) in taken:
            suffix = f"#{badge_id}"
            key = key[: limit - len(suffix)] + suffix
        taken.add((guild_id, key))
        if key != old_key:
            changed[badge_id] = key
    # Two passes, so that no update meets a key that another row is about to give up:
    # first a placeholder that no name maps to (name keys hold no control characters).
    for badge_id in changed:
        bind.execute(
            _badges.update().where(_badges.c.id == badge_id).values(name_key=f"\x01{badge_id}")
        )
    for badge_id, key in changed.items():
        bind.execute(_badges.update().where(_badges.c.id == badge_id).values(name_key=key))


def _key_before_0005(value: str) -> str:
    """The key as it was up to revision 0004."""
    return unicodedata.normalize("NFKC", value).casefold()


@contextmanager
def _sqlite_foreign_keys_off() -> Iterator[None]:
    """On SQLite with foreign keys on, run the block with them off. The pragma is a no-op
    inside a transaction, so the migration's transaction is committed first and a new one is
    begun around the block; another commit ends it before they are turned on again."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite" or not bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        yield
        return
    bind.exec_driver_sql("COMMIT")
    bind.exec_driver_sql("PRAGMA foreign_keys=OFF")
    bind.exec_driver_sql("BEGIN IMMEDIATE")
    try:
        yield
        broken = bind.exec_driver_sql("PRAGMA foreign_key_check").all()
        if broken:
            raise RuntimeError(f"foreign keys broken by the rebuild of badges: {broken[:5]}")
        bind.exec_driver_sql("COMMIT")
    except BaseException:
        bind.exec_driver_sql("ROLLBACK")
        raise
    finally:
        bind.exec_driver_sql("PRAGMA foreign_keys=ON")
        bind.exec_driver_sql("BEGIN IMMEDIATE")


def upgrade() -> None:
    with _sqlite_foreign_keys_off():
        with op.batch_alter_table("badges", schema=None) as batch_op:
            batch_op.alter_column(
                "name_key", existing_type=sa.String(length=100), type_=sa.String(length=400)
            )
        _recompute(name_key, 400)


def downgrade() -> None:
    with _sqlite_foreign_keys_off():
        _recompute(_key_before_0005, 100)
        with op.batch_alter_table("badges", schema=None) as batch_op:
            batch_op.alter_column(
                "name_key", existing_type=sa.String(length=400), type_=sa.String(length=100)
            )
