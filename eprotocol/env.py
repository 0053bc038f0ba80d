"""Settings from ``EPROTOCOL_*`` environment variables.

Only the CLI and the HTTP server import this module; the library itself takes
explicit configuration objects (:mod:`eprotocol.config`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from eprotocol.config import ArchiveConfig, smtp_config_from_url, storage_config_from_url

DEFAULTS = {
    "EPROTOCOL_DATABASE_URL": "sqlite:///var/eprotocol.db",
    "EPROTOCOL_STORAGE_URL": "file://var/blobs",
    "EPROTOCOL_TIMEZONE": "Europe/Athens",
    "EPROTOCOL_PUBLIC_URL": "http://127.0.0.1:8000",
    "EPROTOCOL_MAIL_FROM": "eprotocol@localhost",
    "EPROTOCOL_INDEX_DIR": "var/index",
}


@dataclass(frozen=True, slots=True)
class Settings:
    """What the CLI and the server need to run one archive."""

    archive: ArchiveConfig
    #: Run indexing and digests inside the server process (the embedded default).
    background_jobs: bool = True


def settings_from_env(environ: Mapping[str, str] | None = None) -> Settings:
    """Read ``EPROTOCOL_*`` variables (``os.environ`` by default), falling back to the defaults."""
    env = os.environ if environ is None else environ

    def get(name: str) -> str:
        return env.get(name) or DEFAULTS[name]

    smtp_url = env.get("EPROTOCOL_SMTP_URL")
    return Settings(
        archive=ArchiveConfig(
            database_url=get("EPROTOCOL_DATABASE_URL"),
            storage=storage_config_from_url(get("EPROTOCOL_STORAGE_URL")),
            timezone=get("EPROTOCOL_TIMEZONE"),
            public_url=get("EPROTOCOL_PUBLIC_URL"),
            index_dir=Path(get("EPROTOCOL_INDEX_DIR")),
            mail=smtp_config_from_url(smtp_url, sender=get("EPROTOCOL_MAIL_FROM"))
            if smtp_url
            else None,
        )
    )
