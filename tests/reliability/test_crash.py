"""SIGKILL to the server at random moments while clients register: nothing acknowledged is lost."""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.harness import (
    PASSWORD,
    Ack,
    Stream,
    check_book,
    wait_until_indexed,
)
from tests.support import (
    PgServer,
    clean_env,
    init_archive,
    kill_server,
    launch_server,
    login,
    open_archive,
    stop_server,
)

TRIALS = int(os.environ.get("EPROTOCOL_TEST_CRASH_TRIALS", "30"))
#: The trials' random moments come from this seed, so a failing run can be repeated.
SEED = int(os.environ.get("EPROTOCOL_TEST_SEED", "20261128"))


@pytest.fixture(params=["sqlite", "postgresql"])
def env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The embedded defaults, or a PostgreSQL database, for a server in the test's directory."""
    if request.param == "sqlite":
        yield clean_env()
        return
    pg: PgServer = request.getfixturevalue("pg_server")
    name = f"crash_{uuid.uuid4().hex[:8]}"
    yield clean_env(EPROTOCOL_DATABASE_URL=pg.create_database(name))
    pg.drop_database(name)


def test_sigkill_during_a_registration_stream(tmp_path: Path, env: dict[str, str]) -> None:
    init_archive(tmp_path, env, "--admin-password", PASSWORD)
    rng = random.Random(SEED)
    acknowledged: dict[int, Ack] = {}
    token = ""
    for trial in range(TRIALS):
        proc, base = launch_server(tmp_path, env)
        try:
            token = token or login(base, "admin", PASSWORD)
            stream = Stream([base], token, clients=4, tag=f"t{trial}").start()
            # A random moment: after a few acknowledgements, plus up to a quarter second.
            stream.wait_for(rng.randint(0, 8))
            time.sleep(rng.uniform(0, 0.25))
        finally:
            kill_server(proc)
        stream.join()
        assert not stream.failures, stream.failures
        acknowledged |= stream.acknowledged

    with open_archive(tmp_path, env) as archive:
        book = check_book(archive, acknowledged)
        assert len(book) >= len(acknowledged) > TRIALS

    # Restarted once more, the server's background jobs index what the crashes left unindexed.
    proc, base = launch_server(tmp_path, env)
    try:
        assert wait_until_indexed(base, token, len(book)) == len(book)
    finally:
        stop_server(proc)
