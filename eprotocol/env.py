"""Settings from ``EPROTOCOL_*`` environment variables.

Only the CLI and the HTTP server import this module; the library itself takes
explicit configuration objects (:mod:`eprotocol.config`).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from eprotocol.config import ArchiveConfig, smtp_config_from_url, storage_config_from_url
from eprotocol.core.errors import InvalidInput

DEFAULTS = {
    "EPROTOCOL_DATABASE_URL": "sqlite:///var/eprotocol.db",
    "EPROTOCOL_STORAGE_URL": "file://var/blobs",
    "EPROTOCOL_TIMEZONE": "Europe/Athens",
    "EPROTOCOL_PUBLIC_URL": "http://127.0.0.1:8000",
    "EPROTOCOL_MAIL_FROM": "eprotocol@localhost",
    "EPROTOCOL_INDEX_DIR": "var/index",
    "EPROTOCOL_SECRET_KEY_FILE": "var/secret-key",
    "EPROTOCOL_MAX_UPLOAD_MB": "50",
}


@dataclass(frozen=True, slots=True)
class Settings:
    """What the CLI and the server need to run one archive."""

    archive: ArchiveConfig
    #: Run indexing and digests inside the server process (the embedded default).
    background_jobs: bool = True
    #: Key that signs login tokens; every server process of one archive must share it.
    secret_key: str = field(default="", repr=False)
    #: Largest request body the server reads (a registration with all its files).
    max_upload_bytes: int = 50 * 1024 * 1024


def _secret_key(env: Mapping[str, str], path: Path) -> str:
    """``EPROTOCOL_SECRET_KEY``, or a key kept in ``path`` (made on first use, owner-only)."""
    if key := env.get("EPROTOCOL_SECRET_KEY"):
        return key
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    return key


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
        ),
        secret_key=_secret_key(env, Path(get("EPROTOCOL_SECRET_KEY_FILE"))),
        max_upload_bytes=_megabytes(get("EPROTOCOL_MAX_UPLOAD_MB")) * 1024 * 1024,
    )


def _megabytes(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise InvalidInput(
            f"EPROTOCOL_MAX_UPLOAD_MB must be a whole number of megabytes, not {value!r}",
            field="EPROTOCOL_MAX_UPLOAD_MB",
        )
    return number
