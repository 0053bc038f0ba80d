"""What the reliability tests share: streams of HTTP clients and the checks of what was kept."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from eprotocol import Archive, Registration
from tests.pdfs import make_pdf
from tests.support import all_registrations, with_own_tmp

PASSWORD = "αξιόπιστος-κωδικός-1"
#: A word every streamed subject has, for counting them in the search index.
SUBJECT_WORD = "κλάδεμα"


@dataclass(frozen=True)
class Ack:
    """A registration the server acknowledged (201), with what the client sent."""

    year: int
    number: int
    file_id: int
    sha256: str


@dataclass
class Stream:
    """Client threads posting registrations of distinct one-page PDFs, one connection each.

    Client ``k`` talks to ``bases[k % len(bases)]``. A client stops after
    ``per_client`` registrations, when :meth:`stop` is called, or when its
    server goes away (a transport error); any other answer than 201 is kept
    in ``failures``.
    """

    bases: list[str]
    token: str
    clients: int
    per_client: int | None = None
    tag: str = "s"
    acknowledged: dict[int, Ack] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    disconnected: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Stream:
        """Start the clients."""
        self._threads = [
            threading.Thread(target=self._client, args=(k,), daemon=True)
            for k in range(self.clients)
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Ask the clients to stop after their current request."""
        self._stop.set()

    def join(self, timeout: float = 120) -> None:
        """Wait for every client to finish."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in self._threads), "clients still running"

    def wait_for(self, count: int, timeout: float = 60) -> None:
        """Wait until ``count`` registrations are acknowledged in all (or the clients end)."""
        deadline = time.monotonic() + timeout
        while len(self.acknowledged) < count and time.monotonic() < deadline:
            if not any(t.is_alive() for t in self._threads):
                return
            time.sleep(0.01)

    def _client(self, k: int) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        base = self.bases[k % len(self.bases)]
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            seq = 0
            while not self._stop.is_set() and (self.per_client is None or seq < self.per_client):
                seq += 1
                name = f"{self.tag}-{k}-{seq}"
                pdf = make_pdf(1, text=f"Citizen request {name}")
                metadata = {
                    "direction": "incoming",
                    "subject": f"Αίτηση για {SUBJECT_WORD} δέντρου αρ. {name}",
                    "sender": "Μαρία Παπαδάκη",
                }
                try:
                    answer = client.post(
                        "/api/v1/registrations",
                        data={"metadata": json.dumps(metadata)},
                        files=[("files", ("αίτηση.pdf", pdf, "application/pdf"))],
                    )
                except httpx.TransportError:
                    with self._lock:
                        self.disconnected += 1
                    return
                with self._lock:
                    if answer.status_code != 201:
                        self.failures.append(f"{answer.status_code} {answer.text[:200]}")
                        continue
                    body = answer.json()
                    self.acknowledged[body["number"]] = Ack(
                        body["year"],
                        body["number"],
                        body["files"][0]["id"],
                        hashlib.sha256(pdf).hexdigest(),
                    )


def launch_worker(root: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start ``eprotocol worker`` (the background jobs on their own) on the archive of ``root``."""
    with (root / "worker.log").open("a") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "eprotocol.cli", "worker"],
            cwd=root,
            env=with_own_tmp(root, env),
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )


def download_all(base: str, token: str, acknowledged: dict[int, Ack], clients: int = 16) -> None:
    """Download every acknowledged file over HTTP and assert its bytes have the SHA-256 sent."""
    headers = {"Authorization": f"Bearer {token}"}
    local = threading.local()

    def fetch(ack: Ack) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base, headers=headers, timeout=60)
        answer = local.client.get(
            f"/api/v1/registrations/{ack.year}/{ack.number}/files/{ack.file_id}"
        )
        assert answer.status_code == 200, answer.text
        assert hashlib.sha256(answer.content).hexdigest() == ack.sha256, ack

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(fetch, acknowledged.values()))


def check_book(archive: Archive, acknowledged: dict[int, Ack]) -> list[Registration]:
    """Assert that nothing acknowledged was lost and the book is whole; return the book.

    The numbers are exactly 1..N; every acknowledged registration exists with the
    file the client sent; ``fsck`` re-hashes every stored blob and finds none
    missing or corrupt, and the audit chain intact.
    """
    book = sorted(all_registrations(archive), key=lambda r: r.number)
    numbers = [r.number for r in book]
    assert numbers == list(range(1, len(numbers) + 1)), "a gap or a duplicate in the numbering"
    by_number = {r.number: r for r in book}
    missing = sorted(set(acknowledged) - set(by_number))
    assert not missing, f"acknowledged but not in the book: {missing[:20]}"
    for ack in acknowledged.values():
        (stored,) = by_number[ack.number].files
        assert (stored.id, stored.sha256) == (ack.file_id, ack.sha256)
    report = archive.fsck()
    assert report.ok, (report.chain, report.problems)
    return book


def wait_until_indexed(base: str, token: str, count: int, timeout: float = 180) -> int:
    """Wait until the search index holds ``count`` streamed registrations; return its total.

    The index is asked at least once, so ``timeout=0`` reads the total as it is.
    """
    deadline = time.monotonic() + timeout
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        while True:
            answer = client.get("/api/v1/search", params={"q": SUBJECT_WORD, "limit": 1})
            assert answer.status_code == 200, answer.text
            total = int(answer.json()["total"])
            if total >= count or time.monotonic() >= deadline:
                return total
            time.sleep(0.5)
