"""Each component stops under a running system: clear 503s or queued retries, then recovery."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from eprotocol import Archive, ArchiveConfig
from eprotocol.config import DigestPolicy, SmtpConfig
from eprotocol.worker import Worker
from tests.reliability.harness import (
    PASSWORD,
    Ack,
    Stream,
    check_book,
    wait_until_indexed,
)
from tests.support import (
    FixedClock,
    MailSink,
    PgServer,
    SeaweedServer,
    clean_env,
    init_archive,
    launch_server,
    login,
    open_archive,
    stop_server,
)

ATHENS = ZoneInfo("Europe/Athens")


class Running:
    """A server on the archive of a directory, and an admin's client of it."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        init_archive(root, env, "--admin-password", PASSWORD)
        self.root, self.env = root, env
        self.proc, self.base = launch_server(root, env)
        self.token = login(self.base, "admin", PASSWORD)
        self.client = httpx.Client(
            base_url=self.base, headers={"Authorization": f"Bearer {self.token}"}, timeout=60
        )

    def register(self, count: int, tag: str) -> dict[int, Ack]:
        """``count`` registrations from one client; all must be acknowledged."""
        stream = Stream([self.base], self.token, clients=1, per_client=count, tag=tag).start()
        stream.join()
        assert (stream.failures, stream.disconnected) == ([], 0)
        return dict(stream.acknowledged)

    def close(self) -> None:
        self.client.close()
        stop_server(self.proc)


@pytest.fixture
def running() -> Iterator[list[Running]]:
    """Servers a test starts, stopped at its end."""
    started: list[Running] = []
    yield started
    for server in started:
        server.close()


def assert_unavailable(answer: httpx.Response, kind: str) -> None:
    """A clear 503 problem naming the component, with no stack trace."""
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"].endswith(f"/{kind}-unavailable"), problem
    assert "Traceback" not in answer.text


def until_recovered(request: httpx.Request, client: httpx.Client, kind: str) -> httpx.Response:
    """Repeat ``request`` until it succeeds (30 s at most); meanwhile only 503s are allowed."""
    deadline = time.monotonic() + 30
    while True:
        answer = client.send(request)
        if answer.status_code < 400 or time.monotonic() > deadline:
            return answer
        assert_unavailable(answer, kind)
        time.sleep(0.5)


def test_storage_server_stopped(tmp_path: Path, running: list[Running]) -> None:
    weed = SeaweedServer.start()
    try:
        bucket = weed.make_bucket("outage")
        server = Running(tmp_path, clean_env(EPROTOCOL_STORAGE_URL=weed.storage_url(bucket)))
        running.append(server)
        before = server.register(3, "before")
        first = next(iter(before.values()))

        weed.kill()
        stream = Stream([server.base], server.token, clients=2, per_client=3, tag="down").start()
        stream.join()
        assert stream.acknowledged == {} and len(stream.failures) == 6
        assert all(f.startswith("503 ") and "storage-unavailable" in f for f in stream.failures)
        download = f"/api/v1/registrations/{first.year}/{first.number}/files/{first.file_id}"
        assert_unavailable(server.client.get(download), "storage")
        assert_unavailable(server.client.get("/ready"), "storage")
        assert server.client.get("/health").status_code == 200  # the process stays up

        weed.restart()
        post = server.client.build_request("GET", download)
        assert until_recovered(post, server.client, "storage").status_code == 200
        after = server.register(3, "after")
        assert sorted(after) == [4, 5, 6]  # the refused ones used no number
        with open_archive(server.root, server.env) as archive:
            check_book(archive, before | after)
    finally:
        weed.stop()


def test_database_server_stopped(tmp_path: Path, running: list[Running]) -> None:
    pg = PgServer.start()
    try:
        env = clean_env(EPROTOCOL_DATABASE_URL=pg.create_database("outage"))
        server = Running(tmp_path, env)
        running.append(server)
        before = server.register(3, "before")

        pg.halt()
        stream = Stream([server.base], server.token, clients=2, per_client=3, tag="down").start()
        stream.join()
        assert stream.acknowledged == {} and len(stream.failures) == 6
        assert all(f.startswith("503 ") and "database-unavailable" in f for f in stream.failures)
        assert_unavailable(server.client.get("/api/v1/registrations"), "database")
        assert_unavailable(server.client.get("/ready"), "database")
        assert server.client.get("/health").status_code == 200
        # A clerk's browser gets a page saying so (the session cookie is the same login token).
        inbox = httpx.get(f"{server.base}/", cookies={"eprotocol_session": server.token})
        assert inbox.status_code == 503 and inbox.headers["content-type"].startswith("text/html")
        assert "Η υπηρεσία δεν είναι διαθέσιμη" in inbox.text and "Traceback" not in inbox.text

        pg.resume()
        listing = server.client.build_request("GET", "/api/v1/registrations")
        assert until_recovered(listing, server.client, "database").status_code == 200
        after = server.register(3, "after")
        assert sorted(after) == [4, 5, 6]
        with open_archive(server.root, env) as archive:
            check_book(archive, before | after)
    finally:
        for server in running:  # before their database server goes
            server.close()
        running.clear()
        pg.stop()


def test_index_directory_read_only(tmp_path: Path, running: list[Running]) -> None:
    """Registration never waits for the index; the index catches up once it can be written."""
    server = Running(tmp_path, clean_env())
    running.append(server)
    server.register(2, "before")
    assert wait_until_indexed(server.base, server.token, 2) == 2
    index = tmp_path / "var" / "index"
    # Even root cannot write into an immutable directory.
    subprocess.run(["chattr", "+i", str(index)], check=True)
    try:
        server.register(3, "during")
        time.sleep(2)  # several rounds of the indexer fail meanwhile
        assert wait_until_indexed(server.base, server.token, 5, timeout=0) == 2
        assert server.client.get("/health").status_code == 200
    finally:
        subprocess.run(["chattr", "-i", str(index)], check=True)
    assert wait_until_indexed(server.base, server.token, 5) == 5
    assert server.proc.poll() is None
    assert "indexing failed, will retry" in (tmp_path / "server.log").read_text()


def test_mail_server_stopped(
    org: Archive, config: ArchiveConfig, clock: FixedClock, tmp_path: Path
) -> None:
    """A running worker keeps trying the day's digest until the mail server is back."""
    clock.set(datetime(2026, 3, 5, 10, 0, tzinfo=ATHENS))  # Thursday's routing, in Friday's digest
    org.assign("general", 2026, 1, department="DIOIK.KEP", by="clerk")
    sink = MailSink()  # not started: the mail server is down
    clock.set(datetime(2026, 3, 6, 7, 0, tzinfo=ATHENS))  # Friday, digest time
    mailing = ArchiveConfig(
        database_url=config.database_url,
        storage=config.storage,
        index_dir=tmp_path / "index",  # with an index, the worker looks for work twice a second
        mail=SmtpConfig(host="127.0.0.1", port=sink.port, sender="protocol@chania.gr"),
        digest=DigestPolicy(attempts=2, backoff_seconds=0.01),
    )
    with Archive(mailing, clock=clock) as archive:
        stop = threading.Event()
        worker = Worker(archive, clock, ATHENS, retry_after=timedelta(minutes=1))
        runner = threading.Thread(target=worker.run, args=(stop,))
        runner.start()
        try:
            time.sleep(1.5)  # the first try fails
            assert runner.is_alive() and worker.due() == date(2026, 3, 6)
            sink.start()
            clock.set(datetime(2026, 3, 6, 7, 2, tzinfo=ATHENS))  # past the retry time
            deadline = time.monotonic() + 20
            while not sink.messages and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(1)  # and nothing more is sent
        finally:
            stop.set()
            runner.join(timeout=30)
            sink.stop()
    assert [to for to, _ in sink.messages] == [["kep@chania.gr"]]  # once, after the outage
