"""The Alembic migrations and the SQLModel tables describe the same schema."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from eprotocol import Archive, ArchiveConfig, SchemaOutOfDate, migrate
from eprotocol.core import models  # noqa: F401  (registers the tables)


def _diff(engine: sa.Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))


def test_models_and_migrations_agree(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    migrate.upgrade(engine)
    assert _diff(engine) == []
    engine.dispose()


def test_downgrade_and_upgrade_again(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    migrate.upgrade(engine)
    command.downgrade(migrate.alembic_config(engine), "base")
    assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(engine)
    assert _diff(engine) == []
    engine.dispose()


def test_an_archive_says_when_its_schema_is_not_the_one_it_expects(
    config: ArchiveConfig,
) -> None:
    """No schema, an older one (new code, `init` not run) or a newer one (older code)."""
    with Archive(config) as archive:
        with pytest.raises(SchemaOutOfDate, match="yet: run `eprotocol init`"):
            archive.check()
        if config.database_url.startswith("sqlite"):  # not made by asking
            assert not Path(config.database_url.removeprefix("sqlite:///")).exists()
        archive.initialise()
        archive.check_schema()
        engine = sa.create_engine(config.database_url)
        command.downgrade(migrate.alembic_config(engine), "-1")
        with pytest.raises(SchemaOutOfDate, match="older than this version of eprotocol: run"):
            archive.check_schema()
        archive.initialise()
        archive.check()
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = 'f00dfeed0001'"))
        with pytest.raises(SchemaOutOfDate, match=r"newer than .* \(revision f00dfeed0001\)"):
            archive.check_schema()
        engine.dispose()


def test_work_left_open_by_earlier_cancellations_ends_on_upgrade(
    org: Archive, config: ArchiveConfig
) -> None:
    """Before 0015 a cancellation left its assignments open; downgrading gives that back."""
    pending = org.assign("general", 2026, 1, department="DIOIK.KEP", by="clerk")
    accepted = org.assign("general", 2026, 1, department="TECH.ROADS", by="clerk")
    org.accept(accepted.id, by="kostas")
    org.cancel("general", 2026, 1, reason="Διπλή", authorisation="Απόφαση 2", by="clerk")
    cancelled_at = org.get("general", 2026, 1).cancellation.cancelled_at  # type: ignore[union-attr]
    engine = sa.create_engine(config.database_url)
    command.downgrade(migrate.alembic_config(engine), "0014")
    query = sa.text("SELECT id, state, closed_by, closed_at FROM assignment ORDER BY id")

    def assignments() -> list[tuple[int, str, str | None, object]]:
        with engine.connect() as conn:
            return [(r[0], r[1], r[2], r[3]) for r in conn.execute(query)]

    assert assignments() == [
        (pending.id, "pending", None, None),
        (accepted.id, "accepted", None, None),
    ]
    migrate.upgrade(engine)
    states = [(i, state, by) for i, state, by, _ in assignments()]
    assert states == [(pending.id, "withdrawn", "clerk"), (accepted.id, "withdrawn", "clerk")]
    assert org.assignment(pending.id).closed_at == cancelled_at
    engine.dispose()
