"""Schema migrations (Alembic), callable from the library and the CLI."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.engine import Engine

from eprotocol.core.errors import SchemaOutOfDate

_PACKAGE = Path(__file__).resolve().parent


def script_location() -> Path:
    """Where the Alembic environment lives: inside an installed wheel, or the source tree."""
    for candidate in (_PACKAGE / "_migrations", _PACKAGE.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError("the eprotocol migrations directory is missing from this installation")


def alembic_config(engine: Engine) -> Config:
    """An Alembic configuration that runs on ``engine``'s connections."""
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (idempotent)."""
    command.upgrade(alembic_config(engine), revision)


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory(str(script_location()))


def check_current(conn: Connection) -> None:
    """Raise ``SchemaOutOfDate`` unless the database's schema is the one this code expects."""
    current = set(MigrationContext.configure(conn).get_current_heads())
    scripts = _scripts()
    if current == set(scripts.get_heads()):
        return
    if not current:
        raise SchemaOutOfDate("the database has no eprotocol schema yet: run `eprotocol init`")
    known = {script.revision for script in scripts.walk_revisions()}
    if current - known:
        raise SchemaOutOfDate(
            "the database schema is newer than this version of eprotocol "
            f"(revision {', '.join(sorted(current - known))}): run the eprotocol that upgraded it"
        )
    raise SchemaOutOfDate(
        "the database schema is older than this version of eprotocol: "
        "run `eprotocol init` to upgrade it"
    )
