"""ASGI entry point for servers: ``uvicorn --factory eprotocol.api.asgi:app_from_env``."""

from __future__ import annotations

from litestar import Litestar

from eprotocol.api.app import create_app
from eprotocol.env import settings_from_env


def app_from_env() -> Litestar:
    """The application configured from ``EPROTOCOL_*`` variables."""
    return create_app(settings_from_env())
