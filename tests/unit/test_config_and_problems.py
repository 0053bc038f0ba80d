"""Environment settings, storage URLs and the error-to-HTTP table."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from eprotocol import (
    AlreadyCancelled,
    BlobCorrupt,
    DatabaseUnavailable,
    EProtocolError,
    ImmutableField,
    InvalidInput,
    LocalStorageConfig,
    RegistrationNotFound,
    SchemaOutOfDate,
    SigningUnavailable,
    StorageUnavailable,
    UnknownBook,
    storage_config_from_url,
)
from eprotocol.api.problems import status_for, to_problem
from eprotocol.config import smtp_config_from_url
from eprotocol.env import settings_from_env


def test_defaults_are_the_embedded_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the secret key is made in ./var
    settings = settings_from_env({})
    assert settings.archive.database_url == "sqlite:///var/eprotocol.db"
    assert settings.archive.storage == LocalStorageConfig(Path("var/blobs"))
    assert settings.archive.timezone == "Europe/Athens"


def test_environment_overrides() -> None:
    settings = settings_from_env(
        {
            "EPROTOCOL_DATABASE_URL": "postgresql+psycopg://u@h/db",
            "EPROTOCOL_STORAGE_URL": "file:///srv/b",
            "EPROTOCOL_SECRET_KEY": "k",
        }
    )
    assert settings.archive.database_url == "postgresql+psycopg://u@h/db"
    assert settings.archive.storage == LocalStorageConfig(Path("/srv/b"))


@pytest.mark.parametrize(("value", "expected"), [("0", False), ("off", False), ("1", True)])
def test_background_jobs_can_be_turned_off(value: str, expected: bool) -> None:
    env = {"EPROTOCOL_BACKGROUND_JOBS": value, "EPROTOCOL_SECRET_KEY": "k"}
    assert settings_from_env(env).background_jobs is expected
    assert settings_from_env({"EPROTOCOL_SECRET_KEY": "k"}).background_jobs is True
    with pytest.raises(InvalidInput, match="EPROTOCOL_BACKGROUND_JOBS"):
        settings_from_env({"EPROTOCOL_BACKGROUND_JOBS": "perhaps", "EPROTOCOL_SECRET_KEY": "k"})


@pytest.mark.parametrize("url", ["ftp://x/y", "file://", "blobs"])
def test_bad_storage_urls(url: str) -> None:
    with pytest.raises(InvalidInput):
        storage_config_from_url(url)


@pytest.mark.parametrize(
    ("parse", "url"),
    [
        (storage_config_from_url, "s3://k:s@host:port/b"),
        (storage_config_from_url, "s3://k:s@host:99999/b"),
        (partial(smtp_config_from_url, sender="eprotocol@localhost"), "smtp://mail:twenty-five"),
    ],
)
def test_a_port_that_is_not_a_number_is_refused_with_our_error(
    parse: Callable[[str], object], url: str
) -> None:
    with pytest.raises(InvalidInput, match=r"the port of the (storage|SMTP) URL must be a number"):
        parse(url)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidInput("x"), 422),
        (UnknownBook("x"), 422),
        (ImmutableField("x"), 422),
        (RegistrationNotFound("x"), 404),
        (AlreadyCancelled("x"), 409),
        (DatabaseUnavailable("x"), 503),
        (SchemaOutOfDate("x"), 503),
        (StorageUnavailable("x"), 503),
        (BlobCorrupt("x"), 500),
        (EProtocolError("x"), 500),
    ],
)
def test_status_table(error: EProtocolError, status: int) -> None:
    assert status_for(error) == status


def test_problem_carries_type_detail_and_field() -> None:
    problem = to_problem(InvalidInput("subject must not be empty", field="subject"))
    assert problem.status_code == 422
    assert problem.type_ == "https://eprotocol.gr/problems/invalid-input"
    assert problem.detail == "subject must not be empty"
    assert problem.extra == {"field": "subject"}
    assert to_problem(StorageUnavailable("down")).headers == {"Retry-After": "5"}
    paused = SigningUnavailable("the timestamp server does not answer", retry_after=60)
    assert to_problem(paused).headers == {"Retry-After": "60"}
