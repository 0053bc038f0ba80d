"""The HTTP interface of eprotocol, the electronic protocol book of a municipality."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib.metadata import version

from litestar import Litestar, get
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig

from eprotocol.api.problems import problem_plugin
from eprotocol.archive import Archive
from eprotocol.env import Settings
from eprotocol.worker import Worker


@dataclass(frozen=True, slots=True)
class HealthStatus:
    """Answer of the health and readiness probes."""

    status: str


@get("/health", sync_to_thread=False, tags=["health"])
def health() -> HealthStatus:
    """Liveness: the process answers."""
    return HealthStatus(status="ok")


@get("/ready", sync_to_thread=True, tags=["health"])
def ready(state: State) -> HealthStatus:
    """Readiness: the database and the blob store answer (503 problem otherwise)."""
    archive: Archive = state.archive
    archive.check()
    return HealthStatus(status="ready")


def create_app(settings: Settings, *, archive: Archive | None = None) -> Litestar:
    """Build the HTTP application for one archive (opened from ``settings`` unless given)."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        opened = archive if archive is not None else Archive(settings.archive)
        app.state.archive = opened
        stop = threading.Event()
        jobs = None
        if settings.background_jobs:
            worker = Worker(opened, opened.clock, opened.timezone)
            jobs = threading.Thread(target=worker.run, args=(stop,), name="eprotocol-jobs")
            jobs.start()
        try:
            yield
        finally:
            stop.set()
            if jobs is not None:
                jobs.join(timeout=60)
            if archive is None:
                opened.close()

    return Litestar(
        route_handlers=[health, ready],
        lifespan=[lifespan],
        plugins=[problem_plugin()],
        openapi_config=OpenAPIConfig(
            title="eprotocol", version=version("eprotocol"), description=__doc__
        ),
        debug=False,
    )
