"""Settings from ``EPROTOCOL_*`` environment variables.

Only the CLI and the HTTP server import this module; the library itself takes
explicit configuration objects (:mod:`eprotocol.config`).
"""

from __future__ import annotations

import difflib
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from eprotocol.config import (
    ArchiveConfig,
    SigningConfig,
    smtp_config_from_url,
    storage_config_from_url,
)
from eprotocol.core.errors import InvalidInput
from eprotocol.private_files import create_private_file

DEFAULTS = {
    "EPROTOCOL_DATABASE_URL": "sqlite:///var/eprotocol.db",
    "EPROTOCOL_STORAGE_URL": "file://var/blobs",
    "EPROTOCOL_TIMEZONE": "Europe/Athens",
    "EPROTOCOL_PUBLIC_URL": "http://127.0.0.1:8000",
    "EPROTOCOL_MAIL_FROM": "eprotocol@localhost",
    "EPROTOCOL_INDEX_DIR": "var/index",
    "EPROTOCOL_SECRET_KEY_FILE": "var/secret-key",
    "EPROTOCOL_MAX_UPLOAD_MB": "50",
    "EPROTOCOL_BACKGROUND_JOBS": "1",
    "EPROTOCOL_SIGNING_P12": "var/signing.p12",
    "EPROTOCOL_SIGNING_PASSWORD_FILE": "var/signing-password",
}
#: Read by ``eprotocol init`` only (:mod:`eprotocol.cli`).
ORGANISATION_SETTING = "EPROTOCOL_ORGANISATION"
ADMIN_PASSWORD_SETTING = "EPROTOCOL_ADMIN_PASSWORD"  # noqa: S105 - a variable name
#: Every setting there is: a mistyped one must not leave its default silently in force.
SETTINGS = frozenset(
    {
        *DEFAULTS,
        "EPROTOCOL_SECRET_KEY",
        "EPROTOCOL_SMTP_URL",
        "EPROTOCOL_TEMPLATES_DIR",
        "EPROTOCOL_SIGNING_PASSWORD",
        "EPROTOCOL_TRUST_ROOTS",
        "EPROTOCOL_TIMESTAMP_URL",
        ORGANISATION_SETTING,
        ADMIN_PASSWORD_SETTING,
    }
)
#: Names the test suite uses for its own settings.
_TEST_PREFIX = "EPROTOCOL_TEST_"


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
    #: Where ``eprotocol init`` puts a development signing key when none is configured
    #: (``None`` when ``EPROTOCOL_SIGNING_P12`` names the organisation's own key).
    development_key: DevelopmentKey | None = None


@dataclass(frozen=True, slots=True)
class DevelopmentKey:
    """Paths of the self-signed signing key made for development and of its password."""

    p12: Path
    password_file: Path


def _signing(env: Mapping[str, str]) -> SigningConfig | None:
    """The signing key of ``EPROTOCOL_SIGNING_*``, or the development key if it exists."""
    p12 = Path(env.get("EPROTOCOL_SIGNING_P12") or DEFAULTS["EPROTOCOL_SIGNING_P12"])
    explicit = bool(env.get("EPROTOCOL_SIGNING_P12"))
    if not explicit and not p12.exists():
        return None
    password = env.get("EPROTOCOL_SIGNING_PASSWORD")
    password_file = Path(
        env.get("EPROTOCOL_SIGNING_PASSWORD_FILE") or DEFAULTS["EPROTOCOL_SIGNING_PASSWORD_FILE"]
    )
    if password is None and password_file.exists():
        password = password_file.read_text().strip()
    roots = env.get("EPROTOCOL_TRUST_ROOTS")
    return SigningConfig(
        p12_path=p12,
        password=password.encode() if password else None,
        timestamp_url=env.get("EPROTOCOL_TIMESTAMP_URL") or None,
        trust_roots=Path(roots) if roots else None,
    )


def _secret_key(env: Mapping[str, str], path: Path) -> str:
    """``EPROTOCOL_SECRET_KEY``, or a key kept in ``path`` (made on first use, owner-only)."""
    if key := env.get("EPROTOCOL_SECRET_KEY"):
        return key
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(48)
    if not create_private_file(path, (key + "\n").encode()):  # another process made it first
        return path.read_text().strip()
    return key


def settings_from_env(environ: Mapping[str, str] | None = None) -> Settings:
    """Read ``EPROTOCOL_*`` variables (``os.environ`` by default), falling back to the defaults.

    An ``EPROTOCOL_`` variable that is no setting is refused (``InvalidInput``): a
    mistyped ``EPROTOCOL_DATABASE_ULR`` would otherwise run on the default database.
    """
    env = os.environ if environ is None else environ
    _refuse_unknown(env)

    def get(name: str) -> str:
        return env.get(name) or DEFAULTS[name]

    smtp_url = env.get("EPROTOCOL_SMTP_URL")
    templates = env.get("EPROTOCOL_TEMPLATES_DIR")
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
            signing=_signing(env),
            templates_dir=Path(templates) if templates else None,
        ),
        background_jobs=_flag(get("EPROTOCOL_BACKGROUND_JOBS"), "EPROTOCOL_BACKGROUND_JOBS"),
        secret_key=_secret_key(env, Path(get("EPROTOCOL_SECRET_KEY_FILE"))),
        max_upload_bytes=_megabytes(get("EPROTOCOL_MAX_UPLOAD_MB")) * 1024 * 1024,
        development_key=None
        if env.get("EPROTOCOL_SIGNING_P12")
        else DevelopmentKey(
            Path(get("EPROTOCOL_SIGNING_P12")), Path(get("EPROTOCOL_SIGNING_PASSWORD_FILE"))
        ),
    )


def _refuse_unknown(env: Mapping[str, str]) -> None:
    unknown = sorted(
        name
        for name in env
        if name.startswith("EPROTOCOL_")
        and name not in SETTINGS
        and not name.startswith(_TEST_PREFIX)
    )
    if not unknown:
        return
    name = unknown[0]
    close = difflib.get_close_matches(name, SETTINGS, n=1)
    hint = f"did you mean {close[0]}?" if close else "see the settings in README.md"
    raise InvalidInput(f"{name} is not a setting of eprotocol: {hint}", field=name)


def _flag(value: str, name: str) -> bool:
    """A yes/no setting: 1/0, true/false, yes/no, on/off."""
    text = value.strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise InvalidInput(f"{name} must be 1 or 0, not {value!r}", field=name)


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
