"""16 clients × 250 registrations against two server processes sharing PostgreSQL and S3."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.reliability.harness import (
    PASSWORD,
    Stream,
    check_book,
    download_all,
    launch_worker,
    wait_until_indexed,
)
from tests.support import (
    PgServer,
    SeaweedServer,
    clean_env,
    init_archive,
    launch_server,
    login,
    open_archive,
    stop_server,
)

CLIENTS = 16
PER_CLIENT = 250


def test_two_servers_number_store_and_index_every_registration_once(
    tmp_path: Path, pg_server: PgServer, seaweed: SeaweedServer
) -> None:
    """The deployment of several buildings: API processes behind a proxy, one worker."""
    database = f"conc_{uuid.uuid4().hex[:8]}"
    env = clean_env(
        EPROTOCOL_DATABASE_URL=pg_server.create_database(database),
        EPROTOCOL_STORAGE_URL=seaweed.storage_url(
            seaweed.make_bucket(f"conc-{uuid.uuid4().hex[:8]}")
        ),
        EPROTOCOL_BACKGROUND_JOBS="0",  # the servers only serve; the worker runs the jobs
    )
    init_archive(tmp_path, env, "--admin-password", PASSWORD)
    servers = [launch_server(tmp_path, env) for _ in range(2)]
    worker = launch_worker(tmp_path, env)
    try:
        bases = [base for _, base in servers]
        token = login(bases[0], "admin", PASSWORD)
        stream = Stream(bases, token, clients=CLIENTS, per_client=PER_CLIENT).start()
        stream.join(timeout=480)
        assert (stream.failures, stream.disconnected) == ([], 0)
        assert sorted(stream.acknowledged) == list(range(1, CLIENTS * PER_CLIENT + 1))
        download_all(bases[1], token, stream.acknowledged)
        assert wait_until_indexed(bases[0], token, CLIENTS * PER_CLIENT) == CLIENTS * PER_CLIENT
    finally:
        for proc, _ in servers:
            stop_server(proc)
        stop_server(worker)
    with open_archive(tmp_path, env) as archive:
        check_book(archive, stream.acknowledged)
    pg_server.drop_database(database)
